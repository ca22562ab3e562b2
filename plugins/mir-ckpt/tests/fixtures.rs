//! Every fixture under `fixtures/ckpt/` (written by `make_fixtures.py`) with its exact result.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;

use mir_ckpt::{CkptError, CkptFormat};
use mir_core::{Dtype, Error, Format, Limits, MetaValue, Severity, Sniff, Source, TensorIndex};

fn fixture(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ckpt");
    assert!(dir.is_dir(), "fixture folder {} is missing", dir.display());
    dir.join(name)
}

fn parse_with(name: &str, limits: &Limits) -> Result<TensorIndex, Error> {
    let src = Source::open(fixture(name)).unwrap();
    CkptFormat.parse(&src, limits)
}

fn parse(name: &str) -> TensorIndex {
    parse_with(name, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn ckpt_error(name: &str, limits: &Limits) -> CkptError {
    let mut e = parse_with(name, limits).unwrap_err();
    if let Some(CkptError::WithFindings { .. }) = e.downcast_format::<CkptError>() {
        let Error::Format { source, .. } = e else {
            unreachable!()
        };
        let CkptError::WithFindings { error, .. } = *source.downcast::<CkptError>().unwrap() else {
            unreachable!()
        };
        e = *error;
    }
    match e.downcast_format::<CkptError>() {
        Some(_) => match e {
            Error::Format { source, .. } => *source.downcast::<CkptError>().unwrap(),
            _ => unreachable!(),
        },
        None => panic!("{name}: expected a ckpt error, got {e:?}"),
    }
}

fn limit_error(name: &str, limits: &Limits) -> (&'static str, u64, u64) {
    match parse_with(name, limits) {
        Err(Error::LimitExceeded { what, value, limit }) => (what, value, limit),
        other => panic!("{name}: expected a limit error, got {other:?}"),
    }
}

fn summary(index: &TensorIndex) -> Vec<(String, String, Vec<u64>)> {
    index
        .tensors
        .iter()
        .map(|t| (t.name.clone(), t.dtype.name().to_owned(), t.shape.clone()))
        .collect()
}

fn expected_state_dict() -> Vec<(String, String, Vec<u64>)> {
    [
        ("conv.weight", "F16", vec![4, 3, 3, 3]),
        ("conv.bias", "F32", vec![4]),
        ("norm.weight", "BF16", vec![4]),
        ("norm.running_mean", "F32", vec![4]),
        ("norm.num_batches_tracked", "I64", vec![]),
    ]
    .into_iter()
    .map(|(n, d, s)| (n.to_owned(), d.to_owned(), s))
    .collect()
}

/// The bytes `make_fixtures.py` writes for a storage: `(i * 7 + len(key)) % 251`.
fn storage_byte(key_len: u64, i: u64) -> u8 {
    ((i * 7 + key_len) % 251) as u8
}

/// Reads a tensor's data range from the file and checks it against the generator's pattern.
fn assert_data(name: &str, index: &TensorIndex, tensor: &str, key_len: u64, itemsize: u64) {
    let t = index.tensors.iter().find(|t| t.name == tensor).unwrap();
    let (start, end) = t
        .data
        .unwrap_or_else(|| panic!("{name}: {tensor} has no range"));
    assert_eq!(end - start, t.numel() * itemsize, "{name}: {tensor}");
    let bytes = std::fs::read(fixture(name)).unwrap();
    let got = &bytes[start as usize..end as usize];
    let want: Vec<u8> = (0..end - start).map(|i| storage_byte(key_len, i)).collect();
    assert_eq!(got, want.as_slice(), "{name}: {tensor} bytes");
}

fn meta<'a>(index: &'a TensorIndex, key: &str) -> &'a MetaValue {
    index
        .metadata
        .get(key)
        .unwrap_or_else(|| panic!("no metadata {key}: {:?}", index.metadata))
}

#[test]
fn sniff_claims_torch_files_and_leaves_other_formats_alone() {
    let f = CkptFormat;
    let head = |name: &str| {
        let b = std::fs::read(fixture(name)).unwrap();
        (b[..b.len().min(64)].to_vec(), b.len() as u64)
    };
    let (h, n) = head("state_dict_p2.pt");
    assert_eq!(f.sniff(&h, n, Some("pt")), Sniff::Likely);
    let (h, n) = head("os_system_bare.pkl");
    assert_eq!(f.sniff(&h, n, Some("bin")), Sniff::Likely);
    let (h, n) = head("legacy.pt");
    assert_eq!(f.sniff(&h, n, Some("pt")), Sniff::Magic);
    let (h, n) = head("tar_stub.pt");
    assert_eq!(f.sniff(&h, n, Some("pt")), Sniff::Extension);
    assert_eq!(f.sniff(&h, n, Some("txt")), Sniff::No);
    // A safetensors file named `.bin` whose header length starts with 0x80 0x02 (640 bytes).
    let mut st = vec![0x80, 0x02, 0, 0, 0, 0, 0, 0, b'{'];
    st.resize(64, b' ');
    assert_eq!(f.sniff(&st, 8 + 640, Some("bin")), Sniff::No);
    assert_eq!(
        f.sniff(b"GGUF\x03\x00\x00\x00", 1000, Some("bin")),
        Sniff::No
    );
    assert_eq!(f.name(), "ckpt");
    assert_eq!(f.extensions(), &["ckpt", "pt", "pth", "bin", "pkl", "jit"]);
}

#[test]
fn protocol_2_state_dict() {
    let index = parse("state_dict_p2.pt");
    assert_eq!(index.format, "ckpt");
    assert_eq!(summary(&index), expected_state_dict());
    assert!(index.findings.is_empty(), "{:?}", index.findings);
    assert_eq!(
        meta(&index, "ckpt.container"),
        &MetaValue::Str("zip".into())
    );
    assert_eq!(meta(&index, "ckpt.pickle_protocol"), &MetaValue::UInt(2));
    assert_eq!(
        meta(&index, "ckpt.byteorder"),
        &MetaValue::Str("little".into())
    );
    assert_eq!(
        meta(&index, "ckpt.archive_prefix"),
        &MetaValue::Str("archive".into())
    );
    assert_data("state_dict_p2.pt", &index, "conv.weight", 1, 2);
    assert_data("state_dict_p2.pt", &index, "norm.weight", 1, 2);
    assert_data("state_dict_p2.pt", &index, "norm.num_batches_tracked", 1, 8);
}

#[test]
fn protocols_1_and_4_and_another_prefix_give_the_same_tensors() {
    // Protocol 1 has no PROTO opcode, so it reads as 0 like protocol 0.
    for (name, protocol) in [
        ("state_dict_p1.pt", 0),
        ("state_dict_p4.pt", 4),
        ("prefix_other.pth", 2),
    ] {
        let index = parse(name);
        assert_eq!(summary(&index), expected_state_dict(), "{name}");
        assert!(index.findings.is_empty(), "{name}: {:?}", index.findings);
        assert_eq!(
            meta(&index, "ckpt.pickle_protocol"),
            &MetaValue::UInt(protocol),
            "{name}"
        );
        assert_data(name, &index, "conv.bias", 1, 4);
    }
    let other = parse("prefix_other.pth");
    assert_eq!(
        meta(&other, "ckpt.archive_prefix"),
        &MetaValue::Str("pytorch_model".into())
    );
}

#[test]
fn protocol_0_text_opcodes() {
    let index = parse("plain_p0.pkl");
    assert!(index.tensors.is_empty());
    assert_eq!(meta(&index, "epoch"), &MetaValue::Int(7));
    assert_eq!(meta(&index, "lr"), &MetaValue::Float(0.5));
    assert_eq!(meta(&index, "name"), &MetaValue::Str("x".into()));
    assert!(
        !index.metadata.contains_key("big"),
        "2**70 fits no metadata integer"
    );
    assert_eq!(
        meta(&index, "ckpt.container"),
        &MetaValue::Str("pickle".into())
    );
    assert_eq!(meta(&index, "ckpt.pickle_protocol"), &MetaValue::UInt(0));
}

#[test]
fn lightning_checkpoint_lists_the_inner_state_dict() {
    let index = parse("lightning.ckpt");
    let names: Vec<_> = index.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "model.diffusion_model.input_blocks.0.0.weight",
            "model.diffusion_model.input_blocks.0.0.bias",
            "first_stage_model.encoder.conv_in.weight"
        ]
    );
    assert_eq!(meta(&index, "global_step"), &MetaValue::Int(1234));
    assert_eq!(meta(&index, "epoch"), &MetaValue::Int(3));
    assert_eq!(
        meta(&index, "pytorch-lightning_version"),
        &MetaValue::Str("1.9.0".into())
    );
    assert_eq!(
        meta(&index, "ckpt.state_dict_key"),
        &MetaValue::Str("state_dict".into())
    );
    assert_eq!(index.findings.len(), 1, "{:?}", index.findings);
    assert_eq!(index.findings[0].severity, Severity::Info);
    assert!(
        index.findings[0]
            .message
            .starts_with("1 tensors outside the state dict `state_dict`")
    );
}

#[test]
fn upscaler_checkpoint_prefers_params_ema() {
    let index = parse("upscaler_params_ema.pth");
    assert_eq!(summary(&index), expected_state_dict());
    assert_eq!(
        meta(&index, "ckpt.state_dict_key"),
        &MetaValue::Str("params_ema".into())
    );
    // params_ema's storages are keys 10..14 (two characters), params' are 0..4.
    assert_data("upscaler_params_ema.pth", &index, "conv.weight", 2, 2);
}

#[test]
fn legacy_file_with_storage_offsets() {
    let index = parse("legacy.pt");
    assert_eq!(summary(&index), expected_state_dict());
    assert_eq!(
        meta(&index, "ckpt.container"),
        &MetaValue::Str("legacy".into())
    );
    assert_eq!(
        meta(&index, "ckpt.byteorder"),
        &MetaValue::Str("little".into())
    );
    assert!(index.findings.is_empty(), "{:?}", index.findings);
    for (name, size) in [
        ("conv.weight", 2),
        ("conv.bias", 4),
        ("norm.weight", 2),
        ("norm.num_batches_tracked", 8),
    ] {
        assert_data("legacy.pt", &index, name, 1, size);
    }
}

#[test]
fn rebuild_tensor_v3_float8_and_uint16() {
    let index = parse("float8_v3.pt");
    assert_eq!(
        index
            .tensors
            .iter()
            .map(|t| (t.dtype.clone(), t.shape.clone()))
            .collect::<Vec<_>>(),
        [(Dtype::F8E4M3, vec![2, 8]), (Dtype::U16, vec![2, 4])]
    );
    assert!(index.findings.is_empty(), "{:?}", index.findings);
    assert_data("float8_v3.pt", &index, "w8", 1, 1);
    assert_data("float8_v3.pt", &index, "scale", 1, 2);
}

#[test]
fn tied_weights_share_one_storage() {
    let index = parse("tied.pt");
    let by = |n: &str| {
        index
            .tensors
            .iter()
            .find(|t| t.name == n)
            .unwrap()
            .data
            .unwrap()
    };
    assert_eq!(by("embed.weight"), by("lm_head.weight"));
    assert_eq!(by("tail").0, by("embed.weight").0 + 256);
    assert_eq!(by("tail").1 - by("tail").0, 16);
    assert_eq!(meta(&index, "ckpt.shared_storages"), &MetaValue::UInt(1));
    assert_eq!(index.findings.len(), 1);
    assert_eq!(index.findings[0].severity, Severity::Info);
    assert!(
        index.findings[0]
            .message
            .contains("storage 0: embed.weight, lm_head.weight, tail"),
        "{}",
        index.findings[0].message
    );
}

const MARKER: &str = "/tmp/mir-ckpt-pwned-marker";

#[test]
fn os_system_payload_is_reported_and_never_runs() {
    let _ = std::fs::remove_file(MARKER);
    let raw = std::fs::read(fixture("os_system.pt")).unwrap();
    let needle = format!("touch {MARKER}");
    assert!(
        raw.windows(needle.len()).any(|w| w == needle.as_bytes()),
        "the fixture must carry the real command"
    );
    let index = parse("os_system.pt");
    assert!(!std::path::Path::new(MARKER).exists(), "the payload ran");
    assert_eq!(
        summary(&index),
        expected_state_dict(),
        "tensors are still listed"
    );
    assert!(
        index
            .findings
            .iter()
            .any(|f| f.severity == Severity::Unsafe
                && f.message == "global posix.system in data.pkl"),
        "{:?}",
        index.findings
    );

    let legacy = parse("os_system_legacy_keys.pt");
    assert!(!std::path::Path::new(MARKER).exists(), "the payload ran");
    assert_eq!(summary(&legacy), expected_state_dict());
    assert_eq!(legacy.findings.len(), 1, "{:?}", legacy.findings);
    assert_eq!(legacy.findings[0].severity, Severity::Unsafe);
    assert_eq!(
        legacy.findings[0].message,
        "global posix.system in the legacy storage-key pickle"
    );

    let bare = parse("os_system_bare.pkl");
    assert!(!std::path::Path::new(MARKER).exists(), "the payload ran");
    assert!(bare.tensors.is_empty());
    // The payload, then (informational) why there are no tensors.
    assert_eq!(bare.findings.len(), 2, "{:?}", bare.findings);
    assert_eq!(
        bare.findings[1].message,
        "no tensors found: the root of the pickle is an object built by posix.system, which this reader does not understand"
    );
    assert_eq!(bare.findings[0].severity, Severity::Unsafe);
    assert_eq!(
        bare.findings[0].message,
        "global posix.system in the pickle"
    );
}

#[test]
fn memo_bomb_is_walked_once_per_shared_value() {
    // Lists of references to the previous list, 40 levels: 2^40 paths as a tree, but each shared
    // list holds no tensor, so it is walked once (issue 17, items 10 and 16).
    let index = parse("memo_bomb.pt");
    assert!(index.tensors.is_empty());
    assert!(
        index
            .findings
            .iter()
            .any(|f| f.message.contains("nested deeper than 16 levels")),
        "{:?}",
        index.findings
    );
}

#[test]
fn zip_bomb_declared_over_the_cap() {
    let limits = Limits {
        max_header_bytes: 1_000_000,
        ..Limits::default()
    };
    let (what, value, limit) = limit_error("zip_bomb.pt", &limits);
    assert_eq!(what, "data.pkl size");
    assert!(value > 8_000_000, "{value}");
    assert_eq!(limit, 1_000_000);
}

#[test]
fn zip_bomb_inflating_past_its_declared_size() {
    match ckpt_error("zip_bomb_lying.pt", &Limits::default()) {
        CkptError::InflatedPastDeclared { declared } => assert_eq!(declared, 1000),
        other => panic!("{other:?}"),
    }
}

#[test]
fn deep_nesting_is_reported_and_the_rest_listed() {
    let index = parse("deep_nesting.pt");
    assert_eq!(
        summary(&index),
        [("w".to_owned(), "F32".to_owned(), vec![4])]
    );
    assert_eq!(index.findings.len(), 1);
    assert_eq!(index.findings[0].severity, Severity::Suspicious);
    assert!(
        index.findings[0]
            .message
            .contains("nested deeper than 16 levels")
    );
}

#[test]
fn deep_stack_hits_the_stack_limit() {
    let limits = Limits {
        max_pickle_stack: 1000,
        ..Limits::default()
    };
    assert_eq!(
        limit_error("deep_stack.pkl", &limits),
        ("pickle stack depth", 1001, 1000)
    );
    // Within the default limit the same stream is harmless.
    assert!(parse("deep_stack.pkl").tensors.is_empty());
}

#[test]
fn truncated_files() {
    assert!(matches!(
        ckpt_error("truncated_zip.pt", &Limits::default()),
        CkptError::Zip(_)
    ));
    assert!(matches!(
        ckpt_error("truncated_data_pkl.pt", &Limits::default()),
        CkptError::PickleEnd {
            stream: "data.pkl",
            ..
        }
    ));
    assert!(matches!(
        ckpt_error("truncated_legacy.pt", &Limits::default()),
        CkptError::PickleEnd { stream: "legacy object", offset } if offset > 0
    ));
}

#[test]
fn every_prefix_of_real_files_fails_cleanly() {
    for name in [
        "state_dict_p2.pt",
        "state_dict_p4.pt",
        "legacy.pt",
        "lightning.ckpt",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        for cut in 0..bytes.len() {
            let src = Source::from_bytes(name, bytes[..cut].to_vec());
            // Any result but a panic is acceptable; the legacy file still lists its tensors
            // when only storage bytes are missing.
            let _ = CkptFormat.parse(&src, &Limits::default());
        }
    }
}

#[test]
fn tar_format_is_refused_clearly() {
    let e = ckpt_error("tar_stub.pt", &Limits::default());
    assert!(matches!(e, CkptError::TarFormat));
    assert!(
        e.to_string()
            .starts_with("tar-format torch checkpoints are not supported")
    );
}

#[test]
fn torchscript_archive_is_flagged() {
    let index = parse("torchscript.pt");
    assert_eq!(summary(&index), expected_state_dict());
    assert_eq!(index.findings.len(), 1);
    // The expected format of torch.jit.save: informational (issue 17, item 17).
    assert_eq!(index.findings[0].severity, Severity::Info);
    assert!(index.findings[0].message.starts_with("torchscript archive"));
}

#[test]
fn one_test_per_error_variant() {
    let d = Limits::default();
    assert!(matches!(
        ckpt_error("not_torch.zip", &d),
        CkptError::NoDataPkl
    ));
    // Two data.pkl folders: both analysed, the first folder's read, the file flagged.
    let two = parse("two_data_pkl.pt");
    assert_eq!(two.findings.len(), 1, "{:?}", two.findings);
    assert_eq!(two.findings[0].severity, Severity::Suspicious);
    assert!(
        two.findings[0].message.starts_with(
            "zip archive holds 2 data.pkl candidates (archive/data.pkl, other/data.pkl)"
        )
    );
    match ckpt_error("legacy_bad_protocol.pt", &d) {
        CkptError::LegacyProtocol { found } => assert_eq!(found, "1000"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ckpt_error("bad_opcode.pkl", &d),
        CkptError::UnknownOpcode {
            opcode: 0xff,
            offset: 2,
            ..
        }
    ));
    assert!(matches!(
        ckpt_error("stack_underflow.pkl", &d),
        CkptError::MalformedPickle {
            problem: "stack underflow",
            offset: 2,
            ..
        }
    ));
    let src = Source::from_bytes("x.pt", b"hello, not a checkpoint".to_vec());
    let e = CkptFormat.parse(&src, &d).unwrap_err();
    assert!(matches!(
        e.downcast_format::<CkptError>(),
        Some(CkptError::NotACheckpoint)
    ));
}

#[test]
fn limits_are_enforced() {
    let with = |f: fn(&mut Limits)| {
        let mut l = Limits::default();
        f(&mut l);
        l
    };
    assert_eq!(
        limit_error("state_dict_p2.pt", &with(|l| l.max_zip_entries = 3)),
        ("zip entry count", 8, 3)
    );
    assert_eq!(
        limit_error("state_dict_p2.pt", &with(|l| l.max_pickle_ops = 10)),
        ("pickle opcode count", 11, 10)
    );
    assert_eq!(
        limit_error("state_dict_p2.pt", &with(|l| l.max_pickle_items = 10)).0,
        "pickle memory in bytes"
    );
    assert_eq!(
        limit_error("state_dict_p2.pt", &with(|l| l.max_tensors = 2)),
        ("tensor count", 3, 2)
    );
    assert_eq!(
        limit_error("state_dict_p2.pt", &with(|l| l.max_rank = 3)),
        ("tensor rank", 4, 3)
    );
    assert_eq!(
        limit_error("state_dict_p2.pt", &with(|l| l.max_name_bytes = 5)).0,
        "global name length"
    );
}

#[test]
fn damaged_storages_are_findings_and_names_stay_listed() {
    let index = parse("bad_storage.pt");
    let names: Vec<_> = index
        .tensors
        .iter()
        .map(|t| (t.name.as_str(), t.data.is_some()))
        .collect();
    assert_eq!(
        names,
        [("short", false), ("missing", false), ("fine", true)]
    );
    let messages: Vec<_> = index
        .findings
        .iter()
        .map(|f| (f.severity, f.message.as_str()))
        .collect();
    assert_eq!(
        messages,
        [
            (
                Severity::Suspicious,
                "tensor short needs 16 bytes of storage 0 which holds 8"
            ),
            (
                Severity::Suspicious,
                "tensor missing: storage 1 is missing from the file"
            ),
            (
                Severity::Suspicious,
                "storage 0 declares 16 bytes but the file holds 8"
            ),
        ]
    );
}

fn parse_bytes(bytes: &[u8]) -> Result<TensorIndex, Error> {
    CkptFormat.parse(
        &Source::from_bytes("mem.pkl", bytes.to_vec()),
        &Limits::default(),
    )
}

#[test]
fn a_long_list_of_numbers_is_not_mistaken_for_a_memo_bomb() {
    // `{"loss": [0, 1, …, 4999]}` built with APPENDS: one list node, 5,000 inline items.
    let mut p = b"\x80\x02}X\x04\x00\x00\x00loss](".to_vec();
    for i in 0..5000u16 {
        p.push(b'M');
        p.extend_from_slice(&i.to_le_bytes());
    }
    p.extend_from_slice(b"es.");
    let index = parse_bytes(&p).unwrap();
    assert!(index.findings.is_empty(), "{:?}", index.findings);
}

#[test]
fn a_list_that_contains_itself_ends_at_the_depth_limit() {
    // EMPTY_LIST, BINPUT 0, BINGET 0, APPEND: `l = []; l.append(l)`.
    let index = parse_bytes(b"\x80\x02]q\x00h\x00a.").unwrap();
    assert!(index.tensors.is_empty());
    assert_eq!(index.findings.len(), 1);
    assert!(
        index.findings[0]
            .message
            .contains("nested deeper than 16 levels")
    );
}

#[test]
fn unknown_globals_are_suspicious_and_stack_global_is_tracked() {
    // GLOBAL __main__.Net, then NEWOBJ: a whole pickled model class.
    let index = parse_bytes(b"\x80\x02c__main__\nNet\n)\x81.").unwrap();
    assert_eq!(index.findings.len(), 2, "{:?}", index.findings);
    assert!(index.findings[1].message.starts_with("no tensors found"));
    assert_eq!(index.findings[0].severity, Severity::Suspicious);
    assert_eq!(
        index.findings[0].message,
        "global __main__.Net in the pickle"
    );
    // STACK_GLOBAL with both names fetched from the memo: `builtins.eval` is still seen.
    let index =
        parse_bytes(b"\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94h\x00h\x01\x93\x8c\x011\x85R.")
            .unwrap();
    assert_eq!(index.findings.len(), 2, "{:?}", index.findings);
    assert_eq!(index.findings[0].severity, Severity::Unsafe);
    assert_eq!(
        index.findings[0].message,
        "global builtins.eval in the pickle"
    );
}

#[test]
fn repeated_findings_are_capped_with_a_summary() {
    // Twelve distinct unknown globals: eight listed, then one summary line.
    let mut p = b"\x80\x02".to_vec();
    for i in 0..12 {
        p.extend_from_slice(format!("cm{i}\nf\n0").as_bytes());
    }
    p.extend_from_slice(b"N.");
    let index = parse_bytes(&p).unwrap();
    assert_eq!(index.findings.len(), 9);
    assert_eq!(
        index.findings[8].message,
        "4 more findings of kind \"global\""
    );
    assert_eq!(index.findings[8].severity, Severity::Suspicious);
}

#[test]
fn tensor_subclasses_and_meta_tensors() {
    let index = parse("subclass_meta.pt");
    assert_eq!(
        summary(&index),
        [
            ("sub".to_owned(), "F32".to_owned(), vec![2, 3]),
            ("meta".to_owned(), "F16".to_owned(), vec![3, 5]),
        ]
    );
    assert!(index.findings.is_empty(), "{:?}", index.findings);
    assert_data("subclass_meta.pt", &index, "sub", 1, 4);
    assert_eq!(index.tensors[1].data, None, "a meta tensor has no bytes");
}

#[test]
fn corrupted_bytes_never_panic() {
    // Deterministic byte flips (a linear congruential generator) over every fixture.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        seed >> 33
    };
    let dir = fixture("");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "py"))
        // The zip bombs inflate 8 MB per attempt; their own tests cover them.
        .filter(|p| !p.to_string_lossy().contains("zip_bomb"))
        .collect();
    files.sort();
    assert!(files.len() > 20);
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        for _ in 0..100 {
            let mut b = bytes.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % b.len();
                b[at] = next() as u8;
            }
            let src = Source::from_bytes(path.file_name().unwrap(), b);
            let _ = CkptFormat.parse(&src, &Limits::default());
        }
    }
}
