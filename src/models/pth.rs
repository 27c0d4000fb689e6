//! PyTorch checkpoints (a zip archive of pickled tensor records and one file per storage),
//! read with the archive opened once.
//!
//! candle's `pickle::read_all` opens the archive and scans its central directory again for
//! every tensor: with CAM++'s and pyannote's hundreds of tensors that was 0.6 s of a 2.2 s run
//! of an 11 s clip (a perf profile of `rapporteur run` on jfk at 2 threads: zip's magic-number
//! search and lseek calls), every time the speaker models were loaded.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use candle_core::{Error, Result, Tensor};

/// Every tensor of the checkpoint at `path` (of the dictionary under `key`, when the tensors
/// are not at its top), with the values candle's `pickle::read_all_with_key` reads.
pub fn read_tensors(path: &Path, key: Option<&str>) -> Result<Vec<(String, Tensor)>> {
    let infos = candle_core::pickle::read_pth_tensor_info(path, false, key)?;
    let mut archive =
        zip::ZipArchive::new(BufReader::new(File::open(path)?)).map_err(Error::wrap)?;
    let mut tensors = Vec::with_capacity(infos.len());
    for info in infos {
        let mut storage = archive.by_name(&info.path).map_err(Error::wrap)?;
        let layout = &info.layout;
        let fortran = layout.is_fortran_contiguous();
        if !layout.is_contiguous() && !fortran {
            candle_core::bail!("{}: cannot read the strided tensor {layout:?}", info.name);
        }
        // As candle reads it: the records' offset is skipped in bytes of the storage file.
        let skip = layout.start_offset() as u64;
        if skip > 0 {
            std::io::copy(&mut storage.by_ref().take(skip), &mut std::io::sink())?;
        }
        let mut bytes = vec![0u8; layout.shape().elem_count() * info.dtype.size_in_bytes()];
        storage.read_exact(&mut bytes)?;
        let tensor =
            Tensor::from_raw_buffer(&bytes, info.dtype, layout.dims(), &candle_core::Device::Cpu)?;
        let rank = layout.shape().rank();
        let tensor = if rank > 1 && fortran {
            let reversed: Vec<usize> = layout.dims().iter().rev().copied().collect();
            tensor
                .reshape(reversed)?
                .permute((0..rank).rev().collect::<Vec<_>>())?
        } else {
            tensor
        };
        tensors.push((info.name, tensor));
    }
    Ok(tensors)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The installed speaker checkpoints (pyannote's Lightning checkpoint keeps its tensors
    /// under `state_dict`, CAM++'s at the top), or a note why they are skipped.
    fn checkpoints() -> Vec<(std::path::PathBuf, Option<&'static str>)> {
        let mut found = Vec::new();
        for (name, file, key) in [
            (
                crate::models::DEFAULT_SEGMENTATION,
                "pytorch_model.bin",
                Some("state_dict"),
            ),
            (
                crate::models::DEFAULT_SPEAKER,
                "campplus_cn_en_common.pt",
                None,
            ),
        ] {
            match crate::models::resolve_packaged(name) {
                Ok(model) => found.push((model.file(file), key)),
                Err(e) if e.cause.contains("not installed") => {
                    eprintln!("SKIPPED: {name} is not installed ({e})")
                }
                Err(e) => panic!("{e}"),
            }
        }
        found
    }

    #[test]
    fn every_tensor_is_the_one_candles_own_reader_gives() {
        for (path, key) in checkpoints() {
            let ours: HashMap<String, Tensor> =
                read_tensors(&path, key).unwrap().into_iter().collect();
            let candle = candle_core::pickle::read_all_with_key(&path, key).unwrap();
            assert_eq!(ours.len(), candle.len(), "{}", path.display());
            for (name, want) in candle {
                let got = &ours[&name];
                assert_eq!(got.dims(), want.dims(), "{name}");
                assert_eq!(got.dtype(), want.dtype(), "{name}");
                let (got, want) = (
                    got.flatten_all()
                        .unwrap()
                        .to_dtype(candle_core::DType::F64)
                        .unwrap(),
                    want.flatten_all()
                        .unwrap()
                        .to_dtype(candle_core::DType::F64)
                        .unwrap(),
                );
                assert_eq!(
                    got.to_vec1::<f64>().unwrap(),
                    want.to_vec1::<f64>().unwrap(),
                    "{name} of {}",
                    path.display()
                );
            }
        }
    }

    #[test]
    fn a_file_that_is_not_a_checkpoint_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.pt");
        std::fs::write(&path, b"not a zip archive").unwrap();
        assert!(read_tensors(&path, None).is_err());
    }
}
