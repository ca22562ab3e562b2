//! Index of a 6,000-tensor checkpoint (generated, ~50 MB of F16 storages), against a baseline
//! measured in the same run: opening the zip with the `zip` crate and reading `data.pkl`'s bytes,
//! which any index must do before it interprets anything.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::io::Read;

use criterion::{Criterion, criterion_group, criterion_main};
use mir_ckpt::CkptFormat;
use mir_core::{Format, Limits, Source};

#[path = "../tests/support/writer.rs"]
#[allow(dead_code)]
mod writer;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.pt");
    writer::write_checkpoint(&path, 6000, &[64, 64]).unwrap();
    let limits = Limits::default();

    let mut g = c.benchmark_group("ckpt_6000_tensors");
    g.bench_function("baseline_read_data_pkl", |b| {
        b.iter(|| {
            let src = Source::open(&path).unwrap();
            let reader = std::io::BufReader::with_capacity(64 << 10, src.reader());
            let mut zip = zip::ZipArchive::new(reader).unwrap();
            let mut entry = zip.by_name("archive/data.pkl").unwrap();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            black_box(data.len())
        })
    });
    g.bench_function("index", |b| {
        b.iter(|| {
            let src = Source::open(&path).unwrap();
            let index = CkptFormat.parse(&src, &limits).unwrap();
            assert_eq!(index.tensors.len(), 6000);
            black_box(index)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
