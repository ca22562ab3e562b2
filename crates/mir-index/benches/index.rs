//! The index's share of a scan of 10,000 files: storing them (first scan) against looking them
//! up (re-scan), with the `stat` calls a re-scan makes anyway as the yardstick.
//!
//! Run with `cargo bench -p mir-index --bench index`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mir_hash::FileHashes;
use mir_index::{Entry, FileKey, Index};

const N: usize = 10_000;

fn entries(dir: &std::path::Path) -> Vec<Entry> {
    let record = format!("{{\"record\":\"{}\"}}", "x".repeat(1000));
    (0..N)
        .map(|i| {
            let path = dir.join(format!("d{}/model-{i}.safetensors", i % 100));
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, b"{}").expect("write");
            let meta = std::fs::metadata(&path).expect("stat");
            Entry {
                key: FileKey::from_metadata(&meta),
                path,
                format: Some("safetensors".into()),
                key_sig: Some(format!("{i:032x}")),
                shape_sig: Some(format!("{:032x}", i % 500)),
                precision: Some("F16".into()),
                mir: Some("mir:model.unet.stable-diffusion-xl:base".into()),
                record_json: record.clone(),
                hashes: FileHashes {
                    sha256: Some(format!("{i:064x}")),
                    ..FileHashes::default()
                },
            }
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = entries(dir.path());
    let paths: Vec<PathBuf> = files.iter().map(|e| e.path.clone()).collect();
    let db = dir.path().join("bench.sqlite3");
    let mut idx = Index::open(&db, 1).expect("open");
    idx.store_batch(&files).expect("store");

    let mut g = c.benchmark_group("index_10k_files");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    g.bench_function("store_batch_fresh_index", |b| {
        b.iter_batched(
            || {
                let d = tempfile::tempdir().expect("temp dir");
                let idx = Index::open(&d.path().join("i.sqlite3"), 1).expect("open");
                (d, idx)
            },
            |(d, mut idx)| {
                idx.store_batch(&files).expect("store");
                (d, idx)
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("lookup_all", |b| {
        b.iter(|| {
            for e in &files {
                black_box(idx.lookup(&e.path, &e.key).expect("lookup").expect("hit"));
            }
        })
    });
    g.bench_function("stat_all", |b| {
        b.iter(|| {
            for p in &paths {
                black_box(std::fs::metadata(p).expect("stat"));
            }
        })
    });
    g.bench_function("stat_and_lookup_all", |b| {
        b.iter(|| {
            for p in &paths {
                let key = FileKey::from_metadata(&std::fs::metadata(p).expect("stat"));
                black_box(idx.lookup(p, &key).expect("lookup").expect("hit"));
            }
        })
    });
    g.bench_function("preload_then_stat_and_lookup_all", |b| {
        b.iter(|| {
            let pre = idx.preload(&[dir.path()]).expect("preload");
            for p in &paths {
                let key = FileKey::from_metadata(&std::fs::metadata(p).expect("stat"));
                black_box(pre.lookup(p, &key).expect("hit"));
            }
        })
    });
    g.finish();
}

criterion_group!(index, benches);
criterion_main!(index);
