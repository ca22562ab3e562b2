//! Helpers shared by the integration tests: paths to the committed fixtures and a small GGUF
//! writer for version-specific and hostile files.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::path::PathBuf;

use mir_core::{Limits, Source};
use mir_gguf::{GgufError, GgufHeader};

/// `fixtures/gguf` at the repository root.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/gguf")
}

/// Every committed `.gguf` fixture, sorted by name.
pub fn fixture_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "gguf"))
        .collect();
    v.sort();
    assert!(
        v.len() >= 9,
        "fixtures missing: run fixtures/gguf/make_fixtures.py"
    );
    v
}

/// Parses a committed fixture.
pub fn fixture(name: &str) -> GgufHeader {
    let src = Source::open(fixtures().join(name)).unwrap();
    mir_gguf::parse_header(&src, &Limits::default()).unwrap()
}

/// Parses bytes in memory.
pub fn parse(bytes: Vec<u8>) -> Result<GgufHeader, GgufError> {
    parse_with(bytes, &Limits::default())
}

/// Parses bytes in memory with the given limits.
pub fn parse_with(bytes: Vec<u8>, limits: &Limits) -> Result<GgufHeader, GgufError> {
    mir_gguf::parse_header(&Source::from_bytes("mem.gguf", bytes), limits)
}

/// A metadata value for [`Gguf`].
#[derive(Clone, Debug)]
pub enum Val {
    /// u8.
    U8(u8),
    /// u32.
    U32(u32),
    /// i32.
    I32(i32),
    /// u64.
    U64(u64),
    /// f32.
    F32(f32),
    /// bool.
    Bool(bool),
    /// string.
    Str(String),
    /// An array of the given element type id.
    Arr(u32, Vec<Val>),
    /// Any type id followed by raw bytes (for hostile values).
    Raw(u32, Vec<u8>),
}

impl Val {
    fn type_id(&self) -> u32 {
        match self {
            Val::U8(_) => 0,
            Val::U32(_) => 4,
            Val::I32(_) => 5,
            Val::F32(_) => 6,
            Val::Bool(_) => 7,
            Val::Str(_) => 8,
            Val::Arr(..) => 9,
            Val::U64(_) => 10,
            Val::Raw(t, _) => *t,
        }
    }
}

/// A tensor for [`Gguf`]: dims in ggml order, type id, and optionally a forced offset and size.
#[derive(Clone, Debug)]
pub struct T {
    /// Name.
    pub name: String,
    /// Dims, ggml order.
    pub dims: Vec<u64>,
    /// ggml type id.
    pub ty: u32,
    /// Forced relative offset (default: packed and aligned after the previous tensor).
    pub offset: Option<u64>,
    /// Data bytes to reserve (default: 4 per element, enough for the F32 used in tests).
    pub bytes: Option<u64>,
}

/// A tensor with automatic offset and size.
pub fn t(name: &str, dims: &[u64], ty: u32) -> T {
    T {
        name: name.into(),
        dims: dims.to_vec(),
        ty,
        offset: None,
        bytes: None,
    }
}

/// A GGUF file description that [`Gguf::build`] serialises.
#[derive(Clone, Debug)]
pub struct Gguf {
    /// Version field (1 uses u32 counts, lengths and dims).
    pub version: u32,
    /// Write big-endian.
    pub big: bool,
    /// Alignment used for padding (does not add a `general.alignment` key).
    pub alignment: u64,
    /// Key/values in order.
    pub kv: Vec<(String, Val)>,
    /// Tensors in order.
    pub tensors: Vec<T>,
}

impl Gguf {
    /// An empty little-endian v3 file.
    pub fn v3() -> Self {
        Gguf {
            version: 3,
            big: false,
            alignment: 32,
            kv: Vec::new(),
            tensors: Vec::new(),
        }
    }

    /// Adds a key/value.
    pub fn kv(mut self, key: &str, v: Val) -> Self {
        self.kv.push((key.into(), v));
        self
    }

    /// Adds a tensor.
    pub fn tensor(mut self, t: T) -> Self {
        self.tensors.push(t);
        self
    }

    /// The file bytes: header, key/values, tensor infos, padding, zeroed tensor data.
    pub fn build(&self) -> Vec<u8> {
        let mut w = W {
            big: self.big,
            v1: self.version == 1,
            buf: b"GGUF".to_vec(),
        };
        w.u32(self.version);
        w.len(self.tensors.len() as u64);
        w.len(self.kv.len() as u64);
        for (k, v) in &self.kv {
            w.str(k);
            w.u32(v.type_id());
            w.val(v);
        }
        let mut next = 0u64;
        let mut data_end = 0u64;
        for t in &self.tensors {
            w.str(&t.name);
            w.u32(t.dims.len() as u32);
            for &d in &t.dims {
                w.len(d);
            }
            w.u32(t.ty);
            let bytes = t
                .bytes
                .unwrap_or_else(|| t.dims.iter().product::<u64>().saturating_mul(4));
            let offset = t.offset.unwrap_or(next);
            w.u64(offset);
            next = offset
                .saturating_add(bytes)
                .next_multiple_of(self.alignment);
            // Hostile offsets far past any real data get no data written for them.
            if next < 1 << 24 {
                data_end = data_end.max(next);
            }
        }
        let mut out = w.buf;
        out.resize(
            (out.len() as u64).next_multiple_of(self.alignment) as usize,
            0,
        );
        out.resize(out.len() + data_end as usize, 0);
        out
    }
}

/// Writes primitives in the file's byte order and version.
pub struct W {
    /// Big-endian.
    pub big: bool,
    /// v1 (u32 lengths).
    pub v1: bool,
    /// The bytes so far.
    pub buf: Vec<u8>,
}

impl W {
    /// A u32.
    pub fn u32(&mut self, v: u32) {
        let b = if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }

    /// A u64.
    pub fn u64(&mut self, v: u64) {
        let b = if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }

    /// A count or length (u32 in v1).
    pub fn len(&mut self, v: u64) {
        if self.v1 {
            self.u32(v as u32)
        } else {
            self.u64(v)
        }
    }

    /// A length-prefixed string.
    pub fn str(&mut self, s: &str) {
        self.len(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// A value without its type id.
    pub fn val(&mut self, v: &Val) {
        match v {
            Val::U8(x) => self.buf.push(*x),
            Val::U32(x) => self.u32(*x),
            Val::I32(x) => self.u32(*x as u32),
            Val::U64(x) => self.u64(*x),
            Val::F32(x) => self.u32(x.to_bits()),
            Val::Bool(x) => self.buf.push(u8::from(*x)),
            Val::Str(s) => self.str(s),
            Val::Arr(elem, items) => {
                self.u32(*elem);
                self.len(items.len() as u64);
                // Nested arrays carry their own element type and length.
                for i in items {
                    self.val(i);
                }
            }
            Val::Raw(_, bytes) => self.buf.extend_from_slice(bytes),
        }
    }
}

/// The byte offset of the first occurrence of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).unwrap()
}
