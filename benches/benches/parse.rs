//! `parse/*`: header parsing per format, with throughput (tensors for safetensors, header bytes
//! for GGUF, whose size is dominated by the tokenizer vocabulary), each next to the bare preads
//! of the same header as a baseline measured in the same run.
//!
//! `parse/ckpt` times a 6,000-tensor PyTorch zip checkpoint written by the ckpt plugin's test
//! writer.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mir_core::{Format, Limits, Source};

fn sparse_source(dir: &std::path::Path, name: &str, spec: &[mir_testkit::SpecTensor]) -> Source {
    let path = dir.join(name);
    mir_benches::write_sparse(&path, spec).expect("write bench file");
    Source::open(&path).expect("open bench file")
}

fn parse_safetensors(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("mir-bench-parse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let limits = Limits::default();
    let mut g = c.benchmark_group("parse/safetensors");
    for (label, spec) in [
        ("small_8", mir_benches::small_spec(8)),
        ("sdxl_like", mir_benches::sdxl_like_spec()),
    ] {
        let src = sparse_source(&dir, &format!("{label}.safetensors"), &spec);
        g.throughput(Throughput::Elements(spec.len() as u64));
        g.bench_function(format!("{label}_{}_tensors", spec.len()), |b| {
            b.iter(|| {
                let index = mir_safetensors::SafetensorsFormat
                    .parse(black_box(&src), &limits)
                    .expect("parses");
                black_box(index.tensors.len())
            })
        });
        // Before/after in the same run: the parser this one replaced (`baseline`: JSON trees for
        // metadata and unknown fields, a layer string built whole), plus hashing that string as
        // `Signatures::of` then did, against the single-pass scanner, whose layer hashes come out
        // of the parse. Both sides include the layer hashes.
        let header_bytes = {
            let mut n = [0u8; 8];
            src.read_exact_at(0, &mut n, "len").expect("read");
            src.read_vec(8, u64::from_le_bytes(n), "hdr", u64::MAX)
                .expect("read")
        };
        g.bench_function(format!("{label}_before_parse_and_layer_hashes"), |b| {
            b.iter(|| {
                let index = mir_safetensors::baseline::parse_header_bytes(
                    black_box(&header_bytes),
                    src.len(),
                    &limits,
                )
                .expect("parses");
                let h = index
                    .mir_layer_string
                    .as_deref()
                    .map(mir_core::signature::mir_layer_hashes);
                black_box((index.tensors.len(), h))
            })
        });
        g.bench_function(format!("{label}_after_parse_and_layer_hashes"), |b| {
            b.iter(|| {
                let index = mir_safetensors::parse_header_bytes(
                    black_box(&header_bytes),
                    src.len(),
                    &limits,
                )
                .expect("parses");
                black_box((index.tensors.len(), index.mir_layer_hashes))
            })
        });
        // Baseline in the same run: tokenising the header JSON alone (serde_json, no values kept).
        let header = {
            let mut n = [0u8; 8];
            src.read_exact_at(0, &mut n, "len").expect("read");
            src.read_vec(8, u64::from_le_bytes(n), "hdr", u64::MAX)
                .expect("read")
        };
        g.bench_function(format!("{label}_json_tokenise_only"), |b| {
            b.iter(|| {
                let v: serde::de::IgnoredAny =
                    serde_json::from_slice(black_box(&header)).expect("json");
                black_box(v)
            })
        });
        // Baseline in the same run: the two preads alone, what any reader must do.
        g.bench_function(format!("{label}_preads_only"), |b| {
            b.iter(|| {
                let mut n = [0u8; 8];
                src.read_exact_at(0, &mut n, "len").expect("read");
                let len = u64::from_le_bytes(n);
                black_box(src.read_vec(8, len, "hdr", u64::MAX).expect("read").len())
            })
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

fn parse_gguf(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("mir-bench-parse-gguf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let limits = Limits::default();
    let mut g = c.benchmark_group("parse/gguf");
    for (label, file) in [
        ("small_tinyllama", mir_benches::gguf_small()),
        ("vocab_152k_qwen2.5", mir_benches::gguf_150k_vocab()),
    ] {
        let path = dir.join(format!("{label}.gguf"));
        let written = file.write_sparse(&path).expect("write bench file");
        let src = Source::open(&path).expect("open bench file");
        let parsed = mir_gguf::GgufFormat.parse(&src, &limits).expect("parses");
        assert_eq!(parsed.tensors.len(), file.tensors.len());
        g.throughput(Throughput::Bytes(written.header_len));
        g.bench_function(
            format!(
                "{label}_{}_tensors_{}_kb",
                file.tensors.len(),
                written.header_len >> 10
            ),
            |b| {
                b.iter(|| {
                    let index = mir_gguf::GgufFormat
                        .parse(black_box(&src), &limits)
                        .expect("parses");
                    black_box(index.tensors.len())
                })
            },
        );
        g.bench_function(format!("{label}_preads_only"), |b| {
            b.iter(|| {
                black_box(
                    src.read_vec(0, written.header_len, "hdr", u64::MAX)
                        .expect("read")
                        .len(),
                )
            })
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The ckpt plugin's own test writer: a `torch.save` look-alike zip checkpoint.
#[path = "../../plugins/mir-ckpt/tests/support/writer.rs"]
#[allow(dead_code, unreachable_pub)]
mod ckpt_writer;

/// `parse/ckpt`: a 6,000-tensor PyTorch zip checkpoint, against reading its `data.pkl` alone.
fn parse_ckpt(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("mir-bench-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("big.pt");
    ckpt_writer::write_checkpoint(&path, 6000, &[64, 64]).expect("write checkpoint");
    let src = Source::open(&path).expect("open");
    let limits = Limits::default();
    let mut g = c.benchmark_group("parse/ckpt");
    g.throughput(Throughput::Elements(6000));
    g.bench_function("6000_tensors", |b| {
        b.iter(|| {
            let index = mir_ckpt::CkptFormat
                .parse(black_box(&src), &limits)
                .expect("parses");
            black_box(index.tensors.len())
        })
    });
    g.bench_function("read_whole_file_baseline", |b| {
        b.iter(|| black_box(std::fs::read(black_box(&path)).expect("read").len()))
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, parse_safetensors, parse_gguf, parse_ckpt);
criterion_main!(benches);
