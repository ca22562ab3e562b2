//! `mir dupes`: identical files and the same model in other precisions or containers.

use mir_scan::{ScanOptions, Scanner};
use std::io::{IsTerminal, Write};

use crate::cli::DupesArgs;
use crate::output::{human_size, json_line, term, term_path};

pub(crate) fn run(args: DupesArgs) -> anyhow::Result<u8> {
    let (registry, _plugins) = crate::plugins::registry(&args.plugins, args.quiet)?;
    let identifier = crate::identifier(&crate::cli::DatabaseOptions::default())?;
    let version = mir_scan::record_version(&registry, &identifier);
    let index = crate::open_index_or_in_memory(&args.index, version, args.quiet)?;
    let options = ScanOptions {
        threads: args.threads,
        hash_options: crate::hash_options(&args.hashing),
        ..ScanOptions::default()
    };
    let scanner = Scanner::with_parts(options, registry, identifier).with_index(index);
    if !args.quiet && std::io::stderr().is_terminal() {
        eprintln!("mir: scanning…");
    }
    // The library's dupes workflow: scan (facts from the index, gone files pruned), hash only
    // the files whose sizes collide, group the files that exist.
    let (report, warnings) = scanner.dupes(&args.paths)?;
    for e in &warnings {
        eprintln!("mir: warning: {}", term(&e.to_string()));
    }

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
                writeln!(w, "    {}", term_path(p))?;
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
                    term_path(&f.path)
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
