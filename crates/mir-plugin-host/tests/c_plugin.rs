//! A plugin written in C against `include/mir_plugin.h`: it loads and parses, its header matches
//! the Rust layout, and broken variants (wrong ABI version, short table, no entry symbol, null
//! table, bad name) are refused with specific errors.
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]

mod common;

use std::mem::{offset_of, size_of};

use mir_core::{Dtype, FormatRegistry, Limits, Source};
use mir_plugin_abi::{HostApiV1, MirStr, PluginVTableV1};
use mir_plugin_host::{Error, LoadedPlugin};

fn toy_file(n: u32) -> Vec<u8> {
    let mut v = b"TOY1".to_vec();
    v.extend(n.to_le_bytes());
    v.extend(std::iter::repeat_n(0u8, 4 * n as usize));
    v
}

#[test]
fn a_c_plugin_loads_and_parses() {
    let plugin = std::sync::Arc::new(LoadedPlugin::load(common::c_plugin("good", &[])).unwrap());
    let info = plugin.describe();
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("toy", "1.0.0-c")
    );
    assert_eq!(info.extensions, vec!["toy"]);
    let mut reg = FormatRegistry::new();
    reg.register(plugin.clone());
    let index = reg
        .parse(
            &Source::from_bytes("w.bin", toy_file(3)),
            &Limits::default(),
        )
        .unwrap();
    assert_eq!(index.format, "toy");
    let t = &index.tensors[0];
    assert_eq!(
        (t.name.as_str(), &t.dtype, t.shape.as_slice(), t.data),
        ("toy.weight", &Dtype::F32, &[3u64][..], Some((8, 20)))
    );
    assert_eq!(index.meta_str("toy.written_in"), Some("C"));

    let mut short = toy_file(3);
    short.truncate(12);
    match plugin.parse_source(&Source::from_bytes("w.toy", short), &Limits::default()) {
        Err(Error::Failed {
            code: 1, message, ..
        }) => assert_eq!(message, "toy: truncated data"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn the_c_header_matches_the_rust_layout() {
    let path = common::c_plugin("layout", &[]);
    // SAFETY: a test library built from tests/plugins/c/toy.c, whose `mir_toy_layout` has exactly
    // this signature and writes at most `n` values.
    let facts = unsafe {
        let lib = libloading::Library::new(&path).unwrap();
        let f = lib
            .get::<unsafe extern "C" fn(*mut usize, usize) -> usize>(c"mir_toy_layout")
            .unwrap();
        let mut out = [0usize; 32];
        let n = f(out.as_mut_ptr(), out.len());
        out[..n].to_vec()
    };
    let expected = vec![
        size_of::<MirStr>(),
        size_of::<PluginVTableV1>(),
        offset_of!(PluginVTableV1, name),
        offset_of!(PluginVTableV1, version),
        offset_of!(PluginVTableV1, extensions),
        offset_of!(PluginVTableV1, extensions_len),
        offset_of!(PluginVTableV1, sniff),
        offset_of!(PluginVTableV1, parse),
        size_of::<HostApiV1>(),
        offset_of!(HostApiV1, ctx),
        offset_of!(HostApiV1, file_len),
        offset_of!(HostApiV1, read_at),
        offset_of!(HostApiV1, emit_tensor),
        offset_of!(HostApiV1, emit_metadata),
        offset_of!(HostApiV1, emit_finding),
        offset_of!(HostApiV1, emit_error),
    ];
    assert_eq!(facts, expected);
}

#[test]
fn a_wrong_abi_version_is_refused() {
    match LoadedPlugin::load(common::c_plugin("abi2", &["TOY_ABI_VERSION=2"])) {
        Err(Error::AbiVersion {
            found: 2,
            expected: 1,
            ..
        }) => {}
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_short_table_is_refused() {
    let min = size_of::<PluginVTableV1>() as u32;
    match LoadedPlugin::load(common::c_plugin("short", &["TOY_STRUCT_SIZE=16"])) {
        Err(Error::StructSize {
            found: 16, min: m, ..
        }) => assert_eq!(m, min),
        other => panic!("unexpected {other:?}"),
    }
    // A newer 1.x plugin with a longer table is accepted; the extra fields are ignored.
    let longer = format!("TOY_STRUCT_SIZE={}", min + 16);
    assert_eq!(
        LoadedPlugin::load(common::c_plugin("longer", &[&longer]))
            .unwrap()
            .describe()
            .struct_size,
        min + 16
    );
}

#[test]
fn a_library_without_the_entry_symbol_is_refused_without_running_it() {
    let marker = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("toy-noentry-ran");
    let _ = std::fs::remove_file(&marker);
    let define = format!("TOY_MARKER=\"{}\"", marker.display());
    let path = common::c_plugin("noentry", &["TOY_NO_ENTRY", &define]);
    assert!(matches!(
        LoadedPlugin::load(&path),
        Err(Error::NoEntry { .. })
    ));
    assert!(
        !marker.exists(),
        "the library's constructor ran: it was loaded"
    );
}

#[test]
fn a_null_table_and_a_bad_name_are_refused() {
    assert!(matches!(
        LoadedPlugin::load(common::c_plugin("null", &["TOY_NULL_TABLE"])),
        Err(Error::BadVTable { .. })
    ));
    match LoadedPlugin::load(common::c_plugin("badname", &["TOY_BAD_NAME"])) {
        Err(Error::BadDescriptor {
            field: "name",
            reason,
            ..
        }) => assert!(reason.contains("Toy Format!")),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn files_that_are_not_plugins_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("libnot.so");
    std::fs::write(&text, b"#!/bin/sh\necho hello\n").unwrap();
    assert!(matches!(
        LoadedPlugin::load(&text),
        Err(Error::NotALibrary { .. })
    ));
    assert!(matches!(
        LoadedPlugin::load(dir.path().join("absent.so")),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        LoadedPlugin::load(dir.path()),
        Err(Error::NotALibrary { .. })
    ));
}
