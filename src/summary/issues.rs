//! From tagged utterances to issues: each move is tied to what it is about (named, a
//! delegation's proposal, or the issue just discussed), stances are followed per speaker, and
//! each issue gets a status. See docs/summary.md for the rules.

use std::collections::{BTreeSet, HashMap};

use super::evidence::EvidenceMaker;
use super::{
    Agreement, Decision, Divergence, Issue, IssueLink, IssueStatus, PositionClaim, SpeakerStats,
    Stance,
};
use crate::transcript::{owner_key, Move, Position, Transcript};

/// A move without a target answers the issue named at most this many utterances earlier...
const CONTEXT_UTTERANCES: usize = 3;
/// ...and at most this many seconds earlier (when there are times).
const CONTEXT_SECONDS: f64 = 120.0;

/// Speaker name used when the transcript does not say who spoke.
pub(crate) const UNKNOWN_SPEAKER: &str = "unknown speaker";

/// Moves that take a side on an issue.
fn takes_side(m: Move) -> bool {
    matches!(
        m,
        Move::Proposal
            | Move::Support
            | Move::Opposition
            | Move::Criticism
            | Move::Reservation
            | Move::Concession
    )
}

/// Moves against an issue. A reservation is not one: it is support with a condition
/// ("Japan can support it, subject to confirmation from our capital").
fn against_it(m: Move) -> bool {
    matches!(m, Move::Opposition | Move::Criticism)
}

/// Moves for an issue.
pub(crate) fn in_favour(m: Move) -> bool {
    matches!(m, Move::Proposal | Move::Support | Move::Concession)
}

/// The sentence of `p` that carries its move (and target), if it was judged by sentence.
fn carrying_sentence(p: &Position) -> Option<&str> {
    let key = p.target.as_ref().map(|t| t.key.as_str());
    p.sentences
        .iter()
        .filter(|s| s.label == p.label || key.is_some())
        .filter(|s| key.is_none() || s.target.as_ref().map(|t| t.key.as_str()) == key)
        .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
        .map(|s| s.text.as_str())
}

/// Every tagged segment as a claim, tied to its issue where one can be found.
pub(crate) fn claims(t: &Transcript, evidence: &EvidenceMaker) -> Vec<PositionClaim> {
    // The issue each speaker last put forward, by their name and delegation as target keys
    // name owners ("European Union" -> "eu").
    let mut proposed_by: HashMap<String, String> = HashMap::new();
    let delegation_of: HashMap<&str, &str> = t
        .segments
        .iter()
        .filter_map(|s| s.speaker.as_deref())
        .filter_map(|label| Some((label, t.delegation_of(label)?)))
        .collect();
    // The last issue named: (key, index in the transcript's segments, time).
    let mut last: Option<(String, usize, f64)> = None;
    let mut out = Vec::new();
    for (i, s) in t.segments.iter().enumerate() {
        let Some(p) = &s.position else { continue };
        // A party is who a move is aimed at, not a thing negotiated: it is no issue.
        let text_target = p.target.as_ref().filter(|tg| tg.kind != "party");
        let owner_issue = text_target
            .and_then(|tg| tg.key.split_once(" by "))
            .and_then(|(_, owner)| proposed_by.get(&owner_key(owner)));
        let recent = last.as_ref().filter(|(_, at, time)| {
            i - at <= CONTEXT_UTTERANCES && s.start - time <= CONTEXT_SECONDS
        });
        let aimed_at_party = p.target.as_ref().is_some_and(|tg| tg.kind == "party");
        let (issue, link) = match (text_target, owner_issue) {
            (Some(_), Some(key)) => (Some(key.clone()), Some(IssueLink::Owner)),
            (Some(tg), None) => (Some(tg.key.clone()), Some(IssueLink::Named)),
            // Aimed at a party ("Russia must pull back its forces"): about no text.
            (None, _) if aimed_at_party => (None, None),
            (None, _) if takes_side(p.label) || p.label == Move::Question => match recent {
                Some((key, _, _)) => (Some(key.clone()), Some(IssueLink::Context)),
                None => (None, None),
            },
            (None, _) => (None, None),
        };
        if let (Some(key), Some(IssueLink::Named | IssueLink::Owner)) = (&issue, link) {
            last = Some((key.clone(), i, s.end));
            if p.label == Move::Proposal {
                if let Some(name) = &s.speaker {
                    proposed_by.insert(owner_key(name), key.clone());
                    if let Some(d) = delegation_of.get(name.as_str()) {
                        proposed_by.insert(owner_key(d), key.clone());
                    }
                }
            }
        }
        out.push(PositionClaim {
            label: p.label,
            confidence: round_confidence(p.confidence),
            target: p.target.clone(),
            issue,
            link,
            evidence: match carrying_sentence(p) {
                Some(sentence) => evidence.quote(i, sentence),
                None => evidence.segment(i),
            },
        });
    }
    out
}

fn round_confidence(c: f32) -> f32 {
    (c * 1000.0).round() / 1000.0
}

/// Group the claims by issue, follow each speaker's stance, and judge each issue's status.
pub(crate) fn issues(
    claims: &[PositionClaim],
    decisions: &[Decision],
    speakers: &[SpeakerStats],
    chairs: &[String],
) -> Vec<Issue> {
    let delegation = |name: &str| {
        speakers
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.delegation.clone())
    };
    let mut issues: Vec<Issue> = Vec::new();
    for c in claims {
        let (Some(key), Some(link)) = (&c.issue, c.link) else {
            continue;
        };
        let at = match issues.iter().position(|x| &x.key == key) {
            Some(at) => at,
            None => {
                issues.push(Issue {
                    key: key.clone(),
                    kind: c
                        .target
                        .as_ref()
                        .filter(|t| &t.key == key)
                        .map_or_else(|| kind_of(key), |t| t.kind.clone()),
                    mentions: Vec::new(),
                    status: IssueStatus::Open,
                    status_reason: String::new(),
                    stances: Vec::new(),
                    evolution: Vec::new(),
                });
                issues.len() - 1
            }
        };
        let issue = &mut issues[at];
        if let Some(t) = c.target.as_ref().filter(|t| t.kind != "party") {
            if !issue
                .mentions
                .iter()
                .any(|m| m.eq_ignore_ascii_case(&t.text))
            {
                issue.mentions.push(t.text.clone());
            }
        }
        // A chair announcing a decision is not taking a side.
        let announces = decisions.iter().any(|d| {
            d.evidence.segment == c.evidence.segment && d.evidence.quote == c.evidence.quote
        });
        // Nor is a chair asking "Is there any objection to paragraph 3?": running the meeting
        // is not a delegation's stance.
        let chairing = c
            .evidence
            .speaker
            .as_ref()
            .is_some_and(|s| chairs.contains(s));
        if matches!(c.label, Move::Procedural | Move::Statement) || announces || chairing {
            continue;
        }
        let speaker = c
            .evidence
            .speaker
            .clone()
            .unwrap_or_else(|| UNKNOWN_SPEAKER.into());
        issue.evolution.push(Stance {
            delegation: delegation(&speaker),
            speaker,
            stance: c.label,
            confidence: c.confidence,
            link,
            evidence: c.evidence.clone(),
        });
    }
    for issue in &mut issues {
        issue.stances = latest_stances(&issue.evolution);
        let decided = decisions
            .iter()
            .rfind(|d| d.issue.as_deref() == Some(issue.key.as_str()));
        (issue.status, issue.status_reason) = status(&issue.evolution, &issue.stances, decided);
    }
    issues
}

/// "paragraph 3" -> "paragraph"; "amendment by france" -> "amendment".
fn kind_of(key: &str) -> String {
    key.split_whitespace().next().unwrap_or("issue").to_string()
}

/// Each speaker's latest move that takes a side, or their latest move when none does (a
/// question), in order of first appearance.
fn latest_stances(evolution: &[Stance]) -> Vec<Stance> {
    let mut names: Vec<&str> = Vec::new();
    for s in evolution {
        if !names.contains(&s.speaker.as_str()) {
            names.push(&s.speaker);
        }
    }
    names
        .into_iter()
        .filter_map(|name| {
            let mut mine = evolution.iter().filter(|s| s.speaker == name);
            mine.clone()
                .rfind(|s| takes_side(s.stance))
                .or_else(|| mine.next_back())
                .cloned()
        })
        .collect()
}

fn status(
    evolution: &[Stance],
    latest: &[Stance],
    decided: Option<&Decision>,
) -> (IssueStatus, String) {
    let (status, why) = stance_status(evolution, latest);
    match decided {
        Some(d) if matches!(d.kind.as_str(), "adopted" | "agreed" | "approved") => (
            IssueStatus::Agreed,
            format!(
                "{} ({}): \"{}\"",
                d.kind,
                who(&d.evidence.speaker),
                d.evidence.quote
            ),
        ),
        // Deferred, withdrawn or rejected: where the delegations stood still holds.
        Some(d) => (
            status,
            format!(
                "{why}; {} ({}): \"{}\"",
                d.kind,
                who(&d.evidence.speaker),
                d.evidence.quote
            ),
        ),
        None => (status, why),
    }
}

/// The status the stances alone give.
fn stance_status(evolution: &[Stance], latest: &[Stance]) -> (IssueStatus, String) {
    let names = |f: &dyn Fn(Move) -> bool| -> Vec<&str> {
        latest
            .iter()
            .filter(|s| f(s.stance))
            .map(|s| s.speaker.as_str())
            .collect()
    };
    let against = names(&against_it);
    let reserving = names(&|m| m == Move::Reservation);
    let favour = names(&|m| in_favour(m));
    // Someone who once opposed or reserved and whose latest stance is softer.
    let softened: Vec<&str> = latest
        .iter()
        .filter(|s| !against_it(s.stance))
        .filter(|s| {
            evolution.iter().any(|e| {
                e.speaker == s.speaker
                    && (against_it(e.stance)
                        || (e.stance == Move::Reservation && in_favour(s.stance)))
            })
        })
        .map(|s| s.speaker.as_str())
        .collect();
    if !against.is_empty() {
        return (
            IssueStatus::Contested,
            format!("opposed by {}", list(&against)),
        );
    }
    if favour.len() >= 2 && reserving.is_empty() {
        let mut why = format!("for it: {}", list(&favour));
        if !softened.is_empty() {
            why.push_str(&format!(" ({} came round)", list(&softened)));
        }
        return (IssueStatus::Agreed, why);
    }
    if !favour.is_empty() && (!reserving.is_empty() || !softened.is_empty()) {
        let mut why = format!("for it: {}", list(&favour));
        if !reserving.is_empty() {
            why.push_str(&format!("; reservations: {}", list(&reserving)));
        }
        if !softened.is_empty() {
            why.push_str(&format!("; moved towards it: {}", list(&softened)));
        }
        return (IssueStatus::Converging, why);
    }
    let why = match (favour.as_slice(), reserving.as_slice()) {
        ([], []) => "no stance taken yet".to_string(),
        ([], r) => format!("reservations only: {}", list(r)),
        (f, _) => format!("only {} has taken a stance", list(f)),
    };
    (IssueStatus::Open, why)
}

fn who(speaker: &Option<String>) -> &str {
    speaker.as_deref().unwrap_or(UNKNOWN_SPEAKER)
}

fn list(names: &[&str]) -> String {
    names.join(", ")
}

/// Agreements: on each issue, the speakers whose latest stances are all for it (two or
/// more), conditions and concessions included. Divergences: on each issue, those for it
/// against those opposing it.
pub(crate) fn alignments(issues: &[Issue]) -> (Vec<Agreement>, Vec<Divergence>) {
    let mut agreements = Vec::new();
    let mut divergences = Vec::new();
    for issue in issues {
        let known = |s: &&Stance| s.speaker != UNKNOWN_SPEAKER;
        let favour: Vec<&Stance> = issue
            .stances
            .iter()
            .filter(known)
            .filter(|s| in_favour(s.stance) || s.stance == Move::Reservation)
            .collect();
        let against: Vec<&Stance> = issue
            .stances
            .iter()
            .filter(known)
            .filter(|s| against_it(s.stance))
            .collect();
        let names = |v: &[&Stance]| -> Vec<String> {
            v.iter()
                .map(|s| s.speaker.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        if favour.len() >= 2 {
            agreements.push(Agreement {
                issue: issue.key.clone(),
                speakers: names(&favour),
                evidence: favour.iter().map(|s| (*s).clone()).collect(),
            });
        }
        if !favour.is_empty() && !against.is_empty() {
            let criticised = against.iter().all(|s| s.stance == Move::Criticism);
            divergences.push(Divergence {
                issue: issue.key.clone(),
                kind: if criticised {
                    "criticism"
                } else {
                    "opposition"
                }
                .into(),
                in_favour: names(&favour),
                against: names(&against),
                evidence: favour
                    .iter()
                    .chain(&against)
                    .map(|s| (*s).clone())
                    .collect(),
            });
        }
    }
    (agreements, divergences)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture;
    use crate::transcript::Target;

    /// A transcript of `(speaker, move, target key, text)` lines, 10 s apart.
    fn session(lines: &[(&str, Move, Option<&str>, &str)]) -> Transcript {
        let mut t = fixture::transcript();
        let template = t.segments[1].clone();
        t.segments = lines
            .iter()
            .enumerate()
            .map(|(i, &(who, label, key, text))| {
                let mut s = template.clone();
                (s.id, s.start, s.end) = (i, i as f64 * 10.0, i as f64 * 10.0 + 5.0);
                s.text = text.into();
                s.speaker = Some(who.into());
                s.position = Some(Position {
                    label,
                    confidence: 0.9,
                    scores: Default::default(),
                    target: key.map(|k| Target {
                        text: k.into(),
                        key: k.into(),
                        kind: kind_of(k),
                    }),
                    sentences: vec![],
                });
                s
            })
            .collect();
        t
    }

    fn statuses(t: &Transcript) -> Vec<(String, IssueStatus)> {
        let e = EvidenceMaker::new(t, true);
        let c = claims(t, &e);
        issues(&c, &[], &[], &[])
            .into_iter()
            .map(|i| (i.key, i.status))
            .collect()
    }

    use IssueStatus::*;
    use Move::*;

    #[test]
    fn statuses_follow_the_latest_stances() {
        let t = session(&[
            (
                "France",
                Proposal,
                Some("paragraph 1"),
                "We propose paragraph 1.",
            ),
            (
                "Brazil",
                Support,
                Some("paragraph 1"),
                "We support paragraph 1.",
            ),
            (
                "Kenya",
                Proposal,
                Some("paragraph 2"),
                "We propose paragraph 2.",
            ),
            (
                "Japan",
                Reservation,
                Some("paragraph 2"),
                "Subject to our capital, paragraph 2.",
            ),
            (
                "India",
                Proposal,
                Some("paragraph 3"),
                "We propose paragraph 3.",
            ),
            (
                "China",
                Opposition,
                Some("paragraph 3"),
                "We oppose paragraph 3.",
            ),
            (
                "Chile",
                Question,
                Some("paragraph 4"),
                "What does paragraph 4 mean?",
            ),
            (
                "Peru",
                Proposal,
                Some("paragraph 5"),
                "We propose paragraph 5.",
            ),
        ]);
        assert_eq!(
            statuses(&t),
            [
                ("paragraph 1".into(), Agreed),
                ("paragraph 2".into(), Converging),
                ("paragraph 3".into(), Contested),
                ("paragraph 4".into(), Open),
                ("paragraph 5".into(), Open),
            ]
        );
    }

    #[test]
    fn an_opponent_who_comes_round_makes_it_agreed_or_converging() {
        let mut lines = vec![
            (
                "France",
                Proposal,
                Some("article 2"),
                "We propose article 2.",
            ),
            (
                "Kenya",
                Opposition,
                Some("article 2"),
                "We oppose article 2.",
            ),
            (
                "Kenya",
                Reservation,
                Some("article 2"),
                "Article 2, subject to finance.",
            ),
        ];
        assert_eq!(
            statuses(&session(&lines)),
            [("article 2".into(), Converging)]
        );
        lines[2] = (
            "Kenya",
            Concession,
            Some("article 2"),
            "We can accept article 2.",
        );
        let t = session(&lines);
        let e = EvidenceMaker::new(&t, true);
        let found = issues(&claims(&t, &e), &[], &[], &[]);
        assert_eq!(found[0].status, Agreed);
        assert!(
            found[0].status_reason.contains("Kenya came round"),
            "{}",
            found[0].status_reason
        );
        assert_eq!(found[0].evolution.len(), 3);
        assert_eq!(found[0].stances.len(), 2);
    }

    #[test]
    fn proposals_named_by_owner_and_replies_in_context_join_their_issue() {
        let t = session(&[
            (
                "European Union",
                Proposal,
                Some("paragraph 5"),
                "The EU proposes paragraph 5.",
            ),
            (
                "Brazil",
                Opposition,
                Some("proposal by european union"),
                "We cannot accept the EU proposal.",
            ),
            ("India", Support, None, "We agree with that."),
            ("Chair", Procedural, None, "Thank you."),
            ("Chair", Procedural, None, "Next speaker."),
            ("Chair", Procedural, None, "Anyone else?"),
            ("Japan", Support, None, "We support."),
        ]);
        let e = EvidenceMaker::new(&t, true);
        let c = claims(&t, &e);
        let links: Vec<(Option<&str>, Option<IssueLink>)> =
            c.iter().map(|c| (c.issue.as_deref(), c.link)).collect();
        assert_eq!(
            links,
            [
                (Some("paragraph 5"), Some(IssueLink::Named)),
                (Some("paragraph 5"), Some(IssueLink::Owner)),
                (Some("paragraph 5"), Some(IssueLink::Context)),
                (None, None),
                (None, None),
                (None, None),
                // Four utterances after the last one naming it: too far to guess.
                (None, None),
            ]
        );
        let found = issues(&c, &[], &[], &[]);
        assert_eq!(
            found[0].mentions,
            ["paragraph 5", "proposal by european union"]
        );
        let (agreements, divergences) = alignments(&found);
        assert_eq!(agreements[0].speakers, ["European Union", "India"]);
        assert_eq!(divergences[0].against, ["Brazil"]);
        assert_eq!(divergences[0].kind, "opposition");
    }
}
