//! Classifies the SDXL all-in-one fixture (about 2,500 tensors: model-toolkit's real SDXL UNet,
//! VAE, CLIP-L and OpenCLIP-G key/shape lists under their bundle prefixes), against a baseline
//! measured in the same run: normalising and sorting the names once, which every classification
//! has to do at least.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use mir_classify::testing::load_spec;
use mir_classify::{Classifier, Input, normalize_key};
use mir_core::TensorIndex;

fn sdxl_bundle() -> TensorIndex {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fixtures = root.join("fixtures/specs");
    let toolkit = root.join("fixtures/reference/model-toolkit/components");
    let text = std::fs::read_to_string(fixtures.join("sdxl.bundle.spec")).unwrap();
    let mut resolve = |n: &str| match n.strip_prefix("toolkit:") {
        Some(rest) => std::fs::read_to_string(toolkit.join(rest)).ok(),
        None => std::fs::read_to_string(fixtures.join(n)).ok(),
    };
    load_spec(&text, &mut resolve).unwrap().index
}

fn bench(c: &mut Criterion) {
    let idx = sdxl_bundle();
    let classifier = Classifier::builtin().expect("builtin rules");
    let out = classifier.classify(&Input::new(&idx));
    assert_eq!(
        out.mir.unwrap().to_string(),
        "mir:model.unet.stable-diffusion-xl"
    );
    let strip: Vec<String> = ["model.diffusion_model.", "model.", "transformer."]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut g = c.benchmark_group(format!("sdxl_bundle_{}_tensors", idx.tensors.len()));
    g.bench_function("classify", |b| {
        b.iter(|| classifier.classify(&Input::new(std::hint::black_box(&idx))))
    });
    g.bench_function("baseline_normalize_and_sort_names", |b| {
        b.iter(|| {
            let mut v: Vec<String> = std::hint::black_box(&idx)
                .tensors
                .iter()
                .map(|t| normalize_key(&t.name, &strip).0)
                .collect();
            v.sort();
            v
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
