//! `mir hash`, `mir scan --hash`, the index (re-scans, invalidation, interruption) and
//! `mir dupes`, end to end.

mod common;

use std::process::{Command, Output};

use common::{mir_in, safetensors, testvec};

use sha2::Digest;

fn lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn hashes_match_known_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("i.sqlite3");
    let dir = testvec();
    let vectors: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("vectors.json")).unwrap()).unwrap();
    for name in ["tv1_with_meta.safetensors", "tv2_no_meta.safetensors"] {
        let path = dir.join(name);
        let out = mir_in(&index, &["hash", "--json", path.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let h = &lines(&out)[0]["hashes"];
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(h["sha256"], vectors[name]["file_256"]);
        assert_eq!(h["file_256"], vectors[name]["file_256"]);
        assert_eq!(h["blake3"], vectors[name]["file_b3"]);
        assert_eq!(
            h["autov2"].as_str().unwrap(),
            &vectors[name]["file_256"].as_str().unwrap()[..10]
        );
        // AutoV3: SHA-256 of the bytes after the 8 + N byte header (the 16 data bytes here).
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let expect = format!("{:x}", sha2::Sha256::digest(&bytes[8 + n..]));
        assert_eq!(h["autov3"], expect.as_str());
        assert_eq!(
            h["crc32"],
            format!("{:08x}", crc32fast::hash(&bytes)).as_str()
        );
    }
    // A single algorithm prints sha256sum's format.
    let p = dir.join("tv1_with_meta.safetensors");
    let out = mir_in(&index, &["hash", "--algo", "sha256", p.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.trim_end(),
        format!(
            "{}  {}",
            vectors["tv1_with_meta.safetensors"]["file_256"]
                .as_str()
                .unwrap(),
            p.display()
        )
    );
    // An unknown algorithm is a usage error (3), not an unreadable file (2).
    let bad = mir_in(&index, &["hash", "--algo", "md5", p.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(3));
}

#[test]
fn rescans_come_from_the_index_until_a_file_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("i.sqlite3");
    let lib = tmp.path().join("lib");
    std::fs::create_dir(&lib).unwrap();
    let h = r#"{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#;
    for i in 0..5 {
        std::fs::write(
            lib.join(format!("m{i}.safetensors")),
            safetensors(h, &[i; 4]),
        )
        .unwrap();
    }
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", "--json", "--quiet", "--hash", "sha256"];
        args.extend_from_slice(extra);
        args.push(lib.to_str().unwrap());
        lines(&mir_in(&index, &args))
    };
    let first = scan(&[]);
    assert_eq!(first.len(), 5);
    assert!(first.iter().all(|r| r["cached"] == false));
    let second = scan(&[]);
    assert!(second.iter().all(|r| r["cached"] == true), "{second:?}");
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a["hashes"], b["hashes"]);
        assert_eq!(a["fingerprint"], b["fingerprint"]);
        assert_eq!(a["path"], b["path"]);
    }
    // A changed file is read again; the others still come from the index.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(lib.join("m2.safetensors"), safetensors(h, &[9; 4])).unwrap();
    let third = scan(&[]);
    let cached: Vec<bool> = third.iter().map(|r| r["cached"] == true).collect();
    assert_eq!(cached, [true, true, false, true, true]);
    assert_ne!(third[2]["hashes"]["sha256"], second[2]["hashes"]["sha256"]);
    // --no-index reads everything and leaves the index alone.
    let fresh = scan(&["--no-index"]);
    assert!(fresh.iter().all(|r| r["cached"] == false));
}

#[test]
fn an_interrupted_scan_leaves_a_usable_index() {
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("i.sqlite3");
    let lib = tmp.path().join("lib");
    std::fs::create_dir(&lib).unwrap();
    let h = r#"{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#;
    for i in 0..3000u32 {
        std::fs::write(
            lib.join(format!("m{i:04}.safetensors")),
            safetensors(h, &i.to_le_bytes()),
        )
        .unwrap();
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_mir"))
        .args([
            "scan",
            "--json",
            "--quiet",
            "--hash",
            "sha256",
            "--threads",
            "1",
            lib.to_str().unwrap(),
        ])
        .env("MIR_INDEX", &index)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    child.kill().unwrap();
    child.wait().unwrap();
    let out = mir_in(
        &index,
        &[
            "scan",
            "--json",
            "--quiet",
            "--hash",
            "sha256",
            lib.to_str().unwrap(),
        ],
    );
    let recs = lines(&out);
    assert_eq!(recs.len(), 3000);
    assert!(recs.iter().all(|r| r["error"].is_null()));
    let again = lines(&mir_in(
        &index,
        &["scan", "--json", "--quiet", lib.to_str().unwrap()],
    ));
    assert!(again.iter().all(|r| r["cached"] == true));
}

#[test]
fn dupes_finds_copies_links_and_other_precisions() {
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("i.sqlite3");
    let lib = tmp.path().join("lib");
    std::fs::create_dir(&lib).unwrap();
    let f16 = safetensors(
        r#"{"a.weight":{"dtype":"F16","shape":[4,4],"data_offsets":[0,32]}}"#,
        &[1; 32],
    );
    let f32 = safetensors(
        r#"{"a.weight":{"dtype":"F32","shape":[4,4],"data_offsets":[0,64]}}"#,
        &[2; 64],
    );
    std::fs::write(lib.join("model_fp16.safetensors"), &f16).unwrap();
    std::fs::write(lib.join("copy_fp16.safetensors"), &f16).unwrap();
    std::fs::hard_link(
        lib.join("model_fp16.safetensors"),
        lib.join("link_fp16.safetensors"),
    )
    .unwrap();
    std::fs::write(lib.join("model_fp32.safetensors"), &f32).unwrap();
    let out = mir_in(
        &index,
        &["dupes", "--json", "--quiet", lib.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let identical = report["identical"].as_array().unwrap();
    assert_eq!(identical.len(), 1, "{report}");
    // The hard link shares its inode with the original, so the walk reports it once: two paths,
    // one copy's worth of bytes wasted (a link wastes nothing).
    assert_eq!(identical[0]["paths"].as_array().unwrap().len(), 2);
    assert_eq!(identical[0]["wasted_bytes"], f16.len() as u64);
    let shape = report["same_shape"].as_array().unwrap();
    assert_eq!(shape.len(), 1, "{report}");
    let files = shape[0]["files"].as_array().unwrap();
    assert!(files.iter().any(|f| f["precision"] == "F32"));
    assert!(files.iter().any(|f| f["precision"] == "F16"));
    let text = mir_in(&index, &["dupes", "--quiet", lib.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("identical content: 1 group"));
}

/// Issue 17 item 19: `mir dupes` must advise deleting only what is proven a copy. Two different
/// LoRAs with one layout (in two precisions) are the same architecture, not duplicates, even
/// after their hashes prove them different; files without tensors are never grouped by layout;
/// a non-UTF-8 path gives complete JSON (exit 0) with its raw bytes beside it.
#[cfg(unix)]
#[test]
fn dupes_offers_only_proven_copies_and_reports_paths_losslessly() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("i.sqlite3");
    let lib = tmp.path().join("lib");
    std::fs::create_dir(&lib).unwrap();
    let lora = |dtype: &str, fill: u8| {
        let n = if dtype == "F32" { 64 } else { 32 };
        safetensors(
            &format!(
                r#"{{"lora_unet_a.lora_down.weight":{{"dtype":"{dtype}","shape":[4,4],"data_offsets":[0,{n}]}}}}"#
            ),
            &vec![fill; n],
        )
    };
    std::fs::write(lib.join("style_a.safetensors"), lora("F16", 1)).unwrap();
    std::fs::write(lib.join("style_b.safetensors"), lora("F32", 2)).unwrap();
    // A third LoRA of the same layout and size as style_b, but different bytes: hashed (size
    // collision) and proven different.
    std::fs::write(lib.join("style_c.safetensors"), lora("F32", 3)).unwrap();
    // Tensorless files of two formats: metadata-only safetensors and a vocabulary-only GGUF.
    let meta_only = |v: &str| safetensors(&format!(r#"{{"__metadata__":{{"v":"{v}"}}}}"#), &[]);
    std::fs::write(lib.join("meta_a.safetensors"), meta_only("a")).unwrap();
    std::fs::write(lib.join("meta_b.safetensors"), meta_only("bb")).unwrap();
    let vocab = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/hostile/gguf/vocab_only.gguf");
    std::fs::copy(vocab, lib.join("vocab.gguf")).unwrap();
    // An exact copy under a non-UTF-8 name.
    let raw = std::ffi::OsStr::from_bytes(b"caf\xe9.safetensors");
    std::fs::write(lib.join(raw), lora("F16", 1)).unwrap();

    let out = mir_in(
        &index,
        &["dupes", "--json", "--quiet", lib.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "truncated JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    // The only proven copy: style_a and its non-UTF-8 twin.
    let identical = report["identical"].as_array().unwrap();
    assert_eq!(identical.len(), 1, "{report}");
    let paths: Vec<&str> = identical[0]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        paths.iter().any(|p| p.ends_with("caf\u{fffd}.safetensors")),
        "{paths:?}"
    );
    assert!(
        paths.iter().any(|p| p.ends_with("style_a.safetensors")),
        "{paths:?}"
    );
    use base64::Engine as _;
    let raw_path = lib.join(raw);
    let b64 = base64::engine::general_purpose::STANDARD.encode(raw_path.as_os_str().as_bytes());
    assert!(
        identical[0]["paths_bytes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b == b64.as_str()),
        "{report}"
    );
    assert_eq!(report["wasted_bytes"], lora("F16", 1).len() as u64);
    // One layout group (the LoRAs), with nothing reclaimable beyond the proven copy.
    let shape = report["same_shape"].as_array().unwrap();
    assert_eq!(
        shape.len(),
        1,
        "tensorless files must not be grouped: {report}"
    );
    let g = &shape[0];
    assert_eq!(g["relation"], "same_architecture");
    assert_eq!(g["proven_different"], true, "{g}");
    assert_eq!(g["reclaimable_bytes"], lora("F16", 1).len() as u64, "{g}");
    let names: Vec<String> = g["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("meta_") || n.starts_with("vocab")),
        "{names:?}"
    );

    let text = mir_in(&index, &["dupes", "--quiet", lib.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("same architecture"), "{text}");
    assert!(
        !text.contains("frees"),
        "no deletion advice for a layout match: {text}"
    );
    assert!(
        text.contains("contents proven different") || text.contains("proven copies"),
        "{text}"
    );

    // `mir hash` carries the raw path too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mir"))
        .args(["hash", "--json", "--no-index", "--algo", "crc32"])
        .arg(&raw_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["path_bytes"], b64.as_str(), "{line}");
    assert!(
        line["path"]
            .as_str()
            .unwrap()
            .ends_with("caf\u{fffd}.safetensors")
    );
}
