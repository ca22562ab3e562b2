//! LoRAs over the real base layouts (xtask/layouts/gen_lora.py, issues 12 and 13): partial LoRAs
//! of every DiT family with LoRAs are never named as another family's LoRA, and the ones
//! structure cannot attribute are named without a base, the look-alikes as candidates.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use mir_classify::Classifier;

/// The base series a `lora-partial-<family>.<variant>.spec` fixture was generated from.
fn true_base(name: &str) -> &'static str {
    let fam = name
        .strip_prefix("lora-partial-")
        .and_then(|r| r.split('.').next())
        .unwrap();
    match fam {
        "flux-1-dev" => "flux-1-dev",
        "flux-2-dev" => "flux-2-dev",
        "flux-2-klein-4b" => "flux-2-klein-4b",
        "flux-2-klein-9b" => "flux-2-klein-9b",
        "hunyuanvideo" => "hunyuanvideo",
        "qwen-image" => "qwen-image",
        "z-image" => "z-image",
        "wan-14b" | "wan-1-3b" => "wan-2-1",
        "wan-5b" => "wan-2-2",
        "ltx-video" => "ltx-video",
        other => panic!("{name}: no base known for {other}"),
    }
}

fn partial_fixtures() -> Vec<String> {
    common::all_specs()
        .into_iter()
        .filter(|n| n.starts_with("lora-partial-"))
        .collect()
}

#[test]
fn partial_loras_are_never_named_as_another_familys_lora() {
    let c = Classifier::builtin().unwrap();
    let names = partial_fixtures();
    assert!(
        names.len() >= 18,
        "only {} partial LoRA fixtures",
        names.len()
    );
    let mut failures = Vec::new();
    let mut families = std::collections::BTreeSet::new();
    for name in &names {
        let base = true_base(name);
        families.insert(base);
        let out = common::classify(&c, &common::spec(name));
        let id = out.mir.clone().unwrap_or_else(|| panic!("{name}: no ID"));
        if id.arch() != "lora" {
            failures.push(format!("{name}: {id} is not a LoRA ID"));
            continue;
        }
        match id.compat() {
            Some(b) if b == base => {}
            Some(b) => failures.push(format!("{name} (a {base} LoRA) is named a {b} LoRA")),
            None => {
                // Abstained: confidence at most 0.5, and when candidates are listed the true base
                // is among them.
                if out.confidence > 0.5 {
                    failures.push(format!("{name}: no base at confidence {}", out.confidence));
                }
                if !out.candidates.is_empty()
                    && !out.candidates.iter().any(|m| m.compat() == Some(base))
                {
                    failures.push(format!(
                        "{name}: {base} is not among the candidates {:?}",
                        out.candidates
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                    ));
                }
            }
        }
    }
    // Every DiT family with LoRAs has a partial fixture.
    for fam in [
        "flux-1-dev",
        "flux-2-dev",
        "flux-2-klein-4b",
        "flux-2-klein-9b",
        "qwen-image",
        "z-image",
        "hunyuanvideo",
        "wan-2-1",
        "wan-2-2",
        "ltx-video",
    ] {
        if !families.contains(fam) {
            failures.push(format!("no partial LoRA fixture of {fam}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Issue 12's two known-wrong cases, by name: a FLUX.2 [klein] 4B LoRA on double-block
/// attention only and a HunyuanVideo LoRA on early blocks only were named FLUX.1 LoRAs.
#[test]
fn klein_attention_and_early_hunyuanvideo_loras_are_not_flux_1() {
    let c = Classifier::builtin().unwrap();
    for (name, must_list) in [
        (
            "lora-partial-flux-2-klein-4b.double-attn.spec",
            &["flux-2-klein-4b", "flux-1-dev", "hunyuanvideo"][..],
        ),
        (
            "lora-partial-hunyuanvideo.early-attn.spec",
            &["flux-1-dev", "hunyuanvideo"][..],
        ),
    ] {
        let out = common::classify(&c, &common::spec(name));
        let id = out.mir.clone().unwrap();
        assert_eq!(id.to_string(), "mir:model.lora.lora", "{name}");
        assert!(out.confidence <= 0.5, "{name}: {}", out.confidence);
        for b in must_list {
            assert!(
                out.candidates.iter().any(|m| m.compat() == Some(b)),
                "{name}: candidate {b} missing from {:?}",
                out.candidates
            );
        }
        assert!(
            out.evidence.iter().any(|e| e.contains("share")),
            "{name}: the evidence does not say why: {:?}",
            out.evidence
        );
    }
    // With HunyuanVideo's own MLP / modulation names, the early-block LoRA is named.
    let out = common::classify(
        &c,
        &common::spec("lora-partial-hunyuanvideo.early-blocks.spec"),
    );
    assert_eq!(
        out.mir.unwrap().to_string(),
        "mir:model.lora.lora:hunyuanvideo"
    );
    // A full FLUX.1 LoRA is still named, in both namings.
    for name in [
        "lora-flux-1-dev-full.kohya.spec",
        "lora-flux-1-dev-full.peft.spec",
    ] {
        let out = common::classify(&c, &common::spec(name));
        assert_eq!(
            out.mir.unwrap().to_string(),
            "mir:model.lora.lora:flux-1-dev",
            "{name}"
        );
        assert!(out.confidence > 0.9, "{name}");
    }
}

/// A full FLUX.1 LoRA with one more double block (19: HunyuanVideo has 20) is not FLUX.1's.
#[test]
fn a_flux_1_lora_one_block_deeper_is_not_flux_1() {
    let c = Classifier::builtin().unwrap();
    let mut s = common::spec("lora-flux-1-dev-full.kohya.spec");
    for (n, shape) in [
        (
            "lora_unet_double_blocks_19_img_attn_qkv.lora_down.weight",
            vec![16, 3072],
        ),
        (
            "lora_unet_double_blocks_19_img_attn_qkv.lora_up.weight",
            vec![9216, 16],
        ),
    ] {
        s.index
            .tensors
            .push(mir_core::TensorRecord::new(n, mir_core::Dtype::BF16, shape));
    }
    let out = common::classify(&c, &s);
    let got = out.mir.map(|m| m.to_string()).unwrap_or_default();
    assert_ne!(got, "mir:model.lora.lora:flux-1-dev", "{:?}", out.evidence);
    // Nor HunyuanVideo's: it keeps FLUX.1's module names (`img_mlp_0`, `img_mod_lin`), which
    // HunyuanVideo does not have.
    assert!(
        !(got.ends_with(":hunyuanvideo") && out.confidence > 0.5),
        "{got} at {}: {:?}",
        out.confidence,
        out.evidence
    );
}

/// A LoRA with FLUX.1's MLP names and a 20th double block (HunyuanVideo's depth) is neither
/// family's: HunyuanVideo writes that MLP `img_mlp.fc1`, FLUX.1 has 19 double blocks.
#[test]
fn flux_1_module_names_deeper_than_flux_1_are_not_hunyuanvideo() {
    let c = Classifier::builtin().unwrap();
    let mut s = common::spec("lora-flux-1-dev-full.kohya.spec");
    s.index.tensors.clear();
    for block in [0, 19] {
        for (n, shape) in [
            (
                format!("lora_unet_double_blocks_{block}_img_mlp_0.lora_down.weight"),
                vec![16, 3072],
            ),
            (
                format!("lora_unet_double_blocks_{block}_img_mlp_0.lora_up.weight"),
                vec![12288, 16],
            ),
        ] {
            s.index.tensors.push(mir_core::TensorRecord::new(
                &n,
                mir_core::Dtype::BF16,
                shape,
            ));
        }
    }
    let out = common::classify(&c, &s);
    let got = out.mir.map(|m| m.to_string()).unwrap_or_default();
    for family in [":hunyuanvideo", ":flux-1-dev"] {
        assert!(
            !(got.ends_with(family) && out.confidence > 0.5),
            "{got} at {}: {:?}",
            out.confidence,
            out.evidence
        );
    }
}

/// Issue 13: a language model's LoRA is a language model's LoRA. Its evidence names the part
/// its keys belong to (`llm/…`), never a UNet, in PEFT (Llama, GPT-2) and MLX layouts; without
/// an adapter_config.json it has no base, with one the config names it.
#[test]
fn language_model_loras_name_the_language_model_not_a_unet() {
    let c = Classifier::builtin().unwrap();
    for (name, want) in [
        ("lora-gpt2.peft.spec", "mir:model.lora.lora"),
        ("lora-llama.peft.spec", "mir:model.lora.lora"),
        ("lora-llama.mlx.spec", "mir:model.lora.lora"),
        ("lora-gpt2.peft-config.spec", "mir:model.lora.lora:gpt2"),
        ("lora-llama.peft-config.spec", "mir:model.lora.lora:llama"),
        ("lora-llama.mlx-config.spec", "mir:model.lora.lora:llama"),
    ] {
        let s = common::spec(name);
        let out = common::classify(&c, &s);
        assert_eq!(
            out.mir.as_ref().map(ToString::to_string).as_deref(),
            Some(want),
            "{name}: {:?}",
            out.evidence
        );
        assert!(
            !out.evidence
                .iter()
                .any(|e| e.contains("unet") || e.contains("denoiser")),
            "{name}: evidence names a UNet: {:?}",
            out.evidence
        );
        assert!(
            out.evidence
                .iter()
                .any(|e| e.contains("parts: language model (llm/)")),
            "{name}: {:?}",
            out.evidence
        );
        assert!(
            out.evidence.iter().any(|e| e.contains("llm/")),
            "{name}: evidence does not name the language model: {:?}",
            out.evidence
        );
        // No guessing among language models: without a config there are no candidates.
        assert!(out.candidates.is_empty(), "{name}: {:?}", out.candidates);
        if s.adapter_base.is_some() {
            assert!(
                out.evidence
                    .iter()
                    .any(|e| e.contains("adapter_config.base_model_name_or_path")),
                "{name}: {:?}",
                out.evidence
            );
        }
    }
    // A diffusion LoRA's adapter_config.json that names another family does not outrank its
    // structure into a wrong base: the open-world check withholds the LLM base.
    let mut s = common::spec("lora-sdxl.peft.spec");
    s.adapter_base = Some("meta-llama/Llama-3.2-1B".into());
    let out = common::classify(&c, &s);
    let got = out.mir.unwrap().to_string();
    assert_ne!(got, "mir:model.lora.lora:llama", "{:?}", out.evidence);
    // llama.cpp's GGUF LoRAs (`….weight.lora_a`) are not MLX adapters.
    let out = common::classify(&c, &common::spec("gguf-lora.llamacpp.spec"));
    assert_eq!(out.mir.unwrap().to_string(), "mir:model.lora.lora:llama");
}

/// cloneofsimo `lora_diffusion` files carry no module names: the base comes from the context
/// width read by attention's to_k / to_v (768 SD 1, 1024 SD 2).
#[test]
fn lora_diffusion_files_are_named_from_the_context_width() {
    let c = Classifier::builtin().unwrap();
    for (name, want) in [
        (
            "lora-sd1.lora-diffusion.spec",
            "mir:model.lora.lora:stable-diffusion-v1",
        ),
        (
            "lora-sd2.lora-diffusion.spec",
            "mir:model.lora.lora:stable-diffusion-2",
        ),
    ] {
        let out = common::classify(&c, &common::spec(name));
        assert_eq!(out.mir.unwrap().to_string(), want, "{name}");
        assert!(out.coverage.unwrap().is_full(), "{name}");
    }
    // The `.pt` files: a bare list [up, down, …] named by position. The UNet's and the text
    // encoder's files are told apart by SD's 320-wide first stage, and the evidence says which.
    for (name, part, not_part) in [
        (
            "lora-sd1.lora-diffusion-pt.spec",
            "unet/lora_diffusion_",
            "te/",
        ),
        (
            "lora-sd1.lora-diffusion-te-pt.spec",
            "te/lora_diffusion_",
            "unet/lora",
        ),
    ] {
        let out = common::classify(&c, &common::spec(name));
        assert_eq!(
            out.mir.unwrap().to_string(),
            "mir:model.lora.lora:stable-diffusion-v1",
            "{name}"
        );
        assert!(
            out.evidence.iter().any(|e| e.contains(part)),
            "{name}: {:?}",
            out.evidence
        );
        assert!(
            !out.evidence.iter().any(|e| e.contains(not_part)),
            "{name}: {:?}",
            out.evidence
        );
    }
    // A positional list that is not up/down pairs (ranks differ) is no adapter.
    let mut s = common::spec("lora-sd1.lora-diffusion-pt.spec");
    s.index.tensors[1].shape = vec![5, 320];
    let out = common::classify(&c, &s);
    assert!(
        out.mir.as_ref().is_none_or(|m| m.arch() != "lora"),
        "{:?}",
        out.mir
    );
    // A `unet:` key that is not `<i>:up|down` is not an adapter tensor.
    let mut s = common::spec("lora-sd1.lora-diffusion.spec");
    s.index.tensors.push(mir_core::TensorRecord::new(
        "unet:x:up",
        mir_core::Dtype::F32,
        vec![4, 4],
    ));
    let out = common::classify(&c, &s);
    assert_ne!(
        out.mir.unwrap().to_string(),
        "mir:model.lora.lora:stable-diffusion-v1",
        "an unexplained tensor must withhold the base"
    );
}
