//! Shared helpers for the integration tests: where the fixtures and ../shared live, and how a
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

/// The shared reference folder: `../shared` beside the repository (a git worktree one level
/// deeper finds it at `../../shared`). Panics loudly when it is missing: tests never skip.
pub(crate) fn shared() -> PathBuf {
    let candidates = [
        repo_root().join("../shared"),
        repo_root().join("../../shared"),
    ];
    candidates
        .iter()
        .find(|p| p.join("mir/IDS.md").is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "the shared reference folder is missing (looked at {candidates:?}); tests need it"
            )
        })
}

/// The fixtures folder.
pub(crate) fn fixtures() -> PathBuf {
    repo_root().join("fixtures/specs")
}

/// Resolves `@include` names: `toolkit:NAME` from model-toolkit's components, else a fixture.
pub(crate) fn resolve(name: &str) -> Option<String> {
    let path = match name.strip_prefix("toolkit:") {
        Some(rest) => shared()
            .join("reference/model-toolkit/components")
            .join(rest),
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
