//! `signature/*`: fingerprints of a parsed index, with throughput in tensors.
//!
//! Slot for `classify` (issue 8): when `crates/mir-classify` has its rule set, add it to
//! `[dev-dependencies]` and time its entry point on `index` (the SDXL checkpoint) and on a LoRA
//! and a GGUF LLM index in [`classify`] (group `classify`, `Throughput::Elements(tensors)`).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mir_core::{Limits, Source, signature::Signatures};

fn signatures(c: &mut Criterion) {
    let spec = mir_benches::sdxl_like_spec();
    let bytes = mir_benches::safetensors_bytes(&mir_testkit_small(&spec), &[]);
    let index = mir_safetensors::parse(
        &Source::from_bytes("x.safetensors", bytes),
        &Limits::default(),
    )
    .expect("parses");
    let mut g = c.benchmark_group("signature");
    g.throughput(Throughput::Elements(index.tensors.len() as u64));
    g.bench_function("sdxl_like_all", |b| {
        b.iter(|| black_box(Signatures::of(black_box(&index))))
    });
    let mut no_layer = index.clone();
    no_layer.mir_layer_string = None;
    g.bench_function("sdxl_like_key_and_shape_only", |b| {
        b.iter(|| black_box(Signatures::of(black_box(&no_layer))))
    });
    g.finish();
}

/// The same names with tiny shapes, so the in-memory file stays small (signatures of the real
/// shapes cost the same: a few more u64 per tensor).
fn mir_testkit_small(spec: &[mir_testkit::SpecTensor]) -> Vec<mir_testkit::SpecTensor> {
    spec.iter()
        .map(|t| mir_testkit::SpecTensor {
            shape: t.shape.iter().map(|_| 1).collect(),
            ..t.clone()
        })
        .collect()
}

/// Slot for the `classify` group; see the module docs. Registers nothing until the classifier
/// exists.
fn classify(_c: &mut Criterion) {}

criterion_group!(benches, signatures, classify);
criterion_main!(benches);
