//! Every key pattern of every rule, compiled together into one matcher per view kind (issue 19).
//!
//! Before, each rule tested each of its patterns against the sorted view of a file (a binary
//! search to the pattern's literal prefix, then a glob test name after name), so the same names
//! were looked at again and again by hundreds of rules. Now:
//!
//! * **at load time** every distinct pattern of the rules' layouts (`require`, `require_any`,
//!   `forbid`, shape and derive keys) is interned once ([`Interner`]; a rule holds [`PatId`]s),
//!   separately for the key view (model and component rules) and the adapter view (adapter
//!   rules), and compiled into a [`PatternTable`]:
//!   - literal patterns (most of them: exact tensor names) go into a hash map;
//!   - a wildcard pattern whose literal prefix holds a segment separator goes into a bucket keyed
//!     by that first segment (`double_blocks.*.img_attn.qkv.weight` → `double_blocks`; in the
//!     adapter view, whose module paths are joined with `_`, `_` separates too:
//!     `unet/double_blocks_19_**` → `unet/double`);
//!   - the rest (`unet/**`, `unet/**double_blocks**`, `<*>`: a few dozen) are *deferred*;
//! * **at classify time** each name of a view goes through the table once ([`Hits::collect`]):
//!   one hash lookup of its first segment (a name whose first segment starts no pattern stops
//!   there), one of the whole name when a literal pattern starts that way, then a glob test of
//!   the few bucket candidates. The result is, for every pattern, the positions of the names it
//!   matches, so a rule's `require` is an array lookup, a rule whose required key is absent is
//!   rejected without touching a name, and a shape test looks only at the names its pattern
//!   matches. A deferred pattern is matched against the view's names the first time a rule asks
//!   for it, once per view (most never are: a rule stops at its first layout that holds); a
//!   literal inside it (`double_blocks`) is searched first with a prebuilt substring searcher.
//!
//! Every candidate is confirmed with the same glob matcher as before ([`Pattern::matches`]), so
//! the table answers exactly what testing every pattern on every name answers (tests compare
//! the two on every fixture).

use std::cell::OnceCell;

use crate::glob::{Pattern, has_prefix, has_suffix};

/// A hash map with a fast hasher for short strings (tensor names), seeded per process.
pub(crate) type FastMap<K, V> = foldhash::HashMap<K, V>;

/// A pattern of a [`PatternTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PatId(usize);

/// Collects the distinct patterns of one view kind while the rules are compiled.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    ids: FastMap<String, PatId>,
    patterns: Vec<Pattern>,
}

impl Interner {
    /// The id of `text`, compiling it the first time it is seen.
    pub(crate) fn intern(&mut self, text: &str) -> PatId {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = PatId(self.patterns.len());
        self.patterns.push(Pattern::new(text));
        self.ids.insert(text.to_owned(), id);
        id
    }

    /// Compiles the patterns seen. `adapter`: the names are adapter-view paths
    /// (`target/module.part`), whose first segment also ends at a `_`.
    pub(crate) fn finish(self, adapter: bool) -> PatternTable {
        PatternTable::new(self.patterns, adapter)
    }
}

/// How a pattern is found in a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// An exact name: the literal map.
    Literal,
    /// By the first segment of its literal prefix.
    Head,
    /// Matched on first use (slot in the view's deferred results).
    Deferred(usize),
}

/// A deferred pattern's prefilter: a literal every name it matches contains, when that literal
/// is not simply the pattern's prefix (which the glob matcher tests first anyway).
struct Deferred {
    pattern: usize,
    inner: Option<memchr::memmem::Finder<'static>>,
}

/// The distinct patterns of one view kind, compiled for matching every name once.
pub(crate) struct PatternTable {
    patterns: Vec<Pattern>,
    routes: Vec<Route>,
    adapter: bool,
    /// Exact names → the literal pattern that is that name.
    literal: FastMap<Box<str>, usize>,
    /// First segment ([`head`]) → wildcard patterns whose names start with it, and whether a
    /// literal pattern starts with it (a name whose first segment is not here is no literal
    /// pattern: one hash of the short first segment spares the hash of the whole name).
    by_head: FastMap<Box<str>, (Vec<usize>, bool)>,
    /// Some literal pattern has no separator (it has no first segment).
    headless_literal: bool,
    /// Bit `n` (`n` < 63) is set when some key of `by_head` is `n` bytes long, bit 63 when one
    /// is longer: a name whose first segment has another length is in no bucket, found without
    /// hashing it (a LoRA's key view is all 40- to 60-byte kohya first segments).
    head_lengths: u64,
    deferred: Vec<Deferred>,
}

impl std::fmt::Debug for PatternTable {
    /// The patterns only: the indexes are built from them (and hash maps print in a random
    /// order, which would make two equal rule sets print differently).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatternTable")
            .field("adapter", &self.adapter)
            .field(
                "patterns",
                &self.patterns.iter().map(Pattern::text).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The first segment of a name: up to its first `.` (adapter view: its first `.` or `_`, as
/// adapter-view module paths are joined with `_`: `unet/double_blocks_3_…` → `unet/double`);
/// `None` without a separator.
fn head(s: &str, adapter: bool) -> Option<&str> {
    let b = s.as_bytes();
    let at = if adapter {
        memchr::memchr2(b'.', b'_', b)
    } else {
        memchr::memchr(b'.', b)
    };
    at.and_then(|i| s.get(..i))
}

/// The bit of [`PatternTable::head_lengths`] for a first segment of `len` bytes.
fn length_bit(len: usize) -> u64 {
    1u64 << len.min(63)
}

impl PatternTable {
    fn new(patterns: Vec<Pattern>, adapter: bool) -> PatternTable {
        let mut t = PatternTable {
            patterns: Vec::new(),
            routes: Vec::with_capacity(patterns.len()),
            adapter,
            literal: FastMap::default(),
            by_head: FastMap::default(),
            headless_literal: false,
            head_lengths: 0,
            deferred: Vec::new(),
        };
        for (i, p) in patterns.iter().enumerate() {
            let route = if p.is_literal() {
                t.literal.insert(p.text().into(), i);
                match head(p.text(), adapter) {
                    Some(h) => t.by_head.entry(h.into()).or_default().1 = true,
                    None => t.headless_literal = true,
                }
                Route::Literal
            } else if let Some(h) = head(p.literal_prefix(), adapter) {
                // A name the pattern matches starts with the prefix, so it has the same head.
                t.by_head.entry(h.into()).or_default().0.push(i);
                Route::Head
            } else {
                let anchor = p.anchor();
                t.deferred.push(Deferred {
                    pattern: i,
                    inner: (!anchor.is_empty() && anchor != p.literal_prefix())
                        .then(|| memchr::memmem::Finder::new(anchor).into_owned()),
                });
                Route::Deferred(t.deferred.len().saturating_sub(1))
            };
            t.routes.push(route);
        }
        for h in t.by_head.keys() {
            t.head_lengths |= length_bit(h.len());
        }
        t.patterns = patterns;
        t
    }

    /// The number of patterns.
    pub(crate) fn len(&self) -> usize {
        self.patterns.len()
    }

    /// A pattern by id.
    pub(crate) fn get(&self, id: PatId) -> Option<&Pattern> {
        self.patterns.get(id.0)
    }

    /// A pattern's text ("" for an unknown id).
    pub(crate) fn text(&self, id: PatId) -> &str {
        self.get(id).map_or("", Pattern::text)
    }

    /// Every pattern with its id (for tests comparing the table with the plain scan).
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (PatId, &Pattern)> {
        self.patterns.iter().enumerate().map(|(i, p)| (PatId(i), p))
    }

    /// Calls `hit(pattern)` for every literal and bucketed pattern that matches `name` (the
    /// deferred ones are left to [`Hits::of`]).
    fn match_name(&self, name: &str, mut hit: impl FnMut(usize)) {
        let (bucket, literal) = match head(name, self.adapter) {
            Some(h) if self.head_lengths & length_bit(h.len()) == 0 => return,
            Some(h) => match self.by_head.get(h) {
                Some((list, literal)) => (list.as_slice(), *literal),
                None => return,
            },
            None => (&[][..], self.headless_literal),
        };
        if literal && let Some(&i) = self.literal.get(name) {
            hit(i);
        }
        for &i in bucket {
            if self.patterns.get(i).is_some_and(|p| p.matches(name)) {
                hit(i);
            }
        }
    }

    /// The positions of the names a deferred pattern matches.
    fn match_deferred<'n>(&self, slot: usize, names: impl Iterator<Item = &'n str>) -> Vec<usize> {
        let Some(d) = self.deferred.get(slot) else {
            return Vec::new();
        };
        let Some(p) = self.patterns.get(d.pattern) else {
            return Vec::new();
        };
        let prefix = p.literal_prefix();
        let suffix = p.literal_suffix();
        names
            .enumerate()
            .filter(|(_, n)| {
                // The prefix first (it tells the adapter view's targets apart at once), the
                // suffix, then the inner literal, then the whole pattern.
                has_prefix(n, prefix)
                    && has_suffix(n, suffix)
                    && d.inner
                        .as_ref()
                        .is_none_or(|f| f.find(n.as_bytes()).is_some())
                    && p.matches(n)
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// What the matcher found in one view: for every pattern of the table, the positions (in view
/// order) of the names it matches.
#[derive(Debug, Default)]
pub(crate) struct Hits {
    /// `start[p]..start[p + 1]` is pattern `p`'s range of `positions` (literal and bucketed
    /// patterns).
    start: Vec<usize>,
    positions: Vec<usize>,
    /// The deferred patterns' positions, filled on first use.
    deferred: Vec<OnceCell<Vec<usize>>>,
}

impl Hits {
    /// Runs every name through the table once.
    pub(crate) fn collect<'n>(table: &PatternTable, names: impl Iterator<Item = &'n str>) -> Hits {
        let n = table.len();
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        for (pos, name) in names.enumerate() {
            table.match_name(name, |p| pairs.push((p, pos)));
        }
        // Group by pattern, keeping view order within a pattern (a counting sort).
        let mut start = vec![0usize; n.saturating_add(1)];
        for &(p, _) in &pairs {
            if let Some(c) = start.get_mut(p.saturating_add(1)) {
                *c = c.saturating_add(1);
            }
        }
        for i in 1..start.len() {
            let prev = start.get(i.saturating_sub(1)).copied().unwrap_or(0);
            if let Some(c) = start.get_mut(i) {
                *c = c.saturating_add(prev);
            }
        }
        let mut fill: Vec<usize> = start.clone();
        let mut positions = vec![0usize; pairs.len()];
        for (p, pos) in pairs {
            if let Some(at) = fill.get_mut(p)
                && let Some(slot) = positions.get_mut(*at)
            {
                *slot = pos;
                *at = at.saturating_add(1);
            }
        }
        Hits {
            start,
            positions,
            deferred: std::iter::repeat_with(OnceCell::new)
                .take(table.deferred.len())
                .collect(),
        }
    }

    /// Whether pattern `p`'s matches are known without looking at a name (it is not deferred,
    /// or was matched already).
    pub(crate) fn ready(&self, table: &PatternTable, p: PatId) -> bool {
        match table.routes.get(p.0) {
            Some(Route::Deferred(slot)) => {
                self.deferred.get(*slot).is_some_and(|c| c.get().is_some())
            }
            _ => true,
        }
    }

    /// The positions of the names pattern `p` matches, in view order. `names` gives the view's
    /// names (in view order) for a deferred pattern's first use.
    pub(crate) fn of<'n, I: Iterator<Item = &'n str>>(
        &self,
        table: &PatternTable,
        p: PatId,
        names: impl FnOnce() -> I,
    ) -> &[usize] {
        if let Some(Route::Deferred(slot)) = table.routes.get(p.0)
            && let Some(cell) = self.deferred.get(*slot)
        {
            return cell.get_or_init(|| table.match_deferred(*slot, names()));
        }
        let a = self.start.get(p.0).copied().unwrap_or(0);
        let b = self.start.get(p.0.saturating_add(1)).copied().unwrap_or(a);
        self.positions.get(a..b).unwrap_or(&[])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn table(pats: &[&str], adapter: bool) -> (PatternTable, Vec<PatId>) {
        let mut i = Interner::default();
        let ids = pats.iter().map(|p| i.intern(p)).collect();
        (i.finish(adapter), ids)
    }

    fn plain(t: &PatternTable, names: &[&str]) -> Vec<Vec<usize>> {
        t.patterns
            .iter()
            .map(|p| {
                names
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| p.matches(n))
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn interning_gives_one_id_per_text() {
        let (t, ids) = table(&["a.b", "a.*.c", "a.b", "**"], false);
        assert_eq!(t.len(), 3);
        assert_eq!(ids[0], ids[2]);
        assert_ne!(ids[0], ids[1]);
        assert_eq!(t.get(ids[1]).unwrap().text(), "a.*.c");
    }

    #[test]
    fn every_route_finds_what_the_plain_scan_finds() {
        let pats = [
            "double_blocks.*.img_attn.qkv.weight",
            "double_blocks.0.img_attn.qkv.weight",
            "img_in.weight",
            "<*>",
            "**",
            "**.weight",
            "x*",
            "unet/**attn2_to_k.down",
            "unet/double_blocks_*_img_mlp_0.up",
            "unet/**double_blocks**",
            "unet/double_blocks_19_**",
            "te2/**",
            "aa*aa",
        ];
        let names = [
            "double_blocks.0.img_attn.qkv.weight",
            "double_blocks.10.img_attn.qkv.weight",
            "double_blocks.x.y.img_attn.qkv.weight",
            "img_in.weight",
            "img_in.weightx",
            "<tok>",
            "<>",
            "x",
            "xy.z",
            "unet/input_blocks_4_1_transformer_blocks_0_attn2_to_k.down",
            "unet/double_blocks_19_img_mlp_0.up",
            "unet/double_blocks_3_img_mlp_0.up",
            "unet/xdouble_blocksx.up",
            "te2/a.down",
            "aaa",
            "aaaa",
            "aaaaa",
            "",
        ];
        for adapter in [false, true] {
            let (t, _) = table(&pats, adapter);
            let hits = Hits::collect(&t, names.iter().copied());
            let want = plain(&t, &names);
            for (p, w) in want.iter().enumerate() {
                let got = hits.of(&t, PatId(p), || names.iter().copied());
                assert_eq!(got, w.as_slice(), "{}", t.patterns[p].text());
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn hits_agree_with_testing_every_pattern_on_every_name(
            pats in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::sample::select(vec!["a", "b", ".", "_", "/", "*", "**", "1", "é"]),
                    0..6,
                ),
                1..8,
            ),
            names in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::sample::select(vec!["a", "b", ".", "_", "/", "1", "10", "é"]),
                    0..8,
                ),
                0..12,
            ),
            adapter in proptest::bool::ANY,
        ) {
            let pats: Vec<String> = pats.into_iter().map(|p| p.concat()).collect();
            let names: Vec<String> = names.into_iter().map(|n| n.concat()).collect();
            let refs: Vec<&str> = pats.iter().map(String::as_str).collect();
            let (t, _) = table(&refs, adapter);
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let hits = Hits::collect(&t, names.iter().copied());
            let want = plain(&t, &names);
            for (p, w) in want.iter().enumerate() {
                let got = hits.of(&t, PatId(p), || names.iter().copied());
                proptest::prop_assert_eq!(got, w.as_slice(), "{}", t.patterns[p].text());
            }
        }
    }
}
