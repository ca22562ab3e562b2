//! The hand-written scanner (`scan::fast`) against the serde_json walker it replaced
//! (`scan::serde_walk`, kept as the error path and the reference): on hand-written edge cases
//! for every part of the JSON grammar in every position of the layout, on generated headers with
//! odd but valid content, and on a seeded random mutator over the committed fixtures' real
//! headers, both must
//!
//! * reject the same headers as JSON (the scanner's "rejected" must be serde_json's own error,
//!   never a header serde_json reads or stops with one of our errors),
//! * and otherwise give the same index (tensors, metadata, findings, layer hashes) or the same
//!   error, message included,
//!
//! with and without the layer hashes, and through the public entry point.
//!
//! The scanner follows serde_json's `arbitrary_precision` feature when another crate of the
//! build switches it on (`cargo test --workspace` does, through a dev-dependency of `mir-gguf`);
//! run these tests both ways (`cargo test -p mir-safetensors`, and with `--features
//! serde_json/arbitrary_precision`).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]

use std::path::{Path, PathBuf};

use mir_core::Limits;

use crate::SafetensorsError;
use crate::scan::{self, Scratch, fast::Rejected};

/// Same variant and message.
fn same_error(a: &SafetensorsError, b: &SafetensorsError) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b) && a.to_string() == b.to_string()
}

/// What the comparison saw, for the tests that count their cases.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    rejected: usize,
    accepted: usize,
    entry_errors: usize,
}

/// Compares the two walkers on `text` in a file of `file_len` bytes.
fn agree(text: &str, file_len: u64, limits: &Limits, tally: &mut Tally) -> Result<(), String> {
    for layer in [true, false] {
        let fast = scan::scan_fast(text, file_len, limits, layer, &mut Scratch::default());
        let old = scan::scan_serde(text, file_len, limits, layer, &mut Scratch::default());
        match (fast, old) {
            (Err(Rejected), Err(SafetensorsError::InvalidJson(_))) => {
                if layer {
                    tally.rejected += 1;
                }
            }
            (Err(Rejected), old) => {
                return Err(format!(
                    "the scanner rejected what serde_json reads: {:?}",
                    old.map(|i| i.tensors.len())
                ));
            }
            (Ok(Ok(n)), Ok(o)) => {
                if n != o {
                    return Err(format!(
                        "indexes differ (layer {layer}):\n new {n:?}\n old {o:?}"
                    ));
                }
                if layer {
                    tally.accepted += 1;
                }
            }
            (Ok(Err(n)), Err(o)) => {
                if !same_error(&n, &o) {
                    return Err(format!("errors differ: new {n} / old {o}"));
                }
                if layer {
                    tally.entry_errors += 1;
                }
            }
            (Ok(n), o) => {
                return Err(format!(
                    "outcomes differ: new {:?} / old {:?}",
                    n.map(|i| i.tensors.len()).map_err(|e| e.to_string()),
                    o.map(|i| i.tensors.len()).map_err(|e| e.to_string())
                ));
            }
        }
    }
    // The public entry point (the scanner, then serde_json for the error) is the reference's
    // answer exactly, through the reused per-thread buffers.
    let public = crate::parse_header_bytes(text.as_bytes(), file_len, limits);
    let old = scan::scan_serde(text, file_len, limits, true, &mut Scratch::default());
    match (public, old) {
        (Ok(a), Ok(b)) if a == b => Ok(()),
        (Err(a), Err(b)) if same_error(&a, &b) => Ok(()),
        (a, b) => Err(format!(
            "public entry differs: {:?} / {:?}",
            a.map(|i| i.tensors.len()).map_err(|e| e.to_string()),
            b.map(|i| i.tensors.len()).map_err(|e| e.to_string())
        )),
    }
}

/// A valid two-tensor header (so the layer hashes are the general, not the one-tensor, form)
/// with `x` spliced in at `slot`.
fn with(slot: &str, x: &str) -> String {
    let a = r#""dtype":"U8","shape":[1],"data_offsets":[0,1]"#;
    let b = r#""b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}"#;
    match slot {
        "entry" => format!(r#"{{"a":{x},{b}}}"#),
        "dtype" => {
            format!(r#"{{"a":{{"dtype":{x},"shape":[1],"data_offsets":[0,1]}},{b}}}"#)
        }
        "shape" => format!(r#"{{"a":{{"dtype":"U8","shape":{x},"data_offsets":[0,1]}},{b}}}"#),
        "dim" => format!(r#"{{"a":{{"dtype":"U8","shape":[{x}],"data_offsets":[0,1]}},{b}}}"#),
        "offsets" => format!(r#"{{"a":{{"dtype":"U8","shape":[1],"data_offsets":{x}}},{b}}}"#),
        "offset" => {
            format!(r#"{{"a":{{"dtype":"U8","shape":[1],"data_offsets":[0,{x}]}},{b}}}"#)
        }
        "unknown" => format!(r#"{{"a":{{{a},"x":{x}}},{b}}}"#),
        "unknown_list" => format!(r#"{{"a":{{{a},"x":[1,{x},2]}},{b}}}"#),
        "unknown_obj" => format!(r#"{{"a":{{{a},"x":{{"k":{x},"j":0}}}},{b}}}"#),
        "meta" => format!(r#"{{"__metadata__":{x},"a":{{{a}}},{b}}}"#),
        "meta_value" => format!(r#"{{"__metadata__":{{"k":{x}}},"a":{{{a}}},{b}}}"#),
        "lax_entry" => format!(r#"{{"a":[{x}],{b}}}"#),
        "lax_dtype" => {
            format!(r#"{{"a":{{"dtype":[0,{x}],"shape":[1],"data_offsets":[0,1]}},{b}}}"#)
        }
        "lax_dim" => {
            format!(r#"{{"a":{{"dtype":"U8","shape":[[{x}]],"data_offsets":[0,1]}},{b}}}"#)
        }
        "lax_obj" => {
            format!(r#"{{"a":{{"dtype":"U8","shape":{{"k":{x}}},"data_offsets":[0,1]}},{b}}}"#)
        }
        "key" => format!(r#"{{"a":{{{x}:1,{a}}},{b}}}"#),
        "name" => format!(r#"{{{x}:{{{a}}},{b}}}"#),
        "meta_key" => format!(r#"{{"__metadata__":{{{x}:"v"}},"a":{{{a}}},{b}}}"#),
        "lax_key" => format!(r#"{{"a":[{{{x}:1}}],{b}}}"#),
        "between" => format!(r#"{{"a"{x}:{{{a}}}{x},{x}{b}{x}}}"#),
        "after" => format!(r#"{{"a":{{{a}}},{b}}}{x}"#),
        "before" => format!(r#"{x}{{"a":{{{a}}},{b}}}"#),
        _ => unreachable!("{slot}"),
    }
}

const SLOTS: &[&str] = &[
    "entry",
    "dtype",
    "shape",
    "dim",
    "offsets",
    "offset",
    "unknown",
    "unknown_list",
    "unknown_obj",
    "meta",
    "meta_value",
    "lax_entry",
    "lax_dtype",
    "lax_dim",
    "lax_obj",
];

/// Values for the value slots: every corner of the grammar serde_json treats specially.
fn values() -> Vec<String> {
    let mut v: Vec<String> = [
        // Numbers.
        "0",
        "-0",
        "01",
        "-01",
        "00",
        "1.",
        ".5",
        "1.5",
        "-1.5",
        "1e5",
        "1E+5",
        "1e-5",
        "1e",
        "1e+",
        "1e-",
        "-",
        "--1",
        "+1",
        "1e400",
        "-1e400",
        "1e-400",
        "0.0",
        "-0.0",
        "1.0",
        "2",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "-18446744073709551616",
        "0.1e1",
        "1.7976931348623157e308",
        "1.7976931348623159e308",
        "4.9e-324",
        "2.2250738585072011e-308",
        "1e99999999999999999999",
        "0e99999999999999999999",
        "1e-99999999999999999999",
        "-1e99999999999999999999",
        "0.30000000000000004",
        "9007199254740993",
        "123456789012345678901234567890",
        "1.00000000000000011102230246251565404236316680908203125",
        "0x10",
        "1_000",
        "١",
        // Strings.
        r#""""#,
        r#""a""#,
        r#""\u0041""#,
        r#""\ud83d\ude00""#,
        r#""\ud83d""#,
        r#""\ude00""#,
        r#""\ud83dx""#,
        r#""\ud83d\u0041""#,
        r#""\ud83d\ud83d\ude00""#,
        r#""\ud83d\n""#,
        r#""\x""#,
        r#""\u12""#,
        r#""\u12g4""#,
        r#""\U0041""#,
        "\"a\tb\"",
        "\"a\nb\"",
        "\"a\u{1f}b\"",
        "\"a\u{7f}b\"",
        r#""\u0000""#,
        r#""\/""#,
        r#""\b\f\n\r\t""#,
        r#""'""#,
        r#""\"'""#,
        "\"é\"",
        r#""\u00e9""#,
        r#""\uFFFF""#,
        r#""\uDBFF\uDFFF""#,
        "\"\u{2028}\"",
        "\"",
        "\"\\",
        "\"\\u",
        r#""\ud83d\"#,
        r#""\ud83d\u"#,
        r#""F16""#,
        r#""X9""#,
        r#""F\u0031\u0036""#,
        "'F16'",
        // Literals.
        "null",
        "true",
        "false",
        "nul",
        "tru",
        "fals",
        "True",
        "NULL",
        "nan",
        "NaN",
        "Infinity",
        "-Infinity",
        "undefined",
        "nullx",
        "truefalse",
        // Containers.
        "[]",
        "[1]",
        "[1,]",
        "[,1]",
        "[1 2]",
        "[1,,2]",
        "[",
        "]",
        "{}",
        "{\"k\":1}",
        "{\"k\":1,}",
        "{\"k\"}",
        "{\"k\":}",
        "{1:2}",
        "{\"k\":1 \"j\":2}",
        "{\"k\":1,\"k\":2}",
        "{,}",
        "{\"k\" : 1 }",
        "[[[[1]]]]",
        "[null,true,\"s\",1.5,{}]",
        "{\"a\":[1,{\"b\":null}]}",
        "{\"$serde_json::private::Number\":\"1.5\"}",
        "{\"$serde_json::private::Number\":1.5}",
        "{\"$serde_json::private::Number\":\"1\",\"x\":1}",
        "{\"x\":1,\"$serde_json::private::Number\":\"2\"}",
        "{\"$serde_json::private::Number\":\"zz\"}",
        // Whitespace.
        " 1 ",
        "\t1",
        "\n1",
        "\r1",
        "\u{c}1",
        "\u{a0}1",
        "\u{b}1",
        "\u{0}1",
        // Nothing.
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Nesting around the recursion limit, with arrays and objects.
    for depth in [100, 124, 125, 126, 127, 128, 129, 200] {
        v.push(format!("{}1{}", "[".repeat(depth), "]".repeat(depth)));
        v.push(format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth)));
        v.push(format!("{}{}", "[".repeat(depth), "]".repeat(depth - 1)));
    }
    v.push(format!("{}1{}", "[".repeat(5000), "]".repeat(5000)));
    v
}

/// Strings for the key and name slots.
fn keys() -> Vec<String> {
    [
        r#""""#,
        r#""k""#,
        r#""dtype""#,
        r#""shape""#,
        r#""data_offsets""#,
        r#""dt\u0079pe""#,
        r#""sh\u0061pe""#,
        r#""data\u005foffsets""#,
        r#""__metadata__""#,
        r#""__m\u0065tadata__""#,
        r#""\ud83d""#,
        r#""\ude00""#,
        r#""\ud83d\ude00""#,
        r#""\x""#,
        "\"a\tb\"",
        r#""a\tb""#,
        r#""'""#,
        r#""\"""#,
        r#""\\""#,
        "\"é\"",
        r#""$serde_json::private::Number""#,
        "k",
        "1",
        "null",
        "[]",
        "{}",
        r#""a"#,
        "",
        r#""a"  "#,
        r#""b""#,
        r#""b":{},"c""#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The data length a header's valid offsets promise (for a plausible file length).
fn data_len(text: &str) -> u64 {
    let mut scratch = Scratch::default();
    match scan::scan_serde(text, u64::MAX, &Limits::default(), false, &mut scratch) {
        Err(SafetensorsError::TrailingBytes { expected, .. }) => expected - 8 - text.len() as u64,
        _ => 2,
    }
}

fn file_len(text: &str) -> u64 {
    8 + text.len() as u64 + data_len(text)
}

#[test]
fn hand_written_edge_cases_in_every_position() {
    let limits = Limits::default();
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for slot in SLOTS {
        for x in values() {
            let h = with(slot, &x);
            if let Err(e) = agree(&h, file_len(&h), &limits, &mut tally) {
                failures.push(format!("slot {slot}, value {x:.60?}: {e}"));
            }
        }
    }
    for slot in ["key", "name", "meta_key", "lax_key"] {
        for x in keys() {
            let h = with(slot, &x);
            if let Err(e) = agree(&h, file_len(&h), &limits, &mut tally) {
                failures.push(format!("slot {slot}, key {x:?}: {e}"));
            }
        }
    }
    for slot in ["between", "after", "before"] {
        for x in [
            "",
            " ",
            "\t",
            "\n",
            "\r",
            "  \n\t\r ",
            "\u{c}",
            "\u{b}",
            "\u{a0}",
            "\u{0}",
            "x",
            ",",
        ] {
            let h = with(slot, x);
            if let Err(e) = agree(&h, file_len(&h), &limits, &mut tally) {
                failures.push(format!("slot {slot}, {x:?}: {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The cases reach every outcome (a test that only ever rejected would prove little).
    assert!(tally.rejected > 200, "{tally:?}");
    assert!(tally.accepted > 100, "{tally:?}");
    assert!(tally.entry_errors > 100, "{tally:?}");
}

#[test]
fn whole_header_edge_cases() {
    let limits = Limits::default();
    let mut tally = Tally::default();
    let e = r#"{"dtype":"U8","shape":[1],"data_offsets":[0,1]}"#;
    let cases = [
        String::new(),
        " ".into(),
        "{".into(),
        "}".into(),
        "{}".into(),
        "{} ".into(),
        "{}\t\n\r ".into(),
        "{}\u{c}".into(),
        "{}x".into(),
        "{}{}".into(),
        "{},".into(),
        " {}".into(),
        "[]".into(),
        "\"x\"".into(),
        "1".into(),
        "null".into(),
        r#"{"__metadata__":null}"#.into(),
        r#"{"__metadata__":{}}"#.into(),
        r#"{"__metadata__":{"a":"b"},"__metadata__":{"a":"b"}}"#.into(),
        format!(r#"{{"__metadata__":{{"a":"b"}},"__metadata__":{e}}}"#),
        format!(r#"{{"t":{e},"__metadata__":{{"a":"b"}}}}"#),
        format!(r#"{{"t":{e},"t":{e}}}"#),
        format!(r#"{{"t":{e}}}"#),
        format!(r#"{{"t":{e},"u":{e}}}"#),
        format!(r#"{{"t":{e},"u":{e},}}"#),
        format!(r#"{{"t":{e} "u":{e}}}"#),
        format!(r#"{{"t":{e},"u":{e}}}}}"#),
        format!(r#"{{"t":{e},"u":{e}"#),
        format!(r#"{{"t":{e},"u":"#),
        format!(r#"{{"t":{e},"u""#),
        format!(r#"{{"t":{e},"#),
        r#"{"__metadata__":{"$serde_json::private::Number":"1"}}"#.into(),
        r#"{"__metadata__":{"$serde_json::private::Number":"1","k":"v"}}"#.into(),
        r#"{"__metadata__":{"k":"v","$serde_json::private::Number":"1"}}"#.into(),
        r#"{"__metadata__":{"k":1,"j":[1e400]}}"#.into(),
        r#"{"__metadata__":{"k":1,"j":"\ud800"}}"#.into(),
        r#"{"a":{"$serde_json::private::Number":1}}"#.into(),
        r#"{"a":{"$serde_json::private::Number":1,"b":2}}"#.into(),
        // A repeated key inside an unknown field breaks the layer string; the walkers must then
        // agree on the odd `$serde_json::private::Number` key as well.
        r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":{"k":1,"k":2},"y":{"z":1,"$serde_json::private::Number":"5"}},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#.into(),
        r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":{"k":1,"k":2},"y":{"z":1,"$serde_json::private::Number":5}},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#.into(),
        r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"y":{"$serde_json::private::Number":"-0"}},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#.into(),
        // Fields of the wrong type, twice, missing, in odd orders.
        r#"{"a":{"shape":[1],"data_offsets":[0,1],"dtype":"U8","dtype":"U8"}}"#.into(),
        r#"{"a":{"shape":[1,2,3,4,5,6,7,8,9]," dtype":"U8","data_offsets":[0,1]}}"#.into(),
        r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}"#.into(),
        r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0]}}"#.into(),
        r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[]}}"#.into(),
        r#"{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}"#.into(),
        r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":7}"#.into(),
        r#"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}"#.into(),
        r#"{"a":{"dtype":"F16","shape":[4294967296,4294967296,4],"data_offsets":[0,1]}}"#
            .into(),
        r#"{"a":{"dtype":"Q9","shape":[3],"data_offsets":[0,1]}}"#.into(),
        r#"{"a\u0000b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#.into(),
        "{\"a\u{7f}\u{85}\u{200b}é😀\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}".into(),
        "{ \"a\" : { \"dtype\" : \"U8\" , \"shape\" : [ 1 ] , \"data_offsets\" : [ 0 , 1 ] } , \"b\" : { \"dtype\" : \"U8\" , \"shape\" : [ ] , \"data_offsets\" : [ 1 , 2 ] } }   ".into(),
    ];
    let mut failures = Vec::new();
    for h in &cases {
        for fl in [file_len(h), file_len(h) + 1, file_len(h).saturating_sub(1)] {
            if let Err(e) = agree(h, fl, &limits, &mut tally) {
                failures.push(format!("{h:.200?} ({fl}): {e}"));
            }
        }
    }
    // Limits that stop the walk, and limits checked per entry.
    let small = Limits {
        max_tensors: 1,
        max_metadata_entries: 1,
        max_name_bytes: 3,
        max_rank: 1,
        ..Limits::default()
    };
    for h in &cases {
        if let Err(e) = agree(h, file_len(h), &small, &mut tally) {
            failures.push(format!("small limits, {h:.200?}: {e}"));
        }
    }
    for h in [
        r#"{"__metadata__":{"a":"1","b":"2"}}"#,
        r#"{"__metadata__":{"a":1,"b":"2"}}"#,
        r#"{"abcd":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
        r#"{"a":{"dtype":"U8","shape":[1,1],"data_offsets":[0,1]}}"#,
        r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":1}"#,
        r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":1,"c":[}"#,
    ] {
        if let Err(e) = agree(h, file_len(h), &small, &mut tally) {
            failures.push(format!("small limits, {h:.200?}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        tally.rejected > 20 && tally.accepted > 5 && tally.entry_errors > 20,
        "{tally:?}"
    );
}

/// A small seeded generator (xorshift64*): the same cases on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len())]
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

/// The committed fixtures' safetensors headers that are valid UTF-8 (real layouts, and the
/// hostile ones).
fn fixture_headers() -> Vec<(String, u64)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let mut files = Vec::new();
    files_under(&root, &mut files);
    files.sort();
    let mut out = Vec::new();
    for p in files {
        let Ok(bytes) = std::fs::read(&p) else {
            continue;
        };
        let Some(n) = bytes
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
        else {
            continue;
        };
        let Some(h) = usize::try_from(n).ok().and_then(|n| bytes.get(8..8 + n)) else {
            continue;
        };
        if let Ok(t) = std::str::from_utf8(h)
            && t.trim_start().starts_with('{')
        {
            out.push((t.to_string(), bytes.len() as u64));
        }
    }
    out
}

/// Headers made by the generator below: valid JSON with odd but legal content everywhere.
fn generated_header(rng: &mut Rng) -> String {
    fn ws(rng: &mut Rng) -> &'static str {
        const WS: [&str; 8] = ["", "", "", "", " ", "\n", "\t", "\r\n  "];
        WS[rng.below(WS.len())]
    }
    fn name(rng: &mut Rng) -> String {
        let parts = [
            "model",
            "layers",
            "0",
            "1",
            "weight",
            "bias",
            "é",
            "😀",
            "\\u00e9",
            "\\ud83d\\ude00",
            "\\\"",
            "'",
            "\\\\",
            "\\n",
            "\\t",
            "\\u0007",
            ":",
            ",",
            "{",
            "[",
            " ",
            "\\/",
        ];
        let n = 1 + rng.below(4);
        (0..n)
            .map(|_| *rng.pick(&parts))
            .collect::<Vec<_>>()
            .join(".")
    }
    fn value(rng: &mut Rng, depth: usize) -> String {
        let leaf = [
            "null",
            "true",
            "false",
            "0",
            "-0",
            "7",
            "-7",
            "1.5",
            "-2.5e-3",
            "1E10",
            "1e308",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "0.1",
            "\"s\"",
            "\"\\u00e9\"",
            "\"'\"",
            "\"\\\"\"",
            "\"a\\u0000\"",
            "\"\\ud83d\\ude00\"",
            "[]",
            "{}",
        ];
        if depth == 0 || rng.below(3) > 0 {
            return rng.pick(&leaf).to_string();
        }
        let n = rng.below(4);
        if rng.below(2) == 0 {
            let items: Vec<String> = (0..n).map(|_| value(rng, depth - 1)).collect();
            format!("[{}{}]", ws(rng), items.join(&format!("{},", ws(rng))))
        } else {
            // Unique keys (a repeated one breaks the layer string, tested apart).
            let items: Vec<String> = (0..n)
                .map(|i| format!("\"k{i}\"{}:{}", ws(rng), value(rng, depth - 1)))
                .collect();
            format!("{{{}}}", items.join(","))
        }
    }
    let mut parts = Vec::new();
    if rng.below(2) == 0 {
        let n = rng.below(3);
        let items: Vec<String> = (0..n)
            .map(|i| format!("\"m{i}\":\"{}\"", name(rng)))
            .collect();
        parts.push(format!(
            "\"__metadata__\"{}:{{{}}}",
            ws(rng),
            items.join(",")
        ));
    }
    let mut at = 0u64;
    for i in 0..rng.below(5) {
        let dtype = *rng.pick(&[
            "F16",
            "F32",
            "U8",
            "BF16",
            "F8_E4M3",
            "X9",
            "F\\u0031\\u0036",
        ]);
        let bytes = match dtype {
            "F32" => 4,
            "U8" | "F8_E4M3" | "X9" => 1,
            _ => 2,
        };
        let shape: Vec<u64> = (0..rng.below(4)).map(|_| rng.below(4) as u64).collect();
        let size = shape.iter().product::<u64>() * bytes;
        let mut fields = vec![
            format!("\"dtype\"{}:{}\"{dtype}\"", ws(rng), ws(rng)),
            format!(
                "\"shape\":[{}]",
                shape
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(&format!(",{}", ws(rng)))
            ),
            format!("\"data_offsets\":[{at},{}{}]", ws(rng), at + size),
        ];
        at += size;
        for k in 0..rng.below(3) {
            fields.insert(
                rng.below(fields.len() + 1),
                format!("\"x{k}\":{}", value(rng, 3)),
            );
        }
        let f = fields.len();
        fields.swap(rng.below(f), rng.below(f));
        parts.push(format!(
            "\"{}{i}\"{}:{}{{{}}}",
            name(rng),
            ws(rng),
            ws(rng),
            fields.join(&format!("{},{}", ws(rng), ws(rng)))
        ));
    }
    format!(
        "{}{{{}}}{}",
        ws(rng),
        parts.join(","),
        " ".repeat(rng.below(9))
    )
}

#[test]
fn generated_headers_with_odd_valid_content() {
    let limits = Limits::default();
    let mut rng = Rng(0x5eed_0001);
    let mut tally = Tally::default();
    for case in 0..3000 {
        let h = generated_header(&mut rng);

        if let Err(e) = agree(&h, file_len(&h), &limits, &mut tally) {
            panic!("case {case}: {e}\nheader {h}");
        }
    }
    assert!(tally.accepted > 1000, "{tally:?}");
}

/// The snippets the mutator splices in.
const SNIPPETS: &[&str] = &[
    "\"",
    "\\",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\t",
    "\n",
    "\r",
    "\u{c}",
    "\u{0}",
    "\u{1f}",
    "0",
    "-",
    ".",
    "e",
    "E",
    "+",
    "1",
    "01",
    "-0",
    "1e400",
    "1.5",
    "18446744073709551616",
    "null",
    "nul",
    "true",
    "false",
    "\\u",
    "\\ud800",
    "\\udc00",
    "\\ud83d\\ude00",
    "\\x",
    "\\n",
    "é",
    "\"\"",
    "[]",
    "{}",
    "[1,]",
    "{\"k\":1,}",
    "\"__metadata__\"",
    "\"dtype\"",
    "\"shape\"",
    "\"data_offsets\"",
    "\"$serde_json::private::Number\"",
    "\"F16\"",
    "[[[[[[[[",
    "]]]]]]]]",
    ",\"z\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}",
];

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut b = text.as_bytes().to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(b.len() + 1);
        match rng.below(6) {
            0 => {
                // Replace one byte with a structural one.
                if at < b.len() {
                    b[at] = *rng.pick(b"\"\\{}[],:0-1eE.+ \t\n\rua\x00\x1f");
                }
            }
            1 | 2 => {
                let s = rng.pick(SNIPPETS);
                b.splice(at..at, s.bytes());
            }
            3 => {
                let end = (at + 1 + rng.below(8)).min(b.len());
                if at < end {
                    b.drain(at..end);
                }
            }
            4 => {
                let end = (at + 1 + rng.below(16)).min(b.len());
                if at < end {
                    let copy = b[at..end].to_vec();
                    b.splice(at..at, copy);
                }
            }
            _ => b.truncate(at),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn seeded_mutations_of_real_headers() {
    let limits = Limits::default();
    let mut sources = fixture_headers();
    assert!(
        sources.len() >= 20,
        "only {} fixture headers",
        sources.len()
    );
    // Small headers mutate into more distinct cases per second; the large ones are kept too.
    sources.sort_by_key(|(h, _)| h.len());
    let mut rng = Rng(0x5eed_0002);
    let mut gen_rng = Rng(0x5eed_0003);
    let mut tally = Tally::default();
    for case in 0..6000 {
        let (text, len) = if case % 3 == 0 {
            let h = generated_header(&mut gen_rng);
            let l = file_len(&h);
            (h, l)
        } else {
            // Mostly the smaller headers (mutations near their structure), now and then any.
            let pool = if case % 10 == 1 {
                sources.len()
            } else {
                sources.len().div_ceil(2)
            };
            sources[rng.below(pool)].clone()
        };
        let m = mutate(&mut rng, &text);
        let fl = match rng.below(4) {
            0 => len,
            1 => file_len(&m),
            _ => (len as i64 + m.len() as i64 - text.len() as i64).max(0) as u64,
        };
        if let Err(e) = agree(&m, fl, &limits, &mut tally) {
            panic!("case {case}: {e}\nheader {m:.2000}");
        }
    }
    assert!(
        tally.rejected > 1000 && tally.accepted + tally.entry_errors > 500,
        "{tally:?}"
    );
}

#[test]
fn every_fixture_header_agrees_and_every_prefix_too() {
    let limits = Limits::default();
    let mut tally = Tally::default();
    for (h, len) in fixture_headers() {
        agree(&h, len, &limits, &mut tally).unwrap();
        // Truncations at a spread of points (a cut inside every kind of token).
        let step = (h.len() / 97).max(1);
        for cut in (0..h.len()).step_by(step) {
            if let Some(p) = h.get(..cut) {
                agree(p, len, &limits, &mut tally).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
            }
        }
    }
    assert!(tally.accepted >= 10, "{tally:?}");
}
