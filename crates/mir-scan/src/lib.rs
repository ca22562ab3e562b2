//! The scan pipeline a model manager embeds (through the `mir-engine` facade): walk a model
//! library, group its files into models, read each header once, and identify every model.
//!
//! # Brief overview
//!
//! The pipeline reads walk → group → analyse → identify → emit (see [`Scanner::scan_with`]):
//!
//! * [`walk::collect`] lists the weight files under some roots: in parallel, without following
//!   anything outside the roots, one entry per file (hard links and symlinked HF-cache blobs are
//!   deduplicated by device and inode and reported as aliases).
//! * Files are grouped into models: shard sets (`*.safetensors.index.json`, `-00001-of-00004`),
//!   diffusers folders, Hugging Face cache snapshots.
//! * [`Analyser::analyse`] is the one analysis function (scan, inspect, hash, dupes): a file's
//!   [`Facts`] come from the index when its identity is unchanged, else from its header; the
//!   rules are applied to the facts every time, so a rule or database change reads nothing.
//! * [`Scanner::scan_with`] streams typed [`FileReport`]s in path order, then [`ModelReport`]s,
//!   and stops when the sink says so or a cancel flag is set; [`Scanner::scan`] collects the
//!   JSON Lines [`Record`]s `mir scan --json` prints (see the README for every field).
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

mod analyse;
mod describe;
mod explain;
mod facts;
mod identify;
mod record;
mod report;
mod scanner;
mod shards;
pub mod walk;

pub use analyse::{Analyser, ConfigCache, IoStats, ReadFailure, Want};
pub use explain::{NotThisFormat, foreign_content};
pub use facts::{FACTS_VERSION, Facts, facts_version, facts_version_with};
pub use identify::{Context, Identifier};
pub use mir_about as about;
pub use mir_hash::{FileHashes, HashAlgo, HashOptions};
pub use mir_index::Index;
pub use record::{
    ComponentRecord, CoverageRecord, DatabaseRecord, FingerprintRecord, ModelComponent,
    ModelRecord, ModelRef, Record, ShardRecord, SidecarRecord, Summary,
};
pub use report::{
    Classification, Component, DbMatch, DecidedBy, ErrorKind, FileError, FileReport, Finding,
    MirId, ModelKind, ModelLink, ModelReport, Severity, ShardLink,
};
pub use scanner::{
    BATCH, Emitted, MAX_THREADS, Progress, RECORD_VERSION, ScanEnd, ScanOptions, ScanOutput,
    ScanStats, Scanner, default_registry, record_version,
};
pub use walk::{Candidate, WalkError};
