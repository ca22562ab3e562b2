//! The library a model manager embeds: walk a model library, read each weight file's header,
//! fingerprint it and identify it.
//!
//! # Brief overview
//!
//! * [`walk::collect`] lists the weight files under some roots: in parallel, without following
//!   anything outside the roots, one entry per file (hard links and symlinked HF-cache blobs are
//!   deduplicated by device and inode).
//! * [`Scanner::scan`] reads every file's header with the registered formats
//!   ([`default_registry`]), in parallel, and returns one [`Record`] per file, in path order. One
//!   unreadable or corrupt file gets an `error` in its record; the scan goes on.
//! * Shards of one model (`*.safetensors.index.json`, `-00001-of-00004`) are identified together
//!   and every shard gets the model's ID.
//! * [`Record`] is the JSON Lines record `mir scan --json` prints (see the README for every field).
//!
//! ```no_run
//! let scanner = mir_scan::Scanner::new(mir_scan::ScanOptions::default()).expect("built-in rules");
//! let out = scanner.scan(&["/models".into()], &|_| {});
//! for r in &out.records {
//!     println!("{} {:?}", r.path, r.mir);
//! }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod identify;
mod record;
mod scanner;
mod shards;
pub mod walk;

pub use identify::{Context, Identifier};
pub use mir_hash::{FileHashes, HashAlgo, HashOptions};
pub use mir_index::Index;
pub use record::{
    ComponentRecord, CoverageRecord, DatabaseRecord, FingerprintRecord, Record, ShardRecord,
    Summary,
};
pub use scanner::{
    MAX_THREADS, Progress, RECORD_VERSION, ScanOptions, ScanOutput, Scanner, default_registry,
    error_findings, inspect, record_version,
};
pub use walk::{Candidate, WalkError};
