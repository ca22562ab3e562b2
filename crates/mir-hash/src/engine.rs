//! The single pass: a plan of hashers, lanes that run them, and the readers that feed the lanes.

use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::mpsc::{self, Sender};

use sha2::{Digest, Sha256};

use crate::{AUTOV1_LEN, AUTOV1_OFFSET, FileHashes, HashAlgo, HashOptions, ReadStrategy};

/// Files below this size are hashed in the calling thread: spawning lanes costs more than it saves.
const PARALLEL_MIN_BYTES: u64 = 4 << 20;
/// Smallest chunk used for reads, so the first chunk always holds the safetensors prefix.
const MIN_CHUNK: usize = 64 << 10;
/// A lane feeds each of its hashers this much at a time, so the bytes stay in cache between them.
const SUB_CHUNK: usize = 256 << 10;
/// Chunk size when walking a slice (a map or bytes in memory).
const SLICE_CHUNK: usize = 4 << 20;

/// Why reading failed, before the caller attaches the path.
#[derive(Debug)]
pub(crate) enum ReadFail {
    /// The read itself failed.
    Io(io::Error),
    /// The file ended at `at`, before the size it had when opened.
    Short { at: u64 },
}

impl From<io::Error> for ReadFail {
    fn from(e: io::Error) -> ReadFail {
        ReadFail::Io(e)
    }
}

/// The part of `data` (which starts at file offset `offset`) that lies in `[lo, hi)`.
fn window(offset: u64, data: &[u8], lo: u64, hi: u64) -> &[u8] {
    let end = offset.saturating_add(data.len() as u64);
    let from = lo.clamp(offset, end) - offset;
    let to = hi.clamp(offset, end) - offset;
    // Both bounds are within `0..=data.len()` after the clamps, so `get` cannot miss.
    data.get(from as usize..to as usize).unwrap_or_default()
}

/// What the selected hashes need computed.
#[derive(Debug)]
struct Plan {
    sha: bool,
    /// `Some(Ok(start))` when AutoV3 is selected and applies, `Some(Err(reason))` when it does not.
    autov3: Option<Result<u64, String>>,
    blake3: bool,
    crc32: bool,
    autov1: bool,
}

impl Plan {
    fn new(algos: &[HashAlgo], head: &[u8], file_len: u64) -> Plan {
        let has = |a| algos.contains(&a);
        Plan {
            sha: has(HashAlgo::Sha256) || has(HashAlgo::AutoV2) || has(HashAlgo::File256),
            autov3: has(HashAlgo::AutoV3).then(|| crate::autov3_data_start(head, file_len)),
            blake3: has(HashAlgo::Blake3),
            crc32: has(HashAlgo::Crc32),
            autov1: has(HashAlgo::AutoV1),
        }
    }

    /// Spreads the hashers over at most `threads` lanes, heaviest first onto the lightest lane,
    /// and returns the lanes lightest first.
    /// The weights are relative costs per byte (shared/design/rust-stack.md §4 on this CPU:
    /// SHA-256 with SHA-NI about 1.8 GB/s, BLAKE3 about 4.5 GB/s on one core; CRC-32 with
    /// PCLMULQDQ measured above 6 GB/s by `benches/hashing.rs`).
    fn lanes(&self, threads: usize) -> Vec<Lane> {
        let mut jobs: Vec<(u32, Job)> = Vec::new();
        if self.sha {
            jobs.push((5, Job::Sha));
        }
        if let Some(Ok(start)) = self.autov3 {
            jobs.push((5, Job::Suffix(start)));
        }
        if self.blake3 {
            jobs.push((2, Job::Blake3));
        }
        if self.crc32 {
            jobs.push((1, Job::Crc32));
        }
        let n = threads.clamp(1, jobs.len().max(1));
        let mut lanes: Vec<(u32, Lane)> = (0..n).map(|_| (0, Lane::default())).collect();
        for (weight, job) in jobs {
            if let Some((load, lane)) = lanes.iter_mut().min_by_key(|(load, _)| *load) {
                *load += weight;
                lane.add(job);
            }
        }
        // Lightest first: the reading thread runs `lanes[0]` between reads.
        lanes.sort_by_key(|(load, _)| *load);
        lanes.into_iter().map(|(_, lane)| lane).collect()
    }

    /// Collects the lanes' digests into the hashes `algos` asked for.
    fn finish(self, algos: &[HashAlgo], lanes: Vec<Lane>, autov1_window: &[u8]) -> FileHashes {
        let mut out = FileHashes::default();
        let mut sha = None;
        for lane in lanes {
            if let Some(h) = lane.sha {
                sha = Some(hex(&h.finalize()));
            }
            if let Some((_, h)) = lane.suffix {
                out.autov3 = Some(hex(&h.finalize()));
            }
            if let Some(h) = lane.blake3 {
                out.blake3 = Some(h.finalize().to_hex().to_string());
            }
            if let Some(h) = lane.crc32 {
                out.crc32 = Some(format!("{:08x}", h.finalize()));
            }
        }
        if let Some(Err(reason)) = self.autov3 {
            out.autov3_unavailable = Some(reason);
        }
        if self.autov1 {
            let full = hex(&Sha256::digest(autov1_window));
            out.autov1 = full.get(..8).map(str::to_owned);
        }
        if let Some(sha) = sha {
            if algos.contains(&HashAlgo::AutoV2) {
                out.autov2 = sha.get(..10).map(str::to_owned);
            }
            if algos.contains(&HashAlgo::File256) {
                out.file_256 = Some(sha.clone());
            }
            if algos.contains(&HashAlgo::Sha256) {
                out.sha256 = Some(sha);
            }
        }
        out
    }
}

/// One hasher to run.
#[derive(Debug, Clone, Copy)]
enum Job {
    Sha,
    Suffix(u64),
    Blake3,
    Crc32,
}

/// The hashers one thread runs, fed the same chunks in file order.
#[derive(Default)]
struct Lane {
    sha: Option<Sha256>,
    suffix: Option<(u64, Sha256)>,
    blake3: Option<blake3::Hasher>,
    crc32: Option<crc32fast::Hasher>,
}

impl Lane {
    fn add(&mut self, job: Job) {
        match job {
            Job::Sha => self.sha = Some(Sha256::new()),
            Job::Suffix(start) => self.suffix = Some((start, Sha256::new())),
            Job::Blake3 => self.blake3 = Some(blake3::Hasher::new()),
            Job::Crc32 => self.crc32 = Some(crc32fast::Hasher::new()),
        }
    }

    /// True when the lane has no hasher (only AutoV1, or nothing, was selected).
    fn is_idle(&self) -> bool {
        self.sha.is_none() && self.suffix.is_none() && self.blake3.is_none() && self.crc32.is_none()
    }

    /// Feeds `data`, which starts at file offset `offset`, to every hasher of the lane.
    fn update(&mut self, offset: u64, data: &[u8]) {
        let mut at = offset;
        for piece in data.chunks(SUB_CHUNK) {
            if let Some(h) = &mut self.sha {
                h.update(piece);
            }
            if let Some((start, h)) = &mut self.suffix {
                h.update(window(at, piece, *start, u64::MAX));
            }
            if let Some(h) = &mut self.blake3 {
                h.update(piece);
            }
            if let Some(h) = &mut self.crc32 {
                h.update(piece);
            }
            at = at.saturating_add(piece.len() as u64);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Runs `lanes` over `data`: in this thread for one lane, else one scoped thread per lane, each
/// walking the slice front to back.
fn run_slice(data: &[u8], mut lanes: Vec<Lane>) -> Vec<Lane> {
    let walk = |lane: &mut Lane| {
        let mut offset = 0u64;
        for chunk in data.chunks(SLICE_CHUNK) {
            lane.update(offset, chunk);
            offset += chunk.len() as u64;
        }
    };
    if lanes.len() <= 1 || (data.len() as u64) < PARALLEL_MIN_BYTES {
        lanes.iter_mut().for_each(walk);
        return lanes;
    }
    // This thread walks the first lane; the others get a thread each.
    let mut own = lanes.remove(0);
    std::thread::scope(|s| {
        let handles: Vec<_> = lanes
            .into_iter()
            .map(|mut lane| {
                s.spawn(move || {
                    walk(&mut lane);
                    lane
                })
            })
            .collect();
        walk(&mut own);
        let mut lanes: Vec<Lane> = handles.into_iter().map(join).collect();
        lanes.push(own);
        lanes
    })
}

/// Joins a lane thread. Hashers do not panic; if one did, the panic carries on in this thread.
fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|payload| std::panic::resume_unwind(payload))
}

/// Hashes bytes in memory.
pub(crate) fn hash_slice(data: &[u8], algos: &[HashAlgo], threads: usize) -> FileHashes {
    let plan = Plan::new(algos, data, data.len() as u64);
    let lanes = run_slice(data, plan.lanes(threads));
    let autov1 = window(0, data, AUTOV1_OFFSET, AUTOV1_OFFSET + AUTOV1_LEN);
    plan.finish(algos, lanes, autov1)
}

/// Hashes an open regular file of `len` bytes (its size at open).
pub(crate) fn hash_open_file(
    file: &File,
    len: u64,
    algos: &[HashAlgo],
    opts: &HashOptions,
) -> Result<FileHashes, ReadFail> {
    match opts.read {
        ReadStrategy::Mmap if len > 0 => hash_mapped(file, len, algos, opts.threads),
        ReadStrategy::Mmap => hash_read(file, len, algos, opts.threads, MIN_CHUNK),
        ReadStrategy::Read { chunk } => {
            hash_read(file, len, algos, opts.threads, chunk.max(MIN_CHUNK))
        }
    }
}

#[allow(unsafe_code)]
fn hash_mapped(
    file: &File,
    len: u64,
    algos: &[HashAlgo],
    threads: usize,
) -> Result<FileHashes, ReadFail> {
    let map_len = usize::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::Unsupported, "file too large to map"))?;
    // SAFETY: `Mmap` hands out `&[u8]` over pages another process may change. The caller has
    // checked that this is a regular file and took its size from the open handle; the map
    // covers exactly that size. Content rewritten in place while we hash only makes the hashes
    // wrong, and the size/mtime check after hashing reports it as `Changed`. The residual risk
    // is truncation during hashing: touching a page past the new end raises SIGBUS and kills
    // the process. That cannot be prevented from user space, which is why `ReadStrategy::Read`
    // is the default and `Mmap` is documented as only for files nothing else writes.
    let map = unsafe { memmap2::MmapOptions::new().len(map_len).map(file)? };
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(hash_slice(&map, algos, threads))
}

/// Reads `file` sequentially up to `len`, never past it.
struct ChunkReader<'a> {
    file: &'a File,
    pos: u64,
    len: u64,
}

impl ChunkReader<'_> {
    /// Fills `buf` (or as much as remains up to `len`) and returns the byte count; 0 at `len`.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, ReadFail> {
        let remaining = usize::try_from(self.len - self.pos).unwrap_or(usize::MAX);
        let want = buf.len().min(remaining);
        let mut got = 0;
        while got < want {
            let Some(dest) = buf.get_mut(got..want) else {
                break;
            };
            match (&mut &*self.file).read(dest) {
                Ok(0) => {
                    return Err(ReadFail::Short {
                        at: self.pos + got as u64,
                    });
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.pos += got as u64;
        Ok(got)
    }
}

/// A buffer shared by the lanes; the last lane to drop it returns the buffer to the pool.
struct Chunk {
    offset: u64,
    len: usize,
    buf: Vec<u8>,
    pool: Sender<Vec<u8>>,
}

impl Chunk {
    fn data(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // The reader may already be gone (it stopped on an error); then the buffer is freed.
        let _ = self.pool.send(std::mem::take(&mut self.buf));
    }
}

fn hash_read(
    file: &File,
    len: u64,
    algos: &[HashAlgo],
    threads: usize,
    chunk: usize,
) -> Result<FileHashes, ReadFail> {
    let mut reader = ChunkReader { file, pos: 0, len };
    // A file smaller than one chunk needs a buffer only as large as the file.
    let size = usize::try_from(len).map_or(chunk, |l| chunk.min(l.max(1)));
    let mut first = vec![0u8; size];
    let n = reader.fill(&mut first)?;
    let plan = Plan::new(algos, first.get(..n).unwrap_or_default(), len);
    let mut lanes = plan.lanes(threads);
    // AutoV1 alone needs only its window, which the first chunk usually holds: stop there.
    let window_end = (AUTOV1_OFFSET + AUTOV1_LEN).min(len);
    if lanes.iter().all(Lane::is_idle) && n as u64 >= window_end {
        let head = first.get(..n).unwrap_or_default();
        let autov1 = window(0, head, AUTOV1_OFFSET, AUTOV1_OFFSET + AUTOV1_LEN);
        return Ok(plan.finish(algos, lanes, autov1));
    }
    let mut autov1 = Vec::new();
    let mut keep_autov1 = |offset: u64, data: &[u8]| {
        if plan.autov1 {
            autov1.extend_from_slice(window(
                offset,
                data,
                AUTOV1_OFFSET,
                AUTOV1_OFFSET + AUTOV1_LEN,
            ));
        }
    };

    if lanes.len() <= 1 || len < PARALLEL_MIN_BYTES {
        let mut buf = first;
        let mut n = n;
        let mut offset = 0u64;
        while n > 0 {
            let data = buf.get(..n).unwrap_or_default();
            keep_autov1(offset, data);
            lanes.iter_mut().for_each(|lane| lane.update(offset, data));
            offset += n as u64;
            n = reader.fill(&mut buf)?;
        }
        return Ok(plan.finish(algos, lanes, &autov1));
    }

    // The reading thread runs the first lane itself between reads; the others get threads.
    let mut own = lanes.remove(0);
    let lanes = std::thread::scope(|s| -> Result<Vec<Lane>, ReadFail> {
        // Three buffers per spawned lane: one being hashed here, and up to two queued ahead.
        let (pool_tx, pool_rx) = mpsc::channel::<Vec<u8>>();
        for _ in 1..lanes.len() * 3 {
            let _ = pool_tx.send(vec![0u8; size]);
        }
        let mut senders = Vec::with_capacity(lanes.len());
        let mut handles = Vec::with_capacity(lanes.len());
        for mut lane in lanes {
            let (tx, rx) = mpsc::channel::<Arc<Chunk>>();
            senders.push(tx);
            handles.push(s.spawn(move || {
                for chunk in rx {
                    lane.update(chunk.offset, chunk.data());
                }
                lane
            }));
        }
        let read_all = || -> Result<(), ReadFail> {
            let mut buf = first;
            let mut n = n;
            let mut offset = 0u64;
            while n > 0 {
                let chunk = Arc::new(Chunk {
                    offset,
                    len: n,
                    buf,
                    pool: pool_tx.clone(),
                });
                for tx in &senders {
                    // A lane only stops receiving when this function drops the senders.
                    let _ = tx.send(Arc::clone(&chunk));
                }
                keep_autov1(offset, chunk.data());
                own.update(offset, chunk.data());
                drop(chunk);
                offset += n as u64;
                // The pool cannot run dry for good: every buffer comes back once the lanes
                // drop its chunk, and `pool_tx` lives until this function returns.
                buf = pool_rx
                    .recv()
                    .map_err(|_| io::Error::other("internal: hashing buffer pool closed"))?;
                n = reader.fill(&mut buf)?;
            }
            Ok(())
        };
        let result = read_all();
        drop(senders);
        let mut lanes: Vec<Lane> = handles.into_iter().map(join).collect();
        lanes.push(own);
        result.map(|()| lanes)
    })?;
    Ok(plan.finish(algos, lanes, &autov1))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn window_cuts_only_the_overlap() {
        let data = [0u8, 1, 2, 3, 4, 5];
        assert_eq!(window(10, &data, 12, 14), &[2, 3]);
        assert_eq!(window(10, &data, 0, 12), &[0, 1]);
        assert_eq!(window(10, &data, 14, u64::MAX), &[4, 5]);
        assert!(window(10, &data, 16, 20).is_empty());
        assert!(window(10, &data, 0, 10).is_empty());
    }

    #[test]
    fn lanes_put_the_two_sha_streams_apart() {
        let head = [2u8, 0, 0, 0, 0, 0, 0, 0, b'{', b'}'];
        let plan = Plan::new(&HashAlgo::ALL, &head, 10);
        let lanes = plan.lanes(2);
        assert_eq!(lanes.len(), 2);
        assert!(lanes.iter().all(|l| l.sha.is_some() != l.suffix.is_some()));
        assert_eq!(plan.lanes(1).len(), 1);
        assert_eq!(plan.lanes(16).len(), 4, "one lane per hasher at most");
    }

    #[test]
    fn a_read_that_ends_early_is_short() {
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, &[7u8; 1000]).unwrap();
        std::io::Seek::rewind(&mut f).unwrap();
        let opts = HashOptions::sequential();
        let e = hash_open_file(&f, 5000, &[HashAlgo::Crc32], &opts).unwrap_err();
        assert!(matches!(e, ReadFail::Short { at: 1000 }), "{e:?}");
    }
}
