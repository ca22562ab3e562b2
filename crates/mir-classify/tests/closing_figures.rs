//! Issue 12's closing figures, computed from the fixtures and the rules, with assertions that
//! keep them true:
//!
//! * the share of tensors (and parameters) the winning family's module groups explain, over
//!   every fixture whose rule declares groups (`--nocapture` prints it);
//! * the families that only metadata (or a file name) can name: rules with no structural layout.
//!   The list is exact, so a family that gains a layout, or a new metadata-only rule, updates it.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use mir_classify::Classifier;

#[test]
fn every_fixture_with_module_groups_is_explained_and_the_share_is_reported() {
    let c = Classifier::builtin().unwrap();
    let (mut fixtures, mut with_groups, mut tensors, mut unexplained) =
        (0usize, 0usize, 0usize, 0usize);
    let mut params_weighted = 0.0f64;
    let mut without = Vec::new();
    let mut partial = Vec::new();
    for name in common::all_specs() {
        let s = common::spec(&name);
        let out = common::classify(&c, &s);
        fixtures += 1;
        match &out.coverage {
            Some(cov) => {
                with_groups += 1;
                tensors += cov.tensors_total;
                unexplained += cov.tensors_unexplained;
                params_weighted += cov.parameters * cov.tensors_total as f64;
                if !cov.is_full() && s.partial.is_none() {
                    partial.push(format!("{name}: {} unexplained", cov.tensors_unexplained));
                }
            }
            None => without.push(name),
        }
    }
    let share = (tensors - unexplained) as f64 / tensors as f64;
    println!(
        "fixtures {fixtures}; with module groups {with_groups}: tensors explained {}/{tensors} \
         ({:.4}), parameter share (tensor-weighted) {:.4}; without coverage ({}): {without:?}",
        tensors - unexplained,
        share,
        params_weighted / tensors as f64,
        without.len()
    );
    assert!(
        with_groups > 450,
        "only {with_groups} fixtures have coverage"
    );
    assert!(partial.is_empty(), "{}", partial.join("\n"));
    // Only fallback / name-only / part-only fixtures have no coverage: a handful.
    assert!(
        without.len() <= 10,
        "fixtures without coverage: {without:?}"
    );
}

/// Rules no structural layout can fire: the family is named only by metadata (or a file name).
#[test]
fn the_families_decided_only_by_metadata_are_exactly_these() {
    let c = Classifier::builtin().unwrap();
    let mut only_meta = Vec::new();
    let mut only_name = Vec::new();
    for r in c.id_table() {
        if r.evidence.iter().any(|e| e.starts_with("layout ")) {
            continue;
        }
        if r.evidence.iter().any(|e| e.starts_with("metadata")) {
            only_meta.push(r.rule.clone());
        } else {
            only_name.push(r.rule.clone());
        }
    }
    println!("decided only by metadata: {only_meta:?}; only by file name: {only_name:?}");
    assert_eq!(
        only_meta,
        ["lora-chroma", "lora-lumina-image-2", "gguf-lora"],
        "rules without a structural layout that metadata names"
    );
    assert!(
        only_name.iter().all(|r| r.starts_with("name-")),
        "file-name-only rules outside filename.toml: {only_name:?}"
    );
}

/// The layouts gen_families.py wrote (Kandinsky 5, the HunyuanImage 2.1 refiner, Wan 2.2
/// Fun-Control, Hunyuan3D 2.1, HiDream-O1): all present, each named with its expected ID at
/// structure confidence, fully explained, with the family's flow objective.
#[test]
fn the_last_issue_12_families_are_named_from_their_real_layouts() {
    let c = Classifier::builtin().unwrap();
    let mut failures = Vec::new();
    for name in common::generated_by("gen_families.py", 14) {
        let s = common::spec(&name);
        let out = common::classify(&c, &s);
        let got = out.mir.as_ref().map(|m| m.to_string());
        if got != s.expect {
            failures.push(format!("{name}: named {got:?}, expected {:?}", s.expect));
        }
        if out.confidence < 0.9 {
            failures.push(format!("{name}: confidence {:.2}", out.confidence));
        }
        if !out.coverage.as_ref().is_some_and(|c| c.is_full()) {
            failures.push(format!("{name}: coverage {:?}", out.coverage));
        }
        if out.prediction.map(|p| p.as_str()) != Some("flow") {
            failures.push(format!("{name}: prediction {:?}", out.prediction));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
