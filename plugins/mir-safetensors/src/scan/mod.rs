//! The single-pass header scanner.
//!
//! One walk over the header JSON, and in the same walk:
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
//! Two walkers drive the same [`State`]:
//!
//! * [`fast`], a hand-written JSON scanner specialised for this layout (see its module comment
//!   for why it is hand-written), which reads every header;
//! * [`serde_walk`], the former walker on serde_json's streaming deserializer with typed visitors. It
//!   runs only for a header the fast scanner rejects as JSON, to give the exact serde_json error
//!   (message, line, column) a bad file has always been reported with, and it is the reference
//!   the fast scanner is tested against.
//!
//! Per thread, the header bytes, the layer buffer, the offsets array and the name set are kept
//! across files (and dropped when one file made them unusually large).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

use mir_core::pyrepr::{self, ITEM_SEP, KEY_SEP};
use mir_core::signature::{LayerHasher, LayerHashes};
use mir_core::{Dtype, Finding, Limits, Severity, TensorIndex, TensorRecord};
use serde::Deserialize;
use serde::de;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::header::SafetensorsError;

pub(crate) mod fast;
mod serde_walk;

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

/// Tensor names seen so far, by the 64-bit xxh3 of the name (a collision is detected and
/// handled, see `name_collision`).
type NameMap = HashMap<u64, usize, BuildHasherDefault<PassThrough>>;

/// The seed of the names' xxh3 for [`NameMap`], drawn once per process: a header cannot be
/// crafted for bucket collisions (all 250,000 allowed names on one probe sequence would make
/// the duplicate check quadratic) without knowing it.
fn name_seed() -> u64 {
    use std::hash::BuildHasher as _;
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u64))
}

/// The hasher of [`NameMap`]: its keys are already hashes (seeded, see [`name_seed`]), so they
/// are used as they are (no second hash per tensor).
#[derive(Default, Clone, Copy)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Buffers reused across the files one thread parses.
#[derive(Default)]
pub(crate) struct Scratch {
    /// Header bytes (filled by `parse`).
    pub(crate) header: Vec<u8>,
    layer: String,
    spans: Vec<Span>,
    order: Vec<usize>,
    names: NameMap,
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
///
/// The hand-written scanner ([`fast`]) reads the header; when it rejects the JSON (a syntax
/// error, a limit that stops the walk), the header is read again by the serde_json scanner
/// ([`serde_walk`]), whose answer is returned: serde_json's error, with its line and column, is the
/// message a bad file has always had. Only rejected files pay for the second read.
pub(crate) fn scan(
    text: &str,
    file_len: u64,
    limits: &Limits,
    layer_hashes: bool,
    scratch: &mut Scratch,
) -> Result<TensorIndex, SafetensorsError> {
    match scan_fast(text, file_len, limits, layer_hashes, scratch) {
        Ok(r) => r,
        Err(fast::Rejected) => scan_serde(text, file_len, limits, layer_hashes, scratch),
    }
}

/// The hand-written scanner alone: `Err(Rejected)` where serde_json would stop with an error of
/// its own (the metadata-entry limit, which ends serde_json's walk with our error, is reported
/// directly).
pub(crate) fn scan_fast(
    text: &str,
    file_len: u64,
    limits: &Limits,
    layer_hashes: bool,
    scratch: &mut Scratch,
) -> Result<Result<TensorIndex, SafetensorsError>, fast::Rejected> {
    let data_start = (text.len() as u64).saturating_add(8);
    let mut st = State::new(limits, layer_hashes, data_start, scratch);
    let walked = fast::walk(text, &mut st);
    if let Some(e) = st.fatal.take() {
        // A limit that ends the walk where serde_json would end it with the same error.
        return Ok(Err(e));
    }
    walked?;
    Ok(st.finish(data_start, file_len))
}

/// The serde_json scanner alone (the error path of [`scan`], and the reference in tests).
pub(crate) fn scan_serde(
    text: &str,
    file_len: u64,
    limits: &Limits,
    layer_hashes: bool,
    scratch: &mut Scratch,
) -> Result<TensorIndex, SafetensorsError> {
    let data_start = (text.len() as u64).saturating_add(8);
    let mut st = State::new(limits, layer_hashes, data_start, scratch);
    serde_walk::walk(text, &mut st)?;
    st.finish(data_start, file_len)
}

impl<'s, 'l> State<'s, 'l> {
    fn new(
        limits: &'l Limits,
        layer_hashes: bool,
        data_start: u64,
        scratch: &'s mut Scratch,
    ) -> Self {
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
            order: &mut scratch.order,
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
        // An entry takes at least 49 header bytes (`"":{"dtype":"U8","shape":[],"data_offsets":
        // [0,0]}`) and real ones about 100 to 200 (139 on average in the bench's real-layout
        // library): room for one record (96 bytes) per 96 header bytes, never more than 65,536
        // before they are seen, spares the index its doublings for real files; what is left
        // over is given back at the end, in place (both glibc and mimalloc shrink in place when
        // at least half is kept).
        let room = (data_start.saturating_sub(8) / 96)
            .min(limits.max_tensors)
            .min(1 << 16);
        st.index.tensors.reserve(usize::try_from(room).unwrap_or(0));
        st.layer.buf.push('{');
        st
    }

    /// The checks that run once the JSON is known to be valid, in the former parser's order,
    /// and the index with its findings and layer hashes.
    fn finish(mut self, data_start: u64, file_len: u64) -> Result<TensorIndex, SafetensorsError> {
        if let Some(e) = self.meta_err.take() {
            return Err(e);
        }
        if let Some(e) = self.entry_err.take() {
            return Err(e);
        }
        if self.name_collision {
            find_duplicate_by_sorting(&self.index)?;
        }
        if let Some(e) = self.dup_err.take() {
            return Err(e);
        }
        let data_len = validate_offsets(&self.index, self.spans, self.order)?;
        let expected = data_start.saturating_add(data_len);
        if expected > file_len {
            return Err(SafetensorsError::DataTruncated { expected, file_len });
        }
        if expected < file_len {
            return Err(SafetensorsError::TrailingBytes { expected, file_len });
        }
        self.index.tensors.shrink_to_fit();
        let State {
            mut index,
            layer,
            mut unknown_dtypes,
            ..
        } = self;
        unknown_dtypes.sort_unstable();
        unknown_dtypes.dedup();
        for d in unknown_dtypes {
            index.findings.push(Finding {
                severity: Severity::Info,
                message: format!(
                    "dtype {d} is unknown to this version; its sizes were not checked"
                ),
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
}

/// Everything the walk carries.
struct State<'s, 'l> {
    limits: &'l Limits,
    index: TensorIndex,
    layer: Layer<'s>,
    spans: &'s mut Vec<Span>,
    order: &'s mut Vec<usize>,
    names: &'s mut NameMap,
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
        let h = xxh3_64_with_seed(name.as_bytes(), name_seed());
        if name == "__metadata__" {
            // A second `__metadata__` (the first one is the metadata).
            self.dup_err
                .get_or_insert_with(|| SafetensorsError::DuplicateName(name.to_string()));
        } else {
            match self.names.entry(h) {
                Entry::Occupied(prev) => match self.index.tensors.get(*prev.get()) {
                    Some(p) if p.name == name => {
                        self.dup_err.get_or_insert_with(|| {
                            SafetensorsError::DuplicateName(name.to_string())
                        });
                    }
                    _ => self.name_collision = true,
                },
                Entry::Vacant(slot) => {
                    slot.insert(at);
                }
            }
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

impl<'s> State<'s, '_> {
    /// Records what one entry turned out to be once its value is read: a valid entry goes into
    /// the index, the first bad one is remembered (entries after it are still read the same
    /// way: a JSON error further on is the error reported, as before).
    fn entry_done(&mut self, key: Cow<'_, str>, too_long: bool, entry: Option<Fields<'_>>) {
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
            Ok(_) if self.entry_err.is_some() => {}
            Ok((dtype, shape, start, end)) => self.push(key, &dtype, shape, start, end),
            Err(e) => {
                self.entry_err.get_or_insert(e);
            }
        }
        self.layer.maybe_flush();
    }
}

/// One entry's fields as read; the shape is already the index's own vector.
struct Fields<'de> {
    dtype: Option<Cow<'de, str>>,
    shape: Option<Vec<u64>>,
    offsets: Option<([u64; 2], usize)>,
    bad_field: Option<&'static str>,
}

impl<'de> Fields<'de> {
    fn new() -> Self {
        Fields {
            dtype: None,
            shape: None,
            offsets: None,
            bad_field: None,
        }
    }

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
    for (i, &v) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(ITEM_SEP);
        }
        push_u64(out, v);
    }
}

/// Appends the decimal digits of `v` (what `write!(out, "{v}")` writes, without the formatter).
fn push_u64(out: &mut String, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at = at.saturating_sub(1);
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' | (v % 10) as u8;
        }
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &d in digits.get(at..).unwrap_or_default() {
        out.push(char::from(d));
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
