//! The index when the `sqlite` feature is off: the same API over a type with no values.
//!
//! Opening fails with [`IndexError::Disabled`], so no [`Index`] or [`Preloaded`] can exist and
//! every method is statically unreachable (`match *self {}`). Callers compile unchanged and
//! simply run without an index.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use mir_hash::FileHashes;

use crate::{Cached, DupeFile, DupeReport, Entry, FileKey, IndexError, Result};

/// The index (disabled in this build: it cannot be opened).
#[derive(Debug)]
pub enum Index {}

/// Preloaded rows (disabled in this build).
#[derive(Debug)]
pub enum Preloaded {}

#[allow(missing_docs, clippy::missing_errors_doc)]
impl Index {
    pub fn open(_path: &Path, _record_version: u32) -> Result<Index> {
        Err(IndexError::Disabled)
    }
    pub fn open_default(_record_version: u32) -> Result<Index> {
        Err(IndexError::Disabled)
    }
    pub fn open_in_memory(_record_version: u32) -> Result<Index> {
        Err(IndexError::Disabled)
    }
    pub fn record_version(&self) -> u32 {
        match *self {}
    }
    pub fn lookup(&self, _path: &Path, _key: &FileKey) -> Result<Option<Cached>> {
        match *self {}
    }
    pub fn cached_hashes(&self, _path: &Path, _key: &FileKey) -> Result<Option<FileHashes>> {
        match *self {}
    }
    pub fn preload(&self, _roots: &[&Path]) -> Result<Preloaded> {
        match *self {}
    }
    pub fn store_batch(&mut self, _entries: &[Entry]) -> Result<()> {
        match *self {}
    }
    pub fn merge_hashes(&mut self, _u: &[(PathBuf, FileKey, FileHashes)]) -> Result<usize> {
        match *self {}
    }
    pub fn paths_under(&self, _roots: &[&Path]) -> Result<Vec<PathBuf>> {
        match *self {}
    }
    pub fn prune(&mut self, _roots: &[&Path], _seen: &HashSet<PathBuf>) -> Result<usize> {
        match *self {}
    }
    pub fn dupe_files(&self, _roots: &[&Path]) -> Result<Vec<DupeFile>> {
        match *self {}
    }
    pub fn unhashed_size_collisions(&self, _roots: &[&Path]) -> Result<Vec<(PathBuf, FileKey)>> {
        match *self {}
    }
    pub fn dupes(&self, _roots: &[&Path]) -> Result<DupeReport> {
        match *self {}
    }
}

#[allow(missing_docs)]
impl Preloaded {
    pub fn lookup(&self, _path: &Path, _key: &FileKey) -> Option<&Cached> {
        match *self {}
    }
    pub fn cached_hashes(&self, _path: &Path, _key: &FileKey) -> Option<&FileHashes> {
        match *self {}
    }
}
