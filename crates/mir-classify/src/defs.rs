//! The rule files' schema: what `rules/*.toml` deserialise into, before validation and
//! compilation (`rules.rs`).
//!
//! Shared with the build script (`build.rs` includes this file), which parses the embedded rule
//! files at build time and stores them in a compact binary form (postcard) that
//! [`crate::rules::RuleSet::builtin`] reads at start-up instead of parsing TOML.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The embedded rule files as the build script parsed them: the layout file and every rule,
/// in the order of `BUILTIN_RULES`.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct Builtin {
    pub(crate) layout: LayoutFile,
    pub(crate) rules: Vec<RuleDef>,
}

/// The training objective of a family (what the denoiser predicts).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Prediction {
    /// Noise (ε) prediction.
    Eps,
    /// Velocity (v) prediction.
    V,
    /// EDM preconditioning (Karras et al.), e.g. Playground v2.5, CosXL.
    Edm,
    /// Rectified flow / flow matching (FLUX, SD3, Wan, …).
    Flow,
}

impl Prediction {
    /// Lowercase name used in output: `eps`, `v`, `edm`, `flow`.
    pub fn as_str(self) -> &'static str {
        match self {
            Prediction::Eps => "eps",
            Prediction::V => "v",
            Prediction::Edm => "edm",
            Prediction::Flow => "flow",
        }
    }
}

/// What a rule names.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    /// A text encoder or VAE: the file's ID when nothing else matches, else a bundle part.
    Component,
    /// A base model (denoiser, language model) or ControlNet.
    Model,
    /// An adapter (LoRA and friends); evaluated on the adapter view.
    Adapter,
}

impl Role {
    /// Rank for ordering: main models and adapters before components.
    pub(crate) fn rank(self) -> u8 {
        match self {
            Role::Component => 0,
            Role::Model | Role::Adapter => 1,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleFile {
    #[serde(default)]
    pub(crate) rule: Vec<RuleDef>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleDef {
    pub(crate) id: String,
    pub(crate) mir: String,
    pub(crate) role: Role,
    #[serde(default)]
    pub(crate) priority: i32,
    #[serde(default)]
    pub(crate) overrides: Vec<String>,
    #[serde(default)]
    pub(crate) fallback: bool,
    #[serde(default)]
    pub(crate) candidates: Vec<String>,
    #[serde(default)]
    pub(crate) note: Option<String>,
    #[serde(default)]
    pub(crate) layout: Vec<LayoutDef>,
    #[serde(default)]
    pub(crate) meta: Vec<MetaDef>,
    #[serde(default)]
    pub(crate) meta_forbid: Vec<MetaDef>,
    #[serde(default)]
    pub(crate) filename: Vec<String>,
    #[serde(default)]
    pub(crate) require_filename: bool,
    /// Structure alone is not enough: one of `meta` must hit.
    #[serde(default)]
    pub(crate) require_meta: bool,
    #[serde(default)]
    pub(crate) filename_alone: bool,
    #[serde(default)]
    pub(crate) compat_from: Option<CompatFrom>,
    #[serde(default)]
    pub(crate) bundle: bool,
    /// Module-path patterns of everything the family's layouts may contain (open-world check).
    #[serde(default)]
    pub(crate) groups: Option<Vec<String>>,
    /// The family's fixed training objective, when it has one.
    #[serde(default)]
    pub(crate) prediction: Option<Prediction>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LayoutDef {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) require: Vec<String>,
    #[serde(default)]
    pub(crate) require_any: Vec<String>,
    #[serde(default)]
    pub(crate) forbid: Vec<String>,
    #[serde(default)]
    pub(crate) shape: Vec<ShapeDef>,
    #[serde(default)]
    pub(crate) derive: Vec<DeriveDef>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShapeDef {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) dim: Option<usize>,
    #[serde(default)]
    pub(crate) eq: Option<u64>,
    #[serde(default)]
    pub(crate) one_of: Vec<u64>,
    #[serde(default)]
    pub(crate) min: Option<u64>,
    #[serde(default)]
    pub(crate) max: Option<u64>,
    #[serde(default)]
    pub(crate) rank: Option<usize>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeriveDef {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) key: Option<String>,
    #[serde(default)]
    pub(crate) dim: Option<usize>,
    #[serde(default)]
    pub(crate) count: Option<String>,
}

/// A metadata condition on one key. Values compare case-insensitively.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MetaDef {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) equals: Vec<String>,
    #[serde(default)]
    pub(crate) prefix: Vec<String>,
    #[serde(default)]
    pub(crate) contains: Vec<String>,
    #[serde(default)]
    pub(crate) present: bool,
    /// A hit settles the rule's ambiguity: its `candidates` are not reported.
    #[serde(default)]
    pub(crate) decisive: bool,
}

impl MetaDef {
    /// Whether `value` (the metadata value as text) satisfies the condition.
    pub(crate) fn hits(&self, value: &str) -> bool {
        let v = value.trim().to_ascii_lowercase();
        self.present
            || self.equals.iter().any(|e| v == e.to_ascii_lowercase())
            || self
                .prefix
                .iter()
                .any(|p| v.starts_with(&p.to_ascii_lowercase()))
            || self
                .contains
                .iter()
                .any(|c| v.contains(&c.to_ascii_lowercase()))
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompatFrom {
    pub(crate) key: String,
    pub(crate) table: String,
}

/// How adapter tensors are named: which prefix names which target and how the module path is
/// written.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdapterTarget {
    pub(crate) prefix: String,
    pub(crate) target: String,
    /// `kohya` (module path already joined with `_`), `dotted`, or `indexed` (cloneofsimo
    /// `lora_diffusion`: `<target>:<i>:up`, no module path, only the LoRA's position `i`).
    pub(crate) style: String,
    /// The leading part of `prefix` that is removed (default: all of it), so a prefix can pick
    /// the target by a module path it keeps (`base_model.model.model.layers.` → `llm`, keeping
    /// `model.layers.`).
    #[serde(default)]
    pub(crate) strip: Option<String>,
}

/// An adapter tensor suffix and what it says about the tensor.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdapterSuffix {
    pub(crate) suffix: String,
    pub(crate) kind: String,
    pub(crate) part: String,
    /// The suffix marks an adapter tensor only under a declared target prefix (MLX `.lora_a`
    /// under `model.layers.`, cloneofsimo `:up` under `unet:`), never under the default
    /// target: llama.cpp's GGUF LoRAs (`blk.0.attn_q.weight.lora_a`) are not adapter-view
    /// tensors.
    #[serde(default)]
    pub(crate) targeted: bool,
}

/// A distillation (or similar) LoRA flavour, known only from metadata or the file name.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Flavour {
    pub(crate) series: String,
    #[serde(default)]
    pub(crate) filename: Vec<String>,
    #[serde(default)]
    pub(crate) meta: Vec<MetaDef>,
}

/// A prefix under which an all-in-one checkpoint keeps one part.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BundlePart {
    pub(crate) prefix: String,
}

/// How database keys and compats map onto the IDs we emit.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DbAliases {
    /// Database arch code → our arch (`artm` → `art`).
    #[serde(default)]
    pub(crate) arch: BTreeMap<String, String>,
    /// Database `domain.arch.series` → our `arch.series`.
    #[serde(default)]
    pub(crate) series: BTreeMap<String, String>,
    /// Database compat (as a base series of adapters, or a variant) → ours.
    #[serde(default)]
    pub(crate) compat: BTreeMap<String, String>,
    /// Arch codes whose layer hashes are not trusted on their own.
    #[serde(default)]
    pub(crate) low_tolerance: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LayoutFile {
    pub(crate) strip_prefixes: Vec<String>,
    #[serde(default)]
    pub(crate) bundle_part: Vec<BundlePart>,
    #[serde(default)]
    pub(crate) adapter_target: Vec<AdapterTarget>,
    #[serde(default)]
    pub(crate) adapter_suffix: Vec<AdapterSuffix>,
    #[serde(default)]
    pub(crate) flavour: Vec<Flavour>,
    #[serde(default)]
    pub(crate) tables: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    pub(crate) db: DbAliases,
    /// Packaging and marker tensors that count as explained for every family.
    #[serde(default)]
    pub(crate) benign: Option<Vec<String>>,
}
