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
use crate::transcript::Transcript;

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
                .position(|(id, label)| id == key || label == key)
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
        let rename = |label: &mut String| {
            if let Some((_, new)) = renames.iter().find(|(old, _)| old == label) {
                *label = new.clone();
            }
        };
        for turn in &mut d.turns {
            rename(&mut turn.speaker);
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
        Ok(unknown)
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
