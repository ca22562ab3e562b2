//! Issue 14: a library of models, not of files. One regression test per defect, through the
//! `mir` binary (each failed before facts were cached apart from identification).

mod common;

use std::path::Path;

use common::{mir_in, records};
use mir_testkit::{parse_spec, write_safetensors};

const LLAMA: &str = "\
model.embed_tokens.weight F16 [32000, 64]
model.layers.0.self_attn.q_proj.weight F16 [64, 64]
model.layers.0.mlp.gate_proj.weight F16 [128, 64]
model.layers.0.input_layernorm.weight F16 [64]
";

const LLAMA_PART2: &str = "\
model.layers.1.self_attn.q_proj.weight F16 [64, 64]
model.layers.1.mlp.gate_proj.weight F16 [128, 64]
model.layers.1.input_layernorm.weight F16 [64]
";

fn write(path: &Path, spec: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    write_safetensors(path, &parse_spec(spec).unwrap(), &[]).unwrap();
}

fn scan(index: &Path, extra: &[&str], root: &Path) -> Vec<serde_json::Value> {
    let mut args = vec!["scan", "--json", "--quiet"];
    args.extend_from_slice(extra);
    args.push(root.to_str().unwrap());
    let out = mir_in(index, &args);
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    records(&out)
}

/// Defect 1: shard members come from the index on a rescan, with what was printed first.
#[test]
fn defect1_shards_are_served_from_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    write(&lib.join("model-00001-of-00002.safetensors"), LLAMA);
    write(&lib.join("model-00002-of-00002.safetensors"), LLAMA_PART2);
    let index = tmp.path().join("index.sqlite3");
    let first = scan(&index, &[], &lib);
    let again = scan(&index, &[], &lib);
    assert_eq!(again.len(), 2);
    for (a, b) in first.iter().zip(&again) {
        assert_eq!(b["cached"], true, "{b}");
        assert_eq!(a["mir"], b["mir"]);
        assert_eq!(a["shard"], b["shard"]);
        assert_eq!(b["mir"], "mir:model.art.llama");
    }
}

/// Defect 2: a new `--mir-db` and a `mir dupes` run re-read (and re-hash) nothing.
#[test]
fn defect2_database_and_dupes_keep_the_cached_facts() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    write(&lib.join("a.safetensors"), LLAMA);
    let db = tmp.path().join("mir.json");
    std::fs::write(
        &db,
        r#"{"info.art.example": {"*": {"repo": "org/example"}}}"#,
    )
    .unwrap();
    let index = tmp.path().join("index.sqlite3");
    let first = scan(&index, &["--hash", "sha256"], &lib);
    assert_eq!(first[0]["cached"], false);
    let with_db = scan(
        &index,
        &["--hash", "sha256", "--mir-db", db.to_str().unwrap()],
        &lib,
    );
    assert_eq!(with_db[0]["cached"], true, "{}", with_db[0]);
    assert_eq!(with_db[0]["hashes"], first[0]["hashes"]);
    let dupes = mir_in(&index, &["dupes", "--quiet", lib.to_str().unwrap()]);
    assert!(dupes.status.success());
    let after = scan(
        &index,
        &["--hash", "sha256", "--mir-db", db.to_str().unwrap()],
        &lib,
    );
    assert_eq!(after[0]["cached"], true, "{}", after[0]);
}

/// Defect 3: a deleted copy is not listed by `mir dupes` after a rescan.
#[test]
fn defect3_dupes_forgets_deleted_files() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    write(&lib.join("a.safetensors"), LLAMA);
    std::fs::copy(lib.join("a.safetensors"), lib.join("b.safetensors")).unwrap();
    let index = tmp.path().join("index.sqlite3");
    let dupes = |index: &Path| -> serde_json::Value {
        let out = mir_in(
            index,
            &["dupes", "--json", "--quiet", lib.to_str().unwrap()],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let before = dupes(&index);
    assert!(before.to_string().contains("b.safetensors"), "{before}");
    std::fs::remove_file(lib.join("b.safetensors")).unwrap();
    let after = dupes(&index);
    assert!(!after.to_string().contains("b.safetensors"), "{after}");
}

/// Defect 4: `mir inspect` and `mir scan` agree (a sibling config.json says mistral).
#[test]
fn defect4_inspect_and_scan_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    let file = dir.join("model.safetensors");
    write(&file, LLAMA);
    std::fs::write(dir.join("config.json"), r#"{"model_type": "mistral"}"#).unwrap();
    let index = tmp.path().join("index.sqlite3");
    let scanned = scan(&index, &[], &dir);
    let out = mir_in(&index, &["inspect", "--json", file.to_str().unwrap()]);
    assert!(out.status.success());
    let inspected: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(scanned[0]["mir"], "mir:model.art.mistral");
    assert_eq!(inspected["mir"], scanned[0]["mir"]);
    assert_ne!(inspected["mir"], "mir:model.art.llama");
}

/// Model records: `--models` prints one line per model; file records gain `model`.
#[test]
fn models_output_lists_shard_sets_and_diffusers_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    write(&lib.join("llm/model-00001-of-00002.safetensors"), LLAMA);
    write(
        &lib.join("llm/model-00002-of-00002.safetensors"),
        LLAMA_PART2,
    );
    let sd = lib.join("sd");
    std::fs::create_dir_all(&sd).unwrap();
    std::fs::write(sd.join("model_index.json"), r#"{"_class_name": "X"}"#).unwrap();
    write(
        &sd.join("unet/diffusion_pytorch_model.safetensors"),
        "a.weight F16 [2]\n",
    );
    write(
        &sd.join("vae/diffusion_pytorch_model.safetensors"),
        "b.weight F16 [2]\n",
    );
    let index = tmp.path().join("index.sqlite3");
    let files = scan(&index, &[], &lib);
    assert_eq!(files.len(), 4, "file records stay one per file");
    assert_eq!(files[0]["model"]["kind"], "shards");
    assert_eq!(files[2]["model"]["kind"], "diffusers");
    assert_eq!(files[2]["model"]["component"], "unet");
    let models = scan(&index, &["--models"], &lib);
    assert_eq!(models.len(), 2, "{models:?}");
    let shards = models.iter().find(|m| m["kind"] == "shards").unwrap();
    assert_eq!(shards["files"].as_array().unwrap().len(), 2);
    assert_eq!(shards["mir"], "mir:model.art.llama");
    let diffusers = models.iter().find(|m| m["kind"] == "diffusers").unwrap();
    let comps: Vec<&str> = diffusers["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["component"].as_str().unwrap())
        .collect();
    assert_eq!(comps, ["unet", "vae"]);
}
