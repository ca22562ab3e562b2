//! Issue 17, at the record level: a `.jit` file is scanned (item 17), and a checkpoint whose
//! parse fails after a payload keeps the payload's finding beside the error (item 4).

use std::path::{Path, PathBuf};

use mir_scan::{ScanOptions, Scanner};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(rel)
}

#[test]
fn jit_files_are_scanned_and_errors_keep_their_findings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("ckpt/real/tiny_script.jit"),
        dir.path().join("tiny_script.jit"),
    )
    .unwrap();
    std::fs::copy(
        fixture("hostile/ckpt/payload_then_bad_opcode.pkl"),
        dir.path().join("payload.pkl"),
    )
    .unwrap();
    let scanner = Scanner::new(ScanOptions {
        threads: 1,
        ..ScanOptions::default()
    })
    .unwrap();
    let out = scanner.scan(&[dir.path().to_path_buf()], &|_| {});
    assert_eq!(out.records.len(), 2, "{:?}", out.records);
    let jit = out
        .records
        .iter()
        .find(|r| r.path.ends_with("tiny_script.jit"))
        .expect("the .jit file is scanned");
    assert_eq!(jit.format.as_deref(), Some("ckpt"));
    assert_eq!(jit.tensors, Some(9));
    assert!(
        jit.findings
            .iter()
            .all(|f| !f.starts_with("unsafe:") && !f.starts_with("suspicious:")),
        "{:?}",
        jit.findings
    );
    let bad = out
        .records
        .iter()
        .find(|r| r.path.ends_with("payload.pkl"))
        .unwrap();
    assert_eq!(
        bad.error.as_deref(),
        Some("ckpt: unknown pickle opcode 0xff at byte 28 of the file's first pickle")
    );
    assert_eq!(bad.findings, ["unsafe: global posix.system in the pickle"]);
}
