//! Key patterns: literal tensor names with two wildcards.
//!
//! * `*` matches one or more characters other than `.` (one name segment or part of one, such
//!   as a block index);
//! * `**` matches any run of characters, dots included (possibly empty).
//!
//! Written by hand rather than with `regex` or `globset` because the rules need the text the
//! first `*` matched (to derive depth from the highest block index), patterns are tiny, and
//! a pattern's literal prefix and first segment let the matcher (`matcher.rs`) pick the few
//! patterns worth testing on a name.

/// One compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pattern {
    text: String,
    tokens: Vec<Token>,
    literal_prefix: String,
    /// The literal text after the last wildcard ("" when the pattern ends with one): every
    /// name the pattern matches ends with it, so one comparison rejects most names before any
    /// backtracking. Computed at load time.
    literal_suffix: String,
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
        // Split at the wildcards with `find` (a `**` is one token; `***` is `**` then `*`).
        let mut tokens = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find('*') {
            let lit = rest.get(..at).unwrap_or("");
            if !lit.is_empty() {
                tokens.push(Token::Lit(lit.to_owned()));
            }
            let tail = rest.get(at..).unwrap_or("");
            if tail.starts_with("**") {
                tokens.push(Token::DoubleStar);
                rest = tail.get(2..).unwrap_or("");
            } else {
                tokens.push(Token::Star);
                rest = tail.get(1..).unwrap_or("");
            }
        }
        if !rest.is_empty() {
            tokens.push(Token::Lit(rest.to_owned()));
        }
        let literal_prefix = match tokens.first() {
            Some(Token::Lit(l)) => l.clone(),
            _ => String::new(),
        };
        let literal_suffix = match tokens.last() {
            Some(Token::Lit(l)) => l.clone(),
            _ => String::new(),
        };
        Pattern {
            text: text.to_owned(),
            tokens,
            literal_prefix,
            literal_suffix,
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

    /// The literal text after the last wildcard ("" when the pattern ends with one; all of it
    /// for a literal pattern).
    pub(crate) fn literal_suffix(&self) -> &str {
        &self.literal_suffix
    }

    /// Whether the pattern has no wildcard (it matches exactly its own text).
    pub(crate) fn is_literal(&self) -> bool {
        !self
            .tokens
            .iter()
            .any(|t| matches!(t, Token::Star | Token::DoubleStar))
    }

    /// A literal part every name the pattern matches contains ("" for a pattern without
    /// one): the longest after the first wildcard (the first of equally long ones), else the
    /// literal prefix. Names of one kind share their prefixes (`unet/` in an adapter view), so a
    /// later literal (`attn2_to_k.down`) tells more names apart; the prefix is the matcher's
    /// first test anyway.
    pub(crate) fn anchor(&self) -> &str {
        let mut best = "";
        for t in self.tokens.iter().skip(1) {
            if let Token::Lit(l) = t
                && l.len() > best.len()
            {
                best = l;
            }
        }
        if best.is_empty() {
            &self.literal_prefix
        } else {
            best
        }
    }

    /// Whether `s` matches the whole pattern.
    pub(crate) fn matches(&self, s: &str) -> bool {
        self.capture(s).is_some()
    }

    /// Whether the pattern matches `s` or a prefix of `s` that ends right before a `.` (or, with
    /// `underscore`, before a `_` too): the module-path test of `groups` and `benign`.
    /// `double_blocks.*` covers `double_blocks.3.img_attn.qkv.weight`.
    pub(crate) fn matches_module(&self, s: &str, underscore: bool) -> bool {
        has_prefix(s, &self.literal_prefix)
            && match_module(&self.tokens, s, if underscore { b'_' } else { b'.' })
    }

    /// Matches `s` and returns the text the first `*` matched ("" when the pattern has none).
    pub(crate) fn capture<'s>(&self, s: &'s str) -> Option<&'s str> {
        if !has_suffix(s, &self.literal_suffix) {
            return None;
        }
        let mut first = None;
        if match_at(&self.tokens, s, &mut first) {
            Some(first.unwrap_or(""))
        } else {
            None
        }
    }
}

/// Whether two byte strings are equal, compared in line rather than by a call to `memcmp`: the
/// strings compared here (a key and a pattern's literal) are a few dozen bytes and mostly differ
/// in their first bytes, where the call cost more than the comparison (issue 19's profile).
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// `s.starts_with(p)`, compared in line (see [`same`]).
#[inline]
pub(crate) fn has_prefix(s: &str, p: &str) -> bool {
    s.as_bytes()
        .get(..p.len())
        .is_some_and(|h| same(h, p.as_bytes()))
}

/// `s.ends_with(p)`, compared in line (see [`same`]).
#[inline]
pub(crate) fn has_suffix(s: &str, p: &str) -> bool {
    s.len()
        .checked_sub(p.len())
        .and_then(|at| s.as_bytes().get(at..))
        .is_some_and(|t| same(t, p.as_bytes()))
}

/// `s.strip_prefix(p)`, compared in line (see [`same`]).
#[inline]
fn cut_prefix<'s>(s: &'s str, p: &str) -> Option<&'s str> {
    if has_prefix(s, p) {
        s.get(p.len()..)
    } else {
        None
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

/// The first position at or after `from` where `needle` occurs in `hay` (what
/// `hay[from..].find(needle)` gives, offset by `from`), by comparing at each occurrence of the
/// needle's first byte (found with `memchr`): keys and literals are short, and `str::find`
/// builds a two-way searcher on every call, which cost more than the search (this runs for
/// every key of every file). A position where a whole UTF-8 needle matches is always a
/// character boundary.
fn find_from(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    let Some(&first) = n.first() else {
        return (from <= hay.len() && hay.is_char_boundary(from)).then_some(from);
    };
    let last_start = h.len().checked_sub(n.len())?;
    let mut i = from;
    while i <= last_start {
        let at = i.saturating_add(memchr::memchr(first, h.get(i..=last_start)?)?);
        if h.get(at..)
            .and_then(|t| t.get(..n.len()))
            .is_some_and(|t| same(t, n))
        {
            return Some(at);
        }
        i = at.saturating_add(1);
    }
    None
}

/// Where the first `.` of `s` is (its length without one).
fn first_dot(s: &str) -> usize {
    memchr::memchr(b'.', s.as_bytes()).unwrap_or(s.len())
}

/// Whether the token after a `*` is a literal that starts with `.`: then the `*` (one or more
/// non-dot characters) can only end at the first `.` of the text, and the matchers try that one
/// place instead of every character before it (kohya names make segments of 50 characters).
fn dot_next(rest: &[Token]) -> bool {
    matches!(rest.first(), Some(Token::Lit(l)) if l.starts_with('.'))
}

/// Where a `*` followed by a `.` literal ends in `s` (whose first `.` is at `limit`): there,
/// when the segment before it is not empty and a `.` follows.
fn star_to_dot(s: &str, limit: usize) -> Option<usize> {
    (limit > 0 && limit < s.len()).then_some(limit)
}

/// Like [`match_at`], but the pattern may end where `s` continues with `.` (or `alt`).
fn match_module(tokens: &[Token], s: &str, alt: u8) -> bool {
    let Some((tok, rest)) = tokens.split_first() else {
        return s.is_empty() || s.starts_with('.') || s.as_bytes().first() == Some(&alt);
    };
    match tok {
        Token::Lit(l) => cut_prefix(s, l).is_some_and(|tail| match_module(rest, tail, alt)),
        Token::Star => {
            let limit = first_dot(s);
            if rest.is_empty() {
                // Every end up to the first dot is tried, and the one at the dot (or at the end)
                // leaves a module boundary: a match unless the text starts with a dot.
                return s.is_empty() || limit > 0;
            }
            if dot_next(rest) {
                return star_to_dot(s, limit)
                    .is_some_and(|end| match_module(rest, s.get(end..).unwrap_or(""), alt));
            }
            if let Some(Token::Lit(l)) = rest.first()
                && !s.is_empty()
            {
                // Only where the literal after the `*` occurs (see `match_at`).
                let mut from = 1usize;
                while let Some(end) = find_from(s, l, from) {
                    if end > limit {
                        return false;
                    }
                    if match_module(rest, s.get(end..).unwrap_or(""), alt) {
                        return true;
                    }
                    from = end.saturating_add(1);
                }
                return false;
            }
            s.char_indices()
                .skip(1)
                .map(|(i, _)| i)
                .chain(std::iter::once(s.len()))
                .take_while(|&end| end <= limit)
                .any(|end| match_module(rest, s.get(end..).unwrap_or(""), alt))
        }
        Token::DoubleStar => {
            if rest.is_empty() {
                return true;
            }
            // `**lit…`: only the places where the literal occurs can continue the match.
            // (Left to right, non-overlapping, as `match_indices` gives them.)
            if let Some(Token::Lit(l)) = rest.first() {
                let mut from = 0usize;
                while let Some(at) = find_from(s, l, from) {
                    if match_module(rest, s.get(at..).unwrap_or(""), alt) {
                        return true;
                    }
                    from = at.saturating_add(l.len());
                }
                return false;
            }
            s.char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(s.len()))
                .any(|end| match_module(rest, s.get(end..).unwrap_or(""), alt))
        }
    }
}

/// Backtracking matcher. Patterns hold at most a few wildcards, so the search stays small.
fn match_at<'s>(tokens: &[Token], s: &'s str, first: &mut Option<&'s str>) -> bool {
    let Some((tok, rest)) = tokens.split_first() else {
        return s.is_empty();
    };
    match tok {
        Token::Lit(l) => cut_prefix(s, l).is_some_and(|tail| match_at(rest, tail, first)),
        Token::Star => {
            // One or more non-dot characters (or, quirk of the plain matcher kept here, the
            // empty rest of an empty text).
            let limit = first_dot(s);
            if rest.is_empty() {
                // The whole rest, when it holds no dot.
                if limit == s.len() {
                    first.get_or_insert(s);
                    return true;
                }
                return false;
            }
            if dot_next(rest) {
                let Some(end) = star_to_dot(s, limit) else {
                    return false;
                };
                let (head, tail) = s.split_at(end);
                let saved = *first;
                if first.is_none() {
                    *first = Some(head);
                }
                if match_at(rest, tail, first) {
                    return true;
                }
                *first = saved;
                return false;
            }
            if let Some(Token::Lit(l)) = rest.first()
                && !s.is_empty()
            {
                // The `*` can only end where the literal after it occurs (from the second
                // character on, up to the first dot): try those places, left to right.
                let mut from = 1usize;
                while let Some(end) = find_from(s, l, from) {
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
                    from = end.saturating_add(1);
                }
                return false;
            }
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
            // `**` at the end matches whatever is left.
            if rest.is_empty() {
                return true;
            }
            // `**lit…`: only the places where the literal occurs can continue the match (the
            // same answer as trying every position, without a comparison at each of them).
            // Occurrences may overlap (`aa` in `aaa`), so the search restarts one character
            // after each hit rather than using `match_indices`.
            if let Some(Token::Lit(l)) = rest.first() {
                let mut from = 0usize;
                while let Some(at) = find_from(s, l, from) {
                    let tail = s.get(at..).unwrap_or("");
                    if match_at(rest, tail, first) {
                        return true;
                    }
                    from = at.saturating_add(tail.chars().next().map_or(1, char::len_utf8));
                }
                return false;
            }
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
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
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
    fn module_prefixes_end_at_a_separator() {
        let p = Pattern::new("double_blocks.*");
        assert!(p.matches_module("double_blocks.3.img_attn.qkv.weight", false));
        assert!(p.matches_module("double_blocks.3", false));
        assert!(!p.matches_module("double_blocks", false));
        assert!(!p.matches_module("double_blocks_x.3", false));
        let q = Pattern::new("img_in");
        assert!(q.matches_module("img_in.weight", false));
        assert!(!q.matches_module("img_in_extra.weight", false));
        assert!(q.matches_module("img_in_extra.weight", true));
        let r = Pattern::new("double_blocks.*.img_mod");
        assert!(r.matches_module("double_blocks.12.img_mod.lin.weight", false));
        assert!(!r.matches_module("double_blocks.12.img_modx.lin.weight", false));
        assert!(!r.matches_module("double_blocks.12.txt_mod.lin.weight", false));
        let a = Pattern::new("unet/double_blocks_*_img_attn");
        assert!(a.matches_module("unet/double_blocks_0_img_attn_qkv.down", true));
        assert!(!a.matches_module("unet/double_blocks_0_txt_attn_qkv.down", true));
        let d = Pattern::new("**.scale_weight");
        assert!(d.matches_module("a.b.scale_weight", false));
        assert!(!d.matches_module("a.b.scale_weightx", false));
        let e = Pattern::new("x.**");
        assert!(e.matches_module("x.a.b", false));
        assert!(!e.matches_module("y.a", false));
    }

    /// The matcher before the load-time suffix test and the `**literal` jump: every position
    /// tried. The compiled matcher must agree with it on every name.
    fn reference<'s>(tokens: &[Token], s: &'s str, first: &mut Option<&'s str>) -> bool {
        let Some((tok, rest)) = tokens.split_first() else {
            return s.is_empty();
        };
        match tok {
            Token::Lit(l) => s
                .strip_prefix(l.as_str())
                .is_some_and(|tail| reference(rest, tail, first)),
            Token::Star => {
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
                    if reference(rest, tail, first) {
                        return true;
                    }
                    *first = saved;
                }
                false
            }
            Token::DoubleStar => s
                .char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(s.len()))
                .any(|end| reference(rest, s.get(end..).unwrap_or(""), first)),
        }
    }

    proptest::proptest! {
        #[test]
        fn compiled_matcher_agrees_with_the_reference(
            pat in proptest::collection::vec(
                proptest::sample::select(vec!["a", "aa", ".", "_", "*", "**", "b.", "é"]), 0..6),
            name in proptest::collection::vec(
                proptest::sample::select(vec!["a", "aa", ".", "_", "b", "1", "é"]), 0..10),
        ) {
            let p = Pattern::new(&pat.concat());
            let n = name.concat();
            let mut first = None;
            let want = reference(&p.tokens, &n, &mut first).then(|| first.unwrap_or(""));
            proptest::prop_assert_eq!(p.capture(&n), want);
        }
    }

    /// The former char-by-char tokenizer, the reference for [`Pattern::new`]'s `find` split.
    fn reference_tokens(text: &str) -> Vec<Token> {
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
        tokens
    }

    proptest::proptest! {
        #[test]
        fn tokenizer_agrees_with_the_reference(
            pat in proptest::collection::vec(
                proptest::sample::select(vec!["a", ".", "*", "**", "***", "é", "_x"]), 0..8),
        ) {
            let text = pat.concat();
            proptest::prop_assert_eq!(Pattern::new(&text).tokens, reference_tokens(&text));
        }
    }

    proptest::proptest! {
        #[test]
        fn find_from_agrees_with_str_find(
            hay in proptest::collection::vec(
                proptest::sample::select(vec!["a", "aa", ".", "b", "é", "_"]), 0..12),
            needle in proptest::collection::vec(
                proptest::sample::select(vec!["a", ".", "b", "é", "aa"]), 0..3),
            from in 0usize..20,
        ) {
            let (hay, needle) = (hay.concat(), needle.concat());
            // The matchers only search from character boundaries.
            proptest::prop_assume!(from > hay.len() || hay.is_char_boundary(from));
            let want = hay
                .get(from..)
                .and_then(|t| t.find(needle.as_str()))
                .map(|i| i + from);
            proptest::prop_assert_eq!(find_from(&hay, &needle, from), want);
        }
    }

    /// The plain module matcher (every end of every wildcard tried), the reference for
    /// `match_module`'s shortcuts.
    fn reference_module(tokens: &[Token], s: &str, alt: u8) -> bool {
        let Some((tok, rest)) = tokens.split_first() else {
            return s.is_empty() || s.starts_with('.') || s.as_bytes().first() == Some(&alt);
        };
        match tok {
            Token::Lit(l) => s
                .strip_prefix(l.as_str())
                .is_some_and(|tail| reference_module(rest, tail, alt)),
            Token::Star => {
                let limit = s.find('.').unwrap_or(s.len());
                s.char_indices()
                    .skip(1)
                    .map(|(i, _)| i)
                    .chain(std::iter::once(s.len()))
                    .take_while(|&end| end <= limit)
                    .any(|end| reference_module(rest, s.get(end..).unwrap_or(""), alt))
            }
            Token::DoubleStar => {
                if rest.is_empty() {
                    return true;
                }
                if let Some(Token::Lit(l)) = rest.first() {
                    return s
                        .match_indices(l.as_str())
                        .any(|(i, _)| reference_module(rest, s.get(i..).unwrap_or(""), alt));
                }
                s.char_indices()
                    .map(|(i, _)| i)
                    .chain(std::iter::once(s.len()))
                    .any(|end| reference_module(rest, s.get(end..).unwrap_or(""), alt))
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn module_matcher_agrees_with_the_reference(
            pat in proptest::collection::vec(
                proptest::sample::select(vec!["a", "aa", ".", "_", "*", "**", ".b", "é", "*."]), 0..6),
            name in proptest::collection::vec(
                proptest::sample::select(vec!["a", "aa", ".", "_", "b", "1", "é", ".b"]), 0..10),
            underscore in proptest::bool::ANY,
        ) {
            let p = Pattern::new(&pat.concat());
            let n = name.concat();
            let alt = if underscore { b'_' } else { b'.' };
            proptest::prop_assert_eq!(
                match_module(&p.tokens, &n, alt),
                reference_module(&p.tokens, &n, alt)
            );
        }
    }

    #[test]
    fn tokenizes_star_runs_as_the_reference() {
        for text in ["***", "a***b", "*", "**", "a*", "*a", "", "é**é*"] {
            assert_eq!(Pattern::new(text).tokens, reference_tokens(text), "{text}");
        }
        assert_eq!(
            Pattern::new("a***b").tokens,
            vec![
                Token::Lit("a".into()),
                Token::DoubleStar,
                Token::Star,
                Token::Lit("b".into())
            ]
        );
    }

    #[test]
    fn overlapping_literal_after_double_star() {
        // `**aab` on `aaab`: the literal `aa` occurs at 0 and (overlapping) at 1; only 1 matches.
        assert!(Pattern::new("**aab").matches("aaab"));
        assert!(Pattern::new("x**aa.b").matches("xaaa.b"));
        assert!(!Pattern::new("x**aa.b").matches("xa.b"));
    }

    #[test]
    fn unicode_does_not_split_characters() {
        let p = Pattern::new("a.*.b");
        assert!(p.matches("a.é.b"));
        assert_eq!(p.capture("a.éé.b"), Some("éé"));
    }
}
