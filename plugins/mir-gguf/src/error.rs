//! Why a GGUF header could not be read.

use std::io;

/// Why a GGUF header could not be read. Every variant names the problem and, where it helps,
/// the offset in the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    /// The operating system refused a read.
    #[error("read failed: {0}")]
    Io(#[source] io::Error),
    /// The file does not start with the bytes `GGUF`. The message never shows the bytes found:
    /// a file's content is not echoed into errors (it may not be ours to show).
    #[error("not a gguf file: it does not start with \"GGUF\"")]
    BadMagic {
        /// The first bytes of the file (up to four).
        found: Vec<u8>,
    },
    /// The version is neither 1, 2 nor 3 in either byte order.
    #[error("unsupported gguf version {version} (read little-endian)")]
    UnsupportedVersion {
        /// The version field read as little-endian.
        version: u32,
    },
    /// The file ends inside a fixed-size field.
    #[error("truncated: the {what} needs bytes up to {end} but the file has {file_len}")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// One past the last byte needed.
        end: u64,
        /// The file's length.
        file_len: u64,
    },
    /// A count or length is over a [`mir_core::Limits`] bound.
    #[error("the {what} is {value}, over the limit of {limit}")]
    LimitExceeded {
        /// What was counted.
        what: &'static str,
        /// The value the file declared (or the bytes the header needed).
        value: u64,
        /// The limit in force.
        limit: u64,
    },
    /// A count (tensors, key/values, array elements) needs more bytes than the file has left,
    /// even at the smallest possible size per item.
    #[error("the {what} {count} at offset {offset} cannot fit in the {remaining} bytes left")]
    CountExceedsFile {
        /// What was counted.
        what: &'static str,
        /// The count the file declared.
        count: u64,
        /// Where the count was read.
        offset: u64,
        /// The bytes left in the file after the count.
        remaining: u64,
    },
    /// A string's declared length runs past the end of the file.
    #[error(
        "the {what} at offset {offset} declares {len} bytes, past the end of the file ({file_len} bytes)"
    )]
    StringPastEnd {
        /// Which string (key, tensor name, string value).
        what: &'static str,
        /// Where the string's bytes start.
        offset: u64,
        /// The declared length.
        len: u64,
        /// The file's length.
        file_len: u64,
    },
    /// A metadata value type id outside 0..=12.
    #[error("unknown metadata value type {value_type} at offset {offset}")]
    UnknownValueType {
        /// The id read.
        value_type: u32,
        /// Where it was read.
        offset: u64,
    },
    /// Arrays are nested deeper than [`mir_core::Limits::max_depth`].
    #[error("arrays nested deeper than {limit} levels at offset {offset}")]
    NestingTooDeep {
        /// Where the array that went too deep starts.
        offset: u64,
        /// The limit in force.
        limit: usize,
    },
    /// A key or tensor name is not valid UTF-8.
    #[error("the {what} at offset {offset} is not valid utf-8")]
    InvalidUtf8 {
        /// `key` or `tensor name`.
        what: &'static str,
        /// Where its bytes start.
        offset: u64,
    },
    /// Two key/value pairs have the same key.
    #[error("duplicate metadata key {key:?}")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// Two tensor infos have the same name.
    #[error("duplicate tensor name {name:?}")]
    DuplicateTensor {
        /// The repeated name.
        name: String,
    },
    /// `general.alignment` is not a u32.
    #[error("general.alignment must be a u32, found a {found}")]
    AlignmentType {
        /// The value type found.
        found: &'static str,
    },
    /// `general.alignment` is zero or not a power of two.
    #[error("general.alignment {alignment} is not a non-zero power of two")]
    BadAlignment {
        /// The alignment declared.
        alignment: u64,
    },
    /// A tensor's data offset is not a multiple of the alignment.
    #[error("tensor {name:?} has offset {offset}, not a multiple of the alignment {alignment}")]
    MisalignedTensor {
        /// The tensor.
        name: String,
        /// Its offset relative to the data section.
        offset: u64,
        /// The file's alignment.
        alignment: u64,
    },
    /// A tensor's element count or byte size overflows u64.
    #[error("tensor {name:?} has dimensions whose size overflows")]
    TensorSizeOverflow {
        /// The tensor.
        name: String,
    },
    /// A block-quantised tensor's innermost dimension is not a whole number of blocks.
    #[error(
        "tensor {name:?} has innermost dimension {dim}, not a multiple of its block size {block}"
    )]
    PartialBlock {
        /// The tensor.
        name: String,
        /// The innermost (first ggml) dimension.
        dim: u64,
        /// The type's block size.
        block: u64,
    },
    /// Memory for a header buffer or value whose size the file declared (within the limits)
    /// could not be allocated: this file fails, the scan goes on.
    #[error("out of memory: cannot allocate {bytes} bytes for the {what}")]
    OutOfMemory {
        /// What the memory was for.
        what: &'static str,
        /// The size asked for (bytes, or items for a list).
        bytes: u64,
    },
    /// A tensor's data lies (partly) past the end of the file.
    #[error("tensor {name:?} needs bytes {start}..{end} but the file has {file_len}")]
    TensorOutOfBounds {
        /// The tensor.
        name: String,
        /// Absolute start of its data.
        start: u64,
        /// Absolute end of its data (`u64::MAX` when it overflows).
        end: u64,
        /// The file's length.
        file_len: u64,
    },
}

impl From<mir_core::Error> for GgufError {
    fn from(e: mir_core::Error) -> Self {
        match e {
            mir_core::Error::Io(io) => GgufError::Io(io),
            mir_core::Error::Truncated {
                what,
                end,
                file_len,
            } => GgufError::Truncated {
                what,
                end,
                file_len,
            },
            mir_core::Error::LimitExceeded { what, value, limit } => {
                GgufError::LimitExceeded { what, value, limit }
            }
            mir_core::Error::OutOfMemory { what, bytes } => GgufError::OutOfMemory { what, bytes },
            other => GgufError::Io(io::Error::other(other.to_string())),
        }
    }
}

impl From<GgufError> for mir_core::Error {
    /// Errors any format can hit keep mir-core's own variants (so a scanner can tell a damaged
    /// download from a hostile file); the rest are wrapped in [`mir_core::Error::Format`].
    fn from(e: GgufError) -> Self {
        match e {
            GgufError::Io(io) => mir_core::Error::Io(io),
            GgufError::Truncated {
                what,
                end,
                file_len,
            } => mir_core::Error::Truncated {
                what,
                end,
                file_len,
            },
            GgufError::LimitExceeded { what, value, limit } => {
                mir_core::Error::LimitExceeded { what, value, limit }
            }
            GgufError::OutOfMemory { what, bytes } => mir_core::Error::OutOfMemory { what, bytes },
            other => mir_core::Error::format("gguf", other),
        }
    }
}
