//! Tidy: the repository stands on its own. No source, test, script or TOML refers to a path
//! outside it (a reference folder beside the checkout, the machine it was written on, a home folder):
//! a fresh clone must build, test and run with nothing beside it. (In the spirit of
//! rust-analyzer's `xtask/src/tidy.rs`.)

use std::path::{Path, PathBuf};

/// Text that names a place outside the repository. Built from pieces so this file does not
/// match itself.
fn forbidden() -> Vec<String> {
    let shared = ["..", "/shared"].concat();
    vec![
        shared.clone(),
        format!("{shared}/"),
        ["/wo", "rk/"].concat(),
        ["/ho", "me/"].concat(),
        ["/Us", "ers/"].concat(),
        ["/ro", "ot/"].concat(),
        ["~/", "shared"].concat(),
        ["MIR_SHARED", "_DIR"].concat(),
        ["shared/", "mir/"].concat(),
        ["shared/", "reference/"].concat(),
    ]
}

/// The offending `(line number, pattern)` pairs in `text`.
fn offending(text: &str) -> Vec<(usize, String)> {
    let patterns = forbidden();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for p in &patterns {
            if line.contains(p.as_str()) {
                out.push((n + 1, p.clone()));
            }
        }
    }
    out
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Sources, tests, scripts and TOML files under `dir`, skipping build output, fuzz corpora and
/// the reference data itself.
fn checked_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            if matches!(
                name.as_str(),
                "target" | ".git" | "corpus" | "artifacts" | "reference"
            ) {
                continue;
            }
            checked_files(&path, out);
        } else if kind.is_file() {
            let ext = path.extension().and_then(|x| x.to_str()).unwrap_or("");
            let in_ci = path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|d| d == ".ci");
            if matches!(ext, "rs" | "toml" | "sh" | "py" | "h" | "c") || in_ci {
                out.push(path);
            }
        }
    }
}

#[test]
fn nothing_refers_to_a_path_outside_the_repository() {
    let root = root();
    let mut files = Vec::new();
    checked_files(&root, &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("xtask/src/main.rs"))
            && files.iter().any(|f| f.ends_with(".ci/run"))
            && files.len() > 50,
        "the walk found only {} files under {}",
        files.len(),
        root.display()
    );
    let mut problems = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for (line, pattern) in offending(&text) {
            let rel = f.strip_prefix(&root).unwrap_or(f);
            problems.push(format!("{}:{line}: refers to {pattern:?}", rel.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "paths outside the repository (bring what is needed into it, licence beside it):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_catches_what_it_is_for() {
    let shared = ["..", "/shared"].concat();
    let sample = format!(
        "let a = root.join(\"{shared}/mir\");\nlet ok = 1;\nlet b = \"{}\";\n",
        ["/wo", "rk/shared/x"].concat()
    );
    let found = offending(&sample);
    assert_eq!(found.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [1, 1, 3]);
    assert!(offending("let p = Path::new(\"fixtures/reference\");").is_empty());
}
