//! What a batch tells its user on stderr: a line per recording as it finishes, the plan of a
//! dry run, and the final table.

use std::fmt::Write;

use super::{IndexEntry, Outcome, Planned, Status};
use crate::output::clock;

/// `[3/9] ok 2024/a.wav -> OUT/2024/a-3fa9c2e01b (66.1 s of audio, 9.3x real time)`.
pub fn finished_line(e: &IndexEntry, done: usize, total: usize, out: &std::path::Path) -> String {
    let head = format!("[{done}/{total}] {}", e.status.name());
    match e.status {
        Status::Ok => {
            let speed = match (&e.timings, e.duration) {
                (Some(t), Some(_)) if t.real_time_factor > 0.0 => {
                    format!(", {:.1}x real time", 1.0 / t.real_time_factor)
                }
                _ => String::new(),
            };
            format!(
                "{head} {} -> {} ({:.1} s of audio{speed})",
                e.key,
                out.join(e.output.as_deref().unwrap_or("")).display(),
                e.duration.unwrap_or(0.0)
            )
        }
        Status::Failed => format!("{head} {}", e.error.as_deref().unwrap_or("unknown error")),
        _ => format!("{head} {}: {}", e.key, e.reason.as_deref().unwrap_or("")),
    }
}

/// The dry run's plan: one line per recording with what a run would do.
pub fn plan_table(plan: &[Planned]) -> String {
    let mut s = String::new();
    let width = plan
        .iter()
        .map(|p| p.listed.key.len())
        .max()
        .unwrap_or(3)
        .max(3);
    let _ = writeln!(s, "{:<8} {:<width$}  output / reason", "action", "key");
    for p in plan {
        let e = &p.entry;
        let (action, detail) = match e.status {
            Status::Pending => (
                if p.redo.is_some() { "redo" } else { "process" },
                match &p.redo {
                    Some(why) if !p.redo_loses.is_empty() => format!(
                        "{} ({why}; the names relabel gave go again to their voices: {})",
                        e.output.as_deref().unwrap_or(""),
                        p.redo_loses.join(", ")
                    ),
                    Some(why) => format!("{} ({why})", e.output.as_deref().unwrap_or("")),
                    None => e.output.clone().unwrap_or_default(),
                },
            ),
            Status::Ok => (
                "keep",
                format!("{} (done earlier)", e.output.as_deref().unwrap_or("")),
            ),
            Status::Skipped => ("skip", e.reason.clone().unwrap_or_default()),
            Status::Failed => ("fail", e.error.clone().unwrap_or_default()),
        };
        let _ = writeln!(s, "{action:<8} {:<width$}  {detail}", e.key);
    }
    s
}

/// Counts per status, in this order: ok, failed, skipped, pending.
pub fn counts<'a>(entries: impl IntoIterator<Item = &'a IndexEntry>) -> [(Status, usize); 4] {
    let mut counts = [
        (Status::Ok, 0),
        (Status::Failed, 0),
        (Status::Skipped, 0),
        (Status::Pending, 0),
    ];
    for e in entries {
        if let Some(c) = counts.iter_mut().find(|(st, _)| *st == e.status) {
            c.1 += 1;
        }
    }
    counts
}

/// The table printed when a batch ends.
pub fn final_table(o: &Outcome, jobs: usize, threads: usize) -> String {
    let mut s = String::new();
    let e = &o.entries;
    let audio = |f: &dyn Fn(&IndexEntry) -> bool| -> f64 {
        e.iter().filter(|x| f(x)).filter_map(|x| x.duration).sum()
    };
    let _ = writeln!(s, "{:<9} {:>10} {:>10}", "status", "recordings", "audio");
    for (status, n) in counts(e) {
        if n == 0 && status == Status::Pending {
            continue;
        }
        let mut line = format!("{:<9} {n:>10}", status.name());
        if status == Status::Ok {
            let _ = write!(line, " {:>10}", clock(audio(&|x| x.status == Status::Ok)));
            let kept = e.iter().filter(|x| x.resumed).count();
            if kept > 0 {
                let _ = write!(line, "  ({kept} kept from an earlier run)");
            }
        }
        if status == Status::Pending {
            line.push_str("  (not finished: run again with --resume)");
        }
        let _ = writeln!(s, "{line}");
    }
    let _ = writeln!(s, "{:<9} {:>10}", "total", e.len());
    let fresh: Vec<&IndexEntry> = e
        .iter()
        .filter(|x| x.status == Status::Ok && !x.resumed)
        .collect();
    let fresh_audio: f64 = fresh.iter().filter_map(|x| x.duration).sum();
    if !fresh.is_empty() {
        let _ = writeln!(
            s,
            "processed {} of audio in {} ({:.1}x real time; {jobs} job{} x {threads} thread{})",
            clock(fresh_audio),
            clock(o.wall_s),
            fresh_audio / o.wall_s.max(1e-9),
            if jobs == 1 { "" } else { "s" },
            if threads == 1 { "" } else { "s" },
        );
    }
    let failed: Vec<&IndexEntry> = e.iter().filter(|x| x.status == Status::Failed).collect();
    if !failed.is_empty() {
        let _ = writeln!(s, "failed:");
        for f in failed {
            let _ = writeln!(s, "  {}", f.error.as_deref().unwrap_or(&f.key));
        }
    }
    let _ = writeln!(s, "index: {}", o.index.display());
    s
}
