//! Cue layout shared by the subtitle formats (SRT, WebVTT) and timestamped text: which words
//! go on which line of which cue, and when each cue is shown.
//!
//! With no layout options a cue is a segment on one line, timed as [`super::cue_times`] says
//! (the output of earlier versions, byte for byte). With `--max-line-width N` a cue's text is
//! wrapped at word boundaries into lines of at most N visible characters (a word longer than
//! N stands alone on its line), as whisper.cpp's `-ml` and WhisperX's `--max_line_width` do;
//! with `--max-line-count M` too, a segment that needs more than M lines becomes several
//! cues, each shown from its first word's start to its last word's end. Segments without
//! word times (transcripts made elsewhere) are split with times shared out by characters.
//!
//! A segment's English `translation` comes under its text, its first line starting with
//! [`TRANSLATION_MARK`] (`[en] `), wrapped at the same width. When the segment is split into
//! several cues, its translation is shared out among them by the characters of their text, so
//! that each cue shows about the English of what it shows (and a long translation is not
//! crammed under the last few words). `--max-line-count` counts the lines of the spoken text;
//! the English lines come under them.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::transcript::{Segment, Transcript};
pub(crate) use crate::utterances::TRANSLATION_MARK;

/// How cues are laid out: `--max-line-width`, `--max-line-count`, `--txt-timestamps`. The
/// default changes nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layout {
    /// Longest line of a cue, in visible characters; None: one line per cue.
    pub max_line_width: Option<usize>,
    /// Most lines in a cue (needs `max_line_width`); longer segments become several cues.
    pub max_line_count: Option<usize>,
    /// transcript.txt lines start with `[start --> end]`, one line per cue.
    pub txt_timestamps: bool,
}

impl Layout {
    /// Widest line accepted: anything wider is a typo, not a subtitle.
    pub const WIDEST: usize = 1000;
    /// Most lines per cue accepted.
    pub const MOST_LINES: usize = 100;

    /// The layout of the command-line options, checked: a usage error names the bad option.
    pub fn new(
        max_line_width: Option<usize>,
        max_line_count: Option<usize>,
        txt_timestamps: bool,
    ) -> Result<Layout> {
        if let Some(w) = max_line_width {
            if !(1..=Self::WIDEST).contains(&w) {
                return Err(Error::usage(format!(
                    "--max-line-width {w}: give a number of characters from 1 to {}",
                    Self::WIDEST
                )));
            }
        }
        if let Some(n) = max_line_count {
            if !(1..=Self::MOST_LINES).contains(&n) {
                return Err(Error::usage(format!(
                    "--max-line-count {n}: give a number of lines from 1 to {}",
                    Self::MOST_LINES
                )));
            }
            if max_line_width.is_none() {
                return Err(Error::usage(
                    "--max-line-count needs --max-line-width (lines are made by wrapping at that width)",
                ));
            }
        }
        Ok(Layout {
            max_line_width,
            max_line_count,
            txt_timestamps,
        })
    }

    /// Record the options that differ from the default in summary.json's processing options
    /// (so that `relabel` renders the folder again as it was made; a default layout adds
    /// nothing, and summaries stay as they were).
    pub fn record(&self, options: &mut BTreeMap<String, Value>) {
        if let Some(w) = self.max_line_width {
            options.insert("max_line_width".into(), w.into());
        }
        if let Some(n) = self.max_line_count {
            options.insert("max_line_count".into(), n.into());
        }
        if self.txt_timestamps {
            options.insert("txt_timestamps".into(), true.into());
        }
    }

    /// The layout [`Layout::record`] wrote; the default when there is none or it is not valid.
    pub fn from_options(options: &BTreeMap<String, Value>) -> Layout {
        let number = |key: &str| {
            options
                .get(key)
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
        };
        let txt_timestamps = options
            .get("txt_timestamps")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Layout::new(
            number("max_line_width"),
            number("max_line_count"),
            txt_timestamps,
        )
        .unwrap_or_default()
    }
}

/// One cue: when it is shown, whose words they are, and its lines (at least one, maybe empty).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cue<'a> {
    pub start: f64,
    pub end: f64,
    pub speaker: Option<&'a str>,
    pub lines: Vec<String>,
    /// The English rendering of what the cue shows, as lines to go under `lines` (the first
    /// starting with `[en] `); empty when the segment has no translation.
    pub translation: Vec<String>,
}

impl Cue<'_> {
    /// The cue's text on one line.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// The cue's English rendering on one line (`[en] ...`), if it has one.
    pub fn translation_line(&self) -> Option<String> {
        (!self.translation.is_empty()).then(|| self.translation.join(" "))
    }
}

/// `[en]` and the words of an English rendering, as lines of at most `width` characters (one
/// line without a width); none without words.
fn translation_lines(words: &[&str], width: Option<usize>) -> Vec<String> {
    if words.is_empty() {
        return Vec::new();
    }
    let marked: Vec<TimedWord<'_>> = std::iter::once(TRANSLATION_MARK)
        .chain(words.iter().copied())
        .map(|text| TimedWord {
            text,
            start: 0.0,
            end: 0.0,
        })
        .collect();
    let join = |line: &[usize]| {
        line.iter()
            .map(|&i| marked[i].text)
            .collect::<Vec<_>>()
            .join(" ")
    };
    match width {
        None => vec![join(&(0..marked.len()).collect::<Vec<_>>())],
        Some(width) => wrap(&marked, width, width, None)
            .into_iter()
            .flatten()
            .map(|line| join(&line))
            .collect(),
    }
}

/// The words of a translation shared out among cues in proportion to `weights` (the
/// characters of each cue's text): each word goes to the cue its middle falls in, so the
/// words stay in order and each cue gets about its share.
fn share_words<'w>(words: &[&'w str], weights: &[usize]) -> Vec<Vec<&'w str>> {
    let mut parts: Vec<Vec<&str>> = vec![Vec::new(); weights.len()];
    let Some(last) = weights.len().checked_sub(1) else {
        return parts;
    };
    let total_weight: usize = weights.iter().sum();
    let total_chars: usize =
        words.iter().map(|w| w.chars().count()).sum::<usize>() + words.len().max(1) - 1;
    let mut bounds = Vec::with_capacity(weights.len());
    let mut sum = 0;
    for w in weights {
        sum += w;
        bounds.push(sum as f64 / total_weight.max(1) as f64);
    }
    let mut offset = 0;
    for word in words {
        let len = word.chars().count();
        let middle = (offset as f64 + len as f64 / 2.0) / total_chars.max(1) as f64;
        let k = if total_weight == 0 {
            last
        } else {
            bounds.iter().position(|&b| middle <= b).unwrap_or(last)
        };
        parts[k].push(word);
        offset += len + 1;
    }
    parts
}

/// Lay out every segment of `t` as cues. `prefix_width` gives how many visible characters
/// the speaker's prefix takes on the first line of each of that speaker's cues (SRT's
/// `S1: ` counts; WebVTT's `<v S1>` tag shows nothing).
pub(crate) fn cues<'a>(
    t: &'a Transcript,
    layout: &Layout,
    prefix_width: impl Fn(&str) -> usize,
) -> Vec<Cue<'a>> {
    let times = super::cue_times(t);
    let english = |seg: &'a Segment| -> Vec<&'a str> {
        seg.translation
            .as_deref()
            .map(|t| t.split_whitespace().collect())
            .unwrap_or_default()
    };
    let Some(width) = layout.max_line_width else {
        return t
            .segments
            .iter()
            .zip(times)
            .map(|(seg, (start, end))| Cue {
                start,
                end,
                speaker: seg.speaker.as_deref(),
                lines: vec![super::one_line(&seg.text)],
                translation: translation_lines(&english(seg), None),
            })
            .collect();
    };
    let mut out = Vec::new();
    for (seg, (start, end)) in t.segments.iter().zip(times) {
        let speaker = seg.speaker.as_deref();
        let first_width = width.saturating_sub(speaker.map_or(0, &prefix_width));
        let words = timed_words(seg, start, end);
        let groups = wrap(&words, width, first_width, layout.max_line_count);
        let n = groups.len();
        let weights: Vec<usize> = groups
            .iter()
            .map(|lines| {
                lines
                    .iter()
                    .flatten()
                    .map(|&i| words[i].text.chars().count() + 1)
                    .sum()
            })
            .collect();
        let mut parts = share_words(&english(seg), &weights).into_iter();
        for (k, lines) in groups.into_iter().enumerate() {
            let first = lines.first().and_then(|l| l.first()).copied();
            let last = lines.last().and_then(|l| l.last()).copied();
            // The segment's own times bound its first and last cue (so a segment left whole
            // keeps them); a cut between cues falls where their words meet.
            let cue_start = match first {
                Some(i) if k > 0 => words[i].start,
                _ => start,
            };
            let cue_end = match last {
                Some(i) if k + 1 < n => words[i].end,
                _ => end,
            };
            out.push(Cue {
                start: cue_start,
                end: cue_end,
                speaker,
                lines: lines
                    .iter()
                    .map(|l| {
                        l.iter()
                            .map(|&i| words[i].text)
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect(),
                translation: translation_lines(&parts.next().unwrap_or_default(), Some(width)),
            });
        }
    }
    settle(&mut out);
    out
}

/// A word of a segment's text with the time it was said.
#[derive(Debug, Clone, Copy)]
struct TimedWord<'a> {
    text: &'a str,
    start: f64,
    end: f64,
}

/// The words of a segment's text, timed by the recogniser's words when they are the same
/// words (as many of them), otherwise by their share of the characters between `start` and
/// `end`.
fn timed_words(seg: &Segment, start: f64, end: f64) -> Vec<TimedWord<'_>> {
    let texts: Vec<&str> = seg.text.split_whitespace().collect();
    if !texts.is_empty() && seg.words.len() == texts.len() {
        return texts
            .iter()
            .zip(&seg.words)
            .map(|(text, w)| {
                let s = w.start.clamp(start, end);
                TimedWord {
                    text,
                    start: s,
                    end: w.end.clamp(s, end),
                }
            })
            .collect();
    }
    // Characters of the one-line text: words and the single spaces between them.
    let total = texts.iter().map(|w| w.chars().count()).sum::<usize>() + texts.len().max(1) - 1;
    let at = |c: usize| start + (end - start) * c as f64 / total.max(1) as f64;
    let mut offset = 0;
    texts
        .iter()
        .map(|text| {
            let len = text.chars().count();
            let w = TimedWord {
                text,
                start: at(offset),
                end: at(offset + len),
            };
            offset += len + 1;
            w
        })
        .collect()
}

/// Greedy wrapping of `words` into lines of at most `width` characters (`first_width` for the
/// first line of a cue, which holds the speaker's prefix), and of lines into cues of at most
/// `max_lines` lines. Returns, per cue, its lines as indices into `words`; a segment without
/// words is one cue of one empty line.
fn wrap(
    words: &[TimedWord<'_>],
    width: usize,
    first_width: usize,
    max_lines: Option<usize>,
) -> Vec<Vec<Vec<usize>>> {
    let mut cues: Vec<Vec<Vec<usize>>> = vec![vec![Vec::new()]];
    let mut line_len = 0;
    for (i, w) in words.iter().enumerate() {
        let len = w.text.chars().count();
        let cue = cues.last_mut().expect("never empty");
        let limit = if cue.len() == 1 { first_width } else { width };
        let line = cue.last_mut().expect("never empty");
        if line.is_empty() || line_len + 1 + len <= limit {
            line_len += if line.is_empty() { len } else { 1 + len };
            line.push(i);
            continue;
        }
        // Does not fit: a new line, in a new cue when this one is full. A first word longer
        // than the line stays alone on it (above: an empty line takes any word).
        if max_lines.is_some_and(|m| cue.len() >= m) {
            cues.push(vec![vec![i]]);
        } else {
            cue.push(vec![i]);
        }
        line_len = len;
    }
    cues
}

/// Keep cues in order and apart: a cue never starts before the one before it, and ends at the
/// latest where the next begins; each lasts at least 10 ms where the next leaves room, and
/// at least 1 ms always. Times are whole milliseconds, as the formats write them.
fn settle(cues: &mut [Cue<'_>]) {
    let ms = |s: f64| (s.max(0.0) * 1000.0).round() as i64;
    let mut starts: Vec<i64> = Vec::with_capacity(cues.len());
    for (k, c) in cues.iter().enumerate() {
        let s = ms(c.start);
        starts.push(if k == 0 { s } else { s.max(starts[k - 1] + 1) });
    }
    for k in 0..cues.len() {
        let mut e = ms(cues[k].end).max(starts[k] + 10);
        if let Some(&next) = starts.get(k + 1) {
            e = e.min(next);
        }
        cues[k].start = starts[k] as f64 / 1000.0;
        cues[k].end = e as f64 / 1000.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Word;

    fn segment(text: &str, start: f64, end: f64, words: &[(f64, f64)]) -> Segment {
        Segment {
            id: 0,
            start,
            end,
            text: text.into(),
            words: text
                .split_whitespace()
                .zip(words)
                .map(|(t, &(s, e))| Word {
                    start: s,
                    end: e,
                    text: t.into(),
                    probability: 0.9,
                    speaker: None,
                })
                .collect(),
            avg_logprob: 0.0,
            no_speech_prob: 0.0,
            speaker: None,
            position: None,
            language: None,
            translation: None,
        }
    }

    fn transcript(segments: Vec<Segment>) -> Transcript {
        let mut t = crate::output::fixture::transcript();
        t.segments = segments;
        t
    }

    fn layout(width: usize, count: Option<usize>) -> Layout {
        Layout::new(Some(width), count, false).unwrap()
    }

    /// SRT's prefix width.
    fn srt(speaker: &str) -> usize {
        speaker.chars().count() + 2
    }

    #[test]
    fn no_layout_is_one_line_per_segment_with_the_old_times() {
        let t = crate::output::fixture::transcript();
        let c = cues(&t, &Layout::default(), srt);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].lines, ["We support paragraph 3."]);
        assert_eq!((c[0].start, c[0].end), (0.0, 2.5));
        assert_eq!(
            c.iter().map(|c| (c.start, c.end)).collect::<Vec<_>>(),
            crate::output::cue_times(&t)
        );
    }

    #[test]
    fn lines_break_at_word_boundaries_within_the_width() {
        let text = "the quick brown fox jumps over the lazy dog again and again";
        let t = transcript(vec![segment(text, 0.0, 6.0, &[])]);
        let c = cues(&t, &layout(16, None), srt);
        assert_eq!(c.len(), 1, "without a line count the segment stays one cue");
        assert_eq!(
            c[0].lines,
            [
                "the quick brown",
                "fox jumps over",
                "the lazy dog",
                "again and again"
            ]
        );
        assert!(c[0].lines.iter().all(|l| l.chars().count() <= 16));
        assert_eq!(c[0].text(), text, "no word lost, split or reordered");
    }

    #[test]
    fn a_word_longer_than_the_width_stands_alone() {
        let t = transcript(vec![segment(
            "we need internationalisation now",
            0.0,
            3.0,
            &[],
        )]);
        let c = cues(&t, &layout(10, None), srt);
        assert_eq!(c[0].lines, ["we need", "internationalisation", "now"]);
        // Even as the very first word, and with a prefix wider than the line.
        let mut seg = segment("internationalisation now", 0.0, 2.0, &[]);
        seg.speaker = Some("Ambassador".into());
        let t = transcript(vec![seg]);
        let c = cues(&t, &layout(8, None), srt);
        assert_eq!(c[0].lines, ["internationalisation", "now"]);
    }

    #[test]
    fn the_speaker_prefix_takes_room_on_each_cues_first_line() {
        let mut seg = segment("aaaa bbbb cccc dddd eeee ffff", 0.0, 6.0, &[]);
        seg.speaker = Some("S1".into());
        let t = transcript(vec![seg]);
        // "S1: aaaa bbbb" is 13 characters: the first line holds two words, the next three.
        let c = cues(&t, &layout(14, Some(2)), srt);
        assert_eq!(c[0].lines, ["aaaa bbbb", "cccc dddd eeee"]);
        assert_eq!(c[1].lines, ["ffff"]);
        assert_eq!(c[1].speaker, Some("S1"));
        // A voice tag shows nothing: the first line is as wide as the rest.
        let c = cues(&t, &layout(14, Some(2)), |_| 0);
        assert_eq!(c[0].lines, ["aaaa bbbb cccc", "dddd eeee ffff"]);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn split_cues_take_their_words_times() {
        let words = [
            (0.2, 0.6),
            (0.7, 1.1),
            (1.3, 1.9),
            (2.4, 2.8),
            (2.9, 3.5),
            (3.6, 4.4),
        ];
        let t = transcript(vec![segment(
            "one two three four five six",
            0.0,
            4.6,
            &words,
        )]);
        let c = cues(&t, &layout(9, Some(1)), srt);
        assert_eq!(
            c.iter().map(|c| c.text()).collect::<Vec<_>>(),
            ["one two", "three", "four five", "six"]
        );
        assert_eq!(
            c.iter().map(|c| (c.start, c.end)).collect::<Vec<_>>(),
            [(0.0, 1.1), (1.3, 1.9), (2.4, 3.5), (3.6, 4.6)],
            "first cue from the segment's start, last to its end, the rest from their words"
        );
    }

    #[test]
    fn without_word_times_cues_share_the_time_by_characters() {
        // 19 characters over 1.9 s: 0.1 s each.
        let t = transcript(vec![segment("aaaa bbbb cccc dddd", 10.0, 11.9, &[])]);
        let c = cues(&t, &layout(9, Some(1)), srt);
        assert_eq!(
            c.iter().map(|c| (c.start, c.end)).collect::<Vec<_>>(),
            [(10.0, 10.9), (11.0, 11.9)]
        );
    }

    #[test]
    fn cues_never_overlap_or_go_backwards() {
        // Overlapping segments, words outside their segment, a segment of no length.
        let a = segment(
            "alpha beta gamma delta epsilon",
            0.0,
            5.0,
            &[(0.0, 1.0), (4.0, 4.5), (0.5, 6.0), (2.0, 2.1), (1.0, 9.0)],
        );
        let b = segment("zeta eta theta iota", 3.0, 3.0, &[]);
        let c0 = segment("kappa lambda", 2.0, 8.0, &[]);
        let t = transcript(vec![a, b, c0]);
        for count in [None, Some(1), Some(2)] {
            let c = cues(&t, &layout(6, count), srt);
            for pair in c.windows(2) {
                assert!(pair[0].start < pair[0].end, "{pair:?}");
                assert!(pair[0].end <= pair[1].start, "{pair:?}");
            }
            let last = c.last().unwrap();
            assert!(last.start < last.end);
        }
    }

    #[test]
    fn a_translation_goes_under_its_text_and_is_wrapped_too() {
        let mut seg = segment("Nous ne pouvons pas accepter", 0.0, 3.0, &[]);
        seg.translation = Some(" We cannot   accept it. ".into());
        let t = transcript(vec![seg]);
        let c = cues(&t, &Layout::default(), srt);
        assert_eq!(c[0].lines, ["Nous ne pouvons pas accepter"]);
        assert_eq!(c[0].translation, ["[en] We cannot accept it."]);
        assert_eq!(
            c[0].translation_line().as_deref(),
            Some("[en] We cannot accept it.")
        );
        // The mark takes room on the first English line, as a prefix does.
        let c = cues(&t, &layout(14, None), srt);
        assert_eq!(c[0].translation, ["[en] We cannot", "accept it."]);
        assert!(c[0].translation.iter().all(|l| l.chars().count() <= 14));
        // Without a translation, nothing.
        let t = transcript(vec![segment("one two", 0.0, 1.0, &[])]);
        assert!(cues(&t, &layout(14, Some(1)), srt)[0]
            .translation
            .is_empty());
    }

    #[test]
    fn a_split_segment_shares_its_translation_among_its_cues() {
        // Two cues of 9 characters each: each gets the half of the English its words fall in.
        let mut seg = segment("aaaa bbbb cccc dddd", 0.0, 4.0, &[]);
        seg.translation = Some("one two three four five six".into());
        let t = transcript(vec![seg]);
        let c = cues(&t, &layout(9, Some(1)), srt);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].translation, ["[en] one", "two three"]);
        assert_eq!(c[1].translation, ["[en] four", "five six"]);
        // Every word once, in order.
        let all: Vec<String> = c.iter().filter_map(|c| c.translation_line()).collect();
        assert_eq!(
            all.join(" ").replace("[en] ", ""),
            "one two three four five six"
        );
        // A cue too short for any English gets none; the words still all arrive.
        assert_eq!(
            share_words(&["a", "b", "c"], &[1, 100, 0]),
            [vec![], vec!["a", "b", "c"], vec![]]
        );
        assert_eq!(share_words(&["a", "b"], &[0, 0]), [vec![], vec!["a", "b"]]);
    }

    #[test]
    fn bad_options_are_usage_errors_and_the_layout_round_trips() {
        for (w, n) in [
            (Some(0), None),
            (Some(5000), None),
            (Some(42), Some(0)),
            (None, Some(2)),
        ] {
            let e = Layout::new(w, n, false).unwrap_err();
            assert_eq!(e.kind, crate::error::ErrorKind::Usage, "{w:?} {n:?}");
        }
        let l = Layout::new(Some(42), Some(2), true).unwrap();
        let mut options = BTreeMap::new();
        l.record(&mut options);
        assert_eq!(Layout::from_options(&options), l);
        let mut options = BTreeMap::new();
        Layout::default().record(&mut options);
        assert!(options.is_empty());
        assert_eq!(Layout::from_options(&options), Layout::default());
    }
}
