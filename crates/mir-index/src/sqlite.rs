//! The SQLite index itself (the `sqlite` feature).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use mir_hash::FileHashes;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::{
    BUSY_TIMEOUT, Cached, DupeFile, DupeReport, Entry, FileKey, IndexError, Result, find_dupes,
    schema::{self, SCHEMA_VERSION},
};

/// An open index.
#[derive(Debug)]
pub struct Index {
    conn: Connection,
    record_version: u32,
}

/// The index path used when none is given: `$MIR_INDEX`, else the platform cache directory.
pub fn default_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("MIR_INDEX").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    dirs::cache_dir()
        .map(|d| d.join("mir").join("index.sqlite3"))
        .ok_or(IndexError::NoCacheDir)
}

/// A path as an SQLite value: TEXT when it is UTF-8 (readable in the `sqlite3` shell), else the
/// raw bytes as a BLOB. Both encodings are deterministic, so lookups find what was stored.
fn path_value(path: &Path) -> ToSqlOutput<'_> {
    match path.to_str() {
        Some(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        None => ToSqlOutput::Borrowed(ValueRef::Blob(path.as_os_str().as_encoded_bytes())),
    }
}

fn path_from(value: ValueRef<'_>) -> PathBuf {
    match value {
        ValueRef::Text(t) => PathBuf::from(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => {
            #[cfg(unix)]
            {
                use std::os::unix::ffi::OsStrExt;
                PathBuf::from(std::ffi::OsStr::from_bytes(b))
            }
            #[cfg(not(unix))]
            {
                PathBuf::from(String::from_utf8_lossy(b).into_owned())
            }
        }
        _ => PathBuf::new(),
    }
}

fn absolute(path: &Path) -> Result<&Path> {
    if path.is_absolute() {
        Ok(path)
    } else {
        Err(IndexError::RelativePath {
            path: path.to_path_buf(),
        })
    }
}

/// SQLite integers are i64: u64 device and inode numbers are stored bit for bit.
fn to_i64(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

fn to_u64(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

const COLUMNS: &str = "path, dev, ino, size, mtime_ns, record_version, format, key_sig, shape_sig, \
     precision, mir, record_json, sha256, autov1, autov3, blake3, crc32, autov3_unavailable, \
     ctime_ns";

/// A row read with [`COLUMNS`].
struct StoredRow {
    key: FileKey,
    record_version: u32,
    cached: Cached,
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<StoredRow> {
    let sha256: Option<String> = row.get(12)?;
    let hashes = FileHashes {
        autov2: sha256.as_ref().and_then(|s| s.get(..10)).map(str::to_owned),
        file_256: sha256.clone(),
        sha256,
        autov1: row.get(13)?,
        autov3: row.get(14)?,
        blake3: row.get(15)?,
        crc32: row.get(16)?,
        autov3_unavailable: row.get(17)?,
    };
    Ok(StoredRow {
        key: FileKey {
            dev: to_u64(row.get(1)?),
            ino: to_u64(row.get(2)?),
            size: to_u64(row.get(3)?),
            mtime_ns: row.get(4)?,
            ctime_ns: row.get(18)?,
        },
        record_version: row.get(5)?,
        cached: Cached {
            path: path_from(row.get_ref(0)?),
            format: row.get(6)?,
            key_sig: row.get(7)?,
            shape_sig: row.get(8)?,
            precision: row.get(9)?,
            mir: row.get(10)?,
            record_json: row.get(11)?,
            hashes,
        },
    })
}

impl Index {
    /// Opens (creating it and its directory if needed) the index at `path`, for records of
    /// format `record_version`, and migrates it to [`SCHEMA_VERSION`].
    pub fn open(path: &Path, record_version: u32) -> Result<Index> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| IndexError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        Index::setup(conn, record_version, SCHEMA_VERSION)
    }

    /// Opens the index at [`default_path`].
    pub fn open_default(record_version: u32) -> Result<Index> {
        Index::open(&default_path()?, record_version)
    }

    /// An index in memory (tests, `--no-index` runs that still want one code path).
    pub fn open_in_memory(record_version: u32) -> Result<Index> {
        Index::setup(
            Connection::open_in_memory()?,
            record_version,
            SCHEMA_VERSION,
        )
    }

    fn setup(mut conn: Connection, record_version: u32, schema: u32) -> Result<Index> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // `journal_mode` answers with the mode now in force; an in-memory database stays "memory".
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        schema::migrate(&mut conn, schema)?;
        Ok(Index {
            conn,
            record_version,
        })
    }

    /// The record format version this handle reads and writes.
    pub fn record_version(&self) -> u32 {
        self.record_version
    }

    /// The schema version stored in the file.
    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn row_at(&self, path: &Path) -> Result<Option<StoredRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM file WHERE path = ?1"))?;
        Ok(stmt.query_row([path_value(path)], read_row).optional()?)
    }

    /// The stored record for `path`, only if its key is `key` and it was written with this
    /// handle's record version; `None` means the file must be read again.
    pub fn lookup(&self, path: &Path, key: &FileKey) -> Result<Option<Cached>> {
        let row = self.row_at(absolute(path)?)?;
        Ok(row
            .filter(|r| r.key == *key && r.record_version == self.record_version)
            .map(|r| r.cached))
    }

    /// The stored hashes of `path` if its key is `key`, whatever the record version: hashes
    /// depend on content only, so a record format change does not force re-hashing.
    pub fn cached_hashes(&self, path: &Path, key: &FileKey) -> Result<Option<FileHashes>> {
        let row = self.row_at(absolute(path)?)?;
        Ok(row.filter(|r| r.key == *key).map(|r| r.cached.hashes))
    }

    /// A current record of the same file under another path (a hard link, or a symlinked
    /// snapshot and its blob), found by device, inode, size and mtime. Its `record_json`
    /// describes the other path; the caller rewrites what is path-specific.
    pub fn lookup_inode(&self, key: &FileKey) -> Result<Option<Cached>> {
        if key.dev == 0 && key.ino == 0 {
            return Ok(None);
        }
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM file WHERE dev = ?1 AND ino = ?2 AND size = ?3 \
             AND mtime_ns = ?4 AND record_version = ?5 AND ctime_ns = ?6 LIMIT 1"
        ))?;
        let row = stmt
            .query_row(
                params![
                    to_i64(key.dev),
                    to_i64(key.ino),
                    to_i64(key.size),
                    key.mtime_ns,
                    self.record_version,
                    key.ctime_ns
                ],
                read_row,
            )
            .optional()?;
        Ok(row.map(|r| r.cached))
    }

    /// Reads every row under `roots` at once, for a re-scan of a large library: one
    /// sequential read of the table instead of one query per file (see `benches/index.rs`).
    pub fn preload(&self, roots: &[&Path]) -> Result<Preloaded> {
        let rows = self
            .rows_under(roots)?
            .into_iter()
            .map(|r| (r.cached.path.clone(), r))
            .collect();
        Ok(Preloaded {
            rows,
            record_version: self.record_version,
        })
    }

    /// Stores `entries` in one transaction: all of them or, on any error, none. A stored hash
    /// is kept when the new entry lacks it and the file's key is unchanged.
    pub fn store_batch(&mut self, entries: &[Entry]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let same = "file.dev = excluded.dev AND file.ino = excluded.ino AND \
                        file.size = excluded.size AND file.mtime_ns = excluded.mtime_ns AND \
                        file.ctime_ns = excluded.ctime_ns";
            let keep = |col: &str| {
                format!("{col} = COALESCE(excluded.{col}, CASE WHEN {same} THEN file.{col} END)")
            };
            let sql = format!(
                "INSERT INTO file({COLUMNS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
                 ?19) \
                 ON CONFLICT(path) DO UPDATE SET dev = excluded.dev, ino = excluded.ino, \
                 size = excluded.size, mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns, \
                 record_version = excluded.record_version, format = excluded.format, \
                 key_sig = excluded.key_sig, shape_sig = excluded.shape_sig, \
                 precision = excluded.precision, mir = excluded.mir, \
                 record_json = excluded.record_json, {}, {}, {}, {}, {}, {}",
                keep("sha256"),
                keep("autov1"),
                keep("autov3"),
                keep("blake3"),
                keep("crc32"),
                keep("autov3_unavailable"),
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            for e in entries {
                let h = &e.hashes;
                stmt.execute(params![
                    path_value(absolute(&e.path)?),
                    to_i64(e.key.dev),
                    to_i64(e.key.ino),
                    to_i64(e.key.size),
                    e.key.mtime_ns,
                    self.record_version,
                    e.format,
                    e.key_sig,
                    e.shape_sig,
                    e.precision,
                    e.mir,
                    e.record_json,
                    whole_sha(h),
                    h.autov1,
                    h.autov3,
                    h.blake3,
                    h.crc32,
                    h.autov3_unavailable,
                    e.key.ctime_ns,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Adds hashes computed later to rows whose key still matches, in one transaction; returns
    /// how many rows were updated (a file changed since its scan is left alone).
    pub fn merge_hashes(&mut self, updates: &[(PathBuf, FileKey, FileHashes)]) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut updated = 0;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE file SET sha256 = COALESCE(?1, sha256), autov1 = COALESCE(?2, autov1), \
                 autov3 = COALESCE(?3, autov3), blake3 = COALESCE(?4, blake3), \
                 crc32 = COALESCE(?5, crc32), \
                 autov3_unavailable = COALESCE(?6, autov3_unavailable) \
                 WHERE path = ?7 AND dev = ?8 AND ino = ?9 AND size = ?10 AND mtime_ns = ?11 \
                 AND ctime_ns = ?12",
            )?;
            for (path, key, h) in updates {
                updated += stmt.execute(params![
                    whole_sha(h),
                    h.autov1,
                    h.autov3,
                    h.blake3,
                    h.crc32,
                    h.autov3_unavailable,
                    path_value(absolute(path)?),
                    to_i64(key.dev),
                    to_i64(key.ino),
                    to_i64(key.size),
                    key.mtime_ns,
                    key.ctime_ns,
                ])?;
            }
        }
        tx.commit()?;
        Ok(updated)
    }

    /// Every stored path under any of `roots` (all paths when `roots` is empty).
    pub fn paths_under(&self, roots: &[&Path]) -> Result<Vec<PathBuf>> {
        let mut stmt = self.conn.prepare_cached("SELECT path FROM file")?;
        let rows = stmt.query_map([], |r| Ok(path_from(r.get_ref(0)?)))?;
        let mut out = Vec::new();
        for p in rows {
            let p = p?;
            if under(&p, roots) {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Deletes the rows of `paths` in one transaction; returns how many existed.
    pub fn forget(&mut self, paths: &[PathBuf]) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut gone = 0;
        {
            let mut stmt = tx.prepare_cached("DELETE FROM file WHERE path = ?1")?;
            for p in paths {
                gone += stmt.execute([path_value(p)])?;
            }
        }
        tx.commit()?;
        Ok(gone)
    }

    /// After a full scan of `roots`: forgets the rows under them whose path was not `seen`.
    pub fn forget_unseen(&mut self, roots: &[&Path], seen: &HashSet<PathBuf>) -> Result<usize> {
        let stale: Vec<PathBuf> = self
            .paths_under(roots)?
            .into_iter()
            .filter(|p| !seen.contains(p))
            .collect();
        self.forget(&stale)
    }

    /// After a scan of `roots`: forgets the rows under them whose path the scan did not `see`
    /// and that no longer exist (a row of a file the scan skipped, e.g. one `mir hash` stored,
    /// stays while the file is there). Returns how many rows went.
    pub fn prune(&mut self, roots: &[&Path], seen: &HashSet<PathBuf>) -> Result<usize> {
        let gone: Vec<PathBuf> = self
            .paths_under(roots)?
            .into_iter()
            .filter(|p| !seen.contains(p))
            .filter(|p| {
                matches!(std::fs::symlink_metadata(p), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
            })
            .collect();
        self.forget(&gone)
    }

    /// Forgets the rows under `roots` whose file no longer exists (one `stat` per row).
    pub fn forget_missing(&mut self, roots: &[&Path]) -> Result<usize> {
        let missing: Vec<PathBuf> = self
            .paths_under(roots)?
            .into_iter()
            .filter(|p| matches!(std::fs::metadata(p), Err(e) if e.kind() == std::io::ErrorKind::NotFound))
            .collect();
        self.forget(&missing)
    }

    /// Every row under `roots`.
    fn rows_under(&self, roots: &[&Path]) -> Result<Vec<StoredRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM file"))?;
        let rows = stmt.query_map([], read_row)?;
        let mut out = Vec::new();
        for row in rows {
            let r = row?;
            if under(&r.cached.path, roots) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// The files under `roots` as [`DupeFile`]s (any record version: sizes, hashes and
    /// signatures do not depend on it).
    pub fn dupe_files(&self, roots: &[&Path]) -> Result<Vec<DupeFile>> {
        Ok(self
            .rows_under(roots)?
            .into_iter()
            .map(|r| DupeFile {
                path: r.cached.path,
                dev: r.key.dev,
                ino: r.key.ino,
                size: r.key.size,
                format: r.cached.format,
                precision: r.cached.precision,
                shape_sig: r.cached.shape_sig,
                sha256: r.cached.hashes.sha256,
                blake3: r.cached.hashes.blake3,
                tensors: tensor_count(&r.cached.record_json),
            })
            .collect())
    }

    /// The files the caller must hash before [`Index::dupes`] can be complete: those under
    /// `roots` without SHA-256 or BLAKE3 whose size another file there shares (a file of unique
    /// size cannot have a copy). Each comes with its stored key: check it against a fresh
    /// `stat`, hash, and pass it to [`Index::merge_hashes`].
    pub fn unhashed_size_collisions(&self, roots: &[&Path]) -> Result<Vec<(PathBuf, FileKey)>> {
        let rows = self.rows_under(roots)?;
        let mut sizes = std::collections::HashMap::<u64, usize>::new();
        for r in &rows {
            *sizes.entry(r.key.size).or_default() += 1;
        }
        Ok(rows
            .into_iter()
            .filter(|r| r.cached.hashes.sha256.is_none() && r.cached.hashes.blake3.is_none())
            .filter(|r| sizes.get(&r.key.size).is_some_and(|&n| n > 1))
            .map(|r| (r.cached.path, r.key))
            .collect())
    }

    /// Duplicate groups among the files under `roots` (see [`find_dupes`]).
    pub fn dupes(&self, roots: &[&Path]) -> Result<DupeReport> {
        Ok(find_dupes(&self.dupe_files(roots)?))
    }
}

/// Rows read by [`Index::preload`], answering [`Index::lookup`] from memory.
pub struct Preloaded {
    rows: std::collections::HashMap<PathBuf, StoredRow>,
    record_version: u32,
}

impl std::fmt::Debug for Preloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preloaded")
            .field("rows", &self.rows.len())
            .field("record_version", &self.record_version)
            .finish()
    }
}

impl Preloaded {
    /// Like [`Index::lookup`]: the record, only if the key and the record version match.
    pub fn lookup(&self, path: &Path, key: &FileKey) -> Option<&Cached> {
        self.rows
            .get(path)
            .filter(|r| r.key == *key && r.record_version == self.record_version)
            .map(|r| &r.cached)
    }

    /// Like [`Index::cached_hashes`]: the hashes when the key matches, whatever the version.
    pub fn cached_hashes(&self, path: &Path, key: &FileKey) -> Option<&FileHashes> {
        self.rows
            .get(path)
            .filter(|r| r.key == *key)
            .map(|r| &r.cached.hashes)
    }

    /// How many rows were read.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when no row was read.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// The `tensors` count of a stored facts (or, before schema 3, scan record) text, when it has
/// one.
fn tensor_count(record_json: &str) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Tensors {
        tensors: Option<u64>,
    }
    serde_json::from_str::<Tensors>(record_json)
        .ok()
        .and_then(|t| t.tensors)
}

/// The whole-file SHA-256 of `h`, from `sha256` or its twin `file_256`.
fn whole_sha(h: &FileHashes) -> Option<&String> {
    h.sha256.as_ref().or(h.file_256.as_ref())
}

fn under(path: &Path, roots: &[&Path]) -> bool {
    roots.is_empty() || roots.iter().any(|r| path.starts_with(r))
}

#[doc(hidden)]
/// Opens `path` migrated only up to `schema` (migration tests).
pub fn open_at_schema(path: &Path, schema: u32) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    schema::migrate(&mut conn, schema)?;
    Ok(conn)
}
