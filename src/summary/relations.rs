//! Between delegations: who criticises, opposes or supports whom, and who aligns with whose
//! statement ("Egypt aligns itself with the statement delivered by the Group of 77 and China"),
//! each with the sentences that say so.

use std::sync::OnceLock;

use regex::Regex;

use super::evidence::EvidenceMaker;
use super::{Relation, RelationKind};
use crate::parties::{self, Party};
use crate::transcript::{Move, Transcript};

/// Quotes kept per relation: enough to check it, few enough to read.
const QUOTES: usize = 3;

fn alignment() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)\balign(?:s|ed|ing)?\s+(?:itself|ourselves|myself|themselves|himself|herself|my\s+delegation|our\s+delegation)?\s*(?:fully\s+)?with\b|\bs'associe\s+a\b|\bse\s+(?:suma|adhiere)\s+a\b",
        )
        .expect("valid alignment pattern")
    })
}

/// The party a speaker speaks for: their delegation, or their name when it is one.
fn own_party(t: &Transcript, speaker: &str) -> Option<Party> {
    t.delegation_of(speaker)
        .and_then(parties::lookup)
        .or_else(|| parties::lookup(speaker))
}

/// Who the sentence is about, other than the speaker's own delegation: the first party named
/// after `from` (the alignment phrase, when there is one).
fn other_party(sentence: &str, from: usize, own: Option<Party>) -> Option<Party> {
    parties::find_all(&sentence[from..])
        .into_iter()
        .map(|f| f.party)
        .find(|p| Some(*p) != own && p.key != "united nations" && p.key != "secretariat")
}

pub(crate) fn relations(
    t: &Transcript,
    evidence: &EvidenceMaker,
    chairs: &[String],
) -> Vec<Relation> {
    let mut out: Vec<Relation> = Vec::new();
    for (i, seg) in t.segments.iter().enumerate() {
        let (Some(speaker), Some(p)) = (seg.speaker.as_deref(), &seg.position) else {
            continue;
        };
        // The chair runs the meeting: its words are not a delegation's stance.
        if chairs.iter().any(|c| c == speaker) {
            continue;
        }
        let own = own_party(t, speaker);
        let whole = [(seg.english_text().to_string(), p.label)];
        let sentences: Vec<(String, Move)> = if p.sentences.is_empty() {
            whole.to_vec()
        } else {
            p.sentences
                .iter()
                .map(|s| (s.text.clone(), s.label))
                .collect()
        };
        for (sentence, label) in sentences {
            let aligned = alignment().find(&sentence);
            let kind = match (aligned, label) {
                (Some(_), _) => RelationKind::AlignsWith,
                (None, Move::Criticism) => RelationKind::Criticises,
                (None, Move::Opposition) => RelationKind::Opposes,
                (None, Move::Support) => RelationKind::Supports,
                _ => continue,
            };
            let Some(party) = other_party(&sentence, aligned.map_or(0, |m| m.end()), own) else {
                continue;
            };
            let quote = evidence.quote(i, &sentence);
            match out
                .iter_mut()
                .find(|r| r.from == speaker && r.kind == kind && r.to_key == party.key)
            {
                Some(r) => {
                    r.count += 1;
                    if r.evidence.len() < QUOTES {
                        r.evidence.push(quote);
                    }
                }
                None => out.push(Relation {
                    from: speaker.to_string(),
                    from_delegation: own.map(|p| p.name.to_string()),
                    kind,
                    to: party.name.to_string(),
                    to_key: party.key.to_string(),
                    count: 1,
                    evidence: vec![quote],
                }),
            }
        }
    }
    out
}
