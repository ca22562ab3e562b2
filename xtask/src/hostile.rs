//! The cross-format hostile fixtures under `fixtures/hostile/` and the outcome each must give.
//!
//! `cargo xtask fixtures` writes every file and `fixtures/hostile/EXPECT`, a tab-separated list
//! of `path  outcome` where the outcome is what `mir_scan::default_registry().parse` (sniffing
//! included) must return with the default limits:
//!
//! * `ok FORMAT tensors=N findings=M`: read by FORMAT;
//! * `unrecognised`: no format claims the file;
//! * `error KIND MESSAGE`: KIND is the `mir_core::Error` variant (`Truncated`, `LimitExceeded`,
//!   `Io`) or `FORMAT:Variant` for a format's own error; MESSAGE is the error's exact text.
//!
//! `xtask/tests/hostile.rs` checks every line; the test below checks the committed files are what
//! this code writes. Outcomes are written down here by hand, never computed from the parsers.

use std::path::Path;

/// A hostile fixture: path under `fixtures/hostile/`, bytes, expected outcome (see module docs).
pub(crate) struct Case {
    pub(crate) path: String,
    pub(crate) bytes: Vec<u8>,
    pub(crate) expect: String,
}

fn case(path: impl Into<String>, bytes: Vec<u8>, expect: impl Into<String>) -> Case {
    Case {
        path: path.into(),
        bytes,
        expect: expect.into(),
    }
}

/// GGUF metadata value type ids.
pub(crate) mod vt {
    pub(crate) const U32: u32 = 4;
    pub(crate) const STRING: u32 = 8;
    pub(crate) const ARRAY: u32 = 9;
    pub(crate) const U64: u32 = 10;
}

/// A little-endian GGUF v3 writer that remembers where each field starts, so tests can cut a
/// file at every structural boundary.
#[derive(Default)]
pub(crate) struct Gguf {
    pub(crate) bytes: Vec<u8>,
    /// (label, start offset, length) of every field written.
    pub(crate) fields: Vec<(String, usize, usize)>,
}

impl Gguf {
    /// Magic, version 3 and the two counts.
    pub(crate) fn new(tensors: u64, kvs: u64) -> Gguf {
        let mut g = Gguf::default();
        g.field("magic", b"GGUF");
        g.field("version", &3u32.to_le_bytes());
        g.field("tensor count", &tensors.to_le_bytes());
        g.field("kv count", &kvs.to_le_bytes());
        g
    }

    pub(crate) fn field(&mut self, label: &str, bytes: &[u8]) -> &mut Self {
        self.fields
            .push((label.to_owned(), self.bytes.len(), bytes.len()));
        self.bytes.extend_from_slice(bytes);
        self
    }

    pub(crate) fn u32(&mut self, label: &str, v: u32) -> &mut Self {
        self.field(label, &v.to_le_bytes())
    }

    pub(crate) fn u64(&mut self, label: &str, v: u64) -> &mut Self {
        self.field(label, &v.to_le_bytes())
    }

    /// A length-prefixed string as two fields: `<label> length` and `<label> bytes`.
    pub(crate) fn string(&mut self, label: &str, s: &[u8]) -> &mut Self {
        self.u64(&format!("{label} length"), s.len() as u64);
        self.field(&format!("{label} bytes"), s)
    }

    pub(crate) fn kv_str(&mut self, key: &str, value: &[u8]) -> &mut Self {
        self.string(&format!("key {key}"), key.as_bytes());
        self.u32(&format!("{key} value type"), vt::STRING);
        self.string(&format!("{key} value"), value)
    }

    pub(crate) fn kv_u32(&mut self, key: &str, value: u32) -> &mut Self {
        self.string(&format!("key {key}"), key.as_bytes());
        self.u32(&format!("{key} value type"), vt::U32);
        self.u32(&format!("{key} value"), value)
    }

    /// An array of strings.
    pub(crate) fn kv_strings(&mut self, key: &str, items: &[&[u8]]) -> &mut Self {
        self.string(&format!("key {key}"), key.as_bytes());
        self.u32(&format!("{key} value type"), vt::ARRAY);
        self.u32(&format!("{key} element type"), vt::STRING);
        self.u64(&format!("{key} array length"), items.len() as u64);
        for (i, s) in items.iter().enumerate() {
            self.string(&format!("{key} element {i}"), s);
        }
        self
    }

    /// A tensor info: name, rank, dims, ggml type, offset.
    pub(crate) fn tensor(
        &mut self,
        name: &[u8],
        dims: &[u64],
        ggml: u32,
        offset: u64,
    ) -> &mut Self {
        let label = String::from_utf8_lossy(name).into_owned();
        self.string(&format!("tensor {label} name"), name);
        self.u32(&format!("tensor {label} rank"), dims.len() as u32);
        for (i, d) in dims.iter().enumerate() {
            self.u64(&format!("tensor {label} dim {i}"), *d);
        }
        self.u32(&format!("tensor {label} type"), ggml);
        self.u64(&format!("tensor {label} offset"), offset)
    }

    /// Zero padding up to a multiple of `alignment`.
    pub(crate) fn pad(&mut self, label: &str, alignment: usize) -> &mut Self {
        let n = self.bytes.len().next_multiple_of(alignment) - self.bytes.len();
        self.field(label, &vec![0u8; n])
    }

    /// `n` bytes of deterministic tensor data.
    pub(crate) fn data(&mut self, label: &str, n: usize) -> &mut Self {
        let d: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        self.field(label, &d)
    }

    pub(crate) fn finish(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}

/// A valid two-tensor GGUF with a string, a u32 alignment, a string array and padding: the file
/// the truncation cases cut.
pub(crate) fn reference_gguf() -> Gguf {
    let mut g = Gguf::new(2, 4);
    g.kv_str("general.architecture", b"llama")
        .kv_u32("general.alignment", 32)
        .kv_strings("tokenizer.ggml.tokens", &[b"a", b"bb", b"ccc"])
        .kv_str("general.name", b"tiny")
        .tensor(b"tok_embd.weight", &[4, 3], 0, 0) // F32, 48 bytes
        .tensor(b"output_norm.weight", &[4], 1, 64) // F16, 8 bytes
        .pad("alignment padding", 32)
        .data("tok_embd.weight data", 48)
        .pad("padding between tensors", 32)
        .data("output_norm.weight data", 8)
        .pad("final padding", 32);
    g
}

/// A vocabulary-only GGUF like llama.cpp's `models/ggml-vocab-llama-spm.gguf`: metadata and a
/// tokenizer, no tensors, no padding after the header.
pub(crate) fn vocab_only_gguf() -> Vec<u8> {
    let mut g = Gguf::new(0, 5);
    g.kv_str("general.architecture", b"llama")
        .kv_str("general.name", b"LLaMA v2")
        .kv_u32("general.file_type", 1)
        .kv_str("tokenizer.ggml.model", b"llama")
        .kv_strings(
            "tokenizer.ggml.tokens",
            &[b"<unk>", b"<s>", b"</s>", b"hello"],
        );
    assert_ne!(
        g.bytes.len() % 32,
        0,
        "the header must not end on the alignment"
    );
    g.finish()
}

/// A valid safetensors file with the given header JSON and `data` bytes of data.
fn safetensors(header: &str, data: usize) -> Vec<u8> {
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    f.extend((0..data).map(|i| (i % 251) as u8));
    f
}

const TWO_TENSORS: &str = r#"{"a.weight":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},"b.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#;

/// A single small tensor in a GGUF, with `edit` applied to the builder before the tensor info.
fn one_tensor_gguf(name: &[u8], dims: &[u64], ggml: u32, offset: u64, data: usize) -> Vec<u8> {
    let mut g = Gguf::new(1, 1);
    g.kv_str("general.architecture", b"llama")
        .tensor(name, dims, ggml, offset)
        .pad("padding", 32)
        .data("data", data);
    g.finish()
}

/// Zero-byte files with every extension, and files renamed to the wrong extension.
fn mixed() -> Vec<Case> {
    let mut v = vec![
        case(
            "mixed/empty.safetensors",
            vec![],
            "error\tsafetensors:HeaderTooSmall\tsafetensors: file of 0 bytes is too small to hold the 8-byte header length",
        ),
        case(
            "mixed/empty.sft",
            vec![],
            "error\tsafetensors:HeaderTooSmall\tsafetensors: file of 0 bytes is too small to hold the 8-byte header length",
        ),
        case(
            "mixed/empty.gguf",
            vec![],
            "error\tTruncated\ttruncated: the magic needs bytes up to 4 but the file has 0",
        ),
        // The ckpt plugin claims these extensions: an empty file is neither a zip nor a pickle.
        case("mixed/empty.ckpt", vec![], "error\tckpt:NotACheckpoint\tckpt: not a torch checkpoint: neither a zip archive nor a pickle stream"),
        case("mixed/empty.pt", vec![], "error\tckpt:NotACheckpoint\tckpt: not a torch checkpoint: neither a zip archive nor a pickle stream"),
        case("mixed/empty.pth", vec![], "error\tckpt:NotACheckpoint\tckpt: not a torch checkpoint: neither a zip archive nor a pickle stream"),
        case("mixed/empty.bin", vec![], "error\tckpt:NotACheckpoint\tckpt: not a torch checkpoint: neither a zip archive nor a pickle stream"),
        case("mixed/empty.npy", vec![], "unrecognised"),
        case("mixed/empty", vec![], "unrecognised"),
        case(
            "mixed/one_byte.gguf",
            b"G".to_vec(),
            "error\tTruncated\ttruncated: the magic needs bytes up to 4 but the file has 1",
        ),
        case(
            "mixed/safetensors_named.gguf",
            safetensors(TWO_TENSORS, 16),
            "ok\tsafetensors\ttensors=2\tfindings=0",
        ),
        case(
            "mixed/safetensors_named.ckpt",
            safetensors(TWO_TENSORS, 16),
            "ok\tsafetensors\ttensors=2\tfindings=0",
        ),
        case(
            "mixed/gguf_named.safetensors",
            reference_gguf().finish(),
            "ok\tgguf\ttensors=2\tfindings=0",
        ),
        case(
            "mixed/gguf_named.bin",
            reference_gguf().finish(),
            "ok\tgguf\ttensors=2\tfindings=0",
        ),
        case(
            "mixed/git_lfs_pointer.safetensors",
            b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 6938040706\n".to_vec(),
            "error\tsafetensors:HeaderTooLarge\tsafetensors: declared header length 2336927755350992246 is over the limit of 100000000 bytes",
        ),
        case(
            "mixed/html_error_page.gguf",
            b"<!DOCTYPE html><html><head><title>404 Not Found</title></head></html>\n".to_vec(),
            "error\tgguf:BadMagic\tgguf: not a gguf file: it does not start with \"GGUF\"",
        ),
    ];
    // A safetensors file whose extension is upper case is still claimed by its content.
    v.push(case(
        "mixed/upper_case.SAFETENSORS",
        safetensors(TWO_TENSORS, 16),
        "ok\tsafetensors\ttensors=2\tfindings=0",
    ));
    v
}

/// The reference GGUF cut at the start of every field (and inside the multi-byte ones).
fn gguf_truncations() -> Vec<Case> {
    let g = reference_gguf();
    let full = g.finish();
    let mut v = Vec::new();
    for (label, start, len) in &g.fields {
        let mut cuts = vec![(*start, format!("before {label}"))];
        if *len > 1 {
            cuts.push((start + len / 2, format!("inside {label}")));
        }
        for (cut, what) in cuts {
            if cut == 0 || cut >= full.len() {
                continue; // Zero bytes are in mixed/; the whole file is not truncated.
            }
            let slug: String = what
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let path = format!("gguf/trunc_{cut:03}_{slug}.gguf");
            if v.iter().any(|c: &Case| c.path == path) {
                continue;
            }
            let expect = truncation_outcome(&g, cut);
            v.push(case(path, full[..cut].to_vec(), expect));
        }
    }
    v
}

/// What the reference GGUF cut to `len` bytes must give, from the field the cut falls in.
/// Written from the layout of [`reference_gguf`] and the parser's documented order of checks
/// (counts are bounded by the bytes left before anything else is read; a string's length by the
/// file end before its bytes), not from running the parser.
fn truncation_outcome(g: &Gguf, len: usize) -> String {
    let truncated = |what: &str, end: usize| {
        format!(
            "error\tTruncated\ttruncated: the {what} needs bytes up to {end} but the file has {len}"
        )
    };
    let past = |what: &str, offset: usize, n: usize| {
        format!(
            "error\tgguf:StringPastEnd\tgguf: the {what} at offset {offset} declares {n} bytes, past the end of the file ({len} bytes)"
        )
    };
    let counts = |what: &str, count: u64, offset: usize| {
        format!(
            "error\tgguf:CountExceedsFile\tgguf: the {what} {count} at offset {offset} cannot fit in the {} bytes left",
            len - offset
        )
    };
    let oob = |name: &str, start: usize, end: usize| {
        format!(
            "error\tgguf:TensorOutOfBounds\tgguf: tensor {name:?} needs bytes {start}..{end} but the file has {len}"
        )
    };
    // 4 key/values need at least 13 bytes each (key length, value type, one byte) and 2 tensor
    // infos at least 24 each (name length, rank, type, offset): 52 and 48 bytes after offset 24.
    if (24..24 + 52).contains(&len) {
        return counts("metadata count", 4, 24);
    }
    if (24 + 52..24 + 100).contains(&len) {
        return counts("metadata and tensor count", 6, 24);
    }
    let tokens = g
        .fields
        .iter()
        .find(|f| f.0.ends_with("tokens array length"));
    if let Some((_, start, n)) = tokens {
        // Three strings need at least 8 bytes each after the array length.
        let after = start + n;
        if (after..after + 24).contains(&len) {
            return counts("array length", 3, after);
        }
    }
    let Some((label, start, n)) = g.fields.iter().find(|(_, s, n)| (*s..s + n).contains(&len))
    else {
        return "ok\tgguf\ttensors=2\tfindings=0".to_owned();
    };
    let (start, end) = (*start, start + n);
    let l = label.as_str();
    match () {
        _ if l == "magic" => truncated("magic", end),
        _ if l == "version" => truncated("version", end),
        _ if l == "tensor count" => truncated("tensor count", end),
        _ if l == "kv count" => truncated("metadata count", end),
        _ if l.starts_with("key ") && l.ends_with(" length") => truncated("key", end),
        _ if l.starts_with("key ") && l.ends_with(" bytes") => past("key", start, *n),
        _ if l.ends_with("value type") || l.ends_with("element type") => {
            truncated("value type", end)
        }
        _ if l.ends_with("array length") => truncated("array length", end),
        _ if l.starts_with("tensor ") && l.ends_with("name length") => {
            truncated("tensor name", end)
        }
        _ if l.starts_with("tensor ") && l.ends_with("name bytes") => {
            past("tensor name", start, *n)
        }
        _ if l.starts_with("tensor ") && l.ends_with(" rank") => truncated("tensor rank", end),
        _ if l.starts_with("tensor ") && l.contains(" dim ") => truncated("tensor dimension", end),
        _ if l.starts_with("tensor ") && l.ends_with(" type") => truncated("tensor type", end),
        _ if l.starts_with("tensor ") && l.ends_with(" offset") => truncated("tensor offset", end),
        _ if l.ends_with(" length") => truncated("string value", end),
        _ if l.ends_with(" bytes") => past("string value", start, *n),
        // The file ends before the first tensor's data starts (320) or inside it (320..368).
        _ if l == "alignment padding" => oob("tok_embd.weight", 320, 320),
        _ if l == "tok_embd.weight data" => oob("tok_embd.weight", 320, 368),
        _ if l == "padding between tensors" => oob("output_norm.weight", 384, 384),
        _ if l == "output_norm.weight data" => oob("output_norm.weight", 384, 392),
        // Inside the padding after the last tensor: read, with a finding about the short file.
        _ if l == "final padding" => "ok\tgguf\ttensors=2\tfindings=1".to_owned(),
        _ => format!("no expectation for a cut inside {l}"),
    }
}

/// Count, length and nesting bombs and other malformed GGUF headers.
fn gguf_hostile() -> Vec<Case> {
    let mut v = Vec::new();
    let mut bomb = Gguf::new(u64::MAX, 0);
    bomb.data("rest", 64);
    v.push(case(
        "gguf/tensor_count_bomb.gguf",
        bomb.finish(),
        "error\tgguf:CountExceedsFile\tgguf: the tensor count 18446744073709551615 at offset 24 cannot fit in the 64 bytes left",
    ));
    let mut bomb = Gguf::new(0, 1 << 40);
    bomb.data("rest", 64);
    v.push(case(
        "gguf/kv_count_bomb.gguf",
        bomb.finish(),
        "error\tgguf:CountExceedsFile\tgguf: the metadata count 1099511627776 at offset 24 cannot fit in the 64 bytes left",
    ));
    let mut bomb = Gguf::new(0, 1);
    bomb.string("key", b"big.array")
        .u32("type", vt::ARRAY)
        .u32("element", vt::U64)
        .u64("length", 1 << 60)
        .data("rest", 64);
    v.push(case(
        "gguf/array_length_bomb.gguf",
        bomb.finish(),
        "error\tgguf:CountExceedsFile\tgguf: the array length 1152921504606846976 at offset 57 cannot fit in the 64 bytes left",
    ));
    let mut bomb = Gguf::new(0, 1);
    bomb.u64("key length", u64::MAX - 7).data("rest", 64);
    v.push(case(
        "gguf/key_length_bomb.gguf",
        bomb.finish(),
        "error\tgguf:StringPastEnd\tgguf: the key at offset 32 declares 18446744073709551608 bytes, past the end of the file (96 bytes)",
    ));
    let mut bomb = Gguf::new(0, 1);
    bomb.string("key", b"general.name")
        .u32("type", vt::STRING)
        .u64("value length", 1 << 62)
        .data("rest", 64);
    v.push(case(
        "gguf/string_length_bomb.gguf",
        bomb.finish(),
        "error\tgguf:StringPastEnd\tgguf: the string value at offset 56 declares 4611686018427387904 bytes, past the end of the file (120 bytes)",
    ));
    // Arrays of arrays, 1000 levels deep: refused at level 17 (Limits::max_depth is 16).
    let mut nest = Gguf::new(0, 1);
    nest.string("key", b"deep").u32("type", vt::ARRAY);
    for _ in 0..1000 {
        nest.u32("element", vt::ARRAY).u64("length", 1);
    }
    nest.u32("element", vt::U32).u64("length", 0);
    v.push(case(
        "gguf/nesting_bomb.gguf",
        nest.finish(),
        "error\tgguf:NestingTooDeep\tgguf: arrays nested deeper than 16 levels at offset 232",
    ));
    // The same depth behind an array too long to decode (the skipping path).
    let mut nest = Gguf::new(0, 1);
    nest.string("key", b"deep")
        .u32("type", vt::ARRAY)
        .u32("element", vt::ARRAY)
        .u64("length", 100);
    for _ in 0..1000 {
        nest.u32("element", vt::ARRAY).u64("length", 1);
    }
    nest.data("rest", 1200);
    v.push(case(
        "gguf/nesting_bomb_skipped.gguf",
        nest.finish(),
        "error\tgguf:NestingTooDeep\tgguf: arrays nested deeper than 16 levels at offset 232",
    ));
    v.push(case(
        "gguf/rank_bomb.gguf",
        {
            let mut g = Gguf::new(1, 0);
            g.string("name", b"w")
                .u32("rank", u32::MAX)
                .data("rest", 64);
            g.finish()
        },
        "error\tLimitExceeded\tthe tensor rank is 4294967295, over the limit of 8",
    ));
    v.push(case(
        "gguf/dims_overflow.gguf",
        one_tensor_gguf(b"w", &[1 << 63, 4], 0, 0, 32),
        "error\tgguf:TensorSizeOverflow\tgguf: tensor \"w\" has dimensions whose size overflows",
    ));
    v.push(case(
        "gguf/offset_past_end.gguf",
        one_tensor_gguf(b"w", &[4], 0, 1 << 40, 16),
        "error\tgguf:TensorOutOfBounds\tgguf: tensor \"w\" needs bytes 1099511627904..1099511627904 but the file has 144",
    ));
    v.push(case(
        "gguf/offset_overflow.gguf",
        one_tensor_gguf(b"w", &[4], 0, u64::MAX - 31, 16),
        "error\tgguf:TensorOutOfBounds\tgguf: tensor \"w\" needs bytes 18446744073709551615..18446744073709551615 but the file has 144",
    ));
    v.push(case(
        "gguf/data_past_end.gguf",
        one_tensor_gguf(b"w", &[64], 0, 0, 16),
        "error\tgguf:TensorOutOfBounds\tgguf: tensor \"w\" needs bytes 128..384 but the file has 144",
    ));
    v.push(case(
        "gguf/misaligned.gguf",
        one_tensor_gguf(b"w", &[4], 0, 8, 32),
        "error\tgguf:MisalignedTensor\tgguf: tensor \"w\" has offset 8, not a multiple of the alignment 32",
    ));
    v.push(case(
        "gguf/partial_block.gguf",
        one_tensor_gguf(b"w", &[31], 2, 0, 32),
        "error\tgguf:PartialBlock\tgguf: tensor \"w\" has innermost dimension 31, not a multiple of its block size 32",
    ));
    // Two tensors on the same bytes: GGUF does not forbid it (llama.cpp does not check), so the
    // file is read; its ranges overlap.
    v.push(case(
        "gguf/overlapping_tensors.gguf",
        {
            let mut g = Gguf::new(2, 0);
            g.tensor(b"a", &[4], 0, 0)
                .tensor(b"b", &[4], 0, 0)
                .pad("padding", 32)
                .data("data", 16)
                .pad("final padding", 32);
            g.finish()
        },
        "ok\tgguf\ttensors=2\tfindings=0",
    ));
    v.push(case(
        "gguf/bad_alignment.gguf",
        {
            let mut g = Gguf::new(0, 1);
            g.kv_u32("general.alignment", 3);
            g.finish()
        },
        "error\tgguf:BadAlignment\tgguf: general.alignment 3 is not a non-zero power of two",
    ));
    v.push(case(
        "gguf/alignment_type.gguf",
        {
            let mut g = Gguf::new(0, 1);
            g.kv_str("general.alignment", b"32");
            g.finish()
        },
        "error\tgguf:AlignmentType\tgguf: general.alignment must be a u32, found a string",
    ));
    v.push(case(
        "gguf/unknown_value_type.gguf",
        {
            let mut g = Gguf::new(0, 1);
            g.string("key", b"k").u32("type", 13).data("rest", 8);
            g.finish()
        },
        "error\tgguf:UnknownValueType\tgguf: unknown metadata value type 13 at offset 33",
    ));
    v.push(case(
        "gguf/duplicate_key.gguf",
        {
            let mut g = Gguf::new(0, 2);
            g.kv_str("general.name", b"a").kv_str("general.name", b"b");
            g.finish()
        },
        "error\tgguf:DuplicateKey\tgguf: duplicate metadata key \"general.name\"",
    ));
    v.push(case(
        "gguf/duplicate_tensor.gguf",
        {
            let mut g = Gguf::new(2, 0);
            g.tensor(b"w", &[4], 0, 0)
                .tensor(b"w", &[4], 0, 32)
                .pad("padding", 32)
                .data("data", 48);
            g.finish()
        },
        "error\tgguf:DuplicateTensor\tgguf: duplicate tensor name \"w\"",
    ));
    v.push(case(
        "gguf/invalid_utf8_key.gguf",
        {
            let mut g = Gguf::new(0, 1);
            g.string("key", b"general.\xff\xfe")
                .u32("type", vt::U32)
                .u32("value", 1);
            g.finish()
        },
        "error\tgguf:InvalidUtf8\tgguf: the key at offset 32 is not valid utf-8",
    ));
    v.push(case(
        "gguf/invalid_utf8_tensor_name.gguf",
        one_tensor_gguf(b"w\xc3", &[4], 0, 0, 16),
        "error\tgguf:InvalidUtf8\tgguf: the tensor name at offset 77 is not valid utf-8",
    ));
    // A string value that is not UTF-8 is kept (lossily) with a finding: it names nothing.
    v.push(case(
        "gguf/invalid_utf8_value.gguf",
        {
            let mut g = Gguf::new(0, 1);
            g.kv_str("general.name", b"caf\xe9").pad("padding", 32);
            g.finish()
        },
        // The invalid UTF-8 note, and the note that a tensorless file holds no weights.
        "ok\tgguf\ttensors=0\tfindings=2",
    ));
    // llama.cpp's vocabulary-only test files (`models/ggml-vocab-*.gguf`): an architecture, a
    // `general.file_type` of F16 and a tokenizer, no tensor, and the file ends right after the
    // header (no padding to the alignment). One finding says it holds no weights; no spurious
    // "ends inside the padding" note. (That no rule names it `…:f16` is checked by
    // crates/mir-cli/tests/faults.rs.)
    v.push(case(
        "gguf/vocab_only.gguf",
        vocab_only_gguf(),
        "ok\tgguf\ttensors=0\tfindings=1",
    ));
    v.push(case(
        "gguf/bad_version.gguf",
        {
            let mut g = Gguf::default();
            g.field("magic", b"GGUF").u32("version", 0x7fff_ffff).data("rest", 32);
            g.finish()
        },
        "error\tgguf:UnsupportedVersion\tgguf: unsupported gguf version 2147483647 (read little-endian)",
    ));
    v.push(case(
        "gguf/bad_magic.gguf",
        {
            let mut g = Gguf::default();
            g.field("magic", b"GGUG").u32("version", 3).data("rest", 32);
            g.finish()
        },
        "error\tgguf:BadMagic\tgguf: not a gguf file: it does not start with \"GGUF\"",
    ));
    v.extend(gguf_truncations());
    v
}

/// Safetensors cases beyond `fixtures/safetensors/hostile`: nesting, rank and name bombs,
/// invalid UTF-8 spelled as a JSON escape, out-of-range offsets.
fn safetensors_hostile() -> Vec<Case> {
    let open = "[".repeat(1000);
    let close = "]".repeat(1000);
    // Deep arrays where a tensor entry belongs, and inside an entry's unknown field (skipped by
    // the parser, so only serde_json's recursion limit stops it).
    let deep_entry = format!(r#"{{"x":{open}{close}}}"#);
    let deep_field = format!(
        r#"{{"w":{{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":{open}{close}}}}}"#
    );
    let deep_objects = format!(
        r#"{{"__metadata__":{}1{}}}"#,
        r#"{"a":"#.repeat(1000),
        "}".repeat(1000)
    );
    let dims = vec!["1"; 100].join(",");
    let long_name = "n".repeat(5000);
    let bad_shape = "safetensors: tensor \"w\": shape is not a list of non-negative integers within the rank limit";
    vec![
        case(
            "safetensors/nesting_bomb_entry.safetensors",
            safetensors(&deep_entry, 0),
            "error\tsafetensors:InvalidEntry\tsafetensors: tensor \"x\": entry is not an object",
        ),
        case(
            "safetensors/nesting_bomb_field.safetensors",
            safetensors(&deep_field, 1),
            "error\tsafetensors:InvalidJson\tsafetensors: header is not a valid JSON object: recursion limit exceeded at line 1 column 186",
        ),
        case(
            "safetensors/nesting_bomb_metadata.safetensors",
            safetensors(&deep_objects, 0),
            "error\tsafetensors:InvalidJson\tsafetensors: header is not a valid JSON object: recursion limit exceeded at line 1 column 647",
        ),
        case(
            "safetensors/rank_bomb.safetensors",
            safetensors(
                &format!(r#"{{"w":{{"dtype":"U8","shape":[{dims}],"data_offsets":[0,1]}}}}"#),
                1,
            ),
            format!("error\tsafetensors:InvalidEntry\t{bad_shape}"),
        ),
        case(
            "safetensors/long_name.safetensors",
            safetensors(
                &format!(r#"{{"{long_name}":{{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}}}"#),
                1,
            ),
            format!(
                "error\tsafetensors:InvalidEntry\tsafetensors: tensor \"{long_name}\": name is longer than the limit"
            ),
        ),
        // JSON can spell invalid UTF-16 with escapes even when the bytes are valid UTF-8.
        case(
            "safetensors/lone_surrogate_name.safetensors",
            safetensors(
                r#"{"w\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
                1,
            ),
            "error\tsafetensors:InvalidJson\tsafetensors: header is not a valid JSON object: unexpected end of hex escape at line 1 column 10",
        ),
        case(
            "safetensors/offsets_past_end.safetensors",
            safetensors(
                r#"{"w":{"dtype":"U8","shape":[16],"data_offsets":[0,16]}}"#,
                4,
            ),
            "error\tsafetensors:DataTruncated\tsafetensors: data section needs 79 bytes but the file has 67 (truncated download)",
        ),
        case(
            "safetensors/offset_overflow.safetensors",
            safetensors(
                r#"{"w":{"dtype":"U8","shape":[4],"data_offsets":[18446744073709551612,0]}}"#,
                4,
            ),
            "error\tsafetensors:InvalidOffsets\tsafetensors: tensor \"w\": data_offsets [18446744073709551612, 0] do not continue the data at 0",
        ),
        case(
            "safetensors/reversed_offsets.safetensors",
            safetensors(
                r#"{"w":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}}"#,
                8,
            ),
            "error\tsafetensors:InvalidOffsets\tsafetensors: tensor \"w\": data_offsets [8, 0] do not continue the data at 0",
        ),
        case(
            "safetensors/negative_dim.safetensors",
            safetensors(
                r#"{"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}"#,
                1,
            ),
            format!("error\tsafetensors:InvalidEntry\t{bad_shape}"),
        ),
        case(
            "safetensors/metadata_2000_entries.safetensors",
            safetensors(
                &format!(
                    r#"{{"__metadata__":{{{}}}}}"#,
                    (0..2000)
                        .map(|i| format!(r#""k{i}":"v""#))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                0,
            ),
            "ok\tsafetensors\ttensors=0\tfindings=0",
        ),
    ]
}

/// Every hostile case.
pub(crate) fn cases() -> Vec<Case> {
    let mut v = mixed();
    v.extend(gguf_hostile());
    v.extend(safetensors_hostile());
    // More PyTorch checkpoint attacks (code-execution payloads, memo and zip bombs, truncations)
    // are committed under fixtures/ckpt, generated by fixtures/ckpt/make_fixtures.py, with their
    // exact outcomes in plugins/mir-ckpt/tests/fixtures.rs; issue 17's are here.
    v.extend(ckpt_hostile());
    v
}

/// Writes every case and `EXPECT` under `dir` (the repository's `fixtures/hostile`).
pub(crate) fn write_all(dir: &Path) -> anyhow::Result<usize> {
    let mut expect = String::from(
        "# path\toutcome (written by cargo xtask fixtures from xtask/src/hostile.rs; see there)\n",
    );
    let cases = cases();
    for c in &cases {
        let p = dir.join(&c.path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, &c.bytes)?;
        expect.push_str(&format!("{}\t{}\n", c.path, c.expect));
    }
    std::fs::write(dir.join("EXPECT"), expect)?;
    Ok(cases.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_hostile_fixtures_are_up_to_date() {
        let root = crate::workspace_root().join("fixtures/hostile");
        let mut paths: Vec<String> = cases().into_iter().map(|c| c.path).collect();
        paths.push("EXPECT".to_owned());
        let tmp = std::env::temp_dir().join(format!("mir-xtask-hostile-{}", std::process::id()));
        write_all(&tmp).unwrap();
        for p in &paths {
            let fresh = std::fs::read(tmp.join(p)).unwrap();
            let committed = std::fs::read(root.join(p)).unwrap_or_else(|_| {
                panic!("fixtures/hostile/{p} is missing: run `cargo xtask fixtures`")
            });
            assert!(
                fresh == committed,
                "fixtures/hostile/{p} is stale: run `cargo xtask fixtures`"
            );
        }
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn paths_are_unique() {
        let mut paths: Vec<String> = cases().into_iter().map(|c| c.path).collect();
        let n = paths.len();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), n);
    }
}

// ------------------------------------------------------------------ PyTorch checkpoints (issue 17)

/// Emits pickle opcodes (protocol 2 unless a test says otherwise).
#[derive(Default)]
pub(crate) struct Pk(pub(crate) Vec<u8>);

impl Pk {
    pub(crate) fn new(proto: u8) -> Pk {
        Pk(vec![0x80, proto])
    }
    pub(crate) fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    pub(crate) fn global(&mut self, module: &str, name: &str) -> &mut Self {
        self.raw(format!("c{module}\n{name}\n").as_bytes())
    }
    pub(crate) fn str(&mut self, s: &[u8]) -> &mut Self {
        self.0.push(b'X');
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.raw(s)
    }
    pub(crate) fn int(&mut self, v: u32) -> &mut Self {
        self.0.push(b'J');
        self.raw(&v.to_le_bytes())
    }
    pub(crate) fn put(&mut self, key: u32) -> &mut Self {
        self.0.push(b'r');
        self.raw(&key.to_le_bytes())
    }
    pub(crate) fn get(&mut self, key: u32) -> &mut Self {
        self.0.push(b'j');
        self.raw(&key.to_le_bytes())
    }
    /// `posix.system("true")`, its result left on the stack.
    pub(crate) fn payload(&mut self) -> &mut Self {
        self.global("posix", "system")
            .raw(b"(")
            .str(b"true")
            .raw(b"tR")
    }
    /// `_rebuild_tensor_v2(PERSID(("storage", FloatStorage, key, "cpu", numel)), 0, (n,), (1,),
    /// False, OrderedDict())` for a 1-D F32 tensor of `n` elements.
    pub(crate) fn tensor(&mut self, key: &str, n: u32) -> &mut Self {
        self.global("torch._utils", "_rebuild_tensor_v2")
            .raw(b"((")
            .str(b"storage")
            .global("torch", "FloatStorage")
            .str(key.as_bytes())
            .str(b"cpu")
            .int(n)
            .raw(b"tQ")
            .int(0)
            .raw(b"(")
            .int(n)
            .raw(b"t(")
            .int(1)
            .raw(b"t\x89")
            .global("collections", "OrderedDict")
            .raw(b")Rt")
            .raw(b"R")
    }
    pub(crate) fn stop(&mut self) -> Vec<u8> {
        self.0.push(b'.');
        std::mem::take(&mut self.0)
    }
}

/// CRC-32 (IEEE), bitwise: the zip records written here need it and this is the whole need.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A stored (uncompressed) zip written field by field, so names may repeat and records may be
/// added where no zip writer would put them.
pub(crate) fn stored_zip(entries: &[(&str, &[u8])], trailer: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cd = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let size = data.len() as u32;
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]); // version, flags, stored, time, date
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        cd.extend_from_slice(b"PK\x01\x02");
        cd.extend_from_slice(&[20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
        cd.extend_from_slice(&crc.to_le_bytes());
        cd.extend_from_slice(&size.to_le_bytes());
        cd.extend_from_slice(&size.to_le_bytes());
        cd.extend_from_slice(&(name.len() as u16).to_le_bytes());
        cd.extend_from_slice(&[0; 12]); // extra, comment, disk, internal, external attributes
        cd.extend_from_slice(&offset.to_le_bytes());
        cd.extend_from_slice(name.as_bytes());
    }
    let cd_start = out.len() as u32;
    out.extend_from_slice(&cd);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    let n = entries.len() as u16;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(trailer);
    out
}

/// A zip whose `archive/data.pkl` is deflated (so a small file can carry a large pickle).
pub(crate) fn deflated_torch_zip(pkl: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    zip.start_file("archive/data.pkl", opts).unwrap();
    zip.write_all(pkl).unwrap();
    zip.start_file("archive/data/0", opts).unwrap();
    zip.write_all(&[0u8; 16]).unwrap();
    zip.finish().unwrap().into_inner()
}

/// A one-tensor state dict `{"w": tensor(4)}` (storage key "0").
fn state_dict_pickle() -> Vec<u8> {
    Pk::new(2)
        .raw(b"}")
        .str(b"w")
        .tensor("0", 4)
        .raw(b"s")
        .stop()
}

/// The legacy (pre-1.6) format: magic-number pickle `magic`, protocol 1001, sys_info, the object
/// pickle, the storage keys, then each storage as an i64 count and its bytes.
pub(crate) fn legacy_file(magic: Vec<u8>, object: &[u8], keys: &[(&str, u32)]) -> Vec<u8> {
    let mut f = magic;
    f.extend_from_slice(&Pk::new(2).raw(b"M\xe9\x03").stop()); // 1001
    f.extend_from_slice(
        &Pk::new(2)
            .raw(b"}")
            .str(b"little_endian")
            .raw(b"\x88s")
            .stop(),
    );
    f.extend_from_slice(object);
    let mut k = Pk::new(2);
    k.raw(b"(");
    for (key, _) in keys {
        k.str(key.as_bytes());
    }
    f.extend_from_slice(&k.raw(b"l").stop());
    for (_, n) in keys {
        f.extend_from_slice(&u64::from(*n).to_le_bytes());
        f.extend(std::iter::repeat_n(0x3c, *n as usize * 4));
    }
    f
}

/// The legacy magic number pickle: `LONG1 10 <0x1950a86a20f9469cfc6c>`.
const MAGIC_LONG: &[u8] = b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";

/// Python 2's `OrderedDict([[key, tensor], …])` through REDUCE (torch 0.4, lpips' `.pth`).
/// torch cannot write it today, so it is built here byte by byte as Python 2's pickler did:
/// protocol 2, `GLOBAL collections OrderedDict`, a tuple holding one list of two-element lists.
pub(crate) fn py2_ordered_dict() -> Vec<u8> {
    let mut p = Pk::new(2);
    p.global("collections", "OrderedDict").raw(b"(]("); // args tuple; list; MARK
    for (i, name) in ["net.lin0.model.1.weight", "net.lin1.model.1.weight"]
        .iter()
        .enumerate()
    {
        p.raw(b"]")
            .raw(b"(")
            .raw(b"U")
            .raw(&[name.len() as u8])
            .raw(name.as_bytes());
        p.tensor(&i.to_string(), 4).raw(b"e"); // APPENDS: [key, tensor]
    }
    p.raw(b"e").raw(b"tR").stop() // APPENDS the pairs; TUPLE; REDUCE
}

/// A tar archive of `members` (ustar headers, 512-byte blocks).
fn tar(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in members {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// The PyTorch checkpoint cases of issue 17. Files are small; the bombs are deflated.
pub(crate) fn ckpt_hostile() -> Vec<Case> {
    let mut v = Vec::new();
    // 1. Nine harmless-looking globals sorting before the payload: the cap keeps the payload.
    let mut p = Pk::new(2);
    for i in 0..9 {
        p.global(&format!("a{i}"), "f").raw(b"0");
    }
    let capped = p.payload().raw(b"0N").stop();
    v.push(case(
        "ckpt/cap_hides_unsafe.pkl",
        capped,
        "ok\tckpt\ttensors=0\tfindings=10",
    ));
    // 2. Legacy file whose magic-number pickle runs the payload, pops it and pushes the magic.
    let magic = Pk::new(2).payload().raw(b"0").raw(MAGIC_LONG).stop();
    v.push(case(
        "ckpt/legacy_magic_payload.pt",
        legacy_file(magic, &state_dict_pickle(), &[("0", 4)]),
        "ok\tckpt\ttensors=1\tfindings=1",
    ));
    // 3. Protocol-4 dotted names that reach os.system through a module attribute.
    for (file, module, name) in [
        ("glob_os_system", "glob", "os.system"),
        ("tempfile_os_system", "tempfile", "_os.system"),
        ("shlex_os_system", "shlex", "os.system"),
    ] {
        let mut p = Pk::new(4);
        p.raw(&[0x8c, module.len() as u8]).raw(module.as_bytes());
        p.raw(&[0x8c, name.len() as u8]).raw(name.as_bytes());
        let bytes = p.raw(b"\x93").raw(b"(").str(b"true").raw(b"tR").stop();
        v.push(case(
            format!("ckpt/dotted_{file}.pkl"),
            bytes,
            "ok\tckpt\ttensors=0\tfindings=2",
        ));
    }
    // 4. A parse error after the payload: the findings stay beside the error.
    let bad_opcode = Pk::new(2).payload().raw(b"\xff").stop();
    let at = bad_opcode.len() - 2;
    v.push(case(
        "ckpt/payload_then_bad_opcode.pkl",
        bad_opcode,
        format!("error\tckpt:WithFindings\tckpt: unknown pickle opcode 0xff at byte {at} of the file's first pickle"),
    ));
    let no_stop = Pk::new(2).payload().0.clone();
    let end = no_stop.len();
    v.push(case(
        "ckpt/payload_no_stop.pkl",
        no_stop,
        format!("error\tckpt:WithFindings\tckpt: the file's first pickle ends at byte {end} before its STOP opcode"),
    ));
    let no_mark = Pk::new(2).payload().raw(b"t").stop();
    let at = no_mark.len() - 2;
    v.push(case(
        "ckpt/payload_no_mark.pkl",
        no_mark,
        format!("error\tckpt:WithFindings\tckpt: malformed pickle at byte {at} of the file's first pickle: no MARK on the stack"),
    ));
    let tar_pickle = Pk::new(2).payload().stop();
    v.push(case(
        "ckpt/tar_payload.pt",
        tar(&[("sys_info", b"\x80\x02}."), ("pickle", &tar_pickle)]),
        "error\tckpt:WithFindings\tckpt: tar-format torch checkpoints are not supported (PyTorch 0.1.10 and older); re-save the file with a newer torch",
    ));
    // 5. Two `archive/data.pkl` entries (the second a payload), and `DATA.PKL` in capitals.
    let payload_pkl = Pk::new(2).payload().stop();
    let benign = state_dict_pickle();
    v.push(case(
        "ckpt/zip_two_data_pkl.pt",
        stored_zip(
            &[
                ("archive/data.pkl", &benign),
                ("archive/data/0", &[0u8; 16]),
                ("archive/data.pkl", &payload_pkl),
            ],
            b"",
        ),
        "ok\tckpt\ttensors=1\tfindings=2",
    ));
    v.push(case(
        "ckpt/zip_upper_case_data_pkl.pt",
        stored_zip(&[("archive/DATA.PKL", &payload_pkl)], b""),
        "ok\tckpt\ttensors=0\tfindings=3",
    ));
    // 7. Memory bombs.
    // LONG_BINPUT keys 15 apart (inside the dense memo's gap) and 1,000 apart (sparse): 20k puts
    // (before the fix, each grew the memo by 1,024 slots: 100k puts took 2.6 GB).
    for (file, step) in [
        ("memo_binput_dense.pkl", 15u32),
        ("memo_binput_sparse.pkl", 1000),
    ] {
        let mut p = Pk::new(2);
        p.raw(b"N");
        for i in 0..20_000u32 {
            p.put(i * step);
        }
        v.push(case(
            format!("ckpt/{file}"),
            p.stop(),
            "ok\tckpt\ttensors=0\tfindings=0",
        ));
    }
    // One 16 MiB string shared as 60 root values (deflated to a few KB).
    let mut p = Pk::new(2);
    p.raw(b"}")
        .raw(b"(")
        .str(b"k0")
        .str(&vec![b'x'; 16 << 20])
        .put(0);
    for i in 1..60 {
        p.str(format!("k{i}").as_bytes()).get(0);
    }
    v.push(case(
        "ckpt/shared_string_metadata.pt",
        deflated_torch_zip(&p.raw(b"u").stop()),
        "ok\tckpt\ttensors=0\tfindings=1",
    ));
    // The arena: 5M empty tuples built and dropped (10 MB of pickle, deflated).
    let mut p = Pk::new(2);
    for _ in 0..5_000_000 {
        p.raw(b")0");
    }
    v.push(case(
        "ckpt/arena_blowup.pt",
        deflated_torch_zip(&p.raw(b"N").stop()),
        "error\tLimitExceeded\tthe pickle memory in bytes is 402653184, over the limit of 240000000",
    ));
    // 100 tensor paths under one 16 MiB key.
    let mut p = Pk::new(2);
    p.raw(b"}")
        .str(&vec![b'k'; 16 << 20])
        .raw(b"]")
        .raw(b"(")
        .tensor("0", 4)
        .put(0);
    for _ in 1..100 {
        p.get(0);
    }
    v.push(case(
        "ckpt/tensor_paths_16mib.pt",
        deflated_torch_zip(&p.raw(b"es").stop()),
        "error\tLimitExceeded\tthe tensor name length is 16777218, over the limit of 4096",
    ));
    // 10. Shared dicts three ways over one tensor, 14 levels: 3^14 paths (4.8M) to name.
    let mut p = Pk::new(2);
    p.tensor("0", 4).put(0);
    for level in 1..=14u32 {
        p.raw(b"}").raw(b"(");
        for k in [b"a", b"b", b"c"] {
            p.str(k).get(level - 1);
        }
        p.raw(b"u").put(level);
    }
    v.push(case(
        "ckpt/shared_tensor_bomb.pt",
        deflated_torch_zip(&p.stop()),
        "error\tLimitExceeded\tthe tensor count is 250001, over the limit of 250000",
    ));
    // A stray end record after the real one (count 1, directory at 0).
    let entries: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| (format!("archive/extra/{i}"), vec![0u8; 4]))
        .chain([("archive/data.pkl".to_owned(), state_dict_pickle())])
        .chain([("archive/data/0".to_owned(), vec![0u8; 16])])
        .collect();
    let refs: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    v.push(case(
        "ckpt/zip_stray_eocd.pt",
        stored_zip(
            &refs,
            b"PK\x05\x06\0\0\0\0\x01\0\x01\0\x2e\0\0\0\0\0\0\0\0\0",
        ),
        // The zip crate and the directory scan disagree on the entries: a storage goes missing.
        "ok\tckpt\ttensors=1\tfindings=1",
    ));
    // 15. Python 2 pickles, valid: read; an object root this reader does not know: said so.
    v.push(case(
        "ckpt/py2_ordered_dict_reduce.pth",
        legacy_file(
            Pk::new(2).raw(MAGIC_LONG).stop(),
            &py2_ordered_dict(),
            &[("0", 4), ("1", 4)],
        ),
        "ok\tckpt\ttensors=2\tfindings=0",
    ));
    v.push(case(
        "ckpt/root_not_understood.pkl",
        Pk::new(2).global("mymodule", "Model").raw(b")\x81").stop(),
        "ok\tckpt\ttensors=0\tfindings=2",
    ));
    v
}
