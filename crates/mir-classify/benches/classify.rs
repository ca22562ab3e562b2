//! Classifies three fixtures, each against a baseline measured in the same run (normalising and
//! sorting the names once, which every classification has to do at least):
//!
//! * the SDXL all-in-one checkpoint (about 2,500 tensors: model-toolkit's real SDXL UNet, VAE,
//!   CLIP-L and OpenCLIP-G key/shape lists under their bundle prefixes);
//! * a kohya SDXL LoRA (2,940 tensors: UNet and both text encoders), the adapter-view path;
//! * a FLUX.1 [dev] all-in-one checkpoint (675 tensors: transformer, VAE, CLIP-L, T5-XXL).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use mir_classify::testing::load_spec;
use mir_classify::{Classifier, Input, normalize_key};
use mir_core::TensorIndex;

fn load(spec: &str) -> TensorIndex {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fixtures = root.join("fixtures/specs");
    let toolkit = root.join("fixtures/reference/model-toolkit/components");
    let text = std::fs::read_to_string(fixtures.join(spec)).unwrap();
    let mut resolve = |n: &str| match n.strip_prefix("toolkit:") {
        Some(rest) => std::fs::read_to_string(toolkit.join(rest)).ok(),
        None => std::fs::read_to_string(fixtures.join(n)).ok(),
    };
    load_spec(&text, &mut resolve).unwrap().index
}

fn bench(c: &mut Criterion) {
    let classifier = Classifier::builtin().expect("builtin rules");
    let strip: Vec<String> = ["model.diffusion_model.", "model.", "transformer."]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (group, spec, want) in [
        (
            "sdxl_bundle",
            "sdxl.bundle.spec",
            "mir:model.unet.stable-diffusion-xl",
        ),
        (
            "lora_sdxl_kohya",
            "lora-sdxl.kohya.spec",
            "mir:model.lora.lora:stable-diffusion-xl",
        ),
        (
            "flux_1_dev_bundle",
            "flux-1-dev.bundle.spec",
            "mir:model.dit.flux-1-dev",
        ),
    ] {
        let idx = load(spec);
        let out = classifier.classify(&Input::new(&idx));
        assert_eq!(out.mir.unwrap().to_string(), want, "{spec}");
        let mut g = c.benchmark_group(format!("{group}_{}_tensors", idx.tensors.len()));
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
    // Start-up: decoding (parsed at build time) and compiling the embedded rules, once per
    // process; beside it, the former start-up (parsing the same TOML at run time) in the same run.
    c.bench_function("rules_builtin_parse_and_compile", |b| {
        b.iter(Classifier::builtin)
    });
    let (files, layout) = Classifier::builtin_sources();
    c.bench_function("rules_from_toml_at_run_time_before", |b| {
        b.iter(|| Classifier::from_sources(files, layout))
    });
    // The bundled MIR database (the one `mir scan` loads at every start).
    let db = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../mir-cli/data/mir-2025-07.json"),
    )
    .unwrap();
    c.bench_function("mir_database_load_bundled", |b| {
        b.iter(|| mir_classify::MirDatabase::from_json(std::hint::black_box(&db)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
