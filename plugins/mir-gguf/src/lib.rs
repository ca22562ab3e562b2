//! GGUF for `mir`: a bounded header parser and the [`GgufFormat`] plugin.
//!
//! [`parse_header`] reads a GGUF file's magic, version, key/values and tensor infos without
//! touching tensor data: GGUF v1, v2 and v3, little- and big-endian (recognised by a byte-swapped
//! version field), every value type including nested arrays. Unknown ggml type ids are kept by
//! number. Tokenizer vocabularies are walked, never decoded, so a 150k-token file allocates
//! nothing per token. [`GgufHeader::to_index`] turns a header into a [`mir_core::TensorIndex`]
//! with logical PyTorch-order shapes, honouring city96's `comfy.gguf.orig_shape.<tensor>` keys.
//!
//! Why a hand-written parser: gguf-rs 0.1.8 panics on valid files with new quant types, misreads
//! v1 dims and big-endian files and does a syscall per field; ggus, gguf 0.1.2 and candle reject
//! valid files or are unsafe on hostile ones (shared/design/rust-stack.md §2).
//!
//! Every count and length from the file is bounded by the bytes left in the file and by
//! [`mir_core::Limits`] before anything is allocated for it, and every hostile input gets its own
//! [`GgufError`] variant.
//!
//! ```
//! use mir_core::{Limits, Source};
//! let src = Source::from_bytes("x.gguf", b"GGUF\x03\0\0\0".to_vec());
//! let err = mir_gguf::parse_header(&src, &Limits::default()).unwrap_err();
//! assert!(matches!(err, mir_gguf::GgufError::Truncated { what: "tensor count", .. }));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::panic
)]

mod error;
mod header;
mod index;
mod types;

pub use error::GgufError;
pub use header::{
    DEFAULT_ALIGNMENT, Endian, GgufArray, GgufHeader, GgufValue, INITIAL_CHUNK, KvEntry,
    MAX_INLINE_ARRAY, MAX_INLINE_VALUES, TensorInfo, parse_header,
};
pub use index::{ORIG_SHAPE_PREFIX, ggml_dtype, meta_value};
pub use types::{ValueType, file_type_name, ggml_block_size, ggml_type_name};

use mir_core::{Format, Limits, Sniff, Source, TensorIndex};

/// The GGUF format plugin: name `gguf`, extension `gguf`, sniffed by the `GGUF` magic.
///
/// [`Format::parse`] returns truncation, limit and I/O failures as mir-core's own
/// [`mir_core::Error`] variants and every other [`GgufError`] wrapped in
/// [`mir_core::Error::Format`] (use `downcast_format::<GgufError>()`).
#[derive(Clone, Copy, Debug, Default)]
pub struct GgufFormat;

impl Format for GgufFormat {
    fn name(&self) -> &'static str {
        "gguf"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &["gguf"]
    }

    fn sniff(&self, head: &[u8], _file_len: u64, extension: Option<&str>) -> Sniff {
        if head.starts_with(b"GGUF") {
            Sniff::Magic
        } else if extension == Some("gguf") {
            Sniff::Extension
        } else {
            Sniff::No
        }
    }

    fn parse(&self, src: &Source, limits: &Limits) -> Result<TensorIndex, mir_core::Error> {
        Ok(parse_header(src, limits)?.into_index()?)
    }
}
