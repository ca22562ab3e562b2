//! `mir scan`: walk, read, identify, print.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};
use mir_scan::{Progress, Record, ScanOptions, Scanner};

use crate::cli::ScanArgs;
use crate::output::{human_size, json_line};

pub(crate) fn run(args: ScanArgs) -> anyhow::Result<u8> {
    let options = ScanOptions {
        threads: args.threads,
        hashes: match &args.hash {
            Some(list) => crate::hash_list(list)?,
            None => Vec::new(),
        },
        hash_options: crate::hash_options(&args.hashing),
        ..ScanOptions::default()
    };
    let (registry, _plugins) = crate::plugins::registry(&args.plugins, args.quiet)?;
    let identifier = crate::identifier(args.mir_db.as_deref())?;
    let version = mir_scan::record_version(&registry, &identifier);
    let index = crate::open_index(&args.index, version, args.quiet)?;
    let mut scanner = Scanner::with_parts(options, registry, identifier);
    if let Some(index) = index {
        scanner = scanner.with_index(index);
    }
    let bar = progress_bar(args.quiet);
    let on_progress = |p: Progress| {
        if let Some(bar) = &bar {
            match p {
                Progress::Found { files } => bar.set_length(files as u64),
                Progress::FileDone => bar.inc(1),
            }
        }
    };
    let out = scanner.scan(&args.paths, &on_progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }

    for e in &out.index_errors {
        eprintln!("mir: warning: {e}");
    }
    for e in &out.walk_errors {
        let path = e
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if e.is_loop {
            if !args.quiet {
                eprintln!("mir: warning: symlink loop not followed: {path}");
            }
        } else {
            eprintln!("mir: {path}: {}", e.message);
        }
    }

    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    if args.json && args.models {
        for m in &out.models {
            json_line(&mut w, m)?;
        }
    } else if args.json {
        for r in &out.records {
            json_line(&mut w, r)?;
        }
        // The table shows errors inline; with JSON on stdout, people still see them on stderr.
        if !args.quiet {
            w.flush()?;
            for r in out.records.iter().filter(|r| r.error.is_some()) {
                eprintln!(
                    "mir: {}: {}",
                    r.path,
                    r.error.as_deref().unwrap_or_default()
                );
            }
        }
    } else {
        print_table(&mut w, &out.records)?;
    }
    w.flush()?;

    let s = &out.summary;
    if !args.quiet {
        eprintln!(
            "mir: {} file{}: {} identified, {} unrecognised, {} error{}",
            s.files,
            if s.files == 1 { "" } else { "s" },
            s.identified,
            s.unrecognised,
            s.errors,
            if s.errors == 1 { "" } else { "s" },
        );
    }
    Ok(u8::try_from(s.exit_code()).unwrap_or(2))
}

fn progress_bar(quiet: bool) -> Option<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {pos}/{len} files [{elapsed_precise}] {wide_bar} {per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    Some(bar)
}

/// One line per file: ID (or what went wrong), format, tensors, size, path.
fn print_table<W: Write>(w: &mut W, records: &[Record]) -> anyhow::Result<()> {
    let label = |r: &Record| -> String {
        if let Some(e) = &r.error {
            format!("error: {e}")
        } else if let Some(m) = &r.mir {
            m.clone()
        } else if r.format.is_none() {
            "(unrecognised format)".to_owned()
        } else if !r.candidates.is_empty() {
            format!("(one of {})", r.candidates.join(", "))
        } else {
            "(no MIR ID)".to_owned()
        }
    };
    let labels: Vec<String> = records.iter().map(label).collect();
    let width = labels
        .iter()
        .filter(|l| !l.starts_with("error:"))
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(12, 60);
    for (r, l) in records.iter().zip(&labels) {
        if l.starts_with("error:") {
            writeln!(w, "{}  {l}", r.path)?;
            // A payload found before the error that stopped the parser.
            for f in r.findings.iter().filter(|f| !is_informational(f)) {
                writeln!(w, "  ! {f}")?;
            }
            continue;
        }
        let tensors = r
            .tensors
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into());
        writeln!(
            w,
            "{l:<width$}  {:<11}  {tensors:>6}  {:>9}  {}",
            r.format.as_deref().unwrap_or("-"),
            human_size(r.size),
            r.path
        )?;
        for c in &r.components {
            writeln!(w, "  + {} under {}", c.mir, c.prefix)?;
        }
        for f in r.findings.iter().filter(|f| !is_informational(f)) {
            writeln!(w, "  ! {f}")?;
        }
    }
    Ok(())
}

/// Informational findings carry no severity prefix in records (see `Record::findings`).
fn is_informational(finding: &str) -> bool {
    !(finding.starts_with("unsafe:") || finding.starts_with("suspicious:"))
}
