//! Targets: the paragraph, article, amendment, proposal, document, delegation or agenda item an
//! utterance names, found by patterns and normalised into a key that groups the same thing
//! across speakers ("OP3", "operative paragraph three" and "paragraph 3" are all `paragraph 3`).

use std::sync::OnceLock;

use regex::{Captures, Regex};

use crate::parties;
use crate::transcript::{owner_key, Move, Target};

/// Numbers as speech recognition may spell them.
const NUMBER_WORDS: [(&str, u32); 28] = [
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("thirteen", 13),
    ("fourteen", 14),
    ("fifteen", 15),
    ("sixteen", 16),
    ("seventeen", 17),
    ("eighteen", 18),
    ("nineteen", 19),
    ("twenty", 20),
    ("thirty", 30),
    ("forty", 40),
    ("fifty", 50),
    ("sixty", 60),
    ("seventy", 70),
    ("eighty", 80),
    ("ninety", 90),
    ("zero", 0),
];

const NUM: &str = r"(?:\d+(?:\.\d+)*|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[ -](?:one|two|three|four|five|six|seven|eight|nine))?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)";
const SUFFIX: &str = r"(?:\s?(?:bis|ter|quater|quinquies|\([a-z0-9]{1,4}\)))*";
/// Who can own a proposal: a capitalised name of up to four words, or a group such as G-77.
const OWNER: &str = r"(?:the\s+)?(?:[A-Z][\w-]*(?:\.[A-Z][\w-]*)*|G-?\d+)(?:\s+(?:and\s+)?(?:of\s+(?:the\s+)?)?(?:[A-Z][\w-]*(?:\.[A-Z][\w-]*)*|G-?\d+)){0,4}";
const TEXT_NOUN: &str = r"(?:proposals?|amendments?|text|draft(?:\s+(?:text|decision|resolution|conclusions))?|non-paper|compromise(?:\s+(?:text|proposal))?|submission|suggestion|formulation|language|package|wording|paper)";

struct Patterns {
    paragraph: Regex,
    article: Regex,
    numbered: Regex,
    agenda: Regex,
    document: Regex,
    by_owner: Regex,
    owner_s: Regex,
    adjective: Regex,
    named: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |s: &str| Regex::new(s).expect("target pattern compiles");
        Patterns {
            paragraph: re(&format!(
                r"(?i)\b(?P<kind>(?:operative|preambular)\s+paragraphs?|paragraphs?|paras?\.?|o\.?\s?p\.?|p\.?\s?p\.?)\s?(?P<num>{NUM}){SUFFIX}\b"
            )),
            article: re(&format!(
                r"(?i)\b(?:articles?|arts?\.)\s?(?P<num>{NUM}){SUFFIX}(?:\s?(?:,\s*)?(?:paragraph|para\.?)\s?(?P<para>\d+))?\b"
            )),
            numbered: re(&format!(
                r"(?i)\b(?P<kind>recitals?|sections?|annex|footnotes?|options?|amendments?|rules?|chapters?)\s(?P<num>{NUM}|[IVX]+\b){SUFFIX}"
            )),
            agenda: re(&format!(
                r"(?i)\b(?:agenda\s+item|item\s+(?P<num2>{NUM}[a-z]?)\s+of\s+the\s+agenda)\s?(?P<num>{NUM}[a-z]?)?"
            )),
            document: re(
                r"\b(?:[A-Z0-9]{1,5}(?:\.\d+)?/)*(?:L|CRP|WP|INF|Rev)\.\s?\d+(?:/(?:Rev|Add|Corr)\.\d+)*\b",
            ),
            by_owner: re(&format!(
                r"(?i:\b(?:the\s+|our\s+|their\s+|this\s+|that\s+)?(?:(?:revised|latest|new|original|joint|written|compromise|bridging)\s+)*(?P<noun>{TEXT_NOUN})\s+(?:(?:made|put\s+forward|tabled|presented|submitted|proposed|circulated|suggested|introduced)\s+)?(?:by|of|from)\s+)(?:the\s+)?(?:(?i:distinguished\s+)?(?i:delegations?|representatives?|delegates?)\s+of\s+)?(?P<owner>{OWNER})"
            )),
            owner_s: re(&format!(
                r"(?:\b[Tt]he\s+)?(?P<owner>(?:[A-Z][\w-]*(?:\.[A-Z][\w-]*)*|G-?\d+)(?:\s+(?:and\s+)?(?:[A-Z][\w-]*(?:\.[A-Z][\w-]*)*|G-?\d+)){{0,3}})(?:'s|s')\s+(?i:(?:(?:revised|latest|new|original|own|compromise|bridging)\s+)*(?P<noun>{TEXT_NOUN}))"
            )),
            adjective: re(&format!(
                r"(?:\b[Tt]he\s+)(?P<owner>(?:[A-Z][\w-]*(?:\.[A-Z][\w-]*)*|G-?\d+)(?:\s+(?:[A-Z][\w-]*(?:\.[A-Z][\w-]*)*|G-?\d+)){{0,3}})\s+(?i:(?:(?:revised|latest|new|original|compromise|bridging)\s+)*(?P<noun>{TEXT_NOUN}))"
            )),
            named: re(
                r"(?i)\b(?:the\s+)?(?:(?:revised|latest|new|current|second|third|updated)\s+)*(?P<name>zero\s+draft|draft\s+(?:decision|resolution|conclusions|text|declaration|agreement|treaty)|non-paper|compromise\s+(?:text|proposal|package)|bridging\s+proposal|four-column\s+document)\b",
            ),
        }
    })
}

fn number_value(s: &str) -> String {
    let lower = s.to_lowercase();
    if lower.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return lower;
    }
    let mut total = 0;
    for part in lower.split([' ', '-']).filter(|p| !p.is_empty()) {
        match NUMBER_WORDS.iter().find(|(w, _)| *w == part) {
            Some((_, v)) => total += v,
            None => return lower,
        }
    }
    total.to_string()
}

fn suffix_key(matched: &str, num_end: usize) -> String {
    let rest = matched[num_end..].trim().to_lowercase();
    let rest: String = rest.split_whitespace().collect::<Vec<_>>().join(" ");
    if rest.is_empty() {
        String::new()
    } else {
        format!(" {rest}")
    }
}

fn noun_key(noun: &str) -> &'static str {
    let n = noun.to_lowercase();
    if n.starts_with("amendment") {
        "amendment"
    } else if n.starts_with("proposal") || n.starts_with("suggestion") {
        "proposal"
    } else if n.starts_with("submission") || n.starts_with("paper") || n.starts_with("non-paper") {
        "paper"
    } else {
        "text"
    }
}

struct Found {
    start: usize,
    end: usize,
    key: String,
    kind: &'static str,
    /// Named texts and amendments outrank bare paragraph numbers when both are found.
    rank: u8,
}

/// Every target the text names, in order of appearance (overlaps resolved to the longest).
pub fn find_all(text: &str) -> Vec<Target> {
    let p = patterns();
    let mut found: Vec<Found> = Vec::new();
    let mut push = |c: &Captures, key: String, kind: &'static str, rank: u8| {
        let m = c.get(0).expect("match");
        found.push(Found {
            start: m.start(),
            end: m.end(),
            key,
            kind,
            rank,
        });
    };
    for c in p.paragraph.captures_iter(text) {
        let kind = c["kind"].to_lowercase();
        let num = c.name("num").expect("num");
        // "PP 4", "p.p. 4", "p p four" are preambular; "para. 4" is not.
        let squeezed: String = kind.chars().filter(|c| c.is_alphabetic()).collect();
        let prefix = if kind.starts_with("preambular") || squeezed == "pp" {
            "preambular paragraph"
        } else {
            "paragraph"
        };
        let key = format!(
            "{prefix} {}{}",
            number_value(num.as_str()),
            suffix_key(&text[..c.get(0).unwrap().end()], num.end())
        );
        push(&c, key, "paragraph", 1);
    }
    for c in p.article.captures_iter(text) {
        let num = c.name("num").expect("num");
        let mut key = format!("article {}", number_value(num.as_str()));
        if let Some(para) = c.name("para") {
            key = format!("{key}.{}", para.as_str());
        }
        push(&c, key, "article", 1);
    }
    for c in p.numbered.captures_iter(text) {
        let kind = c["kind"].to_lowercase();
        let kind = kind.trim_end_matches('s');
        let num = number_value(&c["num"]);
        let (k, rank): (&'static str, u8) = match kind {
            "amendment" => ("amendment", 2),
            "option" => ("option", 1),
            _ => ("paragraph", 1),
        };
        push(&c, format!("{kind} {num}"), k, rank);
    }
    for c in p.agenda.captures_iter(text) {
        let num = c.name("num").or(c.name("num2"));
        let key = match num {
            Some(n) => format!("agenda item {}", number_value(n.as_str())),
            None => "agenda".into(),
        };
        push(&c, key, "agenda", 1);
    }
    for c in p.document.captures_iter(text) {
        let key = format!("document {}", c[0].replace(' ', "").to_lowercase());
        push(&c, key, "document", 2);
    }
    for c in p.named.captures_iter(text) {
        let name = c["name"].to_lowercase();
        push(
            &c,
            name.split_whitespace().collect::<Vec<_>>().join(" "),
            "text",
            2,
        );
    }
    for re in [&p.by_owner, &p.owner_s, &p.adjective] {
        for c in re.captures_iter(text) {
            let owner = owner_key(&c["owner"]);
            if is_not_owner(&owner) {
                continue;
            }
            let noun = noun_key(&c["noun"]);
            let kind = if noun == "amendment" {
                "amendment"
            } else {
                "proposal"
            };
            push(&c, format!("{noun} by {owner}"), kind, 3);
        }
    }
    // Resolve overlaps: keep the highest rank, then the longest, then the earliest.
    found.sort_by(|a, b| {
        b.rank
            .cmp(&a.rank)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    let mut kept: Vec<Found> = Vec::new();
    for f in found {
        if kept.iter().all(|k| f.end <= k.start || f.start >= k.end) {
            kept.push(f);
        }
    }
    kept.sort_by_key(|f| f.start);
    kept.into_iter()
        .map(|f| Target {
            text: text[f.start..f.end].trim().to_string(),
            key: f.key,
            kind: f.kind.to_string(),
        })
        .collect()
}

/// Capitalised words that start sentences or name no one ("We", "This") are not owners.
fn is_not_owner(owner: &str) -> bool {
    const NOT: [&str; 16] = [
        "we",
        "our",
        "this",
        "that",
        "the",
        "i",
        "it",
        "a",
        "an",
        "my",
        "your",
        "their",
        "any",
        "such",
        "its",
        "thank you",
    ];
    let first = owner.split_whitespace().next().unwrap_or("");
    owner.is_empty() || NOT.contains(&first)
}

/// The target of an utterance: the named text, amendment or document if there is one (they say
/// what is being negotiated more precisely than the paragraph they sit in), else the first
/// paragraph, article or agenda item.
pub fn primary(text: &str) -> Option<Target> {
    let all = find_all(text);
    let rank = |t: &Target| match t.kind.as_str() {
        "document" => 0,
        "amendment" | "proposal" | "text" => 1,
        _ => 2,
    };
    all.iter().min_by_key(|t| rank(t)).cloned()
}

/// The party a sentence names ("the Russian Federation", "Moscow", "the Ukrainian
/// authorities"), as a target of kind `party`: the first one named outside an alignment or a
/// "on behalf of" ("Egypt aligns itself with the statement delivered by the Group of 77" is
/// about the Group of 77).
pub fn party(text: &str) -> Option<Target> {
    let found = parties::find_all(text);
    let speaking_for = |f: &parties::Found| {
        let before = text[..f.start].to_lowercase();
        let before = before.trim_end().trim_end_matches("the").trim_end();
        before.ends_with("on behalf of")
            || before.ends_with("au nom de")
            || before.ends_with("en nombre de")
    };
    // A delegation's own name as the subject of an alignment is the speaker, not the target.
    let aligning = |f: &parties::Found| {
        text[f.end..]
            .trim_start()
            .to_lowercase()
            .starts_with("aligns")
    };
    found
        .iter()
        .find(|f| !speaking_for(f) && !aligning(f) && f.party.key != "united nations")
        .map(|f| Target {
            text: text[f.start..f.end].to_string(),
            key: f.party.key.to_string(),
            kind: "party".into(),
        })
}

/// The target of a sentence or utterance tagged `m`: a criticism is aimed at a party before
/// any text it names; support and opposition at the text they take a side on, else at the
/// party whose position they take a side on.
pub fn for_move(text: &str, m: Move) -> Option<Target> {
    match m {
        Move::Criticism => party(text).or_else(|| primary(text)),
        Move::Support | Move::Opposition => primary(text).or_else(|| party(text)),
        Move::Reservation => outside_conditions(text),
        _ => primary(text),
    }
}

/// A reservation's target is what it accepts, not what its condition names: in "Kenya can
/// accept the text, subject to a reference to finance in paragraph four" the reservation is
/// on the text under discussion, and paragraph four is the condition. None when every target
/// is inside a condition (the issue then comes from the discussion).
fn outside_conditions(text: &str) -> Option<Target> {
    static CONDITION: OnceLock<Regex> = OnceLock::new();
    let condition = CONDITION.get_or_init(|| {
        Regex::new(r"(?i)\b(?:subject\s+to|provided\s+(?:that|we)|providing\s+that|on\s+(?:the\s+)?condition|as\s+long\s+as|only\s+if|if|unless|pending|on\s+the\s+understanding)\b[^.;]*")
            .expect("condition pattern compiles")
    });
    let inside: Vec<(usize, usize)> = condition
        .find_iter(text)
        .map(|m| (m.start(), m.end()))
        .collect();
    let outside = |t: &Target| {
        text.find(t.text.as_str())
            .is_none_or(|at| !inside.iter().any(|&(a, b)| at >= a && at < b))
    };
    let all: Vec<Target> = find_all(text).into_iter().filter(outside).collect();
    let rank = |t: &Target| match t.kind.as_str() {
        "document" => 0,
        "amendment" | "proposal" | "text" => 1,
        _ => 2,
    };
    all.iter().min_by_key(|t| rank(t)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parties_are_targets_of_criticism() {
        let t = for_move(
            "Russia is seeking to impose its will on its neighbour.",
            Move::Criticism,
        )
        .expect("a party");
        assert_eq!(
            (t.key.as_str(), t.kind.as_str()),
            ("russian federation", "party")
        );
        let t = for_move(
            "Egypt aligns itself with the statement delivered by the Group of 77 and China.",
            Move::Support,
        )
        .expect("a party");
        assert_eq!(t.key, "group of 77 and china");
        let t = for_move("We condemn the strikes ordered by Moscow.", Move::Criticism).unwrap();
        assert_eq!(t.key, "russian federation");
        // A condition's paragraph is not what the reservation accepts.
        assert_eq!(
            for_move(
                "Then Kenya can accept the text, subject to a reference to finance in paragraph four.",
                Move::Reservation
            ),
            None
        );
        assert_eq!(
            for_move(
                "We support OP 3 provided that OP 4 is deleted.",
                Move::Reservation
            )
            .map(|t| t.key),
            Some("paragraph 3".into())
        );
        assert_eq!(
            for_move(
                "We cannot accept OP 3 as proposed by Brazil.",
                Move::Opposition
            )
            .map(|t| t.kind),
            Some("paragraph".into())
        );
    }

    fn key(text: &str) -> Option<String> {
        primary(text).map(|t| t.key)
    }

    #[test]
    fn paragraphs_normalise_across_spellings() {
        assert_eq!(key("We support OP3.").as_deref(), Some("paragraph 3"));
        assert_eq!(key("we support o p three").as_deref(), Some("paragraph 3"));
        assert_eq!(
            key("On operative paragraph 3 we have doubts").as_deref(),
            Some("paragraph 3")
        );
        assert_eq!(
            key("paragraph twenty two is fine").as_deref(),
            Some("paragraph 22")
        );
        assert_eq!(
            key("Delete paragraph 12 bis.").as_deref(),
            Some("paragraph 12 bis")
        );
        assert_eq!(
            key("PP 4 is fine").as_deref(),
            Some("preambular paragraph 4")
        );
    }

    #[test]
    fn articles_agenda_and_documents() {
        assert_eq!(key("Art. 6.4 must stay").as_deref(), Some("article 6.4"));
        assert_eq!(key("in Article 6.4,").as_deref(), Some("article 6.4"));
        assert_eq!(
            key("Under agenda item 4 we").as_deref(),
            Some("agenda item 4")
        );
        assert_eq!(
            key("draft resolution A/C.3/78/L.12 is").as_deref(),
            Some("document a/c.3/78/l.12")
        );
    }

    #[test]
    fn proposals_group_by_owner() {
        for text in [
            "We support the proposal by Brazil.",
            "We support the proposal made by the distinguished delegation of Brazil.",
            "We support Brazil's proposal.",
            "We support the Brazilian proposal.",
        ] {
            assert_eq!(key(text).as_deref(), Some("proposal by brazil"), "{text}");
        }
        assert_eq!(
            key("We cannot accept the EU amendment to paragraph 5").as_deref(),
            Some("amendment by european union")
        );
        assert_eq!(
            key("the amendment proposed by the European Union").as_deref(),
            Some("amendment by european union")
        );
        assert_eq!(
            key("We can live with the Chair's text.").as_deref(),
            Some("text by chair")
        );
    }

    #[test]
    fn nothing_named_gives_no_target() {
        assert_eq!(key("We can go along with that."), None);
        assert_eq!(key("Thank you, Chair. We support it."), None);
        assert_eq!(key("We support the proposal."), None);
    }
}
