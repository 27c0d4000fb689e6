//! The GE2E speaker encoder (resemblyzer 0.1.4) in candle: 16 kHz audio -> 40-channel power mel
//! spectrogram (25 ms Hann windows every 10 ms, as librosa computes it) -> 3-layer LSTM
//! (40 -> 256) -> final hidden state -> Linear(256, 256) -> ReLU -> L2 norm: a 256-d voiceprint
//! for each window of 160 frames (1.6 s).

use std::path::Path;
use std::sync::Arc;

use candle_core::{Device, IndexOp, Tensor, D};
use realfft::{RealFftPlanner, RealToComplex};

use super::torch_legacy::read_state_dict;
use crate::error::{Error, Result};

/// Audio sample rate the encoder expects.
pub const SAMPLE_RATE: usize = 16_000;
/// Mel frames per embedded window (1.6 s).
pub const WINDOW_FRAMES: usize = 160;
/// Samples between mel frames (10 ms).
pub const HOP: usize = 160;
const N_FFT: usize = 400;
const N_MELS: usize = 40;
const HIDDEN: usize = 256;
const LAYERS: usize = 3;

pub struct Ge2e {
    /// Per layer: input weights transposed (in x 4H), recurrent weights transposed (H x 4H),
    /// and the two biases summed (4H).
    layers: Vec<(Tensor, Tensor, Tensor)>,
    linear_w: Tensor,
    linear_b: Tensor,
    mel_filters: Vec<f32>,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    device: Device,
}

impl Ge2e {
    pub fn load(path: &Path) -> Result<Ge2e> {
        let t = read_state_dict(path, Some("model_state"))
            .map_err(|e| Error::model(path, format!("not resemblyzer's GE2E checkpoint: {e}")))?;
        let get = |name: &str| {
            t.get(name)
                .cloned()
                .ok_or_else(|| Error::model(path, format!("GE2E checkpoint lacks {name}")))
        };
        let cerr = |e: candle_core::Error| Error::model(path, format!("GE2E weights: {e}"));
        let mut layers = Vec::new();
        for l in 0..LAYERS {
            let w_ih = get(&format!("lstm.weight_ih_l{l}"))?
                .t()
                .and_then(|x| x.contiguous())
                .map_err(cerr)?;
            let w_hh = get(&format!("lstm.weight_hh_l{l}"))?
                .t()
                .and_then(|x| x.contiguous())
                .map_err(cerr)?;
            let b = (get(&format!("lstm.bias_ih_l{l}"))? + get(&format!("lstm.bias_hh_l{l}"))?)
                .map_err(cerr)?;
            layers.push((w_ih, w_hh, b));
        }
        let linear_w = get("linear.weight")?
            .t()
            .and_then(|x| x.contiguous())
            .map_err(cerr)?;
        let linear_b = get("linear.bias")?;
        let window = (0..N_FFT)
            .map(|n| {
                // Periodic Hann, as scipy's get_window("hann", N) gives librosa.
                let x = std::f32::consts::PI * 2.0 * n as f32 / N_FFT as f32;
                0.5 - 0.5 * x.cos()
            })
            .collect();
        Ok(Ge2e {
            layers,
            linear_w,
            linear_b,
            mel_filters: crate::dsp::mel_filters(N_MELS, N_FFT, SAMPLE_RATE as u32),
            window,
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT),
            device: Device::Cpu,
        })
    }

    /// Power mel spectrogram, one row of 40 per 10 ms, as
    /// `librosa.feature.melspectrogram(y, sr=16000, n_fft=400, hop_length=160, n_mels=40)`:
    /// centred frames (zero padding of 200 samples each side), |FFT|^2, Slaney mel filters.
    pub fn mel(&self, samples: &[f32]) -> Vec<[f32; N_MELS]> {
        let pad = N_FFT / 2;
        let n_frames = 1 + samples.len() / HOP;
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut power = vec![0f32; N_FFT / 2 + 1];
        let mut out = Vec::with_capacity(n_frames);
        for f in 0..n_frames {
            let start = (f * HOP) as isize - pad as isize;
            for (i, x) in input.iter_mut().enumerate() {
                let idx = start + i as isize;
                let s = if idx >= 0 && (idx as usize) < samples.len() {
                    samples[idx as usize]
                } else {
                    0.0
                };
                *x = s * self.window[i];
            }
            self.fft
                .process(&mut input, &mut spectrum)
                .expect("buffers sized by the plan");
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            let mut row = [0f32; N_MELS];
            for (m, r) in row.iter_mut().enumerate() {
                let filt = &self.mel_filters[m * power.len()..(m + 1) * power.len()];
                *r = filt.iter().zip(&power).map(|(a, b)| a * b).sum();
            }
            out.push(row);
        }
        out
    }

    /// Voiceprints of windows of mel frames (each exactly 160 rows), computed as one batch.
    pub fn embed_windows(&self, windows: &[&[[f32; N_MELS]]]) -> Result<Vec<Vec<f32>>> {
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        self.forward(windows)
            .map_err(|e| Error::internal(format!("speaker embedding failed: {e}")))
    }

    fn forward(&self, windows: &[&[[f32; N_MELS]]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let b = windows.len();
        let t = WINDOW_FRAMES;
        let mut flat = Vec::with_capacity(b * t * N_MELS);
        for w in windows {
            assert_eq!(w.len(), t, "a window is {t} mel frames");
            for row in w.iter() {
                flat.extend_from_slice(row);
            }
        }
        let mut xs = Tensor::from_vec(flat, (b * t, N_MELS), &self.device)?;
        let mut h = Tensor::zeros((b, HIDDEN), candle_core::DType::F32, &self.device)?;
        for (w_ih, w_hh, bias) in &self.layers {
            // The input projection of every time step at once; only the recurrence is sequential.
            let xw = xs
                .matmul(w_ih)?
                .broadcast_add(bias)?
                .reshape((b, t, 4 * HIDDEN))?;
            h = Tensor::zeros((b, HIDDEN), candle_core::DType::F32, &self.device)?;
            let mut c = h.clone();
            let mut outputs = Vec::with_capacity(t);
            for step in 0..t {
                let gates = (xw.i((.., step, ..))? + h.matmul(w_hh)?)?;
                let chunks = gates.chunk(4, D::Minus1)?;
                let i = candle_nn::ops::sigmoid(&chunks[0])?;
                let f = candle_nn::ops::sigmoid(&chunks[1])?;
                let g = chunks[2].tanh()?;
                let o = candle_nn::ops::sigmoid(&chunks[3])?;
                c = ((f * &c)? + (i * g)?)?;
                h = (o * c.tanh()?)?;
                outputs.push(h.clone());
            }
            xs = Tensor::stack(&outputs, 1)?.reshape((b * t, HIDDEN))?;
        }
        let e = h
            .matmul(&self.linear_w)?
            .broadcast_add(&self.linear_b)?
            .relu()?;
        let norm = e.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        let e = e.broadcast_div(&norm.clamp(1e-12, f64::MAX)?)?;
        e.to_vec2::<f32>()
    }
}
