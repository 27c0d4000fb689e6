//! Per-speaker figures: talk time and share, turns, words, pace, questions, the longest turn,
//! and who spoke over whom.

use super::{round3, LongestTurn, SpeakerStats};
use crate::transcript::{Move, Segment, Transcript};

/// A turn overlapping another speaker's by less than this is a normal hand-over, not speaking
/// over them (turn boundaries are only good to a few tenths of a second).
const INTERRUPTION_MIN_OVERLAP_S: f64 = 0.25;

struct Span {
    speaker: usize,
    start: f64,
    end: f64,
}

pub(crate) fn speakers(t: &Transcript, timed: bool) -> Vec<SpeakerStats> {
    // Who: the diarization's speakers, else the names the segments carry, in order.
    let mut people: Vec<(String, String)> = match &t.diarization {
        Some(d) => d
            .speakers
            .iter()
            .map(|s| (s.id.clone(), s.label.clone()))
            .collect(),
        None => Vec::new(),
    };
    for s in &t.segments {
        if let Some(name) = &s.speaker {
            if !people.iter().any(|(_, label)| label == name) {
                people.push((name.clone(), name.clone()));
            }
        }
    }
    let index = |name: &str| people.iter().position(|(_, label)| label == name);

    // Turns: the diarization's when there is one (they know about overlapped speech), else
    // runs of consecutive segments by the same speaker.
    let mut turns: Vec<Span> = Vec::new();
    match &t.diarization {
        Some(d) if timed => {
            for turn in &d.turns {
                if let Some(speaker) = index(&turn.speaker) {
                    turns.push(Span {
                        speaker,
                        start: turn.start,
                        end: turn.end,
                    });
                }
            }
        }
        _ => {
            let mut last: Option<usize> = None;
            for s in &t.segments {
                let Some(speaker) = s.speaker.as_deref().and_then(index) else {
                    last = None;
                    continue;
                };
                match turns.last_mut() {
                    Some(turn) if last == Some(speaker) && turn.speaker == speaker => {
                        turn.end = turn.end.max(s.end)
                    }
                    _ => turns.push(Span {
                        speaker,
                        start: s.start,
                        end: s.end,
                    }),
                }
                last = Some(speaker);
            }
        }
    }
    turns.sort_by(|a, b| a.start.total_cmp(&b.start));

    let n = people.len();
    let mut words = vec![0usize; n];
    let mut questions = vec![0usize; n];
    let mut seconds = vec![0f64; n];
    for s in &t.segments {
        let Some(i) = s.speaker.as_deref().and_then(index) else {
            continue;
        };
        words[i] += word_count(s);
        questions[i] += asks(s);
        seconds[i] += (s.end - s.start).max(0.0);
    }
    if let Some(d) = &t.diarization {
        for s in &d.speakers {
            if let Some(i) = index(&s.label) {
                seconds[i] = s.speech_s;
            }
        }
    }

    let mut interruptions = vec![0usize; n];
    let mut interrupted = vec![0usize; n];
    let mut overlap = vec![0f64; n];
    for (j, b) in turns.iter().enumerate() {
        for a in turns[..j].iter().rev().take(64) {
            if a.speaker == b.speaker {
                continue;
            }
            let shared = a.end.min(b.end) - b.start.max(a.start);
            if shared > 0.0 {
                overlap[a.speaker] += shared;
                overlap[b.speaker] += shared;
            }
            if b.start > a.start && a.end - b.start >= INTERRUPTION_MIN_OVERLAP_S {
                interruptions[b.speaker] += 1;
                interrupted[a.speaker] += 1;
            }
        }
    }

    let total_seconds: f64 = seconds.iter().sum();
    let total_words: usize = words.iter().sum();
    people
        .into_iter()
        .enumerate()
        .map(|(i, (id, name))| {
            let mine: Vec<&Span> = turns.iter().filter(|s| s.speaker == i).collect();
            let longest = mine
                .iter()
                .max_by(|a, b| (a.end - a.start).total_cmp(&(b.end - b.start)))
                .filter(|_| timed)
                .map(|s| LongestTurn {
                    start: round3(s.start),
                    end: round3(s.end),
                    duration_s: round3(s.end - s.start),
                    words: t
                        .segments
                        .iter()
                        .filter(|seg| seg.speaker.as_deref() == Some(name.as_str()))
                        .filter(|seg| {
                            let mid = (seg.start + seg.end) / 2.0;
                            mid >= s.start && mid <= s.end
                        })
                        .map(word_count)
                        .sum(),
                });
            let share = if timed && total_seconds > 0.0 {
                seconds[i] / total_seconds
            } else if total_words > 0 {
                words[i] as f64 / total_words as f64
            } else {
                0.0
            };
            SpeakerStats {
                id,
                // An enrolled voice's or names file's, else the floor's.
                delegation: t.delegation_of(&name).map(String::from),
                floor: t.floor_of(&name).cloned(),
                languages: super::languages::of_speaker(t, &name, timed),
                talk_time_s: timed.then(|| round3(seconds[i])),
                share: round3(share),
                turns: mine.len(),
                words: words[i],
                words_per_minute: (timed && seconds[i] > 0.0)
                    .then(|| (words[i] as f64 / (seconds[i] / 60.0)).round()),
                questions: questions[i],
                longest_turn: longest,
                interruptions: interruptions[i],
                interrupted: interrupted[i],
                overlap_s: timed.then(|| round3(overlap[i])),
                name,
            }
        })
        .collect()
}

pub(crate) fn word_count(s: &Segment) -> usize {
    if s.words.is_empty() {
        s.text.split_whitespace().count()
    } else {
        s.words.len()
    }
}

/// Questions asked in a segment: its sentences tagged as questions (the whole segment when it
/// was tagged as one sentence), or without positions its sentences ending in `?`.
fn asks(s: &Segment) -> usize {
    match &s.position {
        Some(p) if !p.sentences.is_empty() => p
            .sentences
            .iter()
            .filter(|x| x.label == Move::Question)
            .count(),
        Some(p) => usize::from(p.label == Move::Question),
        None => crate::sentences::split(&s.text)
            .into_iter()
            .filter(|&(_, end)| s.text[..end].trim_end().ends_with('?'))
            .count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture;

    #[test]
    fn turns_words_questions_and_speaking_over() {
        let mut t = fixture::transcript();
        let mut third = t.segments[0].clone();
        (third.start, third.end, third.id) = (2.0, 4.0, 2);
        third.text = "Can I? No. Yes?".into();
        third.words.clear();
        t.segments.insert(1, third);
        t.segments[0].speaker = Some("France".into());
        t.segments[1].speaker = Some("Kenya".into());
        t.segments[2].speaker = Some("France".into());
        let s = speakers(&t, true);
        assert_eq!(s.len(), 2);
        let (france, kenya) = (&s[0], &s[1]);
        assert_eq!((france.turns, france.words, france.questions), (2, 9, 1));
        assert_eq!((kenya.turns, kenya.words, kenya.questions), (1, 4, 2));
        // Kenya began 0.5 s before France finished.
        assert_eq!((kenya.interruptions, france.interrupted), (1, 1));
        assert_eq!(kenya.overlap_s, Some(0.5));
        assert_eq!(france.talk_time_s, Some(4.75));
        assert!((france.share + kenya.share - 1.0).abs() < 0.01);
        assert_eq!(france.longest_turn.as_ref().map(|l| l.words), Some(4));
        // Without times: shares of words, no pace.
        let s = speakers(&t, false);
        assert_eq!(s[0].share, 0.692);
        assert_eq!(s[0].words_per_minute, None);
    }
}
