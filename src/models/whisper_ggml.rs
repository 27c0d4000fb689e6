//! Conversion of a CTranslate2 Whisper model directory (`model.bin` + `vocabulary.txt`) into the
//! GGML file whisper.cpp loads.
//!
//! What differs between the two layouts, and why each step below exists:
//! - CTranslate2 fuses self-attention q/k/v into one `linear_0` ([3D, D]) and cross-attention
//!   k/v into `linear_1` ([2D, D]); whisper.cpp wants them apart and has no key bias.
//! - Hyper-parameters are not stored as such: layer counts, sizes and n_mels come from tensor
//!   names and shapes, head counts from the `*/num_heads` scalars.
//! - CTranslate2 carries no mel filter bank, so the Slaney filters librosa computes for
//!   Whisper (80 or 128 x 201, n_fft 400, 16 kHz) are computed here.
//! - The vocabulary is GPT-2 byte-level text ("Ġ" for a space) and is mapped back to raw bytes.
//! - whisper.cpp expects biases, norms and positional embeddings in f32, conv kernels in f16
//!   and the matrices in the file's weight type.

use std::io::{BufWriter, Read, Write};
use std::path::Path;

use super::ct2::{Ct2Model, Dtype};
use super::ggml::{self, Quantization, TensorType};
use crate::error::{Error, Result};

const GGML_MAGIC: u32 = 0x6767_6d6c;
/// Whisper's text vocabulary proper; whisper.cpp adds the special tokens after it.
const BASE_VOCAB: usize = 50257;

/// Hyper-parameters of a Whisper model, in the order of the GGML header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: usize,
    pub n_audio_ctx: usize,
    pub n_audio_state: usize,
    pub n_audio_head: usize,
    pub n_audio_layer: usize,
    pub n_text_ctx: usize,
    pub n_text_state: usize,
    pub n_text_head: usize,
    pub n_text_layer: usize,
    pub n_mels: usize,
}

/// One tensor of the output file, still in f32.
struct Tensor {
    name: String,
    shape: Vec<usize>,
    values: Vec<f32>,
    kind: Kind,
}

/// Decides the stored type: matrices follow the requested quantization, conv kernels stay f16
/// and everything else (biases, norms, positional embeddings) f32, as whisper.cpp expects.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Matrix,
    Conv,
    Vector,
}

/// Convert `ct2_dir` into a GGML file at `out` (written in one pass; the caller renames it into
/// place). Returns the model's hyper-parameters.
pub fn convert(ct2_dir: &Path, out: &Path, quant: Quantization) -> Result<Hparams> {
    let model_path = ct2_dir.join("model.bin");
    let model = Ct2Model::read(&model_path)?;
    if model.spec != "WhisperSpec" {
        return Err(Error::model(
            &model_path,
            format!("is a {} model, not Whisper", model.spec),
        ));
    }
    let vocab = read_vocabulary(ct2_dir)?;
    let fail = |cause: String| Error::model(&model_path, cause);
    let (hp, tensors) = map_tensors(&model).map_err(fail)?;

    let file = std::fs::File::create(out).map_err(|e| Error::output(out, e.to_string()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let io = |e: std::io::Error| Error::output(out, e.to_string());
    for v in [
        GGML_MAGIC as i32,
        hp.n_vocab as i32,
        hp.n_audio_ctx as i32,
        hp.n_audio_state as i32,
        hp.n_audio_head as i32,
        hp.n_audio_layer as i32,
        hp.n_text_ctx as i32,
        hp.n_text_state as i32,
        hp.n_text_head as i32,
        hp.n_text_layer as i32,
        hp.n_mels as i32,
        quant.header_ftype(),
    ] {
        w.write_all(&v.to_le_bytes()).map_err(io)?;
    }
    let filters = crate::dsp::mel_filters(hp.n_mels, 400, 16000);
    w.write_all(&(hp.n_mels as i32).to_le_bytes()).map_err(io)?;
    w.write_all(&201i32.to_le_bytes()).map_err(io)?;
    for f in &filters {
        w.write_all(&f.to_le_bytes()).map_err(io)?;
    }
    let n_tokens = vocab.len().min(BASE_VOCAB);
    w.write_all(&(n_tokens as i32).to_le_bytes()).map_err(io)?;
    for token in &vocab[..n_tokens] {
        w.write_all(&(token.len() as i32).to_le_bytes())
            .map_err(io)?;
        w.write_all(token).map_err(io)?;
    }
    for t in &tensors {
        let ty = match t.kind {
            Kind::Vector => TensorType::F32,
            Kind::Conv => TensorType::F16,
            Kind::Matrix => {
                let row = *t.shape.last().unwrap_or(&0);
                if quant != Quantization::F16 && row % ggml::QK8_0 != 0 {
                    return Err(fail(format!(
                        "{}: rows of {row} cannot be block-quantized",
                        t.name
                    )));
                }
                quant.tensor_type()
            }
        };
        ggml::write_tensor(&mut w, &t.name, &t.shape, ty, &t.values).map_err(io)?;
    }
    w.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    Ok(hp)
}

/// Read `vocabulary.txt` (one token per line, GPT-2 byte-level) or `vocabulary.json`, as raw bytes.
fn read_vocabulary(dir: &Path) -> Result<Vec<Vec<u8>>> {
    let txt = dir.join("vocabulary.txt");
    let json = dir.join("vocabulary.json");
    let tokens: Vec<String> = if txt.exists() {
        let text = std::fs::read_to_string(&txt).map_err(|e| Error::model(&txt, e.to_string()))?;
        // Every line is a token, including empty ones (token 50256 of the multilingual
        // vocabulary is empty): dropping one would shift every id after it.
        let mut lines: Vec<String> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
            .collect();
        if text.ends_with('\n') {
            lines.pop();
        }
        lines
    } else if json.exists() {
        let text =
            std::fs::read_to_string(&json).map_err(|e| Error::model(&json, e.to_string()))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::model(&json, format!("not a JSON list of tokens: {e}")))?
    } else {
        return Err(Error::model(
            dir,
            "no vocabulary.txt or vocabulary.json beside model.bin",
        ));
    };
    if tokens.len() < BASE_VOCAB {
        return Err(Error::model(
            &txt,
            format!(
                "has {} tokens; a Whisper vocabulary has at least {BASE_VOCAB}",
                tokens.len()
            ),
        ));
    }
    let decoder = byte_decoder();
    Ok(tokens
        .iter()
        .map(|t| t.chars().map(|c| decoder(c).unwrap_or(b'?')).collect())
        .collect())
}

/// GPT-2's byte-level alphabet: printable bytes stand for themselves, the others were shifted to
/// code points 256 and up, in byte order.
fn byte_decoder() -> impl Fn(char) -> Option<u8> {
    let printable = |b: u32| {
        (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b)
    };
    let mut table = std::collections::HashMap::new();
    let mut shifted = 0u32;
    for b in 0u32..256 {
        let c = if printable(b) {
            b
        } else {
            shifted += 1;
            255 + shifted
        };
        table.insert(char::from_u32(c).unwrap(), b as u8);
    }
    move |c| table.get(&c).copied()
}

fn map_tensors(m: &Ct2Model) -> std::result::Result<(Hparams, Vec<Tensor>), String> {
    let get = |name: &str| {
        m.get(name)
            .ok_or_else(|| format!("missing variable {name}"))
    };
    let floats = |name: &str| -> std::result::Result<(Vec<usize>, Vec<f32>), String> {
        let v = get(name)?;
        if v.dtype == Dtype::I8 {
            // int8 CTranslate2 models store one f32 scale per output row: x = q / scale.
            let scale_name = format!("{}_scale", name);
            let scale = get(&scale_name)?
                .to_f32()
                .ok_or(format!("{scale_name} is not floating point"))?;
            let rows = v.shape[0];
            let cols = v.len() / rows.max(1);
            if scale.len() != rows {
                return Err(format!(
                    "{scale_name} has {} values for {rows} rows",
                    scale.len()
                ));
            }
            let values = v
                .data
                .iter()
                .enumerate()
                .map(|(i, &q)| q as i8 as f32 / scale[i / cols])
                .collect();
            return Ok((v.shape.clone(), values));
        }
        let values = v
            .to_f32()
            .ok_or_else(|| format!("{name} has unsupported type {:?}", v.dtype))?;
        Ok((v.shape.clone(), values))
    };
    let heads = |name: &str| -> std::result::Result<usize, String> {
        get(name)?
            .scalar_i64()
            .map(|h| h as usize)
            .ok_or(format!("{name} is not an integer"))
    };
    let count_layers = |prefix: &str| {
        (0..)
            .take_while(|i| {
                m.get(&format!("{prefix}/layer_{i}/ffn/linear_0/weight"))
                    .is_some()
            })
            .count()
    };

    let (emb_shape, _) = (get("decoder/embeddings/weight")?.shape.clone(), ());
    let enc_pos = get("encoder/position_encodings/encodings")?.shape.clone();
    let dec_pos = get("decoder/position_encodings/encodings")?.shape.clone();
    let conv1 = get("encoder/conv1/weight")?.shape.clone();
    if emb_shape.len() != 2 || enc_pos.len() != 2 || dec_pos.len() != 2 || conv1.len() != 3 {
        return Err("unexpected tensor ranks for a Whisper model".into());
    }
    let hp = Hparams {
        n_vocab: emb_shape[0],
        n_audio_ctx: enc_pos[0],
        n_audio_state: enc_pos[1],
        n_audio_head: heads("encoder/num_heads")?,
        n_audio_layer: count_layers("encoder"),
        n_text_ctx: dec_pos[0],
        n_text_state: dec_pos[1],
        n_text_head: heads("decoder/num_heads")?,
        n_text_layer: count_layers("decoder"),
        n_mels: conv1[1],
    };
    if hp.n_audio_layer == 0 || hp.n_text_layer == 0 {
        return Err("no encoder or decoder layers found".into());
    }

    let mut out = Vec::new();
    let mut push = |name: String, shape: Vec<usize>, values: Vec<f32>, kind: Kind| {
        out.push(Tensor {
            name,
            shape,
            values,
            kind,
        });
    };
    let mut copy = |out_name: &str, in_name: &str, kind: Kind| -> std::result::Result<(), String> {
        let (shape, values) = floats(in_name)?;
        push(out_name.to_string(), shape, values, kind);
        Ok(())
    };

    copy(
        "encoder.positional_embedding",
        "encoder/position_encodings/encodings",
        Kind::Vector,
    )?;
    copy("encoder.conv1.weight", "encoder/conv1/weight", Kind::Conv)?;
    copy("encoder.conv2.weight", "encoder/conv2/weight", Kind::Conv)?;
    copy(
        "encoder.ln_post.weight",
        "encoder/layer_norm/gamma",
        Kind::Vector,
    )?;
    copy(
        "encoder.ln_post.bias",
        "encoder/layer_norm/beta",
        Kind::Vector,
    )?;
    copy(
        "decoder.positional_embedding",
        "decoder/position_encodings/encodings",
        Kind::Vector,
    )?;
    copy(
        "decoder.token_embedding.weight",
        "decoder/embeddings/weight",
        Kind::Matrix,
    )?;
    copy(
        "decoder.ln.weight",
        "decoder/layer_norm/gamma",
        Kind::Vector,
    )?;
    copy("decoder.ln.bias", "decoder/layer_norm/beta", Kind::Vector)?;
    for conv in ["conv1", "conv2"] {
        // whisper.cpp adds conv biases as [D, 1] tensors.
        let (shape, values) = floats(&format!("encoder/{conv}/bias"))?;
        push(
            format!("encoder.{conv}.bias"),
            vec![shape[0], 1],
            values,
            Kind::Vector,
        );
    }

    let mut layer = |side: &str, i: usize| -> std::result::Result<(), String> {
        let src = format!("{side}/layer_{i}");
        let dst = format!("{side}.blocks.{i}");
        let mut linear = |out_name: &str, in_name: &str| -> std::result::Result<(), String> {
            let (ws, wv) = floats(&format!("{src}/{in_name}/weight"))?;
            let (bs, bv) = floats(&format!("{src}/{in_name}/bias"))?;
            push(format!("{dst}.{out_name}.weight"), ws, wv, Kind::Matrix);
            push(format!("{dst}.{out_name}.bias"), bs, bv, Kind::Vector);
            Ok(())
        };
        linear("mlp.0", "ffn/linear_0")?;
        linear("mlp.2", "ffn/linear_1")?;
        linear("attn.out", "self_attention/linear_1")?;
        if side == "decoder" {
            linear("cross_attn.query", "attention/linear_0")?;
            linear("cross_attn.out", "attention/linear_2")?;
        }
        let mut norm = |out_name: &str, in_name: &str| -> std::result::Result<(), String> {
            let (gs, gv) = floats(&format!("{src}/{in_name}/gamma"))?;
            let (bs, bv) = floats(&format!("{src}/{in_name}/beta"))?;
            push(format!("{dst}.{out_name}.weight"), gs, gv, Kind::Vector);
            push(format!("{dst}.{out_name}.bias"), bs, bv, Kind::Vector);
            Ok(())
        };
        norm("mlp_ln", "ffn/layer_norm")?;
        norm("attn_ln", "self_attention/layer_norm")?;
        if side == "decoder" {
            norm("cross_attn_ln", "attention/layer_norm")?;
        }
        // Split fused projections. Row blocks of the weight are q, k, v (or k, v).
        let mut split = |fused: &str, names: &[&str]| -> std::result::Result<(), String> {
            let (ws, wv) = floats(&format!("{src}/{fused}/weight"))?;
            let (_, bv) = floats(&format!("{src}/{fused}/bias"))?;
            let parts = names.len();
            if ws.len() != 2 || ws[0] % parts != 0 {
                return Err(format!(
                    "{src}/{fused}/weight has shape {ws:?}, not {parts} fused blocks"
                ));
            }
            let rows = ws[0] / parts;
            let cols = ws[1];
            for (p, name) in names.iter().enumerate() {
                let w = wv[p * rows * cols..(p + 1) * rows * cols].to_vec();
                push(
                    format!("{dst}.{name}.weight"),
                    vec![rows, cols],
                    w,
                    Kind::Matrix,
                );
                // The key projection has no bias in Whisper (CTranslate2 stores zeros).
                if !name.ends_with("key") {
                    push(
                        format!("{dst}.{name}.bias"),
                        vec![rows],
                        bv[p * rows..(p + 1) * rows].to_vec(),
                        Kind::Vector,
                    );
                }
            }
            Ok(())
        };
        split(
            "self_attention/linear_0",
            &["attn.query", "attn.key", "attn.value"],
        )?;
        if side == "decoder" {
            split(
                "attention/linear_1",
                &["cross_attn.key", "cross_attn.value"],
            )?;
        }
        Ok(())
    };
    for i in 0..hp.n_audio_layer {
        layer("encoder", i)?;
    }
    for i in 0..hp.n_text_layer {
        layer("decoder", i)?;
    }
    Ok((hp, out))
}

/// ggml tensor types a Whisper file may hold: (id, elements per block, bytes per block).
const TENSOR_TYPES: [(i32, u64, u64); 15] = [
    (0, 1, 4),      // f32
    (1, 1, 2),      // f16
    (2, 32, 18),    // q4_0
    (3, 32, 20),    // q4_1
    (6, 32, 22),    // q5_0
    (7, 32, 24),    // q5_1
    (8, 32, 34),    // q8_0
    (9, 32, 36),    // q8_1
    (10, 256, 84),  // q2_k
    (11, 256, 110), // q3_k
    (12, 256, 144), // q4_k
    (13, 256, 176), // q5_k
    (14, 256, 210), // q6_k
    (15, 256, 292), // q8_k
    (30, 1, 2),     // bf16
];

/// Reads a GGML file's little-endian fields, naming what it was reading when the file ends.
struct FieldReader {
    inner: std::io::BufReader<std::fs::File>,
    pos: u64,
    len: u64,
}

impl FieldReader {
    fn i32(&mut self, what: &str) -> std::result::Result<i32, String> {
        let mut b = [0u8; 4];
        self.bytes(&mut b, what)?;
        Ok(i32::from_le_bytes(b))
    }

    fn bytes(&mut self, buf: &mut [u8], what: &str) -> std::result::Result<(), String> {
        if self.len - self.pos < buf.len() as u64 {
            return Err(format!("truncated: the file ends inside {what}"));
        }
        self.inner
            .read_exact(buf)
            .map_err(|e| format!("cannot read {what}: {e}"))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn skip(&mut self, n: u64, what: &str) -> std::result::Result<(), String> {
        if self.len - self.pos < n {
            return Err(format!("truncated: the file ends inside {what}"));
        }
        // Relative seeks keep the buffer, so the 50k short vocabulary entries cost no syscalls.
        self.inner
            .seek_relative(n as i64)
            .map_err(|e| format!("cannot read {what}: {e}"))?;
        self.pos += n;
        Ok(())
    }
}

/// Checks that `path` is a whole, self-consistent GGML Whisper file before whisper.cpp sees it.
///
/// whisper.cpp trusts its input: a file cut short before the tensors loads as an "empty model"
/// that transcribes nothing without a word of warning, and a header claiming a huge vocabulary
/// or layer count makes it allocate without bound and abort the whole process (a C++ exception
/// cannot cross into Rust). So every field is bounded here, the tensor table is walked to the
/// last byte, and the header's sizes must agree with the tensors actually present, which keeps
/// what whisper.cpp allocates proportional to the file.
pub fn check(path: &Path) -> Result<Hparams> {
    let fail = |cause: String| Error::model(path, cause);
    let file = std::fs::File::open(path)
        .map_err(|e| fail(format!("cannot open model: {}", crate::error::io_cause(&e))))?;
    let len = file
        .metadata()
        .map_err(|e| fail(format!("cannot open model: {}", crate::error::io_cause(&e))))?
        .len();
    let mut r = FieldReader {
        inner: std::io::BufReader::new(file),
        pos: 0,
        len,
    };
    if !r
        .i32("the magic number")
        .is_ok_and(|magic| magic as u32 == GGML_MAGIC)
    {
        return Err(fail(
            "is not a GGML Whisper model (no GGML magic number)".into(),
        ));
    }
    check_fields(&mut r).map_err(|cause| {
        fail(format!(
            "{cause}; it is not a whole GGML Whisper model (re-fetch or re-convert it)"
        ))
    })
}

/// Everything after the magic number.
fn check_fields(r: &mut FieldReader) -> std::result::Result<Hparams, String> {
    let mut field = |name: &str, max: i32| -> std::result::Result<usize, String> {
        let v = r.i32(&format!("the header ({name})"))?;
        if v < 1 || v > max {
            return Err(format!("impossible {name} {v} in the header"));
        }
        Ok(v as usize)
    };
    let hp = Hparams {
        n_vocab: field("n_vocab", 1 << 20)?,
        n_audio_ctx: field("n_audio_ctx", 1 << 16)?,
        n_audio_state: field("n_audio_state", 1 << 14)?,
        n_audio_head: field("n_audio_head", 1 << 10)?,
        n_audio_layer: field("n_audio_layer", 1 << 10)?,
        n_text_ctx: field("n_text_ctx", 1 << 16)?,
        n_text_state: field("n_text_state", 1 << 14)?,
        n_text_head: field("n_text_head", 1 << 10)?,
        n_text_layer: field("n_text_layer", 1 << 10)?,
        n_mels: field("n_mels", 1 << 10)?,
    };
    let ftype = r.i32("the header (ftype)")?;
    if !(0..100_000).contains(&ftype) {
        return Err(format!("impossible file type {ftype} in the header"));
    }
    if !hp.n_audio_state.is_multiple_of(hp.n_audio_head)
        || !hp.n_text_state.is_multiple_of(hp.n_text_head)
    {
        return Err("the header's head counts do not divide its state sizes".into());
    }

    let n_mel = r.i32("the mel filters")?;
    let n_fft = r.i32("the mel filters")?;
    if !(1..=1 << 10).contains(&n_mel) || !(1..=1 << 12).contains(&n_fft) {
        return Err(format!("impossible mel filter bank {n_mel} x {n_fft}"));
    }
    r.skip(n_mel as u64 * n_fft as u64 * 4, "the mel filters")?;

    let n_tokens = r.i32("the vocabulary")?;
    if n_tokens < 0 || n_tokens as usize > hp.n_vocab {
        return Err(format!(
            "the vocabulary holds {n_tokens} tokens, the header says at most {}",
            hp.n_vocab
        ));
    }
    for _ in 0..n_tokens {
        let token_len = r.i32("the vocabulary")?;
        if !(0..=1 << 10).contains(&token_len) {
            return Err(format!("impossible vocabulary token of {token_len} bytes"));
        }
        r.skip(token_len as u64, "the vocabulary")?;
    }

    // The tensors run to the end of the file.
    let mut shapes: std::collections::HashMap<String, Vec<u64>> = Default::default();
    let mut data_bytes = 0u64;
    while r.pos < r.len {
        if r.len - r.pos < 16 {
            return Err(format!(
                "truncated or padded: the {} bytes after the last whole tensor are too few for another",
                r.len - r.pos
            ));
        }
        let n_dims = r.i32("a tensor header")?;
        let name_len = r.i32("a tensor header")?;
        let ttype = r.i32("a tensor header")?;
        if !(1..=4).contains(&n_dims) || !(1..=256).contains(&name_len) {
            return Err(format!(
                "tensor {} has an impossible header ({n_dims} dimensions, a name of {name_len} bytes)",
                shapes.len() + 1
            ));
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            let d = r.i32("a tensor header")?;
            if d < 1 {
                return Err(format!(
                    "tensor {} has a dimension of {d}",
                    shapes.len() + 1
                ));
            }
            dims.push(d as u64);
        }
        let mut name = vec![0u8; name_len as usize];
        r.bytes(&mut name, "a tensor name")?;
        let name = String::from_utf8(name)
            .map_err(|_| format!("tensor {} has a name that is not text", shapes.len() + 1))?;
        let Some(&(_, block, block_bytes)) = TENSOR_TYPES.iter().find(|t| t.0 == ttype) else {
            return Err(format!("tensor {name} has an unknown type {ttype}"));
        };
        let elements = dims.iter().product::<u64>();
        if !dims[0].is_multiple_of(block) {
            return Err(format!(
                "tensor {name}: rows of {} do not fill whole blocks",
                dims[0]
            ));
        }
        let bytes = elements / block * block_bytes;
        r.skip(bytes, &format!("tensor {name}"))?;
        data_bytes += bytes;
        if shapes.insert(name.clone(), dims).is_some() {
            return Err(format!("tensor {name} appears twice"));
        }
    }

    // The sizes whisper.cpp allocates by must be those of the tensors present.
    let expect = |name: &str, want: &[usize]| -> std::result::Result<(), String> {
        let want: Vec<u64> = want.iter().map(|&d| d as u64).collect();
        match shapes.get(name) {
            None => Err(format!("tensor {name} is missing")),
            Some(got) if *got != want => Err(format!(
                "tensor {name} has shape {got:?} but the header implies {want:?}"
            )),
            Some(_) => Ok(()),
        }
    };
    expect("encoder.conv1.weight", &[3, hp.n_mels, hp.n_audio_state])?;
    expect(
        "encoder.positional_embedding",
        &[hp.n_audio_state, hp.n_audio_ctx],
    )?;
    expect(
        "decoder.positional_embedding",
        &[hp.n_text_state, hp.n_text_ctx],
    )?;
    expect(
        "decoder.token_embedding.weight",
        &[hp.n_text_state, hp.n_vocab],
    )?;
    let layers = |prefix: &str| {
        shapes
            .keys()
            .filter_map(|k| {
                k.strip_prefix(prefix)?
                    .split('.')
                    .next()?
                    .parse::<usize>()
                    .ok()
            })
            .max()
            .map_or(0, |last| last + 1)
    };
    let (audio_layers, text_layers) = (layers("encoder.blocks."), layers("decoder.blocks."));
    if audio_layers != hp.n_audio_layer || text_layers != hp.n_text_layer {
        return Err(format!(
            "the header says {} encoder and {} decoder layers, the file holds {audio_layers} and {text_layers}",
            hp.n_audio_layer, hp.n_text_layer
        ));
    }
    if data_bytes == 0 {
        return Err("no tensor data".into());
    }
    Ok(hp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A miniature but complete Whisper file: one layer each side, 2 mels, a 4-token vocabulary.
    fn tiny_whisper_file() -> Vec<u8> {
        let mut out = Vec::new();
        // magic, n_vocab, audio ctx/state/head/layer, text ctx/state/head/layer, n_mels, ftype
        for v in [GGML_MAGIC as i32, 4, 2, 4, 1, 1, 2, 4, 1, 1, 2, 1] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [2i32, 3] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend(std::iter::repeat_n(0u8, 2 * 3 * 4));
        out.extend_from_slice(&2i32.to_le_bytes());
        for token in [&b"a"[..], b"bc"] {
            out.extend_from_slice(&(token.len() as i32).to_le_bytes());
            out.extend_from_slice(token);
        }
        let tensors: [(&str, &[usize], TensorType); 6] = [
            ("encoder.conv1.weight", &[4, 2, 3], TensorType::F16),
            ("encoder.positional_embedding", &[2, 4], TensorType::F32),
            ("encoder.blocks.0.mlp_ln.bias", &[4], TensorType::F32),
            ("decoder.positional_embedding", &[2, 4], TensorType::F32),
            ("decoder.token_embedding.weight", &[4, 4], TensorType::F16),
            ("decoder.blocks.0.mlp_ln.bias", &[4], TensorType::F32),
        ];
        for (name, shape, ty) in tensors {
            let values = vec![0.5f32; shape.iter().product()];
            ggml::write_tensor(&mut out, name, shape, ty, &values).unwrap();
        }
        out
    }

    fn check_bytes(bytes: &[u8]) -> std::result::Result<Hparams, String> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        check(file.path()).map_err(|e| e.to_string())
    }

    #[test]
    fn check_accepts_a_whole_file_and_refuses_every_truncation() {
        let whole = tiny_whisper_file();
        assert_eq!(check_bytes(&whole).unwrap().n_vocab, 4);
        // Every cut is refused: inside a field it is "truncated", between two tensors the
        // table is whole but short of what the header promises.
        for cut in 0..whole.len() {
            check_bytes(&whole[..cut]).expect_err(&format!("cut at {cut} accepted"));
        }
        let mut longer = whole.clone();
        longer.extend_from_slice(&[0; 5]);
        assert!(check_bytes(&longer)
            .unwrap_err()
            .contains("the 5 bytes after the last whole tensor"));
    }

    #[test]
    fn check_refuses_headers_that_disagree_with_the_tensors() {
        let whole = tiny_whisper_file();
        let with = |offset: usize, value: i32| {
            let mut b = whole.clone();
            b[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
            check_bytes(&b).unwrap_err()
        };
        assert!(with(4, i32::MAX).contains("impossible n_vocab"));
        assert!(with(4, 3).contains("holds 2 tokens") || with(4, 3).contains("token_embedding"));
        assert!(with(4, 5).contains("decoder.token_embedding.weight has shape"));
        assert!(with(8, -1).contains("impossible n_audio_ctx"));
        assert!(with(16, 3).contains("head counts"));
        assert!(with(20, 2).contains("2 encoder and 1 decoder layers, the file holds 1 and 1"));
        assert!(with(40, 3).contains("encoder.conv1.weight has shape"));
        // The mel filter bank's size, then the first token's length.
        assert!(with(52, 1 << 20).contains("mel filter bank"));
        assert!(with(84, 1 << 20).contains("vocabulary token"));
    }

    #[test]
    fn byte_decoder_inverts_gpt2_alphabet() {
        let d = byte_decoder();
        assert_eq!(d('Ġ'), Some(b' '));
        assert_eq!(d('Ċ'), Some(b'\n'));
        assert_eq!(d('a'), Some(b'a'));
        assert_eq!(d('Ã'), Some(0xc3));
        // Bytes 127..=160 and 173 follow the 33 control bytes, from U+0121 on.
        assert_eq!(d('ł'), Some(0xa0));
        assert_eq!(d('Ń'), Some(0xad));
    }

    #[test]
    fn mel_filters_match_librosa() {
        // Reference values from the `mel_80` bank shipped with OpenAI's whisper package
        // (assets/mel_filters.npz, itself made with librosa).
        let f = crate::dsp::mel_filters(80, 400, 16000);
        assert_eq!(f.len(), 80 * 201);
        let at = |m: usize, k: usize| f[m * 201 + k];
        for (m, k, want) in [
            (0, 1, 0.024862595),
            (1, 2, 0.022871772),
            (10, 10, 0.019908218),
            (10, 11, 0.004954375),
            (50, 62, 0.005136651),
            (79, 188, 0.0012993984),
            (79, 199, 0.000448759),
            (40, 60, 0.0),
        ] {
            assert!(
                (at(m, k) - want).abs() < 1e-6,
                "filter {m} bin {k}: {} vs {want}",
                at(m, k)
            );
        }
        assert!((f.iter().sum::<f32>() - 1.9990242).abs() < 1e-4);
        // Each filter is a non-negative triangle with a single peak.
        for m in 0..80 {
            let row = &f[m * 201..(m + 1) * 201];
            assert!(row.iter().all(|v| *v >= 0.0));
            assert!(row.iter().any(|v| *v > 0.0), "filter {m} is empty");
        }
    }
}
