//! Every `--json` output validates against its committed JSON Schema (`schemas/`), on real
//! output of the fixtures.

mod common;

use std::path::{Path, PathBuf};

use common::{mir_in, records};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn validator(name: &str) -> jsonschema::Validator {
    let path = repo().join("schemas").join(format!("{name}.schema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{name} schema: {e}"))
}

fn check(name: &str, values: &[serde_json::Value]) {
    assert!(!values.is_empty(), "{name}: no output to validate");
    let v = validator(name);
    for value in values {
        let errors: Vec<String> = v
            .iter_errors(value)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "{name}: {value} does not match its schema: {errors:#?}"
        );
    }
}

fn index(tmp: &Path) -> PathBuf {
    tmp.join("index.sqlite3")
}

#[test]
fn scan_records_and_model_records_match_their_schemas() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = repo().join("fixtures");
    let out = mir_in(
        &index(tmp.path()),
        &[
            "scan",
            "--json",
            "--quiet",
            "--hash",
            "sha256",
            fixtures.to_str().unwrap(),
        ],
    );
    let files = records(&out);
    assert!(files.len() > 20);
    // The fixtures include corrupt files (errors), checkpoints with findings, GGUF and shards.
    assert!(files.iter().any(|r| !r["error"].is_null()));
    assert!(files.iter().any(|r| !r["mir"].is_null()));
    check("scan", &files);
    let out = mir_in(
        &index(tmp.path()),
        &[
            "scan",
            "--json",
            "--models",
            "--quiet",
            fixtures.to_str().unwrap(),
        ],
    );
    check("scan-models", &records(&out));
}

#[test]
fn inspect_hash_dupes_and_plugins_match_their_schemas() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = repo().join("fixtures");
    let mut inspected = Vec::new();
    for dir in ["safetensors/ok", "gguf"] {
        for entry in std::fs::read_dir(fixtures.join(dir)).unwrap() {
            let p = entry.unwrap().path();
            let out = mir_in(
                &index(tmp.path()),
                &["inspect", "--json", p.to_str().unwrap()],
            );
            if out.status.success() {
                inspected.extend(records(&out));
            }
        }
    }
    assert!(inspected.len() > 2);
    check("inspect", &inspected);

    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let some = std::fs::read_dir(fixtures.join("safetensors/ok"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .unwrap();
    std::fs::copy(&some, lib.join("a.safetensors")).unwrap();
    std::fs::copy(&some, lib.join("b.safetensors")).unwrap();
    let a = lib.join("a.safetensors");
    let missing = lib.join("missing.safetensors");
    let out = mir_in(
        &index(tmp.path()),
        &[
            "hash",
            "--json",
            a.to_str().unwrap(),
            missing.to_str().unwrap(),
        ],
    );
    let lines = records(&out);
    assert_eq!(lines.len(), 2);
    check("hash", &lines);

    let out = mir_in(
        &index(tmp.path()),
        &["dupes", "--json", "--quiet", lib.to_str().unwrap()],
    );
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["identical"].as_array().unwrap().len(), 1);
    check("dupes", &[report]);

    let fake = tmp.path().join("libfake.so");
    std::fs::write(&fake, b"not a library").unwrap();
    let out = mir_in(
        &index(tmp.path()),
        &[
            "plugins",
            "--json",
            "--no-plugin-dirs",
            "--plugin",
            fake.to_str().unwrap(),
        ],
    );
    check("plugins", &records(&out));
}

/// The schemas reject what breaks the contract (so the checks above can fail).
#[test]
fn schemas_reject_a_broken_record() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = repo().join("fixtures/gguf");
    let out = mir_in(
        &index(tmp.path()),
        &["scan", "--json", "--quiet", fixtures.to_str().unwrap()],
    );
    let good = records(&out).remove(0);
    let scan = validator("scan");
    assert!(scan.is_valid(&good));
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("fingerprint");
    assert!(!scan.is_valid(&missing));
    let mut renamed = good.clone();
    renamed["decided_by"] = serde_json::json!("vibes");
    assert!(!scan.is_valid(&renamed));
    let mut bad_type = good;
    bad_type["size"] = serde_json::json!("12");
    assert!(!scan.is_valid(&bad_type));
}
