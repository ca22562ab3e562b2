//! Test support: turns a small text spec into a [`TensorIndex`].
//!
//! A spec has one tensor per line, `name [dtype] [d0,d1,...]`; the dtype may be left out (F16
//! is assumed) and a dimension of `-1` (model-toolkit's "any rank") becomes 16. Other lines:
//!
//! * `# comment` and blank lines are ignored;
//! * `@format gguf` sets the index's format;
//! * `@meta key value…` adds a string metadata entry (`@meta_int key 15` an integer one);
//! * `@prefix text` prepends `text` to the names of every following tensor line (`@prefix` alone
//!   resets it), so one spec can hold an all-in-one checkpoint.

use mir_core::{Dtype, MetaValue, TensorIndex, TensorRecord};

/// Why a spec line is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A line does not follow `name [dtype] [dims]`.
    #[error("spec line {line}: {reason}: {text:?}")]
    BadLine {
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        reason: &'static str,
        /// The line.
        text: String,
    },
}

fn parse_shape(s: &str) -> Option<Vec<u64>> {
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    if inner.trim().is_empty() {
        return Some(Vec::new());
    }
    inner
        .split(',')
        .map(|d| {
            let d = d.trim();
            if d == "-1" {
                Some(16)
            } else {
                d.parse().ok()
            }
        })
        .collect()
}

/// Adds the lines of `spec` to `index`.
pub fn extend_from_spec(index: &mut TensorIndex, spec: &str) -> Result<(), SpecError> {
    let mut prefix = String::new();
    for (i, raw) in spec.lines().enumerate() {
        let line = raw.trim();
        let bad = |reason| SpecError::BadLine {
            line: i.saturating_add(1),
            reason,
            text: raw.to_owned(),
        };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('@') {
            let (cmd, arg) = rest.split_once(' ').unwrap_or((rest, ""));
            match cmd {
                "format" => index.format = arg.trim().to_owned(),
                "prefix" => prefix = arg.trim().to_owned(),
                "meta" | "meta_int" => {
                    let (k, v) = arg.trim().split_once(' ').ok_or_else(|| bad("no value"))?;
                    let v = v.trim();
                    let value = if cmd == "meta" {
                        MetaValue::Str(v.to_owned())
                    } else {
                        MetaValue::UInt(v.parse().map_err(|_| bad("not an integer"))?)
                    };
                    index.metadata.insert(k.to_owned(), value);
                }
                _ => return Err(bad("unknown directive")),
            }
            continue;
        }
        let mut parts: Vec<&str> = line.split_whitespace().collect();
        let shape_text = parts.pop().ok_or_else(|| bad("empty"))?;
        let shape = parse_shape(shape_text).ok_or_else(|| bad("no [shape] at the end"))?;
        let (name, dtype) = match parts.as_slice() {
            [name] => (*name, Dtype::F16),
            [name, dtype] => (*name, Dtype::from_safetensors(dtype)),
            _ => return Err(bad("expected name [dtype] [shape]")),
        };
        index
            .tensors
            .push(TensorRecord::new(format!("{prefix}{name}"), dtype, shape));
    }
    Ok(())
}

/// Builds a `safetensors` index from a spec.
pub fn index_from_spec(spec: &str) -> Result<TensorIndex, SpecError> {
    let mut index = TensorIndex::new("safetensors");
    extend_from_spec(&mut index, spec)?;
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_dtypes_shapes_and_directives() {
        let spec = "# c\n@format gguf\n@meta general.architecture flux\n@meta_int general.file_type 15\n\
                    @prefix model.\na.weight BF16 [2,3]\nb []\n@prefix\nc [-1,4]\n";
        let idx = index_from_spec(spec).unwrap();
        assert_eq!(idx.format, "gguf");
        assert_eq!(idx.meta_str("general.architecture"), Some("flux"));
        assert_eq!(idx.metadata.get("general.file_type"), Some(&MetaValue::UInt(15)));
        assert_eq!(idx.tensors[0].name, "model.a.weight");
        assert_eq!(idx.tensors[0].dtype, Dtype::BF16);
        assert_eq!(idx.tensors[1].shape, Vec::<u64>::new());
        assert_eq!(idx.tensors[2].name, "c");
        assert_eq!(idx.tensors[2].shape, vec![16, 4]);
    }

    #[test]
    fn bad_lines_are_errors() {
        assert!(index_from_spec("a.weight").is_err());
        assert!(index_from_spec("a.weight F16 BF16 [1]").is_err());
        assert!(index_from_spec("a [x]").is_err());
        assert!(index_from_spec("@bogus x").is_err());
        assert!(index_from_spec("@meta_int k v").is_err());
    }
}
