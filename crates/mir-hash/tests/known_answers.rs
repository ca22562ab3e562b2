//! Known-answer tests: every hash against independent one-shot code over `fs::read`, the
//! `sha256sum`/`b3sum` tools when installed, and the MIR project's test vectors (`fixtures/reference/mir-testvec`).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use mir_hash::{
    AUTOV1_LEN, AUTOV1_OFFSET, FileHashes, HashAlgo, HashError, HashOptions, ReadStrategy,
    hash_bytes, hash_file, hash_file_with_metadata,
};
use sha2::{Digest, Sha256};

/// The MIR test vectors kept in the repository (`fixtures/reference/mir-testvec`, README there).
fn testvec() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/reference/mir-testvec")
}

fn sha_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The expected hashes, computed independently with one-shot calls over the whole buffer.
fn expected(bytes: &[u8], autov3_start: Option<usize>) -> FileHashes {
    let sha = sha_hex(bytes);
    let lo = (AUTOV1_OFFSET as usize).min(bytes.len());
    let hi = ((AUTOV1_OFFSET + AUTOV1_LEN) as usize).min(bytes.len());
    FileHashes {
        sha256: Some(sha.clone()),
        autov1: Some(sha_hex(&bytes[lo..hi])[..8].to_owned()),
        autov2: Some(sha[..10].to_owned()),
        autov3: autov3_start.map(|s| sha_hex(&bytes[s..])),
        blake3: Some(blake3::hash(bytes).to_hex().to_string()),
        crc32: Some(format!("{:08x}", crc32fast::hash(bytes))),
        file_256: Some(sha),
        autov3_unavailable: None,
    }
}

/// Pseudo-random bytes (xorshift), so files are not trivially compressible or periodic.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A safetensors-shaped file: 8-byte length, a JSON header of `header_len` bytes, then noise.
fn safetensors_like(header_len: usize, data_len: usize) -> Vec<u8> {
    let mut v = (header_len as u64).to_le_bytes().to_vec();
    let mut header = b"{\"__metadata__\":{}}".to_vec();
    header.resize(header_len, b' ');
    v.extend(header);
    v.extend(noise(data_len, 7));
    v
}

fn all_options() -> Vec<HashOptions> {
    let mut v = Vec::new();
    for threads in [1, 2, 4] {
        for read in [
            ReadStrategy::Read { chunk: 64 << 10 },
            ReadStrategy::Read { chunk: 1 << 20 },
            ReadStrategy::Read {
                chunk: mir_hash::DEFAULT_CHUNK,
            },
            ReadStrategy::Mmap,
        ] {
            v.push(HashOptions { threads, read });
        }
    }
    v
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn testvec_file_256_and_blake3_match_the_mir_project() {
    let dir = testvec();
    let vectors: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("vectors.json")).unwrap()).unwrap();
    let files = vectors.as_object().unwrap();
    assert!(files.len() >= 3);
    for (name, v) in files {
        let h = hash_file(&dir.join(name), &HashAlgo::ALL, &HashOptions::default()).unwrap();
        assert_eq!(h.file_256.as_deref(), v["file_256"].as_str(), "{name}");
        assert_eq!(h.sha256.as_deref(), v["file_256"].as_str(), "{name}");
        assert_eq!(h.blake3.as_deref(), v["file_b3"].as_str(), "{name}");
    }
}

#[test]
fn tv1_autov3_is_the_sha256_of_its_16_data_bytes() {
    let path = testvec().join("tv1_with_meta.safetensors");
    let bytes = fs::read(&path).unwrap();
    let data: Vec<u8> = (0u8..16).collect();
    assert_eq!(&bytes[bytes.len() - 16..], &data[..]);
    let h = hash_file(&path, &[HashAlgo::AutoV3], &HashOptions::sequential()).unwrap();
    assert_eq!(h.autov3, Some(sha_hex(&data)));
    assert_eq!(h.autov3_unavailable, None);
    assert_eq!(h.sha256, None, "only the selected hash is filled");
}

#[test]
fn gguf_has_no_autov3_and_says_why() {
    let path = testvec().join("tv4_tiny.gguf");
    let h = hash_file(&path, &HashAlgo::ALL, &HashOptions::default()).unwrap();
    assert_eq!(h.autov3, None);
    assert!(
        h.autov3_unavailable
            .as_deref()
            .unwrap()
            .contains("not safetensors")
    );
    assert!(h.covers(&HashAlgo::ALL));
    assert_eq!(h.sha256, Some(sha_hex(&fs::read(&path).unwrap())));
}

#[test]
fn every_strategy_matches_one_shot_hashes() {
    let dir = tempfile::tempdir().unwrap();
    // Past the parallel threshold, with a header length that puts the data start off any chunk
    // or sub-chunk boundary, and a tail that is not a whole chunk.
    let big = safetensors_like(70_001, 9 * 1024 * 1024 + 77);
    let start = 8 + 70_001;
    let path = write(dir.path(), "big.safetensors", &big);
    let want = expected(&big, Some(start));
    for opts in all_options() {
        let got = hash_file(&path, &HashAlgo::ALL, &opts).unwrap();
        assert_eq!(got, want, "{opts:?}");
    }
    assert_eq!(hash_bytes(&big, &HashAlgo::ALL, 2), want);
}

#[test]
fn autov1_window_on_long_and_short_files() {
    let dir = tempfile::tempdir().unwrap();
    // Longer than 1 MiB + 64 KiB: exactly the window is hashed.
    let long = noise(1_200_000, 3);
    let p = write(dir.path(), "long.bin", &long);
    let want = Some(sha_hex(&long[0x100000..0x110000])[..8].to_owned());
    for opts in all_options() {
        // Small chunks read the whole file; a 4 MiB first chunk holds the window and ends it.
        let h = hash_file(&p, &[HashAlgo::AutoV1], &opts).unwrap();
        assert_eq!(h.autov1, want, "{opts:?}");
    }
    assert_ne!(want, Some(sha_hex(&long[0x100000..])[..8].to_owned()));
    // Between 1 MiB and 1 MiB + 64 KiB: what is there after 1 MiB.
    let mid = noise(0x100000 + 100, 4);
    let p = write(dir.path(), "mid.bin", &mid);
    let h = hash_file(&p, &[HashAlgo::AutoV1], &HashOptions::default()).unwrap();
    assert_eq!(h.autov1, Some(sha_hex(&mid[0x100000..])[..8].to_owned()));
    // Shorter than 1 MiB: Python's read past the end gives b"", so SHA-256 of nothing.
    let p = write(dir.path(), "short.bin", &noise(500, 5));
    let h = hash_file(&p, &[HashAlgo::AutoV1], &HashOptions::default()).unwrap();
    assert_eq!(h.autov1.as_deref(), Some("e3b0c442"));
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "empty.safetensors", b"");
    for opts in all_options() {
        let h = hash_file(&p, &HashAlgo::ALL, &opts).unwrap();
        let want = FileHashes {
            autov3: None,
            autov3_unavailable: h.autov3_unavailable.clone(),
            ..expected(b"", None)
        };
        assert_eq!(h, want);
        assert!(h.autov3_unavailable.is_some());
    }
}

#[test]
fn matches_sha256sum_and_b3sum_when_installed() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = noise(5 * 1024 * 1024 + 3, 11);
    let p = write(dir.path(), "x.bin", &bytes);
    let h = hash_file(&p, &HashAlgo::ALL, &HashOptions::default()).unwrap();
    for (tool, ours) in [("sha256sum", &h.sha256), ("b3sum", &h.blake3)] {
        let Ok(out) = Command::new(tool).arg(&p).output() else {
            eprintln!("{tool} is not installed; compared with one-shot code only");
            continue;
        };
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.split_whitespace().next(), ours.as_deref(), "{tool}");
    }
    let want = FileHashes {
        autov3_unavailable: Some("not safetensors: no JSON header at offset 8".to_owned()),
        ..expected(&bytes, None)
    };
    assert_eq!(h, want);
}

#[test]
fn json_uses_the_published_field_names() {
    let h = hash_bytes(b"abc", &[HashAlgo::File256, HashAlgo::Crc32], 1);
    let json = serde_json::to_value(&h).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "crc32": "352441c2",
            "file_256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        })
    );
    let back: FileHashes = serde_json::from_value(json).unwrap();
    assert_eq!(back, h);
}

#[test]
fn metadata_is_that_of_the_hashed_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "m.bin", &noise(1000, 2));
    let (_, meta) =
        hash_file_with_metadata(&p, &[HashAlgo::Crc32], &HashOptions::default()).unwrap();
    assert_eq!(meta.len(), 1000);
}

#[test]
fn errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = hash_file(dir.path(), &HashAlgo::ALL, &HashOptions::default()).unwrap_err();
    assert!(matches!(e, HashError::NotAFile { .. }), "{e}");
    let missing = dir.path().join("missing.safetensors");
    let e = hash_file(&missing, &HashAlgo::ALL, &HashOptions::default()).unwrap_err();
    assert!(
        matches!(e, HashError::Io { ref path, .. } if *path == missing),
        "{e}"
    );
    assert!(e.to_string().contains("missing.safetensors"));
}

/// A FIFO would block a plain `open` until a writer appears (forever): it is refused at once,
/// and so is a path whose device/inode is not the one expected.
#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_blocking_and_an_unexpected_file_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("model.safetensors");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let p = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx.send(hash_file(&p, &HashAlgo::ALL, &HashOptions::default()).map(|_| ()));
    });
    let got = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("hashing a FIFO must not block");
    assert!(matches!(got, Err(HashError::NotAFile { .. })), "{got:?}");

    let a = write(dir.path(), "a.bin", b"aaaa");
    let b = write(dir.path(), "b.bin", b"bbbb");
    let id = |p: &Path| mir_core::FileId::of(&fs::metadata(p).unwrap()).unwrap();
    let opts = HashOptions::default();
    assert!(mir_hash::hash_file_checked(&a, Some(id(&a)), &[HashAlgo::Crc32], &opts).is_ok());
    let e = mir_hash::hash_file_checked(&b, Some(id(&a)), &[HashAlgo::Crc32], &opts).unwrap_err();
    assert!(matches!(e, HashError::Changed { .. }), "{e}");
}

/// sysfs attributes are regular files whose size (4096) is larger than what a read returns:
/// exactly what a file truncated after `open` looks like.
#[cfg(target_os = "linux")]
#[test]
fn a_file_shorter_than_its_size_is_changed_not_a_crash() {
    let p = Path::new("/sys/devices/system/cpu/online");
    assert!(p.is_file(), "sysfs is expected on Linux");
    for opts in [HashOptions::sequential(), HashOptions::default()] {
        let e = hash_file(p, &HashAlgo::ALL, &opts).unwrap_err();
        assert!(matches!(e, HashError::Changed { .. }), "{e}");
        assert!(e.to_string().contains("before the 4096 bytes"), "{e}");
    }
}

/// A file truncated by another thread while it is hashed gives `Changed` (or, if the truncation
/// won the race to `open`, the hashes of the empty file), never a crash or wrong hashes.
#[test]
fn truncation_while_hashing_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.bin");
    let bytes = noise(64 << 20, 9);
    let empty = expected(b"", None);
    let mut changed = 0;
    for round in 0..5 {
        fs::write(&p, &bytes).unwrap();
        let p2 = p.clone();
        let cutter = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(5));
            fs::OpenOptions::new()
                .write(true)
                .open(&p2)
                .unwrap()
                .set_len(1000)
                .unwrap();
        });
        let opts = if round % 2 == 0 {
            HashOptions::sequential()
        } else {
            HashOptions::default()
        };
        match hash_file(&p, &[HashAlgo::Sha256, HashAlgo::Blake3], &opts) {
            Err(HashError::Changed { .. }) => changed += 1,
            Ok(h) => assert!(
                h.sha256 == empty.sha256 || h.sha256 == Some(sha_hex(&bytes[..1000])),
                "hashes of a file that changed must not be returned"
            ),
            Err(e) => panic!("unexpected error {e}"),
        }
        cutter.join().unwrap();
    }
    assert!(changed > 0, "the truncation never landed mid-hash");
}
