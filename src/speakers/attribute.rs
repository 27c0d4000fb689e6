//! Putting names on words. Speaker turns are only accurate to a few tenths of a second, and a
//! sentence is nearly always one person's, so words are grouped into sentences (ending at
//! `.`, `?`, `!` or a pause) and each sentence takes the speaker whose turns cover most of its
//! words. Transcript segments are split wherever the speaker changes between sentences.

use crate::transcript::{Segment, Turn, Word};

/// Give every word and segment a speaker from `turns` (sorted by start), splitting segments at
/// speaker changes. Segments are renumbered.
pub fn attribute(segments: Vec<Segment>, turns: &[Turn]) -> Vec<Segment> {
    if turns.is_empty() {
        return segments;
    }
    let mut out: Vec<Segment> = Vec::with_capacity(segments.len());
    for mut seg in segments {
        if seg.words.is_empty() {
            seg.speaker = Some(speaker_of(seg.start, seg.end, turns).to_string());
            out.push(seg);
            continue;
        }
        for sentence in sentences(&seg.words) {
            let who = speaker_of_words(&seg.words[sentence.clone()], turns).to_string();
            for w in &mut seg.words[sentence] {
                w.speaker = Some(who.clone());
            }
        }
        // Split at every change of speaker between consecutive words.
        let mut pieces: Vec<Segment> = Vec::new();
        for w in std::mem::take(&mut seg.words) {
            match pieces.last_mut() {
                Some(p) if p.speaker == w.speaker => {
                    p.end = p.end.max(w.end);
                    p.words.push(w);
                }
                _ => pieces.push(Segment {
                    id: 0,
                    start: w.start,
                    end: w.end,
                    text: String::new(),
                    speaker: w.speaker.clone(),
                    position: None,
                    language: seg.language.clone(),
                    translation: None,
                    avg_logprob: seg.avg_logprob,
                    no_speech_prob: seg.no_speech_prob,
                    words: vec![w],
                }),
            }
        }
        if pieces.len() == 1 {
            // Unsplit: keep the recogniser's own text and times.
            let p = pieces.pop().expect("one piece");
            seg.speaker = p.speaker;
            seg.words = p.words;
            out.push(seg);
            continue;
        }
        let n = pieces.len();
        // A translation cannot be cut where the speaker changes: it stays with the piece that
        // holds most of the words.
        if let Some(most) = (0..n).max_by_key(|&i| pieces[i].words.len()) {
            pieces[most].translation = seg.translation.take();
        }
        for (i, mut p) in pieces.into_iter().enumerate() {
            p.text = p
                .words
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            if i == 0 {
                p.start = seg.start.min(p.start);
            }
            if i == n - 1 {
                p.end = seg.end.max(p.end);
            }
            out.push(p);
        }
    }
    for (i, s) in out.iter_mut().enumerate() {
        s.id = i;
    }
    out
}

/// A pause this long between words ends a sentence even without punctuation.
const SENTENCE_PAUSE_S: f64 = 0.5;

/// Word index ranges of the sentences in `words`.
fn sentences(words: &[Word]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..words.len() {
        let text = words[i]
            .text
            .trim_end_matches(['"', '\'', ')', ']', '\u{201d}', '\u{2019}']);
        let ends = text.ends_with(['.', '?', '!', '\u{2026}', ';'])
            || words
                .get(i + 1)
                .is_some_and(|next| next.start - words[i].end >= SENTENCE_PAUSE_S);
        if ends || i + 1 == words.len() {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    out
}

/// The speaker whose turns cover most of these words' time together.
fn speaker_of_words<'t>(words: &[Word], turns: &'t [Turn]) -> &'t str {
    let mut totals: Vec<(&str, f64)> = Vec::new();
    for w in words {
        let upto = turns.partition_point(|t| t.start < w.end.max(w.start + 1e-6));
        for t in &turns[..upto] {
            let overlap = t.end.min(w.end) - t.start.max(w.start);
            if overlap > 0.0 {
                match totals.iter_mut().find(|(s, _)| *s == t.speaker) {
                    Some(x) => x.1 += overlap,
                    None => totals.push((&t.speaker, overlap)),
                }
            }
        }
    }
    match totals.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        Some((s, _)) => s,
        None => {
            let (start, end) = (words[0].start, words[words.len() - 1].end);
            speaker_of(start, end, turns)
        }
    }
}

/// The speaker whose turns overlap [start, end] most; the nearest turn when none overlaps.
fn speaker_of(start: f64, end: f64, turns: &[Turn]) -> &str {
    let mut best: Option<(&str, f64)> = None;
    // Turns are sorted by start; those starting after `end` cannot overlap.
    let upto = turns.partition_point(|t| t.start < end.max(start + 1e-6));
    for t in &turns[..upto] {
        let overlap = t.end.min(end) - t.start.max(start);
        if overlap > 0.0 && best.is_none_or(|(_, o)| overlap > o) {
            best = Some((&t.speaker, overlap));
        }
    }
    if let Some((s, _)) = best {
        return s;
    }
    let mid = (start + end) / 2.0;
    turns
        .iter()
        .min_by(|a, b| distance(a, mid).total_cmp(&distance(b, mid)))
        .map(|t| t.speaker.as_str())
        .unwrap_or("")
}

fn distance(t: &Turn, x: f64) -> f64 {
    if x < t.start {
        t.start - x
    } else if x > t.end {
        x - t.end
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::fixtures::word;

    fn turn(start: f64, end: f64, who: &str) -> Turn {
        Turn {
            start,
            end,
            speaker: who.into(),
        }
    }

    /// One recogniser segment from `start` to `end` holding `words` (text, start, end).
    fn segment(start: f64, end: f64, words: &[(&str, f64, f64)]) -> Segment {
        let text: Vec<&str> = words.iter().map(|w| w.0).collect();
        Segment {
            id: 0,
            start,
            end,
            text: format!(" {}", text.join(" ")),
            words: words.iter().map(|&(t, s, e)| word(t, s, e)).collect(),
            avg_logprob: -0.2,
            no_speech_prob: 0.0,
            speaker: None,
            position: None,
            language: None,
            translation: None,
        }
    }

    #[test]
    fn segments_split_where_the_speaker_changes() {
        let seg = segment(
            0.0,
            4.0,
            &[
                ("We", 0.0, 0.5),
                ("agree.", 0.5, 1.6),
                ("We", 2.1, 2.4),
                ("do", 2.4, 2.8),
                ("not.", 2.8, 3.9),
            ],
        );
        let turns = [turn(0.0, 1.8, "France"), turn(2.0, 4.0, "S2")];
        let out = attribute(vec![seg], &turns);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].text, "We agree.");
        assert_eq!(out[0].speaker.as_deref(), Some("France"));
        assert_eq!(out[1].text, "We do not.");
        assert_eq!(out[1].speaker.as_deref(), Some("S2"));
        assert_eq!((out[1].id, out[1].start, out[1].end), (1, 2.1, 4.0));
        assert!(out[1]
            .words
            .iter()
            .all(|w| w.speaker.as_deref() == Some("S2")));
    }

    #[test]
    fn a_sentence_is_not_split_by_a_late_turn_boundary() {
        let seg = segment(
            0.0,
            5.0,
            &[
                ("I", 0.0, 0.3),
                ("did", 0.3, 0.6),
                ("not", 0.6, 0.9),
                ("know", 0.9, 1.2),
                ("you", 1.2, 1.5),
                ("were", 1.5, 1.8),
                ("there.", 1.8, 2.4),
                ("Hi", 3.5, 4.0),
            ],
        );
        // The diarizer put the change at 1.6 s, inside the sentence.
        let turns = [turn(0.0, 1.6, "A"), turn(1.6, 5.0, "B")];
        let out = attribute(vec![seg], &turns);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].text, "I did not know you were there.");
        assert_eq!(out[0].speaker.as_deref(), Some("A"));
        assert_eq!(out[1].text, "Hi");
        assert_eq!(out[1].speaker.as_deref(), Some("B"));
    }

    #[test]
    fn a_word_between_turns_takes_the_nearest() {
        let turns = [turn(0.0, 1.0, "A"), turn(5.0, 6.0, "B")];
        assert_eq!(speaker_of(1.2, 1.5, &turns), "A");
        assert_eq!(speaker_of(4.0, 4.5, &turns), "B");
        // Mostly inside B's turn.
        assert_eq!(speaker_of(0.2, 5.3, &turns), "A");
        assert_eq!(speaker_of(0.95, 5.9, &turns), "B");
    }
}
