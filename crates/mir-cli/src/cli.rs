//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Fingerprint and identify AI model weight files (safetensors, GGUF, PyTorch checkpoints) with
/// MIR IDs such as `mir:model.unet.stable-diffusion-xl`.
///
/// Only headers are read; tensor data is never loaded and nothing in a file is executed.
#[derive(Debug, Parser)]
#[command(
    name = "mir",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "Exit status: 0 success; 1 some file read but not recognised; 2 some file or \
                  folder could not be read (reported, the command went on); 3 usage or fatal error \
                  (bad arguments, --index, --mir-db, --hash/--algo, --plugin); 4 `scan --fail-on` \
                  found such a finding."
)]
pub(crate) struct Args {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Scan folders (or files) and report every weight file: format, MIR ID, fingerprints.
    ///
    /// Exit status: 0 when every file was read and identified, 1 when some were not recognised,
    /// 2 when some could not be read (each such file is reported and the scan goes on), 3 for a
    /// usage or fatal error (bad arguments, --index, --mir-db, --hash), 4 with --fail-on when a
    /// file has such a finding.
    Scan(ScanArgs),
    /// Show one file's header: format, tensors, dtype profile, metadata and fingerprints.
    Inspect(InspectArgs),
    /// Hash files in one pass: SHA-256 (= AutoV2's source and MIR's file_256), AutoV1, AutoV3,
    /// BLAKE3, CRC32. Hashes are remembered in the index, keyed by the file's identity.
    ///
    /// With only `--algo sha256` the output is `sha256sum`'s format.
    Hash(HashArgs),
    /// Find duplicate models: files with identical content, and the same weights in another
    /// precision or container (same tensor names and shapes), with the space each group wastes.
    ///
    /// Scans the paths (reusing the index), then hashes only the files whose size collides with
    /// another's.
    Dupes(DupesArgs),
    /// Write one self-contained HTML page about a library: totals by family, kind, base and
    /// precision, disk space per family, proven duplicates and the space they waste, files `mir`
    /// did not identify (with the evidence), files in a folder meant for another kind (a LoRA
    /// under `checkpoints/`), previews, and a sortable, filterable table of every file.
    ///
    /// Scans the paths through the index as `mir scan` does (and finds duplicates as `mir dupes`
    /// does), or reads `mir scan --json` records with --from. The page needs no network and no
    /// other file.
    Report(ReportArgs),
    /// List every MIR ID the built-in rules can emit, with the rule, the evidence that decides it
    /// (layout keys and shapes, metadata, file-name tokens) and the family's prediction type.
    Ids(IdsArgs),
    /// List the format plugins that would be loaded, and why any was refused.
    ///
    /// Plugins come from `--plugin PATH`, the folders in `MIR_PLUGIN_PATH` (`:`-separated), and
    /// the per-user folder `~/.config/mir/plugins`. Loading a plugin runs its code: load only
    /// libraries you trust as much as `mir` itself.
    Plugins(PluginArgs),
}

/// `mir ids` options.
#[derive(Debug, clap::Args)]
pub(crate) struct IdsArgs {
    /// One JSON object per rule (`mir`, `rule`, `role`, `fallback`, `candidates`, `prediction`,
    /// `groups`, `evidence`).
    #[arg(long, conflicts_with = "markdown")]
    pub(crate) json: bool,
    /// The Markdown table committed as docs/ids.md.
    #[arg(long)]
    pub(crate) markdown: bool,
}

/// Options that pick format plugins, shared by the commands that read files.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PluginOptions {
    /// Load a format plugin (a shared library built against mir-plugin-abi). Repeatable. A plugin
    /// given here that cannot be loaded is an error.
    #[arg(long = "plugin", value_name = "PATH")]
    pub(crate) plugins: Vec<PathBuf>,
    /// Load no plugins from MIR_PLUGIN_PATH or the config folder (explicit --plugin still loads).
    #[arg(long)]
    pub(crate) no_plugin_dirs: bool,
}

/// Which MIR database names files by their exact hashes.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct DatabaseOptions {
    /// A published MIR database (mir.json, e.g. the later nnll one) instead of the bundled July
    /// 2025 database: exact file_256/layer_256/layer_b3 matches name the series and compat (e.g.
    /// a finetune) and add a `database` object (repo, pkg) to the record. file_256 matches need
    /// --hash sha256.
    #[arg(long, value_name = "PATH", conflicts_with = "no_mir_db")]
    pub(crate) mir_db: Option<PathBuf>,
    /// Use no MIR database at all (not even the bundled one).
    #[arg(long)]
    pub(crate) no_mir_db: bool,
}

/// Finding severities `--fail-on` can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FailOn {
    /// A pickle global that runs code when loaded (os.system, eval, …).
    Unsafe,
    /// Unsafe, or a global outside torch's weights-only allowlist.
    Suspicious,
}

/// Where results are remembered between runs.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct IndexOptions {
    /// The index file (SQLite). Default: $MIR_INDEX, else the platform cache folder
    /// (~/.cache/mir/index.sqlite3 on Linux). An unchanged file (same device, inode, size and
    /// mtime) is not read again.
    #[arg(long, value_name = "PATH", conflicts_with = "no_index")]
    pub(crate) index: Option<PathBuf>,
    /// Do not read or write the index: read every file.
    #[arg(long)]
    pub(crate) no_index: bool,
}

/// How whole files are hashed.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct HashingOptions {
    /// Hashing threads per file (default: cores, at most 4; at most 16, and 0 means 1). Use 1
    /// on spinning disks, together with --threads 1, so reads stay sequential.
    #[arg(long, value_name = "N", value_parser = thread_count(MAX_HASH_THREADS))]
    pub(crate) hash_threads: Option<usize>,
}

/// Most hashing threads per file: there are at most four expensive hashers to spread, so more
/// threads than that have nothing to do.
pub(crate) const MAX_HASH_THREADS: usize = 16;

/// A thread count from 0 to `max`; anything larger (up to `u64::MAX`, which once made the walker
/// panic) is a usage error naming the range.
fn thread_count(max: usize) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(0..=max as u64)
}

#[derive(Debug, clap::Args)]
pub(crate) struct HashArgs {
    /// Files to hash.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) paths: Vec<PathBuf>,
    /// Hashes to compute, comma-separated: sha256, autov1, autov2, autov3, blake3, crc32,
    /// file_256, or all.
    #[arg(long, default_value = "all", value_name = "LIST")]
    pub(crate) algo: String,
    /// Print JSON Lines: {"path", "size", "hashes", "error"} per file.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) index: IndexOptions,
    #[command(flatten)]
    pub(crate) hashing: HashingOptions,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DupesArgs {
    /// Folders or files to look in.
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
    /// Worker threads (0 = one per core; at most 64: more only adds contention).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = thread_count(mir_scan::MAX_THREADS))]
    pub(crate) threads: usize,
    /// No progress bar on stderr.
    #[arg(long, short)]
    pub(crate) quiet: bool,
    #[command(flatten)]
    pub(crate) index: IndexOptions,
    #[command(flatten)]
    pub(crate) hashing: HashingOptions,
    #[command(flatten)]
    pub(crate) plugins: PluginOptions,
}

#[derive(Debug, clap::Args)]
pub(crate) struct PluginArgs {
    #[command(flatten)]
    pub(crate) plugins: PluginOptions,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ScanArgs {
    /// Folders or files to scan. Symlinks are followed only inside these roots (see
    /// --follow-symlinks).
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,
    /// Print one JSON object per file (JSON Lines) instead of a table. Fields are documented in
    /// the README.
    #[arg(long)]
    pub(crate) json: bool,
    /// With --json: print one record per model (a file alone, a shard set, a diffusers folder,
    /// a Hugging Face cache snapshot) instead of one per file.
    #[arg(long, requires = "json")]
    pub(crate) models: bool,
    /// With --json: after the file records, also print walk problems and the summary as JSON
    /// lines of their own, told apart by a `kind` field (`walk_error`, `outside_symlink`,
    /// `unclaimed`, `summary`) that file records never have.
    #[arg(long, requires = "json")]
    pub(crate) json_summary: bool,
    /// Show the evidence under each file in the table (why it got its ID).
    #[arg(long, conflicts_with = "json")]
    pub(crate) explain: bool,
    /// Exit with status 4 when some file has a finding of this severity or worse (e.g. a pickle
    /// that would run a command when loaded), for CI pipelines that must refuse such files.
    #[arg(long, value_name = "LEVEL", value_enum)]
    pub(crate) fail_on: Option<FailOn>,
    /// Also follow symlinks whose target is outside the given roots (e.g. ComfyUI's
    /// `models/loras -> /mnt/…`). Without it they are reported and counted, not followed.
    #[arg(long)]
    pub(crate) follow_symlinks: bool,
    /// Worker threads (0 = one per core; at most 64: more only adds contention).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = thread_count(mir_scan::MAX_THREADS))]
    pub(crate) threads: usize,
    /// No progress bar and no summary line on stderr.
    #[arg(long, short)]
    pub(crate) quiet: bool,
    #[command(flatten)]
    pub(crate) db: DatabaseOptions,
    /// Also hash every file, comma-separated: sha256, autov1, autov2, autov3, blake3, crc32,
    /// file_256, or all. Reads every byte once for all of them; results are kept in the index.
    #[arg(long, value_name = "LIST")]
    pub(crate) hash: Option<String>,
    #[command(flatten)]
    pub(crate) hashing: HashingOptions,
    #[command(flatten)]
    pub(crate) index: IndexOptions,
    #[command(flatten)]
    pub(crate) plugins: PluginOptions,
}

#[derive(Debug, clap::Args)]
pub(crate) struct InspectArgs {
    /// The weight file to inspect.
    #[arg(value_name = "FILE")]
    pub(crate) path: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// How many tensors to list (in header order); 0 lists none.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub(crate) tensors: usize,
    /// List every tensor.
    #[arg(long, conflicts_with = "tensors")]
    pub(crate) all: bool,
    #[command(flatten)]
    pub(crate) db: DatabaseOptions,
    #[command(flatten)]
    pub(crate) plugins: PluginOptions,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReportArgs {
    /// Folders or files to scan (not with --from).
    #[arg(
        value_name = "PATH",
        required_unless_present = "from",
        conflicts_with = "from"
    )]
    pub(crate) paths: Vec<PathBuf>,
    /// The HTML file to write (`-` writes to stdout).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: PathBuf,
    /// Read the records from a JSON Lines file (`mir scan --json`, `-` for stdin) instead of
    /// scanning. Duplicates then come from the hashes the records carry (`--hash sha256`).
    #[arg(long, value_name = "FILE")]
    pub(crate) from: Option<PathBuf>,
    /// The page's title.
    #[arg(long, value_name = "TEXT")]
    pub(crate) title: Option<String>,
    /// Do not embed preview images (PNG, JPEG, WebP or GIF beside a file, at most 512 KiB each,
    /// 32 MiB in all).
    #[arg(long)]
    pub(crate) no_previews: bool,
    /// Also follow symlinks whose target is outside the given roots (as `mir scan`).
    #[arg(long)]
    pub(crate) follow_symlinks: bool,
    /// Worker threads (0 = one per core; at most 64: more only adds contention).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = thread_count(mir_scan::MAX_THREADS))]
    pub(crate) threads: usize,
    /// No progress bar and no summary line on stderr.
    #[arg(long, short)]
    pub(crate) quiet: bool,
    #[command(flatten)]
    pub(crate) db: DatabaseOptions,
    #[command(flatten)]
    pub(crate) index: IndexOptions,
    #[command(flatten)]
    pub(crate) hashing: HashingOptions,
    #[command(flatten)]
    pub(crate) plugins: PluginOptions,
}
