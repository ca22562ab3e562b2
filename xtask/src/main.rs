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
                 demo [--out DIR]  build a synthetic library (default: cargo's target dir/demo) and scan it\n  \
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

/// The target directory cargo uses for this workspace (`CARGO_TARGET_DIR`, `build.target-dir`
/// in a config file, or `target/`), as `cargo metadata` reports it.
pub(crate) fn target_dir(root: &Path) -> anyhow::Result<PathBuf> {
    let out = Command::new(env!("CARGO"))
        .current_dir(root)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("reading cargo metadata's output")?;
    meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata names no target_directory")
}

fn demo(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let base = match args {
        [flag, dir] if flag == "--out" => std::path::absolute(dir)?,
        [] => target_dir(root)?.join("demo"),
        _ => bail!("usage: cargo xtask demo [--out DIR]"),
    };
    let library = base.join("library");
    let built = build_demo(root, &library)?;
    println!(
        "Demo library: {} files in {}\n\
         \x20 models/                {:>4} synthetic models: the real tensor names and shapes of each\n\
         \x20                             family (fixtures/specs), written as sparse files (a few KB of disk)\n\
         \x20 safetensors/ok, gguf/  {:>4} small valid files\n\
         \x20 ckpt/                  {:>4} PyTorch checkpoints: valid ones, pickles that would run a command\n\
         \x20                             if torch.load()ed (flagged `unsafe`, never run), and damaged ones\n\
         \x20 safetensors/hostile/   {:>4} files BROKEN ON PURPOSE (cut headers, length and count bombs,\n\
         \x20                             invalid JSON, overlapping offsets): each must get one clear error\n\
         \x20                             and never stop the scan\n",
        built.total(),
        library.display(),
        built.models,
        built.valid,
        built.checkpoints,
        built.broken,
    );
    let index = base.join("index.sqlite3");
    println!(
        "Scanning it with `mir scan` (index: {}):\n",
        index.display()
    );
    // Run from inside the library, so the table shows short relative paths.
    let status = Command::new(env!("CARGO"))
        .current_dir(&library)
        .arg("run")
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .args(["--quiet", "--release", "-p", "mir-cli", "--", "scan"])
        .arg("--index")
        .arg(&index)
        .arg(".")
        .status()
        .context("running mir scan")?;
    let Some(code) = status.code() else {
        bail!("mir scan was killed");
    };
    println!(
        "\nHow to read this: one row per weight file, paths relative to the library.\n\
         STATUS `ok` means one MIR ID was decided (add --explain to see the evidence under each\n\
         file); `ambiguous` means the evidence fits several IDs (listed after `?`) or is weak;\n\
         `arch-only` means the architecture is known but not the model; `unknown` means the file\n\
         was read but not identified. Indented `+` lines are the parts of an all-in-one checkpoint,\n\
         `!` lines errors and security findings (`unsafe:` is a pickle that would run code if\n\
         loaded with torch.load; mir never runs it). The `error` rows under safetensors/hostile/\n\
         and the damaged ckpt/ files are broken on purpose, which is why mir exited with status\n\
         {code} (2: some file could not be read; `mir scan --help` lists every status). Next:\n\
         `cargo run --release -p mir-cli -- inspect FILE` shows one header in detail, and\n\
         `scan --json` prints the records the README documents field by field."
    );
    Ok(())
}

/// What [`build_demo`] wrote.
#[derive(Debug, Default)]
pub(crate) struct DemoLibrary {
    /// Synthetic models from `fixtures/specs`.
    pub(crate) models: usize,
    /// Valid safetensors and GGUF fixtures.
    pub(crate) valid: usize,
    /// PyTorch checkpoint fixtures (valid, payload-carrying and damaged).
    pub(crate) checkpoints: usize,
    /// Hostile safetensors fixtures, broken on purpose.
    pub(crate) broken: usize,
}

impl DemoLibrary {
    pub(crate) fn total(&self) -> usize {
        self.models + self.valid + self.checkpoints + self.broken
    }
}

/// Writes the demo library into `out`: one sparse safetensors file per spec, plus copies of the
/// committed weight-file fixtures.
pub(crate) fn build_demo(root: &Path, out: &Path) -> anyhow::Result<DemoLibrary> {
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("clearing {}", out.display()))?;
    }
    std::fs::create_dir_all(out)?;
    let mut built = DemoLibrary::default();
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
        built.models += 1;
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
            // Weight files only: generators, expectations and notes stay behind.
            let is_weight = p
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| !matches!(x, "py" | "json" | "md" | "txt" | "zip"));
            if let (true, true, Some(name)) = (p.is_file(), is_weight, p.file_name()) {
                std::fs::copy(&p, to.join(name))?;
                match sub {
                    "safetensors/hostile" => built.broken += 1,
                    "ckpt" => built.checkpoints += 1,
                    _ => built.valid += 1,
                }
            }
        }
    }
    Ok(built)
}
