//! What reading a file establishes, apart from what the rules make of it.
//!
//! [`Facts`] are everything a parse (and, when asked, a whole-file hash) tells about one version
//! of a file: its format, its tensor index, fingerprints, findings and hashes. They depend on the
//! file's bytes and the parser only, so the index keeps them keyed by file identity and
//! versioned by [`facts_version`] (this crate's facts encoding, its version and each format's
//! name). Identification is recomputed from facts on every scan: a change of rules, database or
//! plugins never forces a file to be read or hashed again.

use std::collections::BTreeMap;

use mir_core::signature::Signatures;
use mir_core::{Dtype, FormatRegistry, MetaValue, Severity, TensorIndex, TensorRecord};
use mir_hash::FileHashes;
use serde::{Deserialize, Serialize};

/// The version of the stored facts encoding. Bump it when the stored form of [`Facts`] changes meaning.
/// 2: facts carry what the header says about the file (`about`, adapter, packaging; issue 16).
pub const FACTS_VERSION: u32 = 2;

/// The version the index stores facts under for this set of formats: it changes with
/// [`FACTS_VERSION`], this crate's version (which carries the built-in parsers) and the names of
/// the formats (a plugin added or removed may read a file differently), never with the rules or
/// the database.
pub fn facts_version(registry: &FormatRegistry) -> u32 {
    facts_version_with(registry, &[])
}

/// [`facts_version`] that also changes with each loaded plugin's content hash (e.g. the BLAKE3
/// `mir plugins` lists), so a rebuilt plugin of the same name reads its files again.
pub fn facts_version_with(registry: &FormatRegistry, plugin_hashes: &[&str]) -> u32 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in plugin_hashes {
        h.update(p.as_bytes());
        h.update(b"\0");
    }
    h.update(&FACTS_VERSION.to_le_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    for f in registry.formats() {
        h.update(f.name().as_bytes());
        h.update(b"\0");
    }
    // The index stores a u32; 0 is avoided so it never looks like an unset value.
    (h.digest() as u32).max(1)
}

/// One file's facts: what its bytes say, before any rule is applied.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// The format that read the file; `None` when no format recognised it.
    pub format: Option<String>,
    /// The file's size in bytes.
    pub size: u64,
    /// The header's tensor index (its `mir_layer_string` is not kept: see `signatures`).
    pub index: Option<TensorIndex>,
    /// Fingerprints of the index.
    pub signatures: Option<Signatures>,
    /// Whole-file hashes computed so far (only those asked for, ever).
    pub hashes: FileHashes,
    /// When no format recognised the file: what it holds instead, if that is known (a Git LFS
    /// pointer, a legacy GGML file, text). Not stored in the index.
    pub foreign: Option<&'static str>,
    /// What the header says about the file: normalised metadata, adapter shape, packaging
    /// (`mir_about::describe_index`). Stored with the facts; `None` in facts an older version
    /// stored (then computed from the index when needed).
    pub about: Option<mir_about::FileAbout>,
}

impl Facts {
    /// The dominant element type's name (the index's precision column).
    pub fn precision(&self) -> Option<String> {
        self.index
            .as_ref()
            .and_then(TensorIndex::dominant_dtype)
            .map(|d| d.name().to_owned())
    }
}

/// The stored form of [`Facts`] (hashes live in their own index columns).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredFacts {
    format: Option<String>,
    size: u64,
    /// The tensor count, at the top level where `mir-index` reads it for `dupes`.
    tensors: Option<usize>,
    index: Option<StoredIndex>,
    /// Since facts version 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    about: Option<mir_about::FileAbout>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredIndex {
    /// `(name, dtype, shape)`; a dtype of `q:NAME` is a quantised type kept by name.
    tensors: Vec<(String, String, Vec<u64>)>,
    metadata: Vec<(String, StoredMeta)>,
    data_offset: Option<u64>,
    findings: Vec<(u8, String)>,
    key_sig: String,
    shape_sig: String,
    layer_256: Option<String>,
    layer_b3: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
enum StoredMeta {
    S(String),
    I(i64),
    U(u64),
    F(f64),
    B(bool),
    A(Vec<StoredMeta>),
    E(String, u64),
}

fn meta_out(v: &MetaValue) -> StoredMeta {
    match v {
        MetaValue::Str(s) => StoredMeta::S(s.clone()),
        MetaValue::Int(i) => StoredMeta::I(*i),
        MetaValue::UInt(u) => StoredMeta::U(*u),
        MetaValue::Float(f) => StoredMeta::F(*f),
        MetaValue::Bool(b) => StoredMeta::B(*b),
        MetaValue::Array(a) => StoredMeta::A(a.iter().map(meta_out).collect()),
        MetaValue::Elided { element, len } => StoredMeta::E(element.clone(), *len),
    }
}

fn meta_in(v: StoredMeta) -> MetaValue {
    match v {
        StoredMeta::S(s) => MetaValue::Str(s),
        StoredMeta::I(i) => MetaValue::Int(i),
        StoredMeta::U(u) => MetaValue::UInt(u),
        StoredMeta::F(f) => MetaValue::Float(f),
        StoredMeta::B(b) => MetaValue::Bool(b),
        StoredMeta::A(a) => MetaValue::Array(a.into_iter().map(meta_in).collect()),
        StoredMeta::E(element, len) => MetaValue::Elided { element, len },
    }
}

fn dtype_out(d: &Dtype) -> String {
    match d {
        Dtype::Quant(n) => format!("q:{n}"),
        other => other.name().to_owned(),
    }
}

fn dtype_in(s: &str) -> Dtype {
    match s.strip_prefix("q:") {
        Some(n) => Dtype::Quant(n.into()),
        None => Dtype::from_safetensors(s),
    }
}

fn severity_out(s: Severity) -> u8 {
    match s {
        Severity::Info => 0,
        Severity::Suspicious => 1,
        Severity::Unsafe => 2,
    }
}

fn severity_in(s: u8) -> Severity {
    match s {
        0 => Severity::Info,
        1 => Severity::Suspicious,
        _ => Severity::Unsafe,
    }
}

impl StoredFacts {
    pub(crate) fn from_facts(f: &Facts) -> StoredFacts {
        let index = f
            .index
            .as_ref()
            .zip(f.signatures.as_ref())
            .map(|(i, s)| StoredIndex {
                tensors: i
                    .tensors
                    .iter()
                    .map(|t| (t.name.clone(), dtype_out(&t.dtype), t.shape.clone()))
                    .collect(),
                metadata: i
                    .metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), meta_out(v)))
                    .collect(),
                data_offset: i.data_offset,
                findings: i
                    .findings
                    .iter()
                    .map(|f| (severity_out(f.severity), f.message.clone()))
                    .collect(),
                key_sig: s.key_sig_hex(),
                shape_sig: s.shape_sig_hex(),
                layer_256: s.layer_256.clone(),
                layer_b3: s.layer_b3.clone(),
            });
        StoredFacts {
            format: f.format.clone(),
            size: f.size,
            tensors: f.index.as_ref().map(|i| i.tensors.len()),
            index,
            about: f.about.clone(),
        }
    }

    pub(crate) fn into_facts(self, hashes: FileHashes) -> Option<Facts> {
        let (index, signatures) = match self.index {
            Some(s) => {
                let mut index = TensorIndex::new(self.format.clone().unwrap_or_default());
                index.tensors = s
                    .tensors
                    .into_iter()
                    .map(|(name, dtype, shape)| TensorRecord::new(name, dtype_in(&dtype), shape))
                    .collect();
                index.metadata = s
                    .metadata
                    .into_iter()
                    .map(|(k, v)| (k, meta_in(v)))
                    .collect::<BTreeMap<_, _>>();
                index.data_offset = s.data_offset;
                index.findings = s
                    .findings
                    .into_iter()
                    .map(|(sev, message)| mir_core::Finding {
                        severity: severity_in(sev),
                        message,
                    })
                    .collect();
                let sigs = Signatures {
                    key_sig: u128::from_str_radix(&s.key_sig, 16).ok()?,
                    shape_sig: u128::from_str_radix(&s.shape_sig, 16).ok()?,
                    layer_256: s.layer_256,
                    layer_b3: s.layer_b3,
                };
                (Some(index), Some(sigs))
            }
            None => (None, None),
        };
        Some(Facts {
            format: self.format,
            size: self.size,
            index,
            signatures,
            hashes,
            foreign: None,
            about: self.about,
        })
    }

    /// The JSON text stored in the index.
    pub(crate) fn to_json(f: &Facts) -> Option<String> {
        serde_json::to_string(&StoredFacts::from_facts(f)).ok()
    }

    /// Facts from the stored JSON text and the stored hashes; `None` when the text is not facts
    /// of this version (e.g. a row `mir hash` wrote without a scan).
    pub(crate) fn from_json(text: &str, hashes: FileHashes) -> Option<Facts> {
        serde_json::from_str::<StoredFacts>(text)
            .ok()?
            .into_facts(hashes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_round_trip_through_the_stored_form() {
        let mut index = TensorIndex::new("gguf");
        index
            .tensors
            .push(TensorRecord::new("a.weight", Dtype::F16, vec![4, 2]));
        index.tensors.push(TensorRecord::new(
            "b",
            Dtype::Quant("Q4_K".into()),
            vec![256],
        ));
        index
            .tensors
            .push(TensorRecord::new("c", Dtype::Other("X9".into()), vec![]));
        index.metadata.insert(
            "general.architecture".into(),
            MetaValue::Str("llama".into()),
        );
        index.metadata.insert(
            "arr".into(),
            MetaValue::Array(vec![MetaValue::Int(-1), MetaValue::Float(0.5)]),
        );
        index.findings.push(mir_core::Finding {
            severity: Severity::Unsafe,
            message: "global os.system in data.pkl".into(),
        });
        let sigs = Signatures::of(&index);
        let facts = Facts {
            format: Some("gguf".into()),
            size: 1234,
            index: Some(index.clone()),
            signatures: Some(sigs.clone()),
            hashes: FileHashes::default(),
            foreign: None,
            about: Some(mir_about::describe_index(&index)),
        };
        let text = StoredFacts::to_json(&facts).unwrap();
        let back = StoredFacts::from_json(&text, FileHashes::default()).unwrap();
        assert_eq!(back.index.as_ref().unwrap(), &index);
        assert_eq!(back.signatures.as_ref().unwrap(), &sigs);
        assert_eq!(back.size, 1234);
        assert_eq!(back.about, facts.about);
        assert_eq!(
            back.about.as_ref().unwrap().packaging,
            vec!["gguf:F16".to_owned()]
        );
        // A row without facts (written by `mir hash`) is no facts, not empty facts.
        assert!(StoredFacts::from_json("", FileHashes::default()).is_none());
    }
}
