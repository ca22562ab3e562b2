//! Typed results: what the library hands an embedder before anything becomes a string.
//!
//! [`FileReport`] is one file's result ([`crate::Record`], the JSON Lines record, is made from it
//! at the output edge); [`ModelReport`] is one model (a single file, a shard set, a diffusers
//! folder or a Hugging Face cache snapshot) and lists its files.

use std::path::PathBuf;

pub use mir_classify::{Classification, Component, DbMatch, EvidenceKind as DecidedBy};
pub use mir_core::Severity;
pub use mir_id::MirId;

use crate::facts::Facts;

/// A security or damage finding, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// A stable short code for the kind of finding (see [`Finding::code_of`]).
    pub code: &'static str,
    /// One line naming what and where, e.g. `global os.system in data.pkl`.
    pub message: String,
}

impl Finding {
    /// The code of a parser finding, from the words it opens with. Codes are stable; messages
    /// may be reworded.
    pub fn code_of(message: &str) -> &'static str {
        let m = message.trim_start();
        if m.starts_with("global ") || m.contains(" global ") {
            "pickle-global"
        } else if m.contains("pickle") {
            "pickle"
        } else if m.contains("zip") || m.contains("entry") {
            "archive"
        } else if m.contains("padding") || m.contains("trailing") || m.contains("ends ") {
            "layout"
        } else if m.contains("metadata") {
            "metadata"
        } else if m.contains("storage") || m.contains("tensor ") {
            "storage"
        } else if m.contains("nested") || m.contains("deeper") {
            "depth"
        } else {
            "note"
        }
    }

    /// From a parser's finding.
    pub fn from_core(f: &mir_core::Finding) -> Finding {
        Finding {
            severity: f.severity,
            code: Finding::code_of(&f.message),
            message: f.message.clone(),
        }
    }

    /// The text `Record::findings` carries: informational findings bare, others prefixed with
    /// their severity (`unsafe: global os.system in data.pkl`).
    pub fn to_record_text(&self) -> String {
        match self.severity {
            Severity::Info => self.message.clone(),
            s => format!("{}: {}", s.as_str(), self.message),
        }
    }
}

/// Why a file could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file does not exist (any more).
    NotFound,
    /// The operating system refused to open or read it.
    PermissionDenied,
    /// Another I/O error.
    Io,
    /// The file ends before a structure it declares.
    Truncated,
    /// A count or length is over a limit.
    LimitExceeded,
    /// The format rejected the header.
    Malformed,
    /// Whole-file hashing failed (e.g. the file changed while hashed).
    Hash,
}

impl ErrorKind {
    /// Lowercase name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not-found",
            ErrorKind::PermissionDenied => "permission-denied",
            ErrorKind::Io => "io",
            ErrorKind::Truncated => "truncated",
            ErrorKind::LimitExceeded => "limit-exceeded",
            ErrorKind::Malformed => "malformed",
            ErrorKind::Hash => "hash",
        }
    }
}

/// A file's error: its kind and the message (which names the problem; the path is the
/// report's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The message, e.g. `truncated: the header needs bytes up to 900 but the file has 100`.
    pub message: String,
}

impl FileError {
    /// From a parser's or the source layer's error.
    pub fn from_core(e: &mir_core::Error) -> FileError {
        let kind = match e {
            mir_core::Error::Io(io) => match io.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::NotFound,
                std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
                _ => ErrorKind::Io,
            },
            mir_core::Error::Truncated { .. } => ErrorKind::Truncated,
            mir_core::Error::LimitExceeded { .. } => ErrorKind::LimitExceeded,
            _ => ErrorKind::Malformed,
        };
        FileError {
            kind,
            message: e.to_string(),
        }
    }

    /// From a hashing error.
    pub fn hashing(e: &dyn std::fmt::Display) -> FileError {
        FileError {
            kind: ErrorKind::Hash,
            message: format!("hashing: {e}"),
        }
    }
}

/// The model a file belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelLink {
    /// The model's path: the file itself, its shard set's `*.index.json` (or first shard), its
    /// diffusers folder or its snapshot folder.
    pub path: PathBuf,
    /// The kind of model.
    pub kind: ModelKind,
    /// The diffusers component folder this file belongs to (`unet`, `vae`, …).
    pub component: Option<String>,
}

/// Where a shard sits in its set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardLink {
    /// The set's `*.index.json`, or its first shard when there is none.
    pub model: PathBuf,
    /// This shard's number, from 1, when its name carries one.
    pub part: Option<u32>,
    /// How many shards the set declares.
    pub total: u32,
    /// `key_sig` of the whole set (all shards' tensors).
    pub key_sig: Option<String>,
    /// `shape_sig` of the whole set.
    pub shape_sig: Option<String>,
}

/// What kind of unit a model is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelKind {
    /// One self-contained file.
    File,
    /// Shards of one set of weights (`*.index.json` or `-0000N-of-0000M`).
    Shards,
    /// A diffusers folder (`model_index.json` and component folders).
    Diffusers,
    /// A Hugging Face cache snapshot (`snapshots/<rev>`) that is none of the above.
    Snapshot,
    /// An InvokeAI model folder: an IP-Adapter converted to `ip_adapter.bin` plus
    /// `image_encoder.txt` (the image encoder it needs).
    InvokeAi,
}

impl ModelKind {
    /// Lowercase name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::File => "file",
            ModelKind::Shards => "shards",
            ModelKind::Diffusers => "diffusers",
            ModelKind::Snapshot => "snapshot",
            ModelKind::InvokeAi => "invokeai",
        }
    }
}

/// One file's result, typed.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    /// The path that stands for the file.
    pub path: PathBuf,
    /// Other paths to the same file (hard links, symlinks into an HF cache's `blobs/`).
    pub aliases: Vec<PathBuf>,
    /// What the bytes say (format, index, fingerprints, hashes); `None` when the file could not
    /// be read.
    pub facts: Option<Facts>,
    /// What the rules make of it; `None` when there was no index to classify.
    pub identification: Option<Classification>,
    /// Why the file could not be read.
    pub error: Option<FileError>,
    /// The model this file belongs to (for a file alone: itself, kind `File`).
    pub model: Option<ModelLink>,
    /// For a shard of a multi-file set of weights: where it sits.
    pub shard: Option<ShardLink>,
    /// Number of tensors the header declares (kept when the index itself is dropped).
    pub tensors: Option<usize>,
    /// Findings, typed.
    pub findings: Vec<Finding>,
    /// The file's facts came from the index: it was not read.
    pub cached: bool,
    /// The hashes the scan asked for (a subset of `facts.hashes`).
    pub hashes: Option<mir_hash::FileHashes>,
    /// Size in bytes (also in `facts`, kept for unreadable files).
    pub size: u64,
    /// What the file says about itself and what sits beside it: normalised metadata, adapter
    /// shape, packaging, sidecars, preview (issue 16). `None` when the header was not read.
    pub described: Option<mir_about::Described>,
}

impl FileReport {
    /// The decided ID.
    pub fn mir(&self) -> Option<&MirId> {
        self.identification.as_ref().and_then(|c| c.mir.as_ref())
    }

    /// Which kind of evidence decided.
    pub fn decided_by(&self) -> Option<DecidedBy> {
        self.identification.as_ref().and_then(|c| c.decided_by)
    }

    /// How sure the identification is (0 to 1), when an ID was decided.
    pub fn confidence(&self) -> Option<f32> {
        self.identification
            .as_ref()
            .filter(|c| c.mir.is_some())
            .map(|c| c.confidence)
    }

    /// The format that read the file.
    pub fn format(&self) -> Option<&str> {
        self.facts.as_ref().and_then(|f| f.format.as_deref())
    }

    /// True when the header was read but no ID came out, or no format recognised the file.
    pub fn is_unrecognised(&self) -> bool {
        self.error.is_none() && (self.format().is_none() || self.mir().is_none())
    }
}

/// One model's result: its kind, its files and its identification.
#[derive(Clone, Debug)]
pub struct ModelReport {
    /// The model's path (see [`ModelLink::path`]; a single file's own path).
    pub path: PathBuf,
    /// The kind of model.
    pub kind: ModelKind,
    /// The model's files, in path order.
    pub files: Vec<PathBuf>,
    /// The model's ID: a shard set's merged identification, a diffusers pipeline's name from
    /// its components, a single file's ID.
    pub mir: Option<MirId>,
    /// Diffusers: each component folder's name and ID.
    pub components: Vec<(String, Option<MirId>)>,
    /// Which evidence decided.
    pub decided_by: Option<DecidedBy>,
    /// Why.
    pub evidence: Vec<String>,
}
