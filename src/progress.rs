//! Progress for people (indicatif bars on a terminal) and for scripts (JSON lines on stderr).
//!
//! Every stage reports how many seconds of the recording it has got through; the bars show
//! that against the recording's length, with the speed in multiples of real time and an ETA.
//! Bars appear only when stderr is a terminal; `--progress json` emits one JSON object per line
//! instead, at most twice a second per stage, plus one when each stage finishes.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What `--progress` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Bars when stderr is a terminal and `--quiet` is not given; nothing otherwise.
    Auto,
    Bars,
    Json,
    Off,
}

impl FromStr for ProgressMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(ProgressMode::Auto),
            "bars" => Ok(ProgressMode::Bars),
            "json" => Ok(ProgressMode::Json),
            "off" | "none" => Ok(ProgressMode::Off),
            _ => Err(format!(
                "unknown progress mode {s:?} (auto, bars, json, off)"
            )),
        }
    }
}

/// The stages of one recording, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Decode,
    Vad,
    Transcribe,
    Speakers,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::Decode,
        Stage::Vad,
        Stage::Transcribe,
        Stage::Speakers,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Vad => "vad",
            Stage::Transcribe => "transcribe",
            Stage::Speakers => "speakers",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Off,
    Bars,
    Json,
}

/// Progress over a whole run (one or more recordings).
pub struct Progress {
    kind: Kind,
    multi: Option<MultiProgress>,
    overall: Option<ProgressBar>,
    colour: bool,
}

impl Progress {
    pub fn new(mode: ProgressMode, quiet: bool, inputs: usize) -> Progress {
        let kind = match mode {
            ProgressMode::Off => Kind::Off,
            ProgressMode::Json => Kind::Json,
            ProgressMode::Bars => Kind::Bars,
            ProgressMode::Auto if !quiet && std::io::stderr().is_terminal() => Kind::Bars,
            ProgressMode::Auto => Kind::Off,
        };
        let colour = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let multi = (kind == Kind::Bars)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)));
        let mut progress = Progress {
            kind,
            multi,
            overall: None,
            colour,
        };
        progress.set_inputs(inputs);
        progress
    }

    /// How many recordings the run will process (known to a batch only once it has planned):
    /// with more than one, bars show an overall bar as well.
    pub fn set_inputs(&mut self, inputs: usize) {
        match (&self.multi, &self.overall) {
            (Some(_), Some(bar)) => bar.set_length(inputs as u64),
            (Some(m), None) if inputs > 1 => {
                let bar = m.add(ProgressBar::new(inputs as u64));
                bar.set_style(style(
                    self.colour,
                    "{prefix:>10} {bar:32.green/white} {pos}/{len} recordings  {elapsed_precise}",
                ));
                bar.set_prefix("overall");
                self.overall = Some(bar);
            }
            _ => {}
        }
    }

    /// Print a block of lines (a table) as [`Progress::println`] prints one.
    pub fn print_block(&self, block: &str) {
        for line in block.lines() {
            self.println(line);
        }
    }

    /// A run with no progress output (for library callers and tests).
    pub fn off() -> Progress {
        Progress::new(ProgressMode::Off, true, 1)
    }

    /// Print a message line to stderr without tearing the bars. With `--progress json` it
    /// becomes `{"event":"message","text":...}`, so that every line of stderr is JSON.
    pub fn println(&self, line: &str) {
        match &self.multi {
            // Bars asked for on a stderr that is not a terminal are hidden, and so is what
            // indicatif prints through them: the line goes out plainly instead.
            Some(m) if !m.is_hidden() => {
                let _ = m.println(line);
            }
            _ if self.kind == Kind::Json => {
                json_line(&serde_json::json!({"event": "message", "text": line}))
            }
            _ => eprintln!("{line}"),
        }
    }

    /// An error about one input, as the one line every failure gets (`rapporteur: <path>:
    /// <cause>`), or with `--progress json` as `{"event":"error",...}` carrying that line.
    pub fn error(&self, input: Option<&Path>, line: &str, exit_code: i32) {
        if self.kind == Kind::Json {
            json_line(&serde_json::json!({
                "event": "error", "input": input.map(|p| p.display().to_string()), "text": line,
                "exit_code": exit_code,
            }));
        } else {
            self.println(line);
        }
    }

    /// Start reporting one recording, `total_s` seconds long if known.
    pub fn input(&self, path: &Path, total_s: Option<f64>) -> InputProgress {
        let bars = match &self.multi {
            Some(m) => Stage::ALL
                .iter()
                .map(|stage| {
                    let bar = match total_s {
                        Some(t) => {
                            let bar = m.add(ProgressBar::new(t.ceil().max(1.0) as u64));
                            bar.set_style(style(
                                self.colour,
                                "{prefix:>10} {bar:32.cyan/blue} {pos:>6}/{len} s  {msg}",
                            ));
                            bar
                        }
                        None => {
                            let bar = m.add(ProgressBar::new_spinner());
                            bar.set_style(style(
                                self.colour,
                                "{prefix:>10} {spinner} {pos} s  {msg}",
                            ));
                            bar
                        }
                    };
                    bar.set_prefix(stage.name());
                    bar
                })
                .collect(),
            None => Vec::new(),
        };
        let p = InputProgress {
            kind: self.kind,
            path: path.display().to_string(),
            total_s,
            bars,
            started: Instant::now(),
            last_json: [None; Stage::ALL.len()],
            finished: [false; Stage::ALL.len()],
            overall: self.overall.clone(),
        };
        p.json(serde_json::json!({"event": "start", "input": p.path, "total_s": total_s}));
        p
    }
}

fn style(colour: bool, template: &str) -> ProgressStyle {
    let template = if colour {
        template.to_string()
    } else {
        strip_colours(template)
    };
    ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// `{bar:32.cyan/blue}` -> `{bar:32}`: the same template without colours (for NO_COLOR).
fn strip_colours(template: &str) -> String {
    let mut out = String::new();
    let mut in_key = false;
    let mut skipping = false;
    for ch in template.chars() {
        match ch {
            '{' => {
                in_key = true;
                out.push(ch);
            }
            '}' => {
                in_key = false;
                skipping = false;
                out.push(ch);
            }
            '.' if in_key => skipping = true,
            _ if skipping => {}
            _ => out.push(ch),
        }
    }
    out
}

/// Progress of one recording.
pub struct InputProgress {
    kind: Kind,
    path: String,
    total_s: Option<f64>,
    bars: Vec<ProgressBar>,
    started: Instant,
    last_json: [Option<Instant>; Stage::ALL.len()],
    finished: [bool; Stage::ALL.len()],
    overall: Option<ProgressBar>,
}

impl InputProgress {
    /// `stage` has got through the first `done_s` seconds of the recording.
    pub fn update(&mut self, stage: Stage, done_s: f64) {
        let i = stage.index();
        if self.finished[i] {
            return;
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        let speed = if elapsed > 0.0 { done_s / elapsed } else { 0.0 };
        let eta = match self.total_s {
            Some(t) if speed > 0.0 => Some(((t - done_s).max(0.0)) / speed),
            _ => None,
        };
        if let Some(bar) = self.bars.get(i) {
            bar.set_position(done_s as u64);
            let eta = eta.map(fmt_duration).unwrap_or_else(|| "-".into());
            bar.set_message(format!("{speed:>6.1}x real time  ETA {eta}"));
        }
        if self.kind == Kind::Json {
            let due = self.last_json[i].is_none_or(|t| t.elapsed() >= Duration::from_millis(500));
            if due {
                self.last_json[i] = Some(Instant::now());
                self.json(serde_json::json!({
                    "event": "progress", "input": self.path, "stage": stage.name(),
                    "done_s": round2(done_s), "total_s": self.total_s.map(round2),
                    "speed": round2(speed), "eta_s": eta.map(round2),
                }));
            }
        }
    }

    /// `stage` is complete; `total_s` is now the recording's true length.
    pub fn finish_stage(&mut self, stage: Stage, total_s: f64) {
        let i = stage.index();
        if self.finished[i] {
            return;
        }
        self.total_s = Some(total_s);
        if let Some(bar) = self.bars.get(i) {
            bar.set_length(total_s.ceil().max(1.0) as u64);
        }
        self.update(stage, total_s);
        self.finished[i] = true;
        if let Some(bar) = self.bars.get(i) {
            bar.set_position(total_s.ceil() as u64);
            bar.finish();
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        self.json(serde_json::json!({
            "event": "stage_done", "input": self.path, "stage": stage.name(),
            "total_s": round2(total_s), "elapsed_s": round2(elapsed),
        }));
    }

    /// The recording is done (or failed): remove its bars.
    pub fn finish(&mut self, ok: bool) {
        for bar in self.bars.drain(..) {
            bar.finish_and_clear();
        }
        if let Some(o) = &self.overall {
            o.inc(1);
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        self.json(serde_json::json!({
            "event": "done", "input": self.path, "ok": ok, "elapsed_s": round2(elapsed),
        }));
        self.kind = Kind::Off;
    }

    fn json(&self, value: serde_json::Value) {
        if self.kind == Kind::Json {
            json_line(&value);
        }
    }
}

fn json_line(value: &serde_json::Value) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{value}");
}

impl Drop for InputProgress {
    fn drop(&mut self) {
        for bar in self.bars.drain(..) {
            bar.finish_and_clear();
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn fmt_duration(s: f64) -> String {
    let s = s.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_templates_lose_their_colours() {
        assert_eq!(
            strip_colours("{prefix:>10} {bar:32.cyan/blue} {pos}/{len} s."),
            "{prefix:>10} {bar:32} {pos}/{len} s."
        );
        assert_eq!(fmt_duration(3725.0), "1h02m");
        assert_eq!(fmt_duration(65.0), "1m05s");
        assert_eq!("json".parse::<ProgressMode>(), Ok(ProgressMode::Json));
        assert!("x".parse::<ProgressMode>().is_err());
    }
}
