//! Example `mir` plugin: NumPy `.npy` arrays and `.npz` archives of them.
//!
//! Built as a `cdylib` against `mir-plugin-sdk` only (no `mir-core`), it shows what a third-party
//! plugin looks like. It reads headers only:
//!
//! * `.npy`: the magic `\x93NUMPY`, a version (1.0, 2.0 or 3.0), a little-endian header length
//!   (`u16` for 1.0, `u32` after) and a Python dict literal with `descr`, `fortran_order` and
//!   `shape` (numpy `lib/format.py`). Data follows the header, contiguous.
//! * `.npz`: a zip of `.npy` members, stored (`np.savez`) or deflated (`np.savez_compressed`).
//!   Each member's header is read through the zip crate's reader; the tensor name is the member
//!   name without `.npy`. A stored member's data range is reported, a deflated one's is not.
//!
//! `descr` maps to safetensors dtype names (`<f4` → `F32`, `|b1` → `BOOL`); byte order does not
//! change the type. Object arrays (`|O`) are pickles that run code when loaded with
//! `allow_pickle=True`, so they are reported as an `unsafe` finding.
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::panic
)]

use std::io::Read;

use mir_plugin_sdk::{
    Confidence, Emitter, HostReader, Plugin, PluginError, Severity, export_plugin,
};

/// The `.npy` magic string.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Longest header dict this plugin reads. numpy itself refuses more than 10,000 bytes unless told
/// otherwise; structured dtypes can be longer, so allow 1 MiB.
pub const MAX_HEADER_BYTES: u32 = 1 << 20;

/// Most dimensions numpy allows (`NPY_MAXDIMS` is 64 since numpy 2.0).
pub const MAX_DIMS: usize = 64;

/// Deepest nesting of lists and tuples in a structured `descr`.
const MAX_NESTING: usize = 32;

/// The plugin type.
#[derive(Debug)]
pub struct Npy;

export_plugin!(Npy);

impl Plugin for Npy {
    const NAME: &'static str = "npy";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const EXTENSIONS: &'static [&'static str] = &["npy", "npz"];

    fn sniff(head: &[u8], _file_len: u64) -> Confidence {
        if head.starts_with(MAGIC) {
            return Confidence::Magic;
        }
        if head.starts_with(b"PK\x03\x04") {
            // The first local header's file name starts at offset 30; its length is at 26.
            let Some(&[a, b]) = head.get(26..28) else {
                return Confidence::Neutral;
            };
            let len = usize::from(u16::from_le_bytes([a, b]));
            return match head.get(30..30usize.saturating_add(len)) {
                Some(name) if name.ends_with(b".npy") => Confidence::Magic,
                // A zip whose first member is not an array: a torch checkpoint, a docx, ...
                Some(_) => Confidence::No,
                None => Confidence::Neutral,
            };
        }
        if head.starts_with(b"PK\x05\x06") {
            // An empty zip: `np.savez` with no arrays.
            return Confidence::Neutral;
        }
        Confidence::No
    }

    fn parse(reader: &mut HostReader<'_>, out: &mut Emitter<'_>) -> Result<(), PluginError> {
        let mut magic = [0u8; 4];
        reader.read_at(0, &mut magic)?;
        if magic.starts_with(&MAGIC[..4]) {
            parse_npy_file(reader, out)
        } else if magic.starts_with(b"PK") {
            parse_npz(reader, out)
        } else {
            Err(PluginError::format(
                "neither a .npy array nor a zip archive",
            ))
        }
    }
}

/// What a `.npy` header declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyHeader {
    /// The format version `(major, minor)`.
    pub version: (u8, u8),
    /// The element type.
    pub dtype: NpyDtype,
    /// Whether the data is in Fortran (column-major) order. The shape is logical either way.
    pub fortran_order: bool,
    /// The array's shape.
    pub shape: Vec<u64>,
    /// Bytes from the start of the `.npy` stream to the first data byte.
    pub data_offset: u64,
}

impl NpyHeader {
    /// The data's size in bytes, when the item size is known and the product fits a u64.
    pub fn data_len(&self) -> Option<u64> {
        let item = self.dtype.item_size?;
        self.shape
            .iter()
            .try_fold(item, |acc, &d| acc.checked_mul(d))
    }
}

/// A numpy element type as `descr` spells it, with its safetensors name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyDtype {
    /// The safetensors spelling (`F32`), `object` for pickled objects, or the raw `descr`.
    pub name: String,
    /// Bytes per element, when known.
    pub item_size: Option<u64>,
    /// True for object arrays, which are pickles.
    pub is_object: bool,
}

impl NpyDtype {
    /// Maps a simple `descr` such as `<f4`, `|b1`, `>i8` or `|O`.
    pub fn from_descr(descr: &str) -> NpyDtype {
        let body = descr.trim_start_matches(['<', '>', '|', '=']);
        let mut chars = body.chars();
        let kind = chars.next().unwrap_or(' ');
        let digits = chars.as_str();
        let size: Option<u64> = digits.parse().ok();
        let name = match (kind, size) {
            ('b', Some(1)) | ('?', None) => "BOOL",
            ('u', Some(1)) | ('B', None) => "U8",
            ('i', Some(1)) | ('b', None) => "I8",
            ('u', Some(2)) => "U16",
            ('i', Some(2)) => "I16",
            ('u', Some(4)) => "U32",
            ('i', Some(4)) => "I32",
            ('u', Some(8)) => "U64",
            ('i', Some(8)) => "I64",
            ('f', Some(2)) | ('e', None) => "F16",
            ('f', Some(4)) => "F32",
            ('f', Some(8)) => "F64",
            ('c', Some(8)) => "C64",
            ('c', Some(16)) => "C128",
            ('O', _) => {
                return NpyDtype {
                    name: "object".to_owned(),
                    item_size: None,
                    is_object: true,
                };
            }
            _ => "",
        };
        let item_size = match kind {
            '?' | 'B' | 'b' if size.is_none() => Some(1),
            'e' if size.is_none() => Some(2),
            'b' | 'i' | 'u' | 'f' | 'c' | 'V' | 'S' | 'a' => size,
            'U' => size.and_then(|n| n.checked_mul(4)),
            // Datetimes and timedeltas (`<M8[ns]`) are 8 bytes.
            'M' | 'm' if digits.starts_with('8') => Some(8),
            _ => None,
        };
        NpyDtype {
            name: if name.is_empty() {
                descr.to_owned()
            } else {
                name.to_owned()
            },
            item_size,
            is_object: false,
        }
    }
}

fn parse_npy_file(reader: &mut HostReader<'_>, out: &mut Emitter<'_>) -> Result<(), PluginError> {
    let header = read_header(reader)?;
    let file_len = reader.len();
    let data = match header.data_len() {
        Some(len) if !header.dtype.is_object => {
            let end = header
                .data_offset
                .checked_add(len)
                .ok_or_else(|| PluginError::format("data size overflows"))?;
            if end > file_len {
                return Err(PluginError::format(format!(
                    "truncated: the array data needs bytes up to {end} but the file has {file_len}"
                )));
            }
            Some((header.data_offset, end))
        }
        _ => None,
    };
    out.metadata(
        "npy.version",
        &format!("{}.{}", header.version.0, header.version.1),
    )?;
    if header.fortran_order {
        out.metadata("npy.fortran_order", "true")?;
    }
    report_object(out, &header, "the array")?;
    out.tensor("array", &header.dtype.name, &header.shape, data)
}

fn report_object(out: &mut Emitter<'_>, header: &NpyHeader, what: &str) -> Result<(), PluginError> {
    if header.dtype.is_object {
        out.finding(
            Severity::Unsafe,
            &format!("{what} is an object array: numpy unpickles it (runs code) when loaded with allow_pickle=True"),
        )?;
    }
    Ok(())
}

fn parse_npz(reader: &mut HostReader<'_>, out: &mut Emitter<'_>) -> Result<(), PluginError> {
    let zip_err = |e: zip::result::ZipError| PluginError::format(format!("zip: {e}"));
    let mut archive = zip::ZipArchive::new(reader).map_err(zip_err)?;
    out.metadata("npz.members", &archive.len().to_string())?;
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).map_err(|e| match e {
            zip::result::ZipError::UnsupportedArchive(m) => {
                PluginError::Unsupported(format!("zip member {i}: {m}"))
            }
            other => PluginError::format(format!("zip member {i}: {other}")),
        })?;
        let member_name = member.name().map_err(zip_err)?.into_owned();
        if member.is_dir() {
            continue;
        }
        let Some(name) = member_name.strip_suffix(".npy") else {
            out.finding(
                Severity::Info,
                &format!("member {member_name} is not a .npy array; skipped"),
            )?;
            continue;
        };
        let header = read_header(&mut member)
            .map_err(|e| PluginError::format(format!("member {member_name}: {e}")))?;
        let stored = member.compression() == zip::CompressionMethod::Stored;
        let data = match (stored, member.data_start(), header.data_len()) {
            (true, Some(start), Some(len)) if !header.dtype.is_object => {
                let begin = start.checked_add(header.data_offset);
                let end = begin.and_then(|b| b.checked_add(len));
                let member_end = start.checked_add(member.compressed_size());
                match (begin, end, member_end) {
                    (Some(b), Some(e), Some(m)) if e <= m => Some((b, e)),
                    _ => {
                        return Err(PluginError::format(format!(
                            "member {member_name}: the array data runs past the member's end"
                        )));
                    }
                }
            }
            _ => None,
        };
        report_object(out, &header, &format!("member {member_name}"))?;
        out.tensor(name, &header.dtype.name, &header.shape, data)?;
    }
    Ok(())
}

/// Reads a `.npy` prelude and header dict from the start of `r`.
pub fn read_header(r: &mut impl Read) -> Result<NpyHeader, PluginError> {
    let io = |e: std::io::Error| PluginError::format(format!("reading the header: {e}"));
    let mut prelude = [0u8; 8];
    r.read_exact(&mut prelude).map_err(io)?;
    let [m0, m1, m2, m3, m4, m5, major, minor] = prelude;
    if [m0, m1, m2, m3, m4, m5] != *MAGIC {
        return Err(PluginError::format("no \\x93NUMPY magic"));
    }
    let (header_len, prelude_len) = match major {
        1 => {
            let mut n = [0u8; 2];
            r.read_exact(&mut n).map_err(io)?;
            (u32::from(u16::from_le_bytes(n)), 10u64)
        }
        2 | 3 => {
            let mut n = [0u8; 4];
            r.read_exact(&mut n).map_err(io)?;
            (u32::from_le_bytes(n), 12u64)
        }
        v => {
            return Err(PluginError::Unsupported(format!(
                "npy format version {v}.{minor}"
            )));
        }
    };
    if header_len > MAX_HEADER_BYTES {
        return Err(PluginError::format(format!(
            "the header is {header_len} bytes, over the plugin's limit of {MAX_HEADER_BYTES}"
        )));
    }
    // `header_len` is at most 1 MiB, so this allocation is bounded; it is still fallible, so a
    // process out of memory fails this file instead of aborting.
    let mut text = Vec::new();
    text.try_reserve_exact(header_len as usize).map_err(|_| {
        PluginError::format(format!("out of memory for a {header_len}-byte header"))
    })?;
    text.resize(header_len as usize, 0);
    r.read_exact(&mut text).map_err(io)?;
    // Versions 1 and 2 are latin-1, version 3 is UTF-8; the keys and values we read are ASCII, and
    // a non-ASCII byte can only sit inside a structured dtype's field name, which we do not decode.
    let dict = parse_dict(&text)?;
    Ok(NpyHeader {
        version: (major, minor),
        dtype: dict.dtype,
        fortran_order: dict.fortran_order,
        shape: dict.shape,
        data_offset: prelude_len.saturating_add(u64::from(header_len)),
    })
}

struct Dict {
    dtype: NpyDtype,
    fortran_order: bool,
    shape: Vec<u64>,
}

/// Parses the header dict, a Python literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
///
/// Written by hand: the grammar is four token kinds, and the crates that parse Python literals
/// (`py_literal`) pull in a parser generator and big integers and have no input limits.
fn parse_dict(text: &[u8]) -> Result<Dict, PluginError> {
    let mut p = Cursor { text, pos: 0 };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    p.expect(b'{')?;
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.skip_ws();
        p.expect(b':')?;
        p.skip_ws();
        match key.as_str() {
            "descr" if descr.is_none() => {
                descr = Some(if p.peek() == Some(b'[') {
                    p.skip_nested(0)?;
                    NpyDtype {
                        name: "structured".to_owned(),
                        item_size: None,
                        is_object: false,
                    }
                } else {
                    NpyDtype::from_descr(&p.string()?)
                });
            }
            "fortran_order" if fortran.is_none() => fortran = Some(p.boolean()?),
            "shape" if shape.is_none() => shape = Some(p.shape()?),
            "descr" | "fortran_order" | "shape" => {
                return Err(PluginError::format(format!(
                    "the header repeats the key {key:?}"
                )));
            }
            other => {
                return Err(PluginError::format(format!(
                    "the header has an unexpected key {other:?}"
                )));
            }
        }
        p.skip_ws();
        if !p.eat(b',') {
            p.skip_ws();
            p.expect(b'}')?;
            break;
        }
    }
    match (descr, fortran, shape) {
        (Some(dtype), Some(fortran_order), Some(shape)) => Ok(Dict {
            dtype,
            fortran_order,
            shape,
        }),
        _ => Err(PluginError::format(
            "the header lacks descr, fortran_order or shape",
        )),
    }
}

struct Cursor<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn bump(&mut self) {
        self.pos = self.pos.saturating_add(1);
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.bump();
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), PluginError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(PluginError::format(format!(
                "header dict: expected {:?} at byte {}",
                char::from(c),
                self.pos
            )))
        }
    }

    fn string(&mut self) -> Result<String, PluginError> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(PluginError::format(format!(
                    "header dict: expected a string at byte {}",
                    self.pos
                )));
            }
        };
        self.bump();
        let mut s = Vec::new();
        loop {
            match self.peek() {
                None => return Err(PluginError::format("header dict: unterminated string")),
                Some(c) if c == quote => {
                    self.bump();
                    break;
                }
                Some(b'\\') => {
                    self.bump();
                    if let Some(c) = self.peek() {
                        s.push(c);
                        self.bump();
                    }
                }
                Some(c) => {
                    s.push(c);
                    self.bump();
                }
            }
        }
        Ok(String::from_utf8_lossy(&s).into_owned())
    }

    fn word(&mut self) -> &[u8] {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            self.bump();
        }
        self.text.get(start..self.pos).unwrap_or_default()
    }

    fn boolean(&mut self) -> Result<bool, PluginError> {
        match self.word() {
            b"True" => Ok(true),
            b"False" => Ok(false),
            _ => Err(PluginError::format(
                "header dict: fortran_order is not True or False",
            )),
        }
    }

    fn shape(&mut self) -> Result<Vec<u64>, PluginError> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                return Ok(dims);
            }
            let word = self.word();
            let digits = word.strip_suffix(b"L").unwrap_or(word);
            let dim = std::str::from_utf8(digits)
                .ok()
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|d| d.parse::<u64>().ok())
                .ok_or_else(|| {
                    PluginError::format("header dict: a shape entry is not a non-negative integer")
                })?;
            if dims.len() >= MAX_DIMS {
                return Err(PluginError::format(format!(
                    "the shape has more than {MAX_DIMS} dimensions"
                )));
            }
            dims.push(dim);
            self.skip_ws();
            if !self.eat(b',') {
                self.skip_ws();
                self.expect(b')')?;
                return Ok(dims);
            }
        }
    }

    /// Skips a nested list/tuple literal (a structured `descr`), strings included.
    fn skip_nested(&mut self, depth: usize) -> Result<(), PluginError> {
        if depth > MAX_NESTING {
            return Err(PluginError::format("header dict: descr nests too deeply"));
        }
        let close = match self.peek() {
            Some(b'[') => b']',
            Some(b'(') => b')',
            _ => return Err(PluginError::format("header dict: expected a list")),
        };
        self.bump();
        loop {
            match self.peek() {
                None => return Err(PluginError::format("header dict: unterminated list")),
                Some(c) if c == close => {
                    self.bump();
                    return Ok(());
                }
                Some(b'[' | b'(') => self.skip_nested(depth.saturating_add(1))?,
                Some(b'\'' | b'"') => {
                    self.string()?;
                }
                Some(_) => self.bump(),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn npy(major: u8, dict: &str) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend([major, 0]);
        if major == 1 {
            v.extend((dict.len() as u16).to_le_bytes());
        } else {
            v.extend((dict.len() as u32).to_le_bytes());
        }
        v.extend(dict.as_bytes());
        v
    }

    #[test]
    fn reads_v1_v2_v3_headers() {
        for major in [1u8, 2, 3] {
            let bytes = npy(
                major,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }   \n",
            );
            let h = read_header(&mut bytes.as_slice()).unwrap();
            assert_eq!(h.version, (major, 0));
            assert_eq!(h.dtype.name, "F32");
            assert_eq!(h.shape, vec![3, 4]);
            assert!(!h.fortran_order);
            assert_eq!(h.data_offset, bytes.len() as u64);
            assert_eq!(h.data_len(), Some(48));
        }
    }

    #[test]
    fn reads_scalars_one_dims_python2_longs_and_double_quotes() {
        let h = read_header(
            &mut npy(1, "{\"descr\":\"|b1\",\"fortran_order\":True,\"shape\":()}").as_slice(),
        )
        .unwrap();
        assert_eq!(
            (h.dtype.name.as_str(), h.shape.clone(), h.fortran_order),
            ("BOOL", vec![], true)
        );
        assert_eq!(h.data_len(), Some(1));
        let h = read_header(
            &mut npy(
                1,
                "{'descr': '>i8', 'fortran_order': False, 'shape': (7L,)}",
            )
            .as_slice(),
        )
        .unwrap();
        assert_eq!((h.dtype.name.as_str(), h.shape), ("I64", vec![7]));
    }

    #[test]
    fn maps_descr_to_safetensors_names() {
        for (descr, name, size) in [
            ("<f2", "F16", Some(2)),
            ("<f8", "F64", Some(8)),
            ("|u1", "U8", Some(1)),
            ("|i1", "I8", Some(1)),
            ("<u2", "U16", Some(2)),
            ("<i4", "I32", Some(4)),
            ("<c8", "C64", Some(8)),
            ("<V2", "<V2", Some(2)),
            ("<U5", "<U5", Some(20)),
            ("<M8[ns]", "<M8[ns]", Some(8)),
        ] {
            let d = NpyDtype::from_descr(descr);
            assert_eq!((d.name.as_str(), d.item_size), (name, size), "{descr}");
        }
        assert!(NpyDtype::from_descr("|O").is_object);
    }

    #[test]
    fn structured_descr_is_skipped_not_decoded() {
        let h = read_header(
            &mut npy(1, "{'descr': [('x', '<f4'), ('y', [('z', '<i2', (2,))])], 'fortran_order': False, 'shape': (5,)}")
                .as_slice(),
        )
        .unwrap();
        assert_eq!(h.dtype.name, "structured");
        assert_eq!(h.data_len(), None);
    }

    #[test]
    fn rejects_malformed_headers() {
        let bad = [
            "{'descr': '<f4', 'shape': (3,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}",
            "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}",
            "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-3,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}",
            "{'descr': '<f4, 'fortran_order': False, 'shape': (3,)}",
            "{'descr': [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]], 'fortran_order': False, 'shape': (3,)}",
            "",
        ];
        for dict in bad {
            let r = read_header(&mut npy(1, dict).as_slice());
            assert!(matches!(r, Err(PluginError::Format(_))), "{dict}: {r:?}");
        }
        let many = format!(
            "{{'descr': '<f4', 'fortran_order': False, 'shape': ({})}}",
            "1,".repeat(65)
        );
        assert!(read_header(&mut npy(1, &many).as_slice()).is_err());
        assert!(matches!(
            read_header(&mut npy(4, "{}").as_slice()),
            Err(PluginError::Unsupported(_))
        ));
        let mut huge = MAGIC.to_vec();
        huge.extend([2, 0]);
        huge.extend(u32::MAX.to_le_bytes());
        assert!(
            matches!(read_header(&mut huge.as_slice()), Err(PluginError::Format(m)) if m.contains("limit"))
        );
        assert!(read_header(&mut &b"\x93NUMPX\x01\x00"[..]).is_err());
    }

    #[test]
    fn sniffs_npy_and_npz_but_not_torch_zips() {
        assert_eq!(Npy::sniff(b"\x93NUMPY\x01\x00", 100), Confidence::Magic);
        let mut zip = b"PK\x03\x04".to_vec();
        zip.resize(26, 0);
        zip.extend(9u16.to_le_bytes());
        zip.extend([0, 0]);
        zip.extend(b"arr_0.npy");
        assert_eq!(Npy::sniff(&zip, 1000), Confidence::Magic);
        let mut torch = zip[..26].to_vec();
        torch.extend(16u16.to_le_bytes());
        torch.extend([0, 0]);
        torch.extend(b"archive/data.pkl");
        assert_eq!(Npy::sniff(&torch, 1000), Confidence::No);
        assert_eq!(Npy::sniff(&zip[..20], 1000), Confidence::Neutral);
        assert_eq!(Npy::sniff(b"GGUF", 1000), Confidence::No);
    }
}
