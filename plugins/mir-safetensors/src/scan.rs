//! The single-pass header scanner.
//!
//! One walk over the header JSON with serde_json's streaming deserializer (`from_str`, so names
//! without escapes are borrowed from the header buffer, never copied until they become the
//! index's own `String`), typed visitors instead of any `serde_json::Value` tree, and in the same
//! walk:
//!
//! * every per-entry check (name length, fields present and of the right type, no field twice,
//!   rank within the limit), the duplicate-name check, and the tensor count and metadata-entry
//!   limits, each enforced *before* the value it guards is read into memory;
//! * `__metadata__` read straight into the index (strings only, counted as they come);
//! * the MIR layer string (SPEC-notes §2.1) written piecewise into a small reused buffer that is
//!   flushed into SHA-256 and BLAKE3 as it fills, so the string never exists whole; unknown entry
//!   fields are turned into Python `repr` while they are read, never stored.
//!
//! What needs every entry (offsets tiling the data section in offset order, the data section
//! ending at the end of the file) runs afterwards over a compact per-thread array of offsets.
//! Errors keep the order of the former parser (JSON syntax, then `__metadata__`, then the first bad
//! entry in file order, then duplicate names, then offsets, then the file length), so every file
//! gets the same error variant as before.
//!
//! Why serde_json and hand-written visitors rather than a derive or a crate: the `safetensors`
//! crate itself parses the whole header into owned maps first (no limits before allocating, no
//! names in errors), and no JSON crate we know of validates these rules while streaming. Reusing
//! serde_json's tokenizer keeps exactly the JSON grammar the `safetensors` crate accepts (the
//! differential test checks it).
//!
//! Per thread, the header bytes, the layer buffer, the offsets array and the name set are kept
//! across files (and dropped when one file made them unusually large).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};

use mir_core::pyrepr::{self, ITEM_SEP, KEY_SEP};
use mir_core::signature::{LayerHasher, LayerHashes};
use mir_core::{Dtype, Finding, Limits, MetaValue, Severity, TensorIndex, TensorRecord};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use xxhash_rust::xxh3::{Xxh3DefaultBuilder, xxh3_64, xxh3_128};

use crate::header::SafetensorsError;

/// The layer buffer is flushed into the hashers once it holds this many bytes.
const FLUSH_AT: usize = 32 << 10;
/// Per-thread buffers larger than this after a file are dropped rather than kept.
const KEEP_BYTES: usize = 8 << 20;
/// Keys of objects nested in unknown entry fields that are tracked (for Python's
/// last-value-wins on repeated keys) before the layer string is declared not reproducible.
const MAX_NESTED_KEYS: usize = 100_000;

/// The key under which serde_json hands a number to `deserialize_any` as a one-entry map when its
/// `arbitrary_precision` feature is on (another crate of a build can switch it on: feature
/// unification). Every visitor that accepts a map checks for it, so a number is never taken for
/// an object.
const NUMBER_KEY: &str = "$serde_json::private::Number";

/// Buffers reused across the files one thread parses.
#[derive(Default)]
pub(crate) struct Scratch {
    /// Header bytes (filled by `parse`).
    pub(crate) header: Vec<u8>,
    layer: String,
    spans: Vec<Span>,
    order: Vec<usize>,
    names: HashMap<u64, usize, Xxh3DefaultBuilder>,
    dims: Vec<u64>,
}

impl Scratch {
    fn trim(&mut self) {
        if self.header.capacity() > KEEP_BYTES {
            self.header = Vec::new();
        }
        if self.layer.capacity() > KEEP_BYTES {
            self.layer = String::new();
        }
        let many = KEEP_BYTES / 64;
        if self.spans.capacity() > many || self.names.capacity() > many {
            self.spans = Vec::new();
            self.order = Vec::new();
            self.names = HashMap::default();
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers (fresh ones if they are already in use).
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => {
            let r = f(&mut s);
            s.trim();
            r
        }
        Err(_) => f(&mut Scratch::default()),
    })
}

/// What the offsets check needs of one tensor.
#[derive(Clone, Copy)]
struct Span {
    start: u64,
    end: u64,
    /// Bits per element, `None` for a dtype the `safetensors` crate does not know.
    bits: Option<u64>,
}

/// Parses and validates header text (already checked UTF-8) of a file of `file_len` bytes.
pub(crate) fn scan(
    text: &str,
    file_len: u64,
    limits: &Limits,
    layer_hashes: bool,
    scratch: &mut Scratch,
) -> Result<TensorIndex, SafetensorsError> {
    let data_start = (text.len() as u64).saturating_add(8);
    scratch.layer.clear();
    scratch.spans.clear();
    scratch.names.clear();
    let mut st = State {
        limits,
        index: TensorIndex::new("safetensors"),
        layer: Layer {
            buf: &mut scratch.layer,
            hasher: LayerHasher::new(),
            enabled: layer_hashes,
            broken: false,
            nested_keys: 0,
        },
        spans: &mut scratch.spans,
        names: &mut scratch.names,
        dims: &mut scratch.dims,
        dtypes: Vec::new(),
        unknown_dtypes: Vec::new(),
        entries: 0,
        seen_metadata: false,
        fatal: None,
        meta_err: None,
        entry_err: None,
        dup_err: None,
        name_collision: false,
    };
    st.index.data_offset = Some(data_start);
    st.layer.buf.push('{');
    {
        let mut de = serde_json::Deserializer::from_str(text);
        let r = de.deserialize_map(TopLevel { st: &mut st });
        // Only trailing whitespace may follow the object (writers pad with spaces).
        let r = r.and_then(|()| de.end());
        if let Err(e) = r {
            return Err(st.fatal.take().unwrap_or(SafetensorsError::InvalidJson(e)));
        }
    }
    if let Some(e) = st.meta_err.take() {
        return Err(e);
    }
    if let Some(e) = st.entry_err.take() {
        return Err(e);
    }
    if st.name_collision {
        find_duplicate_by_sorting(&st.index)?;
    }
    if let Some(e) = st.dup_err.take() {
        return Err(e);
    }
    let data_len = validate_offsets(&st.index, st.spans, &mut scratch.order)?;
    let expected = data_start.saturating_add(data_len);
    if expected > file_len {
        return Err(SafetensorsError::DataTruncated { expected, file_len });
    }
    if expected < file_len {
        return Err(SafetensorsError::TrailingBytes { expected, file_len });
    }
    let State {
        mut index,
        layer,
        mut unknown_dtypes,
        ..
    } = st;
    unknown_dtypes.sort_unstable();
    unknown_dtypes.dedup();
    for d in unknown_dtypes {
        index.findings.push(Finding {
            severity: Severity::Info,
            message: format!("dtype {d} is unknown to this version; its sizes were not checked"),
        });
    }
    if layer.broken && layer.enabled {
        index.findings.push(Finding {
            severity: Severity::Info,
            message: "an unknown tensor field holds an object with a repeated key (or more \
                      keys than tracked): MIR layer hashes not computed"
                .to_owned(),
        });
    } else {
        index.mir_layer_hashes = layer.finish(&index);
    }
    Ok(index)
}

/// Everything the walk carries.
struct State<'s, 'l> {
    limits: &'l Limits,
    index: TensorIndex,
    layer: Layer<'s>,
    spans: &'s mut Vec<Span>,
    names: &'s mut HashMap<u64, usize, Xxh3DefaultBuilder>,
    dims: &'s mut Vec<u64>,
    /// Dtype names seen in this file with what they resolve to (a file has a handful).
    dtypes: Vec<(String, Dtype, Option<u64>)>,
    unknown_dtypes: Vec<String>,
    /// Entries seen (every key but the first `__metadata__`).
    entries: u64,
    seen_metadata: bool,
    /// A limit that stopped the walk, reported instead of serde_json's error.
    fatal: Option<SafetensorsError>,
    meta_err: Option<SafetensorsError>,
    entry_err: Option<SafetensorsError>,
    dup_err: Option<SafetensorsError>,
    /// Two different names had the same 64-bit hash: check duplicates by sorting instead.
    name_collision: bool,
}

impl State<'_, '_> {
    /// Bits per element and the index dtype for a dtype name, cached per file.
    fn dtype(&mut self, name: &str) -> (Dtype, Option<u64>) {
        if let Some((_, d, bits)) = self.dtypes.iter().find(|(n, _, _)| n == name) {
            return (d.clone(), *bits);
        }
        let bits = safetensors_dtype(name).map(|d| d.bitsize() as u64);
        let d = Dtype::from_safetensors(name);
        if bits.is_none() {
            self.unknown_dtypes.push(name.to_owned());
        }
        if self.dtypes.len() < 32 {
            self.dtypes.push((name.to_owned(), d.clone(), bits));
        }
        (d, bits)
    }

    /// Records a valid entry in the index and checks its name is new.
    fn push(&mut self, name: Cow<'_, str>, dtype: &str, shape: Vec<u64>, start: u64, end: u64) {
        let (dtype, bits) = self.dtype(dtype);
        let at = self.index.tensors.len();
        let h = xxh3_64(name.as_bytes());
        if name == "__metadata__" {
            // A second `__metadata__` (the first one is the metadata).
            self.dup_err
                .get_or_insert_with(|| SafetensorsError::DuplicateName(name.to_string()));
        } else if let Some(&prev) = self.names.get(&h) {
            match self.index.tensors.get(prev) {
                Some(p) if p.name == name => {
                    self.dup_err
                        .get_or_insert_with(|| SafetensorsError::DuplicateName(name.to_string()));
                }
                _ => self.name_collision = true,
            }
        } else {
            self.names.insert(h, at);
        }
        let data_start = self.index.data_offset.unwrap_or(0);
        self.spans.push(Span { start, end, bits });
        self.index.tensors.push(TensorRecord {
            name: name.into_owned(),
            dtype,
            shape,
            data: Some((
                data_start.saturating_add(start),
                data_start.saturating_add(end),
            )),
        });
    }
}

/// The MIR layer string, written piecewise and hashed as it goes.
struct Layer<'s> {
    buf: &'s mut String,
    hasher: LayerHasher,
    /// False when the caller asked for no layer hashes: the buffer is then cleared instead of
    /// hashed (the writes stay, so both modes accept exactly the same headers).
    enabled: bool,
    /// The string cannot be reproduced byte for byte (see [`MAX_NESTED_KEYS`]).
    broken: bool,
    nested_keys: usize,
}

impl Layer<'_> {
    fn maybe_flush(&mut self) {
        if self.buf.len() >= FLUSH_AT {
            if self.enabled {
                self.hasher.update(self.buf.as_bytes());
            }
            self.buf.clear();
        }
    }

    /// The hashes once the walk is over and the header valid. A file with one tensor hashes
    /// MIR's `torch.Size` fallback instead (what was fed is dropped).
    fn finish(self, index: &TensorIndex) -> Option<LayerHashes> {
        if !self.enabled {
            return None;
        }
        match index.tensors.as_slice() {
            [] => None,
            [one] => {
                let mut s = String::from("{");
                pyrepr::push_str(&mut s, &one.name);
                s.push_str(KEY_SEP);
                s.push_str("torch.Size([");
                push_u64s(&mut s, &one.shape);
                s.push_str("])}");
                let mut h = LayerHasher::new();
                h.update(s.as_bytes());
                Some(h.finish())
            }
            _ => {
                let mut hasher = self.hasher;
                self.buf.push('}');
                hasher.update(self.buf.as_bytes());
                Some(hasher.finish())
            }
        }
    }
}

fn push_u64s(out: &mut String, items: &[u64]) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(ITEM_SEP);
        }
        let _ = write!(out, "{v}");
    }
}

struct TopLevel<'a, 's, 'l> {
    st: &'a mut State<'s, 'l>,
}

impl<'de> Visitor<'de> for TopLevel<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let st = self.st;
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            if key == "__metadata__" && !st.seen_metadata {
                st.seen_metadata = true;
                map.next_value_seed(MetadataSeed { st: &mut *st })?;
                continue;
            }
            if st.entries >= st.limits.max_tensors {
                return Err(de::Error::custom(format!(
                    "more than {} tensors",
                    st.limits.max_tensors
                )));
            }
            st.entries = st.entries.saturating_add(1);
            // Entries after a bad one are still read the same way: a JSON error further on
            // (e.g. nesting too deep in an unknown field) is the error reported, as before.
            let too_long = key.len() > st.limits.max_name_bytes;
            if st.entries > 1 {
                st.layer.buf.push_str(ITEM_SEP);
            }
            pyrepr::push_str(st.layer.buf, &key);
            st.layer.buf.push_str(KEY_SEP);
            let entry = map.next_value_seed(EntrySeed { st: &mut *st })?;
            let bad = |reason| SafetensorsError::InvalidEntry {
                name: key.to_string(),
                reason,
            };
            let checked = match entry {
                _ if too_long => Err(bad("name is longer than the limit")),
                None => Err(bad("entry is not an object")),
                Some(e) => e.check().map_err(bad),
            };
            match checked {
                Ok(_) if st.entry_err.is_some() => {}
                Ok((dtype, shape, start, end)) => st.push(key, &dtype, shape, start, end),
                Err(e) => {
                    st.entry_err.get_or_insert(e);
                }
            }
            st.layer.maybe_flush();
        }
        Ok(())
    }
}

/// One entry's fields as read; the shape is already the index's own vector.
struct Entry<'de> {
    dtype: Option<Cow<'de, str>>,
    shape: Option<Vec<u64>>,
    offsets: Option<([u64; 2], usize)>,
    bad_field: Option<&'static str>,
}

impl<'de> Entry<'de> {
    /// The checks the former parser ran per entry, in its order.
    #[allow(clippy::type_complexity)]
    fn check(self) -> Result<(Cow<'de, str>, Vec<u64>, u64, u64), &'static str> {
        if let Some(reason) = self.bad_field {
            return Err(reason);
        }
        let dtype = self.dtype.ok_or("dtype is missing")?;
        let shape = self.shape.ok_or("shape is missing")?;
        match self.offsets {
            Some(([a, b], 2)) => Ok((dtype, shape, a, b)),
            Some(_) => Err("data_offsets does not hold exactly two offsets"),
            None => Err("data_offsets is missing"),
        }
    }
}

/// One tensor entry: `Some` for an object (fields read into typed slots, the layer string
/// written as they come), `None` for anything else (drained).
struct EntrySeed<'a, 's, 'l> {
    st: &'a mut State<'s, 'l>,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_, '_, '_> {
    type Value = Option<Entry<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_, '_, '_> {
    type Value = Option<Entry<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tensor entry")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        let st = self.st;
        let mut e = Entry {
            dtype: None,
            shape: None,
            offsets: None,
            bad_field: None,
        };
        let (mut has_dtype, mut has_shape, mut has_offsets) = (false, false, false);
        let mut first = true;
        st.layer.buf.push('{');
        while let Some(CowStr(key)) = m.next_key::<CowStr<'de>>()? {
            if first && key == NUMBER_KEY {
                m.next_value::<IgnoredAny>()?;
                return Ok(None);
            }
            if !first {
                st.layer.buf.push_str(ITEM_SEP);
            }
            first = false;
            match key.as_ref() {
                "dtype" if has_dtype => {
                    m.next_value::<Skip>()?;
                    e.bad_field = Some("dtype appears more than once");
                }
                "shape" if has_shape => {
                    m.next_value::<Skip>()?;
                    e.bad_field = Some("shape appears more than once");
                }
                "data_offsets" if has_offsets => {
                    m.next_value::<Skip>()?;
                    e.bad_field = Some("data_offsets appears more than once");
                }
                "dtype" => {
                    has_dtype = true;
                    e.dtype = m.next_value::<MaybeStr<'de>>()?.0;
                    match &e.dtype {
                        Some(d) => {
                            st.layer.buf.push_str("'dtype': ");
                            pyrepr::push_str(st.layer.buf, d);
                        }
                        None => e.bad_field = Some("dtype is not a string"),
                    }
                }
                "shape" => {
                    has_shape = true;
                    st.dims.clear();
                    let ok = m.next_value_seed(U64ListSeed {
                        out: &mut *st.dims,
                        max_len: st.limits.max_rank,
                    })?;
                    if ok {
                        st.layer.buf.push_str("'shape': [");
                        push_u64s(st.layer.buf, st.dims);
                        st.layer.buf.push(']');
                        e.shape = Some(st.dims.as_slice().to_vec());
                    } else {
                        e.bad_field = Some(
                            "shape is not a list of non-negative integers within the rank limit",
                        );
                    }
                }
                "data_offsets" => {
                    has_offsets = true;
                    st.dims.clear();
                    let ok = m.next_value_seed(U64ListSeed {
                        out: &mut *st.dims,
                        max_len: 2,
                    })?;
                    if ok {
                        st.layer.buf.push_str("'data_offsets': [");
                        push_u64s(st.layer.buf, st.dims);
                        st.layer.buf.push(']');
                        let mut pair = [0u64; 2];
                        for (slot, v) in pair.iter_mut().zip(st.dims.iter()) {
                            *slot = *v;
                        }
                        e.offsets = Some((pair, st.dims.len()));
                    } else {
                        e.bad_field = Some("data_offsets is not a list of two integers");
                    }
                }
                _ => {
                    pyrepr::push_str(st.layer.buf, &key);
                    st.layer.buf.push_str(KEY_SEP);
                    m.next_value_seed(ReprSeed {
                        layer: &mut st.layer,
                    })?;
                }
            }
        }
        st.layer.buf.push('}');
        Ok(Some(e))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// `__metadata__`: null, or an object of strings read straight into the index. The entry count
/// is checked before each pair is kept; a wrong type is remembered (reported after the JSON is
/// known to be valid, as before) and the rest drained.
struct MetadataSeed<'a, 's, 'l> {
    st: &'a mut State<'s, 'l>,
}

impl<'de> DeserializeSeed<'de> for MetadataSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl MetadataSeed<'_, '_, '_> {
    fn not_object(self) {
        self.st
            .meta_err
            .get_or_insert(SafetensorsError::MetadataNotObject);
    }
}

impl<'de> Visitor<'de> for MetadataSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of strings")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let st = self.st;
        let limit = st.limits.max_metadata_entries;
        let mut count = 0u64;
        let mut meta: BTreeMap<String, MetaValue> = BTreeMap::new();
        while let Some(CowStr(key)) = m.next_key::<CowStr<'de>>()? {
            if count == 0 && key == NUMBER_KEY {
                m.next_value::<IgnoredAny>()?;
                st.meta_err
                    .get_or_insert(SafetensorsError::MetadataNotObject);
                return Ok(());
            }
            count = count.saturating_add(1);
            if count > limit {
                st.fatal = Some(SafetensorsError::TooManyMetadataEntries { limit });
                return Err(de::Error::custom(format!(
                    "more than {limit} __metadata__ entries"
                )));
            }
            if st.meta_err.is_some() {
                m.next_value::<Skip>()?;
                continue;
            }
            match m.next_value::<MetaStr<'de>>()?.0 {
                Some(v) => {
                    meta.insert(key.into_owned(), MetaValue::Str(v.into_owned()));
                }
                None => {
                    st.meta_err = Some(SafetensorsError::MetadataNotString {
                        key: key.into_owned(),
                    });
                }
            }
        }
        if st.meta_err.is_none() {
            st.index.metadata = meta;
        }
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while s.next_element::<Skip>()?.is_some() {}
        self.not_object();
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_object();
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_object();
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_object();
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_object();
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_object();
        Ok(())
    }
}

/// Python's `repr` of an unknown field's value as `json.loads` would build it, written into the
/// layer string while the value is read (nothing kept; nesting is bounded by serde_json's
/// recursion limit).
struct ReprSeed<'a, 'b> {
    layer: &'a mut Layer<'b>,
}

impl<'de> DeserializeSeed<'de> for ReprSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ReprSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        pyrepr::push_bool(self.layer.buf, v);
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        let _ = write!(self.layer.buf, "{v}");
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        let _ = write!(self.layer.buf, "{v}");
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        pyrepr::push_float(self.layer.buf, v);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        pyrepr::push_str(self.layer.buf, v);
        self.layer.maybe_flush();
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        pyrepr::push_none(self.layer.buf);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        let layer = self.layer;
        layer.buf.push('[');
        let mut first = true;
        loop {
            let sep_at = layer.buf.len();
            if !first {
                layer.buf.push_str(ITEM_SEP);
            }
            if s.next_element_seed(ReprSeed { layer: &mut *layer })?
                .is_none()
            {
                layer.buf.truncate(sep_at);
                break;
            }
            first = false;
            layer.maybe_flush();
        }
        layer.buf.push(']');
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let layer = self.layer;
        // Python keeps the first position and the last value of a repeated key; rather than
        // buffer the object to rewrite it, a repeat makes the layer string "not reproducible".
        let mut keys: HashSet<u128, Xxh3DefaultBuilder> = HashSet::default();
        let mut first = true;
        let at = layer.buf.len();
        layer.buf.push('{');
        while let Some(CowStr(key)) = m.next_key::<CowStr<'de>>()? {
            if first && key == NUMBER_KEY {
                // A number in its decimal text: `repr` of what `json.loads` builds from it.
                layer.buf.truncate(at);
                let CowStr(text) = m.next_value::<CowStr<'de>>()?;
                push_number_text(layer.buf, &text);
                return Ok(());
            }
            layer.nested_keys = layer.nested_keys.saturating_add(1);
            if layer.nested_keys > MAX_NESTED_KEYS || !keys.insert(xxh3_128(key.as_bytes())) {
                layer.broken = true;
            }
            if layer.broken {
                m.next_value::<Skip>()?;
                continue;
            }
            if !first {
                layer.buf.push_str(ITEM_SEP);
            }
            first = false;
            pyrepr::push_str(layer.buf, &key);
            layer.buf.push_str(KEY_SEP);
            m.next_value_seed(ReprSeed { layer: &mut *layer })?;
            layer.maybe_flush();
        }
        layer.buf.push('}');
        Ok(())
    }
}

/// Python's `repr` of a JSON number given as text: an integer when it is one that fits 64 bits,
/// else the float it parses to (as `serde_json::Value` would have given it).
fn push_number_text(out: &mut String, text: &str) {
    if let Ok(i) = text.parse::<i64>() {
        let _ = write!(out, "{i}");
    } else if let Ok(u) = text.parse::<u64>() {
        let _ = write!(out, "{u}");
    } else {
        pyrepr::push_float(out, text.parse::<f64>().unwrap_or(f64::NAN));
    }
}

/// A string that borrows from the input when it can.
struct CowStr<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Any JSON value, read and dropped like a `serde_json::Value` would be read (nesting is bounded
/// by serde_json's recursion limit, an error as before), without building anything. Used where
/// the former parser built a `Value` (metadata, unknown fields), so the same files get the same
/// JSON error; `IgnoredAny` is used where it drained with `IgnoredAny`.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Skip, A::Error> {
        while s.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Skip, A::Error> {
        while m.next_entry::<IgnoredAny, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// A metadata value: `Some` when it is a string, read with [`Skip`] and `None` otherwise.
struct MetaStr<'de>(Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for MetaStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MetaStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MetaStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MetaStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MetaStr(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MetaStr(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MetaStr(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MetaStr(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MetaStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<Self::Value, A::Error> {
                SkipVisitor.visit_seq(s).map(|_| MetaStr(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Self::Value, A::Error> {
                SkipVisitor.visit_map(m).map(|_| MetaStr(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Any JSON value: `Some` when it is a string, drained and `None` otherwise.
struct MaybeStr<'de>(Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for MaybeStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Any JSON value: `true` with `out` filled when it is an array of at most `max_len`
/// non-negative integers, drained and `false` otherwise.
struct U64ListSeed<'a> {
    out: &'a mut Vec<u64>,
    max_len: usize,
}

impl<'de> DeserializeSeed<'de> for U64ListSeed<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for U64ListSeed<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<bool, A::Error> {
        let mut ok = true;
        while let Some(v) = s.next_element::<MaybeU64>()? {
            match v.0 {
                Some(d) if ok && self.out.len() < self.max_len => self.out.push(d),
                _ => ok = false,
            }
        }
        Ok(ok)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<bool, A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// Any JSON value: `Some` for a non-negative integer, drained and `None` otherwise.
struct MaybeU64(Option<u64>);

impl<'de> Deserialize<'de> for MaybeU64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeU64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(MaybeU64(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(MaybeU64(u64::try_from(v).ok()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeU64(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeU64(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(MaybeU64(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MaybeU64(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeU64(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeU64(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `safetensors` crate's dtype for a name, `None` for names it does not know.
fn safetensors_dtype(name: &str) -> Option<safetensors::Dtype> {
    use serde::de::IntoDeserializer;
    let d: de::value::StrDeserializer<'_, de::value::Error> = name.into_deserializer();
    safetensors::Dtype::deserialize(d).ok()
}

/// The duplicate check when two names collided on their 64-bit hash (never seen in practice):
/// the first name in file order that an earlier one repeats.
fn find_duplicate_by_sorting(index: &TensorIndex) -> Result<(), SafetensorsError> {
    let mut seen: HashSet<&str> = HashSet::with_capacity(index.tensors.len());
    for t in &index.tensors {
        if !seen.insert(t.name.as_str()) {
            return Err(SafetensorsError::DuplicateName(t.name.clone()));
        }
    }
    Ok(())
}

/// The `safetensors` crate's `Metadata::validate`, with names in every error: sorted by offset,
/// each tensor starts where the previous ended, and its size matches dtype × shape. Returns the
/// data section's length.
fn validate_offsets(
    index: &TensorIndex,
    spans: &[Span],
    order: &mut Vec<usize>,
) -> Result<u64, SafetensorsError> {
    order.clear();
    order.extend(0..spans.len());
    order.sort_unstable_by_key(|&i| spans.get(i).map(|t| (t.start, t.end)));
    let mut expected = 0u64;
    for &i in order.iter() {
        let (Some(t), Some(rec)) = (spans.get(i), index.tensors.get(i)) else {
            continue;
        };
        let name = || rec.name.clone();
        if t.start != expected || t.end < t.start {
            return Err(SafetensorsError::InvalidOffsets {
                name: name(),
                start: t.start,
                end: t.end,
                expected,
            });
        }
        expected = t.end;
        let Some(bitsize) = t.bits else {
            continue; // Unknown dtype: contiguity checked, size cannot be.
        };
        let overflow = || SafetensorsError::Overflow { name: name() };
        let numel = rec
            .shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(overflow)?;
        let bits = numel.checked_mul(bitsize).ok_or_else(overflow)?;
        if bits % 8 != 0 {
            return Err(SafetensorsError::MisalignedSlice { name: name() });
        }
        let size = bits / 8;
        let actual = t.end.saturating_sub(t.start);
        if actual != size {
            return Err(SafetensorsError::SizeMismatch {
                name: name(),
                expected: size,
                actual,
            });
        }
    }
    Ok(expected)
}
