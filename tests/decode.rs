//! Decoding every supported container and codec to 16 kHz mono, checked against the lossless
//! version of the same clip.

mod common;

use common::fixture;
use rapporteur::audio::{decode_file, DecodeOptions, SAMPLE_RATE};
use rapporteur::ErrorKind;

fn decode(name: &str) -> rapporteur::audio::DecodedAudio {
    decode_file(&fixture(name), &DecodeOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Loudness envelope in 20 ms frames: comparable across lossy codecs that do not keep phase.
fn envelope(samples: &[f32]) -> Vec<f32> {
    samples
        .chunks(320)
        .map(|f| (f.iter().map(|v| v * v).sum::<f32>() / f.len() as f32).sqrt())
        .collect()
}

fn correlation(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let ma = a.iter().sum::<f32>() / n as f32;
    let mb = b.iter().sum::<f32>() / n as f32;
    let cov: f32 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f32 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f32 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// Best envelope correlation within +-200 ms (codecs add different delays).
fn best_correlation(a: &[f32], b: &[f32]) -> f32 {
    let (ea, eb) = (envelope(a), envelope(b));
    (0..10)
        .flat_map(|lag| [correlation(&ea[lag..], &eb), correlation(&ea, &eb[lag..])])
        .fold(f32::MIN, f32::max)
}

#[test]
fn every_container_and_codec_decodes_to_the_same_speech() {
    let reference = decode("clip.flac");
    assert!(
        (reference.duration() - 4.0).abs() < 0.02,
        "flac duration {}",
        reference.duration()
    );
    assert_eq!(reference.info.sample_rate, 24_000);
    for (name, container, codec, rate, channels) in [
        ("clip.mp3", "mp3", "mp3", 44_100, 2),
        ("clip.ogg", "ogg", "vorbis", 22_050, 1),
        ("clip.opus", "ogg", "opus", 48_000, 1),
        ("clip.webm", "matroska", "opus", 48_000, 1),
        ("clip.m4a", "isomp4", "aac", 32_000, 2),
        ("clip-alac.m4a", "isomp4", "alac", 16_000, 1),
    ] {
        let d = decode(name);
        assert!(
            d.info.container.contains(container),
            "{name}: container {}",
            d.info.container
        );
        assert!(
            d.info.codec.contains(codec),
            "{name}: codec {}",
            d.info.codec
        );
        assert_eq!(
            (d.info.sample_rate, d.info.channels),
            (rate, channels),
            "{name}"
        );
        // Lossy codecs may add up to a frame or two of priming/padding.
        assert!(
            (d.duration() - 4.0).abs() < 0.1,
            "{name}: duration {}",
            d.duration()
        );
        let r = best_correlation(&reference.samples, &d.samples);
        assert!(
            r > 0.95,
            "{name}: envelope correlation with the FLAC clip only {r}"
        );
    }
}

#[test]
fn wav_of_every_sample_format_round_trips() {
    let reference = decode("clip.flac").samples;
    let dir = tempfile::tempdir().unwrap();
    let formats: [(&str, u16, hound::SampleFormat, u16); 6] = [
        ("u8", 8, hound::SampleFormat::Int, 1),
        ("s16", 16, hound::SampleFormat::Int, 1),
        ("s24", 24, hound::SampleFormat::Int, 1),
        ("s32", 32, hound::SampleFormat::Int, 1),
        ("f32", 32, hound::SampleFormat::Float, 1),
        ("s16-stereo", 16, hound::SampleFormat::Int, 2),
    ];
    for (label, bits, format, channels) in formats {
        let path = dir.path().join(format!("{label}.wav"));
        let spec = hound::WavSpec {
            channels,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: bits,
            sample_format: format,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for &v in &reference {
            for _ in 0..channels {
                match (format, bits) {
                    (hound::SampleFormat::Float, _) => w.write_sample(v).unwrap(),
                    (_, 8) => w.write_sample((v * 127.0).round() as i8).unwrap(),
                    (_, 16) => w.write_sample((v * 32767.0).round() as i16).unwrap(),
                    (_, 24) => w.write_sample((v * 8_388_607.0).round() as i32).unwrap(),
                    _ => w
                        .write_sample((v as f64 * 2_147_483_647.0).round() as i32)
                        .unwrap(),
                }
            }
        }
        w.finalize().unwrap();
        let d = decode_file(&path, &DecodeOptions::default())
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(d.samples.len(), reference.len(), "{label}");
        assert_eq!(d.info.channels, channels as u32);
        let tolerance = if bits == 8 { 1.0 / 100.0 } else { 1e-4 };
        let worst = d
            .samples
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst <= tolerance, "{label}: worst difference {worst}");
    }
}

#[test]
fn resampling_keeps_timing() {
    // A 1 kHz tone burst at exactly 1.000 s in a 44.1 kHz stereo file must start at sample 16000.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("burst.wav");
    let rate = 44_100u32;
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..rate * 2 {
        let t = i as f32 / rate as f32;
        let v = if (1.0..1.5).contains(&t) {
            (2.0 * std::f32::consts::PI * 1000.0 * t).sin() * 0.5
        } else {
            0.0
        };
        w.write_sample((v * 32767.0) as i16).unwrap();
        w.write_sample((v * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    let d = decode_file(&path, &DecodeOptions::default()).unwrap();
    assert_eq!(d.samples.len(), 32_000);
    let onset = d.samples.iter().position(|v| v.abs() > 0.1).unwrap();
    assert!(
        (onset as i64 - 16_000).abs() <= 16,
        "onset at sample {onset}"
    );
}

#[test]
fn unsupported_codec_is_named() {
    let err = decode_file(&fixture("clip-ac3.mka"), &DecodeOptions::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Input);
    assert!(
        err.to_string().contains("unsupported audio codec AC-3"),
        "{err}"
    );
}

#[test]
fn max_duration_is_enforced() {
    let opts = DecodeOptions {
        max_duration: Some(2.0),
    };
    let err = decode_file(&fixture("clip.flac"), &opts).unwrap_err();
    assert!(
        err.to_string().contains("longer than the limit of 2 s"),
        "{err}"
    );
}
