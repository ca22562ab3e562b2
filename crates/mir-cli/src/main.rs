//! `mir`: fingerprint and identify AI model weight files.
//!
//! `main` parses arguments and dispatches; each subcommand lives in its own module.

mod cli;
mod inspect;
mod output;
mod plugins;
mod scan;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let result = match args.command {
        cli::Command::Scan(a) => scan::run(a),
        cli::Command::Inspect(a) => inspect::run(a),
        cli::Command::Plugins(a) => plugins::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mir: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The built-in classifier, with the MIR database at `mir_db` when given.
pub(crate) fn identifier(mir_db: Option<&Path>) -> anyhow::Result<mir_scan::Identifier> {
    let id =
        mir_scan::Identifier::builtin().context("the built-in classification rules are invalid")?;
    Ok(match mir_db {
        Some(path) => {
            let db = mir_classify::MirDatabase::load(path)
                .with_context(|| format!("cannot load the MIR database {}", path.display()))?;
            id.with_database(db)
        }
        None => id,
    })
}
