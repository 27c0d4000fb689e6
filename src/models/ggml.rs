//! Writing tensors in ggml's legacy Whisper file layout, including ggml's block quantization
//! formats q8_0 and q5_1 (bit-exact with ggml's reference quantizers).

use std::io::{self, Write};

use half::f16;

/// ggml's tensor element types, with the ids ggml stores in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q5_1 = 7,
    Q8_0 = 8,
}

/// How the matrices of a converted model are stored (the `--quantize` choice).
#[derive(
    Debug,
    Default,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Quantization {
    F16,
    #[default]
    Q8_0,
    Q5_1,
    Q4_0,
}

/// ggml multiplies the file type of quantized models by this version marker.
const GGML_QNT_VERSION: i32 = 2;
const GGML_QNT_VERSION_FACTOR: i32 = 1000;

impl Quantization {
    pub fn tensor_type(self) -> TensorType {
        match self {
            Quantization::F16 => TensorType::F16,
            Quantization::Q8_0 => TensorType::Q8_0,
            Quantization::Q5_1 => TensorType::Q5_1,
            Quantization::Q4_0 => TensorType::Q4_0,
        }
    }

    /// The `ftype` field of the file header (ggml's `ggml_ftype`, versioned when quantized).
    pub fn header_ftype(self) -> i32 {
        match self {
            Quantization::F16 => 1,
            Quantization::Q8_0 => 7 + GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR,
            Quantization::Q5_1 => 9 + GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR,
            Quantization::Q4_0 => 2 + GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Quantization::F16 => "f16",
            Quantization::Q8_0 => "q8_0",
            Quantization::Q5_1 => "q5_1",
            Quantization::Q4_0 => "q4_0",
        }
    }

    pub fn parse(s: &str) -> Option<Quantization> {
        Some(match s {
            "f16" => Quantization::F16,
            "q8_0" => Quantization::Q8_0,
            "q5_1" => Quantization::Q5_1,
            "q4_0" => Quantization::Q4_0,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Quantization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub const QK8_0: usize = 32;
pub const QK5_1: usize = 32;

/// Encode `values` (a whole number of rows) in the given type.
pub fn encode(values: &[f32], ty: TensorType) -> Vec<u8> {
    match ty {
        TensorType::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        TensorType::F16 => values
            .iter()
            .flat_map(|v| f16::from_f32(*v).to_le_bytes())
            .collect(),
        TensorType::Q8_0 => quantize_q8_0(values),
        TensorType::Q5_1 => quantize_q5_1(values),
        TensorType::Q4_0 => quantize_q4_0(values),
    }
}

/// q8_0: blocks of 32 values as `f16 d; i8 qs[32]`, with d = max|x| / 127.
pub fn quantize_q8_0(x: &[f32]) -> Vec<u8> {
    assert!(
        x.len().is_multiple_of(QK8_0),
        "q8_0 needs rows that are a multiple of 32"
    );
    let mut out = Vec::with_capacity(x.len() / QK8_0 * 34);
    for block in x.chunks_exact(QK8_0) {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        out.extend(block.iter().map(|v| (v * id).round() as i8 as u8));
    }
    out
}

/// q5_1: blocks of 32 values as `f16 d; f16 m; u32 qh; u8 qs[16]`: 5-bit codes of (x - min) / d
/// with d = (max - min) / 31; the low nibbles pack two values per byte (j and j + 16), the fifth
/// bits go to `qh`.
pub fn quantize_q5_1(x: &[f32]) -> Vec<u8> {
    assert!(
        x.len().is_multiple_of(QK5_1),
        "q5_1 needs rows that are a multiple of 32"
    );
    let mut out = Vec::with_capacity(x.len() / QK5_1 * 24);
    for block in x.chunks_exact(QK5_1) {
        let min = block.iter().fold(f32::INFINITY, |m, v| m.min(*v));
        let max = block.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
        let d = (max - min) / 31.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        out.extend_from_slice(&f16::from_f32(min).to_le_bytes());
        let mut qh: u32 = 0;
        let mut qs = [0u8; QK5_1 / 2];
        for j in 0..QK5_1 / 2 {
            let x0 = (block[j] - min) * id;
            let x1 = (block[j + QK5_1 / 2] - min) * id;
            let xi0 = (x0 + 0.5) as u8;
            let xi1 = (x1 + 0.5) as u8;
            qs[j] = (xi0 & 0x0F) | ((xi1 & 0x0F) << 4);
            qh |= (((xi0 & 0x10) >> 4) as u32) << j;
            qh |= (((xi1 & 0x10) >> 4) as u32) << (j + QK5_1 / 2);
        }
        out.extend_from_slice(&qh.to_le_bytes());
        out.extend_from_slice(&qs);
    }
    out
}

/// q4_0: blocks of 32 values as `f16 d; u8 qs[16]`: 4-bit codes of x / d + 8 where d is the
/// value of largest magnitude divided by -8; low nibbles hold values 0..16, high nibbles 16..32.
/// whisper.cpp repacks q4_0 matrices on load into interleaved blocks with fast AVX2 kernels.
pub fn quantize_q4_0(x: &[f32]) -> Vec<u8> {
    assert!(
        x.len().is_multiple_of(32),
        "q4_0 needs rows that are a multiple of 32"
    );
    let mut out = Vec::with_capacity(x.len() / 32 * 18);
    for block in x.chunks_exact(32) {
        let (mut amax, mut max) = (0f32, 0f32);
        for &v in block {
            if v.abs() > amax {
                amax = v.abs();
                max = v;
            }
        }
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        for j in 0..16 {
            let q0 = ((block[j] * id + 8.5) as i8).min(15) as u8;
            let q1 = ((block[j + 16] * id + 8.5) as i8).min(15) as u8;
            out.push(q0 | (q1 << 4));
        }
    }
    out
}

/// Decode a q4_0 buffer back to f32.
pub fn dequantize_q4_0(bytes: &[u8]) -> Vec<f32> {
    let mut out = Vec::with_capacity(bytes.len() / 18 * 32);
    for b in bytes.chunks_exact(18) {
        let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
        let mut block = [0f32; 32];
        for j in 0..16 {
            block[j] = ((b[2 + j] & 0x0F) as i32 - 8) as f32 * d;
            block[j + 16] = ((b[2 + j] >> 4) as i32 - 8) as f32 * d;
        }
        out.extend_from_slice(&block);
    }
    out
}

/// Decode a q8_0 buffer back to f32 (the round-trip tests check the quantizers with it).
pub fn dequantize_q8_0(bytes: &[u8]) -> Vec<f32> {
    let mut out = Vec::with_capacity(bytes.len() / 34 * QK8_0);
    for b in bytes.chunks_exact(34) {
        let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
        out.extend(b[2..].iter().map(|&q| q as i8 as f32 * d));
    }
    out
}

/// Decode a q5_1 buffer back to f32.
pub fn dequantize_q5_1(bytes: &[u8]) -> Vec<f32> {
    let mut out = Vec::with_capacity(bytes.len() / 24 * QK5_1);
    for b in bytes.chunks_exact(24) {
        let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
        let m = f16::from_le_bytes([b[2], b[3]]).to_f32();
        let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        let qs = &b[8..];
        let mut block = [0f32; QK5_1];
        for j in 0..QK5_1 / 2 {
            let xh0 = ((qh >> j) << 4) & 0x10;
            let xh1 = (qh >> (j + 12)) & 0x10;
            let x0 = (qs[j] as u32 & 0x0F) | xh0;
            let x1 = (qs[j] as u32 >> 4) | xh1;
            block[j] = x0 as f32 * d + m;
            block[j + QK5_1 / 2] = x1 as f32 * d + m;
        }
        out.extend_from_slice(&block);
    }
    out
}

/// Write one tensor record: `i32 n_dims, i32 name_len, i32 type, dims (innermost first), name,
/// data`. `shape` is given outermost first (numpy order); ggml stores it reversed.
pub fn write_tensor<W: Write>(
    out: &mut W,
    name: &str,
    shape: &[usize],
    ty: TensorType,
    values: &[f32],
) -> io::Result<()> {
    out.write_all(&(shape.len() as i32).to_le_bytes())?;
    out.write_all(&(name.len() as i32).to_le_bytes())?;
    out.write_all(&(ty as i32).to_le_bytes())?;
    for dim in shape.iter().rev() {
        out.write_all(&(*dim as i32).to_le_bytes())?;
    }
    out.write_all(name.as_bytes())?;
    out.write_all(&encode(values, ty))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Vec<f32> {
        // Deterministic pseudo-random weights with the spread of real layers.
        let mut s = 0x2545_f491_u32;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32 - 0.5) * 0.2
            })
            .collect()
    }

    #[test]
    fn q8_0_round_trips_within_half_a_step() {
        let x = sample(32 * 64);
        let q = quantize_q8_0(&x);
        assert_eq!(q.len(), 64 * 34);
        let y = dequantize_q8_0(&q);
        for (bx, by) in x.chunks(32).zip(y.chunks(32)) {
            let amax = bx.iter().fold(0f32, |m, v| m.max(v.abs()));
            let step = amax / 127.0;
            for (a, b) in bx.iter().zip(by) {
                // Half a step of rounding, plus the f16 rounding of the scale (2^-11 relative).
                assert!((a - b).abs() <= step * 0.5 + amax / 2048.0, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn q5_1_round_trips_within_half_a_step() {
        let x = sample(32 * 64);
        let q = quantize_q5_1(&x);
        assert_eq!(q.len(), 64 * 24);
        let y = dequantize_q5_1(&q);
        for (bx, by) in x.chunks(32).zip(y.chunks(32)) {
            let min = bx.iter().fold(f32::INFINITY, |m, v| m.min(*v));
            let max = bx.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
            let step = (max - min) / 31.0;
            for (a, b) in bx.iter().zip(by) {
                // f16 storage of d and m adds a little on top of the rounding half-step.
                assert!((a - b).abs() <= step * 0.5 + 2e-3, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn q4_0_round_trips_within_a_step() {
        let x = sample(32 * 64);
        let q = quantize_q4_0(&x);
        assert_eq!(q.len(), 64 * 18);
        let y = dequantize_q4_0(&q);
        for (bx, by) in x.chunks(32).zip(y.chunks(32)) {
            let amax = bx.iter().fold(0f32, |m, v| m.max(v.abs()));
            let step = amax / 8.0;
            for (a, b) in bx.iter().zip(by) {
                // Codes span -8 d ..= 7 d with the largest magnitude at -8 d: values near the
                // other extreme are clipped by up to one step, the rest rounded by half a step.
                assert!((a - b).abs() <= step + amax / 2048.0, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn zero_block_quantizes_to_zero() {
        let y = dequantize_q8_0(&quantize_q8_0(&[0.0; 32]));
        assert!(y.iter().all(|v| *v == 0.0));
        let y = dequantize_q5_1(&quantize_q5_1(&[0.25; 32]));
        assert!(y.iter().all(|v| (*v - 0.25).abs() < 1e-3));
    }

    #[test]
    fn tensor_header_reverses_dims() {
        let mut buf = Vec::new();
        write_tensor(&mut buf, "a.b", &[2, 3], TensorType::F32, &[0.0; 6]).unwrap();
        let ints: Vec<i32> = buf[..20]
            .chunks(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(ints, vec![2, 3, 0, 3, 2]);
        assert_eq!(&buf[20..23], b"a.b");
        assert_eq!(buf.len(), 23 + 24);
    }
}
