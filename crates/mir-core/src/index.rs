//! The format-neutral tensor index a parser builds from a header.

use std::collections::BTreeMap;

use crate::Dtype;

/// One tensor as a header declares it. No tensor data is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorRecord {
    /// The tensor's name as stored in the file (prefixes are kept; the classifier strips them).
    pub name: String,
    /// The element type.
    pub dtype: Dtype,
    /// The logical shape in PyTorch order (outermost first). GGUF's reversed ggml order is
    /// turned around by the GGUF plugin.
    pub shape: Vec<u64>,
    /// Absolute byte range `[start, end)` of the tensor's data in the file, when the format says.
    pub data: Option<(u64, u64)>,
}

impl TensorRecord {
    /// A record without a known byte range.
    pub fn new(name: impl Into<String>, dtype: Dtype, shape: Vec<u64>) -> Self {
        TensorRecord {
            name: name.into(),
            dtype,
            shape,
            data: None,
        }
    }

    /// The number of elements (product of the shape; 1 for a scalar). Saturates at `u64::MAX`.
    pub fn numel(&self) -> u64 {
        self.shape.iter().fold(1u64, |a, &d| a.saturating_mul(d))
    }
}

/// A metadata value: safetensors `__metadata__` holds strings only; GGUF holds typed values and
/// arrays; torch checkpoints contribute `global_step`, `epoch` and the like.
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    /// A string.
    Str(String),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer that does not fit `i64`, or a GGUF unsigned type.
    UInt(u64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A (possibly nested) array, kept whole because it is short.
    Array(Vec<MetaValue>),
    /// A long array that was not materialised (e.g. a 150k-token vocabulary): its element type
    /// and length only.
    Elided {
        /// The element type's name (`string`, `i32`, `f32`, `array`, …).
        element: String,
        /// The number of elements.
        len: u64,
    },
}

impl MetaValue {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a u64 if it is a non-negative integer (or a string of digits).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            MetaValue::UInt(v) => Some(*v),
            MetaValue::Int(v) => u64::try_from(*v).ok(),
            MetaValue::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as an f64 if it is numeric (or a numeric string).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            MetaValue::UInt(v) => Some(*v as f64),
            MetaValue::Int(v) => Some(*v as f64),
            MetaValue::Float(v) => Some(*v),
            MetaValue::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// How serious a [`Finding`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing (e.g. an unusual but harmless structure).
    Info,
    /// Outside what a plain weight file needs (e.g. an unknown pickle global); not known to harm.
    Suspicious,
    /// Would execute code or touch the system if loaded naively (e.g. `os.system` in a pickle).
    Unsafe,
}

impl Severity {
    /// Lowercase name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Suspicious => "suspicious",
            Severity::Unsafe => "unsafe",
        }
    }
}

/// Something a parser noticed about a file that a user should know (security, damage).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// One line, naming what and where, e.g. `global os.system in data.pkl`.
    pub message: String,
}

/// Everything a header says about a file: its tensors, its metadata, where its data starts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TensorIndex {
    /// The name of the format that read it (`safetensors`, `gguf`, `ckpt`, or a plugin's name).
    pub format: String,
    /// The tensors, in the order the header lists them.
    pub tensors: Vec<TensorRecord>,
    /// The file's metadata (safetensors `__metadata__`, GGUF key/values, checkpoint extras).
    pub metadata: BTreeMap<String, MetaValue>,
    /// The offset where tensor data starts (= the header's size), when the format has one place.
    pub data_offset: Option<u64>,
    /// Security or damage findings.
    pub findings: Vec<Finding>,
    /// The string the MIR project hashes into `layer_256`/`layer_b3` for this file, for the
    /// formats where it can be reproduced byte for byte (safetensors; SPEC-notes §2.1).
    pub mir_layer_string: Option<String>,
    /// The MIR layer hashes, when the format computed them while parsing instead of building
    /// [`TensorIndex::mir_layer_string`] (safetensors streams its layer string straight into the
    /// hashers). [`crate::signature::Signatures::of`] prefers these over hashing the string.
    pub mir_layer_hashes: Option<crate::signature::LayerHashes>,
}

impl TensorIndex {
    /// An empty index for `format`.
    pub fn new(format: impl Into<String>) -> Self {
        TensorIndex {
            format: format.into(),
            ..Default::default()
        }
    }

    /// The metadata value under `key`, if it is a string.
    pub fn meta_str(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(MetaValue::as_str)
    }

    /// Parameters per dtype, largest first (ties by name), e.g. `[(F16, 2.5e9), (F32, 1e6)]`.
    pub fn dtype_profile(&self) -> Vec<(Dtype, u64)> {
        let mut by: BTreeMap<&Dtype, u64> = BTreeMap::new();
        // Tensors come in long runs of one dtype: a run is summed before it meets the map
        // (saturating sums of non-negative counts do not depend on the grouping).
        let mut run: Option<(&Dtype, u64)> = None;
        for t in &self.tensors {
            match &mut run {
                Some((d, n)) if **d == t.dtype => *n = n.saturating_add(t.numel()),
                _ => {
                    if let Some((d, n)) = run.replace((&t.dtype, t.numel())) {
                        let e = by.entry(d).or_default();
                        *e = e.saturating_add(n);
                    }
                }
            }
        }
        if let Some((d, n)) = run {
            let e = by.entry(d).or_default();
            *e = e.saturating_add(n);
        }
        let mut v: Vec<(Dtype, u64)> = by.into_iter().map(|(d, n)| (d.clone(), n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// The dtype holding the most parameters, if any tensor is declared.
    pub fn dominant_dtype(&self) -> Option<Dtype> {
        self.dtype_profile().into_iter().next().map(|(d, _)| d)
    }

    /// Total parameters (elements) across tensors, saturating.
    pub fn parameters(&self) -> u64 {
        self.tensors
            .iter()
            .fold(0u64, |a, t| a.saturating_add(t.numel()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TensorRecord;

    #[test]
    fn dtype_profile_sums_interleaved_runs_and_saturates() {
        let mut i = TensorIndex::new("t");
        for (d, shape) in [
            (Dtype::F16, vec![2u64, 3]),
            (Dtype::F16, vec![4]),
            (Dtype::F32, vec![5]),
            (Dtype::F16, vec![1]),
            (Dtype::BF16, vec![11]),
            (Dtype::F32, vec![6]),
        ] {
            i.tensors.push(TensorRecord::new("x", d, shape));
        }
        assert_eq!(
            i.dtype_profile(),
            vec![(Dtype::F16, 11), (Dtype::BF16, 11), (Dtype::F32, 11)]
        );
        assert_eq!(i.dominant_dtype(), Some(Dtype::F16));
        i.tensors
            .push(TensorRecord::new("big", Dtype::F32, vec![u64::MAX]));
        i.tensors
            .push(TensorRecord::new("big2", Dtype::F32, vec![7]));
        assert_eq!(i.dtype_profile().first(), Some(&(Dtype::F32, u64::MAX)));
        assert_eq!(TensorIndex::new("t").dominant_dtype(), None);
    }
}
