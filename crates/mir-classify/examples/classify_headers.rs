//! Classifies the safetensors files under a directory, for profiling the classifier alone:
//! `cargo run --profile profiling -p mir-classify --example classify_headers -- DIR [ROUNDS]
//! [--dump FILE]`.
//!
//! Reads every `*.safetensors` header once (names, dtypes, shapes, string metadata; the header
//! is plain JSON, read here with `serde_json` so the example needs no parser plugin), then
//! classifies them all `ROUNDS` times and prints, per file kind (the name without its leading
//! number), the best time per round. `--dump FILE` writes every classification's `Debug` text
//! (to compare two builds' answers on a real library).
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mir_classify::{Classifier, Input};
use mir_core::{Dtype, MetaValue, TensorIndex, TensorRecord};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "safetensors") {
            out.push(p);
        }
    }
}

fn load(p: &Path) -> TensorIndex {
    let mut f = std::fs::File::open(p).unwrap();
    let mut n = [0u8; 8];
    f.read_exact(&mut n).unwrap();
    let mut buf = vec![0u8; usize::try_from(u64::from_le_bytes(n)).unwrap()];
    f.read_exact(&mut buf).unwrap();
    let v: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&buf).unwrap();
    let mut idx = TensorIndex::new("safetensors");
    for (k, e) in v {
        if k == "__metadata__" {
            for (mk, mv) in e.as_object().into_iter().flatten() {
                if let Some(s) = mv.as_str() {
                    idx.metadata
                        .insert(mk.clone(), MetaValue::Str(s.to_owned()));
                }
            }
            continue;
        }
        let dtype = Dtype::from_safetensors(e["dtype"].as_str().unwrap());
        let shape = e["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        idx.tensors.push(TensorRecord::new(k, dtype, shape));
    }
    idx
}

fn kind(p: &Path) -> String {
    let name = p.file_name().unwrap().to_string_lossy();
    let parent = p.parent().unwrap().file_name().unwrap().to_string_lossy();
    let strip = |s: &str| {
        s.split_once('-')
            .map_or(s.to_owned(), |(_, r)| r.to_owned())
    };
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        strip(&name)
    } else {
        format!("{}/{}", strip(&parent), name)
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("DIR"));
    let mut rounds = 3usize;
    let mut dump = None;
    while let Some(a) = args.next() {
        if a == "--dump" {
            dump = Some(PathBuf::from(args.next().expect("--dump FILE")));
        } else {
            rounds = a.parse().expect("ROUNDS");
        }
    }
    let mut paths = Vec::new();
    walk(&dir, &mut paths);
    let files: Vec<(String, String, TensorIndex)> = paths
        .iter()
        .map(|p| {
            (
                kind(p),
                p.file_name().unwrap().to_string_lossy().into_owned(),
                load(p),
            )
        })
        .collect();
    let t = Instant::now();
    let c = Classifier::builtin().unwrap();
    let startup = t.elapsed();
    if let Some(d) = dump {
        let mut out = String::new();
        for (_, name, idx) in &files {
            let mut input = Input::new(idx);
            input.file_name = Some(name);
            out.push_str(&format!("{name}\n{:#?}\n", c.classify(&input)));
        }
        std::fs::write(d, out).unwrap();
    }
    let mut best: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    let mut total = f64::INFINITY;
    for _ in 0..rounds {
        let mut per: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
        let all = Instant::now();
        for (k, name, idx) in &files {
            let mut input = Input::new(idx);
            input.file_name = Some(name);
            let t = Instant::now();
            std::hint::black_box(c.classify(std::hint::black_box(&input)));
            let e = per.entry(k).or_default();
            e.0 += 1;
            e.1 += t.elapsed().as_secs_f64();
        }
        total = total.min(all.elapsed().as_secs_f64());
        for (k, v) in per {
            let b = best.entry(k).or_insert((v.0, f64::INFINITY));
            b.1 = b.1.min(v.1);
        }
    }
    println!(
        "{} files, classifier built in {:.2} ms, classify all: {:.1} ms (best of {rounds})",
        files.len(),
        startup.as_secs_f64() * 1e3,
        total * 1e3
    );
    for (k, (n, s)) in best {
        println!(
            "{:>8.2} ms {:>5} files {:>9.1} us/file  {k}",
            s * 1e3,
            n,
            s * 1e6 / n as f64
        );
    }
}
