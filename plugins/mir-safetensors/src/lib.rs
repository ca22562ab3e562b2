//! Header-only safetensors reader for `mir`.
//!
//! # Brief overview
//!
//! A safetensors file is `u64 LE N`, then `N` bytes of UTF-8 JSON, then the tensor data. This crate
//! reads the first 8 bytes and the JSON with two positioned reads, never the data, and validates
//! the header the way the `safetensors` crate does (its `Metadata::validate`):
//!
//! * the header length is capped ([`mir_core::Limits::max_header_bytes`], 100 MB by default) and
//!   must lie inside the file;
//! * the JSON must be strict UTF-8 and an object; `__metadata__` maps strings to strings;
//! * every tensor's `data_offsets` must tile the data section with no hole and no overlap, each
//!   range's length must equal `numel × bits / 8` (with overflow checks), and the data section must
//!   end exactly at the end of the file (a shorter file is a truncated download, a longer one has
//!   trailing bytes);
//! * duplicate tensor names are rejected (the `safetensors` crate silently keeps the last).
//!
//! Element types are the `safetensors` crate's [`safetensors::Dtype`]; a dtype string the crate does
//! not know yet is kept as [`mir_core::Dtype::Other`] with a finding, so a file from a newer writer
//! still gets fingerprints (its offsets are still checked for contiguity).
//!
//! The header is read in one pass by a hand-written scanner (see `scan/fast.rs`): names are
//! borrowed from the header buffer until they become the index's own strings, `__metadata__` and
//! unknown fields are never parsed into JSON trees, and every limit is checked before what it
//! guards is kept. A header the scanner rejects as JSON is read again by serde_json (the former
//! walker, `scan/serde_walk.rs`) so its error is serde_json's own, position included. The MIR project's layer
//! string (SPEC-notes §2.1) is streamed from the same pass straight into SHA-256 and BLAKE3
//! ([`mir_core::TensorIndex::mir_layer_hashes`]); it never exists whole.
//!
//! ```
//! use mir_core::{Limits, Source};
//! let header = br#"{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#;
//! let mut file = (header.len() as u64).to_le_bytes().to_vec();
//! file.extend_from_slice(header);
//! file.extend_from_slice(&[0u8; 4]);
//! let index = mir_safetensors::parse(&Source::from_bytes("w.safetensors", file), &Limits::default()).unwrap();
//! assert_eq!(index.tensors[0].shape, vec![2]);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::panic
)]

#[cfg(any(test, feature = "baseline"))]
#[doc(hidden)]
pub mod baseline;
mod header;
mod scan;
pub mod sharding;
#[cfg(test)]
mod vs_baseline;
#[cfg(test)]
mod vs_serde;

use mir_core::{Format, Limits, Sniff, Source, TensorIndex};

pub use header::{SafetensorsError, parse, parse_header_bytes, parse_header_bytes_with};

/// The safetensors [`Format`].
#[derive(Debug, Default, Clone, Copy)]
pub struct SafetensorsFormat;

impl Format for SafetensorsFormat {
    fn name(&self) -> &'static str {
        "safetensors"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &["safetensors", "sft"]
    }

    fn sniff(&self, head: &[u8], file_len: u64, extension: Option<&str>) -> Sniff {
        let by_name = matches!(extension, Some("safetensors" | "sft"));
        let Some(len_bytes) = head.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
            return if by_name { Sniff::Extension } else { Sniff::No };
        };
        let n = u64::from_le_bytes(len_bytes);
        let fits = n >= 2 && n <= file_len.saturating_sub(8);
        let starts_object = head
            .get(8..)
            .and_then(|rest| rest.iter().find(|b| !b.is_ascii_whitespace()))
            == Some(&b'{');
        if fits && starts_object {
            Sniff::Likely
        } else if by_name {
            Sniff::Extension
        } else {
            Sniff::No
        }
    }

    fn parse(&self, src: &Source, limits: &Limits) -> Result<TensorIndex, mir_core::Error> {
        header::parse(src, limits)
    }
}

/// The serde_json walker alone (what the hand-written scanner replaced; it now only reports the
/// errors of headers the scanner rejects), for the bench's before/after in one run.
#[cfg(feature = "baseline")]
#[doc(hidden)]
pub fn parse_header_bytes_serde_walker(
    header: &[u8],
    file_len: u64,
    limits: &Limits,
    layer_hashes: bool,
) -> Result<TensorIndex, SafetensorsError> {
    let text = std::str::from_utf8(header).map_err(|e| SafetensorsError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    scan::with_scratch(|s| scan::scan_serde(text, file_len, limits, layer_hashes, s))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    fn file(header: &str, data: usize) -> Vec<u8> {
        let mut f = (header.len() as u64).to_le_bytes().to_vec();
        f.extend_from_slice(header.as_bytes());
        f.resize(f.len() + data, 0);
        f
    }

    #[test]
    fn sniffs_content_before_name() {
        let f = file(
            r#"{"a":{"dtype":"F16","shape":[],"data_offsets":[0,2]}}"#,
            2,
        );
        let head = f.get(..64.min(f.len())).unwrap_or_default();
        let s = SafetensorsFormat;
        assert_eq!(s.sniff(head, f.len() as u64, Some("bin")), Sniff::Likely);
        assert_eq!(
            s.sniff(b"GGUF\x03\0\0\0", 100, Some("safetensors")),
            Sniff::Extension
        );
        assert_eq!(s.sniff(b"GGUF\x03\0\0\0", 100, Some("gguf")), Sniff::No);
        assert_eq!(s.sniff(b"", 0, None), Sniff::No);
    }
}
