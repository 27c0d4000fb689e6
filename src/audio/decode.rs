//! Decode a recording of any common container and codec, incrementally, into 16 kHz mono f32.
//!
//! Packets are decoded one at a time, down-mixed to mono and fed to the resampler, so only the
//! 16 kHz output is ever held whole. Every failure names its cause in words a user can act on.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::OnceLock;

use symphonia::core::codecs::audio::well_known as codec_ids;
use symphonia::core::codecs::audio::{AudioCodecId, AudioDecoderOptions};
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

use super::resample::MonoResampler;
use super::SAMPLE_RATE;
use crate::error::{io_cause, Error, Result};

/// The longest recording decoded unless told otherwise: 24 hours. A real session is never
/// longer, and the limit stops a small file that decodes to endless audio (a decompression
/// bomb) long before it fills memory or costs a day of transcription.
pub const DEFAULT_MAX_DURATION: f64 = 86_400.0;

/// Options for decoding.
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// Stop with an error if the recording is longer than this many seconds (`None`: no limit).
    pub max_duration: Option<f64>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_duration: Some(DEFAULT_MAX_DURATION),
        }
    }
}

/// What the recording was, before decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    pub container: String,
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u32,
    /// Length the container announces (seconds), when it does: used for progress and ETA.
    pub announced_duration: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct DecodedAudio {
    /// 16 kHz mono samples, nominally in [-1, 1].
    pub samples: Vec<f32>,
    pub info: SourceInfo,
}

impl DecodedAudio {
    pub fn duration(&self) -> f64 {
        self.samples.len() as f64 / SAMPLE_RATE as f64
    }
}

fn codecs() -> &'static CodecRegistry {
    static REGISTRY: OnceLock<CodecRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        // Symphonia has no Opus decoder of its own; libopus (bundled) fills the gap.
        registry.register_audio_decoder::<symphonia_adapter_libopus::OpusDecoder>();
        registry
    })
}

/// Decode the whole file to 16 kHz mono.
pub fn decode_file(path: &Path, opts: &DecodeOptions) -> Result<DecodedAudio> {
    let mut samples = Vec::new();
    let info = decode_stream(path, opts, |chunk| {
        samples.extend_from_slice(chunk);
        Ok(())
    })?;
    Ok(DecodedAudio { samples, info })
}

/// A recording whose container and codec have been read, ready to decode: what it is (and
/// how long it says it is) is known before any audio is decoded, from a single open.
pub struct OpenedRecording {
    path: std::path::PathBuf,
    format: Box<dyn symphonia::core::formats::FormatReader>,
    track_id: u32,
    codec_id: AudioCodecId,
    params: symphonia::core::codecs::audio::AudioCodecParameters,
    num_frames: Option<u64>,
    /// The container does not know where the audio ends (a WAV written to a pipe): the end of
    /// the file is its normal end, not a truncation.
    length_unknown: bool,
    info: SourceInfo,
}

/// Open `path` and read its container and codec description (no decoding yet).
pub fn open_recording(path: &Path) -> Result<OpenedRecording> {
    let meta = std::fs::metadata(path).map_err(|e| Error::input(path, io_cause(&e)))?;
    if meta.is_dir() {
        return Err(Error::input(path, "is a directory, not a recording"));
    }
    if meta.len() == 0 {
        return Err(Error::input(path, "is empty (0 bytes)"));
    }
    let mut file = File::open(path).map_err(|e| Error::input(path, io_cause(&e)))?;
    let mut head = vec![0u8; 512];
    let n = read_up_to(&mut file, &mut head).map_err(|e| Error::input(path, io_cause(&e)))?;
    head.truncate(n);
    // Leading ID3v2 tags (cover art can make them megabytes) are skipped here: the probe only
    // scans the first megabyte for a container, so a large tag would hide the audio after it.
    let start =
        id3v2_tags_len(&mut file, meta.len()).map_err(|e| Error::input(path, io_cause(&e)))?;
    file.seek(SeekFrom::Start(start))
        .map_err(|e| Error::input(path, io_cause(&e)))?;
    // A WAV written to a pipe (ffmpeg, sox) cannot go back to fill in its sizes and leaves them
    // at 0xFFFFFFFF: its length is unknown and the audio simply runs to the end of the file.
    let streamed_wav = is_riff_wave(&head) && head[4..8] == [0xff; 4];

    let source = OffsetSource {
        file,
        start,
        len: meta.len(),
        seekable: meta.is_file(),
    };
    let mss = MediaSourceStream::new(Box::new(source), MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymError::Unsupported(_) if head.len() < 12 && starts_like_audio(&head) => {
                Error::input(path, "truncated: the file ends inside its header")
            }
            SymError::Unsupported(_) | SymError::DecodeError(_) if looks_like_text(&head) => {
                Error::input(path, "is not audio: it looks like a text file")
            }
            SymError::Unsupported(_) => match wav_format_tag(&head) {
                Some(tag) => Error::input(
                    path,
                    format!("unsupported WAV audio encoding (format tag 0x{tag:04x})"),
                ),
                None => Error::input(path, "not a recognised audio or video container"),
            },
            SymError::IoError(ref io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                Error::input(path, "truncated: the file ends inside its header")
            }
            SymError::DecodeError(msg) => Error::input(path, damaged_header(msg)),
            other => Error::input(path, format!("cannot read the container: {other}")),
        })?;
    let container = format.format_info().short_name.to_string();
    let track = format
        .default_track(TrackType::Audio)
        .or_else(|| {
            format
                .tracks()
                .iter()
                .find(|t| t.codec_params.as_ref().and_then(|c| c.audio()).is_some())
        })
        .ok_or_else(|| Error::input(path, format!("no audio track in this {container} file")))?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|c| c.audio())
        .cloned()
        .ok_or_else(|| Error::input(path, "no audio track parameters"))?;
    let codec_id = params.codec;
    let codec = match codecs().get_audio_decoder(codec_id) {
        Some(reg) => reg.codec.info.short_name.to_string(),
        None => {
            return Err(Error::input(
                path,
                format!(
                    "unsupported audio codec {} in a {container} file",
                    codec_name(codec_id)
                ),
            ))
        }
    };
    let sample_rate = params.sample_rate.unwrap_or(0);
    let channels = params
        .channels
        .as_ref()
        .map(|c| c.count() as u32)
        .unwrap_or(0);
    let num_frames = track.num_frames.filter(|_| !streamed_wav);
    let announced_duration = num_frames
        .filter(|_| sample_rate > 0)
        .map(|n| n as f64 / sample_rate as f64);
    let info = SourceInfo {
        container,
        codec,
        sample_rate,
        channels,
        announced_duration,
    };
    Ok(OpenedRecording {
        path: path.to_path_buf(),
        track_id: track.id,
        num_frames,
        length_unknown: streamed_wav,
        codec_id,
        params,
        format,
        info,
    })
}

/// Decode `path`, handing 16 kHz mono blocks to `sink` as they are produced. An error from
/// `sink` stops decoding and is returned.
pub fn decode_stream(
    path: &Path,
    opts: &DecodeOptions,
    sink: impl FnMut(&[f32]) -> Result<()>,
) -> Result<SourceInfo> {
    open_recording(path)?.decode(opts, sink)
}

impl OpenedRecording {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// Decode, handing 16 kHz mono blocks to `sink` as they are produced. An error from
    /// `sink` stops decoding and is returned.
    pub fn decode(
        self,
        opts: &DecodeOptions,
        mut sink: impl FnMut(&[f32]) -> Result<()>,
    ) -> Result<SourceInfo> {
        let OpenedRecording {
            path,
            mut format,
            track_id,
            codec_id,
            params,
            num_frames,
            length_unknown,
            mut info,
        } = self;
        let path = path.as_path();
        if let (Some(max), Some(announced)) = (opts.max_duration, info.announced_duration) {
            // Refuse before any work when the header already says the file is too long.
            if announced > max + 1.0 {
                return Err(Error::input(
                    path,
                    format!(
                    "longer than the limit of {max:.0} s (the header announces {announced:.0} s; \
                     raise the limit with --max-duration)"
                ),
                ));
            }
        }
        let mut decoder = codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| {
                Error::input(path, format!("cannot decode {}: {e}", codec_name(codec_id)))
            })?;

        let mut resampler: Option<MonoResampler> = None;
        let mut interleaved: Vec<f32> = Vec::new();
        let mut mono: Vec<f32> = Vec::new();
        let mut block: Vec<f32> = Vec::new();
        let mut frames_in: u64 = 0;
        let mut packets = 0u64;
        let mut bad_packets = 0u64;
        let mut produced: u64 = 0;
        let max_samples = opts.max_duration.map(|d| (d * SAMPLE_RATE as f64) as u64);
        let mut truncated = false;

        loop {
            crate::interrupt::check()?;
            let packet = match format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    truncated = !length_unknown;
                    break;
                }
                Err(SymError::ResetRequired) => break,
                Err(SymError::DecodeError(msg)) if packets > 0 => {
                    // A damaged region inside a stream: count it, keep going.
                    bad_packets += 1;
                    if bad_packets > 64 && bad_packets * 2 > packets {
                        return Err(Error::input(path, format!("too damaged to decode ({msg})")));
                    }
                    continue;
                }
                Err(SymError::DecodeError(msg)) => {
                    return Err(Error::input(
                        path,
                        format!("damaged before its first audio packet ({msg})"),
                    ))
                }
                Err(e) => return Err(Error::input(path, format!("cannot read the stream: {e}"))),
            };
            if packet.track_id != track_id {
                continue;
            }
            packets += 1;
            let buf = match decoder.decode(&packet) {
                Ok(buf) => buf,
                Err(SymError::DecodeError(msg)) | Err(SymError::Unsupported(msg)) => {
                    bad_packets += 1;
                    if bad_packets > 64 && bad_packets * 2 > packets {
                        return Err(Error::input(path, format!("too damaged to decode ({msg})")));
                    }
                    continue;
                }
                Err(SymError::IoError(e)) => {
                    return Err(Error::input(path, format!("cannot decode: {e}")))
                }
                Err(e) => return Err(Error::input(path, format!("cannot decode: {e}"))),
            };
            let spec = buf.spec();
            let channels = spec.channels().count().max(1);
            let rate = spec.rate();
            if rate == 0 {
                return Err(Error::input(
                    path,
                    "the stream declares a sample rate of 0 Hz",
                ));
            }
            if info.sample_rate == 0 {
                info.sample_rate = rate;
            }
            if info.channels == 0 {
                info.channels = channels as u32;
            }
            let frames = buf.frames();
            if frames == 0 {
                continue;
            }
            interleaved.clear();
            buf.copy_to_vec_interleaved(&mut interleaved);
            mono.clear();
            mono.extend(interleaved.chunks_exact(channels).map(|frame| {
                let sum: f32 = frame
                    .iter()
                    .map(|v| if v.is_finite() { *v } else { 0.0 })
                    .sum();
                sum / channels as f32
            }));
            frames_in += frames as u64;
            let rs = match resampler.as_mut() {
                Some(r) if r.input_rate() == rate => r,
                Some(_) => {
                    return Err(Error::input(
                        path,
                        "the sample rate changes mid-stream; this is not supported",
                    ))
                }
                None => resampler.insert(MonoResampler::new(rate, SAMPLE_RATE).map_err(|e| {
                    Error::input(path, format!("cannot resample from {rate} Hz: {e}"))
                })?),
            };
            block.clear();
            rs.push(&mono, |out| block.extend_from_slice(out));
            produced += block.len() as u64;
            if !block.is_empty() {
                sink(&block)?;
            }
            if let Some(max) = max_samples {
                if produced > max {
                    return Err(Error::input(
                        path,
                        format!(
                            "longer than the limit of {:.0} s (raise it with --max-duration)",
                            opts.max_duration.unwrap_or(0.0)
                        ),
                    ));
                }
            }
        }
        if let Some(rs) = resampler.as_mut() {
            block.clear();
            rs.finish(|out| block.extend_from_slice(out));
            if !block.is_empty() {
                sink(&block)?;
            }
        }
        let seconds = |frames: u64| frames as f64 / info.sample_rate.max(1) as f64;
        if truncated {
            return Err(Error::input(
                path,
                format!(
                    "truncated: the stream ends in the middle of a packet after {:.1} s of audio",
                    seconds(frames_in)
                ),
            ));
        }
        if let Some(expected) = num_frames {
            // Containers that state their length (WAV, FLAC, MP3 with a Xing/LAME header, MP4) let
            // us notice a file cut at a packet boundary. Allow for encoder padding and delay.
            let slack = (info.sample_rate as u64 / 10).max(4096);
            if frames_in + slack < expected {
                return Err(Error::input(
                    path,
                    format!(
                    "truncated: the header announces {:.1} s but only {:.1} s of audio is present",
                    seconds(expected),
                    seconds(frames_in)
                ),
                ));
            }
        }
        if frames_in == 0 {
            return Err(if bad_packets > 0 {
                Error::input(
                    path,
                    "no packet could be decoded: the audio data is corrupt",
                )
            } else {
                Error::input(path, "contains no audio samples")
            });
        }
        Ok(info)
    }
}

/// The length of the ID3v2 tags at the start of `file` (0 when there are none, or when a tag
/// claims to run past the end of the file).
fn id3v2_tags_len(file: &mut File, file_len: u64) -> std::io::Result<u64> {
    let mut start = 0u64;
    loop {
        let mut header = [0u8; 10];
        file.seek(SeekFrom::Start(start))?;
        if read_up_to(file, &mut header)? < 10
            || &header[..3] != b"ID3"
            || header[6..10].iter().any(|b| b & 0x80 != 0)
        {
            return Ok(start);
        }
        let size = header[6..10]
            .iter()
            .fold(0u64, |acc, &b| (acc << 7) | u64::from(b));
        let footer = if header[3] == 4 && header[5] & 0x10 != 0 {
            10
        } else {
            0
        };
        let end = start + 10 + size + footer;
        if end >= file_len {
            return Ok(start);
        }
        start = end;
    }
}

/// The file seen from `start` on, so the probe meets the audio first.
struct OffsetSource {
    file: File,
    start: u64,
    len: u64,
    seekable: bool,
}

impl Read for OffsetSource {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.file.read(buf)
    }
}

impl Seek for OffsetSource {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        let pos = match pos {
            SeekFrom::Start(p) => SeekFrom::Start(self.start.saturating_add(p)),
            SeekFrom::End(d) => SeekFrom::End(d),
            SeekFrom::Current(d) => SeekFrom::Current(d),
        };
        let at = self.file.seek(pos)?;
        if at < self.start {
            self.file.seek(SeekFrom::Start(self.start))?;
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the audio",
            ));
        }
        Ok(at - self.start)
    }
}

impl symphonia::core::io::MediaSource for OffsetSource {
    fn is_seekable(&self) -> bool {
        self.seekable
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len - self.start)
    }
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Whether `head` starts a RIFF WAVE file.
fn is_riff_wave(head: &[u8]) -> bool {
    head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE"
}

/// The format tag of a RIFF WAVE file whose `fmt ` chunk comes first, when it is one the
/// decoder does not know (PCM, float, extensible, ADPCM, A-law and mu-law are known).
fn wav_format_tag(head: &[u8]) -> Option<u16> {
    if head.len() < 22 || !is_riff_wave(head) || &head[12..16] != b"fmt " {
        return None;
    }
    let tag = u16::from_le_bytes([head[20], head[21]]);
    (![0x0001, 0x0002, 0x0003, 0x0006, 0x0007, 0x0011, 0xfffe].contains(&tag)).then_some(tag)
}

/// The first bytes of the containers the decoder reads.
const MAGICS: &[&[u8]] = &[b"RIFF", b"RF64", b"fLaC", b"OggS", b"ID3", b"FORM", b"caff"];

/// Says in plain words what a container reader found wrong with a header, keeping the
/// reader's own words in brackets for a bug report: "riff: chunk length exceeds parent (list)
/// chunk length" tells a rapporteur nothing.
fn damaged_header(msg: &str) -> String {
    const PLAIN: [(&str, &str); 9] = [
        (
            "chunk length exceeds parent",
            "a part of the file claims to be longer than the file around it",
        ),
        (
            "invalid riff length",
            "the length it declares for itself is impossible",
        ),
        ("sample rate", "it declares an impossible sample rate"),
        (
            "channel count",
            "it declares an impossible number of channels",
        ),
        ("bits per", "it declares an impossible sample size"),
        ("block align", "it declares an impossible block size"),
        ("block size is 0", "it declares an impossible block size"),
        ("missing format chunk", "it has no format description"),
        ("malformed fmt", "its format description is malformed"),
    ];
    match PLAIN.iter().find(|(fragment, _)| msg.contains(fragment)) {
        Some((_, plain)) => format!("damaged header: {plain} ({msg})"),
        None => format!("damaged header ({msg})"),
    }
}

/// Whether `head` starts with (or, cut short, is the start of) a container's magic bytes.
fn starts_like_audio(head: &[u8]) -> bool {
    !head.is_empty()
        && MAGICS.iter().any(|m| {
            let n = m.len().min(head.len());
            head[..n] == m[..n]
        })
}

/// Heuristic: mostly printable UTF-8 with no NUL bytes, and not the start of an audio file.
fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) || starts_like_audio(head) {
        return false;
    }
    let text = String::from_utf8_lossy(head);
    let printable = text
        .chars()
        .filter(|c| !c.is_control() || c.is_whitespace())
        .count();
    printable * 100 >= text.chars().count() * 95
}

/// A readable name for codecs we may meet but cannot decode.
fn codec_name(id: AudioCodecId) -> String {
    let known = [
        (codec_ids::CODEC_ID_AC3, "AC-3"),
        (codec_ids::CODEC_ID_EAC3, "E-AC-3"),
        (codec_ids::CODEC_ID_AC4, "AC-4"),
        (codec_ids::CODEC_ID_DCA, "DTS"),
        (codec_ids::CODEC_ID_WMA, "WMA"),
        (codec_ids::CODEC_ID_SPEEX, "Speex"),
        (codec_ids::CODEC_ID_MUSEPACK, "Musepack"),
        (codec_ids::CODEC_ID_WAVPACK, "WavPack"),
        (codec_ids::CODEC_ID_MONKEYS_AUDIO, "Monkey's Audio"),
        (codec_ids::CODEC_ID_TTA, "TTA"),
        (codec_ids::CODEC_ID_ATRAC3, "ATRAC3"),
        (codec_ids::CODEC_ID_COOK, "RealAudio Cook"),
        (codec_ids::CODEC_ID_OPUS, "Opus"),
        (codec_ids::CODEC_ID_MP3, "MP3"),
        (codec_ids::CODEC_ID_AAC, "AAC"),
    ];
    known
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| format!("(codec id {id})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_detection() {
        assert!(looks_like_text(b"hello, this is not a wav file\n"));
        assert!(!looks_like_text(b"RIFF\x24\x00\x00\x00WAVE"));
        assert!(!looks_like_text(b""));
        // A WAV or FLAC cut after a few bytes is not text.
        assert!(!looks_like_text(b"RIFF"));
        assert!(!looks_like_text(b"fL"));
        assert!(starts_like_audio(b"RI"));
        assert!(!starts_like_audio(b"Minutes"));
    }
}
