//! Helpers shared by the `mir` binary's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `mir` with an index private to this test process (never the user's cache folder) and no
/// plugin folders from the environment.
pub(crate) fn mir(args: &[&str]) -> Output {
    let index = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-index-{}.sqlite3", std::process::id()));
    mir_in(&index, args)
}

/// Runs `mir` with the index at `index`.
pub(crate) fn mir_in(index: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mir"))
        .args(args)
        .env("MIR_INDEX", index)
        .env_remove("MIR_PLUGIN_PATH")
        .output()
        .expect("run mir")
}

/// The MIR test vectors kept in the repository (`fixtures/reference/mir-testvec`).
pub(crate) fn testvec() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/reference/mir-testvec")
}

/// The MIR database bundled with `mir` (July 2025, LGPL-3.0, `crates/mir-cli/data`).
pub(crate) fn bundled_db() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/mir-2025-07.json")
}

/// The JSON Lines of `out`'s stdout.
pub(crate) fn records(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// A safetensors file: the length prefix, `header`, then `data`.
pub(crate) fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    f.extend_from_slice(data);
    f
}
