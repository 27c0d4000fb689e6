//! Naming speakers from the floor: in a multilateral meeting the chair says who speaks next
//! ("I now give the floor to the representative of Ukraine", "Mexico, you have the floor",
//! "Je donne la parole au représentant du Japon", "Tiene la palabra la delegación de México"),
//! so the speaker of the next turn is that delegation, without any enrolled voice.
//!
//! Precision comes before recall: a wrong name is worse than none. A cue counts only when it
//! hands over the floor now (not "before I give the floor to Egypt, let me remind you..." nor
//! "I will give the floor to Kenya after the break"), a delegation's name alone ("Japan?",
//! "Thank you. Brazil.") counts only from the speaker whose explicit cues make them the chair,
//! and a speaker whose cues disagree takes the delegation most of them give (none on a tie).
//! Authority runs `--names` > enrolled voices > floor cues: a speaker an enrolled voice or a
//! names file already named keeps that name, and only takes the delegation when it has none.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use regex::Regex;

use crate::parties::{self, Party, Token};
use crate::sentences;
use crate::transcript::{FloorCue, FloorNaming, FloorRole, Transcript};

/// Cues of the chair kept as evidence that they chair (they give dozens in a long meeting).
const CHAIR_EVIDENCE: usize = 3;

/// Names called alone that make a speaker the chair when no one gives the floor explicitly.
const BARE_CHAIR_MIN: usize = 3;

/// How sure a cue is: an explicit phrase of handing over, or a delegation's name alone, which
/// is a cue only in the chair's mouth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strength {
    Explicit,
    Bare,
}

#[derive(Debug, Clone)]
struct Cue {
    party: Party,
    strength: Strength,
    segment: usize,
    start: f64,
    quote: String,
    by: String,
}

/// Words that may stand between a cue and the delegation's name: articles, courtesy, titles
/// and the roles a delegation is given the floor as ("the distinguished representative of").
const TITLE_WORDS: &[&str] = &[
    "the",
    "a",
    "an",
    "of",
    "from",
    "for",
    "distinguished",
    "honourable",
    "honorable",
    "esteemed",
    "respected",
    "dear",
    "representative",
    "representatives",
    "delegate",
    "delegates",
    "delegation",
    "observer",
    "ambassador",
    "permanent",
    "minister",
    "foreign",
    "head",
    "mr",
    "mrs",
    "ms",
    "madam",
    "madame",
    "mister",
    "sir",
    "excellency",
    "his",
    "her",
    "colleague",
    "colleagues",
    "friend",
    "friends",
    "our",
    "my",
    "speaker",
    "delegations",
    "affairs",
    "secretary",
    "state",
    "prime",
    "deputy",
    "vice",
    "external",
    "relations",
    "now",
    "then",
    "therefore",
    "first",
    "again",
    // French
    "le",
    "la",
    "l'",
    "les",
    "au",
    "aux",
    "du",
    "de",
    "des",
    "d'",
    "a",
    "representant",
    "representante",
    "delegue",
    "deleguee",
    "observateur",
    "observatrice",
    "ambassadeur",
    "ambassadrice",
    "ministre",
    "monsieur",
    "chef",
    "distingue",
    "distinguee",
    "cher",
    "chere",
    "son",
    "excellence",
    "mme",
    "m",
    "affaires",
    "etrangeres",
    "maintenant",
    "donc",
    "ensuite",
    "abord",
    "d'abord",
    // Spanish
    "el",
    "los",
    "las",
    "del",
    "al",
    "distinguido",
    "distinguida",
    "delegado",
    "delegada",
    "delegacion",
    "observador",
    "observadora",
    "embajador",
    "embajadora",
    "senor",
    "senora",
    "ministro",
    "ministra",
    "jefe",
    "jefa",
    "estimado",
    "estimada",
    "excelentisimo",
    "entonces",
    "ahora",
    "relaciones",
    "exteriores",
    "asuntos",
    "su",
    "excelencia",
];

/// Words that may open a sentence before the delegation's name: "Thank you. Brazil.",
/// "Okay, Norway, please".
const LEAD_WORDS: &[&str] = &[
    "thank",
    "thanks",
    "you",
    "very",
    "much",
    "ok",
    "okay",
    "so",
    "now",
    "and",
    "next",
    "yes",
    "right",
    "well",
    "merci",
    "beaucoup",
    "bien",
    "alors",
    "maintenant",
    "gracias",
    "muchas",
    "bueno",
    "ahora",
    "muy",
    "then",
    "first",
    "sorry",
    "pardon",
    "luego",
    "primero",
    "ensuite",
    "d'abord",
    "abord",
    "d'",
];

/// Words that may follow the name in a cue: "please", and a delegate's first words.
const TAIL_WORDS: &[&str] = &[
    "please", "s'", "il", "vous", "plait", "por", "favor", "go", "ahead", "again", "first", "d'",
    "abord", "adelante", "primero",
];

/// What may follow a delegation's name called alone, and everything after it: "Australia, on
/// behalf of the Umbrella Group, please", "Le Ghana, au nom du Groupe africain".
const ON_BEHALF: &[&[&str]] = &[
    &["on", "behalf"],
    &["au", "nom"],
    &["en", "nombre"],
    &["speaking", "for"],
];

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid floor pattern")
}

struct Patterns {
    /// The delegation follows: "I give the floor to ...", "La parole est à ...".
    after: Regex,
    /// The same after verbs that also take other objects ("I call on Russia to withdraw"):
    /// the name must end the sentence or be followed by taking the floor.
    after_guarded: Regex,
    /// What may follow the name after a guarded verb.
    guarded_tail: Regex,
    /// The delegation comes first: "... , you have the floor", "... tiene la palabra".
    before: Regex,
    /// Not handing over now: "before I give the floor to", "after the break", "will not".
    not_now: Regex,
    /// How delegates address the chair, to call them Chair or President.
    address: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        after: re(concat!(
            r"(?i)\b(?:",
            // English
            r"(?:give|giving|pass|passing|hand|handing|yield|yielding|cede|return|give\s+back)\s+(?:the\s+floor|the\s+word)\s+(?:now\s+|back\s+|over\s+)?to",
            r"|the\s+floor\s+(?:is\s+(?:now\s+)?(?:given\s+to|with)|goes\s+to|passes\s+to|now\s+goes\s+to)",
            r"|(?:next|first|following|last)\s+(?:speaker\s+)?(?:on\s+(?:my|the|our)\s+list\s+)?is",
            r"|you\s+have\s+the\s+floor,",
            r"|the\s+floor\s+is\s+yours,",
            // French
            r"|(?:donne|passe|cede|redonne|laisse|rends)\s+(?:[\w']+\s+){0,2}?la\s+parole",
            r"|la\s+parole\s+est\s+(?:maintenant\s+|a\s+present\s+|donc\s+)?(?:a|au|aux)(?:\s|$)",
            r"|vous\s+avez\s+la\s+parole,",
            // Spanish
            r"|(?:doy|cedo|concedo|paso|otorgo|damos|cederle|darle)\s+(?:\w+\s+){0,2}?(?:el\s+uso\s+de\s+)?la\s+palabra",
            r"|tiene\s+(?:ahora\s+)?(?:el\s+uso\s+de\s+)?la\s+palabra",
            r"|tiene\s+usted\s+la\s+palabra,",
            r")\s*"
        )),
        after_guarded: re(concat!(
            r"(?i)\b(?:",
            r"(?:call|calling)\s+(?:up)?on|recogni[sz]e|invite|i\s+see|turn\s+(?:now\s+)?to|over\s+to\s+(?:you,?\s+)?",
            r"|j'invite\s+(?:maintenant\s+|a\s+present\s+)?|je\s+vois",
            r"|invito\s+(?:ahora\s+)?|(?:le\s+)?pido\s+a|veo\s+a",
            r")\s*"
        )),
        guarded_tail: re(concat!(
            r"(?i)^\s*(?:$|[,.;:?!]|to\s+(?:take\s+the\s+floor|speak|address|make|deliver|present|introduce|reply|respond|take\s+the\s+floor)",
            r"|on\s+behalf|in\s+exercise|who\b|next\b|please\b",
            r"|a\s+prendre\s+la\s+parole|pour\s+(?:sa|son|une)\s+(?:declaration|intervention)|au\s+nom",
            r"|a\s+(?:tomar|hacer\s+uso\s+de)\s+la\s+palabra|en\s+nombre|por\s+favor)"
        )),
        before: re(concat!(
            r"(?i)(?:",
            r",?\s+(?:you\s+have|has|now\s+has)\s+the\s+floor\b",
            r"|,?\s+(?:the\s+floor\s+is\s+yours|you\s+are\s+next|is\s+next|go\s+ahead)\b",
            r"|\s+(?:has|have)\s+(?:asked|requested)\s+(?:for\s+)?(?:the\s+floor|the\s+right\s+of\s+reply|to\s+(?:speak|take\s+the\s+floor|make\s+a\s+statement|exercise|reply))",
            r"|\s+(?:wishes|wish)\s+to\s+(?:speak|take\s+the\s+floor|exercise|reply)",
            r"|,?\s+vous\s+avez\s+(?:maintenant\s+)?la\s+parole\b|\s+a\s+(?:maintenant\s+)?la\s+parole\b",
            r"|\s+(?:a|ont)\s+demande\s+(?:a\s+prendre\s+)?la\s+parole|\s+(?:a|ont)\s+demande\s+a\s+(?:exercer|repondre|intervenir)",
            r"|\s+demande(?:nt)?\s+(?:a\s+prendre\s+)?la\s+parole|\s+souhaite(?:nt)?\s+(?:egalement\s+|aussi\s+)?(?:prendre\s+la\s+parole|exercer|intervenir|repondre|reprendre)",
            r"|,?\s+(?:usted\s+)?tiene\s+(?:usted\s+)?(?:ahora\s+)?(?:el\s+uso\s+de\s+)?la\s+palabra\b",
            r"|\s+(?:ha|han)\s+(?:pedido|solicitado)\s+(?:el\s+uso\s+de\s+)?la\s+palabra|\s+desea\s+(?:hacer\s+uso\s+de|tomar)\s+la\s+palabra",
            r"|\s+(?:ha|han)\s+(?:vuelto\s+a\s+)?(?:pedir|pedido|solicitar|solicitado)\s+(?:el\s+uso\s+de\s+)?la\s+palabra|\s+desea\s+(?:intervenir|responder)",
            r")"
        )),
        not_now: re(concat!(
            r"(?i)(?:^\s*(?:before|after|when|once|as\s+soon\s+as|if|unless|avant\s+de|avant\s+que|apres|des\s+que|quand|lorsque|antes\s+de|despues\s+de|cuando|una\s+vez|si)\b",
            r"|\b(?:later|tomorrow|this\s+afternoon|after\s+the|following\s+the|next\s+(?:meeting|session|week)|at\s+the\s+end|in\s+a\s+(?:moment|minute)",
            r"|plus\s+tard|demain|apres\s+la|mas\s+tarde|manana|despues\s+de\s+la",
            r"|not|cannot|can't|won't|will\s+not|unable|ne\s+\w+\s+pas|no\s+(?:puedo|voy|doy|cedo))\b)"
        )),
        address: re(concat!(
            r"(?i)\b(?:mr\.?|mister|madam|madame|monsieur\s+le|madame\s+la|senor|senora|excelentisimo\s+senor)\s+",
            r"(?P<title>president|presidente|presidenta|chair|chairman|chairwoman|chairperson|co-chair|vice-chair)\b"
        )),
    })
}

/// Hesitations in speech recognised without punctuation ("uh kenya you have the floor"): they
/// may stand anywhere a courtesy or title may.
const HESITATIONS: &[&str] = &["uh", "um", "er", "erm", "euh", "eh", "ehm"];

fn word_in(t: &Token, set: &[&str]) -> bool {
    set.contains(&t.folded.as_str()) || HESITATIONS.contains(&t.folded.as_str())
}

/// The party named at token `i`, or after titles from there ("the distinguished
/// representative of"), its name starting no later than token `last`: the party and the index
/// of the token just after its name.
fn titled_party(u: &str, toks: &[Token], i: usize, last: usize) -> Option<(Party, usize)> {
    let mut j = i;
    while j <= last {
        if let Some((party, n)) = parties::party_at(u, toks, j) {
            return Some((party, j + n));
        }
        if !word_in(&toks[j], TITLE_WORDS) {
            return None;
        }
        j += 1;
    }
    None
}

/// The delegation named from byte `from` of `u` on, through titles, and the byte where its
/// name ends.
fn delegation_from(u: &str, toks: &[Token], from: usize) -> Option<(Party, usize)> {
    let first = toks.iter().position(|t| t.start >= from)?;
    let last = (first + 13).min(toks.len() - 1);
    titled_party(u, toks, first, last).map(|(party, after)| (party, toks[after - 1].end))
}

/// Whether the words from `i` on are a delegation's tail: courtesies ("please"), or "on
/// behalf of ..." and whatever follows.
fn is_tail(toks: &[Token], i: usize, last: usize) -> bool {
    let mut j = i;
    while j <= last {
        if ON_BEHALF.iter().any(|phrase| {
            phrase
                .iter()
                .enumerate()
                .all(|(k, w)| toks.get(j + k).is_some_and(|t| t.folded == *w))
        }) {
            return true;
        }
        if !word_in(&toks[j], TAIL_WORDS) {
            return false;
        }
        j += 1;
    }
    true
}

/// The delegation `u[from..to]` is, when it is nothing but one (with titles before it and
/// courtesies before those): "Thank you. Brazil", "The representative of Armenia".
fn delegation_exactly(u: &str, toks: &[Token], from: usize, to: usize) -> Option<Party> {
    let inside: Vec<usize> = (0..toks.len())
        .filter(|&i| toks[i].start >= from && toks[i].end <= to)
        .collect();
    let (&first, &last) = (inside.first()?, inside.last()?);
    let mut i = first;
    while i <= last && word_in(&toks[i], LEAD_WORDS) {
        i += 1;
    }
    let (party, after) = titled_party(u, toks, i, last)?;
    is_tail(toks, after, last).then_some(party)
}

/// The delegation whose name (with its titles) ends where a "... you have the floor" begins,
/// at byte `end` of `u`, when it opens its clause: the sentence's start, a comma or other
/// mark before it, or courtesies ("okay uh united states you have the floor", "En attendant,
/// la France a la parole").
fn delegation_ending_at(u: &str, toks: &[Token], end: usize) -> Option<Party> {
    let last = toks.iter().rposition(|t| t.end <= end)?;
    if u[toks[last].end..end].trim().trim_end_matches(',').trim() != "" {
        return None;
    }
    // The longest name ending at `last`.
    let (party, first) = (last.saturating_sub(8)..=last).find_map(|i| {
        parties::party_at(u, toks, i)
            .filter(|(_, n)| i + n - 1 == last)
            .map(|(p, _)| (p, i))
    })?;
    let mut i = first;
    while i > 0 && word_in(&toks[i - 1], TITLE_WORDS) {
        i -= 1;
    }
    let opens_clause = i == 0
        || u[toks[i - 1].end..toks[i].start].contains([',', '.', ';', ':', '!', '?'])
        || (0..i).all(|j| word_in(&toks[j], LEAD_WORDS));
    opens_clause.then_some(party)
}

/// The delegation one sentence gives the floor to, if it does.
fn cue_in(sentence: &str) -> Option<(Party, Strength)> {
    let p = patterns();
    let u = parties::plain(sentence);
    if p.not_now.is_match(&u) {
        return None;
    }
    let toks = parties::tokens(&u);
    // The last hand-over of a sentence is the one that holds.
    let mut found: Option<(usize, Party)> = None;
    let mut note = |at: usize, party: Party| {
        if found.is_none_or(|(a, _)| at >= a) {
            found = Some((at, party));
        }
    };
    for m in p.after.find_iter(&u) {
        if let Some((party, _)) = delegation_from(&u, &toks, m.end()) {
            note(m.start(), party);
        }
    }
    for m in p.after_guarded.find_iter(&u) {
        if let Some((party, end)) = delegation_from(&u, &toks, m.end()) {
            if p.guarded_tail.is_match(&u[end..]) {
                note(m.start(), party);
            }
        }
    }
    for m in p.before.find_iter(&u) {
        if let Some(party) = delegation_ending_at(&u, &toks, m.start()) {
            note(m.start(), party);
        }
    }
    if let Some((_, party)) = found {
        return Some((party, Strength::Explicit));
    }
    // A name alone: "Japan?", "Norway, please.", "Thank you. Brazil." But "Thank you, Japan"
    // thanks the last speaker rather than calling the next.
    let thanks = toks
        .iter()
        .take_while(|t| word_in(t, LEAD_WORDS))
        .any(|t| matches!(t.folded.as_str(), "thank" | "thanks" | "merci" | "gracias"));
    if thanks {
        return None;
    }
    delegation_exactly(&u, &toks, 0, u.len()).map(|party| (party, Strength::Bare))
}

/// One speaker's consecutive segments: who, and their sentences with segment and time.
struct FloorTurn {
    speaker: String,
    cues: Vec<Cue>,
}

fn turns_of(t: &Transcript) -> Vec<FloorTurn> {
    let mut turns: Vec<FloorTurn> = Vec::new();
    for seg in &t.segments {
        let Some(speaker) = seg.speaker.as_deref() else {
            continue;
        };
        if turns.last().is_none_or(|l| l.speaker != speaker) {
            turns.push(FloorTurn {
                speaker: speaker.to_string(),
                cues: Vec::new(),
            });
        }
        let turn = turns.last_mut().expect("just pushed");
        let text = seg.english_text();
        // Cues are read in the language spoken: the original text, not its translation.
        let text = if seg.text.trim().is_empty() {
            text
        } else {
            seg.text.as_str()
        };
        for (a, b) in sentences::split(text) {
            if let Some((party, strength)) = cue_in(&text[a..b]) {
                turn.cues.push(Cue {
                    party,
                    strength,
                    segment: seg.id,
                    start: sentence_start(seg, a),
                    quote: text[a..b].to_string(),
                    by: speaker.to_string(),
                });
            }
        }
    }
    turns
}

/// When the sentence starting at byte `at` of a segment's text began: the time of the word it
/// starts with, counting words, else the segment's start.
fn sentence_start(seg: &crate::transcript::Segment, at: usize) -> f64 {
    let before = seg
        .text
        .get(..at)
        .map_or(0, |s| s.split_whitespace().count());
    seg.words.get(before).map_or(seg.start, |w| w.start)
}

/// Who gave the floor to whom: each cue goes to the next turn of another speaker, unless the
/// one who gave it gives another first.
fn hand_overs(turns: &[FloorTurn], chair: &str) -> Vec<(String, Cue)> {
    let mut out = Vec::new();
    let mut pending: Option<Cue> = None;
    for turn in turns {
        if let Some(cue) = pending.take() {
            if turn.speaker != cue.by {
                out.push((turn.speaker.clone(), cue));
            } else {
                pending = Some(cue);
            }
        }
        let mut usable = turn
            .cues
            .iter()
            .filter(|c| c.strength == Strength::Explicit || c.by == chair);
        if let Some(last) = usable.next_back() {
            pending = Some(last.clone());
        }
    }
    out
}

fn evidence(c: &Cue) -> FloorCue {
    FloorCue {
        segment: c.segment,
        start: c.start,
        quote: c.quote.clone(),
        delegation: c.party.name.to_string(),
    }
}

/// A label a diarizer or a transcript gives a speaker it cannot name: "S2", "SPEAKER_01",
/// "Speaker 3".
pub fn is_anonymous(label: &str) -> bool {
    static ANON: OnceLock<Regex> = OnceLock::new();
    ANON.get_or_init(|| re(r"(?i)^(?:s|spk|speaker|speaker_|spkr|unknown|voice)[ _-]?\d*$"))
        .is_match(label.trim())
}

/// Name the speakers of `t` from the chair's cues, and record each naming with its evidence in
/// `t.floor`. A speaker keeps a name it already has (from an enrolled voice, a names file or
/// the transcript it was read from) and only takes the delegation. Returns notes for the
/// user (cues that disagree).
pub fn name_from_floor(t: &mut Transcript) -> Vec<String> {
    let turns = turns_of(t);
    let explicit = turns
        .iter()
        .flat_map(|t| &t.cues)
        .filter(|c| c.strength == Strength::Explicit);
    let mut given: BTreeMap<&str, usize> = BTreeMap::new();
    for c in explicit {
        *given.entry(c.by.as_str()).or_default() += 1;
    }
    if given.is_empty() {
        // A chair who only calls names ("Sweden, please." "France."): one speaker calling a
        // name that another speaker then follows, at least three times and twice as often as
        // anyone else.
        for k in 0..turns.len().saturating_sub(1) {
            let (this, next) = (&turns[k], &turns[k + 1]);
            if this.speaker != next.speaker && this.cues.last().is_some() {
                *given.entry(this.speaker.as_str()).or_default() += 1;
            }
        }
        let mut counts: Vec<usize> = given.values().copied().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let clear = counts.first().is_some_and(|&top| {
            top >= BARE_CHAIR_MIN && counts.get(1).is_none_or(|&second| top >= 2 * second)
        });
        if !clear {
            return Vec::new();
        }
    }
    let Some((chair, _)) = given
        .iter()
        .max_by_key(|(label, n)| (**n, std::cmp::Reverse(*label)))
        .map(|(l, n)| (l.to_string(), *n))
    else {
        return Vec::new();
    };
    let handed = hand_overs(&turns, &chair);
    let mut votes: BTreeMap<String, Vec<Cue>> = BTreeMap::new();
    for (speaker, cue) in handed {
        if speaker != chair {
            votes.entry(speaker).or_default().push(cue);
        }
    }
    let mut namings = Vec::new();
    let mut notes = Vec::new();
    // The chair: named as the room addresses them.
    let chair_cues: Vec<&Cue> = turns
        .iter()
        .filter(|t| t.speaker == chair)
        .flat_map(|t| &t.cues)
        .collect();
    namings.push(FloorNaming {
        speaker: chair.clone(),
        renamed_from: None,
        role: FloorRole::Chair,
        name: chair_title(t, &chair).into(),
        key: None,
        applied: false,
        cues: chair_cues
            .iter()
            .take(CHAIR_EVIDENCE)
            .map(|c| evidence(c))
            .collect(),
        cue_count: chair_cues.len(),
        disagreements: Vec::new(),
    });
    for (speaker, cues) in votes {
        let mut count: HashMap<&str, usize> = HashMap::new();
        for c in &cues {
            *count.entry(c.party.key).or_default() += 1;
        }
        let top = count.values().copied().max().unwrap_or(0);
        let winners: Vec<&str> = count
            .iter()
            .filter(|(_, n)| **n == top)
            .map(|(k, _)| *k)
            .collect();
        if winners.len() != 1 {
            notes.push(format!(
                "floor: {speaker} was given the floor as {} equally often; not named",
                cues.iter()
                    .map(|c| c.party.name)
                    .collect::<Vec<_>>()
                    .join(" and ")
            ));
            continue;
        }
        let key = winners[0];
        let (agree, disagree): (Vec<&Cue>, Vec<&Cue>) =
            cues.iter().partition(|c| c.party.key == key);
        let party = agree[0].party;
        if !disagree.is_empty() {
            notes.push(format!(
                "floor: {speaker} was given the floor {} times as {} and {} times otherwise ({}); named {}",
                agree.len(),
                party.name,
                disagree.len(),
                disagree
                    .iter()
                    .map(|c| c.party.name)
                    .collect::<Vec<_>>()
                    .join(", "),
                party.name
            ));
        }
        namings.push(FloorNaming {
            speaker,
            renamed_from: None,
            role: FloorRole::Delegation,
            name: party.name.into(),
            key: Some(party.key.into()),
            applied: false,
            cue_count: agree.len(),
            cues: agree.iter().map(|c| evidence(c)).collect(),
            disagreements: disagree.iter().map(|c| evidence(c)).collect(),
        });
    }
    apply(t, &mut namings);
    t.floor = namings;
    notes
}

/// "President" when the room addresses the chair so more often than as "Chair".
fn chair_title(t: &Transcript, chair: &str) -> &'static str {
    let p = patterns();
    let (mut president, mut chairs) = (0, 0);
    for seg in &t.segments {
        if seg.speaker.as_deref() == Some(chair) {
            continue;
        }
        for c in p.address.captures_iter(&parties::plain(&seg.text)) {
            if c["title"].to_lowercase().starts_with("presiden") {
                president += 1;
            } else {
                chairs += 1;
            }
        }
    }
    if president > chairs {
        "President"
    } else {
        "Chair"
    }
}

/// Give each naming's name to its speaker where the speaker has no better one, and its
/// delegation where the speaker has none.
fn apply(t: &mut Transcript, namings: &mut [FloorNaming]) {
    let mut taken: Vec<String> = t
        .segments
        .iter()
        .filter_map(|s| s.speaker.clone())
        .chain(
            t.diarization
                .iter()
                .flat_map(|d| d.speakers.iter().map(|s| s.label.clone())),
        )
        .collect();
    let mut renames = Vec::new();
    for n in namings.iter_mut() {
        let speaker = t
            .diarization
            .as_ref()
            .and_then(|d| d.speakers.iter().find(|s| s.label == n.speaker));
        // A diarized speaker is unnamed while its label is its id and no voice matched; a
        // speaker read from text while its label is a placeholder.
        let unnamed = match speaker {
            Some(s) => s.voice.is_none() && s.label == s.id && is_anonymous(&s.label),
            None => is_anonymous(&n.speaker),
        };
        if n.role == FloorRole::Delegation {
            if let Some(d) = t.diarization.as_mut() {
                if let Some(s) = d.speakers.iter_mut().find(|s| s.label == n.speaker) {
                    if s.delegation.is_none() {
                        s.delegation = Some(n.name.clone());
                    }
                }
            }
        }
        if unnamed {
            let label = if taken.iter().any(|l| l == &n.name) {
                format!("{} ({})", n.name, n.speaker)
            } else {
                n.name.clone()
            };
            taken.push(label.clone());
            renames.push((n.speaker.clone(), label.clone()));
            n.renamed_from = Some(std::mem::replace(&mut n.speaker, label));
            n.applied = true;
        }
    }
    if let Some(d) = t.diarization.as_mut() {
        for s in &mut d.speakers {
            if let Some((_, new)) = renames.iter().find(|(old, _)| *old == s.label) {
                s.label = new.clone();
            }
        }
    }
    super::names::rename_everywhere(t, &renames);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(s: &str) -> Option<(&'static str, Strength)> {
        cue_in(s).map(|(p, st)| (p.key, st))
    }

    #[test]
    fn hand_overs_in_three_languages() {
        let explicit = [
            ("I now give the floor to the representative of Ukraine.", "ukraine"),
            ("Mexico, you have the floor.", "mexico"),
            ("Norway, please.", "norway"),
            ("I see the European Union.", "european union"),
            ("The next speaker on my list is India.", "india"),
            ("I now invite Switzerland to take the floor.", "switzerland"),
            ("Colombia has the floor.", "colombia"),
            ("I call on the observer of the State of Palestine.", "state of palestine"),
            ("Je donne la parole au représentant du Japon.", "japan"),
            ("La parole est à la délégation de l'Algérie.", "algeria"),
            ("Monsieur le représentant du Sénégal, vous avez la parole.", "senegal"),
            ("J'invite maintenant la Suisse à prendre la parole.", "switzerland"),
            ("Tiene la palabra la delegación de México.", "mexico"),
            ("Doy la palabra al representante de Cuba.", "cuba"),
            ("Colombia, tiene usted la palabra.", "colombia"),
            (
                "The representative of Armenia has asked to speak in exercise of the right of reply.",
                "armenia",
            ),
            ("Let me give the floor to Germany on behalf of the European Union.", "germany"),
            ("La France souhaite exercer son droit de réponse.", "france"),
            ("uh the republic of korea has asked for the right of reply uh you have the floor", "republic of korea"),
            ("Je donne la parole à Son Excellence Monsieur le Ministre des affaires étrangères du Luxembourg.", "luxembourg"),
            ("Australia, on behalf of the Umbrella Group, please.", "australia"),
            ("Doy la palabra entonces a la delegación de El Salvador.", "el salvador"),
        ];
        for (s, key) in explicit {
            let found = cue(s);
            assert!(found.is_some(), "{s}");
            assert_eq!(found.unwrap().0, key, "{s}");
        }
        assert_eq!(cue("Japan?"), Some(("japan", Strength::Bare)));
        assert_eq!(cue("Brazil."), Some(("brazil", Strength::Bare)));
        assert_eq!(cue("Thank you, Japan."), None);
    }

    #[test]
    fn mentions_are_not_cues() {
        for s in [
            "Before I give the floor to Egypt, let me remind you of the time limit.",
            "Egypt aligns itself with the statement delivered by the Group of 77 and China.",
            "We support the proposal of Switzerland.",
            "As the representative of France said earlier, the text is balanced.",
            "I will give the floor to Kenya after the coffee break.",
            "I thank the representative of India for her statement.",
            "We call on the Russian Federation to withdraw its forces.",
            "I have Brazil, then Argentina, then Chile on my list.",
            "We invite Japan to reconsider its position.",
            "The floor is now open for comments.",
        ] {
            assert_eq!(cue(s).map(|c| c.0), None, "{s}");
        }
    }
}
