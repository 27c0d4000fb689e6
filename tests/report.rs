//! report.html in a real browser: the page `analyze` writes loads in headless Chromium without
//! a single console message (no script error, no fetch blocked by its Content-Security-Policy)
//! and draws a page that is not blank. A deliberately broken page goes through the same check,
//! so the check is shown to be able to fail.
//!
//! Chromium is required: when it is missing the tests fail (they never skip).
// Process groups (to kill a hung browser with its helpers) are Unix; so is Debian's chromium.
#![cfg(unix)]

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fixture, rapporteur};

/// A Chromium run taking longer than this is killed and the test fails.
const CHROMIUM_LIMIT: Duration = Duration::from_secs(60);

/// The page is drawn at this size.
const WINDOW: &str = "1280,1600";

/// The Chromium binary on PATH.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium is not on PATH: the report.html tests load the page in headless \
                 Chromium. Run ./scripts/test (on Debian: apt-get install chromium)."
            )
        })
}

/// What Chromium made of a page.
struct Browsed {
    /// Lines of Chromium's log the page caused (console messages, uncaught errors).
    console: Vec<String>,
    /// The DOM after the page's script ran (`--dump-dom`).
    dom: String,
    shot: Screenshot,
}

/// Load `page` (with `fragment`, e.g. `#s-3`, appended to its URL) in headless Chromium, as a
/// fresh profile under `work`: one launch both dumps the DOM and takes a screenshot.
fn browse(page: &Path, fragment: &str, work: &Path) -> Browsed {
    let name = page.file_stem().unwrap().to_string_lossy().into_owned();
    let profile = work.join(format!("chromium-profile-{name}"));
    let png = work.join(format!("{name}.png"));
    let url = format!("file://{}{fragment}", page.display()).replace(' ', "%20");
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--disable-gpu",
        // Needed when running as root (CI containers); harmless otherwise.
        "--no-sandbox",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
        // Chromium's log on stderr carries the page's console messages.
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--window-size={WINDOW}"))
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--screenshot={}", png.display()))
    .arg("--dump-dom")
    .arg(&url)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    // Its own process group, so a hung browser is killed with every helper it started.
    .process_group(0);
    let started = Instant::now();
    let mut child = cmd.spawn().expect("start chromium");
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = reader(Box::new(child.stdout.take().unwrap()));
    let stderr = reader(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > CHROMIUM_LIMIT {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!("chromium did not finish {url} within {CHROMIUM_LIMIT:?}; killed it");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = stdout.join().unwrap();
    let log = stderr.join().unwrap();
    assert!(
        status.success() && png.is_file(),
        "chromium failed on {url} ({status}); its log ends:\n{}",
        tail(&log)
    );
    Browsed {
        console: console_lines(&log),
        dom,
        shot: Screenshot::load(&png),
    }
}

/// Lines of Chromium's log that come from a page: console messages, logged as
/// `[…:INFO:CONSOLE:12] "Uncaught Error: boom", source: file:///…/report.html (12)` by
/// Chromium 156 (`CONSOLE(12)` by older versions), with blocked fetches as
/// `"… violates the following Content Security Policy directive …"`. Chromium logs every console
/// message at INFO, whatever its level, so all of them count: the report logs nothing.
fn console_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("CONSOLE(")
                || l.contains("Uncaught")
                || l.contains("Content Security Policy")
        })
        .map(str::to_string)
        .collect()
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// A screenshot's pixels, as RGB.
struct Screenshot {
    width: u32,
    height: u32,
    pixels: Vec<[u8; 3]>,
}

impl Screenshot {
    fn load(path: &Path) -> Screenshot {
        let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
        let mut decoder = png::Decoder::new(file);
        // Palette and low bit depths to 8-bit channels, so only RGB(A) and grey remain.
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().expect("a PNG screenshot");
        let mut buf = vec![0; reader.output_buffer_size().expect("a screenshot's size")];
        let info = reader.next_frame(&mut buf).expect("decode the screenshot");
        assert_eq!(info.bit_depth, png::BitDepth::Eight, "{}", path.display());
        let channels = info.color_type.samples();
        let pixels = buf[..info.buffer_size()]
            .chunks_exact(channels)
            .map(|p| match channels {
                1 | 2 => [p[0]; 3],
                _ => [p[0], p[1], p[2]],
            })
            .collect();
        Screenshot {
            width: info.width,
            height: info.height,
            pixels,
        }
    }

    /// How many pixels have exactly this colour.
    fn count(&self, rgb: [u8; 3]) -> usize {
        self.pixels.iter().filter(|&&p| p == rgb).count()
    }

    /// Why the screenshot looks blank, if it does: drawn pages have well over 2% of pixels
    /// unlike the background (the most common colour) and dozens of colours (text is
    /// anti-aliased).
    fn blank(&self) -> Option<String> {
        let mut colours: HashMap<[u8; 3], usize> = HashMap::new();
        for &p in &self.pixels {
            *colours.entry(p).or_default() += 1;
        }
        let background = colours.values().copied().max().unwrap_or(0);
        let drawn = 1.0 - background as f64 / self.pixels.len().max(1) as f64;
        (drawn < 0.02 || colours.len() < 32).then(|| {
            format!(
                "{}x{} screenshot: {:.2}% of pixels differ from the background, {} colours",
                self.width,
                self.height,
                drawn * 100.0,
                colours.len()
            )
        })
    }
}

/// `rapporteur analyze INPUT -o OUT --format summary,md,html --no-positions` (the inputs carry
/// their positions, or need none: no model is loaded).
fn analyze(input: &Path, out: &Path) {
    let run = rapporteur()
        .arg("analyze")
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(["--format", "summary,md,html", "--no-positions", "--quiet"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "analyze failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// The segment of every piece of evidence in summary.json.
fn cited_segments(summary: &serde_json::Value) -> Vec<u64> {
    fn walk(v: &serde_json::Value, out: &mut Vec<u64>) {
        match v {
            serde_json::Value::Object(map) => {
                if let (Some(seg), Some(_)) = (map.get("segment"), map.get("quote")) {
                    out.push(seg.as_u64().expect("a segment index"));
                }
                map.values().for_each(|x| walk(x, out));
            }
            serde_json::Value::Array(list) => list.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(summary, &mut out);
    out.sort_unstable();
    out.dedup();
    out
}

#[test]
fn report_renders_in_chromium_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze(&fixture("report/session.json"), &out);
    let page = out.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();

    // Self-contained: nothing names the web.
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(
        html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';")
    );
    // The timeline, the matrix, and a line to link to for every quote cited.
    assert!(html.contains("<svg class=\"timeline\""));
    assert!(html.contains("<table class=\"matrix\">"));
    let cited = cited_segments(&summary);
    assert!(
        cited.len() >= 8,
        "the fixture cites most of its lines: {cited:?}"
    );
    for seg in &cited {
        assert!(
            html.contains(&format!(" id=\"s-{seg}\"")),
            "no line s-{seg} in report.html"
        );
    }
    // The fixture's markup is shown as text, never run.
    assert!(!html.contains("<script>alert") && !html.contains("<b>shall"));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("Is &lt;b&gt;&amp;&quot;&#39; really the wording?"));

    let seen = browse(&page, "", dir.path());
    assert!(
        seen.console.is_empty(),
        "report.html caused console messages:\n{}",
        seen.console.join("\n")
    );
    assert!(
        seen.dom.contains("<table class=\"matrix\">"),
        "the DOM was not dumped"
    );
    assert!(seen
        .dom
        .contains("Brazil supports the amendment proposed by France."));
    if let Some(why) = seen.shot.blank() {
        panic!("report.html looks blank: {why}");
    }
    // The style sheet applied: the first speaker's colour fills timeline bars, the support
    // badge's tint fills matrix cells.
    assert!(
        seen.shot.count([0x25, 0x63, 0xa8]) > 500,
        "no speaker colour in the screenshot"
    );
    assert!(
        seen.shot.count([0xe2, 0xf3, 0xe6]) > 100,
        "no support badge in the screenshot"
    );
}

#[test]
fn a_collapsed_transcript_opens_at_the_linked_line() {
    // Past 200 lines the transcript starts collapsed; a link to a line must open it. (Chromium
    // opens a closed <details> on fragment navigation by itself; the page's script does it for
    // browsers that do not, and here must at least run without an error.) Plain text without
    // times: no timeline, and lines are numbered instead of timed.
    let dir = tempfile::tempdir().unwrap();
    let text: String = (1..=250)
        .map(|i| {
            let who = ["Chair", "Brazil", "Kenya"][i % 3];
            format!("{who}: Line {i} says <i>{i}</i> & \"more\".\n")
        })
        .collect();
    let input = dir.path().join("long.txt");
    std::fs::write(&input, text).unwrap();
    let out = dir.path().join("out");
    analyze(&input, &out);
    let page = out.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("<details id=\"transcript\">"),
        "a long transcript starts collapsed"
    );
    assert!(!html.contains("<svg class=\"timeline\""));
    assert!(html.contains(">utterance 240</a>"));

    let seen = browse(&page, "#s-239", dir.path());
    assert!(
        seen.console.is_empty(),
        "report.html caused console messages:\n{}",
        seen.console.join("\n")
    );
    assert!(
        seen.dom.contains("<details id=\"transcript\" open=\"\">"),
        "the page's script did not open the transcript at #s-239"
    );
    // No screenshot check here: headless Chromium 156 draws a page scrolled to a fragment as
    // blank (even a trivial one), so only the DOM can tell that the line was revealed.
}

#[test]
fn a_bilingual_report_renders_its_languages_translations_and_warning() {
    // English and translated French (tests/languages.rs checks the text; here, the page), with
    // a language warning, which must be drawn in its colour near the top.
    let dir = tempfile::tempdir().unwrap();
    let mut t: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("languages/session.transcript.json")).unwrap(),
    )
    .unwrap();
    t["language"]["warning"] = "35 % of the speech does not sound English".into();
    let input = dir.path().join("transcript.json");
    std::fs::write(&input, t.to_string()).unwrap();
    let out = dir.path().join("out");
    analyze(&input, &out);
    let page = out.join("report.html");
    let seen = browse(&page, "", dir.path());
    assert!(
        seen.console.is_empty(),
        "report.html caused console messages:\n{}",
        seen.console.join("\n")
    );
    assert!(seen.dom.contains("languages heard: en 66"));
    assert!(seen.dom.contains(
        "<span class=\"tr\" lang=\"en\"><span class=\"trl\">English</span> France cannot accept \
         this amendment.</span>"
    ));
    assert!(seen.dom.contains("<strong>Language warning:</strong>"));
    if let Some(why) = seen.shot.blank() {
        panic!("report.html looks blank: {why}");
    }
    assert!(
        seen.shot.count([0xff, 0xf4, 0xd6]) > 2000,
        "the warning's background is not drawn"
    );
}

#[test]
fn the_browser_check_catches_a_broken_page() {
    // The same checks on a page that throws and tries to fetch past the same policy: both must
    // be caught, and the nearly empty page must count as blank.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("broken.html");
    std::fs::write(
        &page,
        "<!doctype html><html><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\"></head>\
         <body><img src=\"http://example.invalid/x.png\" alt=\"\">\
         <script>throw new Error(\"deliberate failure\");</script></body></html>\n",
    )
    .unwrap();
    let seen = browse(&page, "", dir.path());
    let log = seen.console.join("\n");
    assert!(
        seen.console
            .iter()
            .any(|l| l.contains("Uncaught") && l.contains("deliberate failure")),
        "the thrown error was not seen; console lines:\n{log}"
    );
    assert!(
        seen.console.iter().any(|l| l.contains("example.invalid")),
        "the blocked image was not seen; console lines:\n{log}"
    );
    assert!(seen.shot.blank().is_some(), "an empty page passed as drawn");
}
