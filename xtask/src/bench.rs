//! `cargo xtask bench [--files N] [--rounds R] [--peer-rounds P] [--real-files N]
//! [--baseline-mir PATH] [--out DIR]`: `mir scan` against the floor and against the Python peers,
//! in one run. A quick run: `--files 200 --rounds 2` (the library-size and RSS figures then come
//! from small libraries; the real-layout figures are unchanged).
//!
//! `--baseline-mir PATH` adds a former `mir` binary (e.g. built from an earlier commit) as a
//! contender on the real-layout library and the one-file scan, so before/after ratios come from
//! the same run.
//!
//! 1. Builds `mir` and the floor (`benches/src/bin/floor.rs`) with the `profiling` profile (release code plus line tables for perf).
//! 2. Generates (or reuses, when `library.json` carries the same plan hash) a synthetic library of
//!    N weight files under `DIR/library-N` and a second one of N/4 files for the linearity point
//!    (see `mir_benches::library` for the mix and layout). Files are sparse.
//! 3. Times every contender R times, interleaved: each round runs every contender once, in an
//!    order rotated by one per round, so machine drift hits all of them alike. One untimed run of
//!    each comes first (page cache, binary loading). The Python peers take minutes per run
//!    (GGUFReader decodes every token of every vocabulary), so they run in the first P rounds
//!    only (default 1) and without a warm-up run (their imports are compiled by the venv check).
//!    * `floor`: open each file and pread its header bytes, nothing else;
//!    * `mir`: `mir scan --json --quiet`, stdout to /dev/null;
//!    * `mir-index`: `mir scan` with a warm index, when `mir scan --help` mentions `--index`;
//!    * `py-safetensors`, `py-gguf`: `xtask/bench/peers.py` in a venv under DIR (created here with
//!      `python3 -m venv` and `pip install safetensors numpy gguf`), when python3 is available.
//!
//!    Each contender runs on a subset folder (`safetensors/`, `gguf/`, or both), so a peer and
//!    `mir` are compared on the same files.
//! 4. Peak RSS and CPU time come from `wait4` on the child. Writes `DIR/report.md` and
//!    `DIR/report.json` and prints the Markdown. When a target is missed, `mir` is profiled with
//!    `perf record` (or callgrind) on the subset concerned and the top functions go in the report.
//!
//! Slots for work in progress elsewhere: the warm-index contender switches on by itself when the
//! SQLite index lands (see [`index_supported`] and the `--index` arguments in
//! [`contenders`]); `.pt`/`.ckpt` files get a `ckpt` subset by adding a kind to
//! `mir_benches::library` and a folder to [`SUBSETS`].

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use mir_benches::library::{self, Entry, Kind};
use serde_json::{Value, json};

/// The subset folders of a library; each is one comparison.
const SUBSETS: &[&str] = &["safetensors", "gguf"];

/// The issue's targets.
const FLOOR_RATIO_TARGET: f64 = 3.0;
const SAFETENSORS_PEER_TARGET: f64 = 10.0;
const GGUF_PEER_TARGET: f64 = 1000.0;
const RSS_TARGET_MB: f64 = 200.0;
const RSS_TARGET_FILES: f64 = 10_000.0;
/// Cost per file at N and N/4 may differ by this factor and still count as linear.
const LINEARITY_TOLERANCE: f64 = 1.25;
/// Issue 19's targets on the real-layout library.
const REAL_PEER_TARGET: f64 = 10.0;
const REAL_FLOOR_CPU_TARGET: f64 = 5.0;
const ONE_FILE_TARGET_MS: f64 = 2.0;
/// `mir scan` of one file is timed this many times per round (it takes milliseconds).
const ONE_FILE_REPEATS: usize = 10;

struct Options {
    files: usize,
    rounds: usize,
    /// Rounds in which the Python peers run (they take minutes: GGUFReader decodes every token).
    peer_rounds: usize,
    /// Files of the real-layout library (issue 19); 0 skips it.
    real_files: usize,
    /// A former `mir` binary timed beside the current one (before/after in the same run).
    baseline_mir: Option<PathBuf>,
    /// Size of the library on which peak RSS is measured (one run); 0 extrapolates it from the
    /// two timed libraries instead.
    rss_files: usize,
    out: PathBuf,
}

fn parse_args(root: &Path, args: &[String]) -> anyhow::Result<Options> {
    let mut o = Options {
        files: 5000,
        rounds: 3,
        peer_rounds: 1,
        real_files: 600,
        baseline_mir: None,
        rss_files: RSS_TARGET_FILES as usize,
        out: crate::target_dir(root)?.join("bench"),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{flag} needs a value"))
                .cloned()
        };
        match flag.as_str() {
            "--files" => o.files = value()?.parse().context("--files N")?,
            "--rounds" => o.rounds = value()?.parse().context("--rounds R")?,
            "--peer-rounds" => o.peer_rounds = value()?.parse().context("--peer-rounds P")?,
            "--real-files" => o.real_files = value()?.parse().context("--real-files N")?,
            "--out" => o.out = PathBuf::from(value()?),
            "--baseline-mir" => o.baseline_mir = Some(PathBuf::from(value()?)),
            "--rss-files" => o.rss_files = value()?.parse().context("--rss-files N")?,
            _ => bail!("unknown option {flag:?}\n{BENCH_USAGE}"),
        }
    }
    if o.files < 8 || o.rounds == 0 {
        bail!("--files must be at least 8 and --rounds at least 1");
    }
    Ok(o)
}

/// Runs the bench.
/// `cargo xtask bench --help`.
const BENCH_USAGE: &str = "usage: cargo xtask bench [--files N] [--rounds R] [--peer-rounds P] \
[--real-files N] [--baseline-mir PATH] [--rss-files N] [--out DIR]

  --files N            synthetic library size (default 5000)
  --rounds R           interleaved timing rounds per contender (default 3)
  --peer-rounds P      rounds for the Python peers (default 1)
  --real-files N       real-layout library size (default 600)
  --baseline-mir PATH  a former `mir` binary timed beside this one (before/after in one run)
  --rss-files N        library size of the one peak-RSS run (default 10000, the target's size;
                       about 2.9 GB on disk; 0 extrapolates from the timed libraries)
  --out DIR            libraries and report (default: cargo's target dir/bench)

The Python peers run in a venv the bench creates under --out (safetensors, numpy, gguf from the
package index), or in the interpreter MIR_BENCH_PYTHON names (nothing is installed into it).";

pub(crate) fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{BENCH_USAGE}");
        return Ok(());
    }
    let o = parse_args(root, args)?;
    std::fs::create_dir_all(&o.out)?;
    let out = o.out.canonicalize()?;
    let mut bins = build(root)?;
    bins.baseline_mir = o.baseline_mir.clone();

    let big = prepare_library(&out, o.files)?;
    let small = prepare_library(&out, (o.files / 4).max(8))?;
    let sanity = sanity_scan(&bins.mir, &big)?;
    let real = if o.real_files > 0 {
        Some(prepare_real_library(&out, o.real_files)?)
    } else {
        None
    };

    let help = capture(Command::new(&bins.mir).args(["scan", "--help"]))?;
    let index = index_supported(&help);
    let flags = ScanFlags {
        no_plugin_dirs: help.contains("--no-plugin-dirs"),
        // With the index in, the plain `mir` contender must not use one (default on or off).
        no_index: help.contains("--no-index"),
    };
    let python = setup_python(root, &out);

    let mut cs = contenders(
        &bins,
        &big,
        &small,
        index.then(|| out.join("index.sqlite3")),
        flags,
        python.as_ref().ok(),
        real.as_ref(),
    );
    if index {
        // The first run populates the index; the timed runs then find it warm.
        let _ = std::fs::remove_file(out.join("index.sqlite3"));
    }

    eprintln!(
        "bench: warm-up (one untimed run of each of {} contenders)",
        cs.len()
    );
    for c in cs.iter_mut().filter(|c| !c.is_peer()) {
        let r = c.run(&out)?;
        eprintln!("  {:<28} {:>9.3} s", c.label(), r.wall.as_secs_f64());
        c.warmup = Some(r);
    }
    for round in 0..o.rounds {
        eprintln!("bench: round {}/{}", round + 1, o.rounds);
        let n = cs.len();
        for k in 0..n {
            let c = &mut cs[(k + round) % n];
            if c.is_peer() && round >= o.peer_rounds {
                continue;
            }
            let repeats = if matches!(c.tool, Tool::MirOne | Tool::MirOneBase) {
                ONE_FILE_REPEATS
            } else {
                1
            };
            for _ in 0..repeats {
                let r = c.run(&out)?;
                eprintln!("  {:<28} {:>9.3} s", c.label(), r.wall.as_secs_f64());
                c.runs.push(r);
            }
        }
    }

    // Peak RSS at the target's library size, measured by one run of `mir scan` on it.
    let rss_run = if o.rss_files > 0 {
        let lib = if o.rss_files == big.n {
            None
        } else {
            Some(prepare_library(&out, o.rss_files)?)
        };
        let lib = lib.as_ref().unwrap_or(&big);
        let mut c = contenders(&bins, lib, lib, None, flags, None, None)
            .into_iter()
            .find(|c| c.tool == Tool::Mir && c.subset.is_none())
            .context("no mir contender for the RSS run")?;
        eprintln!("bench: peak RSS run on {}", lib.dir.display());
        let r = c.run(&out)?;
        c.runs.push(r);
        Some(c)
    } else {
        None
    };

    // The header path phase by phase, in process, on the real-layout library's files.
    let header_path = real.as_ref().and_then(|lib| {
        eprintln!("bench: header path phases on {}", lib.dir.display());
        let text = capture(
            Command::new(&bins.header_path)
                .arg(&lib.dir)
                .arg(o.rounds.max(3).to_string()),
        );
        match text.map(|t| serde_json::from_str::<Value>(t.trim())) {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                eprintln!("bench: header_path printed bad JSON: {e}");
                None
            }
            Err(e) => {
                eprintln!("bench: header_path failed: {e:#}");
                None
            }
        }
    });
    let mut report = Report::new(&o, &big, &small, &sanity, &cs);
    report.real = real.as_ref();
    report.header_path = header_path;
    report.rss_run = rss_run.as_ref();
    report.index_note = if index {
        "warm index: `mir scan --index` timed after one populating run".to_owned()
    } else {
        "skipped: no --index in this build".to_owned()
    };
    report.python_note = match &python {
        Ok(p) => format!("venv {} ({})", p.venv.display(), p.versions),
        Err(e) => format!("skipped: {e:#}"),
    };
    report.evaluate();
    if report.targets.iter().any(|t| t.met == Some(false)) {
        // Issue 19's targets are judged on the real-layout library: profile that one when one
        // of them is missed, else the small synthetic library.
        let real_missed = report.targets.iter().any(|t| {
            t.met == Some(false)
                && (t.what.contains("real-layout") || t.what.contains("header path"))
        });
        let lib = match (&real, real_missed) {
            (Some(r), true) => r,
            _ => &small,
        };
        report.profile = profile(&bins.mir, lib, &report, &out);
    }
    let md = report.markdown();
    std::fs::write(out.join("report.md"), &md)?;
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&report.json())?,
    )?;
    println!("{md}");
    eprintln!(
        "bench: wrote {} and {}",
        out.join("report.md").display(),
        out.join("report.json").display()
    );
    Ok(())
}

struct Bins {
    mir: PathBuf,
    floor: PathBuf,
    header_path: PathBuf,
    /// `--baseline-mir`.
    baseline_mir: Option<PathBuf>,
}

fn build(root: &Path) -> anyhow::Result<Bins> {
    for args in [
        // The `profiling` profile: release code with the line tables perf's DWARF call graphs
        // need (`release` itself has no debug info, to keep the installed binary small).
        &["build", "--profile", "profiling", "-p", "mir-cli"][..],
        &[
            "build",
            "--profile",
            "profiling",
            "-p",
            "mir-benches",
            "--bin",
            "floor",
            "--bin",
            "header_path",
        ][..],
    ] {
        eprintln!("bench: cargo {}", args.join(" "));
        let status = Command::new(env!("CARGO"))
            .current_dir(root)
            .args(args)
            .status()
            .context("running cargo")?;
        if !status.success() {
            bail!("cargo {} failed", args.join(" "));
        }
    }
    let target = crate::target_dir(root)?;
    Ok(Bins {
        mir: target.join("profiling/mir"),
        floor: target.join("profiling/floor"),
        header_path: target.join("profiling/header_path"),
        baseline_mir: None,
    })
}

/// A generated (or reused) library.
struct Lib {
    dir: PathBuf,
    n: usize,
    entries: Vec<Entry>,
    disk_bytes: u64,
    apparent_bytes: u64,
    generated_secs: Option<f64>,
    /// The real-layout library (issue 19), not the synthetic mix.
    real: bool,
}

impl Lib {
    /// Weight files (shard indexes excluded) under `subset` (`None`: all).
    fn files(&self, subset: Option<&str>) -> usize {
        self.entries
            .iter()
            .filter(|e| e.kind != Kind::ShardIndex)
            .filter(|e| subset.is_none_or(|s| e.rel.starts_with(s)))
            .count()
    }

    fn roots(&self, subset: Option<&str>) -> Vec<PathBuf> {
        match subset {
            Some(s) => vec![self.dir.join(s)],
            None => SUBSETS.iter().map(|s| self.dir.join(s)).collect(),
        }
    }
}

fn prepare_library(out: &Path, n: usize) -> anyhow::Result<Lib> {
    let dir = out.join(format!("library-{n}"));
    let hash = library::plan_hash(n);
    let mut generated_secs = None;
    if library::existing_hash(&dir).as_deref() == Some(hash.as_str()) {
        eprintln!("bench: reusing {}", dir.display());
    } else {
        eprintln!("bench: generating {} ({n} files)", dir.display());
        let t = Instant::now();
        library::generate(&dir, n, &|line| eprintln!("  {line}"))
            .with_context(|| format!("generating {}", dir.display()))?;
        generated_secs = Some(t.elapsed().as_secs_f64());
    }
    let entries = library::read_manifest(&dir)?;
    let (disk_bytes, apparent_bytes) = library::sizes(&dir, &entries)?;
    eprintln!(
        "bench: {}: {} files, {:.1} MB on disk, {:.1} GB apparent",
        dir.display(),
        entries.len(),
        disk_bytes as f64 / 1e6,
        apparent_bytes as f64 / 1e9
    );
    Ok(Lib {
        dir,
        n,
        entries,
        disk_bytes,
        apparent_bytes,
        generated_secs,
        real: false,
    })
}

/// The real-layout library of `n` safetensors files (`mir_benches::library::generate_real`).
fn prepare_real_library(out: &Path, n: usize) -> anyhow::Result<Lib> {
    let dir = out.join(format!("real-{n}"));
    let hash = library::real_plan_hash(n);
    let mut generated_secs = None;
    if library::existing_hash(&dir).as_deref() == Some(hash.as_str()) {
        eprintln!("bench: reusing {}", dir.display());
    } else {
        eprintln!(
            "bench: generating the real-layout library {}",
            dir.display()
        );
        let t = Instant::now();
        library::generate_real(&dir, n, &|line| eprintln!("  {line}"))
            .with_context(|| format!("generating {}", dir.display()))?;
        generated_secs = Some(t.elapsed().as_secs_f64());
    }
    let entries = library::read_manifest(&dir)?;
    let (disk_bytes, apparent_bytes) = library::sizes(&dir, &entries)?;
    Ok(Lib {
        dir,
        n,
        entries,
        disk_bytes,
        apparent_bytes,
        generated_secs,
        real: true,
    })
}

/// What one `mir scan --json` of the library reported: records, errors and formats.
struct Sanity {
    records: usize,
    errors: Vec<String>,
    by_format: std::collections::BTreeMap<String, usize>,
}

fn sanity_scan(mir: &Path, lib: &Lib) -> anyhow::Result<Sanity> {
    let out = Command::new(mir)
        .args(["scan", "--json", "--quiet"])
        .args(lib.roots(None))
        .stderr(Stdio::null())
        .output()
        .context("running mir scan")?;
    let mut s = Sanity {
        records: 0,
        errors: Vec::new(),
        by_format: Default::default(),
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line).context("mir scan --json printed a bad line")?;
        s.records += 1;
        let format = v["format"].as_str().unwrap_or("none").to_owned();
        *s.by_format.entry(format).or_default() += 1;
        if let Some(e) = v["error"].as_str() {
            s.errors
                .push(format!("{}: {e}", v["path"].as_str().unwrap_or("?")));
        }
    }
    if s.records != lib.files(None) {
        eprintln!(
            "bench: warning: mir scan reported {} records for {} files",
            s.records,
            lib.files(None)
        );
    }
    for e in s.errors.iter().take(5) {
        eprintln!("bench: warning: mir could not read a generated file: {e}");
    }
    Ok(s)
}

/// Options of `mir scan` that this build may or may not have.
#[derive(Clone, Copy, Debug)]
struct ScanFlags {
    no_plugin_dirs: bool,
    no_index: bool,
}

/// Whether this `mir` has the SQLite index (issue: `mir scan --index PATH`).
fn index_supported(scan_help: &str) -> bool {
    scan_help.contains("--index")
}

struct Python {
    python: PathBuf,
    venv: PathBuf,
    script: PathBuf,
    versions: String,
    /// The `gguf` package is installed (else the GGUF peer is skipped).
    has_gguf: bool,
}

fn setup_python(root: &Path, out: &Path) -> anyhow::Result<Python> {
    // An interpreter given by the user (e.g. an existing venv with `safetensors` and `numpy`;
    // `gguf` optional) is used as is: nothing is installed.
    if let Some(python) = std::env::var_os("MIR_BENCH_PYTHON").map(PathBuf::from) {
        let versions = capture(Command::new(&python).args([
            "-c",
            "import importlib.metadata as m, sys; import safetensors, numpy; \
             print('python', sys.version.split()[0], *(f'{p} {m.version(p)}' for p in \
             ('safetensors', 'numpy')), sep=', ')",
        ]))
        .context("MIR_BENCH_PYTHON cannot import safetensors and numpy")?;
        let has_gguf = Command::new(&python)
            .args(["-c", "import gguf"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        return Ok(Python {
            venv: python.clone(),
            python,
            script: root.join("xtask/bench/peers.py"),
            versions: format!(
                "{} (MIR_BENCH_PYTHON){}",
                versions.trim(),
                if has_gguf { "" } else { "; no gguf package" }
            ),
            has_gguf,
        });
    }
    let venv = out.join("venv");
    let python = venv.join("bin/python");
    let check = |python: &Path| {
        capture(Command::new(python).args([
            "-c",
            "import importlib.metadata as m, sys; import safetensors, numpy, gguf; \
             print('python', sys.version.split()[0], *(f'{p} {m.version(p)}' for p in \
             ('safetensors', 'numpy', 'gguf')), sep=', ')",
        ]))
    };
    if let Ok(v) = check(&python) {
        return Ok(Python {
            python,
            venv,
            script: root.join("xtask/bench/peers.py"),
            versions: v.trim().to_owned(),
            has_gguf: true,
        });
    }
    eprintln!("bench: creating the Python venv {}", venv.display());
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .context("python3 not available")?
        .success();
    if !ok {
        bail!("python3 -m venv failed");
    }
    let ok = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "safetensors", "numpy", "gguf"])
        .status()
        .context("running pip")?
        .success();
    if !ok {
        bail!("pip install safetensors numpy gguf failed");
    }
    let versions = check(&python)?.trim().to_owned();
    Ok(Python {
        python,
        venv,
        script: root.join("xtask/bench/peers.py"),
        versions,
        has_gguf: true,
    })
}

/// One timed process run.
#[derive(Clone, Debug)]
struct RunResult {
    wall: Duration,
    user: Duration,
    sys: Duration,
    max_rss_kb: u64,
    /// The peer's own loop time (Python start-up and imports excluded).
    inner_secs: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Floor,
    Mir,
    MirIndex,
    PySafetensors,
    PyGguf,
    /// `mir scan` of one all-in-one checkpoint (start-up included).
    MirOne,
    /// `--baseline-mir` on the real-layout library.
    MirBase,
    /// `--baseline-mir` on the one file.
    MirOneBase,
}

struct Contender {
    tool: Tool,
    /// `None`: the whole library.
    subset: Option<&'static str>,
    /// The library's N.
    n: usize,
    /// On the real-layout library.
    real: bool,
    files: usize,
    program: PathBuf,
    args: Vec<OsString>,
    warmup: Option<RunResult>,
    runs: Vec<RunResult>,
}

impl Contender {
    fn name(&self) -> &'static str {
        match self.tool {
            Tool::Floor => "floor",
            Tool::Mir => "mir",
            Tool::MirIndex => "mir-index",
            Tool::PySafetensors => "py-safetensors",
            Tool::PyGguf => "py-gguf",
            Tool::MirOne => "mir-one-file",
            Tool::MirBase => "mir-baseline",
            Tool::MirOneBase => "mir-one-file-baseline",
        }
    }

    fn is_peer(&self) -> bool {
        matches!(self.tool, Tool::PySafetensors | Tool::PyGguf)
    }

    fn subset_name(&self) -> &'static str {
        if self.real {
            return "real-layout";
        }
        self.subset.unwrap_or("all")
    }

    fn label(&self) -> String {
        format!("{} {}@{}", self.name(), self.subset_name(), self.n)
    }

    fn run(&self, out: &Path) -> anyhow::Result<RunResult> {
        let is_peer = self.is_peer();
        let tmp = out.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        let stdout_path = tmp.join("stdout");
        let stderr_path = tmp.join("stderr");
        let stdout = if is_peer {
            Stdio::from(File::create(&stdout_path)?)
        } else {
            Stdio::null()
        };
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(File::create(&stderr_path)?);
        let (status, mut r) = spawn_and_wait(&mut cmd)
            .with_context(|| format!("running {}", self.program.display()))?;
        // `mir scan` exits 1 when files are unrecognised (no classifier rules yet); 2 is an error.
        let ok = match self.tool {
            Tool::Mir | Tool::MirIndex | Tool::MirOne | Tool::MirBase | Tool::MirOneBase => {
                status == Some(0) || status == Some(1)
            }
            _ => status == Some(0),
        };
        if !ok {
            let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            bail!(
                "{} exited with {status:?}: {}",
                self.label(),
                err.lines().take(5).collect::<Vec<_>>().join("\n")
            );
        }
        if is_peer {
            let text = std::fs::read_to_string(&stdout_path)?;
            let v: Value = serde_json::from_str(text.trim())
                .with_context(|| format!("{} printed {text:?}", self.label()))?;
            if v["errors"].as_u64().unwrap_or(0) > 0
                || v["files"].as_u64() != Some(self.files as u64)
            {
                bail!(
                    "{} read {} files with {} errors, expected {}",
                    self.label(),
                    v["files"],
                    v["errors"],
                    self.files
                );
            }
            r.inner_secs = v["seconds"].as_f64();
        }
        Ok(r)
    }

    fn walls(&self) -> Vec<f64> {
        self.runs.iter().map(|r| r.wall.as_secs_f64()).collect()
    }

    fn median(&self) -> f64 {
        median(self.walls())
    }

    fn min(&self) -> f64 {
        self.walls().into_iter().fold(f64::INFINITY, f64::min)
    }

    fn inner_median(&self) -> Option<f64> {
        let v: Vec<f64> = self.runs.iter().filter_map(|r| r.inner_secs).collect();
        (!v.is_empty()).then(|| median(v))
    }

    fn max_rss_mb(&self) -> f64 {
        self.runs.iter().map(|r| r.max_rss_kb).max().unwrap_or(0) as f64 / 1024.0
    }

    fn cpu_total_median(&self) -> f64 {
        median(
            self.runs
                .iter()
                .map(|r| (r.user + r.sys).as_secs_f64())
                .collect(),
        )
    }

    fn cpu_median(&self) -> (f64, f64) {
        (
            median(self.runs.iter().map(|r| r.user.as_secs_f64()).collect()),
            median(self.runs.iter().map(|r| r.sys.as_secs_f64()).collect()),
        )
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Spawns `cmd` and reaps it with `wait4`, which also gives its peak RSS and CPU time.
fn spawn_and_wait(cmd: &mut Command) -> anyhow::Result<(Option<i32>, RunResult)> {
    let start = Instant::now();
    let child = cmd.spawn()?;
    let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not yet reaped (the `Child` handle is never waited on);
        // `status` and `usage` are valid, writable and live for the whole call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e).context("wait4");
        }
    }
    let wall = start.elapsed();
    drop(child);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    Ok((
        code,
        RunResult {
            wall,
            user: tv(usage.ru_utime),
            sys: tv(usage.ru_stime),
            // Linux reports ru_maxrss in kilobytes.
            max_rss_kb: u64::try_from(usage.ru_maxrss).unwrap_or(0),
            inner_secs: None,
        },
    ))
}

fn capture(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.stderr(Stdio::null()).output()?;
    if !out.status.success() {
        bail!("{:?} exited with {}", cmd.get_program(), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn contenders(
    bins: &Bins,
    big: &Lib,
    small: &Lib,
    index: Option<PathBuf>,
    flags: ScanFlags,
    python: Option<&Python>,
    real: Option<&Lib>,
) -> Vec<Contender> {
    let baseline = bins.baseline_mir.as_deref();
    let mut cs = Vec::new();
    let contender = |tool, lib: &Lib, subset: Option<&'static str>| {
        let roots = match tool {
            // One all-in-one checkpoint (the first bundle of the real-layout library).
            Tool::MirOne | Tool::MirOneBase => lib
                .entries
                .iter()
                .find(|e| e.kind == Kind::Bundle)
                .map(|e| vec![lib.dir.join(&e.rel)])
                .unwrap_or_default(),
            _ => lib.roots(subset),
        };
        let (program, mut args): (PathBuf, Vec<OsString>) = match tool {
            Tool::Floor => (
                bins.floor.clone(),
                vec![lib.dir.join("manifest.tsv").into()],
            ),
            Tool::Mir | Tool::MirIndex | Tool::MirOne | Tool::MirBase | Tool::MirOneBase => {
                let mut a: Vec<OsString> = vec!["scan".into(), "--json".into(), "--quiet".into()];
                if flags.no_plugin_dirs {
                    a.push("--no-plugin-dirs".into());
                }
                match (tool, &index) {
                    (Tool::MirIndex, Some(index)) => {
                        a.push("--index".into());
                        a.push(index.into());
                    }
                    _ if flags.no_index => a.push("--no-index".into()),
                    _ => {}
                }
                let program = match (tool, baseline) {
                    (Tool::MirBase | Tool::MirOneBase, Some(b)) => b.to_path_buf(),
                    _ => bins.mir.clone(),
                };
                (program, a)
            }
            Tool::PySafetensors | Tool::PyGguf => {
                let p = python.expect("peers only with python");
                let kind = if tool == Tool::PySafetensors {
                    "safetensors"
                } else {
                    "gguf"
                };
                (p.python.clone(), vec![p.script.clone().into(), kind.into()])
            }
        };
        args.extend(roots.into_iter().map(OsString::from));
        Contender {
            tool,
            subset,
            n: lib.n,
            real: lib.real,
            files: if matches!(tool, Tool::MirOne | Tool::MirOneBase) {
                1
            } else {
                lib.files(subset)
            },
            program,
            args,
            warmup: None,
            runs: Vec::new(),
        }
    };
    for subset in [None, Some("safetensors"), Some("gguf")] {
        cs.push(contender(Tool::Floor, big, subset));
        cs.push(contender(Tool::Mir, big, subset));
    }
    if index.is_some() {
        cs.push(contender(Tool::MirIndex, big, None));
    }
    cs.push(contender(Tool::Floor, small, None));
    cs.push(contender(Tool::Mir, small, None));
    if python.is_some() {
        cs.push(contender(Tool::PySafetensors, big, Some("safetensors")));
        if python.is_some_and(|p| p.has_gguf) {
            cs.push(contender(Tool::PyGguf, big, Some("gguf")));
        }
    }
    if let Some(real) = real {
        cs.push(contender(Tool::Floor, real, Some("safetensors")));
        cs.push(contender(Tool::Mir, real, Some("safetensors")));
        cs.push(contender(Tool::MirOne, real, None));
        if baseline.is_some() {
            cs.push(contender(Tool::MirBase, real, Some("safetensors")));
            cs.push(contender(Tool::MirOneBase, real, None));
        }
        if python.is_some() {
            cs.push(contender(Tool::PySafetensors, real, Some("safetensors")));
        }
    }
    cs
}

/// One of the issue's targets, evaluated.
struct Target {
    what: String,
    value: String,
    met: Option<bool>,
}

struct Report<'a> {
    o: &'a Options,
    big: &'a Lib,
    small: &'a Lib,
    sanity: &'a Sanity,
    cs: &'a [Contender],
    index_note: String,
    python_note: String,
    targets: Vec<Target>,
    ratios: Vec<(String, f64)>,
    profile: Option<Profile>,
    real: Option<&'a Lib>,
    /// `header_path`'s phases on the real-layout library.
    header_path: Option<Value>,
    /// The one `mir scan` run on the `--rss-files` library.
    rss_run: Option<&'a Contender>,
}

struct Profile {
    tool: String,
    command: String,
    subset: String,
    top: Vec<String>,
}

impl<'a> Report<'a> {
    fn new(
        o: &'a Options,
        big: &'a Lib,
        small: &'a Lib,
        sanity: &'a Sanity,
        cs: &'a [Contender],
    ) -> Self {
        Report {
            o,
            big,
            small,
            sanity,
            cs,
            index_note: String::new(),
            python_note: String::new(),
            targets: Vec::new(),
            ratios: Vec::new(),
            profile: None,
            real: None,
            header_path: None,
            rss_run: None,
        }
    }

    fn find(&self, tool: Tool, subset: Option<&str>, n: usize) -> Option<&'a Contender> {
        self.cs
            .iter()
            .find(|c| c.tool == tool && c.subset == subset && c.n == n && !c.real)
    }

    fn find_real(&self, tool: Tool) -> Option<&'a Contender> {
        self.cs.iter().find(|c| c.tool == tool && c.real)
    }

    /// Issue 19's targets on the real-layout library, one line each.
    fn evaluate_real(&self, ratios: &mut Vec<(String, f64)>, targets: &mut Vec<Target>) {
        let Some(real) = self.real else {
            return;
        };
        let files = real.files(None);
        let header_mb: f64 = real
            .entries
            .iter()
            .filter(|e| e.kind != Kind::ShardIndex)
            .map(|e| e.header_bytes as f64)
            .sum::<f64>()
            / 1e6;
        let (m, f) = (self.find_real(Tool::Mir), self.find_real(Tool::Floor));
        match (self.find_real(Tool::PySafetensors), m) {
            (Some(p), Some(m)) => {
                let wall = p.median() / m.median();
                let inner = p.inner_median().map(|s| s / m.median());
                ratios.push(("py-safetensors / mir (real-layout), wall".into(), wall));
                let judged = inner.unwrap_or(wall);
                targets.push(Target {
                    what: format!(
                        "real-layout library ({files} files, {header_mb:.1} MB of headers): ≥ {REAL_PEER_TARGET}× safetensors.safe_open + metadata + keys + shapes, wall"
                    ),
                    value: format!(
                        "{judged:.1}× (peer loop only, {:.3} s vs mir {:.3} s; {wall:.1}× with Python start-up)",
                        p.inner_median().unwrap_or(f64::NAN),
                        m.median()
                    ),
                    met: Some(judged >= REAL_PEER_TARGET),
                });
            }
            _ => targets.push(Target {
                what: format!("real-layout library: ≥ {REAL_PEER_TARGET}× safetensors.safe_open"),
                value: "not measured (no Python)".into(),
                met: None,
            }),
        }
        if let (Some(m), Some(f)) = (m, f) {
            let cpu = m.cpu_total_median() / f.cpu_total_median();
            ratios.push(("mir / floor (real-layout), CPU time".into(), cpu));
            ratios.push((
                "mir / floor (real-layout), wall".into(),
                m.median() / f.median(),
            ));
            targets.push(Target {
                what: "real-layout library: whole `mir scan --no-index --json` process (walk, parse, fingerprints with layer hashes, classification, output) vs the floor process, CPU (for information; the ≤ 5× target is judged on the header path below)"
                    .into(),
                value: format!(
                    "{cpu:.2}× the floor's CPU time ({:.3} s vs {:.3} s)",
                    m.cpu_total_median(),
                    f.cpu_total_median()
                ),
                met: None,
            });
            targets.push(Target {
                what: "real-layout library: header MB/s per core, whole `mir scan` (CPU time)"
                    .into(),
                value: format!("{:.0} MB/s", header_mb / m.cpu_total_median()),
                met: None,
            });
        }
        if let Some(h) = &self.header_path {
            let g = |k: &str| h[format!("{k}_secs")].as_f64().unwrap_or(f64::NAN);
            let floor = g("floor_read");
            let path = floor + g("after_parse") + g("signatures") + g("classify");
            targets.push(Target {
                what: format!(
                    "safetensors header path (read + parse + key/shape signatures + classification, one thread) ≤ {REAL_FLOOR_CPU_TARGET}× the floor (read only) in CPU"
                ),
                value: format!(
                    "{:.2}× ({:.1} ms vs {:.1} ms: parse {:.1}, signatures {:.1}, classification {:.1})",
                    path / floor,
                    path * 1e3,
                    floor * 1e3,
                    g("after_parse") * 1e3,
                    g("signatures") * 1e3,
                    g("classify") * 1e3
                ),
                met: Some(path / floor <= REAL_FLOOR_CPU_TARGET),
            });
            targets.push(Target {
                what: "Throughput of the header path (read + parse + key/shape signatures + \
                       classification, one thread) in MB/s of header bytes per core"
                    .into(),
                value: format!(
                    "{:.0} MB/s ({:.1} MB of headers in {:.1} ms); with the MIR layer hashes \
                     streamed in the parse: {:.0} MB/s; the floor (read only): {:.0} MB/s",
                    header_mb / path,
                    header_mb,
                    path * 1e3,
                    header_mb / (path - g("after_parse") + g("after_parse_and_layer_hashes")),
                    header_mb / floor
                ),
                met: None,
            });
            let layer = g("after_parse_and_layer_hashes") - g("after_parse");
            targets.push(Target {
                what: "MIR layer hashes (SHA-256 + BLAKE3 of a header-sized string), on their own"
                    .into(),
                value: format!(
                    "{:.2}× the floor streamed in the parse ({:.1} ms); hashing the whole strings alone: {:.2}× ({:.1} ms)",
                    layer / floor,
                    layer * 1e3,
                    g("layer_hashes_alone") / floor,
                    g("layer_hashes_alone") * 1e3
                ),
                met: None,
            });
            let before = g("before_parse_and_layer_hashes");
            let after = g("after_parse_and_layer_hashes");
            ratios.push((
                "parse + layer hashes, before / after (header path)".into(),
                before / after,
            ));
            ratios.push((
                "parse alone, before / after (header path)".into(),
                g("before_parse") / g("after_parse"),
            ));
            targets.push(Target {
                what: "single-pass parser vs the former one, parse + layer hashes, same run"
                    .into(),
                value: format!(
                    "{:.2}× faster ({:.1} ms before, {:.1} ms after; parse alone {:.1} → {:.1} ms); {:.0} MB/s of header per core after",
                    before / after,
                    before * 1e3,
                    after * 1e3,
                    g("before_parse") * 1e3,
                    g("after_parse") * 1e3,
                    header_mb / after
                ),
                met: None,
            });
        }
        // Before/after in the same run (`--baseline-mir`).
        if let (Some(b), Some(m)) = (self.find_real(Tool::MirBase), m) {
            let wall = b.median() / m.median();
            let cpu = b.cpu_total_median() / m.cpu_total_median();
            ratios.push(("mir-baseline / mir (real-layout), wall".into(), wall));
            ratios.push(("mir-baseline / mir (real-layout), CPU time".into(), cpu));
            targets.push(Target {
                what: "before/after, same run: `mir scan` of the real-layout library, the \
                       --baseline-mir binary vs this one"
                    .into(),
                value: format!(
                    "{wall:.2}× faster in wall time ({:.3} s → {:.3} s), {cpu:.2}× less CPU \
                     ({:.3} s → {:.3} s)",
                    b.median(),
                    m.median(),
                    b.cpu_total_median(),
                    m.cpu_total_median()
                ),
                met: None,
            });
        }
        if let (Some(b), Some(one)) = (
            self.find_real(Tool::MirOneBase),
            self.find_real(Tool::MirOne),
        ) {
            let wall = b.median() / one.median();
            let cpu = b.cpu_total_median() / one.cpu_total_median();
            ratios.push(("mir-one-file-baseline / mir-one-file, wall".into(), wall));
            ratios.push(("mir-one-file-baseline / mir-one-file, CPU time".into(), cpu));
            targets.push(Target {
                what: "before/after, same run: `mir scan` of one file, the --baseline-mir \
                       binary vs this one"
                    .into(),
                value: format!(
                    "{wall:.2}× faster in wall time ({:.2} ms → {:.2} ms median; min {:.2} → \
                     {:.2} ms), {cpu:.2}× less CPU ({:.2} ms → {:.2} ms)",
                    b.median() * 1e3,
                    one.median() * 1e3,
                    b.min() * 1e3,
                    one.min() * 1e3,
                    b.cpu_total_median() * 1e3,
                    one.cpu_total_median() * 1e3
                ),
                met: None,
            });
        }
        if let Some(one) = self.find_real(Tool::MirOne) {
            let ms = one.median() * 1e3;
            targets.push(Target {
                what: format!("`mir scan` of one file ≤ {ONE_FILE_TARGET_MS} ms wall"),
                value: format!(
                    "{ms:.2} ms median, {:.2} ms min, {:.2} ms CPU ({} runs)",
                    one.min() * 1e3,
                    one.cpu_total_median() * 1e3,
                    one.runs.len()
                ),
                met: Some(ms <= ONE_FILE_TARGET_MS),
            });
        }
    }

    fn evaluate(&mut self) {
        let n = self.big.n;
        let mut ratios = Vec::new();
        let mut targets = Vec::new();
        self.evaluate_real(&mut ratios, &mut targets);
        for subset in [None, Some("safetensors"), Some("gguf")] {
            if let (Some(m), Some(f)) = (
                self.find(Tool::Mir, subset, n),
                self.find(Tool::Floor, subset, n),
            ) {
                let r = m.median() / f.median();
                let cpu = m.cpu_total_median() / f.cpu_total_median();
                ratios.push((format!("mir / floor ({}), wall", m.subset_name()), r));
                ratios.push((format!("mir / floor ({}), CPU time", m.subset_name()), cpu));
                if subset.is_none() {
                    targets.push(Target {
                        what: format!("mir scan within {FLOOR_RATIO_TARGET}× of the floor"),
                        value: format!("{r:.2}× the floor's wall time ({cpu:.2}× its CPU time)"),
                        met: Some(r <= FLOOR_RATIO_TARGET),
                    });
                }
            }
        }
        if let Some(i) = self.find(Tool::MirIndex, None, n)
            && let Some(f) = self.find(Tool::Floor, None, n)
        {
            ratios.push(("mir-index / floor (all)".into(), i.median() / f.median()));
        }
        for (tool, subset, target, what) in [
            (
                Tool::PySafetensors,
                "safetensors",
                SAFETENSORS_PEER_TARGET,
                "safetensors.safe_open + keys + shapes",
            ),
            (Tool::PyGguf, "gguf", GGUF_PEER_TARGET, "gguf.GGUFReader"),
        ] {
            let (Some(p), Some(m)) = (
                self.find(tool, Some(subset), n),
                self.find(Tool::Mir, Some(subset), n),
            ) else {
                targets.push(Target {
                    what: format!("≥ {target}× {what}"),
                    value: "not measured (no Python)".into(),
                    met: None,
                });
                continue;
            };
            let wall = p.median() / m.median();
            let inner = p.inner_median().map(|s| s / m.median());
            ratios.push((format!("{} / mir ({subset}), wall", p.name()), wall));
            if let Some(i) = inner {
                ratios.push((format!("{} / mir ({subset}), peer loop only", p.name()), i));
            }
            let judged = inner.unwrap_or(wall);
            targets.push(Target {
                what: format!("≥ {target}× {what} on the same files"),
                value: format!("{judged:.1}× (peer loop only; {wall:.1}× with Python start-up)"),
                met: Some(judged >= target),
            });
        }
        let (Some(mb), Some(ms)) = (
            self.find(Tool::Mir, None, n),
            self.find(Tool::Mir, None, self.small.n),
        ) else {
            self.ratios = ratios;
            self.targets = targets;
            return;
        };
        // Peak RSS at 10,000 files: measured by the `--rss-files` run (or at N when N is that
        // large), else extrapolated linearly from the two library sizes.
        let (f1, r1) = (ms.files as f64, ms.max_rss_mb());
        let (f2, r2) = (mb.files as f64, mb.max_rss_mb());
        let slope = if f2 > f1 { (r2 - r1) / (f2 - f1) } else { 0.0 };
        let at_target = r2 + slope * (RSS_TARGET_FILES - f2);
        let measured = self
            .rss_run
            .filter(|c| c.files as f64 >= RSS_TARGET_FILES)
            .map(|c| (c.files as f64, c.max_rss_mb(), c.median()))
            .or((f2 >= RSS_TARGET_FILES).then_some((f2, r2, mb.median())));
        targets.push(Target {
            what: format!("peak RSS under {RSS_TARGET_MB} MB for 10,000 files"),
            value: match measured {
                Some((files, rss, wall)) => format!(
                    "{rss:.1} MB at {files} files (measured: one `mir scan --json` of a \
                     {files}-file synthetic library, {wall:.1} s)"
                ),
                None => format!(
                    "{at_target:.1} MB at 10,000 files (extrapolated from {r1:.1} MB at {f1} \
                     and {r2:.1} MB at {f2} files)"
                ),
            },
            met: Some(match measured {
                Some((_, rss, _)) => rss < RSS_TARGET_MB,
                None => at_target.max(r2) < RSS_TARGET_MB,
            }),
        });
        // Judged on CPU time per file, which machine load does not inflate; wall shown too.
        let per_big = mb.cpu_total_median() / f2 * 1e6;
        let per_small = ms.cpu_total_median() / f1 * 1e6;
        let growth = per_big / per_small;
        let wall_growth = (mb.median() / f2) / (ms.median() / f1);
        ratios.push(("mir CPU µs/file at N ÷ at N/4".into(), growth));
        ratios.push(("mir wall µs/file at N ÷ at N/4".into(), wall_growth));
        targets.push(Target {
            what: "cost linear in the number of files".into(),
            value: format!(
                "{per_small:.1} CPU µs/file at {f1} files, {per_big:.1} at {f2} files \
                 ({growth:.2}×; wall {wall_growth:.2}×)"
            ),
            met: Some(growth <= LINEARITY_TOLERANCE),
        });
        if let (Some(fb), Some(fs)) = (
            self.find(Tool::Floor, None, n),
            self.find(Tool::Floor, None, self.small.n),
        ) {
            ratios.push((
                "floor µs/file at N ÷ at N/4".into(),
                (fb.median() / f2) / (fs.median() / f1),
            ));
        }
        self.ratios = ratios;
        self.targets = targets;
    }

    fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# mir bench report\n");
        let _ = writeln!(
            s,
            "{} rounds, interleaved (each round runs every contender once, order rotated by one \
             per round), after one untimed warm-up run each; the Python peers run in the first {} \
             round(s) only, without warm-up. Warm page cache. Machine: {} (load average at the \
             end: {}).\n",
            self.o.rounds,
            self.o.peer_rounds,
            machine(),
            load_average()
        );
        let _ = writeln!(s, "## Library\n");
        for lib in [self.big, self.small] {
            let _ = writeln!(
                s,
                "- `{}`: {} weight files ({} safetensors, {} GGUF) + {} shard indexes; {:.1} MB \
                 on disk, {:.1} GB apparent (sparse); {}",
                lib.dir.display(),
                lib.files(None),
                lib.files(Some("safetensors")),
                lib.files(Some("gguf")),
                lib.entries.len() - lib.files(None),
                lib.disk_bytes as f64 / 1e6,
                lib.apparent_bytes as f64 / 1e9,
                match lib.generated_secs {
                    Some(t) => format!("generated in {t:.1} s"),
                    None => "reused".into(),
                }
            );
        }
        let mix: Vec<String> = library::MIX
            .iter()
            .map(|(k, pm)| format!("{} {:.1}%", k.as_str(), *pm as f64 / 10.0))
            .collect();
        let _ = writeln!(s, "- mix: {}", mix.join(", "));
        let header_bytes: u64 = self.big.entries.iter().map(|e| e.header_bytes).sum();
        let _ = writeln!(
            s,
            "- header bytes a reader must read at N={}: {:.1} MB",
            self.big.n,
            header_bytes as f64 / 1e6
        );
        let _ = writeln!(
            s,
            "- `mir scan` check: {} records ({}), {} errors\n",
            self.sanity.records,
            self.sanity
                .by_format
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            self.sanity.errors.len()
        );
        let _ = writeln!(s, "## Timings\n");
        let _ = writeln!(
            s,
            "| contender | subset | N | files | median s | min s | files/s | × floor | user s | sys s | peak RSS MB |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
        for c in self.cs {
            let floor = self.find(Tool::Floor, c.subset, c.n);
            let (user, sys) = c.cpu_median();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.3} | {:.3} | {:.0} | {} | {:.3} | {:.3} | {:.1} |",
                c.name(),
                c.subset_name(),
                c.n,
                c.files,
                c.median(),
                c.min(),
                c.files as f64 / c.median(),
                floor.map_or("–".into(), |f| format!("{:.2}", c.median() / f.median())),
                user,
                sys,
                c.max_rss_mb()
            );
        }
        let peers: Vec<&Contender> = self
            .cs
            .iter()
            .filter(|c| c.inner_median().is_some())
            .collect();
        if !peers.is_empty() {
            let _ = writeln!(
                s,
                "\nPython peers' own loop time (start-up and imports excluded):"
            );
            for p in peers {
                let _ = writeln!(
                    s,
                    "- {} {}: {:.3} s median ({:.1} files/s)",
                    p.name(),
                    p.subset_name(),
                    p.inner_median().unwrap_or(f64::NAN),
                    p.files as f64 / p.inner_median().unwrap_or(f64::NAN)
                );
            }
        }
        let _ = writeln!(s, "\n- warm index: {}", self.index_note);
        let _ = writeln!(s, "- Python peers: {}", self.python_note);
        let _ = writeln!(s, "\n## Ratios (medians)\n");
        for (k, v) in &self.ratios {
            let _ = writeln!(s, "- {k}: {v:.2}");
        }
        let _ = writeln!(s, "\n## Targets\n");
        for t in &self.targets {
            let mark = match t.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "n/a",
            };
            let _ = writeln!(s, "- **{mark}**: {}: {}", t.what, t.value);
        }
        if let Some(p) = &self.profile {
            let _ = writeln!(
                s,
                "\n## Where the time goes ({}, `mir scan` on {})\n\n`{}`\n\n```text\n{}\n```",
                p.tool,
                p.subset,
                p.command,
                p.top.join("\n")
            );
        }
        s
    }

    fn json(&self) -> Value {
        let lib = |l: &Lib| {
            json!({
                "dir": l.dir,
                "n": l.n,
                "files": l.files(None),
                "safetensors_files": l.files(Some("safetensors")),
                "gguf_files": l.files(Some("gguf")),
                "entries": l.entries.len(),
                "disk_bytes": l.disk_bytes,
                "apparent_bytes": l.apparent_bytes,
                "generated_secs": l.generated_secs,
            })
        };
        json!({
            "machine": machine(),
            "load_average": load_average(),
            "rounds": self.o.rounds,
            "peer_rounds": self.o.peer_rounds,
            "library": lib(self.big),
            "small_library": lib(self.small),
            "mix_per_mille": library::MIX.iter().map(|(k, pm)| (k.as_str().to_owned(), json!(pm))).collect::<serde_json::Map<_, _>>(),
            "mir_check": {
                "records": self.sanity.records,
                "errors": self.sanity.errors,
                "by_format": self.sanity.by_format,
            },
            "contenders": self.cs.iter().map(|c| {
                let (user, sys) = c.cpu_median();
                json!({
                    "name": c.name(),
                    "subset": c.subset_name(),
                    "n": c.n,
                    "files": c.files,
                    "command": std::iter::once(c.program.to_string_lossy().into_owned())
                        .chain(c.args.iter().map(|a| a.to_string_lossy().into_owned()))
                        .collect::<Vec<_>>(),
                    "wall_secs": c.walls(),
                    "median_secs": c.median(),
                    "min_secs": c.min(),
                    "files_per_sec": c.files as f64 / c.median(),
                    "user_secs_median": user,
                    "sys_secs_median": sys,
                    "peak_rss_mb": c.max_rss_mb(),
                    "peer_loop_secs_median": c.inner_median(),
                    "warmup_secs": c.warmup.as_ref().map(|r| r.wall.as_secs_f64()),
                })
            }).collect::<Vec<_>>(),
            "ratios": self.ratios.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "targets": self.targets.iter().map(|t| json!({"target": t.what, "value": t.value, "met": t.met})).collect::<Vec<_>>(),
            "index": self.index_note,
            "python": self.python_note,
            "header_path": self.header_path,
            "real_library": self.real.map(lib),
            "profile": self.profile.as_ref().map(|p| json!({"tool": p.tool, "command": p.command, "subset": p.subset, "top": p.top})),
        })
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, Linux {kernel}")
}

/// Profiles `mir scan` on the subset of the most telling missed target, in the N/4 library
/// (DWARF call graphs are large): `perf record` when perf works, else callgrind on a small part
/// of the subset. Returns the top functions by self time, then by inclusive time.
fn profile(mir: &Path, lib: &Lib, report: &Report<'_>, out: &Path) -> Option<Profile> {
    let missed: Vec<&str> = report
        .targets
        .iter()
        .filter(|t| t.met == Some(false))
        .map(|t| t.what.as_str())
        .collect();
    // The real-layout library has only safetensors; in the synthetic one, the floor ratio
    // concerns the whole library, otherwise the missed peer's subset is profiled.
    let subset = if lib.real {
        Some("safetensors")
    } else if missed.iter().any(|t| t.contains("floor")) {
        None
    } else if missed.iter().any(|t| t.contains("GGUFReader")) {
        Some("gguf")
    } else if missed.iter().any(|t| t.contains("safe_open")) {
        Some("safetensors")
    } else {
        None
    };
    let roots = lib.roots(subset);
    let data = out.join("perf.data");
    let mut record = Command::new("perf");
    record
        .args(["record", "-F", "499", "--call-graph", "dwarf,16384", "-o"])
        .arg(&data)
        .arg("--")
        .arg(mir)
        // The timed `mir` contender's flags: no index (a default index would profile its
        // preload instead of the scan).
        .args(["scan", "--json", "--quiet", "--no-index"])
        .args(&roots)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let command = format!(
        "perf record -F 499 --call-graph dwarf -- mir scan --json --quiet --no-index {}",
        roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    if record
        .status()
        .is_ok_and(|s| s.success() || s.code() == Some(1))
    {
        let report = |children: bool, limit: &str| {
            capture(
                Command::new("perf")
                    .args(["report", "--stdio", "--sort", "symbol", "-g", "none"])
                    .arg(if children {
                        "--children"
                    } else {
                        "--no-children"
                    })
                    .args(["--percent-limit", limit, "-i"])
                    .arg(&data),
            )
            .unwrap_or_default()
        };
        let clean = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut top = vec!["self time:".to_owned()];
        top.extend(
            report(false, "1")
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .take(20)
                .map(clean),
        );
        top.push("inclusive time (mir, hashing, JSON and allocator frames):".to_owned());
        top.extend(
            report(true, "2")
                .lines()
                .filter(|l| {
                    [
                        "mir_",
                        "sha2",
                        "blake3",
                        "serde_json",
                        "xxh",
                        "malloc",
                        "free",
                        "memmove",
                        "page_fault",
                        "pread",
                    ]
                    .iter()
                    .any(|k| l.contains(k))
                })
                .filter(|l| !l.contains("(inlined)"))
                .take(25)
                .map(clean),
        );
        return Some(Profile {
            tool: "perf record (DWARF call graphs)".into(),
            command,
            subset: if lib.real {
                format!("the real-layout library ({} files)", lib.n)
            } else {
                format!("{} of the N={} library", subset.unwrap_or("all"), lib.n)
            },
            top,
        });
    }
    // Fallback: callgrind on the first 200 files of the subset.
    let callgrind_out = out.join("callgrind.out");
    let sample: Vec<PathBuf> = lib
        .entries
        .iter()
        .filter(|e| e.kind != Kind::ShardIndex)
        .filter(|e| subset.is_none_or(|s| e.rel.starts_with(s)))
        .take(200)
        .map(|e| lib.dir.join(&e.rel))
        .collect();
    let ok = Command::new("valgrind")
        .args(["--tool=callgrind"])
        .arg(format!("--callgrind-out-file={}", callgrind_out.display()))
        .arg(mir)
        .args(["scan", "--json", "--quiet", "--no-index", "--threads", "1"])
        .args(&sample)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        return None;
    }
    let text = capture(Command::new("callgrind_annotate").arg(&callgrind_out)).ok()?;
    Some(Profile {
        tool: "callgrind, instructions".into(),
        command: "valgrind --tool=callgrind mir scan --threads 1 (200 files)".into(),
        subset: format!("{} of the N={} library", subset.unwrap_or("all"), lib.n),
        top: text.lines().skip(15).take(25).map(str::to_owned).collect(),
    })
}
