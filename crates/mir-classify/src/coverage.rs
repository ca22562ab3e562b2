//! The open-world check: how much of a file the winning rule's `groups` explain.
//!
//! A tensor is explained when one of the rule's groups (or a `benign` pattern of `layout.toml`)
//! matches its normalised name or a prefix of it ending right before a `.` (adapter view: before
//! a `.` or `_`), or when it lives under a bundle part whose component was recognised. What is
//! left is named by module group (see [`group_name`]) so the evidence can say what the family
//! does not have.

use std::collections::BTreeMap;

use crate::glob::Pattern;
use crate::matcher::FastMap;

/// At most this many unexplained groups are listed (the largest first).
pub(crate) const MAX_LISTED: usize = 24;

/// How much of a file the winning rule explains.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Coverage {
    /// Share of tensors explained, 0.0..=1.0 (1.0 for a file without tensors).
    pub tensors: f64,
    /// Share of parameters (elements) explained, 0.0..=1.0.
    pub parameters: f64,
    /// Tensors looked at.
    pub tensors_total: usize,
    /// Tensors no group, benign pattern or bundle component explains.
    pub tensors_unexplained: usize,
    /// The unexplained module groups, most tensors first (at most 24 listed).
    pub unexplained: Vec<UnexplainedGroup>,
    /// How many further unexplained groups were not listed.
    pub unexplained_more: usize,
}

impl Coverage {
    /// True when every tensor is explained.
    pub fn is_full(&self) -> bool {
        self.tensors_unexplained == 0
    }
}

/// A module group of a file that the winning rule does not declare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnexplainedGroup {
    /// The group, e.g. `vace_blocks.*.proj_in`, `double_stream_modulation_img`,
    /// `unet/double_blocks_*_img` (adapter view).
    pub group: String,
    /// Its tensors.
    pub tensors: usize,
    /// Its parameters (elements).
    pub parameters: u64,
}

/// The number of elements of a shape (1 for a scalar), saturating.
pub(crate) fn elements(shape: &[u64]) -> u64 {
    shape.iter().fold(1u64, |a, &d| a.saturating_mul(d))
}

/// Per-pass cache of explained-ness by key skeleton: one slot per skeleton id (see
/// [`skeleton_ids`]), 0 = not computed yet, 1 = unexplained, 2 = explained.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    seen: Vec<u8>,
}

/// Whether a pattern's result is the same for every key that differs only in the digits of its
/// block indices (see [`write_skeleton`]): true when every run of digits in the pattern directly
/// follows an ASCII letter (`attn2`, `te1`), so that only wildcards can meet a block index of a
/// key (validation forbids `***`, so two wildcards never touch).
pub(crate) fn run_blind(p: &str) -> bool {
    let b = p.as_bytes();
    let mut i = 0usize;
    while let Some(&c) = b.get(i) {
        if c.is_ascii_digit() {
            let before = i.checked_sub(1).and_then(|j| b.get(j));
            if !before.is_some_and(u8::is_ascii_alphabetic) {
                return false;
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i = i.saturating_add(1);
            }
        } else {
            i = i.saturating_add(1);
        }
    }
    true
}

/// Writes the skeleton of `key` into `out`: the key with every digit of its block indices
/// written `0`, a block index being a run of digits that does not follow an ASCII letter
/// (adapter-view paths join the module path with `_`: `unet/input_blocks_4_11_proj_in.down` →
/// `unet/input_blocks_0_00_proj_in.down`, while `attn2` and `te1` stay). The skeleton keeps the
/// key's length: one copy and one pass, and keys with one skeleton differ only in index digits.
fn write_skeleton(key: &str, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(key.as_bytes());
    let mut i = 0usize;
    while let Some(&c) = out.get(i) {
        if !c.is_ascii_digit() {
            i = i.saturating_add(1);
            continue;
        }
        let start = i;
        while out.get(i).is_some_and(u8::is_ascii_digit) {
            i = i.saturating_add(1);
        }
        // The byte before a run is not a digit (the run is maximal), so never rewritten.
        let before = start.checked_sub(1).and_then(|j| out.get(j)).copied();
        if !before.is_some_and(|x| x.is_ascii_alphabetic()) {
            out.get_mut(start..i)
                .into_iter()
                .flatten()
                .for_each(|x| *x = b'0');
        }
    }
}

/// Gives every key a skeleton id ([`write_skeleton`]); keys with the same skeleton share an id.
/// Computed once per view and shared by every rule's coverage pass, so a rule's pass does one
/// array lookup per key instead of building and hashing the skeleton again.
pub(crate) fn skeleton_ids<'k>(keys: impl Iterator<Item = &'k str>) -> Vec<u32> {
    let mut map: FastMap<Box<[u8]>, u32> = FastMap::default();
    let mut buf = Vec::new();
    keys.map(|key| {
        write_skeleton(key, &mut buf);
        if let Some(&id) = map.get(buf.as_slice()) {
            return id;
        }
        let next = u32::try_from(map.len()).unwrap_or(u32::MAX);
        map.insert(buf.as_slice().into(), next);
        next
    })
    .collect()
}

/// The skeleton written the plain way (a character at a time), the reference for
/// [`write_skeleton`].
#[cfg(test)]
fn skeleton_plain(key: &str) -> String {
    let mut out = String::new();
    let mut prev: Option<char> = None;
    let mut zeroing = false;
    for c in key.chars() {
        if c.is_ascii_digit() {
            if !prev.is_some_and(|p| p.is_ascii_digit()) {
                zeroing = !prev.is_some_and(|p| p.is_ascii_alphabetic());
            }
            out.push(if zeroing { '0' } else { c });
        } else {
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

/// A rule's key-view `groups` as a trie of module-path segments, built with the groups (issue
/// 19): a key is explained when a path from the root spells a prefix of its segments, so a key
/// costs one hash lookup per segment instead of a glob test per group of its bucket. A group
/// whose segments are each a literal or exactly `*` is a path (`*` an edge that takes any
/// non-empty segment); `x.**` marks `x` as explaining everything below it; the few other
/// groups (`accum_*`, `**._extra_state`) are tested one by one. It answers what testing every
/// group with [`Pattern::matches_module`] answers (a test compares them).
#[derive(Debug)]
pub(crate) struct GroupTrie {
    nodes: Vec<TrieNode>,
    /// Groups that are not segment paths, by position in the rule's list.
    others: Vec<usize>,
}

#[derive(Debug, Default)]
struct TrieNode {
    children: FastMap<Box<str>, usize>,
    star: Option<usize>,
    /// A group ends here: a key whose segments reach this node is explained.
    end: bool,
    /// A group `….**` ends here: a key that goes on past this node's segment is explained.
    below: bool,
}

impl GroupTrie {
    /// Builds the trie of a (key-view) rule's groups.
    pub(crate) fn new(groups: &[Pattern]) -> GroupTrie {
        let mut t = GroupTrie {
            nodes: vec![TrieNode::default()],
            others: Vec::new(),
        };
        for (i, p) in groups.iter().enumerate() {
            let text = p.text();
            let (path, below) = match text.strip_suffix(".**") {
                Some(head) => (head, true),
                None => (text, false),
            };
            let plain = |seg: &str| !seg.is_empty() && (seg == "*" || !seg.contains('*'));
            if path.is_empty() || !path.split('.').all(plain) {
                t.others.push(i);
                continue;
            }
            let mut at = 0usize;
            for seg in path.split('.') {
                at = t.child(at, seg);
            }
            if let Some(n) = t.nodes.get_mut(at) {
                if below {
                    n.below = true;
                } else {
                    n.end = true;
                }
            }
        }
        t
    }

    /// The child of `node` along `seg`, created if missing.
    fn child(&mut self, node: usize, seg: &str) -> usize {
        let next = self.nodes.len();
        let existing = self.nodes.get(node).and_then(|n| {
            if seg == "*" {
                n.star
            } else {
                n.children.get(seg).copied()
            }
        });
        if let Some(c) = existing {
            return c;
        }
        self.nodes.push(TrieNode::default());
        if let Some(n) = self.nodes.get_mut(node) {
            if seg == "*" {
                n.star = Some(next);
            } else {
                n.children.insert(seg.into(), next);
            }
        }
        next
    }

    /// Whether some group explains `key` (`groups`: the rule's groups, for the ones tested one
    /// by one).
    pub(crate) fn explains(&self, key: &str, groups: &[Pattern]) -> bool {
        self.walk(0, key)
            || self
                .others
                .iter()
                .any(|&i| groups.get(i).is_some_and(|p| p.matches_module(key, false)))
    }

    /// Whether a path from `node` spells a prefix of the segments of `rest`. The recursion is
    /// as deep as the trie (each level takes one segment), whatever the key.
    fn walk(&self, node: usize, rest: &str) -> bool {
        let Some(n) = self.nodes.get(node) else {
            return false;
        };
        let (seg, after) = match memchr::memchr(b'.', rest.as_bytes()) {
            Some(i) => (rest.get(..i).unwrap_or(""), rest.get(i.saturating_add(1)..)),
            None => (rest, None),
        };
        let step = |c: usize| {
            self.nodes
                .get(c)
                .is_some_and(|cn| cn.end || after.is_some_and(|a| cn.below || self.walk(c, a)))
        };
        if let Some(&c) = n.children.get(seg)
            && step(c)
        {
            return true;
        }
        match n.star {
            Some(c) if !seg.is_empty() => step(c),
            // As the glob matcher: a final `*` also takes the empty rest of a key that ends
            // with a dot.
            Some(c) => after.is_none() && self.nodes.get(c).is_some_and(|cn| cn.end),
            None => false,
        }
    }
}

/// A rule's groups indexed by their literal first segment, built at load time: a key is only
/// tested against the groups of its own first segment plus those whose first segment holds a
/// wildcard. Segments end at `.`; for adapter rules also at `_` (adapter-view paths join the
/// module path with `_`: `unet/input_blocks_4_1_…` is in the bucket `unet/input`), since a
/// group's prefix may end before either there.
#[derive(Debug, Default)]
pub(crate) struct GroupIndex {
    by_head: FastMap<String, Vec<usize>>,
    general: Vec<usize>,
    /// Key-view groups `**.X` (`X` a plain segment): such a group explains a key exactly when
    /// one of its segments after the first is `X` (`**.scale_weight`), tested as that instead of
    /// a search for `.X` in every key.
    segments: Vec<Box<str>>,
    adapter: bool,
}

/// The first segment of `s`: up to the first `.` (or, for adapter-view paths, `_`), and whether
/// a separator was found.
fn head(s: &str, adapter: bool) -> (&str, bool) {
    let end = if adapter {
        memchr::memchr2(b'.', b'_', s.as_bytes())
    } else {
        memchr::memchr(b'.', s.as_bytes())
    };
    match end {
        Some(i) => (s.get(..i).unwrap_or(s), true),
        None => (s, false),
    }
}

impl GroupIndex {
    /// Whether a segment of `key` after its first is one of the `**.X` groups' `X`.
    fn segment_hit(&self, key: &str) -> bool {
        !self.segments.is_empty()
            && key
                .split('.')
                .skip(1)
                .any(|seg| self.segments.iter().any(|x| x.as_ref() == seg))
    }

    /// Indexes `groups` (`adapter`: the rule is matched on the adapter view).
    pub(crate) fn new(groups: &[Pattern], adapter: bool) -> GroupIndex {
        let mut ix = GroupIndex {
            adapter,
            ..GroupIndex::default()
        };
        for (i, p) in groups.iter().enumerate() {
            if !adapter
                && let Some(x) = p.text().strip_prefix("**.")
                && !x.is_empty()
                && !x.contains(['.', '*'])
            {
                ix.segments.push(x.into());
                continue;
            }
            let lit = p.literal_prefix();
            // A key the group matches starts with `lit`, so its first segment is `lit`'s when
            // `lit` holds a separator; a literal group is followed in the key by a separator or
            // nothing, so its first segment is its own. Otherwise it is unknown.
            let h = match head(lit, adapter) {
                (h, true) => Some(h),
                (h, false) if lit == p.text() => Some(h),
                _ => None,
            };
            match h {
                Some(h) => ix.by_head.entry(h.to_owned()).or_default().push(i),
                None => ix.general.push(i),
            }
        }
        ix
    }
}

/// What explains tensors for one rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Explainer<'r> {
    pub(crate) groups: &'r [Pattern],
    /// `groups` indexed by first segment.
    pub(crate) index: &'r GroupIndex,
    pub(crate) benign: &'r [Pattern],
    /// `benign` indexed by first segment, like `groups`.
    pub(crate) benign_index: &'r GroupIndex,
    /// `groups` as a trie (key-view rules); when present it answers for the groups.
    pub(crate) trie: Option<&'r GroupTrie>,
    /// Adapter-view paths: a prefix may also end before `_`; benign patterns do not apply.
    pub(crate) adapter: bool,
    /// Every group is [`run_blind`]: results may be cached per key skeleton.
    pub(crate) memo: bool,
}

impl Explainer<'_> {
    /// [`Explainer::explains`], cached per key skeleton (`skeleton` is the key's id from
    /// [`skeleton_ids`]) when the patterns allow it.
    pub(crate) fn explains_memo(&self, key: &str, skeleton: u32, memo: &mut Memo) -> bool {
        if !self.memo || skeleton == u32::MAX {
            return self.explains(key);
        }
        let slot = usize::try_from(skeleton).unwrap_or(usize::MAX);
        if let Some(&v) = memo.seen.get(slot)
            && v != 0
        {
            return v == 2;
        }
        let v = self.explains(key);
        if slot >= memo.seen.len() && slot < usize::MAX {
            memo.seen.resize(slot.saturating_add(1), 0);
        }
        if let Some(s) = memo.seen.get_mut(slot) {
            *s = if v { 2 } else { 1 };
        }
        v
    }

    /// Whether a key of the view is explained by the groups (or, outside the adapter view, by a
    /// benign pattern).
    pub(crate) fn explains(&self, key: &str) -> bool {
        if let Some(t) = self.trie {
            return t.explains(key, self.groups) || (!self.adapter && self.benign_only(key));
        }
        let (head, _) = head(key, self.index.adapter);
        let hit = |i: &usize| {
            self.groups
                .get(*i)
                .is_some_and(|p| p.matches_module(key, self.adapter))
        };
        self.index
            .by_head
            .get(head)
            .is_some_and(|v| v.iter().any(hit))
            || self.index.general.iter().any(hit)
            || self.index.segment_hit(key)
            || (!self.adapter && self.benign_only(key))
    }

    /// Whether a benign pattern explains a (normalised, non-adapter) key.
    pub(crate) fn benign_only(&self, key: &str) -> bool {
        let (head, _) = head(key, false);
        let hit = |i: &usize| {
            self.benign
                .get(*i)
                .is_some_and(|p| p.matches_module(key, false))
        };
        self.benign_index
            .by_head
            .get(head)
            .is_some_and(|v| v.iter().any(hit))
            || self.benign_index.general.iter().any(hit)
            || self.benign_index.segment_hit(key)
    }
}

/// Accumulates explained / unexplained tensors.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    tensors: usize,
    params: u64,
    unexplained: usize,
    unexplained_params: u64,
    groups: BTreeMap<String, (usize, u64)>,
}

impl Tally {
    /// Counts one tensor; `adapter` names unexplained adapter-view paths by `_` segments.
    pub(crate) fn add(&mut self, key: &str, shape: &[u64], explained: bool, adapter: bool) {
        let n = elements(shape);
        self.tensors = self.tensors.saturating_add(1);
        self.params = self.params.saturating_add(n);
        if !explained {
            self.unexplained = self.unexplained.saturating_add(1);
            self.unexplained_params = self.unexplained_params.saturating_add(n);
            let g = self
                .groups
                .entry(group_name(key, adapter))
                .or_insert((0, 0));
            g.0 = g.0.saturating_add(1);
            g.1 = g.1.saturating_add(n);
        }
    }

    /// Tensors counted as unexplained so far.
    pub(crate) fn unexplained(&self) -> usize {
        self.unexplained
    }

    /// The coverage figures.
    pub(crate) fn finish(self) -> Coverage {
        let share = |bad: u64, all: u64| {
            if all == 0 {
                1.0
            } else {
                1.0 - (bad as f64 / all as f64)
            }
        };
        let mut groups: Vec<UnexplainedGroup> = self
            .groups
            .into_iter()
            .map(|(group, (tensors, parameters))| UnexplainedGroup {
                group,
                tensors,
                parameters,
            })
            .collect();
        groups.sort_by(|a, b| b.tensors.cmp(&a.tensors).then(a.group.cmp(&b.group)));
        let more = groups.len().saturating_sub(MAX_LISTED);
        groups.truncate(MAX_LISTED);
        Coverage {
            tensors: share(self.unexplained as u64, self.tensors as u64),
            parameters: share(self.unexplained_params, self.params),
            tensors_total: self.tensors,
            tensors_unexplained: self.unexplained,
            unexplained: groups,
            unexplained_more: more,
        }
    }
}

fn is_index(seg: &str) -> bool {
    !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit())
}

/// Names the module group of an unexplained key: the key cut after the first run of numeric
/// segments (written `*`) plus one more segment, or its first segment when it has no numeric
/// segment; the leaf (`weight`, `bias`, an adapter part) is never part of it.
///
/// `vace_blocks.0.proj_in.weight` → `vace_blocks.*.proj_in`;
/// `input_blocks.1.0.time_stack.in_layers.0.weight` → `input_blocks.*.*.time_stack`;
/// `double_stream_modulation_img.lin.weight` → `double_stream_modulation_img`;
/// adapter view `unet/double_blocks_0_img_attn_qkv.down` → `unet/double_blocks_*_img`.
pub(crate) fn group_name(key: &str, adapter: bool) -> String {
    let (head, path, sep) = if adapter {
        let (target, rest) = key.split_once('/').unwrap_or(("", key));
        let module = rest.rsplit_once('.').map_or(rest, |(m, _)| m);
        (format!("{target}/"), module, '_')
    } else {
        let path = key.rsplit_once('.').map_or(key, |(m, _)| m);
        (String::new(), path, '.')
    };
    let segs: Vec<&str> = path.split(sep).collect();
    let mut out: Vec<&str> = Vec::new();
    match segs.iter().position(|s| is_index(s)) {
        // Adapter module paths are one `_`-joined name: keep it whole.
        None if adapter => out.extend(segs.iter()),
        None => out.extend(segs.first()),
        Some(i) => {
            out.extend(segs.iter().take(i));
            let mut j = i;
            while segs.get(j).is_some_and(|s| is_index(s)) {
                out.push("*");
                j = j.saturating_add(1);
            }
            out.extend(segs.get(j));
        }
    }
    let sep = sep.to_string();
    format!("{head}{}", out.join(&sep))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_named_compactly() {
        assert_eq!(
            group_name("vace_blocks.0.proj_in.weight", false),
            "vace_blocks.*.proj_in"
        );
        assert_eq!(
            group_name("input_blocks.1.0.time_stack.in_layers.0.weight", false),
            "input_blocks.*.*.time_stack"
        );
        assert_eq!(
            group_name("double_stream_modulation_img.lin.weight", false),
            "double_stream_modulation_img"
        );
        assert_eq!(
            group_name("zz_future_embedder.weight", false),
            "zz_future_embedder"
        );
        assert_eq!(group_name("v_pred", false), "v_pred");
        assert_eq!(group_name("time_embed.0.weight", false), "time_embed.*");
        assert_eq!(
            group_name("unet/double_blocks_0_img_attn_qkv.down", true),
            "unet/double_blocks_*_img"
        );
        assert_eq!(group_name("te/text_model.down", true), "te/text_model");
    }

    #[test]
    fn the_skeleton_cache_gives_the_answers_of_the_groups() {
        let groups = vec![
            Pattern::new("unet/input_blocks_*_*_in_layers"),
            Pattern::new("unet/out_*_attn2"),
        ];
        assert!(groups.iter().all(|p| run_blind(p.text())));
        let index = GroupIndex::new(&groups, true);
        let ex = Explainer {
            groups: &groups,
            index: &index,
            benign: &[],
            benign_index: &GroupIndex::default(),
            trie: None,
            adapter: true,
            memo: true,
        };
        let mut m = Memo::default();
        let cases = [
            ("unet/input_blocks_1_0_in_layers_0.down", true),
            ("unet/input_blocks_4_0_in_layers_2.up", true),
            ("unet/input_blocks_4_0_time_stack_0.down", false),
            ("unet/out_2_attn2.down", true),
            ("unet/out_2_attn1.down", false),
            ("unet/input_blocks_7_3_in_layers_9.down", true),
            ("unet/out_5_attn1.down", false),
        ];
        let ids = skeleton_ids(cases.iter().map(|c| c.0));
        // Same skeleton, same id; different skeleton, different id.
        assert_eq!(ids[0], ids[5]);
        assert_eq!(ids[4], ids[6]);
        assert_ne!(ids[0], ids[1]);
        for ((k, want), id) in cases.into_iter().zip(ids) {
            assert_eq!(ex.explains_memo(k, id, &mut m), want, "{k}");
            assert_eq!(ex.explains_memo(k, id, &mut m), want, "{k} (cached)");
        }
    }

    proptest::proptest! {
        /// The trie answers what testing every group answers, on any key (groups made of the
        /// same pieces, including the forms it leaves to the plain test).
        #[test]
        fn trie_agrees_with_every_group(
            groups in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::sample::select(vec!["a", "b", "1", ".", "*", "**", "_", ".**", "a*"]),
                    1..5,
                ),
                1..6,
            ),
            key in proptest::collection::vec(
                proptest::sample::select(vec!["a", "b", "1", ".", "_", "ab", "é"]), 0..9),
        ) {
            let groups: Vec<Pattern> = groups.iter().map(|g| Pattern::new(&g.concat())).collect();
            let key = key.concat();
            let trie = GroupTrie::new(&groups);
            let want = groups.iter().any(|p| p.matches_module(&key, false));
            proptest::prop_assert_eq!(trie.explains(&key, &groups), want, "{:?} on {:?}",
                groups.iter().map(Pattern::text).collect::<Vec<_>>(), key);
        }
    }

    #[test]
    fn trie_paths_and_leftovers() {
        let groups: Vec<Pattern> = [
            "input_blocks.*.*.in_layers",
            "time_embed",
            "vision_tower.**",
            "accum_*",
            "a.*",
        ]
        .into_iter()
        .map(Pattern::new)
        .collect();
        let t = GroupTrie::new(&groups);
        assert_eq!(t.others, [3]);
        for (k, want) in [
            ("input_blocks.4.1.in_layers.0.weight", true),
            ("input_blocks.4.1.in_layers", true),
            ("input_blocks.4.in_layers.0.weight", false),
            ("input_blocks..1.in_layers.0", false),
            ("time_embed.0.weight", true),
            ("time_embedding.weight", false),
            ("vision_tower.x", true),
            ("vision_tower.", true),
            ("vision_tower", false),
            ("accum_grad", true),
            ("a.", true),
            ("a..x", false),
        ] {
            assert_eq!(t.explains(k, &groups), want, "{k}");
        }
    }

    proptest::proptest! {
        #[test]
        fn skeletons_are_the_plain_ones(
            key in proptest::collection::vec(
                proptest::sample::select(vec!["a", "1", "23", ".", "_", "é", "b0", "/"]), 0..10),
        ) {
            let key = key.concat();
            let mut buf = Vec::new();
            write_skeleton(&key, &mut buf);
            proptest::prop_assert_eq!(String::from_utf8(buf).unwrap(), skeleton_plain(&key));
        }

        /// A run-blind pattern gives the same answer on a key and on its run skeleton (the
        /// reason the adapter view's coverage may be cached per skeleton).
        #[test]
        fn run_blind_patterns_cannot_tell_a_key_from_its_skeleton(
            pat in proptest::collection::vec(
                proptest::sample::select(vec!["a", "a1", "_", ".", "*", "**", "1", "/"]), 0..6),
            key in proptest::collection::vec(
                proptest::sample::select(vec!["a", "a1", "_", ".", "1", "22", "/", "0"]), 0..10),
            underscore in proptest::bool::ANY,
        ) {
            let pat = pat.concat();
            proptest::prop_assume!(!pat.contains("***"));
            let p = Pattern::new(&pat);
            let key = key.concat();
            let mut buf = Vec::new();
            write_skeleton(&key, &mut buf);
            let skel = String::from_utf8(buf).unwrap();
            if run_blind(&pat) {
                proptest::prop_assert_eq!(
                    p.matches_module(&key, underscore),
                    p.matches_module(&skel, underscore),
                    "{} on {} / {}", pat, key, skel
                );
            }
        }
    }

    #[test]
    fn run_skeletons_and_blindness() {
        let mut buf = Vec::new();
        write_skeleton("unet/input_blocks_4_11_attn2_to_k.down", &mut buf);
        assert_eq!(buf, b"unet/input_blocks_0_00_attn2_to_k.down");
        write_skeleton("te1/layers.12.x", &mut buf);
        assert_eq!(buf, b"te1/layers.00.x");
        for p in [
            "unet/double_blocks_*",
            "te1/**",
            "unet/**attn2_to_k",
            "lora_*.alpha",
        ] {
            assert!(run_blind(p), "{p}");
        }
        for p in [
            "unet/double_blocks_19",
            "a.1",
            "*1",
            "1a",
            "time_embedding.linear_1",
        ] {
            assert!(!run_blind(p), "{p}");
        }
    }

    #[test]
    fn adapter_buckets_give_the_same_answers_as_every_group() {
        let groups: Vec<Pattern> = [
            "unet/input_blocks_*",
            "unet/img_in",
            "unet/time*",
            "te1/**",
            "unet/double_blocks_*_img_attn",
            "te2/encoder",
        ]
        .into_iter()
        .map(Pattern::new)
        .collect();
        let index = GroupIndex::new(&groups, true);
        let ex = Explainer {
            groups: &groups,
            index: &index,
            benign: &[],
            benign_index: &GroupIndex::default(),
            trie: None,
            adapter: true,
            memo: false,
        };
        for k in [
            "unet/input_blocks_4_1_proj_in.down",
            "unet/input.down",
            "unet/img_in.down",
            "unet/img_in_x.down",
            "unet/img_out.down",
            "unet/time_in_in_layer.down",
            "unet/timestep.up",
            "te1/text_model_encoder_layers_0_mlp_fc1.down",
            "unet/double_blocks_3_img_attn_qkv.down",
            "unet/double_blocks_3_txt_attn_qkv.down",
            "te2/encoder_layers_0.down",
            "te2/encoders.down",
            "te3/x.down",
        ] {
            let brute = groups.iter().any(|p| p.matches_module(k, true));
            assert_eq!(ex.explains(k), brute, "{k}");
        }
        assert!(ex.explains("unet/input_blocks_4_1_proj_in.down"));
        assert!(!ex.explains("unet/img_out.down"));
    }

    #[test]
    fn tally_shares_and_lists() {
        let mut t = Tally::default();
        t.add("a.weight", &[10, 10], true, false);
        t.add("b.0.x.weight", &[10, 5], false, false);
        t.add("b.1.x.weight", &[10, 5], false, false);
        t.add("c", &[], true, false);
        let c = t.finish();
        assert_eq!(c.tensors_total, 4);
        assert_eq!(c.tensors_unexplained, 2);
        assert!((c.tensors - 0.5).abs() < 1e-9);
        assert!((c.parameters - 101.0 / 201.0).abs() < 1e-9);
        assert_eq!(
            c.unexplained,
            vec![UnexplainedGroup {
                group: "b.*.x".into(),
                tensors: 2,
                parameters: 100
            }]
        );
        assert!(!c.is_full());
        assert!(Tally::default().finish().is_full());
    }
}
