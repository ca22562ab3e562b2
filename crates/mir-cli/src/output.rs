//! Writing to stdout: JSON Lines, tables, sizes, broken pipes.

use std::io::{self, Write};

/// True when the error chain holds a broken pipe (e.g. `mir scan … | head`), which exits 0.
pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Writes `value` as one JSON line.
pub(crate) fn json_line<W: Write, T: serde::Serialize>(
    out: &mut W,
    value: &T,
) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")?;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(6_938_041_042), "6.9 GB");
        assert_eq!(human_size(1_000), "1.0 KB");
    }
}
