//! `mir`: fingerprint and identify AI model weight files.
//!
//! `main` parses arguments and dispatches; each subcommand lives in its own module.

mod cli;
mod dupes;
mod hash;
mod ids;
mod inspect;
mod output;
mod plugins;
mod report;
mod scan;

// Header parsing allocates and frees many small and a few large buffers per file; glibc's malloc
// returns the large ones to the kernel and faults them back in for the next file (measured: 20-40%
// of a scan's wall time in page faults and brk). mimalloc keeps them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;

fn main() -> ExitCode {
    let args = match cli::Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // Help and --version go to stdout and exit 0; a usage error gets its own code.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                output::EXIT_USAGE
            } else {
                output::EXIT_OK
            });
        }
    };
    let result = match args.command {
        cli::Command::Scan(a) => scan::run(a),
        cli::Command::Inspect(a) => inspect::run(a),
        cli::Command::Plugins(a) => plugins::run(a),
        cli::Command::Hash(a) => hash::run(a),
        cli::Command::Dupes(a) => dupes::run(a),
        cli::Command::Ids(a) => ids::run(a),
        cli::Command::Report(a) => report::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mir: {}", output::error_chain(&e));
            ExitCode::from(output::EXIT_USAGE)
        }
    }
}

/// The MIR database `mir` carries: the July 2025 database published by the MIR project,
/// unmodified, LGPL-3.0 (see `crates/mir-cli/data/README.md`). Embedded so the installed binary
/// needs no data files; `--mir-db PATH` replaces it and `--no-mir-db` turns it off.
pub(crate) const BUNDLED_DB: &[u8] = include_bytes!("../data/mir-2025-07.json");

/// The built-in classifier with the database the options ask for: `--mir-db PATH`, none with
/// `--no-mir-db`, else the bundled one.
pub(crate) fn identifier(db: &cli::DatabaseOptions) -> anyhow::Result<mir_scan::Identifier> {
    if db.no_mir_db {
        return Ok(mir_scan::Identifier::builtin_in_background(None));
    }
    Ok(match &db.mir_db {
        Some(path) => {
            // A user's database is loaded before anything else, so a bad one is an error at once.
            let id = mir_scan::Identifier::builtin()
                .context("the built-in classification rules are invalid")?;
            let db = mir_classify::MirDatabase::load(path)
                .with_context(|| format!("cannot load the MIR database {}", path.display()))?;
            let meta = std::fs::metadata(path).ok();
            let identity = format!(
                "{}|{}|{:?}",
                path.display(),
                meta.as_ref().map_or(0, |m| m.len()),
                meta.and_then(|m| m.modified().ok())
            );
            id.with_database(db, &identity)
        }
        None => {
            // The content itself is the identity (`with_database` hashes it): a new bundled
            // database invalidates the index's records. The rules and the bundled database
            // (both checked by tests) are decoded on a thread while the scan starts.
            let identity = format!("bundled|{}", String::from_utf8_lossy(BUNDLED_DB));
            mir_scan::Identifier::builtin_in_background(Some((BUNDLED_DB, &identity)))
        }
    })
}

/// [`open_index`], or an index in memory for this run when the options leave none: duplicate
/// finding (`mir dupes`, `mir report`) needs somewhere to keep sizes, signatures and hashes.
pub(crate) fn open_index_or_in_memory(
    opts: &cli::IndexOptions,
    record_version: u32,
    quiet: bool,
) -> anyhow::Result<mir_scan::Index> {
    Ok(match open_index(opts, record_version, quiet)? {
        Some(i) => i,
        None => mir_scan::Index::open_in_memory(record_version)?,
    })
}

/// Opens the index the options ask for: `None` with `--no-index`; an explicit `--index` that
/// cannot be opened is an error, the default one only a warning (the command goes on without).
pub(crate) fn open_index(
    opts: &cli::IndexOptions,
    record_version: u32,
    quiet: bool,
) -> anyhow::Result<Option<mir_scan::Index>> {
    if opts.no_index {
        return Ok(None);
    }
    match &opts.index {
        Some(path) => mir_scan::Index::open(path, record_version)
            .map(Some)
            .with_context(|| format!("cannot open the index {}", path.display())),
        None => match mir_scan::Index::open_default(record_version) {
            Ok(i) => Ok(Some(i)),
            Err(e) => {
                if !quiet {
                    eprintln!(
                        "mir: warning: working without the index: {}",
                        output::term(&e.to_string())
                    );
                }
                Ok(None)
            }
        },
    }
}

/// Hashing options from the command line.
pub(crate) fn hash_options(opts: &cli::HashingOptions) -> mir_scan::HashOptions {
    let mut o = mir_scan::HashOptions::default();
    if let Some(n) = opts.hash_threads {
        o.threads = n.max(1);
    }
    o
}

/// Parses a `--hash`/`--algo` list.
pub(crate) fn hash_list(text: &str) -> anyhow::Result<Vec<mir_scan::HashAlgo>> {
    mir_scan::HashAlgo::parse_list(text).map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled database is decoded on a background thread, where a failure could not be
    /// reported: it must decode (and hold entries) here.
    #[test]
    fn the_bundled_database_decodes() {
        let db = mir_classify::MirDatabase::from_json(BUNDLED_DB).expect("bundled database");
        assert!(db.len() >= 80, "{} hashes", db.len());
    }
}
