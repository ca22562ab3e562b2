//! CPython 3.11+ `repr` of the values a JSON header holds, byte for byte.
//!
//! The MIR project's `layer_256`/`layer_b3` hash `str(header_dict)` (SPEC-notes §2.1), so these
//! functions reproduce what `repr` prints for `str`, `int`, `float`, `bool`, `None`, `list` and
//! `dict` (the latter two are written by the caller with [`ITEM_SEP`] and [`KEY_SEP`]).
//!
//! Written by hand because no crate emulates CPython's repr; the rules are short and tested
//! against vectors computed by CPython.

/// Separator between list items and between dict entries: `", "`.
pub const ITEM_SEP: &str = ", ";
/// Separator between a dict key and its value: `": "`.
pub const KEY_SEP: &str = ": ";

/// Appends `repr(s)` for a Python `str`.
///
/// Quotes with `'` unless the text holds `'` and no `"`. Escapes `\\`, the chosen quote, `\t`,
/// `\n`, `\r`; other non-printable characters become `\xhh`, `\uhhhh` or `\Uhhhhhhhh`. Printable
/// non-ASCII stays literal. "Printable" follows `str.isprintable` for control, format, separator
/// and private-use characters; unassigned code points (which need Unicode tables) count as
/// printable, a documented approximation that only matters for names no real model uses.
pub fn push_str(out: &mut String, s: &str) {
    // Fast path: printable ASCII without quotes or backslashes is copied as is.
    if s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'\'' && b != b'\\')
    {
        out.reserve(s.len() + 2);
        out.push('\'');
        out.push_str(s);
        out.push('\'');
        return;
    }
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => {
                let v = c as u32;
                if v < 0x100 {
                    out.push_str(&format!("\\x{v:02x}"));
                } else if v < 0x10000 {
                    out.push_str(&format!("\\u{v:04x}"));
                } else {
                    out.push_str(&format!("\\U{v:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// CPython's `str.isprintable` for one character (see [`push_str`] for the approximation).
fn is_printable(c: char) -> bool {
    let v = c as u32;
    if c == ' ' {
        return true;
    }
    if c.is_control() {
        return false; // Cc
    }
    !matches!(v,
        // Zs other than space, Zl, Zp
        0x00A0 | 0x1680 | 0x2000..=0x200A | 0x2028 | 0x2029 | 0x202F | 0x205F | 0x3000
        // Cf (format characters)
        | 0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890 | 0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
        // Co (private use)
        | 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD
        // Cn: noncharacters
        | 0xFDD0..=0xFDEF | 0xFFFE | 0xFFFF
    )
}

/// Appends `repr(f)` for a Python `float`: the shortest digits that round-trip, in fixed notation
/// when the decimal exponent is in `-4..16`, otherwise `1e+16` style; `inf`, `-inf`, `nan`.
pub fn push_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("nan");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "inf" } else { "-inf" });
        return;
    }
    // Rust's `{:e}` prints the shortest round-trip digits, e.g. "1.2345e-5", "-3e0".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if neg {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else if exp + 1 >= n {
            out.push_str(&digits);
            for _ in 0..(exp + 1 - n) {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            let (a, b) = digits.split_at((exp + 1) as usize);
            out.push_str(a);
            out.push('.');
            out.push_str(b);
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    }
}

/// Appends `repr(b)` for a Python `bool`.
pub fn push_bool(out: &mut String, b: bool) {
    out.push_str(if b { "True" } else { "False" });
}

/// Appends `None`.
pub fn push_none(out: &mut String) {
    out.push_str("None");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> String {
        let mut o = String::new();
        push_str(&mut o, x);
        o
    }
    fn f(x: f64) -> String {
        let mut o = String::new();
        push_float(&mut o, x);
        o
    }

    #[test]
    fn strings_match_cpython() {
        assert_eq!(s("a.weight"), "'a.weight'");
        assert_eq!(s("it's.w"), "\"it's.w\"");
        assert_eq!(s("both'\""), "'both\\'\"'");
        assert_eq!(s("café.w"), "'café.w'");
        assert_eq!(s("t\tn\nr\r\\"), "'t\\tn\\nr\\r\\\\'");
        assert_eq!(s("\u{1}\u{7f}\u{a0}\u{200b}"), "'\\x01\\x7f\\xa0\\u200b'");
        assert_eq!(s("\u{f0000}"), "'\\U000f0000'");
        assert_eq!(s("日本"), "'日本'");
    }

    #[test]
    fn floats_match_cpython() {
        // Expected values are CPython 3.11 `repr` outputs.
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(1.0), "1.0");
        assert_eq!(f(-2.5), "-2.5");
        assert_eq!(f(1e16), "1e+16");
        assert_eq!(f(1234567890123456.0), "1234567890123456.0");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(0.00001), "1e-05");
        assert_eq!(f(1.5e-7), "1.5e-07");
        assert_eq!(f(123.456), "123.456");
        assert_eq!(f(1e300), "1e+300");
        assert_eq!(f(0.0), "0.0");
        assert_eq!(f(f64::INFINITY), "inf");
    }
}
