//! Negative and robustness tests: unknown, empty, truncated and arbitrary indexes never panic
//! and never produce an ID that the evidence does not support.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use mir_classify::{Classifier, Hashes, Input};
use mir_core::{Dtype, MetaValue, TensorIndex, TensorRecord};
use proptest::prelude::*;

fn classify(c: &Classifier, idx: &TensorIndex) -> mir_classify::Classification {
    c.classify(&Input::new(idx))
}

#[test]
fn an_empty_index_has_no_id() {
    let c = Classifier::builtin().unwrap();
    let out = classify(&c, &TensorIndex::new("safetensors"));
    assert_eq!(out.mir, None);
    assert!(out.candidates.is_empty());
    assert_eq!(out.precision, None);
    assert_eq!(out.decided_by, None);
}

#[test]
fn stripped_shapes_do_not_pass_shape_rules() {
    // The SDXL list with every shape removed: the keys still say "SD-style UNet", but nothing
    // about context width, so no SDXL ID may come out.
    let c = Classifier::builtin().unwrap();
    let mut s = common::spec("sdxl.sgm.spec");
    for t in &mut s.index.tensors {
        t.shape.clear();
    }
    let out = classify(&c, &s.index);
    assert_eq!(out.mir.unwrap().to_string(), "mir:dev.unet.unknown");
    // Truncated to the first tensors only: no panic, no SDXL.
    let mut s = common::spec("sdxl.sgm.spec");
    s.index.tensors.truncate(3);
    let out = classify(&c, &s.index);
    assert_ne!(
        out.mir.map(|m| m.to_string()).as_deref(),
        Some("mir:model.unet.stable-diffusion-xl")
    );
}

#[test]
fn odd_names_and_extreme_dimensions_do_not_panic() {
    let c = Classifier::builtin().unwrap();
    let mut idx = TensorIndex::new("safetensors");
    for name in [
        "",
        ".",
        "..",
        "*",
        "**",
        "model.",
        "model.diffusion_model.",
        "lora_unet_",
        ".lora_down.weight",
        "lora_unet_.lora_down.weight",
        "unet.",
        "é.ü.😀",
        "double_blocks..img_attn.qkv.weight",
        "input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight",
        "layers.99999999999999999999.self_attn.q_proj.weight",
    ] {
        idx.tensors.push(TensorRecord::new(
            name,
            Dtype::Other("??".into()),
            vec![u64::MAX, 0],
        ));
    }
    idx.metadata
        .insert("general.architecture".into(), MetaValue::Str("___".into()));
    idx.metadata
        .insert("general.file_type".into(), MetaValue::Int(-1));
    idx.metadata
        .insert("modelspec.architecture".into(), MetaValue::Array(vec![]));
    let out = c.classify(&Input {
        index: &idx,
        file_name: Some("/"),
        config_model_type: Some(""),
        adapter_base: Some(""),
        hashes: Hashes {
            file_256: Some("zz"),
            layer_256: Some(""),
            layer_b3: None,
        },
    });
    if let Some(m) = out.mir {
        assert!(m.is_canonical(), "{m}");
    }
}

#[test]
fn gguf_architecture_that_sanitises_to_nothing_gives_no_art_id() {
    let c = Classifier::builtin().unwrap();
    let mut idx = TensorIndex::new("gguf");
    idx.metadata
        .insert("general.architecture".into(), MetaValue::Str("__".into()));
    idx.tensors.push(TensorRecord::new(
        "blk.0.attn_q.weight",
        Dtype::Quant("Q4_K".into()),
        vec![8, 8],
    ));
    let out = classify(&c, &idx);
    // The template cannot be filled, so the architecture-only fallback names it.
    assert_eq!(out.mir.unwrap().to_string(), "mir:dev.art.unknown");
}

#[test]
fn unknown_file_type_is_reported_not_guessed() {
    let c = Classifier::builtin().unwrap();
    let mut idx = TensorIndex::new("gguf");
    idx.metadata.insert(
        "general.architecture".into(),
        MetaValue::Str("llama".into()),
    );
    idx.metadata
        .insert("general.file_type".into(), MetaValue::UInt(4));
    // A file with weights (a tensor-less GGUF's metadata names nothing).
    idx.tensors.push(TensorRecord::new(
        "blk.0.attn_q.weight",
        Dtype::Quant("Q4_K".into()),
        vec![8, 8],
    ));
    let out = classify(&c, &idx);
    assert_eq!(out.mir.unwrap().to_string(), "mir:model.art.llama");
    assert!(
        out.evidence.iter().any(|e| e.contains("not in table")),
        "{:?}",
        out.evidence
    );
}

/// Issue 17 item 18: llama.cpp's vocabulary-only GGUFs carry an architecture and
/// `general.file_type` = 1 (F16) but no tensor: they must NOT be named `mir:model.art.llama:f16`.
#[test]
fn a_file_without_tensors_is_not_named_by_its_metadata() {
    let c = Classifier::builtin().unwrap();
    let mut idx = TensorIndex::new("gguf");
    idx.metadata.insert(
        "general.architecture".into(),
        MetaValue::Str("llama".into()),
    );
    idx.metadata
        .insert("general.file_type".into(), MetaValue::UInt(1));
    let out = classify(&c, &idx);
    assert_eq!(out.mir, None, "{:?}", out.evidence);
    assert!(out.candidates.is_empty());
    assert!(
        out.evidence.iter().any(|e| e.contains("no tensors")),
        "{:?}",
        out.evidence
    );
}

fn name_strategy() -> impl Strategy<Value = String> {
    let fragments = prop::sample::select(vec![
        "model.",
        "diffusion_model.",
        "input_blocks.",
        "4.",
        "1.",
        "transformer_blocks.",
        "0.",
        "attn2.",
        "to_k.",
        "weight",
        "double_blocks.",
        "img_attn.",
        "qkv.",
        "lora_unet_",
        ".lora_down.weight",
        "lora_A.",
        "default.",
        "blk.",
        "attn_q.",
        "layers.",
        "self_attn.",
        "q_proj.",
        "decoder.",
        "conv_in.",
        "first_stage_model.",
        "conditioner.embedders.0.",
        "text_encoders.clip_l.",
        "*",
        ".",
        "_",
        "é",
    ]);
    prop_oneof![
        prop::collection::vec(fragments, 0..8).prop_map(|v| v.concat()),
        "\\PC{0,40}",
    ]
}

fn tensor_strategy() -> impl Strategy<Value = TensorRecord> {
    (
        name_strategy(),
        prop::collection::vec(
            prop_oneof![
                Just(0u64),
                Just(768),
                Just(2048),
                Just(2816),
                Just(u64::MAX),
                any::<u64>()
            ],
            0..6,
        ),
    )
        .prop_map(|(n, s)| TensorRecord::new(n, Dtype::F16, s))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn classify_never_panics_on_arbitrary_indexes(
        tensors in prop::collection::vec(tensor_strategy(), 0..40),
        meta in prop::collection::vec((prop::sample::select(vec![
            "general.architecture", "general.file_type", "modelspec.architecture",
            "ss_base_model_version", "ss_network_module", "ss_output_name", "other",
        ]), "\\PC{0,16}"), 0..4),
        file_name in proptest::option::of("\\PC{0,24}"),
        model_type in proptest::option::of("[a-z0-9_]{0,8}"),
    ) {
        let c = Classifier::builtin().unwrap();
        let mut idx = TensorIndex::new("safetensors");
        idx.tensors = tensors;
        for (k, v) in meta {
            idx.metadata.insert(k.to_string(), MetaValue::Str(v));
        }
        let out = c.classify(&Input {
            index: &idx,
            file_name: file_name.as_deref(),
            config_model_type: model_type.as_deref(),
            adapter_base: model_type.as_deref(),
            hashes: Hashes::default(),
        });
        prop_assert!((0.0..=1.0).contains(&out.confidence));
        if let Some(m) = &out.mir {
            prop_assert!(!out.evidence.is_empty());
            prop_assert!(out.decided_by.is_some());
            let _ = m.to_string();
        }
    }
}

#[test]
fn metadata_wins_over_structure_and_the_evidence_says_so() {
    let c = Classifier::builtin().unwrap();
    let mut s = common::spec("sd1.diffusers.spec");
    s.index.metadata.insert(
        "modelspec.architecture".into(),
        MetaValue::Str("stable-diffusion-xl-v1-base".into()),
    );
    let out = classify(&c, &s.index);
    assert_eq!(
        out.mir.unwrap().to_string(),
        "mir:model.unet.stable-diffusion-xl"
    );
    assert_eq!(out.decided_by, Some(mir_classify::EvidenceKind::Metadata));
    assert!(
        out.evidence
            .iter()
            .any(|e| e.contains("structure alone suggests mir:model.unet.stable-diffusion-v1")),
        "{:?}",
        out.evidence
    );
}

#[test]
fn precision_comes_from_the_dominant_dtype() {
    let c = Classifier::builtin().unwrap();
    let s = common::spec("qwen-image.diffusers.spec");
    let out = classify(&c, &s.index);
    assert_eq!(
        out.precision.unwrap().to_string(),
        "mir:ops.precision.bfloat:B16"
    );
    let s = common::spec("sdxl.sgm.spec");
    let out = classify(&c, &s.index);
    assert_eq!(
        out.precision.unwrap().to_string(),
        "mir:ops.precision.float:F16"
    );
    // Block-quantised GGUF weights have no precision entry.
    let s = common::spec("llama.gguf.spec");
    assert_eq!(classify(&c, &s.index).precision, None);
}
