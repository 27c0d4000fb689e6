//! What a batch is given: folders (scanned recursively for recordings), manifests (CSV or
//! JSON Lines, one recording per row with optional settings of its own) and single
//! recordings. Each recording gets a key: its path relative to the folder scanned, its
//! manifest `session`, or its path as the manifest wrote it. Keys name the output folders,
//! so a name from a manifest that is absolute or climbs out with `..` is refused.

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use serde_json::Value;

use crate::audio;
use crate::error::{io_cause, Error, Result};

/// One recording to process, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// Its name in the batch: `/`-separated, relative, without `..`.
    pub key: String,
    /// Where to read it.
    pub path: PathBuf,
    /// `file:line` of the manifest row that listed it.
    pub row: Option<String>,
    pub session: Option<String>,
    /// ISO 639-1 code or "auto".
    pub language: Option<String>,
    /// Exactly this many speakers.
    pub speakers: Option<usize>,
    /// Voice folder to name speakers from.
    pub voices: Option<PathBuf>,
    /// Names file to apply.
    pub names: Option<PathBuf>,
}

impl Listed {
    fn recording(key: String, path: PathBuf) -> Listed {
        Listed {
            key,
            path,
            row: None,
            session: None,
            language: None,
            speakers: None,
            voices: None,
            names: None,
        }
    }
}

/// `--include` / `--exclude` globs. A pattern with a `/` is matched against the whole key
/// (`2024/**/*.wav`), one without against the file name (`*.mp3`).
#[derive(Debug, Default)]
pub struct Filter {
    include: Vec<(String, GlobMatcher)>,
    exclude: Vec<(String, GlobMatcher)>,
}

impl Filter {
    pub fn new(include: &[String], exclude: &[String]) -> Result<Filter> {
        let compile = |patterns: &[String], flag: &str| {
            patterns
                .iter()
                .map(|p| {
                    GlobBuilder::new(p)
                        .literal_separator(true)
                        .build()
                        .map(|g| (p.clone(), g.compile_matcher()))
                        .map_err(|e| Error::usage(format!("{flag} {p:?}: {}", e.kind())))
                })
                .collect::<Result<Vec<_>>>()
        };
        Ok(Filter {
            include: compile(include, "--include")?,
            exclude: compile(exclude, "--exclude")?,
        })
    }

    pub fn accepts(&self, key: &str) -> bool {
        let name = key.rsplit('/').next().unwrap_or(key);
        let hit = |(p, g): &(String, GlobMatcher)| {
            if p.contains('/') {
                g.is_match(key)
            } else {
                g.is_match(name)
            }
        };
        (self.include.is_empty() || self.include.iter().any(hit)) && !self.exclude.iter().any(hit)
    }
}

/// Every recording the sources name, filtered, sorted by key. `out` is never scanned.
pub fn list(sources: &[PathBuf], out: &Path, filter: &Filter) -> Result<Vec<Listed>> {
    let out = std::fs::canonicalize(out).ok();
    let mut listed = Vec::new();
    for source in sources {
        let meta = std::fs::metadata(source).map_err(|e| Error::input(source, io_cause(&e)))?;
        if meta.is_dir() {
            let mut visited = HashSet::new();
            scan(source, source, out.as_deref(), &mut visited, &mut listed)?;
        } else if let Some(kind) = manifest_kind(source) {
            listed.extend(read_manifest(source, kind)?);
        } else if audio::is_recording_name(source) {
            let name = source
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "recording".into());
            listed.push(Listed::recording(name, source.clone()));
        } else {
            return Err(Error::input(
                source,
                "not a folder, a manifest (.csv, .tsv, .jsonl) or a recording (.wav, .mp3, .m4a, .flac, .ogg, .opus, .webm, ...)",
            ));
        }
    }
    listed.retain(|l| filter.accepts(&l.key));
    listed.sort_by(|a, b| a.key.cmp(&b.key).then_with(|| a.path.cmp(&b.path)));
    Ok(listed)
}

/// Recordings under `dir`, recursively, in name order; hidden entries are skipped, folder
/// links followed once.
fn scan(
    root: &Path,
    dir: &Path,
    out: Option<&Path>,
    visited: &mut HashSet<PathBuf>,
    listed: &mut Vec<Listed>,
) -> Result<()> {
    let real = std::fs::canonicalize(dir).map_err(|e| Error::input(dir, io_cause(&e)))?;
    if Some(real.as_path()) == out || !visited.insert(real) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::input(dir, format!("cannot list folder: {}", io_cause(&e))))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::input(dir, format!("cannot list folder: {}", io_cause(&e))))?;
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        let key = || {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        };
        // Follows links. A dangling link named like a recording is still listed, so that it
        // fails with its reason instead of vanishing from the index.
        let Ok(meta) = std::fs::metadata(&path) else {
            if audio::is_recording_name(&path) {
                listed.push(Listed::recording(key(), path.clone()));
            }
            continue;
        };
        if meta.is_dir() {
            scan(root, &path, out, visited, listed)?;
        } else if meta.is_file() && audio::is_recording_name(&path) {
            listed.push(Listed::recording(key(), path.clone()));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ManifestKind {
    Csv(u8),
    Jsonl,
}

fn manifest_kind(path: &Path) -> Option<ManifestKind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "csv" => Some(ManifestKind::Csv(b',')),
        "tsv" => Some(ManifestKind::Csv(b'\t')),
        "jsonl" | "ndjson" => Some(ManifestKind::Jsonl),
        _ => None,
    }
}

const COLUMNS: &[&str] = &["path", "session", "language", "speakers", "voices", "names"];

/// The rows of a manifest. Paths in it are relative to the manifest's folder.
fn read_manifest(manifest: &Path, kind: ManifestKind) -> Result<Vec<Listed>> {
    let text = std::fs::read_to_string(manifest).map_err(|e| {
        let cause = if e.kind() == std::io::ErrorKind::InvalidData {
            "not UTF-8 text".to_string()
        } else {
            io_cause(&e)
        };
        Error::input(manifest, cause)
    })?;
    parse_manifest(manifest, kind, &text)
}

/// The rows of a manifest named `manifest` (its extension says CSV, TSV or JSONL) holding
/// `text`. Public for the fuzz targets.
pub fn parse_manifest_text(manifest: &Path, text: &str) -> Result<Vec<Listed>> {
    let kind = manifest_kind(manifest)
        .ok_or_else(|| Error::input(manifest, "not a manifest (.csv, .tsv, .jsonl)"))?;
    parse_manifest(manifest, kind, text)
}

fn parse_manifest(manifest: &Path, kind: ManifestKind, text: &str) -> Result<Vec<Listed>> {
    let rows: Vec<(usize, BTreeMap<String, String>)> = match kind {
        ManifestKind::Csv(delimiter) => csv_rows(manifest, text, delimiter)?,
        ManifestKind::Jsonl => jsonl_rows(manifest, text)?,
    };
    let base = manifest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut listed: Vec<Listed> = Vec::new();
    let mut sessions: BTreeMap<String, usize> = BTreeMap::new();
    for (line, row) in rows {
        let at = |cause: String| Error::input(manifest, format!("line {line}: {cause}"));
        let get = |k: &str| row.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let written = get("path").ok_or_else(|| at("no `path`".into()))?;
        let session = get("session").map(str::to_string);
        let key = match &session {
            Some(s) => check_name(s).map_err(|e| at(format!("session {s:?}: {e}")))?,
            None => check_name(written).map_err(|e| {
                at(format!(
                    "path {written:?}: {e}; add a `session` column to name its output"
                ))
            })?,
        };
        if let Some(first) = sessions.insert(key.clone(), line) {
            return Err(at(format!(
                "{key:?} is listed twice (first on line {first}); give each row its own `session`"
            )));
        }
        let language = get("language").map(str::to_string);
        if let Some(l) = &language {
            let ok = l == "auto"
                || (l.len() >= 2 && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_lowercase()));
            if !ok {
                return Err(at(format!(
                    "language {l:?} is not an ISO 639-1 code (e.g. en, fr) or auto"
                )));
            }
        }
        let speakers = match get("speakers") {
            Some(n) => Some(
                n.parse::<usize>()
                    .ok()
                    .filter(|&n| (1..=64).contains(&n))
                    .ok_or_else(|| at(format!("speakers {n:?} is not a count from 1 to 64")))?,
            ),
            None => None,
        };
        listed.push(Listed {
            key,
            path: base.join(written),
            row: Some(format!("{}:{line}", manifest.display())),
            session,
            language,
            speakers,
            voices: get("voices").map(|v| base.join(v)),
            names: get("names").map(|v| base.join(v)),
        });
    }
    if listed.is_empty() {
        return Err(Error::input(manifest, "the manifest lists no recordings"));
    }
    Ok(listed)
}

fn csv_rows(
    manifest: &Path,
    text: &str,
    delimiter: u8,
) -> Result<Vec<(usize, BTreeMap<String, String>)>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::input(manifest, format!("not a CSV manifest: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    check_columns(manifest, 1, headers.iter().map(String::as_str))?;
    if !headers.iter().any(|h| h == "path") {
        return Err(Error::input(
            manifest,
            format!(
                "line 1: no `path` column (the first line names the columns: {})",
                COLUMNS.join(", ")
            ),
        ));
    }
    // The reader's own line count skips comment lines, and a record's offset is where the
    // comments before it begin: count lines from there, past those comments.
    let line_at = |p: Option<&csv::Position>| {
        let Some(p) = p else { return 0 };
        let at = (p.byte() as usize).min(text.len());
        let before = text.as_bytes()[..at]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        let skipped = text[at..]
            .lines()
            .take_while(|l| l.trim_start().starts_with('#') || l.trim().is_empty())
            .count();
        before + skipped + 1
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = line_at(e.position());
            Error::input(manifest, format!("line {line}: {}", csv_cause(&e)))
        })?;
        let line = line_at(record.position());
        let row = headers
            .iter()
            .cloned()
            .zip(record.iter().map(str::to_string))
            .collect();
        rows.push((line, row));
    }
    Ok(rows)
}

fn csv_cause(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        _ => e.to_string(),
    }
}

fn jsonl_rows(manifest: &Path, text: &str) -> Result<Vec<(usize, BTreeMap<String, String>)>> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |cause: String| Error::input(manifest, format!("line {n}: {cause}"));
        let value: Value = serde_json::from_str(line).map_err(|e| at(format!("not JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err(at("expected an object like {\"path\": \"a.wav\"}".into()));
        };
        check_columns(manifest, n, object.keys().map(String::as_str))?;
        let mut row = BTreeMap::new();
        for (k, v) in object {
            let v = match v {
                Value::String(s) => s,
                Value::Number(x) => x.to_string(),
                Value::Null => continue,
                other => return Err(at(format!("`{k}` must be a string, not {other}"))),
            };
            row.insert(k, v);
        }
        rows.push((n, row));
    }
    Ok(rows)
}

fn check_columns<'a>(
    manifest: &Path,
    line: usize,
    names: impl Iterator<Item = &'a str>,
) -> Result<()> {
    for name in names {
        if !COLUMNS.contains(&name) {
            return Err(Error::input(
                manifest,
                format!(
                    "line {line}: unknown column `{name}` (known: {})",
                    COLUMNS.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// A name from a manifest, made a safe relative key: `/`-separated, no `.` or empty parts;
/// absolute names, `..`, backslashes and control characters are refused.
pub fn check_name(name: &str) -> std::result::Result<String, String> {
    if name.chars().any(char::is_control) {
        return Err("contains control characters".into());
    }
    if name.contains('\\') {
        return Err("contains a backslash (separate folders with /)".into());
    }
    let path = Path::new(name);
    let drive = name.len() >= 2 && name.as_bytes()[1] == b':';
    if path.is_absolute() || name.starts_with('/') || drive {
        return Err("is absolute".into());
    }
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => return Err("climbs out with `..`".into()),
            Component::RootDir | Component::Prefix(_) => return Err("is absolute".into()),
        }
    }
    if parts.is_empty() {
        return Err("is empty".into());
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn names_from_manifests_stay_inside() {
        assert_eq!(check_name("a/./b.wav").unwrap(), "a/b.wav");
        assert_eq!(check_name("day 1//plenary").unwrap(), "day 1/plenary");
        for bad in [
            "../x.wav",
            "a/../../x",
            "/etc/passwd",
            "C:/x",
            "a\\b",
            "",
            ".",
            "a\nb",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn scans_recursively_skipping_hidden_output_and_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("archive");
        for f in [
            "b.wav",
            "a.MP3",
            "sub/c.flac",
            "sub/deep/d.opus",
            "notes.txt",
            ".hidden.wav",
            ".git/e.wav",
            "out/f.wav",
        ] {
            touch(&root.join(f));
        }
        let out = root.join("out");
        let listed = list(std::slice::from_ref(&root), &out, &Filter::default()).unwrap();
        let keys: Vec<&str> = listed.iter().map(|l| l.key.as_str()).collect();
        assert_eq!(keys, ["a.MP3", "b.wav", "sub/c.flac", "sub/deep/d.opus"]);
        assert_eq!(listed[2].path, root.join("sub/c.flac"));

        let only = Filter::new(&["sub/**".into()], &["*.opus".into()]).unwrap();
        let keys: Vec<String> = list(std::slice::from_ref(&root), &out, &only)
            .unwrap()
            .into_iter()
            .map(|l| l.key)
            .collect();
        assert_eq!(keys, ["sub/c.flac"]);
        let by_name = Filter::new(&["*.wav".into(), "*.flac".into()], &[]).unwrap();
        let keys: Vec<String> = list(&[root], &out, &by_name)
            .unwrap()
            .into_iter()
            .map(|l| l.key)
            .collect();
        assert_eq!(keys, ["b.wav", "sub/c.flac"]);
    }

    #[test]
    fn reads_csv_and_jsonl_manifests() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("m.csv");
        std::fs::write(
            &csv,
            "path,session,language,speakers,names\n# a comment\nrec/a.wav,,fr,3,\n/abs/b.mp3,day2,,,n.toml\n",
        )
        .unwrap();
        let rows = list(&[csv], dir.path(), &Filter::default()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].key, "day2");
        assert_eq!(rows[0].path, PathBuf::from("/abs/b.mp3"));
        assert_eq!(rows[0].names, Some(dir.path().join("n.toml")));
        assert_eq!(rows[1].key, "rec/a.wav");
        assert_eq!(rows[1].language.as_deref(), Some("fr"));
        assert_eq!(rows[1].speakers, Some(3));
        assert!(
            rows[1].row.as_ref().unwrap().ends_with("m.csv:3"),
            "{:?}",
            rows[1].row
        );

        let jsonl = dir.path().join("m.jsonl");
        std::fs::write(&jsonl, "{\"path\": \"x.wav\", \"speakers\": 2}\n\n{\"path\": \"y.wav\", \"session\": \"s/y\"}\n").unwrap();
        let rows = list(&[jsonl], dir.path(), &Filter::default()).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            ["s/y", "x.wav"]
        );
        assert_eq!(rows[1].speakers, Some(2));
    }

    #[test]
    fn bad_manifests_name_the_line_and_cause() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "a.csv",
                "path,langauge\nx.wav,fr\n",
                "line 1: unknown column `langauge`",
            ),
            (
                "b.csv",
                "path\n../x.wav\n",
                "line 2: path \"../x.wav\": climbs out with `..`",
            ),
            (
                "c.csv",
                "path\n/x/y.wav\n",
                "is absolute; add a `session` column",
            ),
            (
                "d.csv",
                "path,session\nx.wav,../up\n",
                "session \"../up\": climbs out",
            ),
            (
                "e.csv",
                "path,speakers\nx.wav,many\n",
                "line 2: speakers \"many\" is not a count",
            ),
            (
                "f.csv",
                "path\nx.wav\nx.wav\n",
                "line 3: \"x.wav\" is listed twice (first on line 2)",
            ),
            ("g.csv", "session\nx\n", "no `path` column"),
            (
                "h.csv",
                "path,language\nx.wav,French\n",
                "not an ISO 639-1 code",
            ),
            (
                "i.jsonl",
                "{\"path\": \"x.wav\"}\n[1]\n",
                "line 2: expected an object",
            ),
            ("j.jsonl", "{\"path\": \"x.wav\",}\n", "line 1: not JSON"),
            ("k.csv", "path\n", "lists no recordings"),
            (
                "l.csv",
                "path,session\nx.wav\n",
                "line 2: 1 fields where the header has 2",
            ),
        ];
        for (name, text, want) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            let e = list(&[p], dir.path(), &Filter::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains(name) && e.contains(want), "{name}: {e}");
        }
        let e = list(
            &[dir.path().join("notes.txt")],
            dir.path(),
            &Filter::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("notes.txt"), "{e}");
    }
}
