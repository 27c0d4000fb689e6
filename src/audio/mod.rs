//! Decoding any common recording to 16 kHz mono f32, the input every later stage takes.

mod chunk;
mod decode;
mod resample;
mod speech;
pub mod vad;

pub use chunk::split_at_pauses;
pub use decode::{decode_file, decode_stream, probe_info, DecodeOptions, DecodedAudio, SourceInfo};
pub use resample::MonoResampler;
pub use speech::{SpeechChunk, SpeechChunker, MAX_CHUNK_S};
pub use vad::{SileroVad, VadParams};

/// The sample rate every stage works at.
pub const SAMPLE_RATE: u32 = 16_000;

/// Write 16 kHz mono samples as a 16-bit PCM WAV file, atomically.
pub fn write_wav(path: &std::path::Path, samples: &[f32]) -> crate::Result<()> {
    crate::fsutil::write_atomic_with(path, |file| {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(std::io::BufWriter::new(file), spec)
            .map_err(std::io::Error::other)?;
        for &v in samples {
            w.write_sample((v.clamp(-1.0, 1.0) * 32767.0).round() as i16)
                .map_err(std::io::Error::other)?;
        }
        w.finalize().map_err(std::io::Error::other)
    })
}
