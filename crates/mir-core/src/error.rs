//! The error every format plugin returns through [`crate::Format::parse`].

use std::io;

/// Why a file could not be read into a [`crate::TensorIndex`].
///
/// Format plugins keep their own typed errors and wrap them in [`Error::Format`]; errors that any
/// format can hit (I/O, truncation, limits) have their own variants so callers can tell them apart.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused a read or an open.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The file ends before a structure it declares (a partial download, or a file truncated
    /// while it was being scanned).
    #[error("truncated: the {what} needs bytes up to {end} but the file has {file_len}")]
    Truncated {
        /// The structure being read.
        what: &'static str,
        /// The offset one past the last byte needed.
        end: u64,
        /// The file's length.
        file_len: u64,
    },
    /// A count or length from the file is over a [`crate::Limits`] bound.
    #[error("the {what} is {value}, over the limit of {limit}")]
    LimitExceeded {
        /// What was counted.
        what: &'static str,
        /// The value the file declared.
        value: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The path is not a regular file (a FIFO, socket, device or directory). It is refused from
    /// the open handle, before any read: reading a FIFO or a device could block forever or never
    /// end. `kind` says what it is (`fifo`, `socket`, `character device`, `block device`,
    /// `directory`).
    #[error("not a regular file: it is a {kind}")]
    NotRegularFile {
        /// What the path turned out to be.
        kind: &'static str,
    },
    /// The file opened is not the one that was listed (its device and inode differ): a path, or a
    /// symlink on it, was changed between the listing and the open. Nothing was read from it.
    #[error(
        "the file changed identity between listing and opening (device/inode {found_dev}:{found_ino}, \
         expected {expected_dev}:{expected_ino}): not read"
    )]
    Replaced {
        /// Device of the file listed.
        expected_dev: u64,
        /// Inode of the file listed.
        expected_ino: u64,
        /// Device of the file opened.
        found_dev: u64,
        /// Inode of the file opened.
        found_ino: u64,
    },
    /// Memory for a buffer whose size the file declared (within the limits) could not be
    /// allocated. The file is reported and the scan goes on.
    #[error("out of memory: cannot allocate {bytes} bytes for the {what}")]
    OutOfMemory {
        /// What the buffer was for.
        what: &'static str,
        /// The size asked for.
        bytes: u64,
    },
    /// No registered format recognised the file's first bytes.
    #[error("unrecognised format")]
    Unrecognised,
    /// A format plugin rejected the file; `source` is the plugin's own typed error.
    #[error("{format}: {source}")]
    Format {
        /// The plugin's format name.
        format: &'static str,
        /// The plugin's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Wraps a plugin's error.
    pub fn format(
        format: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Format {
            format,
            source: source.into(),
        }
    }

    /// The plugin's own error, if this is one of type `E`.
    pub fn downcast_format<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Error::Format { source, .. } => source.downcast_ref::<E>(),
            _ => None,
        }
    }
}
