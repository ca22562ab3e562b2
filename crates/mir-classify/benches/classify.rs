//! Classifies a ~2,500-tensor SDXL-like all-in-one index, and a baseline: building the views
//! alone (normalising every name), measured in the same run.

use criterion::{Criterion, criterion_group, criterion_main};
use mir_classify::{Classifier, Input, normalize_key};
use mir_core::{Dtype, TensorIndex, TensorRecord};

fn sdxl_like() -> TensorIndex {
    let mut idx = TensorIndex::new("safetensors");
    let mut push = |name: String, shape: Vec<u64>| {
        idx.tensors.push(TensorRecord::new(name, Dtype::F16, shape));
    };
    push(
        "model.diffusion_model.input_blocks.0.0.weight".into(),
        vec![320, 4, 3, 3],
    );
    push(
        "model.diffusion_model.label_emb.0.0.weight".into(),
        vec![1280, 2816],
    );
    for b in [4u64, 5, 7, 8] {
        let width = if b < 7 { 640 } else { 1280 };
        for t in 0..10u64 {
            for part in [
                "attn1.to_q",
                "attn1.to_k",
                "attn1.to_v",
                "attn1.to_out.0",
                "attn2.to_q",
                "attn2.to_out.0",
                "ff.net.0.proj",
                "ff.net.2",
                "norm1",
                "norm2",
                "norm3",
            ] {
                push(
                    format!(
                        "model.diffusion_model.input_blocks.{b}.1.transformer_blocks.{t}.{part}.weight"
                    ),
                    vec![width, width],
                );
                push(
                    format!(
                        "model.diffusion_model.input_blocks.{b}.1.transformer_blocks.{t}.{part}.bias"
                    ),
                    vec![width],
                );
            }
            for part in ["attn2.to_k", "attn2.to_v"] {
                push(
                    format!(
                        "model.diffusion_model.input_blocks.{b}.1.transformer_blocks.{t}.{part}.weight"
                    ),
                    vec![width, 2048],
                );
            }
        }
    }
    for l in 0..12u64 {
        for part in [
            "self_attn.k_proj",
            "self_attn.q_proj",
            "self_attn.v_proj",
            "self_attn.out_proj",
            "mlp.fc1",
            "mlp.fc2",
            "layer_norm1",
            "layer_norm2",
        ] {
            push(
                format!(
                    "conditioner.embedders.0.transformer.text_model.encoder.layers.{l}.{part}.weight"
                ),
                vec![768, 768],
            );
            push(
                format!(
                    "conditioner.embedders.0.transformer.text_model.encoder.layers.{l}.{part}.bias"
                ),
                vec![768],
            );
        }
    }
    for l in 0..32u64 {
        for part in [
            "attn.in_proj_weight",
            "attn.out_proj.weight",
            "mlp.c_fc.weight",
            "mlp.c_proj.weight",
            "ln_1.weight",
            "ln_2.weight",
        ] {
            push(
                format!("conditioner.embedders.1.model.transformer.resblocks.{l}.{part}"),
                vec![3840, 1280],
            );
        }
    }
    push(
        "first_stage_model.decoder.conv_in.weight".into(),
        vec![512, 4, 3, 3],
    );
    push(
        "first_stage_model.post_quant_conv.weight".into(),
        vec![4, 4, 1, 1],
    );
    push(
        "first_stage_model.encoder.down.0.block.0.conv1.weight".into(),
        vec![128, 128, 3, 3],
    );
    for i in 0..200u64 {
        push(
            format!(
                "first_stage_model.decoder.up.{}.block.{}.conv1.weight",
                i / 10,
                i % 10
            ),
            vec![512, 512, 3, 3],
        );
    }
    idx
}

fn bench(c: &mut Criterion) {
    let idx = sdxl_like();
    let classifier = Classifier::builtin().expect("builtin rules");
    let strip: Vec<String> = ["model.diffusion_model.", "model.", "transformer."]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut g = c.benchmark_group(format!("sdxl_like_{}_tensors", idx.tensors.len()));
    g.bench_function("classify", |b| {
        b.iter(|| classifier.classify(&Input::new(std::hint::black_box(&idx))))
    });
    g.bench_function("baseline_normalize_and_sort_names", |b| {
        b.iter(|| {
            let mut v: Vec<String> = idx
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
