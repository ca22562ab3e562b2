//! Reading and validating a safetensors header.

use mir_core::{Limits, Source, TensorIndex};

use crate::scan;

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
    /// `__metadata__` holds more pairs than [`Limits::max_metadata_entries`].
    #[error("__metadata__ holds more than {limit} entries")]
    TooManyMetadataEntries {
        /// The limit in force.
        limit: u64,
    },
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

/// Reads, parses and validates the header of `src`. The header bytes are read into a buffer
/// this thread reuses for the next file.
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
    let len = usize::try_from(n).map_err(|_| {
        wrap(SafetensorsError::HeaderTooLarge {
            len: n,
            limit: limits.max_header_bytes,
        })
    })?;
    scan::with_scratch(|scratch| {
        let mut header = std::mem::take(&mut scratch.header);
        header.clear();
        // Fallible: a header within the limits that the allocator cannot provide is an
        // out-of-memory error for this file, never an abort of the scan (issue 17 item 8).
        let r = mir_core::grow_zeroed(&mut header, len, "safetensors header")
            .and_then(|()| src.read_exact_at(8, &mut header, "safetensors header"))
            .and_then(|()| header_bytes(&header, file_len, limits, true, scratch).map_err(wrap));
        scratch.header = header;
        r
    })
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
    scan::with_scratch(|scratch| header_bytes(header, file_len, limits, true, scratch))
}

/// As [`parse_header_bytes`], with the MIR layer hashes left out when `layer_hashes` is false
/// (the same headers are accepted and rejected; `mir_layer_hashes` is then `None`). For callers
/// that need no database lookup, and for the bench that times the layer hashes on their own.
pub fn parse_header_bytes_with(
    header: &[u8],
    file_len: u64,
    limits: &Limits,
    layer_hashes: bool,
) -> Result<TensorIndex, SafetensorsError> {
    scan::with_scratch(|scratch| header_bytes(header, file_len, limits, layer_hashes, scratch))
}

fn header_bytes(
    header: &[u8],
    file_len: u64,
    limits: &Limits,
    layer_hashes: bool,
    scratch: &mut scan::Scratch,
) -> Result<TensorIndex, SafetensorsError> {
    let text = std::str::from_utf8(header).map_err(|e| SafetensorsError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    scan::scan(text, file_len, limits, layer_hashes, scratch)
}
