//! The safetensors header parser as it was before the single-pass scanner (serde_json visitors
//! that collect every entry, `serde_json::Value` trees for `__metadata__` and unknown fields, then
//! separate validation and layer-string passes). Kept only to compare against: the unit tests
//! check the new parser gives the same index, errors and layer hashes on every fixture and on
//! generated headers, and `mir-benches` times both (feature `baseline`). Never used by `mir`.
#![allow(missing_docs)]

mod header;
mod layer;

pub use header::{SafetensorsError, parse, parse_header_bytes};

/// The old parser's MIR layer string for a header that it accepts.
pub fn layer_string(header: &[u8], file_len: u64, limits: &mir_core::Limits) -> Option<String> {
    parse_header_bytes(header, file_len, limits)
        .ok()
        .and_then(|i| i.mir_layer_string)
}
