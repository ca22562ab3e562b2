//! The one crate a model manager embeds to scan a library of AI model weights (safetensors,
//! GGUF, PyTorch checkpoints, plugin formats) and name every model with a MIR ID.
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use mir_engine::{Engine, Event};
//!
//! let engine = Engine::builder()
//!     .root("/models")
//!     .index_in_memory()              // or .index_at(path), .default_index(); none by default
//!     .threads(4)
//!     .build()?;
//! let mut seen = 0;
//! let end = engine.scan(|event| {
//!     if let Event::File(file) = event {
//!         // Typed fields: no string parsing.
//!         let id = file.mir().map(|m| m.to_string());
//!         println!("{} {:?} {:?} {:?}", file.path.display(), id, file.decided_by(), file.confidence());
//!         for f in &file.findings {
//!             if f.severity == mir_engine::Severity::Unsafe {
//!                 eprintln!("unsafe: {} ({})", f.message, f.code);
//!             }
//!         }
//!         seen += 1;
//!         if seen == 100 {
//!             return ControlFlow::Break(()); // stop after 100 files
//!         }
//!     }
//!     ControlFlow::Continue(())
//! });
//! eprintln!("{} identified, cancelled: {}", end.summary.identified, end.cancelled);
//! # Ok::<(), mir_engine::Error>(())
//! ```
//!
//! # Brief overview
//!
//! * [`Engine::builder`] takes the roots, extra rule files, a MIR database, plugins, the index,
//!   hashes, limits and threads; [`EngineBuilder::build`] loads and checks them once.
//! * [`Engine::scan`] streams [`Event`]s to a callback (files in path order, then models; return
//!   `Break` to stop), [`Engine::scan_cancellable`] also takes a cancel flag another thread may
//!   set, and [`Engine::iter`] yields the files as an iterator (dropping it stops the scan).
//! * [`Engine::analyse`] identifies one file the way a scan does; [`Engine::hash`] hashes one
//!   through the index; [`Engine::dupes`] finds duplicates (feature `index`).
//! * [`discover_plugins`] lists the format plugins that would load (feature `plugins`).
//! * Results are typed: [`FileReport`] ([`MirId`], [`Finding`] with [`Severity`] and a code,
//!   [`FileError`] with an [`ErrorKind`], [`DecidedBy`], confidence), [`ModelReport`]. Text
//!   appears only when you ask for the JSON Lines form ([`Record::from_report`]).
//!
//! # Features
//!
//! `index` (default): the SQLite facts cache and `dupes`. `ckpt` (default): the PyTorch
//! checkpoint format. `plugins` (default): third-party format plugins. With
//! `default-features = false` the crate reads safetensors and GGUF with no SQLite and no
//! dynamic loading.
//!
//! The building blocks are re-exported for what the facade does not cover: [`scan`], [`core`],
//! [`classify`], [`id`], [`hash`], [`index`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

pub use mir_classify as classify;
pub use mir_core as core;
pub use mir_hash as hash;
pub use mir_id as id;
pub use mir_index as index;
#[cfg(feature = "plugins")]
pub use mir_plugin_host as plugin_host;
pub use mir_scan as scan;

pub use mir_core::Limits;
pub use mir_hash::{FileHashes, HashAlgo};
pub use mir_scan::{
    Classification, DecidedBy, ErrorKind, FileError, FileReport, Finding, MirId, ModelKind,
    ModelLink, ModelRecord, ModelReport, Record, ScanEnd, ScanStats, Severity, ShardLink, Summary,
};

/// What a scan hands its callback: each file (in path order), then each model.
pub type Event = mir_scan::Emitted;

/// What a scan tells a progress callback ([`Engine::scan_with_progress`]): the number of files
/// once the walk is over, then one event per file done (from worker threads, in any order).
pub use mir_scan::Progress;

/// Why an engine could not be built or a library-level step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The built-in or extra rules do not compile.
    #[error("classification rules: {0}")]
    Rules(#[from] mir_classify::RuleError),
    /// A rule file could not be read.
    #[error("{path}: {source}")]
    RuleFile {
        /// The rule file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The MIR database could not be loaded.
    #[error("MIR database {path}: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: mir_classify::DbError,
    },
    /// The index could not be opened, read or written.
    #[error("index: {0}")]
    Index(#[from] mir_index::IndexError),
    /// A plugin named explicitly could not be loaded.
    #[error("plugin {path}: {reason}")]
    Plugin {
        /// The plugin file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
}

/// Where the engine keeps facts between runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum IndexChoice {
    /// No index: every file is read on every scan.
    #[default]
    None,
    /// `$MIR_INDEX`, else the platform cache folder (as the `mir` command).
    Default,
    /// A SQLite file.
    At(PathBuf),
    /// An index in memory, for this engine's life (repeated scans, `dupes`).
    InMemory,
}

/// Builds an [`Engine`].
#[derive(Clone, Debug, Default)]
pub struct EngineBuilder {
    roots: Vec<PathBuf>,
    rule_files: Vec<PathBuf>,
    rules: Vec<(String, String)>,
    database: Option<PathBuf>,
    plugins: Vec<PathBuf>,
    plugin_dirs: bool,
    index: IndexChoice,
    hashes: Vec<HashAlgo>,
    limits: Option<Limits>,
    threads: usize,
    keep_index: bool,
}

impl EngineBuilder {
    /// Adds a folder or file to scan.
    pub fn root(mut self, path: impl Into<PathBuf>) -> Self {
        self.roots.push(path.into());
        self
    }

    /// Adds a rule file (TOML, the format of `mir-classify`'s `rules/*.toml`) to the built-in
    /// rules; it may override built-in rules by id.
    pub fn rule_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.rule_files.push(path.into());
        self
    }

    /// Adds rules given as text, under `name` (for messages).
    pub fn rules(mut self, name: impl Into<String>, toml: impl Into<String>) -> Self {
        self.rules.push((name.into(), toml.into()));
        self
    }

    /// A published MIR database (`mir.json`): exact hash matches name series and compat.
    pub fn database(mut self, path: impl Into<PathBuf>) -> Self {
        self.database = Some(path.into());
        self
    }

    /// Loads a format plugin (a shared library; loading it runs its code).
    pub fn plugin(mut self, path: impl Into<PathBuf>) -> Self {
        self.plugins.push(path.into());
        self
    }

    /// Also loads plugins from `MIR_PLUGIN_PATH` and the per-user plugin folder (off by
    /// default: an embedder decides what code it runs).
    pub fn plugin_dirs(mut self, on: bool) -> Self {
        self.plugin_dirs = on;
        self
    }

    /// Uses the index at `path` (created if needed).
    pub fn index_at(mut self, path: impl Into<PathBuf>) -> Self {
        self.index = IndexChoice::At(path.into());
        self
    }

    /// Uses the `mir` command's index (`$MIR_INDEX` or the platform cache folder).
    pub fn default_index(mut self) -> Self {
        self.index = IndexChoice::Default;
        self
    }

    /// Uses an index in memory for the engine's life.
    pub fn index_in_memory(mut self) -> Self {
        self.index = IndexChoice::InMemory;
        self
    }

    /// Whole-file hashes to compute (each file is read whole once; cached in the index).
    pub fn hashes(mut self, algos: impl IntoIterator<Item = HashAlgo>) -> Self {
        self.hashes = algos.into_iter().collect();
        self
    }

    /// Bounds applied to every file (default: [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Worker threads (0, the default, is one per core).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// Keeps each file's tensor index in its report (`FileReport::facts`); off by default to
    /// bound memory on large libraries.
    pub fn keep_tensor_index(mut self, on: bool) -> Self {
        self.keep_index = on;
        self
    }

    /// Loads the rules, database, plugins and index.
    pub fn build(self) -> Result<Engine, Error> {
        let mut extra = self.rules;
        for path in &self.rule_files {
            let text = std::fs::read_to_string(path).map_err(|source| Error::RuleFile {
                path: path.clone(),
                source,
            })?;
            extra.push((path.display().to_string(), text));
        }
        let mut identifier = if extra.is_empty() {
            mir_scan::Identifier::builtin()?
        } else {
            mir_scan::Identifier::with_rules(&extra)?
        };
        if let Some(path) = &self.database {
            let db = mir_classify::MirDatabase::load(path).map_err(|source| Error::Database {
                path: path.clone(),
                source,
            })?;
            let meta = std::fs::metadata(path).ok();
            let identity = format!(
                "{}|{}|{:?}",
                path.display(),
                meta.as_ref().map_or(0, |m| m.len()),
                meta.and_then(|m| m.modified().ok())
            );
            identifier = identifier.with_database(db, &identity);
        }
        #[allow(unused_mut)]
        let mut registry = mir_scan::default_registry();
        #[allow(unused_mut)]
        let mut plugin_hashes: Vec<String> = Vec::new();
        #[cfg(feature = "plugins")]
        let plugins = {
            let builtin: Vec<String> = registry.formats().map(|f| f.name().to_owned()).collect();
            let mut search = plugin_host::PluginSearch::standard(self.plugins.clone(), builtin);
            if !self.plugin_dirs {
                search.dirs.clear();
                search.optional_dirs.clear();
            }
            let set = plugin_host::PluginSet::discover(&search);
            if let Some(r) = set
                .refusals()
                .iter()
                .find(|r| self.plugins.contains(&r.path))
            {
                return Err(Error::Plugin {
                    path: r.path.clone(),
                    reason: r.reason.to_string(),
                });
            }
            set.register_into(&mut registry);
            plugin_hashes.extend(set.describe().into_iter().map(|i| i.blake3));
            set
        };
        #[cfg(not(feature = "plugins"))]
        if let Some(p) = self.plugins.first() {
            return Err(Error::Plugin {
                path: p.clone(),
                reason: "this build has no plugin support (the `plugins` feature is off)".into(),
            });
        }
        let hashes: Vec<&str> = plugin_hashes.iter().map(String::as_str).collect();
        let version = mir_scan::facts_version_with(&registry, &hashes);
        let options = mir_scan::ScanOptions {
            threads: self.threads,
            limits: self.limits.unwrap_or_default(),
            hashes: self.hashes.clone(),
            keep_index: self.keep_index,
            ..mir_scan::ScanOptions::default()
        };
        let mut scanner = mir_scan::Scanner::with_parts(options, registry, identifier);
        let index = match &self.index {
            IndexChoice::None => None,
            IndexChoice::Default => Some(mir_index::Index::open_default(version)?),
            IndexChoice::At(p) => Some(mir_index::Index::open(p, version)?),
            IndexChoice::InMemory => Some(mir_index::Index::open_in_memory(version)?),
        };
        if let Some(index) = index {
            scanner = scanner.with_index(index);
        }
        Ok(Engine {
            scanner: Arc::new(scanner),
            roots: self.roots,
            hashes: self.hashes,
            #[cfg(feature = "plugins")]
            plugins,
        })
    }
}

/// A configured scanner: rules, database, formats, plugins and index loaded once.
#[derive(Debug)]
pub struct Engine {
    scanner: Arc<mir_scan::Scanner>,
    roots: Vec<PathBuf>,
    hashes: Vec<HashAlgo>,
    #[cfg(feature = "plugins")]
    plugins: plugin_host::PluginSet,
}

impl Engine {
    /// A builder with no roots, the built-in rules, no database, no plugins and no index.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Scans the roots, streaming each file (in path order) and then each model to `on_event`.
    /// Return `ControlFlow::Break(())` to stop.
    pub fn scan(&self, on_event: impl FnMut(Event) -> ControlFlow<()>) -> ScanEnd {
        self.scan_cancellable(&AtomicBool::new(false), on_event)
    }

    /// Like [`Engine::scan`], and stops when `cancel` becomes true (set it from another thread).
    pub fn scan_cancellable(
        &self,
        cancel: &AtomicBool,
        on_event: impl FnMut(Event) -> ControlFlow<()>,
    ) -> ScanEnd {
        self.scan_with_progress(cancel, &|_| {}, on_event)
    }

    /// Like [`Engine::scan_cancellable`], and also calls `progress` with [`Progress::Found`]
    /// (how many files will be reported, once the walk is over) and [`Progress::FileDone`]
    /// (one per file read). `progress` runs on the scan's worker threads: keep it short (count,
    /// or send to another thread).
    pub fn scan_with_progress(
        &self,
        cancel: &AtomicBool,
        progress: &(dyn Fn(Progress) + Sync),
        mut on_event: impl FnMut(Event) -> ControlFlow<()>,
    ) -> ScanEnd {
        self.scanner
            .scan_with(&self.roots, progress, cancel, &mut on_event)
    }

    /// The files of a scan as an iterator, produced on a background thread. Dropping the
    /// iterator stops the scan.
    pub fn iter(&self) -> FileIter {
        let (tx, rx) = mpsc::sync_channel::<Box<FileReport>>(64);
        let cancel = Arc::new(AtomicBool::new(false));
        let scanner = Arc::clone(&self.scanner);
        let roots = self.roots.clone();
        let flag = Arc::clone(&cancel);
        let handle = std::thread::spawn(move || {
            scanner.scan_with(&roots, &|_| {}, &flag, &mut |e| match e {
                Event::File(f) => match tx.send(f) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(_) => ControlFlow::Break(()),
                },
                Event::Model(_) => ControlFlow::Continue(()),
            })
        });
        FileIter {
            rx: Some(rx),
            cancel,
            handle: Some(handle),
            exhausted: false,
        }
    }

    /// Identifies one file exactly as a scan would (its folder's `config.json` included).
    pub fn analyse(&self, path: &Path) -> FileReport {
        self.scanner.analyser().analyse_path(path, &self.hashes)
    }

    /// Whole-file hashes `algos` of one file, from the index when the file is unchanged (and
    /// stored there when computed).
    pub fn hash(&self, path: &Path, algos: &[HashAlgo]) -> FileReport {
        self.scanner.hash_path(path, algos)
    }

    /// Duplicate groups among the roots' files (needs an index; `index_in_memory` will do):
    /// identical content (hashing only files whose sizes collide) and the same tensors in
    /// another precision. Files that are gone are never listed. Returns per-file warnings too.
    pub fn dupes(&self) -> Result<(mir_index::DupeReport, Vec<String>), Error> {
        if self.scanner.index().is_none() {
            return Err(Error::Index(mir_index::IndexError::Disabled));
        }
        Ok(self.scanner.dupes(&self.roots)?)
    }

    /// The plugins loaded, and the files in plugin folders that were refused (with why).
    #[cfg(feature = "plugins")]
    pub fn plugins(&self) -> &plugin_host::PluginSet {
        &self.plugins
    }

    /// What the file system saw over the engine's life: weight files opened and hashed.
    pub fn io_stats(&self) -> &mir_scan::IoStats {
        self.scanner.io_stats()
    }

    /// The scanner underneath, for what the facade does not cover.
    pub fn scanner(&self) -> &mir_scan::Scanner {
        &self.scanner
    }
}

/// The plugins a search would load (`--plugin` files, `MIR_PLUGIN_PATH`, the per-user folder)
/// and the refused files with the reason, as `mir plugins` lists them.
#[cfg(feature = "plugins")]
pub fn discover_plugins(explicit: Vec<PathBuf>, plugin_dirs: bool) -> plugin_host::PluginSet {
    let builtin: Vec<String> = mir_scan::default_registry()
        .formats()
        .map(|f| f.name().to_owned())
        .collect();
    let mut search = plugin_host::PluginSearch::standard(explicit, builtin);
    if !plugin_dirs {
        search.dirs.clear();
        search.optional_dirs.clear();
    }
    plugin_host::PluginSet::discover(&search)
}

/// The files of a scan, in path order ([`Engine::iter`]).
#[derive(Debug)]
pub struct FileIter {
    rx: Option<mpsc::Receiver<Box<FileReport>>>,
    cancel: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<ScanEnd>>,
    /// True once `next` has returned `None`: every file was produced.
    exhausted: bool,
}

impl FileIter {
    /// Stops the scan and returns how it ended (counts over the files produced so far).
    pub fn finish(mut self) -> ScanEnd {
        self.stop().unwrap_or_default()
    }

    fn stop(&mut self) -> Option<ScanEnd> {
        self.cancel.store(true, Ordering::Relaxed);
        // Dropping the receiver unblocks a producer waiting to send.
        self.rx = None;
        let mut end = self.handle.take().and_then(|h| h.join().ok())?;
        // Stopped before the last file was taken: cancelled, even when the producer had already
        // queued every report.
        end.cancelled |= !self.exhausted;
        Some(end)
    }
}

impl Iterator for FileIter {
    type Item = FileReport;

    fn next(&mut self) -> Option<FileReport> {
        let next = self.rx.as_ref()?.recv().ok().map(|b| *b);
        self.exhausted |= next.is_none();
        next
    }
}

impl Drop for FileIter {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
