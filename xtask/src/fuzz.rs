//! `cargo xtask fuzz TARGET [--secs N] [--no-asan] [-- LIBFUZZER_ARGS...]`: seeds
//! `fuzz/corpus/TARGET` from `fixtures/` and runs one cargo-fuzz target for N seconds.
//!
//! cargo-fuzz needs nightly-only compiler flags (`-Zsanitizer`, `-Cpasses=sancov-module`); this
//! machine has a stable toolchain only, so the run sets `RUSTC_BOOTSTRAP=1`, which lets stable
//! rustc accept them. AddressSanitizer works that way on x86_64 Linux; `--no-asan` passes
//! `--sanitizer none` for platforms without it. Targets build with debug assertions, so integer
//! overflow anywhere (not only in the parser crates, which deny unchecked arithmetic) is a crash.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// Every fuzz target with the fixture folders (under `fixtures/`) that seed its corpus.
/// Adding a target: a `[[bin]]` in `fuzz/Cargo.toml`, a file in `fuzz/fuzz_targets/`, a line here.
pub(crate) const TARGETS: &[(&str, &[&str])] = &[
    (
        "safetensors",
        &[
            "safetensors/ok",
            "safetensors/hostile",
            "hostile/safetensors",
        ],
    ),
    ("gguf", &["gguf", "hostile/gguf"]),
    ("plugin_output", &["safetensors/ok", "hostile/mixed"]),
    ("sniff", &["safetensors", "gguf", "hostile"]),
    ("ckpt", &["ckpt", "hostile/mixed", "hostile/ckpt"]),
];

/// Seed files larger than this are skipped (the fuzzer's default max input is 4 KiB anyway).
const MAX_SEED_BYTES: u64 = 1 << 20;

pub(crate) fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let usage = "usage: cargo xtask fuzz TARGET [--secs N] [--no-asan] [-- LIBFUZZER_ARGS...]";
    let (ours, extra) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let mut target = None;
    let mut secs: u64 = 60;
    let mut asan = true;
    let mut it = ours.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--secs" => {
                secs = it
                    .next()
                    .context(usage)?
                    .parse()
                    .context("--secs takes a number of seconds")?;
            }
            "--no-asan" => asan = false,
            t if target.is_none() && !t.starts_with('-') => target = Some(t),
            _ => bail!("{usage}"),
        }
    }
    let Some(target) = target else {
        bail!("{usage}\ntargets: {}", names().join(", "))
    };
    let Some((_, seeds)) = TARGETS.iter().find(|(t, _)| *t == target) else {
        bail!(
            "unknown fuzz target {target:?}; targets: {}",
            names().join(", ")
        )
    };
    let corpus = root.join("fuzz/corpus").join(target);
    let n = seed(&root.join("fixtures"), seeds, &corpus)?;
    eprintln!(
        "fuzz {target}: {n} seed files copied into {}",
        corpus.display()
    );

    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(root)
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "run", "--debug-assertions"]);
    if !asan {
        cmd.args(["--sanitizer", "none"]);
    }
    cmd.arg(target)
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={secs}"))
        .args(["-rss_limit_mb=2048", "-timeout=10", "-print_final_stats=1"])
        .args(extra);
    let status = cmd
        .status()
        .context("running `cargo fuzz` (install it with `cargo install cargo-fuzz`)")?;
    if !status.success() {
        bail!("fuzz target {target} failed ({status}); crashes are in fuzz/artifacts/{target}/");
    }
    Ok(())
}

fn names() -> Vec<&'static str> {
    TARGETS.iter().map(|(t, _)| *t).collect()
}

/// Copies every file under `fixtures/<dir>` (recursively) into `corpus`; returns the count.
/// Names are prefixed by their folder so files with the same name in two folders both survive.
fn seed(fixtures: &Path, dirs: &[&str], corpus: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let mut n = 0;
    let mut stack: Vec<_> = dirs.iter().map(|d| fixtures.join(d)).collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue; // A fixture folder that does not exist yet (e.g. ckpt before it merges).
        };
        for e in entries {
            let e = e?;
            let path = e.path();
            let meta = e.metadata()?;
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            if !meta.is_file() || meta.len() > MAX_SEED_BYTES {
                continue;
            }
            let rel = path.strip_prefix(fixtures).unwrap_or(&path);
            let flat = rel.to_string_lossy().replace(['/', '\\'], "__");
            std::fs::copy(&path, corpus.join(format!("seed__{flat}")))
                .with_context(|| format!("copying {}", path.display()))?;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_a_fuzz_bin_and_existing_seeds() {
        let root = crate::workspace_root();
        let manifest = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).unwrap();
        for (target, seeds) in TARGETS {
            assert!(
                manifest.contains(&format!("name = \"{target}\"")),
                "fuzz/Cargo.toml has no [[bin]] {target}"
            );
            assert!(
                root.join(format!("fuzz/fuzz_targets/{target}.rs"))
                    .is_file(),
                "fuzz/fuzz_targets/{target}.rs is missing"
            );
            let tmp = std::env::temp_dir()
                .join(format!("mir-xtask-seed-{target}-{}", std::process::id()));
            let n = seed(&root.join("fixtures"), seeds, &tmp).unwrap();
            assert!(n > 0, "target {target} gets no seed files");
            std::fs::remove_dir_all(&tmp).unwrap();
        }
    }
}
