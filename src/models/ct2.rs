//! Reader for CTranslate2 `model.bin` files (binary format version 5 and 6).
//!
//! Layout (little endian), as written by CTranslate2's `model_spec.py`:
//! `u32 version, str spec_name, u32 revision, u32 n_vars, n_vars x variable, u32 n_aliases,
//! n_aliases x (str alias, str target)`, where a string is `u16 len` (including a trailing NUL)
//! followed by the bytes, and a variable is `str name, u8 rank, rank x u32 dims, u8 dtype,
//! u32 n_bytes, data`.

use std::collections::HashMap;
use std::path::Path;

use half::f16;

use crate::error::{Error, Result};

/// Element types CTranslate2 stores (its `DataType` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl Dtype {
    fn from_id(id: u8) -> Option<Dtype> {
        Some(match id {
            0 => Dtype::F32,
            1 => Dtype::I8,
            2 => Dtype::I16,
            3 => Dtype::I32,
            4 => Dtype::F16,
            5 => Dtype::BF16,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::I16 | Dtype::F16 | Dtype::BF16 => 2,
            Dtype::I8 => 1,
        }
    }
}

/// One named variable of a CTranslate2 model.
#[derive(Debug)]
pub struct Variable {
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    pub data: Vec<u8>,
}

impl Variable {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as f32, whatever the stored floating-point type.
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        let d = &self.data;
        Some(match self.dtype {
            Dtype::F32 => d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => d
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::BF16 => d
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            _ => return None,
        })
    }

    /// A scalar integer (used for `*/num_heads` and the boolean flags).
    pub fn scalar_i64(&self) -> Option<i64> {
        if self.len() != 1 {
            return None;
        }
        let d = &self.data;
        Some(match self.dtype {
            Dtype::I8 => d[0] as i8 as i64,
            Dtype::I16 => i16::from_le_bytes([d[0], d[1]]) as i64,
            Dtype::I32 => i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64,
            _ => return None,
        })
    }
}

/// A parsed CTranslate2 model: variables by name, with aliases resolved on lookup.
#[derive(Debug)]
pub struct Ct2Model {
    pub spec: String,
    pub revision: u32,
    pub variables: HashMap<String, Variable>,
    pub aliases: HashMap<String, String>,
}

impl Ct2Model {
    pub fn get(&self, name: &str) -> Option<&Variable> {
        self.variables
            .get(name)
            .or_else(|| self.aliases.get(name).and_then(|t| self.variables.get(t)))
    }

    pub fn read(path: &Path) -> Result<Ct2Model> {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::model(path, format!("cannot read: {}", crate::error::io_cause(&e)))
        })?;
        Self::parse(&bytes)
            .map_err(|cause| Error::model(path, format!("not a CTranslate2 model.bin: {cause}")))
    }

    pub fn parse(bytes: &[u8]) -> std::result::Result<Ct2Model, String> {
        let mut r = Cursor { bytes, pos: 0 };
        let version = r.u32()?;
        if !(5..=6).contains(&version) {
            return Err(format!(
                "unsupported binary version {version} (expected 5 or 6)"
            ));
        }
        let spec = r.string()?;
        let revision = r.u32()?;
        let n_vars = r.u32()? as usize;
        let mut variables = HashMap::with_capacity(n_vars.min(4096));
        for _ in 0..n_vars {
            let name = r.string()?;
            let rank = r.u8()? as usize;
            let mut shape = Vec::with_capacity(rank);
            for _ in 0..rank {
                shape.push(r.u32()? as usize);
            }
            let dtype_id = r.u8()?;
            let dtype = Dtype::from_id(dtype_id)
                .ok_or(format!("variable {name}: unknown dtype {dtype_id}"))?;
            let n_bytes = r.u32()? as usize;
            // Checked: a forged shape must not wrap around to the byte count it claims.
            let expected = shape
                .iter()
                .try_fold(dtype.size(), |n, &d| n.checked_mul(d));
            if expected != Some(n_bytes) {
                return Err(format!(
                    "variable {name}: {n_bytes} bytes for shape {shape:?} of {dtype:?}"
                ));
            }
            let data = r.take(n_bytes)?.to_vec();
            variables.insert(name, Variable { shape, dtype, data });
        }
        let mut aliases = HashMap::new();
        // Version 5 files end after the variables when they carry no alias table.
        if r.pos < bytes.len() {
            let n_aliases = r.u32()?;
            for _ in 0..n_aliases {
                let alias = r.string()?;
                let target = r.string()?;
                aliases.insert(alias, target);
            }
        }
        Ok(Ct2Model {
            spec,
            revision,
            variables,
            aliases,
        })
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end
            .ok_or_else(|| format!("file ends early (wanted {n} bytes at offset {})", self.pos))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> std::result::Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> std::result::Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> std::result::Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self) -> std::result::Result<String, String> {
        let n = self.u16()? as usize;
        let b = self.take(n)?;
        let b = b.strip_suffix(&[0]).unwrap_or(b);
        String::from_utf8(b.to_vec()).map_err(|_| "variable name is not UTF-8".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_str(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&((s.len() + 1) as u16).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }

    #[test]
    fn parses_variables_and_aliases() {
        let mut b = Vec::new();
        b.extend_from_slice(&6u32.to_le_bytes());
        put_str(&mut b, "WhisperSpec");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes());
        put_str(&mut b, "w");
        b.push(2);
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes());
        b.push(4);
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&f16::from_f32(1.5).to_le_bytes());
        b.extend_from_slice(&f16::from_f32(-2.0).to_le_bytes());
        put_str(&mut b, "heads");
        b.push(0);
        b.push(2);
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&6i16.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        put_str(&mut b, "alias");
        put_str(&mut b, "w");
        let m = Ct2Model::parse(&b).unwrap();
        assert_eq!(m.spec, "WhisperSpec");
        assert_eq!(m.get("alias").unwrap().to_f32().unwrap(), vec![1.5, -2.0]);
        assert_eq!(m.get("heads").unwrap().scalar_i64(), Some(6));
        // Truncation anywhere is an error, never a panic.
        for cut in 0..b.len() - 1 {
            let _ = Ct2Model::parse(&b[..cut]);
        }
        assert!(Ct2Model::parse(&b[..b.len() - 3]).is_err());
    }

    #[test]
    fn a_shape_whose_size_overflows_is_refused() {
        // 65536^4 f32 values are 2^66 bytes: wrapped to 64 bits that is 0, the byte count given.
        let mut b = Vec::new();
        b.extend_from_slice(&6u32.to_le_bytes());
        put_str(&mut b, "WhisperSpec");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        put_str(&mut b, "huge");
        b.push(4);
        for _ in 0..4 {
            b.extend_from_slice(&65536u32.to_le_bytes());
        }
        b.push(0);
        b.extend_from_slice(&0u32.to_le_bytes());
        let err = Ct2Model::parse(&b).unwrap_err();
        assert!(err.contains("variable huge: 0 bytes"), "{err}");
    }
}
