//! all-MiniLM-L6-v2 as sentence-transformers runs it: BERT (6 layers, 384-d) over WordPiece
//! tokens truncated at 256, mean-pooled over the attention mask, L2-normalised.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;

use super::minilm::MiniLm;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::error::{Error, Result};

/// Width of a sentence embedding.
pub const DIM: usize = 384;
/// sentence-transformers' `max_seq_length` for this model (the tokenizer file says 128, which
/// is what the model was trained with but not what the library uses at inference).
const MAX_TOKENS: usize = 256;
/// Texts encoded per forward pass. Sorting by length first keeps padding small.
const BATCH: usize = 32;

/// A text's mean-pooled token states (not normalised) and how many tokens they average.
#[derive(Debug, Clone, Default)]
pub struct Pooled {
    pub mean: Vec<f32>,
    pub tokens: usize,
}

/// Scale to unit length, as sentence-transformers' Normalize layer does.
pub fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// The embedding of a text made of `pieces`: their means weighted by token counts, normalised.
/// (Each piece was encoded alone, so this approximates encoding the whole text at once.)
pub fn combine(pieces: &[&Pooled]) -> Vec<f32> {
    let mut sum = vec![0f32; DIM];
    for p in pieces {
        for (s, v) in sum.iter_mut().zip(&p.mean) {
            *s += v * p.tokens as f32;
        }
    }
    normalise(sum)
}

pub struct TextEncoder {
    /// Built from `weights` on first use: a `run` holds the recogniser's buffers while it
    /// transcribes and needs the encoder only afterwards, and MiniLM's 90 MB held from the start
    /// put a 1-hour meeting at 353 MB peak instead of under 300.
    bert: OnceLock<std::result::Result<MiniLm, String>>,
    /// The memory-mapped weights until the model is built (their header is read at load, so a
    /// file that is not safetensors fails before any recording is read).
    weights: Mutex<Option<VarBuilder<'static>>>,
    weights_path: PathBuf,
    config: Config,
    tokenizer: Tokenizer,
    device: Device,
}

impl TextEncoder {
    /// Load from a folder holding `model.safetensors`, `tokenizer.json` and `config.json`.
    pub fn load(dir: &Path) -> Result<TextEncoder> {
        let config_path = dir.join("config.json");
        let config: Config = std::fs::read(&config_path)
            .map_err(|e| Error::model(&config_path, format!("cannot read: {}", e.kind())))
            .and_then(|b| {
                serde_json::from_slice(&b).map_err(|e| {
                    Error::model(&config_path, format!("not a BERT config.json ({e})"))
                })
            })?;
        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| Error::model(&tok_path, format!("not a tokenizer.json ({e})")))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| Error::model(&tok_path, format!("cannot set truncation ({e})")))?;
        let weights_path = dir.join("model.safetensors");
        let device = Device::Cpu;
        // SAFETY: the model store's files are written once, by `models fetch`, and not changed
        // while a run reads them.
        let weights = unsafe {
            VarBuilder::from_mmaped_safetensors(
                std::slice::from_ref(&weights_path),
                DType::F32,
                &device,
            )
        }
        .map_err(|e| Error::model(&weights_path, format!("not a safetensors file ({e})")))?;
        if !weights.contains_tensor("embeddings.word_embeddings.weight") {
            return Err(Error::model(
                &weights_path,
                "not a MiniLM safetensors file (no embeddings.word_embeddings.weight)",
            ));
        }
        Ok(TextEncoder {
            bert: OnceLock::new(),
            weights: Mutex::new(Some(weights)),
            weights_path,
            config,
            tokenizer,
            device,
        })
    }

    /// The model, built on first use; the mapping of its file is dropped once it is.
    fn bert(&self) -> Result<&MiniLm> {
        self.bert
            .get_or_init(|| {
                let vb = self
                    .weights
                    .lock()
                    .map_err(|_| "the weights lock was poisoned".to_string())?
                    .take()
                    .ok_or_else(|| "the weights were already taken".to_string())?;
                MiniLm::load(vb, &self.config)
                    .map_err(|e| format!("not a MiniLM safetensors file ({e})"))
            })
            .as_ref()
            .map_err(|e| Error::model(&self.weights_path, e.clone()))
    }

    /// One L2-normalised embedding per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(self
            .embed_pooled(texts)?
            .into_iter()
            .map(|p| normalise(p.mean))
            .collect())
    }

    /// The mean of each text's token states before normalisation, with its token count: means
    /// of consecutive pieces combine into the mean of the whole by weighting with the counts.
    pub fn embed_pooled(&self, texts: &[&str]) -> Result<Vec<Pooled>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        crate::memory::keeping_freed_pages(|| self.embed_pooled_inner(texts))
    }

    fn embed_pooled_inner(&self, texts: &[&str]) -> Result<Vec<Pooled>> {
        let bert = self.bert()?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        // Batches run on one worker per core: candle spreads each matrix product over the
        // cores, but its element-wise steps (GELU, softmax, layer norm) run on one, so two
        // batches at once keep both cores busy.
        let chunks: Vec<&[usize]> = order.chunks(BATCH).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(chunks.len())
            .max(1);
        let results: Vec<std::result::Result<Vec<(usize, Pooled)>, String>> =
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut done = Vec::new();
                            loop {
                                let c = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                let Some(chunk) = chunks.get(c) else { break };
                                let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
                                let vectors = self.embed_batch(bert, &batch)?;
                                done.extend(chunk.iter().copied().zip(vectors));
                            }
                            Ok(done)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err("encoder thread panicked".into()))
                    })
                    .collect()
            });
        let mut out = vec![Pooled::default(); texts.len()];
        for r in results {
            for (i, v) in r.map_err(|e| Error::internal(format!("text encoder failed: {e}")))? {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn embed_batch(
        &self,
        bert: &MiniLm,
        texts: &[&str],
    ) -> std::result::Result<Vec<Pooled>, String> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| e.to_string())?;
        let n = encodings.len();
        let len = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &encodings {
            ids.extend(e.get_ids().iter().copied());
            mask.extend(e.get_attention_mask().iter().copied());
        }
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
            let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
            let hidden = bert.forward(&ids, &mask)?;
            let maskf = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&maskf)?.sum(1)?;
            let counts = maskf.sum(1)?.clamp(1e-9, f32::MAX)?;
            summed.broadcast_div(&counts)?.to_vec2::<f32>()
        };
        let means = run().map_err(|e| e.to_string())?;
        Ok(means
            .into_iter()
            .zip(&encodings)
            .map(|(mean, e)| Pooled {
                mean,
                tokens: e.get_attention_mask().iter().filter(|&&m| m > 0).count(),
            })
            .collect())
    }
}
