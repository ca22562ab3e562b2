//! The ID table generated from the rules: every ID the rule set can emit, with the evidence that
//! decides it (`mir ids`, `docs/ids.md`).

use std::fmt::Write as _;

use crate::rules::{Derive, MetaDef, Role, Rule, RuleSet};
use crate::{Classifier, Prediction};

/// One rule of the table: the ID (template) it emits and what decides it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IdRow {
    /// The ID or ID template (`{adapter}` = LoRA kind or flavour, `{meta:KEY}` = a metadata
    /// value), e.g. `mir:model.lora.{adapter}:flux-1-dev`.
    pub mir: String,
    /// The rule's id.
    pub rule: String,
    /// `model`, `component` or `adapter`.
    pub role: &'static str,
    /// An architecture-only or name-only rule, dropped when anything specific matches.
    pub fallback: bool,
    /// IDs reported as candidates when structure cannot decide.
    pub candidates: Vec<String>,
    /// The family's fixed objective, if any (`eps`, `v`, `edm`, `flow`).
    pub prediction: Option<&'static str>,
    /// How many module groups the rule declares (`None`: no open-world check).
    pub groups: Option<usize>,
    /// What decides the rule, one line per condition set.
    pub evidence: Vec<String>,
}

fn meta_text(m: &MetaDef) -> String {
    let mut parts = Vec::new();
    if m.present {
        parts.push("present".to_owned());
    }
    let list = |v: &[String]| {
        v.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !m.equals.is_empty() {
        parts.push(format!("= {}", list(&m.equals)));
    }
    if !m.prefix.is_empty() {
        parts.push(format!("starts with {}", list(&m.prefix)));
    }
    if !m.contains.is_empty() {
        parts.push(format!("contains {}", list(&m.contains)));
    }
    let decisive = if m.decisive { " (decisive)" } else { "" };
    format!("`{}` {}{decisive}", m.key, parts.join(" or "))
}

fn rule_row(rs: &RuleSet, r: &Rule) -> IdRow {
    let table = rs.patterns_of(r);
    let mut ev = Vec::new();
    for l in &r.layouts {
        let mut c = Vec::new();
        if !l.require.is_empty() {
            c.push(format!(
                "keys {}",
                l.require
                    .iter()
                    .map(|&p| format!("`{}`", table.text(p)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !l.require_any.is_empty() {
            c.push(format!(
                "any of {}",
                l.require_any
                    .iter()
                    .map(|&p| format!("`{}`", table.text(p)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for s in &l.shape {
            let mut t = Vec::new();
            if let Some(r) = s.rank {
                t.push(format!("rank {r}"));
            }
            if let Some(d) = s.dim {
                if let Some(e) = s.eq {
                    t.push(format!("dim {d} = {e}"));
                }
                if !s.one_of.is_empty() {
                    t.push(format!("dim {d} in {:?}", s.one_of));
                }
                if let Some(m) = s.min {
                    t.push(format!("dim {d} >= {m}"));
                }
                if let Some(m) = s.max {
                    t.push(format!("dim {d} <= {m}"));
                }
            }
            c.push(format!("`{}` {}", table.text(s.key), t.join(", ")));
        }
        if !l.forbid.is_empty() {
            c.push(format!(
                "no {}",
                l.forbid
                    .iter()
                    .map(|&p| format!("`{}`", table.text(p)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let derived: Vec<&str> = l
            .derive
            .iter()
            .map(|d| match d {
                Derive::Dim { name, .. } | Derive::Count { name, .. } => name.as_str(),
            })
            .collect();
        if !derived.is_empty() {
            c.push(format!("reports {}", derived.join(", ")));
        }
        ev.push(format!("layout {}: {}", l.name, c.join("; ")));
    }
    if !r.meta.is_empty() {
        ev.push(format!(
            "metadata: {}",
            r.meta.iter().map(meta_text).collect::<Vec<_>>().join("; ")
        ));
    }
    if !r.meta_forbid.is_empty() {
        ev.push(format!(
            "never when metadata: {}",
            r.meta_forbid
                .iter()
                .map(meta_text)
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if r.require_meta {
        ev.push("the metadata is required beside the structure".to_owned());
    }
    if !r.filename.is_empty() {
        let how = if r.require_filename {
            " (required beside the structure)"
        } else if r.filename_alone {
            " (enough on its own)"
        } else {
            ""
        };
        ev.push(format!(
            "file name contains {}{how}",
            r.filename
                .iter()
                .map(|f| format!("{f:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(cf) = &r.compat_from {
        ev.push(format!(
            "compat from metadata `{}` via table {}",
            cf.key, cf.table
        ));
    }
    if !r.overrides.is_empty() {
        ev.push(format!(
            "refines {}",
            r.overrides
                .iter()
                .filter_map(|&i| rs.rules.get(i))
                .map(|o| o.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(n) = &r.note {
        ev.push(n.clone());
    }
    IdRow {
        mir: r.mir.clone(),
        rule: r.id.clone(),
        role: match r.role {
            Role::Model => "model",
            Role::Component => "component",
            Role::Adapter => "adapter",
        },
        fallback: r.fallback,
        candidates: r.candidates.clone(),
        prediction: r.prediction.map(Prediction::as_str),
        groups: r.groups_text.as_ref().map(Vec::len),
        evidence: ev,
    }
}

impl Classifier {
    /// Every rule as a row of the ID table, in rule-file order.
    pub fn id_table(&self) -> Vec<IdRow> {
        self.rules
            .rules
            .iter()
            .map(|r| rule_row(&self.rules, r))
            .collect()
    }

    /// The values `{adapter}` takes: LoRA kinds seen in tensor names, then the flavours.
    pub fn adapter_series(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for s in &self.rules.adapter_suffixes {
            if !v.contains(&s.kind) {
                v.push(s.kind.clone());
            }
        }
        for f in &self.rules.flavours {
            if !v.contains(&f.series) {
                v.push(f.series.clone());
            }
        }
        v
    }

    /// The ID table as Markdown (the committed `docs/ids.md`).
    pub fn id_table_markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = String::new();
        out.push_str(
            "# MIR IDs the rule set can emit\n\n\
             Generated from `crates/mir-classify/rules/*.toml` by \
             `cargo run -p mir-cli -- ids --markdown > docs/ids.md`; a test fails when this file \
             and the rules drift apart. Do not edit by hand.\n\n\
             `{adapter}` is the adapter kind seen in the tensor names or a distillation flavour: ",
        );
        let series = self.adapter_series();
        let _ = writeln!(
            out,
            "{}. `{{meta:KEY}}` is the metadata value, normalised.\n",
            series
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        out.push_str(
            "Open world: when the file holds tensors outside the module groups of the rule that \
             matched (column *groups*), a model or component is reported as \
             `mir:dev.<arch>.unknown` and an adapter without its base (`mir:model.lora.<kind>`), \
             with the family's ID among the candidates and confidence at most 0.5.\n\n",
        );
        out.push_str("| ID | rule | role | prediction | groups | decided by |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for r in self.id_table() {
            let mut ev = r.evidence.clone();
            if !r.candidates.is_empty() {
                ev.push(format!(
                    "candidates {}",
                    r.candidates
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let role = if r.fallback {
                format!("{} (fallback)", r.role)
            } else {
                r.role.to_owned()
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} |",
                esc(&r.mir),
                esc(&r.rule),
                role,
                r.prediction.unwrap_or("-"),
                r.groups.map_or("-".to_owned(), |n| n.to_string()),
                esc(&ev.join("<br>"))
            );
        }
        out
    }
}
