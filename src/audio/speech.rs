//! From a stream of 16 kHz samples to the chunks the recogniser takes: find speech (Silero VAD,
//! or everything when VAD is off) and group the speech spans into chunks of at most 30 s of
//! real, continuous audio: spans a short pause apart share a chunk with the pause between
//! them, spans further apart never do (Whisper reading unrelated utterances glued end to end
//! skipped some and let its segments straddle the seams). Each chunk knows where it sits on
//! the recording's clock and where its speech is.
//!
//! Everything here is online and holds a bounded amount of audio (the chunk being filled plus
//! the few seconds the detector has not decided on), so memory does not grow with duration.

use std::ops::Range;

use super::chunk::split_at_pauses;
use super::vad::{SileroVad, SpeechSegmenter, VadParams, VadStream};
use super::SAMPLE_RATE;
use crate::error::Result;

/// Longest chunk handed to the recogniser: Whisper's window.
pub const MAX_CHUNK_S: f64 = 30.0;

/// Longest pause between two speech spans that still puts them in one chunk (the pause's own
/// audio kept between them), when the language is known. Spans are already at least 1 s of
/// silence apart (VAD's minimum silence) less their padding. On the shared English sets 0 and
/// 2 s gave the same chunks and word error rates; 2 s keeps Whisper's context across the
/// short pauses of a dense discussion and saves decodings.
pub const MAX_JOINED_PAUSE_S: f64 = 2.0;

/// One piece of a chunk: `len` samples taken from `recording` start, placed at `chunk` start.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Piece {
    recording: usize,
    chunk: usize,
    len: usize,
}

/// Speech spans grouped for the recogniser, with the map back to the recording's clock.
#[derive(Debug, Clone, Default)]
pub struct SpeechChunk {
    pub samples: Vec<f32>,
    pieces: Vec<Piece>,
    /// The speech spans the chunk holds, in samples of the recording.
    spans: Vec<Range<usize>>,
}

/// The chunk's samples, as a decoder reads them.
impl AsRef<[f32]> for SpeechChunk {
    fn as_ref(&self) -> &[f32] {
        &self.samples
    }
}

impl SpeechChunk {
    /// Seconds on the recording's clock of `t` seconds into the chunk. A time on the seam
    /// between two pieces belongs to the earlier piece when it ends something (`is_end`) and to
    /// the later one when it starts something.
    pub fn to_recording(&self, t: f64, is_end: bool) -> f64 {
        let sr = SAMPLE_RATE as f64;
        let pos = (t.max(0.0) * sr).round() as usize;
        let piece = self
            .pieces
            .iter()
            .rev()
            .find(|p| {
                if is_end {
                    p.chunk < pos || p.chunk == 0
                } else {
                    p.chunk <= pos
                }
            })
            .or(self.pieces.first());
        match piece {
            Some(p) => {
                let within = pos.saturating_sub(p.chunk).min(p.len);
                (p.recording + within) as f64 / sr
            }
            None => t,
        }
    }

    /// The speech spans of the chunk, in seconds of the recording: nothing the recogniser
    /// writes may lie outside them.
    pub fn speech_spans(&self) -> Vec<(f64, f64)> {
        let sr = SAMPLE_RATE as f64;
        self.spans
            .iter()
            .map(|r| (r.start as f64 / sr, r.end as f64 / sr))
            .collect()
    }

    /// The span of the recording this chunk covers, in samples.
    pub fn extent(&self) -> Range<usize> {
        match (self.pieces.first(), self.pieces.last()) {
            (Some(a), Some(b)) => a.recording..b.recording + b.len,
            _ => 0..0,
        }
    }

    pub fn duration(&self) -> f64 {
        self.samples.len() as f64 / SAMPLE_RATE as f64
    }

    fn push(&mut self, recording: usize, samples: &[f32]) {
        match self.pieces.last_mut() {
            // Audio that continues the last piece on the recording's clock extends it.
            Some(last) if last.recording + last.len == recording => last.len += samples.len(),
            _ => self.pieces.push(Piece {
                recording,
                chunk: self.samples.len(),
                len: samples.len(),
            }),
        }
        self.samples.extend_from_slice(samples);
    }

    /// Where the chunk ends on the recording's clock, in samples.
    fn end(&self) -> usize {
        self.pieces.last().map_or(0, |p| p.recording + p.len)
    }
}

/// Recent samples of the recording: `samples[0]` is sample number `start`.
#[derive(Debug, Default)]
struct AudioWindow {
    start: usize,
    samples: Vec<f32>,
}

impl AudioWindow {
    fn end(&self) -> usize {
        self.start + self.samples.len()
    }

    fn slice(&self, range: Range<usize>) -> &[f32] {
        let lo = range.start.clamp(self.start, self.end()) - self.start;
        let hi = range.end.clamp(self.start, self.end()) - self.start;
        &self.samples[lo..hi.max(lo)]
    }

    /// Forget everything before sample `pos`.
    fn discard_before(&mut self, pos: usize) {
        let n = pos.saturating_sub(self.start).min(self.samples.len());
        if n > 0 {
            self.samples.drain(..n);
            self.start += n;
        }
    }
}

/// A stretch of speech as found by the second, region segmenter (for speaker diarization):
/// `samples` start at sample `start` of the recording.
#[derive(Debug, Clone)]
pub struct SpeechRegion {
    pub start: usize,
    pub samples: Vec<f32>,
}

impl SpeechRegion {
    pub fn range(&self) -> Range<usize> {
        self.start..self.start + self.samples.len()
    }
}

enum Detector<'a> {
    Vad {
        stream: Box<VadStream<'a>>,
        segmenter: SpeechSegmenter,
        /// Optional second reading of the same probabilities with other settings: speaker
        /// diarization wants quieter speech kept and less padding than transcription does.
        regions: Option<Box<SpeechSegmenter>>,
    },
    /// No VAD: everything is speech, cut at the quietest moments.
    Everything { emitted: usize },
}

/// Samples in, chunks out. See the module documentation.
pub struct SpeechChunker<'a> {
    detector: Detector<'a>,
    window: AudioWindow,
    current: SpeechChunk,
    max_len: usize,
    max_pause: usize,
    speech: usize,
    scanned: usize,
    /// Whether regions are wanted, and those completed but not yet taken.
    want_regions: bool,
    regions: Vec<SpeechRegion>,
}

impl<'a> SpeechChunker<'a> {
    /// With `vad`, only speech is kept; without, everything is. Speech spans at most
    /// `max_joined_pause_s` apart share a chunk (see [`MAX_JOINED_PAUSE_S`]).
    pub fn new(
        vad: Option<(&'a SileroVad, VadParams)>,
        max_joined_pause_s: f64,
    ) -> SpeechChunker<'a> {
        let detector = match vad {
            Some((model, params)) => Detector::Vad {
                stream: Box::new(model.stream()),
                segmenter: SpeechSegmenter::new(params),
                regions: None,
            },
            None => Detector::Everything { emitted: 0 },
        };
        SpeechChunker {
            detector,
            window: AudioWindow::default(),
            current: SpeechChunk::default(),
            max_len: (MAX_CHUNK_S * SAMPLE_RATE as f64) as usize,
            max_pause: (max_joined_pause_s.max(0.0) * SAMPLE_RATE as f64) as usize,
            speech: 0,
            scanned: 0,
            want_regions: false,
            regions: Vec::new(),
        }
    }

    /// Also find speech regions with `params` (from the same speech probabilities), to be
    /// collected with [`SpeechChunker::take_regions`]. Without VAD the regions are the chunks.
    pub fn with_regions(mut self, params: VadParams) -> SpeechChunker<'a> {
        self.want_regions = true;
        if let Detector::Vad { regions, .. } = &mut self.detector {
            *regions = Some(Box::new(SpeechSegmenter::new(params)));
        }
        self
    }

    /// Regions completed so far and not yet taken, in order.
    pub fn take_regions(&mut self) -> Vec<SpeechRegion> {
        std::mem::take(&mut self.regions)
    }

    fn keep_regions(&mut self, spans: &[Range<usize>]) {
        for span in spans {
            let samples = self.window.slice(span.clone()).to_vec();
            if !samples.is_empty() {
                self.regions.push(SpeechRegion {
                    start: span.start.max(self.window.start),
                    samples,
                });
            }
        }
    }

    /// Samples the detector has decided on so far.
    pub fn scanned(&self) -> usize {
        self.scanned
    }

    /// Samples of speech found so far.
    pub fn speech(&self) -> usize {
        self.speech
    }

    /// Add the next samples; returns the chunks they completed.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<SpeechChunk>> {
        self.window.samples.extend_from_slice(samples);
        let mut region_spans = Vec::new();
        let spans = match &mut self.detector {
            Detector::Vad {
                stream,
                segmenter,
                regions,
            } => {
                let probs = stream.push(samples)?;
                self.scanned += probs.len() * super::vad::FRAME;
                if let Some(r) = regions {
                    region_spans = r.push(&probs);
                }
                segmenter.push(&probs)
            }
            Detector::Everything { emitted } => {
                let mut spans = Vec::new();
                // Keep 10 s of look-ahead so each cut can pick the quietest moment.
                while self.window.end() - *emitted >= self.max_len + 10 * SAMPLE_RATE as usize {
                    let pending = self.window.slice(*emitted..self.window.end());
                    let first = split_at_pauses(pending, 20.0, MAX_CHUNK_S)[0].clone();
                    spans.push(*emitted..*emitted + first.len());
                    *emitted += first.len();
                }
                self.scanned = *emitted;
                spans
            }
        };
        if self.want_regions && matches!(self.detector, Detector::Everything { .. }) {
            region_spans = spans.clone();
        }
        self.keep_regions(&region_spans);
        let mut chunks = self.take_spans(spans);
        let (horizon, next_speech) = match &self.detector {
            Detector::Vad {
                segmenter, regions, ..
            } => {
                let h = segmenter.horizon();
                (regions.as_ref().map_or(h, |r| h.min(r.horizon())), h)
            }
            Detector::Everything { emitted } => (*emitted, *emitted),
        };
        // No span to come can join the chunk being filled once speech could only resume
        // after the longest pause a chunk holds: it is complete.
        if !self.current.samples.is_empty() && next_speech > self.current.end() + self.max_pause {
            chunks.push(std::mem::take(&mut self.current));
        }
        // Keep the audio after the chunk being filled: a pause it may still take in.
        let keep_from = if self.current.samples.is_empty() {
            horizon
        } else {
            horizon.min(self.current.end())
        };
        self.window.discard_before(keep_from);
        Ok(chunks)
    }

    /// The recording ended: returns the last chunks.
    pub fn finish(&mut self) -> Result<Vec<SpeechChunk>> {
        let total = self.window.end();
        let mut region_spans = Vec::new();
        let spans = match &mut self.detector {
            Detector::Vad {
                stream,
                segmenter,
                regions,
            } => {
                let probs = stream.finish()?;
                if let Some(r) = regions {
                    region_spans = r.push(&probs);
                    region_spans.extend(r.finish(total));
                }
                let mut spans = segmenter.push(&probs);
                spans.extend(segmenter.finish(total));
                spans
            }
            Detector::Everything { emitted } => {
                let start = *emitted;
                let pending = self.window.slice(start..total);
                let spans: Vec<Range<usize>> = split_at_pauses(pending, 20.0, MAX_CHUNK_S)
                    .into_iter()
                    .filter(|r| !r.is_empty())
                    .map(|r| start + r.start..start + r.end)
                    .collect();
                *emitted = total;
                spans
            }
        };
        self.scanned = total;
        if self.want_regions && matches!(self.detector, Detector::Everything { .. }) {
            region_spans = spans.clone();
        }
        self.keep_regions(&region_spans);
        let mut chunks = self.take_spans(spans);
        if !self.current.samples.is_empty() {
            chunks.push(std::mem::take(&mut self.current));
        }
        self.window.discard_before(total);
        Ok(chunks)
    }

    /// Add spans to the chunk being filled, with the pause before each; a span too far from
    /// the chunk, or that would make it longer than Whisper's window, closes it.
    fn take_spans(&mut self, spans: Vec<Range<usize>>) -> Vec<SpeechChunk> {
        let mut done = Vec::new();
        for span in spans {
            // A span is never longer than a chunk (the segmenter cuts them), but guard anyway.
            let mut start = span.start.max(self.window.start);
            if !self.current.samples.is_empty() {
                // Padded spans may touch; never take the same audio twice.
                start = start.max(self.current.end());
            }
            while start < span.end {
                let end = span.end.min(start + self.max_len);
                if !self.current.samples.is_empty() {
                    let from = self.current.end();
                    let pause = start.saturating_sub(from);
                    if pause > self.max_pause
                        || self.current.samples.len() + pause + (end - start) > self.max_len
                    {
                        done.push(std::mem::take(&mut self.current));
                    } else if pause > 0 {
                        let gap = self.window.slice(from..start);
                        self.current.push(from, gap);
                    }
                }
                let audio = self.window.slice(start..end);
                self.speech += audio.len();
                self.current.spans.push(start..start + audio.len());
                self.current.push(start, audio);
                start = end;
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_times_map_back_across_seams() {
        let mut c = SpeechChunk::default();
        c.push(16_000, &[0.0; 16_000]); // recording 1-2 s at chunk 0-1 s
        c.push(80_000, &[0.0; 32_000]); // recording 5-7 s at chunk 1-3 s
        assert_eq!(c.to_recording(0.5, false), 1.5);
        assert_eq!(c.to_recording(1.0, false), 5.0);
        assert_eq!(c.to_recording(1.0, true), 2.0);
        assert_eq!(c.to_recording(2.5, true), 6.5);
        assert_eq!(c.to_recording(9.0, true), 7.0);
        assert_eq!(c.extent(), 16_000..112_000);
    }

    #[test]
    fn spans_a_short_pause_apart_share_a_chunk_with_the_pause_and_others_do_not() {
        let mut chunker = SpeechChunker::new(None, MAX_JOINED_PAUSE_S);
        // 60 s of audio whose every sample says where it is.
        chunker.window.samples = (0..60 * 16_000).map(|i| i as f32).collect();
        let s = |a: f64, b: f64| (a * 16_000.0) as usize..(b * 16_000.0) as usize;
        // 1-3 s and 4-6 s: a 1 s pause, joined with it. 20-22 s: 14 s later, a chunk of its own.
        let mut chunks = chunker.take_spans(vec![s(1.0, 3.0), s(4.0, 6.0), s(20.0, 22.0)]);
        chunks.push(std::mem::take(&mut chunker.current));
        assert_eq!(chunks.len(), 2);
        let first = &chunks[0];
        assert_eq!(first.extent(), s(1.0, 6.0));
        assert_eq!(first.samples.len(), 5 * 16_000, "the pause's audio is kept");
        assert_eq!(first.samples[2 * 16_000], (3 * 16_000) as f32);
        assert_eq!(first.speech_spans(), vec![(1.0, 3.0), (4.0, 6.0)]);
        assert_eq!(first.to_recording(3.5, false), 4.5);
        assert_eq!(chunks[1].extent(), s(20.0, 22.0));
        assert_eq!(chunks[1].to_recording(1.0, false), 21.0);
        assert_eq!(
            chunker.speech(),
            6 * 16_000,
            "pauses are not counted as speech"
        );
        // Joined spans never exceed Whisper's window.
        let mut chunker = SpeechChunker::new(None, MAX_JOINED_PAUSE_S);
        chunker.window.samples = vec![0.0; 60 * 16_000];
        let spans: Vec<_> = (0..8)
            .map(|i| s(i as f64 * 6.0, i as f64 * 6.0 + 5.0))
            .collect();
        let mut chunks = chunker.take_spans(spans);
        chunks.push(std::mem::take(&mut chunker.current));
        assert!(chunks.iter().all(|c| c.samples.len() <= 30 * 16_000));
        assert_eq!(chunks.len(), 2);
    }

    #[test]
    fn without_vad_everything_is_cut_into_chunks_of_at_most_30_s() {
        let mut chunker = SpeechChunker::new(None, MAX_JOINED_PAUSE_S);
        let mut chunks = Vec::new();
        let block = vec![0.1f32; 16_000];
        for _ in 0..95 {
            chunks.extend(chunker.push(&block).unwrap());
        }
        chunks.extend(chunker.finish().unwrap());
        let total: usize = chunks.iter().map(|c| c.samples.len()).sum();
        assert_eq!(total, 95 * 16_000);
        assert!(chunks.iter().all(|c| c.samples.len() <= 30 * 16_000));
        // Contiguous and in order.
        let mut pos = 0;
        for c in &chunks {
            assert_eq!(c.extent().start, pos);
            pos = c.extent().end;
        }
        assert!(chunker.window.samples.is_empty());
    }
}
