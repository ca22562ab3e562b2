//! Header parse time of an LLM-like GGUF with a 150k-token vocabulary (generated here, never
//! committed): ours (from a file with pread, and from memory) against gguf-rs 0.1.8 reading
//! through a `BufReader`, in the same run.

// The shared test writer (it carries its own lint allowances).
#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use common::{Gguf, Val, t};
use criterion::{Criterion, criterion_group, criterion_main};
use mir_core::{Limits, Source};

const VOCAB: usize = 150_000;

/// A llama-like file: general keys, a 150k-token tokenizer (tokens, scores, types, merges) and
/// 32 blocks of 9 small F32 tensors.
fn write_file() -> PathBuf {
    let tokens: Vec<Val> = (0..VOCAB).map(|i| Val::Str(format!("tok_{i}"))).collect();
    let scores: Vec<Val> = (0..VOCAB).map(|i| Val::F32(-(i as f32))).collect();
    let types: Vec<Val> = (0..VOCAB).map(|_| Val::I32(1)).collect();
    let merges: Vec<Val> = (0..VOCAB).map(|i| Val::Str(format!("a{i} b{i}"))).collect();
    let mut g = Gguf::v3()
        .kv("general.architecture", Val::Str("llama".into()))
        .kv("general.name", Val::Str("Bench 8B".into()))
        .kv("general.file_type", Val::U32(15))
        .kv("llama.block_count", Val::U32(32))
        .kv("llama.context_length", Val::U32(8192))
        .kv("tokenizer.ggml.model", Val::Str("gpt2".into()))
        .kv("tokenizer.ggml.tokens", Val::Arr(8, tokens))
        .kv("tokenizer.ggml.scores", Val::Arr(6, scores))
        .kv("tokenizer.ggml.token_type", Val::Arr(5, types))
        .kv("tokenizer.ggml.merges", Val::Arr(8, merges));
    for b in 0..32 {
        for n in [
            "attn_q",
            "attn_k",
            "attn_v",
            "attn_output",
            "attn_norm",
            "ffn_gate",
            "ffn_up",
            "ffn_down",
            "ffn_norm",
        ] {
            g = g.tensor(t(&format!("blk.{b}.{n}.weight"), &[16, 4], 0));
        }
    }
    let dir = std::env::temp_dir().join(format!("mir-gguf-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vocab150k.gguf");
    std::fs::write(&path, g.build()).unwrap();
    path
}

fn gguf_rs_bufreader(path: &Path) -> usize {
    let mut file = std::fs::File::open(path).unwrap();
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic).unwrap();
    let reader = BufReader::with_capacity(64 << 10, file);
    // A cap of 3 elements per tokenizer array is gguf-rs's own default (its cheapest setting).
    let mut c = gguf_rs::GGUFContainer::new(gguf_rs::ByteOrder::LE, Box::new(reader), 3);
    c.decode().unwrap().tensors().len()
}

fn bench(c: &mut Criterion) {
    let path = write_file();
    let limits = Limits::default();
    let bytes = std::fs::read(&path).unwrap();
    let header = mir_gguf::parse_header(&Source::open(&path).unwrap(), &limits).unwrap();
    println!(
        "file {} bytes, header {} bytes, {} tensors, {} key/values",
        bytes.len(),
        header.header_len,
        header.tensors.len(),
        header.kv.len()
    );
    assert_eq!(gguf_rs_bufreader(&path), header.tensors.len());

    let mut g = c.benchmark_group("gguf_header_150k_vocab");
    g.bench_function("mir_gguf_file_pread", |b| {
        b.iter(|| {
            let src = Source::open(&path).unwrap();
            black_box(mir_gguf::parse_header(&src, &limits).unwrap().tensors.len())
        })
    });
    let mem = Source::from_bytes("mem.gguf", bytes);
    g.bench_function("mir_gguf_memory", |b| {
        b.iter(|| black_box(mir_gguf::parse_header(&mem, &limits).unwrap().tensors.len()))
    });
    g.bench_function("mir_gguf_file_to_index", |b| {
        b.iter(|| {
            let src = Source::open(&path).unwrap();
            black_box(
                mir_gguf::parse_header(&src, &limits)
                    .unwrap()
                    .to_index()
                    .tensors
                    .len(),
            )
        })
    });
    g.bench_function("gguf_rs_bufreader", |b| {
        b.iter(|| black_box(gguf_rs_bufreader(&path)))
    });
    g.finish();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

criterion_group!(benches, bench);
criterion_main!(benches);
