//! A writer of valid little-endian GGUF v3 files for benches and synthetic libraries.
//!
//! [`GgufFile`] holds key/values and tensor infos; [`GgufFile::header`] serialises everything up
//! to the end of the tensor infos (the bytes a header reader must read), and
//! [`GgufFile::write_sparse`] writes that header, pads to the alignment and leaves the tensor
//! data as a hole (`File::set_len`), so a 4 GB quantised LLM costs only its header on disk.
//! Tokenizer vocabularies are real bytes: that is what makes GGUF headers large.
//!
//! This is deliberately separate from mir-gguf's own test writer (which also writes v1,
//! big-endian and hostile files): this one only writes well-formed files with realistic sizes.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// The data alignment the writer uses (GGUF's default; no `general.alignment` key is written).
pub const ALIGNMENT: u64 = 32;

/// ggml type ids used by the generators (the GGUF spec's numbering).
pub mod ggml {
    /// 32-bit float.
    pub const F32: u32 = 0;
    /// 16-bit float.
    pub const F16: u32 = 1;
    /// 4-bit blocks of 32.
    pub const Q4_0: u32 = 2;
    /// 8-bit blocks of 32.
    pub const Q8_0: u32 = 8;
    /// 4-bit k-quant super-blocks of 256.
    pub const Q4_K: u32 = 12;
    /// 5-bit k-quant super-blocks of 256.
    pub const Q5_K: u32 = 13;
    /// 6-bit k-quant super-blocks of 256.
    pub const Q6_K: u32 = 14;
    /// bfloat16.
    pub const BF16: u32 = 30;
}

/// `(elements per block, bytes per block)` of a ggml type the writer knows.
pub fn ggml_block(ty: u32) -> Option<(u64, u64)> {
    Some(match ty {
        ggml::F32 => (1, 4),
        ggml::F16 | ggml::BF16 => (1, 2),
        ggml::Q4_0 => (32, 18),
        ggml::Q8_0 => (32, 34),
        ggml::Q4_K => (256, 144),
        ggml::Q5_K => (256, 176),
        ggml::Q6_K => (256, 210),
        _ => return None,
    })
}

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum GgufValue {
    /// `UINT32`.
    U32(u32),
    /// `INT32`.
    I32(i32),
    /// `UINT64`.
    U64(u64),
    /// `FLOAT32`.
    F32(f32),
    /// `BOOL`.
    Bool(bool),
    /// `STRING`.
    Str(String),
    /// `ARRAY` of `STRING` (token lists, merges).
    StrArray(Vec<String>),
    /// `ARRAY` of `FLOAT32` (token scores).
    F32Array(Vec<f32>),
    /// `ARRAY` of `INT32` (token types).
    I32Array(Vec<i32>),
}

impl GgufValue {
    fn type_id(&self) -> u32 {
        match self {
            GgufValue::U32(_) => 4,
            GgufValue::I32(_) => 5,
            GgufValue::F32(_) => 6,
            GgufValue::Bool(_) => 7,
            GgufValue::Str(_) => 8,
            GgufValue::StrArray(_) | GgufValue::F32Array(_) | GgufValue::I32Array(_) => 9,
            GgufValue::U64(_) => 10,
        }
    }
}

/// One tensor info: name, dims in ggml order (innermost first) and ggml type id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GgufTensor {
    /// Tensor name.
    pub name: String,
    /// Dimensions in ggml order (`ne[0]` first, the reverse of PyTorch's).
    pub dims: Vec<u64>,
    /// ggml type id (see [`ggml`]).
    pub ty: u32,
}

impl GgufTensor {
    /// A tensor from a PyTorch-order shape (reversed into ggml order here).
    pub fn from_torch_shape(name: impl Into<String>, shape: &[u64], ty: u32) -> GgufTensor {
        GgufTensor {
            name: name.into(),
            dims: shape.iter().rev().copied().collect(),
            ty,
        }
    }

    /// Bytes of tensor data; `None` for an unknown type or a row that does not fill whole blocks.
    pub fn data_bytes(&self) -> Option<u64> {
        let (block, bytes) = ggml_block(self.ty)?;
        let numel = self
            .dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))?;
        let row = self.dims.first().copied().unwrap_or(1);
        if !row.is_multiple_of(block) {
            return None;
        }
        (numel / block).checked_mul(bytes)
    }
}

/// A GGUF file description.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GgufFile {
    /// Key/values, in file order.
    pub kv: Vec<(String, GgufValue)>,
    /// Tensor infos, in file order; data is laid out in this order, each tensor aligned.
    pub tensors: Vec<GgufTensor>,
}

/// What [`GgufFile::write_sparse`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GgufWritten {
    /// Bytes from the start of the file to the end of the tensor infos.
    pub header_len: u64,
    /// The file's length (header, padding and the data hole).
    pub file_len: u64,
}

impl GgufFile {
    /// Adds a key/value.
    pub fn kv(&mut self, key: &str, value: GgufValue) -> &mut Self {
        self.kv.push((key.to_owned(), value));
        self
    }

    /// Adds a tensor.
    pub fn tensor(&mut self, t: GgufTensor) -> &mut Self {
        self.tensors.push(t);
        self
    }

    /// The bytes from the magic to the end of the tensor infos, and the length of the data
    /// section (every tensor aligned to [`ALIGNMENT`]). Errors name a tensor whose size is not
    /// computable (unknown type, partial block).
    pub fn header(&self) -> io::Result<(Vec<u8>, u64)> {
        let mut b = b"GGUF".to_vec();
        put_u32(&mut b, 3);
        put_u64(&mut b, self.tensors.len() as u64);
        put_u64(&mut b, self.kv.len() as u64);
        for (k, v) in &self.kv {
            put_str(&mut b, k);
            put_u32(&mut b, v.type_id());
            put_value(&mut b, v);
        }
        let mut offset = 0u64;
        for t in &self.tensors {
            let bytes = t.data_bytes().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("tensor {}: size not computable for type {}", t.name, t.ty),
                )
            })?;
            put_str(&mut b, &t.name);
            put_u32(&mut b, t.dims.len() as u32);
            for &d in &t.dims {
                put_u64(&mut b, d);
            }
            put_u32(&mut b, t.ty);
            put_u64(&mut b, offset);
            offset = (offset + bytes).next_multiple_of(ALIGNMENT);
        }
        Ok((b, offset))
    }

    /// Writes the file at `path`: header, alignment padding, and the data section as a hole.
    pub fn write_sparse(&self, path: &Path) -> io::Result<GgufWritten> {
        let (header, data_len) = self.header()?;
        let mut f = File::create(path)?;
        f.write_all(&header)?;
        let header_len = header.len() as u64;
        let file_len = header_len.next_multiple_of(ALIGNMENT) + data_len;
        f.set_len(file_len)?;
        Ok(GgufWritten {
            header_len,
            file_len,
        })
    }
}

fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    put_u64(b, s.len() as u64);
    b.extend_from_slice(s.as_bytes());
}

fn put_value(b: &mut Vec<u8>, v: &GgufValue) {
    match v {
        GgufValue::U32(x) => put_u32(b, *x),
        GgufValue::I32(x) => b.extend_from_slice(&x.to_le_bytes()),
        GgufValue::U64(x) => put_u64(b, *x),
        GgufValue::F32(x) => b.extend_from_slice(&x.to_le_bytes()),
        GgufValue::Bool(x) => b.push(u8::from(*x)),
        GgufValue::Str(s) => put_str(b, s),
        GgufValue::StrArray(items) => {
            put_u32(b, 8);
            put_u64(b, items.len() as u64);
            for s in items {
                put_str(b, s);
            }
        }
        GgufValue::F32Array(items) => {
            put_u32(b, 6);
            put_u64(b, items.len() as u64);
            for x in items {
                b.extend_from_slice(&x.to_le_bytes());
            }
        }
        GgufValue::I32Array(items) => {
            put_u32(b, 5);
            put_u64(b, items.len() as u64);
            for x in items {
                b.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_and_sparse_length() {
        let mut g = GgufFile::default();
        g.kv("general.architecture", GgufValue::Str("llama".into()))
            .kv(
                "tokenizer.ggml.tokens",
                GgufValue::StrArray(vec!["a".into(), "bc".into()]),
            )
            .tensor(GgufTensor::from_torch_shape("w", &[4, 64], ggml::Q8_0))
            .tensor(GgufTensor::from_torch_shape("n", &[3], ggml::F32));
        let (h, data) = g.header().unwrap();
        assert_eq!(&h[..4], b"GGUF");
        assert_eq!(u64::from_le_bytes(h[8..16].try_into().unwrap()), 2);
        // Q8_0: 4 rows of 2 blocks of 34 bytes = 272, aligned to 288; then 12 bytes → 320.
        assert_eq!(data, 320);
        // mir-gguf reads it back: names, ggml dims, and the header end.
        let parsed = mir_gguf::parse_header(
            &mir_core::Source::from_bytes("x.gguf", {
                let mut f = h.clone();
                f.resize(h.len().next_multiple_of(32) + 320, 0);
                f
            }),
            &mir_core::Limits::default(),
        )
        .unwrap();
        assert_eq!(parsed.tensors.len(), 2);
        assert_eq!(parsed.header_len, h.len() as u64);
        let dir = std::env::temp_dir().join(format!("mir-testkit-gguf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let w = g.write_sparse(&dir.join("x.gguf")).unwrap();
        assert_eq!(w.header_len, h.len() as u64);
        assert_eq!(w.file_len, h.len().next_multiple_of(32) as u64 + 320);
        assert_eq!(
            std::fs::metadata(dir.join("x.gguf")).unwrap().len(),
            w.file_len
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn partial_blocks_are_rejected() {
        let t = GgufTensor::from_torch_shape("w", &[4, 100], ggml::Q4_K);
        assert_eq!(t.data_bytes(), None);
        let mut g = GgufFile::default();
        g.tensor(t);
        let err = g.header().unwrap_err();
        assert!(err.to_string().contains("tensor w"), "{err}");
    }
}
