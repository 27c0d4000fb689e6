//! Between delegations: who criticises, opposes or supports whom, and who aligns with whose
//! statement ("Egypt aligns itself with the statement delivered by the Group of 77 and China"),
//! each with the sentences that say so.

use std::sync::OnceLock;

use regex::Regex;

use super::evidence::EvidenceMaker;
use super::{Relation, RelationKind};
use crate::parties::{self, Party};
use crate::transcript::{Move, Target, Transcript};

/// Quotes kept per relation: enough to check it, few enough to read.
const QUOTES: usize = 3;

/// Condemning words: a sentence tagged support ("France supports the draft and condemns the
/// aggression by Russia") still criticises the party it condemns.
fn condemnation() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)\b(?:condemn|condemns|condemned|denounce|denounces|deplore|deplores|condamne|condamnons|condena|condenamos)\b")
            .expect("valid condemnation pattern")
    })
}

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
        // Each sentence with its own move and target, or the utterance as one.
        let sentences: Vec<(&str, Move, Option<&Target>)> = if p.sentences.is_empty() {
            vec![(seg.english_text(), p.label, p.target.as_ref())]
        } else {
            p.sentences
                .iter()
                .map(|s| (s.text.as_str(), s.label, s.target.as_ref()))
                .collect()
        };
        for (sentence, label, target) in sentences {
            // The party a supported or opposed text belongs to ("the amendment by Brazil"), or
            // the party it names as its target; never the speaker's own.
            let party_of_target = target
                .and_then(|t| match t.kind.as_str() {
                    "party" => parties::by_key(&t.key),
                    _ => t.key.split_once(" by ").and_then(|(_, owner)| {
                        parties::lookup(owner).or_else(|| parties::by_key(owner))
                    }),
                })
                .filter(|p| Some(*p) != own);
            let kind = match label {
                Move::Criticism => Some(RelationKind::Criticises),
                Move::Opposition => Some(RelationKind::Opposes),
                Move::Support => Some(RelationKind::Supports),
                _ => None,
            };
            let found = match alignment().find(sentence) {
                Some(m) => {
                    other_party(sentence, m.end(), own).map(|p| (RelationKind::AlignsWith, p))
                }
                // A criticism is aimed at a party even when its target is a text.
                None => kind.and_then(|kind| {
                    let party = match kind {
                        RelationKind::Criticises => {
                            party_of_target.or_else(|| other_party(sentence, 0, own))
                        }
                        _ => party_of_target,
                    };
                    party.map(|p| (kind, p))
                }),
            };
            let mut found: Vec<(RelationKind, Party)> = found.into_iter().collect();
            if let Some(m) = condemnation()
                .find(sentence)
                .filter(|_| label != Move::Criticism)
            {
                if let Some(p) = other_party(sentence, m.end(), own) {
                    found.push((RelationKind::Criticises, p));
                }
            }
            for (kind, party) in found {
                let quote = evidence.quote(i, sentence);
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
    }
    out
}
