//! What a weight file says about itself and what sits beside it.
//!
//! A model manager needs more than the family: the title, author, licence and trigger words a
//! file carries (`modelspec.*`, kohya `ss_*`, GGUF `general.*`), how a LoRA is shaped (rank,
//! alpha, the parts it targets, its block coverage), how the weights are packed (scaled fp8,
//! bitsandbytes, Nunchaku SVDQuant, torchao, a GGUF quant mix), the sidecar files other tools
//! write beside it (civitai helpers' `.civitai.info`, Stability Matrix's `.cm-info.json`, A1111's
//! `<stem>.json`, SwarmUI's `.swarm.json`, previews) and civitai's AIR name for it.
//!
//! Everything here is pure and typed: [`describe_index`] reads a parsed header (never the file),
//! [`sidecar::read_sidecars`] reads the few small files a folder listing says exist (bounded
//! reads, a malformed sidecar is a finding), [`air::AirTable`] maps a MIR ID to civitai's
//! ecosystem and type from a data table (`air.toml`), and [`thumbnail::decode`] turns an embedded
//! `modelspec.thumbnail` data URI into image bytes.
//!
//! Every normalised value keeps the key it came from ([`Entry::source`]), so a reader can tell a
//! trigger word the file declares from one a sidecar suggests.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub mod adapter;
pub mod air;
pub mod config;
pub mod meta;
pub mod packaging;
pub mod sidecar;
pub mod thumbnail;

pub use adapter::Adapter;
pub use air::{Air, AirTable};
pub use sidecar::{Sidecar, SidecarKind};

/// One normalised value and the key it came from (`modelspec.title`, `ss_tag_frequency`,
/// `general.name`, `trainedWords` of `x.civitai.info`, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The value (a string, a number, an array of strings, an object).
    pub value: serde_json::Value,
    /// Where it came from: a metadata key, or `<file>:<key>` for a file beside the weights.
    pub source: String,
}

impl Entry {
    /// A value from `source`.
    pub fn new(value: impl Into<serde_json::Value>, source: impl Into<String>) -> Entry {
        Entry {
            value: value.into(),
            source: source.into(),
        }
    }
}

/// Normalised name → value with its source. Names are documented in `docs/about.md`.
pub type About = BTreeMap<String, Entry>;

/// Adds `name` unless an earlier (more authoritative) source already gave it.
pub(crate) fn put(about: &mut About, name: &str, entry: Entry) {
    about.entry(name.to_owned()).or_insert(entry);
}

/// What a file's header says about it: computed once per version of the file and kept with its
/// facts (the index stores it), since it depends on the header's bytes only.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileAbout {
    /// Descriptive metadata, normalised.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub about: About,
    /// For a LoRA-like adapter: its shape and targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<Adapter>,
    /// How the weights are packed (`scaled-fp8`, `bnb-nf4`, `gguf:Q4_K_M`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packaging: Vec<String>,
    /// Problems with the metadata itself (e.g. an `ss_tag_frequency` that is not JSON).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
}

impl FileAbout {
    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.about.is_empty()
            && self.adapter.is_none()
            && self.packaging.is_empty()
            && self.findings.is_empty()
    }
}

/// Civitai's ids for a file (from a sidecar).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CivitaiIds {
    /// The model id (`modelId`).
    pub model_id: u64,
    /// The model version id (`id` of a version, `VersionId`).
    pub version_id: Option<u64>,
}

/// Everything known about a file beyond its identification: the header's [`FileAbout`], the
/// configs in its folder, and its sidecars.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Described {
    /// Descriptive metadata, normalised: the header first, then `config.json` /
    /// `adapter_config.json`, then sidecars (a name keeps its first source).
    pub about: About,
    /// For a LoRA-like adapter: its shape and targets.
    pub adapter: Option<Adapter>,
    /// How the weights are packed.
    pub packaging: Vec<String>,
    /// Files read beside the weight file.
    pub sidecars: Vec<Sidecar>,
    /// The first preview image beside the file.
    pub preview: Option<PathBuf>,
    /// Civitai ids from a sidecar.
    pub civitai: Option<CivitaiIds>,
    /// Problems found in the metadata or the sidecars (never errors of the weight file).
    pub findings: Vec<String>,
}

impl Described {
    /// Merges a header's facts, the folder's configs and the sidecars (in that order of
    /// authority).
    pub fn merge(
        file: Option<&FileAbout>,
        configs: Option<&config::FolderConfigs>,
        sidecars: sidecar::SidecarInfo,
    ) -> Described {
        let mut d = Described::default();
        if let Some(f) = file {
            d.about = f.about.clone();
            d.adapter = f.adapter.clone();
            d.packaging = f.packaging.clone();
            d.findings = f.findings.clone();
        }
        if let Some(c) = configs {
            for (k, v) in &c.about {
                put(&mut d.about, k, v.clone());
            }
            if let Some(a) = d.adapter.as_mut() {
                if a.rank.is_none() {
                    a.rank = c.rank;
                }
                if a.alpha.is_none() {
                    a.alpha = c.alpha;
                }
            }
            d.findings.extend(c.findings.iter().cloned());
        }
        for (k, v) in sidecars.about {
            put(&mut d.about, &k, v);
        }
        if let Some(ids) = sidecars.civitai {
            d.civitai = Some(ids);
            let mut v = serde_json::json!({ "model_id": ids.model_id });
            if let Some(ver) = ids.version_id {
                v["version_id"] = ver.into();
            }
            put(
                &mut d.about,
                "civitai",
                Entry::new(v, sidecars.civitai_source.unwrap_or_default()),
            );
        }
        d.sidecars = sidecars.sidecars;
        d.preview = sidecars.preview;
        d.findings.extend(sidecars.findings);
        d
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.about.is_empty()
            && self.adapter.is_none()
            && self.packaging.is_empty()
            && self.sidecars.is_empty()
            && self.preview.is_none()
            && self.findings.is_empty()
    }
}

/// Everything the header of `index` says: metadata, adapter shape, packaging.
pub fn describe_index(index: &mir_core::TensorIndex) -> FileAbout {
    let mut out = FileAbout::default();
    meta::normalise(index, &mut out.about, &mut out.findings);
    out.adapter = adapter::detect(index);
    if let Some(a) = out.adapter.as_mut()
        && a.alpha.is_none()
    {
        // kohya's `ss_network_alpha`, else llama.cpp's `adapter.lora.alpha`.
        a.alpha = out
            .about
            .get("network_alpha")
            .and_then(|e| e.value.as_f64())
            .or_else(|| index.metadata.get("adapter.lora.alpha").and_then(meta_f64));
    }
    out.packaging = packaging::detect(index);
    out
}

fn meta_f64(v: &mir_core::MetaValue) -> Option<f64> {
    match v {
        mir_core::MetaValue::Float(f) => Some(*f),
        mir_core::MetaValue::Int(i) => Some(*i as f64),
        mir_core::MetaValue::UInt(u) => Some(*u as f64),
        mir_core::MetaValue::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Splits a comma-separated list of words (trigger phrases, tags), trimmed, empty ones dropped,
/// duplicates removed (first kept), at most `max`.
pub(crate) fn split_words(text: &str, max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text.split(',') {
        let w = w.trim();
        if !w.is_empty() && !out.iter().any(|o| o == w) {
            out.push(w.to_owned());
            if out.len() >= max {
                break;
            }
        }
    }
    out
}

/// Most words kept for a trigger-word or tag list.
pub const MAX_WORDS: usize = 64;
