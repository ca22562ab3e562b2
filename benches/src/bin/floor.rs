//! The floor `cargo xtask bench` compares `mir scan` with: walk the folders, open every weight
//! file and pread exactly its header bytes, nothing else. No parsing, no hashing, no output per
//! file.
//!
//! Usage: `floor MANIFEST DIR...`. Safetensors files are read as any reader must (8 bytes, then
//! the `N` header bytes they announce). A GGUF header's end is only known by parsing it, so its
//! length comes from the library's `manifest.tsv` (keyed by file name, which the generator keeps
//! unique); `*.index.json` shard indexes are read whole. The files are read by one thread per core,
//! as `mir scan` does. Prints `files bytes` on stdout.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ty = entry.file_type()?;
        if ty.is_dir() {
            walk(&entry.path(), out)?;
        } else if ty.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// Reads one file's header bytes into `buf`; returns how many were read.
fn read_header(
    path: &Path,
    gguf_len: &HashMap<String, u64>,
    buf: &mut Vec<u8>,
) -> std::io::Result<u64> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let len = match ext {
        "safetensors" => {
            let f = File::open(path)?;
            let mut n = [0u8; 8];
            f.read_exact_at(&mut n, 0)?;
            let n = u64::from_le_bytes(n);
            buf.resize(n as usize, 0);
            f.read_exact_at(buf, 8)?;
            return Ok(8 + n);
        }
        "gguf" => gguf_len.get(name).copied().unwrap_or(0),
        "json" if name.ends_with(".index.json") => std::fs::metadata(path)?.len(),
        _ => return Ok(0),
    };
    let f = File::open(path)?;
    buf.resize(len as usize, 0);
    f.read_exact_at(buf, 0)?;
    Ok(len)
}

fn main() -> std::io::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let Some((manifest, dirs)) = args.split_first() else {
        eprintln!("usage: floor MANIFEST DIR...");
        std::process::exit(2);
    };
    let gguf_len: HashMap<String, u64> = std::fs::read_to_string(manifest)?
        .lines()
        .filter_map(|line| {
            let mut f = line.split('\t').skip(1);
            let rel = Path::new(f.next()?);
            let len = f.next()?.parse().ok()?;
            Some((rel.file_name()?.to_str()?.to_owned(), len))
        })
        .collect();
    let mut files = Vec::new();
    for d in dirs {
        walk(d, &mut files)?;
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let files = &files;
    let gguf_len = &gguf_len;
    let (count, bytes) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut buf = Vec::new();
                    let (mut count, mut bytes) = (0u64, 0u64);
                    for path in files.iter().skip(t).step_by(threads) {
                        match read_header(path, gguf_len, &mut buf) {
                            Ok(0) => {}
                            Ok(n) => {
                                count += 1;
                                bytes += n;
                            }
                            Err(e) => eprintln!("{}: {e}", path.display()),
                        }
                    }
                    (count, bytes)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or((0, 0)))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    println!("{count} {bytes}");
    Ok(())
}
