//! Turns a [`GgufHeader`] into mir-core's format-neutral [`TensorIndex`], and builds the MIR
//! project's GGUF layer string.

use std::collections::{HashMap, HashSet};

use mir_core::{Dtype, Finding, MetaValue, Severity, TensorIndex, TensorRecord, pyrepr};

use crate::GgufError;
use crate::header::{GgufHeader, GgufValue, TensorInfo};
use crate::types::known_to_gguf_py;

/// The key prefix under which city96's ComfyUI-GGUF tools store a tensor's true (PyTorch-order)
/// shape when the stored one was reshaped for quantisation.
pub const ORIG_SHAPE_PREFIX: &str = "comfy.gguf.orig_shape.";

/// The [`Dtype`] of a ggml type id: element-wise types map to the standard variants, block types
/// to [`Dtype::Quant`] by name, unknown ids to `Dtype::Other("ggml_type_<id>")`.
pub fn ggml_dtype(id: u32) -> Dtype {
    match id {
        0 => Dtype::F32,
        1 => Dtype::F16,
        24 => Dtype::I8,
        25 => Dtype::I16,
        26 => Dtype::I32,
        27 => Dtype::I64,
        28 => Dtype::F64,
        30 => Dtype::BF16,
        other => match crate::ggml_type_name(other) {
            Some(name) => Dtype::Quant(name.into()),
            None => Dtype::Other(format!("ggml_type_{other}").into()),
        },
    }
}

/// [`meta_value`] by value: strings and arrays are moved, not copied.
fn into_meta_value(v: GgufValue) -> MetaValue {
    match v {
        GgufValue::Str(s) => MetaValue::Str(s),
        GgufValue::Array(a) => match a.items {
            Some(items) => MetaValue::Array(items.into_iter().map(into_meta_value).collect()),
            None => MetaValue::Elided {
                element: a.element.name().to_owned(),
                len: a.len,
            },
        },
        other => meta_value(&other),
    }
}

/// A metadata value as mir-core keeps it: unsigned integers as `UInt`, signed as `Int`, floats as
/// `Float`; long arrays as `Elided`.
pub fn meta_value(v: &GgufValue) -> MetaValue {
    match v {
        GgufValue::U8(x) => MetaValue::UInt((*x).into()),
        GgufValue::U16(x) => MetaValue::UInt((*x).into()),
        GgufValue::U32(x) => MetaValue::UInt((*x).into()),
        GgufValue::U64(x) => MetaValue::UInt(*x),
        GgufValue::I8(x) => MetaValue::Int((*x).into()),
        GgufValue::I16(x) => MetaValue::Int((*x).into()),
        GgufValue::I32(x) => MetaValue::Int((*x).into()),
        GgufValue::I64(x) => MetaValue::Int(*x),
        GgufValue::F32(x) => MetaValue::Float((*x).into()),
        GgufValue::F64(x) => MetaValue::Float(*x),
        GgufValue::Bool(x) => MetaValue::Bool(*x),
        GgufValue::Str(s) => MetaValue::Str(s.clone()),
        GgufValue::Array(a) => match &a.items {
            Some(items) => MetaValue::Array(items.iter().map(meta_value).collect()),
            None => MetaValue::Elided {
                element: a.element.name().to_owned(),
                len: a.len,
            },
        },
    }
}

impl GgufHeader {
    /// The format-neutral index: tensors with logical PyTorch-order shapes (honouring
    /// `comfy.gguf.orig_shape.<tensor>`), every key/value as metadata, absolute data ranges,
    /// and the MIR layer string when it can be reproduced.
    pub fn to_index(&self) -> TensorIndex {
        let mut index = self.index_without_metadata();
        for e in &self.kv {
            index.metadata.insert(e.key.clone(), meta_value(&e.value));
        }
        index
    }

    /// Like [`GgufHeader::to_index`], consuming the header: metadata strings (up to
    /// `max_string_bytes` each) are moved, not copied, and the tensor list is allocated
    /// fallibly, so a header that fitted in memory cannot abort the process here.
    pub fn into_index(self) -> Result<TensorIndex, GgufError> {
        let mut index = TensorIndex::new("gguf");
        index
            .tensors
            .try_reserve_exact(self.tensors.len())
            .map_err(|_| GgufError::OutOfMemory {
                what: "tensor list",
                bytes: self.tensors.len() as u64,
            })?;
        self.fill_index(&mut index);
        for e in self.kv {
            index.metadata.insert(e.key, into_meta_value(e.value));
        }
        Ok(index)
    }

    fn index_without_metadata(&self) -> TensorIndex {
        let mut index = TensorIndex::new("gguf");
        self.fill_index(&mut index);
        index
    }

    /// Everything but the metadata map: tensors, findings, data offset, layer string.
    fn fill_index(&self, index: &mut TensorIndex) {
        index.data_offset = Some(self.data_offset);
        if self.tensors.is_empty() {
            index.findings.push(Finding {
                severity: Severity::Info,
                message: "the file holds no tensors: no weights (a vocabulary-only or \
                          metadata-only file)"
                    .to_owned(),
            });
        }
        for w in &self.warnings {
            index.findings.push(Finding {
                severity: Severity::Info,
                message: w.clone(),
            });
        }
        // Maps, not scans: a hostile file may pair a million tensors with a million keys.
        let orig_shapes: HashMap<&str, &GgufValue> = self
            .kv
            .iter()
            .filter_map(|e| Some((e.key.strip_prefix(ORIG_SHAPE_PREFIX)?, &e.value)))
            .collect();
        for t in &self.tensors {
            let shape = match orig_shapes.get(t.name.as_str()) {
                Some(v) => logical_shape(t, v, &mut index.findings),
                None => t.torch_shape(),
            };
            index.tensors.push(TensorRecord {
                name: t.name.clone(),
                dtype: ggml_dtype(t.ggml_type),
                shape,
                data: t.data,
            });
        }
        let names: HashSet<&str> = self.tensors.iter().map(|t| t.name.as_str()).collect();
        for e in &self.kv {
            if let Some(name) = e.key.strip_prefix(ORIG_SHAPE_PREFIX)
                && !names.contains(name)
            {
                index.findings.push(Finding {
                    severity: Severity::Info,
                    message: format!("{} names no tensor in the file", e.key),
                });
            }
        }
        index.mir_layer_string = self.mir_layer_string();
    }

    /// The string MIR's `nnll` hashes into a GGUF `layer_256` (SPEC-notes §2.1): the Python repr
    /// of `({'architecture_name': A, 'general_name': (N,)}, {'dtype': 'uint8', 'types':
    /// [<GGUFValueType.STRING: 8>], <tensor>: {'shape': '<numpy str of ggml dims>', 'dtype':
    /// '<ggml type>'}, …})` as gguf-py 0.19.0 and numpy 2 print it.
    ///
    /// `None` where that reader would have failed (v1, no string `general.architecture`, a type
    /// gguf-py does not know, invalid UTF-8) or where numpy would wrap a shape over lines.
    pub fn mir_layer_string(&self) -> Option<String> {
        if !(2..=3).contains(&self.version) {
            return None;
        }
        let usable = |key: &str| -> Option<Option<&str>> {
            match self.get(key) {
                None => Some(None),
                Some(GgufValue::Str(s)) if !self.lossy_keys.iter().any(|k| k == key) => {
                    Some(Some(s.as_str()))
                }
                Some(_) => None,
            }
        };
        let arch = usable("general.architecture")??;
        let name = usable("general.name")?;
        let mut out = String::from("({'architecture_name': ");
        pyrepr::push_str(&mut out, arch);
        if let Some(name) = name {
            out.push_str(", 'general_name': (");
            pyrepr::push_str(&mut out, name);
            out.push_str(",)");
        }
        out.push_str("}, {'dtype': 'uint8', 'types': [<GGUFValueType.STRING: 8>]");
        for t in &self.tensors {
            if !known_to_gguf_py(t.ggml_type) {
                return None;
            }
            // `dict.setdefault` keeps the two fixed entries when a tensor shares their name.
            if t.name == "dtype" || t.name == "types" {
                continue;
            }
            out.push_str(", ");
            pyrepr::push_str(&mut out, &t.name);
            out.push_str(": {'shape': ");
            pyrepr::push_str(&mut out, &numpy_str(&t.dims)?);
            out.push_str(", 'dtype': ");
            pyrepr::push_str(&mut out, t.type_name?);
            out.push('}');
        }
        out.push_str("})");
        Some(out)
    }
}

/// The tensor's PyTorch-order shape: `comfy.gguf.orig_shape.<name>` when it is an array of
/// non-negative integers, else the stored dims reversed.
fn logical_shape(t: &TensorInfo, value: &GgufValue, findings: &mut Vec<Finding>) -> Vec<u64> {
    let key = format!("{ORIG_SHAPE_PREFIX}{}", t.name);
    let orig: Option<Vec<u64>> = match value {
        GgufValue::Array(a) => a.items.as_ref().and_then(|items| {
            items
                .iter()
                .map(|v| v.as_int().and_then(|i| u64::try_from(i).ok()))
                .collect()
        }),
        _ => None,
    };
    let Some(orig) = orig else {
        findings.push(Finding {
            severity: Severity::Suspicious,
            message: format!("{key} is not an array of non-negative integers; ignored"),
        });
        return t.torch_shape();
    };
    let numel = orig.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    if numel != t.numel() {
        findings.push(Finding {
            severity: Severity::Info,
            message: format!(
                "{key} {orig:?} holds a different number of elements than the stored {:?}",
                t.torch_shape()
            ),
        });
    }
    orig
}

/// numpy's `str()` of a 1-D integer array: elements right-aligned to the widest, separated by
/// one space, in brackets. `None` when numpy would wrap the line (over 75 characters).
fn numpy_str(dims: &[u64]) -> Option<String> {
    let words: Vec<String> = dims.iter().map(u64::to_string).collect();
    let width = words.iter().map(String::len).max().unwrap_or(0);
    let mut s = String::from("[");
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{w:>width$}"));
    }
    s.push(']');
    (s.len() <= 75).then_some(s)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    #[test]
    fn numpy_pads_to_the_widest_element() {
        assert_eq!(numpy_str(&[3, 4]).as_deref(), Some("[3 4]"));
        assert_eq!(numpy_str(&[3, 10]).as_deref(), Some("[ 3 10]"));
        assert_eq!(numpy_str(&[]).as_deref(), Some("[]"));
        assert_eq!(numpy_str(&[u64::MAX; 4]), None);
    }

    #[test]
    fn dtypes_map_to_standard_quant_and_other() {
        assert_eq!(ggml_dtype(30), Dtype::BF16);
        assert_eq!(ggml_dtype(28), Dtype::F64);
        assert_eq!(ggml_dtype(12), Dtype::Quant("Q4_K".into()));
        assert_eq!(ggml_dtype(40), Dtype::Quant("NVFP4".into()));
        assert_eq!(ggml_dtype(99), Dtype::Other("ggml_type_99".into()));
    }
}
