//! `mir hash`: whole-file hashes in one pass, remembered in the index.

use std::io::Write;

use mir_scan::{FileHashes, HashAlgo, ScanOptions, Scanner};
use serde::Serialize;

use crate::cli::HashArgs;
use crate::output::{file_message, json_line, term};

#[derive(Serialize)]
struct HashLine {
    /// The path as given (lossy UTF-8 when it is not UTF-8).
    path: String,
    /// The raw path bytes in base64 when the path is not UTF-8 (as `mir scan`'s `path_bytes`).
    path_bytes: Option<String>,
    size: Option<u64>,
    hashes: Option<FileHashes>,
    cached: bool,
    error: Option<String>,
}

pub(crate) fn run(args: HashArgs) -> anyhow::Result<u8> {
    let algos = crate::hash_list(&args.algo)?;
    let options = ScanOptions {
        hashes: algos.clone(),
        hash_options: crate::hash_options(&args.hashing),
        ..ScanOptions::default()
    };
    // Hash rows are keyed like a scan's, so a scan and `mir hash` share them.
    let registry = mir_scan::default_registry();
    let identifier = crate::identifier(&crate::cli::DatabaseOptions::default())?;
    let version = mir_scan::record_version(&registry, &identifier);
    let index = crate::open_index(&args.index, version, false)?;
    let mut scanner = Scanner::with_parts(options, registry, identifier);
    if let Some(index) = index {
        scanner = scanner.with_index(index);
    }

    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    let mut failed = false;
    for path in &args.paths {
        // The one analysis path, asked for hashes only.
        let report = scanner.hash_path(path, &algos);
        let (text, path_bytes) = mir_index::path_text(path);
        let line = HashLine {
            path: text,
            path_bytes,
            size: report.facts.as_ref().map(|f| f.size),
            hashes: report.hashes.clone(),
            cached: report.cached,
            error: report.error.as_ref().map(|e| {
                let m = e.message.as_str();
                m.strip_prefix("hashing: ").unwrap_or(m).to_owned()
            }),
        };
        failed |= line.error.is_some();
        if args.json {
            json_line(&mut w, &line)?;
        } else if let Some(e) = &line.error {
            w.flush()?;
            eprintln!("mir: {}", file_message(&line.path, e));
        } else if let Some(h) = &line.hashes {
            print_text(&mut w, &term(&line.path), h, &algos)?;
        }
    }
    w.flush()?;
    Ok(if failed { 2 } else { 0 })
}

fn print_text<W: Write>(
    w: &mut W,
    path: &str,
    h: &FileHashes,
    algos: &[HashAlgo],
) -> anyhow::Result<()> {
    if let [one] = algos {
        // `sha256sum` style for a single hash, so the output can be checked with it.
        writeln!(w, "{}  {path}", h.get(*one).unwrap_or("-"))?;
        return Ok(());
    }
    writeln!(w, "{path}")?;
    for a in algos {
        match (a, h.get(*a)) {
            (_, Some(v)) => writeln!(w, "  {:<9} {v}", a.as_str())?,
            (HashAlgo::AutoV3, None) => writeln!(
                w,
                "  {:<9} - ({})",
                a.as_str(),
                h.autov3_unavailable.as_deref().unwrap_or("not computed")
            )?,
            (_, None) => writeln!(w, "  {:<9} -", a.as_str())?,
        }
    }
    Ok(())
}
