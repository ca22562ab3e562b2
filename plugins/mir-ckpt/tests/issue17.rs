//! Regression tests for issue 17 ("Safe under attack, right on real files"), one per item, on
//! the hostile files of `fixtures/hostile/ckpt` (written by `cargo xtask fixtures`) and the real
//! torch files of `fixtures/ckpt/real` (written by `xtask/ckpt-fixtures/make_real.py`).

use std::path::PathBuf;

use mir_ckpt::{CkptError, CkptFormat, findings_of};
use mir_core::{Error, Format, Limits, Severity, Source, TensorIndex};

fn path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(rel)
}

fn parse_with(rel: &str, limits: &Limits) -> Result<TensorIndex, Error> {
    CkptFormat.parse(&Source::open(path(rel)).unwrap(), limits)
}

fn parse(rel: &str) -> TensorIndex {
    parse_with(rel, &Limits::default()).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn messages(index: &TensorIndex, severity: Severity) -> Vec<&str> {
    index
        .findings
        .iter()
        .filter(|f| f.severity == severity)
        .map(|f| f.message.as_str())
        .collect()
}

fn names(index: &TensorIndex) -> Vec<&str> {
    index.tensors.iter().map(|t| t.name.as_str()).collect()
}

#[test]
fn item_1_the_cap_never_drops_an_unsafe_finding() {
    let index = parse("hostile/ckpt/cap_hides_unsafe.pkl");
    assert_eq!(
        messages(&index, Severity::Unsafe),
        ["global posix.system in the pickle"]
    );
    // Most severe first, then eight suspicious, then the summary of the ninth.
    assert_eq!(index.findings[0].severity, Severity::Unsafe);
    let last = index.findings.last().unwrap();
    assert_eq!(last.message, "1 more findings of kind \"global\"");
    assert_eq!(last.severity, Severity::Suspicious);
    assert_eq!(index.findings.len(), 10);
}

#[test]
fn item_1_many_unsafe_globals_are_all_listed() {
    let mut p = b"\x80\x02".to_vec();
    for i in 0..12 {
        p.extend_from_slice(format!("cos\nf{i}\n0").as_bytes());
    }
    for i in 0..12 {
        p.extend_from_slice(format!("cm{i}\nf\n0").as_bytes());
    }
    p.extend_from_slice(b"N.");
    let index = CkptFormat
        .parse(&Source::from_bytes("x.pkl", p), &Limits::default())
        .unwrap();
    assert_eq!(messages(&index, Severity::Unsafe).len(), 12);
    assert_eq!(
        index.findings.last().unwrap().message,
        "4 more findings of kind \"global\""
    );
}

#[test]
fn item_2_the_legacy_magic_number_pickle_is_analysed() {
    let index = parse("hostile/ckpt/legacy_magic_payload.pt");
    assert_eq!(names(&index), ["w"]);
    assert_eq!(
        messages(&index, Severity::Unsafe),
        ["global posix.system in the legacy magic-number pickle"]
    );
}

#[test]
fn item_3_dotted_names_resolve_like_find_class() {
    for (file, global, target) in [
        ("glob_os_system", "glob.os.system", "os.system"),
        ("tempfile_os_system", "tempfile._os.system", "os.system"),
        ("shlex_os_system", "shlex.os.system", "os.system"),
    ] {
        let index = parse(&format!("hostile/ckpt/dotted_{file}.pkl"));
        assert_eq!(
            messages(&index, Severity::Unsafe),
            [format!("global {global} in the pickle (resolves to {target})").as_str()],
            "{file}"
        );
    }
    // A dotted name that leads nowhere dangerous stays suspicious, and resolves to nothing.
    let p = b"\x80\x04\x8c\x0bcollections\x8c\x16OrderedDict.fromkeys.x\x93N\x85R.";
    let index = CkptFormat
        .parse(&Source::from_bytes("x.pkl", p.to_vec()), &Limits::default())
        .unwrap();
    assert_eq!(
        messages(&index, Severity::Suspicious),
        ["global collections.OrderedDict.fromkeys.x in the pickle"]
    );
}

#[test]
fn item_4_findings_before_a_parse_error_stay_beside_it() {
    for (file, error) in [
        (
            "payload_then_bad_opcode.pkl",
            "ckpt: unknown pickle opcode 0xff at byte 28 of the file's first pickle",
        ),
        (
            "payload_no_stop.pkl",
            "ckpt: the file's first pickle ends at byte 28 before its STOP opcode",
        ),
        (
            "payload_no_mark.pkl",
            "ckpt: malformed pickle at byte 28 of the file's first pickle: no MARK on the stack",
        ),
    ] {
        let e = parse_with(&format!("hostile/ckpt/{file}"), &Limits::default()).unwrap_err();
        assert_eq!(e.to_string(), error);
        let found = findings_of(&e);
        assert_eq!(found.len(), 1, "{file}: {found:?}");
        assert_eq!(found[0].severity, Severity::Unsafe);
        assert_eq!(found[0].message, "global posix.system in the pickle");
    }
    // No payload: the plain error, no wrapper.
    let e = CkptFormat
        .parse(
            &Source::from_bytes("x.pkl", b"\x80\x02\xff".to_vec()),
            &Limits::default(),
        )
        .unwrap_err();
    assert!(matches!(
        e.downcast_format::<CkptError>(),
        Some(CkptError::UnknownOpcode { .. })
    ));
    assert!(findings_of(&e).is_empty());
}

#[test]
fn item_4_a_tar_checkpoint_is_analysed_for_globals() {
    let e = parse_with("hostile/ckpt/tar_payload.pt", &Limits::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("tar-format torch checkpoints are not supported")
    );
    let found = findings_of(&e);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].severity, Severity::Unsafe);
    assert_eq!(
        found[0].message,
        "global posix.system in the tar member pickle"
    );
}

#[test]
fn item_5_every_data_pkl_candidate_is_analysed_and_flagged() {
    let two = parse("hostile/ckpt/zip_two_data_pkl.pt");
    assert_eq!(
        names(&two),
        ["w"],
        "the first one is read as the checkpoint"
    );
    assert_eq!(
        messages(&two, Severity::Unsafe),
        ["global posix.system in archive/data.pkl"]
    );
    assert!(
        messages(&two, Severity::Suspicious)
            .iter()
            .any(|m| m.starts_with("zip archive holds 2 data.pkl candidates")),
        "{:?}",
        two.findings
    );
    let upper = parse("hostile/ckpt/zip_upper_case_data_pkl.pt");
    assert_eq!(
        messages(&upper, Severity::Unsafe),
        ["global posix.system in data.pkl"]
    );
    assert!(
        messages(&upper, Severity::Suspicious)
            .iter()
            .any(|m| m.contains("(archive/DATA.PKL)")),
        "{:?}",
        upper.findings
    );
}

fn limit(rel: &str, limits: &Limits) -> (&'static str, u64, u64) {
    match parse_with(rel, limits) {
        Err(Error::LimitExceeded { what, value, limit }) => (what, value, limit),
        other => panic!("{rel}: expected a limit error, got {other:?}"),
    }
}

#[test]
fn item_7_memory_bombs_are_charged_before_they_allocate() {
    // LONG_BINPUT memo growth: read, and cheap (see xtask/tests/bounded.rs for the ceiling).
    for f in ["memo_binput_dense.pkl", "memo_binput_sparse.pkl"] {
        let index = parse(&format!("hostile/ckpt/{f}"));
        assert!(index.findings.is_empty(), "{f}: {:?}", index.findings);
    }
    // With a small budget, the memo itself is what is refused.
    let tight = Limits {
        max_pickle_items: 20_000,
        ..Limits::default()
    };
    assert_eq!(
        limit("hostile/ckpt/memo_binput_sparse.pkl", &tight).0,
        "pickle memory in bytes"
    );
    // One string shared as 60 values: copied until max_string_bytes, the rest reported.
    let shared = parse("hostile/ckpt/shared_string_metadata.pt");
    let copied = shared
        .metadata
        .keys()
        .filter(|k| !k.starts_with("ckpt."))
        .count();
    assert_eq!(copied, 3, "three 16 MiB copies fit 64 MiB");
    assert_eq!(
        messages(&shared, Severity::Suspicious),
        [
            "57 string values at the root were not copied into the metadata: together they are over 67108864 bytes"
        ]
    );
    // The arena: refused by the memory budget.
    assert_eq!(
        limit("hostile/ckpt/arena_blowup.pt", &Limits::default()),
        ("pickle memory in bytes", 402_653_184, 240_000_000)
    );
    // 100 paths under one 16 MiB key: the name check comes before any copy.
    assert_eq!(
        limit("hostile/ckpt/tensor_paths_16mib.pt", &Limits::default()),
        ("tensor name length", 16_777_218, 4096)
    );
}

#[test]
fn item_10_shared_tensors_stop_at_the_tensor_limit_and_a_stray_end_record_is_seen() {
    assert_eq!(
        limit("hostile/ckpt/shared_tensor_bomb.pt", &Limits::default()),
        ("tensor count", 250_001, 250_000)
    );
    // The real end record declares 42 entries; a stray one after it declares 1.
    let tight = Limits {
        max_zip_entries: 10,
        ..Limits::default()
    };
    assert_eq!(
        limit("hostile/ckpt/zip_stray_eocd.pt", &tight),
        ("zip entry count", 42, 10)
    );
}

#[test]
fn item_10_the_walk_is_linear_in_shared_values_without_tensors() {
    // 60 levels of dicts, each holding the level below under 4 keys of 60 KB: 4^60 paths as a
    // tree, 60 dicts as a graph. Before, every visit copied the 60 KB key.
    let key = vec![b'k'; 60_000];
    let mut p = b"\x80\x02N".to_vec();
    p.extend_from_slice(b"r\0\0\0\0");
    for level in 1..=60u32 {
        p.extend_from_slice(b"}(");
        for k in 0..4u8 {
            p.push(b'X');
            p.extend_from_slice(&(key.len() as u32 + 1).to_le_bytes());
            p.extend_from_slice(&key);
            p.push(b'0' + k);
            p.push(b'j');
            p.extend_from_slice(&(level - 1).to_le_bytes());
        }
        p.push(b'u');
        p.push(b'r');
        p.extend_from_slice(&level.to_le_bytes());
    }
    p.push(b'.');
    let start = std::time::Instant::now();
    let index = CkptFormat
        .parse(&Source::from_bytes("x.pkl", p), &Limits::default())
        .unwrap();
    assert!(index.tensors.is_empty());
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
}

#[test]
fn item_15_python_2_ordered_dict_through_reduce_is_read() {
    let index = parse("hostile/ckpt/py2_ordered_dict_reduce.pth");
    assert_eq!(
        names(&index),
        ["net.lin0.model.1.weight", "net.lin1.model.1.weight"]
    );
    assert!(
        index
            .tensors
            .iter()
            .all(|t| t.shape == [4] && t.data.is_some())
    );
    assert!(index.findings.is_empty(), "{:?}", index.findings);
}

#[test]
fn item_15_a_root_that_is_not_understood_says_so() {
    let index = parse("hostile/ckpt/root_not_understood.pkl");
    assert!(index.tensors.is_empty());
    assert_eq!(
        messages(&index, Severity::Info),
        [
            "no tensors found: the root of the pickle is an object built by mymodule.Model, which this reader does not understand"
        ]
    );
    // An empty state dict is no mystery: no such finding.
    let index = CkptFormat
        .parse(
            &Source::from_bytes("x.pkl", b"\x80\x02}.".to_vec()),
            &Limits::default(),
        )
        .unwrap();
    assert!(index.findings.is_empty());
}

/// The real torch files: what torch 2.x writes is read right.
fn real(name: &str) -> TensorIndex {
    parse(&format!("ckpt/real/{name}"))
}

const TINY: [&str; 9] = [
    "conv.weight",
    "conv.bias",
    "norm.weight",
    "norm.bias",
    "norm.running_mean",
    "norm.running_var",
    "norm.num_batches_tracked",
    "fc.weight",
    "fc.bias",
];

#[test]
fn real_torch_save_files_default_protocol_4_and_legacy() {
    for name in [
        "state_dict_default.pt",
        "state_dict_p4.pt",
        "state_dict_legacy_p2.pt",
    ] {
        let index = real(name);
        assert_eq!(names(&index), TINY, "{name}");
        assert!(index.findings.is_empty(), "{name}: {:?}", index.findings);
        assert!(index.tensors.iter().all(|t| t.data.is_some()), "{name}");
    }
}

#[test]
fn item_16_real_lightning_style_checkpoint_with_shared_values_is_read() {
    let index = real("lightning_style.ckpt");
    let want: Vec<String> = TINY.iter().map(|n| format!("model.{n}")).collect();
    assert_eq!(names(&index), want);
    assert!(matches!(
        index.metadata.get("ckpt.state_dict_key"),
        Some(mir_core::MetaValue::Str(k)) if k == "state_dict"
    ));
    assert!(matches!(
        index.metadata.get("global_step"),
        Some(mir_core::MetaValue::Int(1200))
    ));
    // The optimizer's moments are outside the state dict, and counted.
    assert!(
        messages(&index, Severity::Info)
            .iter()
            .any(|m| m.ends_with("tensors outside the state dict `state_dict` are not listed")),
        "{:?}",
        index.findings
    );
    assert!(messages(&index, Severity::Suspicious).is_empty());
}

#[test]
fn item_17_torchscript_files_are_read_and_their_classes_expected() {
    for name in ["tiny_script.jit", "tiny_script.pt"] {
        let index = real(name);
        assert_eq!(names(&index), TINY, "{name}");
        assert!(
            index.findings.iter().all(|f| f.severity == Severity::Info),
            "{name}: {:?}",
            index.findings
        );
        assert!(
            messages(&index, Severity::Info)
                .iter()
                .any(|m| m.contains("TorchScript classes and builders")),
            "{name}: {:?}",
            index.findings
        );
    }
    let traced = real("traced_constant.pt");
    assert_eq!(names(&traced), ["fc.weight", "fc.bias", "constants.0"]);
    let c = traced.tensors.last().unwrap();
    assert_eq!(c.shape, [2]);
    assert!(c.data.is_some());
    // `mir scan` looks at `.jit` files.
    assert!(CkptFormat.extensions().contains(&"jit"));
    // The same classes outside a TorchScript archive are still suspicious.
    let p = b"\x80\x02c__torch__.Tiny\nTiny\n)\x81.";
    let index = CkptFormat
        .parse(&Source::from_bytes("x.pkl", p.to_vec()), &Limits::default())
        .unwrap();
    assert_eq!(
        messages(&index, Severity::Suspicious),
        ["global __torch__.Tiny.Tiny in the pickle"]
    );
}

#[test]
fn item_10_a_big_list_reached_along_many_paths_is_bounded_by_the_walk_budget() {
    // L = [0, 1, …, 99_999 (inline ints), tensor]; then 12 levels of (L, L) mean 2^12 walks of
    // L's 100k items. The walk stops at its step budget (max_pickle_items) instead of running for
    // hours; with a small budget, quickly.
    let mut p = b"\x80\x02](".to_vec();
    for i in 0..100_000u32 {
        p.push(b'J');
        p.extend_from_slice(&i.to_le_bytes());
    }
    p.extend_from_slice(
        b"ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQK\x00K\x04\x85K\x01\x85\x89)tR",
    );
    p.extend_from_slice(b"er\0\0\0\0");
    for level in 1..=12u32 {
        p.push(b'j');
        p.extend_from_slice(&(level - 1).to_le_bytes());
        p.push(b'j');
        p.extend_from_slice(&(level - 1).to_le_bytes());
        p.extend_from_slice(b"\x86r");
        p.extend_from_slice(&level.to_le_bytes());
    }
    p.push(b'.');
    let limits = Limits {
        max_pickle_items: 2_000_000,
        ..Limits::default()
    };
    let start = std::time::Instant::now();
    let e = CkptFormat
        .parse(&Source::from_bytes("x.pkl", p), &limits)
        .unwrap_err();
    assert!(
        matches!(e, Error::LimitExceeded { what, .. } if what.starts_with("pickle walk")),
        "{e}"
    );
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
}

#[test]
fn item_10_a_value_cut_at_the_depth_limit_is_searched_again_when_reached_higher() {
    // The same dict (holding a tensor 3 levels down) reached first 15 levels deep, then at the
    // root's next key: the second path must still list its tensor.
    let mut p = b"\x80\x02".to_vec();
    // inner = {"a": {"b": {"c": tensor}}}, memo 0, popped.
    p.extend_from_slice(b"}X\x01\x00\x00\x00a}X\x01\x00\x00\x00b}X\x01\x00\x00\x00c");
    p.extend_from_slice(
        b"ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQK\x00K\x04\x85K\x01\x85\x89)tR",
    );
    p.extend_from_slice(b"sssr\0\0\0\x000");
    // root = {"deep": [[…[inner]…]] (14 lists), "top": inner}, in that order (SETITEMS).
    p.extend_from_slice(b"}(X\x04\x00\x00\x00deep");
    p.extend(std::iter::repeat_n(b'(', 14));
    p.extend_from_slice(b"j\0\0\0\0");
    p.extend(std::iter::repeat_n(b'l', 14));
    p.extend_from_slice(b"X\x03\x00\x00\x00topj\0\0\0\0u.");
    let index = CkptFormat
        .parse(&Source::from_bytes("x.pkl", p), &Limits::default())
        .unwrap();
    assert!(
        names(&index).contains(&"top.a.b.c"),
        "{:?} {:?}",
        names(&index),
        index.findings
    );
}
