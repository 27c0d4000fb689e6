//! Decisions and action items, found sentence by sentence from the wording chairs and
//! secretariats use ("paragraph 3 is agreed", "the secretariat will circulate a revised text").
//! Questions are never decisions, and negated wording ("is not agreed") is not taken. A segment
//! spoken in another language is read in its English translation, when it has one.

use std::sync::OnceLock;

use regex::Regex;

use super::evidence::EvidenceMaker;
use super::{ActionItem, Decision, PositionClaim};
use crate::transcript::{Segment, Transcript};

/// Each decision pattern with the kind it announces.
fn decision_patterns() -> &'static [(&'static str, Regex)] {
    static P: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    P.get_or_init(|| {
        let be = r"(?:is|are|was|were|stands|stand|has been|have been|is hereby|are hereby|is now|are now)";
        [
            ("adopted", format!(r"\b{be}\s+(?:thus\s+|therefore\s+)?adopted\b|\b(?:we|the (?:committee|conference|meeting|plenary|council|assembly|group|working group)) (?:adopts?|has adopted)\b|\bit (?:is|was) so decided\b")),
            ("agreed", format!(r"\b{be}\s+(?:thus\s+|therefore\s+)?(?:agreed|accepted|cleared)\b|\bwe have (?:an? )?(?:agreement|consensus)\b|\bconsensus (?:has been|was|is) reached\b")),
            ("approved", format!(r"\b{be}\s+approved\b")),
            ("deferred", format!(r"\bwill be (?:taken up|considered|revisited|discussed) (?:later|again|in informal|at (?:a|the) (?:later|next)|in the next)|\b{be}\s+(?:deferred|postponed|bracketed|kept in (?:square )?brackets|left in (?:square )?brackets)\b|\b(?:remains?|stays?) (?:in (?:square )?brackets|bracketed|open)\b")),
            ("withdrawn", format!(r"\b{be}\s+withdrawn\b|\bwe withdraw (?:our|the|this)\b")),
            ("rejected", format!(r"\b{be}\s+(?:rejected|not adopted|not accepted)\b")),
            ("procedural", format!(r"\b(?:meeting|session|sitting|plenary) {be}\s+(?:suspended|adjourned|closed|resumed)\b|\bI declare (?:the )?(?:meeting|session|sitting) (?:closed|adjourned|suspended|open)\b")),
        ]
        .into_iter()
        .map(|(kind, p)| (kind, Regex::new(&format!("(?i){p}")).expect("decision pattern")))
        .collect()
    })
}

fn negated() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"(?i)\b(?:not|never|nothing|cannot be|can't be|yet to be)\b")
            .expect("negation pattern")
    })
}

fn condition() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"(?i)\b(?:subject to|provided that|on the understanding that|ad referendum|pending|on condition that)\b[^.;,!?]*")
            .expect("condition pattern")
    })
}

/// Decisions announced in the session, in order.
pub(crate) fn decisions(
    t: &Transcript,
    evidence: &EvidenceMaker,
    claims: &[PositionClaim],
) -> Vec<Decision> {
    let mut out = Vec::new();
    for (i, s) in t.segments.iter().enumerate() {
        for sentence in sentences(s.english_text()) {
            if sentence.ends_with('?') {
                continue;
            }
            for (kind, pattern) in decision_patterns() {
                let Some(m) = pattern.find(sentence) else {
                    continue;
                };
                // "is not agreed", "nothing is agreed until everything is agreed".
                if *kind != "rejected" && negated().is_match(&sentence[..m.end()]) {
                    continue;
                }
                let issue = (*kind != "procedural")
                    .then(|| sentence_issue(s, sentence, claims))
                    .flatten();
                // One sentence is one decision: "Paragraph 3 is agreed, the meeting is
                // suspended" is listed once, as the agreement its first pattern found.
                let quoted = evidence.quote(i, sentence);
                if out.iter().any(|d: &Decision| {
                    d.evidence.segment == quoted.segment && d.evidence.quote == quoted.quote
                }) {
                    continue;
                }
                out.push(Decision {
                    kind: (*kind).into(),
                    issue,
                    condition: (*kind != "procedural")
                        .then(|| condition().find(sentence))
                        .flatten()
                        .map(|m| m.as_str().trim().to_string()),
                    evidence: quoted,
                });
            }
        }
    }
    out
}

/// The issue a sentence decides: the target it names itself, else (for a segment of one
/// sentence) the issue its segment's move was counted under.
fn sentence_issue(s: &Segment, sentence: &str, claims: &[PositionClaim]) -> Option<String> {
    let claim = claims.iter().find(|c| c.evidence.segment == s.id);
    let p = s.position.as_ref()?;
    if let Some(own) = p.sentences.iter().find(|x| x.text.trim() == sentence) {
        let named = own.target.as_ref()?;
        // Named as it was counted (a delegation's proposal is the issue it proposed on).
        return Some(match claim {
            Some(c) if c.target.as_ref().map(|t| &t.key) == Some(&named.key) => c.issue.clone()?,
            _ => named.key.clone(),
        });
    }
    claim.and_then(|c| c.issue.clone())
}

fn action_pattern() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        let owner = r"the secretariat|the chair(?:person|man|woman)?|the (?:co-)?facilitators?|the co-chairs?|the bureau|the rapporteur|the presidency|the drafting group|the contact group|the friends of the chair|delegations|parties|member states|we|I";
        let verb = r"circulate|prepare|send|submit|provide|revise|report|consult|convene|draft|share|update|post|distribute|compile|present|come back|revert|reflect|look into|check|confirm|hold|organi[sz]e|produce|table|publish|follow up|coordinate|propose|write|reissue|issue|inform|get back";
        let modal = r"will|shall|undertakes? to|agrees? to|(?:is|are) (?:requested|invited|asked) to|(?:would|will) be (?:happy|glad|pleased) to";
        Regex::new(&format!(
            r"(?P<owner>\b(?i:{owner})|\b[A-Z][\w-]+(?: [A-Z][\w-]+){{0,2}})(?:\s+(?i:{modal})|['’](?i:ll))\s+(?i:also\s+|then\s+|now\s+)?(?P<action>(?i:{verb})\b[^.;!?]*)"
        ))
        .expect("action pattern")
    })
}

fn request_pattern() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"(?i)\b(?:request|requests|invite|invites|ask|asks)\s+(?P<owner>the secretariat|the chair|the (?:co-)?facilitators?|delegations|parties|[A-Z][\w-]+)\s+to\s+(?P<action>\w+\b[^.;!?]*)")
            .expect("request pattern")
    })
}

fn due_pattern() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"(?i)\b(?:by|before|no later than|ahead of|in time for|within)\s+(?:the end of (?:the )?(?:day|week|month|session|meeting)|tomorrow(?: morning| afternoon)?|tonight|(?:next )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|next (?:week|month|meeting|session)|the next (?:meeting|session|round|plenary)|\d+ (?:days|weeks|hours)|\d{1,2}(?:st|nd|rd|th)? (?:january|february|march|april|may|june|july|august|september|october|november|december)|(?:january|february|march|april|may|june|july|august|september|october|november|december) \d{1,2}(?:st|nd|rd|th)?|\d{1,2}(?::\d{2})? ?(?:a\.?m\.?|p\.?m\.?|o'clock))")
            .expect("due pattern")
    })
}

/// Undertakings to act, in order.
pub(crate) fn action_items(t: &Transcript, evidence: &EvidenceMaker) -> Vec<ActionItem> {
    let mut out = Vec::new();
    for (i, s) in t.segments.iter().enumerate() {
        for sentence in sentences(s.english_text()) {
            if sentence.ends_with('?') {
                continue;
            }
            let found = action_pattern()
                .captures(sentence)
                .or_else(|| request_pattern().captures(sentence));
            let Some(c) = found else { continue };
            let owner = c["owner"].trim();
            let owner = match owner.to_lowercase().as_str() {
                // "We will consult our capital": the speaker's delegation will.
                "we" | "i" => s.speaker.clone(),
                // Sentence-initial words that are not names ("Then we will ...").
                "then" | "so" | "and" | "but" | "also" | "it" | "this" | "that" | "they"
                | "you" | "he" | "she" => continue,
                _ => Some(owner.to_string()),
            };
            let action = c["action"].trim().trim_end_matches(',').to_string();
            out.push(ActionItem {
                owner,
                due: due_pattern().find(sentence).map(|m| m.as_str().to_string()),
                action,
                evidence: evidence.quote(i, sentence),
            });
        }
    }
    out
}

fn sentences(text: &str) -> impl Iterator<Item = &str> {
    crate::sentences::split(text)
        .into_iter()
        .map(move |(a, b)| text[a..b].trim())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture;

    fn transcript(lines: &[(&str, &str)]) -> Transcript {
        let mut t = fixture::transcript();
        let template = t.segments[1].clone();
        t.segments = lines
            .iter()
            .enumerate()
            .map(|(i, (who, text))| {
                let mut s = template.clone();
                (s.id, s.start, s.end) = (i, i as f64 * 10.0, i as f64 * 10.0 + 5.0);
                s.text = text.to_string();
                s.speaker = Some(who.to_string());
                s
            })
            .collect();
        t
    }

    #[test]
    fn decisions_are_found_and_negations_and_questions_are_not() {
        let t = transcript(&[
            ("Chair", "Paragraph 3 is agreed, subject to confirmation from capitals. The meeting is suspended."),
            ("Chair", "Is paragraph 4 agreed? Nothing is agreed until everything is agreed."),
            ("Chair", "The text is not agreed. I see no objection; the decision is adopted."),
            ("Chair", "Paragraph 9 remains in brackets."),
        ]);
        let e = EvidenceMaker::new(&t, true);
        let d = decisions(&t, &e, &[]);
        let kinds: Vec<(&str, usize)> = d
            .iter()
            .map(|d| (d.kind.as_str(), d.evidence.segment))
            .collect();
        assert_eq!(
            kinds,
            [
                ("agreed", 0),
                ("procedural", 0),
                ("adopted", 2),
                ("deferred", 3)
            ]
        );
        assert_eq!(
            d[0].condition.as_deref(),
            Some("subject to confirmation from capitals")
        );
        assert_eq!(
            d[0].evidence.quote,
            "Paragraph 3 is agreed, subject to confirmation from capitals."
        );
        assert_eq!(d[1].evidence.quote, "The meeting is suspended.");
    }

    #[test]
    fn a_translated_segment_is_read_in_english() {
        let french = "Le paragraphe 3 est adopté. Le secrétariat distribuera un texte révisé.";
        let mut t = transcript(&[("Chair", french)]);
        t.segments[0].translation =
            Some("Paragraph 3 is adopted. The secretariat will circulate a revised text.".into());
        let e = EvidenceMaker::new(&t, true);
        let d = decisions(&t, &e, &[]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].kind, "adopted");
        // Quoted as spoken, with the English it was read in.
        assert_eq!(d[0].evidence.quote, french);
        assert_eq!(
            d[0].evidence.translation.as_deref(),
            t.segments[0].translation.as_deref()
        );
        let a = action_items(&t, &e);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].owner.as_deref(), Some("The secretariat"));
        assert_eq!(a[0].action, "circulate a revised text");
    }

    #[test]
    fn action_items_name_their_owner_and_due_date() {
        let t = transcript(&[
            (
                "Chair",
                "The secretariat will circulate a revised text by Friday.",
            ),
            (
                "Kenya",
                "We will consult our capital and come back to you tomorrow.",
            ),
            ("Brazil", "We will support it."),
            ("France", "We'll share our text with delegations."),
            ("Chair", "Will the secretariat circulate it?"),
            (
                "Chair",
                "I invite the co-facilitators to prepare a compromise before the next session.",
            ),
        ]);
        let e = EvidenceMaker::new(&t, true);
        let a = action_items(&t, &e);
        let got: Vec<(Option<&str>, &str, Option<&str>)> = a
            .iter()
            .map(|a| (a.owner.as_deref(), a.action.as_str(), a.due.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    Some("The secretariat"),
                    "circulate a revised text by Friday",
                    Some("by Friday")
                ),
                (
                    Some("Kenya"),
                    "consult our capital and come back to you tomorrow",
                    None
                ),
                (Some("France"), "share our text with delegations", None),
                (
                    Some("the co-facilitators"),
                    "prepare a compromise before the next session",
                    Some("before the next session")
                ),
            ]
        );
    }
}
