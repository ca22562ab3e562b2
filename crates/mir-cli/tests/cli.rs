//! End-to-end tests of the `mir` binary: records, exit codes, corrupt files, paths.

mod common;

use std::path::{Path, PathBuf};

use common::{bundled_db, mir, records, safetensors, testvec};

#[test]
fn scan_of_testvec_prints_the_published_layer_hashes() {
    let dir = testvec();
    let out = mir(&["scan", "--json", "--quiet", dir.to_str().unwrap()]);
    let vectors: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("vectors.json")).unwrap()).unwrap();
    let recs = records(&out);
    let mut checked = 0;
    for r in &recs {
        let name = Path::new(r["path"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        if let Some(v) = vectors.get(name) {
            assert_eq!(r["fingerprint"]["layer_256"], v["layer_256"], "{name}");
            assert_eq!(r["fingerprint"]["layer_b3"], v["layer_b3"], "{name}");
            assert_eq!(r["format"], "safetensors");
            assert!(r["error"].is_null());
            checked += 1;
        }
    }
    assert_eq!(checked, 3, "{recs:?}");
    // The GGUF vector too (MIR's gguf-py based layer string).
    let gguf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("gguf_vector.json")).unwrap()).unwrap();
    let tv4 = recs
        .iter()
        .find(|r| r["path"].as_str().unwrap().ends_with("tv4_tiny.gguf"))
        .expect("tv4_tiny.gguf scanned");
    assert_eq!(tv4["format"], "gguf");
    assert_eq!(tv4["fingerprint"]["layer_256"], gguf["layer_256"]);
}

#[test]
fn every_record_has_every_documented_field() {
    let dir = testvec();
    let out = mir(&["scan", "--json", "--quiet", dir.to_str().unwrap()]);
    for r in records(&out) {
        for field in [
            "path",
            "format",
            "size",
            "tensors",
            "mir",
            "candidates",
            "components",
            "evidence",
            "precision",
            "fingerprint",
            "error",
        ] {
            assert!(r.get(field).is_some(), "missing {field} in {r}");
        }
        for field in ["key_sig", "shape_sig", "layer_256", "layer_b3"] {
            assert!(
                r["fingerprint"].get(field).is_some(),
                "missing fingerprint.{field}"
            );
        }
    }
}

#[test]
fn corrupt_files_are_reported_and_the_scan_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let good = r#"{"w":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]}}"#;
    std::fs::write(d.join("a_good.safetensors"), safetensors(good, &[0; 8])).unwrap();
    std::fs::write(
        d.join("b_truncated.safetensors"),
        &safetensors(good, &[0; 8])[..40],
    )
    .unwrap();
    let mut bomb = (1u64 << 62).to_le_bytes().to_vec();
    bomb.extend_from_slice(b"{}");
    std::fs::write(d.join("c_bomb.safetensors"), bomb).unwrap();
    std::fs::write(d.join("d_empty.safetensors"), b"").unwrap();
    std::fs::write(d.join("e_good.safetensors"), safetensors(good, &[0; 8])).unwrap();
    std::fs::write(d.join("notes.txt"), b"not a model").unwrap();

    let out = mir(&["scan", "--json", "--quiet", d.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records(&out);
    let names: Vec<&str> = recs
        .iter()
        .map(|r| {
            Path::new(r["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        names,
        [
            "a_good.safetensors",
            "b_truncated.safetensors",
            "c_bomb.safetensors",
            "d_empty.safetensors",
            "e_good.safetensors"
        ]
    );
    assert!(recs[0]["error"].is_null());
    assert_eq!(recs[0]["tensors"], 1);
    let err = |i: usize| recs[i]["error"].as_str().unwrap_or_default().to_owned();
    assert!(err(1).contains("runs past the end"), "{}", err(1));
    assert!(err(2).contains("over the limit"), "{}", err(2));
    assert!(err(3).contains("too small"), "{}", err(3));
    assert!(recs[4]["error"].is_null());
    assert!(recs[1]["fingerprint"].is_null());
}

#[test]
fn exit_code_is_one_when_nothing_failed_but_some_file_is_unrecognised() {
    let tmp = tempfile::tempdir().unwrap();
    // A .safetensors-named file whose bytes no format knows is an error (its parser rejects it);
    // a hash-named blob that no format recognises is merely unrecognised.
    std::fs::write(tmp.path().join("a".repeat(64)), b"plain text, no model").unwrap();
    let out = mir(&["scan", "--json", "--quiet", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let recs = records(&out);
    assert_eq!(recs.len(), 1);
    assert!(recs[0]["format"].is_null());
    assert!(recs[0]["error"].is_null());
}

#[test]
fn table_output_and_summary() {
    let dir = testvec();
    let out = mir(&["scan", dir.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    // A header row, then one line per file (the test vectors have no findings or components).
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text.lines().next().unwrap().starts_with("STATUS"), "{text}");
    assert!(text.contains("tv1_with_meta.safetensors"));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("4 files"), "{err}");
}

#[test]
fn missing_root_is_an_error_not_a_panic() {
    let out = mir(&["scan", "--quiet", "/definitely/not/here"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/definitely/not/here"));
}

#[test]
fn inspect_shows_metadata_and_fingerprints() {
    let f = testvec().join("tv1_with_meta.safetensors");
    let out = mir(&["inspect", "--json", f.to_str().unwrap()]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format"], "safetensors");
    assert_eq!(v["tensors"], 2);
    assert_eq!(v["metadata"]["format"], "pt");
    assert_eq!(v["dtypes"][0]["dtype"], "F16");
    assert_eq!(
        v["fingerprint"]["layer_256"],
        "df65db738d6aa9d60ff00bdacfb989632ddce62177eba0a9194229317977ee63"
    );
    let bad = mir(&["inspect", "/nope.safetensors"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/nope.safetensors"));
}

#[cfg(unix)]
#[test]
fn non_utf8_paths_are_reported_losslessly() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.safetensors");
    let good = r#"{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#;
    std::fs::write(tmp.path().join(name), safetensors(good, &[0; 4])).unwrap();
    let out = mir(&["scan", "--json", "--quiet", tmp.path().to_str().unwrap()]);
    let recs = records(&out);
    assert_eq!(recs.len(), 1);
    let b64 = recs[0]["path_bytes"].as_str().expect("path_bytes set");
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert!(raw.ends_with(b"caf\xe9.safetensors"));
    assert!(recs[0]["error"].is_null());
}

#[test]
fn shards_of_one_model_are_grouped() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let a = r#"{"model.layers.0.w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#;
    let b = r#"{"model.layers.1.w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#;
    std::fs::write(
        d.join("model-00001-of-00002.safetensors"),
        safetensors(a, &[0; 4]),
    )
    .unwrap();
    std::fs::write(
        d.join("model-00002-of-00002.safetensors"),
        safetensors(b, &[0; 4]),
    )
    .unwrap();
    std::fs::write(
        d.join("model.safetensors.index.json"),
        r#"{"metadata":{"total_size":8},"weight_map":{"model.layers.0.w":"model-00001-of-00002.safetensors","model.layers.1.w":"model-00002-of-00002.safetensors"}}"#,
    )
    .unwrap();
    let out = mir(&["scan", "--json", "--quiet", d.to_str().unwrap()]);
    let recs = records(&out);
    assert_eq!(recs.len(), 2);
    for (i, r) in recs.iter().enumerate() {
        assert!(
            r["shard"]["model"]
                .as_str()
                .unwrap()
                .ends_with("model.safetensors.index.json")
        );
        assert_eq!(r["shard"]["part"], i + 1);
        assert_eq!(r["shard"]["total"], 2);
        assert_eq!(
            r["shard"]["model_shape_sig"],
            recs[0]["shard"]["model_shape_sig"]
        );
    }
    assert_ne!(
        recs[0]["fingerprint"]["shape_sig"],
        recs[1]["fingerprint"]["shape_sig"]
    );
}

#[test]
fn pickle_payloads_are_flagged_and_never_run() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ckpt");
    let out = mir(&[
        "scan",
        "--json",
        "--quiet",
        dir.join("os_system.pt").to_str().unwrap(),
    ]);
    let recs = records(&out);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["format"], "ckpt");
    assert!(recs[0]["error"].is_null());
    let findings: Vec<&str> = recs[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        findings
            .iter()
            .any(|f| f.starts_with("unsafe: global posix.system")),
        "{findings:?}"
    );
    // The tensors beside the payload are still listed.
    assert!(recs[0]["tensors"].as_u64().unwrap() > 0);
}

#[test]
fn classifies_gguf_fixtures_and_loads_a_mir_database() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/gguf");
    let db = bundled_db();
    let out = mir(&[
        "scan",
        "--json",
        "--quiet",
        "--mir-db",
        db.to_str().unwrap(),
        dir.to_str().unwrap(),
    ]);
    let recs = records(&out);
    let by_name = |n: &str| {
        recs.iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(n))
            .unwrap_or_else(|| panic!("{n} not scanned"))
    };
    assert_eq!(
        by_name("flux_city96.gguf")["mir"],
        "mir:model.dit.flux-1-dev"
    );
    assert_eq!(by_name("llama_v3.gguf")["mir"], "mir:model.art.llama:q8-0");
    assert_eq!(
        by_name("lora_adapter.gguf")["mir"],
        "mir:model.lora.lora:llama"
    );
    assert_eq!(by_name("llama_v3.gguf")["decided_by"], "metadata");
    assert!(
        !by_name("llama_v3.gguf")["evidence"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let bad = mir(&[
        "scan",
        "--quiet",
        "--mir-db",
        "/no/such/mir.json",
        dir.to_str().unwrap(),
    ]);
    // A bad --mir-db is a fatal error (3), not "some file unreadable" (2).
    assert_eq!(bad.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/no/such/mir.json"));
}

/// A FLUX.1-shaped file (`img_in` [1,64]: 128 bytes of F16) plus the named tensors, each one F16.
fn flux_like(extra: &[&str]) -> Vec<u8> {
    let mut names = vec![
        "double_blocks.0.img_attn.qkv.weight",
        "guidance_in.in_layer.weight",
        "single_blocks.0.linear1.weight",
    ];
    names.extend_from_slice(extra);
    let mut header =
        String::from(r#"{"img_in.weight":{"dtype":"F16","shape":[1,64],"data_offsets":[0,128]}"#);
    let mut off = 128;
    for n in &names {
        header.push_str(&format!(
            r#","{n}":{{"dtype":"F16","shape":[1],"data_offsets":[{off},{}]}}"#,
            off + 2
        ));
        off += 2;
    }
    header.push('}');
    safetensors(&header, &vec![0u8; off])
}

#[test]
fn inspect_and_scan_report_coverage_and_prediction() {
    let tmp = tempfile::tempdir().unwrap();
    let known = tmp.path().join("known.safetensors");
    std::fs::write(&known, flux_like(&[])).unwrap();
    let out = mir(&["inspect", "--json", known.to_str().unwrap()]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["mir"], "mir:model.dit.flux-1-dev");
    assert_eq!(v["prediction"], "flow");
    assert_eq!(v["coverage"]["tensors"], 1.0);
    assert_eq!(v["coverage"]["unexplained"], serde_json::json!([]));
    // A file with a module group FLUX.1 does not have is not named FLUX.1.
    let new = tmp.path().join("new.safetensors");
    std::fs::write(
        &new,
        flux_like(&["double_stream_modulation_img.lin.weight"]),
    )
    .unwrap();
    let out = mir(&["scan", "--json", "--quiet", new.to_str().unwrap()]);
    let r = &records(&out)[0];
    assert_eq!(r["mir"], "mir:dev.dit.unknown", "{r}");
    assert!(r["confidence"].as_f64().unwrap() <= 0.5);
    assert!(r["prediction"].is_null());
    assert_eq!(
        r["coverage"]["unexplained"],
        serde_json::json!(["double_stream_modulation_img"])
    );
    assert!(r["coverage"]["tensors"].as_f64().unwrap() < 1.0);
    let text = mir(&["inspect", new.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("coverage") && text.contains("double_stream_modulation_img"),
        "{text}"
    );
}

#[test]
fn ids_lists_every_rule_with_its_evidence() {
    let out = mir(&["ids", "--json"]);
    assert!(out.status.success());
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.len() > 50, "{}", rows.len());
    let flux = rows.iter().find(|r| r["rule"] == "flux-1-dev").unwrap();
    assert_eq!(flux["mir"], "mir:model.dit.flux-1-dev");
    assert_eq!(flux["prediction"], "flow");
    assert!(flux["groups"].as_u64().unwrap() > 10);
    assert!(
        flux["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().contains("guidance_in.in_layer.weight"))
    );
    let md = mir(&["ids", "--markdown"]);
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/ids.md"))
            .unwrap();
    assert_eq!(String::from_utf8_lossy(&md.stdout), committed);
}
