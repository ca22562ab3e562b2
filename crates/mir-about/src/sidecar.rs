//! Files other tools write beside a weight file `<stem>.<ext>`:
//!
//! | file | written by | read |
//! |---|---|---|
//! | `<stem>.civitai.info` | civitai helpers (A1111/Forge "Civitai Helper", ComfyUI managers): civitai's model-version JSON | `modelId`, `id` (version), `baseModel`, `trainedWords`, `model.name`, `model.type` |
//! | `<stem>.cm-info.json` | Stability Matrix (`ConnectedModelInfo`) | `ModelId`, `VersionId`, `BaseModel`, `TrainedWords`, `ModelName`, `ModelType` |
//! | `<stem>.json` | A1111/Forge's extra-networks "user metadata" | `activation text`, `sd version`, `preferred weight`, `description` |
//! | `<stem>.swarm.json` | SwarmUI (metadata edited without rewriting the file) | `modelspec.*` keys, as in a header |
//! | `<stem>.preview.png/jpg/jpeg/webp`, `<stem>.png/jpg/jpeg/webp` | every manager | the first one is the preview |
//!
//! Which of these exist is decided from the folder's listing (the scan's walk already lists every
//! folder), never by a `stat` per candidate name. Each file read is bounded
//! ([`MAX_SIDECAR_BYTES`]), opened like a weight file (regular files only, never blocking); a
//! malformed or oversized sidecar is a finding on the record, never an error of the weight file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mir_core::MetaValue;
use serde_json::Value;

use crate::{About, CivitaiIds, Entry, MAX_WORDS, put, split_words};

/// Largest sidecar read (civitai's version JSON with its image list stays well under this).
pub const MAX_SIDECAR_BYTES: u64 = 4 << 20;

/// What kind of sidecar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SidecarKind {
    /// `<stem>.civitai.info`.
    CivitaiInfo,
    /// `<stem>.cm-info.json` (Stability Matrix).
    CmInfo,
    /// `<stem>.json` (A1111 user metadata).
    A1111Json,
    /// `<stem>.swarm.json` (SwarmUI).
    SwarmJson,
    /// A preview image.
    Preview,
}

impl SidecarKind {
    /// The name used in records: `civitai-info`, `cm-info`, `a1111-json`, `swarm-json`, `preview`.
    pub fn as_str(self) -> &'static str {
        match self {
            SidecarKind::CivitaiInfo => "civitai-info",
            SidecarKind::CmInfo => "cm-info",
            SidecarKind::A1111Json => "a1111-json",
            SidecarKind::SwarmJson => "swarm-json",
            SidecarKind::Preview => "preview",
        }
    }
}

/// Metadata suffixes, in order of authority.
const METADATA: &[(&str, SidecarKind)] = &[
    (".civitai.info", SidecarKind::CivitaiInfo),
    (".cm-info.json", SidecarKind::CmInfo),
    (".json", SidecarKind::A1111Json),
    (".swarm.json", SidecarKind::SwarmJson),
];
/// Preview suffixes, in the order a preview is chosen.
const PREVIEWS: &[&str] = &[
    ".preview.png",
    ".preview.jpg",
    ".preview.jpeg",
    ".preview.webp",
    ".png",
    ".jpg",
    ".jpeg",
    ".webp",
];

/// True for a file name that could be a sidecar or a folder config (what the walk keeps of a
/// folder's listing): `*.info`, `*.json`, and preview images.
pub fn is_side_file_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".info", ".json", ".png", ".jpg", ".jpeg", ".webp"]
        .iter()
        .any(|s| lower.ends_with(s))
}

/// One sidecar read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sidecar {
    /// Its path (the weight file's folder joined with its name).
    pub path: PathBuf,
    /// What kind.
    pub kind: Option<SidecarKind>,
    /// Civitai model id.
    pub model_id: Option<u64>,
    /// Civitai model version id.
    pub version_id: Option<u64>,
    /// Base model, as the sidecar spells it (`SDXL 1.0`, `Flux.1 D`, `SD1`).
    pub base_model: Option<String>,
    /// Trigger words.
    pub trigger_words: Vec<String>,
    /// Why it could not be read, when it could not.
    pub error: Option<String>,
}

/// Everything the sidecars of one weight file say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SidecarInfo {
    /// Sidecars read (previews included), in order of authority.
    pub sidecars: Vec<Sidecar>,
    /// The first preview.
    pub preview: Option<PathBuf>,
    /// Normalised values (`trigger_words`, `base_model`, `title`, …) with their source.
    pub about: About,
    /// Civitai ids, from the first sidecar that gives a model id.
    pub civitai: Option<CivitaiIds>,
    /// Where the ids came from (`x.civitai.info:modelId`).
    pub civitai_source: Option<String>,
    /// Malformed or oversized sidecars.
    pub findings: Vec<String>,
}

/// Reads the sidecars of the weight file named `file_name` in `dir`; `exists` says whether the
/// folder's listing has a name (so nothing is probed that is not there).
pub fn read_sidecars(dir: &Path, file_name: &str, exists: &dyn Fn(&str) -> bool) -> SidecarInfo {
    let mut info = SidecarInfo::default();
    let stem = match file_name.rsplit_once('.') {
        Some((s, _)) if !s.is_empty() => s,
        _ => file_name,
    };
    for (suffix, kind) in METADATA {
        let name = format!("{stem}{suffix}");
        if name == file_name || !exists(&name) {
            continue;
        }
        let path = dir.join(&name);
        let mut s = Sidecar {
            path: path.clone(),
            kind: Some(*kind),
            ..Sidecar::default()
        };
        match read_json(&path) {
            Ok(v) => interpret(*kind, &name, &v, &mut s, &mut info),
            Err(e) => {
                info.findings.push(format!("sidecar {name}: {e}"));
                s.error = Some(e);
            }
        }
        info.sidecars.push(s);
    }
    for suffix in PREVIEWS {
        let name = format!("{stem}{suffix}");
        if name != file_name && exists(&name) {
            let path = dir.join(&name);
            if info.preview.is_none() {
                info.preview = Some(path.clone());
            }
            info.sidecars.push(Sidecar {
                path,
                kind: Some(SidecarKind::Preview),
                ..Sidecar::default()
            });
        }
    }
    info
}

/// Reads a small JSON file: regular files only, bounded.
pub(crate) fn read_json(path: &Path) -> Result<Value, String> {
    let src = mir_core::Source::open(path).map_err(|e| e.to_string())?;
    if src.len() > MAX_SIDECAR_BYTES {
        return Err(format!(
            "{} bytes, over the {MAX_SIDECAR_BYTES}-byte limit for a sidecar; not read",
            src.len()
        ));
    }
    let bytes = src
        .read_vec(0, src.len(), "sidecar", MAX_SIDECAR_BYTES)
        .map_err(|e| e.to_string())?;
    // Some Windows tools write a UTF-8 byte order mark.
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))
}

fn id_of(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text_of(v: Option<&Value>) -> Option<String> {
    v?.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(crate::meta::cut)
}

/// Trigger words from an array of phrases (each may hold several, comma-separated) or a string.
fn words_of(v: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    match v {
        Some(Value::Array(a)) => {
            for w in a.iter().filter_map(Value::as_str) {
                for x in split_words(w, MAX_WORDS) {
                    if !out.contains(&x) && out.len() < MAX_WORDS {
                        out.push(x);
                    }
                }
            }
        }
        Some(Value::String(s)) => out = split_words(s, MAX_WORDS),
        _ => {}
    }
    out
}

fn interpret(kind: SidecarKind, name: &str, v: &Value, s: &mut Sidecar, info: &mut SidecarInfo) {
    let Value::Object(o) = v else {
        let e = "not a JSON object".to_owned();
        info.findings.push(format!("sidecar {name}: {e}"));
        s.error = Some(e);
        return;
    };
    let src = |key: &str| format!("{name}:{key}");
    // (model id key, version id key, base model key, trigger words key)
    let keys = match kind {
        SidecarKind::CivitaiInfo => Some(("modelId", "id", "baseModel", "trainedWords")),
        SidecarKind::CmInfo => Some(("ModelId", "VersionId", "BaseModel", "TrainedWords")),
        SidecarKind::A1111Json => Some(("", "", "sd version", "activation text")),
        SidecarKind::SwarmJson | SidecarKind::Preview => None,
    };
    if let Some((mid, vid, base, words)) = keys {
        s.model_id = (!mid.is_empty()).then(|| id_of(o.get(mid))).flatten();
        s.version_id = (!vid.is_empty()).then(|| id_of(o.get(vid))).flatten();
        s.base_model = text_of(o.get(base)).filter(|b| !b.eq_ignore_ascii_case("unknown"));
        s.trigger_words = words_of(o.get(words));
        if !s.trigger_words.is_empty() {
            put(
                &mut info.about,
                "trigger_words",
                Entry::new(s.trigger_words.clone(), src(words)),
            );
        }
        if let Some(b) = &s.base_model {
            put(
                &mut info.about,
                "base_model",
                Entry::new(b.clone(), src(base)),
            );
        }
        if let Some(m) = s.model_id
            && info.civitai.is_none()
        {
            info.civitai = Some(CivitaiIds {
                model_id: m,
                version_id: s.version_id,
            });
            info.civitai_source = Some(src(mid));
        }
    }
    match kind {
        SidecarKind::CivitaiInfo => {
            let model = o.get("model");
            if let Some(t) = text_of(model.and_then(|m| m.get("name"))) {
                put(&mut info.about, "title", Entry::new(t, src("model.name")));
            }
            if let Some(t) = text_of(model.and_then(|m| m.get("type"))) {
                put(
                    &mut info.about,
                    "civitai_type",
                    Entry::new(t, src("model.type")),
                );
            }
            if let Some(t) = text_of(o.get("name")) {
                put(&mut info.about, "version_name", Entry::new(t, src("name")));
            }
        }
        SidecarKind::CmInfo => {
            for (key, norm) in [
                ("ModelName", "title"),
                ("ModelType", "civitai_type"),
                ("VersionName", "version_name"),
            ] {
                if let Some(t) = text_of(o.get(key)) {
                    put(&mut info.about, norm, Entry::new(t, src(key)));
                }
            }
        }
        SidecarKind::A1111Json => {
            if let Some(w) = o.get("preferred weight").and_then(Value::as_f64)
                && w != 0.0
            {
                put(
                    &mut info.about,
                    "preferred_weight",
                    Entry::new(w, src("preferred weight")),
                );
            }
            for (key, norm) in [("description", "description"), ("notes", "notes")] {
                if let Some(t) = text_of(o.get(key)) {
                    put(&mut info.about, norm, Entry::new(t, src(key)));
                }
            }
        }
        SidecarKind::SwarmJson => {
            // SwarmUI writes the keys it would put in a safetensors header.
            let body = match o.get("__metadata__") {
                Some(Value::Object(m)) => m,
                _ => o,
            };
            let meta: BTreeMap<String, MetaValue> = body
                .iter()
                .filter(|(k, _)| k.starts_with("modelspec."))
                .filter_map(|(k, v)| Some((k.clone(), MetaValue::Str(v.as_str()?.to_owned()))))
                .collect();
            crate::meta::modelspec(&meta, &format!("{name}:"), &mut info.about);
            if let Some(e) = info.about.get("trigger_words")
                && e.source.starts_with(name)
            {
                s.trigger_words = e
                    .value
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|w| w.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
            }
        }
        SidecarKind::Preview => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (n, body) in files {
            std::fs::write(d.path().join(n), body).unwrap();
        }
        d
    }

    fn read(d: &tempfile::TempDir, file: &str) -> SidecarInfo {
        let names: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        read_sidecars(d.path(), file, &|n| names.iter().any(|x| x == n))
    }

    #[test]
    fn civitai_info_gives_ids_words_and_base() {
        let d = dir_with(&[
            ("ink.safetensors", ""),
            (
                "ink.civitai.info",
                r#"{"id": 456, "modelId": 123, "name": "v2", "baseModel": "SDXL 1.0",
                    "trainedWords": ["inkstyle, ink wash", "sumi-e"],
                    "model": {"name": "Ink Wash", "type": "LORA"}}"#,
            ),
            ("ink.preview.png", "x"),
            ("ink.png", "x"),
        ]);
        let i = read(&d, "ink.safetensors");
        assert_eq!(
            i.civitai,
            Some(CivitaiIds {
                model_id: 123,
                version_id: Some(456)
            })
        );
        assert_eq!(
            i.civitai_source.as_deref(),
            Some("ink.civitai.info:modelId")
        );
        assert_eq!(
            i.about["trigger_words"],
            Entry::new(
                vec!["inkstyle", "ink wash", "sumi-e"],
                "ink.civitai.info:trainedWords"
            )
        );
        assert_eq!(i.about["base_model"].value, "SDXL 1.0");
        assert_eq!(i.about["title"].value, "Ink Wash");
        assert_eq!(i.preview, Some(d.path().join("ink.preview.png")));
        assert_eq!(i.sidecars.len(), 3);
        assert!(i.findings.is_empty());
    }

    #[test]
    fn stability_matrix_a1111_and_swarm() {
        let d = dir_with(&[
            (
                "a.cm-info.json",
                r#"{"ModelId": 7, "VersionId": 8, "ModelName": "A", "BaseModel": "Flux.1 D",
                    "TrainedWords": ["aword"], "ModelType": "LORA"}"#,
            ),
            (
                "b.json",
                r#"{"description": "d", "sd version": "SDXL", "activation text": "btok, b style",
                    "preferred weight": 0.8, "notes": ""}"#,
            ),
            (
                "c.swarm.json",
                r#"{"modelspec.title": "C", "modelspec.trigger_phrase": "ctok",
                    "modelspec.architecture": "stable-diffusion-xl-v1-base/lora"}"#,
            ),
        ]);
        let a = read(&d, "a.safetensors");
        assert_eq!(a.civitai.unwrap().version_id, Some(8));
        assert_eq!(a.about["base_model"].source, "a.cm-info.json:BaseModel");
        assert_eq!(a.about["trigger_words"].value, serde_json::json!(["aword"]));
        let b = read(&d, "b.safetensors");
        assert_eq!(b.civitai, None);
        assert_eq!(
            b.about["trigger_words"],
            Entry::new(vec!["btok", "b style"], "b.json:activation text")
        );
        assert_eq!(b.about["preferred_weight"].value, 0.8);
        assert_eq!(b.about["base_model"].value, "SDXL");
        let c = read(&d, "c.safetensors");
        assert_eq!(c.about["title"].source, "c.swarm.json:modelspec.title");
        assert_eq!(c.sidecars[0].trigger_words, vec!["ctok"]);
    }

    #[test]
    fn malformed_and_oversized_sidecars_are_findings() {
        let big = format!("{{\"a\": \"{}\"}}", "x".repeat(MAX_SIDECAR_BYTES as usize));
        let d = dir_with(&[
            ("m.civitai.info", "{not json"),
            ("m.cm-info.json", "[1, 2]"),
            ("m.json", &big),
        ]);
        let i = read(&d, "m.safetensors");
        assert_eq!(i.findings.len(), 3, "{:?}", i.findings);
        assert!(i.findings[0].starts_with("sidecar m.civitai.info: not JSON"));
        assert!(i.findings[1].contains("not a JSON object"));
        assert!(i.findings[2].contains("limit for a sidecar"));
        assert!(i.sidecars.iter().all(|s| s.error.is_some()));
        assert!(i.about.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_device_sidecar_is_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("f.civitai.info");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return; // no mkfifo on this system
        }
        std::os::unix::fs::symlink("/dev/zero", d.path().join("f.cm-info.json")).unwrap();
        let i = read(&d, "f.safetensors");
        assert_eq!(i.findings.len(), 2, "{:?}", i.findings);
        assert!(i.findings.iter().all(|f| f.starts_with("sidecar f.")));
        assert!(i.civitai.is_none());
    }

    #[test]
    fn names_not_in_the_listing_are_never_read() {
        let d = dir_with(&[("x.civitai.info", r#"{"modelId": 1}"#)]);
        let i = read_sidecars(d.path(), "x.safetensors", &|_| false);
        assert!(i.sidecars.is_empty());
        assert!(is_side_file_name("A.Preview.PNG"));
        assert!(!is_side_file_name("model.safetensors"));
    }
}
