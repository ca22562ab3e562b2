//! Hostile and unusual files, written by the test writer: each gives its own error (or finding)
//! with bounded memory, and nothing panics.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use common::{Gguf, T, Val, W, find, fixtures, parse, parse_with, t};
use mir_core::{Dtype, Format, Limits, MetaValue, Severity, Source};
use mir_gguf::{GgufError, GgufFormat, GgufValue};

fn small_file() -> Gguf {
    Gguf::v3()
        .kv("general.architecture", Val::Str("llama".into()))
        .kv("a.n", Val::U32(7))
        .tensor(t("w", &[4, 2], 0))
}

fn header(count_tensors: u64, count_kv: u64) -> Vec<u8> {
    let mut w = W {
        big: false,
        v1: false,
        buf: b"GGUF".to_vec(),
    };
    w.u32(3);
    w.u64(count_tensors);
    w.u64(count_kv);
    w.buf
}

#[test]
fn writer_round_trip_is_valid() {
    let h = parse(small_file().build()).unwrap();
    assert_eq!(h.tensors.len(), 1);
    assert_eq!(h.tensors[0].torch_shape(), vec![2, 4]);
    assert_eq!(h.get("a.n"), Some(&GgufValue::U32(7)));
}

#[test]
fn bad_magic() {
    let mut b = small_file().build();
    b[..4].copy_from_slice(b"GGML");
    assert!(matches!(parse(b), Err(GgufError::BadMagic { found }) if found == b"GGML"));
    assert!(matches!(
        parse(b"GX".to_vec()),
        Err(GgufError::BadMagic { .. })
    ));
    assert!(matches!(
        parse(Vec::new()),
        Err(GgufError::Truncated { what: "magic", .. })
    ));
}

#[test]
fn unsupported_version() {
    let mut g = small_file();
    g.version = 4;
    assert!(matches!(
        parse(g.build()),
        Err(GgufError::UnsupportedVersion { version: 4 })
    ));
    g.version = 0x0500_0000;
    assert!(matches!(
        parse(g.build()),
        Err(GgufError::UnsupportedVersion { .. })
    ));
    g.version = 0;
    assert!(matches!(
        parse(g.build()),
        Err(GgufError::UnsupportedVersion { version: 0 })
    ));
}

#[test]
fn big_endian_v1_and_v2_from_the_writer() {
    for version in [1, 2, 3] {
        let mut g = small_file().kv("s", Val::Arr(8, vec![Val::Str("x".into()); 70]));
        g.version = version;
        g.big = true;
        let h = parse(g.build()).unwrap();
        assert_eq!((h.version, h.endian), (version, mir_gguf::Endian::Big));
        assert_eq!(h.get("a.n"), Some(&GgufValue::U32(7)));
        assert_eq!(h.tensors[0].dims, vec![4, 2]);
        assert_eq!(
            h.to_index().metadata["s"],
            MetaValue::Elided {
                element: "string".into(),
                len: 70
            }
        );
    }
}

#[test]
fn counts_of_2_pow_60_are_bounded_by_the_file() {
    for (tensors, kvs, what) in [
        (1u64 << 60, 0, "tensor count"),
        (0, 1u64 << 60, "metadata count"),
        (u64::MAX, u64::MAX, "metadata count"),
    ] {
        let e = parse(header(tensors, kvs)).unwrap_err();
        assert!(
            matches!(e, GgufError::CountExceedsFile { what: w, .. } if w == what),
            "{e}"
        );
    }
    // Two counts that fit alone but not together.
    let mut b = header(2, 2);
    b.resize(b.len() + 60, 0);
    assert!(matches!(
        parse(b),
        Err(GgufError::CountExceedsFile {
            what: "metadata and tensor count",
            ..
        })
    ));
    let e = parse(
        small_file()
            .kv(
                "big",
                Val::Raw(9, {
                    let mut w = W {
                        big: false,
                        v1: false,
                        buf: Vec::new(),
                    };
                    w.u32(0);
                    w.u64(1 << 60);
                    w.buf
                }),
            )
            .build(),
    )
    .unwrap_err();
    assert!(
        matches!(e, GgufError::CountExceedsFile { what: "array length", count, .. } if count == 1 << 60)
    );
}

#[test]
fn counts_within_the_file_but_over_the_limits() {
    let b = small_file().build();
    let limits = Limits {
        max_tensors: 0,
        ..Limits::default()
    };
    assert!(matches!(
        parse_with(b.clone(), &limits),
        Err(GgufError::LimitExceeded {
            what: "tensor count",
            value: 1,
            limit: 0
        })
    ));
    let limits = Limits {
        max_metadata_entries: 1,
        ..Limits::default()
    };
    assert!(matches!(
        parse_with(b.clone(), &limits),
        Err(GgufError::LimitExceeded {
            what: "metadata count",
            value: 2,
            ..
        })
    ));
    let limits = Limits {
        max_name_bytes: 3,
        ..Limits::default()
    };
    assert!(matches!(
        parse_with(b.clone(), &limits),
        Err(GgufError::LimitExceeded { what: "key", .. })
    ));
    let limits = Limits {
        max_string_bytes: 4,
        ..Limits::default()
    };
    assert!(matches!(
        parse_with(b.clone(), &limits),
        Err(GgufError::LimitExceeded {
            what: "string value",
            value: 5,
            ..
        })
    ));
    let limits = Limits {
        max_rank: 1,
        ..Limits::default()
    };
    assert!(matches!(
        parse_with(b.clone(), &limits),
        Err(GgufError::LimitExceeded {
            what: "tensor rank",
            value: 2,
            ..
        })
    ));
    let long = small_file()
        .kv("arr", Val::Arr(0, vec![Val::U8(1); 100]))
        .build();
    let limits = Limits {
        max_array_len: 99,
        ..Limits::default()
    };
    assert!(matches!(
        parse_with(long, &limits),
        Err(GgufError::LimitExceeded {
            what: "array length",
            value: 100,
            ..
        })
    ));
    let limits = Limits {
        max_header_bytes: 40,
        ..Limits::default()
    };
    assert!(matches!(
        parse_with(b, &limits),
        Err(GgufError::LimitExceeded {
            what: "header bytes",
            limit: 40,
            ..
        })
    ));
    // A long string inside a walked (not kept) array is bounded too.
    let mut items = vec![Val::Str("x".into()); 70];
    items.push(Val::Str("y".repeat(100)));
    let g = small_file().kv("toks", Val::Arr(8, items)).build();
    let limits = Limits {
        max_string_bytes: 50,
        ..Limits::default()
    };
    assert!(matches!(
        parse_with(g, &limits),
        Err(GgufError::LimitExceeded {
            what: "string value",
            value: 100,
            ..
        })
    ));
}

#[test]
fn string_lengths_past_the_end() {
    // The key's length.
    let mut b = header(0, 1);
    b.extend_from_slice(&(1u64 << 60).to_le_bytes());
    b.extend_from_slice(b"key and more bytes");
    assert!(
        matches!(parse(b), Err(GgufError::StringPastEnd { what: "key", len, .. }) if len == 1 << 60)
    );
    // A string value 1 byte longer than what is left.
    let g = Gguf::v3().kv(
        "s",
        Val::Raw(8, {
            let mut w = W {
                big: false,
                v1: false,
                buf: Vec::new(),
            };
            w.u64(10);
            w.buf.extend_from_slice(b"123456789");
            w.buf
        }),
    );
    let mut b = g.build();
    let cut = find(&b, b"123456789") + 9;
    b.truncate(cut);
    assert!(matches!(
        parse(b),
        Err(GgufError::StringPastEnd {
            what: "string value",
            len: 10,
            ..
        })
    ));
    // A string inside a walked tokenizer array.
    let mut items = vec![Val::Str("tok".into()); 70];
    items.push(Val::Raw(8, {
        let mut w = W {
            big: false,
            v1: false,
            buf: Vec::new(),
        };
        w.u64(u64::MAX);
        w.buf
    }));
    let b = small_file()
        .kv("tokenizer.ggml.tokens", Val::Arr(8, items))
        .build();
    assert!(matches!(
        parse(b),
        Err(GgufError::StringPastEnd {
            what: "string value",
            ..
        })
    ));
    // A tensor name.
    let mut b = small_file().build();
    let at = find(&b, b"\x01\0\0\0\0\0\0\0w");
    b[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        parse(b),
        Err(GgufError::StringPastEnd {
            what: "tensor name",
            ..
        })
    ));
}

#[test]
fn unknown_value_type() {
    let b = small_file().kv("x", Val::Raw(13, vec![0; 8])).build();
    assert!(matches!(
        parse(b),
        Err(GgufError::UnknownValueType { value_type: 13, .. })
    ));
    let b = small_file().kv("x", Val::Arr(77, vec![])).build();
    assert!(matches!(
        parse(b),
        Err(GgufError::UnknownValueType { value_type: 77, .. })
    ));
}

fn nest(depth: usize, leaf_len: usize) -> Val {
    let mut v = Val::Arr(5, vec![Val::I32(1); leaf_len]);
    for _ in 1..depth {
        v = Val::Arr(9, vec![v]);
    }
    v
}

#[test]
fn nesting_bombs_stop_at_max_depth() {
    let limits = Limits::default();
    // Exactly at the limit parses; one deeper fails, kept or walked.
    assert!(parse(small_file().kv("n", nest(limits.max_depth, 1)).build()).is_ok());
    let e = parse(small_file().kv("n", nest(limits.max_depth + 1, 1)).build()).unwrap_err();
    assert!(
        matches!(e, GgufError::NestingTooDeep { limit: 16, .. }),
        "{e}"
    );
    let walked = Val::Arr(9, vec![nest(limits.max_depth, 1); 65]);
    let e = parse(small_file().kv("n", walked).build()).unwrap_err();
    assert!(matches!(e, GgufError::NestingTooDeep { .. }), "{e}");
    // A 100,000-level bomb: no stack overflow, just the error.
    let mut w = W {
        big: false,
        v1: false,
        buf: Vec::new(),
    };
    for _ in 0..100_000 {
        w.u32(9);
        w.u64(1);
    }
    w.u32(0);
    w.u64(0);
    let b = small_file().kv("bomb", Val::Raw(9, w.buf)).build();
    assert!(matches!(parse(b), Err(GgufError::NestingTooDeep { .. })));
}

#[test]
fn invalid_utf8_in_keys_and_names_values_are_lossy() {
    let mut b = small_file().build();
    let at = find(&b, b"a.n");
    b[at] = 0xff;
    assert!(matches!(
        parse(b),
        Err(GgufError::InvalidUtf8 { what: "key", .. })
    ));
    let mut b = small_file().build();
    let at = find(&b, b"\x01\0\0\0\0\0\0\0w");
    b[at + 8] = 0xc3;
    assert!(matches!(
        parse(b),
        Err(GgufError::InvalidUtf8 {
            what: "tensor name",
            ..
        })
    ));
    // A string value is kept lossily, reported, and keeps MIR's layer string out.
    let mut b = small_file().build();
    let at = find(&b, b"llama");
    b[at + 1] = 0xfe;
    let h = parse(b).unwrap();
    assert_eq!(h.get_str("general.architecture"), Some("l\u{fffd}ama"));
    let ix = h.to_index();
    assert!(ix.findings.iter().any(|f| f.message.contains("utf-8")));
    assert_eq!(ix.mir_layer_string, None);
}

#[test]
fn duplicates() {
    let b = small_file().kv("a.n", Val::U32(8)).build();
    assert!(matches!(parse(b), Err(GgufError::DuplicateKey { key }) if key == "a.n"));
    let b = small_file().tensor(t("w", &[2], 0)).build();
    assert!(matches!(parse(b), Err(GgufError::DuplicateTensor { name }) if name == "w"));
}

#[test]
fn alignment() {
    let ok = small_file().kv("general.alignment", Val::U32(64));
    let mut g = ok.clone();
    g.alignment = 64;
    let h = parse(g.build()).unwrap();
    assert_eq!((h.alignment, h.data_offset % 64), (64, 0));
    let b = small_file().kv("general.alignment", Val::U64(32)).build();
    assert!(matches!(
        parse(b),
        Err(GgufError::AlignmentType { found: "u64" })
    ));
    for bad in [0, 48] {
        let b = small_file().kv("general.alignment", Val::U32(bad)).build();
        assert!(
            matches!(parse(b), Err(GgufError::BadAlignment { alignment }) if alignment == u64::from(bad))
        );
    }
    let b = small_file()
        .tensor(T {
            offset: Some(40),
            ..t("v", &[2], 0)
        })
        .build();
    assert!(matches!(
        parse(b),
        Err(GgufError::MisalignedTensor {
            offset: 40,
            alignment: 32,
            ..
        })
    ));
}

#[test]
fn tensor_sizes_and_bounds() {
    let huge = T {
        bytes: Some(0),
        ..t("v", &[1 << 32, 1 << 32, 1 << 32], 0)
    };
    let b = small_file().tensor(huge).build();
    assert!(matches!(parse(b), Err(GgufError::TensorSizeOverflow { name }) if name == "v"));
    let partial = T {
        bytes: Some(34),
        ..t("q", &[33, 1], 8)
    };
    let b = small_file().tensor(partial).build();
    assert!(matches!(
        parse(b),
        Err(GgufError::PartialBlock {
            dim: 33,
            block: 32,
            ..
        })
    ));
    let far = T {
        offset: Some(1 << 40),
        bytes: Some(0),
        ..t("far", &[8], 0)
    };
    let b = small_file().tensor(far).build();
    assert!(matches!(parse(b), Err(GgufError::TensorOutOfBounds { name, .. }) if name == "far"));
    let wrap = T {
        offset: Some(u64::MAX - 31),
        bytes: Some(0),
        ..t("wrap", &[8], 0)
    };
    let b = small_file().tensor(wrap).build();
    assert!(matches!(
        parse(b),
        Err(GgufError::TensorOutOfBounds { end: u64::MAX, .. })
    ));
    // The last tensor's data cut short.
    let mut b = small_file().build();
    b.truncate(b.len() - 1);
    assert!(matches!(parse(b), Err(GgufError::TensorOutOfBounds { .. })));
}

#[test]
fn unknown_ggml_types_are_kept_by_number() {
    let g = small_file().tensor(T {
        bytes: Some(64),
        ..t("future", &[16, 2], 99)
    });
    let h = parse(g.build()).unwrap();
    let f = h.tensors.iter().find(|t| t.name == "future").unwrap();
    assert_eq!((f.ggml_type, f.type_name, f.data), (99, None, None));
    let ix = h.to_index();
    let f = ix.tensors.iter().find(|t| t.name == "future").unwrap();
    assert_eq!(f.dtype, Dtype::Other("ggml_type_99".into()));
    assert_eq!(f.shape, vec![2, 16]);
    // gguf-py cannot read the type, so MIR has no layer string for the file.
    assert_eq!(ix.mir_layer_string, None);
    assert!(
        parse(small_file().build())
            .unwrap()
            .to_index()
            .mir_layer_string
            .is_some()
    );
}

#[test]
fn orig_shape_problems_are_findings() {
    let shape = |v: Vec<i32>| Val::Arr(5, v.into_iter().map(Val::I32).collect());
    let g = small_file()
        .kv("comfy.gguf.orig_shape.w", shape(vec![2, 2, 3]))
        .kv("comfy.gguf.orig_shape.gone", shape(vec![1]));
    let ix = parse(g.build()).unwrap().to_index();
    assert_eq!(ix.tensors[0].shape, vec![2, 2, 3]);
    assert!(
        ix.findings
            .iter()
            .any(|f| f.message.contains("different number of elements"))
    );
    assert!(
        ix.findings
            .iter()
            .any(|f| f.message.contains("names no tensor"))
    );
    let g = small_file().kv("comfy.gguf.orig_shape.w", shape(vec![-1, 8]));
    let ix = parse(g.build()).unwrap().to_index();
    assert_eq!(ix.tensors[0].shape, vec![2, 4]);
    assert!(
        ix.findings
            .iter()
            .any(|f| f.severity == Severity::Suspicious)
    );
}

#[test]
fn short_arrays_past_the_inline_budget_are_elided() {
    // 64 x 64 x 64 u8 values per key: 266,304 decoded elements each (all levels), so the
    // fourth and fifth keys run past the 1,048,576-element budget and are partly elided.
    let cube = Val::Arr(
        9,
        vec![Val::Arr(9, vec![Val::Arr(0, vec![Val::U8(7); 64]); 64]); 64],
    );
    let mut g = small_file();
    for i in 0..5 {
        g = g.kv(&format!("cube{i}"), cube.clone());
    }
    let ix = parse(g.build()).unwrap().to_index();
    let row = MetaValue::Array(vec![MetaValue::UInt(7); 64]);
    let full = MetaValue::Array(vec![MetaValue::Array(vec![row; 64]); 64]);
    for i in 0..3 {
        assert_eq!(ix.metadata[&format!("cube{i}")], full);
    }
    /// (decoded elements, elided arrays) below a value.
    fn count(v: &MetaValue) -> (u64, u64) {
        match v {
            MetaValue::Array(items) => items
                .iter()
                .map(count)
                .fold((items.len() as u64, 0), |a, b| (a.0 + b.0, a.1 + b.1)),
            MetaValue::Elided { .. } => (0, 1),
            _ => (0, 0),
        }
    }
    let (decoded, elided) = (0..5)
        .map(|i| count(&ix.metadata[&format!("cube{i}")]))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert!(decoded <= mir_gguf::MAX_INLINE_VALUES, "{decoded}");
    assert!(decoded > mir_gguf::MAX_INLINE_VALUES - 64, "{decoded}");
    assert!(elided > 0);
    assert_ne!(ix.metadata["cube4"], full);
}

#[test]
fn headers_larger_than_the_first_chunk_grow_the_buffer() {
    // ~3 MB of tokens: parsed through several chunk reads, and no token is materialised.
    let tokens: Vec<Val> = (0..200_000)
        .map(|i| Val::Str(format!("token{i:08}")))
        .collect();
    let g = small_file().kv("tokenizer.ggml.tokens", Val::Arr(8, tokens));
    let b = g.build();
    assert!(b.len() as u64 > 2 * mir_gguf::INITIAL_CHUNK);
    let h = parse(b.clone()).unwrap();
    let GgufValue::Array(a) = h.get("tokenizer.ggml.tokens").unwrap() else {
        panic!()
    };
    assert_eq!((a.len, a.items.is_none()), (200_000, true));
    assert_eq!(h.tensors[0].name, "w");
    // The same through a real file.
    let dir = std::env::temp_dir().join(format!("mir-gguf-grow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("big.gguf");
    std::fs::write(&p, &b).unwrap();
    let h2 = mir_gguf::parse_header(&Source::open(&p).unwrap(), &Limits::default()).unwrap();
    assert_eq!(h, h2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn format_parse_maps_errors() {
    let mut b = small_file().build();
    b.truncate(20);
    let e = GgufFormat
        .parse(&Source::from_bytes("t.gguf", b), &Limits::default())
        .unwrap_err();
    assert!(matches!(e, mir_core::Error::Truncated { .. }), "{e}");
    let b = small_file().kv("a.n", Val::U32(1)).build();
    let e = GgufFormat
        .parse(&Source::from_bytes("t.gguf", b), &Limits::default())
        .unwrap_err();
    assert!(
        matches!(
            e.downcast_format::<GgufError>(),
            Some(GgufError::DuplicateKey { .. })
        ),
        "{e}"
    );
    let limits = Limits {
        max_tensors: 0,
        ..Limits::default()
    };
    let e = GgufFormat
        .parse(&Source::from_bytes("t.gguf", small_file().build()), &limits)
        .unwrap_err();
    assert!(
        matches!(
            e,
            mir_core::Error::LimitExceeded {
                what: "tensor count",
                ..
            }
        ),
        "{e}"
    );
    // Error messages are lowercase and name the problem.
    let msg = GgufError::DuplicateKey { key: "k".into() }.to_string();
    assert_eq!(msg, "duplicate metadata key \"k\"");
}

mod fuzzish {
    use super::*;
    use proptest::prelude::*;

    fn seeds() -> Vec<Vec<u8>> {
        [
            "values.gguf",
            "nested.gguf",
            "llama_be.gguf",
            "llama_v1.gguf",
            "flux_city96.gguf",
        ]
        .iter()
        .map(|n| std::fs::read(fixtures().join(n)).unwrap())
        .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// Random byte overwrites of real fixtures never panic.
        #[test]
        fn mutated_fixtures_never_panic(
            which in 0usize..5,
            edits in proptest::collection::vec((any::<u16>(), any::<u8>()), 1..8),
        ) {
            let mut b = seeds().swap_remove(which);
            for (at, byte) in edits {
                let i = usize::from(at) % b.len();
                b[i] = byte;
            }
            if let Ok(h) = parse(b) {
                let _ = h.to_index();
            }
        }
    }
}
