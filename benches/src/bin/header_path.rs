//! The header path of `mir scan` on one thread, phase by phase, for `cargo xtask bench`: what the
//! safetensors files of a library cost to read, parse (the former parser and the single-pass
//! scanner, with and without the MIR layer hashes), fingerprint and classify. Interleaved rounds;
//! each phase's figure is the minimum over the rounds (one thread, so CPU ≈ wall; the minimum is
//! the least disturbed by other work on the machine).
//!
//! Usage: `header_path LIBRARY_DIR [ROUNDS]` (reads `LIBRARY_DIR/manifest.tsv`). Prints one JSON
//! object: seconds per phase for the whole subset, files and header bytes.
#![forbid(unsafe_code)]

// The allocator of the `mir` binary (and its build options), so the phases cost here what they
// cost in a scan: with the system allocator the parse measured about twice as slow.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::Instant;

use mir_classify::{Classifier, Input};
use mir_core::Limits;
use mir_core::signature::{Signatures, mir_layer_hashes};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .expect("usage: header_path LIBRARY_DIR [ROUNDS]"),
    );
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let entries = mir_benches::library::read_manifest(&dir).expect("manifest");
    let paths: Vec<PathBuf> = entries
        .iter()
        .filter(|e| e.rel.extension().is_some_and(|x| x == "safetensors"))
        .map(|e| dir.join(&e.rel))
        .collect();
    let read = |p: &PathBuf, buf: &mut Vec<u8>| -> u64 {
        let f = std::fs::File::open(p).expect("open");
        let mut n = [0u8; 8];
        f.read_exact_at(&mut n, 0).expect("read");
        let n = u64::from_le_bytes(n);
        buf.resize(n as usize, 0);
        f.read_exact_at(buf, 8).expect("read");
        f.metadata().expect("stat").len()
    };
    let mut files: Vec<(Vec<u8>, u64)> = Vec::new();
    for p in &paths {
        let mut buf = Vec::new();
        let len = read(p, &mut buf);
        files.push((buf, len));
    }
    let header_bytes: usize = files.iter().map(|(h, _)| h.len() + 8).sum();
    let limits = Limits::default();
    let classifier = Classifier::builtin().expect("rules");
    let indexes: Vec<mir_core::TensorIndex> = files
        .iter()
        .map(|(h, len)| {
            mir_safetensors::parse_header_bytes_with(h, *len, &limits, false).expect("parses")
        })
        .collect();
    let old_strings: Vec<String> = files
        .iter()
        .filter_map(|(h, len)| mir_safetensors::baseline::layer_string(h, *len, &limits))
        .collect();

    type Phase<'a> = (&'static str, Box<dyn Fn() + 'a>);
    let phases: Vec<Phase<'_>> = vec![
        (
            "floor_read",
            Box::new(|| {
                let mut buf = Vec::new();
                for p in &paths {
                    black_box(read(p, &mut buf));
                }
            }),
        ),
        (
            "before_parse",
            Box::new(|| {
                for (h, len) in &files {
                    black_box(
                        mir_safetensors::baseline::parse_header_bytes(h, *len, &limits)
                            .expect("parses"),
                    );
                }
            }),
        ),
        (
            "before_parse_and_layer_hashes",
            Box::new(|| {
                for (h, len) in &files {
                    let i = mir_safetensors::baseline::parse_header_bytes(h, *len, &limits)
                        .expect("parses");
                    black_box(i.mir_layer_string.as_deref().map(mir_layer_hashes));
                }
            }),
        ),
        (
            // The serde_json walker the hand-written scanner replaced (same State, same checks).
            "serde_walker_parse",
            Box::new(|| {
                for (h, len) in &files {
                    black_box(
                        mir_safetensors::parse_header_bytes_serde_walker(h, *len, &limits, false)
                            .expect("parses"),
                    );
                }
            }),
        ),
        (
            "after_parse",
            Box::new(|| {
                for (h, len) in &files {
                    black_box(
                        mir_safetensors::parse_header_bytes_with(h, *len, &limits, false)
                            .expect("parses"),
                    );
                }
            }),
        ),
        (
            "after_parse_and_layer_hashes",
            Box::new(|| {
                for (h, len) in &files {
                    black_box(
                        mir_safetensors::parse_header_bytes(h, *len, &limits).expect("parses"),
                    );
                }
            }),
        ),
        (
            "layer_hashes_alone",
            Box::new(|| {
                for s in &old_strings {
                    black_box(mir_layer_hashes(s));
                }
            }),
        ),
        (
            "signatures",
            Box::new(|| {
                for i in &indexes {
                    black_box(Signatures::of(i));
                }
            }),
        ),
        (
            "classify",
            Box::new(|| {
                for i in &indexes {
                    black_box(classifier.classify(&Input::new(i)));
                }
            }),
        ),
    ];
    let mut best = vec![f64::INFINITY; phases.len()];
    for round in 0..rounds {
        for k in 0..phases.len() {
            let at = (k + round) % phases.len();
            let t = Instant::now();
            (phases[at].1)();
            best[at] = best[at].min(t.elapsed().as_secs_f64());
        }
    }
    let mut out = serde_json::Map::new();
    out.insert("files".into(), files.len().into());
    out.insert("header_bytes".into(), header_bytes.into());
    out.insert("rounds".into(), rounds.into());
    for ((name, _), secs) in phases.iter().zip(best) {
        out.insert(format!("{name}_secs"), secs.into());
    }
    println!("{}", serde_json::Value::Object(out));
}
