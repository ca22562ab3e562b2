//! Every selected file hash from ONE read of the file: SHA-256 (with AutoV2 and MIR's `file_256`),
//! AutoV1, AutoV3, BLAKE3 and CRC-32.
//!
//! # How
//!
//! The file is read once, sequentially, in large chunks. Every chunk goes to each selected hasher;
//! with [`HashOptions::threads`] above 1 the hashers are spread over worker threads ("lanes") that
//! receive the same chunks, so the expensive hashes (two SHA-256 streams when AutoV3 is asked for,
//! and BLAKE3) run in parallel while a single reader keeps the disk busy. AutoV3 is a second
//! SHA-256 stream fed from the same buffers, starting at the safetensors data offset `8 + N`;
//! AutoV2 and `file_256` are views of the whole-file SHA-256; AutoV1 hashes the 64 KiB window at
//! 1 MiB, cut from the same buffers.
//!
//! # Spinning disks
//!
//! InvokeAI measured parallel BLAKE3 hashing about 100× slower than single-threaded on an HDD
//! (invoke-ai/InvokeAI#6020): `blake3::Hasher::update_mmap_rayon` makes several threads fault
//! in different parts of the file, and the disk head seeks between them. Here the threads never
//! read: one reader walks the file front to back (or, with [`ReadStrategy::Mmap`], every lane
//! walks the same map front to back in step), so extra threads cost CPU, not seeks. Two things
//! remain for the caller: hash files one after another, never several files at once, on a
//! spinning disk; and offer `threads = 1` ([`HashOptions::sequential`]) for machines where even a
//! second CPU thread is unwelcome.
//!
//! # Files that change
//!
//! The file's size and modification time are taken from the open handle before and after
//! hashing; a difference, or a read that ends before the size seen at open, gives
//! [`HashError::Changed`]. Reads never crash on truncation, which is why [`ReadStrategy::Read`]
//! is the default (see [`ReadStrategy::Mmap`] for the risk a map carries).
//!
//! ```
//! use mir_hash::{hash_bytes, HashAlgo};
//! let h = hash_bytes(b"abc", &[HashAlgo::Sha256, HashAlgo::AutoV2, HashAlgo::Crc32], 1);
//! assert_eq!(h.autov2.as_deref(), Some("ba7816bf8f"));
//! assert_eq!(h.crc32.as_deref(), Some("352441c2"));
//! ```
#![deny(missing_docs)]
// The memory-map path needs one `unsafe` call; it carries `#[allow(unsafe_code)]` and a SAFETY
// comment. Everything else is safe code.
#![deny(unsafe_code)]

mod algo;
mod engine;
mod error;

use std::fs::Metadata;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use algo::HashAlgo;
pub use error::HashError;

/// Offset of the AutoV1 window: A1111's `model_hash` does `file.seek(0x100000)`.
pub const AUTOV1_OFFSET: u64 = 0x10_0000;
/// Length of the AutoV1 window: `file.read(0x10000)`; a shorter file hashes what is there (an
/// empty window, i.e. SHA-256 of nothing, for files of 1 MiB or less).
pub const AUTOV1_LEN: u64 = 0x1_0000;

/// How the file's bytes reach the hashers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadStrategy {
    /// `read(2)` into reusable buffers of `chunk` bytes (at least 64 KiB is used). A file
    /// truncated meanwhile yields a short read and [`HashError::Changed`]; never a crash.
    Read {
        /// Bytes per read.
        chunk: usize,
    },
    /// Map the file with `memmap2` and hash the map. Only regular files are mapped and the size
    /// is checked before and after, but if another process truncates the file *while* it is
    /// hashed the kernel sends `SIGBUS` and the process dies: no user-space check can close that
    /// window. Use it only on files nothing else writes.
    Mmap,
}

/// Default chunk for [`ReadStrategy::Read`]. In `benches/hashing.rs` 1, 4 and 16 MiB were
/// within the noise of each other; 4 MiB holds the AutoV1 window in the first read.
pub const DEFAULT_CHUNK: usize = 4 << 20;

/// Options for [`hash_file`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashOptions {
    /// Hashing threads for one file. `1` hashes in the calling thread only (for spinning disks
    /// and busy machines); more spreads the selected hashers over that many lanes, each fed the
    /// same chunks by one sequential reader. Values above the number of hashers add nothing.
    pub threads: usize,
    /// How the bytes are read.
    pub read: ReadStrategy,
}

impl HashOptions {
    /// One thread and plain reads: the safe choice for spinning disks.
    pub fn sequential() -> HashOptions {
        HashOptions {
            threads: 1,
            ..HashOptions::default()
        }
    }
}

impl Default for HashOptions {
    /// The machine's available parallelism (at most 4, the number of expensive hashers) and
    /// [`ReadStrategy::Read`] with [`DEFAULT_CHUNK`]. Reads, not a map: in `benches/hashing.rs`
    /// the map was at most about 10% faster for SHA-256 alone and no faster for all hashes,
    /// which does not pay for the SIGBUS risk.
    fn default() -> HashOptions {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        HashOptions {
            threads: cpus.min(4),
            read: ReadStrategy::Read {
                chunk: DEFAULT_CHUNK,
            },
        }
    }
}

/// The hashes of one file as lowercase hex; `None` for hashes not selected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHashes {
    /// SHA-256 of the whole file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// SHA-256 of the 64 KiB at 1 MiB, first 8 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autov1: Option<String>,
    /// First 10 hex digits of the whole-file SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autov2: Option<String>,
    /// SHA-256 of the safetensors data section (after the `8 + N` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autov3: Option<String>,
    /// BLAKE3 of the whole file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    /// CRC-32 (IEEE) of the whole file, 8 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<String>,
    /// MIR's `file_256`: SHA-256 of the whole file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_256: Option<String>,
    /// Why AutoV3 was asked for but not computed (the file has no safetensors header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autov3_unavailable: Option<String>,
}

impl FileHashes {
    /// The value of one hash, if present.
    pub fn get(&self, algo: HashAlgo) -> Option<&str> {
        match algo {
            HashAlgo::Sha256 => self.sha256.as_deref(),
            HashAlgo::AutoV1 => self.autov1.as_deref(),
            HashAlgo::AutoV2 => self.autov2.as_deref(),
            HashAlgo::AutoV3 => self.autov3.as_deref(),
            HashAlgo::Blake3 => self.blake3.as_deref(),
            HashAlgo::Crc32 => self.crc32.as_deref(),
            HashAlgo::File256 => self.file_256.as_deref(),
        }
    }

    /// True when every hash in `algos` is present or (AutoV3) known to be unavailable, so the
    /// file need not be read again for them.
    pub fn covers(&self, algos: &[HashAlgo]) -> bool {
        algos.iter().all(|&a| {
            self.get(a).is_some() || (a == HashAlgo::AutoV3 && self.autov3_unavailable.is_some())
        })
    }
}

/// Where AutoV3 starts: `8 + N` for a file that begins with a safetensors header (an 8-byte
/// little-endian length `N`, then a JSON object that fits in the file). `head` is the start of
/// the file (9 bytes suffice); the error is the reason AutoV3 does not apply.
pub fn autov3_data_start(head: &[u8], file_len: u64) -> Result<u64, String> {
    let Some((len_bytes, rest)) = head.split_first_chunk::<8>() else {
        return Err("not safetensors: shorter than the 8-byte header length".to_owned());
    };
    if rest.first() != Some(&b'{') {
        return Err("not safetensors: no JSON header at offset 8".to_owned());
    }
    let n = u64::from_le_bytes(*len_bytes);
    match n.checked_add(8) {
        Some(start) if start <= file_len => Ok(start),
        _ => Err(format!(
            "not safetensors: header length {n} runs past the end of the {file_len}-byte file"
        )),
    }
}

/// Hashes the file at `path` with every hash in `algos`, reading it once.
pub fn hash_file(
    path: &Path,
    algos: &[HashAlgo],
    opts: &HashOptions,
) -> Result<FileHashes, HashError> {
    hash_file_with_metadata(path, algos, opts).map(|(hashes, _)| hashes)
}

/// Like [`hash_file`], and also returns the metadata of the file that was hashed (taken from the
/// open handle and verified unchanged afterwards). Build a cache key from this metadata, not
/// from an earlier `stat`, so a file replaced between the `stat` and the hash is never stored
/// under the old key.
pub fn hash_file_with_metadata(
    path: &Path,
    algos: &[HashAlgo],
    opts: &HashOptions,
) -> Result<(FileHashes, Metadata), HashError> {
    hash_file_checked(path, None, algos, opts)
}

/// Like [`hash_file_with_metadata`], and refuses ([`HashError::Changed`]) a file whose device
/// and inode are not `expected`, checked on the open handle before any read: a scanner passes
/// the identity its walk accepted, so a symlink retargeted outside the roots after the walk is
/// never read.
pub fn hash_file_checked(
    path: &Path,
    expected: Option<mir_core::FileId>,
    algos: &[HashAlgo],
    opts: &HashOptions,
) -> Result<(FileHashes, Metadata), HashError> {
    let io_err = |source| HashError::Io {
        path: path.to_path_buf(),
        source,
    };
    // The one open every reader uses: non-blocking (a FIFO never hangs the open), regular files
    // only, checked on the handle.
    let (file, before) = mir_core::open_regular(path, expected).map_err(|e| match e {
        mir_core::Error::Io(source) => io_err(source),
        mir_core::Error::NotRegularFile { .. } => HashError::NotAFile {
            path: path.to_path_buf(),
        },
        other => HashError::Changed {
            path: path.to_path_buf(),
            detail: other.to_string(),
        },
    })?;
    let hashes = engine::hash_open_file(&file, before.len(), algos, opts).map_err(|e| match e {
        engine::ReadFail::Io(source) => io_err(source),
        engine::ReadFail::Short { at } => HashError::Changed {
            path: path.to_path_buf(),
            detail: format!(
                "the file ended at byte {at}, before the {} bytes it had when opened",
                before.len()
            ),
        },
    })?;
    let after = file.metadata().map_err(io_err)?;
    if after.len() != before.len() || after.modified().ok() != before.modified().ok() {
        return Err(HashError::Changed {
            path: path.to_path_buf(),
            detail: format!(
                "size {} -> {} or modification time changed",
                before.len(),
                after.len()
            ),
        });
    }
    Ok((hashes, before))
}

/// Hashes bytes already in memory (a plugin's buffer, a test fixture) with `threads` lanes.
pub fn hash_bytes(data: &[u8], algos: &[HashAlgo], threads: usize) -> FileHashes {
    engine::hash_slice(data, algos, threads)
}
