//! `mir dupes`: identical files and the same model in other precisions or containers.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use mir_index::FileKey;
use mir_scan::{HashAlgo, ScanOptions, Scanner};

use crate::cli::DupesArgs;
use crate::output::{human_size, json_line};

pub(crate) fn run(args: DupesArgs) -> anyhow::Result<u8> {
    let (registry, _plugins) = crate::plugins::registry(&args.plugins, args.quiet)?;
    let identifier = crate::identifier(None)?;
    let version = mir_scan::record_version(&registry, &identifier);
    // Dupes needs somewhere to keep sizes, signatures and hashes: an in-memory index without
    // --index/--no-index choices that leave none.
    let index = match crate::open_index(&args.index, version, args.quiet)? {
        Some(i) => i,
        None => mir_scan::Index::open_in_memory(version)?,
    };
    let options = ScanOptions {
        threads: args.threads,
        ..ScanOptions::default()
    };
    let scanner = Scanner::with_parts(options, registry, identifier).with_index(index);
    if !args.quiet && std::io::stderr().is_terminal() {
        eprintln!("mir: scanning…");
    }
    let out = scanner.scan(&args.paths, &|_| {});
    for e in &out.index_errors {
        eprintln!("mir: warning: {e}");
    }

    let roots: Vec<PathBuf> = args
        .paths
        .iter()
        .filter_map(|p| std::path::absolute(p).ok())
        .collect();
    let root_refs: Vec<&Path> = roots.iter().map(PathBuf::as_path).collect();
    let mut index = scanner
        .index()
        .ok_or_else(|| anyhow::anyhow!("no index to group files in"))?;

    // Only files whose size collides with another's can be identical: hash just those.
    let to_hash = index.unhashed_size_collisions(&root_refs)?;
    if !args.quiet && !to_hash.is_empty() && std::io::stderr().is_terminal() {
        eprintln!("mir: hashing {} files whose sizes collide…", to_hash.len());
    }
    let options = crate::hash_options(&args.hashing);
    let mut updates = Vec::new();
    for (path, key) in to_hash {
        // Only the file the scan recorded is read: a path swapped (or a symlink retargeted)
        // since is refused on the open handle, before any byte is hashed.
        let expected = (key.dev != 0 || key.ino != 0).then_some(mir_core::FileId {
            dev: key.dev,
            ino: key.ino,
        });
        match mir_hash::hash_file_checked(
            &path,
            expected,
            &[HashAlgo::Sha256, HashAlgo::Blake3],
            &options,
        ) {
            Ok((h, meta)) if FileKey::from_metadata(&meta) == key => updates.push((path, key, h)),
            Ok(_) => eprintln!(
                "mir: {}: changed while it was hashed; skipped",
                path.display()
            ),
            Err(e) => eprintln!("mir: {}: {e}", path.display()),
        }
    }
    index.merge_hashes(&updates)?;
    let report = index.dupes(&root_refs)?;

    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    if args.json {
        json_line(&mut w, &report)?;
    } else {
        writeln!(
            w,
            "identical content: {} group{}, {} wasted",
            report.identical.len(),
            if report.identical.len() == 1 { "" } else { "s" },
            human_size(report.wasted_bytes)
        )?;
        for g in &report.identical {
            let id = g.sha256.as_deref().or(g.blake3.as_deref()).unwrap_or("-");
            writeln!(
                w,
                "  {} copies of {} ({} wasted), content {}",
                g.paths.len(),
                human_size(g.size),
                human_size(g.wasted_bytes),
                id.get(..16).unwrap_or(id)
            )?;
            for p in &g.paths {
                writeln!(w, "    {}", p.display())?;
            }
        }
        // A layout match is not a copy (two LoRAs of one base share a layout): these groups are
        // reported, never offered for deletion. Only proven copies (above) are.
        writeln!(
            w,
            "same architecture (same tensor names and shapes, another precision or container; \
             not proven copies): {} group{}",
            report.same_shape.len(),
            if report.same_shape.len() == 1 {
                ""
            } else {
                "s"
            }
        )?;
        for g in &report.same_shape {
            let note = if g.reclaimable_bytes > 0 {
                format!(
                    ", of which {} are proven copies (listed above)",
                    human_size(g.reclaimable_bytes)
                )
            } else if g.proven_different {
                ", contents proven different".to_owned()
            } else {
                String::new()
            };
            writeln!(
                w,
                "  shape_sig {}: {} files, {}{note}",
                g.shape_sig,
                g.files.len(),
                human_size(g.total_bytes)
            )?;
            for f in &g.files {
                writeln!(
                    w,
                    "    {:>9}  {:<11} {:<8} {}",
                    human_size(f.size),
                    f.format.as_deref().unwrap_or("-"),
                    f.precision.as_deref().unwrap_or("-"),
                    f.path.display()
                )?;
            }
        }
        if report.unhashed > 0 {
            writeln!(
                w,
                "({} files could not be hashed and were not compared)",
                report.unhashed
            )?;
        }
    }
    w.flush()?;
    Ok(0)
}
