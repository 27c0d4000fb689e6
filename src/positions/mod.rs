//! Negotiation positions: each utterance's move (proposal, support, opposition, reservation,
//! concession, question, procedural, statement) and its target.
//!
//! MiniLM embeds each sentence once; a small trained head reads each embedding together with
//! cheap signals of form (question marks, conditions, negation) and gives calibrated
//! probabilities. Long utterances are judged sentence by sentence: the utterance's move weighs
//! the whole text (the token-weighted mean of its sentences' embeddings) with its most decisive
//! sentences, and the sentences are kept as evidence. Targets come from patterns (see
//! [`targets`]).

pub mod data;
pub mod encoder;
pub mod features;
pub mod head;
pub mod minilm;

pub mod targets;
pub mod train;

use std::collections::BTreeMap;
use std::path::Path;

pub use encoder::TextEncoder;
pub use head::Head;

use crate::error::Result;
use crate::fsutil;
use crate::models;
use crate::sentences;
use crate::transcript::{ModelRef, Move, Position, PositionModels, SentencePosition};

/// The head trained by the project (`rapporteur train positions`; see models/positions/README.md),
/// built into the binary: it is small and the taxonomy it encodes is part of this version.
const BUILT_IN_HEAD: &[u8] = include_bytes!("../../models/positions/head.safetensors");
const BUILT_IN_HEAD_NAME: &str = "models/positions/head.safetensors";

/// Texts tagged at a time: enough to fill every core's encoder batches.
pub const TAG_BLOCK: usize = 256;

/// The model input for one text: its embedding followed by its signals.
pub fn input(embedding: &[f32], text: &str) -> Vec<f32> {
    let mut v = Vec::with_capacity(head::INPUT);
    v.extend_from_slice(embedding);
    v.extend_from_slice(&features::signals(text));
    v
}

/// Moves that carry no stance: a sentence of these says little about where a speaker stands.
fn is_neutral(m: Move) -> bool {
    matches!(m, Move::Statement | Move::Procedural)
}

pub struct PositionTagger {
    encoder: TextEncoder,
    head: Head,
    pub models: PositionModels,
    /// Judge utterances of several sentences sentence by sentence (on by default).
    pub split_sentences: bool,
}

impl PositionTagger {
    /// Load MiniLM from the model store and the head from `head_path`, or the built-in head.
    pub fn load(head_path: Option<&Path>) -> Result<PositionTagger> {
        let minilm = models::resolve_packaged(models::DEFAULT_TEXT)?;
        let encoder = TextEncoder::load(&minilm.dir)?;
        let (head, head_name, head_sha) = match head_path {
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|e| {
                    crate::Error::model(
                        path,
                        format!("cannot read: {}", crate::error::io_cause(&e)),
                    )
                })?;
                (
                    Head::from_bytes(&bytes, path)?,
                    path.display().to_string(),
                    fsutil::sha256_bytes(&bytes),
                )
            }
            None => (
                Head::from_bytes(BUILT_IN_HEAD, Path::new(BUILT_IN_HEAD_NAME))?,
                BUILT_IN_HEAD_NAME.to_string(),
                fsutil::sha256_bytes(BUILT_IN_HEAD),
            ),
        };
        // A head reads the embeddings of the encoder it was trained on; another encoder's
        // embeddings would be classified without error and without meaning.
        let trained_on = head.metadata.get("encoder_sha256").map(String::as_str);
        if trained_on != Some(minilm.sha256.as_str()) {
            return Err(crate::Error::model(
                Path::new(&head_name),
                format!(
                    "not made for the installed text encoder (it names sha256 {}, the installed {} is {}); \
                     retrain it with `rapporteur train positions`",
                    trained_on.unwrap_or("none"),
                    minilm.name,
                    minilm.sha256
                ),
            ));
        }
        Ok(PositionTagger {
            encoder,
            head,
            models: PositionModels {
                encoder: ModelRef {
                    name: minilm.name,
                    sha256: minilm.sha256,
                },
                head: ModelRef {
                    name: head_name,
                    sha256: head_sha,
                },
            },
            split_sentences: true,
        })
    }

    /// Probabilities for each text taken as one unit (no sentence splitting).
    pub fn classify(&self, texts: &[&str]) -> Result<Vec<[f32; head::CLASSES]>> {
        let embeddings = self.encoder.embed(texts)?;
        let inputs: Vec<Vec<f32>> = embeddings
            .iter()
            .zip(texts)
            .map(|(e, t)| input(e, t))
            .collect();
        self.head.probabilities(&inputs)
    }

    /// The embedding of each text (for training).
    pub fn encoder(&self) -> &TextEncoder {
        &self.encoder
    }

    /// Tag with another head from now on (cross-validation trains one per fold).
    pub fn set_head(&mut self, head: Head) {
        self.head = head;
        self.models.head = ModelRef {
            name: "trained in memory".into(),
            sha256: String::new(),
        };
    }

    /// Tag each text: its move, confidence, scores, target and, for several sentences, the
    /// sentences' own moves.
    ///
    /// Each sentence is encoded once; the whole utterance's embedding is the token-weighted mean
    /// of its sentences' (encoding it a second time as a whole would double the cost).
    /// Texts go through in blocks of [`TAG_BLOCK`], so the encoder's working memory stays
    /// bounded however long the record.
    pub fn tag(&self, texts: &[&str]) -> Result<Vec<Position>> {
        let mut out = Vec::with_capacity(texts.len());
        for block in texts.chunks(TAG_BLOCK) {
            out.extend(self.tag_block(block)?);
            crate::interrupt::check()?;
        }
        Ok(out)
    }

    fn tag_block(&self, texts: &[&str]) -> Result<Vec<Position>> {
        let mut units: Vec<&str> = Vec::new();
        let mut spans: Vec<std::ops::Range<usize>> = Vec::new();
        for text in texts {
            let first = units.len();
            let pieces = sentences::split(text);
            if pieces.len() > 1 && self.split_sentences {
                units.extend(pieces.iter().map(|&(a, b)| &text[a..b]));
            } else {
                units.push(text);
            }
            spans.push(first..units.len());
        }
        let pooled = self.encoder.embed_pooled(&units)?;
        // Inputs: every unit, then every multi-sentence text as a whole.
        let mut inputs: Vec<Vec<f32>> = units
            .iter()
            .zip(&pooled)
            .map(|(u, p)| input(&encoder::normalise(p.mean.clone()), u))
            .collect();
        let mut whole_row = vec![None; texts.len()];
        for (i, (text, span)) in texts.iter().zip(&spans).enumerate() {
            if span.len() > 1 {
                let parts: Vec<&encoder::Pooled> = pooled[span.clone()].iter().collect();
                whole_row[i] = Some(inputs.len());
                inputs.push(input(&encoder::combine(&parts), text));
            }
        }
        let probs = self.head.probabilities(&inputs)?;
        Ok(texts
            .iter()
            .zip(&spans)
            .zip(&whole_row)
            .map(|((text, span), whole)| match whole {
                Some(w) => {
                    let sentences: Vec<(&str, &[f32; head::CLASSES])> =
                        span.clone().map(|i| (units[i], &probs[i])).collect();
                    position(text, &probs[*w], &sentences)
                }
                None => position(text, &probs[span.start], &[]),
            })
            .collect())
    }
}

fn best(p: &[f32; head::CLASSES]) -> (Move, f32) {
    let (i, &v) = p
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .expect("one score per move");
    (Move::ALL[i], v)
}

/// How much the strongest sentence counts beside the mix of all (measured on the project's own
/// held-out lines, the only labelled set of many-sentence utterances: the strongest sentence
/// alone gave macro-F1 0.692, a share of 0.5 gave 0.715, 0.3 gave 0.728, the mix alone 0.726).
const STRONGEST_SHARE: f32 = 0.3;

/// Combine the whole text's probabilities with its sentences'. Each sentence is judged on its
/// own; when the strongest of them takes a stance it counts directly, beside the mix of all
/// sentences and the whole, each sentence counting by how much it takes a stance (1 -
/// P(statement) - P(procedural)). So "Thank you, Chair. [...] We cannot accept OP 3." is
/// judged by its last sentence, not diluted by the courtesies around it.
pub fn aggregate(
    whole: &[f32; head::CLASSES],
    sentences: &[&[f32; head::CLASSES]],
) -> [f32; head::CLASSES] {
    if sentences.is_empty() {
        return *whole;
    }
    let stance = |p: &[f32; head::CLASSES]| {
        Move::ALL
            .iter()
            .filter(|m| !is_neutral(**m))
            .map(|m| p[m.index()])
            .fold(0.0f32, f32::max)
    };
    if let Some(strongest) = sentences
        .iter()
        .max_by(|a, b| stance(a).total_cmp(&stance(b)))
        .filter(|p| !is_neutral(best(p).0))
    {
        let mixed = mix(whole, sentences);
        let mut out = [0f32; head::CLASSES];
        for i in 0..head::CLASSES {
            out[i] = STRONGEST_SHARE * strongest[i] + (1.0 - STRONGEST_SHARE) * mixed[i];
        }
        return out;
    }
    mix(whole, sentences)
}

/// The mix of all sentences, each counting by how much it takes a stance.
fn mix(whole: &[f32; head::CLASSES], sentences: &[&[f32; head::CLASSES]]) -> [f32; head::CLASSES] {
    let mut mixed = [0f32; head::CLASSES];
    let mut total = 0.0;
    for p in sentences {
        let stance: f32 = 1.0
            - Move::ALL
                .iter()
                .filter(|m| is_neutral(**m))
                .map(|m| p[m.index()])
                .sum::<f32>();
        let w = stance.max(0.0) + 0.05;
        for (m, v) in mixed.iter_mut().zip(p.iter()) {
            *m += w * v;
        }
        total += w;
    }
    let mut out = [0f32; head::CLASSES];
    for i in 0..head::CLASSES {
        out[i] = 0.5 * whole[i] + 0.5 * mixed[i] / total;
    }
    out
}

fn position(
    text: &str,
    whole: &[f32; head::CLASSES],
    sentences: &[(&str, &[f32; head::CLASSES])],
) -> Position {
    let probs: Vec<&[f32; head::CLASSES]> = sentences.iter().map(|(_, p)| *p).collect();
    let scores = aggregate(whole, &probs);
    let (label, confidence) = best(&scores);
    let evidence: Vec<SentencePosition> = sentences
        .iter()
        .map(|(s, p)| {
            let (label, confidence) = best(p);
            SentencePosition {
                text: s.to_string(),
                label,
                confidence: round3(confidence),
                target: targets::for_move(s, label),
            }
        })
        .collect();
    // The target is the one named by the sentence that most carries the move, else the
    // utterance's own.
    let target = sentences
        .iter()
        .zip(&evidence)
        .filter(|(_, e)| e.target.is_some())
        .max_by(|a, b| a.0 .1[label.index()].total_cmp(&b.0 .1[label.index()]))
        .and_then(|(_, e)| e.target.clone())
        .or_else(|| targets::for_move(text, label));
    Position {
        label,
        confidence: round3(confidence),
        scores: Move::ALL
            .iter()
            .map(|m| (*m, round3(scores[m.index()])))
            .collect::<BTreeMap<_, _>>(),
        target,
        sentences: evidence,
    }
}

fn round3(v: f32) -> f32 {
    (v * 1000.0).round() / 1000.0
}
