//! Key patterns: literal tensor names with two wildcards.
//!
//! * `*` matches one or more characters other than `.` (one name segment or part of one, such
//!   as a block index);
//! * `**` matches any run of characters, dots included (possibly empty).
//!
//! Written by hand rather than with `regex` or `globset` because the rules need the text the
//! first `*` matched (to derive depth from the highest block index), patterns are tiny, and
//! a literal prefix lets the engine narrow the search to a range of sorted keys first.

/// One compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pattern {
    text: String,
    tokens: Vec<Token>,
    literal_prefix: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Lit(String),
    Star,
    DoubleStar,
}

impl Pattern {
    /// Compiles a pattern; any string is a valid pattern.
    pub(crate) fn new(text: &str) -> Pattern {
        let mut tokens = Vec::new();
        let mut lit = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '*' {
                if !lit.is_empty() {
                    tokens.push(Token::Lit(std::mem::take(&mut lit)));
                }
                if chars.peek() == Some(&'*') {
                    chars.next();
                    tokens.push(Token::DoubleStar);
                } else {
                    tokens.push(Token::Star);
                }
            } else {
                lit.push(c);
            }
        }
        if !lit.is_empty() {
            tokens.push(Token::Lit(lit));
        }
        let literal_prefix = match tokens.first() {
            Some(Token::Lit(l)) => l.clone(),
            _ => String::new(),
        };
        Pattern {
            text: text.to_owned(),
            tokens,
            literal_prefix,
        }
    }

    /// The pattern as written.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The literal text before the first wildcard (all of it for a literal pattern).
    pub(crate) fn literal_prefix(&self) -> &str {
        &self.literal_prefix
    }

    /// Whether `s` matches the whole pattern.
    pub(crate) fn matches(&self, s: &str) -> bool {
        self.capture(s).is_some()
    }

    /// Matches `s` and returns the text the first `*` matched ("" when the pattern has none).
    pub(crate) fn capture<'s>(&self, s: &'s str) -> Option<&'s str> {
        let mut first = None;
        if match_at(&self.tokens, s, &mut first) {
            Some(first.unwrap_or(""))
        } else {
            None
        }
    }
}

/// Why `p` is not a well-formed module-path pattern (for `groups` and `benign`), or `None`.
///
/// A module path is dot-separated segments; a pattern may not be empty, hold whitespace or
/// control characters, start or end with `.` or `/`, hold an empty segment (`..`), or a run of
/// three or more `*`.
pub(crate) fn module_pattern_problem(p: &str) -> Option<&'static str> {
    if p.is_empty() {
        Some("empty pattern")
    } else if p.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("whitespace or control character")
    } else if p.starts_with(['.', '/']) || p.ends_with(['.', '/']) {
        Some("starts or ends with `.` or `/`")
    } else if p.contains("..") || p.contains("./") || p.contains("/.") {
        Some("empty segment")
    } else if p.contains("***") {
        Some("`***` (use `*` for one segment, `**` for any run)")
    } else if p.matches('/').count() > 1 {
        Some("more than one `/` (adapter-view paths are `target/module`)")
    } else {
        None
    }
}

/// Backtracking matcher. Patterns hold at most a few wildcards, so the search stays small.
fn match_at<'s>(tokens: &[Token], s: &'s str, first: &mut Option<&'s str>) -> bool {
    let Some((tok, rest)) = tokens.split_first() else {
        return s.is_empty();
    };
    match tok {
        Token::Lit(l) => s
            .strip_prefix(l.as_str())
            .is_some_and(|tail| match_at(rest, tail, first)),
        Token::Star => {
            // One or more non-dot characters.
            let limit = s.find('.').unwrap_or(s.len());
            for (end, _) in s
                .char_indices()
                .skip(1)
                .chain(std::iter::once((s.len(), ' ')))
            {
                if end > limit {
                    break;
                }
                let (head, tail) = s.split_at(end);
                let saved = *first;
                if first.is_none() {
                    *first = Some(head);
                }
                if match_at(rest, tail, first) {
                    return true;
                }
                *first = saved;
            }
            false
        }
        Token::DoubleStar => {
            for (end, _) in s.char_indices().chain(std::iter::once((s.len(), ' '))) {
                let (_, tail) = s.split_at(end);
                if match_at(rest, tail, first) {
                    return true;
                }
            }
            false
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_one_segment_part() {
        let p = Pattern::new("double_blocks.*.img_attn.qkv.weight");
        assert!(p.matches("double_blocks.0.img_attn.qkv.weight"));
        assert_eq!(
            p.capture("double_blocks.18.img_attn.qkv.weight"),
            Some("18")
        );
        assert!(!p.matches("double_blocks..img_attn.qkv.weight"));
        assert!(!p.matches("double_blocks.0.1.img_attn.qkv.weight"));
        assert_eq!(p.literal_prefix(), "double_blocks.");
    }

    #[test]
    fn double_star_crosses_dots() {
        let p = Pattern::new("unet/**attn2_to_k.down");
        assert!(p.matches("unet/input_blocks_4_1_transformer_blocks_0_attn2_to_k.down"));
        assert!(!p.matches("unet/attn1_to_k.down"));
        let q = Pattern::new("**");
        assert!(q.matches(""));
        assert!(q.matches("a.b.c"));
    }

    #[test]
    fn literal_patterns() {
        let p = Pattern::new("guidance_in.in_layer.weight");
        assert!(p.matches("guidance_in.in_layer.weight"));
        assert!(!p.matches("guidance_in.in_layer.weightx"));
        assert_eq!(p.text(), "guidance_in.in_layer.weight");
    }

    #[test]
    fn unicode_does_not_split_characters() {
        let p = Pattern::new("a.*.b");
        assert!(p.matches("a.é.b"));
        assert_eq!(p.capture("a.éé.b"), Some("éé"));
    }
}
