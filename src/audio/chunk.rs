//! Cutting long audio into pieces Whisper can take (at most 30 s) at its quietest moments, so
//! that no word is split and the recogniser's window holds real context.

use std::ops::Range;

use super::SAMPLE_RATE;

/// Frames of 10 ms for the loudness envelope.
const FRAME: usize = SAMPLE_RATE as usize / 100;

/// Split `samples` into consecutive ranges of at most `max_s` seconds (and, except for the last,
/// at least `min_s`), cutting where a 200 ms window is quietest. The ranges cover everything.
pub fn split_at_pauses(samples: &[f32], min_s: f64, max_s: f64) -> Vec<Range<usize>> {
    let max_len = (max_s * SAMPLE_RATE as f64) as usize;
    let min_len = ((min_s * SAMPLE_RATE as f64) as usize).min(max_len);
    if samples.len() <= max_len {
        return std::iter::once(0..samples.len()).collect();
    }
    let energy: Vec<f32> = samples
        .chunks(FRAME)
        .map(|f| f.iter().map(|v| v * v).sum::<f32>() / f.len() as f32)
        .collect();
    // Smooth over 20 frames (200 ms) so a cut lands in a pause, not between two syllables.
    let window = 20usize;
    let mut prefix = vec![0f64; energy.len() + 1];
    for (i, e) in energy.iter().enumerate() {
        prefix[i + 1] = prefix[i] + *e as f64;
    }
    let smoothed = |i: usize| {
        let lo = i.saturating_sub(window / 2);
        let hi = (i + window / 2).min(energy.len());
        (prefix[hi] - prefix[lo]) / (hi - lo).max(1) as f64
    };
    let mut ranges = Vec::new();
    let mut start = 0usize;
    while samples.len() - start > max_len {
        let lo = (start + min_len) / FRAME;
        let hi = (start + max_len) / FRAME;
        // Prefer the quietest frame; among near-equals, the latest (longer chunks, fewer passes).
        let mut best = hi;
        let mut best_e = f64::INFINITY;
        for i in lo..hi {
            let e = smoothed(i);
            if e <= best_e * 1.05 {
                if e < best_e {
                    best_e = e;
                }
                best = i;
            }
        }
        let cut = (best * FRAME).clamp(start + 1, start + max_len);
        ranges.push(start..cut);
        start = cut;
    }
    ranges.push(start..samples.len());
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_audio_is_one_piece() {
        assert_eq!(
            split_at_pauses(&vec![0.1; 16_000 * 10], 20.0, 30.0),
            vec![0..160_000]
        );
    }

    #[test]
    fn cuts_land_in_pauses_and_cover_everything() {
        // 70 s of "speech" (noise) with a 1 s pause at 25 s and at 52 s.
        let sr = SAMPLE_RATE as usize;
        let mut s = 12345u32;
        let mut samples: Vec<f32> = (0..70 * sr)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32 - 0.5) * 0.5
            })
            .collect();
        for pause in [25 * sr..26 * sr, 52 * sr..53 * sr] {
            samples[pause].iter_mut().for_each(|v| *v = 0.0);
        }
        let ranges = split_at_pauses(&samples, 20.0, 30.0);
        assert_eq!(ranges.first().unwrap().start, 0);
        assert_eq!(ranges.last().unwrap().end, samples.len());
        for w in ranges.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        assert_eq!(ranges.len(), 3, "{ranges:?}");
        for r in &ranges[..2] {
            assert!(r.len() <= 30 * sr);
            let t = r.end as f64 / sr as f64;
            assert!(
                (25.0..26.0).contains(&t) || (52.0..53.0).contains(&t),
                "cut at {t}"
            );
        }
    }
}
