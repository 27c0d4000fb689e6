//! Quotes with their times: the words of a sentence located in its segment's word timings, so
//! that a claim points at the seconds the sentence was said, not at the whole segment. A
//! segment spoken in another language and translated is quoted whole, with its translation:
//! claims about it were read from the English, whose sentences cannot be traced to the
//! original's words.

use super::{round3, Evidence};
use crate::transcript::{Segment, Transcript};

pub(crate) struct EvidenceMaker<'a> {
    transcript: &'a Transcript,
    timed: bool,
}

impl<'a> EvidenceMaker<'a> {
    pub fn new(transcript: &'a Transcript, timed: bool) -> Self {
        EvidenceMaker { transcript, timed }
    }

    /// The whole of segment `index` (its position in `transcript.segments`).
    pub fn segment(&self, index: usize) -> Evidence {
        let s = &self.transcript.segments[index];
        self.make(s, s.text.trim(), s.start, s.end)
    }

    /// The part of segment `index` that reads `quote` (a sentence of it). Falls back to the
    /// segment's times when the words cannot be lined up with the text, and to the whole
    /// segment when it has a translation.
    pub fn quote(&self, index: usize, quote: &str) -> Evidence {
        let s = &self.transcript.segments[index];
        if translation(s).is_some() {
            return self.segment(index);
        }
        let quote = quote.trim();
        let Some(at) = s.text.find(quote).filter(|_| !quote.is_empty()) else {
            return self.segment(index);
        };
        let (start, end) = word_span(s, at, at + quote.len()).unwrap_or((s.start, s.end));
        self.make(s, quote, start, end)
    }

    fn make(&self, s: &Segment, quote: &str, start: f64, end: f64) -> Evidence {
        Evidence {
            segment: s.id,
            speaker: s.speaker.clone(),
            start: self.timed.then(|| round3(start)),
            end: self.timed.then(|| round3(end.max(start))),
            quote: quote.to_string(),
            translation: translation(s),
        }
    }
}

/// The segment's English rendering, when it has one.
fn translation(s: &Segment) -> Option<String> {
    s.translation
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
}

/// Times of the words of `s` that begin inside the byte range `from..to` of its text.
fn word_span(s: &Segment, from: usize, to: usize) -> Option<(f64, f64)> {
    let mut cursor = 0;
    let mut span: Option<(f64, f64)> = None;
    for w in &s.words {
        let word = w.text.trim();
        if word.is_empty() {
            continue;
        }
        let at = cursor + s.text[cursor..].find(word)?;
        cursor = at + word.len();
        if at >= from && at < to {
            span = Some(match span {
                Some((a, b)) => (a.min(w.start), b.max(w.end)),
                None => (w.start, w.end),
            });
        }
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture;

    #[test]
    fn a_sentence_takes_the_times_of_its_words() {
        let mut t = fixture::transcript();
        t.segments[0].text = "We support paragraph 3.".into();
        let e = EvidenceMaker::new(&t, true);
        let q = e.quote(0, "paragraph 3.");
        assert_eq!((q.start, q.end), (Some(1.0), Some(2.5)));
        assert_eq!(q.quote, "paragraph 3.");
        // Words that cannot be found: the segment's times.
        let q = e.quote(1, "A & B?");
        assert_eq!((q.start, q.end), (Some(3723.25), Some(3725.5)));
        // Text without times has none.
        let q = EvidenceMaker::new(&t, false).segment(0);
        assert_eq!((q.start, q.end), (None, None));
        assert_eq!(q.translation, None);
    }

    #[test]
    fn a_translated_segment_is_quoted_whole_with_its_english() {
        let mut t = fixture::transcript();
        t.segments[0].text = "Merci. La France ne peut pas accepter cet amendement.".into();
        t.segments[0].words.clear();
        t.segments[0].translation = Some(" Thank you. France cannot accept this amendment.".into());
        let e = EvidenceMaker::new(&t, true);
        // The tagger read the English: its sentence is not in the French.
        let q = e.quote(0, "France cannot accept this amendment.");
        assert_eq!(q.quote, t.segments[0].text);
        assert_eq!(
            q.translation.as_deref(),
            Some("Thank you. France cannot accept this amendment.")
        );
        assert_eq!((q.start, q.end), (Some(0.0), Some(2.5)));
        // Even a sentence of the original: the English goes with the whole segment.
        assert_eq!(e.quote(0, "Merci.").quote, t.segments[0].text);
    }
}
