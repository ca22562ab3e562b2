//! `mir scan --plugin` and `mir plugins` with the example NumPy plugin and refused files.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::mir;

/// Builds the example plugin into a separate target dir (the outer `cargo test` holds the lock
/// of the normal one). Same directory and packages as mir-plugin-host's tests, so the build is
/// shared.
fn npy_plugin() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-build");
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "-p",
            "mir-npy",
            "-p",
            "mir-test-hostile",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lib = target.join("debug").join(format!(
        "{}mir_npy{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    assert!(lib.is_file());
    lib
}

/// A version 1.0 `.npy` file holding a `<f4` array of `shape`.
fn npy(shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut f = b"\x93NUMPY\x01\x00".to_vec();
    f.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    f.extend_from_slice(dict.as_bytes());
    f.resize(f.len() + 4 * shape.iter().product::<usize>(), 0);
    f
}

#[test]
fn scan_reads_npy_files_through_the_plugin() {
    let lib = npy_plugin();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("vit_head.npy"), npy(&[3, 4])).unwrap();
    let out = mir(&[
        "scan",
        "--json",
        "--quiet",
        "--no-plugin-dirs",
        "--plugin",
        lib.to_str().unwrap(),
        tmp.path().to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let recs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        recs.len(),
        1,
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(recs[0]["format"], "npy");
    assert_eq!(recs[0]["tensors"], 1);
    assert!(recs[0]["error"].is_null());
    assert_eq!(recs[0]["precision"], "mir:ops.precision.float:F32");
    assert_eq!(
        recs[0]["fingerprint"]["shape_sig"].as_str().unwrap().len(),
        32
    );

    let listed = mir(&[
        "plugins",
        "--json",
        "--no-plugin-dirs",
        "--plugin",
        lib.to_str().unwrap(),
    ]);
    assert!(listed.status.success());
    let rows: Vec<serde_json::Value> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The built-in formats are listed first, marked `builtin`; then the plugin.
    let builtin: Vec<&str> = rows
        .iter()
        .filter(|r| r["builtin"] == true)
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(builtin, ["safetensors", "gguf", "ckpt"]);
    let row = rows.iter().find(|r| r["builtin"] == false).unwrap();
    assert_eq!(row["name"], "npy");
    assert_eq!(row["loaded"], true);
    assert_eq!(row["abi_version"], 1);
}

#[test]
fn an_explicit_plugin_that_cannot_load_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = tmp.path().join("libfake.so");
    std::fs::write(&fake, b"not a shared library").unwrap();
    let out = mir(&[
        "scan",
        "--no-plugin-dirs",
        "--plugin",
        fake.to_str().unwrap(),
        tmp.path().to_str().unwrap(),
    ]);
    // A --plugin that cannot be loaded is fatal (3), and the message names it once.
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("libfake.so"), "{err}");
    assert_eq!(err.matches("libfake.so").count(), 1, "{err}");

    let listed = mir(&[
        "plugins",
        "--no-plugin-dirs",
        "--plugin",
        fake.to_str().unwrap(),
    ]);
    assert_eq!(listed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("refused"));
}
