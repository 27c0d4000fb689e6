//! Speech recognition with whisper.cpp (through whisper-rs): 16 kHz mono samples in, segments
//! with word timings, the language and its probability out.

use std::ops::Range;
use std::path::PathBuf;

use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

use crate::error::{Error, Result};
use crate::transcript::{Language, Segment, Word};

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

    /// Transcribe `samples` (16 kHz mono), piece by piece: `spans` are consecutive ranges of at
    /// most 30 s (see `audio::split_at_pauses`). Each piece is decoded on its own with an encoder
    /// context trimmed to its length, which is what makes short pieces cheap. Times in the
    /// output are relative to the start of `samples`.
    pub fn transcribe(
        &self,
        samples: &[f32],
        spans: &[Range<usize>],
        opts: &AsrOptions,
    ) -> Result<AsrOutput> {
        let mut state = self.ctx.create_state().map_err(|e| {
            Error::model(
                &self.path,
                format!("creating the decoder state failed: {e}"),
            )
        })?;
        let first = spans.first().cloned().unwrap_or(0..samples.len());
        let language = self.choose_language(&mut state, &samples[first], opts)?;
        let mut segments = Vec::new();
        for span in spans {
            let offset = span.start as f64 / 16_000.0;
            for mut seg in
                self.transcribe_piece(&mut state, &samples[span.clone()], &language.code, opts)?
            {
                seg.id = segments.len();
                seg.start = to_ms(seg.start + offset);
                seg.end = to_ms(seg.end + offset);
                for w in &mut seg.words {
                    w.start = to_ms(w.start + offset);
                    w.end = to_ms(w.end + offset);
                }
                segments.push(seg);
            }
        }
        Ok(AsrOutput { segments, language })
    }

    /// Decode one piece of at most 30 s.
    fn transcribe_piece(
        &self,
        state: &mut WhisperState,
        samples: &[f32],
        language: &str,
        opts: &AsrOptions,
    ) -> Result<Vec<Segment>> {
        let strategy = if opts.beam_size > 1 {
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
        // The encoder need not run over the zero padding that fills a short piece up to 30 s.
        // Not with a prompt, though: with a trimmed window a prompted Whisper stops early
        // (measured on samples/: 17.7 % WER trimmed, 5.0 % full, 9.9 % with no prompt).
        let seconds = samples.len() as f64 / 16_000.0;
        if opts.trim_audio_ctx && opts.prompt.is_none() && seconds < 30.0 {
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
        for seg in state.as_iter() {
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
            });
        }
        Ok(segments.into_iter().flat_map(split_at_sentences).collect())
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

/// Called by whisper.cpp between graph computations: true stops the transcription.
unsafe extern "C" fn abort_on_interrupt(_user_data: *mut std::ffi::c_void) -> bool {
    crate::interrupt::is_set()
}

/// Round to whole milliseconds: finer digits are noise, and they make the JSON hard to read.
fn to_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// Silence the encoder sees after a piece. Whisper was trained on padded 30 s windows; with
/// less than about 3 s of padding it drops words (measured: 15.4 % WER with 1 s, 11.6 % with
/// 3 s and 6 s on the benchmark set, beam 5).
const AUDIO_CTX_MARGIN_S: f64 = 3.0;

/// Encoder context (in 20 ms frames, 1500 = 30 s) for a piece: its length plus a margin of
/// silence, rounded up to a multiple of 64 frames.
pub fn audio_ctx_for(seconds: f64) -> i32 {
    let frames = ((seconds + AUDIO_CTX_MARGIN_S) * 50.0).ceil() as i32;
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
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, start: f64, end: f64) -> Word {
        Word {
            start,
            end,
            text: text.into(),
            probability: 0.9,
        }
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
}
