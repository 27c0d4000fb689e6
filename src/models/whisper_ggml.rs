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

use std::io::{BufWriter, Write};
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

#[cfg(test)]
mod tests {
    use super::*;

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
