//! Writing to stdout and stderr: JSON Lines, escaping for the terminal, sizes, exit codes,
//! broken pipes.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

/// Exit status: every file was read and identified (or the command had nothing to report).
pub(crate) const EXIT_OK: u8 = 0;
/// Exit status: some file was read but not recognised (no format, or no MIR ID).
pub(crate) const EXIT_UNRECOGNISED: u8 = 1;
/// Exit status: some file or folder could not be read (each is reported; the command went on).
pub(crate) const EXIT_UNREADABLE: u8 = 2;
/// Exit status: usage or fatal error before any file was read (bad arguments, `--index`,
/// `--mir-db`, `--hash`, or a `--plugin` that cannot be loaded).
pub(crate) const EXIT_USAGE: u8 = 3;
/// Exit status of `mir scan --fail-on LEVEL`: some file has a finding of that severity or worse.
pub(crate) const EXIT_FINDINGS: u8 = 4;

/// True when the error chain holds a broken pipe (e.g. `mir scan … | head`), which exits 0.
pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Writes `value` as one JSON line. An IO error (a closed pipe) stays an `io::Error`, so
/// [`is_broken_pipe`] sees it through serde_json.
pub(crate) fn json_line<W: Write, T: serde::Serialize>(
    out: &mut W,
    value: &T,
) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(|e| match e.io_error_kind() {
        Some(_) => anyhow::Error::from(io::Error::from(e)),
        None => anyhow::Error::from(e),
    })?;
    out.write_all(b"\n")?;
    Ok(())
}

/// An error chain said once: each cause is added only when the text so far does not already
/// hold it (`cannot load x: cannot read x: No such file` rather than the OS message twice).
pub(crate) fn error_chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    term(&text).into_owned()
}

/// `path: message` for the terminal, escaped, with the path said once: a message that already
/// names the path (`bad: not a regular file`) is not prefixed again.
pub(crate) fn file_message(path: &str, message: &str) -> String {
    // Names it as `PATH: …` at the start or after a space (`IO error for operation on PATH: …`);
    // a bare substring test would drop a short name such as `a` from any message.
    let named = !path.is_empty()
        && (message.starts_with(&format!("{path}:")) || message.contains(&format!(" {path}:")));
    if named {
        term(message).into_owned()
    } else {
        format!("{}: {}", term(path), term(message))
    }
}

/// `s` made safe to print on a terminal: every character that could move the cursor, change
/// colours, clear the screen or reorder text is written as a visible escape, so a file, tensor,
/// metadata or pickle name cannot paint the terminal or hide a line. Escaped: C0 controls
/// (`\t`, `\n`, `\r` by name, others as `\x1b`), DEL and C1 controls (`\x7f`, `\x9b`), the bidi
/// controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), the line and paragraph
/// separators (U+2028, U+2029), zero-width characters (U+200B–U+200D, U+2060) and the BOM
/// (U+FEFF), all as `\u{202e}`. Everything else, including non-ASCII text, is printed as is.
/// Used at every human output edge (table, `inspect`, stderr); JSON output stays lossless.
pub(crate) fn term(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x100 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// A path for the terminal: lossy UTF-8, escaped with [`term`].
pub(crate) fn term_path(p: &std::path::Path) -> String {
    term(&p.to_string_lossy()).into_owned()
}

/// `1.2 GB`-style sizes (decimal units, as file managers show them).
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A bar of files done on stderr while a scan runs; nothing when quiet or when stderr is not a
/// terminal. Shared by `mir scan` and `mir report`.
pub(crate) struct FileProgress(Option<indicatif::ProgressBar>);

impl FileProgress {
    pub(crate) fn new(quiet: bool) -> FileProgress {
        use std::io::IsTerminal as _;
        if quiet || !std::io::stderr().is_terminal() {
            return FileProgress(None);
        }
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos}/{len} files [{elapsed_precise}] {wide_bar} {per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        FileProgress(Some(bar))
    }

    /// The scan's progress callback.
    pub(crate) fn update(&self, p: mir_scan::Progress) {
        if let Some(bar) = &self.0 {
            match p {
                mir_scan::Progress::Found { files } => bar.set_length(files as u64),
                mir_scan::Progress::FileDone => bar.inc(1),
            }
        }
    }

    /// Clears the bar (before the results are printed).
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(6_938_041_042), "6.9 GB");
        assert_eq!(human_size(1_000), "1.0 KB");
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for s in [
            "model.diffusion_model.x.weight",
            "café/模型.safetensors",
            "C:\\models\\a",
        ] {
            assert!(matches!(term(s), Cow::Borrowed(t) if t == s));
        }
    }

    #[test]
    fn escape_sequences_and_c0_c1_controls_are_made_visible() {
        // An ESC sequence that would erase the line and print something else.
        assert_eq!(
            term("posix.system\x1b[2K\rno unsafe globals"),
            "posix.system\\x1b[2K\\rno unsafe globals"
        );
        assert_eq!(term("a\x1b]0;title\x07b"), "a\\x1b]0;title\\x07b");
        assert_eq!(term("\x1bc"), "\\x1bc");
        assert_eq!(term("tab\there\nnew"), "tab\\there\\nnew");
        assert_eq!(term("\0\x08\x7f"), "\\x00\\x08\\x7f");
        // C1: CSI (U+009B) and NEL (U+0085).
        assert_eq!(term("x\u{9b}2Jy\u{85}"), "x\\x9b2Jy\\x85");
        for c in (0u32..0x20).chain(0x7f..0xa0) {
            let c = char::from_u32(c).unwrap();
            let out = term(&c.to_string()).into_owned();
            assert!(!out.chars().any(char::is_control), "{c:?} -> {out:?}");
        }
    }

    #[test]
    fn bidi_overrides_and_invisible_characters_are_made_visible() {
        assert_eq!(term("evil\u{202e}gpj.exe"), "evil\\u{202e}gpj.exe");
        for c in [
            '\u{061c}', '\u{200b}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{2028}', '\u{2029}',
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2060}', '\u{2066}',
            '\u{2067}', '\u{2068}', '\u{2069}', '\u{feff}',
        ] {
            let out = term(&format!("a{c}b")).into_owned();
            assert_eq!(out, format!("a\\u{{{:x}}}b", c as u32));
        }
    }

    #[test]
    fn a_message_that_names_its_file_is_not_prefixed_again() {
        assert_eq!(
            file_message("bad", "bad: not a regular file"),
            "bad: not a regular file"
        );
        assert_eq!(
            file_message("a.gguf", "gguf: truncated"),
            "a.gguf: gguf: truncated"
        );
        assert_eq!(file_message("\x1b.gguf", "oops"), "\\x1b.gguf: oops");
    }

    #[test]
    fn error_chains_say_each_thing_once() {
        let io = io::Error::new(
            io::ErrorKind::NotFound,
            "No such file or directory (os error 2)",
        );
        let e = anyhow::Error::new(io)
            .context("cannot read MIR database x: No such file or directory (os error 2)")
            .context("cannot load the MIR database x");
        assert_eq!(
            error_chain(&e),
            "cannot load the MIR database x: cannot read MIR database x: No such file or directory (os error 2)"
        );
    }
}
