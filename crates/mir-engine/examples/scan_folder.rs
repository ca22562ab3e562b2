//! Scans a folder, streams each file's typed result, and stops after N files.
//!
//! ```sh
//! cargo run -p mir-engine --example scan_folder -- /path/to/models 10
//! ```

use std::ops::ControlFlow;

use mir_engine::{Engine, Event, Severity};

fn main() -> Result<(), mir_engine::Error> {
    let mut args = std::env::args().skip(1);
    let root = args.next().unwrap_or_else(|| ".".into());
    let limit: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10);

    let engine = Engine::builder().root(root).build()?;
    let mut shown = 0;
    let end = engine.scan(|event| {
        let Event::File(file) = event else {
            return ControlFlow::Continue(());
        };
        shown += 1;
        match (&file.error, file.mir()) {
            (Some(e), _) => println!(
                "{}: error ({}): {}",
                file.path.display(),
                e.kind.as_str(),
                e.message
            ),
            (None, Some(id)) => println!(
                "{}: {} [{}] by {} at {:.2}, {} tensors",
                file.path.display(),
                id,
                id.domain(),
                file.decided_by().map_or("-", |d| d.as_str()),
                file.confidence().unwrap_or(0.0),
                file.tensors.unwrap_or(0),
            ),
            (None, None) => println!(
                "{}: not identified (format {})",
                file.path.display(),
                file.format().unwrap_or("unknown")
            ),
        }
        for f in file
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Suspicious)
        {
            println!("  {} {}: {}", f.severity.as_str(), f.code, f.message);
        }
        if shown >= limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    eprintln!(
        "{} files shown ({} identified){}",
        shown,
        end.summary.identified,
        if end.cancelled { ", stopped early" } else { "" }
    );
    Ok(())
}
