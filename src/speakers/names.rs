//! Renaming speakers after the fact: a names file maps labels (`S1`, or a name already given)
//! to names, optionally with a delegation.
//!
//! ```toml
//! S1 = "France"
//! S2 = { name = "Ambassador Okafor", delegation = "Nigeria" }
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{io_cause, Error, Result};
use crate::transcript::{round_ms, Diarization, Speaker, Transcript, Turn};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum Entry {
    Name(String),
    Full {
        name: String,
        #[serde(default)]
        delegation: Option<String>,
    },
}

/// A parsed names file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Names {
    map: BTreeMap<String, (String, Option<String>)>,
}

impl Names {
    pub fn load(path: &Path) -> Result<Names> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::input(path, io_cause(&e)))?;
        Names::parse(&text).map_err(|e| Error::input(path, e))
    }

    pub fn parse(text: &str) -> std::result::Result<Names, String> {
        let raw: BTreeMap<String, Entry> = toml::from_str(text).map_err(|e| {
            format!(
                "not a names file ({}); expected lines like `S1 = \"France\"`",
                e.message()
            )
        })?;
        let mut map = BTreeMap::new();
        for (k, v) in raw {
            let (name, delegation) = match v {
                Entry::Name(n) => (n, None),
                Entry::Full { name, delegation } => (name, delegation),
            };
            if name.trim().is_empty() {
                return Err(format!("the name given for {k:?} is empty"));
            }
            map.insert(k, (name.trim().to_string(), delegation));
        }
        Ok(Names { map })
    }

    /// Rename speakers in `t` (turns, segments, words and the speaker list). A key matches a
    /// speaker's id (`S1`) or label as they were before renaming. Returns the keys that match
    /// nobody: `relabel` treats them as an error (a typo would otherwise pass silently), `run`
    /// as a note (one names file may serve recordings with different speakers).
    pub fn apply(&self, t: &mut Transcript) -> std::result::Result<Vec<String>, String> {
        let Some(d) = t.diarization.as_mut() else {
            return Err("this transcript has no speakers to rename (diarization was off)".into());
        };
        let before: Vec<(String, String)> = d
            .speakers
            .iter()
            .map(|s| (s.id.clone(), s.label.clone()))
            .collect();
        let mut renames: Vec<(String, String)> = Vec::new();
        let mut unknown = Vec::new();
        for (key, (name, delegation)) in &self.map {
            let Some(i) = before
                .iter()
                .position(|(id, label)| id.split('+').any(|i| i == key) || label == key)
            else {
                unknown.push(key.clone());
                continue;
            };
            let sp = &mut d.speakers[i];
            renames.push((before[i].1.clone(), name.clone()));
            sp.label = name.clone();
            if delegation.is_some() {
                sp.delegation = delegation.clone();
            }
        }
        rename_everywhere(t, &renames);
        // A name given here outranks the floor's: its naming stays as evidence, not applied.
        for n in &mut t.floor {
            if let Some((_, new)) = renames.iter().find(|(old, _)| *old == n.speaker) {
                n.speaker = new.clone();
                n.applied = false;
            }
        }
        if let Some(d) = t.diarization.as_mut() {
            merge_same_names(d);
        }
        Ok(unknown)
    }

    /// A names file of these `(key, name, delegation)` entries.
    pub fn from_entries(entries: Vec<(String, String, Option<String>)>) -> Names {
        Names {
            map: entries
                .into_iter()
                .map(|(k, name, delegation)| (k, (name, delegation)))
                .collect(),
        }
    }

    /// The names this file gives.
    pub fn given(&self) -> Vec<String> {
        self.map.values().map(|(name, _)| name.clone()).collect()
    }

    /// Every rename, as it would be written in a names file: `S1 = "Diane"`.
    pub fn describe(&self) -> Vec<String> {
        self.map
            .iter()
            .map(|(k, (name, delegation))| match delegation {
                Some(d) => format!("{k} = {{ name = {name:?}, delegation = {d:?} }}"),
                None => format!("{k} = {name:?}"),
            })
            .collect()
    }

    /// Speakers this file gives one name to (`S1 = "Chair"`, `S2 = "Chair"`, or a name another
    /// speaker already has), as `(name, ids)`: after [`Names::apply`] they are one speaker.
    pub fn merged(t: &Transcript) -> Vec<(String, Vec<String>)> {
        t.diarization
            .as_ref()
            .map(|d| {
                d.speakers
                    .iter()
                    .filter_map(|s| {
                        let ids: Vec<String> = s.id.split('+').map(str::to_string).collect();
                        (ids.len() > 1).then(|| (s.label.clone(), ids))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Keys that match nobody, as a message naming the speakers there are.
    pub fn unknown_message(t: &Transcript, unknown: &[String]) -> String {
        let known: Vec<String> = t
            .diarization
            .iter()
            .flat_map(|d| d.speakers.iter().map(|s| s.id.clone()))
            .collect();
        format!(
            "no speaker {} here (speakers: {})",
            unknown
                .iter()
                .map(|k| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )
    }
}

/// Share of a speaker's talk time in a new result that must lie inside an earlier speaker's
/// turns for that speaker's given name to pass to it: most of the voice, not a stray overlap.
const SAME_VOICE_SHARE: f64 = 0.8;

/// The names a person gave (`given`, by `relabel`) to speakers of an earlier result `old` of the
/// same recording, for the speakers of `new` they still belong to: a speaker of `new` that no
/// enrolled voice or names file has named takes the given name of the earlier speaker whose
/// turns hold at least 80 % of its talk time. Two new speakers may take one name (they are
/// then merged, as relabel merges). Returns `(new id, name, delegation)`.
pub fn carried_names(
    old: &Transcript,
    given: &[String],
    new: &Transcript,
) -> Vec<(String, String, Option<String>)> {
    let (Some(old_d), Some(new_d)) = (&old.diarization, &new.diarization) else {
        return Vec::new();
    };
    let mut carried = Vec::new();
    // A person's relabel outranks the floor: a speaker the chair's words named takes it too.
    let unnamed = |s: &&crate::transcript::Speaker| {
        s.label == s.id
            || (s.voice.is_none() && new.floor.iter().any(|n| n.applied && n.speaker == s.label))
    };
    for sp in new_d.speakers.iter().filter(unnamed) {
        let mine: Vec<&Turn> = new_d
            .turns
            .iter()
            .filter(|t| t.speaker == sp.label)
            .collect();
        let talk: f64 = mine.iter().map(|t| t.end - t.start).sum();
        if talk <= 0.0 {
            continue;
        }
        let best = old_d
            .speakers
            .iter()
            .filter(|o| given.contains(&o.label))
            .map(|o| {
                let covered: f64 = mine
                    .iter()
                    .map(|t| {
                        old_d
                            .turns
                            .iter()
                            .filter(|u| u.speaker == o.label)
                            .map(|u| (t.end.min(u.end) - t.start.max(u.start)).max(0.0))
                            .sum::<f64>()
                    })
                    .sum();
                (covered / talk, o)
            })
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((_, o)) = best.filter(|(share, _)| *share >= SAME_VOICE_SHARE) {
            carried.push((sp.id.clone(), o.label.clone(), o.delegation.clone()));
        }
    }
    carried
}

/// Speakers who now share a label are one person: one entry (ids joined with `+`, in order of
/// first appearance), their turns joined where they touch, talk time counted once where
/// they overlapped, and overlap between them no longer counted as two people at once.
/// Without this, report.md had two "Chair" rows, one with 0 turns, and wrong talk times.
/// Give every `(old, new)` label its new name wherever the transcript says who speaks: turns,
/// segments and words (the speaker list is the caller's, which knows what else changes).
pub(crate) fn rename_everywhere(t: &mut Transcript, renames: &[(String, String)]) {
    let rename = |label: &mut String| {
        if let Some((_, new)) = renames.iter().find(|(old, _)| old == label) {
            *label = new.clone();
        }
    };
    if let Some(d) = t.diarization.as_mut() {
        for turn in &mut d.turns {
            rename(&mut turn.speaker);
        }
    }
    for seg in &mut t.segments {
        if let Some(s) = seg.speaker.as_mut() {
            rename(s);
        }
        for w in &mut seg.words {
            if let Some(s) = w.speaker.as_mut() {
                rename(s);
            }
        }
    }
}

fn merge_same_names(d: &mut Diarization) {
    let mut merged: Vec<Speaker> = Vec::new();
    for sp in d.speakers.drain(..) {
        match merged.iter_mut().find(|m| m.label == sp.label) {
            Some(m) => {
                m.id = format!("{}+{}", m.id, sp.id);
                if m.delegation.is_none() {
                    m.delegation = sp.delegation;
                }
                if m.voice.is_none() {
                    m.voice = sp.voice;
                }
            }
            None => merged.push(sp),
        }
    }
    let changed = merged.iter().any(|m| m.id.contains('+'));
    d.speakers = merged;
    if !changed {
        return;
    }
    // Turns of one speaker that overlap or touch become one turn.
    d.turns.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut turns: Vec<Turn> = Vec::new();
    for turn in d.turns.drain(..) {
        match turns.iter_mut().rev().find(|t| t.speaker == turn.speaker) {
            Some(last) if turn.start <= last.end + 1e-6 => last.end = last.end.max(turn.end),
            _ => turns.push(turn),
        }
    }
    d.turns = turns;
    for sp in &mut d.speakers {
        let mine: Vec<&Turn> = d.turns.iter().filter(|t| t.speaker == sp.label).collect();
        sp.turns = mine.len();
        sp.speech_s = round_ms(mine.iter().map(|t| t.end - t.start).sum());
    }
    d.overlap_s = round_ms(overlap_seconds(&d.turns));
}

/// Seconds during which two or more turns run at once.
fn overlap_seconds(turns: &[Turn]) -> f64 {
    let mut edges: Vec<(f64, i32)> = turns
        .iter()
        .flat_map(|t| [(t.start, 1), (t.end, -1)])
        .collect();
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut active, mut last, mut total) = (0, 0.0, 0.0);
    for (time, step) in edges {
        if active >= 2 {
            total += time - last;
        }
        active += step;
        last = time;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_refuses_junk() {
        let n = Names::parse(
            "S1 = \"France\"\nS2 = { name = \"Ambassador Okafor\", delegation = \"Nigeria\" }\n",
        )
        .unwrap();
        assert_eq!(n.map["S1"], ("France".into(), None));
        assert_eq!(
            n.map["S2"],
            ("Ambassador Okafor".into(), Some("Nigeria".into()))
        );
        assert!(Names::parse("S1 = 3").is_err());
        assert!(Names::parse("S1 = \"\"").is_err());
        assert!(Names::parse("this is not toml").is_err());
    }
}
