//! Enrolled voices: a folder of voiceprints (one JSON file each) reused across sessions, and
//! the matching of a session's speakers to them.
//!
//! A voiceprint is the unit-length mean of the CAM++ voiceprints of the main speaker of each
//! enrolment recording. It records the sha256 of the speaker model that made it: a voiceprint
//! from another model lives in another space and is refused rather than silently mismatched
//! (or made again from its recordings, when they are still where they were).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::campplus::EMBEDDING_DIM;
use crate::error::{io_cause, Error, Result};
use crate::fsutil;

/// Identifies the voiceprint format.
pub const VOICEPRINT_SCHEMA: &str = "rapporteur.voiceprint/2";
/// Voiceprints of earlier versions (GE2E, 256-d): refused, or made again from their sources.
const OUTDATED_SCHEMAS: [&str; 1] = ["rapporteur.voiceprint/1"];
/// File names end with this.
const EXTENSION: &str = ".voice.json";

/// A session speaker is given an enrolled name when their cosine similarity reaches this.
/// Measured by `cargo bench --bench voices` on CAM++ voiceprints of the shared recordings'
/// speakers taken from different recordings: the 5 same-speaker pairs score 0.53 to 0.89 and
/// the 95 different-speaker pairs -0.20 to 0.47 (far-field voices of one AMI room at the top).
/// 0.50 names every same-speaker pair and no other; a wrong name in a record costs more than a
/// missing one, which `--names` can add. (GE2E needed 0.86, and 7 % of other speakers passed.)
pub const DEFAULT_MATCH_THRESHOLD: f32 = 0.50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Voiceprint {
    pub schema: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<String>,
    /// The speaker model, by name and sha256 of its weights.
    pub model: String,
    pub model_sha256: String,
    /// Seconds of speech averaged, and the main speaker's turns in the recordings.
    pub speech_s: f64,
    pub windows: usize,
    pub sources: Vec<VoiceSource>,
    /// Unit-length voiceprint (192-d, CAM++).
    pub vector: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoiceSource {
    pub path: String,
    pub sha256: String,
}

/// The folder of voiceprints.
#[derive(Debug, Clone)]
pub struct VoiceStore {
    pub dir: PathBuf,
}

impl VoiceStore {
    /// `dir`, else `$RAPPORTEUR_VOICES`, else the platform data folder's `rapporteur/voices`.
    pub fn at(dir: Option<&Path>) -> VoiceStore {
        let dir = dir.map(Path::to_path_buf).unwrap_or_else(default_dir);
        VoiceStore { dir }
    }

    fn path_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{}{EXTENSION}", file_stem(name)))
    }

    /// Every voiceprint, sorted by name. A file that cannot be read or parsed is an error
    /// naming it; `model_sha256` (when given) must match each voiceprint's.
    pub fn load_all(&self, model_sha256: Option<&str>) -> Result<Vec<Voiceprint>> {
        let mut out = Vec::new();
        for path in self.files()? {
            out.push(load_voiceprint(&path, model_sha256)?);
        }
        out.sort_by_key(|v| v.name.to_lowercase());
        Ok(out)
    }

    /// Voiceprint files in the store (none if the folder does not exist).
    pub fn files(&self) -> Result<Vec<PathBuf>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::input(&self.dir, io_cause(&e))),
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(EXTENSION) && !n.starts_with('.'))
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// Store a voiceprint, replacing one of the same name (compared case-insensitively).
    pub fn add(&self, voice: &Voiceprint) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::output(&self.dir, format!("cannot create: {}", io_cause(&e))))?;
        let path = self.path_of(&voice.name);
        let json = serde_json::to_string_pretty(voice)
            .map_err(|e| Error::internal(format!("voiceprint: {e}")))?;
        fsutil::write_atomic(&path, json.as_bytes())?;
        Ok(path)
    }

    /// Delete the voiceprint called `name`; an error if there is none.
    pub fn remove(&self, name: &str) -> Result<PathBuf> {
        let path = self.path_of(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::usage(format!(
                "no enrolled voice called {name:?} in {} (see `rapporteur voices list`)",
                self.dir.display()
            ))),
            Err(e) => Err(Error::output(&path, io_cause(&e))),
        }
    }
}

fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RAPPORTEUR_VOICES").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("rapporteur")
        .join("voices")
}

/// A file name for a voice name: letters and digits kept (lower-cased), anything else `_`,
/// so that "Côte d'Ivoire" and "côte d'ivoire" are the same voice and no name escapes the folder.
fn file_stem(name: &str) -> String {
    let stem: String = name
        .trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect();
    if stem.is_empty() {
        "_".into()
    } else {
        stem
    }
}

/// Read and check one voiceprint file.
pub fn load_voiceprint(path: &Path, model_sha256: Option<&str>) -> Result<Voiceprint> {
    let bytes = std::fs::read(path).map_err(|e| Error::input(path, io_cause(&e)))?;
    let bad = |why: String| {
        Error::input(
            path,
            format!("not a valid voiceprint ({why}); enrol the voice again with `rapporteur voices add`"),
        )
    };
    if let Some(old) = outdated_in(&bytes) {
        return Err(Error::input(path, old.refusal()));
    }
    let v: Voiceprint = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if v.schema != VOICEPRINT_SCHEMA {
        return Err(bad(format!(
            "format {:?}, this version reads {VOICEPRINT_SCHEMA:?}",
            v.schema
        )));
    }
    let norm = v.vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if v.vector.len() != EMBEDDING_DIM || !norm.is_finite() || (norm - 1.0).abs() > 1e-3 {
        return Err(bad(format!(
            "a voiceprint is {EMBEDDING_DIM} numbers of unit length; this one has {} of length {norm}",
            v.vector.len()
        )));
    }
    if let Some(sha) = model_sha256 {
        if v.model_sha256 != sha {
            return Err(Error::input(
                path,
                format!(
                    "voice {:?} was enrolled with another speaker model ({} {}), not the \
                     installed one ({}): enrol it again with `rapporteur voices add`",
                    v.name,
                    v.model,
                    &v.model_sha256[..v.model_sha256.len().min(12)],
                    &sha[..sha.len().min(12)]
                ),
            ));
        }
    }
    Ok(v)
}

/// A voice enrolled by an earlier version, with what is needed to enrol it again.
#[derive(Debug, Clone, PartialEq)]
pub struct OutdatedVoice {
    pub name: String,
    pub delegation: Option<String>,
    pub model: String,
    pub sources: Vec<VoiceSource>,
}

impl OutdatedVoice {
    /// Its recordings, when every one is still where it was and unchanged.
    pub fn sources_at_hand(&self) -> Option<Vec<PathBuf>> {
        if self.sources.is_empty() {
            return None;
        }
        self.sources
            .iter()
            .map(|s| {
                let path = PathBuf::from(&s.path);
                let same = fsutil::sha256_file(&path).ok().as_deref() == Some(s.sha256.as_str());
                same.then_some(path)
            })
            .collect()
    }

    fn refusal(&self) -> String {
        let files: Vec<&str> = self.sources.iter().map(|s| s.path.as_str()).collect();
        format!(
            "voice {:?} was enrolled by an earlier version of rapporteur (speaker model {}), \
             whose voiceprints this version cannot compare: re-enrol with this version: \
             rapporteur voices add {:?} {}",
            self.name,
            self.model,
            self.name,
            if files.is_empty() {
                "RECORDING".to_string()
            } else {
                files.join(" ")
            }
        )
    }
}

/// The voice in a voiceprint file of an earlier version, if it is one.
pub fn outdated_voice(path: &Path) -> Option<OutdatedVoice> {
    outdated_in(&std::fs::read(path).ok()?)
}

fn outdated_in(bytes: &[u8]) -> Option<OutdatedVoice> {
    #[derive(Deserialize)]
    struct Old {
        schema: String,
        name: String,
        #[serde(default)]
        delegation: Option<String>,
        #[serde(default)]
        model: String,
        #[serde(default)]
        sources: Vec<VoiceSource>,
    }
    let old: Old = serde_json::from_slice(bytes).ok()?;
    OUTDATED_SCHEMAS
        .contains(&old.schema.as_str())
        .then_some(OutdatedVoice {
            name: old.name,
            delegation: old.delegation,
            model: old.model,
            sources: old.sources,
        })
}

/// Pair speakers (`centroids`, unit length) with enrolled voices one to one, most similar pairs
/// first, keeping pairs at or above `threshold`. Returns, per speaker, the voice index and the
/// similarity.
pub fn match_voices(
    centroids: &[Vec<f32>],
    voices: &[Voiceprint],
    threshold: f32,
) -> Vec<Option<(usize, f32)>> {
    let mut pairs: Vec<(usize, usize, f32)> = Vec::new();
    for (s, c) in centroids.iter().enumerate() {
        for (v, voice) in voices.iter().enumerate() {
            let sim: f32 = c.iter().zip(&voice.vector).map(|(a, b)| a * b).sum();
            if sim >= threshold {
                pairs.push((s, v, sim));
            }
        }
    }
    pairs.sort_by(|a, b| b.2.total_cmp(&a.2));
    let mut out = vec![None; centroids.len()];
    let mut taken = vec![false; voices.len()];
    for (s, v, sim) in pairs {
        if out[s].is_none() && !taken[v] {
            out[s] = Some((v, sim));
            taken[v] = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice(name: &str, vector: Vec<f32>) -> Voiceprint {
        Voiceprint {
            schema: VOICEPRINT_SCHEMA.into(),
            name: name.into(),
            delegation: None,
            model: "campplus".into(),
            model_sha256: "ab".repeat(32),
            speech_s: 10.0,
            windows: 12,
            sources: vec![],
            vector,
        }
    }

    fn axis(i: usize) -> Vec<f32> {
        let mut v = vec![0.0; EMBEDDING_DIM];
        v[i] = 1.0;
        v
    }

    #[test]
    fn matching_is_one_to_one_and_thresholded() {
        let voices = [voice("France", axis(0)), voice("Brazil", axis(1))];
        let mut near_france = axis(0);
        near_france[2] = 0.3;
        let near_france = super::super::cluster::normalise(near_france);
        let centroids = vec![near_france.clone(), axis(0), axis(5)];
        let m = match_voices(&centroids, &voices, 0.8);
        // The exact match wins France; the near one may not take it twice; nobody is Brazil.
        assert_eq!(m[1].map(|x| x.0), Some(0));
        assert_eq!(m[0], None);
        assert_eq!(m[2], None);
    }

    #[test]
    fn store_round_trip_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let store = VoiceStore::at(Some(dir.path()));
        assert!(store.load_all(None).unwrap().is_empty());
        let path = store.add(&voice("Côte d'Ivoire", axis(3))).unwrap();
        assert!(path.starts_with(dir.path()));
        assert_eq!(store.load_all(Some(&"ab".repeat(32))).unwrap().len(), 1);
        // Another speaker model: refused with the reason.
        let err = store.load_all(Some(&"cd".repeat(32))).unwrap_err();
        assert!(err.to_string().contains("another speaker model"), "{err}");
        // Corrupt file: refused, naming it.
        std::fs::write(&path, b"{ not json").unwrap();
        let err = store.load_all(None).unwrap_err();
        assert!(err.to_string().contains("not a valid voiceprint"), "{err}");
        // Names cannot escape the folder.
        assert_eq!(file_stem("../../etc/passwd"), "______etc_passwd");
        store.remove("CÔTE D'IVOIRE").unwrap();
        assert!(store.remove("nobody").is_err());
    }
}
