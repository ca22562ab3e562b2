//! `end_to_end/*`: what `mir scan` does per file, through the library a model manager embeds:
//! `Scanner::scan_file` (open, sniff, parse, fingerprint, identify, build the record) on sparse
//! files of the synthetic library's main kinds, next to the bare preads of the same header.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mir_core::Source;
use mir_scan::{ScanOptions, Scanner};

fn end_to_end(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("mir-bench-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let scanner = Scanner::new(ScanOptions::default()).expect("built-in rules");
    let mut g = c.benchmark_group("end_to_end");

    let sdxl = dir.join("sdxl.safetensors");
    let spec = mir_benches::sdxl_like_spec();
    mir_benches::write_sparse(&sdxl, &spec).expect("write");
    let lora = dir.join("lora.safetensors");
    mir_benches::write_sparse(&lora, &mir_benches::layouts::sdxl_lora(false)).expect("write");
    let llm = dir.join("llm.gguf");
    mir_benches::layouts::llm_gguf(&mir_benches::layouts::MISTRAL_7B, "bench")
        .write_sparse(&llm)
        .expect("write");

    for (label, path) in [
        ("sdxl_checkpoint", &sdxl),
        ("sdxl_lora", &lora),
        ("gguf_llm_32k_vocab", &llm),
    ] {
        let record = scanner.scan_file(path);
        assert_eq!(record.error, None, "{label}");
        let tensors = record.tensors.expect("read") as u64;
        g.throughput(Throughput::Elements(tensors));
        g.bench_function(format!("scan_file_{label}_{tensors}_tensors"), |b| {
            b.iter(|| black_box(scanner.scan_file(black_box(path)).tensors))
        });
    }
    // Baseline in the same run: open and read the SDXL header, nothing else.
    g.bench_function("sdxl_checkpoint_open_and_preads_only", |b| {
        b.iter(|| {
            let src = Source::open(&sdxl).expect("open");
            let mut n = [0u8; 8];
            src.read_exact_at(0, &mut n, "len").expect("read");
            let len = u64::from_le_bytes(n);
            black_box(src.read_vec(8, len, "hdr", u64::MAX).expect("read").len())
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
