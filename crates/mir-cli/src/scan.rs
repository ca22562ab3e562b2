//! `mir scan`: walk, read, identify, print.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use std::ops::ControlFlow;
use std::sync::atomic::AtomicBool;

use mir_report::Status;
use mir_scan::{Emitted, ModelRecord, Progress, Record, ScanEnd, ScanOptions, Scanner};
use serde::Serialize;

use crate::cli::{FailOn, ScanArgs};
use crate::output::{self, FileProgress, file_message, human_size, json_line, term, term_path};

pub(crate) fn run(args: ScanArgs) -> anyhow::Result<u8> {
    let json_models = args.json && args.models;
    let options = ScanOptions {
        threads: args.threads,
        hashes: match &args.hash {
            Some(list) => crate::hash_list(list)?,
            None => Vec::new(),
        },
        hash_options: crate::hash_options(&args.hashing),
        follow_symlinks: args.follow_symlinks,
        // Only `--json --models` prints models: otherwise none is gathered.
        models: json_models,
        ..ScanOptions::default()
    };
    let (registry, _plugins) = crate::plugins::registry(&args.plugins, args.quiet)?;
    let extensions: Vec<String> = registry
        .formats()
        .flat_map(|f| f.extensions().iter().map(|e| format!(".{e}")))
        .collect();
    let identifier = crate::identifier(&args.db)?;
    let version = mir_scan::record_version(&registry, &identifier);
    let index = crate::open_index(&args.index, version, args.quiet)?;
    let mut scanner = Scanner::with_parts(options, registry, identifier);
    if let Some(index) = index {
        scanner = scanner.with_index(index);
    }
    // JSON lines flooding a terminal leave no room for a bar.
    let bar = FileProgress::new(args.quiet || (args.json && std::io::stdout().is_terminal()));
    let on_progress = |p: Progress| bar.update(p);

    // JSON records are written as the scan emits them (in path order), so a scan of a large
    // library holds one record at a time, not all of them; the table needs every record for its
    // column widths and is printed at the end.
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    let mut tally = Tally::default();
    let mut table: Vec<Record> = Vec::new();
    let mut json_errors: Vec<(String, String)> = Vec::new();
    let mut unclaimed = UnclaimedRoots::of(&args.paths);
    let mut write_error: Option<anyhow::Error> = None;
    let end = scanner.scan_with(
        &args.paths,
        &on_progress,
        &AtomicBool::new(false),
        &mut |emitted| {
            let written = match emitted {
                Emitted::File(report) => {
                    let r = Record::from_report(&report);
                    tally.add(&r);
                    unclaimed.claimed(&r.path);
                    if !args.json {
                        table.push(r);
                        Ok(())
                    } else if json_models {
                        Ok(())
                    } else {
                        if let Some(e) = &r.error {
                            json_errors.push((r.path.clone(), e.clone()));
                        }
                        json_line(&mut w, &r)
                    }
                }
                Emitted::Model(m) if json_models => {
                    json_line(&mut w, &ModelRecord::from_report(&m))
                }
                Emitted::Model(_) => Ok(()),
            };
            match written {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    write_error = Some(e);
                    ControlFlow::Break(())
                }
            }
        },
    );
    bar.finish();
    if let Some(e) = write_error {
        return Err(e);
    }
    let unclaimed = unclaimed.left();
    let summary = Summary::of(&tally, &end, &unclaimed, args.fail_on);

    for e in &end.index_errors {
        eprintln!("mir: warning: {}", term(e));
    }
    for e in &end.walk_errors {
        let path = e
            .path
            .as_deref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if e.is_loop {
            if !args.quiet {
                eprintln!("mir: warning: symlink loop not followed: {}", term(&path));
            }
        } else {
            eprintln!("mir: {}", file_message(&path, &e.message));
        }
    }
    if !args.quiet {
        for link in &end.outside_symlinks {
            eprintln!(
                "mir: warning: {}: symlink leaves the scanned folders, not followed (--follow-symlinks follows it)",
                term_path(link)
            );
        }
    }
    for path in &unclaimed {
        eprintln!(
            "mir: {}: no format claims this file (mir reads {})",
            term_path(path),
            extensions.join(", ")
        );
    }

    if args.json && !json_models {
        if args.json_summary {
            write_json_extras(&mut w, &end, &unclaimed, &summary)?;
        }
        // The table shows errors inline; with JSON on stdout, people still see them on stderr.
        if !args.quiet {
            w.flush()?;
            for (path, error) in &json_errors {
                eprintln!("mir: {}", file_message(path, error));
            }
        }
    } else if !args.json {
        print_table(&mut w, &table, args.explain)?;
    }
    w.flush()?;

    if !args.quiet {
        eprintln!("mir: {}", summary.line());
    }
    Ok(summary.exit_code)
}

/// The files named on the command line, until a record claims each (a format that reads a file
/// emits a record for it under the path as given).
struct UnclaimedRoots {
    /// The roots that are files, in command-line order.
    roots: Vec<PathBuf>,
    /// Each of them not yet claimed, by the record path it would be shown as (a hash lookup
    /// per record: a list of 10,000 files named one by one stays linear).
    unclaimed: std::collections::HashSet<String>,
}

impl UnclaimedRoots {
    fn of(roots: &[PathBuf]) -> UnclaimedRoots {
        let roots: Vec<PathBuf> = roots
            .iter()
            .filter(|root| std::fs::metadata(root).is_ok_and(|m| m.is_file()))
            .cloned()
            .collect();
        let unclaimed = roots
            .iter()
            .map(|r| r.to_string_lossy().into_owned())
            .collect();
        UnclaimedRoots { roots, unclaimed }
    }

    fn claimed(&mut self, shown: &str) {
        if !self.unclaimed.is_empty() {
            self.unclaimed.remove(shown);
        }
    }

    /// The roots no record claimed, in command-line order.
    fn left(self) -> Vec<PathBuf> {
        let unclaimed = self.unclaimed;
        self.roots
            .into_iter()
            .filter(|r| unclaimed.contains(r.to_string_lossy().as_ref()))
            .collect()
    }
}

/// How sure the table may look about a record: the rule `mir report` uses too.
fn status(r: &Record) -> Status {
    // Records carry confidence as f32, so it is compared with the threshold as f32: a two-way
    // tie's 0.6f32 widened to f64 sits just above 0.6 and would look identified.
    let unsure = r
        .confidence
        .is_some_and(|c| c <= mir_report::UNSURE_CONFIDENCE as f32);
    Status::decide(
        r.error.is_some(),
        r.format.is_some(),
        r.mir.as_deref(),
        r.candidates.len(),
        unsure,
    )
}

/// The records' counts by status and findings, kept while records stream out.
#[derive(Debug, Default)]
struct Tally {
    files: usize,
    identified: usize,
    ambiguous: usize,
    architecture_only: usize,
    unrecognised: usize,
    errors: usize,
    unsafe_files: usize,
    suspicious_files: usize,
}

impl Tally {
    fn add(&mut self, r: &Record) {
        self.files += 1;
        match status(r) {
            Status::Identified => self.identified += 1,
            Status::Ambiguous => self.ambiguous += 1,
            Status::ArchitectureOnly => self.architecture_only += 1,
            Status::Unrecognised => self.unrecognised += 1,
            Status::Error => self.errors += 1,
        }
        if r.findings.iter().any(|f| f.starts_with("unsafe:")) {
            self.unsafe_files += 1;
        } else if r.findings.iter().any(|f| f.starts_with("suspicious:")) {
            self.suspicious_files += 1;
        }
    }
}

/// The scan's counts, on stderr and (with `--json-summary`) as the last JSON line.
#[derive(Debug, Serialize)]
struct Summary {
    kind: &'static str,
    /// Files reported (one record each).
    files: usize,
    /// Identified with one ID and a confidence above 0.6.
    identified: usize,
    /// Several candidates, or a confidence of 0.6 or less.
    ambiguous: usize,
    /// Only the architecture is known (`mir:dev.*`, `*.unknown`).
    architecture_only: usize,
    /// Read but not identified, or no format recognised them.
    unrecognised: usize,
    /// Files that could not be read.
    errors: usize,
    /// Folders or entries the walk could not read (symlink loops not counted).
    walk_errors: usize,
    /// Files with an `unsafe:` finding.
    unsafe_files: usize,
    /// Files with a `suspicious:` finding (and none `unsafe:`).
    suspicious_files: usize,
    /// Symlinks leaving the roots that were not followed.
    outside_symlinks: usize,
    /// Files named on the command line that no format claims.
    unclaimed: usize,
    /// The exit status `mir scan` returns.
    exit_code: u8,
}

impl Summary {
    fn of(tally: &Tally, end: &ScanEnd, unclaimed: &[PathBuf], fail_on: Option<FailOn>) -> Summary {
        let mut s = Summary {
            kind: "summary",
            files: tally.files,
            identified: tally.identified,
            ambiguous: tally.ambiguous,
            architecture_only: tally.architecture_only,
            unrecognised: tally.unrecognised,
            errors: tally.errors,
            walk_errors: end.walk_errors.iter().filter(|e| !e.is_loop).count(),
            unsafe_files: tally.unsafe_files,
            suspicious_files: tally.suspicious_files,
            outside_symlinks: end.outside_symlinks.len(),
            unclaimed: unclaimed.len(),
            exit_code: 0,
        };
        let library = u8::try_from(end.summary.exit_code()).unwrap_or(output::EXIT_UNREADABLE);
        s.exit_code = if library == output::EXIT_OK && s.unclaimed > 0 {
            output::EXIT_UNRECOGNISED
        } else {
            library
        };
        let failing = match fail_on {
            None => 0,
            Some(FailOn::Unsafe) => s.unsafe_files,
            Some(FailOn::Suspicious) => s.unsafe_files + s.suspicious_files,
        };
        if failing > 0 {
            s.exit_code = output::EXIT_FINDINGS;
        }
        s
    }

    fn line(&self) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut parts = vec![format!("{} identified", self.identified)];
        if self.ambiguous > 0 {
            parts.push(format!("{} ambiguous", self.ambiguous));
        }
        if self.architecture_only > 0 {
            parts.push(format!("{} architecture only", self.architecture_only));
        }
        parts.push(format!("{} unrecognised", self.unrecognised));
        parts.push(plural(self.errors + self.walk_errors, "error", "errors"));
        if self.unsafe_files > 0 {
            parts.push(format!("{} with unsafe findings", self.unsafe_files));
        }
        if self.outside_symlinks > 0 {
            parts.push(plural(
                self.outside_symlinks,
                "symlink outside the roots not followed",
                "symlinks outside the roots not followed",
            ));
        }
        if self.unclaimed > 0 {
            parts.push(format!("{} not claimed by any format", self.unclaimed));
        }
        format!(
            "{}: {}",
            plural(self.files, "file", "files"),
            parts.join(", ")
        )
    }
}

/// A line of `--json-summary` output about a path (walk errors, symlinks, unclaimed files).
#[derive(Serialize)]
struct PathLine<'a> {
    kind: &'static str,
    path: String,
    path_bytes: Option<String>,
    message: &'a str,
    is_loop: bool,
}

impl<'a> PathLine<'a> {
    fn new(kind: &'static str, path: &Path, message: &'a str, is_loop: bool) -> Self {
        // The record's own lossless path encoding.
        let r = Record::for_path(path, 0);
        PathLine {
            kind,
            path: r.path,
            path_bytes: r.path_bytes,
            message,
            is_loop,
        }
    }
}

fn write_json_extras<W: Write>(
    w: &mut W,
    out: &ScanEnd,
    unclaimed: &[PathBuf],
    summary: &Summary,
) -> anyhow::Result<()> {
    for e in &out.walk_errors {
        let path = e.path.clone().unwrap_or_default();
        json_line(
            w,
            &PathLine::new("walk_error", &path, &e.message, e.is_loop),
        )?;
    }
    for link in &out.outside_symlinks {
        let line = PathLine::new(
            "outside_symlink",
            link,
            "symlink leaves the scanned folders, not followed",
            false,
        );
        json_line(w, &line)?;
    }
    for path in unclaimed {
        json_line(
            w,
            &PathLine::new("unclaimed", path, "no format claims this file", false),
        )?;
    }
    json_line(w, summary)
}

/// A header row, then one line per file: status, ID, format, tensors, size, path; below it,
/// indented, what the record says beyond that (candidates, errors, parts, findings, evidence).
fn print_table<W: Write>(w: &mut W, records: &[Record], explain: bool) -> anyhow::Result<()> {
    let ids: Vec<String> = records
        .iter()
        .map(|r| term(r.mir.as_deref().unwrap_or("-")).into_owned())
        .collect();
    let width = ids
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(6, 60);
    let formats: Vec<String> = records
        .iter()
        .map(|r| term(r.format.as_deref().unwrap_or("-")).into_owned())
        .collect();
    let fwidth = formats
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(6, 20);
    if records.is_empty() {
        return Ok(());
    }
    writeln!(
        w,
        "{:<9}  {:<width$}  {:<fwidth$}  {:>7}  {:>9}  PATH",
        "STATUS", "MIR ID", "FORMAT", "TENSORS", "SIZE"
    )?;
    for ((r, id), format) in records.iter().zip(&ids).zip(&formats) {
        let status = status(r);
        let tensors = r
            .tensors
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into());
        writeln!(
            w,
            "{:<9}  {id:<width$}  {format:<fwidth$}  {tensors:>7}  {:>9}  {}",
            status.word(),
            human_size(r.size),
            term(&r.path)
        )?;
        if let Some(e) = &r.error {
            writeln!(w, "  ! error: {}", term(e))?;
        }
        if status == Status::Ambiguous {
            let confidence = r
                .confidence
                .map(|c| format!(" (confidence {c:.2})"))
                .unwrap_or_default();
            if r.candidates.is_empty() {
                writeln!(w, "  ? not sure{confidence}")?;
            } else {
                writeln!(
                    w,
                    "  ? one of {}{confidence}",
                    term(&r.candidates.join(", "))
                )?;
            }
        }
        for c in &r.components {
            writeln!(w, "  + {} under {}", term(&c.mir), term(&c.prefix))?;
        }
        for f in r.findings.iter().filter(|f| !is_informational(f)) {
            writeln!(w, "  ! {}", term(f))?;
        }
        if explain {
            if let (Some(by), Some(c)) = (&r.decided_by, r.confidence) {
                writeln!(w, "  = decided by {} (confidence {c:.2})", term(by))?;
            }
            for e in &r.evidence {
                writeln!(w, "  = {}", term(e))?;
            }
        }
    }
    Ok(())
}

/// Informational findings carry no severity prefix in records (see `Record::findings`).
fn is_informational(finding: &str) -> bool {
    !(finding.starts_with("unsafe:") || finding.starts_with("suspicious:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(mir: Option<&str>, candidates: &[&str], confidence: Option<f32>) -> Record {
        Record {
            format: Some("safetensors".into()),
            mir: mir.map(str::to_owned),
            candidates: candidates.iter().map(|c| (*c).to_owned()).collect(),
            confidence,
            ..Record::default()
        }
    }

    #[test]
    fn unsure_and_architecture_only_records_do_not_look_identified() {
        let tie = rec(
            Some("mir:model.dit.flux-1-dev"),
            &[
                "mir:model.dit.flux-1-dev",
                "mir:model.dit.flux-1-kontext-dev",
            ],
            Some(0.6),
        );
        assert_eq!(status(&tie), Status::Ambiguous);
        let low = rec(Some("mir:model.vae.kl"), &[], Some(0.5));
        assert_eq!(status(&low), Status::Ambiguous);
        let arch = rec(Some("mir:dev.dit.unknown"), &[], Some(0.9));
        assert_eq!(status(&arch), Status::ArchitectureOnly);
        let sure = rec(Some("mir:model.unet.stable-diffusion-xl"), &[], Some(0.95));
        assert_eq!(status(&sure), Status::Identified);
        let none = rec(None, &[], None);
        assert_eq!(status(&none), Status::Unrecognised);
        let shared = rec(
            None,
            &["mir:model.vae.kl:a", "mir:model.vae.kl:b"],
            Some(0.5),
        );
        assert_eq!(status(&shared), Status::Ambiguous);
    }
}
