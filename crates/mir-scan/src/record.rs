//! The per-file record `mir scan --json` prints, one JSON object per line.
//!
//! This is a public contract: model managers parse it. Fields are only ever added, never renamed
//! or removed; every field is always present (`null` or `[]` when it does not apply). The README
//! documents each field.

use std::path::Path;

use base64::Engine;
use mir_core::signature::{SIG_VERSION, Signatures};
use serde::{Deserialize, Serialize};

use crate::identify::apply;
use crate::report::{FileReport, Finding, ModelReport};

/// One weight file's result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The file's path as given or found by the walk (lossy UTF-8; see `path_bytes`).
    pub path: String,
    /// When the path is not valid UTF-8: its raw bytes, base64 (standard alphabet), so the path is
    /// reported losslessly. `null` otherwise.
    pub path_bytes: Option<String>,
    /// The format that read the file (`safetensors`, `gguf`, `ckpt`, or a plugin's name); `null`
    /// when no format recognised it.
    pub format: Option<String>,
    /// The file's size in bytes.
    pub size: u64,
    /// Number of tensors the header declares; `null` when the header could not be read.
    pub tensors: Option<usize>,
    /// The file's MIR ID, when the evidence decides one.
    pub mir: Option<String>,
    /// When the evidence is ambiguous: the IDs the file could be (the shared ID goes in `mir`).
    pub candidates: Vec<String>,
    /// Parts of an all-in-one file (VAE, text encoders), each with the key prefix it lives under.
    pub components: Vec<ComponentRecord>,
    /// Why: the evidence that decided the ID, most decisive first.
    pub evidence: Vec<String>,
    /// The dominant element type as a MIR precision ID (`mir:ops.precision.float:F16`).
    pub precision: Option<String>,
    /// Fingerprints; `null` when the header could not be read.
    pub fingerprint: Option<FingerprintRecord>,
    /// Why the file could not be read; `null` when it was.
    pub error: Option<String>,
    /// How sure the identification is, 0 to 1; `null` when there is no ID.
    pub confidence: Option<f32>,
    /// Which kind of evidence decided: `metadata`, `structure`, `hash` or `filename`.
    pub decided_by: Option<String>,
    /// For a shard of a multi-file model: the model it belongs to. `null` otherwise.
    pub shard: Option<ShardRecord>,
    /// Security or damage findings (e.g. `unsafe: global os.system in data.pkl`).
    pub findings: Vec<String>,
    /// The MIR database entry an exact hash matched (with `--mir-db`); `null` otherwise.
    pub database: Option<DatabaseRecord>,
    /// Whole-file hashes asked for with `--hash` (lowercase hex); `null` when none were asked.
    pub hashes: Option<mir_hash::FileHashes>,
    /// True when this record came from the index (the file is unchanged since it was read).
    #[serde(default)]
    pub cached: bool,
    /// How much of the file the module groups of the family that matched explain; `null` when no
    /// rule with module groups matched. Below 1.0 the family's ID is withheld (the open-world
    /// check, see crates/mir-classify/README.md).
    #[serde(default)]
    pub coverage: Option<CoverageRecord>,
    /// The training objective: `eps`, `v`, `edm` or `flow`; `null` when nothing decides it.
    #[serde(default)]
    pub prediction: Option<String>,
    /// The model this file belongs to: a file alone (`kind` `file`, `path` its own), a shard
    /// set, a diffusers folder or a Hugging Face cache snapshot. Added in 0.2; `mir scan --json
    /// --models` prints one record per model instead.
    #[serde(default)]
    pub model: Option<ModelRef>,
    /// Other paths to the same file (hard links, symlinks), reported rather than dropped.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Descriptive metadata, normalised: name → `{value, source}` (the metadata key or
    /// `<sidecar>:<key>` it came from). Names: see the README's field table. Omitted when empty.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub about: mir_about::About,
    /// For a LoRA-like adapter: `algo`, `rank`, `alpha`, `targets`, `blocks`. Omitted otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<mir_about::Adapter>,
    /// How the weights are packed (`scaled-fp8`, `bnb-nf4`, `nunchaku-svdq`, `torchao`,
    /// `gguf:Q4_K_M`); never a family. Omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packaging: Vec<String>,
    /// Files read beside the weight file (civitai info, Stability Matrix, A1111, SwarmUI,
    /// previews). Omitted when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<SidecarRecord>,
    /// The first preview image beside the file (same style as `path`). Omitted when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    /// civitai's AIR ecosystem and type for the MIR ID, and the full URN when a sidecar gives
    /// civitai's ids. Omitted without a MIR ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub air: Option<mir_about::Air>,
}

/// A file read beside a weight file (the `sidecars` field).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SidecarRecord {
    /// Its path (lossy UTF-8, same style as the record's `path`).
    pub path: String,
    /// `civitai-info`, `cm-info`, `a1111-json`, `swarm-json` or `preview`.
    pub kind: String,
    /// civitai model id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<u64>,
    /// civitai model version id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<u64>,
    /// The base model as the sidecar spells it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model: Option<String>,
    /// Its trigger words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trigger_words: Vec<String>,
    /// Why it could not be read (the record's `findings` say so too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SidecarRecord {
    fn from_sidecar(s: &mir_about::Sidecar) -> SidecarRecord {
        SidecarRecord {
            path: path_fields(&s.path).0,
            kind: s.kind.map_or("other", |k| k.as_str()).to_owned(),
            model_id: s.model_id,
            version_id: s.version_id,
            base_model: s.base_model.clone(),
            trigger_words: s.trigger_words.clone(),
            error: s.error.clone(),
        }
    }
}

/// Where a file's model is (the `model` field of a file record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRef {
    /// The model's path (lossy UTF-8).
    pub path: String,
    /// `file`, `shards`, `diffusers`, `snapshot` or `invokeai`.
    pub kind: String,
    /// For a diffusers folder: the component folder this file is in (`unet`, `vae`, …).
    pub component: Option<String>,
}

/// One model, as `mir scan --json --models` prints it (one JSON object per line).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    /// The model's path: the file, the shard set's `*.index.json` (or first shard), the
    /// diffusers folder or the snapshot folder (lossy UTF-8; see `path_bytes`).
    pub path: String,
    /// The path's raw bytes in base64 when it is not UTF-8; `null` otherwise.
    pub path_bytes: Option<String>,
    /// `file`, `shards`, `diffusers`, `snapshot` or `invokeai`.
    pub kind: String,
    /// The model's files, in path order.
    pub files: Vec<String>,
    /// The model's MIR ID.
    pub mir: Option<String>,
    /// Diffusers: each component folder and its ID.
    pub components: Vec<ModelComponent>,
    /// Which kind of evidence decided.
    pub decided_by: Option<String>,
    /// Why.
    pub evidence: Vec<String>,
}

/// A diffusers component in a [`ModelRecord`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelComponent {
    /// The component folder (`unet`, `vae`, `text_encoder`, …).
    pub component: String,
    /// Its MIR ID, when identified.
    pub mir: Option<String>,
}

impl ModelRecord {
    /// The wire form of a model's typed result.
    pub fn from_report(m: &ModelReport) -> ModelRecord {
        let (path, path_bytes) = path_fields(&m.path);
        ModelRecord {
            path,
            path_bytes,
            kind: m.kind.as_str().to_owned(),
            files: m.files.iter().map(|f| path_fields(f).0).collect(),
            mir: m.mir.as_ref().map(ToString::to_string),
            components: m
                .components
                .iter()
                .map(|(c, id)| ModelComponent {
                    component: c.clone(),
                    mir: id.as_ref().map(ToString::to_string),
                })
                .collect(),
            decided_by: m.decided_by.map(|d| d.as_str().to_owned()),
            evidence: m.evidence.clone(),
        }
    }
}

/// The open-world coverage of a file by the family that matched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoverageRecord {
    /// Share of tensors explained, 0 to 1.
    pub tensors: f64,
    /// Share of parameters (elements) explained, 0 to 1.
    pub parameters: f64,
    /// The module groups the family does not have, most tensors first (e.g.
    /// `vace_blocks.*.proj_in`, `double_stream_modulation_img`).
    pub unexplained: Vec<String>,
}

/// A MIR database entry matched by an exact hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseRecord {
    /// The database key, e.g. `info.unet.stable-diffusion-xl-1`.
    pub key: String,
    /// The compat entry as the database spells it (`*` for the base entry).
    pub compat: String,
    /// Which hash matched: `file_256`, `layer_256` or `layer_b3`.
    pub field: String,
    /// The entry's Hugging Face repository, if any.
    pub repo: Option<String>,
    /// The entry's `pkg` (how to load it), as the database holds it.
    pub pkg: Option<serde_json::Value>,
    /// The entry as a `model` domain MIR ID.
    pub mir: Option<String>,
    /// False for a layer-hash-only match of a LoRA or VAE entry (structure hashes collide across
    /// those), which is reported but does not name the file.
    pub trusted: bool,
}

/// A part of a bundled checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentRecord {
    /// The part's MIR ID.
    pub mir: String,
    /// The key prefix its tensors live under (e.g. `first_stage_model.`).
    pub prefix: String,
}

/// A file's fingerprints (ARCHITECTURE.md, "Fingerprints").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FingerprintRecord {
    /// XXH3-128 of the sorted tensor names, 32 hex digits.
    pub key_sig: String,
    /// XXH3-128 of the sorted (name, logical shape) pairs, 32 hex digits.
    pub shape_sig: String,
    /// The MIR project's SHA-256 layer hash (safetensors only), 64 hex digits.
    pub layer_256: Option<String>,
    /// The MIR project's BLAKE3 layer hash (safetensors only), 64 hex digits.
    pub layer_b3: Option<String>,
    /// The version of the `key_sig`/`shape_sig` encoding.
    pub sig_version: u32,
}

impl From<&Signatures> for FingerprintRecord {
    fn from(s: &Signatures) -> Self {
        FingerprintRecord {
            key_sig: s.key_sig_hex(),
            shape_sig: s.shape_sig_hex(),
            layer_256: s.layer_256.clone(),
            layer_b3: s.layer_b3.clone(),
            sig_version: SIG_VERSION,
        }
    }
}

/// Where a shard sits in its model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// The model: the path of its `*.index.json`, or of its first shard when there is no index.
    pub model: String,
    /// This shard's number, from 1, when the file name carries it.
    pub part: Option<u32>,
    /// How many shards the model has.
    pub total: u32,
    /// `key_sig` of the whole model (all shards' tensors).
    pub model_key_sig: Option<String>,
    /// `shape_sig` of the whole model.
    pub model_shape_sig: Option<String>,
}

/// Counts over a scan, for the exit status and the closing line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Files reported.
    pub files: usize,
    /// Files whose header was read and identified.
    pub identified: usize,
    /// Files read but not identified, or whose format is not recognised.
    pub unrecognised: usize,
    /// Files that could not be read, plus walk errors (unreadable folders).
    pub errors: usize,
}

impl Summary {
    /// The exit status `mir scan` uses: 0 when every file was read and identified, 1 when some
    /// were not recognised, 2 when some could not be read.
    pub fn exit_code(&self) -> i32 {
        if self.errors > 0 {
            2
        } else if self.unrecognised > 0 {
            1
        } else {
            0
        }
    }
}

impl Record {
    /// The wire form of a file's typed result: the only place identification becomes text.
    pub fn from_report(r: &FileReport) -> Record {
        let mut record = Record::for_path(&r.path, r.size);
        if let Some(f) = &r.facts {
            record.format = f.format.clone();
            record.fingerprint = f.signatures.as_ref().map(FingerprintRecord::from);
            if f.format.is_none() && r.error.is_none() {
                record
                    .evidence
                    .push("no known format recognised the file's first bytes".to_owned());
                if let Some(what) = f.foreign {
                    record
                        .evidence
                        .push(format!("the file is not a weight file: {what}"));
                }
            }
        }
        record.tensors = r.tensors;
        record.findings = r.findings.iter().map(Finding::to_record_text).collect();
        if let Some(c) = &r.identification {
            apply(c.clone(), &mut record);
        }
        record.error = r.error.as_ref().map(|e| e.message.clone());
        record.hashes = r.hashes.clone();
        record.cached = r.cached;
        record.shard = r.shard.as_ref().map(|s| ShardRecord {
            model: path_fields(&s.model).0,
            part: s.part,
            total: s.total,
            model_key_sig: s.key_sig.clone(),
            model_shape_sig: s.shape_sig.clone(),
        });
        record.model = r.model.as_ref().map(|m| ModelRef {
            path: path_fields(&m.path).0,
            kind: m.kind.as_str().to_owned(),
            component: m.component.clone(),
        });
        record.aliases = r.aliases.iter().map(|a| path_fields(a).0).collect();
        if let Some(d) = &r.described {
            record.about = d.about.clone();
            record.adapter = d.adapter.clone();
            record.packaging = d.packaging.clone();
            record.sidecars = d.sidecars.iter().map(SidecarRecord::from_sidecar).collect();
            record.preview = d.preview.as_ref().map(|p| path_fields(p).0);
        }
        record.air = record.mir.as_deref().and_then(|m| {
            mir_about::AirTable::builtin().for_mir(m, r.described.as_ref().and_then(|d| d.civitai))
        });
        record
    }

    /// An empty record for `path` of `size` bytes.
    pub fn for_path(path: &Path, size: u64) -> Record {
        let (text, bytes) = path_fields(path);
        Record {
            path: text,
            path_bytes: bytes,
            size,
            ..Record::default()
        }
    }

    /// True when the header was read but no ID came out, or no format recognised the file.
    pub fn is_unrecognised(&self) -> bool {
        self.error.is_none() && (self.format.is_none() || self.mir.is_none())
    }
}

/// The lossy text of a path and, when it is not UTF-8, its raw bytes in base64.
pub(crate) fn path_fields(path: &Path) -> (String, Option<String>) {
    match path.to_str() {
        Some(s) => (s.to_owned(), None),
        None => (path.to_string_lossy().into_owned(), Some(raw_base64(path))),
    }
}

#[cfg(unix)]
fn raw_base64(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    base64::engine::general_purpose::STANDARD.encode(path.as_os_str().as_bytes())
}

#[cfg(not(unix))]
fn raw_base64(path: &Path) -> String {
    base64::engine::general_purpose::STANDARD.encode(path.to_string_lossy().as_bytes())
}
