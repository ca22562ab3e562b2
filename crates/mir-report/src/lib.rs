//! `mir report`'s library page: one self-contained HTML file (no network, no external file)
//! made from scan records.
//!
//! ```
//! use mir_report::{Duplicates, Page, Summary, render};
//!
//! let records = mir_report::read_records(
//!     br#"{"path":"models/loras/a.safetensors","format":"safetensors","size":10,"mir":"mir:model.lora.lora:stable-diffusion-xl"}"#
//!         .as_slice(),
//! )?;
//! let summary = Summary::new(&records.records, Duplicates::from_records(&records.records));
//! let html = render(&summary, &Page::default());
//! assert!(html.contains("stable-diffusion-xl"));
//! # Ok::<(), mir_report::Error>(())
//! ```
//!
//! # Brief overview
//!
//! * Records are read as JSON values ([`read_records`]), so the page depends only on field
//!   names and works on records without the optional fields (`about`, `preview`, `packaging`,
//!   `air`, …).
//! * [`Summary::new`] computes everything the page shows as typed data: [`FileRow`]s, totals by
//!   family, kind, base and precision ([`Tally`]), [`Duplicates`] (from `mir dupes`' report, or
//!   from the records' own hashes with `mir dupes`' grouping), the files `mir` abstained on, and
//!   the [`Misplaced`] files (by the [`folders::FOLDER_RULES`] table).
//! * [`render`] writes the page: inline CSS and one inline script (sorting and filtering),
//!   allowed by its hash in a Content-Security-Policy that forbids every network request; every
//!   string from a file is escaped ([`esc`]); previews are embedded as `data:` URIs
//!   ([`preview::load_all`], images only, bounded).
//!
//! *Family*: the model series of a model (`flux-1-dev` for `mir:model.dit.flux-1-dev`); for a
//! kind whose series names a technique (`lora`, `controlnet`, `adapter`, `embedding`, `vae`) the
//! base model after the `:` (`stable-diffusion-xl` for `mir:model.lora.lora:stable-diffusion-xl`).
//! *Base*: what an adapter attaches to (the ID's part after `:`), else the `base_model` its
//! metadata or a sidecar declares (`about.base_model`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod escape;
pub mod folders;
mod html;
pub mod preview;
mod summary;

use std::io::BufRead;

pub use escape::esc;
pub use html::{Page, content_security_policy, human_size, render};
pub use summary::{
    DupeGroup, DupeMethod, Duplicates, FileRow, Misplaced, NONE_LABEL, ShapeGroup, Status, Summary,
    Tally, UNSURE_CONFIDENCE,
};

/// Why records could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The records file could not be read.
    #[error("cannot read the records: {0}")]
    Io(#[from] std::io::Error),
}

/// File records read from JSON Lines, and what was skipped.
#[derive(Debug, Default)]
pub struct Records {
    /// The file records (objects with a `path`).
    pub records: Vec<serde_json::Value>,
    /// One note per line that is not a file record: bad JSON (by line number), or a line of
    /// another kind (`--json-summary`'s `summary`, `walk_error`… lines and `--models` records
    /// are skipped silently and counted in `other_lines`).
    pub bad_lines: Vec<String>,
    /// Lines of other kinds, skipped.
    pub other_lines: usize,
}

/// Longest line read: a record is a few KB; a line longer than this is not a record (and is not
/// held in memory whole).
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// Reads JSON Lines of `mir scan --json` (blank lines ignored). A line that is not JSON, not an
/// object or has no `path` is noted and skipped: one bad line does not lose the rest.
pub fn read_records(input: impl BufRead) -> Result<Records, Error> {
    let mut out = Records::default();
    let mut reader = input;
    let mut line = Vec::new();
    let mut n = 0usize;
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        n += 1;
        if line.len() > MAX_LINE && !line.ends_with(b"\n") {
            out.bad_lines
                .push(format!("line {n}: longer than {MAX_LINE} bytes; skipped"));
            // Skip the rest of the line.
            let mut rest = Vec::new();
            loop {
                rest.clear();
                let r = (&mut reader).take(1 << 20).read_until(b'\n', &mut rest)?;
                if r == 0 || rest.ends_with(b"\n") {
                    break;
                }
            }
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) if v.get("kind").is_some_and(serde_json::Value::is_string) => {
                out.other_lines += 1;
            }
            Ok(v) if v.get("path").is_some_and(serde_json::Value::is_string) => {
                out.records.push(v);
            }
            Ok(_) => out.bad_lines.push(format!(
                "line {n}: not a file record (no \"path\"); skipped"
            )),
            Err(e) => out
                .bad_lines
                .push(format!("line {n}: not JSON ({e}); skipped")),
        }
    }
    Ok(out)
}

use std::io::Read as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_records_and_skips_other_lines() {
        let input = concat!(
            r#"{"path":"a.safetensors","size":1}"#,
            "\n\n",
            "not json\n",
            r#"{"kind":"summary","files":1}"#,
            "\n",
            r#"[1,2]"#,
            "\n",
            r#"{"path":"b.gguf","size":2}"#
        );
        let r = read_records(input.as_bytes()).unwrap();
        assert_eq!(r.records.len(), 2);
        assert_eq!(r.other_lines, 1);
        assert_eq!(r.bad_lines.len(), 2);
        assert!(
            r.bad_lines[0].starts_with("line 3: not JSON"),
            "{:?}",
            r.bad_lines
        );
        assert!(r.bad_lines[1].starts_with("line 5: not a file record"));
    }
}
