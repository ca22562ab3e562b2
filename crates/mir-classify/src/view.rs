//! Views of an index that rules match against: tensor names with wrapper prefixes removed
//! (the "keys" view), and adapter tensors rewritten to `target/module.part` (the "adapter" view).

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::glob::Pattern;
use crate::rules::{AdapterSuffix, AdapterTarget};

/// Removes wrapper prefixes (`model.diffusion_model.`, `module.`, …) and PEFT's `.default`
/// adapter name from a tensor name.
///
/// Prefixes are stripped repeatedly, longest first, so `module.model.diffusion_model.x` becomes
/// `x`. Returns the normalised name and how many leading bytes were removed.
pub fn normalize_key(name: &str, strip_prefixes: &[String]) -> (String, usize) {
    let mut rest = name;
    let mut removed = 0usize;
    // A handful of rounds is enough for every real layout and bounds the work on odd names.
    for _ in 0..6 {
        let hit = strip_prefixes
            .iter()
            .filter(|p| rest.starts_with(p.as_str()) && rest.len() > p.len())
            .max_by_key(|p| p.len());
        match hit {
            Some(p) => {
                rest = rest.get(p.len()..).unwrap_or("");
                removed = removed.saturating_add(p.len());
            }
            None => break,
        }
    }
    let out = if rest.contains(".default.") {
        rest.replace(".default.", ".")
    } else {
        rest.to_owned()
    };
    (out, removed)
}

/// `s.contains(".default.")` (PEFT's adapter name), by looking at each `.` of `s`: `contains`
/// builds a two-way searcher on every call, which cost more than the search on every tensor
/// name of every file.
pub(crate) fn has_default(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter()
        .enumerate()
        .any(|(i, &c)| c == b'.' && b.get(i..).is_some_and(|t| t.starts_with(b".default.")))
}

/// Where `_processor_` occurs in `s` (the diffusers attention-processor segment), by looking
/// at each `_`, without building a two-way searcher per tensor.
fn find_processor(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    b.iter()
        .enumerate()
        .position(|(i, &c)| c == b'_' && b.get(i..).is_some_and(|t| t.starts_with(b"_processor_")))
}

/// The wrapper prefixes of `layout.toml`, compiled once at load time for [`normalize_key`]'s
/// job: bucketed by first byte and ordered longest first, so each round of stripping compares a
/// name against the two or three prefixes that start like it instead of every prefix.
///
/// `Stripper::normalize(n)` equals `normalize_key(n, prefixes)` for every name (a test checks
/// it on the fixtures' names); `normalize_key` stays the plain reference version.
#[derive(Debug, Default)]
pub(crate) struct Stripper {
    /// Prefixes by first byte, longest first (ties: later in the list first, like `max_by_key`).
    buckets: Vec<Vec<String>>,
}

impl Stripper {
    /// Compiles a prefix list.
    pub(crate) fn new(prefixes: &[String]) -> Stripper {
        let mut buckets: Vec<Vec<(usize, String)>> = vec![Vec::new(); 256];
        for (i, p) in prefixes.iter().enumerate() {
            if let Some(b) = p
                .as_bytes()
                .first()
                .and_then(|&b| buckets.get_mut(usize::from(b)))
            {
                b.push((i, p.clone()));
            }
            // An empty prefix never strips anything (`rest.len() > 0` and no progress), so it
            // is left out.
        }
        let buckets = buckets
            .into_iter()
            .map(|mut b| {
                b.sort_by(|x, y| y.1.len().cmp(&x.1.len()).then(y.0.cmp(&x.0)));
                b.into_iter().map(|(_, p)| p).collect()
            })
            .collect();
        Stripper { buckets }
    }

    /// Same as [`normalize_key`] with the compiled prefixes.
    pub(crate) fn normalize(&self, name: &str) -> (String, usize) {
        let (out, removed) = self.normalize_cow(name);
        (out.into_owned(), removed)
    }

    /// [`Stripper::normalize`], borrowing the name's tail unless `.default.` must go (so the
    /// key view allocates nothing per tensor).
    pub(crate) fn normalize_cow<'n>(&self, name: &'n str) -> (Cow<'n, str>, usize) {
        let mut rest = name;
        let mut removed = 0usize;
        for _ in 0..6 {
            let bucket = rest
                .as_bytes()
                .first()
                .and_then(|&b| self.buckets.get(usize::from(b)));
            let hit = bucket.and_then(|b| {
                b.iter()
                    .find(|p| rest.len() > p.len() && rest.starts_with(p.as_str()))
            });
            match hit {
                Some(p) => {
                    rest = rest.get(p.len()..).unwrap_or("");
                    removed = removed.saturating_add(p.len());
                }
                None => break,
            }
        }
        let out = if has_default(rest) {
            Cow::Owned(rest.replace(".default.", "."))
        } else {
            Cow::Borrowed(rest)
        };
        (out, removed)
    }
}

/// The adapter suffixes of `layout.toml` (`.lora_down.weight`, `.hada_w1_a`, …), compiled at
/// load time: bucketed by last byte and ordered longest first, so a tensor name is compared with
/// the few suffixes that end like it (most names of a base model end in `t` of `weight`, which
/// holds only the suffixes ending in `weight`).
#[derive(Debug, Default)]
pub(crate) struct SuffixIndex {
    /// Positions into the suffix list by last byte, longest first (ties: later first).
    buckets: Vec<Vec<usize>>,
    /// Per bucket: the length `k` of its shortest suffix and the sorted, distinct last `k`
    /// bytes of its suffixes. A name whose last `k` bytes are not among them ends with none of
    /// the bucket's suffixes: one binary search rejects most tensor names of a base model (the
    /// `…weight` bucket holds a dozen suffixes).
    tails: Vec<(usize, Vec<Vec<u8>>)>,
}

impl SuffixIndex {
    /// Compiles a suffix list.
    pub(crate) fn new(suffixes: &[AdapterSuffix]) -> SuffixIndex {
        let mut buckets: Vec<Vec<usize>> = vec![Vec::new(); 256];
        for (i, s) in suffixes.iter().enumerate() {
            if let Some(b) = s
                .suffix
                .as_bytes()
                .last()
                .and_then(|&b| buckets.get_mut(usize::from(b)))
            {
                b.push(i);
            }
        }
        for b in &mut buckets {
            b.sort_by(|&x, &y| {
                let len = |i: usize| suffixes.get(i).map_or(0, |s| s.suffix.len());
                len(y).cmp(&len(x)).then(y.cmp(&x))
            });
        }
        let tails = buckets
            .iter()
            .map(|b| {
                let k = b
                    .iter()
                    .filter_map(|&i| suffixes.get(i))
                    .map(|s| s.suffix.len())
                    .min()
                    .unwrap_or(0);
                let mut t: Vec<Vec<u8>> = b
                    .iter()
                    .filter_map(|&i| suffixes.get(i))
                    .filter_map(|s| {
                        let x = s.suffix.as_bytes();
                        x.get(x.len().saturating_sub(k)..).map(<[u8]>::to_vec)
                    })
                    .collect();
                t.sort();
                t.dedup();
                (k, t)
            })
            .collect();
        SuffixIndex { buckets, tails }
    }

    /// The longest suffix `name` ends with (and is longer than), as `max_by_key` over the list
    /// would pick it. An empty suffix is never picked (no rule file has one).
    pub(crate) fn longest<'s>(
        &self,
        name: &str,
        suffixes: &'s [AdapterSuffix],
    ) -> Option<&'s AdapterSuffix> {
        let last = usize::from(*name.as_bytes().last()?);
        let bucket = self.buckets.get(last)?;
        if let Some((k, tails)) = self.tails.get(last) {
            let n = name.as_bytes();
            let tail = n.get(n.len().checked_sub(*k)?..)?;
            if tails.binary_search_by(|t| t.as_slice().cmp(tail)).is_err() {
                return None;
            }
        }
        bucket
            .iter()
            .filter_map(|&i| suffixes.get(i))
            .find(|s| name.len() > s.suffix.len() && name.ends_with(s.suffix.as_str()))
    }
}

/// A sorted list of (name, shape) pairs, searched by pattern.
#[derive(Debug, Default)]
pub(crate) struct KeyView<'a> {
    /// Names borrowed from the index where normalising only strips a prefix.
    entries: Vec<(Cow<'a, str>, &'a [u64])>,
    /// Skeleton id of each entry (`coverage::skeleton_ids`), computed on first use.
    skeletons: std::cell::OnceCell<Vec<u32>>,
}

impl<'a> KeyView<'a> {
    /// Builds a view from names and shapes, normalising each name.
    pub(crate) fn build(
        items: impl Iterator<Item = (&'a str, &'a [u64])>,
        strip: &Stripper,
    ) -> KeyView<'a> {
        let mut entries: Vec<(Cow<'a, str>, &'a [u64])> =
            items.map(|(n, s)| (strip.normalize_cow(n).0, s)).collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        KeyView {
            entries,
            skeletons: std::cell::OnceCell::new(),
        }
    }

    /// Builds a view from already-final names (the adapter view).
    pub(crate) fn from_entries(entries: Vec<(String, &'a [u64])>) -> KeyView<'a> {
        let mut entries: Vec<(Cow<'a, str>, &'a [u64])> = entries
            .into_iter()
            .map(|(k, s)| (Cow::Owned(k), s))
            .collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        KeyView {
            entries,
            skeletons: std::cell::OnceCell::new(),
        }
    }

    /// Every (name, shape), in name order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &'a [u64])> + '_ {
        self.entries.iter().map(|(k, s)| (k.as_ref(), *s))
    }

    /// The skeleton id of every name, in name order (computed once, shared by every rule's
    /// coverage pass). Names at positions in `skip` (the bundle parts, the same ranges for every
    /// rule) get `u32::MAX` and no work.
    pub(crate) fn skeletons(&self, skip: &[std::ops::Range<usize>]) -> &[u32] {
        self.skeletons.get_or_init(|| {
            crate::coverage::skeleton_ids(
                self.iter()
                    .enumerate()
                    .map(|(i, (k, _))| (!skip.iter().any(|r| r.contains(&i))).then_some(k)),
            )
        })
    }

    /// The positions of the names that start with `prefix` (contiguous: the view is sorted).
    pub(crate) fn prefix_range(&self, prefix: &str) -> std::ops::Range<usize> {
        let start = self.entries.partition_point(|(k, _)| k.as_ref() < prefix);
        let len = self
            .entries
            .get(start..)
            .unwrap_or(&[])
            .partition_point(|(k, _)| k.starts_with(prefix));
        start..start.saturating_add(len)
    }

    /// True when the view holds no names.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every (name, shape) the pattern matches, in name order.
    pub(crate) fn find<'v>(
        &'v self,
        p: &'v Pattern,
    ) -> impl Iterator<Item = (&'v str, &'a [u64])> + 'v {
        let prefix = p.literal_prefix();
        let start = self.entries.partition_point(|(k, _)| k.as_ref() < prefix);
        let range = self.entries.get(start..).unwrap_or(&[]);
        let end = range.partition_point(|(k, _)| k.starts_with(prefix));
        Find {
            entries: range.get(..end).unwrap_or(&[]),
            pattern: p,
            segment: p.segment_form(),
        }
    }

    /// Every (name, shape) the pattern matches, tested one by one (the reference for the jumps of
    /// [`KeyView::find`]).
    #[cfg(test)]
    pub(crate) fn find_plain<'v>(
        &'v self,
        p: &'v Pattern,
    ) -> impl Iterator<Item = (&'v str, &'a [u64])> + 'v {
        self.entries
            .iter()
            .filter(move |(k, _)| p.matches(k))
            .map(|(k, s)| (k.as_ref(), *s))
    }

    /// The first (name, shape) the pattern matches.
    pub(crate) fn first<'v>(&'v self, p: &'v Pattern) -> Option<(&'v str, &'a [u64])> {
        self.find(p).next()
    }
}

/// The matches of a pattern among the names of a view that start with its literal prefix.
struct Find<'v, 'a> {
    /// What is left of that range.
    entries: &'v [(Cow<'a, str>, &'a [u64])],
    pattern: &'v Pattern,
    /// The pattern is `prefix*.rest` ([`Pattern::segment_form`]): then every name that starts
    /// with `prefix` + one segment + `.` can match only as `prefix` + segment + `.rest`, so the
    /// search looks that one name up in the block of names sharing the segment (sorted, so a
    /// contiguous block) and jumps over the block: a few binary searches per block index
    /// (`double_blocks.0.`, `double_blocks.1.`, …) instead of testing every name.
    segment: Option<(&'v str, &'v str)>,
}

impl<'v, 'a> Iterator for Find<'v, 'a> {
    type Item = (&'v str, &'a [u64]);

    fn next(&mut self) -> Option<Self::Item> {
        let Some((prefix, rest)) = self.segment else {
            let (i, (k, s)) = self
                .entries
                .iter()
                .enumerate()
                .find(|(_, (k, _))| self.pattern.matches(k))?;
            self.entries = self.entries.get(i.saturating_add(1)..).unwrap_or(&[]);
            return Some((k.as_ref(), *s));
        };
        loop {
            let (first, _) = self.entries.first()?;
            let tail = first.get(prefix.len()..).unwrap_or("");
            let Some(dot) = tail.find('.').filter(|&d| d > 0) else {
                // No segment (or an empty one) before a dot: this name cannot match.
                self.entries = self.entries.get(1..).unwrap_or(&[]);
                continue;
            };
            let stem_len = prefix.len().saturating_add(dot);
            let block_prefix = first.get(..stem_len.saturating_add(1)).unwrap_or("");
            let block_len = self
                .entries
                .partition_point(|(k, _)| k.starts_with(block_prefix));
            let block = self.entries.get(..block_len.max(1)).unwrap_or(&[]);
            self.entries = self.entries.get(block_len.max(1)..).unwrap_or(&[]);
            // In the block every name starts with the stem, so they sort by what follows it.
            fn after(k: &str, n: usize) -> &str {
                k.get(n..).unwrap_or("")
            }
            let at = block.partition_point(|(k, _)| after(k, stem_len) < rest);
            if let Some((k, s)) = block.get(at)
                && after(k, stem_len) == rest
            {
                return Some((k.as_ref(), *s));
            }
        }
    }
}

/// The adapter view plus what kinds of adapter tensors were seen.
#[derive(Debug, Default)]
pub(crate) struct AdapterView<'a> {
    pub(crate) keys: KeyView<'a>,
    /// Tensor count per adapter kind (`lora`, `loha`, `lokr`, `oft`, `dora`, …).
    pub(crate) kinds: BTreeMap<String, usize>,
    /// Positions (in the input order) of the tensors that are not adapter tensors.
    pub(crate) others: Vec<usize>,
}

impl<'a> AdapterView<'a> {
    /// Rewrites adapter tensors as `target/module_path.part`, e.g.
    /// `lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight` →
    /// `unet/input_blocks_4_1_transformer_blocks_0_attn2_to_k.down`; PEFT
    /// `unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight` →
    /// `unet/down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k.down`.
    pub(crate) fn build(
        items: impl Iterator<Item = (&'a str, &'a [u64])>,
        targets: &[AdapterTarget],
        suffixes: &[AdapterSuffix],
        suffix_index: &SuffixIndex,
        strip: &Stripper,
    ) -> AdapterView<'a> {
        let items: Vec<(&'a str, &'a [u64])> = items.collect();
        if let Some(view) = Self::lora_diffusion_list(&items) {
            return view;
        }
        let mut entries = Vec::new();
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        let mut others = Vec::new();
        for (pos, (raw, shape)) in items.into_iter().enumerate() {
            // Most tensors of a base model are not adapter tensors: test the suffix before
            // allocating anything.
            let peft_default = has_default(raw);
            let first = suffix_index.longest(raw, suffixes);
            if !peft_default && first.is_none() {
                others.push(pos);
                continue;
            }
            let name: Cow<'_, str> = if peft_default {
                Cow::Owned(raw.replace(".default.", "."))
            } else {
                Cow::Borrowed(raw)
            };
            let sfx = if peft_default {
                suffix_index.longest(&name, suffixes)
            } else {
                first
            };
            let Some(sfx) = sfx else {
                others.push(pos);
                continue;
            };
            let (target, style, rest) = match targets
                .iter()
                .filter(|t| name.starts_with(t.prefix.as_str()))
                .max_by_key(|t| t.prefix.len())
            {
                Some(t) => {
                    // `strip` is a leading part of the prefix (checked here, not trusted).
                    let cut = t
                        .strip
                        .as_deref()
                        .filter(|s| t.prefix.starts_with(s))
                        .map_or(t.prefix.len(), str::len);
                    (
                        t.target.as_str(),
                        t.style.as_str(),
                        Cow::Borrowed(name.get(cut..).unwrap_or("")),
                    )
                }
                // A targeted suffix means nothing outside its targets.
                None if sfx.targeted => {
                    others.push(pos);
                    continue;
                }
                None => ("unet", "dotted", strip.normalize_cow(&name).0),
            };
            let module = rest
                .get(..rest.len().saturating_sub(sfx.suffix.len()))
                .unwrap_or("");
            // cloneofsimo `unet:12:up`: the position is all there is.
            let indexed;
            let module: &str = if style == "indexed" {
                if module.is_empty() || !module.bytes().all(|b| b.is_ascii_digit()) {
                    others.push(pos);
                    continue;
                }
                indexed = format!("lora_diffusion_{module}");
                &indexed
            } else {
                module
            };
            // `target/module.part`, built in one string: the module path with `.` written `_`
            // (dotted style), then `_processor_` written `_` (as `replace` would, left to right).
            let mut out = String::with_capacity(
                target
                    .len()
                    .saturating_add(module.len())
                    .saturating_add(sfx.part.len())
                    .saturating_add(2),
            );
            out.push_str(target);
            out.push('/');
            let body_start = out.len();
            if style == "kohya" || style == "indexed" {
                out.push_str(module);
            } else {
                out.extend(module.chars().map(|ch| if ch == '.' { '_' } else { ch }));
            }
            if out
                .get(body_start..)
                .is_some_and(|m| find_processor(m).is_some())
            {
                let body = out
                    .get(body_start..)
                    .unwrap_or("")
                    .replace("_processor_", "_");
                out.truncate(body_start);
                out.push_str(&body);
            }
            out.push('.');
            out.push_str(&sfx.part);
            match kinds.get_mut(&sfx.kind) {
                Some(n) => *n = n.saturating_add(1),
                None => {
                    kinds.insert(sfx.kind.clone(), 1);
                }
            }
            entries.push((out, shape));
        }
        AdapterView {
            keys: KeyView::from_entries(entries),
            kinds,
            others,
        }
    }

    /// cloneofsimo `lora_diffusion`'s `.pt` files: `torch.save` of a bare list `[up0, down0, up1,
    /// down1, …]`, so the checkpoint reader names the tensors by position (`0`, `1`, …). Such a
    /// file is an adapter when every name is a position, there is an even number of them, and
    /// each pair is `up` `[out, rank]` then `down` `[rank, in]` with the same rank, smaller than
    /// both widths. The part is the UNet when some `down` reads 320 features (SD's first
    /// stage; CLIP-L and OpenCLIP-H are 768 / 1024 wide throughout), else the text encoder
    /// (the `.text_encoder.pt` file). `None` for anything else (checked on the first name before
    /// any work).
    fn lora_diffusion_list(items: &[(&'a str, &'a [u64])]) -> Option<AdapterView<'a>> {
        if items.first()?.0 != "0" {
            return None;
        }
        let positional = |name: &str| !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit());
        // Other names (never in a real file) stay outside the view, left for the coverage check.
        let others: Vec<usize> = (0..items.len())
            .filter(|&i| items.get(i).is_some_and(|(name, _)| !positional(name)))
            .collect();
        let n = items.len().saturating_sub(others.len());
        if n < 2 || !n.is_multiple_of(2) {
            return None;
        }
        let mut by_pos: Vec<Option<&'a [u64]>> = vec![None; n];
        for (name, shape) in items.iter().filter(|(name, _)| positional(name)) {
            let i: usize = name.parse().ok()?;
            let slot = by_pos.get_mut(i)?;
            if slot.replace(*shape).is_some() {
                return None;
            }
        }
        let mut pairs = Vec::with_capacity(n / 2);
        for pair in by_pos.chunks_exact(2) {
            let (Some(up), Some(down)) = (pair.first().copied()?, pair.get(1).copied()?) else {
                return None;
            };
            let (&[out_f, r_up], &[r_down, in_f]) = (up, down) else {
                return None;
            };
            if r_up != r_down || r_up == 0 || r_up >= out_f || r_up >= in_f {
                return None;
            }
            pairs.push((up, down, in_f));
        }
        let target = if pairs.iter().any(|p| p.2 == 320) {
            "unet"
        } else {
            "te"
        };
        let mut entries = Vec::with_capacity(n);
        for (k, (up, down, _)) in pairs.into_iter().enumerate() {
            entries.push((format!("{target}/lora_diffusion_{k}.up"), up));
            entries.push((format!("{target}/lora_diffusion_{k}.down"), down));
        }
        Some(AdapterView {
            keys: KeyView::from_entries(entries),
            kinds: BTreeMap::from([("lora".to_owned(), n)]),
            others,
        })
    }

    /// The parts the adapter tensors adapt, as evidence: `denoiser (unet/) 754, text encoder
    /// (te1/) 96`. The view's `unet/` target is any denoiser (UNet or DiT); a language model's
    /// tensors are `llm/`, never `unet/`.
    pub(crate) fn parts(&self) -> String {
        let mut n: BTreeMap<&str, usize> = BTreeMap::new();
        for (k, _) in self.keys.iter() {
            let t = k.split_once('/').map_or("", |(t, _)| t);
            let c = n.entry(t).or_default();
            *c = c.saturating_add(1);
        }
        n.iter()
            .map(|(t, c)| {
                let what = match *t {
                    "unet" => "denoiser",
                    "te" | "te1" | "te2" | "te3" | "text" => "text encoder",
                    "llm" => "language model",
                    _ => "part",
                };
                format!("{what} ({t}/) {c}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The adapter kind this file is: LyCORIS kinds win over plain LoRA parts they embed, and
    /// DoRA is LoRA plus magnitude vectors.
    pub(crate) fn kind(&self) -> Option<&str> {
        for k in ["loha", "lokr", "oft", "boft", "glora", "ia3"] {
            if self.kinds.contains_key(k) {
                return Some(k);
            }
        }
        if self.kinds.contains_key("dora") {
            return Some("dora");
        }
        self.kinds
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(k, _)| k.as_ref())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn strip() -> Vec<String> {
        [
            "model.diffusion_model.",
            "model.",
            "module.",
            "transformer.",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn strips_nested_wrappers_longest_first() {
        let s = strip();
        assert_eq!(
            normalize_key("module.model.diffusion_model.input_blocks.0.0.weight", &s),
            ("input_blocks.0.0.weight".to_string(), 29)
        );
        assert_eq!(normalize_key("model.", &s), ("model.".to_string(), 0));
        assert_eq!(
            normalize_key("x.lora_A.default.weight", &s).0,
            "x.lora_A.weight"
        );
    }

    proptest::proptest! {
        /// The block jumps of `find` give the same matches, in the same order, as testing
        /// every name.
        #[test]
        fn find_agrees_with_testing_every_name(
            names in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::sample::select(vec!["a", "b", ".", "1", "10", "2", "_", "-", "/", "é"]),
                    0..7,
                ),
                0..25,
            ),
            pat in proptest::collection::vec(
                proptest::sample::select(vec!["a", "b", ".", "1", "*", "**", ".a", "-", "é"]), 0..5),
        ) {
            let shape: Vec<u64> = vec![1];
            let names: Vec<String> = names.into_iter().map(|n| n.concat()).collect();
            let v = KeyView::from_entries(
                names.iter().map(|n| (n.clone(), shape.as_slice())).collect(),
            );
            for text in [pat.concat(), format!("a{}", pat.concat()), format!("a*{}", pat.concat())] {
                let p = Pattern::new(&text);
                let got: Vec<&str> = v.find(&p).map(|(k, _)| k).collect();
                let want: Vec<&str> = v.find_plain(&p).map(|(k, _)| k).collect();
                proptest::prop_assert_eq!(got, want, "{}", text);
            }
        }
    }

    #[test]
    fn find_jumps_blocks_of_a_segment_pattern() {
        let shape: Vec<u64> = vec![1];
        let names = [
            "double_blocks.0.img_attn.qkv.weight",
            "double_blocks.0.img_mod.lin.weight",
            "double_blocks.1.img_attn.qkv.weight",
            "double_blocks.10.img_attn.qkv.weight",
            "double_blocks.10.txt_attn.qkv.weight",
            "double_blocks.2.txt_attn.qkv.weight",
            "double_blocks.x",
            "double_blocks..img_attn.qkv.weight",
        ];
        let v = KeyView::from_entries(
            names
                .iter()
                .map(|n| (n.to_string(), shape.as_slice()))
                .collect(),
        );
        let p = Pattern::new("double_blocks.*.img_attn.qkv.weight");
        assert!(p.segment_form().is_some());
        let got: Vec<&str> = v.find(&p).map(|(k, _)| k).collect();
        assert_eq!(
            got,
            [
                "double_blocks.0.img_attn.qkv.weight",
                "double_blocks.1.img_attn.qkv.weight",
                "double_blocks.10.img_attn.qkv.weight"
            ]
        );
        assert!(
            v.first(&Pattern::new("double_blocks.*.txt_attn.qkv.weight"))
                .is_some()
        );
        assert!(v.first(&Pattern::new("double_blocks.*.nothing")).is_none());
    }

    #[test]
    fn find_processor_is_find() {
        for s in [
            "",
            "_processor_",
            "attn_processor_to_k",
            "a__processor_",
            "_processor",
            "x_processor_y_processor_z",
            "é_processor_é",
        ] {
            assert_eq!(find_processor(s), s.find("_processor_"), "{s}");
        }
    }

    #[test]
    fn has_default_is_contains() {
        for s in [
            "",
            ".default.",
            "a.default.b",
            "a.default",
            "default.x",
            "a..default.x",
            "a.defaultx.b",
            "a.b.default.",
            "é.default.é",
            "x.default",
        ] {
            assert_eq!(has_default(s), s.contains(".default."), "{s}");
        }
    }

    #[test]
    fn find_uses_prefix_and_pattern() {
        let shape: Vec<u64> = vec![1, 2];
        let items = vec![
            (
                "model.double_blocks.0.img_attn.qkv.weight",
                shape.as_slice(),
            ),
            (
                "model.double_blocks.10.img_attn.qkv.weight",
                shape.as_slice(),
            ),
            ("model.img_in.weight", shape.as_slice()),
        ];
        let v = KeyView::build(items.into_iter(), &Stripper::new(&strip()));
        let p = Pattern::new("double_blocks.*.img_attn.qkv.weight");
        assert_eq!(v.find(&p).count(), 2);
        assert!(v.first(&Pattern::new("img_in.weight")).is_some());
        assert!(v.first(&Pattern::new("img_in.bias")).is_none());
    }
}
