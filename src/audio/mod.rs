//! Decoding any common recording to 16 kHz mono f32, the input every later stage takes.

mod decode;
mod resample;

pub use decode::{decode_file, probe_info, DecodeOptions, DecodedAudio, SourceInfo};
pub use resample::MonoResampler;

/// The sample rate every stage works at.
pub const SAMPLE_RATE: u32 = 16_000;
