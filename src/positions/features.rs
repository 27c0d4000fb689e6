//! Cheap signals read from the words themselves, given to the classifier beside the sentence
//! embedding: MiniLM sees meaning but is weak on form (a question mark, a "subject to", a "not").
//! Each is 0 or 1 except the length; the head learns how much each matters.

use std::sync::OnceLock;

use regex::Regex;

/// Names of the signals, in the order of [`signals`]'s output (recorded in the head's metadata).
pub const NAMES: [&str; 16] = [
    "question_mark",
    "interrogative_start",
    "condition",
    "negation",
    "proposal_verb",
    "support_verb",
    "opposition_word",
    "flexibility",
    "chairing",
    "thanks_only",
    "first_person_plural",
    "information_request",
    "no_objection",
    "condemnation",
    "names_a_party",
    "log_words",
];

pub const COUNT: usize = NAMES.len();

struct Patterns {
    interrogative: Regex,
    condition: Regex,
    negation: Regex,
    proposal: Regex,
    support: Regex,
    opposition: Regex,
    flexibility: Regex,
    chairing: Regex,
    thanks_only: Regex,
    we: Regex,
    information: Regex,
    no_objection: Regex,
    condemnation: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |s: &str| Regex::new(s).expect("signal pattern compiles");
        Patterns {
            interrogative: re(r"(?i)^\W*(?:(?:uh|um|so|and|but|chair|madam chair|mr\.? chair|sorry)\W+)*(?:what|why|how|when|where|who|whom|which|whose|is|are|was|were|does|do|did|can|could|would|will|should|shall|may|might|has|have|had)\b"),
            condition: re(r"(?i)\b(?:provided\s+that|providing\s+that|subject\s+to|on\s+condition|conditional|on\s+the\s+understanding|with\s+the\s+understanding|as\s+long\s+as|only\s+if|if|unless|reserve|reservation|ad\s+referendum|consult\s+(?:with\s+)?(?:our\s+)?capital|instructions|scrutiny|not\s+yet\s+in\s+a\s+position|pending)\b"),
            negation: re(r"(?i)\b(?:not|no|cannot|can't|cant|won't|don't|doesn't|isn't|aren't|unable|never|neither|nor|nothing|without)\b|n't\b"),
            proposal: re(r"(?i)\b(?:propose|proposes|proposing|suggest|suggests|suggesting|insert|inserting|delete|deleting|replace|replacing|add|adding|amend|reformulate|rephrase|move\s+to|how\s+about|what\s+if|let\s+us|let's|why\s+don't\s+we|could\s+we|can\s+we|shall\s+we|we\s+could|one\s+way\s+forward|way\s+forward|would\s+you\s+(?:like|consider|be\s+willing)|would\s+you\s+be)\b"),
            support: re(r"(?i)\b(?:support|supports|supported|agree|agrees|agreed|welcome|welcomes|align|aligns|endorse|endorses|co-sponsor|cosponsor|favour|favor|concur|fine\s+with|happy\s+with|comfortable\s+with|good\s+idea|great\s+idea)\b"),
            opposition: re(r"(?i)\b(?:(?:cannot|can\s*not|can't|could\s+not|couldn't|unable\s+to|not\s+in\s+a\s+position\s+to|will\s+not|won't)\s+(?:\w+\s+)?(?:accept|support|agree|endorse|join|go\s+along)|vote\s+against|oppose|opposes|opposed|object|objects|objection|reject|rejects|unacceptable|not\s+acceptable|difficult|difficulty|difficulties|concern|concerns|concerned|problem|problematic|red\s+line|non-starter|unbalanced|regret|disagree|against)\b"),
            flexibility: re(r"(?i)\b(?:compromise|flexibility|flexible|live\s+with|go\s+along|withdraw|withdraws|withdrawn|not\s+block|not\s+stand\s+in\s+the\s+way|spirit\s+of|for\s+the\s+sake\s+of|consensus|accommodate|meet\s+(?:you|them)\s+halfway|can\s+accept|could\s+accept|although|reluctantly|if\s+(?:that|it|this)\s+helps|to\s+help\s+(?:the\s+)?(?:process|consensus)|we\s+can\s+(?:drop|delete|remove)|(?:drop|withdraw)\s+our)\b"),
            chairing: re(r"(?i)\b(?:floor|agenda|adjourn|adjourned|break|minutes|speakers?\s+list|next\s+speaker|point\s+of\s+order|recognise|recognize|session|meeting|reconvene|resume|closed|open|item|moving\s+on|move\s+on|let\s+us\s+turn|turn\s+to|coffee|lunch|time)\b"),
            thanks_only: re(r"(?i)^\W*(?:(?:thank\s+you|thanks|many\s+thanks|merci)\W*(?:(?:very|so)\s+much\W*)?(?:(?:mr\.?|madam|madame|mister)?\s*(?:co-)?(?:chair|president|chairman|chairperson|facilitator|co-facilitator|colleagues?)\W*)?)+$"),
            we: re(r"(?i)\b(?:we|our|us|my\s+delegation|this\s+delegation)\b"),
            information: re(r"(?i)\b(?:clarify|clarification|explain|elaborate|tell\s+us|inform\s+us|what\s+is\s+meant|what\s+do\s+you\s+mean|how\s+(?:much|many|long|often)|whether|what|which|when|where|who|why)\b"),
            // Judging another's conduct: what criticism says and a proposal's rejection does not.
            condemnation: re(r"(?i)\b(?:condemn\w*|deplor\w*|denounc\w*|accus\w*|blam\w*|violat\w*|illegal\w*|unlawful|illegitimate|invalid|aggression|aggressor|occupation|occupying|invasion|invad\w*|atrocit\w*|crimes?|hypocri\w*|pretext\w*|lies|lying|false(?:ly)?|fail(?:s|ed|ure)?|disregard\w*|flout\w*|undermin\w*|provocat\w*|irresponsib\w*|must\s+(?:stop|cease|end|withdraw|pull\s+back|comply|respect|release|halt)|is\s+seeking\s+to|attempts?\s+to\s+impose|so-called|disappoint\w*|shameful|outrageous|unjustifi\w*|runs?\s+counter)\b"),
            no_objection: re(r"(?i)\b(?:no\s+objections?|(?:do|does|did)\s*(?:not|n't)\s+object|not\s+(?:object|oppose)|(?:do|does)\s*(?:not|n't)\s+oppose|no\s+(?:difficulty|difficulties|problem|problems)\s+with|can\s+(?:agree|support|accept))\b"),
        }
    })
}

/// The signals of one text.
pub fn signals(text: &str) -> [f32; COUNT] {
    let p = patterns();
    let t = text.trim();
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let words = t.split_whitespace().count();
    [
        flag(
            t.trim_end_matches(['"', '\'', ')', '\u{201d}'])
                .ends_with('?')
                || t.contains("? "),
        ),
        flag(p.interrogative.is_match(t)),
        flag(p.condition.is_match(t)),
        flag(p.negation.is_match(t)),
        flag(p.proposal.is_match(t)),
        flag(p.support.is_match(t)),
        flag(p.opposition.is_match(t)),
        flag(p.flexibility.is_match(t)),
        flag(p.chairing.is_match(t)),
        flag(p.thanks_only.is_match(t)),
        flag(p.we.is_match(t)),
        flag(p.information.is_match(t)),
        flag(p.no_objection.is_match(t)),
        flag(p.condemnation.is_match(t)),
        flag(!crate::parties::find_all(t).is_empty()),
        ((1 + words) as f32).ln() / 5.0,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(text: &str, name: &str) -> bool {
        let i = NAMES.iter().position(|n| *n == name).unwrap();
        signals(text)[i] > 0.5
    }

    #[test]
    fn signals_fire_on_their_forms() {
        assert!(on("Could the secretariat clarify?", "question_mark"));
        assert!(on("Could the secretariat clarify", "interrogative_start"));
        assert!(on("uh so what is meant by this", "interrogative_start"));
        assert!(!on("We could clarify", "interrogative_start"));
        assert!(on("subject to the outcome on paragraph 7", "condition"));
        assert!(on("We can't accept it", "negation"));
        assert!(on("Thank you, Madam Chair.", "thanks_only"));
        assert!(on("thank you very much chair", "thanks_only"));
        assert!(!on("Thank you, Chair. We support it.", "thanks_only"));
        assert!(on(
            "Could France clarify whether it applies?",
            "information_request"
        ));
        assert!(on("No objection, Chair.", "no_objection"));
        assert!(on("we don't object to that", "no_objection"));
        assert!(on(
            "Russia must pull back its forces to their bases.",
            "condemnation"
        ));
        assert!(on(
            "Russia must pull back its forces to their bases.",
            "names_a_party"
        ));
        assert!(!on("We support paragraph 3.", "names_a_party"));
    }
}
