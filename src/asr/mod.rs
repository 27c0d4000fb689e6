//! Speech recognition with whisper.cpp (through whisper-rs): 16 kHz mono samples in, segments
//! with word timings, the language and its probability out.

pub mod pool;

use std::path::PathBuf;

use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

use crate::error::{Error, Result};
use crate::transcript::{HeardLanguage, Language, Segment, Word};

/// Options that shape decoding.
#[derive(Debug, Clone)]
pub struct AsrOptions {
    /// ISO 639-1 code, or None to detect it (multilingual models only).
    pub language: Option<String>,
    pub threads: usize,
    /// Text the decoder is conditioned on: names, acronyms, spellings to prefer.
    pub prompt: Option<String>,
    /// 0 or 1 for greedy decoding, more for beam search of that width.
    pub beam_size: usize,
    /// Run the encoder only over each piece's real length instead of a padded 30 s.
    pub trim_audio_ctx: bool,
    /// Also render every chunk not spoken in English in English (Whisper's translate task).
    pub translate: bool,
}

/// What Whisper is asked to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    /// The words as spoken, in their own language.
    Transcribe,
    /// An English rendering.
    Translate,
}

/// Options fixed when the model is loaded.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub flash_attn: bool,
}

/// What the recognizer returns for one stretch of audio.
#[derive(Debug, Clone)]
pub struct AsrOutput {
    pub segments: Vec<Segment>,
    pub language: Language,
}

pub struct Whisper {
    ctx: WhisperContext,
    path: PathBuf,
    multilingual: bool,
}

impl Whisper {
    pub fn load(path: &std::path::Path, opts: &LoadOptions) -> Result<Whisper> {
        // whisper.cpp and ggml print to stderr by default; route their logs nowhere.
        whisper_rs::install_logging_hooks();
        let mut params = WhisperContextParameters::default();
        params.use_gpu(false);
        params.flash_attn(opts.flash_attn);
        let path_str = path
            .to_str()
            .ok_or_else(|| Error::model(path, "model path is not valid UTF-8"))?;
        let ctx = WhisperContext::new_with_params(path_str, params).map_err(|e| {
            Error::model(path, format!("whisper.cpp could not load this model ({e})"))
        })?;
        let multilingual = ctx.is_multilingual();
        Ok(Whisper {
            ctx,
            path: path.to_path_buf(),
            multilingual,
        })
    }

    pub fn is_multilingual(&self) -> bool {
        self.multilingual
    }

    /// Start transcribing one recording: chunks are then fed in order to
    /// [`AsrSession::transcribe_chunk`]. Unless it is given or the model is English-only, the
    /// language is detected for each chunk.
    pub fn session(&self, opts: &AsrOptions) -> Result<AsrSession<'_>> {
        if opts.translate && !self.multilingual {
            return Err(Error::usage(format!(
                "{} is an English-only model and cannot translate; use a multilingual one (e.g. --model base) with --translate",
                self.path.display()
            )));
        }
        let fixed = self.fixed_language(opts)?;
        Ok(AsrSession {
            whisper: self,
            decoder: None,
            english_check: None,
            english_warning: None,
            opts: opts.clone(),
            fixed,
            sure: Vec::new(),
            detections: Default::default(),
            stats: AsrStats::default(),
        })
    }

    fn new_state(&self) -> Result<WhisperState> {
        self.ctx.create_state().map_err(|e| {
            Error::model(
                &self.path,
                format!("creating the decoder state failed: {e}"),
            )
        })
    }

    /// Decode one piece of at most 30 s.
    #[allow(clippy::too_many_arguments)]
    fn transcribe_piece(
        &self,
        state: &mut WhisperState,
        samples: &[f32],
        language: &str,
        task: Task,
        opts: &AsrOptions,
        prompt: Option<&str>,
        temperature: f32,
    ) -> Result<Piece> {
        let prompt = prompt.filter(|p| !p.trim().is_empty());
        let strategy = if opts.beam_size > 1 && temperature == 0.0 {
            SamplingStrategy::BeamSearch {
                beam_size: opts.beam_size as i32,
                patience: -1.0,
            }
        } else {
            SamplingStrategy::Greedy { best_of: 5 }
        };
        let mut params = FullParams::new(strategy);
        params.set_n_threads(opts.threads.max(1) as i32);
        params.set_language(Some(language));
        params.set_translate(task == Task::Translate);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        params.set_token_timestamps(true);
        // Conditioning on previous text is what makes Whisper loop on long audio.
        params.set_no_context(true);
        // Keep "[MUSIC]"-style non-speech annotations out of the record.
        params.set_suppress_nst(true);
        // Fallback to higher temperatures is decided here, per chunk, by `Quality` (see
        // `AsrSession::transcribe_chunk`), not inside whisper.cpp: one place, one set of rules.
        params.set_temperature(temperature);
        params.set_temperature_inc(0.0);
        if let Some(prompt) = prompt {
            params.set_initial_prompt(prompt);
        }
        // The encoder need not run over the zero padding that fills a short piece up to 30 s.
        // Not with a prompt, though: with a trimmed window a prompted Whisper stops early
        // (measured on samples/: 17.7 % WER trimmed, 5.0 % full, 9.9 % with no prompt).
        let seconds = samples.len() as f64 / 16_000.0;
        if opts.trim_audio_ctx && prompt.is_none() && seconds < 30.0 {
            params.set_audio_ctx(audio_ctx_for(seconds));
        }
        // whisper.cpp polls this between graph computations: Ctrl-C stops it mid-piece.
        // (whisper-rs 0.16's `set_abort_callback_safe` hands whisper.cpp a pointer of the wrong
        // type and crashes; a plain C callback that needs no user data is sound.)
        // SAFETY: `abort_on_interrupt` ignores its argument and only reads an atomic flag.
        unsafe { params.set_abort_callback(Some(abort_on_interrupt)) };
        let result = state.full(params, samples);
        crate::interrupt::check()?;
        result.map_err(|e| Error::model(&self.path, format!("transcription failed: {e}")))?;

        let eot = self.ctx.token_eot();
        let mut segments = Vec::new();
        let mut piece_logprob = 0.0f32;
        let mut piece_tokens = 0usize;
        let mut no_speech_prob = None;
        for seg in state.as_iter() {
            no_speech_prob.get_or_insert(seg.no_speech_probability());
            // Nothing is heard after the end of the piece, whatever the window claims.
            let t1 = (seg.end_timestamp() as f64 / 100.0).min(seconds);
            let t0 = (seg.start_timestamp() as f64 / 100.0).min(t1);
            let mut words: Vec<Word> = Vec::new();
            let mut pending: Option<(Vec<u8>, f64, f64, Vec<f32>)> = None;
            let mut logprob_sum = 0.0f32;
            let mut n_tokens = 0;
            for i in 0..seg.n_tokens() {
                let Some(tok) = seg.get_token(i) else {
                    continue;
                };
                let data = tok.token_data();
                if data.id >= eot {
                    continue;
                }
                logprob_sum += data.plog;
                n_tokens += 1;
                let bytes = tok.to_bytes().unwrap_or(b"").to_vec();
                let (start, end) = token_times(&data, t0, t1);
                // A token opens a new word when it starts with a space; anything else
                // (word pieces, punctuation) continues the current word.
                let starts_word = bytes.first() == Some(&b' ');
                match pending.as_mut() {
                    Some(w) if !starts_word => {
                        w.0.extend_from_slice(&bytes);
                        w.2 = w.2.max(end);
                        w.3.push(data.p);
                    }
                    _ => {
                        if let Some(w) = pending.take() {
                            push_word(&mut words, w);
                        }
                        pending = Some((bytes, start, end, vec![data.p]));
                    }
                }
            }
            if let Some(w) = pending.take() {
                push_word(&mut words, w);
            }
            piece_logprob += logprob_sum;
            piece_tokens += n_tokens;
            let text = String::from_utf8_lossy(seg.to_bytes().unwrap_or(b""))
                .trim()
                .to_string();
            if text.is_empty() && words.is_empty() {
                continue;
            }
            // Without timestamp tokens (which a prompted Whisper often omits) a segment claims
            // the whole 30 s window: its words say where it really is.
            let (t0, t1) = match (words.first(), words.last()) {
                (Some(first), Some(last)) => (
                    t0.max(first.start.min(last.end)),
                    t1.min(seconds.max(last.end)),
                ),
                _ => (t0, t1.min(seconds)),
            };
            segments.push(Segment {
                id: segments.len(),
                start: t0,
                end: t1.max(t0),
                text,
                words,
                avg_logprob: if n_tokens > 0 {
                    logprob_sum / n_tokens as f32
                } else {
                    0.0
                },
                no_speech_prob: seg.no_speech_probability(),
                speaker: None,
                position: None,
                language: None,
                translation: None,
            });
        }
        let text: Vec<&str> = segments.iter().map(|s| s.text.as_str()).collect();
        let quality = Quality {
            compression_ratio: compression_ratio(&text.join(" ")),
            avg_logprob: if piece_tokens > 0 {
                piece_logprob / piece_tokens as f32
            } else {
                0.0
            },
            no_speech_prob: no_speech_prob.unwrap_or(1.0),
        };
        Ok(Piece { segments, quality })
    }

    /// The language when it needs no detection (given, or an English-only model); an error
    /// for codes Whisper does not know or the model cannot transcribe.
    fn fixed_language(&self, opts: &AsrOptions) -> Result<Option<Language>> {
        match opts.language.as_deref() {
            Some(code) if code != "auto" => {
                if whisper_rs::get_lang_id(code).is_none() {
                    return Err(Error::usage(format!("unknown language code {code:?} (use ISO 639-1 codes such as en, fr, es, or auto)")));
                }
                if !self.multilingual && code != "en" {
                    return Err(Error::usage(format!(
                        "{} is an English-only model; use a multilingual one (e.g. --model base) for --language {code}",
                        self.path.display()
                    )));
                }
                Ok(Some(Language::given(code)))
            }
            _ if !self.multilingual => Ok(Some(Language::given("en"))),
            _ => Ok(None),
        }
    }

    /// Make `state`'s next language detection run the encoder over `samples` only, not a
    /// padded 30 s window, and with no silence after them (see [`ENGLISH_CHECK_S`]).
    /// whisper.cpp detects with the window its last `full` call set, and a call limited to its
    /// first 100 ms returns once the window is set, decoding nothing.
    fn set_encoder_window(
        &self,
        state: &mut WhisperState,
        samples: &[f32],
        opts: &AsrOptions,
    ) -> Result<()> {
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(opts.threads.max(1) as i32);
        params.set_language(Some("en"));
        params.set_print_progress(false);
        params.set_duration_ms(100);
        params.set_audio_ctx(encoder_frames(samples.len() as f64 / 16_000.0));
        state
            .full(params, samples)
            .map(|_| ())
            .map_err(|e| Error::model(&self.path, format!("language detection failed: {e}")))
    }

    /// The languages Whisper hears in (the first 30 s of) `samples`, most likely first, with
    /// their probabilities: the first, and any other above [`LANGUAGE_CANDIDATE_MIN`] while
    /// the first is under [`LANGUAGE_SURE`]. `state` must be one no decoding ran on:
    /// whisper.cpp detects with the encoder window of the state's last decoding, and only a
    /// fresh state's is the whole 30 s window Whisper was trained to detect over (or the one
    /// [`Whisper::set_encoder_window`] set on purpose).
    fn detect_languages(
        &self,
        state: &mut WhisperState,
        samples: &[f32],
        opts: &AsrOptions,
    ) -> Result<Vec<(String, f32)>> {
        let threads = opts.threads.max(1);
        let head = &samples[..samples.len().min(30 * 16_000)];
        state
            .pcm_to_mel(head, threads)
            .map_err(|e| Error::model(&self.path, format!("language detection failed: {e}")))?;
        let (_, probs) = state
            .lang_detect(0, threads)
            .map_err(|e| Error::model(&self.path, format!("language detection failed: {e}")))?;
        let mut ranked: Vec<(String, f32)> = probs
            .iter()
            .enumerate()
            .filter_map(|(i, &p)| Some((whisper_rs::get_lang_str(i as i32)?.to_string(), p)))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let sure = ranked.first().is_none_or(|(_, p)| *p >= LANGUAGE_SURE);
        let mut kept: Vec<(String, f32)> = Vec::new();
        for (code, p) in ranked {
            if kept.is_empty()
                || (!sure && p >= LANGUAGE_CANDIDATE_MIN && kept.len() < MAX_LANGUAGE_CANDIDATES)
            {
                kept.push((code, p));
            }
        }
        Ok(kept)
    }
}

/// A decoder state, created on first use.
fn main_state<'s>(
    state: &'s mut Option<WhisperState>,
    whisper: &Whisper,
) -> Result<&'s mut WhisperState> {
    if state.is_none() {
        *state = Some(whisper.new_state()?);
    }
    Ok(state.as_mut().expect("just created"))
}

/// An English-only model has no language detector, and on French it writes fluent, invented
/// English (tiny.en on FLEURS French, Spanish, German and Portuguese: mean word probability
/// 0.52-0.93, within the 0.77-0.96 of real English, so its own confidence cannot tell). A
/// multilingual model's detector listens to the first chunk of speech instead; the model is
/// loaded for that one detection and freed.
#[derive(Debug, Clone)]
pub struct EnglishCheck {
    /// A multilingual GGML Whisper model.
    pub model: PathBuf,
    /// Its name, as the warning gives it.
    pub name: String,
    /// The English-only model being checked, as the warning names it.
    pub checked: String,
}

/// Probability of another language, over the first chunk, from which the recording is
/// clearly not English. On the shared clips (bench/README.md, "English-only model on other
/// languages"), base gave the language spoken 0.95-1.00 on all 20 FLEURS clips, and English
/// 0.30-1.00 on English ones; far-field meeting rooms gave English at 0.30 with no other
/// language above 0.18.
const NOT_ENGLISH_SURE: f32 = 0.8;
/// Seconds at the start of the first chunk the check listens to, with the encoder trimmed to
/// exactly them (no silence after: detection is not transcription and drops no words). On the
/// 43 shared clips (20 FLEURS, 2 pyAudioAnalysis, 10 AMI far-field, LibriVox, LibriSpeech, jfk,
/// Picovoice, pyannote's sample, our sample) 8 s gave the same verdict on every clip as the
/// earlier 10 s with 3 s of margin, the language spoken at 0.93-1.00 where it is not English
/// (0.95-1.00 before; 6 s fell to 0.87, near [`NOT_ENGLISH_SURE`]) and no other language
/// above 0.15 on English; and it costs 0.83x the run of jfk at one thread (1.21 against 1.47 s,
/// farm-bench, 7 pairs): the check is about half of a short English-only run.
const ENGLISH_CHECK_S: usize = 8;

impl EnglishCheck {
    /// A warning when the first chunk `samples` clearly sounds like another language.
    fn run(&self, samples: &[f32], opts: &AsrOptions) -> Result<Option<String>> {
        let detector = Whisper::load(&self.model, &LoadOptions { flash_attn: false })?;
        let mut state = detector.new_state()?;
        let head = &samples[..samples.len().min(ENGLISH_CHECK_S * 16_000)];
        detector.set_encoder_window(&mut state, head, opts)?;
        let heard = detector.detect_languages(&mut state, head, opts)?;
        let Some((code, probability)) = heard.into_iter().next() else {
            return Ok(None);
        };
        if code == "en" || probability < NOT_ENGLISH_SURE {
            return Ok(None);
        }
        let seconds = head.len() as f64 / 16_000.0;
        Ok(Some(format!(
            "{} is an English-only model, but the first {seconds:.0} s of speech sound like {} ({code}, probability {probability:.2} by {}): the English text is probably invented; transcribe with a multilingual model (--model {})",
            self.checked,
            language_name(&code),
            self.name,
            self.name
        )))
    }
}

/// The English name of a Whisper language code ("fr" -> "French").
pub fn language_name(code: &str) -> String {
    whisper_rs::get_lang_id(code)
        .and_then(whisper_rs::get_lang_str_full)
        .map(|n| {
            let mut c = n.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        })
        .unwrap_or_else(|| code.to_string())
}

/// Detection probability above which a chunk is transcribed in the detected language alone.
/// Under it, each likely language is tried and the most confident decoding kept (on a German
/// clip full of names base gave Yiddish 0.14, Latin 0.14, German 0.13).
const LANGUAGE_SURE: f32 = 0.5;
/// Probability a language needs to be tried when detection is unsure.
const LANGUAGE_CANDIDATE_MIN: f32 = 0.05;
/// Most languages tried for one chunk.
const MAX_LANGUAGE_CANDIDATES: usize = 3;

/// Transcribes the chunks of one recording (see [`Whisper::session`]). Chunks are decoded by
/// [`ChunkDecoder`]s, one per thread when several run at once, and their results are taken back
/// with [`AsrSession::accept`] in the order of the recording; [`AsrSession::transcribe_chunk`]
/// does both in one thread.
pub struct AsrSession<'w> {
    whisper: &'w Whisper,
    /// The decoder [`AsrSession::transcribe_chunk`] uses, created at its first chunk.
    decoder: Option<ChunkDecoder<'w>>,
    /// For an English-only model: the multilingual model to listen to the first chunk with.
    english_check: Option<EnglishCheck>,
    /// What the check concluded, when the speech did not sound English.
    english_warning: Option<String>,
    opts: AsrOptions,
    /// The language given with `--language` or implied by an English-only model.
    fixed: Option<Language>,
    /// Languages detected with confidence (at least [`LANGUAGE_SURE`]) in some chunk.
    sure: Vec<String>,
    /// Per language chosen for a chunk: the sum of its detection probabilities, and chunks.
    detections: std::collections::BTreeMap<String, (f64, usize)>,
    pub stats: AsrStats,
}

/// Decodes chunks on one thread, with its own whisper.cpp states: chunks are independent (no
/// previous text is carried over), so several decoders can work on one recording at once.
/// A decoder's text for a chunk can still depend on what it decoded before: whisper.cpp's
/// beam search leaves something in the state (on the sample, 9 of 14 segments came out
/// differently on a fresh state per chunk; greedy decoding did not differ), and sampling at a
/// temperature above 0 draws from a generator seeded once per state. So which decoder takes
/// which chunk must not depend on timing (see [`pool::DecoderPool`]).
pub struct ChunkDecoder<'w> {
    whisper: &'w Whisper,
    opts: AsrOptions,
    fixed: Option<Language>,
    /// Created at the first decoding, after the English check has freed its model: the two
    /// never hold their buffers at once.
    state: Option<WhisperState>,
    /// Detects the language of each chunk when it is neither given nor implied by the model.
    detector: Option<WhisperState>,
}

/// One chunk as a [`ChunkDecoder`] left it, for [`AsrSession::accept`].
pub struct DecodedChunk {
    text: ChunkText,
    stats: AsrStats,
    /// The language chosen for the chunk when it was detected, with its probability.
    detected: Option<(String, f32)>,
    /// Languages the chunk was detected in with confidence.
    sure: Vec<String>,
}

/// What the safeguards did over a recording.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AsrStats {
    pub chunks: usize,
    /// Chunks decoded again at a higher temperature.
    pub retried_chunks: usize,
    /// Chunks whose every attempt failed the checks; the least bad attempt was kept.
    pub unresolved_chunks: usize,
    /// Chunks Whisper itself judged to hold no speech (no text kept).
    pub silent_chunks: usize,
}

impl AsrStats {
    fn add(&mut self, other: &AsrStats) {
        self.chunks += other.chunks;
        self.retried_chunks += other.retried_chunks;
        self.unresolved_chunks += other.unresolved_chunks;
        self.silent_chunks += other.silent_chunks;
    }
}

/// Temperatures tried in turn until a decoding passes the checks, as in the reference Whisper
/// decoder (`transcribe(temperature=(0.0, 0.2, ..., 1.0))`).
const TEMPERATURES: [f32; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
/// Text that compresses better than this repeats itself: a decoding loop.
const MAX_COMPRESSION_RATIO: f32 = 2.4;
/// Mean token log-probability under which a decoding is a guess.
const MIN_AVG_LOGPROB: f32 = -1.0;
/// Above this, Whisper thinks the window holds no speech.
const NO_SPEECH_THRESHOLD: f32 = 0.6;

/// Whisper's own confidence in one decoding of a chunk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    /// Bytes of text over bytes of its zlib compression.
    pub compression_ratio: f32,
    pub avg_logprob: f32,
    pub no_speech_prob: f32,
}

impl Quality {
    /// The reference rule for silence: Whisper says "no speech" and is not confident in any
    /// text it produced anyway.
    pub fn is_silence(&self) -> bool {
        self.no_speech_prob > NO_SPEECH_THRESHOLD && self.avg_logprob < MIN_AVG_LOGPROB
    }

    pub fn is_loop(&self) -> bool {
        self.compression_ratio > MAX_COMPRESSION_RATIO
    }

    /// Whether to decode again at a higher temperature.
    pub fn needs_fallback(&self) -> bool {
        if self.no_speech_prob > NO_SPEECH_THRESHOLD && !self.is_loop() {
            return false;
        }
        self.is_loop() || self.avg_logprob < MIN_AVG_LOGPROB
    }
}

struct Piece {
    segments: Vec<Segment>,
    quality: Quality,
}

/// Ratio of the UTF-8 length of `text` to that of its zlib compression (as the reference
/// Whisper computes it); about 1 to 2 for ordinary speech, far more for a phrase on repeat.
pub fn compression_ratio(text: &str) -> f32 {
    use std::io::Write;
    if text.is_empty() {
        return 0.0;
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = z.write_all(text.as_bytes());
    let compressed = z.finish().map(|v| v.len()).unwrap_or(text.len());
    text.len() as f32 / compressed.max(1) as f32
}

impl<'w> AsrSession<'w> {
    /// Transcribe one chunk of at most 30 s (16 kHz mono) on this thread: the English check
    /// before the first, [`ChunkDecoder::decode`], then [`AsrSession::accept`].
    pub fn transcribe_chunk(&mut self, samples: &[f32]) -> Result<ChunkText> {
        self.check_english(samples)?;
        if self.decoder.is_none() {
            self.decoder = Some(self.decoder());
        }
        let decoded = self
            .decoder
            .as_mut()
            .expect("just created")
            .decode(samples, self.opts.threads)?;
        Ok(self.accept(decoded))
    }

    /// For an English-only model not told the language: listen to the recording's first chunk
    /// with the multilingual model (once; later calls do nothing). Called before the first
    /// chunk is decoded, so the check's model is freed before any decoder holds its buffers.
    pub fn check_english(&mut self, samples: &[f32]) -> Result<()> {
        if let Some(check) = self.english_check.take() {
            self.english_warning = check.run(samples, &self.opts)?;
        }
        Ok(())
    }

    /// A decoder for one thread. Its states are created at its first chunk.
    pub fn decoder(&self) -> ChunkDecoder<'w> {
        ChunkDecoder {
            whisper: self.whisper,
            opts: self.opts.clone(),
            fixed: self.fixed.clone(),
            state: None,
            detector: None,
        }
    }

    /// Take back a decoded chunk, in the order of the recording (the languages heard are
    /// summed in that order, so that the result does not depend on which decoder finished
    /// first).
    pub fn accept(&mut self, decoded: DecodedChunk) -> ChunkText {
        self.stats.add(&decoded.stats);
        for code in decoded.sure {
            if !self.sure.contains(&code) {
                self.sure.push(code);
            }
        }
        if let Some((code, probability)) = decoded.detected {
            let entry = self.detections.entry(code).or_insert((0.0, 0));
            entry.0 += probability as f64;
            entry.1 += 1;
        }
        decoded.text
    }

    /// Whether the language is detected for each chunk (a multilingual model, not told it).
    pub fn detects_languages(&self) -> bool {
        self.fixed.is_none()
    }

    /// Listen to the first chunk with `check`'s multilingual model, when this session's model
    /// is English-only and was not told the recording is English.
    pub fn with_english_check(mut self, check: EnglishCheck) -> Self {
        if !self.whisper.multilingual && self.opts.language.as_deref().is_none_or(|l| l == "auto") {
            self.english_check = Some(check);
        }
        self
    }

    /// For a chunk whose language was unsure: the alternative decoding to keep instead of
    /// `chosen`, if any. Once the whole recording is heard, a language detected with
    /// confidence somewhere in it is far likelier than one that never was (base read a noisy
    /// German turn as Yiddish 0.14, Latin 0.14, German 0.13, and the Latin decoding was the
    /// most confident; the same meeting had German turns detected at 0.999).
    pub fn better_language(
        &self,
        chosen: &[Segment],
        alternatives: Vec<Vec<Segment>>,
    ) -> Option<Vec<Segment>> {
        let language = |segs: &[Segment]| segs.first().and_then(|s| s.language.clone());
        let is_sure = |segs: &[Segment]| language(segs).is_some_and(|c| self.sure.contains(&c));
        if is_sure(chosen) {
            return None;
        }
        alternatives
            .into_iter()
            .filter(|a| is_sure(a))
            .max_by(|a, b| mean_logprob(a).total_cmp(&mean_logprob(b)))
    }

    /// The recording's language: the given one or the model's, or, detected per chunk, the
    /// one `segments` spend most time in, with every language heard and its seconds. Before
    /// any speech (a recording with no speech) it is "und" (undetermined) unless given or
    /// implied by the model.
    pub fn language(&self, segments: &[Segment]) -> Language {
        if let Some(fixed) = &self.fixed {
            return Language {
                warning: self.english_warning.clone(),
                ..fixed.clone()
            };
        }
        let mut heard: Vec<HeardLanguage> = Vec::new();
        for seg in segments {
            let Some(code) = &seg.language else { continue };
            let seconds = seg.end - seg.start;
            match heard.iter_mut().find(|h| &h.code == code) {
                Some(h) => h.speech_s += seconds,
                None => heard.push(HeardLanguage {
                    code: code.clone(),
                    speech_s: seconds,
                }),
            }
        }
        for h in &mut heard {
            h.speech_s = crate::transcript::round_ms(h.speech_s);
        }
        heard.sort_by(|a, b| b.speech_s.total_cmp(&a.speech_s));
        let Some(main) = heard.first() else {
            return Language::given("und");
        };
        let probability = self
            .detections
            .get(&main.code)
            .map_or(0.0, |(sum, n)| (sum / (*n).max(1) as f64) as f32);
        Language {
            probability,
            detected: true,
            heard: heard.clone(),
            ..Language::given(&main.code)
        }
    }
}

impl ChunkDecoder<'_> {
    /// Decode one chunk of at most 30 s (16 kHz mono) with `threads` threads. Times are
    /// relative to the chunk; every segment carries the chunk's language, and with
    /// `translate` its English rendering.
    ///
    /// A decoding that loops (compression ratio above 2.4) or guesses (mean log-probability
    /// under -1) is redone at temperatures 0.2, 0.4 ... 1.0; every attempt is made without
    /// previous text as context. A chunk Whisper judges silent yields nothing. When every
    /// attempt fails, the most confident one that does not loop is kept; if all of them loop,
    /// the one that loops least, with each segment that merely repeats the one before it
    /// removed (real sessions do repeat themselves: "Thank you, Chair." in every turn).
    pub fn decode(&mut self, samples: &[f32], threads: usize) -> Result<DecodedChunk> {
        self.opts.threads = threads.max(1);
        let mut decoded = DecodedChunk {
            text: ChunkText::default(),
            stats: AsrStats {
                chunks: 1,
                ..AsrStats::default()
            },
            detected: None,
            sure: Vec::new(),
        };
        let decodings = self.transcribe_in_likely_languages(samples, &mut decoded)?;
        let mut finished = Vec::with_capacity(decodings.len());
        for (language, segments) in decodings {
            finished.push(self.finish_decoding(samples, &language, segments)?);
        }
        let mut finished = finished.into_iter();
        decoded.text = ChunkText {
            segments: finished.next().unwrap_or_default(),
            alternatives: finished.collect(),
        };
        Ok(decoded)
    }

    /// Retime a prompted decoding, cut it at sentence ends, translate it when asked, and
    /// mark every segment with its language.
    fn finish_decoding(
        &mut self,
        samples: &[f32],
        language: &Language,
        mut segments: Vec<Segment>,
    ) -> Result<Vec<Segment>> {
        let code = language.code.as_str();
        // A prompted Whisper writes the glossary's spellings but often no timestamp tokens:
        // its segment then claims the whole window and whisper.cpp's token times drift
        // across it ("Ask what you can do for your country" at 10.99-11.00 s instead of
        // 8.24-10.96 s on jfk.wav with a one-word glossary). The words keep the prompted
        // text and take their times from a plain decoding of the same chunk, aligned word
        // by word; it costs one more decoding per chunk, greedy with the encoder trimmed (9.5 s
        // against 7.0 s for the 65 s sample with a prompt).
        let prompt = self.opts.prompt.as_deref().filter(|p| !p.trim().is_empty());
        if prompt.is_some() && !segments.is_empty() {
            let timing = AsrOptions {
                beam_size: RETIME_BEAM_SIZE,
                ..self.opts.clone()
            };
            let plain = self.whisper.transcribe_piece(
                main_state(&mut self.state, self.whisper)?,
                samples,
                code,
                Task::Transcribe,
                &timing,
                None,
                0.0,
            )?;
            retime(&mut segments, &plain.segments);
        }
        let mut segments: Vec<Segment> =
            segments.into_iter().flat_map(split_at_sentences).collect();
        if self.opts.translate && code != "en" && !segments.is_empty() {
            let english = self.whisper.transcribe_piece(
                main_state(&mut self.state, self.whisper)?,
                samples,
                code,
                Task::Translate,
                &self.opts,
                None,
                0.0,
            )?;
            let english = if english.quality.is_loop() {
                drop_repeated_segments(english.segments)
            } else {
                english.segments
            };
            attach_translations(&mut segments, &english);
        }
        for seg in &mut segments {
            seg.language = Some(code.to_string());
        }
        Ok(segments)
    }

    /// Decode a chunk in its language: the fixed one, or the one detected over the chunk
    /// alone. When detection is unsure, in each likely language: the decoding Whisper is most
    /// confident in (highest mean token log-probability) first, then the others.
    fn transcribe_in_likely_languages(
        &mut self,
        samples: &[f32],
        decoded: &mut DecodedChunk,
    ) -> Result<Vec<(Language, Vec<Segment>)>> {
        if let Some(fixed) = self.fixed.clone() {
            let segments = self.decode_chunk(samples, &fixed.code, &mut decoded.stats)?;
            return Ok(vec![(fixed, segments)]);
        }
        let detector = main_state(&mut self.detector, self.whisper)?;
        let candidates = self
            .whisper
            .detect_languages(detector, samples, &self.opts)?;
        let mut decodings = Vec::with_capacity(candidates.len());
        for (code, probability) in candidates {
            if probability >= LANGUAGE_SURE && !decoded.sure.contains(&code) {
                decoded.sure.push(code.clone());
            }
            let segments = self.decode_chunk(samples, &code, &mut decoded.stats)?;
            let language = Language {
                probability,
                detected: true,
                ..Language::given(&code)
            };
            decodings.push((mean_logprob(&segments), language, segments));
        }
        decodings.sort_by(|a, b| b.0.total_cmp(&a.0));
        decoded.detected = decodings
            .first()
            .map(|(_, language, _)| (language.code.clone(), language.probability));
        Ok(decodings.into_iter().map(|(_, l, s)| (l, s)).collect())
    }

    /// [`ChunkDecoder::decode`] in one language, before retiming and cutting at sentence ends.
    fn decode_chunk(
        &mut self,
        samples: &[f32],
        code: &str,
        stats: &mut AsrStats,
    ) -> Result<Vec<Segment>> {
        let mut best: Option<Piece> = None;
        for (attempt, &temperature) in TEMPERATURES.iter().enumerate() {
            let state = main_state(&mut self.state, self.whisper)?;
            let piece = self.whisper.transcribe_piece(
                state,
                samples,
                code,
                Task::Transcribe,
                &self.opts,
                self.opts.prompt.as_deref(),
                temperature,
            )?;
            if attempt == 1 {
                stats.retried_chunks += 1;
            }
            if piece.quality.is_silence() || piece.segments.is_empty() {
                stats.silent_chunks += 1;
                return Ok(Vec::new());
            }
            if !piece.quality.needs_fallback() {
                return Ok(piece.segments);
            }
            // Rank the failures: any that does not loop beats any that does; then the most
            // confident non-loop, or the loop that repeats itself least.
            let rank = |q: &Quality| {
                let score = if q.is_loop() {
                    -q.compression_ratio
                } else {
                    q.avg_logprob
                };
                (!q.is_loop(), score)
            };
            if best
                .as_ref()
                .is_none_or(|b| rank(&piece.quality) > rank(&b.quality))
            {
                best = Some(piece);
            }
        }
        stats.unresolved_chunks += 1;
        let best = best.expect("at least one attempt was made");
        Ok(if best.quality.is_loop() {
            drop_repeated_segments(best.segments)
        } else {
            best.segments
        })
    }
}

/// What one chunk yields: its segments and, when its language was unsure, its decodings in
/// the other likely languages (see [`AsrSession::better_language`]).
#[derive(Debug, Clone, Default)]
pub struct ChunkText {
    pub segments: Vec<Segment>,
    pub alternatives: Vec<Vec<Segment>>,
}

/// Mean token log-probability of a decoding, segments weighted by their words; no text at all
/// counts as least confident.
fn mean_logprob(segments: &[Segment]) -> f32 {
    let words: usize = segments.iter().map(|s| s.words.len().max(1)).sum();
    if segments.is_empty() {
        return f32::NEG_INFINITY;
    }
    segments
        .iter()
        .map(|s| s.avg_logprob * s.words.len().max(1) as f32)
        .sum::<f32>()
        / words as f32
}

/// Remove segments whose text repeats the previous segment's: what is left of a loop once the
/// least looping decoding has been chosen.
fn drop_repeated_segments(segments: Vec<Segment>) -> Vec<Segment> {
    let key = |s: &Segment| letters_and_digits(&s.text);
    let mut kept: Vec<Segment> = Vec::new();
    for seg in segments {
        if kept.last().is_some_and(|prev| key(prev) == key(&seg)) {
            continue;
        }
        kept.push(seg);
    }
    kept
}

/// Called by whisper.cpp between graph computations: true stops the transcription.
unsafe extern "C" fn abort_on_interrupt(_user_data: *mut std::ffi::c_void) -> bool {
    crate::interrupt::is_set()
}

/// Silence the encoder sees after a piece. Whisper was trained on padded 30 s windows; with
/// less than about 3 s of padding it drops words (measured: 15.4 % WER with 1 s, 11.6 % with
/// 3 s and 6 s on the benchmark set, beam 5).
const AUDIO_CTX_MARGIN_S: f64 = 3.0;

/// Encoder context (in 20 ms frames, 1500 = 30 s) for a piece: its length plus a margin of
/// silence, rounded up to a multiple of 64 frames.
pub fn audio_ctx_for(seconds: f64) -> i32 {
    encoder_frames(seconds + AUDIO_CTX_MARGIN_S)
}

/// Encoder context (in 20 ms frames) covering `seconds`, rounded up to a multiple of 64 frames.
fn encoder_frames(seconds: f64) -> i32 {
    let frames = (seconds * 50.0).ceil() as i32;
    (((frames + 63) / 64) * 64).clamp(128, 1500)
}

fn token_times(data: &whisper_rs::WhisperTokenData, seg_t0: f64, seg_t1: f64) -> (f64, f64) {
    // whisper.cpp's timestamp-token heuristic. (Its DTW alternative, measured on the sample
    // session against the turn starts, was 0.34 s off on average against 0.12 s for this.)
    let (start, end) = (data.t0 as f64 / 100.0, data.t1 as f64 / 100.0);
    if !(start.is_finite() && end.is_finite()) || start < seg_t0 - 1.0 || end > seg_t1 + 1.0 {
        return (seg_t0, seg_t1);
    }
    (start.clamp(seg_t0, seg_t1), end.clamp(seg_t0, seg_t1))
}

fn push_word(words: &mut Vec<Word>, (bytes, start, end, probs): (Vec<u8>, f64, f64, Vec<f32>)) {
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    if text.is_empty() {
        return;
    }
    // Keep words in order and non-overlapping even when token times are noisy.
    let start = words
        .last()
        .map_or(start, |w| start.max(w.end.min(start.max(w.start))));
    let probability = probs.iter().sum::<f32>() / probs.len().max(1) as f32;
    words.push(Word {
        start,
        end: end.max(start),
        text,
        probability,
        speaker: None,
    });
}

/// Default thread count: what the machine offers, capped at 4 (whisper.cpp gains little beyond
/// that for tiny and base models, and batch runs share the cores).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(4)
}

/// Beam width of the decoding that only lends its word times to a prompted one. Greedy is
/// cheaper and no worse for times: on negotiation.opus with a prompt, 9.5 s against 10.8 s for
/// beam 5, and 0.7 % of words more than 0.5 s off against 2.2 %.
const RETIME_BEAM_SIZE: usize = 1;

/// Text compared for sameness: lower-case letters and digits only.
fn letters_and_digits(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Give the words of `segments` the times of the same words in `reference` (another decoding
/// of the same audio): words are aligned by edit distance over their letters and digits, a
/// word paired with one of the reference (the same, or a different spelling of it) takes its
/// times, and the others share the time between their paired neighbours. Segments then span
/// their words. With no reference words the times stay as they are.
fn retime(segments: &mut [Segment], reference: &[Segment]) {
    let key = |w: &Word| letters_and_digits(&w.text);
    let refs: Vec<&Word> = reference.iter().flat_map(|s| &s.words).collect();
    let hyp_keys: Vec<String> = segments.iter().flat_map(|s| &s.words).map(key).collect();
    if refs.is_empty() || hyp_keys.is_empty() {
        return;
    }
    let ref_keys: Vec<String> = refs.iter().map(|w| key(w)).collect();
    let (n, m) = (hyp_keys.len(), ref_keys.len());
    // cost[i][j]: edits to align the first i words with the first j reference words.
    let mut cost = vec![vec![0u32; m + 1]; n + 1];
    for (i, row) in cost.iter_mut().enumerate() {
        row[0] = i as u32;
    }
    for (j, c) in cost[0].iter_mut().enumerate() {
        *c = j as u32;
    }
    for i in 1..=n {
        for j in 1..=m {
            let sub = u32::from(hyp_keys[i - 1] != ref_keys[j - 1]);
            cost[i][j] = (cost[i - 1][j - 1] + sub)
                .min(cost[i - 1][j] + 1)
                .min(cost[i][j - 1] + 1);
        }
    }
    let mut paired: Vec<Option<usize>> = vec![None; n];
    let (mut i, mut j) = (n, m);
    while i > 0 && j > 0 {
        let sub = u32::from(hyp_keys[i - 1] != ref_keys[j - 1]);
        if cost[i][j] == cost[i - 1][j - 1] + sub {
            paired[i - 1] = Some(j - 1);
            i -= 1;
            j -= 1;
        } else if cost[i][j] == cost[i - 1][j] + 1 {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    let mut times: Vec<Option<(f64, f64)>> = paired
        .iter()
        .map(|p| p.map(|j| (refs[j].start, refs[j].end)))
        .collect();
    // Unpaired runs share the gap between the paired words around them.
    let mut k = 0;
    while k < n {
        if times[k].is_some() {
            k += 1;
            continue;
        }
        let run_end = (k..n).find(|&x| times[x].is_some()).unwrap_or(n);
        let from = if k == 0 {
            refs[0].start
        } else {
            times[k - 1].expect("paired").1
        };
        let to = if run_end == n {
            refs[m - 1].end.max(from)
        } else {
            times[run_end].expect("paired").0.max(from)
        };
        let shares = crate::transcript::share_span(from, to, &vec![1.0; run_end - k]);
        for (t, span) in times[k..run_end].iter_mut().zip(shares) {
            *t = Some(span);
        }
        k = run_end;
    }
    let mut times = times.into_iter().map(|t| t.expect("every word has times"));
    let mut last_end = 0.0f64;
    for seg in segments.iter_mut() {
        for w in &mut seg.words {
            let (start, end) = times.next().expect("one time per word");
            w.start = start.max(last_end);
            w.end = end.max(w.start);
            last_end = w.end;
        }
        if let (Some(first), Some(last)) = (seg.words.first(), seg.words.last()) {
            seg.start = first.start;
            seg.end = last.end;
        }
    }
}

/// Give each segment the English rendering of its time: the translated segments are matched
/// to the transcribed ones they overlap (consecutive segments of either side that overlap form
/// one group), and a group's translation is shared among its transcribed segments sentence by
/// sentence, in proportion to their words.
fn attach_translations(segments: &mut [Segment], english: &[Segment]) {
    let english: Vec<&Segment> = english
        .iter()
        .filter(|e| !e.text.trim().is_empty())
        .collect();
    if segments.is_empty() || english.is_empty() {
        return;
    }
    // Each English segment goes to the transcribed segment it overlaps most (or the nearest).
    let owner = |e: &Segment| -> usize {
        let overlap = |s: &Segment| (s.end.min(e.end) - s.start.max(e.start)).max(0.0);
        let distance = |s: &Segment| {
            let (a, b) = ((s.start + s.end) / 2.0, (e.start + e.end) / 2.0);
            (a - b).abs()
        };
        (0..segments.len())
            .max_by(|&i, &j| {
                overlap(&segments[i])
                    .total_cmp(&overlap(&segments[j]))
                    .then(distance(&segments[j]).total_cmp(&distance(&segments[i])))
            })
            .expect("segments is not empty")
    };
    // In order: an English segment never goes to a segment before the previous one's.
    let mut owners: Vec<usize> = english.iter().map(|e| owner(e)).collect();
    for k in 1..owners.len() {
        owners[k] = owners[k].max(owners[k - 1]);
    }
    // Groups: runs of transcribed segments between owners, so that segments no English
    // segment went to share the translation of their neighbours.
    let mut group_start = 0;
    let mut k = 0;
    while k < english.len() {
        let owner = owners[k];
        let mut texts = Vec::new();
        while k < english.len() && owners[k] == owner {
            texts.push(english[k].text.trim());
            k += 1;
        }
        let group_end = if k == english.len() {
            segments.len()
        } else {
            // Up to the segment before the next owner, at least this owner.
            owners[k].max(owner + 1)
        };
        share_translation(&mut segments[group_start..group_end], &texts.join(" "));
        group_start = group_end;
    }
}

/// Cut `text` at sentence ends and hand the sentences out to `segments` in order, each
/// segment taking about its share of the words.
fn share_translation(segments: &mut [Segment], text: &str) {
    if segments.is_empty() {
        return;
    }
    let sentences: Vec<&str> = crate::sentences::split(text)
        .into_iter()
        .map(|(a, b)| text[a..b].trim())
        .filter(|s| !s.is_empty())
        .collect();
    let weights: Vec<usize> = segments
        .iter()
        .map(|s| s.text.split_whitespace().count().max(1))
        .collect();
    let total_words: usize = weights.iter().sum();
    let total_sentences = sentences.len();
    let mut next = 0;
    let mut words_so_far = 0;
    let n = segments.len();
    for (i, seg) in segments.iter_mut().enumerate() {
        words_so_far += weights[i];
        // Sentences up to this segment's share of the words (the last takes the rest).
        let upto = if i + 1 == n {
            total_sentences
        } else {
            ((words_so_far * total_sentences + total_words / 2) / total_words).min(total_sentences)
        };
        let mine = &sentences[next..upto.max(next)];
        next = upto.max(next);
        seg.translation = if mine.is_empty() {
            None
        } else {
            Some(mine.join(" "))
        };
    }
}

/// Longest segment kept whole; longer ones are cut at sentence ends so that subtitles and
/// quotes stay readable.
const MAX_SEGMENT_S: f64 = 10.0;

/// Cut a long segment after each word that ends a sentence, using the words' own times.
fn split_at_sentences(seg: Segment) -> Vec<Segment> {
    if seg.end - seg.start <= MAX_SEGMENT_S || seg.words.len() < 2 {
        return vec![seg];
    }
    let mut parts: Vec<Vec<Word>> = vec![Vec::new()];
    for w in &seg.words {
        parts.last_mut().expect("never empty").push(w.clone());
        if w.text.ends_with(['.', '?', '!']) {
            parts.push(Vec::new());
        }
    }
    parts.retain(|p| !p.is_empty());
    if parts.len() < 2 {
        return vec![seg];
    }
    let count = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, words)| Segment {
            id: seg.id,
            start: if i == 0 { seg.start } else { words[0].start },
            end: if i + 1 == count {
                seg.end
            } else {
                words[words.len() - 1].end
            },
            text: words
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            words,
            avg_logprob: seg.avg_logprob,
            no_speech_prob: seg.no_speech_prob,
            speaker: seg.speaker.clone(),
            position: None,
            language: None,
            translation: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::fixtures::{segment, word};

    #[test]
    fn prompted_words_take_the_times_of_a_plain_decoding() {
        // The prompted text spells "Kenya" and adds "the"; its times drift to the window end.
        let mut prompted = vec![segment(vec![
            word("Kenya", 0.0, 0.1),
            word("supports", 0.1, 29.0),
            word("the", 29.0, 29.5),
            word("text.", 29.5, 30.0),
        ])];
        let plain = vec![segment(vec![
            word("Kenia", 1.0, 1.5),
            word("supports", 1.6, 2.2),
            word("text.", 2.6, 3.0),
        ])];
        retime(&mut prompted, &plain);
        let w = &prompted[0].words;
        assert_eq!(
            (w[0].text.as_str(), w[0].start, w[0].end),
            ("Kenya", 1.0, 1.5)
        );
        assert_eq!((w[1].start, w[1].end), (1.6, 2.2));
        assert_eq!((w[2].start, w[2].end), (2.2, 2.6));
        assert_eq!((w[3].start, w[3].end), (2.6, 3.0));
        assert_eq!((prompted[0].start, prompted[0].end), (1.0, 3.0));
        // Nothing to align with: the times stay.
        let mut alone = vec![segment(vec![word("Yes.", 4.0, 4.5)])];
        retime(&mut alone, &[]);
        assert_eq!((alone[0].start, alone[0].end), (4.0, 4.5));
    }

    #[test]
    fn translations_go_to_the_segments_they_overlap() {
        let spoken = vec![
            segment(vec![word("Merci,", 0.0, 0.5), word("Président.", 0.5, 1.2)]),
            segment(vec![
                word("La", 1.5, 1.7),
                word("France", 1.7, 2.1),
                word("ne", 2.1, 2.2),
                word("peut", 2.2, 2.5),
                word("pas.", 2.5, 3.0),
            ]),
            segment(vec![word("Nous", 4.0, 4.5), word("proposons.", 4.5, 5.0)]),
        ];
        // One English segment over the first two, one over the third.
        let english = vec![
            segment(vec![
                word("Thank", 0.0, 0.4),
                word("you,", 0.4, 0.6),
                word("Chair.", 0.6, 1.0),
                word("France", 1.4, 2.0),
                word("cannot.", 2.0, 3.0),
            ]),
            segment(vec![word("We", 4.1, 4.4), word("propose.", 4.4, 5.0)]),
        ];
        let mut segments = spoken.clone();
        attach_translations(&mut segments, &english);
        let got: Vec<Option<&str>> = segments.iter().map(|s| s.translation.as_deref()).collect();
        assert_eq!(
            got,
            [
                Some("Thank you, Chair."),
                Some("France cannot."),
                Some("We propose.")
            ]
        );
        // Nothing translated: nothing attached.
        let mut segments = spoken;
        attach_translations(&mut segments, &[]);
        assert!(segments.iter().all(|s| s.translation.is_none()));
    }

    #[test]
    fn long_segments_are_cut_at_sentence_ends() {
        let seg = Segment {
            id: 0,
            start: 0.5,
            end: 23.0,
            text: "We agree. Do you? Yes".into(),
            words: vec![
                word("We", 0.5, 1.0),
                word("agree.", 1.0, 2.0),
                word("Do", 12.0, 12.5),
                word("you?", 12.5, 13.0),
                word("Yes", 20.0, 22.9),
            ],
            avg_logprob: -0.1,
            no_speech_prob: 0.0,
            speaker: None,
            position: None,
            language: None,
            translation: None,
        };
        let parts = split_at_sentences(seg.clone());
        let spans: Vec<(f64, f64, &str)> = parts
            .iter()
            .map(|p| (p.start, p.end, p.text.as_str()))
            .collect();
        assert_eq!(
            spans,
            vec![
                (0.5, 2.0, "We agree."),
                (12.0, 13.0, "Do you?"),
                (20.0, 23.0, "Yes")
            ]
        );
        let short = Segment { end: 5.0, ..seg };
        assert_eq!(split_at_sentences(short).len(), 1);
    }

    #[test]
    fn repeated_segments_are_dropped_but_not_distinct_ones() {
        let seg = |text: &str| Segment {
            id: 0,
            start: 0.0,
            end: 1.0,
            text: text.into(),
            words: vec![],
            avg_logprob: -0.1,
            no_speech_prob: 0.0,
            speaker: None,
            position: None,
            language: None,
            translation: None,
        };
        let kept = drop_repeated_segments(vec![
            seg("Thank you, Chair."),
            seg("thank you chair"),
            seg("Thank you, Chair."),
            seg("Brazil has the floor."),
            seg("Thank you, Chair."),
        ]);
        let texts: Vec<&str> = kept.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Thank you, Chair.",
                "Brazil has the floor.",
                "Thank you, Chair."
            ]
        );
    }

    #[test]
    fn loops_compress_far_better_than_speech() {
        let speech = "France proposes to amend paragraph 3 by adding a reference to the \
                      financial mechanism, and asks the secretariat to circulate the text.";
        let looped = "Thank you, Chair. ".repeat(12);
        assert!(compression_ratio(speech) < MAX_COMPRESSION_RATIO);
        assert!(compression_ratio(&looped) > MAX_COMPRESSION_RATIO);
        assert_eq!(compression_ratio(""), 0.0);
    }

    #[test]
    fn fallback_follows_the_reference_rules() {
        let q = |compression_ratio, avg_logprob, no_speech_prob| Quality {
            compression_ratio,
            avg_logprob,
            no_speech_prob,
        };
        assert!(!q(1.5, -0.3, 0.1).needs_fallback());
        assert!(q(3.0, -0.3, 0.1).needs_fallback(), "a loop is retried");
        assert!(q(1.5, -1.4, 0.1).needs_fallback(), "a guess is retried");
        assert!(
            q(1.5, -1.4, 0.8).is_silence(),
            "unsure text over silence is dropped"
        );
        assert!(!q(1.5, -1.4, 0.8).needs_fallback());
        assert!(!q(1.5, -0.2, 0.8).is_silence(), "confident text is kept");
        assert!(
            q(3.0, -0.2, 0.8).needs_fallback(),
            "a loop is retried even then"
        );
    }
}
