//! `mir hash`: whole-file hashes in one pass, remembered in the index.

use std::io::Write;

use mir_index::{Entry, FileKey};
use mir_scan::{FileHashes, HashAlgo};
use serde::Serialize;

use crate::cli::HashArgs;
use crate::output::json_line;

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
    let options = crate::hash_options(&args.hashing);
    // Hash rows carry no scan record; any record version works, so use the scanner's.
    let identifier = crate::identifier(None)?;
    let version = mir_scan::record_version(&mir_scan::default_registry(), &identifier);
    let mut index = crate::open_index(&args.index, version, false)?;

    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    let mut failed = false;
    for path in &args.paths {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        let (text, path_bytes) = mir_index::path_text(path);
        let mut line = HashLine {
            path: text,
            path_bytes,
            size: None,
            hashes: None,
            cached: false,
            error: None,
        };
        let meta = std::fs::metadata(path);
        let key = meta.as_ref().ok().map(FileKey::from_metadata);
        line.size = meta.as_ref().ok().map(|m| m.len());
        let cached = match (&index, key) {
            (Some(i), Some(k)) => i.cached_hashes(&abs, &k).ok().flatten(),
            _ => None,
        }
        .filter(|h| h.covers(&algos));
        if let Some(h) = cached {
            line.hashes = Some(h);
            line.cached = true;
        } else if let Err(e) = &meta {
            line.error = Some(e.to_string());
        } else {
            match mir_hash::hash_file_with_metadata(path, &algos, &options) {
                Ok((h, meta)) => {
                    if let Some(i) = index.as_mut() {
                        let key = FileKey::from_metadata(&meta);
                        let updated = i
                            .merge_hashes(&[(abs.clone(), key, h.clone())])
                            .unwrap_or(0);
                        if updated == 0 {
                            // No scan row yet: store the hashes alone (a scan fills the rest).
                            let entry = Entry {
                                path: abs.clone(),
                                key,
                                hashes: h.clone(),
                                ..Entry::default()
                            };
                            if let Err(e) = i.store_batch(&[entry]) {
                                eprintln!("mir: warning: cannot store hashes in the index: {e}");
                            }
                        }
                    }
                    line.hashes = Some(h);
                }
                Err(e) => line.error = Some(e.to_string()),
            }
        }
        failed |= line.error.is_some();
        if args.json {
            json_line(&mut w, &line)?;
        } else if let Some(e) = &line.error {
            w.flush()?;
            eprintln!("mir: {}: {e}", line.path);
        } else if let Some(h) = &line.hashes {
            print_text(&mut w, &line.path, h, &algos)?;
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
