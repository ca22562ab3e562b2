//! Escaping every string that comes from a file (paths, metadata, evidence) before it goes into
//! the page. Written by hand: the rule is five replacements plus the control characters, and the
//! page is built with `write!`, so no template engine is needed for it.

use std::fmt::Write as _;

/// `s` safe as HTML text and as a double- or single-quoted attribute value: `&`, `<`, `>`, `"`
/// and `'` become entities, and characters that could reorder or hide text (C0 and C1 controls,
/// DEL, bidi controls, line and paragraph separators, zero-width characters, the BOM) are shown
/// as visible `\u{…}` escapes, as `mir scan` prints them on a terminal.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if hidden(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Characters that render as nothing or move other text.
fn hidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{61c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
        | '\u{2060}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_hidden_characters_are_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        );
        assert_eq!(esc("a\"b&c"), "a&quot;b&amp;c");
        assert_eq!(esc("evil\u{202e}gpj.exe"), "evil\\u{202e}gpj.exe");
        assert_eq!(esc("line\nbreak\t"), "line\\u{a}break\\u{9}");
        assert_eq!(esc("Größe 模型"), "Größe 模型", "ordinary text is kept");
        for s in ["<", ">", "\"", "'", "\u{2066}"] {
            let e = esc(s);
            assert!(!e.contains(['<', '>', '"', '\'']), "{s:?} -> {e:?}");
        }
    }
}
