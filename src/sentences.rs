//! Sentence splitting for long utterances: at `.`, `?` or `!` followed by space and a capital,
//! digit or quote, except after the abbreviations negotiators use ("Art.", "para.", "No.", "Mr.").

/// Words that end with a full stop without ending a sentence.
const ABBREVIATIONS: [&str; 22] = [
    "mr", "mrs", "ms", "dr", "art", "arts", "para", "paras", "no", "nos", "op", "pp", "vol", "e.g",
    "i.e", "cf", "etc", "st", "amb", "h.e", "rev", "doc",
];

/// Byte ranges of the sentences of `text`, trimmed, in order; never empty for non-blank text.
pub fn split(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if matches!(c, b'.' | b'?' | b'!') {
            // Swallow runs of terminators and closing quotes/brackets.
            let mut end = i + 1;
            while end < bytes.len()
                && matches!(bytes[end], b'.' | b'?' | b'!' | b'"' | b'\'' | b')')
            {
                end += 1;
            }
            // UTF-8 closing quotes.
            while text[end..].starts_with('\u{201d}') || text[end..].starts_with('\u{2019}') {
                end += 3;
            }
            let next = text[end..].trim_start();
            let has_space = end < bytes.len() && text[end..].starts_with(char::is_whitespace);
            let next_starts = next.chars().next().is_some_and(|ch| {
                ch.is_uppercase() || ch.is_ascii_digit() || "\"'\u{201c}(".contains(ch)
            });
            let word = text[start..i]
                .rsplit(|ch: char| ch.is_whitespace() || ch == '(')
                .next()
                .unwrap_or("")
                .to_lowercase();
            let abbreviation = c == b'.' && ABBREVIATIONS.contains(&word.as_str());
            if has_space && next_starts && !abbreviation {
                push(text, start, end, &mut out);
                start = end;
            }
            i = end;
        } else {
            i += 1;
        }
    }
    push(text, start, text.len(), &mut out);
    out
}

fn push(text: &str, start: usize, end: usize, out: &mut Vec<(usize, usize)>) {
    let piece = &text[start..end];
    let lead = piece.len() - piece.trim_start().len();
    let trimmed = piece.trim();
    if !trimmed.is_empty() {
        out.push((start + lead, start + lead + trimmed.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<&str> {
        split(text).into_iter().map(|(a, b)| &text[a..b]).collect()
    }

    #[test]
    fn splits_at_sentence_ends_only() {
        assert_eq!(
            pieces("Thank you, Mr. Chair. We support Art. 6.4 of the text! Do you?"),
            vec![
                "Thank you, Mr. Chair.",
                "We support Art. 6.4 of the text!",
                "Do you?"
            ]
        );
        assert_eq!(
            pieces("uh we support it. and we"),
            vec!["uh we support it. and we"]
        );
        assert_eq!(pieces("  "), Vec::<&str>::new());
        assert_eq!(
            pieces("He said \u{201c}no.\u{201d} Then we left."),
            vec!["He said \u{201c}no.\u{201d}", "Then we left."]
        );
    }
}
