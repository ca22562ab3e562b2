//! The hand-written header scanner: one pass over the header bytes, borrowing names from them.
//!
//! Why by hand: the header path must run at a few times the cost of reading the bytes, and the
//! JSON must be judged exactly as the `safetensors` crate (serde_json) judges it. No JSON crate
//! we know of validates these rules while streaming (tensor count and metadata limits before
//! anything is kept, names in errors, the MIR layer string written as the values go by);
//! serde_json's streaming deserializer can (the [`super::serde_walk`] walker), but with its
//! per-value visitor dispatch it reads ~330 MB/s of header per core, where this scanner reads
//! ~850 MB/s on the bench's real-layout library. It knows the layout (an object of objects with
//! `dtype`, `shape`, `data_offsets`, plus `__metadata__`):
//!
//! * an entry laid out as the `safetensors` writers write it is read by one straight-line path
//!   (`entry_compact`), the general reader taking over on the first difference;
//! * a name is found with `memchr2` for `"` and `\` plus a branch-free control-byte check, and
//!   borrowed; known field names are matched as bytes;
//! * integers are read eight digits at a time with the overflow bound checked, and their JSON
//!   text, which is their decimal form, is what the layer string gets;
//! * nothing is allocated per tensor except what the index keeps (its name and shape).
//!
//! Every other value (unknown fields, odd types) is still read with the full JSON grammar, and
//! each position is read the way the serde walker reads it, because serde_json is not uniform:
//!
//! * where that walker deserializes a value (`deserialize_any`: top-level keys, entries, field
//!   values, `__metadata__`, unknown fields), strings are decoded and a `\u` escape must not leave
//!   a lone surrogate, numbers are converted (one beyond `f64` is an error), and every `[`/`{`
//!   counts against the recursion limit of 128;
//! * where it drains with `IgnoredAny` (elements of an entry that is an array, values inside a
//!   field of the wrong type), serde_json only checks the grammar: lone surrogates and numbers
//!   beyond `f64` pass, and nesting is not limited (serde_json keeps a heap stack there; so does
//!   this scanner, one bit per level). Object keys read through `MapAccess` are still decoded.
//!
//! Numbers that are not plain integers (a fraction, an exponent, `-0`, or beyond 64 bits) are
//! handed to serde_json's own number parser ([`serde_json::from_str`] for `f64`) so their value
//! and range are serde_json's, bit for bit (its float parsing is not the standard library's).
//!
//! serde_json reads numbers differently when its `arbitrary_precision` feature is on (another
//! crate of a build can switch it on: feature unification; the workspace's test build does,
//! through a dev-dependency): a number that is not a plain integer then reaches a visitor as its
//! text, never out of range. The scanner asks serde_json once which reading is in force
//! ([`arbitrary_precision`]) and follows it, so both walkers agree in every build.
//!
//! On anything serde_json would stop at with an error of its own (a syntax error, the recursion
//! limit, the tensor limit, which the serde walker raises as a serde_json error with a position)
//! the scanner returns [`Rejected`] and the caller reads the header again with the serde walker,
//! which reports serde_json's error, line and column included: such a header is read twice, up to
//! where it fails. The metadata-entry limit ends serde_json's walk at the same key with our own
//! error, so the scanner reports it directly. The differential tests in `vs_serde.rs` hold the
//! two walkers to the same verdict and output.
//!
//! No indexing, no panics, no recursion without a bound: the recursive readers (`skip_any`,
//! `repr`) only recurse into containers that pass the recursion limit; the lax reader is a loop.

use std::borrow::Cow;
use std::collections::HashSet;

use mir_core::pyrepr::{self, ITEM_SEP, KEY_SEP};
use xxhash_rust::xxh3::{Xxh3DefaultBuilder, xxh3_128};

use super::{Fields, MAX_NESTED_KEYS, NUMBER_KEY, State, push_number_text};

/// The header is not one serde_json reads to the end (or a limit stopped the walk): read it
/// again with the serde walker for the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rejected;

type R<T> = Result<T, Rejected>;

/// serde_json's recursion limit (`remaining_depth` starts there; reaching 0 is the error).
const RECURSION_LIMIT: u8 = 128;

/// Walks `text`, filling `st` exactly as the serde walker would.
pub(super) fn walk(text: &str, st: &mut State<'_, '_>) -> R<()> {
    let mut s = Scan {
        text,
        b: text.as_bytes(),
        i: 0,
        depth: RECURSION_LIMIT,
        lax: BitStack::default(),
        st,
    };
    s.top()
}

/// A scalar as `deserialize_any` hands it to a visitor.
enum Scalar<'a> {
    Null,
    Bool(bool),
    /// A non-negative integer that fits 64 bits, with its text (which is its decimal form: JSON
    /// allows no leading zeros).
    U64(u64, &'a str),
    /// A negative integer that fits `i64` (not `-0`), as text.
    Neg(&'a str),
    /// Anything else serde_json turns into an `f64`.
    Float(f64),
    /// Anything else, as text, when serde_json has `arbitrary_precision`.
    NumText(&'a str),
    Str(Cow<'a, str>),
}

/// An entry field the scanner knows.
#[derive(Clone, Copy)]
enum Field {
    Dtype,
    Shape,
    Offsets,
    Other,
}

/// A number token as the grammar reads it.
enum Num<'a> {
    U64(u64, &'a str),
    Neg(&'a str),
    Float(&'a str),
}

/// One bit per open container of a lax (`IgnoredAny`) value: set for an object.
#[derive(Default)]
struct BitStack {
    words: Vec<u64>,
    len: usize,
}

impl BitStack {
    fn push(&mut self, object: bool) {
        let (w, b) = (self.len / 64, self.len % 64);
        if b == 0 && w >= self.words.len() {
            self.words.push(0);
        }
        if let Some(word) = self.words.get_mut(w) {
            if object {
                *word |= 1u64 << b;
            } else {
                *word &= !(1u64 << b);
            }
        }
        self.len = self.len.saturating_add(1);
    }

    /// The innermost open container (`Some(true)` for an object), `None` when none is open.
    fn top(&self) -> Option<bool> {
        let at = self.len.checked_sub(1)?;
        let word = self.words.get(at / 64)?;
        Some(word >> (at % 64) & 1 == 1)
    }

    fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
    }
}

/// The first byte of `s` that ends a run of plain string bytes: `"`, `\` or a control byte
/// (below 0x20). Eight bytes at a time (the classic "has zero byte" test; a false positive can
/// only appear above a true one, so the lowest flagged byte is exact).
#[inline]
fn find_special(s: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let mut at = 0usize;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let Ok(a) = <[u8; 8]>::try_from(c) else {
            break;
        };
        let w = u64::from_le_bytes(a);
        let ctrl = w.wrapping_sub(ONES.wrapping_mul(0x20)) & !w;
        let q = w ^ ONES.wrapping_mul(u64::from(b'"'));
        let q = q.wrapping_sub(ONES) & !q;
        let bs = w ^ ONES.wrapping_mul(u64::from(b'\\'));
        let bs = bs.wrapping_sub(ONES) & !bs;
        let m = (ctrl | q | bs) & HIGH;
        if m != 0 {
            return Some(at.wrapping_add((m.trailing_zeros() / 8) as usize));
        }
        at = at.wrapping_add(8);
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|p| at.wrapping_add(p))
}

/// The value and count of the ASCII digits `s` starts with, eight at a time; `None` for 20
/// digits or more (they may not fit 64 bits).
#[inline]
fn leading_digits(s: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    let mut n = 0usize;
    loop {
        let Some(chunk) = s.get(n..n.wrapping_add(8)) else {
            // Fewer than eight bytes left: one at a time.
            for &c in s.get(n..)? {
                let d = c.wrapping_sub(b'0');
                if d > 9 {
                    break;
                }
                v = v.wrapping_mul(10).wrapping_add(u64::from(d));
                n = n.wrapping_add(1);
            }
            return (n < 20).then_some((v, n));
        };
        let w = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).ok()?);
        let (value, k) = eight_digits(w);
        v = v.wrapping_mul(POW10.get(k).copied()?).wrapping_add(value);
        n = n.wrapping_add(k);
        if n >= 20 {
            return None;
        }
        if k < 8 {
            return Some((v, n));
        }
    }
}

const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// The value and count of the leading ASCII digits of eight bytes (first byte lowest). A byte
/// below `'0'` becomes 0xd0 or more after the subtraction (its borrow only disturbs the bytes
/// above it); one above `'9'` has its high bit set once 0x76 is added: so the lowest flagged byte
/// is the first non-digit. The digits are then moved to the top and combined in three steps
/// (pairs, quads, the eight), the classic SWAR conversion.
#[inline]
fn eight_digits(w: u64) -> (u64, usize) {
    const ONES: u64 = u64::MAX / 255;
    let x = w.wrapping_sub(ONES.wrapping_mul(u64::from(b'0')));
    let flags = (x.wrapping_add(ONES.wrapping_mul(0x76)) | x) & (ONES << 7);
    let k = (flags.trailing_zeros() / 8) as usize;
    if k == 0 {
        return (0, 0);
    }
    // Keep the k digits, in the top bytes (zeros below them are leading zeros).
    let x = x.wrapping_shl(8u32.wrapping_mul(8u32.wrapping_sub(k as u32)));
    let x = (x & 0x0f0f_0f0f_0f0f_0f0f).wrapping_mul(2561) >> 8;
    let x = (x & 0x00ff_00ff_00ff_00ff).wrapping_mul(6_553_601) >> 16;
    let x = (x & 0x0000_ffff_0000_ffff).wrapping_mul(42_949_672_960_001) >> 32;
    (x, k)
}

struct Scan<'a, 'b, 's, 'l> {
    text: &'a str,
    b: &'a [u8],
    /// The next byte to read. Only ever moved past bytes that exist, so `i <= b.len()` and every
    /// `wrapping_add` on it is an ordinary addition.
    i: usize,
    /// serde_json's `remaining_depth`.
    depth: u8,
    lax: BitStack,
    st: &'b mut State<'s, 'l>,
}

impl<'a> Scan<'a, '_, '_, '_> {
    // ---- bytes ------------------------------------------------------------------------------

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn bump(&mut self) {
        self.i = self.i.wrapping_add(1);
    }

    /// Skips JSON whitespace (serde_json's set: space, `\n`, `\t`, `\r`) and peeks.
    #[inline]
    fn ws(&mut self) -> Option<u8> {
        loop {
            let c = self.peek()?;
            if matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                self.bump();
            } else {
                return Some(c);
            }
        }
    }

    /// Skips whitespace, then requires and eats `c`.
    #[inline]
    fn eat(&mut self, c: u8) -> R<()> {
        if self.ws() == Some(c) {
            self.bump();
            Ok(())
        } else {
            Err(Rejected)
        }
    }

    /// One level deeper for a container read with `deserialize_any`.
    #[inline]
    fn enter(&mut self) -> R<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.depth == 0 {
            Err(Rejected)
        } else {
            Ok(())
        }
    }

    #[inline]
    fn leave(&mut self) {
        self.depth = self.depth.saturating_add(1);
    }

    fn literal(&mut self, word: &[u8]) -> R<()> {
        match self.b.get(self.i..) {
            Some(rest) if rest.starts_with(word) => {
                self.i = self.i.wrapping_add(word.len());
                Ok(())
            }
            _ => Err(Rejected),
        }
    }

    // ---- containers: serde_json's SeqAccess / MapAccess protocol -----------------------------

    /// Inside `[`: `true` with the cursor on the next element, `false` after the closing `]`.
    #[inline]
    fn seq_next(&mut self, first: &mut bool) -> R<bool> {
        match self.ws() {
            Some(b']') => {
                self.bump();
                Ok(false)
            }
            Some(b',') if !*first => {
                self.bump();
                match self.ws() {
                    Some(b']') | None => Err(Rejected),
                    Some(_) => Ok(true),
                }
            }
            Some(_) if *first => {
                *first = false;
                Ok(true)
            }
            _ => Err(Rejected),
        }
    }

    /// Inside `{`: `true` with the cursor just past the next key's opening quote, `false` after
    /// the closing `}`.
    #[inline]
    fn key_next(&mut self, first: &mut bool) -> R<bool> {
        let next = match self.ws() {
            Some(b'}') => {
                self.bump();
                return Ok(false);
            }
            Some(c) if *first => {
                *first = false;
                c
            }
            Some(b',') => {
                self.bump();
                self.ws().ok_or(Rejected)?
            }
            _ => return Err(Rejected),
        };
        if next == b'"' {
            self.bump();
            Ok(true)
        } else {
            Err(Rejected)
        }
    }

    /// The fast path for an entry's field name (cursor past its opening quote): a known field
    /// spelled without escapes and its `:`, or `None` with the cursor unmoved.
    #[inline]
    fn known_key(&mut self) -> Option<Field> {
        let rest = self.b.get(self.i..)?;
        let (field, len) = match rest.first()? {
            b'd' if rest.starts_with(b"dtype\"") => (Field::Dtype, 6),
            b's' if rest.starts_with(b"shape\"") => (Field::Shape, 6),
            b'd' if rest.starts_with(b"data_offsets\"") => (Field::Offsets, 13),
            _ => return None,
        };
        let at = self.i;
        self.i = self.i.wrapping_add(len);
        if self.eat(b':').is_ok() {
            Some(field)
        } else {
            self.i = at;
            None
        }
    }

    /// A decoded key and the `:` after it (cursor past the key's opening quote).
    #[inline]
    fn key(&mut self) -> R<Cow<'a, str>> {
        let k = self.str_strict()?;
        self.eat(b':')?;
        Ok(k)
    }

    // ---- strings ----------------------------------------------------------------------------

    /// A string read as a Rust `str` (cursor past the opening quote): borrowed when it has no
    /// escape, decoded otherwise; a lone surrogate escape is an error.
    #[inline]
    fn str_strict(&mut self) -> R<Cow<'a, str>> {
        let start = self.i;
        let rest = self.b.get(start..).ok_or(Rejected)?;
        let n = memchr::memchr2(b'"', b'\\', rest).ok_or(Rejected)?;
        // A control byte before the quote or backslash is an error (a branch-free pass the
        // compiler vectorises).
        let run = rest.get(..n).ok_or(Rejected)?;
        if run.iter().fold(false, |ctrl, &b| ctrl | (b < 0x20)) {
            return Err(Rejected);
        }
        let end = start.wrapping_add(n);
        match self.b.get(end) {
            Some(b'"') => {
                self.i = end.wrapping_add(1);
                self.text.get(start..end).map(Cow::Borrowed).ok_or(Rejected)
            }
            Some(b'\\') => self.str_escaped(start, end),
            _ => Err(Rejected),
        }
    }

    /// The rest of a string from its first backslash at `at`.
    #[cold]
    fn str_escaped(&mut self, start: usize, at: usize) -> R<Cow<'a, str>> {
        let mut out = String::from(self.text.get(start..at).ok_or(Rejected)?);
        self.i = at;
        loop {
            // On a backslash.
            self.bump();
            let c = self.peek().ok_or(Rejected)?;
            self.bump();
            match c {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let n = self.hex4()?;
                    let cp = match n {
                        0xDC00..=0xDFFF => return Err(Rejected),
                        0xD800..=0xDBFF => {
                            if self.peek() != Some(b'\\') {
                                return Err(Rejected);
                            }
                            self.bump();
                            if self.peek() != Some(b'u') {
                                return Err(Rejected);
                            }
                            self.bump();
                            let n2 = self.hex4()?;
                            if !(0xDC00..=0xDFFF).contains(&n2) {
                                return Err(Rejected);
                            }
                            ((n.wrapping_sub(0xD800) << 10) | n2.wrapping_sub(0xDC00))
                                .wrapping_add(0x1_0000)
                        }
                        n => n,
                    };
                    out.push(char::from_u32(cp).ok_or(Rejected)?);
                }
                _ => return Err(Rejected),
            }
            let s = self.i;
            let n = self.b.get(s..).and_then(find_special).ok_or(Rejected)?;
            let e = s.wrapping_add(n);
            out.push_str(self.text.get(s..e).ok_or(Rejected)?);
            self.i = e;
            match self.b.get(e) {
                Some(b'"') => {
                    self.bump();
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {}
                _ => return Err(Rejected),
            }
        }
    }

    /// Four hex digits of a `\u` escape.
    fn hex4(&mut self) -> R<u32> {
        let end = self.i.wrapping_add(4);
        let digits = self.b.get(self.i..end).ok_or(Rejected)?;
        let mut n = 0u32;
        for &c in digits {
            let v = char::from(c).to_digit(16).ok_or(Rejected)?;
            n = (n << 4) | v;
        }
        self.i = end;
        Ok(n)
    }

    /// A string only checked (serde_json's `ignore_str`): escapes must be well formed, control
    /// bytes are errors, surrogates are not checked.
    fn str_lax(&mut self) -> R<()> {
        loop {
            let n = self
                .b
                .get(self.i..)
                .and_then(find_special)
                .ok_or(Rejected)?;
            self.i = self.i.wrapping_add(n);
            match self.peek() {
                Some(b'"') => {
                    self.bump();
                    return Ok(());
                }
                Some(b'\\') => {
                    self.bump();
                    match self.peek().ok_or(Rejected)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.bump(),
                        b'u' => {
                            self.bump();
                            self.hex4()?;
                        }
                        _ => return Err(Rejected),
                    }
                }
                _ => return Err(Rejected),
            }
        }
    }

    // ---- numbers ----------------------------------------------------------------------------

    /// A number token (cursor on `-` or a digit), checked against the JSON grammar as serde_json
    /// reads it (one leading zero at most, digits after `.` and after the exponent mark).
    #[inline]
    fn number(&mut self) -> R<Num<'a>> {
        let start = self.i;
        let neg = self.peek() == Some(b'-');
        if neg {
            self.bump();
        }
        let mut v = 0u64;
        let mut wide = false;
        match self.peek() {
            Some(b'0') => {
                self.bump();
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(Rejected);
                }
            }
            Some(b'1'..=b'9') => {
                while let Some(c @ b'0'..=b'9') = self.peek() {
                    match v
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(u64::from(c & 15)))
                    {
                        Some(n) => v = n,
                        None => wide = true,
                    }
                    self.bump();
                }
            }
            _ => return Err(Rejected),
        }
        let mut float = wide;
        if self.peek() == Some(b'.') {
            self.bump();
            self.digits()?;
            float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.bump();
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.bump();
            }
            self.digits()?;
            float = true;
        }
        let text = self.text.get(start..self.i).ok_or(Rejected)?;
        Ok(if float {
            Num::Float(text)
        } else if !neg {
            Num::U64(v, text)
        } else if v == 0 || v > 1 << 63 {
            // serde_json: `-0` and magnitudes beyond `i64` become floats.
            Num::Float(text)
        } else {
            Num::Neg(text)
        })
    }

    /// At least one digit.
    fn digits(&mut self) -> R<()> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(Rejected);
        }
        while let Some(b'0'..=b'9') = self.peek() {
            self.bump();
        }
        Ok(())
    }

    /// A number as `deserialize_any` converts it: a float is serde_json's own `f64` for the
    /// text, and one out of range is an error.
    fn number_any(&mut self) -> R<Scalar<'a>> {
        Ok(match self.number()? {
            Num::U64(v, t) => Scalar::U64(v, t),
            Num::Neg(t) => Scalar::Neg(t),
            Num::Float(t) if arbitrary_precision() => Scalar::NumText(t),
            Num::Float(t) => Scalar::Float(float_of(t)?),
        })
    }

    // ---- values -----------------------------------------------------------------------------

    /// A scalar read with `deserialize_any` (cursor on its first byte `c`).
    fn scalar_any(&mut self, c: u8) -> R<Scalar<'a>> {
        match c {
            b'n' => self.literal(b"null").map(|()| Scalar::Null),
            b't' => self.literal(b"true").map(|()| Scalar::Bool(true)),
            b'f' => self.literal(b"false").map(|()| Scalar::Bool(false)),
            b'-' | b'0'..=b'9' => self.number_any(),
            b'"' => {
                self.bump();
                self.str_strict().map(Scalar::Str)
            }
            _ => Err(Rejected),
        }
    }

    /// A value read with `deserialize_any` by a visitor that drains containers with
    /// `IgnoredAny`: the scalar, or `None` for a container.
    fn any_shallow(&mut self) -> R<Option<Scalar<'a>>> {
        match self.ws().ok_or(Rejected)? {
            b'[' => {
                self.bump();
                self.enter()?;
                let mut first = true;
                while self.seq_next(&mut first)? {
                    self.skip_lax()?;
                }
                self.leave();
                Ok(None)
            }
            b'{' => {
                self.bump();
                self.enter()?;
                let mut first = true;
                while self.key_next(&mut first)? {
                    self.key()?;
                    self.skip_lax()?;
                }
                self.leave();
                Ok(None)
            }
            c => self.scalar_any(c).map(Some),
        }
    }

    /// A value read and dropped with `deserialize_any` all the way down (the serde walker's
    /// `Skip`). Recursion is bounded by the recursion limit.
    fn skip_any(&mut self) -> R<()> {
        match self.ws().ok_or(Rejected)? {
            b'[' => {
                self.bump();
                self.enter()?;
                let mut first = true;
                while self.seq_next(&mut first)? {
                    self.skip_any()?;
                }
                self.leave();
            }
            b'{' => {
                self.bump();
                self.enter()?;
                let mut first = true;
                while self.key_next(&mut first)? {
                    self.key()?;
                    self.skip_any()?;
                }
                self.leave();
            }
            c => {
                self.scalar_any(c)?;
            }
        }
        Ok(())
    }

    /// A value drained with `IgnoredAny` (serde_json's `ignore_value`): grammar only, nesting
    /// unbounded, kept on a bit stack instead of the call stack.
    fn skip_lax(&mut self) -> R<()> {
        let base = self.lax.len;
        loop {
            // A value starts here.
            match self.ws().ok_or(Rejected)? {
                b'n' => self.literal(b"null")?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                }
                b'"' => {
                    self.bump();
                    self.str_lax()?;
                }
                b'[' => {
                    self.bump();
                    if self.ws() == Some(b']') {
                        self.bump();
                    } else {
                        self.lax.push(false);
                        continue;
                    }
                }
                b'{' => {
                    self.bump();
                    match self.ws() {
                        Some(b'}') => self.bump(),
                        Some(b'"') => {
                            self.bump();
                            self.str_lax()?;
                            self.eat(b':')?;
                            self.lax.push(true);
                            continue;
                        }
                        _ => return Err(Rejected),
                    }
                }
                _ => return Err(Rejected),
            }
            // A value ended: close containers until one continues with a comma.
            loop {
                if self.lax.len <= base {
                    return Ok(());
                }
                let object = self.lax.top().ok_or(Rejected)?;
                match self.ws() {
                    Some(b',') => {
                        self.bump();
                        if object {
                            self.eat(b'"')?;
                            self.str_lax()?;
                            self.eat(b':')?;
                        }
                        break;
                    }
                    Some(b']') if !object => {
                        self.bump();
                        self.lax.pop();
                    }
                    Some(b'}') if object => {
                        self.bump();
                        self.lax.pop();
                    }
                    _ => return Err(Rejected),
                }
            }
        }
    }

    /// The fast path for a plain integer of at most 19 digits (which cannot overflow) not
    /// followed by a fraction or exponent, the cursor on its first digit; `None` with the cursor
    /// unmoved for anything else.
    #[inline]
    fn small_uint(&mut self) -> Option<u64> {
        let rest = self.b.get(self.i..)?;
        let (v, n) = leading_digits(rest)?;
        match (n, rest.first(), rest.get(n)) {
            // No digit; a leading zero (an error); a fraction or exponent: the full reader
            // decides.
            (0, ..) | (2.., Some(b'0'), _) | (_, _, Some(b'.' | b'e' | b'E')) => None,
            _ => {
                self.i = self.i.wrapping_add(n);
                Some(v)
            }
        }
    }

    /// `Some` non-negative integer, `None` for any other value (the serde walker's `MaybeU64`).
    #[inline]
    fn maybe_u64(&mut self) -> R<Option<u64>> {
        if let Some(b'0'..=b'9') = self.peek() {
            if let Some(v) = self.small_uint() {
                return Ok(Some(v));
            }
            return Ok(match self.number()? {
                Num::U64(v, _) => Some(v),
                Num::Neg(_) => None,
                Num::Float(t) => {
                    if !arbitrary_precision() {
                        float_of(t)?;
                    }
                    None
                }
            });
        }
        Ok(match self.any_shallow()? {
            Some(Scalar::U64(v, _)) => Some(v),
            _ => None,
        })
    }

    /// A list of at most `max_len` non-negative integers into `st.dims` (the serde walker's
    /// `U64ListSeed`): `false` (the value drained) for anything else.
    #[inline]
    ///
    /// With `layer` (the field's `'name': [` in the layer string), the list is written into the
    /// layer buffer as it is read: each integer's JSON text is its decimal form (no leading
    /// zeros, no sign), so it is copied rather than formatted. What is written for a list that
    /// turns out bad does not matter: the entry, hence the file, is rejected.
    fn u64_list(&mut self, max_len: usize, layer: Option<&str>) -> R<bool> {
        if self.ws() != Some(b'[') {
            self.any_shallow()?;
            return Ok(false);
        }
        self.bump();
        self.enter()?;
        if let Some(label) = layer {
            self.st.layer.buf.push_str(label);
        }
        let mut ok = true;
        let mut first = true;
        while self.seq_next(&mut first)? {
            let start = self.i;
            match self.maybe_u64()? {
                Some(d) if ok && self.st.dims.len() < max_len => {
                    if layer.is_some() {
                        let buf = &mut *self.st.layer.buf;
                        if !self.st.dims.is_empty() {
                            buf.push_str(ITEM_SEP);
                        }
                        buf.push_str(self.text.get(start..self.i).unwrap_or_default());
                    }
                    self.st.dims.push(d);
                }
                _ => ok = false,
            }
        }
        if layer.is_some() {
            self.st.layer.buf.push(']');
        }
        self.leave();
        Ok(ok)
    }

    // ---- the layout -------------------------------------------------------------------------

    fn top(&mut self) -> R<()> {
        if self.ws() != Some(b'{') {
            return Err(Rejected);
        }
        self.bump();
        self.enter()?;
        let on = self.st.layer.enabled;
        let mut first = true;
        while self.key_next(&mut first)? {
            let key = self.key()?;
            if key == "__metadata__" && !self.st.seen_metadata {
                self.st.seen_metadata = true;
                self.metadata()?;
                continue;
            }
            if self.st.entries >= self.st.limits.max_tensors {
                return Err(Rejected);
            }
            self.st.entries = self.st.entries.saturating_add(1);
            let too_long = key.len() > self.st.limits.max_name_bytes;
            if on {
                let buf = &mut *self.st.layer.buf;
                if self.st.entries > 1 {
                    buf.push_str(ITEM_SEP);
                }
                push_repr(buf, &key);
                buf.push_str(KEY_SEP);
            }
            let entry = match self.entry_compact() {
                Some(fields) => Some(fields),
                None => self.entry()?,
            };
            self.st.entry_done(key, too_long, entry);
        }
        self.leave();
        // Only whitespace may follow (writers pad the header with spaces).
        match self.ws() {
            None => Ok(()),
            Some(_) => Err(Rejected),
        }
    }

    /// The fast path for an entry laid out as the `safetensors` writers write it:
    /// `{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]}`, those fields in that order, no
    /// whitespace, no escape, plain integers, the rank within the limit. Read straight through
    /// (what the general reader would give for it, layer string included); on the first
    /// difference the cursor and the layer buffer are put back and `None` sends the entry to the
    /// general reader ([`Self::entry`]). The depth needs no bookkeeping: an entry's lists sit
    /// three levels down, far from the recursion limit, and are closed on the way out.
    #[inline]
    fn entry_compact(&mut self) -> Option<Fields<'a>> {
        let at = self.i;
        let written = self.st.layer.buf.len();
        let fields = self.entry_compact_inner();
        if fields.is_none() {
            self.i = at;
            self.st.layer.buf.truncate(written);
        }
        fields
    }

    fn expect(&mut self, bytes: &[u8]) -> Option<()> {
        let rest = self.b.get(self.i..)?;
        if rest.starts_with(bytes) {
            self.i = self.i.wrapping_add(bytes.len());
            Some(())
        } else {
            None
        }
    }

    fn entry_compact_inner(&mut self) -> Option<Fields<'a>> {
        let on = self.st.layer.enabled;
        self.expect(b"{\"dtype\":\"")?;
        let rest = self.b.get(self.i..)?;
        let n = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest.get(n) != Some(&b'"') {
            return None;
        }
        let end = self.i.wrapping_add(n);
        let dtype = self.text.get(self.i..end)?;
        self.i = end.wrapping_add(1);
        self.expect(b",\"shape\":[")?;
        if on {
            let buf = &mut *self.st.layer.buf;
            buf.push_str("{'dtype': ");
            push_repr(buf, dtype);
            buf.push_str(", 'shape': [");
        }
        self.st.dims.clear();
        if self.peek()? == b']' {
            self.bump();
        } else {
            loop {
                let start = self.i;
                let v = self.small_uint()?;
                if self.st.dims.len() >= self.st.limits.max_rank {
                    return None;
                }
                if on {
                    let buf = &mut *self.st.layer.buf;
                    if !self.st.dims.is_empty() {
                        buf.push_str(ITEM_SEP);
                    }
                    buf.push_str(self.text.get(start..self.i)?);
                }
                self.st.dims.push(v);
                match self.peek()? {
                    b',' => self.bump(),
                    b']' => {
                        self.bump();
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.expect(b",\"data_offsets\":[")?;
        let a_at = self.i;
        let a = self.small_uint()?;
        let a_text = self.text.get(a_at..self.i)?;
        self.expect(b",")?;
        let b_at = self.i;
        let b = self.small_uint()?;
        let b_text = self.text.get(b_at..self.i)?;
        self.expect(b"]}")?;
        if on {
            let buf = &mut *self.st.layer.buf;
            buf.push_str("], 'data_offsets': [");
            buf.push_str(a_text);
            buf.push_str(ITEM_SEP);
            buf.push_str(b_text);
            buf.push_str("]}");
        }
        Some(Fields {
            dtype: Some(Cow::Borrowed(dtype)),
            shape: Some(self.st.dims.as_slice().to_vec()),
            offsets: Some(([a, b], 2)),
            bad_field: None,
        })
    }

    /// One tensor entry: `Some` for an object, `None` for any other value.
    fn entry(&mut self) -> R<Option<Fields<'a>>> {
        if self.ws() != Some(b'{') {
            self.any_shallow()?;
            return Ok(None);
        }
        self.bump();
        self.enter()?;
        let e = self.entry_fields()?;
        self.leave();
        Ok(e)
    }

    /// The fields of an entry object (cursor past its `{`). The layer string of the known
    /// fields is written only when layer hashes are wanted; unknown fields are always written
    /// (and dropped when they are not), as the serde walker does, since whether their objects
    /// repeat a key decides how some odd headers are read.
    fn entry_fields(&mut self) -> R<Option<Fields<'a>>> {
        let on = self.st.layer.enabled;
        let mut e = Fields::new();
        let (mut has_dtype, mut has_shape, mut has_offsets) = (false, false, false);
        let mut first = true;
        let mut first_key = true;
        if on {
            self.st.layer.buf.push('{');
        }
        while self.key_next(&mut first_key)? {
            let (field, key) = match self.known_key() {
                Some(f) => (f, Cow::Borrowed("")),
                None => {
                    let key = self.key()?;
                    if first && key == NUMBER_KEY {
                        self.skip_lax()?;
                        self.eat(b'}')?;
                        return Ok(None);
                    }
                    let field = match key.as_ref() {
                        "dtype" => Field::Dtype,
                        "shape" => Field::Shape,
                        "data_offsets" => Field::Offsets,
                        _ => Field::Other,
                    };
                    (field, key)
                }
            };
            if !first && on {
                self.st.layer.buf.push_str(ITEM_SEP);
            }
            first = false;
            match field {
                Field::Dtype if has_dtype => {
                    self.skip_any()?;
                    e.bad_field = Some("dtype appears more than once");
                }
                Field::Shape if has_shape => {
                    self.skip_any()?;
                    e.bad_field = Some("shape appears more than once");
                }
                Field::Offsets if has_offsets => {
                    self.skip_any()?;
                    e.bad_field = Some("data_offsets appears more than once");
                }
                Field::Dtype => {
                    has_dtype = true;
                    e.dtype = if self.ws() == Some(b'"') {
                        self.bump();
                        Some(self.str_strict()?)
                    } else {
                        match self.any_shallow()? {
                            Some(Scalar::Str(s)) => Some(s),
                            _ => None,
                        }
                    };
                    match &e.dtype {
                        Some(d) => {
                            if on {
                                let buf = &mut *self.st.layer.buf;
                                buf.push_str("'dtype': ");
                                push_repr(buf, d);
                            }
                        }
                        None => e.bad_field = Some("dtype is not a string"),
                    }
                }
                Field::Shape => {
                    has_shape = true;
                    self.st.dims.clear();
                    let layer = on.then_some("'shape': [");
                    if self.u64_list(self.st.limits.max_rank, layer)? {
                        e.shape = Some(self.st.dims.as_slice().to_vec());
                    } else {
                        e.bad_field = Some(
                            "shape is not a list of non-negative integers within the rank limit",
                        );
                    }
                }
                Field::Offsets => {
                    has_offsets = true;
                    self.st.dims.clear();
                    if self.u64_list(2, on.then_some("'data_offsets': ["))? {
                        let mut pair = [0u64; 2];
                        for (slot, v) in pair.iter_mut().zip(self.st.dims.iter()) {
                            *slot = *v;
                        }
                        e.offsets = Some((pair, self.st.dims.len()));
                    } else {
                        e.bad_field = Some("data_offsets is not a list of two integers");
                    }
                }
                Field::Other => {
                    if !on {
                        // The known fields were not written: keep the buffer from growing.
                        self.st.layer.buf.clear();
                    }
                    let buf = &mut *self.st.layer.buf;
                    pyrepr::push_str(buf, &key);
                    buf.push_str(KEY_SEP);
                    self.repr()?;
                }
            }
        }
        if on {
            self.st.layer.buf.push('}');
        }
        Ok(Some(e))
    }

    /// `__metadata__`: null, or an object of strings read straight into the index (the serde
    /// walker's `MetadataSeed`).
    fn metadata(&mut self) -> R<()> {
        match self.ws().ok_or(Rejected)? {
            b'{' => {
                self.bump();
                self.enter()?;
                self.metadata_map()?;
                self.leave();
            }
            b'[' => {
                self.bump();
                self.enter()?;
                let mut first = true;
                while self.seq_next(&mut first)? {
                    self.skip_any()?;
                }
                self.leave();
                self.not_object();
            }
            c => {
                if !matches!(self.scalar_any(c)?, Scalar::Null) {
                    self.not_object();
                }
            }
        }
        Ok(())
    }

    fn not_object(&mut self) {
        self.st
            .meta_err
            .get_or_insert(crate::SafetensorsError::MetadataNotObject);
    }

    fn metadata_map(&mut self) -> R<()> {
        let limit = self.st.limits.max_metadata_entries;
        let mut count = 0u64;
        let mut meta = std::collections::BTreeMap::new();
        let mut first = true;
        while self.key_next(&mut first)? {
            let key = self.key()?;
            if count == 0 && key == NUMBER_KEY {
                self.skip_lax()?;
                self.not_object();
                return self.eat(b'}');
            }
            count = count.saturating_add(1);
            if count > limit {
                // serde_json has read the same prefix without error and stops at this key too,
                // with this error (not one of its own): reported as is, without a second read.
                self.st.fatal = Some(crate::SafetensorsError::TooManyMetadataEntries { limit });
                return Err(Rejected);
            }
            if self.st.meta_err.is_some() {
                self.skip_any()?;
                continue;
            }
            let value = if self.ws() == Some(b'"') {
                self.bump();
                Some(self.str_strict()?)
            } else {
                self.skip_any()?;
                None
            };
            match value {
                Some(v) => {
                    meta.insert(key.into_owned(), mir_core::MetaValue::Str(v.into_owned()));
                }
                None => {
                    self.st.meta_err = Some(crate::SafetensorsError::MetadataNotString {
                        key: key.into_owned(),
                    });
                }
            }
        }
        if self.st.meta_err.is_none() {
            self.st.index.metadata = meta;
        }
        Ok(())
    }

    /// Python's `repr` of an unknown field's value as `json.loads` builds it, written into the
    /// layer buffer as it is read (the serde walker's `ReprSeed`). Recursion is bounded by the
    /// recursion limit.
    fn repr(&mut self) -> R<()> {
        match self.ws().ok_or(Rejected)? {
            b'[' => {
                self.bump();
                self.enter()?;
                self.st.layer.buf.push('[');
                let mut first = true;
                let mut first_el = true;
                loop {
                    let sep_at = self.st.layer.buf.len();
                    if !first {
                        self.st.layer.buf.push_str(ITEM_SEP);
                    }
                    if !self.seq_next(&mut first_el)? {
                        self.st.layer.buf.truncate(sep_at);
                        break;
                    }
                    self.repr()?;
                    first = false;
                    self.st.layer.maybe_flush();
                }
                self.st.layer.buf.push(']');
                self.leave();
            }
            b'{' => {
                self.bump();
                self.enter()?;
                self.repr_map()?;
                self.leave();
            }
            c => {
                let scalar = self.scalar_any(c)?;
                let buf = &mut *self.st.layer.buf;
                match scalar {
                    Scalar::Null => pyrepr::push_none(buf),
                    Scalar::Bool(v) => pyrepr::push_bool(buf, v),
                    Scalar::U64(_, t) | Scalar::Neg(t) => buf.push_str(t),
                    Scalar::Float(f) => pyrepr::push_float(buf, f),
                    Scalar::NumText(t) => push_number_text(buf, t),
                    Scalar::Str(s) => {
                        pyrepr::push_str(buf, &s);
                        self.st.layer.maybe_flush();
                    }
                }
            }
        }
        Ok(())
    }

    fn repr_map(&mut self) -> R<()> {
        // Python keeps the first position and the last value of a repeated key; rather than
        // buffer the object to rewrite it, a repeat makes the layer string "not reproducible".
        let mut keys: HashSet<u128, Xxh3DefaultBuilder> = HashSet::default();
        let mut first = true;
        let mut first_key = true;
        let at = self.st.layer.buf.len();
        self.st.layer.buf.push('{');
        while self.key_next(&mut first_key)? {
            let key = self.key()?;
            if first && key == NUMBER_KEY {
                // The serde walker reads the value as a number's decimal text.
                self.st.layer.buf.truncate(at);
                if self.ws() != Some(b'"') {
                    return Err(Rejected);
                }
                self.bump();
                let text = self.str_strict()?;
                push_number_text(self.st.layer.buf, &text);
                return self.eat(b'}');
            }
            let layer = &mut self.st.layer;
            layer.nested_keys = layer.nested_keys.saturating_add(1);
            if layer.nested_keys > MAX_NESTED_KEYS || !keys.insert(xxh3_128(key.as_bytes())) {
                layer.broken = true;
            }
            if layer.broken {
                self.skip_any()?;
                continue;
            }
            if !first {
                layer.buf.push_str(ITEM_SEP);
            }
            first = false;
            pyrepr::push_str(layer.buf, &key);
            layer.buf.push_str(KEY_SEP);
            self.repr()?;
            self.st.layer.maybe_flush();
        }
        self.st.layer.buf.push('}');
        Ok(())
    }
}

/// `repr` of a name or dtype ([`pyrepr::push_str`]) with its common case checked in one
/// branch-free (vectorised) pass: printable ASCII without `'` or `\\` is copied between quotes,
/// exactly as `push_str`'s own fast path does; anything else goes to `push_str`.
#[inline]
fn push_repr(buf: &mut String, s: &str) {
    let plain = s.bytes().fold(true, |ok, b| {
        ok & (0x20..0x7f).contains(&b) & (b != b'\'') & (b != b'\\')
    });
    if plain {
        buf.reserve(s.len().saturating_add(2));
        buf.push('\'');
        buf.push_str(s);
        buf.push('\'');
    } else {
        pyrepr::push_str(buf, s);
    }
}

/// Whether serde_json is built with `arbitrary_precision` here: it then hands `deserialize_any`
/// a number that is not a plain integer as a one-entry map of its text (the serde walker's
/// `NUMBER_KEY`), without a range check, where it otherwise converts it to an `f64` and rejects
/// one out of range. Asked once, of serde_json itself.
fn arbitrary_precision() -> bool {
    use serde::de::{Deserializer as _, MapAccess, Visitor};
    struct Probe;
    impl<'de> Visitor<'de> for Probe {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a number")
        }
        fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<bool, A::Error> {
            Ok(true)
        }
    }
    static AP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AP.get_or_init(|| {
        serde_json::Deserializer::from_str("1.5")
            .deserialize_any(Probe)
            .unwrap_or(false)
    })
}

/// serde_json's `f64` for a number token (its own float parser, not the standard library's),
/// and its verdict that the number is out of range.
#[cold]
fn float_of(text: &str) -> R<f64> {
    serde_json::from_str::<f64>(text).map_err(|_| Rejected)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn find_special_finds_the_first_quote_backslash_or_control_byte() {
        for len in 0..40 {
            for at in 0..len {
                for special in [b'"', b'\\', 0u8, 0x1f] {
                    let mut s = vec![b'a'; len];
                    // Bytes that are near the specials must not be taken for them.
                    for (i, b) in s.iter_mut().enumerate() {
                        *b = [b'a', 0x20, b'#', b'[', 0x7f, 0x80, 0xff, b'!'][i % 8];
                    }
                    s[at] = special;
                    if at + 1 < len {
                        s[at + 1] = b'"';
                    }
                    assert_eq!(find_special(&s), Some(at), "{s:?}");
                }
            }
            let plain = vec![b'x'; len];
            assert_eq!(find_special(&plain), None);
        }
    }

    #[test]
    fn leading_digits_agrees_with_a_plain_loop() {
        let plain = |s: &[u8]| -> Option<(u64, usize)> {
            let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
            if n >= 20 {
                return None;
            }
            let v = std::str::from_utf8(&s[..n]).unwrap().parse().unwrap_or(0);
            Some((v, n))
        };
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for n in 0..24 {
            for tail in [
                &b""[..],
                b",",
                b"]",
                b"/",
                b":",
                b".5",
                b"e1",
                b" ",
                b"\xff",
                b"\x00",
            ] {
                for digit in [b'0', b'1', b'7', b'9'] {
                    let mut s: Vec<u8> = (0..n).map(|i| [digit, b'3', b'8', b'0'][i % 4]).collect();
                    s.extend_from_slice(tail);
                    s.extend_from_slice(b"123");
                    cases.push(s.clone());
                    s.truncate(n + tail.len());
                    cases.push(s);
                }
            }
        }
        cases.push(b"18446744073709551615".to_vec());
        cases.push(b"9999999999999999999,".to_vec());
        cases.push(b"99999999".to_vec());
        for c in cases {
            assert_eq!(
                leading_digits(&c),
                plain(&c),
                "{:?}",
                String::from_utf8_lossy(&c)
            );
        }
    }

    #[test]
    fn the_number_reading_in_force_is_detected() {
        // With `arbitrary_precision`, serde_json reads 1e400 without a range error.
        let ap = serde_json::from_str::<serde_json::Value>("1e400").is_ok();
        assert_eq!(arbitrary_precision(), ap);
    }

    #[test]
    fn bit_stack_keeps_kinds_across_words() {
        let mut s = BitStack::default();
        let kinds: Vec<bool> = (0..200).map(|i| i % 3 == 0).collect();
        for &k in &kinds {
            s.push(k);
        }
        for &k in kinds.iter().rev() {
            assert_eq!(s.top(), Some(k));
            s.pop();
        }
        assert_eq!(s.top(), None);
    }
}
