//! `mir`: fingerprint and identify AI model weight files.
//!
//! `main` parses arguments and dispatches; each subcommand lives in its own module.

mod cli;
mod inspect;
mod output;
mod plugins;
mod scan;

use std::process::ExitCode;

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
