//! `mir report`: one self-contained HTML page about a library, from a scan of paths (through the
//! index, like `mir scan`, and `mir dupes`' duplicate finding) or from `mir scan --json` records.

use std::collections::HashMap;
use std::io::{BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mir_report::{DupeMethod, Duplicates, Page, Summary, preview};
use mir_scan::{Progress, ScanOptions, Scanner};

use crate::cli::ReportArgs;
use crate::output::{FileProgress, human_size, term, term_path};

pub(crate) fn run(args: ReportArgs) -> anyhow::Result<u8> {
    let (records, duplicates, source, mut notes) = match &args.from {
        Some(file) => from_records(file)?,
        None => from_scan(&args)?,
    };
    let summary = Summary::new(&records, duplicates);

    let (previews, preview_notes) = if args.no_previews {
        (Default::default(), Vec::new())
    } else {
        preview::load_all(
            summary.files.iter().filter_map(|f| f.preview.as_deref()),
            preview::PreviewLimits::default(),
        )
    };
    notes.extend(preview_notes);
    let page = Page {
        title: args.title.clone().unwrap_or_default(),
        source,
        generated: generated_at(),
        previews,
        notes,
    };
    let html = mir_report::render(&summary, &page);
    if args.output == Path::new("-") {
        let mut out = std::io::stdout().lock();
        out.write_all(html.as_bytes())?;
        out.flush()?;
    } else {
        std::fs::write(&args.output, html.as_bytes())
            .with_context(|| format!("cannot write {}", args.output.display()))?;
    }
    if !args.quiet {
        for n in &page.notes {
            eprintln!("mir: note: {}", term(n));
        }
        eprintln!(
            "mir: report {}: {} files, {}; {} not identified; {} misplaced; {} wasted in {} \
             duplicate group{}",
            if args.output == Path::new("-") {
                "written to stdout".to_owned()
            } else {
                format!("written to {}", term_path(&args.output))
            },
            summary.files.len(),
            human_size(summary.total_bytes),
            summary.abstained.len(),
            summary.misplaced.len(),
            human_size(summary.duplicates.wasted_bytes),
            summary.duplicates.identical.len(),
            if summary.duplicates.identical.len() == 1 {
                ""
            } else {
                "s"
            }
        );
    }
    Ok(crate::output::EXIT_OK)
}

type Loaded = (Vec<serde_json::Value>, Duplicates, String, Vec<String>);

/// Records from a JSON Lines file (`-` is stdin); duplicates from the hashes they carry.
fn from_records(file: &Path) -> anyhow::Result<Loaded> {
    let read = if file == Path::new("-") {
        mir_report::read_records(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(file)
            .with_context(|| format!("cannot open the records file {}", file.display()))?;
        mir_report::read_records(BufReader::new(f))
    }
    .with_context(|| format!("{}", file.display()))?;
    let notes = read
        .bad_lines
        .iter()
        .map(|l| format!("{}: {l}", file.display()))
        .collect();
    let duplicates = Duplicates::from_records(&read.records);
    let source = format!("{} records from {}", read.records.len(), file.display());
    Ok((read.records, duplicates, source, notes))
}

/// Scans the paths with the index (as `mir scan` does), then finds duplicates (as `mir dupes`
/// does: the scan's facts from the index, files whose sizes collide hashed).
fn from_scan(args: &ReportArgs) -> anyhow::Result<Loaded> {
    let (registry, _plugins) = crate::plugins::registry(&args.plugins, args.quiet)?;
    let identifier = crate::identifier(&args.db)?;
    let version = mir_scan::record_version(&registry, &identifier);
    let index = crate::open_index_or_in_memory(&args.index, version, args.quiet)?;
    let options = ScanOptions {
        threads: args.threads,
        hash_options: crate::hash_options(&args.hashing),
        follow_symlinks: args.follow_symlinks,
        ..ScanOptions::default()
    };
    let scanner = Scanner::with_parts(options, registry, identifier).with_index(index);
    let bar = FileProgress::new(args.quiet);
    let on_progress = |p: Progress| bar.update(p);
    let out = scanner.scan(&args.paths, &on_progress);
    bar.finish();
    let mut notes: Vec<String> = out.index_errors.clone();
    for e in out.walk_errors.iter().filter(|e| !e.is_loop) {
        let path = e
            .path
            .as_deref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        notes.push(format!("{path}: {}", e.message));
    }
    if !args.quiet && std::io::stderr().is_terminal() {
        eprintln!("mir: looking for duplicates (hashing files whose sizes collide)…");
    }
    // The files were just scanned into the index, so this second walk reads nothing again; it
    // hashes only the files whose sizes collide with another's.
    let (report, warnings) = scanner.dupes(&args.paths)?;
    notes.extend(warnings);
    let mut duplicates = Duplicates::from_report(&report, DupeMethod::Hashed);
    // `dupes` names files by absolute path; show them as the scan does (as given).
    let shown: HashMap<PathBuf, &str> = out
        .records
        .iter()
        .filter_map(|r| Some((std::path::absolute(&r.path).ok()?, r.path.as_str())))
        .collect();
    let as_shown = |p: &mut String| {
        if let Some(s) = shown.get(Path::new(p.as_str())) {
            *p = (*s).to_owned();
        }
    };
    for g in &mut duplicates.identical {
        g.paths.iter_mut().for_each(as_shown);
        g.paths.sort();
    }
    for g in &mut duplicates.same_shape {
        g.files.iter_mut().for_each(|f| as_shown(&mut f.0));
    }
    let records = out
        .records
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = args
        .paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let source = format!("scan of {}", names.join(", "));
    Ok((records, duplicates, source, notes))
}

/// The current time as `YYYY-MM-DD HH:MM UTC` (civil date from the Unix day count; written
/// here rather than adding a date crate for one line of the page).
fn generated_at() -> String {
    let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) else {
        return String::new();
    };
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}
