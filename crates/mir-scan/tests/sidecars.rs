//! Files beside a weight file that say what it is (issue 13): a PEFT / mlx-lm adapter's
//! `adapter_config.json` names its base model (as a sibling `config.json`'s `model_type` names a
//! transformers model), in a scan and for the file alone, and a missing or malformed config
//! changes nothing; InvokeAI's IP-Adapter folder (`ip_adapter.bin` beside `image_encoder.txt`)
//! is one model.

use std::path::Path;

use mir_scan::{ScanOptions, Scanner};
use mir_testkit::{parse_spec, write_safetensors};

/// A PEFT LoRA of a Llama-style language model (two layers of q/v projections).
const PEFT_LLAMA: &str = "\
base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight F16 [8, 2048]
base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight F16 [2048, 8]
base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight F16 [8, 2048]
base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight F16 [512, 8]
";

fn write(path: &Path, spec: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    write_safetensors(path, &parse_spec(spec).unwrap(), &[]).unwrap();
}

fn scan_one(dir: &Path) -> (Option<String>, Vec<String>, Option<String>) {
    let s = Scanner::new(ScanOptions::default()).unwrap();
    let out = s.scan(&[dir.to_path_buf()], &|_| {});
    let r = out
        .records
        .iter()
        .find(|r| r.path.ends_with("adapter_model.safetensors"))
        .unwrap();
    let alone = s
        .analyser()
        .analyse_path(&dir.join("adapter_model.safetensors"), &[]);
    (
        r.mir.clone(),
        r.evidence.clone(),
        alone.mir().map(ToString::to_string),
    )
}

#[test]
fn peft_adapter_config_names_the_base() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("my-lora");
    write(&dir.join("adapter_model.safetensors"), PEFT_LLAMA);
    // Without a config: a language-model LoRA with no base.
    let (mir, evidence, alone) = scan_one(&dir);
    assert_eq!(mir.as_deref(), Some("mir:model.lora.lora"));
    assert_eq!(alone, mir);
    assert!(evidence.iter().all(|e| !e.contains("unet")), "{evidence:?}");
    std::fs::write(
        dir.join("adapter_config.json"),
        r#"{"peft_type": "LORA", "base_model_name_or_path": "meta-llama/Llama-3.2-1B", "r": 8}"#,
    )
    .unwrap();
    let (mir, evidence, alone) = scan_one(&dir);
    assert_eq!(mir.as_deref(), Some("mir:model.lora.lora:llama"));
    assert_eq!(alone, mir, "the file alone reads the same config");
    assert!(
        evidence
            .iter()
            .any(|e| e.contains("adapter_config.base_model_name_or_path")
                && e.contains("meta-llama/Llama-3.2-1B")),
        "{evidence:?}"
    );
}

#[test]
fn mlx_adapter_config_model_names_the_base() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("adapters");
    write(
        &dir.join("adapter_model.safetensors"),
        "model.layers.15.self_attn.q_proj.lora_a F32 [2048, 8]\n\
         model.layers.15.self_attn.q_proj.lora_b F32 [8, 2048]\n",
    );
    std::fs::write(
        dir.join("adapter_config.json"),
        r#"{"model": "mlx-community/Qwen2.5-0.5B-Instruct-4bit", "fine_tune_type": "lora"}"#,
    )
    .unwrap();
    let (mir, _, _) = scan_one(&dir);
    assert_eq!(mir.as_deref(), Some("mir:model.lora.lora:qwen2"));
}

#[test]
fn a_malformed_or_hostile_adapter_config_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bad");
    write(&dir.join("adapter_model.safetensors"), PEFT_LLAMA);
    for text in [
        "not json".to_owned(),
        r#"{"base_model_name_or_path": 17}"#.to_owned(),
        r#"["meta-llama/Llama-3.2-1B"]"#.to_owned(),
        // Larger than the 4 MiB a config may be: not read.
        format!(
            r#"{{"base_model_name_or_path": "meta-llama/Llama-3.2-1B", "pad": "{}"}}"#,
            "x".repeat(5 << 20)
        ),
    ] {
        std::fs::write(dir.join("adapter_config.json"), text).unwrap();
        let (mir, _, _) = scan_one(&dir);
        assert_eq!(mir.as_deref(), Some("mir:model.lora.lora"));
    }
}

/// The SD 1.5 IP-Adapter's tensors (tencent-ailab layout, as fixtures/specs/ip-adapter-sd1.original.spec):
/// `image_proj` and the first two `ip_adapter.{i}` processors.
const IP_ADAPTER_SD15: &str = "\
image_proj.proj.weight F16 [3072, 1024]
image_proj.proj.bias F16 [3072]
image_proj.norm.weight F16 [768]
image_proj.norm.bias F16 [768]
ip_adapter.1.to_k_ip.weight F16 [320, 768]
ip_adapter.1.to_v_ip.weight F16 [320, 768]
ip_adapter.3.to_k_ip.weight F16 [320, 768]
ip_adapter.3.to_v_ip.weight F16 [320, 768]
";

#[test]
fn an_invokeai_ip_adapter_folder_is_one_model() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    let folder = lib.join("ip_adapter_sd15");
    // InvokeAI writes a torch pickle; the format is decided by the first bytes, the placement by
    // the names, so a safetensors body stands in for it here.
    write(&folder.join("ip_adapter.bin"), IP_ADAPTER_SD15);
    std::fs::write(
        folder.join("image_encoder.txt"),
        "InvokeAI/ip_adapter_sd_image_encoder\n",
    )
    .unwrap();
    // The same weights without the sidecar are a file alone.
    write(&lib.join("loose").join("ip_adapter.bin"), IP_ADAPTER_SD15);
    let s = Scanner::new(ScanOptions::default()).unwrap();
    let out = s.scan(std::slice::from_ref(&lib), &|_| {});
    let m = out
        .models
        .iter()
        .find(|m| m.path.ends_with("ip_adapter_sd15"))
        .unwrap_or_else(|| panic!("{:?}", out.models));
    assert_eq!(m.kind, "invokeai");
    assert_eq!(m.files.len(), 1);
    assert_eq!(
        m.mir.as_deref(),
        Some("mir:model.adapter.ip-adapter:stable-diffusion-v1")
    );
    assert!(
        m.evidence
            .iter()
            .any(|e| e.contains("\"InvokeAI/ip_adapter_sd_image_encoder\"")),
        "{:?}",
        m.evidence
    );
    let loose = out
        .models
        .iter()
        .find(|m| m.path.contains("loose"))
        .unwrap();
    assert_eq!(loose.kind, "file");
    // A hostile sidecar (control bytes, no text) is not quoted.
    std::fs::write(folder.join("image_encoder.txt"), b"\x1b[2J\x00\xff").unwrap();
    let out = s.scan(std::slice::from_ref(&lib), &|_| {});
    let m = out
        .models
        .iter()
        .find(|m| m.path.ends_with("ip_adapter_sd15"))
        .unwrap();
    assert!(
        m.evidence.iter().any(|e| e.contains("(unreadable)")),
        "{:?}",
        m.evidence
    );
}
