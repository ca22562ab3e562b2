//! A plugin that panics or reports garbage must not take the host down, and each kind of garbage
//! gets its own specific error.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]

mod common;

use std::sync::OnceLock;

use mir_core::{Dtype, Format, Limits, Severity, Sniff, Source, TensorIndex};
use mir_plugin_host::{Error, LoadedPlugin};

fn hostile() -> &'static LoadedPlugin {
    static P: OnceLock<LoadedPlugin> = OnceLock::new();
    P.get_or_init(|| LoadedPlugin::load(common::rust_plugin("mir-test-hostile")).unwrap())
}

/// Runs the hostile plugin with `command` on a 64-byte file.
fn run(command: &str, limits: &Limits) -> Result<TensorIndex, Error> {
    let mut bytes = format!("HOSTILE:{command}").into_bytes();
    bytes.resize(64, b' ');
    hostile().parse_source(&Source::from_bytes("f.hostile", bytes), limits)
}

fn err(command: &str) -> Error {
    run(command, &Limits::default()).unwrap_err()
}

#[test]
fn a_well_behaved_run_is_accepted() {
    let index = run("ok", &Limits::default()).unwrap();
    assert_eq!(index.format, "hostile");
    assert_eq!(index.tensors[0].name, "a.weight");
    assert_eq!(index.tensors[0].dtype, Dtype::BF16);
    assert_eq!(index.tensors[0].shape, vec![2, 3]);
    assert_eq!(index.tensors[0].data, Some((0, 12)));
    assert_eq!(index.tensors[1].dtype, Dtype::Other("Q4_K".into()));
    assert_eq!(index.meta_str("hostile.mood"), Some("calm"));
    assert_eq!(index.findings[0].severity, Severity::Suspicious);
}

#[test]
fn a_panic_is_an_error_and_the_host_carries_on() {
    match err("panic") {
        Error::Panicked { message, .. } => {
            assert!(message.contains("panics on purpose"), "{message}")
        }
        other => panic!("unexpected {other:?}"),
    }
    // The same plugin still works afterwards.
    assert!(run("ok", &Limits::default()).is_ok());
    // A panic in sniff answers "not mine".
    let head = b"HOSTILE:panic-in-sniff";
    assert_eq!(hostile().sniff(head, 64, Some("hostile")), Sniff::No);
    assert_eq!(hostile().sniff(b"HOSTILE:ok", 64, None), Sniff::Magic);
}

#[test]
fn bad_utf8_is_refused() {
    assert!(matches!(
        err("utf8"),
        Error::BadString {
            what: "tensor name",
            problem: "not UTF-8",
            ..
        }
    ));
    assert!(matches!(
        err("meta"),
        Error::BadString {
            what: "metadata value",
            problem: "not UTF-8",
            ..
        }
    ));
}

#[test]
fn a_huge_rank_is_refused_before_the_dimensions_are_read() {
    assert!(matches!(
        err("rank"),
        Error::RankTooLarge {
            rank: 1000,
            limit: 8,
            ..
        }
    ));
}

#[test]
fn overflowing_dimensions_are_refused() {
    match err("dims") {
        Error::DimsOverflow { tensor, dims, .. } => {
            assert_eq!(tensor, "t");
            assert_eq!(dims, vec![u64::MAX, 3]);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn ranges_past_the_end_or_too_short_are_refused() {
    assert!(matches!(
        err("eof"),
        Error::RangeOutsideFile {
            start: 0,
            end: 164,
            file_len: 64,
            ..
        }
    ));
    assert!(matches!(
        err("short"),
        Error::RangeTooShort {
            needed: 4000,
            len: 8,
            ..
        }
    ));
}

#[test]
fn absurd_counts_stop_at_the_limit() {
    let limits = Limits {
        max_tensors: 100,
        ..Limits::default()
    };
    assert!(matches!(
        run("count", &limits),
        Err(Error::TooMany {
            what: "tensors",
            limit: 100,
            ..
        })
    ));
}

#[test]
fn long_names_null_pointers_duplicates_and_bad_severities_are_refused() {
    assert!(matches!(
        err("name"),
        Error::TooLong {
            what: "tensor name",
            len: 100_000,
            limit: 4096,
            ..
        }
    ));
    assert!(matches!(
        err("null"),
        Error::NullPointer {
            what: "tensor name",
            ..
        }
    ));
    assert!(matches!(err("dup"), Error::DuplicateTensor { tensor, .. } if tensor == "same"));
    assert!(matches!(
        err("severity"),
        Error::BadSeverity { value: 9, .. }
    ));
}

#[test]
fn reading_past_the_budget_is_refused() {
    let limits = Limits {
        max_header_bytes: 10_000,
        ..Limits::default()
    };
    assert!(matches!(
        run("read", &limits),
        Err(Error::ReadBudget { limit: 10_000, .. })
    ));
}

#[test]
fn output_past_the_byte_budget_is_refused() {
    let limits = Limits {
        max_header_bytes: 1000,
        ..Limits::default()
    };
    // A million small tensor names add up to more than 1000 bytes long before the count limit.
    assert!(matches!(
        run("count", &limits),
        Err(Error::TooMany {
            what: "bytes of names and values",
            limit: 1000,
            ..
        })
    ));
}

#[test]
fn plugin_failures_keep_their_code_and_message() {
    match err("fail") {
        Error::Failed { code, message, .. } => {
            assert_eq!(code, mir_plugin_abi::status::FORMAT);
            assert_eq!(message, "this file is not to my liking");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(err("nonsense"), Error::Failed { code: 3, .. }));
}

#[test]
fn through_the_format_trait_errors_are_wrapped_with_the_plugin_name() {
    let mut bytes = b"HOSTILE:dup".to_vec();
    bytes.resize(64, b' ');
    let e = Format::parse(
        hostile(),
        &Source::from_bytes("f.hostile", bytes),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(
        e,
        mir_core::Error::Format {
            format: "hostile",
            ..
        }
    ));
    assert!(matches!(
        e.downcast_format::<Error>(),
        Some(Error::DuplicateTensor { .. })
    ));
}

#[test]
fn a_file_that_shrinks_under_the_plugin_is_a_truncation_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.hostile");
    let mut bytes = b"HOSTILE:ok".to_vec();
    bytes.resize(64, b' ');
    std::fs::write(&path, &bytes).unwrap();
    let src = Source::open(&path).unwrap();
    std::fs::write(&path, b"HOSTILE").unwrap();
    let e = Format::parse(hostile(), &src, &Limits::default()).unwrap_err();
    assert!(matches!(e, mir_core::Error::Truncated { .. }), "{e:?}");
}
