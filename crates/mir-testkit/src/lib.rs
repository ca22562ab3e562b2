//! Test and bench support: tensor spec lists and writers of small or sparse weight files.
//!
//! # Brief overview
//!
//! A *spec* is the text form of a model's tensor list, one tensor per line, as the model-toolkit
//! component lists and our `fixtures/specs/*.txt` write them:
//!
//! ```text
//! # comments and blank lines are ignored
//! model.diffusion_model.input_blocks.0.0.weight F16 [320,4,3,3]
//! lora_unet_input_blocks_1_0_emb_layers_1.alpha []
//! ```
//!
//! The dtype is optional (default `F16`); `-1` dimensions (model-toolkit's "any") become 1.
//! Lines of the form `#! key = value` carry file metadata ([`spec_metadata`]), e.g.
//! `#! ss_base_model_version = sdxl_base_v1-0` for a LoRA.
//! [`write_safetensors`] turns a spec into a valid safetensors file whose data section is a hole
//! (`File::set_len`), so a 7 GB checkpoint costs a few hundred KB of disk.
//! [`gguf::GgufFile`] does the same for GGUF v3 (real key/value bytes, data as a hole).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use mir_core::{Dtype, TensorIndex, TensorRecord};

pub mod about;
pub mod gguf;
pub mod torch;

/// One line of a spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecTensor {
    /// Tensor name.
    pub name: String,
    /// Element type.
    pub dtype: Dtype,
    /// Logical shape.
    pub shape: Vec<u64>,
}

/// Parses a spec (see the crate docs). Lines that do not parse are errors naming the line.
pub fn parse_spec(text: &str) -> Result<Vec<SpecTensor>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let open = line
            .rfind('[')
            .ok_or_else(|| format!("line {}: no [shape]", n + 1))?;
        let (head, shape) = line.split_at(open);
        let shape = shape
            .trim()
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .ok_or_else(|| format!("line {}: bad shape", n + 1))?;
        let dims = shape
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|d| {
                d.parse::<i64>()
                    .map(|v| if v < 0 { 1 } else { v as u64 })
                    .map_err(|_| format!("line {}: bad dimension {d:?}", n + 1))
            })
            .collect::<Result<Vec<u64>, String>>()?;
        let mut words = head.split_whitespace();
        let name = words
            .next()
            .ok_or_else(|| format!("line {}: no name", n + 1))?;
        let dtype = words.next().map_or(Dtype::F16, Dtype::from_safetensors);
        out.push(SpecTensor {
            name: name.to_owned(),
            dtype,
            shape: dims,
        });
    }
    Ok(out)
}

/// The `#! key = value` metadata lines of a spec, in order.
pub fn spec_metadata(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("#!"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// The spec as a [`TensorIndex`] (what a parser would produce), for classifier tests.
pub fn spec_index(format: &str, tensors: &[SpecTensor]) -> TensorIndex {
    let mut index = TensorIndex::new(format);
    index.tensors = tensors
        .iter()
        .map(|t| TensorRecord::new(t.name.clone(), t.dtype.clone(), t.shape.clone()))
        .collect();
    index
}

/// The safetensors header JSON for `tensors` (with `__metadata__` when given), and the data
/// section's length.
pub fn safetensors_header(tensors: &[SpecTensor], metadata: &[(&str, &str)]) -> (Vec<u8>, u64) {
    let mut map = serde_json::Map::new();
    if !metadata.is_empty() {
        let m: serde_json::Map<String, serde_json::Value> = metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect();
        map.insert("__metadata__".into(), m.into());
    }
    let mut offset = 0u64;
    for t in tensors {
        let numel: u64 = t.shape.iter().product();
        let bits = u64::from(t.dtype.bits().unwrap_or(8));
        let len = (numel * bits).div_ceil(8);
        map.insert(
            t.name.clone(),
            serde_json::json!({
                "dtype": t.dtype.name(),
                "shape": t.shape,
                "data_offsets": [offset, offset + len],
            }),
        );
        offset += len;
    }
    let mut json = serde_json::to_vec(&serde_json::Value::Object(map)).unwrap_or_default();
    while !json.len().is_multiple_of(8) {
        json.push(b' ');
    }
    (json, offset)
}

/// Writes a sparse safetensors file (see [`write_safetensors`]) holding `index`'s tensors and its
/// metadata (non-string values are written as their text, since safetensors metadata is
/// string-only).
pub fn write_index_safetensors(path: &Path, index: &TensorIndex) -> io::Result<()> {
    let tensors: Vec<SpecTensor> = index
        .tensors
        .iter()
        .map(|t| SpecTensor {
            name: t.name.clone(),
            dtype: t.dtype.clone(),
            shape: t.shape.clone(),
        })
        .collect();
    let meta: Vec<(String, String)> = index
        .metadata
        .iter()
        .map(|(k, v)| {
            let text = match v {
                mir_core::MetaValue::Str(s) => s.clone(),
                mir_core::MetaValue::Int(i) => i.to_string(),
                mir_core::MetaValue::UInt(u) => u.to_string(),
                mir_core::MetaValue::Float(f) => f.to_string(),
                mir_core::MetaValue::Bool(b) => b.to_string(),
                other => format!("{other:?}"),
            };
            (k.clone(), text)
        })
        .collect();
    let meta_refs: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    write_safetensors(path, &tensors, &meta_refs)
}

/// Writes a safetensors file for `tensors` whose data section is left as a hole (sparse): a
/// valid file of full size that costs only its header on disk.
pub fn write_safetensors(
    path: &Path,
    tensors: &[SpecTensor],
    metadata: &[(&str, &str)],
) -> io::Result<()> {
    let (header, data_len) = safetensors_header(tensors, metadata);
    let mut f = File::create(path)?;
    f.write_all(&(header.len() as u64).to_le_bytes())?;
    f.write_all(&header)?;
    f.set_len(8 + header.len() as u64 + data_len)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_toolkit_and_dtype_lines() {
        let spec =
            parse_spec("# c\n\na.alpha []\nb.weight BF16 [320, 4,3,3]\nc [-1,-1]\n").unwrap();
        assert_eq!(spec.len(), 3);
        assert_eq!(spec[0].shape, Vec::<u64>::new());
        assert_eq!(spec[1].dtype, Dtype::BF16);
        assert_eq!(spec[1].shape, vec![320, 4, 3, 3]);
        assert_eq!(spec[2].shape, vec![1, 1]);
        assert!(parse_spec("x.weight F16").is_err());
        assert_eq!(
            spec_metadata("#! a = b c\n# x = y\nw [1]"),
            vec![("a".to_owned(), "b c".to_owned())]
        );
        assert!(parse_spec("x.weight [a]").is_err());
    }

    #[test]
    fn sparse_file_is_valid_safetensors() {
        let dir = std::env::temp_dir().join(format!("mir-testkit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("big.safetensors");
        let spec = parse_spec("w F32 [1000,1000]\nb F16 [3]").unwrap();
        write_safetensors(&p, &spec, &[("format", "pt")]).unwrap();
        let len = std::fs::metadata(&p).unwrap().len();
        let (h, data) = safetensors_header(&spec, &[("format", "pt")]);
        assert_eq!(len, 8 + h.len() as u64 + data);
        assert_eq!(data, 4_000_006);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
