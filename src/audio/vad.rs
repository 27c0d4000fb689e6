//! Voice activity detection: Silero VAD v6 run by candle, and the hysteresis that turns its
//! per-frame speech probabilities into speech spans.
//!
//! The network sees 512-sample frames (32 ms at 16 kHz) with the previous 64 samples in front:
//! a learned STFT (a 256-tap convolution, stride 128, giving 129 magnitude bins), four small
//! convolutions, an LSTM cell carried from frame to frame, and a 1x1 convolution to one
//! probability. The convolutions of many frames are independent and run as one candle batch;
//! only the LSTM recurrence is sequential.

use std::ops::Range;
use std::path::Path;

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Conv1d, Conv1dConfig, VarBuilder};

use super::SAMPLE_RATE;
use crate::error::{Error, Result};

/// Samples per frame the network scores.
pub const FRAME: usize = 512;
/// Samples of the previous frame the network sees in front of each frame.
const CONTEXT: usize = 64;
/// Reflection padding after each frame (half the STFT hop).
const REFLECT: usize = 64;
const HIDDEN: usize = 128;
/// Frames scored per candle batch (about 8 s of audio).
const BATCH: usize = 256;

/// The Silero network's weights, loaded once and shared by every stream.
pub struct SileroVad {
    stft: Conv1d,
    convs: [Conv1d; 4],
    /// LSTM input projection (4*HIDDEN x HIDDEN) and both biases summed.
    w_ih: Tensor,
    bias: Tensor,
    /// Recurrent weights, row-major [4*HIDDEN][HIDDEN], used in the sequential loop.
    w_hh: Vec<f32>,
    head: Conv1d,
    device: Device,
}

impl SileroVad {
    pub fn load(path: &Path) -> Result<SileroVad> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::model(path, format!("cannot read: {}", e.kind())))?;
        Self::from_bytes(bytes).map_err(|e| {
            Error::model(
                path,
                format!("not a Silero VAD 16 kHz safetensors file ({e})"),
            )
        })
    }

    fn from_bytes(bytes: Vec<u8>) -> candle_core::Result<SileroVad> {
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device)?;
        let conv = |name: &str, cin: usize, cout: usize, k: usize, stride: usize| {
            let cfg = Conv1dConfig {
                padding: k / 2,
                stride,
                ..Default::default()
            };
            candle_nn::conv1d(cin, cout, k, cfg, vb.pp(name))
        };
        let stft = candle_nn::conv1d_no_bias(
            1,
            258,
            256,
            Conv1dConfig {
                stride: 128,
                ..Default::default()
            },
            vb.pp("stft_conv"),
        )?;
        let convs = [
            conv("conv1", 129, 128, 3, 1)?,
            conv("conv2", 128, 64, 3, 2)?,
            conv("conv3", 64, 64, 3, 2)?,
            conv("conv4", 64, 128, 3, 1)?,
        ];
        let lstm = vb.pp("lstm_cell");
        let w_ih = lstm
            .get((4 * HIDDEN, HIDDEN), "weight_ih")?
            .t()?
            .contiguous()?;
        let bias = (lstm.get(4 * HIDDEN, "bias_ih")? + lstm.get(4 * HIDDEN, "bias_hh")?)?;
        let w_hh = lstm
            .get((4 * HIDDEN, HIDDEN), "weight_hh")?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let head = candle_nn::conv1d(HIDDEN, 1, 1, Default::default(), vb.pp("final_conv"))?;
        Ok(SileroVad {
            stft,
            convs,
            w_ih,
            bias,
            w_hh,
            head,
            device,
        })
    }

    /// A fresh stream (zero state, zero context) over one recording.
    pub fn stream(&self) -> VadStream<'_> {
        VadStream {
            model: self,
            context: [0.0; CONTEXT],
            h: vec![0.0; HIDDEN],
            c: vec![0.0; HIDDEN],
            pending: Vec::with_capacity((CONTEXT + FRAME) * BATCH),
            partial: Vec::with_capacity(FRAME),
        }
    }

    /// Speech probability of each frame in `frames` (each CONTEXT + FRAME samples), carrying
    /// the LSTM state `h`, `c` through them in order.
    fn score(&self, frames: &[f32], h: &mut [f32], c: &mut [f32]) -> candle_core::Result<Vec<f32>> {
        let n = frames.len() / (CONTEXT + FRAME);
        let width = CONTEXT + FRAME + REFLECT;
        let mut padded = Vec::with_capacity(n * width);
        for f in frames.chunks_exact(CONTEXT + FRAME) {
            padded.extend_from_slice(f);
            // Reflect (without repeating the edge sample), as torch's "reflect" padding does.
            padded.extend((0..REFLECT).map(|j| f[f.len() - 2 - j]));
        }
        let x = Tensor::from_vec(padded, (n, 1, width), &self.device)?;
        let spec = self.stft.forward(&x)?; // (n, 258, 4): real parts then imaginary parts
        let re = spec.narrow(1, 0, 129)?;
        let im = spec.narrow(1, 129, 129)?;
        let mut x = (re.sqr()? + im.sqr()?)?.sqrt()?;
        for conv in &self.convs {
            x = conv.forward(&x)?.relu()?;
        }
        let x = x.squeeze(D::Minus1)?; // (n, 128)
        let gates_in = x
            .matmul(&self.w_ih)?
            .broadcast_add(&self.bias)?
            .to_vec2::<f32>()?;

        // The recurrence: one small matrix-vector product per frame. A candle call per gate per
        // frame costs more in dispatch than the arithmetic, so this loop is plain Rust.
        let mut hs = Vec::with_capacity(n * HIDDEN);
        let mut gates = vec![0f32; 4 * HIDDEN];
        for g_in in &gates_in {
            for (row, (g, gi)) in gates.iter_mut().zip(g_in).enumerate() {
                let w = &self.w_hh[row * HIDDEN..(row + 1) * HIDDEN];
                *g = gi + w.iter().zip(h.iter()).map(|(a, b)| a * b).sum::<f32>();
            }
            for k in 0..HIDDEN {
                let i = sigmoid(gates[k]);
                let f = sigmoid(gates[HIDDEN + k]);
                let g = gates[2 * HIDDEN + k].tanh();
                let o = sigmoid(gates[3 * HIDDEN + k]);
                c[k] = f * c[k] + i * g;
                h[k] = o * c[k].tanh();
            }
            hs.extend_from_slice(h);
        }
        let hs = Tensor::from_vec(hs, (n, HIDDEN, 1), &self.device)?;
        let p = candle_nn::ops::sigmoid(&self.head.forward(&hs.relu()?)?)?;
        p.flatten_all()?.to_vec1::<f32>()
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Scores a recording's samples as they arrive, one probability per 512-sample frame.
pub struct VadStream<'a> {
    model: &'a SileroVad,
    context: [f32; CONTEXT],
    h: Vec<f32>,
    c: Vec<f32>,
    /// Frames (with their context) waiting to be scored as one batch.
    pending: Vec<f32>,
    /// Samples of a frame not yet complete.
    partial: Vec<f32>,
}

impl VadStream<'_> {
    /// Add samples; returns the probabilities of the frames completed and scored so far (they
    /// are scored in batches, so this is often empty).
    pub fn push(&mut self, mut samples: &[f32]) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        while !samples.is_empty() {
            let take = (FRAME - self.partial.len()).min(samples.len());
            self.partial.extend_from_slice(&samples[..take]);
            samples = &samples[take..];
            if self.partial.len() == FRAME {
                let frame = std::mem::take(&mut self.partial);
                self.queue_frame(&frame);
                self.partial = frame;
                self.partial.clear();
                if self.pending.len() >= BATCH * (CONTEXT + FRAME) {
                    out.extend(self.flush()?);
                }
            }
        }
        Ok(out)
    }

    /// Score whatever is left, padding a last partial frame with zeros.
    pub fn finish(&mut self) -> Result<Vec<f32>> {
        if !self.partial.is_empty() {
            let mut frame = std::mem::take(&mut self.partial);
            frame.resize(FRAME, 0.0);
            self.queue_frame(&frame);
        }
        self.flush()
    }

    fn queue_frame(&mut self, frame: &[f32]) {
        self.pending.extend_from_slice(&self.context);
        self.pending.extend_from_slice(frame);
        self.context.copy_from_slice(&frame[FRAME - CONTEXT..]);
    }

    fn flush(&mut self) -> Result<Vec<f32>> {
        if self.pending.is_empty() {
            return Ok(Vec::new());
        }
        let probs = self
            .model
            .score(&self.pending, &mut self.h, &mut self.c)
            .map_err(|e| Error::internal(format!("voice activity detection failed: {e}")))?;
        self.pending.clear();
        Ok(probs)
    }
}

/// Speech probabilities of every frame of `samples` (the last frame zero-padded).
pub fn speech_probabilities(model: &SileroVad, samples: &[f32]) -> Result<Vec<f32>> {
    let mut stream = model.stream();
    let mut probs = stream.push(samples)?;
    probs.extend(stream.finish()?);
    Ok(probs)
}

/// How probabilities become speech spans. Speech starts at a frame scoring at least
/// `threshold` and ends once `min_silence_ms` have scored below `neg_threshold`; spans shorter
/// than `min_speech_ms` are dropped, spans longer than `max_speech_s` are cut at their longest
/// inner pause, and each kept span is widened by `pad_ms` on both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct VadParams {
    pub threshold: f32,
    pub neg_threshold: f32,
    pub min_speech_ms: u32,
    pub min_silence_ms: u32,
    pub pad_ms: u32,
    pub max_speech_s: f32,
}

impl Default for VadParams {
    fn default() -> Self {
        VadParams {
            threshold: 0.5,
            neg_threshold: 0.35,
            min_speech_ms: 250,
            min_silence_ms: 1000,
            pad_ms: 400,
            max_speech_s: 28.0,
        }
    }
}

impl VadParams {
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !(0.0..=1.0).contains(&self.threshold) || !(0.0..=1.0).contains(&self.neg_threshold) {
            return Err(format!(
                "--vad-threshold ({}) and --vad-neg-threshold ({}) must lie between 0 and 1",
                self.threshold, self.neg_threshold
            ));
        }
        if self.neg_threshold > self.threshold {
            return Err(format!(
                "--vad-neg-threshold ({}) must not exceed --vad-threshold ({})",
                self.neg_threshold, self.threshold
            ));
        }
        if self.pad_ms * 2 > self.min_silence_ms {
            return Err(format!(
                "--vad-pad-ms ({}) must be at most half of --vad-min-silence-ms ({})",
                self.pad_ms, self.min_silence_ms
            ));
        }
        if !(1.0..=30.0).contains(&self.max_speech_s) {
            return Err("--vad-max-speech must be between 1 and 30 seconds".into());
        }
        Ok(())
    }

    fn samples(ms: u32) -> usize {
        ms as usize * SAMPLE_RATE as usize / 1000
    }
}

/// Turns probabilities, frame by frame, into speech spans (sample ranges on the recording's
/// clock). Online: a span is emitted as soon as it can no longer change, so a caller can
/// transcribe it while the rest of the recording is still being decoded.
///
/// This follows silero-vad's `get_speech_timestamps` (v6.2.3) except at two points that need
/// the whole file: padding here never overlaps the previous span (it is capped at half the
/// silence, which the reference only does for the span it is extending), and a span cut at
/// `max_speech_s` uses the longest pause seen so far.
pub struct SpeechSegmenter {
    params: VadParams,
    /// Frames seen so far.
    frame: usize,
    triggered: bool,
    start: usize,
    /// Start of the current run of silence inside speech (0 = none).
    temp_end: usize,
    /// Pauses inside the current span long enough to cut at: (start, length).
    pauses: Vec<(usize, usize)>,
    /// End of the previous emitted span (padded), which a new span's padding must not cross.
    last_end: usize,
    /// Number of samples in the recording, once known.
    total: Option<usize>,
}

impl SpeechSegmenter {
    pub fn new(params: VadParams) -> SpeechSegmenter {
        SpeechSegmenter {
            params,
            frame: 0,
            triggered: false,
            start: 0,
            temp_end: 0,
            pauses: Vec::new(),
            last_end: 0,
            total: None,
        }
    }

    /// Feed the next frames' probabilities; returns the spans completed by them.
    pub fn push(&mut self, probs: &[f32]) -> Vec<Range<usize>> {
        let p = self.params.clone();
        let min_silence = VadParams::samples(p.min_silence_ms);
        // Leave room for the padding both sides; never less than a frame, however large it is.
        let max_speech = ((p.max_speech_s * SAMPLE_RATE as f32) as usize)
            .saturating_sub(FRAME + 2 * VadParams::samples(p.pad_ms))
            .max(FRAME);
        // A pause this long inside speech is a place to cut an over-long span.
        let min_cut_pause = VadParams::samples(98);
        let mut out = Vec::new();
        for &prob in probs {
            let cur = self.frame * FRAME;
            self.frame += 1;
            if prob >= p.threshold && self.temp_end != 0 {
                let pause = cur - self.temp_end;
                if pause > min_cut_pause {
                    self.pauses.push((self.temp_end, pause));
                }
                self.temp_end = 0;
            }
            if prob >= p.threshold && !self.triggered {
                self.triggered = true;
                self.start = cur;
                continue;
            }
            if self.triggered && cur - self.start > max_speech {
                match self.pauses.iter().max_by_key(|(_, len)| *len).copied() {
                    Some((end, len)) => {
                        out.extend(self.close(self.start, end));
                        self.start = end + len;
                        // Still inside a pause that started after the cut: speech restarts
                        // at the next frame above threshold.
                        if self.temp_end != 0 && self.temp_end > self.start {
                            self.triggered = false;
                        }
                    }
                    None => {
                        out.extend(self.close(self.start, cur));
                        self.triggered = false;
                    }
                }
                self.pauses.clear();
                if !self.triggered {
                    self.temp_end = 0;
                    continue;
                }
            }
            if prob < p.neg_threshold && self.triggered {
                if self.temp_end == 0 {
                    self.temp_end = cur;
                }
                if cur - self.temp_end >= min_silence {
                    let end = self.temp_end;
                    if end - self.start > VadParams::samples(p.min_speech_ms) {
                        out.extend(self.close(self.start, end));
                    }
                    self.triggered = false;
                    self.temp_end = 0;
                    self.pauses.clear();
                }
            }
        }
        out
    }

    /// Samples before this can never belong to a span still to come.
    pub fn horizon(&self) -> usize {
        let from = if self.triggered {
            self.start
        } else {
            self.frame * FRAME
        };
        from.saturating_sub(VadParams::samples(self.params.pad_ms))
            .max(self.last_end)
    }

    /// The recording ended after `total` samples: close a span still open.
    pub fn finish(&mut self, total: usize) -> Vec<Range<usize>> {
        self.total = Some(total);
        let mut out = Vec::new();
        if self.triggered && total > self.start + VadParams::samples(self.params.min_speech_ms) {
            out.extend(self.close(self.start, total));
        }
        self.triggered = false;
        out
    }

    fn close(&mut self, start: usize, end: usize) -> Option<Range<usize>> {
        let pad = VadParams::samples(self.params.pad_ms);
        let start = start.saturating_sub(pad).max(self.last_end);
        let mut end = end + pad;
        if let Some(total) = self.total {
            end = end.min(total);
        }
        if end <= start {
            return None;
        }
        self.last_end = end;
        Some(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings the expectations below were worked out with.
    fn params() -> VadParams {
        VadParams {
            min_silence_ms: 500,
            pad_ms: 200,
            ..Default::default()
        }
    }

    fn spans(probs: &[f32], params: VadParams, total: usize) -> Vec<Range<usize>> {
        let mut seg = SpeechSegmenter::new(params);
        let mut out = seg.push(probs);
        out.extend(seg.finish(total));
        out
    }

    #[test]
    fn hysteresis_bridges_short_dips_and_splits_long_silences() {
        let mut probs = vec![0.0f32; 10];
        probs.extend(vec![0.9; 30]); // speech ~1 s
        probs.extend(vec![0.4; 5]); // between thresholds: still speech
        probs.extend(vec![0.9; 10]);
        probs.extend(vec![0.1; 10]); // 320 ms of silence: bridged (< 500 ms)
        probs.extend(vec![0.9; 10]);
        probs.extend(vec![0.0; 40]); // long silence ends the span
        probs.extend(vec![0.8; 20]);
        let total = probs.len() * FRAME;
        let got = spans(&probs, params(), total);
        let pad = 3200;
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0], 10 * FRAME - pad..75 * FRAME + pad);
        assert_eq!(got[1], 115 * FRAME - pad..total);
    }

    #[test]
    fn short_blips_are_not_speech() {
        let mut probs = vec![0.0f32; 20];
        probs.extend(vec![0.9; 5]); // 160 ms < 250 ms
        probs.extend(vec![0.0; 40]);
        assert!(spans(&probs, params(), probs.len() * FRAME).is_empty());
    }

    #[test]
    fn long_speech_is_cut_at_its_longest_pause_under_the_limit() {
        let params = params();
        let mut probs = vec![0.9f32; 300]; // 9.6 s
        probs.extend(vec![0.2; 8]); // 256 ms pause: bridged, but a cut point
        probs.extend(vec![0.9; 300]);
        probs.extend(vec![0.2; 4]); // shorter pause
        probs.extend(vec![0.9; 400]);
        let total = probs.len() * FRAME;
        let got = spans(&probs, params.clone(), total);
        let limit = (params.max_speech_s * 16000.0) as usize;
        assert!(got.iter().all(|s| s.len() <= limit), "{got:?}");
        assert!(got.len() >= 2);
        assert_eq!(got[0].end, 300 * FRAME + 3200, "{got:?}");
    }

    #[test]
    fn params_are_checked() {
        let bad = VadParams {
            pad_ms: 600,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        assert!(VadParams::default().validate().is_ok());
    }
}
