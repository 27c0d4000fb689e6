//! Composes the stages for one recording: decode -> transcribe -> write. `run` and (later)
//! `batch` both go through [`Pipeline::process`]; the model is loaded once per pipeline.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::asr::{AsrOptions, LoadOptions, Whisper};
use crate::audio::{
    self, DecodeOptions, OpenedRecording, SileroVad, SpeechChunk, SpeechChunker, VadParams,
};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::models::{self, PackagedModel, ResolvedModel};
use crate::output::{self, Format};
use crate::progress::{InputProgress, Progress, Stage};
use crate::transcript::{ModelRef, Segment, Source, SpeechReport, Transcript, TRANSCRIPT_SCHEMA};

/// Everything `run` needs to know besides the inputs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub model: String,
    pub asr: AsrOptions,
    pub load: LoadOptions,
    pub formats: Vec<Format>,
    pub decode: DecodeOptions,
    /// Voice activity detection settings; None transcribes every second (`--no-vad`).
    pub vad: Option<VadParams>,
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
    pub speech: Option<SpeechReport>,
    pub timings: Timings,
}

/// Wall-clock time per stage. Decoding, voice activity detection and transcription run
/// interleaved over the stream, so each counts only its own work.
#[derive(Debug, Clone, Serialize)]
pub struct Timings {
    pub decode_s: f64,
    pub vad_s: f64,
    pub transcribe_s: f64,
    pub write_s: f64,
    /// Processing time divided by audio duration (lower is faster).
    pub real_time_factor: f64,
}

pub struct Pipeline {
    whisper: Whisper,
    model: ResolvedModel,
    vad: Option<(SileroVad, PackagedModel)>,
    opts: RunOptions,
}

impl Pipeline {
    pub fn new(opts: RunOptions) -> Result<Pipeline> {
        let model = models::resolve_whisper(&opts.model)?;
        let vad = match &opts.vad {
            Some(params) => {
                params.validate().map_err(Error::usage)?;
                let vad_model = models::resolve_packaged(models::DEFAULT_VAD)?;
                let weights = vad_model.file("silero_vad_16k.safetensors");
                Some((SileroVad::load(&weights)?, vad_model))
            }
            None => None,
        };
        let whisper = Whisper::load(&model.path, &opts.load)?;
        Ok(Pipeline {
            whisper,
            model,
            vad,
            opts,
        })
    }

    pub fn model(&self) -> &ResolvedModel {
        &self.model
    }

    /// Transcribe an opened recording without writing anything. Decoding, voice activity
    /// detection and transcription run as one stream: each chunk of speech is transcribed as
    /// soon as it is complete, so only about a chunk of audio is ever held, whatever the
    /// duration.
    pub fn transcribe(
        &self,
        recording: OpenedRecording,
        progress: &mut InputProgress,
    ) -> Result<(Transcript, Timings)> {
        let input = recording.path().to_path_buf();
        let input = input.as_path();
        let started = Instant::now();
        let mut session = self.whisper.session(&self.opts.asr)?;
        let vad = self.vad.as_ref().map(|(model, _)| {
            let params = self.opts.vad.clone().unwrap_or_default();
            (model, params)
        });
        let mut chunker = SpeechChunker::new(vad);
        let mut segments: Vec<Segment> = Vec::new();
        let mut decoded = 0usize;
        let (mut vad_s, mut transcribe_s) = (0.0, 0.0);
        let sr = audio::SAMPLE_RATE as f64;

        let mut transcribe = |chunk: SpeechChunk,
                              segments: &mut Vec<Segment>,
                              progress: &mut InputProgress|
         -> Result<f64> {
            let t = Instant::now();
            for mut seg in session.transcribe_chunk(&chunk.samples)? {
                seg.map_times(|t, is_end| to_ms(chunk.to_recording(t, is_end)));
                seg.id = segments.len();
                segments.push(seg);
            }
            progress.update(Stage::Transcribe, chunk.extent().end as f64 / sr);
            Ok(t.elapsed().as_secs_f64())
        };

        let info = recording.decode(&self.opts.decode, |block| {
            decoded += block.len();
            progress.update(Stage::Decode, decoded as f64 / sr);
            let t = Instant::now();
            let chunks = chunker.push(block)?;
            vad_s += t.elapsed().as_secs_f64();
            progress.update(Stage::Vad, chunker.scanned() as f64 / sr);
            for chunk in chunks {
                transcribe_s += transcribe(chunk, &mut segments, progress)?;
            }
            Ok(())
        })?;
        let duration = decoded as f64 / sr;
        progress.finish_stage(Stage::Decode, duration);
        let t = Instant::now();
        let chunks = chunker.finish()?;
        vad_s += t.elapsed().as_secs_f64();
        progress.finish_stage(Stage::Vad, duration);
        for chunk in chunks {
            transcribe_s += transcribe(chunk, &mut segments, progress)?;
        }
        progress.finish_stage(Stage::Transcribe, duration);
        let total_s = started.elapsed().as_secs_f64();
        let language = session.language();
        let stats = session.stats.clone();
        let sha256 = fsutil::sha256_file(input).map_err(|e| Error::input(input, e.to_string()))?;

        let transcript = Transcript {
            schema: TRANSCRIPT_SCHEMA.into(),
            source: Source {
                path: input.display().to_string(),
                sha256,
                duration,
                container: info.container.clone(),
                codec: info.codec.clone(),
                sample_rate: info.sample_rate,
                channels: info.channels,
            },
            language,
            model: ModelRef {
                name: self.model.name.clone(),
                sha256: self.model.sha256.clone(),
            },
            speech: Some(SpeechReport {
                detector: match &self.vad {
                    Some((_, m)) => m.name.clone(),
                    None => "none".into(),
                },
                detector_sha256: self.vad.as_ref().map(|(_, m)| m.sha256.clone()),
                speech_s: to_ms(chunker.speech() as f64 / sr),
                chunks: stats.chunks,
                retried_chunks: stats.retried_chunks,
                unresolved_chunks: stats.unresolved_chunks,
                silent_chunks: stats.silent_chunks,
            }),
            segments,
        };
        let timings = Timings {
            decode_s: (total_s - vad_s - transcribe_s).max(0.0),
            vad_s,
            transcribe_s,
            write_s: 0.0,
            real_time_factor: total_s / duration.max(1e-9),
        };
        Ok((transcript, timings))
    }

    /// Transcribe `input` and write every requested format into `out_dir` (created if needed),
    /// reporting to `progress`. The folder appears with all its files or not at all.
    pub fn process(&self, input: &Path, out_dir: &Path, progress: &Progress) -> Result<RunReport> {
        // Opened once: its header gives the progress bars their length before decoding starts.
        let recording = audio::open_recording(input);
        let announced = recording
            .as_ref()
            .ok()
            .and_then(|r| r.info().announced_duration);
        let mut input_progress = progress.input(input, announced);
        let result =
            recording.and_then(|r| self.transcribe_and_write(r, out_dir, &mut input_progress));
        input_progress.finish(result.is_ok());
        result
    }

    fn transcribe_and_write(
        &self,
        recording: OpenedRecording,
        out_dir: &Path,
        progress: &mut InputProgress,
    ) -> Result<RunReport> {
        let input = recording.path().to_path_buf();
        let input = input.as_path();
        let (transcript, mut timings) = self.transcribe(recording, progress)?;
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
            speech: transcript.speech.clone(),
            timings,
        })
    }
}

/// Round to whole milliseconds: finer digits are noise, and they make the JSON hard to read.
fn to_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
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
