//! Every committed fixture parses to what `fixtures/gguf/make_fixtures.py` wrote, and every
//! truncation of every fixture is an error, never a panic.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::collections::BTreeMap;

use common::{fixture, fixture_files, fixtures, parse};
use mir_core::{Dtype, Format, Limits, MetaValue, Severity, Sniff, Source, TensorIndex};
use mir_gguf::{Endian, GgufError, GgufFormat, GgufValue, ValueType};

fn index(name: &str) -> TensorIndex {
    let src = Source::open(fixtures().join(name)).unwrap();
    GgufFormat.parse(&src, &Limits::default()).unwrap()
}

fn shapes(ix: &TensorIndex) -> BTreeMap<&str, (Vec<u64>, String)> {
    ix.tensors
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                (t.shape.clone(), t.dtype.name().to_owned()),
            )
        })
        .collect()
}

#[test]
fn values_fixture_has_every_value_type() {
    let h = fixture("values.gguf");
    assert_eq!((h.version, h.endian, h.alignment), (3, Endian::Little, 32));
    let get = |k: &str| h.get(k).unwrap().clone();
    assert_eq!(get("t.u8"), GgufValue::U8(200));
    assert_eq!(get("t.i8"), GgufValue::I8(-100));
    assert_eq!(get("t.u16"), GgufValue::U16(60000));
    assert_eq!(get("t.i16"), GgufValue::I16(-30000));
    assert_eq!(get("t.u32"), GgufValue::U32(4_000_000_000));
    assert_eq!(get("t.i32"), GgufValue::I32(-2_000_000_000));
    assert_eq!(get("t.f32"), GgufValue::F32(0.5));
    assert_eq!(get("t.bool"), GgufValue::Bool(true));
    assert_eq!(get("t.string"), GgufValue::Str("héllo 'gguf'".into()));
    assert_eq!(get("t.u64"), GgufValue::U64(18_000_000_000_000_000_000));
    assert_eq!(get("t.i64"), GgufValue::I64(-9_000_000_000_000_000_000));
    assert_eq!(get("t.f64"), GgufValue::F64(-1.25));

    let ix = index("values.gguf");
    let m = &ix.metadata;
    assert_eq!(m["t.u8"], MetaValue::UInt(200));
    assert_eq!(m["t.i64"], MetaValue::Int(-9_000_000_000_000_000_000));
    assert_eq!(m["t.f32"], MetaValue::Float(0.5));
    assert_eq!(m["t.bool"], MetaValue::Bool(true));
    assert_eq!(m["general.architecture"], MetaValue::Str("test".into()));
    let arr = |v: Vec<MetaValue>| MetaValue::Array(v);
    assert_eq!(
        m["t.arr.u8"],
        arr(vec![
            MetaValue::UInt(1),
            MetaValue::UInt(2),
            MetaValue::UInt(255)
        ])
    );
    assert_eq!(
        m["t.arr.i8"],
        arr(vec![MetaValue::Int(-1), MetaValue::Int(2)])
    );
    assert_eq!(m["t.arr.u16"], arr(vec![MetaValue::UInt(65535)]));
    assert_eq!(
        m["t.arr.i16"],
        arr(vec![MetaValue::Int(-2), MetaValue::Int(3)])
    );
    assert_eq!(
        m["t.arr.f32"],
        arr(vec![MetaValue::Float(0.25), MetaValue::Float(-2.0)])
    );
    assert_eq!(
        m["t.arr.bool"],
        arr(vec![
            MetaValue::Bool(true),
            MetaValue::Bool(false),
            MetaValue::Bool(true)
        ])
    );
    assert_eq!(
        m["t.arr.string"],
        arr(vec![
            MetaValue::Str("a".into()),
            MetaValue::Str("".into()),
            MetaValue::Str("ccc".into())
        ])
    );
    assert_eq!(
        m["t.arr.u64"],
        arr(vec![MetaValue::UInt(1), MetaValue::UInt(1 << 63)])
    );
    assert_eq!(m["t.arr.i64"], arr(vec![MetaValue::Int(-(1 << 62))]));
    assert_eq!(m["t.arr.f64"], arr(vec![MetaValue::Float(1e300)]));
    assert_eq!(
        m["t.arr.long_i32"],
        MetaValue::Elided {
            element: "i32".into(),
            len: 100
        }
    );
    assert_eq!(
        m["t.arr.long_string"],
        MetaValue::Elided {
            element: "string".into(),
            len: 65
        }
    );
    // Every key/value is in the metadata map.
    assert_eq!(m.len(), h.kv.len());

    // Element-wise tensor types map to the standard dtypes, shapes in PyTorch order.
    let s = shapes(&ix);
    assert_eq!(s["f32.weight"], (vec![3, 4], "F32".into()));
    assert_eq!(s["f16.weight"], (vec![2, 8], "F16".into()));
    assert_eq!(s["f64.weight"], (vec![5], "F64".into()));
    assert_eq!(s["i8.weight"], (vec![2, 3], "I8".into()));
    assert_eq!(s["i16.weight"], (vec![4], "I16".into()));
    assert_eq!(s["i32.weight"], (vec![1, 2, 2], "I32".into()));
    assert_eq!(s["i64.weight"], (vec![3], "I64".into()));
    assert_eq!(s["bf16.weight"], (vec![4, 2], "BF16".into()));
    // Data ranges are absolute, inside the file, start at the data section and never overlap.
    let len = std::fs::metadata(fixtures().join("values.gguf"))
        .unwrap()
        .len();
    let mut ranges: Vec<(u64, u64)> = ix.tensors.iter().map(|t| t.data.unwrap()).collect();
    ranges.sort();
    assert_eq!(ranges[0].0, ix.data_offset.unwrap());
    assert!(ranges.windows(2).all(|w| w[0].1 <= w[1].0));
    assert!(ranges.iter().all(|r| r.1 <= len));
    assert_eq!(
        ix.tensors
            .iter()
            .find(|t| t.name == "f64.weight")
            .unwrap()
            .data
            .map(|(a, b)| b - a),
        Some(40)
    );
    assert!(ix.findings.is_empty(), "{:?}", ix.findings);
}

#[test]
fn nested_arrays_are_kept_or_elided() {
    let ix = index("nested.gguf");
    let ints = |v: &[i64]| MetaValue::Array(v.iter().map(|&i| MetaValue::Int(i)).collect());
    assert_eq!(
        ix.metadata["n.ints"],
        MetaValue::Array(vec![ints(&[1, 2]), ints(&[3]), ints(&[4, 5, 6])])
    );
    assert_eq!(
        ix.metadata["n.deep"],
        MetaValue::Array(vec![
            MetaValue::Array(vec![ints(&[1]), ints(&[2, 3])]),
            MetaValue::Array(vec![ints(&[4])]),
        ])
    );
    let MetaValue::Array(strs) = &ix.metadata["n.strings"] else {
        panic!()
    };
    assert_eq!(
        strs[0],
        MetaValue::Array(vec![MetaValue::Str("a".into()), MetaValue::Str("b".into())])
    );
    assert_eq!(
        ix.metadata["n.long"],
        MetaValue::Elided {
            element: "array".into(),
            len: 70
        }
    );
    let h = fixture("nested.gguf");
    let GgufValue::Array(a) = h.get("n.long").unwrap() else {
        panic!()
    };
    assert_eq!(
        (a.element, a.len, a.items.is_none()),
        (ValueType::Array, 70, true)
    );
    // Each inner array: type (4) + len (8) + two i32 (8).
    assert_eq!(a.span.1 - a.span.0, 70 * 20);
}

fn check_llama(name: &str, version: u32, endian: Endian) {
    let h = fixture(name);
    assert_eq!((h.version, h.endian), (version, endian), "{name}");
    let ix = h.to_index();
    assert_eq!(ix.format, "gguf");
    assert_eq!(ix.meta_str("general.architecture"), Some("llama"));
    assert_eq!(ix.meta_str("general.type"), Some("model"));
    assert_eq!(ix.meta_str("general.name"), Some("Tiny Llama 2 7B Chat"));
    assert_eq!(ix.meta_str("general.basename"), Some("Tiny-Llama-2"));
    assert_eq!(ix.meta_str("general.size_label"), Some("7B"));
    assert_eq!(ix.metadata["general.file_type"], MetaValue::UInt(7));
    assert_eq!(mir_gguf::file_type_name(7), Some("Q8_0"));
    assert_eq!(ix.metadata["llama.block_count"], MetaValue::UInt(1));
    assert_eq!(
        ix.metadata["llama.attention.head_count_kv"],
        MetaValue::UInt(2)
    );
    assert_eq!(
        ix.metadata["tokenizer.ggml.tokens"],
        MetaValue::Elided {
            element: "string".into(),
            len: 80
        }
    );
    assert_eq!(
        ix.metadata["tokenizer.ggml.scores"],
        MetaValue::Elided {
            element: "f32".into(),
            len: 80
        }
    );
    assert_eq!(
        ix.metadata["tokenizer.ggml.token_type"],
        MetaValue::Elided {
            element: "i32".into(),
            len: 80
        }
    );
    let s = shapes(&ix);
    assert_eq!(s["token_embd.weight"], (vec![80, 32], "Q8_0".into()));
    assert_eq!(s["blk.0.attn_q.weight"], (vec![4, 256], "Q4_K".into()));
    assert_eq!(s["output_norm.weight"], (vec![32], "F32".into()));
    assert_eq!(s["output.weight"], (vec![80, 32], "F16".into()));
    let q4k = ix
        .tensors
        .iter()
        .find(|t| t.name == "blk.0.attn_q.weight")
        .unwrap();
    let (a, b) = q4k.data.unwrap();
    assert_eq!(b - a, 4 * 144);
    assert_eq!(a % 32, 0);
    assert!(ix.findings.is_empty(), "{:?}", ix.findings);
}

#[test]
fn llama_files_in_every_version_and_byte_order() {
    check_llama("llama_v3.gguf", 3, Endian::Little);
    check_llama("llama_v2.gguf", 2, Endian::Little);
    check_llama("llama_be.gguf", 3, Endian::Big);
    // The byte order changes no value and no shape.
    let le = index("llama_v3.gguf");
    let be = index("llama_be.gguf");
    assert_eq!(le.metadata, be.metadata);
    assert_eq!(shapes(&le), shapes(&be));
}

#[test]
fn v1_uses_u32_lengths_and_dims() {
    let h = fixture("llama_v1.gguf");
    assert_eq!((h.version, h.endian), (1, Endian::Little));
    let ix = h.to_index();
    assert_eq!(ix.meta_str("general.name"), Some("v1 file"));
    assert_eq!(ix.metadata["llama.block_count"], MetaValue::UInt(1));
    assert_eq!(
        ix.metadata["t.arr"],
        MetaValue::Array(vec![MetaValue::Int(-1), MetaValue::Int(1)])
    );
    assert_eq!(
        ix.metadata["t.strs"],
        MetaValue::Array(vec![
            MetaValue::Str("x".into()),
            MetaValue::Str("yz".into())
        ])
    );
    let s = shapes(&ix);
    assert_eq!(s["token_embd.weight"], (vec![3, 4], "F16".into()));
    assert_eq!(s["output_norm.weight"], (vec![4], "F32".into()));
    // gguf-py cannot read v1, so MIR has no layer string for it.
    assert_eq!(ix.mir_layer_string, None);
}

#[test]
fn city96_flux_honours_orig_shape() {
    let ix = index("flux_city96.gguf");
    assert_eq!(ix.meta_str("general.architecture"), Some("flux"));
    let s = shapes(&ix);
    assert_eq!(
        s["double_blocks.0.img_attn.qkv.weight"],
        (vec![96, 32], "Q8_0".into())
    );
    assert_eq!(
        s["double_blocks.0.img_attn.qkv.bias"],
        (vec![96], "F16".into())
    );
    assert_eq!(
        s["double_blocks.0.img_mlp.0.weight"],
        (vec![64, 32], "Q8_0".into())
    );
    assert_eq!(s["img_in.conv.weight"], (vec![16, 4, 2, 2], "F16".into()));
    assert_eq!(s["txt_in.weight"], (vec![4, 32], "Q8_0".into()));
    // The stored shapes are still there, in ggml order.
    let h = fixture("flux_city96.gguf");
    let conv = h
        .tensors
        .iter()
        .find(|t| t.name == "img_in.conv.weight")
        .unwrap();
    assert_eq!(conv.dims, vec![16, 16]);
    assert_eq!(
        ix.metadata["comfy.gguf.orig_shape.txt_in.weight"],
        MetaValue::Array(vec![MetaValue::Int(4), MetaValue::Int(32)])
    );
    let q8 = ix
        .tensors
        .iter()
        .find(|t| t.name == "double_blocks.0.img_attn.qkv.weight")
        .unwrap();
    assert_eq!(q8.data.map(|(a, b)| b - a), Some(96 * 32 / 32 * 34));
    assert!(ix.findings.is_empty(), "{:?}", ix.findings);
    // Fingerprints use logical names and shapes: the same weights in safetensors match.
    let mut st = TensorIndex::new("safetensors");
    for t in &ix.tensors {
        st.tensors.push(mir_core::TensorRecord::new(
            t.name.clone(),
            Dtype::BF16,
            t.shape.clone(),
        ));
    }
    let (a, b) = (
        mir_core::signature::Signatures::of(&ix),
        mir_core::signature::Signatures::of(&st),
    );
    assert_eq!((a.key_sig, a.shape_sig), (b.key_sig, b.shape_sig));
}

#[test]
fn lora_adapter_metadata() {
    let ix = index("lora_adapter.gguf");
    assert_eq!(ix.meta_str("general.type"), Some("adapter"));
    assert_eq!(ix.meta_str("adapter.type"), Some("lora"));
    assert_eq!(ix.metadata["adapter.lora.alpha"], MetaValue::Float(16.0));
    let s = shapes(&ix);
    assert_eq!(s["blk.0.attn_q.weight.lora_a"], (vec![4, 32], "F32".into()));
    assert_eq!(s["blk.0.attn_q.weight.lora_b"], (vec![32, 4], "F32".into()));
}

#[test]
fn new_ggml_types_40_and_41() {
    let ix = index("types_40_41.gguf");
    let s = shapes(&ix);
    assert_eq!(s["nvfp4.weight"], (vec![2, 128], "NVFP4".into()));
    assert_eq!(s["q1_0.weight"], (vec![3, 128], "Q1_0".into()));
    let nv = ix
        .tensors
        .iter()
        .find(|t| t.name == "nvfp4.weight")
        .unwrap();
    assert_eq!(nv.dtype, Dtype::Quant("NVFP4".into()));
    assert_eq!(nv.data.map(|(a, b)| b - a), Some(2 * 2 * 36));
}

#[test]
fn layer_strings_match_gguf_py() {
    let text = std::fs::read_to_string(fixtures().join("expected_layer_strings.json")).unwrap();
    let mut checked = 0;
    for path in fixture_files() {
        let name = path.file_name().unwrap().to_str().unwrap();
        let line = text
            .lines()
            .find(|l| l.contains(&format!("\"{name}\": ")))
            .unwrap();
        let value = line.split_once("\": ").unwrap().1.trim_end_matches(',');
        let expected = if value == "null" {
            None
        } else {
            // The JSON strings hold no escapes other than \" here (ensure_ascii is off).
            Some(value.trim_matches('"').replace("\\\"", "\""))
        };
        assert!(!value.contains("\\\\"), "unexpected escape in {name}");
        assert_eq!(index(name).mir_layer_string, expected, "{name}");
        checked += 1;
    }
    assert!(checked >= 9);
}

#[test]
fn sniff_and_registry() {
    assert_eq!(GgufFormat.sniff(b"GGUF\x03\0\0\0", 8, None), Sniff::Magic);
    assert_eq!(GgufFormat.sniff(b"GGUF", 4, Some("bin")), Sniff::Magic);
    assert_eq!(
        GgufFormat.sniff(b"{\"a\":1}", 7, Some("gguf")),
        Sniff::Extension
    );
    assert_eq!(GgufFormat.sniff(b"PK\x03\x04", 4, Some("ckpt")), Sniff::No);
    assert_eq!(GgufFormat.name(), "gguf");
    assert_eq!(GgufFormat.extensions(), &["gguf"]);
    let mut reg = mir_core::FormatRegistry::new();
    reg.register(std::sync::Arc::new(GgufFormat));
    let bytes = std::fs::read(fixtures().join("lora_adapter.gguf")).unwrap();
    let ix = reg
        .parse(
            &Source::from_bytes("renamed.bin", bytes),
            &Limits::default(),
        )
        .unwrap();
    assert_eq!(ix.format, "gguf");
}

#[test]
fn truncation_at_every_byte_is_an_error() {
    for path in fixture_files() {
        let bytes = std::fs::read(&path).unwrap();
        let full = parse(bytes.clone()).unwrap();
        // The end of the last tensor's data; past it only the final padding is missing.
        let data_end = full
            .tensors
            .iter()
            .filter_map(|t| t.data.map(|d| d.1))
            .max()
            .unwrap();
        for cut in 0..bytes.len() {
            let r = std::panic::catch_unwind(|| parse(bytes[..cut].to_vec()));
            let r = r.unwrap_or_else(|_| panic!("{} panicked at cut {cut}", path.display()));
            if (cut as u64) < data_end {
                let e = r
                    .err()
                    .unwrap_or_else(|| panic!("{} cut at {cut} parsed", path.display()));
                assert!(
                    matches!(
                        e,
                        GgufError::Truncated { .. }
                            | GgufError::StringPastEnd { .. }
                            | GgufError::CountExceedsFile { .. }
                            | GgufError::TensorOutOfBounds { .. }
                            | GgufError::BadMagic { .. }
                    ),
                    "{} cut at {cut}: {e}",
                    path.display()
                );
            } else {
                // Cut inside the padding after the last tensor: every tensor is whole, and the
                // short padding is reported.
                let h = r.unwrap();
                assert!(
                    h.warnings.iter().any(|w| w.contains("padding")),
                    "cut {cut}"
                );
                let ix = h.to_index();
                assert!(ix.findings.iter().any(|f| f.severity == Severity::Info));
            }
        }
    }
}
