//! Shared helpers for the integration tests: where the fixtures and the reference data live, and how a
//! spec is turned into a classification.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use mir_classify::testing::{Spec, load_spec};
use mir_classify::{Classification, Classifier, Hashes, Input};

/// The repository root.
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Reference data from outside the project, kept in the repository with its licence beside it
/// (`fixtures/reference/`: model-toolkit key lists, MIR test vectors).
pub(crate) fn reference() -> PathBuf {
    repo_root().join("fixtures/reference")
}

/// The MIR databases the tests load: the bundled July 2025 one (`crates/mir-cli/data`) and our
/// own excerpt in the August 2025 format (`fixtures/mir-db`).
pub(crate) fn database(name: &str) -> PathBuf {
    match name {
        "mir-2025-07.json" => repo_root().join("crates/mir-cli/data/mir-2025-07.json"),
        other => repo_root().join("fixtures/mir-db").join(other),
    }
}

/// The fixtures folder.
pub(crate) fn fixtures() -> PathBuf {
    repo_root().join("fixtures/specs")
}

/// Resolves `@include` names: `toolkit:NAME` from model-toolkit's components, else a fixture.
pub(crate) fn resolve(name: &str) -> Option<String> {
    let path = match name.strip_prefix("toolkit:") {
        Some(rest) => reference().join("model-toolkit/components").join(rest),
        None => fixtures().join(name),
    };
    std::fs::read_to_string(path).ok()
}

/// Loads a fixture by file name.
pub(crate) fn spec(name: &str) -> Spec {
    let text = std::fs::read_to_string(fixtures().join(name))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    load_spec(&text, &mut resolve).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Classifies a spec with its file name, config and hashes.
pub(crate) fn classify(c: &Classifier, s: &Spec) -> Classification {
    let hash = |f: &str| {
        s.hashes
            .iter()
            .find(|(k, _)| k == f)
            .map(|(_, v)| v.as_str())
    };
    c.classify(&Input {
        index: &s.index,
        file_name: s.file_name.as_deref(),
        config_model_type: s.config_model_type.as_deref(),
        hashes: Hashes {
            file_256: hash("file_256"),
            layer_256: hash("layer_256"),
            layer_b3: hash("layer_b3"),
        },
    })
}

/// All fixture file names (`*.spec`), sorted.
pub(crate) fn all_specs() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".spec"))
        .collect();
    v.sort();
    v
}
