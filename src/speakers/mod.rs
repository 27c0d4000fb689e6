//! Speakers: who spoke when. The GE2E speaker encoder (candle) embeds sliding windows over
//! speech, windows are clustered into speakers without being told how many, speakers are named
//! from enrolled voices or a names file, and words are attributed to them.

pub mod attribute;
pub mod diarize;
pub mod embed;
pub mod ge2e;
pub mod names;
pub mod torch_legacy;
pub mod voices;

pub use attribute::attribute;
pub use diarize::{diarize, DiarizeParams, Diarized};
pub use embed::{SpeakerEmbedder, WindowEmbedding};
pub use ge2e::Ge2e;
pub use voices::{match_voices, VoiceStore, Voiceprint};

use crate::error::Result;
use crate::models::{self, PackagedModel};

/// The speaker encoder with the record of which weights it runs.
pub struct SpeakerModel {
    pub encoder: Ge2e,
    pub model: PackagedModel,
}

impl SpeakerModel {
    /// Load the installed GE2E weights (sha256-verified).
    pub fn load() -> Result<SpeakerModel> {
        let model = models::resolve_packaged(models::DEFAULT_SPEAKER)?;
        let encoder = Ge2e::load(&model.file("pretrained.pt"))?;
        Ok(SpeakerModel { encoder, model })
    }
}

/// Unit-length mean of window voiceprints (empty input gives None).
pub fn mean_voiceprint(windows: &[WindowEmbedding]) -> Option<Vec<f32>> {
    let first = windows.first()?;
    let mut sum = vec![0f32; first.vector.len()];
    for w in windows {
        for (s, v) in sum.iter_mut().zip(&w.vector) {
            *s += v;
        }
    }
    Some(diarize::normalise(sum))
}
