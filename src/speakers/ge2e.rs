//! The GE2E speaker encoder (resemblyzer 0.1.4) in candle: 16 kHz audio -> 40-channel power mel
//! spectrogram (25 ms Hann windows every 10 ms, as librosa computes it) -> 3-layer LSTM
//! (40 -> 256) -> final hidden state -> Linear(256, 256) -> ReLU -> L2 norm: a 256-d voiceprint
//! for each window of 160 frames (1.6 s).

use std::path::Path;
use std::sync::Arc;

use candle_core::{Device, Tensor, D};
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
    layers: Vec<LstmLayer>,
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
            // Stack W_ih^T over W_hh^T: one product per step takes [x, h].
            let w_ih = get(&format!("lstm.weight_ih_l{l}"))?;
            let w_hh = get(&format!("lstm.weight_hh_l{l}"))?;
            let input = w_ih.dim(1).map_err(cerr)?;
            let weights = Tensor::cat(&[w_ih.t().map_err(cerr)?, w_hh.t().map_err(cerr)?], 0)
                .and_then(|x| x.flatten_all())
                .and_then(|x| x.to_vec1::<f32>())
                .map_err(cerr)?;
            let bias = (get(&format!("lstm.bias_ih_l{l}"))? + get(&format!("lstm.bias_hh_l{l}"))?)
                .and_then(|x| x.to_vec1::<f32>())
                .map_err(cerr)?;
            if weights.len() != (input + HIDDEN) * 4 * HIDDEN || bias.len() != 4 * HIDDEN {
                return Err(Error::model(
                    path,
                    "GE2E LSTM weights have unexpected shapes",
                ));
            }
            layers.push(LstmLayer {
                input,
                weights,
                bias,
            });
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
        let mut xs = Vec::with_capacity(b * t * N_MELS);
        for w in windows {
            assert_eq!(w.len(), t, "a window is {t} mel frames");
            for row in w.iter() {
                xs.extend_from_slice(row);
            }
        }
        let mut width = N_MELS;
        let mut last = Vec::new();
        for layer in &self.layers {
            let (outputs, final_h) = layer.run(&xs, width, b, t);
            xs = outputs;
            width = HIDDEN;
            last = final_h;
        }
        let h = Tensor::from_vec(last, (b, HIDDEN), &self.device)?;
        let e = h
            .matmul(&self.linear_w)?
            .broadcast_add(&self.linear_b)?
            .relu()?;
        let norm = e.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        let e = e.broadcast_div(&norm.clamp(1e-12, f64::MAX)?)?;
        e.to_vec2::<f32>()
    }
}

/// One LSTM layer: the input and recurrent weights stacked as one (in + H) x 4H row-major
/// matrix (gates in PyTorch's order i, f, g, o) and the two biases summed.
struct LstmLayer {
    input: usize,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl LstmLayer {
    /// Run `b` sequences of `t` steps (`xs` row `seq * t + step`, `input` wide). Returns every
    /// step's hidden state (same row order, H wide) and the last step's.
    ///
    /// Written by hand rather than as candle ops: a step is one small matrix product
    /// ([x, h] times the stacked weights) and element-wise gates, and per-op dispatch plus
    /// materialising every step's input projection (168 MB for 256 windows) cost more than the
    /// arithmetic. The batch is split across threads, each running its share of sequences
    /// through every step with its own single-threaded product.
    fn run(&self, xs: &[f32], input: usize, b: usize, t: usize) -> (Vec<f32>, Vec<f32>) {
        const G: usize = 4 * HIDDEN;
        assert_eq!(input, self.input);
        let k = input + HIDDEN;
        let mut outputs = vec![0f32; b * t * HIDDEN];
        let mut last = vec![0f32; b * HIDDEN];
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(b.div_ceil(16))
            .max(1);
        let per = b.div_ceil(threads);
        std::thread::scope(|scope| {
            let out_parts = outputs.chunks_mut(per * t * HIDDEN);
            let last_parts = last.chunks_mut(per * HIDDEN);
            for (part, (out, last)) in out_parts.zip(last_parts).enumerate() {
                let first = part * per;
                scope.spawn(move || {
                    let n = last.len() / HIDDEN;
                    // Row r: [x of this step, h of the previous step].
                    let mut xh = vec![0f32; n * k];
                    let mut c = vec![0f32; n * HIDDEN];
                    let mut gates = vec![0f32; n * G];
                    for step in 0..t {
                        for r in 0..n {
                            let row = ((first + r) * t + step) * input;
                            xh[r * k..r * k + input].copy_from_slice(&xs[row..row + input]);
                            gates[r * G..(r + 1) * G].copy_from_slice(&self.bias);
                        }
                        // gates += [x, h] @ weights; row-major everywhere.
                        // SAFETY: the three buffers are distinct, live, and sized n x G,
                        // n x k and k x G as the strides describe.
                        unsafe {
                            gemm::gemm(
                                n,
                                G,
                                k,
                                gates.as_mut_ptr(),
                                1,
                                G as isize,
                                true,
                                xh.as_ptr(),
                                1,
                                k as isize,
                                self.weights.as_ptr(),
                                1,
                                G as isize,
                                1.0,
                                1.0,
                                false,
                                false,
                                false,
                                gemm::Parallelism::None,
                            );
                        }
                        for r in 0..n {
                            let g = &gates[r * G..(r + 1) * G];
                            let (gi, rest) = g.split_at(HIDDEN);
                            let (gf, rest) = rest.split_at(HIDDEN);
                            let (gg, go) = rest.split_at(HIDDEN);
                            let cr = &mut c[r * HIDDEN..(r + 1) * HIDDEN];
                            let hr = &mut xh[r * k + input..(r + 1) * k];
                            for j in 0..HIDDEN {
                                let i = sigmoid(gi[j]);
                                let f = sigmoid(gf[j]);
                                let o = sigmoid(go[j]);
                                let cj = f * cr[j] + i * tanh(gg[j]);
                                cr[j] = cj;
                                hr[j] = o * tanh(cj);
                            }
                            let at = (r * t + step) * HIDDEN;
                            out[at..at + HIDDEN].copy_from_slice(hr);
                        }
                    }
                    for r in 0..n {
                        last[r * HIDDEN..(r + 1) * HIDDEN]
                            .copy_from_slice(&xh[r * k + input..(r + 1) * k]);
                    }
                });
            }
        });
        (outputs, last)
    }
}

fn sigmoid(x: f32) -> f32 {
    0.5 + 0.5 * tanh(0.5 * x)
}

/// tanh as a rational function of odd degree 13 over even degree 6 (the minimax form used by
/// Eigen), accurate to about 1e-7 on f32 and, unlike `f32::tanh`, free of calls and branches,
/// so the gate loop vectorises.
fn tanh(x: f32) -> f32 {
    let x = x.clamp(-7.905_311, 7.905_311);
    let x2 = x * x;
    let p = x2 * -2.760_768_5e-16 + 2.000_188e-13;
    let p = x2 * p - 8.604_672e-11;
    let p = x2 * p + 5.122_297e-8;
    let p = x2 * p + 1.485_722_4e-5;
    let p = x2 * p + 6.372_619_3e-4;
    let p = x2 * p + 4.893_524_6e-3;
    let p = x * p;
    let q = x2 * 1.198_258_4e-6 + 1.185_347e-4;
    let q = x2 * q + 2.268_434_6e-3;
    let q = x2 * q + 4.893_525e-3;
    p / q
}

#[cfg(test)]
mod tests {
    #[test]
    fn fast_tanh_is_accurate() {
        let mut worst = 0f32;
        for i in -20_000..=20_000 {
            let x = i as f32 / 1000.0;
            worst = worst.max((super::tanh(x) - x.tanh()).abs());
        }
        assert!(worst < 2e-6, "{worst}");
    }
}
