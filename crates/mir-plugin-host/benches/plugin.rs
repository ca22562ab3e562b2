//! What the plugin boundary costs: the NumPy plugin loaded as a shared library and run through
//! the host (FFI callbacks, validation, copying into a `TensorIndex`), against the same header
//! parsing called in-process from the plugin's `rlib` (the baseline).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::io::Cursor;

use criterion::{Criterion, criterion_group, criterion_main};
use mir_core::{Limits, Source};
use mir_plugin_host::LoadedPlugin;

/// An `.npz` like a ViT checkpoint: `members` stored arrays with short shapes.
fn archive(members: usize) -> Vec<u8> {
    let arrays: Vec<(String, Vec<u8>)> = (0..members)
        .map(|i| {
            (
                format!(
                    "Transformer/encoderblock_{}/MlpBlock_0/Dense_{}/kernel.npy",
                    i / 8,
                    i % 8
                ),
                common::npy(1, "<f2", false, &[16, 8], &[0u8; 256]),
            )
        })
        .collect();
    let members: Vec<(&str, Vec<u8>, bool)> = arrays
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone(), false))
        .collect();
    common::npz(&members)
}

/// The baseline: the same zip walk and header parse, in-process, no validation.
fn in_process(bytes: &[u8]) -> usize {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut dims = 0;
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).unwrap();
        dims += mir_npy::read_header(&mut member).unwrap().shape.len();
    }
    dims
}

fn bench(c: &mut Criterion) {
    let plugin = LoadedPlugin::load(common::rust_plugin("mir-npy")).unwrap();
    let limits = Limits::default();
    let mut group = c.benchmark_group("npz_200_members");
    let bytes = archive(200);
    let src = Source::from_bytes("vit.npz", bytes.clone());
    group.bench_function("in_process_baseline", |b| {
        b.iter(|| in_process(black_box(&bytes)))
    });
    group.bench_function("through_plugin_host", |b| {
        b.iter(|| {
            plugin
                .parse_source(black_box(&src), &limits)
                .unwrap()
                .tensors
                .len()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("npy_single");
    let npy = common::npy(1, "<f4", false, &[768, 3072], &[]);
    let mut padded = npy.clone();
    padded.resize(npy.len() + 768 * 3072 * 4, 0);
    let src = Source::from_bytes("w.npy", padded);
    group.bench_function("in_process_baseline", |b| {
        b.iter(|| {
            mir_npy::read_header(&mut black_box(npy.as_slice()))
                .unwrap()
                .shape
                .len()
        })
    });
    group.bench_function("through_plugin_host", |b| {
        b.iter(|| {
            plugin
                .parse_source(black_box(&src), &limits)
                .unwrap()
                .tensors
                .len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
