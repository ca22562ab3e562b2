//! The MIR project's layer string for safetensors (SPEC-notes §2.1), byte for byte.
//!
//! `str(header)` with `__metadata__` removed, keys and nested fields in file order. A header with
//! exactly one tensor takes MIR's `safe_open` fallback, `{'name': torch.Size([d0, d1])}`. A header
//! without tensors gives MIR's `"None"`, whose hash is a sentinel the databases must ignore, so we
//! emit no layer hash for it.

use std::fmt::Write;

use mir_core::pyrepr::{self, ITEM_SEP, KEY_SEP};
use serde_json::Value;

use super::header::{RawEntry, RawField, RawHeader};

/// `header_len` sizes the buffer: the repr is the header's JSON plus a space after each `:` and
/// `,`, so about a quarter more bytes.
pub(crate) fn layer_string(raw: &RawHeader<'_>, header_len: usize) -> Option<String> {
    let mut out = String::new();
    match raw.entries.as_slice() {
        [] => return None,
        [one] => {
            out.push('{');
            pyrepr::push_str(&mut out, &one.name);
            out.push_str(KEY_SEP);
            out.push_str("torch.Size([");
            push_u64s(&mut out, one.shape.as_deref().unwrap_or_default());
            out.push_str("])}");
        }
        many => {
            out.reserve(header_len.saturating_add(header_len / 4));
            out.push('{');
            for (i, e) in many.iter().enumerate() {
                if i > 0 {
                    out.push_str(ITEM_SEP);
                }
                pyrepr::push_str(&mut out, &e.name);
                out.push_str(KEY_SEP);
                push_entry(&mut out, e);
            }
            out.push('}');
        }
    }
    Some(out)
}

/// `repr` of one entry's dict, fields in file order.
fn push_entry(out: &mut String, e: &RawEntry<'_>) {
    out.push('{');
    for (i, f) in e.fields.iter().enumerate() {
        if i > 0 {
            out.push_str(ITEM_SEP);
        }
        match f {
            RawField::Dtype => {
                out.push_str("'dtype': ");
                pyrepr::push_str(out, e.dtype.as_deref().unwrap_or_default());
            }
            RawField::Shape => {
                out.push_str("'shape': [");
                push_u64s(out, e.shape.as_deref().unwrap_or_default());
                out.push(']');
            }
            RawField::Offsets => {
                out.push_str("'data_offsets': [");
                push_u64s(out, e.offsets.as_deref().unwrap_or_default());
                out.push(']');
            }
            RawField::Other(k, v) => {
                pyrepr::push_str(out, k);
                out.push_str(KEY_SEP);
                push_value(out, v);
            }
        }
    }
    out.push('}');
}

fn push_u64s(out: &mut String, items: &[u64]) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(ITEM_SEP);
        }
        let _ = write!(out, "{v}");
    }
}

/// `repr` of a JSON value as Python's `json.loads` would have built it.
fn push_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => pyrepr::push_none(out),
        Value::Bool(b) => pyrepr::push_bool(out, *b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                pyrepr::push_float(out, n.as_f64().unwrap_or(f64::NAN));
            }
        }
        Value::String(s) => pyrepr::push_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(ITEM_SEP);
                }
                push_value(out, v);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(ITEM_SEP);
                }
                pyrepr::push_str(out, k);
                out.push_str(KEY_SEP);
                push_value(out, v);
            }
            out.push('}');
        }
    }
}
