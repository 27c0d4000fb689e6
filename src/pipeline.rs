//! Composes the stages for one recording: decode -> transcribe -> write. `run` and (later)
//! `batch` both go through [`Pipeline::process`]; the model is loaded once per pipeline.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::asr::{AsrOptions, LoadOptions, Whisper};
use crate::audio::{self, DecodeOptions};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::models::{self, ResolvedModel};
use crate::output::{self, Format};
use crate::transcript::{ModelRef, Source, Transcript, TRANSCRIPT_SCHEMA};

/// Everything `run` needs to know besides the inputs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub model: String,
    pub asr: AsrOptions,
    pub load: LoadOptions,
    pub formats: Vec<Format>,
    pub decode: DecodeOptions,
}

/// What happened to one recording, for `--json` and the summary line.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub input: PathBuf,
    pub output_dir: PathBuf,
    pub files: Vec<PathBuf>,
    pub duration: f64,
    pub language: String,
    pub segments: usize,
    pub words: usize,
    pub timings: Timings,
}

#[derive(Debug, Clone, Serialize)]
pub struct Timings {
    pub decode_s: f64,
    pub transcribe_s: f64,
    pub write_s: f64,
    /// Processing time divided by audio duration (lower is faster).
    pub real_time_factor: f64,
}

pub struct Pipeline {
    whisper: Whisper,
    model: ResolvedModel,
    opts: RunOptions,
}

impl Pipeline {
    pub fn new(opts: RunOptions) -> Result<Pipeline> {
        let model = models::resolve_whisper(&opts.model)?;
        let whisper = Whisper::load(&model.path, &opts.load)?;
        Ok(Pipeline {
            whisper,
            model,
            opts,
        })
    }

    pub fn model(&self) -> &ResolvedModel {
        &self.model
    }

    /// Transcribe a recording without writing anything.
    pub fn transcribe(&self, input: &Path) -> Result<(Transcript, Timings)> {
        let t0 = Instant::now();
        let decoded = audio::decode_file(input, &self.opts.decode)?;
        let sha256 = fsutil::sha256_file(input).map_err(|e| Error::input(input, e.to_string()))?;
        let decode_s = t0.elapsed().as_secs_f64();

        let t1 = Instant::now();
        let spans = audio::split_at_pauses(&decoded.samples, 20.0, 30.0);
        let asr = self
            .whisper
            .transcribe(&decoded.samples, &spans, &self.opts.asr)?;
        let transcribe_s = t1.elapsed().as_secs_f64();

        let duration = decoded.duration();
        let transcript = Transcript {
            schema: TRANSCRIPT_SCHEMA.into(),
            source: Source {
                path: input.display().to_string(),
                sha256,
                duration,
                container: decoded.info.container.clone(),
                codec: decoded.info.codec.clone(),
                sample_rate: decoded.info.sample_rate,
                channels: decoded.info.channels,
            },
            language: asr.language,
            model: ModelRef {
                name: self.model.name.clone(),
                sha256: self.model.sha256.clone(),
            },
            segments: asr.segments,
        };
        let timings = Timings {
            decode_s,
            transcribe_s,
            write_s: 0.0,
            real_time_factor: (decode_s + transcribe_s) / duration.max(1e-9),
        };
        Ok((transcript, timings))
    }

    /// Transcribe `input` and write every requested format into `out_dir` (created if needed).
    /// The folder appears with all its files or not at all.
    pub fn process(&self, input: &Path, out_dir: &Path) -> Result<RunReport> {
        let (transcript, mut timings) = self.transcribe(input)?;
        crate::interrupt::check()?;
        let t2 = Instant::now();
        let files = write_output_dir(&transcript, out_dir, &self.opts.formats, input)?;
        timings.write_s = t2.elapsed().as_secs_f64();
        Ok(RunReport {
            input: input.to_path_buf(),
            output_dir: out_dir.to_path_buf(),
            files,
            duration: transcript.source.duration,
            language: transcript.language.code.clone(),
            segments: transcript.segments.len(),
            words: transcript.segments.iter().map(|s| s.words.len()).sum(),
            timings,
        })
    }
}

/// Name of the marker file that records which recording an output folder belongs to.
const SOURCE_MARKER: &str = ".source";

/// Stage all files in a hidden sibling folder, then swap it into place.
fn write_output_dir(
    t: &Transcript,
    out_dir: &Path,
    formats: &[Format],
    input: &Path,
) -> Result<Vec<PathBuf>> {
    let parent = out_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::output(parent, format!("cannot create output folder: {e}")))?;
    let stage = tempfile::Builder::new()
        .prefix(".rapporteur-stage-")
        .tempdir_in(parent)
        .map_err(|e| Error::output(parent, format!("cannot write here: {e}")))?;
    output::write_formats(t, stage.path(), formats)?;
    let marker = canonical(input).display().to_string();
    fsutil::write_atomic(&stage.path().join(SOURCE_MARKER), marker.as_bytes())?;
    // Move any previous result aside, put the new one in place, then drop the old one.
    let old = if out_dir.exists() {
        let aside = parent.join(format!(".rapporteur-old-{}", std::process::id()));
        std::fs::rename(out_dir, &aside)
            .map_err(|e| Error::output(out_dir, format!("cannot replace: {e}")))?;
        Some(aside)
    } else {
        None
    };
    let staged = stage.keep();
    if let Err(e) = std::fs::rename(&staged, out_dir) {
        let _ = std::fs::remove_dir_all(&staged);
        if let Some(old) = &old {
            let _ = std::fs::rename(old, out_dir);
        }
        return Err(Error::output(out_dir, format!("cannot create: {e}")));
    }
    if let Some(old) = old {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(formats
        .iter()
        .map(|f| out_dir.join(f.exporter().file_name()))
        .collect())
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Choose each input's output folder under `root`: `<stem>`, unless another input of this run
/// or an earlier run from a different recording already owns it; then `<stem>-<ext>`, then
/// `<stem>-<8 hex of the path's hash>`.
pub fn output_dirs(inputs: &[PathBuf], root: &Path) -> Vec<PathBuf> {
    let mut claimed: HashSet<PathBuf> = HashSet::new();
    inputs
        .iter()
        .map(|input| {
            let stem = input
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "recording".into());
            let stem = if stem.is_empty() || stem.starts_with('.') {
                format!("recording{stem}")
            } else {
                stem
            };
            let ext = input.extension().map(|e| e.to_string_lossy().into_owned());
            let me = canonical(input).display().to_string();
            let hash = &fsutil::sha256_bytes(me.as_bytes())[..8];
            let mut candidates = vec![stem.clone()];
            if let Some(ext) = ext {
                candidates.push(format!("{stem}-{ext}"));
            }
            candidates.push(format!("{stem}-{hash}"));
            let owned_by_other = |dir: &Path| {
                dir.exists()
                    && std::fs::read_to_string(dir.join(SOURCE_MARKER))
                        .map(|s| s != me)
                        .unwrap_or(true)
            };
            let chosen = candidates
                .iter()
                .map(|c| root.join(c))
                .find(|dir| !claimed.contains(dir) && !owned_by_other(dir))
                .unwrap_or_else(|| root.join(format!("{stem}-{hash}")));
            claimed.insert(chosen.clone());
            chosen
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_stems_get_distinct_folders() {
        let root = tempfile::tempdir().unwrap();
        let inputs = vec![
            PathBuf::from("a/x.wav"),
            PathBuf::from("b/x.mp3"),
            PathBuf::from("c/x.wav"),
            PathBuf::from("d/x.wav"),
            PathBuf::from("y.flac"),
        ];
        let dirs = output_dirs(&inputs, root.path());
        let names: Vec<String> = dirs
            .iter()
            .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names[0], "x");
        assert_eq!(names[1], "x-mp3");
        assert_eq!(names[2], "x-wav");
        assert!(
            names[3].starts_with("x-") && names[3].len() == 10,
            "{}",
            names[3]
        );
        assert_eq!(names[4], "y");
    }

    #[test]
    fn a_folder_from_another_recording_is_not_reused() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("x")).unwrap();
        std::fs::write(
            root.path().join("x").join(SOURCE_MARKER),
            "/elsewhere/x.wav",
        )
        .unwrap();
        let dirs = output_dirs(&[PathBuf::from("x.wav")], root.path());
        assert_eq!(dirs[0], root.path().join("x-wav"));
    }
}
