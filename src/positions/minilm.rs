//! MiniLM's forward pass (BERT: embeddings, then self-attention and a GELU feed-forward per
//! layer), written for inference on the CPU.
//!
//! candle-transformers' `BertModel` computes the same thing, but a profile of
//! `cargo bench --bench positions` on 2 cores put 24 % of all the time in libm's `erff` (its
//! exact GELU, element by element) and `expf` (softmax). Here GELU and the masked softmax are
//! fused loops over the tensors' memory with a vectorised exp, and the query, key and value
//! projections are one matrix product. Embeddings agree with sentence-transformers' within 1e-5
//! (tests/positions.rs); the test below holds GELU to libm's within 1e-6.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Module, Shape, Tensor};
use candle_nn::{embedding, layer_norm, linear, Embedding, LayerNorm, Linear, VarBuilder};
use candle_transformers::models::bert::{Config, HiddenAct};

use crate::dsp::cephes_exp;

struct Layer {
    /// Query (pre-scaled by 1/sqrt(head size)), key and value in one product.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    up: Linear,
    down: Linear,
    out_norm: LayerNorm,
}

/// `x` (batch, tokens, in) times a linear layer, as one matrix product over all the batch's
/// tokens: candle's `Linear` on a 3-d input multiplies each sequence apart, repacking the weight
/// each time, and short sentences make those products small.
fn dense(layer: &Linear, x: &Tensor) -> candle_core::Result<Tensor> {
    let (batch, len, width) = x.dims3()?;
    let out = layer.weight().dim(0)?;
    let y = x
        .reshape((batch * len, width))?
        .matmul(&layer.weight().t()?)?;
    let y = match layer.bias() {
        Some(b) => y.broadcast_add(b)?,
        None => y,
    };
    y.reshape((batch, len, out))
}

pub struct MiniLm {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_size: usize,
}

impl MiniLm {
    /// Load from a sentence-transformers BERT checkpoint (keys `embeddings.*`, `encoder.layer.N.*`).
    pub fn load(vb: VarBuilder, config: &Config) -> candle_core::Result<MiniLm> {
        if config.hidden_act != HiddenAct::Gelu {
            candle_core::bail!(
                "hidden_act {:?} (only gelu is supported)",
                config.hidden_act
            );
        }
        let hidden = config.hidden_size;
        let heads = config.num_attention_heads;
        let head_size = hidden / heads;
        let e = vb.pp("embeddings");
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let a = l.pp("attention");
            let part = |name: &str| {
                let p = a.pp("self").pp(name);
                Ok::<_, candle_core::Error>((
                    p.get((hidden, hidden), "weight")?,
                    p.get(hidden, "bias")?,
                ))
            };
            let (qw, qb) = part("query")?;
            let (kw, kb) = part("key")?;
            let (vw, vb_) = part("value")?;
            let scale = 1.0 / (head_size as f64).sqrt();
            let weight = Tensor::cat(&[(qw * scale)?, kw, vw], 0)?;
            let bias = Tensor::cat(&[(qb * scale)?, kb, vb_], 0)?;
            layers.push(Layer {
                qkv: Linear::new(weight, Some(bias)),
                attention_out: linear(hidden, hidden, a.pp("output").pp("dense"))?,
                attention_norm: layer_norm(
                    hidden,
                    config.layer_norm_eps,
                    a.pp("output").pp("LayerNorm"),
                )?,
                up: linear(
                    hidden,
                    config.intermediate_size,
                    l.pp("intermediate").pp("dense"),
                )?,
                down: linear(config.intermediate_size, hidden, l.pp("output").pp("dense"))?,
                out_norm: layer_norm(
                    hidden,
                    config.layer_norm_eps,
                    l.pp("output").pp("LayerNorm"),
                )?,
            });
        }
        Ok(MiniLm {
            word: embedding(config.vocab_size, hidden, e.pp("word_embeddings"))?,
            position: embedding(
                config.max_position_embeddings,
                hidden,
                e.pp("position_embeddings"),
            )?,
            token_type: embedding(
                config.type_vocab_size,
                hidden,
                e.pp("token_type_embeddings"),
            )?,
            embedding_norm: layer_norm(hidden, config.layer_norm_eps, e.pp("LayerNorm"))?,
            layers,
            heads,
            head_size,
        })
    }

    /// The last layer's token states, (batch, tokens, hidden), for `ids` (batch, tokens) whose
    /// `mask` is 1 on real tokens and 0 on padding. Every token is of type 0.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, len) = ids.dims2()?;
        let positions = Tensor::arange(0u32, len as u32, ids.device())?;
        let types = Tensor::zeros(1, DType::U32, ids.device())?;
        let x = self
            .word
            .forward(ids)?
            .broadcast_add(&self.token_type.forward(&types)?)?
            .broadcast_add(&self.position.forward(&positions)?)?;
        let mut x = self.embedding_norm.forward(&x)?;
        // Padding keys get f32::MIN before the softmax, as BERT's extended attention mask does.
        let additive = ((1.0 - mask.to_dtype(DType::F32)?)? * f64::from(f32::MIN))?.contiguous()?;
        let hidden = self.heads * self.head_size;
        for layer in &self.layers {
            let qkv = dense(&layer.qkv, &x)?
                .reshape((batch, len, 3, self.heads, self.head_size))?
                .permute((2, 0, 3, 1, 4))?;
            let q = qkv.get(0)?.contiguous()?;
            let k = qkv.get(1)?.contiguous()?;
            let v = qkv.get(2)?.contiguous()?;
            let scores = q.matmul(&k.t()?)?;
            let probs = scores.apply_op2_no_bwd(&additive, &MaskedSoftmax)?;
            let context = probs
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((batch, len, hidden))?;
            let attended = layer
                .attention_norm
                .forward(&(dense(&layer.attention_out, &context)? + &x)?)?;
            let up = dense(&layer.up, &attended)?.apply_op1_no_bwd(&Gelu)?;
            x = layer
                .out_norm
                .forward(&(dense(&layer.down, &up)? + &attended)?)?;
        }
        Ok(x)
    }
}

/// GELU with the error function, 0.5·x·(1 + erf(x/√2)); erf by Abramowitz and Stegun 7.1.26
/// (absolute error under 1.5e-7).
#[inline(always)]
fn gelu(x: f32) -> f32 {
    let z = (x * std::f32::consts::FRAC_1_SQRT_2).abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let erf_abs = 1.0 - poly * cephes_exp(-z * z);
    let erf = if x < 0.0 { -erf_abs } else { erf_abs };
    0.5 * x * (1.0 + erf)
}

#[inline(always)]
fn gelu_slice(src: &[f32], dst: &mut [f32]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = gelu(s);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_slice_avx2(src: &[f32], dst: &mut [f32]) {
    gelu_slice(src, dst)
}

/// Softmax of `row` after adding `mask`, in place. The loops are kept apart, and the sum is
/// taken in eight lanes, so that each vectorises (a float reduction in one accumulator does not).
#[inline(always)]
fn masked_softmax_row(row: &mut [f32], mask: &[f32]) {
    for (s, &m) in row.iter_mut().zip(mask) {
        *s += m;
    }
    let max = row.iter().copied().fold(f32::MIN, f32::max);
    for s in row.iter_mut() {
        *s = cephes_exp(*s - max);
    }
    let mut lanes = [0f32; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    let sum = lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>();
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|s| *s *= inv);
}

#[inline(always)]
fn masked_softmax(scores: &mut [f32], mask: &[f32], keys: usize, rows_per_batch: usize) {
    for (i, row) in scores.chunks_exact_mut(keys).enumerate() {
        let b = i / rows_per_batch;
        masked_softmax_row(row, &mask[b * keys..(b + 1) * keys]);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn masked_softmax_avx2(scores: &mut [f32], mask: &[f32], keys: usize, rows: usize) {
    masked_softmax(scores, mask, keys, rows)
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout) -> candle_core::Result<&'a [f32]> {
    let data = storage.as_slice::<f32>()?;
    match layout.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("minilm: expected a contiguous tensor"),
    }
}

struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "minilm-gelu"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let src = contiguous_f32(storage, layout)?;
        let mut dst = vec![0f32; src.len()];
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU was just found to have AVX2 and FMA.
            unsafe { gelu_slice_avx2(src, &mut dst) };
            return Ok((CpuStorage::F32(dst), layout.shape().clone()));
        }
        gelu_slice(src, &mut dst);
        Ok((CpuStorage::F32(dst), layout.shape().clone()))
    }
}

/// Softmax over the last axis of attention scores (batch, heads, queries, keys) after adding a
/// per-key mask (batch, keys).
struct MaskedSoftmax;

impl CustomOp2 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "minilm-masked-softmax"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (batch, heads, queries, keys) = l1.shape().dims4()?;
        if l2.shape().dims2()? != (batch, keys) {
            candle_core::bail!("minilm: mask {:?} for scores {:?}", l2.shape(), l1.shape());
        }
        let mut scores = contiguous_f32(s1, l1)?.to_vec();
        let mask = contiguous_f32(s2, l2)?;
        let rows = heads * queries;
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU was just found to have AVX2 and FMA.
            unsafe { masked_softmax_avx2(&mut scores, mask, keys, rows) };
            return Ok((CpuStorage::F32(scores), l1.shape().clone()));
        }
        masked_softmax(&mut scores, mask, keys, rows);
        Ok((CpuStorage::F32(scores), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_matches_libm() {
        // (cephes_exp is held to libm's exp by segmentation's gate_functions_are_accurate.)
        // Against candle's exact GELU (libm's erf), element by element.
        let xs: Vec<f32> = (-8000..8000).map(|i| i as f32 / 1000.0).collect();
        let exact = Tensor::new(xs.as_slice(), &candle_core::Device::Cpu)
            .unwrap()
            .gelu_erf()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let worst_gelu = xs
            .iter()
            .zip(&exact)
            .map(|(&x, &g)| (gelu(x) - g).abs())
            .fold(0f32, f32::max);
        assert!(worst_gelu < 1e-6, "gelu absolute error {worst_gelu}");
    }
}
