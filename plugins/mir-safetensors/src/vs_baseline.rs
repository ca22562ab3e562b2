//! The single-pass scanner against the former parser (`baseline`): the same index, the same
//! error message, and layer hashes equal to the hashes of the former layer string, on every
//! committed fixture and on generated headers (names with escapes, metadata, unknown fields of
//! every JSON type, damaged entries).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]

use std::path::{Path, PathBuf};

use mir_core::signature::{LayerHashes, mir_layer_hashes};
use mir_core::{Limits, Source};
use proptest::prelude::*;

use crate::{baseline, parse, parse_header_bytes};

/// Asserts both parsers agree on `header` in a file of `file_len` bytes.
fn same(header: &[u8], file_len: u64, limits: &Limits) -> Result<(), String> {
    same_unless(header, file_len, limits, false)
}

/// As [`same`]; with `repeated_field` (an entry names `dtype`, `shape` or `data_offsets` twice,
/// which the former parser accepted, first wins, and the `safetensors` crate rejects) the new
/// parser must reject the header instead.
fn same_unless(
    header: &[u8],
    file_len: u64,
    limits: &Limits,
    repeated_field: bool,
) -> Result<(), String> {
    let new = parse_header_bytes(header, file_len, limits);
    let old = baseline::parse_header_bytes(header, file_len, limits);
    if repeated_field {
        return match new {
            Err(_) => Ok(()),
            Ok(_) => Err("a repeated field was accepted".into()),
        };
    }
    match (new, old) {
        (Ok(mut n), Ok(mut o)) => {
            let want = o.mir_layer_string.take().map(|s| {
                let (layer_256, layer_b3) = mir_layer_hashes(&s);
                LayerHashes {
                    layer_256,
                    layer_b3,
                }
            });
            if n.mir_layer_hashes.take() != want {
                return Err("layer hashes differ".into());
            }
            if n != o {
                return Err(format!("indexes differ:\n new {n:?}\n old {o:?}"));
            }
            Ok(())
        }
        (Err(n), Err(o)) if n.to_string() == o.to_string() => Ok(()),
        (n, o) => Err(format!(
            "outcomes differ: new {:?} / old {:?}",
            n.map(|i| i.tensors.len()).map_err(|e| e.to_string()),
            o.map(|i| i.tensors.len()).map_err(|e| e.to_string())
        )),
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn same_as_the_former_parser_on_every_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let mut files = Vec::new();
    files_under(&root, &mut files);
    let mut compared = 0;
    for p in files {
        let bytes = std::fs::read(&p).unwrap();
        let Some(n) = bytes
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
        else {
            continue;
        };
        let Some(header) = usize::try_from(n).ok().and_then(|n| bytes.get(8..8 + n)) else {
            continue;
        };
        if !header.starts_with(b"{") && !header.starts_with(b" ") && !header.starts_with(b"[") {
            continue;
        }
        same(header, bytes.len() as u64, &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        // And through `parse`, which reads into the reused per-thread buffer.
        let src = Source::from_bytes(p.clone(), bytes.clone());
        let a = parse(&src, &Limits::default()).map(|i| i.tensors.len());
        let b = baseline::parse(&src, &Limits::default()).map(|i| i.tensors.len());
        assert_eq!(
            a.map_err(|e| e.to_string()),
            b.map_err(|e| e.to_string()),
            "{}",
            p.display()
        );
        compared += 1;
    }
    assert!(compared >= 20, "only {compared} safetensors fixtures found");
}

/// A JSON value without repeated object keys (where the former parser and Python agree).
fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|i| i.to_string()),
        (-1e30f64..1e30).prop_map(|f| format!("{f:e}")),
        Just("1.5".to_string()),
        Just("-0.0".to_string()),
        "[a-z\\\\\"'é\u{1F600}\u{7}]{0,6}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| format!("[{}]", v.join(","))),
            proptest::collection::btree_map("[a-z']{0,3}", inner, 0..4).prop_map(|m| {
                let items: Vec<String> = m
                    .into_iter()
                    .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()))
                    .collect();
                format!("{{{}}}", items.join(","))
            }),
        ]
    })
}

#[derive(Debug, Clone)]
struct GenEntry {
    name: String,
    dtype: &'static str,
    shape: Vec<u64>,
    skew: i64,
    extra: Vec<(String, String)>,
    order: u8,
    damage: u8,
}

fn entry() -> impl Strategy<Value = GenEntry> {
    (
        "[a-z0-9._\"\\\\'\u{e9}\u{7}]{0,8}",
        prop_oneof![Just("F16"), Just("F32"), Just("U8"), Just("F4"), Just("X9")],
        proptest::collection::vec(0u64..4, 0..3),
        prop_oneof![8 => Just(0i64), 1 => -1i64..2],
        proptest::collection::vec(("[a-z_]{1,4}", json_value()), 0..2),
        0u8..6,
        prop_oneof![12 => Just(0u8), 1 => 1u8..8],
    )
        .prop_map(
            |(name, dtype, shape, skew, extra, order, damage)| GenEntry {
                name,
                dtype,
                shape,
                skew,
                extra,
                order,
                damage,
            },
        )
}

/// The header, its data length, and whether some entry names a known field twice.
fn render(entries: &[GenEntry], meta: &Option<Vec<(String, String)>>) -> (String, u64, bool) {
    let mut repeated = false;
    let mut parts = Vec::new();
    if let Some(m) = meta {
        let items: Vec<String> = m
            .iter()
            .map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).unwrap()))
            .collect();
        parts.push(format!("\"__metadata__\":{{{}}}", items.join(",")));
    }
    let mut at = 0i64;
    for e in entries {
        let bits: i64 = match e.dtype {
            "F16" => 16,
            "F32" => 32,
            "F4" => 4,
            _ => 8,
        };
        let numel: i64 = e.shape.iter().map(|&d| d as i64).product();
        let start = at;
        let end = (start + (numel * bits).div_euclid(8) + e.skew).max(0);
        at = end;
        let mut fields = vec![
            format!("\"dtype\":\"{}\"", e.dtype),
            format!("\"shape\":{:?}", e.shape),
            format!("\"data_offsets\":[{start},{end}]"),
        ];
        fields.rotate_left(usize::from(e.order % 3));
        if e.order >= 3 {
            fields.swap(0, 1);
        }
        match e.damage {
            1 => fields.push("\"dtype\":\"F16\"".into()),
            2 => fields.push(format!("\"shape\":{:?}", e.shape)),
            3 => fields.push(format!("\"data_offsets\":[{start},{end}]")),
            4 => fields[0] = "\"shape\":\"x\"".into(),
            5 => {
                fields.remove(2);
            }
            6 => fields[1] = "\"data_offsets\":[1]".into(),
            7 => fields[2] = "\"dtype\":7".into(),
            _ => {}
        }
        let mut keys: Vec<&str> = fields
            .iter()
            .map(|f| f.split(':').next().unwrap())
            .collect();
        keys.sort_unstable();
        repeated |= keys.windows(2).any(|w| w[0] == w[1]);
        for (k, v) in &e.extra {
            fields.insert(1.min(fields.len()), format!("\"x{k}\":{v}"));
        }
        parts.push(format!(
            "{}:{{{}}}",
            serde_json::to_string(&e.name).unwrap(),
            fields.join(",")
        ));
    }
    (
        format!("{{{}}}", parts.join(",")),
        at.max(0) as u64,
        repeated,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn same_as_the_former_parser_on_generated_headers(
        entries in proptest::collection::vec(entry(), 0..5),
        // Unique keys: with a repeated key the former parser judged only the last value, the
        // `safetensors` crate (and now we) every value (see the test below).
        meta in proptest::option::of(proptest::collection::btree_map("[a-z]{0,3}", prop_oneof![
            6 => "[a-z']{0,5}".prop_map(|s| serde_json::to_string(&s).unwrap()),
            1 => json_value(),
        ], 0..3).prop_map(|m| m.into_iter().collect::<Vec<_>>())),
        extra in 0u64..2,
        pad in 0usize..3,
    ) {
        let (mut header, data, repeated) = render(&entries, &meta);
        header.push_str(&" ".repeat(pad));
        let file_len = 8 + header.len() as u64 + data + extra;
        if let Err(e) = same_unless(header.as_bytes(), file_len, &Limits::default(), repeated) {
            prop_assert!(false, "{e}\nheader {header}");
        }
    }
}

#[test]
fn repeated_key_inside_an_unknown_field_gives_no_layer_hash() {
    // Python keeps the first position and the last value of a repeated key; the scanner does not
    // rewrite the object, so it leaves the layer hashes out (with a finding) rather than emit
    // hashes MIR would not compute.
    let h = br#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":{"k":1,"k":2}},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#;
    let index = parse_header_bytes(h, 8 + h.len() as u64 + 2, &Limits::default()).unwrap();
    assert_eq!(index.tensors.len(), 2);
    assert_eq!(index.mir_layer_hashes, None);
    assert!(
        index
            .findings
            .iter()
            .any(|f| f.message.contains("repeated key"))
    );
    // Without the repeat, the hashes are the former parser's.
    let h = br#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":{"k":1,"j":[2,null,"s",1.5]}},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#;
    same(h, 8 + h.len() as u64 + 2, &Limits::default()).unwrap();
    assert!(
        parse_header_bytes(h, 8 + h.len() as u64 + 2, &Limits::default())
            .unwrap()
            .mir_layer_hashes
            .is_some()
    );
}

#[test]
fn every_metadata_value_must_be_a_string_even_when_its_key_repeats() {
    // The former parser kept only the last value of a repeated key before checking types; the
    // `safetensors` crate checks each value as it comes, and so do we.
    let h = br#"{"__metadata__":{"k":null,"k":"v"}}"#;
    let mut f = (h.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(h);
    assert!(safetensors::SafeTensors::read_metadata(&f).is_err());
    assert!(baseline::parse_header_bytes(h, f.len() as u64, &Limits::default()).is_ok());
    let e = parse_header_bytes(h, f.len() as u64, &Limits::default()).unwrap_err();
    assert!(
        matches!(e, crate::SafetensorsError::MetadataNotString { ref key } if key == "k"),
        "{e}"
    );
}

#[test]
fn without_layer_hashes_the_same_headers_pass_and_fail() {
    let ok = br#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":[1,{"k":"v"}]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#;
    let bad = br#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"shape":[1]}}"#;
    let limits = Limits::default();
    let with = parse_header_bytes(ok, 8 + ok.len() as u64 + 2, &limits).unwrap();
    let without =
        crate::parse_header_bytes_with(ok, 8 + ok.len() as u64 + 2, &limits, false).unwrap();
    assert!(with.mir_layer_hashes.is_some());
    assert_eq!(without.mir_layer_hashes, None);
    assert_eq!(with.tensors, without.tensors);
    assert!(crate::parse_header_bytes_with(bad, 8 + bad.len() as u64 + 1, &limits, false).is_err());
}
