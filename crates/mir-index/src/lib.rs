//! The persistent index of scanned files: SQLite (rusqlite, bundled), so an unchanged file is
//! never read twice, and duplicate finding over what it holds.
//!
//! # Keys and hits
//!
//! A row is keyed by the file's absolute path and remembers its [`FileKey`] (device, inode,
//! size, modification time in nanoseconds) and the record format version. [`Index::lookup`] hits
//! only when the key and the record version both match, so a changed file, or a scanner whose
//! record format changed, is re-read. Hashes depend on content only: they survive a record
//! version change ([`Index::cached_hashes`], and [`Index::store_batch`] keeps stored hashes of a
//! file whose key is unchanged).
//!
//! # Where the index lives
//!
//! [`default_path`]: `$MIR_INDEX` if set and not empty, else `<cache dir>/mir/index.sqlite3`
//! (`~/.cache/mir/` or `$XDG_CACHE_HOME/mir/` on Linux, `~/Library/Caches/mir/` on macOS,
//! `%LOCALAPPDATA%\mir\` on Windows). The CLI's `--index PATH` wins over both. `MIR_INDEX` lets a
//! model manager that embeds `mir`, a CI job or a test point every run at one file without
//! passing a flag through each layer.
//!
//! # Concurrency and crashes
//!
//! The database runs in WAL mode (many readers, one writer, readers never blocked) with
//! `synchronous=NORMAL` (a power cut may lose the last commits, never corrupt the file) and a
//! busy timeout, so a second scan waits for the first one's write instead of failing. Writes
//! are `BEGIN IMMEDIATE` transactions of a whole batch: a scan killed mid-batch loses that batch
//! and nothing else.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(not(feature = "sqlite"))]
mod disabled;
mod dupes;
#[cfg(feature = "sqlite")]
mod schema;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::path::PathBuf;
use std::time::Duration;

use mir_hash::FileHashes;

#[cfg(not(feature = "sqlite"))]
pub use disabled::{Index, Preloaded};
pub use dupes::{
    ContentGroup, DupeFile, DupeReport, ShapeGroup, ShapeMember, find_dupes, path_text,
};
#[cfg(feature = "sqlite")]
pub use schema::SCHEMA_VERSION;
#[cfg(feature = "sqlite")]
pub use sqlite::{Index, Preloaded, default_path, open_at_schema};

/// How long a writer waits for another process's transaction before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the index could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// SQLite reported an error (including a busy database after [`BUSY_TIMEOUT`]).
    #[cfg(feature = "sqlite")]
    #[error("index database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// This build has no index (the `sqlite` feature is off).
    #[error("this build of mir has no index (the `sqlite` feature is off)")]
    Disabled,
    /// The directory for the index could not be created.
    #[error("{path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `MIR_INDEX` is unset and the platform has no cache directory (no home directory).
    #[error("no cache directory for the index: set MIR_INDEX or pass --index")]
    NoCacheDir,
    /// Paths in the index are absolute, so a lookup does not depend on the working directory.
    #[error("{path}: the index stores absolute paths only")]
    RelativePath {
        /// The path given.
        path: PathBuf,
    },
    /// The database was written by a newer `mir` with a schema this build does not know.
    #[error(
        "index schema version {found} is newer than this build's {supported}; upgrade mir or use another --index"
    )]
    NewerSchema {
        /// The version in the file.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
}

/// Result alias for this crate.
pub type Result<T, E = IndexError> = std::result::Result<T, E>;

/// The identity of one version of a file: if any part differs, the file is read again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FileKey {
    /// Device id (0 where the platform has none).
    pub dev: u64,
    /// Inode number (0 where the platform has none).
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Change time (Unix `st_ctime`) in nanoseconds, or the creation time where the platform
    /// has no change time, 0 when unknown. A rewrite that puts the mtime back moves it.
    pub ctime_ns: i64,
}

impl FileKey {
    /// The key of a file from its metadata (follow symlinks first: use `fs::metadata`, or the
    /// metadata [`mir_hash::hash_file_with_metadata`] returns).
    pub fn from_metadata(meta: &std::fs::Metadata) -> FileKey {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            FileKey {
                dev: meta.dev(),
                ino: meta.ino(),
                size: meta.size(),
                mtime_ns: meta
                    .mtime()
                    .saturating_mul(1_000_000_000)
                    .saturating_add(meta.mtime_nsec()),
                ctime_ns: meta
                    .ctime()
                    .saturating_mul(1_000_000_000)
                    .saturating_add(meta.ctime_nsec()),
            }
        }
        #[cfg(not(unix))]
        {
            let mtime_ns = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
            let ctime_ns = meta
                .created()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
            FileKey {
                dev: 0,
                ino: 0,
                size: meta.len(),
                mtime_ns,
                ctime_ns,
            }
        }
    }
}

/// One file's scan result to store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// Absolute path.
    pub path: PathBuf,
    /// The key of the version that was scanned.
    pub key: FileKey,
    /// Container format (`safetensors`, `gguf`, …).
    pub format: Option<String>,
    /// Key signature (hex).
    pub key_sig: Option<String>,
    /// Shape signature (hex).
    pub shape_sig: Option<String>,
    /// Precision summary for same-shape duplicate groups (`F16`, `BF16`, `Q4_K`, …).
    pub precision: Option<String>,
    /// The MIR ID the classifier gave.
    pub mir: Option<String>,
    /// The scanner's JSON record, stored and returned as is.
    pub record_json: String,
    /// Hashes computed with this scan (those absent keep any stored value for the same key).
    pub hashes: FileHashes,
}

/// What the index remembers about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    /// The path of the row (for [`Index::lookup_inode`], another path to the same file).
    pub path: PathBuf,
    /// Container format.
    pub format: Option<String>,
    /// Key signature.
    pub key_sig: Option<String>,
    /// Shape signature.
    pub shape_sig: Option<String>,
    /// Precision summary.
    pub precision: Option<String>,
    /// MIR ID.
    pub mir: Option<String>,
    /// The stored JSON record.
    pub record_json: String,
    /// The stored hashes; when SHA-256 is known, `sha256`, `file_256` and `autov2` are all set.
    pub hashes: FileHashes,
}
