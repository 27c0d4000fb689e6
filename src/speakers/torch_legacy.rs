//! Reading a PyTorch checkpoint in the legacy (pre-1.6, non-zip) serialisation, which is how
//! resemblyzer ships its GE2E weights. candle reads only the zip format; the pickle machinery
//! is the same, the container differs:
//!
//! 1. five pickles in a row: a magic number, the protocol version, system info, the object
//!    (tensors refer to storages by key through persistent ids), and the list of storage keys;
//! 2. then, for each key in that order, the element count (little-endian i64) and the raw
//!    little-endian data.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};

/// The first pickle of every legacy checkpoint: protocol 2, then the 10-byte magic number
/// 0x1950a86a20f9469cfc6c (too wide for the pickle reader's integers, so compared as bytes).
const MAGIC_PICKLE: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, b'.',
];

fn read_pickle<R: BufRead>(r: &mut R) -> Result<Object, String> {
    let mut stack = Stack::empty();
    stack.read_loop(r).map_err(|e| e.to_string())?;
    stack.finalize().map_err(|e| e.to_string())
}

/// The tensors of the state dict stored under `key` in the checkpoint's top-level dict (or
/// the top-level dict itself when `key` is None), by name, as f32 on the CPU.
pub fn read_state_dict(path: &Path, key: Option<&str>) -> Result<HashMap<String, Tensor>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut r = BufReader::new(file);
    let mut head = [0u8; MAGIC_PICKLE.len()];
    if r.read_exact(&mut head).is_err() || head != MAGIC_PICKLE {
        return Err("not a legacy (non-zip) PyTorch checkpoint".into());
    }
    let _protocol = read_pickle(&mut r)?;
    let _sys_info = read_pickle(&mut r)?;
    let object = read_pickle(&mut r)?;
    let keys = match read_pickle(&mut r)? {
        Object::List(keys) => keys
            .into_iter()
            .map(|k| k.unicode().map_err(|o| format!("bad storage key {o:?}")))
            .collect::<Result<Vec<String>, String>>()?,
        other => return Err(format!("expected the list of storage keys, got {other:?}")),
    };
    // Every storage of the file, with its element size (optimizer state included: they all
    // follow, in order, and must be read past).
    let mut element_sizes = HashMap::new();
    collect_storages(&object, &mut element_sizes)?;
    let object = match key {
        Some(key) => match object {
            Object::Dict(items) => items
                .into_iter()
                .find(|(k, _)| *k == Object::Unicode(key.to_string()))
                .map(|(_, v)| v)
                .ok_or_else(|| format!("no {key:?} in the checkpoint"))?,
            _ => return Err("the checkpoint is not a dict".into()),
        },
        None => object,
    };
    let Object::Dict(items) = object else {
        return Err("the state dict is not a dict".into());
    };
    let mut infos = Vec::new();
    for (name, value) in items {
        if let Ok(Some(info)) = value.into_tensor_info(name, Path::new("")) {
            infos.push(info);
        }
    }
    // Storages follow, in the order of `keys`.
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    for k in keys {
        let mut count = [0u8; 8];
        r.read_exact(&mut count)
            .map_err(|e| format!("storage {k}: {e}"))?;
        let count = i64::from_le_bytes(count);
        let size = *element_sizes
            .get(&k)
            .ok_or_else(|| format!("storage {k} is referred to by nothing"))?;
        let bytes = usize::try_from(count)
            .ok()
            .and_then(|c| c.checked_mul(size))
            .filter(|b| *b <= 1 << 31)
            .ok_or_else(|| format!("storage {k}: implausible size {count}"))?;
        let mut data = vec![0u8; bytes];
        r.read_exact(&mut data)
            .map_err(|e| format!("storage {k} is truncated: {e}"))?;
        if infos.iter().any(|i| i.path.trim_start_matches('/') == k) {
            storages.insert(k, data);
        }
    }
    let mut tensors = HashMap::new();
    for info in infos {
        let key = info.path.trim_start_matches('/');
        let data = &storages[key];
        let layout = &info.layout;
        let elem = info.dtype.size_in_bytes();
        let shape = layout.shape().clone();
        let numel = shape.elem_count();
        let start = layout.start_offset();
        // Only contiguous tensors occur in these checkpoints; refuse anything else.
        if !layout.is_contiguous() || start + numel * elem > data.len() {
            return Err(format!(
                "tensor {} has a layout this reader does not support",
                info.name
            ));
        }
        let bytes = &data[start..start + numel * elem];
        let t = match info.dtype {
            DType::F32 => {
                let v: Vec<f32> = bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                Tensor::from_vec(v, shape, &Device::Cpu)
            }
            other => return Err(format!("tensor {}: unsupported dtype {other:?}", info.name)),
        }
        .map_err(|e| e.to_string())?;
        tensors.insert(info.name, t);
    }
    Ok(tensors)
}

/// Record the key and element size of every storage `obj` refers to (persistent ids of the form
/// `('storage', <module>.<Type>Storage, key, location, size, ...)`).
fn collect_storages(obj: &Object, out: &mut HashMap<String, usize>) -> Result<(), String> {
    match obj {
        Object::PersistentLoad(id) => {
            if let Object::Tuple(parts) = id.as_ref() {
                if let (Some(Object::Class { class_name, .. }), Some(Object::Unicode(key))) =
                    (parts.get(1), parts.get(2))
                {
                    let size = match class_name.as_str() {
                        "FloatStorage" | "IntStorage" => 4,
                        "DoubleStorage" | "LongStorage" => 8,
                        "HalfStorage" | "BFloat16Storage" | "ShortStorage" => 2,
                        "ByteStorage" | "CharStorage" | "BoolStorage" => 1,
                        other => return Err(format!("unsupported storage type {other}")),
                    };
                    out.insert(key.clone(), size);
                }
            }
        }
        Object::Tuple(v) | Object::List(v) => {
            for o in v {
                collect_storages(o, out)?;
            }
        }
        Object::Dict(kv) => {
            for (k, v) in kv {
                collect_storages(k, out)?;
                collect_storages(v, out)?;
            }
        }
        Object::Reduce { callable, args } | Object::Build { callable, args } => {
            collect_storages(callable, out)?;
            collect_storages(args, out)?;
        }
        _ => {}
    }
    Ok(())
}
