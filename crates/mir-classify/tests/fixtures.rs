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
            "| {name} | {} | `{got}` | {} | {:.2} |",
            s.index.tensors.len(),
            out.decided_by.map_or("-", |k| k.as_str()),
            out.confidence
        ));
    }
    if std::env::var_os("MIR_PRINT_TABLE").is_some() {
        println!("| fixture | tensors | ID | decided by | confidence |\n|---|---|---|---|---|");
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
    for row in &rows {
        let n = by_id.get(row).map_or(0, Vec::len);
        if n < 2 {
            missing.push(format!("{row}: {n} fixture(s) {:?}", by_id.get(row)));
        }
    }
    assert!(
        missing.is_empty(),
        "rows with fewer than two fixtures:\n{}",
        missing.join("\n")
    );
}
