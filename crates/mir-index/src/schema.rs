//! The schema, its version in `PRAGMA user_version`, and the migrations between versions.
//!
//! Each step in [`MIGRATIONS`] takes the database from version `i` to `i + 1`. Opening an index
//! applies the missing steps in one `BEGIN IMMEDIATE` transaction, reading the version inside it,
//! so two processes opening a new index at once migrate it exactly once.

use rusqlite::{Connection, TransactionBehavior};

use crate::IndexError;

/// Version 1: the file table keyed by path, with the stat key, the record and the hashes.
///
/// A rowid table with a unique path index, not `WITHOUT ROWID`: records are about a kilobyte of
/// JSON, and SQLite keeps a `WITHOUT ROWID` row inside its primary-key B-tree, which made both
/// lookups and inserts about 5× slower here (`benches/index.rs`, 10,000 rows of 1 KiB).
const V1: &str = "
CREATE TABLE file(
  path TEXT PRIMARY KEY NOT NULL,  -- TEXT for UTF-8 paths, BLOB for the others (see path_value)
  dev INTEGER NOT NULL,
  ino INTEGER NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  record_version INTEGER NOT NULL, -- the scanner's record format; a mismatch is a cache miss
  format TEXT,
  key_sig TEXT,
  shape_sig TEXT,
  mir TEXT,
  record_json TEXT NOT NULL,
  sha256 TEXT,                     -- also file_256; AutoV2 is its first 10 digits
  autov1 TEXT,
  autov3 TEXT,
  blake3 TEXT,
  crc32 TEXT
);
CREATE INDEX file_by_inode ON file(dev, ino);
";

/// Version 2: the dominant precision for same-shape duplicate groups, the reason AutoV3 does
/// not apply (so non-safetensors files are not re-read for it), and indexes for `dupes`.
const V2: &str = "
ALTER TABLE file ADD COLUMN precision TEXT;
ALTER TABLE file ADD COLUMN autov3_unavailable TEXT;
CREATE INDEX file_by_sha256 ON file(sha256) WHERE sha256 IS NOT NULL;
CREATE INDEX file_by_blake3 ON file(blake3) WHERE blake3 IS NOT NULL;
CREATE INDEX file_by_shape ON file(shape_sig) WHERE shape_sig IS NOT NULL;
CREATE INDEX file_by_size ON file(size);
";

/// Version 3: the change time joins the file identity (a same-size in-place rewrite with the
/// mtime put back still moves the ctime), and rows are pruned by path under a root.
const V3: &str = "
ALTER TABLE file ADD COLUMN ctime_ns INTEGER NOT NULL DEFAULT 0;
";

/// The migration steps; step `i` takes version `i` to `i + 1`.
pub(crate) const MIGRATIONS: [&str; 3] = [V1, V2, V3];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database to `target` (at most [`SCHEMA_VERSION`]); refuses a newer database.
pub(crate) fn migrate(conn: &mut Connection, target: u32) -> Result<(), IndexError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(IndexError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (from, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        if from as u32 >= target {
            break;
        }
        tx.execute_batch(step)?;
    }
    if target > found {
        tx.pragma_update(None, "user_version", target)?;
    }
    tx.commit()?;
    Ok(())
}
