//! The error type of `mir-hash`.

use std::io;
use std::path::PathBuf;

/// Why a file could not be hashed, or a hash name could not be parsed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// The operating system refused to open, stat, map or read the file.
    #[error("{path}: {source}")]
    Io {
        /// The file being hashed.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The path is a directory, a FIFO, a device or another non-regular file; reading it could
    /// block forever or never end, so it is refused before any read.
    #[error("{path}: not a regular file")]
    NotAFile {
        /// The path given.
        path: PathBuf,
    },
    /// The file changed while it was hashed (it was truncated, grew, or was rewritten), so the
    /// hashes would describe no version of it; hash it again once it is stable.
    #[error("{path}: changed while it was hashed ({detail})")]
    Changed {
        /// The file being hashed.
        path: PathBuf,
        /// What was seen to change.
        detail: String,
    },
    /// A hash name that is not one of `sha256`, `autov1`, `autov2`, `autov3`, `blake3`, `crc32`,
    /// `file_256` or `all`.
    #[error(
        "unknown hash {name:?}: expected one of sha256, autov1, autov2, autov3, blake3, crc32, file_256, all"
    )]
    UnknownAlgo {
        /// The name given.
        name: String,
    },
}
