//! Voiceprints of sliding windows over speech: each region of speech is cut into 1.6 s windows
//! every 0.75 s, and windows are embedded by GE2E in batches as they accumulate, so only the
//! 256-d vectors are kept (about 5 MB per hour of speech), never the audio.

use super::ge2e::{Ge2e, HOP, SAMPLE_RATE, WINDOW_FRAMES};
use crate::error::Result;

/// Mel frames between the starts of consecutive windows (0.75 s).
pub const HOP_FRAMES: usize = 75;
/// Windows embedded together: large batches keep the matrix products efficient.
const BATCH: usize = 32;
/// Regions shorter than this are not embedded; their frames take the nearest window's voice.
const MIN_REGION_S: f64 = 0.4;

/// The voiceprint of one window of speech, with its place on the recording's clock.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowEmbedding {
    pub start: f64,
    pub end: f64,
    pub vector: Vec<f32>,
}

impl WindowEmbedding {
    pub fn centre(&self) -> f64 {
        (self.start + self.end) / 2.0
    }
}

/// Collects regions of speech and turns them into window voiceprints.
pub struct SpeakerEmbedder<'a> {
    model: &'a Ge2e,
    /// Windows waiting for a full batch: (start s, end s, mel frames).
    pending: Vec<(f64, f64, Vec<[f32; 40]>)>,
    done: Vec<WindowEmbedding>,
}

impl<'a> SpeakerEmbedder<'a> {
    pub fn new(model: &'a Ge2e) -> SpeakerEmbedder<'a> {
        SpeakerEmbedder {
            model,
            pending: Vec::new(),
            done: Vec::new(),
        }
    }

    /// Add a region of speech whose first sample is sample `start` of the recording.
    pub fn push_region(&mut self, start: usize, samples: &[f32]) -> Result<()> {
        let sr = SAMPLE_RATE as f64;
        if (samples.len() as f64) < MIN_REGION_S * sr {
            return Ok(());
        }
        let t0 = start as f64 / sr;
        let frame_s = HOP as f64 / sr;
        let mel = self.model.mel(samples);
        let region_end = t0 + samples.len() as f64 / sr;
        for first in window_starts(mel.len()) {
            let mut frames: Vec<[f32; 40]> =
                mel[first..mel.len().min(first + WINDOW_FRAMES)].to_vec();
            // A region shorter than a window is padded with silence, as resemblyzer pads a short
            // utterance with zeros.
            frames.resize(WINDOW_FRAMES, [0.0; 40]);
            let w_start = t0 + first as f64 * frame_s;
            let w_end = (w_start + WINDOW_FRAMES as f64 * frame_s).min(region_end);
            self.pending.push((w_start, w_end, frames));
        }
        if self.pending.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Embed what is left and return every window, in order of time.
    pub fn finish(mut self) -> Result<Vec<WindowEmbedding>> {
        self.flush()?;
        self.done
            .sort_by(|a, b| a.start.total_cmp(&b.start).then(a.end.total_cmp(&b.end)));
        Ok(self.done)
    }

    /// Windows embedded so far.
    pub fn windows(&self) -> usize {
        self.done.len() + self.pending.len()
    }

    fn flush(&mut self) -> Result<()> {
        for batch in self.pending.chunks(BATCH) {
            let refs: Vec<&[[f32; 40]]> = batch.iter().map(|(_, _, f)| f.as_slice()).collect();
            let vectors = self.model.embed_windows(&refs)?;
            for ((start, end, _), vector) in batch.iter().zip(vectors) {
                self.done.push(WindowEmbedding {
                    start: *start,
                    end: *end,
                    vector,
                });
            }
        }
        self.pending.clear();
        Ok(())
    }
}

/// First frame of each window over `frames` mel frames: every HOP_FRAMES, plus one ending at
/// the last frame when the regular ones stop more than a quarter of a window short of it.
fn window_starts(frames: usize) -> Vec<usize> {
    if frames <= WINDOW_FRAMES {
        return vec![0];
    }
    let last = frames - WINDOW_FRAMES;
    let mut starts: Vec<usize> = (0..=last).step_by(HOP_FRAMES).collect();
    if last - starts[starts.len() - 1] > WINDOW_FRAMES / 4 {
        starts.push(last);
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_region() {
        assert_eq!(window_starts(100), vec![0]);
        assert_eq!(window_starts(160), vec![0]);
        assert_eq!(window_starts(235), vec![0, 75]);
        assert_eq!(window_starts(300), vec![0, 75, 140]);
        let s = window_starts(1000);
        assert!(*s.last().unwrap() + WINDOW_FRAMES >= 1000 - WINDOW_FRAMES / 4);
    }
}
