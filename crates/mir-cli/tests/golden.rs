//! Identical output: a full `mir scan` of the committed fixtures, and of a library written from
//! the layout specs in `fixtures/specs`, compared to the committed golden JSON Lines file
//! `tests/golden/scan.jsonl` (IDs, fingerprints, layer hashes; paths relative).
//!
//! After a change that is meant to alter IDs or fingerprints, re-bless it with one command and
//! review the diff:
//!
//! ```sh
//! MIR_BLESS=1 cargo test -p mir-cli --test golden
//! ```

mod common;

use std::path::{Path, PathBuf};

use common::{mir, records};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One sparse safetensors file per spec that resolves from `fixtures/specs` alone (specs that
/// include reference data from outside the repository are skipped).
fn write_spec_library(out: &Path) -> usize {
    if out.exists() {
        std::fs::remove_dir_all(out).unwrap();
    }
    std::fs::create_dir_all(out).unwrap();
    let specs = root().join("fixtures/specs");
    let mut resolve = |name: &str| -> Option<String> {
        if name.starts_with("toolkit:") {
            return None;
        }
        std::fs::read_to_string(specs.join(name)).ok()
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&specs)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "spec"))
        .collect();
    entries.sort();
    let mut n = 0;
    for spec_path in entries {
        let text = std::fs::read_to_string(&spec_path).unwrap();
        let Ok(spec) = mir_classify::testing::load_spec(&text, &mut resolve) else {
            continue;
        };
        if spec.index.format != "safetensors" || !spec.hashes.is_empty() {
            continue;
        }
        let stem = spec_path.file_stem().unwrap().to_str().unwrap();
        let path = match &spec.file_name {
            Some(name) => out.join(stem).join(name),
            None => out.join(format!("{stem}.safetensors")),
        };
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        mir_testkit::write_index_safetensors(&path, &spec.index).unwrap();
        n += 1;
    }
    n
}

/// The fields the golden file pins, with the path made relative to `base`.
fn project(r: &serde_json::Value, base: &str, prefix: &str) -> String {
    let path = r["path"].as_str().unwrap();
    let rel = path
        .strip_prefix(base)
        .unwrap_or(path)
        .trim_start_matches('/');
    let fp = &r["fingerprint"];
    let line = serde_json::json!({
        "path": format!("{prefix}{rel}"),
        "format": r["format"],
        "tensors": r["tensors"],
        "mir": r["mir"],
        "candidates": r["candidates"],
        "components": r["components"],
        "precision": r["precision"],
        "key_sig": fp["key_sig"],
        "shape_sig": fp["shape_sig"],
        "layer_256": fp["layer_256"],
        "layer_b3": fp["layer_b3"],
        "shard_model_key_sig": r["shard"]["model_key_sig"],
        "error": r["error"],
        // Issue 16: how the weights are packed and civitai's AIR (omitted when empty).
        "packaging": r.get("packaging"),
        "air": r.get("air"),
    });
    serde_json::to_string(&line).unwrap()
}

#[test]
fn full_scan_matches_the_golden_file() {
    let fixtures = root().join("fixtures");
    let lib = Path::new(env!("CARGO_TARGET_TMPDIR")).join("golden-specs");
    let written = write_spec_library(&lib);
    assert!(written > 50, "only {written} specs written");

    let mut lines = Vec::new();
    for (dir, prefix) in [(&fixtures, "fixtures/"), (&lib, "specs/")] {
        let out = mir(&[
            "scan",
            "--no-index",
            "--json",
            "--quiet",
            dir.to_str().unwrap(),
        ]);
        let recs = records(&out);
        assert!(!recs.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
        let base = dir.to_str().unwrap();
        lines.extend(recs.iter().map(|r| project(r, base, prefix)));
    }
    lines.sort();
    let got = lines.join("\n") + "\n";

    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/scan.jsonl");
    if std::env::var_os("MIR_BLESS").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; bless it with MIR_BLESS=1 cargo test -p mir-cli --test golden",
            golden.display()
        )
    });
    if got != want {
        let want_lines: std::collections::BTreeSet<&str> = want.lines().collect();
        let got_lines: std::collections::BTreeSet<&str> = got.lines().collect();
        let mut diff = String::new();
        for l in want_lines.difference(&got_lines).take(10) {
            diff.push_str(&format!("- {l}\n"));
        }
        for l in got_lines.difference(&want_lines).take(10) {
            diff.push_str(&format!("+ {l}\n"));
        }
        panic!(
            "a full scan differs from {} (re-bless with MIR_BLESS=1 cargo test -p mir-cli --test \
             golden if the change is meant):\n{diff}",
            golden.display()
        );
    }
}
