//! `signature/*`: fingerprints of a parsed index, with throughput in tensors.
//!
//! `classify/*`: the built-in rule set on the SDXL all-in-one index (real shapes).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mir_core::{Limits, Source, signature::Signatures};

fn signatures(c: &mut Criterion) {
    let spec = mir_benches::sdxl_like_spec();
    let bytes = mir_benches::safetensors_bytes(&mir_testkit_small(&spec), &[]);
    let src = Source::from_bytes("x.safetensors", bytes);
    // The parser streams the layer hashes (`mir_layer_hashes`); for `sdxl_like_all` the index
    // carries the layer string instead (the former parser's), so `Signatures::of` hashes it.
    let mut index = mir_safetensors::baseline::parse(&src, &Limits::default()).expect("parses");
    index.mir_layer_hashes = None;
    let mut g = c.benchmark_group("signature");
    g.throughput(Throughput::Elements(index.tensors.len() as u64));
    g.bench_function("sdxl_like_all", |b| {
        b.iter(|| black_box(Signatures::of(black_box(&index))))
    });
    let mut no_layer = index.clone();
    no_layer.mir_layer_string = None;
    no_layer.mir_layer_hashes = None;
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

/// The classifier on a 2,500-tensor all-in-one SDXL checkpoint (UNet, VAE, two text encoders).
fn classify(c: &mut Criterion) {
    let spec = mir_benches::sdxl_like_spec();
    let index = mir_testkit::spec_index("safetensors", &spec);
    let classifier = mir_classify::Classifier::builtin().expect("built-in rules");
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(index.tensors.len() as u64));
    g.bench_function("sdxl_like_bundle", |b| {
        b.iter(|| {
            let out = classifier.classify(&mir_classify::Input::new(black_box(&index)));
            black_box(out.mir)
        })
    });
    g.finish();
}

criterion_group!(benches, signatures, classify);
criterion_main!(benches);
