//! The MIR project's layer string for safetensors (SPEC-notes §2.1), byte for byte.
//!
//! `str(header)` with `__metadata__` removed, keys and nested fields in file order. A header with
//! exactly one tensor takes MIR's `safe_open` fallback, `{'name': torch.Size([d0, d1])}`. A header
//! without tensors gives MIR's `"None"`, whose hash is a sentinel the databases must ignore, so we
//! emit no layer hash for it.

use mir_core::pyrepr::{self, ITEM_SEP, KEY_SEP};
use serde_json::Value;

use crate::header::RawHeader;

pub(crate) fn layer_string(raw: &RawHeader) -> Option<String> {
    let tensors: Vec<&(String, Value)> = raw
        .entries
        .iter()
        .filter(|(k, _)| k != "__metadata__")
        .collect();
    let mut out = String::with_capacity(tensors.len().saturating_mul(96));
    match tensors.as_slice() {
        [] => return None,
        [(name, value)] => {
            out.push('{');
            pyrepr::push_str(&mut out, name);
            out.push_str(KEY_SEP);
            out.push_str("torch.Size([");
            let dims = value
                .get("shape")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            push_items(&mut out, dims);
            out.push_str("])}");
        }
        many => {
            out.push('{');
            for (i, (name, value)) in many.iter().enumerate() {
                if i > 0 {
                    out.push_str(ITEM_SEP);
                }
                pyrepr::push_str(&mut out, name);
                out.push_str(KEY_SEP);
                push_value(&mut out, value);
            }
            out.push('}');
        }
    }
    Some(out)
}

fn push_items(out: &mut String, items: &[Value]) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(ITEM_SEP);
        }
        push_value(out, v);
    }
}

/// `repr` of a JSON value as Python's `json.loads` would have built it.
fn push_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => pyrepr::push_none(out),
        Value::Bool(b) => pyrepr::push_bool(out, *b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                pyrepr::push_float(out, n.as_f64().unwrap_or(f64::NAN));
            }
        }
        Value::String(s) => pyrepr::push_str(out, s),
        Value::Array(items) => {
            out.push('[');
            push_items(out, items);
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
