//! `cargo xtask`: project automation.
//!
//! * `cargo xtask fixtures` rewrites the small committed fixtures under `fixtures/` from the
//!   generators here (a test checks they are up to date).
//! * `cargo xtask demo [--out DIR]` builds a synthetic model library from the key/shape lists in
//!   `fixtures/specs/*.spec` (sparse files: gigabyte-sized models cost a few KB of disk), adds the
//!   committed fixtures, and runs `mir scan` on it.
//! * `cargo xtask fuzz TARGET --secs N` seeds a corpus from `fixtures/` and runs a cargo-fuzz
//!   target (see `fuzz.rs`).
//! * `cargo xtask bench [--files N] [--rounds R] [--out DIR]`: the performance suite (see
//!   `bench.rs`).

mod bench;
mod fixtures;
mod fuzz;
mod hostile;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("fixtures") => {
            let n = fixtures::write_all(&root.join("fixtures"))?
                + hostile::write_all(&root.join("fixtures/hostile"))?;
            println!("wrote {n} fixture files under fixtures/");
            Ok(())
        }
        Some("demo") => demo(&root, &args[1..]),
        Some("fuzz") => fuzz::run(&root, &args[1..]),
        Some("bench") => bench::run(&root, &args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 fixtures          regenerate the committed fixtures under fixtures/\n  \
                 demo [--out DIR]  build a synthetic library (default target/demo) and scan it\n  \
                 fuzz TARGET [--secs N] [--no-asan]  run a cargo-fuzz target (see fuzz/README.md)\n  \
                 bench [--files N] [--rounds R] [--peer-rounds P] [--out DIR]\n                    \
                 time mir scan against the floor and the Python peers (target/bench)"
            );
            bail!("unknown or missing command")
        }
    }
}

/// The workspace root (xtask's parent folder).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn demo(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let out = match args {
        [flag, dir] if flag == "--out" => PathBuf::from(dir),
        [] => root.join("target/demo"),
        _ => bail!("usage: cargo xtask demo [--out DIR]"),
    };
    let n = build_demo(root, &out)?;
    eprintln!("demo library: {n} files in {}", out.display());
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["run", "--quiet", "--release", "-p", "mir-cli", "--", "scan"])
        .arg(&out)
        .status()
        .context("running mir scan")?;
    // `mir scan` exits 1 or 2 for unrecognised or broken files, which the demo includes on purpose.
    if status.code().is_none() {
        bail!("mir scan was killed");
    }
    Ok(())
}

/// Writes the demo library into `out`: one sparse safetensors file per spec, plus copies of the
/// committed fixtures. Returns the number of files written.
pub(crate) fn build_demo(root: &Path, out: &Path) -> anyhow::Result<usize> {
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("clearing {}", out.display()))?;
    }
    std::fs::create_dir_all(out)?;
    let mut n = 0;
    let specs = root.join("fixtures/specs");
    let toolkit = root.join("fixtures/reference/model-toolkit/components");
    let mut resolve = |name: &str| -> Option<String> {
        let path = match name.strip_prefix("toolkit:") {
            Some(rest) => toolkit.join(rest),
            None => specs.join(name),
        };
        std::fs::read_to_string(path).ok()
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&specs)
        .with_context(|| format!("reading {}", specs.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "spec"))
        .collect();
    entries.sort();
    let models = out.join("models");
    for spec_path in entries {
        let text = std::fs::read_to_string(&spec_path)?;
        let spec = mir_classify::testing::load_spec(&text, &mut resolve)
            .map_err(|e| anyhow::anyhow!("{}: {e}", spec_path.display()))?;
        // GGUF-format specs describe GGUF files; the committed GGUF fixtures stand for them.
        if spec.index.format != "safetensors" || !spec.hashes.is_empty() {
            continue;
        }
        let stem = spec_path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("model");
        // A spec that names its file (for the filename evidence) gets a folder of its own.
        let path = match &spec.file_name {
            Some(name) => models.join(stem).join(name),
            None => models.join(format!("{stem}.safetensors")),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        mir_testkit::write_index_safetensors(&path, &spec.index)?;
        n += 1;
    }
    for sub in ["safetensors/ok", "safetensors/hostile", "gguf", "ckpt"] {
        let from = root.join("fixtures").join(sub);
        if !from.is_dir() {
            continue;
        }
        let to = out.join(sub);
        std::fs::create_dir_all(&to)?;
        for e in std::fs::read_dir(&from)? {
            let p = e?.path();
            if let (true, Some(name)) = (p.is_file(), p.file_name()) {
                std::fs::copy(&p, to.join(name))?;
                n += 1;
            }
        }
    }
    Ok(n)
}
