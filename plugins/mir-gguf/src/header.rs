//! The GGUF header parser: magic, version, key/values and tensor infos, read from a growing
//! prefix of the file.
//!
//! The file is read with positioned reads into one buffer that starts at [`INITIAL_CHUNK`] bytes
//! and grows fourfold (or to what an item needs) whenever the parser needs more, up to
//! `Limits::max_header_bytes`: one read per chunk, never one per field. Fourfold rather than
//! twofold growth halves the re-parsing and copying on multi-megabyte tokenizer headers. Parsing is resumable item by item (one key/value or one
//! tensor info), so growing the buffer re-parses at most the item that straddled its end.
//!
//! Written by hand because no crate reads every GGUF safely (see the crate docs).

use mir_core::{Limits, Source};

use crate::GgufError;
use crate::types::{ValueType, ggml_block_size, ggml_type_name};

/// The first read, in bytes (small files are read whole). Every byte of it is zero-filled and
/// copied whatever the header's size, so it is kept small: a city96 diffusion header (~80 KB)
/// then takes two reads and a 32k-token LLM header (~850 KB) three, where 1 MiB made a 12 KB
/// header cost a hundred times its pread (`cargo bench -p mir-benches --bench parse`).
pub const INITIAL_CHUNK: u64 = 64 << 10;

/// Arrays up to this many elements are kept whole; longer ones are only walked.
pub const MAX_INLINE_ARRAY: u64 = 64;

/// At most this many array elements are decoded per file; past it, short arrays are elided too.
/// A decoded value takes ~32 bytes against as little as one byte in the file, so without this
/// budget a header full of short (or nested short) u8 arrays could take 32 times its size.
pub const MAX_INLINE_VALUES: u64 = 1 << 20;

/// The default `general.alignment`.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// The byte order of a GGUF file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endian {
    /// Little-endian (nearly every file).
    Little,
    /// Big-endian, recognised by a byte-swapped version field.
    Big,
}

/// A metadata value as stored.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum GgufValue {
    /// u8.
    U8(u8),
    /// i8.
    I8(i8),
    /// u16.
    U16(u16),
    /// i16.
    I16(i16),
    /// u32.
    U32(u32),
    /// i32.
    I32(i32),
    /// f32.
    F32(f32),
    /// bool.
    Bool(bool),
    /// A string; invalid UTF-8 is replaced by U+FFFD (and reported in
    /// [`GgufHeader::warnings`]).
    Str(String),
    /// An array.
    Array(GgufArray),
    /// u64.
    U64(u64),
    /// i64.
    I64(i64),
    /// f64.
    F64(f64),
}

impl GgufValue {
    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            GgufValue::U8(_) => ValueType::U8,
            GgufValue::I8(_) => ValueType::I8,
            GgufValue::U16(_) => ValueType::U16,
            GgufValue::I16(_) => ValueType::I16,
            GgufValue::U32(_) => ValueType::U32,
            GgufValue::I32(_) => ValueType::I32,
            GgufValue::F32(_) => ValueType::F32,
            GgufValue::Bool(_) => ValueType::Bool,
            GgufValue::Str(_) => ValueType::String,
            GgufValue::Array(_) => ValueType::Array,
            GgufValue::U64(_) => ValueType::U64,
            GgufValue::I64(_) => ValueType::I64,
            GgufValue::F64(_) => ValueType::F64,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            GgufValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an i128 if it is an integer of any width.
    pub fn as_int(&self) -> Option<i128> {
        Some(match *self {
            GgufValue::U8(v) => v.into(),
            GgufValue::I8(v) => v.into(),
            GgufValue::U16(v) => v.into(),
            GgufValue::I16(v) => v.into(),
            GgufValue::U32(v) => v.into(),
            GgufValue::I32(v) => v.into(),
            GgufValue::U64(v) => v.into(),
            GgufValue::I64(v) => v.into(),
            _ => return None,
        })
    }
}

/// An array value. Arrays of up to [`MAX_INLINE_ARRAY`] elements are decoded (nested ones too,
/// up to [`MAX_INLINE_VALUES`] elements per file); longer ones (tokenizer vocabularies) are only
/// walked, so they cost no allocation per element.
#[derive(Clone, Debug, PartialEq)]
pub struct GgufArray {
    /// The element type.
    pub element: ValueType,
    /// The number of elements.
    pub len: u64,
    /// The elements, when the array is short enough to keep.
    pub items: Option<Vec<GgufValue>>,
    /// Absolute byte range `[start, end)` of the elements in the file, for lazy decoding.
    pub span: (u64, u64),
}

/// One key/value pair, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct KvEntry {
    /// The key (`general.architecture`, …).
    pub key: String,
    /// The value.
    pub value: GgufValue,
}

/// One tensor info, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// The tensor's name.
    pub name: String,
    /// The dimensions in ggml order (innermost first), as stored.
    pub dims: Vec<u64>,
    /// The ggml type id.
    pub ggml_type: u32,
    /// The ggml type's name, when this crate knows the id.
    pub type_name: Option<&'static str>,
    /// The data offset relative to [`GgufHeader::data_offset`].
    pub offset: u64,
    /// Absolute byte range of the data, when the type (and so the size) is known.
    pub data: Option<(u64, u64)>,
}

impl TensorInfo {
    /// The dimensions in PyTorch order (outermost first): `dims` reversed.
    pub fn torch_shape(&self) -> Vec<u64> {
        self.dims.iter().rev().copied().collect()
    }

    /// The number of elements; `None` when it overflows (never for a parsed header).
    pub fn numel(&self) -> Option<u64> {
        self.dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d))
    }
}

/// Everything a GGUF header declares.
#[derive(Clone, Debug, PartialEq)]
pub struct GgufHeader {
    /// The format version (1, 2 or 3).
    pub version: u32,
    /// The byte order.
    pub endian: Endian,
    /// The data alignment (`general.alignment`, default 32).
    pub alignment: u64,
    /// The end of the tensor infos (the header's size before padding).
    pub header_len: u64,
    /// The start of the tensor data section: `header_len` rounded up to `alignment`.
    pub data_offset: u64,
    /// The key/value pairs in file order.
    pub kv: Vec<KvEntry>,
    /// The tensor infos in file order.
    pub tensors: Vec<TensorInfo>,
    /// Oddities that do not stop parsing (lossy strings, a short final padding).
    pub warnings: Vec<String>,
    /// Keys whose string value (at the top level) was not valid UTF-8.
    pub lossy_keys: Vec<String>,
}

impl GgufHeader {
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.kv.iter().find(|e| e.key == key).map(|e| &e.value)
    }

    /// The string under `key`, if it is one.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(GgufValue::as_str)
    }
}

/// Reads and validates the header of `src`: magic, version, byte order, key/values and tensor
/// infos, with every tensor's data range checked against the file.
///
/// Works on files and on [`Source::from_bytes`] (tests, fuzzing). Never reads tensor data.
pub fn parse_header(src: &Source, limits: &Limits) -> Result<GgufHeader, GgufError> {
    let file_len = src.len();
    let cap = file_len.min(limits.max_header_bytes);
    let mut buf: Vec<u8> = Vec::new();
    let mut want = INITIAL_CHUNK.min(cap);
    let mut parser = Parser::new(file_len, limits);
    loop {
        grow(src, &mut buf, want)?;
        match parser.run(&buf) {
            Ok(()) => break,
            Err(Stop::Fail(e)) => return Err(e),
            Err(Stop::Need(end)) => {
                let len = buf.len() as u64;
                // `Need` is only raised for an end inside the file and the limit, past the buffer.
                want = end.max(len.saturating_mul(4)).min(cap);
                if want <= len {
                    return Err(GgufError::Truncated {
                        what: "header",
                        end,
                        file_len,
                    });
                }
            }
        }
    }
    parser.finish()
}

/// Extends `buf` to `want` bytes with one positioned read.
fn grow(src: &Source, buf: &mut Vec<u8>, want: u64) -> Result<(), GgufError> {
    let old = buf.len();
    let want = usize::try_from(want).map_err(|_| GgufError::LimitExceeded {
        what: "header bytes",
        value: want,
        limit: usize::MAX as u64,
    })?;
    if want <= old {
        return Ok(());
    }
    // Fallible: a header size within the limits that the allocator cannot provide is an error
    // for this file, not an abort of the whole scan.
    mir_core::grow_zeroed(buf, want, "gguf header")?;
    let tail = buf.get_mut(old..).unwrap_or_default();
    src.read_exact_at(old as u64, tail, "gguf header")?;
    Ok(())
}

/// Why parsing paused or stopped.
enum Stop {
    /// The buffer must reach this absolute end (which is inside the file and the limits).
    Need(u64),
    /// The file is invalid.
    Fail(GgufError),
}

impl From<GgufError> for Stop {
    fn from(e: GgufError) -> Self {
        Stop::Fail(e)
    }
}

/// The resumable parser state: everything committed so far.
struct Parser<'l> {
    file_len: u64,
    limits: &'l Limits,
    started: bool,
    version: u32,
    big: bool,
    tensor_count: u64,
    kv_count: u64,
    pos: u64,
    kv: Vec<KvEntry>,
    tensors: Vec<TensorInfo>,
    lossy_keys: Vec<String>,
    keys_checked: bool,
    inline_left: u64,
}

impl<'l> Parser<'l> {
    fn new(file_len: u64, limits: &'l Limits) -> Self {
        Parser {
            file_len,
            limits,
            started: false,
            version: 0,
            big: false,
            tensor_count: 0,
            kv_count: 0,
            pos: 0,
            kv: Vec::new(),
            tensors: Vec::new(),
            lossy_keys: Vec::new(),
            keys_checked: false,
            inline_left: MAX_INLINE_VALUES,
        }
    }

    fn cursor<'b>(&self, buf: &'b [u8]) -> Cursor<'b, 'l> {
        Cursor {
            buf,
            pos: self.pos,
            big: self.big,
            v1: self.version == 1,
            file_len: self.file_len,
            cap: self.limits.max_header_bytes,
            limits: self.limits,
            inline_left: self.inline_left,
        }
    }

    /// Parses as far as `buf` allows, committing whole items.
    fn run(&mut self, buf: &[u8]) -> Result<(), Stop> {
        if !self.started {
            self.preamble(buf)?;
        }
        while (self.kv.len() as u64) < self.kv_count {
            let mut c = self.cursor(buf);
            let (entry, lossy) = c.kv_entry()?;
            self.pos = c.pos;
            self.inline_left = c.inline_left;
            if lossy {
                self.lossy_keys.push(entry.key.clone());
            }
            self.kv
                .try_reserve(1)
                .map_err(|_| out_of_memory("metadata", self.kv.len()))?;
            self.kv.push(entry);
        }
        if !self.keys_checked {
            check_unique(self.kv.iter().map(|e| e.key.as_str()))
                .map_err(|key| GgufError::DuplicateKey { key })?;
            self.keys_checked = true;
        }
        while (self.tensors.len() as u64) < self.tensor_count {
            let mut c = self.cursor(buf);
            let info = c.tensor_info()?;
            self.pos = c.pos;
            self.tensors
                .try_reserve(1)
                .map_err(|_| out_of_memory("tensor infos", self.tensors.len()))?;
            self.tensors.push(info);
        }
        Ok(())
    }

    /// Magic, version (which also tells the byte order) and the two counts.
    fn preamble(&mut self, buf: &[u8]) -> Result<(), Stop> {
        let head = buf.get(..4).unwrap_or(buf);
        if !b"GGUF".starts_with(head) {
            return Err(Stop::Fail(GgufError::BadMagic {
                found: head.to_vec(),
            }));
        }
        let mut c = self.cursor(buf);
        c.take(4, "magic")?;
        let raw: [u8; 4] = c.array("version")?;
        let le = u32::from_le_bytes(raw);
        let be = u32::from_be_bytes(raw);
        let (version, big) = if (1..=3).contains(&le) {
            (le, false)
        } else if (1..=3).contains(&be) {
            (be, true)
        } else {
            return Err(Stop::Fail(GgufError::UnsupportedVersion { version: le }));
        };
        c.big = big;
        c.v1 = version == 1;
        let tensor_count = c.len("tensor count")?;
        let kv_count = c.len("metadata count")?;
        // Bound both counts by the bytes left before allocating anything for them.
        let len_size = c.len_size();
        let min_kv = len_size.saturating_add(4).saturating_add(1);
        let min_tensor = len_size
            .saturating_add(4)
            .saturating_add(4)
            .saturating_add(8);
        let after = c.pos;
        let remaining = self.file_len.saturating_sub(after);
        for (what, count, min) in [
            ("metadata count", kv_count, min_kv),
            ("tensor count", tensor_count, min_tensor),
        ] {
            if count.saturating_mul(min) > remaining {
                return Err(Stop::Fail(GgufError::CountExceedsFile {
                    what,
                    count,
                    offset: after,
                    remaining,
                }));
            }
        }
        if kv_count
            .saturating_mul(min_kv)
            .saturating_add(tensor_count.saturating_mul(min_tensor))
            > remaining
        {
            return Err(Stop::Fail(GgufError::CountExceedsFile {
                what: "metadata and tensor count",
                count: kv_count.saturating_add(tensor_count),
                offset: after,
                remaining,
            }));
        }
        Limits::check("tensor count", tensor_count, self.limits.max_tensors)
            .map_err(GgufError::from)?;
        Limits::check("metadata count", kv_count, self.limits.max_metadata_entries)
            .map_err(GgufError::from)?;
        self.version = version;
        self.big = big;
        self.tensor_count = tensor_count;
        self.kv_count = kv_count;
        self.pos = after;
        // Even bounded counts reserve at most 4096 slots; the vectors grow as items are parsed.
        self.kv.reserve(small(kv_count));
        self.tensors.reserve(small(tensor_count));
        self.started = true;
        Ok(())
    }

    /// Alignment, data offset and each tensor's data range.
    fn finish(self) -> Result<GgufHeader, GgufError> {
        check_unique(self.tensors.iter().map(|t| t.name.as_str()))
            .map_err(|name| GgufError::DuplicateTensor { name })?;
        let alignment = match self.kv.iter().find(|e| e.key == "general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(KvEntry {
                value: GgufValue::U32(a),
                ..
            }) => u64::from(*a),
            Some(e) => {
                return Err(GgufError::AlignmentType {
                    found: e.value.value_type().name(),
                });
            }
        };
        if !alignment.is_power_of_two() {
            return Err(GgufError::BadAlignment { alignment });
        }
        let header_len = self.pos;
        let Some(data_offset) = align_up(header_len, alignment) else {
            return Err(GgufError::Truncated {
                what: "data section",
                end: u64::MAX,
                file_len: self.file_len,
            });
        };
        let mut tensors = self.tensors;
        let mut warnings = Vec::new();
        let mut data_end = data_offset;
        for t in &mut tensors {
            if t.offset.checked_rem(alignment) != Some(0) {
                return Err(GgufError::MisalignedTensor {
                    name: t.name.clone(),
                    offset: t.offset,
                    alignment,
                });
            }
            let numel = t.numel().ok_or_else(|| GgufError::TensorSizeOverflow {
                name: t.name.clone(),
            })?;
            let start = data_offset.checked_add(t.offset);
            let out_of_bounds = |end: u64| GgufError::TensorOutOfBounds {
                name: t.name.clone(),
                start: start.unwrap_or(u64::MAX),
                end,
                file_len: self.file_len,
            };
            let start = start.ok_or_else(|| out_of_bounds(u64::MAX))?;
            if start > self.file_len {
                return Err(out_of_bounds(start));
            }
            let Some((block, bytes)) = ggml_block_size(t.ggml_type) else {
                continue;
            };
            let inner = t.dims.first().copied().unwrap_or(1);
            if inner.checked_rem(block) != Some(0) {
                return Err(GgufError::PartialBlock {
                    name: t.name.clone(),
                    dim: inner,
                    block,
                });
            }
            let size = numel
                .checked_div(block)
                .and_then(|blocks| blocks.checked_mul(bytes))
                .ok_or_else(|| GgufError::TensorSizeOverflow {
                    name: t.name.clone(),
                })?;
            let end = start
                .checked_add(size)
                .ok_or_else(|| out_of_bounds(u64::MAX))?;
            if end > self.file_len {
                return Err(out_of_bounds(end));
            }
            t.data = Some((start, end));
            data_end = data_end.max(align_up(end, alignment).unwrap_or(u64::MAX));
        }
        // A file without tensors (llama.cpp's vocabulary-only files) has no data section: ending
        // right after the header is normal for it, not a file cut inside its padding.
        if !tensors.is_empty() && data_end > self.file_len {
            warnings.push(format!(
                "the file ends inside the padding after the last tensor: it has {} bytes, the \
                 padded data section ends at {data_end}",
                self.file_len
            ));
        }
        for key in &self.lossy_keys {
            warnings.push(format!("the string value of {key:?} is not valid utf-8"));
        }
        Ok(GgufHeader {
            version: self.version,
            endian: if self.big {
                Endian::Big
            } else {
                Endian::Little
            },
            alignment,
            header_len,
            data_offset,
            kv: self.kv,
            tensors,
            warnings,
            lossy_keys: self.lossy_keys,
        })
    }
}

/// The error for a vector of `len` items that could not grow.
fn out_of_memory(what: &'static str, len: usize) -> GgufError {
    GgufError::OutOfMemory {
        what,
        bytes: (len as u64).saturating_add(1),
    }
}

/// A string from a file's bytes, replacing invalid UTF-8 with U+FFFD like
/// `String::from_utf8_lossy`, but allocating fallibly; the flag says something was replaced.
fn lossy_string(bytes: &[u8]) -> Result<(String, bool), GgufError> {
    let oom = || GgufError::OutOfMemory {
        what: "string value",
        bytes: bytes.len() as u64,
    };
    let mut out = String::new();
    out.try_reserve_exact(bytes.len()).map_err(|_| oom())?;
    let mut lossy = false;
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            lossy = true;
            out.try_reserve('\u{FFFD}'.len_utf8()).map_err(|_| oom())?;
            out.push('\u{FFFD}');
        }
    }
    Ok((out, lossy))
}

/// A capacity to reserve for a count from the file: the count, but never more than 4096.
fn small(count: u64) -> usize {
    usize::try_from(count.min(4096)).unwrap_or(0)
}

fn align_up(v: u64, alignment: u64) -> Option<u64> {
    let rem = v.checked_rem(alignment)?;
    if rem == 0 {
        Some(v)
    } else {
        v.checked_add(alignment.checked_sub(rem)?)
    }
}

/// The first name that appears twice, by sorting references (no copies of the names).
fn check_unique<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let mut sorted: Vec<&str> = names.collect();
    sorted.sort_unstable();
    match sorted.windows(2).find(|w| w.first() == w.get(1)) {
        Some(w) => Err(w.first().map(|s| s.to_string()).unwrap_or_default()),
        None => Ok(()),
    }
}

/// A read position over the buffered prefix of the file; offsets are absolute.
struct Cursor<'b, 'l> {
    buf: &'b [u8],
    pos: u64,
    big: bool,
    v1: bool,
    file_len: u64,
    cap: u64,
    limits: &'l Limits,
    /// What is left of [`MAX_INLINE_VALUES`].
    inline_left: u64,
}

impl<'b> Cursor<'b, '_> {
    /// The size of lengths and counts: u32 in v1, u64 after.
    fn len_size(&self) -> u64 {
        if self.v1 { 4 } else { 8 }
    }

    /// The bytes left in the file after the position.
    fn remaining(&self) -> u64 {
        self.file_len.saturating_sub(self.pos)
    }

    /// Checks that `n` more bytes are buffered, or says why not.
    fn ensure(&self, n: u64, what: &'static str) -> Result<(), Stop> {
        let end = self.pos.saturating_add(n);
        if end <= self.buf.len() as u64 {
            Ok(())
        } else if end > self.file_len {
            Err(Stop::Fail(GgufError::Truncated {
                what,
                end,
                file_len: self.file_len,
            }))
        } else if end > self.cap {
            Err(Stop::Fail(GgufError::LimitExceeded {
                what: "header bytes",
                value: end,
                limit: self.cap,
            }))
        } else {
            Err(Stop::Need(end))
        }
    }

    fn take(&mut self, n: u64, what: &'static str) -> Result<&'b [u8], Stop> {
        self.ensure(n, what)?;
        let start = usize::try_from(self.pos).map_err(|_| Stop::Need(u64::MAX))?;
        let len = usize::try_from(n).map_err(|_| Stop::Need(u64::MAX))?;
        let bytes = start
            .checked_add(len)
            .and_then(|end| self.buf.get(start..end))
            .ok_or_else(|| {
                Stop::Fail(GgufError::Truncated {
                    what,
                    end: self.pos.saturating_add(n),
                    file_len: self.file_len,
                })
            })?;
        self.pos = self.pos.saturating_add(n);
        Ok(bytes)
    }

    fn skip(&mut self, n: u64, what: &'static str) -> Result<(), Stop> {
        self.ensure(n, what)?;
        self.pos = self.pos.saturating_add(n);
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Stop> {
        let bytes = self.take(N as u64, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, Stop> {
        let [b] = self.array::<1>(what)?;
        Ok(b)
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, Stop> {
        let b = self.array(what)?;
        Ok(if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, Stop> {
        let b = self.array(what)?;
        Ok(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, Stop> {
        let b = self.array(what)?;
        Ok(if self.big {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }

    /// A count or length: u32 in v1, u64 after.
    fn len(&mut self, what: &'static str) -> Result<u64, Stop> {
        if self.v1 {
            self.u32(what).map(u64::from)
        } else {
            self.u64(what)
        }
    }

    /// A length-prefixed string's bytes, bounded by the file end and then by `limit`.
    fn string(&mut self, what: &'static str, limit: u64) -> Result<&'b [u8], Stop> {
        let len = self.len(what)?;
        if len > self.remaining() {
            return Err(Stop::Fail(GgufError::StringPastEnd {
                what,
                offset: self.pos,
                len,
                file_len: self.file_len,
            }));
        }
        if len > limit {
            return Err(Stop::Fail(GgufError::LimitExceeded {
                what,
                value: len,
                limit,
            }));
        }
        self.take(len, what)
    }

    /// A key or tensor name: a string that must be valid UTF-8.
    fn name(&mut self, what: &'static str) -> Result<String, Stop> {
        let offset = self.pos.saturating_add(self.len_size());
        let limit = self.limits.max_name_bytes as u64;
        let bytes = self.string(what, limit)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(Stop::Fail(GgufError::InvalidUtf8 { what, offset })),
        }
    }

    fn value_type(&mut self) -> Result<ValueType, Stop> {
        let offset = self.pos;
        let id = self.u32("value type")?;
        // A match, not `ok_or`: building (and dropping) an error per value is measurable.
        match ValueType::from_id(id) {
            Some(ty) => Ok(ty),
            None => Err(Stop::Fail(GgufError::UnknownValueType {
                value_type: id,
                offset,
            })),
        }
    }

    /// One key/value pair; the flag says a string value was not valid UTF-8.
    fn kv_entry(&mut self) -> Result<(KvEntry, bool), Stop> {
        let key = self.name("key")?;
        let ty = self.value_type()?;
        let mut lossy = false;
        let value = self.value(ty, 0, &mut lossy)?;
        Ok((KvEntry { key, value }, lossy))
    }

    /// One value of type `ty` at array depth `depth` (0 for a key's own value).
    fn value(&mut self, ty: ValueType, depth: usize, lossy: &mut bool) -> Result<GgufValue, Stop> {
        Ok(match ty {
            ValueType::U8 => GgufValue::U8(self.u8("u8 value")?),
            ValueType::I8 => GgufValue::I8(i8::from_ne_bytes([self.u8("i8 value")?])),
            ValueType::U16 => GgufValue::U16(self.u16("u16 value")?),
            ValueType::I16 => {
                GgufValue::I16(i16::from_ne_bytes(self.u16("i16 value")?.to_ne_bytes()))
            }
            ValueType::U32 => GgufValue::U32(self.u32("u32 value")?),
            ValueType::I32 => {
                GgufValue::I32(i32::from_ne_bytes(self.u32("i32 value")?.to_ne_bytes()))
            }
            ValueType::F32 => GgufValue::F32(f32::from_bits(self.u32("f32 value")?)),
            ValueType::Bool => GgufValue::Bool(self.u8("bool value")? != 0),
            ValueType::String => {
                let bytes = self.string("string value", self.limits.max_string_bytes)?;
                let (s, replaced) = lossy_string(bytes)?;
                if replaced {
                    *lossy = true;
                }
                GgufValue::Str(s)
            }
            ValueType::Array => GgufValue::Array(self.array_value(depth, lossy)?),
            ValueType::U64 => GgufValue::U64(self.u64("u64 value")?),
            ValueType::I64 => {
                GgufValue::I64(i64::from_ne_bytes(self.u64("i64 value")?.to_ne_bytes()))
            }
            ValueType::F64 => GgufValue::F64(f64::from_bits(self.u64("f64 value")?)),
        })
    }

    /// An array whose header starts at the position; `depth` is the depth of its parent.
    fn array_value(&mut self, depth: usize, lossy: &mut bool) -> Result<GgufArray, Stop> {
        let start_of_array = self.pos;
        let depth = depth.saturating_add(1);
        if depth > self.limits.max_depth {
            return Err(Stop::Fail(GgufError::NestingTooDeep {
                offset: start_of_array,
                limit: self.limits.max_depth,
            }));
        }
        let element = self.value_type()?;
        let len = self.len("array length")?;
        self.check_count(len, element)?;
        let start = self.pos;
        let items = if len <= MAX_INLINE_ARRAY && len <= self.inline_left {
            self.inline_left = self.inline_left.saturating_sub(len);
            let mut items = Vec::with_capacity(small(len));
            for _ in 0..len {
                items.push(self.value(element, depth, lossy)?);
            }
            Some(items)
        } else {
            self.skip_items(element, len, depth)?;
            None
        };
        Ok(GgufArray {
            element,
            len,
            items,
            span: (start, self.pos),
        })
    }

    /// Bounds an array length by the bytes left (at the smallest element size) and the limits.
    fn check_count(&self, len: u64, element: ValueType) -> Result<(), Stop> {
        let remaining = self.remaining();
        if len.saturating_mul(element.min_size(self.len_size())) > remaining {
            return Err(Stop::Fail(GgufError::CountExceedsFile {
                what: "array length",
                count: len,
                offset: self.pos,
                remaining,
            }));
        }
        if len > self.limits.max_array_len {
            return Err(Stop::Fail(GgufError::LimitExceeded {
                what: "array length",
                value: len,
                limit: self.limits.max_array_len,
            }));
        }
        Ok(())
    }

    /// Walks `len` elements of type `element` without keeping them.
    fn skip_items(&mut self, element: ValueType, len: u64, depth: usize) -> Result<(), Stop> {
        if let Some(size) = element.fixed_size() {
            return self.skip(len.saturating_mul(size), "array elements");
        }
        for _ in 0..len {
            if element == ValueType::String {
                let n = self.len("string value")?;
                if n > self.remaining() {
                    return Err(Stop::Fail(GgufError::StringPastEnd {
                        what: "string value",
                        offset: self.pos,
                        len: n,
                        file_len: self.file_len,
                    }));
                }
                if n > self.limits.max_string_bytes {
                    return Err(Stop::Fail(GgufError::LimitExceeded {
                        what: "string value",
                        value: n,
                        limit: self.limits.max_string_bytes,
                    }));
                }
                self.skip(n, "string value")?;
            } else {
                let offset = self.pos;
                let inner_depth = depth.saturating_add(1);
                if inner_depth > self.limits.max_depth {
                    return Err(Stop::Fail(GgufError::NestingTooDeep {
                        offset,
                        limit: self.limits.max_depth,
                    }));
                }
                let inner = self.value_type()?;
                let inner_len = self.len("array length")?;
                self.check_count(inner_len, inner)?;
                self.skip_items(inner, inner_len, inner_depth)?;
            }
        }
        Ok(())
    }

    /// One tensor info: name, rank, dims (u32 in v1), ggml type, offset.
    fn tensor_info(&mut self) -> Result<TensorInfo, Stop> {
        let name = self.name("tensor name")?;
        let rank = self.u32("tensor rank")?;
        Limits::check("tensor rank", u64::from(rank), self.limits.max_rank as u64)
            .map_err(GgufError::from)?;
        let mut dims = Vec::with_capacity(small(u64::from(rank)));
        for _ in 0..rank {
            dims.push(self.len("tensor dimension")?);
        }
        let ggml_type = self.u32("tensor type")?;
        let offset = self.u64("tensor offset")?;
        Ok(TensorInfo {
            name,
            dims,
            ggml_type,
            type_name: ggml_type_name(ggml_type),
            offset,
            data: None,
        })
    }
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
    fn alignment_rounds_up() {
        assert_eq!(align_up(0, 32), Some(0));
        assert_eq!(align_up(33, 32), Some(64));
        assert_eq!(align_up(64, 32), Some(64));
        assert_eq!(align_up(u64::MAX, 32), None);
    }

    #[test]
    fn duplicates_are_found_by_name() {
        assert_eq!(check_unique(["a", "b", "c"].into_iter()), Ok(()));
        assert_eq!(check_unique(["b", "a", "b"].into_iter()), Err("b".into()));
    }
}
