//! Speakers: who spoke when. pyannote segmentation-3.0 (candle) finds up to three local
//! speakers in sliding 10 s windows, two of them at once; CAM++ (candle) makes voiceprints of
//! each voice's solo speech; voiceprints are clustered into speakers without being told how
//! many; speakers are named from enrolled voices or a names file, and words are attributed to
//! them.

pub mod attribute;
pub mod campplus;
pub mod cluster;
pub mod diarize;
pub mod floor;
pub mod names;
pub mod segmentation;
pub mod voices;

pub use attribute::attribute;
pub use diarize::{DiarizeParams, Diarized, Diarizer};
pub use voices::{match_voices, VoiceStore, Voiceprint};

use campplus::{CamPlusPlus, FBANK_BINS};
use diarize::{LocalSpeakers, Voiceprints};
use segmentation::{Segmentation, LOCAL_SPEAKERS};

use crate::error::Result;
use crate::models::{self, PackagedModel};

/// The two models of the speaker stage, with the record of which weights they run.
pub struct SpeakerModels {
    pub segmentation: Segmentation,
    pub segmentation_model: PackagedModel,
    pub voiceprints: CamPlusPlus,
    /// The voiceprint model: enrolled voices must come from the same weights.
    pub model: PackagedModel,
}

impl SpeakerModels {
    /// Load the installed weights (sha256-verified).
    pub fn load() -> Result<SpeakerModels> {
        let segmentation_model = models::resolve_packaged(models::DEFAULT_SEGMENTATION)?;
        let segmentation = Segmentation::load(&segmentation_model.file("pytorch_model.bin"))?;
        let model = models::resolve_packaged(models::DEFAULT_SPEAKER)?;
        let voiceprints = CamPlusPlus::load(&model.file("campplus_cn_en_common.pt"))?;
        Ok(SpeakerModels {
            segmentation,
            segmentation_model,
            voiceprints,
            model,
        })
    }

    /// A diarizer over these models, to be fed the recording.
    pub fn diarizer(&self, params: DiarizeParams) -> Diarizer<'_, Segmentation, CamPlusPlus> {
        Diarizer::new(&self.segmentation, &self.voiceprints, params)
    }
}

impl LocalSpeakers for Segmentation {
    fn activity(
        &self,
        audio: &[f32],
        starts: &[usize],
    ) -> Result<Vec<Vec<[bool; LOCAL_SPEAKERS]>>> {
        Segmentation::activity(self, audio, starts)
    }
}

impl Voiceprints for CamPlusPlus {
    fn voiceprints(&self, utterances: &[&[[f32; FBANK_BINS]]]) -> Result<Vec<Option<Vec<f32>>>> {
        self.embed(utterances)
    }
}
