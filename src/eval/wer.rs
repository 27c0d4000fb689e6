//! Word error rate with the normalisation speech recognisers are usually compared under:
//! case, punctuation, hyphenation, common abbreviations and written-out numbers are folded so
//! that only real recognition errors count.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WerStats {
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
    /// Words in the reference.
    pub reference_words: usize,
}

impl WerStats {
    pub fn errors(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }
    /// Errors per reference word (0 when both sides are empty).
    pub fn wer(&self) -> f64 {
        if self.reference_words == 0 {
            return if self.insertions == 0 { 0.0 } else { 1.0 };
        }
        self.errors() as f64 / self.reference_words as f64
    }
    pub fn add(&mut self, other: &WerStats) {
        self.substitutions += other.substitutions;
        self.deletions += other.deletions;
        self.insertions += other.insertions;
        self.reference_words += other.reference_words;
    }
}

/// The words of a reference or hypothesis file, whatever form it comes in: subtitles (SRT,
/// WebVTT), JSON Lines, a transcript.json or WhisperX JSON give their utterance texts, without
/// timings, cue numbers or voice tags; `Speaker: text` lines (the project's own
/// transcript.txt) lose the speaker when every line has one, since speaker names are not
/// words anyone said (counting them gave 18.1 % for 9.7 % on the sample session). Plain text
/// is taken as it is, so that "He said: go" in prose keeps its words.
pub fn spoken_text(name: &str, text: &str) -> Result<String, String> {
    use crate::utterances::{self, InputFormat};
    let format = utterances::detect(name, text);
    let list = utterances::read(name, text, format)?;
    // Prose is scored as it stands, unless it carries English renderings under its lines
    // (`run --translate`): those were not spoken.
    let plain_prose = format == InputFormat::Lines
        && !(list.len() >= 2 && list.iter().all(|u| u.speaker.is_some()))
        && list.iter().all(|u| u.translation.is_none());
    if plain_prose {
        return Ok(text.to_string());
    }
    Ok(list
        .iter()
        .map(|u| u.text.as_str())
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Compare two texts after normalising both.
pub fn wer(reference: &str, hypothesis: &str) -> WerStats {
    align(&normalize(reference), &normalize(hypothesis))
}

/// Lower-case words with punctuation removed, abbreviations expanded and numbers spelled out.
pub fn normalize(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    // Keep digits together across thousands separators ("1,000") and decimal points.
    let chars: Vec<char> = lower.chars().collect();
    let mut cleaned = String::with_capacity(lower.len());
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = i > 0
            && i + 1 < chars.len()
            && chars[i - 1].is_ascii_digit()
            && chars[i + 1].is_ascii_digit();
        match c {
            ',' if between_digits => {}
            '.' if between_digits => cleaned.push('.'),
            '%' => cleaned.push_str(" percent "),
            '&' => cleaned.push_str(" and "),
            '\'' | '’' => {}
            c if c.is_alphanumeric() => cleaned.push(c),
            _ => cleaned.push(' '),
        }
    }
    let mut words = Vec::new();
    for token in cleaned.split_whitespace() {
        let expanded = match token {
            "mr" => "mister",
            "mrs" => "missus",
            "dr" => "doctor",
            "st" => "saint",
            "ok" => "okay",
            _ => token,
        };
        if let Some(spelled) = spell_number(expanded) {
            words.extend(spelled.split(' ').map(str::to_string));
        } else {
            words.push(expanded.to_string());
        }
    }
    words
}

/// "42" -> "forty two", "3rd" -> "third", "2.5" -> "two point five"; None for other tokens.
fn spell_number(token: &str) -> Option<String> {
    let ordinal_suffix = ["st", "nd", "rd", "th"]
        .iter()
        .find(|s| token.ends_with(*s) && token.len() > 2);
    if let Some(suffix) = ordinal_suffix {
        let digits = &token[..token.len() - suffix.len()];
        if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
            let n: u64 = digits.parse().ok()?;
            return Some(ordinal(&cardinal(n)));
        }
    }
    if let Some((int, frac)) = token.split_once('.') {
        if !int.is_empty()
            && !frac.is_empty()
            && int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
        {
            let digits: Vec<&str> = frac
                .chars()
                .map(|d| DIGITS[d.to_digit(10).unwrap() as usize])
                .collect();
            return Some(format!(
                "{} point {}",
                cardinal(int.parse().ok()?),
                digits.join(" ")
            ));
        }
    }
    if !token.is_empty() && token.len() <= 15 && token.chars().all(|c| c.is_ascii_digit()) {
        return Some(cardinal(token.parse().ok()?));
    }
    None
}

const DIGITS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];
const TEENS: [&str; 10] = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

fn cardinal(n: u64) -> String {
    if n < 10 {
        return DIGITS[n as usize].to_string();
    }
    if n < 20 {
        return TEENS[(n - 10) as usize].to_string();
    }
    if n < 100 {
        let rest = n % 10;
        return if rest == 0 {
            TENS[(n / 10) as usize].to_string()
        } else {
            format!("{} {}", TENS[(n / 10) as usize], DIGITS[rest as usize])
        };
    }
    if n < 1000 {
        let rest = n % 100;
        let head = format!("{} hundred", DIGITS[(n / 100) as usize]);
        return if rest == 0 {
            head
        } else {
            format!("{head} {}", cardinal(rest))
        };
    }
    for (scale, name) in [
        (1_000_000_000_000u64, "trillion"),
        (1_000_000_000, "billion"),
        (1_000_000, "million"),
        (1_000, "thousand"),
    ] {
        if n >= scale {
            let rest = n % scale;
            let head = format!("{} {name}", cardinal(n / scale));
            return if rest == 0 {
                head
            } else {
                format!("{head} {}", cardinal(rest))
            };
        }
    }
    unreachable!()
}

fn ordinal(cardinal: &str) -> String {
    let (head, last) = match cardinal.rsplit_once(' ') {
        Some((h, l)) => (format!("{h} "), l),
        None => (String::new(), cardinal),
    };
    let last = match last {
        "one" => "first".to_string(),
        "two" => "second".to_string(),
        "three" => "third".to_string(),
        "five" => "fifth".to_string(),
        "eight" => "eighth".to_string(),
        "nine" => "ninth".to_string(),
        "twelve" => "twelfth".to_string(),
        w if w.ends_with('y') => format!("{}ieth", &w[..w.len() - 1]),
        w => format!("{w}th"),
    };
    format!("{head}{last}")
}

/// Levenshtein alignment over words, counting each kind of error.
pub fn align(reference: &[String], hypothesis: &[String]) -> WerStats {
    let (n, m) = (reference.len(), hypothesis.len());
    // cost, substitutions, deletions, insertions of the best path to each cell
    let mut prev: Vec<(usize, usize, usize, usize)> = (0..=m).map(|j| (j, 0, 0, j)).collect();
    for i in 1..=n {
        let mut cur = vec![(i, 0, i, 0); m + 1];
        for j in 1..=m {
            let same = reference[i - 1] == hypothesis[j - 1];
            let diag = prev[j - 1];
            let sub = (
                diag.0 + usize::from(!same),
                diag.1 + usize::from(!same),
                diag.2,
                diag.3,
            );
            let del = (prev[j].0 + 1, prev[j].1, prev[j].2 + 1, prev[j].3);
            let ins = (
                cur[j - 1].0 + 1,
                cur[j - 1].1,
                cur[j - 1].2,
                cur[j - 1].3 + 1,
            );
            cur[j] = [sub, del, ins].into_iter().min_by_key(|c| c.0).unwrap();
        }
        prev = cur;
    }
    let (_, substitutions, deletions, insertions) = prev[m];
    WerStats {
        substitutions,
        deletions,
        insertions,
        reference_words: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_renderings_under_prose_lines_are_not_scored() {
        let txt = "La France ne peut pas accepter.\n  [en] France cannot accept.\nMerci.\n";
        let spoken = spoken_text("transcript.txt", txt).unwrap();
        assert!(!spoken.contains("cannot"), "{spoken}");
        assert!(spoken.contains("La France ne peut pas accepter."));
        let prose = "Plain prose.\nAnother line.\n";
        assert_eq!(spoken_text("ref.txt", prose).unwrap(), prose);
    }

    #[test]
    fn normalisation_folds_form_not_content() {
        assert_eq!(
            normalize("Mr. Dashwood's ill-disposed, 1,250 (3rd) 2.5%"),
            vec![
                "mister",
                "dashwoods",
                "ill",
                "disposed",
                "one",
                "thousand",
                "two",
                "hundred",
                "fifty",
                "third",
                "two",
                "point",
                "five",
                "percent"
            ]
        );
        assert_eq!(
            normalize("Paragraph 12 bis"),
            vec!["paragraph", "twelve", "bis"]
        );
        assert_eq!(spell_number("21st").as_deref(), Some("twenty first"));
        assert_eq!(spell_number("40th").as_deref(), Some("fortieth"));
    }

    #[test]
    fn counts_each_error_kind() {
        let s = wer("we support the text", "we sport the text today");
        assert_eq!((s.substitutions, s.deletions, s.insertions), (1, 0, 1));
        let s = wer("we support the text", "we the text");
        assert_eq!((s.substitutions, s.deletions, s.insertions), (0, 1, 0));
        let s = wer("the cat sat on the mat", "the cat sit on the mat today");
        assert_eq!(
            (
                s.substitutions,
                s.deletions,
                s.insertions,
                s.reference_words
            ),
            (1, 0, 1, 6)
        );
        assert!((s.wer() - 2.0 / 6.0).abs() < 1e-9);
        assert_eq!(
            wer("And so, my fellow Americans", "and so my fellow americans").errors(),
            0
        );
        assert_eq!(wer("", "").wer(), 0.0);
        assert_eq!(wer("", "noise").wer(), 1.0);
    }
}
