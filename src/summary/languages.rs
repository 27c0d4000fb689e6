//! The languages of a session: which were spoken, how much, and by whom. A segment says the
//! language it was transcribed in; one that does not (a transcript from before languages
//! were recorded, text made elsewhere) counts in the transcript's language when that is known.

use super::{round3, LanguageInfo, SpokenLanguage};
use crate::transcript::{Segment, Transcript};

/// The transcript's own language, unless it is unknown.
fn known(code: &str) -> Option<&str> {
    let code = code.trim();
    (!code.is_empty() && code != "und").then_some(code)
}

/// The language segment `s` of `t` was spoken in, when known.
fn of_segment<'a>(t: &'a Transcript, s: &'a Segment) -> Option<&'a str> {
    s.language
        .as_deref()
        .and_then(known)
        .or_else(|| known(&t.language.code))
}

/// Languages of `segments` with their seconds and words, most speech first (most words when
/// there are no times; first heard first on a tie).
fn tally<'a>(
    t: &'a Transcript,
    segments: impl Iterator<Item = &'a Segment>,
    timed: bool,
) -> Vec<(&'a str, f64, usize)> {
    let mut out: Vec<(&str, f64, usize)> = Vec::new();
    for s in segments.filter(|s| !s.text.trim().is_empty()) {
        let Some(code) = of_segment(t, s) else {
            continue;
        };
        let (seconds, words) = ((s.end - s.start).max(0.0), super::stats::word_count(s));
        match out.iter_mut().find(|(c, _, _)| *c == code) {
            Some(entry) => {
                entry.1 += seconds;
                entry.2 += words;
            }
            None => out.push((code, seconds, words)),
        }
    }
    // A stable sort keeps the order of first appearance among equals.
    if timed {
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
    } else {
        out.sort_by_key(|h| std::cmp::Reverse(h.2));
    }
    out
}

/// The session's main language, every language heard, and any warning about them.
pub(crate) fn language(t: &Transcript, timed: bool) -> LanguageInfo {
    let heard = tally(t, t.segments.iter(), timed);
    let seconds: f64 = heard.iter().map(|h| h.1).sum();
    let words: usize = heard.iter().map(|h| h.2).sum();
    let heard: Vec<SpokenLanguage> = heard
        .into_iter()
        .map(|(code, s, w)| SpokenLanguage {
            code: code.to_string(),
            speech_s: timed.then(|| round3(s)),
            words: w,
            share: round3(if timed && seconds > 0.0 {
                s / seconds
            } else if words > 0 {
                w as f64 / words as f64
            } else {
                0.0
            }),
        })
        .collect();
    let l = &t.language;
    let (code, probability) = match (known(&l.code), heard.first()) {
        (Some(code), _) => (code.to_string(), l.probability),
        // Unknown overall, but the segments say: they were given their language.
        (None, Some(first)) => (first.code.clone(), 1.0),
        (None, None) => (l.code.clone(), l.probability),
    };
    LanguageInfo {
        code,
        probability,
        detected: l.detected,
        heard,
        warning: l.warning.clone().filter(|w| !w.trim().is_empty()),
    }
}

/// The languages the speaker called `name` spoke, most speech first.
pub(crate) fn of_speaker(t: &Transcript, name: &str, timed: bool) -> Vec<String> {
    let mine = t
        .segments
        .iter()
        .filter(|s| s.speaker.as_deref() == Some(name));
    tally(t, mine, timed)
        .into_iter()
        .map(|(code, _, _)| code.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture;

    #[test]
    fn languages_by_speech_and_by_speaker() {
        let mut t = fixture::transcript();
        t.language.code = "und".into();
        // 2.5 s of English by France, then 2.25 s of French by France and 5 s by Kenya.
        let mut french = t.segments[1].clone();
        (french.id, french.start, french.end) = (2, 10.0, 15.0);
        french.language = Some("fr".into());
        french.speaker = Some("Kenya".into());
        t.segments.push(french);
        t.segments[0].language = Some("en".into());
        t.segments[1].language = Some("fr".into());
        for s in &mut t.segments[..2] {
            s.speaker = Some("France".into());
        }
        let l = language(&t, true);
        assert_eq!(
            l.code, "fr",
            "unknown overall: the language with most speech"
        );
        let heard: Vec<(&str, Option<f64>, f64)> = l
            .heard
            .iter()
            .map(|h| (h.code.as_str(), h.speech_s, h.share))
            .collect();
        assert_eq!(heard, [("fr", Some(7.25), 0.744), ("en", Some(2.5), 0.256)]);
        assert_eq!(of_speaker(&t, "France", true), ["en", "fr"]);
        assert_eq!(of_speaker(&t, "Kenya", true), ["fr"]);
        // Without times, by words: France said 4 English words and 5 French ones.
        assert_eq!(of_speaker(&t, "France", false), ["fr", "en"]);
        assert_eq!(language(&t, false).heard[0].speech_s, None);
        // The transcript's language stays the main one, and covers segments without one.
        t.language.code = "en".into();
        t.segments[0].language = None;
        let l = language(&t, true);
        assert_eq!(l.code, "en");
        assert_eq!(l.heard.len(), 2);
        // Nothing known: nothing heard.
        t.language.code = "und".into();
        for s in &mut t.segments {
            s.language = None;
        }
        assert!(language(&t, true).heard.is_empty());
        assert!(of_speaker(&t, "France", true).is_empty());
    }
}
