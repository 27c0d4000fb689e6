//! Decoding any common recording to 16 kHz mono f32, the input every later stage takes.

mod chunk;
mod decode;
mod resample;
mod speech;
pub mod vad;

pub use chunk::split_at_pauses;
pub use decode::{
    decode_file, decode_stream, open_recording, DecodeOptions, DecodedAudio, OpenedRecording,
    SourceInfo, DEFAULT_MAX_DURATION,
};
pub use resample::MonoResampler;
pub use speech::{SpeechChunk, SpeechChunker, SpeechRegion, MAX_CHUNK_S, MAX_JOINED_PAUSE_S};
pub use vad::{SileroVad, VadParams};

/// The sample rate every stage works at.
pub const SAMPLE_RATE: u32 = 16_000;

/// File extensions of the containers the decoder reads (lower case), for finding recordings
/// in a folder: WAV, MP3, MP4/M4A (AAC or ALAC), FLAC, Ogg (Vorbis, Opus), WebM/Matroska,
/// AIFF, CAF and raw AAC.
pub const RECORDING_EXTENSIONS: &[&str] = &[
    "wav", "wave", "mp3", "m4a", "m4b", "mp4", "mov", "aac", "flac", "ogg", "oga", "opus", "webm",
    "mkv", "mka", "aif", "aiff", "caf",
];

/// Whether `path` is named like a recording the decoder reads.
pub fn is_recording_name(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| RECORDING_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Decode `input` straight into a 16-bit 16 kHz mono WAV file at `output` (atomically, holding
/// no more than a packet of audio). Returns what the source was and how many samples came out.
pub fn decode_to_wav(
    input: &std::path::Path,
    output: &std::path::Path,
    opts: &DecodeOptions,
) -> crate::Result<(SourceInfo, usize)> {
    let mut failure: Option<crate::Error> = None;
    let mut result = None;
    let written = crate::fsutil::write_atomic_with(output, |file| {
        let mut w = hound::WavWriter::new(std::io::BufWriter::new(file), wav_spec())
            .map_err(std::io::Error::other)?;
        let mut count = 0usize;
        let decoded = decode_stream(input, opts, |block| {
            count += block.len();
            for &v in block {
                w.write_sample(pcm16(v))
                    .map_err(|e| crate::Error::output(output, e.to_string()))?;
            }
            Ok(())
        });
        match decoded {
            Ok(info) => result = Some((info, count)),
            Err(e) => {
                failure = Some(e);
                return Err(std::io::Error::other("decoding failed"));
            }
        }
        w.finalize().map_err(std::io::Error::other)
    });
    if let Some(e) = failure {
        return Err(e);
    }
    written?;
    Ok(result.expect("set when writing succeeded"))
}

/// Decode `input` to 16 kHz mono 16-bit PCM WAV on `out` (standard output), streamed as
/// ffmpeg and sox write to a pipe: the header cannot be gone back to, so its RIFF and data
/// sizes say 0xFFFFFFFF (unknown) and the audio runs to the end of the stream. Returns what
/// [`decode_to_wav`] does.
pub fn decode_to_wav_stream(
    input: &std::path::Path,
    out: &mut impl std::io::Write,
    opts: &DecodeOptions,
) -> crate::Result<(SourceInfo, usize)> {
    use std::io::Write;
    let shown = std::path::Path::new("<stdout>");
    let broken = |e: std::io::Error| crate::Error::output(shown, crate::error::io_cause(&e));
    let mut out = std::io::BufWriter::new(out);
    let bytes_per_second = SAMPLE_RATE * 2;
    let mut header = Vec::with_capacity(44);
    header.extend_from_slice(b"RIFF");
    header.extend_from_slice(&u32::MAX.to_le_bytes());
    header.extend_from_slice(b"WAVEfmt ");
    header.extend_from_slice(&16u32.to_le_bytes());
    header.extend_from_slice(&1u16.to_le_bytes()); // PCM
    header.extend_from_slice(&1u16.to_le_bytes()); // mono
    header.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    header.extend_from_slice(&bytes_per_second.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes()); // block align
    header.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    header.extend_from_slice(b"data");
    header.extend_from_slice(&u32::MAX.to_le_bytes());
    // Decode first so that an unreadable input writes nothing at all.
    let mut started = false;
    let mut count = 0usize;
    let info = decode_stream(input, opts, |block| {
        if !started {
            out.write_all(&header).map_err(broken)?;
            started = true;
        }
        count += block.len();
        for &v in block {
            let sample = pcm16(v);
            out.write_all(&sample.to_le_bytes()).map_err(broken)?;
        }
        Ok(())
    })?;
    if !started {
        out.write_all(&header).map_err(broken)?;
    }
    out.flush().map_err(broken)?;
    Ok((info, count))
}

/// A sample in [-1, 1] as 16-bit PCM (out-of-range values clipped).
fn pcm16(v: f32) -> i16 {
    (v.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

fn wav_spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Write 16 kHz mono samples as a 16-bit PCM WAV file, atomically.
pub fn write_wav(path: &std::path::Path, samples: &[f32]) -> crate::Result<()> {
    crate::fsutil::write_atomic_with(path, |file| {
        let mut w = hound::WavWriter::new(std::io::BufWriter::new(file), wav_spec())
            .map_err(std::io::Error::other)?;
        for &v in samples {
            w.write_sample(pcm16(v)).map_err(std::io::Error::other)?;
        }
        w.finalize().map_err(std::io::Error::other)
    })
}
