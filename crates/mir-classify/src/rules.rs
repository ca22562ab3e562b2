//! The rule format (TOML, see the crate README) and its compiled form.
//!
//! Rule files are embedded with `include_str!`, parsed with serde, and validated once by
//! [`RuleSet::builtin`]: every ID template must render to a valid MIR ID, every `overrides` entry
//! must name an existing rule, every table a `compat_from` names must exist.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::glob::Pattern;

/// Why the embedded (or a caller's) rule files are unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// A rule file is not valid TOML or does not follow the schema.
    #[error("rule file {file}: {source}")]
    Parse {
        /// The file's name.
        file: String,
        /// What the TOML parser said.
        #[source]
        source: toml::de::Error,
    },
    /// Two rules share an ID.
    #[error("rule id {0:?} is defined twice")]
    DuplicateId(String),
    /// A rule's ID template does not render to a MIR ID.
    #[error("rule {rule}: {what} {value:?} is not a valid MIR ID: {source}")]
    BadId {
        /// The rule.
        rule: String,
        /// Which field (`mir`, `candidates`).
        what: &'static str,
        /// The offending text.
        value: String,
        /// The parser's complaint.
        #[source]
        source: mir_id::ParseError,
    },
    /// A reference to something that does not exist (a rule in `overrides`, a table).
    #[error("rule {rule}: {what} {name:?} does not exist")]
    Dangling {
        /// The rule.
        rule: String,
        /// What kind of reference.
        what: &'static str,
        /// The missing name.
        name: String,
    },
    /// A rule can never match (no layout, metadata or filename condition).
    #[error("rule {0}: has no layout, metadata or filename condition")]
    Empty(String),
    /// A `groups` or `benign` list is present but empty.
    #[error("{rule}: {what} is an empty list (leave the field out instead)")]
    EmptyList {
        /// The rule (or `layout.toml`).
        rule: String,
        /// Which field.
        what: &'static str,
    },
    /// A `groups` or `benign` pattern is not a well-formed module path pattern.
    #[error("{rule}: {what} pattern {pattern:?} is malformed: {reason}")]
    BadPattern {
        /// The rule (or `layout.toml`).
        rule: String,
        /// Which field.
        what: &'static str,
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A shape constraint names neither a dimension test nor a rank.
    #[error("rule {rule}: shape constraint on {key:?} tests nothing")]
    EmptyShape {
        /// The rule.
        rule: String,
        /// The key the constraint names.
        key: String,
    },
}

/// The training objective of a family (what the denoiser predicts).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RuleDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    id: String,
    mir: String,
    role: Role,
    #[serde(default)]
    priority: i32,
    #[serde(default)]
    overrides: Vec<String>,
    #[serde(default)]
    fallback: bool,
    #[serde(default)]
    candidates: Vec<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    layout: Vec<LayoutDef>,
    #[serde(default)]
    meta: Vec<MetaDef>,
    #[serde(default)]
    meta_forbid: Vec<MetaDef>,
    #[serde(default)]
    filename: Vec<String>,
    #[serde(default)]
    require_filename: bool,
    #[serde(default)]
    require_meta: bool,
    #[serde(default)]
    filename_alone: bool,
    #[serde(default)]
    compat_from: Option<CompatFrom>,
    #[serde(default)]
    bundle: bool,
    /// Module-path patterns of everything the family's layouts may contain (open-world check).
    #[serde(default)]
    groups: Option<Vec<String>>,
    /// The family's fixed training objective, when it has one.
    #[serde(default)]
    prediction: Option<Prediction>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayoutDef {
    name: String,
    #[serde(default)]
    require: Vec<String>,
    #[serde(default)]
    require_any: Vec<String>,
    #[serde(default)]
    forbid: Vec<String>,
    #[serde(default)]
    shape: Vec<ShapeDef>,
    #[serde(default)]
    derive: Vec<DeriveDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShapeDef {
    key: String,
    #[serde(default)]
    dim: Option<usize>,
    #[serde(default)]
    eq: Option<u64>,
    #[serde(default)]
    one_of: Vec<u64>,
    #[serde(default)]
    min: Option<u64>,
    #[serde(default)]
    max: Option<u64>,
    #[serde(default)]
    rank: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeriveDef {
    name: String,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    dim: Option<usize>,
    #[serde(default)]
    count: Option<String>,
}

/// A metadata condition on one key. Values compare case-insensitively.
#[derive(Clone, Debug, Deserialize)]
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

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompatFrom {
    pub(crate) key: String,
    pub(crate) table: String,
}

/// A compiled shape test.
#[derive(Debug)]
pub(crate) struct ShapeTest {
    pub(crate) key: Pattern,
    pub(crate) dim: Option<usize>,
    pub(crate) eq: Option<u64>,
    pub(crate) one_of: Vec<u64>,
    pub(crate) min: Option<u64>,
    pub(crate) max: Option<u64>,
    pub(crate) rank: Option<usize>,
}

impl ShapeTest {
    /// Whether `shape` passes every part of the test.
    pub(crate) fn accepts(&self, shape: &[u64]) -> bool {
        if let Some(r) = self.rank
            && shape.len() != r
        {
            return false;
        }
        if let Some(d) = self.dim {
            let Some(&v) = shape.get(d) else {
                return false;
            };
            if self.eq.is_some_and(|e| e != v)
                || (!self.one_of.is_empty() && !self.one_of.contains(&v))
                || self.min.is_some_and(|m| v < m)
                || self.max.is_some_and(|m| v > m)
            {
                return false;
            }
        }
        true
    }

    /// A short description for evidence, e.g. `dim 1 = 2048`.
    pub(crate) fn describe(&self, shape: &[u64]) -> String {
        let mut parts = Vec::new();
        if let Some(r) = self.rank {
            parts.push(format!("rank {r}"));
        }
        if let Some(d) = self.dim
            && let Some(v) = shape.get(d)
        {
            parts.push(format!("dim {d} = {v}"));
        }
        parts.join(", ")
    }
}

/// A compiled derived value.
#[derive(Debug)]
pub(crate) enum Derive {
    /// A dimension of the first key matching the pattern.
    Dim {
        name: String,
        key: Pattern,
        dim: usize,
    },
    /// The highest integer the first `*` captures, plus one (a block count).
    Count { name: String, key: Pattern },
}

/// One way a family can be laid out (LDM, diffusers, BFL, …).
#[derive(Debug)]
pub(crate) struct Layout {
    pub(crate) name: String,
    pub(crate) require: Vec<Pattern>,
    pub(crate) require_any: Vec<Pattern>,
    pub(crate) forbid: Vec<Pattern>,
    pub(crate) shape: Vec<ShapeTest>,
    pub(crate) derive: Vec<Derive>,
}

/// A compiled rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) id: String,
    pub(crate) mir: String,
    pub(crate) role: Role,
    pub(crate) priority: i32,
    pub(crate) overrides: Vec<usize>,
    pub(crate) fallback: bool,
    /// ID templates, rendered like `mir`.
    pub(crate) candidates: Vec<String>,
    pub(crate) note: Option<String>,
    pub(crate) layouts: Vec<Layout>,
    pub(crate) meta: Vec<MetaDef>,
    pub(crate) meta_forbid: Vec<MetaDef>,
    pub(crate) filename: Vec<String>,
    pub(crate) require_filename: bool,
    /// Structure alone is not enough: one of `meta` must hit (a language-model LoRA's base is
    /// named by its adapter_config.json, its layout only says "a language model").
    pub(crate) require_meta: bool,
    pub(crate) filename_alone: bool,
    pub(crate) compat_from: Option<CompatFrom>,
    pub(crate) bundle: bool,
    /// What the family's layouts may contain; `None` when the rule declares no groups.
    pub(crate) groups: Option<Vec<Pattern>>,
    /// The groups (and `benign`) may be evaluated once per key skeleton (see
    /// `coverage::index_blind`); decided at load time.
    pub(crate) groups_memo: bool,
    /// `groups` indexed by first segment.
    pub(crate) group_index: crate::coverage::GroupIndex,
    /// The family's fixed objective.
    pub(crate) prediction: Option<Prediction>,
}

/// How adapter tensors are named: which prefix names which target and how the module path is
/// written.
#[derive(Clone, Debug, Deserialize)]
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
#[derive(Clone, Debug, Deserialize)]
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
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Flavour {
    pub(crate) series: String,
    #[serde(default)]
    pub(crate) filename: Vec<String>,
    #[serde(default)]
    pub(crate) meta: Vec<MetaDef>,
}

/// A prefix under which an all-in-one checkpoint keeps one part.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BundlePart {
    pub(crate) prefix: String,
}

/// How database keys and compats map onto the IDs we emit.
#[derive(Clone, Debug, Default, Deserialize)]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayoutFile {
    strip_prefixes: Vec<String>,
    #[serde(default)]
    bundle_part: Vec<BundlePart>,
    #[serde(default)]
    adapter_target: Vec<AdapterTarget>,
    #[serde(default)]
    adapter_suffix: Vec<AdapterSuffix>,
    #[serde(default)]
    flavour: Vec<Flavour>,
    #[serde(default)]
    tables: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    db: DbAliases,
    /// Packaging and marker tensors that count as explained for every family.
    #[serde(default)]
    benign: Option<Vec<String>>,
}

/// Everything the engine needs, compiled.
#[derive(Debug)]
pub(crate) struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    /// The prefixes as written; the engine uses `stripper`, tests compare the two.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) strip_prefixes: Vec<String>,
    pub(crate) bundle_parts: Vec<BundlePart>,
    pub(crate) adapter_targets: Vec<AdapterTarget>,
    pub(crate) adapter_suffixes: Vec<AdapterSuffix>,
    pub(crate) flavours: Vec<Flavour>,
    pub(crate) tables: BTreeMap<String, BTreeMap<String, String>>,
    pub(crate) db: DbAliases,
    /// Patterns of tensors every family may carry (`scaled_fp8`, `v_pred`, …).
    pub(crate) benign: Vec<Pattern>,
    /// `strip_prefixes`, compiled for normalising names.
    pub(crate) stripper: crate::view::Stripper,
    /// `adapter_suffixes`, compiled for building the adapter view.
    pub(crate) suffix_index: crate::view::SuffixIndex,
}

/// The embedded rule files, by name.
pub(crate) const BUILTIN_RULES: &[(&str, &str)] = &[
    ("unet.toml", include_str!("../rules/unet.toml")),
    ("dit.toml", include_str!("../rules/dit.toml")),
    ("image.toml", include_str!("../rules/image.toml")),
    ("components.toml", include_str!("../rules/components.toml")),
    ("control.toml", include_str!("../rules/control.toml")),
    ("adapters.toml", include_str!("../rules/adapters.toml")),
    ("llm.toml", include_str!("../rules/llm.toml")),
    ("filename.toml", include_str!("../rules/filename.toml")),
    ("video.toml", include_str!("../rules/video.toml")),
    ("gan.toml", include_str!("../rules/gan.toml")),
    ("vision.toml", include_str!("../rules/vision.toml")),
];

/// The embedded layout file (prefixes, bundle parts, adapter naming, tables, database aliases).
pub(crate) const BUILTIN_LAYOUT: (&str, &str) =
    ("layout.toml", include_str!("../rules/layout.toml"));

fn parse<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, RuleError> {
    toml::from_str(text).map_err(|source| RuleError::Parse {
        file: file.to_owned(),
        source,
    })
}

/// Renders a template with every placeholder replaced by a harmless word, to validate it.
fn sample_render(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let (head, tail) = rest.split_at(start);
        out.push_str(head);
        match tail.find('}') {
            Some(end) => {
                out.push('x');
                rest = tail.get(end.saturating_add(1)..).unwrap_or("");
            }
            None => {
                out.push_str(tail);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

impl RuleSet {
    /// Parses and validates the embedded rule files.
    pub(crate) fn builtin() -> Result<RuleSet, RuleError> {
        Self::from_sources(BUILTIN_RULES, BUILTIN_LAYOUT)
    }

    /// Parses and validates rule files given as `(name, text)`.
    pub(crate) fn from_sources(
        files: &[(&str, &str)],
        layout: (&str, &str),
    ) -> Result<RuleSet, RuleError> {
        let layout: LayoutFile = parse(layout.0, layout.1)?;
        let mut defs = Vec::new();
        for (name, text) in files {
            let f: RuleFile = parse(name, text)?;
            defs.extend(f.rule);
        }
        let mut by_id: HashMap<String, usize> = HashMap::new();
        for (i, d) in defs.iter().enumerate() {
            if by_id.insert(d.id.clone(), i).is_some() {
                return Err(RuleError::DuplicateId(d.id.clone()));
            }
        }
        let mut rules = Vec::with_capacity(defs.len());
        for d in defs {
            rules.push(compile(
                d,
                &by_id,
                &layout.tables,
                layout.benign.as_deref().unwrap_or(&[]),
            )?);
        }
        let benign = match &layout.benign {
            Some(list) => compile_patterns("layout.toml", "benign", list, false)?,
            None => Vec::new(),
        };
        Ok(RuleSet {
            stripper: crate::view::Stripper::new(&layout.strip_prefixes),
            suffix_index: crate::view::SuffixIndex::new(&layout.adapter_suffix),
            benign,
            rules,
            strip_prefixes: layout.strip_prefixes,
            bundle_parts: layout.bundle_part,
            adapter_targets: layout.adapter_target,
            adapter_suffixes: layout.adapter_suffix,
            flavours: layout.flavour,
            tables: layout.tables,
            db: layout.db,
        })
    }
}

/// Validates and compiles a `groups` or `benign` list. `adapter` patterns name adapter-view
/// module paths (`target/module_path`) and must contain a `/`; the others must not.
fn compile_patterns(
    rule: &str,
    what: &'static str,
    list: &[String],
    adapter: bool,
) -> Result<Vec<Pattern>, RuleError> {
    if list.is_empty() {
        return Err(RuleError::EmptyList {
            rule: rule.to_owned(),
            what,
        });
    }
    let mut out = Vec::with_capacity(list.len());
    for p in list {
        let reason = crate::glob::module_pattern_problem(p).or_else(|| {
            if adapter && !p.contains('/') {
                Some("an adapter rule's groups name adapter-view paths `target/module` (e.g. `unet/double_blocks_*`)")
            } else if !adapter && p.contains('/') {
                Some("`/` only occurs in adapter-view paths (role = \"adapter\")")
            } else {
                None
            }
        });
        if let Some(reason) = reason {
            return Err(RuleError::BadPattern {
                rule: rule.to_owned(),
                what,
                pattern: p.clone(),
                reason,
            });
        }
        out.push(Pattern::new(p));
    }
    Ok(out)
}

fn compile(
    d: RuleDef,
    by_id: &HashMap<String, usize>,
    tables: &BTreeMap<String, BTreeMap<String, String>>,
    benign_text: &[String],
) -> Result<Rule, RuleError> {
    let bad = |what: &'static str, value: &str, source| RuleError::BadId {
        rule: d.id.clone(),
        what,
        value: value.to_owned(),
        source,
    };
    mir_id::MirId::parse(&sample_render(&d.mir)).map_err(|e| bad("mir", &d.mir, e))?;
    for c in &d.candidates {
        mir_id::MirId::parse(&sample_render(c)).map_err(|e| bad("candidates", c, e))?;
    }
    let mut overrides = Vec::new();
    for o in &d.overrides {
        match by_id.get(o) {
            Some(&i) => overrides.push(i),
            None => {
                return Err(RuleError::Dangling {
                    rule: d.id.clone(),
                    what: "overridden rule",
                    name: o.clone(),
                });
            }
        }
    }
    if let Some(cf) = &d.compat_from
        && !tables.contains_key(&cf.table)
    {
        return Err(RuleError::Dangling {
            rule: d.id.clone(),
            what: "table",
            name: cf.table.clone(),
        });
    }
    if d.layout.is_empty() && d.meta.is_empty() && d.filename.is_empty() {
        return Err(RuleError::Empty(d.id.clone()));
    }
    let pats = |v: &[String]| v.iter().map(|s| Pattern::new(s)).collect::<Vec<_>>();
    let mut layouts = Vec::new();
    for l in &d.layout {
        let mut shape = Vec::new();
        for s in &l.shape {
            let tests_dim = s.dim.is_some()
                && (s.eq.is_some() || !s.one_of.is_empty() || s.min.is_some() || s.max.is_some());
            if !tests_dim && s.rank.is_none() {
                return Err(RuleError::EmptyShape {
                    rule: d.id.clone(),
                    key: s.key.clone(),
                });
            }
            shape.push(ShapeTest {
                key: Pattern::new(&s.key),
                dim: s.dim,
                eq: s.eq,
                one_of: s.one_of.clone(),
                min: s.min,
                max: s.max,
                rank: s.rank,
            });
        }
        let mut derive = Vec::new();
        for v in &l.derive {
            match (&v.key, v.dim, &v.count) {
                (Some(k), Some(dim), None) => derive.push(Derive::Dim {
                    name: v.name.clone(),
                    key: Pattern::new(k),
                    dim,
                }),
                (None, None, Some(c)) => derive.push(Derive::Count {
                    name: v.name.clone(),
                    key: Pattern::new(c),
                }),
                _ => {
                    return Err(RuleError::Dangling {
                        rule: d.id.clone(),
                        what: "derive needs key+dim or count, for",
                        name: v.name.clone(),
                    });
                }
            }
        }
        layouts.push(Layout {
            name: l.name.clone(),
            require: pats(&l.require),
            require_any: pats(&l.require_any),
            forbid: pats(&l.forbid),
            shape,
            derive,
        });
    }
    let groups = match &d.groups {
        Some(list) => Some(compile_patterns(
            &d.id,
            "groups",
            list,
            d.role == Role::Adapter,
        )?),
        None => None,
    };
    let groups_memo = d
        .groups
        .iter()
        .flatten()
        .chain(benign_text.iter())
        .all(|p| crate::coverage::index_blind(p));
    let group_index =
        crate::coverage::GroupIndex::new(groups.as_deref().unwrap_or(&[]), d.role == Role::Adapter);
    Ok(Rule {
        groups,
        groups_memo,
        group_index,
        prediction: d.prediction,
        id: d.id,
        mir: d.mir,
        role: d.role,
        priority: d.priority,
        overrides,
        fallback: d.fallback,
        candidates: d.candidates,
        note: d.note,
        layouts,
        meta: d.meta,
        meta_forbid: d.meta_forbid,
        filename: d.filename.iter().map(|f| f.to_ascii_lowercase()).collect(),
        require_filename: d.require_filename,
        require_meta: d.require_meta,
        filename_alone: d.filename_alone,
        compat_from: d.compat_from,
        bundle: d.bundle,
    })
}
