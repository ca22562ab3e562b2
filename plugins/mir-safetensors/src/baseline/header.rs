//! Reading and validating a safetensors header.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use mir_core::{Dtype, Finding, Limits, MetaValue, Severity, Source, TensorIndex, TensorRecord};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::layer;

/// Why a safetensors header was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SafetensorsError {
    /// The file is shorter than the 8-byte length prefix.
    #[error("file of {file_len} bytes is too small to hold the 8-byte header length")]
    HeaderTooSmall {
        /// The file's length.
        file_len: u64,
    },
    /// The declared header length is over the limit (a length bomb, or not a safetensors file).
    #[error("declared header length {len} is over the limit of {limit} bytes")]
    HeaderTooLarge {
        /// The declared length.
        len: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The declared header runs past the end of the file.
    #[error("declared header length {len} runs past the end of the {file_len}-byte file")]
    HeaderPastEnd {
        /// The declared length.
        len: u64,
        /// The file's length.
        file_len: u64,
    },
    /// The header is not valid UTF-8.
    #[error("header is not valid UTF-8 (first bad byte at header offset {valid_up_to})")]
    InvalidUtf8 {
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// The header is not valid JSON, or not a JSON object.
    #[error("header is not a valid JSON object: {0}")]
    InvalidJson(#[source] serde_json::Error),
    /// Two entries share a name.
    #[error("tensor name {0:?} appears more than once")]
    DuplicateName(String),
    /// `__metadata__` is neither an object nor null.
    #[error("__metadata__ is not an object of strings")]
    MetadataNotObject,
    /// A `__metadata__` value is not a string (numbers and objects are not allowed there).
    #[error("__metadata__ value for {key:?} is not a string")]
    MetadataNotString {
        /// The key whose value is not a string.
        key: String,
    },
    /// A tensor entry lacks a field or has one of the wrong type.
    #[error("tensor {name:?}: {reason}")]
    InvalidEntry {
        /// The tensor's name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A tensor's data offsets leave a hole, overlap another tensor, or run backwards.
    #[error(
        "tensor {name:?}: data_offsets [{start}, {end}] do not continue the data at {expected}"
    )]
    InvalidOffsets {
        /// The tensor's name.
        name: String,
        /// Declared start.
        start: u64,
        /// Declared end.
        end: u64,
        /// Where the previous tensor ended.
        expected: u64,
    },
    /// A tensor's byte length disagrees with its dtype and shape.
    #[error("tensor {name:?}: {actual} bytes of data but dtype and shape need {expected}")]
    SizeMismatch {
        /// The tensor's name.
        name: String,
        /// `numel × bits / 8`.
        expected: u64,
        /// `end - start`.
        actual: u64,
    },
    /// A tensor's element count or byte size overflows 64 bits.
    #[error("tensor {name:?}: shape overflows 64-bit arithmetic")]
    Overflow {
        /// The tensor's name.
        name: String,
    },
    /// A sub-byte dtype whose data does not end on a byte boundary.
    #[error("tensor {name:?}: sub-byte dtype does not fill whole bytes")]
    MisalignedSlice {
        /// The tensor's name.
        name: String,
    },
    /// The data section ends past the end of the file (a partial download).
    #[error("data section needs {expected} bytes but the file has {file_len} (truncated download)")]
    DataTruncated {
        /// Bytes the header promises (8 + N + data).
        expected: u64,
        /// The file's length.
        file_len: u64,
    },
    /// Bytes follow the data section (not allowed: it makes polyglot files possible).
    #[error("{} bytes follow the data section (file has {file_len}, header covers {expected})", file_len.saturating_sub(*expected))]
    TrailingBytes {
        /// Bytes the header covers.
        expected: u64,
        /// The file's length.
        file_len: u64,
    },
}

/// Reads, parses and validates the header of `src`.
pub fn parse(src: &Source, limits: &Limits) -> Result<TensorIndex, mir_core::Error> {
    let file_len = src.len();
    if file_len < 8 {
        return Err(wrap(SafetensorsError::HeaderTooSmall { file_len }));
    }
    let mut len_bytes = [0u8; 8];
    src.read_exact_at(0, &mut len_bytes, "safetensors header length")?;
    let n = u64::from_le_bytes(len_bytes);
    if n > limits.max_header_bytes {
        return Err(wrap(SafetensorsError::HeaderTooLarge {
            len: n,
            limit: limits.max_header_bytes,
        }));
    }
    if n > file_len.saturating_sub(8) {
        return Err(wrap(SafetensorsError::HeaderPastEnd { len: n, file_len }));
    }
    let header = src.read_vec(8, n, "safetensors header", limits.max_header_bytes)?;
    parse_header_bytes(&header, file_len, limits).map_err(wrap)
}

fn wrap(e: SafetensorsError) -> mir_core::Error {
    mir_core::Error::format("safetensors", e)
}

/// Parses and validates header JSON bytes (the `N` bytes after the length prefix) of a file of
/// `file_len` bytes.
pub fn parse_header_bytes(
    header: &[u8],
    file_len: u64,
    limits: &Limits,
) -> Result<TensorIndex, SafetensorsError> {
    let text = std::str::from_utf8(header).map_err(|e| SafetensorsError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let raw = parse_raw(text, limits)?;
    let data_start = (header.len() as u64).saturating_add(8);

    let mut index = TensorIndex::new("safetensors");
    index.data_offset = Some(data_start);
    if let Some(meta) = &raw.metadata {
        read_metadata(meta, &mut index)?;
    }
    let mut tensors = Vec::with_capacity(raw.entries.len());
    for e in &raw.entries {
        tensors.push(check_entry(e, limits)?);
    }
    reject_duplicates(&raw.entries)?;

    let data_len = validate_offsets(&raw.entries, &tensors)?;
    let expected = data_start.saturating_add(data_len);
    if expected > file_len {
        return Err(SafetensorsError::DataTruncated { expected, file_len });
    }
    if expected < file_len {
        return Err(SafetensorsError::TrailingBytes { expected, file_len });
    }

    let mut unknown: Vec<&str> = Vec::new();
    index.tensors.reserve(tensors.len());
    for (e, t) in raw.entries.iter().zip(&tensors) {
        if t.dtype.is_none() {
            unknown.push(t.dtype_name);
        }
        index.tensors.push(TensorRecord {
            name: e.name.clone().into_owned(),
            dtype: Dtype::from_safetensors(t.dtype_name),
            shape: t.shape.to_vec(),
            data: Some((
                data_start.saturating_add(t.start),
                data_start.saturating_add(t.end),
            )),
        });
    }
    unknown.sort_unstable();
    unknown.dedup();
    for d in unknown {
        index.findings.push(Finding {
            severity: Severity::Info,
            message: format!("dtype {d} is unknown to this version; its sizes were not checked"),
        });
    }
    index.mir_layer_string = layer::layer_string(&raw, header.len());
    Ok(index)
}

/// One tensor entry as the JSON declares it, fields possibly missing or of the wrong type, in
/// file order; `name` and `dtype` borrow from the header when they hold no escapes.
pub(crate) struct RawEntry<'h> {
    pub(crate) name: Cow<'h, str>,
    /// False when the value was not a JSON object (then every field is `None`).
    pub(crate) is_object: bool,
    pub(crate) dtype: Option<Cow<'h, str>>,
    pub(crate) shape: Option<Vec<u64>>,
    pub(crate) offsets: Option<Vec<u64>>,
    /// Field names in file order (`dtype`, `shape`, `data_offsets`, or others kept as values).
    pub(crate) fields: Vec<RawField<'h>>,
    /// A field held a value of the wrong type or too many dimensions.
    pub(crate) bad_field: Option<&'static str>,
}

/// A field of an entry, in file order, for MIR's layer string.
pub(crate) enum RawField<'h> {
    Dtype,
    Shape,
    Offsets,
    Other(Cow<'h, str>, Value),
}

/// The parsed header in file order, before validation.
pub(crate) struct RawHeader<'h> {
    pub(crate) entries: Vec<RawEntry<'h>>,
    pub(crate) metadata: Option<Value>,
}

/// An entry after the checks that need no other entry.
struct Checked<'a> {
    dtype_name: &'a str,
    dtype: Option<safetensors::Dtype>,
    shape: &'a [u64],
    start: u64,
    end: u64,
}

/// Parses the header without building a JSON tree per tensor: fields are read straight into
/// typed slots, and anything of the wrong type is drained and flagged instead of failing the
/// parse, so the error can name the tensor and the field.
fn parse_raw<'h>(text: &'h str, limits: &Limits) -> Result<RawHeader<'h>, SafetensorsError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let raw = de
        .deserialize_map(TopLevel { limits })
        .map_err(SafetensorsError::InvalidJson)?;
    // Only trailing whitespace may follow the object (writers pad with spaces).
    de.end().map_err(SafetensorsError::InvalidJson)?;
    Ok(raw)
}

struct TopLevel<'l> {
    limits: &'l Limits,
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = RawHeader<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        let mut metadata = None;
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            let key = key.0;
            if key == "__metadata__" && metadata.is_none() {
                metadata = Some(map.next_value::<Value>()?);
                continue;
            }
            if entries.len() as u64 >= self.limits.max_tensors {
                return Err(de::Error::custom(format!(
                    "more than {} tensors",
                    self.limits.max_tensors
                )));
            }
            let mut entry = map.next_value_seed(EntrySeed {
                max_rank: self.limits.max_rank,
            })?;
            entry.name = key;
            entries.push(entry);
        }
        Ok(RawHeader { entries, metadata })
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

/// Any JSON value: `Some(list)` when it is an array of at most `max_len` non-negative integers,
/// drained and `None` otherwise.
struct U64ListSeed {
    max_len: usize,
}

impl<'de> DeserializeSeed<'de> for U64ListSeed {
    type Value = Option<Vec<u64>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for U64ListSeed {
    type Value = Option<Vec<u64>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(4);
        let mut ok = true;
        while let Some(v) = s.next_element::<MaybeU64>()? {
            match v.0 {
                Some(d) if ok && out.len() < self.max_len => out.push(d),
                _ => ok = false,
            }
        }
        Ok(ok.then_some(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
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

/// One tensor entry: an object read field by field; anything else is drained and flagged.
struct EntrySeed {
    max_rank: usize,
}

impl<'de> DeserializeSeed<'de> for EntrySeed {
    type Value = RawEntry<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl EntrySeed {
    fn not_object<'de>() -> RawEntry<'de> {
        RawEntry {
            name: Cow::Borrowed(""),
            is_object: false,
            dtype: None,
            shape: None,
            offsets: None,
            fields: Vec::new(),
            bad_field: None,
        }
    }
}

impl<'de> Visitor<'de> for EntrySeed {
    type Value = RawEntry<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tensor entry")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        let mut e = EntrySeed::not_object();
        e.is_object = true;
        e.fields.reserve_exact(3);
        while let Some(key) = m.next_key::<CowStr<'de>>()? {
            match key.0.as_ref() {
                "dtype" if e.dtype.is_none() => {
                    e.dtype = m.next_value::<MaybeStr<'de>>()?.0;
                    if e.dtype.is_none() {
                        e.bad_field = Some("dtype is not a string");
                    }
                    e.fields.push(RawField::Dtype);
                }
                "shape" if e.shape.is_none() => {
                    e.shape = m.next_value_seed(U64ListSeed {
                        max_len: self.max_rank,
                    })?;
                    if e.shape.is_none() {
                        e.bad_field = Some(
                            "shape is not a list of non-negative integers within the rank limit",
                        );
                    }
                    e.fields.push(RawField::Shape);
                }
                "data_offsets" if e.offsets.is_none() => {
                    e.offsets = m.next_value_seed(U64ListSeed { max_len: 2 })?;
                    if e.offsets.is_none() {
                        e.bad_field = Some("data_offsets is not a list of two integers");
                    }
                    e.fields.push(RawField::Offsets);
                }
                _ => {
                    let v: Value = m.next_value()?;
                    e.fields.push(RawField::Other(key.0, v));
                }
            }
        }
        Ok(e)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(EntrySeed::not_object())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(EntrySeed::not_object())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(EntrySeed::not_object())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(EntrySeed::not_object())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(EntrySeed::not_object())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(EntrySeed::not_object())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(EntrySeed::not_object())
    }
}

fn read_metadata(value: &Value, index: &mut TensorIndex) -> Result<(), SafetensorsError> {
    match value {
        Value::Null => Ok(()),
        Value::Object(map) => {
            for (k, v) in map {
                let Value::String(s) = v else {
                    return Err(SafetensorsError::MetadataNotString { key: k.clone() });
                };
                index.metadata.insert(k.clone(), MetaValue::Str(s.clone()));
            }
            Ok(())
        }
        _ => Err(SafetensorsError::MetadataNotObject),
    }
}

fn check_entry<'a>(e: &'a RawEntry<'_>, limits: &Limits) -> Result<Checked<'a>, SafetensorsError> {
    let bad = |reason| SafetensorsError::InvalidEntry {
        name: e.name.clone().into_owned(),
        reason,
    };
    if e.name.len() > limits.max_name_bytes {
        return Err(bad("name is longer than the limit"));
    }
    if !e.is_object {
        return Err(bad("entry is not an object"));
    }
    if let Some(reason) = e.bad_field {
        return Err(bad(reason));
    }
    let dtype_name = e.dtype.as_deref().ok_or_else(|| bad("dtype is missing"))?;
    let shape = e.shape.as_deref().ok_or_else(|| bad("shape is missing"))?;
    let (start, end) = match e.offsets.as_deref() {
        Some(&[a, b]) => (a, b),
        Some(_) => return Err(bad("data_offsets does not hold exactly two offsets")),
        None => return Err(bad("data_offsets is missing")),
    };
    Ok(Checked {
        dtype_name,
        dtype: safetensors_dtype(dtype_name),
        shape,
        start,
        end,
    })
}

/// The `safetensors` crate's dtype for a name, `None` for names it does not know.
fn safetensors_dtype(name: &str) -> Option<safetensors::Dtype> {
    use serde::de::IntoDeserializer;
    let d: de::value::StrDeserializer<'_, de::value::Error> = name.into_deserializer();
    safetensors::Dtype::deserialize(d).ok()
}

fn reject_duplicates(entries: &[RawEntry<'_>]) -> Result<(), SafetensorsError> {
    // XXH3 rather than SipHash: the names are not attacker-chosen keys of a long-lived table,
    // and this runs once per file on thousands of names.
    let mut seen: HashSet<&str, xxhash_rust::xxh3::Xxh3DefaultBuilder> =
        HashSet::with_capacity_and_hasher(entries.len().saturating_add(1), Default::default());
    seen.insert("__metadata__");
    for e in entries {
        if !seen.insert(e.name.as_ref()) {
            return Err(SafetensorsError::DuplicateName(e.name.clone().into_owned()));
        }
    }
    Ok(())
}

/// The `safetensors` crate's `Metadata::validate`, with names in every error: sorted by offset,
/// each tensor starts where the previous ended, and its size matches dtype × shape. Returns the
/// data section's length.
fn validate_offsets(
    entries: &[RawEntry<'_>],
    tensors: &[Checked<'_>],
) -> Result<u64, SafetensorsError> {
    let mut order: Vec<usize> = (0..tensors.len()).collect();
    order.sort_unstable_by_key(|&i| tensors.get(i).map(|t| (t.start, t.end)));
    let mut expected = 0u64;
    for i in order {
        let (Some(t), Some(e)) = (tensors.get(i), entries.get(i)) else {
            continue;
        };
        let name = || e.name.clone().into_owned();
        if t.start != expected || t.end < t.start {
            return Err(SafetensorsError::InvalidOffsets {
                name: name(),
                start: t.start,
                end: t.end,
                expected,
            });
        }
        expected = t.end;
        let Some(dtype) = t.dtype else {
            continue; // Unknown dtype: contiguity checked, size cannot be.
        };
        let overflow = || SafetensorsError::Overflow { name: name() };
        let numel = t
            .shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(overflow)?;
        let bits = numel
            .checked_mul(dtype.bitsize() as u64)
            .ok_or_else(overflow)?;
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
