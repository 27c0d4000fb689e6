//! Speech recognition with whisper.cpp (through whisper-rs): 16 kHz mono samples in, segments
//! with word timings, the language and its probability out.

use std::path::PathBuf;

use whisper_rs::{
    DtwMode, DtwParameters, FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters,
    WhisperState,
};

use crate::error::{Error, Result};
use crate::transcript::{Language, Segment, Word};

/// How words get their start and end times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordTiming {
    /// whisper.cpp's timestamp-token heuristic (works with flash attention).
    TokenTimestamps,
    /// Dynamic time warping over the cross-attention of the model's alignment heads (more
    /// precise; whisper.cpp cannot combine it with flash attention).
    Dtw,
}

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
}

/// Options fixed when the model is loaded.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub flash_attn: bool,
    pub word_timing: WordTiming,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            flash_attn: true,
            word_timing: WordTiming::TokenTimestamps,
        }
    }
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
        let dtw = matches!(opts.word_timing, WordTiming::Dtw);
        params.flash_attn(opts.flash_attn && !dtw);
        if dtw {
            // N_TOP_MOST uses the top text layers' heads: valid for any model, unlike presets.
            params.dtw_parameters(DtwParameters {
                mode: DtwMode::TopMost { n_top: 2 },
                ..Default::default()
            });
        }
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

    /// Transcribe `samples` (16 kHz mono). Times in the output are relative to the start of
    /// `samples`.
    pub fn transcribe(&self, samples: &[f32], opts: &AsrOptions) -> Result<AsrOutput> {
        let fail = |what: &str, e: whisper_rs::WhisperError| {
            Error::model(&self.path, format!("{what} failed: {e}"))
        };
        let mut state = self
            .ctx
            .create_state()
            .map_err(|e| fail("creating the decoder state", e))?;
        let threads = opts.threads.max(1);

        let language = self.choose_language(&mut state, samples, opts)?;

        let strategy = if opts.beam_size > 1 {
            SamplingStrategy::BeamSearch {
                beam_size: opts.beam_size as i32,
                patience: -1.0,
            }
        } else {
            SamplingStrategy::Greedy { best_of: 5 }
        };
        let mut params = FullParams::new(strategy);
        params.set_n_threads(threads as i32);
        params.set_language(Some(&language.code));
        params.set_translate(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        params.set_token_timestamps(true);
        // Conditioning on previous text is what makes Whisper loop on long audio.
        params.set_no_context(true);
        // Keep "[MUSIC]"-style non-speech annotations out of the record.
        params.set_suppress_nst(true);
        if let Some(prompt) = opts.prompt.as_deref().filter(|p| !p.trim().is_empty()) {
            params.set_initial_prompt(prompt);
        }
        // Short clips do not need the encoder to run over 30 s of padding.
        let seconds = samples.len() as f64 / 16_000.0;
        if seconds < 30.0 {
            params.set_audio_ctx(audio_ctx_for(seconds));
        }
        state
            .full(params, samples)
            .map_err(|e| fail("transcription", e))?;

        let eot = self.ctx.token_eot();
        let mut segments = Vec::new();
        for seg in state.as_iter() {
            let (t0, t1) = (
                seg.start_timestamp() as f64 / 100.0,
                seg.end_timestamp() as f64 / 100.0,
            );
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
                let starts_word = bytes.first() == Some(&b' ');
                let is_punct = !bytes.is_empty() && bytes.iter().all(|b| b.is_ascii_punctuation());
                match pending.as_mut() {
                    Some(w) if !starts_word && (is_punct || !bytes.is_empty()) => {
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
            let text = String::from_utf8_lossy(seg.to_bytes().unwrap_or(b""))
                .trim()
                .to_string();
            if text.is_empty() && words.is_empty() {
                continue;
            }
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
            });
        }
        Ok(AsrOutput { segments, language })
    }

    fn choose_language(
        &self,
        state: &mut WhisperState,
        samples: &[f32],
        opts: &AsrOptions,
    ) -> Result<Language> {
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
                Ok(Language {
                    code: code.to_string(),
                    probability: 1.0,
                    detected: false,
                })
            }
            _ if !self.multilingual => Ok(Language {
                code: "en".into(),
                probability: 1.0,
                detected: false,
            }),
            _ => {
                let threads = opts.threads.max(1);
                let head = &samples[..samples.len().min(30 * 16_000)];
                state.pcm_to_mel(head, threads).map_err(|e| {
                    Error::model(&self.path, format!("language detection failed: {e}"))
                })?;
                let (id, probs) = state.lang_detect(0, threads).map_err(|e| {
                    Error::model(&self.path, format!("language detection failed: {e}"))
                })?;
                let code = whisper_rs::get_lang_str(id).unwrap_or("en").to_string();
                let probability = probs.get(id as usize).copied().unwrap_or(0.0);
                Ok(Language {
                    code,
                    probability,
                    detected: true,
                })
            }
        }
    }
}

/// Encoder context (in 20 ms frames, 1500 = 30 s) for a clip: its length plus a margin, rounded
/// up to a multiple of 64 frames. Too tight a context makes Whisper cut the last words.
pub fn audio_ctx_for(seconds: f64) -> i32 {
    let frames = ((seconds + 1.0) * 50.0).ceil() as i32;
    (((frames + 63) / 64) * 64).clamp(128, 1500)
}

fn token_times(data: &whisper_rs::WhisperTokenData, seg_t0: f64, seg_t1: f64) -> (f64, f64) {
    let (mut start, mut end) = (data.t0 as f64 / 100.0, data.t1 as f64 / 100.0);
    if data.t_dtw >= 0 && data.t_dtw > data.t0 - 100 {
        // DTW gives one instant per token: where it begins to be heard.
        start = data.t_dtw as f64 / 100.0;
        end = end.max(start);
    }
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
