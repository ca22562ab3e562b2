//! Reading and validating a safetensors header.

use std::collections::HashSet;
use std::fmt;

use mir_core::{Dtype, Finding, Limits, MetaValue, Severity, Source, TensorIndex, TensorRecord};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::layer;

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

/// One tensor entry as declared.
struct Entry {
    name: String,
    dtype_name: String,
    dtype: Option<safetensors::Dtype>,
    shape: Vec<u64>,
    start: u64,
    end: u64,
}

/// The parsed header in file order, before validation.
pub(crate) struct RawHeader {
    /// Every top-level entry (tensors and `__metadata__`) in file order.
    pub(crate) entries: Vec<(String, Value)>,
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
    let raw = parse_ordered(text, limits)?;
    let data_start = (header.len() as u64).saturating_add(8);

    let mut index = TensorIndex::new("safetensors");
    index.data_offset = Some(data_start);
    let mut entries = Vec::with_capacity(raw.entries.len());
    for (name, value) in &raw.entries {
        if name == "__metadata__" {
            read_metadata(value, &mut index)?;
        } else {
            entries.push(read_entry(name, value, limits)?);
        }
    }

    let data_len = validate_offsets(&mut entries)?;
    let expected = data_start.saturating_add(data_len);
    if expected > file_len {
        return Err(SafetensorsError::DataTruncated { expected, file_len });
    }
    if expected < file_len {
        return Err(SafetensorsError::TrailingBytes { expected, file_len });
    }

    // Entries were sorted by offset for validation; the index keeps header (file) order.
    let mut unknown: Vec<&str> = Vec::new();
    let by_name: std::collections::HashMap<&str, &Entry> =
        entries.iter().map(|e| (e.name.as_str(), e)).collect();
    for (name, _) in &raw.entries {
        let Some(e) = by_name.get(name.as_str()) else {
            continue;
        };
        if e.dtype.is_none() {
            unknown.push(&e.dtype_name);
        }
        index.tensors.push(TensorRecord {
            name: e.name.clone(),
            dtype: Dtype::from_safetensors(&e.dtype_name),
            shape: e.shape.clone(),
            data: Some((
                data_start.saturating_add(e.start),
                data_start.saturating_add(e.end),
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
    index.mir_layer_string = layer::layer_string(&raw);
    Ok(index)
}

/// Parses the top-level object keeping file order and rejecting duplicate names.
fn parse_ordered(text: &str, limits: &Limits) -> Result<RawHeader, SafetensorsError> {
    struct TopLevel<'l>(&'l Limits);
    impl<'de> Visitor<'de> for TopLevel<'_> {
        type Value = Result<Vec<(String, Value)>, SafetensorsError>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                let value: Value = map.next_value()?;
                if !seen.insert(key.clone()) {
                    return Ok(Err(SafetensorsError::DuplicateName(key)));
                }
                // One entry more than max_tensors allows for `__metadata__`.
                if out.len() as u64 > self.0.max_tensors {
                    return Err(de::Error::custom(format!(
                        "more than {} tensors",
                        self.0.max_tensors
                    )));
                }
                out.push((key, value));
            }
            Ok(Ok(out))
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let entries = de
        .deserialize_map(TopLevel(limits))
        .map_err(SafetensorsError::InvalidJson)??;
    // Only trailing whitespace may follow the object (writers pad with spaces).
    de.end().map_err(SafetensorsError::InvalidJson)?;
    Ok(RawHeader { entries })
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

fn read_entry(name: &str, value: &Value, limits: &Limits) -> Result<Entry, SafetensorsError> {
    let bad = |reason| SafetensorsError::InvalidEntry {
        name: name.to_owned(),
        reason,
    };
    if name.len() > limits.max_name_bytes {
        return Err(bad("name is longer than the limit"));
    }
    let obj = value
        .as_object()
        .ok_or_else(|| bad("entry is not an object"))?;
    let dtype_name = obj
        .get("dtype")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("dtype is missing or not a string"))?;
    let dtype: Option<safetensors::Dtype> =
        serde_json::from_value(Value::String(dtype_name.to_owned())).ok();
    let shape_v = obj
        .get("shape")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("shape is missing or not an array"))?;
    if shape_v.len() > limits.max_rank {
        return Err(bad("shape has more dimensions than the limit"));
    }
    let shape = shape_v
        .iter()
        .map(Value::as_u64)
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(|| bad("shape holds a value that is not a non-negative integer"))?;
    let offsets = obj
        .get("data_offsets")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("data_offsets is missing or not an array"))?;
    let (start, end) = match offsets.as_slice() {
        [a, b] => (
            a.as_u64()
                .ok_or_else(|| bad("data_offsets holds a non-integer"))?,
            b.as_u64()
                .ok_or_else(|| bad("data_offsets holds a non-integer"))?,
        ),
        _ => return Err(bad("data_offsets does not hold exactly two offsets")),
    };
    Ok(Entry {
        name: name.to_owned(),
        dtype_name: dtype_name.to_owned(),
        dtype,
        shape,
        start,
        end,
    })
}

/// The `safetensors` crate's `Metadata::validate`, with names in every error: sorted by offset,
/// each tensor starts where the previous ended, and its size matches dtype × shape. Returns the
/// data section's length.
fn validate_offsets(entries: &mut [Entry]) -> Result<u64, SafetensorsError> {
    entries.sort_by_key(|e| (e.start, e.end));
    let mut expected = 0u64;
    for e in entries.iter() {
        if e.start != expected || e.end < e.start {
            return Err(SafetensorsError::InvalidOffsets {
                name: e.name.clone(),
                start: e.start,
                end: e.end,
                expected,
            });
        }
        expected = e.end;
        let Some(dtype) = e.dtype else {
            continue; // Unknown dtype: contiguity checked, size cannot be.
        };
        let overflow = || SafetensorsError::Overflow {
            name: e.name.clone(),
        };
        let numel = e
            .shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(overflow)?;
        let bits = numel
            .checked_mul(dtype.bitsize() as u64)
            .ok_or_else(overflow)?;
        if bits % 8 != 0 {
            return Err(SafetensorsError::MisalignedSlice {
                name: e.name.clone(),
            });
        }
        let size = bits / 8;
        let actual = e.end.saturating_sub(e.start);
        if actual != size {
            return Err(SafetensorsError::SizeMismatch {
                name: e.name.clone(),
                expected: size,
                actual,
            });
        }
    }
    Ok(expected)
}
