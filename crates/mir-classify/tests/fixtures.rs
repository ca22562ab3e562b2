//! Classifies every fixture under fixtures/specs and checks its `@expect…` lines; checks that
//! every ID row of crates/mir-classify/IDS.md is covered by fixtures in at least two layouts.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;

use mir_classify::Classifier;

#[test]
fn every_fixture_gets_its_expected_id_candidates_components_and_evidence_kind() {
    let c = Classifier::builtin().unwrap();
    let mut failures = Vec::new();
    let mut table = Vec::new();
    for name in common::all_specs() {
        let s = common::spec(&name);
        let out = common::classify(&c, &s);
        let got = out
            .mir
            .as_ref()
            .map_or("none".to_string(), |m| m.to_string());
        let expect = s
            .expect
            .clone()
            .unwrap_or_else(|| panic!("{name} has no @expect line"));
        let mut bad = Vec::new();
        if got != expect {
            bad.push(format!("id {got} != {expect}"));
        }
        for cand in &s.expect_candidates {
            if !out.candidates.iter().any(|m| m.to_string() == *cand) {
                bad.push(format!("candidate {cand} missing"));
            }
        }
        for (id, prefix) in &s.expect_components {
            if !out
                .components
                .iter()
                .any(|m| m.mir.to_string() == *id && m.prefix == *prefix)
            {
                bad.push(format!("component {id} under {prefix} missing"));
            }
        }
        if !s.expect_components.is_empty() && out.components.len() != s.expect_components.len() {
            bad.push(format!("{} components found", out.components.len()));
        }
        if let Some(p) = &s.expect_prediction
            && out.prediction.map_or("none", |p| p.as_str()) != p.as_str()
        {
            bad.push(format!("prediction {:?}, not {p}", out.prediction));
        }
        // Every fixture of a rule with groups is fully explained, unless it is a deliberate
        // look-alike or negative fixture (`@partial reason`).
        if s.partial.is_none()
            && let Some(cov) = &out.coverage
            && !cov.is_full()
        {
            bad.push(format!(
                "coverage {:.3}: unexplained {:?}",
                cov.tensors,
                cov.unexplained
                    .iter()
                    .map(|g| format!("{} ({})", g.group, g.tensors))
                    .collect::<Vec<_>>()
            ));
        }
        if let Some(kind) = &s.expect_decided_by
            && out.decided_by.map(|k| k.as_str()) != Some(kind.as_str())
        {
            bad.push(format!("decided by {:?}, not {kind}", out.decided_by));
        }
        if let Some(m) = &out.mir {
            assert!(!out.evidence.is_empty(), "{name}: an ID without evidence");
            assert!((0.0..=1.0).contains(&out.confidence), "{name}");
            assert!(m.is_canonical(), "{name}: {got}");
        }
        if !bad.is_empty() {
            failures.push(format!(
                "{name}: {}\n    evidence: {:?}\n    candidates: {:?}\n    components: {:?}",
                bad.join("; "),
                out.evidence,
                out.candidates
                    .iter()
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>(),
                out.components
                    .iter()
                    .map(|m| format!("{} @ {}", m.mir, m.prefix))
                    .collect::<Vec<_>>()
            ));
        }
        table.push(format!(
            "| {name} | {} | `{got}` | {} | {:.2} | {} | {} |",
            s.index.tensors.len(),
            out.decided_by.map_or("-", |k| k.as_str()),
            out.confidence,
            out.coverage
                .as_ref()
                .map_or("-".to_string(), |c| format!("{:.3}", c.tensors)),
            out.prediction.map_or("-", |p| p.as_str()),
        ));
    }
    if std::env::var_os("MIR_PRINT_TABLE").is_some() {
        println!(
            "| fixture | tensors | ID | decided by | confidence | coverage | prediction |\n\
             |---|---|---|---|---|---|---|"
        );
        println!("{}", table.join("\n"));
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The IDs (or ID prefixes, cut at `<`) named in IDS.md's tables.
fn ids_rows() -> Vec<String> {
    let text =
        std::fs::read_to_string(common::repo_root().join("crates/mir-classify/IDS.md")).unwrap();
    let mut ids = Vec::new();
    for line in text.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').collect();
        let Some(id_cell) = cells.get(2) else {
            continue;
        };
        for part in id_cell.split('`').skip(1).step_by(2) {
            if let Some(p) = part.strip_prefix("mir:") {
                let id = format!("mir:{}", p.split('<').next().unwrap());
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
    }
    ids
}

/// IDS.md rows not yet covered by fixtures in two layouts (exact; the list only shrinks).
///
/// Issue 13's rows (ControlNets, T2I/IP-Adapters, Redux, embeddings, image encoders, upscalers,
/// SAM, depth) not yet covered; issue 12's rows are all covered. Remove a row when it gets
/// covered: the test fails while a covered row is still listed.
const KNOWN_GAPS: &[&str] = &[
    // issue 13: control, adapters, embeddings, image encoders, upscalers, segmenters
    "mir:model.vit.sam",
];

#[test]
fn every_ids_md_row_is_covered_in_two_layouts() {
    let rows = ids_rows();
    assert!(rows.len() > 30, "IDS.md parse found only {rows:?}");
    let mut by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in common::all_specs() {
        let s = common::spec(&name);
        let mut ids = vec![s.expect.clone().unwrap_or_default()];
        ids.extend(s.expect_components.iter().map(|(id, _)| id.clone()));
        for row in &rows {
            // `mir:model.vae.kl` covers `mir:model.vae.kl:stable-diffusion-xl`; a row cut at `<`
            // (`mir:model.lora.hyper:`) covers every base.
            if ids.iter().any(|id| {
                id == row
                    || id.starts_with(&format!("{row}:"))
                    || (row.ends_with([':', '.']) && id.starts_with(row.as_str()))
            }) {
                by_id.entry(row.clone()).or_default().push(name.clone());
            }
        }
    }
    let mut missing = Vec::new();
    let mut now_covered = Vec::new();
    for row in &rows {
        let n = by_id.get(row).map_or(0, Vec::len);
        let listed = KNOWN_GAPS.contains(&row.as_str());
        if n < 2 && !listed {
            missing.push(format!("{row:?}, // {n} fixture(s) {:?}", by_id.get(row)));
        }
        if n >= 2 && listed {
            now_covered.push(row.clone());
        }
    }
    let stale: Vec<&&str> = KNOWN_GAPS
        .iter()
        .filter(|g| !rows.iter().any(|r| r == **g))
        .collect();
    assert!(
        missing.is_empty() && now_covered.is_empty() && stale.is_empty(),
        "rows with fewer than two fixtures, not in KNOWN_GAPS:\n{}\n\
         rows now covered in two layouts: remove them from KNOWN_GAPS: {now_covered:?}\n\
         KNOWN_GAPS lists rows IDS.md does not have: {stale:?}",
        missing.join("\n")
    );
}

#[test]
fn every_model_component_and_adapter_rule_declares_groups() {
    let c = Classifier::builtin().unwrap();
    let without: Vec<String> = c
        .id_table()
        .into_iter()
        .filter(|r| !r.fallback && r.groups.is_none())
        .map(|r| format!("{} ({})", r.rule, r.mir))
        .collect();
    assert!(
        without.is_empty(),
        "rules without `groups` (the open-world check cannot run for them):\n{}",
        without.join("\n")
    );
}

/// The most frequent dimension of the fixture's 2-D tensors: a plausible width for new blocks.
fn width(s: &mir_classify::testing::Spec) -> u64 {
    let mut n: BTreeMap<u64, usize> = BTreeMap::new();
    for t in &s.index.tensors {
        if let [a, b] = t.shape.as_slice() {
            *n.entry(*a).or_default() += 1;
            *n.entry(*b).or_default() += 1;
        }
    }
    n.into_iter()
        .max_by_key(|(d, c)| (*c, *d))
        .map_or(64, |(d, _)| d)
        .clamp(16, 8192)
}

fn family(id: &str) -> String {
    id.split(':').take(2).collect::<Vec<_>>().join(":")
}

#[test]
fn a_future_family_built_on_a_known_layout_is_never_named_with_confidence() {
    let c = Classifier::builtin().unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for name in common::all_specs() {
        let s = common::spec(&name);
        let base = common::classify(&c, &s);
        let (Some(id), Some(_)) = (&base.mir, &base.coverage) else {
            continue;
        };
        if s.partial.is_some() || s.index.tensors.is_empty() {
            continue;
        }
        // llama.cpp GGUF LoRAs are named by a model-role rule on their `blk.*` names.
        let adapter = id.arch() == "lora" && s.index.format != "gguf";
        let w = width(&s);
        let mut f = s.clone();
        let mut add = |n: String, shape: Vec<u64>| {
            f.index
                .tensors
                .push(mir_core::TensorRecord::new(n, mir_core::Dtype::BF16, shape))
        };
        if adapter {
            for b in 0..3 {
                let m = format!("lora_unet_zz_future_blocks_{b}_attn_qkv");
                add(format!("{m}.lora_down.weight"), vec![16, w]);
                add(format!("{m}.lora_up.weight"), vec![w.saturating_mul(3), 16]);
            }
        } else {
            for b in 0..3 {
                add(
                    format!("zz_future_blocks.{b}.attn.qkv.weight"),
                    vec![w.saturating_mul(3), w],
                );
                add(
                    format!("zz_future_blocks.{b}.mlp.fc1.weight"),
                    vec![w * 4, w],
                );
                add(format!("zz_future_blocks.{b}.norm.weight"), vec![w]);
            }
            add("zz_future_embedder.weight".into(), vec![w, 64]);
        }
        let out = common::classify(&c, &f);
        checked += 1;
        let fam = family(&id.to_string());
        let got = out.mir.as_ref().map(|m| m.to_string()).unwrap_or_default();
        let same_family = !got.is_empty() && family(&got) == fam;
        let compat = out.mir.as_ref().and_then(|m| m.compat()).is_some();
        let mut bad = Vec::new();
        if same_family && out.confidence > 0.5 {
            bad.push(format!("named {got} at {:.2}", out.confidence));
        }
        if same_family && compat && !adapter {
            bad.push(format!("named {got} with compat"));
        }
        if adapter && got == id.to_string() {
            bad.push(format!("LoRA still named {got} with its base"));
        }
        let named = out
            .coverage
            .as_ref()
            .is_some_and(|c| c.unexplained.iter().any(|g| g.group.contains("zz_future")));
        if !named {
            bad.push("the future module groups are not in the coverage".into());
        }
        if !out.evidence.iter().any(|e| e.contains("zz_future")) {
            bad.push("the future module groups are not in the evidence".into());
        }
        if !bad.is_empty() {
            failures.push(format!(
                "{name} (was {id}): {}\n    {:?}",
                bad.join("; "),
                out.evidence
            ));
        }
    }
    assert!(
        checked > 50,
        "only {checked} fixtures have a rule with groups"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[derive(serde::Deserialize)]
struct Pairs {
    pair: Vec<Pair>,
}

#[derive(serde::Deserialize)]
struct Pair {
    a: String,
    b: String,
}

/// Whether `id` belongs to `family`: the same ID, or the ID plus a compat when `family` has none.
fn is(id: &str, family: &str) -> bool {
    id == family || (!family[4..].contains(':') && id.starts_with(&format!("{family}:")))
}

#[test]
fn look_alike_families_are_never_named_as_each_other() {
    let text =
        std::fs::read_to_string(common::repo_root().join("fixtures/lookalikes.toml")).unwrap();
    let pairs: Pairs = toml::from_str(&text).unwrap();
    assert!(pairs.pair.len() >= 15, "lookalikes.toml lost pairs");
    let c = Classifier::builtin().unwrap();
    let specs: Vec<(String, mir_classify::testing::Spec)> = common::all_specs()
        .into_iter()
        .map(|n| {
            let s = common::spec(&n);
            (n, s)
        })
        .collect();
    let mut confused = Vec::new();
    let mut report = Vec::new();
    for p in &pairs.pair {
        for (x, y) in [(&p.a, &p.b), (&p.b, &p.a)] {
            let mut n = 0;
            for (name, s) in &specs {
                let Some(expect) = &s.expect else { continue };
                if !is(expect, x) {
                    continue;
                }
                n += 1;
                let out = common::classify(&c, s);
                let got = out.mir.as_ref().map(|m| m.to_string()).unwrap_or_default();
                if is(&got, y) {
                    confused.push(format!("{name} (a {x}) is named {got}"));
                }
            }
            if n == 0 {
                report.push(format!("no fixture of {x} (pair with {y})"));
            }
        }
    }
    if !report.is_empty() {
        println!(
            "look-alike pairs not yet tested on both sides:\n{}",
            report.join("\n")
        );
    }
    assert!(confused.is_empty(), "{}", confused.join("\n"));
}

#[test]
fn docs_ids_md_is_generated_from_the_rules() {
    let c = Classifier::builtin().unwrap();
    let want = c.id_table_markdown();
    let path = common::repo_root().join("docs/ids.md");
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/ids.md is out of date with the rules; regenerate it with\n    \
         cargo run -p mir-cli -- ids --markdown > docs/ids.md"
    );
}
