//! Known answers (MIR test vectors) and hostile headers, each with its specific outcome.

use std::path::PathBuf;

use mir_core::{Format, Limits, Source, signature::Signatures};
use mir_safetensors::{SafetensorsError, SafetensorsFormat, parse};

/// The MIR test vectors kept in the repository (`fixtures/reference/mir-testvec`, README there).
fn testvec() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/reference/mir-testvec")
}

fn file(header: &[u8], data: usize) -> Vec<u8> {
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header);
    f.resize(f.len() + data, 0);
    f
}

fn err(bytes: Vec<u8>) -> SafetensorsError {
    let src = Source::from_bytes("t.safetensors", bytes);
    match parse(&src, &Limits::default()) {
        Ok(i) => panic!("expected an error, parsed {} tensors", i.tensors.len()),
        Err(e) => match e {
            mir_core::Error::Format { source, .. } => *source
                .downcast::<SafetensorsError>()
                .unwrap_or_else(|e| panic!("not a SafetensorsError: {e}")),
            other => panic!("not a format error: {other:?}"),
        },
    }
}

#[test]
fn mir_test_vectors_give_the_published_layer_hashes() {
    let dir = testvec();
    let vectors: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("vectors.json")).unwrap()).unwrap();
    let vectors = vectors.as_object().unwrap();
    assert_eq!(vectors.len(), 3);
    for (name, expect) in vectors {
        let src = Source::open(dir.join(name)).unwrap();
        let index = SafetensorsFormat.parse(&src, &Limits::default()).unwrap();
        // The layer string is streamed into the hashers, never built: its hashes must be those
        // of the published string.
        assert_eq!(index.mir_layer_string, None);
        let (s256, b3) =
            mir_core::signature::mir_layer_hashes(expect["layer_string"].as_str().unwrap());
        let hashes = index.mir_layer_hashes.as_ref().unwrap();
        assert_eq!(
            (&hashes.layer_256, &hashes.layer_b3),
            (&s256, &b3),
            "{name} layer string"
        );
        let sigs = Signatures::of(&index);
        assert_eq!(
            sigs.layer_256.as_deref(),
            expect["layer_256"].as_str(),
            "{name}"
        );
        assert_eq!(
            sigs.layer_b3.as_deref(),
            expect["layer_b3"].as_str(),
            "{name}"
        );
    }
}

#[test]
fn tv1_index_has_metadata_ranges_and_order() {
    let src = Source::open(testvec().join("tv1_with_meta.safetensors")).unwrap();
    let index = parse(&src, &Limits::default()).unwrap();
    assert_eq!(index.meta_str("format"), Some("pt"));
    let names: Vec<&str> = index.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["a.weight", "b.bias"]);
    assert_eq!(index.data_offset, Some(8 + 0xa0));
    assert_eq!(index.tensors[0].data, Some((168, 176)));
    assert_eq!(index.tensors[1].data, Some((176, 184)));
    assert_eq!(index.tensors[0].shape, vec![2, 2]);
}

#[test]
fn single_tensor_uses_mirs_torch_size_fallback() {
    let f = file(
        br#"{"__metadata__":{"a":"b"},"w":{"dtype":"F32","shape":[3,1],"data_offsets":[0,12]}}"#,
        12,
    );
    let index = parse(
        &Source::from_bytes("one.safetensors", f),
        &Limits::default(),
    )
    .unwrap();
    let (s256, b3) = mir_core::signature::mir_layer_hashes("{'w': torch.Size([3, 1])}");
    let sigs = Signatures::of(&index);
    assert_eq!(sigs.layer_256, Some(s256));
    assert_eq!(sigs.layer_b3, Some(b3));
    let empty = file(br#"{"__metadata__":{}}"#, 0);
    let index = parse(
        &Source::from_bytes("e.safetensors", empty),
        &Limits::default(),
    )
    .unwrap();
    assert!(index.tensors.is_empty());
    assert_eq!(index.mir_layer_string, None);
    assert_eq!(index.mir_layer_hashes, None);
}

#[test]
fn length_bomb() {
    let mut f = (1u64 << 60).to_le_bytes().to_vec();
    f.extend_from_slice(b"{}");
    assert!(
        matches!(err(f), SafetensorsError::HeaderTooLarge { len, limit: 100_000_000 } if len == 1 << 60)
    );
}

#[test]
fn header_past_end_of_file() {
    let mut f = 1000u64.to_le_bytes().to_vec();
    f.extend_from_slice(b"{}");
    assert!(matches!(
        err(f),
        SafetensorsError::HeaderPastEnd {
            len: 1000,
            file_len: 10
        }
    ));
}

#[test]
fn too_small() {
    assert!(matches!(
        err(vec![1, 2, 3]),
        SafetensorsError::HeaderTooSmall { file_len: 3 }
    ));
}

#[test]
fn truncated_data() {
    let mut f = file(
        br#"{"w":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}"#,
        8,
    );
    f.truncate(f.len() - 3);
    assert!(matches!(err(f), SafetensorsError::DataTruncated { .. }));
}

#[test]
fn trailing_bytes() {
    let f = file(
        br#"{"w":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}"#,
        9,
    );
    assert!(matches!(err(f), SafetensorsError::TrailingBytes { .. }));
}

#[test]
fn overlapping_offsets() {
    let h = br#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#;
    assert!(matches!(
        err(file(h, 6)),
        SafetensorsError::InvalidOffsets { name, start: 2, end: 6, expected: 4 } if name == "b"
    ));
}

#[test]
fn hole_between_tensors() {
    let h = br#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}}"#;
    assert!(
        matches!(err(file(h, 8)), SafetensorsError::InvalidOffsets { name, .. } if name == "b")
    );
}

#[test]
fn size_disagrees_with_shape() {
    let h = br#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}"#;
    assert!(matches!(
        err(file(h, 8)),
        SafetensorsError::SizeMismatch {
            expected: 16,
            actual: 8,
            ..
        }
    ));
}

#[test]
fn shape_overflow() {
    let h = br#"{"a":{"dtype":"F32","shape":[4611686018427387904,16],"data_offsets":[0,8]}}"#;
    assert!(matches!(err(file(h, 8)), SafetensorsError::Overflow { name } if name == "a"));
}

#[test]
fn bad_utf8() {
    let mut h = br#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#.to_vec();
    h[3] = 0xff;
    assert!(matches!(
        err(file(&h, 1)),
        SafetensorsError::InvalidUtf8 { valid_up_to: 3 }
    ));
}

#[test]
fn non_string_metadata() {
    let h =
        br#"{"__metadata__":{"steps":1000},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
    assert!(
        matches!(err(file(h, 1)), SafetensorsError::MetadataNotString { key } if key == "steps")
    );
    let h = br#"{"__metadata__":[1],"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
    assert!(matches!(
        err(file(h, 1)),
        SafetensorsError::MetadataNotObject
    ));
}

#[test]
fn duplicate_names() {
    let h = br#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#;
    assert!(matches!(err(file(h, 2)), SafetensorsError::DuplicateName(n) if n == "a"));
}

#[test]
fn not_json_or_not_an_object() {
    assert!(matches!(
        err(file(b"[1,2,3]", 0)),
        SafetensorsError::InvalidJson(_)
    ));
    assert!(matches!(
        err(file(b"{\"a\":", 0)),
        SafetensorsError::InvalidJson(_)
    ));
    assert!(matches!(
        err(file(b"{} x", 0)),
        SafetensorsError::InvalidJson(_)
    ));
}

#[test]
fn malformed_entries() {
    let cases: &[&[u8]] = &[
        br#"{"a":3}"#,
        br#"{"a":{"shape":[1],"data_offsets":[0,1]}}"#,
        br#"{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}"#,
        br#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0]}}"#,
        br#"{"a":{"dtype":"U8","data_offsets":[0,1]}}"#,
        br#"{"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}}"#,
    ];
    for h in cases {
        assert!(
            matches!(err(file(h, 1)), SafetensorsError::InvalidEntry { ref name, .. } if name == "a"),
            "{}",
            String::from_utf8_lossy(h)
        );
    }
}

#[test]
fn sub_byte_dtype_must_fill_bytes() {
    let h = br#"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#;
    assert!(matches!(
        err(file(h, 2)),
        SafetensorsError::MisalignedSlice { .. }
    ));
}

#[test]
fn unknown_dtype_is_kept_with_a_finding() {
    let h = br#"{"a":{"dtype":"F8_E4M3FN","shape":[2],"data_offsets":[0,2]}}"#;
    let index = parse(
        &Source::from_bytes("u.safetensors", file(h, 2)),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(index.tensors[0].dtype.name(), "F8_E4M3FN");
    assert_eq!(index.findings.len(), 1);
    assert!(index.findings[0].message.contains("F8_E4M3FN"));
}

#[test]
fn truncated_at_every_byte_never_panics() {
    let f = std::fs::read(testvec().join("tv3_quotes_unicode.safetensors")).unwrap();
    for cut in 0..f.len() {
        let src = Source::from_bytes("cut.safetensors", f[..cut].to_vec());
        assert!(
            parse(&src, &Limits::default()).is_err(),
            "cut at {cut} parsed"
        );
    }
}

#[test]
fn too_many_tensors_is_a_limit() {
    let h = br#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"c":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}"#;
    let limits = Limits {
        max_tensors: 1,
        ..Limits::default()
    };
    let e = parse(&Source::from_bytes("m.safetensors", file(h, 3)), &limits).unwrap_err();
    assert!(e.to_string().contains("more than 1 tensors"), "{e}");
}

#[test]
fn repeated_known_fields_are_rejected_like_the_safetensors_crate() {
    // Issue 17 item 9: a second `dtype`/`shape`/`data_offsets` used to be accepted (first wins).
    for (field, h) in [
        (
            "dtype",
            r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"dtype":"F16"}}"#,
        ),
        (
            "shape",
            r#"{"a":{"dtype":"U8","shape":[1],"shape":[1],"data_offsets":[0,1]}}"#,
        ),
        (
            "data_offsets",
            r#"{"a":{"data_offsets":[0,1],"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
        ),
    ] {
        let f = file(h.as_bytes(), 1);
        assert!(
            safetensors::SafeTensors::read_metadata(&f).is_err(),
            "the crate accepts a repeated {field}"
        );
        match err(f) {
            SafetensorsError::InvalidEntry { name, reason } => {
                assert_eq!(name, "a");
                assert_eq!(reason, format!("{field} appears more than once"));
            }
            other => panic!("{field}: {other}"),
        }
    }
}

#[test]
fn metadata_entries_are_limited() {
    let header = |n: usize| {
        let pairs: Vec<String> = (0..n).map(|i| format!(r#""k{i}":"v""#)).collect();
        format!(r#"{{"__metadata__":{{{}}}}}"#, pairs.join(","))
    };
    let limits = Limits {
        max_metadata_entries: 100,
        ..Limits::default()
    };
    let ok = parse(
        &Source::from_bytes("m.safetensors", file(header(100).as_bytes(), 0)),
        &limits,
    )
    .unwrap();
    assert_eq!(ok.metadata.len(), 100);
    let e = parse(
        &Source::from_bytes("m.safetensors", file(header(101).as_bytes(), 0)),
        &limits,
    )
    .unwrap_err();
    let mir_core::Error::Format { source, .. } = e else {
        panic!("{e}")
    };
    let e = source.downcast::<SafetensorsError>().unwrap();
    assert!(
        matches!(*e, SafetensorsError::TooManyMetadataEntries { limit: 100 }),
        "{e}"
    );
    // The default limit (1M) holds too: 1,000,001 pairs (2M were accepted before).
    let n = usize::try_from(Limits::default().max_metadata_entries).unwrap() + 1;
    assert!(matches!(
        err(file(header(n).as_bytes(), 0)),
        SafetensorsError::TooManyMetadataEntries { .. }
    ));
}

#[test]
fn unknown_fields_and_metadata_of_any_shape_are_read_without_trees() {
    // A large array in an unknown field and a long metadata string: accepted, like the crate.
    let zeros = vec!["0"; 200_000].join(",");
    let h = format!(
        r#"{{"__metadata__":{{"note":"{}"}},"a":{{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":[{zeros}]}},"b":{{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}}}"#,
        "x".repeat(100_000)
    );
    let f = file(h.as_bytes(), 2);
    assert!(safetensors::SafeTensors::read_metadata(&f).is_ok());
    let index = parse(&Source::from_bytes("u.safetensors", f), &Limits::default()).unwrap();
    assert_eq!(index.tensors.len(), 2);
    assert_eq!(index.meta_str("note").map(str::len), Some(100_000));
    assert!(index.mir_layer_hashes.is_some());
}

mod differential {
    //! Our validator accepts exactly what `safetensors::SafeTensors::read_metadata` accepts on
    //! the whole buffer, for headers without duplicate names, and rejects what it rejects when an
    //! entry repeats a known field.
    use super::*;
    use proptest::prelude::*;

    fn entry() -> impl Strategy<Value = (String, usize, Vec<usize>, i64)> {
        (
            prop_oneof![
                Just("F16"),
                Just("F32"),
                Just("U8"),
                Just("BF16"),
                Just("F4")
            ],
            proptest::collection::vec(0usize..5, 0..3),
            -2i64..3,
        )
            .prop_map(|(d, shape, skew)| {
                let bits = match d {
                    "F16" | "BF16" => 16,
                    "F32" => 32,
                    "F4" => 4,
                    _ => 8,
                };
                (d.to_string(), bits, shape, skew)
            })
    }

    proptest! {
        #[test]
        fn agrees_with_the_safetensors_crate(
            entries in proptest::collection::vec(entry(), 0..5),
            extra in 0usize..2,
            // Which entry repeats which known field (issue 17 item 9), if any.
            repeat in proptest::option::of((0usize..5, 0usize..3)),
        ) {
            let mut header = String::from("{");
            let mut at = 0i64;
            for (i, (d, bits, shape, skew)) in entries.iter().enumerate() {
                let numel: usize = shape.iter().product();
                let len = (numel * bits / 8) as i64;
                let start = at;
                let end = (start + len + skew).max(0);
                at = end;
                if i > 0 { header.push(','); }
                let again = match repeat {
                    Some((at, 0)) if at == i => format!(r#","dtype":"{d}""#),
                    Some((at, 1)) if at == i => format!(r#","shape":{shape:?}"#),
                    Some((at, 2)) if at == i => format!(r#","data_offsets":[{start},{end}]"#),
                    _ => String::new(),
                };
                header.push_str(&format!(r#""t{i}":{{"dtype":"{d}","shape":{shape:?},"data_offsets":[{start},{end}]{again}}}"#));
            }
            header.push('}');
            let f = file(header.as_bytes(), at.max(0) as usize + extra);
            let ours = parse(&Source::from_bytes("p.safetensors", f.clone()), &Limits::default()).is_ok();
            let theirs = safetensors::SafeTensors::read_metadata(&f).is_ok();
            prop_assert_eq!(ours, theirs, "header {}", header);
        }
    }
}

#[test]
fn numbers_are_never_taken_for_objects() {
    // serde_json hands numbers over as one-entry maps when another crate of the build switches
    // on its `arbitrary_precision` feature; a number entry or `__metadata__` stays what it is.
    match err(file(br#"{"a":1.5}"#, 0)) {
        SafetensorsError::InvalidEntry { name, reason } => {
            assert_eq!((name.as_str(), reason), ("a", "entry is not an object"));
        }
        other => panic!("{other}"),
    }
    assert!(matches!(
        err(file(br#"{"__metadata__":2.5}"#, 0)),
        SafetensorsError::MetadataNotObject
    ));
    // Floats in an unknown field are accepted (their repr goes into the layer string).
    let h = br#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":[1.5,-0.0,18446744073709551616]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#;
    let index = parse(
        &Source::from_bytes("f.safetensors", file(h, 2)),
        &Limits::default(),
    )
    .unwrap();
    assert!(index.mir_layer_hashes.is_some());
}
