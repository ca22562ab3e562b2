//! Turns a [`TensorIndex`] (plus metadata, a sibling config and hashes) into MIR IDs, with the
//! evidence that decided them.
//!
//! # Brief overview
//!
//! * Per-family knowledge lives in TOML rule files under `rules/` (see the crate README), embedded
//!   at build time and validated once by [`Classifier::builtin`].
//! * Tensor names are normalised first ([`normalize_key`]): wrapper prefixes such as
//!   `model.diffusion_model.` or `module.` and PEFT's `.default` go away, so one rule covers the
//!   original, ComfyUI, ckpt and city96-GGUF layouts. Adapter tensors are also rewritten into an
//!   adapter view (`unet/<module>.down`), so kohya and PEFT LoRAs share rules.
//! * Every rule is evaluated; `overrides` and `fallback` settle overlaps; the rest are ranked
//!   metadata ► structure ► filename. An exact hash match in an optional [`MirDatabase`] fills
//!   in what structure cannot decide (a finetune, a distillation LoRA, an ambiguous VAE).
//!
//! ```
//! use mir_classify::{Classifier, Input, testing::index_from_spec};
//! let index = index_from_spec(
//!     "double_blocks.0.img_attn.qkv.weight [9216,3072]\n\
//!      double_blocks.0.img_attn.norm.key_norm.scale [128]\n\
//!      single_blocks.0.linear1.weight [21504,3072]\n\
//!      img_in.weight [3072,64]\n\
//!      guidance_in.in_layer.weight [3072,256]\n",
//! ).unwrap();
//! let c = Classifier::builtin().unwrap();
//! let out = c.classify(&Input::new(&index));
//! assert_eq!(out.mir.unwrap().to_string(), "mir:model.dit.flux-1-dev");
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::panic
)]

mod coverage;
mod db;
mod defs;
mod engine;
mod glob;
mod ids;
mod matcher;
mod rules;
pub mod testing;
mod view;

use std::collections::BTreeMap;

use mir_core::TensorIndex;
use mir_id::{Domain, MirId};

pub use coverage::{Coverage, UnexplainedGroup};
pub use db::{DbError, MirDatabase, SENTINEL_B3_NONE, SENTINEL_SHA256_NONE};
pub use defs::Prediction;
pub use ids::IdRow;
pub use rules::RuleError;
pub use view::normalize_key;

use engine::{Ctx, Hit, Meta, rank};
use rules::{Role, RuleSet};
use view::{AdapterView, KeyView};

/// The hashes of a file that the MIR database may know (lowercase hex).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hashes<'a> {
    /// SHA-256 of the whole file.
    pub file_256: Option<&'a str>,
    /// SHA-256 of the MIR layer string.
    pub layer_256: Option<&'a str>,
    /// BLAKE3 of the MIR layer string.
    pub layer_b3: Option<&'a str>,
}

/// What the classifier looks at for one file (or one sharded model).
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// The tensor index; for a sharded model, all shards merged.
    pub index: &'a TensorIndex,
    /// The file's name, for the filename fallback.
    pub file_name: Option<&'a str>,
    /// A sibling `config.json`'s `model_type`, if any.
    pub config_model_type: Option<&'a str>,
    /// The base model a sibling `adapter_config.json` names (PEFT `base_model_name_or_path`,
    /// mlx-lm `model`), if any; rules read it as metadata
    /// `adapter_config.base_model_name_or_path`.
    pub adapter_base: Option<&'a str>,
    /// The file's hashes, for the database lookup.
    pub hashes: Hashes<'a>,
}

impl<'a> Input<'a> {
    /// An input with only an index.
    pub fn new(index: &'a TensorIndex) -> Self {
        Input {
            index,
            file_name: None,
            config_model_type: None,
            adapter_base: None,
            hashes: Hashes::default(),
        }
    }
}

/// Which kind of evidence decided an ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EvidenceKind {
    /// File metadata (`modelspec.architecture`, `general.architecture`, `ss_*`, config `model_type`).
    Metadata,
    /// Tensor names and shapes.
    Structure,
    /// An exact hash match in the MIR database.
    Hash,
    /// The file name.
    Filename,
}

impl EvidenceKind {
    /// Lowercase name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Metadata => "metadata",
            EvidenceKind::Structure => "structure",
            EvidenceKind::Hash => "hash",
            EvidenceKind::Filename => "filename",
        }
    }
}

/// One part of an all-in-one checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    /// The part's ID, with the pipeline's series as compat.
    pub mir: MirId,
    /// The key prefix the part lives under, e.g. `first_stage_model.`.
    pub prefix: String,
}

/// The database entry a hash matched.
#[derive(Clone, Debug, PartialEq)]
pub struct DbMatch {
    /// The database key, e.g. `info.unet.stable-diffusion-xl-1`.
    pub key: String,
    /// The compat entry as the database spells it (`*` for the base entry).
    pub compat: String,
    /// Which field matched: `file_256`, `layer_256` or `layer_b3`.
    pub field: String,
    /// The entry's `repo`.
    pub repo: Option<String>,
    /// The entry's `pkg`.
    pub pkg: Option<serde_json::Value>,
    /// The entry as a `model` domain ID, with the database's names mapped onto ours.
    pub mir: Option<MirId>,
    /// False for a layer-hash-only match of a `lora` or `vae` entry, which is reported but not
    /// used to name the file.
    pub trusted: bool,
}

/// What the classifier decided about one file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Classification {
    /// The file's ID, if one was decided.
    pub mir: Option<MirId>,
    /// When the evidence is ambiguous: the IDs it could be.
    pub candidates: Vec<MirId>,
    /// The parts of an all-in-one checkpoint.
    pub components: Vec<Component>,
    /// Human-readable evidence, e.g. `key double_blocks.0.img_attn.qkv.weight present`.
    pub evidence: Vec<String>,
    /// 0.0..=1.0.
    pub confidence: f32,
    /// Which kind of evidence decided the ID.
    pub decided_by: Option<EvidenceKind>,
    /// The precision entry of the dominant dtype, e.g. `mir:ops.precision.float:F16`.
    pub precision: Option<MirId>,
    /// The database entry a hash matched, if any.
    pub database: Option<DbMatch>,
    /// How much of the file the winning rule's module groups explain; `None` when the rule
    /// declares no groups (or no rule won).
    pub coverage: Option<Coverage>,
    /// The training objective, when a marker tensor, metadata or the family decides it.
    pub prediction: Option<Prediction>,
}

/// The compiled rules and an optional MIR database.
#[derive(Debug)]
pub struct Classifier {
    rules: RuleSet,
    db: Option<MirDatabase>,
}

/// Lowercases and turns anything outside `[a-z0-9-]` into `-` (for metadata-derived fields).
fn sanitize(s: &str) -> String {
    let mut out: String = s
        .trim()
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').to_owned()
}

impl Classifier {
    /// The embedded rule files, parsed and validated.
    pub fn builtin() -> Result<Classifier, RuleError> {
        Ok(Classifier {
            rules: RuleSet::builtin()?,
            db: None,
        })
    }

    /// Rules from caller-supplied TOML texts, as `(name, text)`: rule files in the format of
    /// `rules/*.toml` and one layout file in the format of `rules/layout.toml`.
    pub fn from_sources(
        rule_files: &[(&str, &str)],
        layout: (&str, &str),
    ) -> Result<Classifier, RuleError> {
        Ok(Classifier {
            rules: RuleSet::from_sources(rule_files, layout)?,
            db: None,
        })
    }

    /// The embedded rule files plus caller-supplied ones, as `(name, TOML text)` in the format of
    /// `rules/*.toml`, after them: the same classifier as `from_sources` over
    /// [`Classifier::builtin_sources`] and `extra`, without parsing the embedded TOML again (it
    /// was parsed at build time).
    pub fn builtin_and(extra: &[(&str, &str)]) -> Result<Classifier, RuleError> {
        Ok(Classifier {
            rules: RuleSet::builtin_and(extra)?,
            db: None,
        })
    }

    /// The embedded rule files, as `(name, text)`, for callers that extend them.
    pub fn builtin_sources() -> (
        &'static [(&'static str, &'static str)],
        (&'static str, &'static str),
    ) {
        (rules::BUILTIN_RULES, rules::BUILTIN_LAYOUT)
    }

    /// Adds a MIR database for hash lookups.
    pub fn with_database(self, db: MirDatabase) -> Classifier {
        Classifier {
            db: Some(db),
            ..self
        }
    }

    /// The number of compiled rules.
    pub fn rule_count(&self) -> usize {
        self.rules.rules.len()
    }

    /// Classifies one file. Never panics, whatever the index holds.
    pub fn classify(&self, input: &Input<'_>) -> Classification {
        let rs = &self.rules;
        let tensors = &input.index.tensors;
        let items: Vec<(&str, &[u64])> = tensors
            .iter()
            .map(|t| (t.name.as_str(), t.shape.as_slice()))
            .collect();
        // Both views are built (and matched against every rule's patterns) once; key view
        // entry `i` is tensor `i`.
        let (keys, adapter) = rs.views(&items);
        // A file without tensors holds no weights (llama.cpp's vocabulary-only GGUFs, a
        // metadata-only safetensors): what its metadata claims (`general.architecture`,
        // `general.file_type` = F16) describes a model it does not contain, so no metadata rule
        // may name it. Only its file name or an exact hash still can.
        let no_weights = tensors.is_empty();
        let no_metadata = BTreeMap::new();
        let meta = Meta {
            map: if no_weights {
                &no_metadata
            } else {
                &input.index.metadata
            },
            config_model_type: input.config_model_type.filter(|_| !no_weights),
            adapter_base: input.adapter_base.filter(|_| !no_weights),
        };
        let base_name = input.file_name.map(|f| {
            f.rsplit(['/', '\\'])
                .next()
                .unwrap_or(f)
                .to_ascii_lowercase()
        });
        let ctx = Ctx {
            keys: &keys,
            adapter: (!adapter.keys.is_empty()).then_some(&adapter),
            meta: &meta,
            file_name: base_name.as_deref(),
        };
        let mut out = Classification {
            precision: input.index.dominant_dtype().and_then(|d| {
                let (series, compat) = d.mir_precision()?;
                MirId::new_lenient(Domain::Ops, "precision", series, Some(compat)).ok()
            }),
            ..Classification::default()
        };
        // A rule whose ID template needs a value the file lacks cannot name it.
        let usable = |r: &rules::Rule| self.render(&r.mir, &ctx, "lora").is_some();
        let hits = rank(
            rs,
            &ctx,
            &[Role::Model, Role::Adapter, Role::Component],
            &usable,
        );
        let mut bundle = false;
        let mut winner = None;
        let mut tally = None;
        if let Some(best) = hits.first() {
            bundle = self.apply_hit(best, &hits, &ctx, &adapter, &mut out);
            if out.mir.is_some() {
                winner = rs.rules.get(best.rule);
                tally = best.tally.clone();
            }
        }
        if bundle || out.mir.is_none() {
            self.find_components(input.index, &mut out);
            if out.mir.is_none()
                && let [only] = out.components.as_slice()
            {
                out.mir = only.mir.with_compat(None).ok();
                out.decided_by = Some(EvidenceKind::Structure);
                out.confidence = 0.8;
                out.evidence
                    .push(format!("the only part found lives under {}", only.prefix));
            }
        }
        if let Some(rule) = winner {
            self.open_world(rule, tally, &ctx, &keys, &adapter, &mut out);
        }
        self.predict(&keys, &meta, winner, &mut out);
        self.apply_database(input.hashes, &mut out);
        if no_weights {
            out.evidence.push(
                "the file holds no tensors (no weights): its metadata names no model".to_owned(),
            );
        }
        out
    }

    /// Measures how much of the file the winning rule's groups explain and, when something is
    /// left unexplained, withdraws the family's ID (see "Coverage" in the crate README).
    fn open_world(
        &self,
        rule: &rules::Rule,
        tally: Option<coverage::Tally>,
        ctx: &Ctx<'_>,
        keys: &KeyView<'_>,
        adapter: &AdapterView<'_>,
        out: &mut Classification,
    ) {
        let rs = &self.rules;
        let Some(ex) = engine::explainer(rs, rule) else {
            return;
        };
        let mut tally = match tally {
            Some(t) => t,
            None => match engine::tally_rule(rs, rule, ctx, false) {
                Some(t) => t,
                None => return,
            },
        };
        if ex.adapter {
            // Tensors outside the adapter view (kohya `.alpha`, stray base weights), by their
            // normalised names (the key view's entry `i` is tensor `i`).
            for (k, shape) in adapter.others.iter().filter_map(|&i| keys.entry(i)) {
                tally.add(k, shape, ex.benign_only(k), false);
            }
        } else {
            // Bundle parts whose component was recognised explain their tensors.
            let found: Vec<&str> = rs
                .bundle_parts
                .iter()
                .map(|b| b.prefix.as_str())
                .filter(|p| out.components.iter().any(|c| c.prefix.starts_with(p)))
                .collect();
            // Only names under some part prefix can be under this one.
            let bundled = keys.bundled(&rs.bundle_parts);
            for part in &rs.bundle_parts {
                let explained = found.contains(&part.prefix.as_str());
                for (k, shape) in keys
                    .iter()
                    .zip(bundled)
                    .filter(|(_, b)| **b)
                    .map(|(e, _)| e)
                    .filter(|(k, _)| glob::has_prefix(k, &part.prefix))
                {
                    tally.add(k, shape, explained, false);
                }
            }
        }
        let cov = tally.finish();
        let Some(id) = out.mir.clone() else {
            return;
        };
        if cov.is_full() {
            out.evidence.push(format!(
                "coverage: all {} tensors are in module groups rule {} declares",
                cov.tensors_total, rule.id
            ));
            out.coverage = Some(cov);
            return;
        }
        let mut list: Vec<String> = cov
            .unexplained
            .iter()
            .map(|g| format!("{} ({})", g.group, g.tensors))
            .collect();
        if cov.unexplained_more > 0 {
            list.push(format!("and {} more", cov.unexplained_more));
        }
        // Strict: one module group the family does not have is enough (see the README).
        let demoted = if ex.adapter || id.arch() == "lora" {
            id.with_compat(None).ok()
        } else {
            MirId::new(Domain::Dev, id.arch(), "unknown", None).ok()
        };
        out.evidence.push(format!(
            "open world: {} of {} tensors ({:.1}% of parameters) are in module groups rule {} \
             does not declare: {}",
            cov.tensors_unexplained,
            cov.tensors_total,
            (1.0 - cov.parameters) * 100.0,
            rule.id,
            list.join(", ")
        ));
        if let Some(d) = demoted
            && d != id
        {
            out.evidence.push(format!(
                "not named {id}: the file holds something that family does not have"
            ));
            let mut cands = vec![id];
            for c in out.candidates.drain(..) {
                if !cands.contains(&c) {
                    cands.push(c);
                }
            }
            out.candidates = cands;
            out.mir = Some(d);
        }
        let cap = (0.5 * cov.tensors).clamp(0.05, 0.5) as f32;
        out.confidence = out.confidence.min(cap);
        out.coverage = Some(cov);
    }

    /// Decides the training objective: a marker tensor, then metadata, then the family's rule.
    fn predict(
        &self,
        keys: &KeyView<'_>,
        meta: &Meta<'_>,
        winner: Option<&rules::Rule>,
        out: &mut Classification,
    ) {
        let m = self.rules.markers;
        let has = |p| keys.any(p);
        let mut found: Option<(Prediction, String)> = None;
        if has(m.edm_vpred) {
            found = Some((
                Prediction::Edm,
                "edm_vpred.* present: v-prediction under EDM preconditioning".to_owned(),
            ));
        } else if has(m.v_pred) {
            found = Some((Prediction::V, "marker tensor v_pred present".to_owned()));
        } else if has(m.edm_mean) && has(m.edm_std) {
            found = Some((
                Prediction::Edm,
                "edm_mean and edm_std present (EDM latent statistics)".to_owned(),
            ));
        }
        if has(m.ztsnr) {
            out.evidence
                .push("marker tensor ztsnr present: zero terminal SNR schedule".to_owned());
        }
        if found.is_none()
            && let Some(v) = meta.text("modelspec.prediction_type")
        {
            let p = match v.trim().to_ascii_lowercase().as_str() {
                "epsilon" | "eps" => Some(Prediction::Eps),
                "v" | "v_prediction" | "v-prediction" | "v_pred" => Some(Prediction::V),
                "edm" => Some(Prediction::Edm),
                "flow" | "rectified_flow" | "flow_matching" | "flow-matching" => {
                    Some(Prediction::Flow)
                }
                _ => None,
            };
            match p {
                Some(p) => found = Some((p, format!("metadata modelspec.prediction_type = {v:?}"))),
                None => out.evidence.push(format!(
                    "metadata modelspec.prediction_type = {v:?} is not a known objective"
                )),
            }
        }
        if found.is_none()
            && let Some(v) = meta.text("ss_v_parameterization")
            && v.trim().eq_ignore_ascii_case("true")
        {
            found = Some((
                Prediction::V,
                format!("metadata ss_v_parameterization = {v:?}"),
            ));
        }
        // The family's fixed objective applies only while the file is named as that family.
        let named = out.coverage.as_ref().is_none_or(Coverage::is_full);
        if found.is_none()
            && named
            && let Some(r) = winner
            && let Some(p) = r.prediction
        {
            found = Some((p, format!("rule {} is a {} family", r.id, p.as_str())));
        }
        if let Some((p, ev)) = found {
            out.evidence
                .push(format!("prediction {}: {ev}", p.as_str()));
            out.prediction = Some(p);
        }
    }

    /// Renders a rule's ID template; `None` when a placeholder has no value.
    fn render(&self, template: &str, ctx: &Ctx<'_>, adapter_series: &str) -> Option<MirId> {
        let mut text = String::new();
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            let (head, tail) = rest.split_at(start);
            text.push_str(head);
            let end = tail.find('}')?;
            let name = tail.get(1..end)?;
            let value = if name == "adapter" {
                adapter_series.to_owned()
            } else if let Some(k) = name.strip_prefix("meta:") {
                sanitize(&ctx.meta.text(k)?)
            } else {
                return None;
            };
            if value.is_empty() {
                return None;
            }
            text.push_str(&value);
            rest = tail.get(end.saturating_add(1)..).unwrap_or("");
        }
        text.push_str(rest);
        MirId::parse(&text).ok()
    }

    /// Fills `out` from the best hit; returns whether the rule asks for bundle parts.
    fn apply_hit(
        &self,
        best: &Hit,
        hits: &[Hit],
        ctx: &Ctx<'_>,
        adapter: &AdapterView<'_>,
        out: &mut Classification,
    ) -> bool {
        let rs = &self.rules;
        let Some(rule) = rs.rules.get(best.rule) else {
            return false;
        };
        // The adapter flavour: a distillation LoRA named by metadata or file name, else the
        // LyCORIS/LoRA kind seen in the tensor names.
        let mut series = adapter.kind().unwrap_or("lora").to_owned();
        let mut flavour_by = None;
        if rule.role == Role::Adapter {
            for f in &rs.flavours {
                if let Some(ev) = ctx.meta.first_hit(&f.meta) {
                    series = f.series.clone();
                    out.evidence.push(format!("{ev} names a {} LoRA", f.series));
                    flavour_by = Some(EvidenceKind::Metadata);
                    break;
                }
                let lower = ctx.file_name.map(str::to_ascii_lowercase);
                if let Some(tok) = lower
                    .as_deref()
                    .and_then(|n| f.filename.iter().find(|t| n.contains(t.as_str())))
                {
                    series = f.series.clone();
                    out.evidence
                        .push(format!("file name contains {tok:?} ({} LoRA)", f.series));
                    flavour_by = Some(EvidenceKind::Filename);
                    break;
                }
            }
            out.evidence.push(format!(
                "adapter tensors: {}; parts: {}",
                adapter
                    .kinds
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                adapter.parts()
            ));
        }
        let Some(mut id) = self.render(&rule.mir, ctx, &series) else {
            out.evidence.push(format!(
                "rule {} matched but its ID could not be built",
                rule.id
            ));
            return false;
        };
        if let Some(cf) = &rule.compat_from
            && let Some(v) = ctx.meta.text(&cf.key)
        {
            match rs.tables.get(&cf.table).and_then(|t| t.get(v.trim())) {
                Some(c) => {
                    if let Ok(with) = id.with_compat(Some(c)) {
                        id = with;
                        out.evidence
                            .push(format!("metadata {} = {v} means {c}", cf.key));
                    }
                }
                None => out.evidence.push(format!(
                    "metadata {} = {v} is not in table {}",
                    cf.key, cf.table
                )),
            }
        }
        out.evidence.push(format!("rule {}", rule.id));
        if let Some(m) = &best.meta {
            out.evidence.push(m.clone());
        }
        if let Some((name, ev, _)) = &best.layout {
            out.evidence.push(format!("layout {name}"));
            out.evidence.extend(ev.iter().cloned());
        }
        if let Some(f) = &best.filename {
            out.evidence.push(format!("file name contains {f:?}"));
        }
        if let Some(n) = &rule.note {
            out.evidence.push(n.clone());
        }
        let mut decided = if best.meta.is_some() {
            EvidenceKind::Metadata
        } else if best.layout.is_some() && !rule.require_filename {
            EvidenceKind::Structure
        } else {
            EvidenceKind::Filename
        };
        if let Some(f) = flavour_by
            && decided != EvidenceKind::Metadata
        {
            decided = f;
        }
        let mut confidence: f32 = match (best.meta.is_some(), best.layout.is_some()) {
            (true, true) => 0.99,
            (true, false) => 0.9,
            (false, true) if rule.fallback => 0.5,
            (false, true) if rule.require_filename => 0.7,
            (false, true) => 0.95,
            (false, false) => 0.3,
        };
        if decided == EvidenceKind::Filename {
            confidence = confidence.min(0.7);
        }
        if best.meta_decisive {
            if !rule.candidates.is_empty() {
                out.evidence
                    .push("the metadata settles what structure leaves open".to_owned());
            }
        } else {
            out.candidates = rule
                .candidates
                .iter()
                .filter_map(|c| self.render(c, ctx, &series))
                .collect();
        }
        // A tie with another rule that names something else makes the result ambiguous.
        let score = best.score(&rs.rules);
        for other in hits.iter().skip(1) {
            if other.score(&rs.rules) != score {
                break;
            }
            let Some(orule) = rs.rules.get(other.rule) else {
                continue;
            };
            let Some(oid) = self.render(&orule.mir, ctx, &series) else {
                continue;
            };
            if oid != id {
                out.evidence
                    .push(format!("rule {} matches equally well", orule.id));
                if !out.candidates.contains(&id) {
                    out.candidates.push(id.clone());
                }
                if !out.candidates.contains(&oid) {
                    out.candidates.push(oid.clone());
                }
                if oid.arch() == id.arch() && oid.series() == id.series() {
                    id = id.with_compat(None).unwrap_or(id);
                }
            }
        }
        // When metadata decided, say so if structure points elsewhere.
        if best.layout.is_none() {
            for other in hits.iter().skip(1) {
                if other.layout.is_some()
                    && let Some(orule) = rs.rules.get(other.rule)
                    && orule.role == rule.role
                    && let Some(oid) = self.render(&orule.mir, ctx, &series)
                    && oid.series() != id.series()
                {
                    out.evidence.push(format!(
                        "structure alone suggests {oid} (rule {}); metadata wins",
                        orule.id
                    ));
                    break;
                }
            }
        }
        if !out.candidates.is_empty() {
            confidence = confidence.min(0.6);
        }
        out.mir = Some(id);
        out.decided_by = Some(decided);
        out.confidence = confidence;
        rule.bundle
    }

    /// Looks for the parts of an all-in-one checkpoint under the known bundle prefixes.
    fn find_components(&self, index: &TensorIndex, out: &mut Classification) {
        let rs = &self.rules;
        let pipeline = out.mir.as_ref().map(|m| m.series().to_owned());
        // One pass over the names sorts them into the parts (a name is compared with the part
        // prefixes only when its first byte starts one of them).
        let mut starts = [false; 256];
        for part in &rs.bundle_parts {
            if let Some(s) = part
                .prefix
                .as_bytes()
                .first()
                .and_then(|&b| starts.get_mut(usize::from(b)))
            {
                *s = true;
            }
        }
        let mut subs: Vec<Vec<(&str, &[u64])>> = vec![Vec::new(); rs.bundle_parts.len()];
        for t in &index.tensors {
            let first = t.name.as_bytes().first().map(|&b| usize::from(b));
            if !first.is_some_and(|b| starts.get(b).copied().unwrap_or(false)) {
                // An empty prefix (never written) would hold every name.
                if !rs.bundle_parts.iter().any(|p| p.prefix.is_empty()) {
                    continue;
                }
            }
            for (part, sub) in rs.bundle_parts.iter().zip(subs.iter_mut()) {
                if glob::has_prefix(&t.name, &part.prefix)
                    && let Some(n) = t.name.get(part.prefix.len()..)
                {
                    sub.push((n, t.shape.as_slice()));
                }
            }
        }
        for (part, sub) in rs.bundle_parts.iter().zip(subs) {
            let Some(&(first, _)) = sub.first() else {
                continue;
            };
            let keys = KeyView::build(sub.iter().copied(), &rs.stripper, &rs.key_patterns);
            let wrapper = keys.min_removed();
            let prefix = format!("{}{}", part.prefix, first.get(..wrapper).unwrap_or(""));
            let sub_ctx = Ctx {
                keys: &keys,
                adapter: None,
                meta: &Meta {
                    map: &std::collections::BTreeMap::new(),
                    config_model_type: None,
                    adapter_base: None,
                },
                file_name: None,
            };
            let hits = rank(rs, &sub_ctx, &[Role::Component], &|_| true);
            let Some(best) = hits.first() else {
                out.evidence
                    .push(format!("unrecognised part under {}", part.prefix));
                continue;
            };
            let Some(rule) = rs.rules.get(best.rule) else {
                continue;
            };
            let Some(id) = self.render(&rule.mir, &sub_ctx, "lora") else {
                continue;
            };
            let id = match &pipeline {
                Some(p) => id.with_compat(Some(p)).unwrap_or(id),
                None => id,
            };
            out.evidence
                .push(format!("part {id} under {prefix} (rule {})", rule.id));
            out.components.push(Component { mir: id, prefix });
        }
    }

    /// Maps a database key and compat onto a `model` ID using the alias tables.
    fn db_model_id(&self, key: &str, compat: &str) -> Option<MirId> {
        let a = &self.rules.db;
        let (base, alias_compat) = match a.series.get(key) {
            Some(v) => {
                let id = MirId::parse(&format!("model.{v}")).ok()?;
                let c = id.compat().map(str::to_owned);
                (id.with_compat(None).ok()?, c)
            }
            None => {
                let mut parts = key.splitn(3, '.');
                let _domain = parts.next()?;
                let arch = parts.next()?;
                let series = parts.next()?;
                let arch = a.arch.get(arch).map_or(arch, String::as_str);
                (
                    MirId::new(Domain::Model, &sanitize(arch), &sanitize(series), None).ok()?,
                    None,
                )
            }
        };
        let compat = if compat == "*" {
            alias_compat
        } else {
            match a.compat.get(compat) {
                Some(c) if c.is_empty() => alias_compat,
                Some(c) => Some(c.clone()),
                None => Some(sanitize(compat)),
            }
        };
        match compat.filter(|c| !c.is_empty()) {
            Some(c) => base.with_compat(Some(&c)).ok(),
            None => Some(base),
        }
    }

    /// Looks the file's hashes up and merges what the database says.
    fn apply_database(&self, hashes: Hashes<'_>, out: &mut Classification) {
        let Some(db) = &self.db else {
            return;
        };
        let given = [hashes.file_256, hashes.layer_256, hashes.layer_b3];
        let found = db::FIELDS.iter().zip(given).find_map(|(field, h)| {
            let e = *db.lookup(field, h?).first()?;
            Some(e.clone())
        });
        let Some(e) = found else {
            return;
        };
        let db_arch = e.key.split('.').nth(1).unwrap_or("");
        let trusted = e.field == "file_256"
            || !self
                .rules
                .db
                .low_tolerance
                .iter()
                .any(|a| a.as_str() == db_arch);
        let dbid = self.db_model_id(&e.key, &e.compat);
        out.database = Some(DbMatch {
            key: e.key.clone(),
            compat: e.compat.clone(),
            field: e.field.to_owned(),
            repo: e.repo.clone(),
            pkg: e.pkg.clone(),
            mir: dbid.clone(),
            trusted,
        });
        let what = format!("{} matches {}:{}", e.field, e.key, e.compat);
        if !trusted {
            out.evidence.push(format!(
                "{what}; a layer hash alone is not trusted for {db_arch}"
            ));
            return;
        }
        let Some(dbid) = dbid else {
            out.evidence.push(format!("{what}; no model ID maps to it"));
            return;
        };
        let conf = if e.field == "file_256" { 0.97 } else { 0.85 };
        // Precedence: an exact hash outranks what only the file name said.
        let name_only = out.decided_by == Some(EvidenceKind::Filename);
        let Some(cur) = out.mir.clone() else {
            out.evidence.push(what);
            out.mir = Some(dbid);
            out.decided_by = Some(EvidenceKind::Hash);
            out.confidence = conf - 0.1;
            return;
        };
        let same_family = cur.arch() == dbid.arch() && cur.series() == dbid.series();
        // An architecture-only result (`mir:dev.dit.unknown`) is refined by a hash of the same arch.
        let refines_dev = cur.domain() == Domain::Dev && cur.arch() == dbid.arch();
        let in_candidates = out
            .candidates
            .iter()
            .any(|c| c.arch() == dbid.arch() && c.series() == dbid.series());
        let adapter_flavour = cur.arch() == "lora"
            && dbid.arch() == "lora"
            && (cur.compat().is_none() || cur.compat() == dbid.compat() || name_only);
        if (same_family && (cur.compat().is_none() || name_only))
            || in_candidates
            || adapter_flavour
            || refines_dev
            || (name_only && cur.arch() == dbid.arch())
        {
            if dbid != cur {
                out.evidence.push(format!("{what}, which names {dbid}"));
                out.mir = Some(dbid);
                out.decided_by = Some(EvidenceKind::Hash);
                out.confidence = out.confidence.max(conf);
            } else {
                out.evidence.push(format!("{what}, which agrees"));
            }
        } else if same_family {
            out.evidence
                .push(format!("{what} ({dbid}); the structural compat is kept"));
        } else {
            out.evidence.push(format!(
                "{what} ({dbid}), which disagrees with {cur}; the file's own evidence is kept"
            ));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    /// Names built from the real wrapper prefixes, adapter suffixes and a few segments, in any
    /// order: enough to hit nested wrappers, `.default.`, prefixes that are the whole name, and
    /// suffixes that are prefixes of one another.
    fn name_strategy(rs: &RuleSet) -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let mut pieces: Vec<String> = rs.strip_prefixes.clone();
        pieces.extend(rs.adapter_suffixes.iter().map(|s| s.suffix.clone()));
        pieces.extend(
            [
                "double_blocks.",
                "0.",
                "img_attn.qkv",
                ".weight",
                ".default.",
                "lora_unet_",
                "t",
                "model",
                ".",
                "_",
                "x",
            ]
            .map(String::from),
        );
        proptest::collection::vec(proptest::sample::select(pieces), 0..6).prop_map(|v| v.concat())
    }

    #[test]
    fn compiled_prefixes_and_suffixes_equal_the_plain_scans() {
        use proptest::prelude::*;
        let rs = RuleSet::builtin().unwrap();
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(&name_strategy(&rs), |n| {
                prop_assert_eq!(
                    rs.stripper.normalize(&n),
                    normalize_key(&n, &rs.strip_prefixes)
                );
                let plain = rs
                    .adapter_suffixes
                    .iter()
                    .filter(|s| n.ends_with(s.suffix.as_str()) && n.len() > s.suffix.len())
                    .max_by_key(|s| s.suffix.len())
                    .map(|s| s.suffix.as_str());
                let compiled = rs
                    .suffix_index
                    .longest(&n, &rs.adapter_suffixes)
                    .map(|s| s.suffix.as_str());
                prop_assert_eq!(compiled, plain);
                Ok(())
            })
            .unwrap();
    }

    /// Every view of every fixture (the key view, the adapter view and the bundle parts' views,
    /// built as `classify` builds them), every pattern of its table: what the matcher finds is
    /// what testing the pattern on every name finds (all matches in name order, the first);
    /// every rule: its hit (layout, evidence, metadata, file name) is the one the plain,
    /// name-by-name evaluation gives.
    #[test]
    fn the_matcher_agrees_with_testing_every_name_on_every_fixture() {
        use std::collections::HashMap;
        let c = Classifier::builtin().unwrap();
        let rs = &c.rules;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let fixtures = root.join("fixtures/specs");
        let toolkit = root.join("fixtures/reference/model-toolkit/components");
        let mut specs: Vec<_> = std::fs::read_dir(&fixtures)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "spec"))
            .collect();
        specs.sort();
        assert!(specs.len() > 300, "{} fixtures", specs.len());
        let (mut matched, mut rules_hit) = (0usize, 0usize);
        for path in &specs {
            let text = std::fs::read_to_string(path).unwrap();
            let mut resolve = |n: &str| match n.strip_prefix("toolkit:") {
                Some(rest) => std::fs::read_to_string(toolkit.join(rest)).ok(),
                None => std::fs::read_to_string(fixtures.join(n)).ok(),
            };
            let spec = testing::load_spec(&text, &mut resolve).unwrap();
            let name = path.display();
            let items: Vec<(&str, &[u64])> = spec
                .index
                .tensors
                .iter()
                .map(|t| (t.name.as_str(), t.shape.as_slice()))
                .collect();
            let (keys, adapter) = rs.views(&items);
            let parts: Vec<KeyView<'_>> = rs
                .bundle_parts
                .iter()
                .map(|b| {
                    KeyView::build(
                        items
                            .iter()
                            .filter_map(|(n, s)| Some((n.strip_prefix(b.prefix.as_str())?, *s))),
                        &rs.stripper,
                        &rs.key_patterns,
                    )
                })
                .filter(|v| !v.is_empty())
                .collect();
            for view in std::iter::once(&keys)
                .chain(std::iter::once(&adapter.keys))
                .chain(&parts)
            {
                // Literal patterns: the plain answer is every name equal to the pattern.
                let mut by_name: HashMap<&str, Vec<(&str, &[u64])>> = HashMap::new();
                for (k, s) in view.iter() {
                    by_name.entry(k).or_default().push((k, s));
                }
                for (id, p) in view.table().iter() {
                    let want = if p.is_literal() {
                        by_name.get(p.text()).cloned().unwrap_or_default()
                    } else {
                        view.find_plain(p)
                    };
                    let mut got: Vec<(&str, &[u64])> = view.matches(id).collect();
                    got.sort_by(|a, b| a.0.cmp(b.0));
                    assert_eq!(got, want, "{name}: pattern {}", p.text());
                    assert_eq!(
                        view.first(id),
                        want.first().copied(),
                        "{name}: {}",
                        p.text()
                    );
                    matched += usize::from(!want.is_empty());
                }
            }
            let meta = Meta {
                map: &spec.index.metadata,
                config_model_type: spec.config_model_type.as_deref(),
                adapter_base: spec.adapter_base.as_deref(),
            };
            let lower = spec.file_name.as_deref().map(str::to_ascii_lowercase);
            let ctx = Ctx {
                keys: &keys,
                adapter: (!adapter.keys.is_empty()).then_some(&adapter),
                meta: &meta,
                file_name: lower.as_deref(),
            };
            for (i, r) in rs.rules.iter().enumerate() {
                let got = format!("{:?}", engine::eval_rule(i, r, &ctx));
                let want = format!("{:?}", engine::eval_rule_plain(i, r, &ctx));
                assert_eq!(got, want, "{name}: rule {}", r.id);
                rules_hit += usize::from(got != "None");
            }
        }
        // The comparison compared something.
        assert!(matched > 2000, "{matched} pattern matches");
        assert!(rules_hit > 600, "{rules_hit} rule hits");
    }

    #[test]
    fn every_embedded_rule_file_parses_and_validates() {
        // Each file validates on its own (no rule reaches into another file) and all together.
        for (name, text) in rules::BUILTIN_RULES {
            if let Err(e) = RuleSet::from_sources(&[(name, text)], rules::BUILTIN_LAYOUT) {
                panic!("{name}: {e}");
            }
        }
        let c = Classifier::builtin().unwrap();
        assert!(c.rule_count() > 50, "only {} rules", c.rule_count());
    }

    #[test]
    fn validation_catches_bad_rules() {
        let layout = rules::BUILTIN_LAYOUT;
        let one = |text: &str| RuleSet::from_sources(&[("t.toml", text)], layout).map(|_| ());
        assert!(matches!(
            one("[[rule]]\nid = 1"),
            Err(RuleError::Parse { .. })
        ));
        let dup = "[[rule]]\nid='a'\nmir='mir:model.x.y'\nrole='model'\nfilename=['a']\n";
        assert!(matches!(
            one(&format!("{dup}{dup}")),
            Err(RuleError::DuplicateId(_))
        ));
        assert!(matches!(
            one("[[rule]]\nid='a'\nmir='mir:model.X.y'\nrole='model'\nfilename=['a']\n"),
            Err(RuleError::BadId { .. })
        ));
        assert!(matches!(
            one(
                "[[rule]]\nid='a'\nmir='mir:model.x.y'\nrole='model'\nfilename=['a']\noverrides=['zz']\n"
            ),
            Err(RuleError::Dangling { .. })
        ));
        assert!(matches!(
            one("[[rule]]\nid='a'\nmir='mir:model.x.y'\nrole='model'\n"),
            Err(RuleError::Empty(_))
        ));
        assert!(matches!(
            one(
                "[[rule]]\nid='a'\nmir='mir:model.x.y'\nrole='model'\n[[rule.layout]]\nname='l'\nshape=[{key='k'}]\n"
            ),
            Err(RuleError::EmptyShape { .. })
        ));
        let with_groups = |g: &str, role: &str| {
            one(&format!(
                "[[rule]]\nid='a'\nmir='mir:model.x.y'\nrole='{role}'\nfilename=['a']\ngroups={g}\n"
            ))
        };
        assert!(with_groups("['img_in', 'double_blocks.*.img_attn', 'x.**']", "model").is_ok());
        assert!(with_groups("['unet/double_blocks_*']", "adapter").is_ok());
        assert!(matches!(
            with_groups("[]", "model"),
            Err(RuleError::EmptyList { .. })
        ));
        for bad in [
            "''", "'a..b'", "'.a'", "'a.'", "'a b'", "'a.***'", "'unet/a'",
        ] {
            assert!(
                matches!(
                    with_groups(&format!("[{bad}]"), "model"),
                    Err(RuleError::BadPattern { .. })
                ),
                "{bad} accepted"
            );
        }
        // Adapter groups name adapter-view paths.
        assert!(matches!(
            with_groups("['double_blocks_*']", "adapter"),
            Err(RuleError::BadPattern { .. })
        ));
        assert!(matches!(
            with_groups("['a/b/c']", "adapter"),
            Err(RuleError::BadPattern { .. })
        ));
        assert!(matches!(
            one(
                "[[rule]]\nid='a'\nmir='mir:model.x.y'\nrole='model'\nfilename=['a']\nprediction='x'\n"
            ),
            Err(RuleError::Parse { .. })
        ));
        assert!(
            one("[[rule]]\nid='a'\nmir='mir:model.x.y'\nrole='model'\nfilename=['a']\nprediction='flow'\n")
                .is_ok()
        );
        let layout_with = |b: &str| {
            RuleSet::from_sources(
                &[],
                (
                    "layout.toml",
                    &format!("strip_prefixes = []\nbenign = {b}\n"),
                ),
            )
            .map(|_| ())
        };
        assert!(layout_with("['scaled_fp8', '**.scale_weight']").is_ok());
        assert!(matches!(
            layout_with("[]"),
            Err(RuleError::EmptyList { .. })
        ));
        assert!(matches!(
            layout_with("['a..b']"),
            Err(RuleError::BadPattern { .. })
        ));
    }

    const LAYOUT: &str = "strip_prefixes = [\"model.\"]\n";

    fn engine(rules: &str) -> Classifier {
        Classifier::from_sources(&[("t.toml", rules)], ("layout.toml", LAYOUT)).unwrap()
    }

    fn run(c: &Classifier, keys: &[(&str, &[u64])]) -> Classification {
        let mut idx = TensorIndex::new("t");
        for (k, s) in keys {
            idx.tensors.push(mir_core::TensorRecord::new(
                *k,
                mir_core::Dtype::BF16,
                s.to_vec(),
            ));
        }
        c.classify(&Input::new(&idx))
    }

    const RULES: &str = r#"
[[rule]]
id = "base"
mir = "mir:model.dit.base"
role = "model"
[[rule.layout]]
name = "l"
require = ["a.weight"]

[[rule]]
id = "variant"
mir = "mir:model.dit.base:variant"
role = "model"
overrides = ["base"]
[[rule.layout]]
name = "l"
require = ["a.weight"]
shape = [{ key = "a.weight", dim = 1, eq = 9 }]

[[rule]]
id = "other"
mir = "mir:model.dit.other"
role = "model"
[[rule.layout]]
name = "l"
require = ["b.weight"]

[[rule]]
id = "twin"
mir = "mir:model.dit.twin"
role = "model"
[[rule.layout]]
name = "l"
require = ["b.weight"]

[[rule]]
id = "generic"
mir = "mir:dev.dit.unknown"
role = "model"
fallback = true
[[rule.layout]]
name = "l"
require_any = ["a.weight", "b.weight", "c.weight"]
"#;

    #[test]
    fn overrides_fallbacks_and_ties_are_settled_by_the_generic_engine() {
        let c = engine(RULES);
        // Plain base: the fallback is dropped because something specific matched.
        let out = run(&c, &[("model.a.weight", &[1, 2])]);
        assert_eq!(out.mir.unwrap().to_string(), "mir:model.dit.base");
        assert_eq!(out.decided_by, Some(EvidenceKind::Structure));
        // The variant overrides its base.
        let out = run(&c, &[("a.weight", &[1, 9])]);
        assert_eq!(out.mir.unwrap().to_string(), "mir:model.dit.base:variant");
        // Two rules that match equally well: ambiguous, both listed.
        let out = run(&c, &[("b.weight", &[1])]);
        assert_eq!(out.candidates.len(), 2, "{:?}", out.candidates);
        assert!(out.confidence <= 0.6);
        assert!(
            out.evidence
                .iter()
                .any(|e| e.contains("matches equally well"))
        );
        // Only the fallback matches.
        let out = run(&c, &[("c.weight", &[1])]);
        assert_eq!(out.mir.unwrap().to_string(), "mir:dev.dit.unknown");
        assert!(out.confidence <= 0.5);
    }

    const OPEN_LAYOUT: &str = r#"
strip_prefixes = ["model."]
benign = ["scaled_fp8", "v_pred", "**.scale_weight"]
[[adapter_target]]
prefix = "lora_unet_"
target = "unet"
style = "kohya"
[[adapter_suffix]]
suffix = ".lora_down.weight"
kind = "lora"
part = "down"
"#;

    const OPEN_RULES: &str = r#"
[[rule]]
id = "fam-a"
mir = "mir:model.dit.fam-a:v1"
role = "model"
priority = 5
groups = ["a", "blk.*.x"]
prediction = "flow"
[[rule.layout]]
name = "l"
require = ["a.weight"]

[[rule]]
id = "fam-b"
mir = "mir:model.dit.fam-b"
role = "model"
groups = ["a", "blk.*.x", "blk.*.y"]
[[rule.layout]]
name = "l"
require = ["a.weight"]

[[rule]]
id = "lora-a"
mir = "mir:model.lora.{adapter}:fam-a"
role = "adapter"
groups = ["unet/blk_*_x"]
[[rule.layout]]
name = "l"
require_any = ["unet/blk_**"]
"#;

    fn open_engine() -> Classifier {
        Classifier::from_sources(&[("t.toml", OPEN_RULES)], ("layout.toml", OPEN_LAYOUT)).unwrap()
    }

    #[test]
    fn coverage_ranks_rules_and_withholds_the_family_when_something_is_unexplained() {
        let c = open_engine();
        // Both rules explain everything: fam-a wins on priority, fully covered, with its
        // objective.
        let out = run(&c, &[("model.a.weight", &[4, 4]), ("blk.0.x.weight", &[4])]);
        assert_eq!(
            out.mir.as_ref().unwrap().to_string(),
            "mir:model.dit.fam-a:v1"
        );
        let cov = out.coverage.clone().unwrap();
        assert!(cov.is_full() && cov.tensors == 1.0 && cov.parameters == 1.0);
        assert_eq!(out.prediction, Some(Prediction::Flow));
        assert!(out.confidence > 0.9);
        // `blk.N.y` is only in fam-b's groups: fewer unexplained tensors beats priority.
        let out = run(&c, &[("a.weight", &[4, 4]), ("blk.0.y.weight", &[4])]);
        assert_eq!(out.mir.as_ref().unwrap().to_string(), "mir:model.dit.fam-b");
        assert!(out.coverage.unwrap().is_full());
        // A module group neither family has: not named, the family is a candidate.
        let out = run(
            &c,
            &[
                ("a.weight", &[4, 4]),
                ("blk.0.x.weight", &[4]),
                ("zz_new.3.proj.weight", &[8, 4]),
                ("zz_new.4.proj.weight", &[8, 4]),
            ],
        );
        assert_eq!(out.mir.as_ref().unwrap().to_string(), "mir:dev.dit.unknown");
        assert!(
            out.candidates
                .iter()
                .any(|m| m.to_string() == "mir:model.dit.fam-a:v1"),
            "{:?}",
            out.candidates
        );
        assert!(out.confidence <= 0.5 * 0.5 + 1e-6, "{}", out.confidence);
        assert_eq!(out.prediction, None, "no family objective once withheld");
        let cov = out.coverage.unwrap();
        assert_eq!(cov.tensors_unexplained, 2);
        assert_eq!(cov.unexplained.len(), 1);
        assert_eq!(cov.unexplained[0].group, "zz_new.*.proj");
        assert_eq!(cov.unexplained[0].tensors, 2);
        assert!(
            (cov.parameters - 20.0 / 84.0).abs() < 1e-9,
            "{}",
            cov.parameters
        );
        assert!(
            out.evidence
                .iter()
                .any(|e| e.contains("open world") && e.contains("zz_new.*.proj (2)"))
        );
        // One unexplained tensor is enough (the threshold is "everything explained").
        let out = run(&c, &[("a.weight", &[4096, 4096]), ("x_tiny", &[1])]);
        assert_eq!(out.mir.unwrap().to_string(), "mir:dev.dit.unknown");
        // Benign markers count as explained; the marker decides the objective over the family.
        let out = run(
            &c,
            &[
                ("a.weight", &[4, 4]),
                ("scaled_fp8", &[]),
                ("v_pred", &[]),
                ("a.scale_weight", &[1]),
            ],
        );
        assert_eq!(out.mir.unwrap().to_string(), "mir:model.dit.fam-a:v1");
        assert!(out.coverage.unwrap().is_full());
        assert_eq!(out.prediction, Some(Prediction::V));
    }

    #[test]
    fn adapter_groups_match_the_adapter_view_and_partial_loras_stay_named() {
        let c = open_engine();
        let out = run(&c, &[("lora_unet_blk_3_x_proj.lora_down.weight", &[4, 8])]);
        assert_eq!(out.mir.unwrap().to_string(), "mir:model.lora.lora:fam-a");
        assert!(out.coverage.unwrap().is_full());
        let out = run(
            &c,
            &[
                ("lora_unet_blk_3_x_proj.lora_down.weight", &[4, 8]),
                ("lora_unet_blk_3_q_proj.lora_down.weight", &[4, 8]),
            ],
        );
        assert_eq!(out.mir.unwrap().to_string(), "mir:model.lora.lora");
        assert!(
            out.candidates
                .iter()
                .any(|m| m.to_string() == "mir:model.lora.lora:fam-a")
        );
        assert_eq!(out.coverage.unwrap().unexplained[0].group, "unet/blk_*_q");
    }

    #[test]
    fn metadata_decides_the_prediction_over_the_family() {
        let c = open_engine();
        let mut idx = TensorIndex::new("t");
        idx.tensors.push(mir_core::TensorRecord::new(
            "a.weight",
            mir_core::Dtype::BF16,
            vec![2],
        ));
        idx.metadata.insert(
            "modelspec.prediction_type".into(),
            mir_core::MetaValue::Str("epsilon".into()),
        );
        let out = c.classify(&Input::new(&idx));
        assert_eq!(out.prediction, Some(Prediction::Eps));
        assert!(
            out.evidence
                .iter()
                .any(|e| e.contains("prediction eps: metadata"))
        );
    }

    #[test]
    fn sanitize_makes_canonical_fields() {
        assert_eq!(sanitize("Qwen2_VL"), "qwen2-vl");
        assert_eq!(sanitize(" Q4_K__M "), "q4-k-m");
    }
}
