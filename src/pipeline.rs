//! Composes the stages for one recording: decode -> find speech -> transcribe and embed voices
//! -> diarize -> attribute words -> write. `run` and (later) `batch` both go through
//! [`Pipeline::process`]; models are loaded once per pipeline.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use crate::asr::pool::DecoderPool;
use crate::asr::{AsrOptions, ChunkText, EnglishCheck, LoadOptions, Whisper};
use crate::audio::{
    self, DecodeOptions, OpenedRecording, SileroVad, SpeechChunk, SpeechChunker, VadParams,
};
use crate::error::{io_cause, Error, Result};
use crate::fsutil;
use crate::models::{self, PackagedModel, ResolvedModel};
use crate::output::{self, Format};
use crate::positions::PositionTagger;
use crate::progress::{InputProgress, Progress, Stage};
use crate::speakers::names::Names;
use crate::speakers::voices::{load_voiceprint, DEFAULT_MATCH_THRESHOLD};
use crate::speakers::{self, DiarizeParams, SpeakerModels, VoiceStore, Voiceprint};
use crate::summary::{self, Context, Processing, StageTime, Summary};
use crate::transcript::{
    round_ms, Diarization, Language, ModelRef, Segment, Source, Speaker, SpeechReport, Transcript,
    Turn, VoiceMatch, TRANSCRIPT_SCHEMA,
};
use crate::utterances::{self, InputFormat};

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
    /// Who spoke when; None skips diarization (`--no-diarize`).
    pub diarize: Option<DiarizeOptions>,
    /// Negotiation positions; None skips tagging (`--no-positions`).
    pub positions: Option<PositionOptions>,
    /// How subtitle and timestamped text cues are laid out.
    pub layout: output::Layout,
}

/// Settings of the position stage.
#[derive(Debug, Clone, Default)]
pub struct PositionOptions {
    /// A head from `rapporteur train positions` instead of the built-in one.
    pub head: Option<PathBuf>,
}

impl PositionOptions {
    /// The head used, for summary.json: "built-in", its path, or null when not tagging.
    fn describe(positions: &Option<PositionOptions>) -> Value {
        match positions {
            Some(p) => p
                .head
                .as_ref()
                .map_or("built-in".into(), |h| h.display().to_string())
                .into(),
            None => Value::Null,
        }
    }
}

/// Settings of the speaker stage.
#[derive(Debug, Clone)]
pub struct DiarizeOptions {
    pub params: DiarizeParams,
    /// Voice store given with `--voices` (a bad voiceprint there is an error), or None for
    /// the default store (bad voiceprints are skipped with a warning).
    pub voices: Option<PathBuf>,
    /// Cosine similarity at which a speaker takes an enrolled voice's name.
    pub match_threshold: f32,
    /// Names file applied last (`--names`).
    pub names: Option<Names>,
    /// Name speakers from the chair's floor cues (after enrolled voices, before `names`).
    pub floor_names: bool,
}

impl Default for DiarizeOptions {
    fn default() -> Self {
        DiarizeOptions {
            params: DiarizeParams::default(),
            voices: None,
            match_threshold: DEFAULT_MATCH_THRESHOLD,
            names: None,
            floor_names: true,
        }
    }
}

/// What happened to one recording, for `--json` and the summary line.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub input: PathBuf,
    pub output_dir: PathBuf,
    pub files: Vec<PathBuf>,
    pub duration: f64,
    /// sha256 of the recording.
    pub sha256: String,
    pub language: String,
    pub segments: usize,
    pub words: usize,
    pub speech: Option<SpeechReport>,
    /// Speaker labels, in order of first appearance (empty without diarization).
    pub speakers: Vec<String>,
    /// Things worth knowing about the result (e.g. no speech, too little to separate voices).
    pub notes: Vec<String>,
    pub timings: Timings,
    /// Files of an earlier result in the same folder: rewritten, or kept as they were.
    pub carried_over: CarriedOver,
}

/// Seconds of work per stage. Decoding, voice activity detection, speakers and transcription
/// run interleaved over the stream, so each counts only its own work; with several decoders,
/// transcription's seconds are summed over them, so the stages can add up to more than the
/// wall time.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Timings {
    pub decode_s: f64,
    pub vad_s: f64,
    pub transcribe_s: f64,
    /// Embedding voices, clustering and attributing words.
    pub speakers_s: f64,
    /// Tagging each segment's negotiation move and target.
    pub positions_s: f64,
    /// Building the summary (issues, stances, decisions).
    pub summary_s: f64,
    pub write_s: f64,
    /// Processing time divided by audio duration (lower is faster).
    pub real_time_factor: f64,
}

impl Timings {
    /// The stages that ran, for summary.json (writing the files is not counted: the summary
    /// is written before it ends).
    pub fn stages(&self) -> [(&'static str, f64); 6] {
        [
            ("decode", self.decode_s),
            ("voice activity", self.vad_s),
            ("transcribe", self.transcribe_s),
            ("speakers", self.speakers_s),
            ("positions", self.positions_s),
            ("summary", self.summary_s),
        ]
    }
}

impl RunOptions {
    /// The options that shaped a run's result, as summary.json records them.
    pub fn summary_options(&self, enrolled_voices: usize) -> BTreeMap<String, Value> {
        let mut o = BTreeMap::new();
        let mut set = |k: &str, v: Value| {
            o.insert(k.to_string(), v);
        };
        set("model", self.model.clone().into());
        set(
            "language",
            self.asr
                .language
                .clone()
                .unwrap_or_else(|| "auto".into())
                .into(),
        );
        set("beam_size", self.asr.beam_size.into());
        set("prompt", self.asr.prompt.is_some().into());
        set(
            "vad_threshold",
            self.vad
                .as_ref()
                .map_or(Value::Null, |v| decimal(v.threshold)),
        );
        match &self.diarize {
            Some(d) => {
                set("speaker_threshold", decimal(d.params.threshold));
                set(
                    "speakers",
                    d.params.speakers.map_or(Value::Null, |n| n.into()),
                );
                set("min_speakers", d.params.min_speakers.into());
                set("max_speakers", d.params.max_speakers.into());
                set("voice_threshold", decimal(d.match_threshold));
                set("enrolled_voices", enrolled_voices.into());
                set("names_file", d.names.is_some().into());
                set("floor_names", d.floor_names.into());
            }
            None => set("diarize", false.into()),
        }
        set("positions_head", PositionOptions::describe(&self.positions));
        set(
            "formats",
            self.formats
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .into(),
        );
        self.layout.record(&mut o);
        o
    }
}

pub struct Pipeline {
    /// None when no requested format needs text (e.g. `--format rttm`).
    whisper: Option<(Whisper, ResolvedModel)>,
    vad: Option<(SileroVad, PackagedModel)>,
    speakers: Option<SpeakerModels>,
    positions: Option<PositionTagger>,
    /// With an English-only model: the multilingual model that checks the speech is English.
    english_check: Option<EnglishCheck>,
    voices: Vec<Voiceprint>,
    warnings: Vec<String>,
    opts: RunOptions,
}

/// Whether the chunks handed to the decoders are the recording's last.
#[derive(Clone, Copy)]
enum StreamEnded {
    No,
    Yes,
}

impl Pipeline {
    pub fn new(opts: RunOptions) -> Result<Pipeline> {
        let needs_text = opts.formats.iter().any(|f| f.needs_text());
        if opts.diarize.is_none() {
            if let Some(f) = opts.formats.iter().find(|f| f.needs_speakers()) {
                return Err(Error::usage(format!(
                    "--format {} needs speakers, but diarization is off (--no-diarize)",
                    f.name()
                )));
            }
        }
        if let Some(params) = &opts.vad {
            params.validate().map_err(Error::usage)?;
        }
        if let Some(d) = &opts.diarize {
            d.params.validate().map_err(Error::usage)?;
        }
        // The recogniser, the speaker models and the text encoder are read side by side when
        // there are threads for it (jfk's full run at 2 threads spent 0.5 s loading them one
        // after another). The recogniser's errors are told first: a missing Whisper model is
        // the likeliest problem.
        let load_recogniser = || -> Result<_> {
            let whisper_model = if needs_text {
                Some(models::resolve_whisper(&opts.model)?)
            } else {
                None
            };
            let vad = match &opts.vad {
                Some(_) => {
                    let vad_model = models::resolve_packaged(models::DEFAULT_VAD)?;
                    let weights = vad_model.file("silero_vad_16k.safetensors");
                    Some((SileroVad::load(&weights)?, vad_model))
                }
                None => None,
            };
            let whisper = match whisper_model {
                Some(model) => Some((Whisper::load(&model.path, &opts.load)?, model)),
                None => None,
            };
            Ok((whisper, vad))
        };
        let speaker_and_text_models = || -> Result<_> {
            let mut warnings = Vec::new();
            let (speakers, voices) = match &opts.diarize {
                Some(d) => {
                    let model = SpeakerModels::load()?;
                    let voices = load_voices(d.voices.as_deref(), &model, &mut warnings)?;
                    (Some(model), voices)
                }
                None => (None, Vec::new()),
            };
            // Positions are read from the text: without a transcript there is nothing to tag.
            let positions = match (&opts.positions, needs_text) {
                (Some(p), true) => Some(PositionTagger::load(p.head.as_deref())?),
                _ => None,
            };
            Ok((speakers, voices, positions, warnings))
        };
        let (recogniser, speaker_and_text) = if opts.asr.threads > 1 {
            std::thread::scope(|scope| {
                let loading = scope.spawn(speaker_and_text_models);
                let recogniser = load_recogniser();
                let speaker_and_text = loading
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (recogniser, speaker_and_text)
            })
        } else {
            let recogniser = load_recogniser()?;
            (Ok(recogniser), speaker_and_text_models())
        };
        let (whisper, vad) = recogniser?;
        let (speakers, voices, positions, mut warnings) = speaker_and_text?;
        let english_check = match &whisper {
            Some((w, model)) if !w.is_multilingual() => {
                match models::installed_multilingual_whisper() {
                    Some(Ok(detector)) => Some(EnglishCheck {
                        model: detector.path,
                        name: detector.name,
                        checked: model.name.clone(),
                    }),
                    Some(Err(e)) => {
                        warnings.push(format!("the language is not checked: {e}"));
                        None
                    }
                    None => None,
                }
            }
            _ => None,
        };
        Ok(Pipeline {
            whisper,
            vad,
            speakers,
            positions,
            english_check,
            voices,
            warnings,
            opts,
        })
    }

    /// The Whisper model, unless no requested format needs text.
    pub fn model(&self) -> Option<&ResolvedModel> {
        self.whisper.as_ref().map(|(_, m)| m)
    }

    /// Problems found while loading that did not stop the run (e.g. an unreadable voiceprint in
    /// the default voice store).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The voices of `dir`, for a recording of its own (see [`RecordingOptions`]): every
    /// voiceprint there must be valid. None without diarization.
    pub fn voices_in(&self, dir: &Path) -> Option<Result<Vec<Voiceprint>>> {
        let models = self.speakers.as_ref()?;
        Some(load_voices(Some(dir), models, &mut Vec::new()))
    }

    /// Enrolled voices speakers may be named after.
    pub fn voices(&self) -> &[Voiceprint] {
        &self.voices
    }

    /// Transcribe an opened recording without writing anything; also returns notes worth
    /// telling the user. Decoding, voice activity detection and transcription run as one stream: each chunk of speech is transcribed as
    /// soon as it is complete, so only about a chunk of audio is ever held, whatever the
    /// duration.
    pub fn transcribe(
        &self,
        recording: OpenedRecording,
        progress: &mut InputProgress,
    ) -> Result<(Transcript, Timings, Vec<String>)> {
        self.transcribe_as(recording, progress, &self.opts, &self.voices)
    }

    /// [`Pipeline::transcribe`] with one recording's own settings (see [`RecordingOptions`]).
    fn transcribe_as(
        &self,
        recording: OpenedRecording,
        progress: &mut InputProgress,
        opts: &RunOptions,
        voices: &[Voiceprint],
    ) -> Result<(Transcript, Timings, Vec<String>)> {
        let input = recording.path().to_path_buf();
        let input = input.as_path();
        let started = Instant::now();
        let mut session = match &self.whisper {
            Some((w, _)) => {
                let session = w.session(&opts.asr)?;
                Some(match &self.english_check {
                    Some(check) => session.with_english_check(check.clone()),
                    None => session,
                })
            }
            None => None,
        };
        let vad = self.vad.as_ref().map(|(model, _)| {
            let params = opts.vad.clone().unwrap_or_default();
            (model, params)
        });
        // A turn may be in another language: when languages are detected per chunk, a chunk
        // never holds two speech spans (joined, a French turn 1.1 s after John F. Kennedy's was
        // detected for both and his words came back in French).
        let max_joined_pause = match &session {
            Some(s) if s.detects_languages() => 0.0,
            _ => audio::MAX_JOINED_PAUSE_S,
        };
        let mut chunker = SpeechChunker::new(vad, max_joined_pause);
        let mut diarizer = match (&opts.diarize, &self.speakers) {
            (Some(d), Some(m)) => Some(m.diarizer(d.params.clone())),
            _ => None,
        };
        let mut segments: Vec<Segment> = Vec::new();
        // Chunks whose language was unsure: their segments, and their decodings in the other
        // likely languages, settled once the whole recording is heard.
        let mut unsure: Vec<(std::ops::Range<usize>, Vec<Vec<Segment>>)> = Vec::new();
        let mut decoded = 0usize;
        // Seconds the stream spent on each stage, and waiting for the decoders.
        let (mut vad_s, mut waited_s, mut speakers_s) = (0.0, 0.0, 0.0);
        let sr = audio::SAMPLE_RATE as f64;
        // With several threads, chunks are decoded side by side, one decoder per thread, while
        // the stream goes on decoding audio, finding speech and listening for speakers (see
        // asr::pool); with one, each chunk is decoded in turn, in the stream.
        let decoders = match &session {
            Some(_) if opts.asr.threads > 1 => opts.asr.threads,
            _ => 0,
        };

        // A decoded chunk's segments, on the recording's clock.
        let take = |chunk: SpeechChunk,
                    text: ChunkText,
                    segments: &mut Vec<Segment>,
                    unsure: &mut Vec<(std::ops::Range<usize>, Vec<Vec<Segment>>)>,
                    progress: &mut InputProgress| {
            let speech: Vec<(f64, f64)> = chunk
                .speech_spans()
                .into_iter()
                .map(|(a, b)| (round_ms(a), round_ms(b)))
                .collect();
            let place = |found: Vec<Segment>| -> Vec<Segment> {
                let mut placed = Vec::new();
                for mut seg in found {
                    seg.map_times(|t, is_end| round_ms(chunk.to_recording(t, is_end)));
                    placed.extend(seg.confine_to(&speech));
                }
                placed
            };
            let placed = place(text.segments);
            if !text.alternatives.is_empty() {
                let alternatives = text.alternatives.into_iter().map(place).collect();
                unsure.push((segments.len()..segments.len() + placed.len(), alternatives));
            }
            segments.extend(placed);
            progress.update(Stage::Transcribe, chunk.extent().end as f64 / sr);
        };
        let (info, found, transcribe_s) = std::thread::scope(|scope| -> Result<_> {
            let mut pool = match &session {
                Some(s) if decoders > 0 => {
                    Some(DecoderPool::start(scope, s, decoders, opts.asr.threads))
                }
                _ => None,
            };
            // Hand chunks to the decoders, and take back those done; or decode them here.
            let mut transcribe = |chunks: Vec<SpeechChunk>,
                                  ended: StreamEnded,
                                  progress: &mut InputProgress|
             -> Result<f64> {
                let Some(session) = session.as_mut() else {
                    return Ok(0.0);
                };
                let t = Instant::now();
                if let (StreamEnded::Yes, Some(pool)) = (ended, pool.as_ref()) {
                    pool.close();
                }
                for chunk in chunks {
                    match pool.as_mut() {
                        Some(pool) => {
                            session.check_english(&chunk.samples)?;
                            pool.submit(chunk)?;
                            for (chunk, done) in pool.ready()? {
                                let text = session.accept(done);
                                take(chunk, text, &mut segments, &mut unsure, progress);
                            }
                        }
                        None => {
                            let text = session.transcribe_chunk(&chunk.samples)?;
                            take(chunk, text, &mut segments, &mut unsure, progress);
                        }
                    }
                }
                Ok(t.elapsed().as_secs_f64())
            };
            // Who speaks in each window of the audio heard so far, and their voiceprints.
            let mut listen = |block: &[f32], progress: &mut InputProgress| -> Result<f64> {
                let Some(diarizer) = diarizer.as_mut() else {
                    return Ok(0.0);
                };
                let t = Instant::now();
                diarizer.push(block)?;
                progress.update(Stage::Speakers, diarizer.heard_s());
                Ok(t.elapsed().as_secs_f64())
            };
            let info = recording.decode(&opts.decode, |block| {
                decoded += block.len();
                progress.update(Stage::Decode, decoded as f64 / sr);
                let t = Instant::now();
                let chunks = chunker.push(block)?;
                vad_s += t.elapsed().as_secs_f64();
                progress.update(Stage::Vad, chunker.scanned() as f64 / sr);
                speakers_s += listen(block, progress)?;
                waited_s += transcribe(chunks, StreamEnded::No, progress)?;
                Ok(())
            })?;
            let duration = decoded as f64 / sr;
            progress.finish_stage(Stage::Decode, duration);
            let t = Instant::now();
            let chunks = chunker.finish()?;
            vad_s += t.elapsed().as_secs_f64();
            progress.finish_stage(Stage::Vad, duration);
            waited_s += transcribe(chunks, StreamEnded::Yes, progress)?;
            // The voices are clustered while the decoders finish the last chunks.
            let t = Instant::now();
            let found = match diarizer.take() {
                Some(diarizer) => Some(diarizer.finish()?),
                None => None,
            };
            speakers_s += t.elapsed().as_secs_f64();
            let transcribe_s = match (pool, session.as_mut()) {
                (Some(pool), Some(session)) => {
                    let t = Instant::now();
                    let (rest, decoding_s) = pool.finish()?;
                    for (chunk, done) in rest {
                        let text = session.accept(done);
                        take(chunk, text, &mut segments, &mut unsure, progress);
                    }
                    waited_s += t.elapsed().as_secs_f64();
                    decoding_s
                }
                _ => waited_s,
            };
            Ok((info, found, transcribe_s))
        })?;
        let duration = decoded as f64 / sr;
        if let Some(session) = &session {
            for (range, alternatives) in unsure.into_iter().rev() {
                if let Some(better) =
                    session.better_language(&segments[range.clone()], alternatives)
                {
                    segments.splice(range, better);
                }
            }
        }
        for (i, seg) in segments.iter_mut().enumerate() {
            seg.id = i;
        }
        let (language, stats) = match &session {
            Some(s) => (s.language(&segments), s.stats.clone()),
            None => (Language::given("und"), Default::default()),
        };
        // The decoder's buffers (about 50 MB with tiny.en) are not needed by the stages after
        // it; freed here, they make room for the text encoder (see positions::encoder).
        drop(session);
        progress.finish_stage(Stage::Transcribe, duration);
        crate::interrupt::check()?;

        let t = Instant::now();
        let diarization = match (found, &opts.diarize, &self.speakers) {
            (Some(found), Some(d), Some(m)) => Some(self.diarization(found, d, m, voices)),
            _ => None,
        };
        if let Some(d) = &diarization {
            segments = speakers::attribute(segments, &d.turns);
        }
        speakers_s += t.elapsed().as_secs_f64();
        progress.finish_stage(Stage::Speakers, duration);

        let t = Instant::now();
        let position_models = match &self.positions {
            Some(tagger) => {
                // The tagger reads English: a translation when there is one.
                let texts: Vec<&str> = segments.iter().map(|s| s.english_text()).collect();
                let tagged = tagger.tag(&texts)?;
                for (segment, position) in segments.iter_mut().zip(tagged) {
                    segment.position = Some(position);
                }
                Some(tagger.models.clone())
            }
            None => None,
        };
        let positions_s = t.elapsed().as_secs_f64();
        crate::interrupt::check()?;

        let total_s = started.elapsed().as_secs_f64();
        let sha256 = fsutil::sha256_file(input).map_err(|e| Error::input(input, e.to_string()))?;

        let mut transcript = Transcript {
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
            model: match &self.whisper {
                Some((_, m)) => ModelRef {
                    name: m.name.clone(),
                    sha256: m.sha256.clone(),
                },
                None => ModelRef {
                    name: "none".into(),
                    sha256: String::new(),
                },
            },
            speech: Some(SpeechReport {
                detector: match &self.vad {
                    Some((_, m)) => m.name.clone(),
                    None => "none".into(),
                },
                detector_sha256: self.vad.as_ref().map(|(_, m)| m.sha256.clone()),
                speech_s: round_ms(chunker.speech() as f64 / sr),
                chunks: stats.chunks,
                retried_chunks: stats.retried_chunks,
                unresolved_chunks: stats.unresolved_chunks,
                silent_chunks: stats.silent_chunks,
            }),
            diarization,
            positions: position_models,
            floor: Vec::new(),
            segments,
        };
        let mut notes = notes(&transcript);
        let asked = opts
            .diarize
            .as_ref()
            .and_then(|d| d.params.speakers.or(Some(d.params.min_speakers)));
        if let (Some(asked), Some(d)) = (asked, &transcript.diarization) {
            if d.speakers.len() < asked && !d.speakers.is_empty() {
                notes.push(format!(
                    "{asked} speakers asked for, but only {} distinct voices heard: no voice is \
                     cut in two to make up the count",
                    d.speakers.len()
                ));
            }
        }
        // Authority: enrolled voices (named in `diarization`), then the floor, then --names.
        if opts.diarize.as_ref().is_some_and(|d| d.floor_names) {
            notes.extend(speakers::floor::name_from_floor(&mut transcript));
        }
        if let Some(names) = opts.diarize.as_ref().and_then(|d| d.names.as_ref()) {
            let unknown = names
                .apply(&mut transcript)
                .map_err(|e| Error::usage(format!("--names: {e}")))?;
            if !unknown.is_empty() {
                notes.push(format!(
                    "names file: {}",
                    Names::unknown_message(&transcript, &unknown)
                ));
            }
        }
        let timings = Timings {
            decode_s: (total_s - vad_s - waited_s - speakers_s - positions_s).max(0.0),
            vad_s,
            transcribe_s,
            speakers_s,
            positions_s,
            summary_s: 0.0,
            write_s: 0.0,
            real_time_factor: total_s / duration.max(1e-9),
        };
        Ok((transcript, timings, notes))
    }

    /// Cluster the windows into speakers, name them from enrolled voices, and build the turns.
    fn diarization(
        &self,
        found: speakers::Diarized,
        d: &DiarizeOptions,
        m: &SpeakerModels,
        voices: &[Voiceprint],
    ) -> Diarization {
        let centroids: Vec<Vec<f32>> = found.speakers.iter().map(|s| s.centroid.clone()).collect();
        let matches = speakers::match_voices(&centroids, voices, d.match_threshold);
        let speakers: Vec<Speaker> = found
            .speakers
            .iter()
            .zip(&matches)
            .enumerate()
            .map(|(i, (s, m))| {
                let id = format!("S{}", i + 1);
                let voice = m.map(|(v, sim)| (&voices[v], sim));
                Speaker {
                    label: voice.map_or_else(|| id.clone(), |(v, _)| v.name.clone()),
                    delegation: voice.and_then(|(v, _)| v.delegation.clone()),
                    voice: voice.map(|(v, sim)| VoiceMatch {
                        name: v.name.clone(),
                        similarity: (sim * 1000.0).round() / 1000.0,
                    }),
                    id,
                    speech_s: round_ms(s.speech_s),
                    turns: found.turns.iter().filter(|t| t.speaker == i).count(),
                }
            })
            .collect();
        let turns = found
            .turns
            .iter()
            .map(|t| Turn {
                start: round_ms(t.start),
                end: round_ms(t.end),
                speaker: speakers[t.speaker].label.clone(),
            })
            .collect();
        Diarization {
            model: ModelRef {
                name: m.model.name.clone(),
                sha256: m.model.sha256.clone(),
            },
            segmentation: Some(ModelRef {
                name: m.segmentation_model.name.clone(),
                sha256: m.segmentation_model.sha256.clone(),
            }),
            threshold: d.params.threshold,
            speech_s: round_ms(found.speech_s),
            overlap_s: round_ms(found.overlap_s),
            speakers,
            turns,
        }
    }

    /// Transcribe `input` and write every requested format into `out_dir` (created if needed),
    /// reporting to `progress`. The folder appears with all its files or not at all.
    pub fn process(&self, input: &Path, out_dir: &Path, progress: &Progress) -> Result<RunReport> {
        self.process_as(input, out_dir, progress, &RecordingOptions::default(), None)
    }

    /// [`Pipeline::process`] with one recording's own settings. `seal`, when given, is called
    /// with the staged folder once every output is written and before it is moved into place,
    /// so that what it writes there (a batch's done marker) is the last file to appear.
    pub fn process_as(
        &self,
        input: &Path,
        out_dir: &Path,
        progress: &Progress,
        rec: &RecordingOptions,
        seal: Option<Seal<'_>>,
    ) -> Result<RunReport> {
        // Opened once: its header gives the progress bars their length before decoding starts.
        let recording = audio::open_recording(input);
        let announced = recording
            .as_ref()
            .ok()
            .and_then(|r| r.info().announced_duration);
        let mut input_progress = progress.input(input, announced);
        let result = recording
            .and_then(|r| self.transcribe_and_write(r, out_dir, &mut input_progress, rec, seal));
        input_progress.finish(result.is_ok());
        result
    }

    /// The options a recording is processed with: the pipeline's, changed by `rec`.
    fn options_for(&self, rec: &RecordingOptions) -> RunOptions {
        let mut opts = self.opts.clone();
        if let Some(language) = &rec.language {
            opts.asr.language = Some(language.clone()).filter(|l| l != "auto");
        }
        if let Some(d) = opts.diarize.as_mut() {
            if let Some(n) = rec.speakers {
                d.params.speakers = Some(n);
            }
            if let Some(names) = &rec.names {
                d.names = Some(names.clone());
            }
        }
        opts
    }

    /// What a recording's result depends on besides the recording itself: the program
    /// version, every model's sha256, the enrolled voices and every option that shapes the
    /// output (threads do not). Two runs with the same fingerprint on the same input write
    /// the same result, so a batch may keep one instead of redoing it.
    pub fn fingerprint(&self, rec: &RecordingOptions) -> String {
        let mut opts = self.options_for(rec);
        // Neither the threads nor the length limit change a result (the limit only refuses).
        opts.asr.threads = 0;
        opts.decode.max_duration = None;
        // Files count by their contents (the voices and the head's sha256 below), not by where
        // they lie: moving the voice folder or the head does not change a result.
        if let Some(d) = opts.diarize.as_mut() {
            d.voices = None;
        }
        if let Some(p) = opts.positions.as_mut() {
            p.head = None;
        }
        let voices = rec.voices.as_deref().unwrap_or(&self.voices);
        let mut models: Vec<String> = Vec::new();
        if let Some((_, m)) = &self.whisper {
            models.push(m.sha256.clone());
        }
        if let Some((_, m)) = &self.vad {
            models.push(m.sha256.clone());
        }
        if let Some(m) = &self.speakers {
            models.push(m.segmentation_model.sha256.clone());
            models.push(m.model.sha256.clone());
        }
        if let Some(t) = &self.positions {
            models.push(t.models.encoder.sha256.clone());
            models.push(t.models.head.sha256.clone());
        }
        let text = format!(
            "{} {}\nmodels {models:?}\noptions {opts:?}\nvoices {voices:?}",
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
        );
        fsutil::sha256_bytes(text.as_bytes())
    }

    fn transcribe_and_write(
        &self,
        recording: OpenedRecording,
        out_dir: &Path,
        progress: &mut InputProgress,
        rec: &RecordingOptions,
        seal: Option<Seal<'_>>,
    ) -> Result<RunReport> {
        let opts = &self.options_for(rec);
        let voices = rec.voices.as_deref().unwrap_or(&self.voices);
        let input = rec
            .shown_as
            .as_deref()
            .unwrap_or(recording.path())
            .to_path_buf();
        let input = input.as_path();
        let (mut transcript, mut timings, mut notes) =
            self.transcribe_as(recording, progress, opts, voices)?;
        transcript.source.path = input.display().to_string();
        crate::interrupt::check()?;
        let renames = carry_relabel(out_dir, &mut transcript);
        if !renames.kept.is_empty() {
            notes.push(format!(
                "kept the names relabel gave to these voices: {}",
                renames.kept.join(", ")
            ));
        }
        if !renames.lost.is_empty() {
            notes.push(format!(
                "warning: relabel had given names this run finds no speaker for ({}): run relabel on the folder again",
                renames.lost.join(", ")
            ));
        }
        let t = Instant::now();
        let mut processing = Processing::new("run");
        processing.options = opts.summary_options(voices.len());
        let mut summary = summary::build(
            &transcript,
            Context {
                timed: true,
                recording_known: true,
                analysed_from: None,
                processing,
            },
        );
        timings.summary_s = t.elapsed().as_secs_f64();
        let duration = transcript.source.duration;
        timings.real_time_factor += timings.summary_s / duration.max(1e-9);
        summary.processing.set_stages(&timings.stages());
        summary.processing.real_time_factor =
            Some((timings.real_time_factor * 10_000.0).round() / 10_000.0);
        let mut report = RunReport {
            input: input.to_path_buf(),
            output_dir: out_dir.to_path_buf(),
            files: opts
                .formats
                .iter()
                .map(|f| out_dir.join(f.exporter().file_name()))
                .collect(),
            duration: transcript.source.duration,
            sha256: transcript.source.sha256.clone(),
            language: transcript.language.code.clone(),
            segments: transcript.segments.len(),
            words: transcript.segments.iter().map(|s| s.words.len()).sum(),
            speech: transcript.speech.clone(),
            speakers: transcript
                .diarization
                .as_ref()
                .map(|d| d.speakers.iter().map(|s| s.label.clone()).collect())
                .unwrap_or_default(),
            notes,
            timings,
            carried_over: CarriedOver::default(),
        };
        let t2 = Instant::now();
        let relabelled: String = renames.kept.iter().map(|r| format!("{r}\n")).collect();
        report.carried_over = write_output_dir(
            &transcript,
            &summary,
            out_dir,
            &opts.formats,
            &opts.layout,
            input,
            |stage| {
                if !relabelled.is_empty() {
                    fsutil::write_atomic(&stage.join(RELABEL_MARKER), relabelled.as_bytes())?;
                }
                match seal {
                    Some(seal) => seal(stage, &report),
                    None => Ok(()),
                }
            },
        )?;
        report.timings.write_s = t2.elapsed().as_secs_f64();
        Ok(report)
    }
}

/// Called with a staged output folder, complete but not yet in place (see
/// [`Pipeline::process_as`]).
pub type Seal<'a> = &'a (dyn Fn(&Path, &RunReport) -> Result<()> + Sync);

/// Settings one recording of a batch may have of its own (from its manifest row); None
/// keeps the pipeline's.
#[derive(Debug, Clone, Default)]
pub struct RecordingOptions {
    /// ISO 639-1 code, or "auto".
    pub language: Option<String>,
    /// Exactly this many speakers.
    pub speakers: Option<usize>,
    /// Enrolled voices to name speakers after, instead of the pipeline's.
    pub voices: Option<Vec<Voiceprint>>,
    /// Names file applied last.
    pub names: Option<Names>,
    /// What the recording is called in the result instead of its path (`-` for standard
    /// input, read from a temporary copy).
    pub shown_as: Option<PathBuf>,
}

/// Settings of `analyze`.
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    pub from: InputFormat,
    pub formats: Vec<Format>,
    /// Tag the utterances that have no position yet; None keeps the transcript as it is.
    pub positions: Option<PositionOptions>,
    /// Tag every utterance again, even those a transcript.json already has positions for.
    pub retag: bool,
    /// Name speakers from the chair's floor cues, unless the transcript was named already.
    pub floor_names: bool,
    /// How subtitle and timestamped text cues are laid out.
    pub layout: output::Layout,
}

/// What `analyze` did, for the summary line and `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct AnalyzeReport {
    pub input: PathBuf,
    pub output_dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// "transcript", "whisperx", "vtt", "srt", "jsonl" or "lines".
    pub format: String,
    pub utterances: usize,
    /// Utterances tagged by this run (0 when the transcript had them all).
    pub tagged: usize,
    pub speakers: Vec<String>,
    /// Speakers this run named from the chair's floor cues.
    pub named_from_floor: usize,
    /// Things worth knowing (floor cues that disagreed).
    pub notes: Vec<String>,
    pub issues: usize,
    pub decisions: usize,
    pub action_items: usize,
    pub timings: Vec<StageTime>,
}

/// Build the summary and reports of an existing transcript (a transcript.json, WebVTT, SRT,
/// JSON Lines or plain text with speaker prefixes), without audio, into `out_dir`.
pub fn analyze(input: &Path, out_dir: &Path, opts: &AnalyzeOptions) -> Result<AnalyzeReport> {
    let started = Instant::now();
    let bytes = std::fs::read(input).map_err(|e| Error::input(input, io_cause(&e)))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::input(
            input,
            format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        )
    })?;
    let name = input.display().to_string();
    let format = match opts.from {
        InputFormat::Auto => utterances::detect(&name, &text),
        f => f,
    };
    let format_name = match format {
        InputFormat::Auto | InputFormat::Lines => "lines",
        InputFormat::Jsonl => "jsonl",
        InputFormat::Srt => "srt",
        InputFormat::Vtt => "vtt",
        InputFormat::Transcript => "transcript",
        InputFormat::Whisperx => "whisperx",
    };
    let sha256 = fsutil::sha256_bytes(text.as_bytes());
    let (mut transcript, timed, recording_known) = if format == InputFormat::Transcript {
        let t: Transcript = serde_json::from_str(text.trim_start_matches('\u{feff}'))
            .map_err(|e| Error::input(input, format!("not a rapporteur transcript.json: {e}")))?;
        if !t.schema.starts_with("rapporteur.transcript/") {
            return Err(Error::input(
                input,
                format!("unknown transcript schema \"{}\"", t.schema),
            ));
        }
        let (timed, known) = times_and_recording(&t);
        (t, timed, known)
    } else {
        let list = utterances::read(&name, &text, format).map_err(|e| Error::input(input, e))?;
        let timed = !list.is_empty() && list.iter().all(|u| u.start.is_some() && u.end.is_some());
        (
            transcript_of(input, &sha256, format_name, list, timed),
            timed,
            false,
        )
    };
    if transcript.segments.iter().all(|s| s.text.trim().is_empty()) {
        return Err(Error::input(input, "no utterances in it"));
    }
    if let Some(f) = opts.formats.iter().find(|f| f.needs_speakers()) {
        if transcript.diarization.is_none() {
            return Err(Error::usage(format!(
                "--format {} needs speaker turns, and {} has none",
                f.name(),
                input.display()
            )));
        }
    }
    let mut notes = Vec::new();
    if opts.floor_names && transcript.floor.is_empty() {
        notes = speakers::floor::name_from_floor(&mut transcript);
    }
    let read_s = started.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut tagged = 0;
    if let Some(p) = &opts.positions {
        let todo: Vec<usize> = (0..transcript.segments.len())
            .filter(|&i| opts.retag || transcript.segments[i].position.is_none())
            .filter(|&i| !transcript.segments[i].english_text().trim().is_empty())
            .collect();
        if !todo.is_empty() {
            let tagger = PositionTagger::load(p.head.as_deref())?;
            // The tagger reads English: a segment's translation when it has one.
            let texts: Vec<&str> = todo
                .iter()
                .map(|&i| transcript.segments[i].english_text())
                .collect();
            let positions = tagger.tag(&texts)?;
            for (&i, position) in todo.iter().zip(positions) {
                transcript.segments[i].position = Some(position);
            }
            tagged = todo.len();
            transcript.positions = Some(tagger.models.clone());
        }
    }
    let positions_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut processing = Processing::new("analyze");
    processing.options = BTreeMap::from([
        ("from".to_string(), Value::from(format_name)),
        ("retag".to_string(), Value::from(opts.retag)),
        ("floor_names".to_string(), Value::from(opts.floor_names)),
        (
            "positions_head".to_string(),
            PositionOptions::describe(&opts.positions),
        ),
        (
            "formats".to_string(),
            opts.formats
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .into(),
        ),
    ]);
    opts.layout.record(&mut processing.options);
    let mut summary = summary::build(
        &transcript,
        Context {
            timed,
            recording_known,
            analysed_from: Some(summary::TranscriptFile {
                path: name,
                sha256,
                format: format_name.into(),
            }),
            processing,
        },
    );
    let summary_s = t.elapsed().as_secs_f64();
    summary.processing.set_stages(&[
        ("read", read_s),
        ("positions", positions_s),
        ("summary", summary_s),
    ]);
    crate::interrupt::check()?;

    std::fs::create_dir_all(out_dir).map_err(|e| {
        Error::output(
            out_dir,
            format!("cannot create output folder: {}", io_cause(&e)),
        )
    })?;
    // Every file is rendered and staged before any is put in place.
    let mut staged = Vec::new();
    for f in &opts.formats {
        let exporter = f.exporter_with(&opts.layout);
        let path = out_dir.join(exporter.file_name());
        let tmp = fsutil::TempPath::for_target(&path)?;
        std::fs::write(tmp.path(), exporter.render(&transcript, &summary))
            .map_err(|e| Error::output(&path, io_cause(&e)))?;
        staged.push((tmp, path));
    }
    let mut files = Vec::new();
    for (tmp, path) in staged {
        tmp.persist()?;
        files.push(path);
    }
    Ok(AnalyzeReport {
        input: input.to_path_buf(),
        output_dir: out_dir.to_path_buf(),
        files,
        format: format_name.into(),
        utterances: transcript.segments.len(),
        tagged,
        speakers: summary.speakers.iter().map(|s| s.name.clone()).collect(),
        issues: summary.issues.len(),
        decisions: summary.decisions.len(),
        action_items: summary.action_items.len(),
        timings: summary.processing.stages.clone(),
        named_from_floor: transcript.floor.iter().filter(|n| n.applied).count(),
        notes,
    })
}

/// Whether a transcript.json has real times, and whether it describes a recording (not text
/// that `analyze --format json` turned into one: no sample rate, every time 0).
fn times_and_recording(t: &Transcript) -> (bool, bool) {
    let recording = !t.source.sha256.is_empty() && t.source.sample_rate > 0;
    let timed = recording || t.segments.iter().any(|s| s.end > 0.0);
    (timed, recording)
}

/// A transcript of utterances read from text: one segment each, without words; times are 0
/// when the text has none. Utterances that say their language (WhisperX JSON, JSONL) give it
/// to their segment, and the language with most speech becomes the transcript's.
fn transcript_of(
    input: &Path,
    sha256: &str,
    format: &str,
    list: Vec<utterances::Utterance>,
    timed: bool,
) -> Transcript {
    let mut segments: Vec<Segment> = list
        .into_iter()
        .enumerate()
        .map(|(id, u)| {
            let (start, end) = if timed {
                (u.start.unwrap_or(0.0), u.end.unwrap_or(0.0))
            } else {
                (0.0, 0.0)
            };
            Segment {
                id,
                start,
                end: end.max(start),
                text: u.text,
                words: if timed { u.words } else { Vec::new() },
                avg_logprob: 0.0,
                no_speech_prob: 0.0,
                speaker: u.speaker,
                position: None,
                language: u.language,
                translation: u.translation,
            }
        })
        .collect();
    // In the order they were said (a file of several channels may list them by channel); each
    // keeps its index in the file as its id, which evidence refers to.
    segments.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut t = Transcript {
        schema: TRANSCRIPT_SCHEMA.into(),
        source: Source {
            path: input.display().to_string(),
            sha256: sha256.into(),
            duration: segments.iter().map(|s| s.end).fold(0.0, f64::max),
            container: format.into(),
            codec: "text".into(),
            sample_rate: 0,
            channels: 0,
        },
        language: Language::given("und"),
        model: ModelRef {
            name: "none".into(),
            sha256: String::new(),
        },
        speech: None,
        diarization: None,
        positions: None,
        floor: Vec::new(),
        segments,
    };
    t.language = language_of(&t, timed);
    t
}

/// The language of segments read from text: the one with most speech (most words without
/// times) among those the segments say, with every one of them as heard when there are
/// several; `und` when none says.
fn language_of(t: &Transcript, timed: bool) -> Language {
    let heard = summary::languages_heard(t, timed);
    let Some(main) = heard.first() else {
        return Language::given("und");
    };
    let mut language = Language::given(&main.code);
    if heard.len() > 1 {
        language.heard = heard
            .iter()
            .map(|h| crate::transcript::HeardLanguage {
                code: h.code.clone(),
                speech_s: h.speech_s.unwrap_or(0.0),
            })
            .collect();
    }
    language
}

/// Enrol a voice: find who speaks in `files`, and average the main speaker's voiceprint of
/// each into one. Returns the voiceprint and warnings (e.g. a recording that seems to hold
/// several voices).
pub fn enrol_voice(
    name: &str,
    delegation: Option<String>,
    files: &[PathBuf],
    decode: &DecodeOptions,
) -> Result<(Voiceprint, Vec<String>)> {
    if name.trim().is_empty() {
        return Err(Error::usage("a voice needs a non-empty name"));
    }
    let models = SpeakerModels::load()?;
    enrol_with(&models, name, delegation, files, decode)
}

fn enrol_with(
    models: &SpeakerModels,
    name: &str,
    delegation: Option<String>,
    files: &[PathBuf],
    decode: &DecodeOptions,
) -> Result<(Voiceprint, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut sources = Vec::new();
    let mut speech_s = 0.0;
    let mut turns = 0;
    // Each recording's main voice, weighted by its seconds of speech.
    let mut mains: Vec<(Vec<f32>, f32)> = Vec::new();
    for file in files {
        let recording = audio::open_recording(file)?;
        let mut diarizer = models.diarizer(DiarizeParams::default());
        recording.decode(decode, |block| diarizer.push(block))?;
        let found = diarizer.finish()?;
        // The main voice: the speaker with most speech.
        let Some((main, voice)) = found
            .speakers
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.speech_s.total_cmp(&b.1.speech_s))
        else {
            return Err(Error::input(file, "no speech found to enrol"));
        };
        // An enrolment recording should hold one voice: say so when it seems to hold several.
        let total: f64 = found.speakers.iter().map(|s| s.speech_s).sum();
        if found.speakers.len() > 1 && voice.speech_s < 0.85 * total {
            warnings.push(format!(
                "warning: {} seems to hold {} voices; the voiceprint is the main one's ({:.0} % \
                 of the speech): enrol from a recording of this speaker alone",
                file.display(),
                found.speakers.len(),
                100.0 * voice.speech_s / total.max(1e-9)
            ));
        }
        speech_s += voice.speech_s;
        turns += found.turns.iter().filter(|t| t.speaker == main).count();
        mains.push((voice.centroid.clone(), voice.speech_s as f32));
        sources.push(crate::speakers::voices::VoiceSource {
            path: canonical(file).display().to_string(),
            sha256: fsutil::sha256_file(file).map_err(|e| Error::input(file, e.to_string()))?,
        });
    }
    if speech_s < MIN_ENROL_SPEECH_S {
        return Err(Error::input(
            &files[0],
            format!(
                "only {speech_s:.1} s of speech: at least {MIN_ENROL_SPEECH_S} s are needed to \
                 enrol a voice (10 s or more recommended)"
            ),
        ));
    }
    let voice = Voiceprint {
        schema: speakers::voices::VOICEPRINT_SCHEMA.into(),
        name: name.trim().to_string(),
        delegation,
        model: models.model.name.clone(),
        model_sha256: models.model.sha256.clone(),
        speech_s: round_ms(speech_s),
        windows: turns,
        sources,
        vector: speakers::cluster::weighted_mean(mains.iter().map(|(v, w)| (v.as_slice(), *w)))
            .expect("every file gave a voice or an error"),
    };
    Ok((voice, warnings))
}

/// Less speech than this gives voiceprints too noisy to name anyone by.
const MIN_ENROL_SPEECH_S: f64 = 2.0;

/// What `relabel` did.
#[derive(Debug)]
pub struct Relabelled {
    pub files: Vec<PathBuf>,
    /// Speakers given one name, now one speaker: (name, their former ids).
    pub merged: Vec<(String, Vec<String>)>,
}

/// Rename speakers in an output folder written by `run`: transcript.json is updated and every
/// other format found beside it is rendered again.
pub fn relabel(dir: &Path, names: &Names) -> Result<Relabelled> {
    let json = dir.join(Format::Json.exporter().file_name());
    let text = std::fs::read_to_string(&json).map_err(|e| {
        Error::input(
            &json,
            format!("{} (relabel takes a folder written by `run`)", io_cause(&e)),
        )
    })?;
    let mut transcript: Transcript = serde_json::from_str(&text)
        .map_err(|e| Error::input(&json, format!("not a rapporteur transcript: {e}")))?;
    let unknown = names
        .apply(&mut transcript)
        .map_err(|e| Error::input(&json, e))?;
    if !unknown.is_empty() {
        return Err(Error::input(
            &json,
            Names::unknown_message(&transcript, &unknown),
        ));
    }
    let present: Vec<Format> = Format::ALL
        .into_iter()
        .filter(|f| dir.join(f.exporter().file_name()).exists())
        .collect();
    // The summary is rebuilt with the new names; how it was first made is kept.
    let processing = std::fs::read_to_string(dir.join(Format::Summary.exporter().file_name()))
        .ok()
        .and_then(|text| serde_json::from_str::<Summary>(&text).ok())
        .map_or_else(|| Processing::new("relabel"), |s| s.processing);
    // Subtitles are laid out again as the folder's were made.
    let layout = output::Layout::from_options(&processing.options);
    let (timed, recording_known) = times_and_recording(&transcript);
    let summary = summary::build(
        &transcript,
        Context {
            timed,
            recording_known,
            analysed_from: None,
            processing,
        },
    );
    let files = output::write_formats(&transcript, &summary, dir, &present, &layout)?;
    // Remember the renames: a later run into this folder gives them again to their voices.
    let mut renames = std::fs::read_to_string(dir.join(RELABEL_MARKER)).unwrap_or_default();
    for r in names.describe() {
        renames.push_str(&r);
        renames.push('\n');
    }
    fsutil::write_atomic(&dir.join(RELABEL_MARKER), renames.as_bytes())?;
    Ok(Relabelled {
        files,
        merged: Names::merged(&transcript),
    })
}

fn notes(t: &Transcript) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(warning) = &t.language.warning {
        notes.push(warning.clone());
    }
    let speech = t.speech.as_ref().map_or(t.source.duration, |s| s.speech_s);
    if speech == 0.0 {
        notes.push("no speech found: nothing to transcribe and no speakers".into());
    } else if let Some(d) = &t.diarization {
        if d.speakers.is_empty() {
            notes.push(format!(
                "only {speech:.1} s of speech, too little to hear a voice in: no speakers"
            ));
        } else if d.speech_s < speakers::diarize::MIN_SPEECH_TO_SEPARATE_S {
            notes.push(format!(
                "only {:.1} s of speech: too little to tell voices apart, so one speaker",
                d.speech_s
            ));
        }
    }
    notes
}

/// Enrolled voices from `dir` (every voiceprint must be valid), or from the default store
/// (invalid ones are skipped with a warning, so that one bad file does not stop every run).
fn load_voices(
    dir: Option<&Path>,
    models: &SpeakerModels,
    warnings: &mut Vec<String>,
) -> Result<Vec<Voiceprint>> {
    let store = VoiceStore::at(dir);
    if dir.is_some() && !store.dir.is_dir() {
        return Err(Error::input(&store.dir, "no such voice folder"));
    }
    let mut voices = Vec::new();
    for path in store.files()? {
        // A voice enrolled by an earlier version is enrolled again from its recordings when
        // they are still at hand; otherwise loading it says how to re-enrol.
        if let Some(old) = speakers::voices::outdated_voice(&path) {
            if let Some(files) = old.sources_at_hand() {
                let (voice, _) = enrol_with(
                    models,
                    &old.name,
                    old.delegation.clone(),
                    &files,
                    &DecodeOptions::default(),
                )?;
                store.add(&voice)?;
                warnings.push(format!(
                    "re-enrolled voice {:?} from its recordings with this version's speaker \
                     model ({} replaces {})",
                    voice.name, models.model.name, old.model
                ));
                voices.push(voice);
                continue;
            }
        }
        match load_voiceprint(&path, Some(&models.model.sha256)) {
            Ok(v) => voices.push(v),
            Err(e) if dir.is_some() => return Err(e),
            Err(e) => warnings.push(format!("warning: skipping enrolled voice: {e}")),
        }
    }
    voices.sort_by_key(|v| v.name.to_lowercase());
    Ok(voices)
}

/// A setting as it was typed (0.3, not the 0.30000001192092896 an f32 widens to).
fn decimal(x: f32) -> Value {
    Value::from(summary::round3(f64::from(x)))
}

/// Name of the marker file that records which recording an output folder belongs to.
const SOURCE_MARKER: &str = ".source";

/// The renames `relabel` made in a folder, one `S1 = "Diane"` a line.
const RELABEL_MARKER: &str = ".relabelled";

/// Stage all files in a hidden sibling folder, then swap it into place.
fn write_output_dir(
    t: &Transcript,
    summary: &Summary,
    out_dir: &Path,
    formats: &[Format],
    layout: &output::Layout,
    input: &Path,
    seal: impl FnOnce(&Path) -> Result<()>,
) -> Result<CarriedOver> {
    let parent = out_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::output(parent, format!("cannot create output folder: {e}")))?;
    // Both temporary names carry the folder's name, so that a later batch can tell whose
    // leftovers they are (see batch::done::sweep).
    let name = out_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stage = tempfile::Builder::new()
        .prefix(&format!(".rapporteur-stage-{name}-"))
        .tempdir_in(parent)
        .map_err(|e| Error::output(parent, format!("cannot write here: {e}")))?;
    let _forced_exit_removes = crate::interrupt::Temporary::register(stage.path());
    output::write_formats(t, summary, stage.path(), formats, layout)?;
    // A re-run replaces only what it writes: the earlier result's other files (formats not
    // asked for this time, a person's own notes) are carried over. The folder is this
    // recording's own (`output_dirs` never reuses another's), and before this the whole
    // folder was swapped out, so `-f txt` after a full run left transcript.txt alone.
    let carried = if out_dir.is_dir() {
        carry_over(out_dir, stage.path())?
    } else {
        CarriedOver::default()
    };
    let marker = canonical(input).display().to_string();
    fsutil::write_atomic(&stage.path().join(SOURCE_MARKER), marker.as_bytes())?;
    seal(stage.path())?;
    // Move any previous result aside, put the new one in place, then drop the old one; a
    // forced exit waits for the two renames, so it never leaves the old result aside.
    let hold = crate::interrupt::hold_exit();
    let old = if out_dir.exists() {
        let aside = parent.join(format!(".rapporteur-old-{}-{name}", std::process::id()));
        std::fs::rename(out_dir, &aside)
            .map_err(|e| Error::output(out_dir, format!("cannot replace: {e}")))?;
        Some(aside)
    } else {
        None
    };
    // The stage was owner-only while being filled; the result gets the usual permissions.
    fsutil::set_default_permissions(stage.path());
    let staged = stage.keep();
    if let Err(e) = std::fs::rename(&staged, out_dir) {
        let _ = std::fs::remove_dir_all(&staged);
        if let Some(old) = &old {
            let _ = std::fs::rename(old, out_dir);
        }
        return Err(Error::output(out_dir, format!("cannot create: {e}")));
    }
    drop(hold);
    if let Some(old) = old {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(carried)
}

/// What became of the names `relabel` gave in an earlier result of this recording.
#[derive(Debug, Default)]
struct CarriedRenames {
    /// Given again to the same voices in the new result: `S1 = "Diane"`.
    kept: Vec<String>,
    /// Renames whose voice the new result has no speaker for.
    lost: Vec<String>,
}

/// A re-run into a folder that `relabel` renamed gives those names again to the speakers they
/// still belong to (by time: see [`speakers::names::carried_names`]), so that re-running
/// never undoes a person's naming; the ones that find no speaker are reported as lost.
fn carry_relabel(out_dir: &Path, transcript: &mut Transcript) -> CarriedRenames {
    let Ok(text) = std::fs::read_to_string(out_dir.join(RELABEL_MARKER)) else {
        return CarriedRenames::default();
    };
    // Each line as written, with the names it gives (none when it does not parse).
    let renames: Vec<(String, Vec<String>)> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            (
                l.to_string(),
                Names::parse(l).map(|n| n.given()).unwrap_or_default(),
            )
        })
        .collect();
    let given: Vec<String> = renames.iter().flat_map(|(_, g)| g.clone()).collect();
    let carried = std::fs::read_to_string(out_dir.join(Format::Json.exporter().file_name()))
        .ok()
        .and_then(|t| serde_json::from_str::<Transcript>(&t).ok())
        .map(|old| speakers::names::carried_names(&old, &given, transcript))
        .unwrap_or_default();
    let kept_names: Vec<String> = carried.iter().map(|(_, name, _)| name.clone()).collect();
    let kept = if carried.is_empty() {
        Vec::new()
    } else {
        let names = Names::from_entries(carried);
        match names.apply(transcript) {
            Ok(_) => names.describe(),
            Err(_) => Vec::new(),
        }
    };
    let lost = renames
        .into_iter()
        .filter(|(_, g)| g.is_empty() || g.iter().any(|n| !kept_names.contains(n)))
        .map(|(line, _)| line)
        .collect();
    CarriedRenames { kept, lost }
}

/// What a re-run found in the folder it writes: the files it wrote anew over earlier ones,
/// and the earlier files it kept as they were.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CarriedOver {
    pub replaced: Vec<String>,
    pub kept: Vec<String>,
}

/// Copy into `stage` every entry of the earlier result `old` that the stage does not have,
/// except the recording marker (written anew) and temporaries. (A batch's done marker is
/// carried too, and then replaced by the one the batch seals the stage with.)
fn carry_over(old: &Path, stage: &Path) -> Result<CarriedOver> {
    let mut carried = CarriedOver::default();
    let entries = std::fs::read_dir(old).map_err(|e| {
        Error::output(
            old,
            format!("cannot read the earlier result: {}", io_cause(&e)),
        )
    })?;
    let mut names: Vec<std::ffi::OsString> = entries.flatten().map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        let shown = name.to_string_lossy().into_owned();
        // The recording and relabel markers are written anew (the latter with the names that
        // still find their voices, see `carry_relabel`); temporaries are nobody's result.
        if shown == SOURCE_MARKER || shown == RELABEL_MARKER || shown.starts_with(".rapporteur-") {
            continue;
        }
        let (from, to) = (old.join(&name), stage.join(&name));
        let listed = !shown.starts_with('.');
        if to.exists() {
            if listed {
                carried.replaced.push(shown);
            }
            continue;
        }
        fsutil::copy_tree(&from, &to).map_err(|e| {
            Error::output(
                &from,
                format!("cannot keep this earlier file: {}", io_cause(&e)),
            )
        })?;
        if listed {
            carried.kept.push(shown);
        }
    }
    Ok(carried)
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
            let stem = if fsutil::is_std_stream(input) {
                "stdin".to_string()
            } else {
                input
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "recording".into())
            };
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
