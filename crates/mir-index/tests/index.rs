//! The index against a real SQLite file: hits and misses, hash merging, pruning, duplicates,
//! migrations, concurrent writers and a writer killed mid-batch.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mir_hash::FileHashes;
use mir_index::{Entry, FileKey, Index, IndexError, SCHEMA_VERSION};

const RV: u32 = 3;

fn key(n: u64) -> FileKey {
    FileKey {
        dev: 2049,
        ino: 1000 + n,
        size: 4096 * n,
        mtime_ns: 1_700_000_000_000_000_000 + n as i64,
        // 0 like a row migrated from schema 2, which had no change time.
        ctime_ns: 0,
    }
}

fn entry(path: &str, n: u64) -> Entry {
    Entry {
        path: PathBuf::from(path),
        key: key(n),
        format: Some("safetensors".into()),
        key_sig: Some(format!("k{n}")),
        shape_sig: Some(format!("s{n}")),
        precision: Some("F16".into()),
        mir: Some("mir:model.unet.stable-diffusion-xl:base".into()),
        record_json: format!("{{\"n\":{n}}}"),
        hashes: FileHashes::default(),
    }
}

fn sha(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

fn open(dir: &Path) -> Index {
    Index::open(&dir.join("sub/index.sqlite3"), RV).unwrap()
}

#[test]
fn hit_only_when_key_and_record_version_match() {
    let dir = tempfile::tempdir().unwrap();
    let mut idx = open(dir.path());
    idx.store_batch(&[entry("/m/a.safetensors", 1)]).unwrap();
    let p = Path::new("/m/a.safetensors");
    let hit = idx.lookup(p, &key(1)).unwrap().unwrap();
    assert_eq!(hit.record_json, "{\"n\":1}");
    assert_eq!(
        hit.mir.as_deref(),
        Some("mir:model.unet.stable-diffusion-xl:base")
    );
    assert_eq!(hit.path, p);
    let mut changed = key(1);
    changed.mtime_ns += 1;
    assert_eq!(idx.lookup(p, &changed).unwrap(), None);
    assert_eq!(idx.lookup(Path::new("/m/other"), &key(1)).unwrap(), None);
    drop(idx);
    let newer = Index::open(&dir.path().join("sub/index.sqlite3"), RV + 1).unwrap();
    assert_eq!(
        newer.lookup(p, &key(1)).unwrap(),
        None,
        "record format changed"
    );
    assert!(newer.cached_hashes(p, &key(1)).unwrap().is_some());
    assert_eq!(newer.schema_version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn preloaded_rows_answer_like_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let mut idx = open(dir.path());
    idx.store_batch(&[entry("/m/a", 1), entry("/m/b", 2), entry("/n/c", 3)])
        .unwrap();
    let pre = idx.preload(&[Path::new("/m")]).unwrap();
    assert_eq!(pre.len(), 2);
    assert_eq!(
        pre.lookup(Path::new("/m/a"), &key(1)),
        idx.lookup(Path::new("/m/a"), &key(1)).unwrap().as_ref()
    );
    assert!(pre.lookup(Path::new("/m/a"), &key(2)).is_none());
    assert!(
        pre.lookup(Path::new("/n/c"), &key(3)).is_none(),
        "outside the roots"
    );
    let other = Index::open(&dir.path().join("sub/index.sqlite3"), RV + 1).unwrap();
    let pre = other.preload(&[]).unwrap();
    assert!(pre.lookup(Path::new("/m/a"), &key(1)).is_none());
    assert!(pre.cached_hashes(Path::new("/m/a"), &key(1)).is_some());
}

#[test]
fn hashes_merge_and_survive_a_rescan_of_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut idx = open(dir.path());
    let p = PathBuf::from("/m/a.safetensors");
    idx.store_batch(&[entry("/m/a.safetensors", 1)]).unwrap();
    let computed = FileHashes {
        file_256: Some(sha('a')),
        blake3: Some(sha('b')),
        autov3_unavailable: Some("not safetensors".into()),
        ..FileHashes::default()
    };
    let mut stale = key(1);
    stale.size += 1;
    let n = idx
        .merge_hashes(&[
            (p.clone(), key(1), computed.clone()),
            (p.clone(), stale, computed),
        ])
        .unwrap();
    assert_eq!(n, 1, "the update for a changed file is dropped");
    let h = idx.lookup(&p, &key(1)).unwrap().unwrap().hashes;
    assert_eq!(h.sha256, Some(sha('a')));
    assert_eq!(h.file_256, Some(sha('a')));
    assert_eq!(h.autov2.as_deref(), Some("aaaaaaaaaa"));
    assert_eq!(h.blake3, Some(sha('b')));
    assert_eq!(h.autov3_unavailable.as_deref(), Some("not safetensors"));

    // Re-scanning the same file without hashing keeps them; a new version of the file drops them.
    idx.store_batch(&[entry("/m/a.safetensors", 1)]).unwrap();
    assert_eq!(idx.lookup(&p, &key(1)).unwrap().unwrap().hashes, h);
    let mut new_version = entry("/m/a.safetensors", 1);
    new_version.key.mtime_ns += 5;
    idx.store_batch(&[new_version.clone()]).unwrap();
    let fresh = idx.lookup(&p, &new_version.key).unwrap().unwrap();
    assert_eq!(fresh.hashes, FileHashes::default());
}

#[test]
fn relative_paths_are_refused_and_the_batch_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut idx = open(dir.path());
    let batch = [entry("/m/a", 1), entry("/m/b", 2), entry("relative/c", 3)];
    let e = idx.store_batch(&batch).unwrap_err();
    assert!(matches!(e, IndexError::RelativePath { ref path } if path == Path::new("relative/c")));
    assert!(
        idx.paths_under(&[]).unwrap().is_empty(),
        "nothing of a failed batch is kept"
    );
    assert!(matches!(
        idx.lookup(Path::new("x"), &key(1)),
        Err(IndexError::RelativePath { .. })
    ));
}

#[cfg(unix)]
#[test]
fn non_utf8_paths_round_trip() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let mut idx = open(dir.path());
    let raw = PathBuf::from(std::ffi::OsStr::from_bytes(b"/m/caf\xe9.safetensors"));
    let mut e = entry("/", 1);
    e.path = raw.clone();
    idx.store_batch(&[e]).unwrap();
    assert!(idx.lookup(&raw, &key(1)).unwrap().is_some());
    assert_eq!(idx.paths_under(&[Path::new("/m")]).unwrap(), vec![raw]);
}

#[test]
fn forgetting_unseen_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut idx = open(dir.path());
    let real = dir.path().join("real.bin");
    std::fs::write(&real, b"x").unwrap();
    let mut e = entry("/", 9);
    e.path = real.clone();
    idx.store_batch(&[
        entry("/lib/a", 1),
        entry("/lib/b", 2),
        entry("/other/c", 3),
        e,
    ])
    .unwrap();
    let seen: HashSet<PathBuf> = [PathBuf::from("/lib/a")].into();
    assert_eq!(idx.forget_unseen(&[Path::new("/lib")], &seen).unwrap(), 1);
    let mut left = idx.paths_under(&[]).unwrap();
    left.sort();
    assert_eq!(left.len(), 3);
    assert!(!left.contains(&PathBuf::from("/lib/b")));
    // /lib/a and /other/c do not exist on disk; the real file does.
    assert_eq!(idx.forget_missing(&[Path::new("/other")]).unwrap(), 1);
    assert_eq!(idx.forget_missing(&[]).unwrap(), 1);
    assert_eq!(idx.paths_under(&[]).unwrap(), vec![real]);
}

#[test]
fn another_path_to_the_same_inode() {
    let dir = tempfile::tempdir().unwrap();
    let mut idx = open(dir.path());
    idx.store_batch(&[entry("/hf/blobs/abc", 4)]).unwrap();
    let hit = idx.lookup_inode(&key(4)).unwrap().unwrap();
    assert_eq!(hit.path, Path::new("/hf/blobs/abc"));
    let mut other = key(4);
    other.ino += 1;
    assert_eq!(idx.lookup_inode(&other).unwrap(), None);
    let unknown = FileKey {
        dev: 0,
        ino: 0,
        ..key(4)
    };
    assert_eq!(idx.lookup_inode(&unknown).unwrap(), None);
}

#[test]
fn dupes_from_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut idx = open(dir.path());
    let mut a = entry("/lib/a.safetensors", 1);
    let mut b = entry("/lib/copy/a.safetensors", 2);
    let mut c = entry("/lib/c.safetensors", 3);
    let d = entry("/elsewhere/d.safetensors", 4);
    b.key.size = a.key.size;
    c.key.size = a.key.size;
    a.hashes.sha256 = Some(sha('1'));
    b.hashes.sha256 = Some(sha('1'));
    // Same shapes in another container and precision.
    let mut q = entry("/lib/a-q8.gguf", 5);
    q.shape_sig = a.shape_sig.clone();
    q.format = Some("gguf".into());
    q.precision = Some("Q8_0".into());
    idx.store_batch(&[a.clone(), b, c, d, q]).unwrap();

    let todo = idx.unhashed_size_collisions(&[Path::new("/lib")]).unwrap();
    assert_eq!(
        todo,
        vec![(
            PathBuf::from("/lib/c.safetensors"),
            key(3).with_size(a.key.size)
        )]
    );

    let r = idx.dupes(&[Path::new("/lib")]).unwrap();
    assert_eq!(r.identical.len(), 1);
    assert_eq!(r.identical[0].wasted_bytes, a.key.size);
    assert_eq!(r.wasted_bytes, a.key.size);
    assert_eq!(r.same_shape.len(), 1);
    assert_eq!(r.same_shape[0].smallest, Path::new("/lib/a.safetensors"));
    assert_eq!(r.unhashed, 2);
    assert!(
        idx.dupes(&[Path::new("/elsewhere")])
            .unwrap()
            .identical
            .is_empty()
    );
}

trait WithSize {
    fn with_size(self, size: u64) -> Self;
}

impl WithSize for FileKey {
    fn with_size(mut self, size: u64) -> FileKey {
        self.size = size;
        self
    }
}

#[test]
fn migrates_a_version_1_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite3");
    let conn = mir_index::open_at_schema(&path, 1).unwrap();
    let v: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 1);
    let k = key(1);
    conn.execute(
        "INSERT INTO file(path, dev, ino, size, mtime_ns, record_version, format, record_json, sha256) \
         VALUES ('/old/a', ?1, ?2, ?3, ?4, ?5, 'safetensors', '{}', ?6)",
        rusqlite::params![k.dev as i64, k.ino as i64, k.size as i64, k.mtime_ns, RV, sha('c')],
    )
    .unwrap();
    drop(conn);

    let mut idx = Index::open(&path, RV).unwrap();
    assert_eq!(idx.schema_version().unwrap(), SCHEMA_VERSION);
    let hit = idx.lookup(Path::new("/old/a"), &k).unwrap().unwrap();
    assert_eq!(hit.hashes.sha256, Some(sha('c')));
    assert_eq!(hit.precision, None);
    // The version 2 columns work on the migrated file.
    idx.store_batch(&[entry("/old/b", 2)]).unwrap();
    let b = idx.lookup(Path::new("/old/b"), &key(2)).unwrap().unwrap();
    assert_eq!(b.precision.as_deref(), Some("F16"));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.sqlite3");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let e = Index::open(&path, RV).unwrap_err();
    assert!(
        matches!(
            e,
            IndexError::NewerSchema {
                found: 99,
                supported: SCHEMA_VERSION
            }
        ),
        "{e}"
    );
}

#[test]
fn an_uncreatable_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, b"").unwrap();
    let e = Index::open(&file.join("sub/index.sqlite3"), RV).unwrap_err();
    assert!(matches!(e, IndexError::Io { .. }), "{e}");
}

#[test]
fn the_file_is_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open(dir.path());
    drop(idx);
    let conn = rusqlite::Connection::open(dir.path().join("sub/index.sqlite3")).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn concurrent_writers_wait_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite3");
    let writers: Vec<_> = (0..3u64)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut idx = Index::open(&path, RV).unwrap();
                for batch in 0..40u64 {
                    let entries: Vec<Entry> = (0..100u64)
                        .map(|i| entry(&format!("/w{w}/b{batch}/f{i}"), i + 1))
                        .collect();
                    idx.store_batch(&entries).unwrap();
                    // Readers see committed data while the others write.
                    assert!(
                        idx.lookup(&entries[0].path, &entries[0].key)
                            .unwrap()
                            .is_some()
                    );
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let idx = Index::open(&path, RV).unwrap();
    assert_eq!(idx.paths_under(&[]).unwrap().len(), 3 * 40 * 100);
}

const CHILD_ENV: &str = "MIR_INDEX_TEST_CHILD";
const CHILD_BATCH: u64 = 5000;

/// Runs only as the child of `a_writer_killed_mid_batch_leaves_a_consistent_index`: stores
/// batches forever and reports each commit on stdout.
#[test]
#[ignore = "runs as a child process of the crash test"]
fn child_writer() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut idx = Index::open(Path::new(&path), RV).unwrap();
    for batch in 0u64.. {
        let entries: Vec<Entry> = (0..CHILD_BATCH)
            .map(|i| entry(&format!("/crash/b{batch}/f{i}"), i + 1))
            .collect();
        idx.store_batch(&entries).unwrap();
        println!("committed {batch}");
    }
}

#[test]
fn a_writer_killed_mid_batch_leaves_a_consistent_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.sqlite3");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut commits = 0;
    while commits < 2 {
        let line = lines.next().expect("child ended early").unwrap();
        if line.starts_with("committed ") {
            commits += 1;
        }
    }
    // The child is now inside a later batch's transaction; kill it there (SIGKILL on Unix).
    std::thread::sleep(std::time::Duration::from_millis(40));
    child.kill().unwrap();
    child.wait().unwrap();

    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    let mut idx = Index::open(&path, RV).unwrap();
    let rows = idx.paths_under(&[]).unwrap().len() as u64;
    assert!(rows >= 2 * CHILD_BATCH, "{rows} rows");
    assert_eq!(
        rows % CHILD_BATCH,
        0,
        "a partial batch was kept: {rows} rows"
    );
    // And it is writable again.
    idx.store_batch(&[entry("/after/crash", 1)]).unwrap();
}

/// Issue 17 item 6: a same-size in-place rewrite with the mtime put back moves the change time,
/// and the stored row must not answer for the new content.
#[test]
fn issue17_6_a_changed_ctime_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let mut idx = open(dir.path());
    let mut e = entry("/m/a.safetensors", 1);
    e.key.ctime_ns = 1_700_000_000_000_000_123;
    idx.store_batch(&[e.clone()]).unwrap();
    let p = Path::new("/m/a.safetensors");
    assert!(idx.lookup(p, &e.key).unwrap().is_some());
    let mut rewritten = e.key;
    rewritten.ctime_ns += 1;
    assert_eq!(idx.lookup(p, &rewritten).unwrap(), None);
    assert_eq!(idx.lookup_inode(&rewritten).unwrap(), None);
    assert_eq!(idx.cached_hashes(p, &rewritten).unwrap(), None);
}

/// A file's real key from disk changes when it is rewritten in place with its mtime put back.
#[cfg(unix)]
#[test]
fn issue17_6_real_rewrite_with_mtime_restored_changes_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.bin");
    std::fs::write(&f, b"aaaa").unwrap();
    let before = std::fs::metadata(&f).unwrap();
    let k1 = FileKey::from_metadata(&before);
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&f, b"bbbb").unwrap();
    let file = std::fs::File::options().write(true).open(&f).unwrap();
    file.set_modified(before.modified().unwrap()).unwrap();
    drop(file);
    let k2 = FileKey::from_metadata(&std::fs::metadata(&f).unwrap());
    assert_eq!((k1.size, k1.mtime_ns), (k2.size, k2.mtime_ns));
    assert_ne!(k1, k2, "the change time must tell the two versions apart");
}

/// Issue 14 defect 3: rows of files that are gone are pruned; rows of files that exist but the
/// scan skipped stay.
#[test]
fn prune_forgets_only_unseen_files_that_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lib");
    std::fs::create_dir_all(&root).unwrap();
    let kept = root.join("kept.safetensors");
    let skipped = root.join("notes.bin");
    std::fs::write(&kept, b"k").unwrap();
    std::fs::write(&skipped, b"s").unwrap();
    let gone = root.join("gone.safetensors");
    let outside = dir.path().join("elsewhere/gone.safetensors");
    let mut idx = open(dir.path());
    let rows: Vec<Entry> = [&kept, &skipped, &gone, &outside]
        .iter()
        .enumerate()
        .map(|(n, p)| entry(p.to_str().unwrap(), n as u64 + 1))
        .collect();
    idx.store_batch(&rows).unwrap();
    let seen: HashSet<PathBuf> = [kept.clone()].into_iter().collect();
    assert_eq!(idx.prune(&[root.as_path()], &seen).unwrap(), 1);
    let left = idx.paths_under(&[]).unwrap();
    assert!(left.contains(&kept) && left.contains(&skipped) && left.contains(&outside));
    assert!(!left.contains(&gone));
}
