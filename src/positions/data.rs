//! Labelled utterances for training and evaluation: the project's own JSONL, and real dialogue
//! corpora mapped to the taxonomy where the mapping is sound (docs/positions.md, "Training data").
//!
//! Every example belongs to a group (a dialogue, or the utterance itself for the JSONL files);
//! a stable hash of the group puts one in four groups in the held-out split, which training
//! never sees.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::transcript::Move;

#[derive(Debug, Clone)]
pub struct Labelled {
    pub text: String,
    pub label: Move,
    /// The gold target span, when the data gives one.
    pub target: Option<String>,
    /// Dialogue (or utterance) id: the unit of the train/held-out split.
    pub group: String,
    /// The corpus it comes from, e.g. "own:un", "persuasionforgood".
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    Train,
    Heldout,
    All,
}

/// FNV-1a: stable across versions and platforms, unlike std's hasher.
fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

pub fn is_heldout(group: &str) -> bool {
    stable_hash(group).is_multiple_of(4)
}

/// Which of `k` cross-validation folds a group falls in (fold 0 of 4 is the held-out split).
pub fn fold(group: &str, k: usize) -> usize {
    (stable_hash(group) % k.max(1) as u64) as usize
}

/// Training groups kept back to fit the temperature (one in eight; never trained on).
pub fn is_calibration(group: &str) -> bool {
    stable_hash(&format!("calibration:{group}")).is_multiple_of(8)
}

impl Split {
    pub fn keeps(self, group: &str) -> bool {
        match self {
            Split::Train => !is_heldout(group),
            Split::Heldout => is_heldout(group),
            Split::All => true,
        }
    }
}

/// PersuasionForGood's dialogue acts that match a move (persuader `er_label_1` and persuadee
/// `ee_label_1` alike). Answers to inquiries (`*-to-inquiry`) are not questions. Asking for a
/// larger donation ("How about $1.25?") puts a figure on the table: a proposal, like
/// `proposition-of-donation`, not a question.
pub fn map_persuasionforgood(act: &str) -> Option<Move> {
    match act {
        "agree-donation" => Some(Move::Support),
        "disagree-donation" | "disagree-donation-more" => Some(Move::Opposition),
        "proposition-of-donation" | "ask-donate-more" => Some(Move::Proposal),
        "credibility-appeal" | "donation-information" | "personal-story" => Some(Move::Statement),
        a if a.ends_with("-to-inquiry") => None,
        a if a.starts_with("ask-") || a.ends_with("-inquiry") => Some(Move::Question),
        _ => None,
    }
}

/// CaSiNo's strategy annotations describe persuasion, not moves; only `elicit-pref` (asking the
/// partner's preferences), when it is the utterance's only strategy, is a question throughout.
pub fn map_casino(strategies: &str) -> Option<Move> {
    (strategies.trim() == "elicit-pref").then_some(Move::Question)
}

#[derive(Deserialize)]
struct JsonlRow {
    text: String,
    label: String,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    dialogue: Option<String>,
}

/// Load one file of labelled utterances: `.jsonl` (text, label, optional target, id, dialogue),
/// PersuasionForGood's annotated CSV, or CaSiNo's JSON.
pub fn load(path: &Path, split: Split) -> Result<Vec<Labelled>> {
    let bytes = std::fs::read(path).map_err(|e| Error::input(path, crate::error::io_cause(&e)))?;
    let text = String::from_utf8(bytes).map_err(|_| Error::input(path, "not UTF-8 text"))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let mut out = if name.ends_with(".csv") {
        load_persuasionforgood(path, &text)?
    } else if name.ends_with(".json") {
        load_casino(path, &text)?
    } else {
        load_jsonl(path, &text)?
    };
    out.retain(|e| split.keeps(&e.group));
    Ok(out)
}

fn load_jsonl(path: &Path, text: &str) -> Result<Vec<Labelled>> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("data");
    // The project's own lines (data/positions/own/) are one family, "own:<file>"; a file of
    // real text labelled by hand (data/positions/real/) is a source of its own.
    let own = path
        .parent()
        .and_then(|d| d.file_name())
        .is_none_or(|d| d != "real");
    let source = if own {
        format!("own:{stem}")
    } else {
        stem.to_string()
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |why: String| Error::input(path, format!("line {}: {why}", i + 1));
        let row: JsonlRow = serde_json::from_str(line).map_err(|e| at(e.to_string()))?;
        let label = Move::parse(&row.label).ok_or_else(|| {
            at(format!(
                "unknown label {:?} (known: {})",
                row.label,
                Move::ALL.map(|m| m.name()).join(", ")
            ))
        })?;
        let group = row
            .dialogue
            .or(row.id)
            .unwrap_or_else(|| format!("{stem}:{}", i + 1));
        out.push(Labelled {
            text: row.text,
            label,
            target: row.target.filter(|t| !t.trim().is_empty()),
            group,
            source: source.clone(),
        });
    }
    Ok(out)
}

fn load_persuasionforgood(path: &Path, text: &str) -> Result<Vec<Labelled>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| Error::input(path, format!("not CSV: {e}")))?
        .clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            Error::input(
                path,
                format!("no column {name:?}: not PersuasionForGood's annotated dialogues"),
            )
        })
    };
    let (dialogue, unit, er, ee) = (
        col("B2")?,
        col("Unit")?,
        col("er_label_1")?,
        col("ee_label_1")?,
    );
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| Error::input(path, format!("row {}: {e}", i + 2)))?;
        let get = |c: usize| record.get(c).unwrap_or("").trim();
        let act = if get(er).is_empty() { get(ee) } else { get(er) };
        if let Some(label) = map_persuasionforgood(act) {
            out.push(Labelled {
                text: get(unit).to_string(),
                label,
                target: None,
                group: get(dialogue).to_string(),
                source: "persuasionforgood".into(),
            });
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
struct CasinoDialogue {
    dialogue_id: serde_json::Value,
    #[serde(default)]
    annotations: Vec<(String, String)>,
}

fn load_casino(path: &Path, text: &str) -> Result<Vec<Labelled>> {
    let dialogues: Vec<CasinoDialogue> = serde_json::from_str(text)
        .map_err(|e| Error::input(path, format!("not CaSiNo's dialogue JSON: {e}")))?;
    let mut out = Vec::new();
    for d in dialogues {
        for (utterance, strategies) in d.annotations {
            if let Some(label) = map_casino(&strategies) {
                out.push(Labelled {
                    text: utterance,
                    label,
                    target: None,
                    group: format!("casino:{}", d.dialogue_id),
                    source: "casino".into(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persuasionforgood_mapping_keeps_answers_out_of_questions() {
        assert_eq!(map_persuasionforgood("agree-donation"), Some(Move::Support));
        assert_eq!(
            map_persuasionforgood("disagree-donation-more"),
            Some(Move::Opposition)
        );
        assert_eq!(map_persuasionforgood("ask-org-info"), Some(Move::Question));
        assert_eq!(
            map_persuasionforgood("ask-donate-more"),
            Some(Move::Proposal)
        );
        assert_eq!(
            map_persuasionforgood("task-related-inquiry"),
            Some(Move::Question)
        );
        assert_eq!(map_persuasionforgood("positive-to-inquiry"), None);
        assert_eq!(map_persuasionforgood("greeting"), None);
    }

    #[test]
    fn split_is_stable_and_about_a_quarter() {
        let held = (0..4000)
            .filter(|i| is_heldout(&format!("un-{i:04}")))
            .count();
        assert!((800..1200).contains(&held), "{held}");
        assert!(Split::All.keeps("x"));
        assert_ne!(Split::Train.keeps("x"), Split::Heldout.keeps("x"));
    }
}
