//! Delegations by name: the 193 UN member states, the two observer states and the groups that
//! speak in negotiations, each with one key however it is named — "the Russian Federation",
//! "Russia", "Moscow", "la Fédération de Russie" are all `russian federation`.
//!
//! Shared by the stages that read names in text (floor cues in `speakers`, party targets in
//! `positions`, proposal owners in `summary`), so the same delegation groups everywhere.

mod table;

use std::collections::HashMap;
use std::sync::OnceLock;

/// A delegation: its key (lower case, unaccented, what groups it) and its English name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Party {
    pub key: &'static str,
    pub name: &'static str,
}

/// A name of a party found in a text: its byte range there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    pub party: Party,
}

/// A word of a text as the matcher sees it: folded (lower case, no accents), with where it was.
#[derive(Debug, Clone)]
pub struct Token {
    pub folded: String,
    pub start: usize,
    pub end: usize,
}

/// Lower case without accents, as names are compared ("Côte d’Ivoire" -> "cote d'ivoire").
pub fn fold(text: &str) -> String {
    plain(&text.to_lowercase())
}

/// The text without accents, in its own case ("Côte d’Ivoire" -> "Cote d'Ivoire"): what
/// patterns read, so that acronyms keep their capitals.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match unaccent(c) {
            Some(plain) => out.push_str(plain),
            None if c.is_uppercase() => {
                // "É" is "E": the lower-case letter's plain form, in capitals.
                let lower: String = c.to_lowercase().collect();
                match lower.chars().next().and_then(unaccent) {
                    Some(p) if lower.chars().count() == 1 => out.push_str(&p.to_uppercase()),
                    _ => out.push(c),
                }
            }
            None => out.push(c),
        }
    }
    out
}

/// The letters of the languages heard in negotiations without their accents.
fn unaccent(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => "a",
        'ç' => "c",
        'è' | 'é' | 'ê' | 'ë' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ñ' => "n",
        'ò' | 'ó' | 'ô' | 'ö' | 'õ' | 'ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' => "u",
        'ý' | 'ÿ' => "y",
        'œ' => "oe",
        'æ' => "ae",
        '’' | '‘' | '`' => "'",
        _ => return None,
    })
}

/// French elisions split off as words of their own: "l'Algérie" is "l'" + "algerie", as
/// "de l'Algérie" and "d'Algérie" name the same country.
const ELIDED: [&str; 6] = ["l", "d", "j", "qu", "n", "s"];

/// The words of `text`, folded, with their byte ranges: runs of letters and digits; an
/// apostrophe inside a word keeps it whole ("people's") except after a French elision.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let push = |out: &mut Vec<Token>, a: usize, b: usize| {
        if a < b {
            out.push(Token {
                folded: fold(&text[a..b]),
                start: a,
                end: b,
            });
        }
    };
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        let apostrophe = matches!(c, '\'' | '’');
        let inside = apostrophe
            && start.is_some()
            && chars.get(k + 1).is_some_and(|(_, n)| n.is_alphanumeric());
        if c.is_alphanumeric() || inside {
            if inside {
                let s = start.expect("inside a word");
                if ELIDED.contains(&fold(&text[s..i]).as_str()) {
                    // "l'" is a word of its own.
                    push(&mut out, s, i + c.len_utf8());
                    if let Some(t) = out.last_mut() {
                        t.folded = format!("{}'", fold(&text[s..i]));
                    }
                    start = None;
                    continue;
                }
            }
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            push(&mut out, s, i);
        }
    }
    if let Some(s) = start {
        push(&mut out, s, text.len());
    }
    out
}

struct Index {
    /// Folded name, its words joined by single spaces -> party.
    names: HashMap<String, Party>,
    /// Acronyms as written ("EU", "US") -> party.
    acronyms: HashMap<&'static str, Party>,
    longest: usize,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut names = HashMap::new();
        let mut acronyms = HashMap::new();
        let mut longest = 1;
        for &(key, name, aliases, acros) in table::PARTIES {
            let party = Party { key, name };
            for alias in aliases.iter().copied().chain([key]) {
                let words: Vec<String> = tokens(alias).into_iter().map(|t| t.folded).collect();
                longest = longest.max(words.len());
                names.insert(words.join(" "), party);
            }
            for &a in acros {
                acronyms.insert(a, party);
            }
        }
        for &(demonym, key) in DEMONYMS {
            let party = by_key(key).expect("every demonym names a known party");
            names.entry(demonym.to_string()).or_insert(party);
        }
        Index {
            names,
            acronyms,
            longest,
        }
    })
}

/// Adjectives that name a delegation ("the Brazilian amendment", "the Russian authorities").
const DEMONYMS: &[(&str, &str)] = &[
    ("african", "african group"),
    ("american", "united states"),
    ("argentinian", "argentina"),
    ("argentine", "argentina"),
    ("armenian", "armenia"),
    ("australian", "australia"),
    ("austrian", "austria"),
    ("azerbaijani", "azerbaijan"),
    ("belarusian", "belarus"),
    ("belgian", "belgium"),
    ("brazilian", "brazil"),
    ("british", "united kingdom"),
    ("canadian", "canada"),
    ("chilean", "chile"),
    ("chinese", "china"),
    ("colombian", "colombia"),
    ("cuban", "cuba"),
    ("danish", "denmark"),
    ("dutch", "netherlands"),
    ("egyptian", "egypt"),
    ("ethiopian", "ethiopia"),
    ("european", "european union"),
    ("french", "france"),
    ("georgian", "georgia"),
    ("german", "germany"),
    ("ghanaian", "ghana"),
    ("indian", "india"),
    ("indonesian", "indonesia"),
    ("iranian", "iran"),
    ("iraqi", "iraq"),
    ("irish", "ireland"),
    ("israeli", "israel"),
    ("italian", "italy"),
    ("japanese", "japan"),
    ("kenyan", "kenya"),
    ("korean", "republic of korea"),
    ("lebanese", "lebanon"),
    ("libyan", "libya"),
    ("mexican", "mexico"),
    ("moroccan", "morocco"),
    ("nigerian", "nigeria"),
    ("norwegian", "norway"),
    ("pakistani", "pakistan"),
    ("palestinian", "state of palestine"),
    ("philippine", "philippines"),
    ("polish", "poland"),
    ("russian", "russian federation"),
    ("saudi", "saudi arabia"),
    ("serbian", "serbia"),
    ("south african", "south africa"),
    ("spanish", "spain"),
    ("sudanese", "sudan"),
    ("swedish", "sweden"),
    ("swiss", "switzerland"),
    ("syrian", "syria"),
    ("turkish", "turkiye"),
    ("ukrainian", "ukraine"),
    ("venezuelan", "venezuela"),
    ("yemeni", "yemen"),
];

/// The party with this key.
pub fn by_key(key: &str) -> Option<Party> {
    table::PARTIES
        .iter()
        .find(|(k, ..)| *k == key)
        .map(|&(key, name, ..)| Party { key, name })
}

/// The party `tokens[i..]` starts with, and how many words its name takes (the longest name
/// that matches: "Republic of Korea" before "Korea"). `original` is the text the tokens came
/// from, for acronyms, which match only as written.
pub fn party_at(original: &str, tokens: &[Token], i: usize) -> Option<(Party, usize)> {
    let idx = index();
    let mut key = String::new();
    let mut best = None;
    for (n, t) in tokens[i..].iter().take(idx.longest).enumerate() {
        if n > 0 {
            key.push(' ');
        }
        key.push_str(&t.folded);
        if let Some(p) = idx.names.get(&key) {
            best = Some((*p, n + 1));
        }
    }
    if best.is_none() {
        let t = &tokens[i];
        let mut word = original[t.start..t.end].to_string();
        let mut words = 1;
        // "U.S." is the tokens "U" and "S".
        while let Some(next) = tokens.get(i + words) {
            let between = &original[tokens[i + words - 1].end..next.start];
            if between == "." && next.end - next.start == 1 && word.len() < 4 {
                word.push_str(&original[next.start..next.end]);
                words += 1;
            } else {
                break;
            }
        }
        if let Some(p) = idx.acronyms.get(word.as_str()) {
            best = Some((*p, words));
        }
    }
    best
}

/// Every party named in `text`, left to right, longest name first, without overlaps.
pub fn find_all(text: &str) -> Vec<Found> {
    let toks = tokens(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match party_at(text, &toks, i) {
            Some((party, n)) => {
                out.push(Found {
                    start: toks[i].start,
                    end: toks[i + n - 1].end,
                    party,
                });
                i += n;
            }
            None => i += 1,
        }
    }
    out
}

/// The party `name` is, when the whole of it (after "the") is a name of one: "the Russian
/// Federation", "Brazilian", "EU".
pub fn lookup(name: &str) -> Option<Party> {
    let toks = tokens(name);
    let skip = usize::from(toks.first().is_some_and(|t| t.folded == "the"));
    if toks.len() <= skip {
        return None;
    }
    party_at(name, &toks, skip).and_then(|(p, n)| (skip + n == toks.len()).then_some(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Option<&'static str> {
        lookup(name).map(|p| p.key)
    }

    #[test]
    fn one_key_however_a_delegation_is_named() {
        for name in [
            "the Russian Federation",
            "Russia",
            "Moscow",
            "Fédération de Russie",
            "Russian",
        ] {
            assert_eq!(key(name), Some("russian federation"), "{name}");
        }
        assert_eq!(key("Kyiv"), Some("ukraine"));
        assert_eq!(key("Côte d’Ivoire"), Some("cote d'ivoire"));
        assert_eq!(key("Japon"), Some("japan"));
        assert_eq!(key("México"), Some("mexico"));
        assert_eq!(key("the United States of America"), Some("united states"));
        assert_eq!(key("U.S."), Some("united states"));
        assert_eq!(key("EU"), Some("european union"));
        assert_eq!(key("Group of 77 and China"), Some("group of 77 and china"));
        assert_eq!(
            lookup("State of Palestine").map(|p| p.name),
            Some("State of Palestine")
        );
    }

    #[test]
    fn words_are_not_acronyms_and_the_longest_name_wins() {
        // "us" and "un" are words, not the United States and the United Nations.
        assert_eq!(key("us"), None);
        assert_eq!(find_all("give it to us, un peu").len(), 0);
        let found = find_all("The Democratic People's Republic of Korea and the Republic of Korea");
        let keys: Vec<&str> = found.iter().map(|f| f.party.key).collect();
        assert_eq!(
            keys,
            ["democratic people's republic of korea", "republic of korea"]
        );
        let fr = find_all("Je donne la parole au représentant de l'Algérie.");
        assert_eq!(fr.len(), 1);
        assert_eq!(fr[0].party.key, "algeria");
    }
}
