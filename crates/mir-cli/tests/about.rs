//! Issue 16 end to end: what a file says about itself (`about`, `adapter`, `packaging`), what
//! sits beside it (`sidecars`, `preview`), civitai's AIR name (`air`), from files and sidecars
//! written by our own generators with the key names kohya, llama.cpp, civitai helpers, Stability
//! Matrix, A1111 and SwarmUI use; and `mir inspect --thumbnail`.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};

use common::{mir, mir_in, records};
use mir_core::{Dtype, MetaValue, TensorIndex, TensorRecord};
use mir_testkit::about as sidegen;
use mir_testkit::gguf::{GgufFile, GgufTensor, ggml};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The index of the fixture spec `name` (from `fixtures/specs`).
fn spec_index(name: &str) -> TensorIndex {
    let specs = repo().join("fixtures/specs");
    let toolkit = repo().join("fixtures/reference/model-toolkit/components");
    let text = std::fs::read_to_string(specs.join(name)).unwrap();
    let mut resolve = |n: &str| match n.strip_prefix("toolkit:") {
        Some(rest) => std::fs::read_to_string(toolkit.join(rest)).ok(),
        None => std::fs::read_to_string(specs.join(n)).ok(),
    };
    mir_classify::testing::load_spec(&text, &mut resolve)
        .unwrap()
        .index
}

fn write(path: &Path, index: &TensorIndex, meta: &[(String, String)]) {
    let mut index = index.clone();
    for (k, v) in meta {
        index.metadata.insert(k.clone(), MetaValue::Str(v.clone()));
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    mir_testkit::write_index_safetensors(path, &index).unwrap();
}

/// ComfyUI's scaled-fp8 packing of a checkpoint: every 2-D weight in fp8 with a
/// `scale_weight` beside it, and the `scaled_fp8` marker.
fn scaled_fp8(index: &TensorIndex) -> TensorIndex {
    let mut out = TensorIndex::new("safetensors");
    for t in &index.tensors {
        if t.name.ends_with(".weight") && t.shape.len() == 2 {
            out.tensors.push(TensorRecord::new(
                t.name.clone(),
                Dtype::F8E4M3,
                t.shape.clone(),
            ));
            let scale = format!("{}.scale_weight", t.name.trim_end_matches(".weight"));
            out.tensors
                .push(TensorRecord::new(scale, Dtype::F32, vec![]));
        } else {
            out.tensors.push(t.clone());
        }
    }
    out.tensors
        .push(TensorRecord::new("scaled_fp8", Dtype::F8E4M3, vec![0]));
    out
}

/// Every value matches `schemas/<name>.schema.json`, and the schema rejects a broken field.
fn check_schema(name: &str, values: &[Value]) {
    let path = repo().join("schemas").join(format!("{name}.schema.json"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    for value in values {
        let errors: Vec<String> = v.iter_errors(value).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {value}: {errors:#?}");
        if value.get("air").is_some() {
            let mut broken = value.clone();
            broken["air"]["urn"] = json!("urn:air:sdxl:lora:civitai:x@y");
            assert!(!v.is_valid(&broken), "{name}: a bad urn must not validate");
        }
    }
}

/// bitsandbytes NF4 packing as diffusers/transformers save it: each 2-D weight becomes packed
/// uint8 with `absmax`, `quant_map` and a `quant_state.bitsandbytes__nf4` blob beside it.
fn bnb_nf4(index: &TensorIndex) -> TensorIndex {
    let mut out = TensorIndex::new("safetensors");
    for t in &index.tensors {
        if t.name.ends_with(".weight") && t.shape.len() == 2 {
            let n: u64 = t.shape.iter().product();
            out.tensors
                .push(TensorRecord::new(t.name.clone(), Dtype::U8, vec![n / 2, 1]));
            for (suffix, len) in [
                ("absmax", n / 64),
                ("quant_map", 16),
                ("quant_state.bitsandbytes__nf4", 100),
            ] {
                out.tensors.push(TensorRecord::new(
                    format!("{}.{suffix}", t.name),
                    if suffix == "absmax" || suffix == "quant_map" {
                        Dtype::F32
                    } else {
                        Dtype::U8
                    },
                    vec![len],
                ));
            }
        } else {
            out.tensors.push(t.clone());
        }
    }
    out
}

fn by_name<'a>(recs: &'a [Value], name: &str) -> &'a Value {
    recs.iter()
        .find(|r| r["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| {
            panic!(
                "no record for {name} in {:?}",
                recs.iter().map(|r| r["path"].clone()).collect::<Vec<_>>()
            )
        })
}

/// A small library with every metadata source.
fn library(root: &Path) {
    // A kohya SDXL LoRA with civitai-helper, A1111 and preview sidecars.
    let loras = root.join("loras");
    let meta = sidegen::kohya_lora_metadata(
        "inkstyle",
        "sdxl_base_v1-0",
        "stable-diffusion-xl-v1-base/lora",
        16,
        8.0,
        &[
            (
                "10_ink",
                &[("inkstyle", 40), ("1girl", 12), ("monochrome", 30)],
            ),
            ("5_extra", &[("1girl", 20)]),
        ],
    );
    write(
        &loras.join("ink.safetensors"),
        &spec_index("lora-sdxl.kohya.spec"),
        &meta,
    );
    std::fs::write(
        loras.join("ink.civitai.info"),
        sidegen::civitai_info(
            123,
            456,
            "SDXL 1.0",
            &["inkstyle, ink wash"],
            "Ink Wash",
            "LORA",
        ),
    )
    .unwrap();
    std::fs::write(
        loras.join("ink.json"),
        sidegen::a1111_json("ink, wash", "SDXL", 0.8),
    )
    .unwrap();
    std::fs::write(loras.join("ink.preview.png"), b"\x89PNG\r\n\x1a\n").unwrap();
    std::fs::write(loras.join("ink.png"), b"\x89PNG\r\n\x1a\n").unwrap();

    // A kohya FLUX LoRA with Stability Matrix and SwarmUI sidecars.
    write(
        &loras.join("fluxy.safetensors"),
        &spec_index("lora-flux-1-dev-full.kohya.spec"),
        &[],
    );
    std::fs::write(
        loras.join("fluxy.cm-info.json"),
        sidegen::cm_info(77, 88, "Flux.1 D", &["fluxy style"], "Fluxy", "LORA"),
    )
    .unwrap();
    std::fs::write(
        loras.join("fluxy.swarm.json"),
        sidegen::swarm_json("Fluxy (Swarm)", "flux-1-dev/lora", "fluxy", "someone"),
    )
    .unwrap();

    // An SD1 LoRA whose civitai sidecar is damaged.
    write(
        &loras.join("bad.safetensors"),
        &spec_index("lora-sd1.kohya.spec"),
        &[],
    );
    std::fs::write(loras.join("bad.civitai.info"), "{\"modelId\": 1,").unwrap();

    // FLUX.1 dev, plain and packed as ComfyUI's scaled fp8.
    let flux = spec_index("flux-1-dev.bfl.spec");
    write(&root.join("ckpt/flux.safetensors"), &flux, &[]);
    write(
        &root.join("ckpt/flux-fp8.safetensors"),
        &scaled_fp8(&flux),
        &[],
    );
    write(
        &root.join("ckpt/flux-nf4.safetensors"),
        &bnb_nf4(&flux),
        &[],
    );

    // A llama.cpp GGUF with general.* keys.
    let mut g = GgufFile::default();
    sidegen::gguf_general(
        &mut g,
        "llama",
        "Tiny Llama 8B Instruct",
        "tiny-llama",
        "Instruct",
        "8B",
        "llama3.1",
        "someone",
        (
            "Llama 3.1 8B",
            "Meta Llama",
            "https://huggingface.co/meta-llama/Llama-3.1-8B",
        ),
        131072,
    );
    g.kv("general.file_type", mir_testkit::gguf::GgufValue::U32(15));
    for (name, shape, ty) in [
        ("token_embd.weight", &[128256u64, 4096][..], ggml::Q4_K),
        ("blk.0.attn_q.weight", &[4096, 4096], ggml::Q4_K),
        ("blk.0.attn_k.weight", &[1024, 4096], ggml::Q4_K),
        ("blk.0.ffn_gate.weight", &[12288, 4096], ggml::Q4_K),
        ("blk.0.ffn_down.weight", &[4096, 12288], ggml::Q6_K),
        ("blk.0.attn_norm.weight", &[4096], ggml::F32),
        ("output_norm.weight", &[4096], ggml::F32),
    ] {
        g.tensor(GgufTensor::from_torch_shape(name, shape, ty));
    }
    std::fs::create_dir_all(root.join("llm")).unwrap();
    g.write_sparse(&root.join("llm/tiny.gguf")).unwrap();
}

fn check_library(recs: &[Value]) {
    // The SDXL LoRA: header metadata first, sidecars fill the rest.
    let ink = by_name(recs, "ink.safetensors");
    assert_eq!(ink["mir"], "mir:model.lora.lora:stable-diffusion-xl");
    let about = &ink["about"];
    assert_eq!(
        about["title"],
        json!({"value": "inkstyle", "source": "modelspec.title"})
    );
    assert_eq!(about["name"]["source"], "ss_output_name");
    assert_eq!(about["base_model"]["value"], "sdxl_base_v1-0");
    assert_eq!(about["network_dim"]["value"], 16);
    assert_eq!(
        about["suggested_trigger_words"],
        json!({"value": ["inkstyle", "1girl", "monochrome"], "source": "ss_tag_frequency"})
    );
    // The civitai helper's words win over A1111's (order of authority), with their source.
    assert_eq!(
        about["trigger_words"],
        json!({"value": ["inkstyle", "ink wash"], "source": "ink.civitai.info:trainedWords"})
    );
    assert_eq!(
        about["civitai"],
        json!({"value": {"model_id": 123, "version_id": 456}, "source": "ink.civitai.info:modelId"})
    );
    assert_eq!(about["preferred_weight"]["value"], 0.8);
    assert_eq!(ink["adapter"]["algo"], "lora");
    assert_eq!(ink["adapter"]["alpha"], 8.0);
    assert!(ink["adapter"]["rank"].is_u64());
    // The model-toolkit SDXL LoRA list holds the UNet and the second text encoder.
    assert_eq!(ink["adapter"]["targets"], json!(["text_encoder_2", "unet"]));
    assert!(
        ink["adapter"]["blocks"]["unet.input_blocks"]
            .as_u64()
            .unwrap()
            > 0
    );
    let kinds: Vec<&str> = ink["sidecars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec!["civitai-info", "a1111-json", "preview", "preview"]
    );
    assert_eq!(ink["sidecars"][0]["model_id"], 123);
    assert_eq!(ink["sidecars"][1]["trigger_words"], json!(["ink", "wash"]));
    assert!(
        ink["preview"]
            .as_str()
            .unwrap()
            .ends_with("loras/ink.preview.png")
    );
    assert_eq!(
        ink["air"],
        json!({"ecosystem": "sdxl", "type": "lora", "urn": "urn:air:sdxl:lora:civitai:123@456"})
    );
    assert!(ink.get("packaging").is_none());

    // Stability Matrix ids and SwarmUI metadata on a FLUX LoRA.
    let fluxy = by_name(recs, "fluxy.safetensors");
    assert_eq!(fluxy["air"]["urn"], "urn:air:flux1:lora:civitai:77@88");
    assert_eq!(
        fluxy["about"]["base_model"]["source"],
        "fluxy.cm-info.json:BaseModel"
    );
    assert_eq!(
        fluxy["about"]["trigger_words"]["value"],
        json!(["fluxy style"])
    );
    assert_eq!(
        fluxy["about"]["author"],
        json!({"value": "someone", "source": "fluxy.swarm.json:modelspec.author"})
    );
    // Kohya's FLUX LoRA trains the DiT (all 19 double blocks) and CLIP-L (`lora_te1_`), rank 16.
    assert_eq!(
        fluxy["adapter"]["targets"],
        json!(["dit", "text_encoder_1"])
    );
    assert_eq!(fluxy["adapter"]["rank"], 16);
    assert_eq!(fluxy["adapter"]["blocks"]["dit.double_blocks"], 19);
    assert!(fluxy.get("preview").is_none());

    // A damaged sidecar is a finding, never an error of the weight file.
    let bad = by_name(recs, "bad.safetensors");
    assert!(bad["error"].is_null());
    assert_eq!(bad["mir"], "mir:model.lora.lora:stable-diffusion-v1");
    let findings: Vec<&str> = bad["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        findings
            .iter()
            .any(|f| f.starts_with("sidecar bad.civitai.info: not JSON")),
        "{findings:?}"
    );
    assert_eq!(bad["sidecars"][0]["kind"], "civitai-info");
    assert!(bad["sidecars"][0]["error"].is_string());
    assert!(bad["air"].get("urn").is_none());
    assert_eq!(bad["air"]["ecosystem"], "sd1");

    // Packaging is never a family: the scaled-fp8 copy keeps the plain file's ID.
    let plain = by_name(recs, "ckpt/flux.safetensors");
    let fp8 = by_name(recs, "flux-fp8.safetensors");
    assert_eq!(plain["mir"], "mir:model.dit.flux-1-dev");
    assert_eq!(fp8["mir"], plain["mir"]);
    assert_eq!(fp8["packaging"], json!(["scaled-fp8"]));
    assert!(plain.get("packaging").is_none());
    assert_eq!(
        fp8["air"],
        json!({"ecosystem": "flux1", "type": "checkpoint"})
    );
    assert!(fp8.get("adapter").is_none());
    let nf4 = by_name(recs, "flux-nf4.safetensors");
    assert_eq!(nf4["packaging"], json!(["bnb-nf4"]), "{nf4}");
    // NF4 packs each weight into a flat byte tensor, so the layout's shapes are gone: the file
    // may lose its family (today it is architecture-only), but packaging never names another.
    let id = nf4["mir"].as_str().unwrap();
    assert!(
        id == "mir:model.dit.flux-1-dev" || id.starts_with("mir:dev."),
        "{id}"
    );
    assert_eq!(
        nf4["air"]["ecosystem"],
        if id.starts_with("mir:dev.") {
            "other"
        } else {
            "flux1"
        }
    );

    // llama.cpp's general.* keys, context length, parameter count and quant mix.
    let tiny = by_name(recs, "tiny.gguf");
    let a = &tiny["about"];
    assert_eq!(
        a["name"],
        json!({"value": "Tiny Llama 8B Instruct", "source": "general.name"})
    );
    assert_eq!(a["basename"]["value"], "tiny-llama");
    assert_eq!(a["size_label"]["value"], "8B");
    assert_eq!(a["license"]["value"], "llama3.1");
    assert_eq!(a["quantized_by"]["value"], "someone");
    assert_eq!(
        a["base_model"],
        json!({"value": "Llama 3.1 8B", "source": "general.base_model.0.name"})
    );
    assert_eq!(a["base_models"]["value"][0]["organization"], "Meta Llama");
    assert_eq!(
        a["context_length"],
        json!({"value": 131072, "source": "llama.context_length"})
    );
    let params: u64 = 128256 * 4096 + 4096 * 4096 + 1024 * 4096 + 2 * 12288 * 4096 + 2 * 4096;
    assert_eq!(a["parameters"]["value"], params);
    assert_eq!(
        a["quant_mix"]["value"],
        json!({"F32": 2, "Q4_K": 4, "Q6_K": 1})
    );
    assert_eq!(tiny["packaging"], json!(["gguf:Q4_K_M"]));
    assert_eq!(tiny["air"]["type"], "other");
}

#[test]
fn scan_reports_about_sidecars_packaging_and_air_and_the_index_keeps_them() {
    let tmp = tempfile::tempdir().unwrap();
    library(tmp.path());
    let index = tmp.path().join("index.sqlite3");
    let root = tmp.path().to_str().unwrap().to_owned();
    let out = mir_in(&index, &["scan", "--json", &root]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = records(&out);
    check_library(&first);
    check_schema("scan", &first);

    // Served from the index: the same description, no file read again.
    let out = mir_in(&index, &["scan", "--json", &root]);
    let second = records(&out);
    check_library(&second);
    assert!(second.iter().all(|r| r["cached"] == true));
    for (a, b) in first.iter().zip(&second) {
        for field in [
            "about",
            "adapter",
            "packaging",
            "sidecars",
            "preview",
            "air",
        ] {
            assert_eq!(a.get(field), b.get(field), "{field} of {}", a["path"]);
        }
    }

    // A sidecar that changes is read again although the weight file is unchanged.
    std::fs::write(
        tmp.path().join("loras/bad.civitai.info"),
        sidegen::civitai_info(5, 6, "SD 1.5", &["fixed"], "Fixed", "LORA"),
    )
    .unwrap();
    let out = mir_in(&index, &["scan", "--json", &root]);
    let third = records(&out);
    let bad = by_name(&third, "bad.safetensors");
    assert_eq!(bad["cached"], true);
    assert_eq!(bad["air"]["urn"], "urn:air:sd1:lora:civitai:5@6");
    assert!(bad["findings"].as_array().unwrap().is_empty());
}

#[test]
fn inspect_shows_the_description_and_a_single_file_finds_its_sidecars() {
    let tmp = tempfile::tempdir().unwrap();
    library(tmp.path());
    let file = tmp.path().join("loras/ink.safetensors");
    let out = mir(&["inspect", "--json", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    check_schema("inspect", std::slice::from_ref(&v));
    assert_eq!(v["air"]["urn"], "urn:air:sdxl:lora:civitai:123@456");
    assert_eq!(
        v["about"]["trigger_words"]["value"],
        json!(["inkstyle", "ink wash"])
    );
    assert_eq!(v["sidecars"].as_array().unwrap().len(), 4);
    // A scan of the file alone (no folder walk) lists its folder once and finds them too.
    let out = mir(&["scan", "--json", file.to_str().unwrap()]);
    let recs = records(&out);
    assert_eq!(recs[0]["air"]["urn"], "urn:air:sdxl:lora:civitai:123@456");
    let text = mir(&["inspect", file.to_str().unwrap()]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("air         sdxl:lora (urn:air:sdxl:lora:civitai:123@456)"),
        "{text}"
    );
    assert!(
        text.contains(
            "trigger_words = [\"inkstyle\",\"ink wash\"]  [ink.civitai.info:trainedWords]"
        ),
        "{text}"
    );
}

#[test]
fn thumbnail_is_written_never_over_the_model() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-not-a-real-image";
    let flux = spec_index("flux-1-dev.bfl.spec");
    let model = d.join("thumb.safetensors");
    write(
        &model,
        &flux,
        &[
            ("modelspec.title".into(), "With a thumbnail".into()),
            (
                "modelspec.thumbnail".into(),
                sidegen::data_uri("image/png", png),
            ),
        ],
    );
    let before = std::fs::read(&model).unwrap();
    let out_png = d.join("out.png");
    let out = mir(&[
        "inspect",
        "--thumbnail",
        out_png.to_str().unwrap(),
        model.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&out_png).unwrap(), png);
    assert!(String::from_utf8_lossy(&out.stderr).contains("image/png"));
    // The record says a thumbnail is there, never carries its data.
    let v: Value =
        serde_json::from_slice(&mir(&["inspect", "--json", model.to_str().unwrap()]).stdout)
            .unwrap();
    assert_eq!(v["about"]["thumbnail"]["value"]["media_type"], "image/png");
    assert!(!v["about"].to_string().contains("base64"));

    // Refuses the model file itself, by path or through a hard link.
    let out = mir(&[
        "inspect",
        "--thumbnail",
        model.to_str().unwrap(),
        model.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("never written"));
    let link = d.join("link.png");
    std::fs::hard_link(&model, &link).unwrap();
    let out = mir(&[
        "inspect",
        "--thumbnail",
        link.to_str().unwrap(),
        model.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(std::fs::read(&model).unwrap(), before);

    // Absent and malformed thumbnails are clear errors.
    let none = d.join("none.safetensors");
    write(&none, &flux, &[]);
    let out = mir(&[
        "inspect",
        "--thumbnail",
        d.join("x.png").to_str().unwrap(),
        none.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no embedded thumbnail"));
    assert!(!d.join("x.png").exists());
    let bad = d.join("bad.safetensors");
    write(
        &bad,
        &flux,
        &[(
            "modelspec.thumbnail".into(),
            "https://example.invalid/t.png".into(),
        )],
    );
    let out = mir(&[
        "inspect",
        "--thumbnail",
        d.join("y.png").to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a base64 data URI"));
    assert!(!d.join("y.png").exists());
}

#[test]
fn a_llama_cpp_lora_gguf_has_its_rank_alpha_and_target() {
    let file = repo().join("fixtures/gguf/lora_adapter.gguf");
    let out = mir(&["scan", "--no-index", "--json", file.to_str().unwrap()]);
    let r = &records(&out)[0];
    assert_eq!(r["mir"], "mir:model.lora.lora:llama");
    assert_eq!(r["adapter"]["rank"], 4);
    // `adapter.lora.alpha`: a header holds no tensor values, llama.cpp writes alpha as metadata.
    assert_eq!(r["adapter"]["alpha"], 16.0);
    assert_eq!(r["adapter"]["targets"], json!(["language_model"]));
    assert_eq!(r["about"]["name"]["source"], "general.name");
    assert_eq!(r["packaging"], json!(["gguf:F32"]));
    assert_eq!(r["air"], json!({"ecosystem": "other", "type": "lora"}));
}
