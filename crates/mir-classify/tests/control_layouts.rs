//! The control-model, adapter, embedding and image-encoder layouts of issue 13 (fixtures whose
//! header names `xtask/layouts/gen_control.py`): each is named with its expected ID by its own
//! rule (never by its base model's rule), is fully explained, and reports the structural
//! evidence that decided the base (widths, vector count, rank).
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use mir_classify::Classifier;

fn generated() -> Vec<String> {
    common::generated_by("gen_control.py", 60)
}

#[test]
fn generated_control_layouts_are_named_by_their_own_rule_and_fully_explained() {
    let c = Classifier::builtin().unwrap();
    let mut failures = Vec::new();
    for name in generated() {
        let s = common::spec(&name);
        let out = common::classify(&c, &s);
        let got = out.mir.as_ref().map(|m| m.to_string());
        if got != s.expect {
            failures.push(format!("{name}: named {got:?}, expected {:?}", s.expect));
            continue;
        }
        if !out.candidates.is_empty() {
            failures.push(format!(
                "{name}: unexpected candidates {:?}",
                out.candidates
            ));
        }
        match &out.coverage {
            Some(cov) if cov.tensors_unexplained == 0 => {}
            Some(cov) => failures.push(format!(
                "{name}: {} of {} tensors unexplained: {:?}",
                cov.tensors_unexplained, cov.tensors_total, cov.unexplained
            )),
            None => failures.push(format!("{name}: its rule has no groups")),
        }
        // The base comes from the control model's own rule, not from a base-model rule.
        let rule = out
            .evidence
            .iter()
            .find_map(|e| e.strip_prefix("rule "))
            .unwrap_or_default()
            .to_string();
        for base_rule in [
            "flux-1-dev",
            "sd3",
            "sdxl",
            "sd1",
            "sd2",
            "qwen-image",
            "z-image",
        ] {
            if rule == base_rule {
                failures.push(format!("{name}: decided by the base model's rule {rule}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn evidence_of(name: &str) -> Vec<String> {
    let c = Classifier::builtin().unwrap();
    common::classify(&c, &common::spec(name)).evidence
}

#[test]
fn structural_evidence_names_widths_vector_counts_and_ranks() {
    let cases: &[(&str, &str)] = &[
        ("embedding-sd1.a1111.spec", "vectors = 8"),
        ("embedding-sd2.safetensors.spec", "vectors = 4"),
        ("embedding-sdxl.kohya.spec", "vectors = 8"),
        ("embedding-sdxl.one-vector.spec", "vectors = 1"),
        ("control-lora-sdxl.stability.spec", "rank = 128"),
        ("control-lora-sdxl.rank256.spec", "rank = 256"),
        ("controlnet-sd3-5-large.diffusers.spec", "= 2432"),
        ("controlnet-sd3.instantx.spec", "= 1536"),
        ("controlnet-union-sdxl.promax.spec", "control types = 8"),
        (
            "controlnet-union-flux-1-dev.instantx.spec",
            "control modes = 10",
        ),
        ("controlnet-flux-1-dev.xlabs.spec", "double blocks = 2"),
        (
            "ip-adapter-sdxl.original.spec",
            "cross-attention processors = 140",
        ),
        (
            "ip-adapter-sd1.original.spec",
            "cross-attention processors = 32",
        ),
    ];
    let mut failures = Vec::new();
    for (name, want) in cases {
        let ev = evidence_of(name);
        if !ev.iter().any(|e| e.contains(want)) {
            failures.push(format!("{name}: no evidence containing {want:?} in {ev:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A FLUX.1 ControlNet stripped of its control branch is a pruned FLUX transformer, and a FLUX.1
/// transformer is never a ControlNet: the control rules need their control modules.
#[test]
fn control_rules_need_their_control_modules() {
    let c = Classifier::builtin().unwrap();
    for base in [
        "flux-1-dev-full.bfl.spec",
        "flux-1-dev-full.diffusers.spec",
        "sd3-5-large.diffusers.spec",
        "qwen-image.diffusers.spec",
    ] {
        assert!(
            common::all_specs().iter().any(|n| n == base),
            "fixture {base} is missing"
        );
        let out = common::classify(&c, &common::spec(base));
        let got = out.mir.map(|m| m.to_string()).unwrap_or_default();
        assert!(
            !got.starts_with("mir:model.controlnet.") && !got.starts_with("mir:model.adapter."),
            "{base} named {got}"
        );
    }
    // The XLabs ControlNet without its hint block and control blocks is not named a ControlNet.
    let mut s = common::spec("controlnet-flux-1-dev.xlabs.spec");
    let keep: Vec<String> = s
        .index
        .tensors
        .iter()
        .map(|t| t.name.clone())
        .filter(|n| !n.starts_with("input_hint_block.") && !n.starts_with("controlnet_blocks."))
        .collect();
    s.index.tensors.retain(|t| keep.contains(&t.name));
    let out = common::classify(&c, &s);
    let got = out.mir.map(|m| m.to_string()).unwrap_or_default();
    assert!(
        !got.starts_with("mir:model.controlnet."),
        "stripped XLabs ControlNet named {got}"
    );
}
