//! Throughput of the one-pass hasher on a 288 MiB safetensors-shaped file (warm page cache):
//! read strategies, thread counts, and all hashes against SHA-256 alone and `sha256sum`.
//!
//! Run with `cargo bench -p mir-hash --bench hashing`. The ratios in the report come from one
//! run of this file.

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mir_hash::{HashAlgo, HashOptions, ReadStrategy, hash_file};

const SIZE: usize = 288 << 20;

fn make_file() -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".safetensors")
        .tempfile()
        .expect("temp file");
    let header_len = 40_000usize;
    let mut header = b"{\"__metadata__\":{}}".to_vec();
    header.resize(header_len, b' ');
    f.write_all(&(header_len as u64).to_le_bytes())
        .expect("write");
    f.write_all(&header).expect("write");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = vec![0u8; 1 << 20];
    let mut written = 8 + header_len;
    while written < SIZE {
        for b in block.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = (x >> 24) as u8;
        }
        f.write_all(&block).expect("write");
        written += block.len();
    }
    f.flush().expect("flush");
    // Warm the page cache so every variant reads from memory.
    let _ = std::fs::read(f.path()).expect("read back");
    f
}

fn run(path: &Path, algos: &[HashAlgo], opts: HashOptions) {
    black_box(hash_file(path, algos, &opts).expect("hash"));
}

fn benches(c: &mut Criterion) {
    let file = make_file();
    let path = file.path();
    let len = std::fs::metadata(path).expect("stat").len();
    let all = HashAlgo::ALL;
    let all_but_v3: Vec<HashAlgo> = all.into_iter().filter(|a| *a != HashAlgo::AutoV3).collect();
    let read = |chunk| ReadStrategy::Read { chunk };
    let dflt = HashOptions::default();

    let mut g = c.benchmark_group("read_strategy_all_hashes");
    g.throughput(Throughput::Bytes(len));
    g.sample_size(10);
    for (name, strategy) in [
        ("read_1MiB", read(1 << 20)),
        ("read_4MiB", read(4 << 20)),
        ("read_16MiB", read(16 << 20)),
        ("mmap", ReadStrategy::Mmap),
    ] {
        let opts = HashOptions {
            read: strategy,
            ..dflt
        };
        g.bench_function(name, |b| b.iter(|| run(path, &all, opts)));
    }
    g.finish();

    let mut g = c.benchmark_group("threads_all_hashes");
    g.throughput(Throughput::Bytes(len));
    g.sample_size(10);
    for threads in [1, 2, 3, 4] {
        let opts = HashOptions { threads, ..dflt };
        g.bench_function(format!("threads_{threads}"), |b| {
            b.iter(|| run(path, &all, opts))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("one_pass_vs_sha256");
    g.throughput(Throughput::Bytes(len));
    g.sample_size(10);
    g.bench_function("sha256_only", |b| {
        b.iter(|| run(path, &[HashAlgo::Sha256], dflt))
    });
    g.bench_function("sha256_only_mmap", |b| {
        let opts = HashOptions {
            read: ReadStrategy::Mmap,
            ..dflt
        };
        b.iter(|| run(path, &[HashAlgo::Sha256], opts))
    });
    g.bench_function("all_hashes", |b| b.iter(|| run(path, &all, dflt)));
    g.bench_function("all_but_autov3", |b| {
        b.iter(|| run(path, &all_but_v3, dflt))
    });
    g.bench_function("all_hashes_sequential", |b| {
        b.iter(|| run(path, &all, HashOptions::sequential()))
    });
    if Command::new("sha256sum").arg("--version").output().is_ok() {
        g.bench_function("sha256sum_tool", |b| {
            b.iter(|| {
                let out = Command::new("sha256sum")
                    .arg(path)
                    .output()
                    .expect("sha256sum");
                assert!(out.status.success());
                black_box(out.stdout)
            })
        });
    } else {
        eprintln!("sha256sum is not installed; skipping that baseline");
    }
    g.finish();
}

criterion_group!(hashing, benches);
criterion_main!(hashing);
