//! The rule format (TOML, see the crate README) and its compiled form.
//!
//! Rule files are embedded with `include_str!` (for callers that extend them) and, parsed at build
//! time by `build.rs`, in a binary form that [`RuleSet::builtin`] decodes at start-up; then
//! validated and compiled once: every ID template must render to a valid MIR ID, every
//! `overrides` entry must name an existing rule, every table a `compat_from` names must exist.
//! A rule's `groups` are compiled on first use.

use std::collections::{BTreeMap, HashMap};

pub(crate) use crate::defs::{
    AdapterSuffix, AdapterTarget, BundlePart, CompatFrom, DbAliases, Flavour, LayoutFile, MetaDef,
    Prediction, Role, RuleDef, RuleFile,
};
use crate::glob::Pattern;
use crate::matcher::{Interner, PatId, PatternTable};

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
    /// The embedded rule files' binary form does not decode (a build problem).
    #[error("the embedded rule files do not decode: {0}")]
    Embedded(String),
    /// A shape constraint names neither a dimension test nor a rank.
    #[error("rule {rule}: shape constraint on {key:?} tests nothing")]
    EmptyShape {
        /// The rule.
        rule: String,
        /// The key the constraint names.
        key: String,
    },
}

/// A compiled shape test.
#[derive(Debug)]
pub(crate) struct ShapeTest {
    /// The key pattern, in the table of the view the rule is matched on.
    pub(crate) key: PatId,
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
        key: PatId,
        dim: usize,
    },
    /// The highest integer the first `*` captures, plus one (a block count).
    Count { name: String, key: PatId },
}

/// One way a family can be laid out (LDM, diffusers, BFL, …). Key patterns are ids in the
/// [`PatternTable`] of the view the rule is matched on (`RuleSet::key_patterns` or
/// `RuleSet::adapter_patterns`).
#[derive(Debug)]
pub(crate) struct Layout {
    pub(crate) name: String,
    pub(crate) require: Vec<PatId>,
    pub(crate) require_any: Vec<PatId>,
    pub(crate) forbid: Vec<PatId>,
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
    /// What the family's layouts may contain, as written (validated at load time); `None` when
    /// the rule declares no groups. Compiled on first use ([`Rule::groups`]): only the rules
    /// that win (or tie) on a file ever need them, and a one-file scan should not pay for
    /// compiling thousands of patterns (issue 19).
    pub(crate) groups_text: Option<Vec<String>>,
    /// `groups_text`, compiled on first use.
    pub(crate) groups_compiled: std::sync::OnceLock<Groups>,
    /// The family's fixed objective.
    pub(crate) prediction: Option<Prediction>,
}

/// A rule's `groups`, compiled.
#[derive(Debug)]
pub(crate) struct Groups {
    pub(crate) patterns: Vec<Pattern>,
    /// The groups may be evaluated once per key skeleton (`coverage::run_blind`; adapter
    /// rules, whose view is where `benign` does not apply).
    pub(crate) memo: bool,
    /// The groups as a trie of module paths (key-view rules).
    pub(crate) trie: Option<crate::coverage::GroupTrie>,
    /// `patterns` indexed by first segment.
    pub(crate) index: crate::coverage::GroupIndex,
}

impl Rule {
    /// The rule's compiled `groups` (`None` when it declares none), compiled on first use.
    pub(crate) fn groups(&self) -> Option<&Groups> {
        let text = self.groups_text.as_deref()?;
        Some(self.groups_compiled.get_or_init(|| {
            let patterns: Vec<Pattern> = text.iter().map(|p| Pattern::new(p)).collect();
            let adapter = self.role == Role::Adapter;
            let index = crate::coverage::GroupIndex::new(&patterns, adapter);
            Groups {
                memo: adapter && text.iter().all(|p| crate::coverage::run_blind(p)),
                trie: (!adapter).then(|| crate::coverage::GroupTrie::new(&patterns)),
                patterns,
                index,
            }
        }))
    }
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
    /// `benign` indexed by first segment (a key is tested against its bucket and the patterns
    /// that start with a wildcard only).
    pub(crate) benign_index: crate::coverage::GroupIndex,
    /// `strip_prefixes`, compiled for normalising names.
    pub(crate) stripper: crate::view::Stripper,
    /// `adapter_suffixes`, compiled for building the adapter view.
    pub(crate) suffix_index: crate::view::SuffixIndex,
    /// `adapter_targets`, compiled for building the adapter view.
    pub(crate) target_index: crate::view::TargetIndex,
    /// Every key pattern of the model and component rules (and the prediction markers),
    /// compiled together: the key views are matched against it once.
    pub(crate) key_patterns: PatternTable,
    /// Every key pattern of the adapter rules, compiled together for the adapter view.
    pub(crate) adapter_patterns: PatternTable,
    /// The prediction marker tensors, in `key_patterns`.
    pub(crate) markers: Markers,
}

/// The marker tensors that decide the training objective (see `Classifier::predict`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Markers {
    pub(crate) edm_vpred: PatId,
    pub(crate) v_pred: PatId,
    pub(crate) edm_mean: PatId,
    pub(crate) edm_std: PatId,
    pub(crate) ztsnr: PatId,
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

/// The embedded rule files as the build script parsed them (`build.rs`; postcard).
const BUILTIN_PARSED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/builtin-rules.postcard"));

/// How much validation a load does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// Everything (caller-supplied rule files, and the embedded ones in debug builds and tests).
    Full,
    /// Everything but the module-path patterns of `groups` and `benign` (thousands of them: a
    /// third of the load time). Only for the embedded rule files in release builds: the same
    /// files pass [`Check::Full`] in every debug build and in this crate's tests
    /// (`builtin_equals_parsing_the_toml`), and cannot change after the build.
    Embedded,
}

impl RuleSet {
    /// The key view and the adapter view of one file's (name, shape) pairs, each matched
    /// against this rule set's patterns once.
    pub(crate) fn views<'a>(
        &'a self,
        items: &[(&'a str, &'a [u64])],
    ) -> (crate::view::KeyView<'a>, crate::view::AdapterView<'a>) {
        let keys =
            crate::view::KeyView::build(items.iter().copied(), &self.stripper, &self.key_patterns);
        let adapter = crate::view::AdapterView::build(
            items,
            &keys,
            crate::view::AdapterNaming {
                targets: &self.adapter_targets,
                target_index: &self.target_index,
                suffixes: &self.adapter_suffixes,
                suffix_index: &self.suffix_index,
                strip: &self.stripper,
            },
            &self.adapter_patterns,
        );
        (keys, adapter)
    }

    /// The pattern table a rule's layout patterns are ids in (by the view it is matched on).
    pub(crate) fn patterns_of(&self, r: &Rule) -> &PatternTable {
        if r.role == Role::Adapter {
            &self.adapter_patterns
        } else {
            &self.key_patterns
        }
    }

    /// The embedded rule files: parsed from TOML at build time (`build.rs`), decoded from their
    /// binary form here, validated and compiled. About ten times faster than parsing the TOML
    /// (which `from_sources(BUILTIN_RULES, BUILTIN_LAYOUT)` still does, with the same result).
    pub(crate) fn builtin() -> Result<RuleSet, RuleError> {
        let b: crate::defs::Builtin =
            postcard::from_bytes(BUILTIN_PARSED).map_err(|e| RuleError::Embedded(e.to_string()))?;
        let check = if cfg!(debug_assertions) {
            Check::Full
        } else {
            Check::Embedded
        };
        Self::from_defs(b.rules, b.layout, check)
    }

    /// The embedded rule files plus caller-supplied ones (TOML, parsed here), in that order.
    pub(crate) fn builtin_and(extra: &[(&str, &str)]) -> Result<RuleSet, RuleError> {
        if extra.is_empty() {
            return Self::builtin();
        }
        let b: crate::defs::Builtin =
            postcard::from_bytes(BUILTIN_PARSED).map_err(|e| RuleError::Embedded(e.to_string()))?;
        let mut defs = b.rules;
        for (name, text) in extra {
            let f: RuleFile = parse(name, text)?;
            defs.extend(f.rule);
        }
        Self::from_defs(defs, b.layout, Check::Full)
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
        Self::from_defs(defs, layout, Check::Full)
    }

    /// Validates and compiles parsed rule files.
    pub(crate) fn from_defs(
        defs: Vec<RuleDef>,
        layout: LayoutFile,
        check: Check,
    ) -> Result<RuleSet, RuleError> {
        let mut by_id: HashMap<String, usize> = HashMap::with_capacity(defs.len());
        for (i, d) in defs.iter().enumerate() {
            if by_id.insert(d.id.clone(), i).is_some() {
                return Err(RuleError::DuplicateId(d.id.clone()));
            }
        }
        let mut rules = Vec::with_capacity(defs.len());
        let mut keys = Interner::default();
        let mut adapters = Interner::default();
        for d in defs {
            let patterns = if d.role == Role::Adapter {
                &mut adapters
            } else {
                &mut keys
            };
            rules.push(compile(d, &by_id, &layout.tables, check, patterns)?);
        }
        let markers = Markers {
            edm_vpred: keys.intern("edm_vpred.*"),
            v_pred: keys.intern("v_pred"),
            edm_mean: keys.intern("edm_mean"),
            edm_std: keys.intern("edm_std"),
            ztsnr: keys.intern("ztsnr"),
        };
        let benign = match &layout.benign {
            Some(list) => {
                check_patterns("layout.toml", "benign", list, false, Check::Full)?;
                list.iter().map(|p| Pattern::new(p)).collect()
            }
            None => Vec::new(),
        };
        Ok(RuleSet {
            benign_index: crate::coverage::GroupIndex::new(&benign, false),
            stripper: crate::view::Stripper::new(&layout.strip_prefixes),
            suffix_index: crate::view::SuffixIndex::new(&layout.adapter_suffix),
            target_index: crate::view::TargetIndex::new(&layout.adapter_target),
            key_patterns: keys.finish(false),
            adapter_patterns: adapters.finish(true),
            markers,
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

/// Validates a `groups` or `benign` list. `adapter` patterns name adapter-view module paths
/// (`target/module_path`) and must contain a `/`; the others must not. With
/// [`Check::Embedded`], only that the list is not empty.
fn check_patterns(
    rule: &str,
    what: &'static str,
    list: &[String],
    adapter: bool,
    check: Check,
) -> Result<(), RuleError> {
    if list.is_empty() {
        return Err(RuleError::EmptyList {
            rule: rule.to_owned(),
            what,
        });
    }
    if check == Check::Embedded {
        return Ok(());
    }
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
    }
    Ok(())
}

fn compile(
    d: RuleDef,
    by_id: &HashMap<String, usize>,
    tables: &BTreeMap<String, BTreeMap<String, String>>,
    check: Check,
    patterns: &mut Interner,
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
    fn pats(i: &mut Interner, v: &[String]) -> Vec<PatId> {
        v.iter().map(|s| i.intern(s)).collect()
    }
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
                key: patterns.intern(&s.key),
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
                    key: patterns.intern(k),
                    dim,
                }),
                (None, None, Some(c)) => derive.push(Derive::Count {
                    name: v.name.clone(),
                    key: patterns.intern(c),
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
            require: pats(patterns, &l.require),
            require_any: pats(patterns, &l.require_any),
            forbid: pats(patterns, &l.forbid),
            shape,
            derive,
        });
    }
    if let Some(list) = &d.groups {
        check_patterns(&d.id, "groups", list, d.role == Role::Adapter, check)?;
    }
    Ok(Rule {
        groups_text: d.groups,
        groups_compiled: std::sync::OnceLock::new(),
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn decoded() -> crate::defs::Builtin {
        postcard::from_bytes(BUILTIN_PARSED).unwrap()
    }

    /// A rule set's `Debug` text without the benign index (a `HashMap`, whose order varies),
    /// which is built from `benign`, which is compared.
    fn shown(mut set: RuleSet) -> String {
        set.benign_index = crate::coverage::GroupIndex::default();
        format!("{set:?}")
    }

    /// The build script's binary form gives the same compiled rules as parsing the TOML at run
    /// time, with either level of checking (release builds use `Check::Embedded`).
    #[test]
    fn builtin_equals_parsing_the_toml() {
        let toml = RuleSet::from_sources(BUILTIN_RULES, BUILTIN_LAYOUT).unwrap();
        assert!(toml.rules.len() > 100, "{} rules", toml.rules.len());
        let want = shown(toml);
        assert!(
            shown(RuleSet::builtin().unwrap()) == want,
            "builtin differs"
        );
        let b = decoded();
        let embedded = RuleSet::from_defs(b.rules, b.layout, Check::Embedded).unwrap();
        assert!(shown(embedded) == want, "Check::Embedded differs");
        assert!(
            shown(RuleSet::builtin_and(&[]).unwrap()) == want,
            "no extra files: the embedded set"
        );
    }

    /// Every rule file `BUILTIN_RULES` embeds is in the binary form, in the same order.
    #[test]
    fn binary_form_holds_every_embedded_rule_in_order() {
        let mut ids = Vec::new();
        for (name, text) in BUILTIN_RULES {
            let f: RuleFile = parse(name, text).unwrap();
            ids.extend(f.rule.into_iter().map(|r| r.id));
        }
        let got: Vec<String> = decoded().rules.into_iter().map(|r| r.id).collect();
        assert_eq!(got, ids);
    }

    #[test]
    fn extra_rule_files_come_after_the_embedded_ones() {
        let extra = r#"
[[rule]]
id = "test-extra"
mir = "mir:model.dit.test-extra"
role = "model"
[[rule.layout]]
name = "x"
require = ["test_extra_marker.weight"]
"#;
        let mut files: Vec<(&str, &str)> = BUILTIN_RULES.to_vec();
        files.push(("extra.toml", extra));
        let want = shown(RuleSet::from_sources(&files, BUILTIN_LAYOUT).unwrap());
        let got = RuleSet::builtin_and(&[("extra.toml", extra)]).unwrap();
        assert_eq!(got.rules.last().unwrap().id, "test-extra");
        assert!(shown(got) == want, "builtin_and differs from from_sources");
        // An extra file is checked fully: a malformed group is refused, naming the rule.
        let bad = extra.replace("[[rule.layout]]", "groups = [\"a..b\"]\n[[rule.layout]]");
        match RuleSet::builtin_and(&[("extra.toml", &bad)]) {
            Err(RuleError::BadPattern { rule, pattern, .. }) => {
                assert_eq!(rule, "test-extra");
                assert_eq!(pattern, "a..b");
            }
            other => panic!("expected BadPattern, got {other:?}"),
        }
    }

    /// `groups` are compiled on first use, once, to what an eager compile gives.
    #[test]
    fn groups_compile_once_on_first_use() {
        let set = RuleSet::builtin().unwrap();
        let rule = set.rules.iter().find(|r| r.groups_text.is_some()).unwrap();
        assert!(rule.groups_compiled.get().is_none());
        let g = rule.groups().unwrap();
        assert!(std::ptr::eq(g, rule.groups().unwrap()));
        let text = rule.groups_text.as_ref().unwrap();
        let eager: Vec<Pattern> = text.iter().map(|p| Pattern::new(p)).collect();
        assert_eq!(g.patterns, eager);
        let none = set.rules.iter().find(|r| r.groups_text.is_none());
        if let Some(r) = none {
            assert!(r.groups().is_none());
        }
    }

    /// The benign index answers as testing every benign pattern does.
    #[test]
    fn benign_index_agrees_with_every_pattern() {
        let set = RuleSet::builtin().unwrap();
        let ex = crate::coverage::Explainer {
            groups: &[],
            index: &crate::coverage::GroupIndex::default(),
            benign: &set.benign,
            benign_index: &set.benign_index,
            trie: None,
            adapter: false,
            memo: false,
        };
        let keys = [
            "scaled_fp8",
            "scaled_fp8.x",
            "scaled_fp8x",
            "a.scale_weight",
            "a.b.scale_weight.c",
            "scale_weight",
            ".scale_weight",
            "a.scale_weightx",
            "lora_te_text_model_encoder_layers_0_mlp_fc1.alpha",
            "lora_unet_x.alpha.y",
            "lycoris_a.alpha",
            "lora_.alpha",
            "model_ema.decay",
            "model_ema",
            "edm_vpred.sigma_min",
            "edm_vpred",
            "v_pred",
            "v_pred.x",
            "ztsnr",
            "double_blocks.0.img_attn.qkv.weight",
            "x.comfy_quant",
            "",
        ];
        let mut hits = 0;
        for k in keys {
            let want = set.benign.iter().any(|p| p.matches_module(k, false));
            assert_eq!(ex.benign_only(k), want, "{k:?}");
            hits += usize::from(want);
        }
        assert!(hits >= 10, "{hits}");
    }

    /// The suffix index (buckets and tails) picks what `max_by_key` over every suffix picks.
    #[test]
    fn suffix_index_agrees_with_every_suffix() {
        let set = RuleSet::builtin().unwrap();
        let mut names: Vec<String> = vec![
            "a".into(),
            "".into(),
            "weight".into(),
            "x.weight".into(),
            "down.weight".into(),
            "model.diffusion_model.input_blocks.0.0.weight".into(),
            "x.alpha".into(),
        ];
        for s in &set.adapter_suffixes {
            let x = &s.suffix;
            names.push(format!("lora_unet_down_blocks_0{x}"));
            names.push(x.clone());
            names.push(format!("a{x}x"));
            names.push(x.get(1..).unwrap_or("").to_owned());
            names.push(format!("q{}", x.get(1..).unwrap_or("")));
        }
        let mut adapter = 0;
        for n in &names {
            let want = set
                .adapter_suffixes
                .iter()
                .filter(|s| n.len() > s.suffix.len() && n.ends_with(s.suffix.as_str()))
                .max_by_key(|s| s.suffix.len())
                .map(|s| &s.suffix);
            let got = set
                .suffix_index
                .longest(n, &set.adapter_suffixes)
                .map(|s| &s.suffix);
            assert_eq!(got, want, "{n}");
            adapter += usize::from(got.is_some());
        }
        assert!(adapter >= set.adapter_suffixes.len(), "{adapter}");
    }
}
