//! Evaluates every rule against the views of one index and ranks the matches.
//!
//! There is no first-match chain: each rule is tested on its own, rules that another matching
//! rule `overrides` are dropped, `fallback` rules are dropped when anything specific matched, and
//! what remains is sorted by (metadata hit, role, structure hit, filename hit, conditions met,
//! priority).

use std::collections::BTreeMap;

use mir_core::MetaValue;

use crate::coverage::{Explainer, Memo, Tally};
use crate::matcher::PatId;
use crate::rules::{Derive, Layout, MetaDef, Role, Rule, RuleSet};
use crate::view::{AdapterView, KeyView};

/// What one rule matched on.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub(crate) rule: usize,
    /// Evidence from metadata, if a metadata condition decided.
    pub(crate) meta: Option<String>,
    /// Whether that metadata condition settles the rule's ambiguity.
    pub(crate) meta_decisive: bool,
    /// The metadata key that hit.
    pub(crate) meta_key: Option<String>,
    /// The layout that matched and its evidence.
    pub(crate) layout: Option<(String, Vec<String>, usize)>,
    /// The filename token that matched.
    pub(crate) filename: Option<String>,
    /// Tensors of the view that the rule's `groups` (and `benign`) leave unexplained; 0 for a
    /// rule without groups or a hit without structure (see [`tally_rule`]).
    pub(crate) unexplained: usize,
    /// The tally behind `unexplained`, kept for the winner's coverage.
    pub(crate) tally: Option<Tally>,
}

impl Hit {
    /// The ordering key: bigger is better.
    pub(crate) fn score(
        &self,
        rules: &[Rule],
    ) -> (bool, u8, bool, std::cmp::Reverse<usize>, bool, usize, i32) {
        let r = rules.get(self.rule);
        (
            self.meta.is_some(),
            r.map_or(0, |r| r.role.rank()),
            self.layout.is_some(),
            std::cmp::Reverse(self.unexplained),
            self.filename.is_some(),
            self.layout.as_ref().map_or(0, |l| l.2),
            r.map_or(0, |r| r.priority),
        )
    }
}

/// Metadata lookups, including the sibling config's `model_type` as `config.model_type`.
#[derive(Debug)]
pub(crate) struct Meta<'a> {
    pub(crate) map: &'a BTreeMap<String, MetaValue>,
    pub(crate) config_model_type: Option<&'a str>,
    /// A sibling `adapter_config.json`'s base model, read as
    /// `adapter_config.base_model_name_or_path`.
    pub(crate) adapter_base: Option<&'a str>,
}

impl Meta<'_> {
    /// A metadata value as text (scalars only).
    pub(crate) fn text(&self, key: &str) -> Option<String> {
        if key == "config.model_type" {
            return self.config_model_type.map(str::to_owned);
        }
        if key == "adapter_config.base_model_name_or_path" {
            return self.adapter_base.map(str::to_owned);
        }
        match self.map.get(key)? {
            MetaValue::Str(s) => Some(s.clone()),
            MetaValue::Int(v) => Some(v.to_string()),
            MetaValue::UInt(v) => Some(v.to_string()),
            MetaValue::Float(v) => Some(v.to_string()),
            MetaValue::Bool(v) => Some(v.to_string()),
            MetaValue::Array(_) | MetaValue::Elided { .. } => None,
        }
    }

    /// The first condition that hits, as evidence text.
    pub(crate) fn first_hit(&self, defs: &[MetaDef]) -> Option<String> {
        self.first_hit_def(defs).map(|(_, e)| e)
    }

    /// The first condition that hits and its evidence text; decisive conditions are tried first.
    pub(crate) fn first_hit_def<'d>(&self, defs: &'d [MetaDef]) -> Option<(&'d MetaDef, String)> {
        let decisive = defs.iter().filter(|d| d.decisive);
        let other = defs.iter().filter(|d| !d.decisive);
        decisive.chain(other).find_map(|d| {
            let v = self.text(&d.key)?;
            d.hits(&v)
                .then(|| (d, format!("metadata {} = {:?}", d.key, v)))
        })
    }
}

/// Everything a rule can look at.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub(crate) keys: &'a KeyView<'a>,
    pub(crate) adapter: Option<&'a AdapterView<'a>>,
    pub(crate) meta: &'a Meta<'a>,
    /// The file's base name, lowercased once here rather than by every rule.
    pub(crate) file_name: Option<&'a str>,
}

/// Whether every condition of a layout holds, from what the view's matcher found: array
/// lookups, no name is looked at (the evidence of a layout that holds is built afterwards).
/// The conditions on patterns already matched are tested first; a deferred pattern (see
/// `matcher`) is matched only when those leave the layout possible. Either order gives the same
/// answer (a conjunction), the first skips work.
fn layout_holds(l: &Layout, view: &KeyView<'_>) -> bool {
    conditions_hold(l, view, true) && conditions_hold(l, view, false)
}

/// [`layout_holds`]; with `ready_only`, a condition on a pattern not matched yet counts as met.
fn conditions_hold(l: &Layout, view: &KeyView<'_>, ready_only: bool) -> bool {
    let open = |p: PatId| ready_only && !view.ready(p);
    l.require.iter().all(|&p| open(p) || view.any(p))
        && (l.require_any.is_empty() || l.require_any.iter().any(|&p| open(p) || view.any(p)))
        && !l.forbid.iter().any(|&p| !open(p) && view.any(p))
        && l.shape
            .iter()
            .all(|s| open(s.key) || view.any_where(s.key, |sh| s.accepts(sh)))
}

fn eval_layout(l: &Layout, view: &KeyView<'_>) -> Option<(String, Vec<String>, usize)> {
    if !layout_holds(l, view) {
        return None;
    }
    let mut ev = Vec::new();
    for &p in &l.require {
        let (k, _) = view.first(p)?;
        ev.push(format!("key {k} present"));
    }
    if !l.require_any.is_empty() {
        let k = l.require_any.iter().find_map(|&p| view.first(p))?.0;
        ev.push(format!("key {k} present"));
    }
    for &p in &l.forbid {
        ev.push(format!("no key {}", view.text_of(p)));
    }
    for s in &l.shape {
        let (k, shape) = view.first_where(s.key, |sh| s.accepts(sh))?;
        ev.push(format!("{k} {}", s.describe(shape)));
    }
    for d in &l.derive {
        match d {
            Derive::Dim { name, key, dim } => {
                if let Some((k, sh)) = view.first(*key)
                    && let Some(v) = sh.get(*dim)
                {
                    ev.push(format!("{name} = {v} ({k} dim {dim})"));
                }
            }
            Derive::Count { name, key } => {
                let Some(pattern) = view.table().get(*key) else {
                    continue;
                };
                let max = view
                    .matches(*key)
                    .filter_map(|(k, _)| pattern.capture(k)?.parse::<u64>().ok())
                    .max();
                if let Some(m) = max {
                    ev.push(format!(
                        "{name} = {} (highest index in {})",
                        m.saturating_add(1),
                        pattern.text()
                    ));
                }
            }
        }
    }
    let n = l
        .require
        .len()
        .saturating_add(usize::from(!l.require_any.is_empty()))
        .saturating_add(l.forbid.len())
        .saturating_add(l.shape.len());
    Some((l.name.clone(), ev, n))
}

/// Tests one rule.
pub(crate) fn eval_rule(idx: usize, rule: &Rule, ctx: &Ctx<'_>) -> Option<Hit> {
    eval_rule_with(idx, rule, ctx, eval_layout)
}

/// A layout's evaluation: its name, evidence and the number of conditions met when it holds.
type LayoutEval = fn(&Layout, &KeyView<'_>) -> Option<(String, Vec<String>, usize)>;

/// [`eval_rule`] with the given layout evaluation (tests pass the plain one).
fn eval_rule_with(idx: usize, rule: &Rule, ctx: &Ctx<'_>, eval: LayoutEval) -> Option<Hit> {
    let view = match rule.role {
        Role::Adapter => &ctx.adapter?.keys,
        Role::Model | Role::Component => ctx.keys,
    };
    if ctx.meta.first_hit(&rule.meta_forbid).is_some() {
        return None;
    }
    let meta_hit = ctx.meta.first_hit_def(&rule.meta);
    let meta_decisive = meta_hit.as_ref().is_some_and(|(d, _)| d.decisive);
    let meta_key = meta_hit.as_ref().map(|(d, _)| d.key.clone());
    let meta = meta_hit.map(|(_, e)| e);
    if rule.require_meta && meta.is_none() {
        return None;
    }
    let layout = rule.layouts.iter().find_map(|l| eval(l, view));
    let filename = ctx.file_name.and_then(|f| {
        rule.filename
            .iter()
            .find(|t| f.contains(t.as_str()))
            .cloned()
    });
    let matched = meta.is_some()
        || (layout.is_some() && (!rule.require_filename || filename.is_some()))
        || (filename.is_some() && rule.filename_alone);
    matched.then_some(Hit {
        rule: idx,
        meta,
        meta_decisive,
        meta_key,
        layout,
        filename,
        unexplained: 0,
        tally: None,
    })
}

/// The explainer of a rule (`None` without groups).
pub(crate) fn explainer<'r>(set: &'r RuleSet, rule: &'r Rule) -> Option<Explainer<'r>> {
    let groups = rule.groups()?;
    Some(Explainer {
        groups: &groups.patterns,
        index: &groups.index,
        benign: &set.benign,
        benign_index: &set.benign_index,
        trie: groups.trie.as_ref(),
        adapter: rule.role == Role::Adapter,
        memo: groups.memo,
    })
}

/// Tallies the view a rule is matched on against its groups (plus `benign`): the adapter view
/// for adapters, else the key view without the tensors under bundle part prefixes (the same for
/// every rule; the final coverage adds them). `None` for a rule without groups.
///
/// `shared`: several rules are tallied on the same view (ranking), so on the adapter view each
/// key's skeleton is computed once and every rule's groups are tested once per skeleton. A
/// single pass (the winner alone) tests every key: building the skeletons would cost more than
/// it saves. The key view needs no cache: its rules' groups are tries.
pub(crate) fn tally_rule(set: &RuleSet, rule: &Rule, ctx: &Ctx<'_>, shared: bool) -> Option<Tally> {
    let mut ex = explainer(set, rule)?;
    ex.memo &= shared;
    let mut tally = Tally::default();
    let mut memo = Memo::default();
    if ex.adapter {
        if let Some(view) = ctx.adapter.map(|a| &a.keys) {
            if ex.memo {
                let skeletons = view.skeletons();
                for ((k, shape), &id) in view.iter().zip(skeletons.iter()) {
                    tally.add(k, shape, ex.explains_memo(k, id, &mut memo), true);
                }
            } else {
                for (k, shape) in view.iter() {
                    tally.add(k, shape, ex.explains(k), true);
                }
            }
        }
    } else {
        // The tensors under bundle part prefixes are left to the final coverage.
        let skip = ctx.keys.bundled(&set.bundle_parts);
        for (i, (k, shape)) in ctx.keys.iter().enumerate() {
            if skip.get(i).copied().unwrap_or(false) {
                continue;
            }
            tally.add(k, shape, ex.explains(k), false);
        }
    }
    Some(tally)
}

/// Evaluates the rules of the given roles and ranks the hits, best first.
///
/// `usable` drops hits that cannot name the file (an ID template whose metadata is missing)
/// before overrides and fallbacks are settled, so a fallback can still step in.
pub(crate) fn rank(
    set: &RuleSet,
    ctx: &Ctx<'_>,
    roles: &[Role],
    usable: &dyn Fn(&Rule) -> bool,
) -> Vec<Hit> {
    let mut hits: Vec<Hit> = set
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| roles.contains(&r.role))
        .filter_map(|(i, r)| eval_rule(i, r, ctx))
        .filter(|h| set.rules.get(h.rule).is_some_and(usable))
        .collect();
    // An override takes effect when the overriding rule matched on structure, or when the
    // overridden rule has no metadata hit on the same key (a shared metadata value such as GGUF
    // `general.architecture = flux` must not let every FLUX variant knock out the others, while
    // a more specific key, such as `adapter.type`, refines a rule that matched on another).
    let overridden: Vec<usize> = hits
        .iter()
        .filter_map(|h| Some((h, set.rules.get(h.rule)?)))
        .flat_map(|(h, r)| {
            r.overrides.iter().copied().filter(|o| {
                h.layout.is_some()
                    || !hits
                        .iter()
                        .any(|x| x.rule == *o && x.meta.is_some() && x.meta_key == h.meta_key)
            })
        })
        .collect();
    hits.retain(|h| !overridden.contains(&h.rule));
    // An adapter file's metadata often names its base model; that must not make it the base.
    if ctx.adapter.is_some() {
        hits.retain(|h| {
            h.layout.is_some() || set.rules.get(h.rule).is_some_and(|r| r.role != Role::Model)
        });
    }
    let specific = hits
        .iter()
        .any(|h| set.rules.get(h.rule).is_some_and(|r| !r.fallback));
    if specific {
        hits.retain(|h| set.rules.get(h.rule).is_some_and(|r| !r.fallback));
    }
    // Among matching rules, the one that leaves fewer tensors unexplained ranks higher (after
    // metadata, role and structure): a FLUX.2 rule beats FLUX.1 Canny on a FLUX.2 file.
    // With a single structural hit there is nothing to rank: its tally is left to the caller.
    let structural = hits.iter().filter(|h| h.layout.is_some()).count();
    for h in hits
        .iter_mut()
        .filter(|h| structural > 1 && h.layout.is_some())
    {
        if let Some(r) = set.rules.get(h.rule) {
            h.tally = tally_rule(set, r, ctx, true);
            h.unexplained = h.tally.as_ref().map_or(0, Tally::unexplained);
        }
    }
    hits.sort_by(|a, b| {
        b.score(&set.rules)
            .cmp(&a.score(&set.rules))
            .then(a.rule.cmp(&b.rule))
    });
    hits
}

/// The former evaluation of a layout: every pattern tested on every name of the view, in name
/// order ([`KeyView::find_plain`]), the reference the matcher must agree with.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
pub(crate) fn eval_layout_plain(
    l: &Layout,
    view: &KeyView<'_>,
) -> Option<(String, Vec<String>, usize)> {
    let table = view.table();
    let find = |p: PatId| view.find_plain(table.get(p).unwrap());
    let first = |p: PatId| find(p).into_iter().next();
    let mut ev = Vec::new();
    for &p in &l.require {
        let (k, _) = first(p)?;
        ev.push(format!("key {k} present"));
    }
    if !l.require_any.is_empty() {
        let k = l.require_any.iter().find_map(|&p| first(p))?.0;
        ev.push(format!("key {k} present"));
    }
    for &p in &l.forbid {
        if first(p).is_some() {
            return None;
        }
        ev.push(format!("no key {}", table.text(p)));
    }
    for s in &l.shape {
        let (k, shape) = find(s.key).into_iter().find(|(_, sh)| s.accepts(sh))?;
        ev.push(format!("{k} {}", s.describe(shape)));
    }
    for d in &l.derive {
        match d {
            Derive::Dim { name, key, dim } => {
                if let Some((k, sh)) = first(*key)
                    && let Some(v) = sh.get(*dim)
                {
                    ev.push(format!("{name} = {v} ({k} dim {dim})"));
                }
            }
            Derive::Count { name, key } => {
                let pattern = table.get(*key).unwrap();
                let max = find(*key)
                    .into_iter()
                    .filter_map(|(k, _)| pattern.capture(k)?.parse::<u64>().ok())
                    .max();
                if let Some(m) = max {
                    ev.push(format!(
                        "{name} = {} (highest index in {})",
                        m.saturating_add(1),
                        pattern.text()
                    ));
                }
            }
        }
    }
    let n =
        l.require.len() + usize::from(!l.require_any.is_empty()) + l.forbid.len() + l.shape.len();
    Some((l.name.clone(), ev, n))
}

/// [`eval_rule`] with [`eval_layout_plain`].
#[cfg(test)]
pub(crate) fn eval_rule_plain(idx: usize, rule: &Rule, ctx: &Ctx<'_>) -> Option<Hit> {
    eval_rule_with(idx, rule, ctx, eval_layout_plain)
}
