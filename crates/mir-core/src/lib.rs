//! The core of `mir`: a format-neutral tensor index built from file headers, and its fingerprints.
//!
//! # Brief overview
//!
//! * [`Source`] reads a file with positioned reads (`pread`), never a memory map, so a file that
//!   is truncated while it is scanned gives [`Error::Truncated`] instead of a `SIGBUS`. A source
//!   can also wrap bytes in memory (tests, fuzzing, plugins).
//! * [`Limits`] bounds every count and length that comes from a file; parsers check a limit
//!   **before** they allocate.
//! * A [`Format`] (one per plugin crate) sniffs the first bytes of a file and parses its header
//!   into a [`TensorIndex`]: tensor names, [`Dtype`]s, logical shapes in PyTorch order, byte ranges,
//!   and the file's metadata.
//! * [`signature`] computes the versioned fingerprints (`key_sig`, `shape_sig`) and the MIR
//!   project's `layer_256`/`layer_b3`; [`pyrepr`] reproduces the CPython `repr` those hash.
//!
//! Tensor data is never read to identify a file.
//!
//! ```
//! use mir_core::{Dtype, TensorIndex, TensorRecord, signature};
//! let mut index = TensorIndex::new("example");
//! index.tensors.push(TensorRecord::new("a.weight", Dtype::F16, vec![2, 2]));
//! let sigs = signature::Signatures::of(&index);
//! assert_eq!(sigs.key_sig_hex().len(), 32);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod dtype;
mod error;
mod format;
mod index;
mod limits;
pub mod pyrepr;
pub mod signature;
mod source;

pub use dtype::Dtype;
pub use error::Error;
pub use format::{Format, FormatRegistry, Sniff};
pub use index::{Finding, MetaValue, Severity, TensorIndex, TensorRecord};
pub use limits::Limits;
pub use source::{FileId, Source, SourceReader, grow_zeroed, open_regular, zeroed};
