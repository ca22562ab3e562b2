//! The scan pipeline: walk → group → analyse → identify → emit.
//!
//! * **walk**: [`walk::collect`] lists the weight files, shard indexes and diffusers
//!   `model_index.json` files under the roots.
//! * **group**: [`shards::group`] and [`shards::place`] put every file in a model (linear time).
//! * **analyse**: worker threads take files in path order from one shared counter (no batch
//!   barrier: a core that finishes a file takes the next one at once) and run
//!   [`Analyser::analyse`]: facts from the index when the file's identity is unchanged, else read;
//!   hashes only when the facts lack them. New facts go down a channel to one writer thread that
//!   stores them in transactions of up to [`BATCH`] rows, off the workers' path.
//! * **identify**: a file's identification comes with its analysis; a shard set is identified
//!   once, from its members' merged index, when its last member arrives.
//! * **emit**: the calling thread receives analyses, puts them back in path order, and hands each
//!   [`FileReport`] to the sink as soon as everything before it is done; then the models.
//!
//! After a complete scan, index rows under the roots whose files are gone are pruned.

use std::collections::{BTreeMap, HashSet};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use mir_core::signature::Signatures;
use mir_core::{FormatRegistry, Limits, TensorIndex};
use mir_hash::{HashAlgo, HashOptions};
use mir_index::{Entry, FileKey, Index, Preloaded};

use crate::analyse::{Analyser, ConfigCache, IoStats, Want};
use crate::facts::{StoredFacts, facts_version};
use crate::identify::{Context, Identifier};
use crate::record::{ModelRecord, Record, Summary};
use crate::report::{FileReport, ModelKind, ModelLink, ModelReport, ShardLink};
use crate::shards::{self, Placement};
use crate::walk::{self, Candidate, Selection, WalkError};

/// The version of what the scanner stores in the index: now the facts encoding
/// ([`crate::FACTS_VERSION`]). Kept for callers of the former name.
pub const RECORD_VERSION: u32 = crate::facts::FACTS_VERSION;

/// Most worker threads a scan uses; [`ScanOptions::threads`] above it is clamped. A scan is bound
/// by the disk, and idle walker threads poll for work, so threads far beyond the cores cost time
/// instead of saving it (one file, 2 cores: 64 threads 0.05 s, 256 threads 2 s, 1,024 threads
/// 224 s), and a count near `usize::MAX` made the walker panic.
pub const MAX_THREADS: usize = 64;

/// Most rows the writer thread stores in one transaction (a killed scan keeps every committed
/// batch).
pub const BATCH: usize = 512;

/// The formats built into `mir`.
pub fn default_registry() -> FormatRegistry {
    let mut r = FormatRegistry::new();
    r.register(Arc::new(mir_safetensors::SafetensorsFormat));
    r.register(Arc::new(mir_gguf::GgufFormat));
    #[cfg(feature = "ckpt")]
    r.register(Arc::new(mir_ckpt::CkptFormat));
    r
}

/// The version to open the index with: [`facts_version`] of the formats. The identifier does
/// not enter it any more: facts do not depend on rules or databases, which are applied again on
/// every scan (so changing them re-reads nothing).
pub fn record_version(registry: &FormatRegistry, _identifier: &Identifier) -> u32 {
    facts_version(registry)
}

/// How a scan runs.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Worker threads for walking and analysing; 0 picks one per core. At most [`MAX_THREADS`]
    /// (larger values are clamped).
    pub threads: usize,
    /// Bounds applied to every file.
    pub limits: Limits,
    /// Also look at extensionless files named like content hashes (HF blobs, Ollama blobs).
    pub hash_named_files: bool,
    /// Whole-file hashes to compute (reads every byte of every file; cached in the index).
    pub hashes: Vec<HashAlgo>,
    /// How files are hashed (threads per file, read strategy).
    pub hash_options: HashOptions,
    /// Keep each file's tensor index in its [`FileReport`] (off: only counts and fingerprints
    /// are kept once a file is identified, which bounds a large scan's memory).
    pub keep_index: bool,
    /// Follow symlinks that leave the roots (by default they are reported in
    /// [`ScanOutput::outside_symlinks`] and not followed).
    pub follow_symlinks: bool,
    /// Name models (shard sets, diffusers folders, snapshots) and emit one
    /// [`Emitted::Model`] per model after the files. Off: no model is gathered while files are
    /// emitted (what a file-level scan of a large library keeps in memory), and none is emitted;
    /// each file's [`FileReport::model`] link is set either way.
    pub models: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: 0,
            limits: Limits::default(),
            hash_named_files: true,
            hashes: Vec::new(),
            hash_options: HashOptions::default(),
            keep_index: false,
            follow_symlinks: false,
            models: true,
        }
    }
}

/// Progress events, for a progress bar.
#[derive(Clone, Debug)]
pub enum Progress {
    /// The walk is over: this many files will be reported.
    Found {
        /// Files to report.
        files: usize,
    },
    /// One more file was done.
    FileDone,
}

/// What a scan hands its sink, in order: every file (in path order), then every model.
#[derive(Debug)]
pub enum Emitted {
    /// One file's result.
    File(Box<FileReport>),
    /// One model's result (after all files).
    Model(ModelReport),
}

/// What the file system saw of a scan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Weight files opened to read a header.
    pub opened: u64,
    /// Weight files read whole to hash them.
    pub hashed: u64,
    /// Files whose facts came from the index.
    pub cached: u64,
    /// Index rows of files that are gone, pruned after the scan.
    pub pruned: usize,
}

/// How a streamed scan ended.
#[derive(Debug, Default)]
pub struct ScanEnd {
    /// Folders or entries that could not be walked (symlink loops included, flagged `is_loop`).
    pub walk_errors: Vec<WalkError>,
    /// Problems with the index (the scan went on without it).
    pub index_errors: Vec<String>,
    /// Symlinks whose target leaves the roots, not followed (see
    /// [`ScanOptions::follow_symlinks`]).
    pub outside_symlinks: Vec<PathBuf>,
    /// Counts over the files emitted.
    pub summary: Summary,
    /// What the file system saw.
    pub stats: ScanStats,
    /// True when the sink or the cancel flag stopped the scan early (nothing was pruned).
    pub cancelled: bool,
}

/// Everything a scan found, collected.
#[derive(Debug, Default)]
pub struct ScanOutput {
    /// One record per weight file, sorted by path.
    pub records: Vec<Record>,
    /// One record per model (a file alone, a shard set, a diffusers folder, a snapshot).
    pub models: Vec<ModelRecord>,
    /// Folders or entries that could not be walked (symlink loops included, flagged `is_loop`).
    pub walk_errors: Vec<WalkError>,
    /// Problems with the index (the scan went on without it).
    pub index_errors: Vec<String>,
    /// Symlinks whose target leaves the roots, not followed (see
    /// [`ScanOptions::follow_symlinks`]).
    pub outside_symlinks: Vec<PathBuf>,
    /// Counts.
    pub summary: Summary,
    /// What the file system saw.
    pub stats: ScanStats,
}

/// Scans model libraries.
#[derive(Debug)]
pub struct Scanner {
    options: ScanOptions,
    analyser: Analyser,
    index: Option<Mutex<Index>>,
}

impl Scanner {
    /// A scanner with the built-in formats and rules.
    pub fn new(options: ScanOptions) -> Result<Scanner, mir_classify::RuleError> {
        Ok(Scanner::with_parts(
            options,
            default_registry(),
            Identifier::builtin()?,
        ))
    }

    /// A scanner with the given formats (e.g. built-ins plus loaded plugins) and identifier.
    pub fn with_parts(
        mut options: ScanOptions,
        registry: FormatRegistry,
        identifier: Identifier,
    ) -> Scanner {
        options.threads = options.threads.min(MAX_THREADS);
        let analyser = Analyser::new(
            registry,
            identifier,
            options.limits.clone(),
            options.hash_options,
        );
        Scanner {
            options,
            analyser,
            index: None,
        }
    }

    /// Uses `index` to skip reading files whose identity did not change, and stores what is
    /// read. Open it with [`record_version`] (= [`facts_version`]) of this scanner's formats.
    pub fn with_index(mut self, index: Index) -> Scanner {
        self.index = Some(Mutex::new(index));
        self
    }

    /// The index, if one is attached (e.g. for `mir dupes`).
    pub fn index(&self) -> Option<std::sync::MutexGuard<'_, Index>> {
        self.index
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The formats this scanner reads.
    pub fn registry(&self) -> &FormatRegistry {
        &self.analyser.registry
    }

    /// The analysis every file goes through (also for one path: [`Analyser::analyse_path`]).
    pub fn analyser(&self) -> &Analyser {
        &self.analyser
    }

    /// What the file system saw over this scanner's life: weight files opened and hashed.
    pub fn io_stats(&self) -> &IoStats {
        self.analyser.stats()
    }

    /// Walks `roots` (folders or files) and reports every weight file, collected.
    pub fn scan(&self, roots: &[PathBuf], progress: &(dyn Fn(Progress) + Sync)) -> ScanOutput {
        let mut records = Vec::new();
        let mut models = Vec::new();
        let end = self.scan_with(roots, progress, &AtomicBool::new(false), &mut |e| {
            match e {
                Emitted::File(r) => records.push(Record::from_report(&r)),
                Emitted::Model(m) => models.push(ModelRecord::from_report(&m)),
            }
            ControlFlow::Continue(())
        });
        ScanOutput {
            records,
            models,
            walk_errors: end.walk_errors,
            index_errors: end.index_errors,
            outside_symlinks: end.outside_symlinks,
            summary: end.summary,
            stats: end.stats,
        }
    }

    /// Walks `roots` and streams every file's report to `sink` in path order, then every
    /// model's. `sink` returning `Break`, or `cancel` becoming true, stops the scan: workers
    /// take no new file and nothing more is emitted.
    pub fn scan_with(
        &self,
        roots: &[PathBuf],
        progress: &(dyn Fn(Progress) + Sync),
        cancel: &AtomicBool,
        sink: &mut dyn FnMut(Emitted) -> ControlFlow<()>,
    ) -> ScanEnd {
        let opened_before = self.analyser.stats.opened();
        let hashed_before = self.analyser.stats.hashed();
        let selection = Selection {
            extensions: self
                .registry()
                .formats()
                .flat_map(|f| f.extensions().iter().map(|e| (*e).to_owned()))
                .collect(),
            hash_named: self.options.hash_named_files,
            follow_outside: self.options.follow_symlinks,
        };
        let mut listing = walk::collect(roots, &selection, self.options.threads);
        let files = std::mem::take(&mut listing.files);
        let (groups, member_of) =
            shards::group(&files, &listing.shard_indexes, &mut listing.errors);
        let places = shards::place(&files, &groups, &member_of, &listing.model_indexes);
        progress(Progress::Found { files: files.len() });

        let mut end = ScanEnd::default();
        let preloaded = self.preload(roots, &mut end.index_errors);
        let configs = ConfigCache::from_listing(&listing);
        let threads = match self.options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
        .clamp(1, files.len().max(1));
        let next = AtomicUsize::new(0);
        let cached_count = AtomicUsize::new(0);
        let mut emitter = Emitter::new(&files, &groups, &member_of, &places);
        emitter.gather_models = self.options.models;

        std::thread::scope(|s| {
            let (tx, rx) = mpsc::channel::<(usize, FileReport)>();
            let (wtx, wrx) = mpsc::channel::<Entry>();
            let writer = self.index.as_ref().map(|index| {
                s.spawn(move || {
                    let mut errors = Vec::new();
                    while let Ok(first) = wrx.recv() {
                        let mut batch = vec![first];
                        while batch.len() < BATCH
                            && let Ok(e) = wrx.try_recv()
                        {
                            batch.push(e);
                        }
                        let mut index = index.lock().unwrap_or_else(|p| p.into_inner());
                        if let Err(e) = index.store_batch(&batch) {
                            errors
                                .push(format!("storing {} records in the index: {e}", batch.len()));
                        }
                    }
                    errors
                })
            });
            for _ in 0..threads {
                let tx = tx.clone();
                let wtx = self.index.is_some().then(|| wtx.clone());
                let (next, files, preloaded, configs, cached_count, member_of) = (
                    &next,
                    &files,
                    preloaded.as_ref(),
                    &configs,
                    &cached_count,
                    &member_of,
                );
                let keep_index = self.options.keep_index;
                s.spawn(move || {
                    loop {
                        if cancel.load(Ordering::Relaxed) {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(c) = files.get(i) else { break };
                        let (mut report, entry) = self.process(c, preloaded, configs);
                        // An index nobody asked to keep is freed here, on the thread that
                        // allocated it (cheaper than a free from another thread), unless its
                        // shard set still needs it for the merged identification.
                        if !keep_index
                            && member_of.get(i).copied().flatten().is_none()
                            && let Some(f) = report.facts.as_mut()
                        {
                            f.index = None;
                        }
                        if report.cached {
                            cached_count.fetch_add(1, Ordering::Relaxed);
                        }
                        if let (Some(wtx), Some(entry)) = (&wtx, entry) {
                            let _ = wtx.send(entry);
                        }
                        progress(Progress::FileDone);
                        if tx.send((i, report)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            drop(wtx);
            for (i, report) in rx.iter() {
                emitter.arrive(i, report, self);
                if emitter.drain(sink, self.options.keep_index, &mut end.summary) {
                    cancel.store(true, Ordering::Relaxed);
                    end.cancelled = true;
                    break;
                }
            }
            // Dropping the receiver makes the workers' next send fail: they stop.
            drop(rx);
            if let Some(w) = writer {
                end.index_errors.extend(
                    w.join()
                        .unwrap_or_else(|_| vec!["the index writer failed".into()]),
                );
            }
        });
        if cancel.load(Ordering::Relaxed) {
            end.cancelled = true;
        }
        if !end.cancelled {
            for m in emitter.models(&self.analyser) {
                if sink(Emitted::Model(m)).is_break() {
                    end.cancelled = true;
                    break;
                }
            }
        }
        if !end.cancelled {
            end.stats.pruned = self.prune(roots, &files, &mut end.index_errors);
        }
        end.summary.errors += listing.errors.iter().filter(|e| !e.is_loop).count();
        end.walk_errors = listing.errors;
        end.outside_symlinks = listing.outside_symlinks;
        end.stats.opened = self.analyser.stats.opened() - opened_before;
        end.stats.hashed = self.analyser.stats.hashed() - hashed_before;
        end.stats.cached = cached_count.load(Ordering::Relaxed) as u64;
        end
    }

    fn preload(&self, roots: &[PathBuf], errors: &mut Vec<String>) -> Option<Preloaded> {
        let index = self.index()?;
        let abs = absolute_roots(roots);
        let refs: Vec<&Path> = abs.iter().map(PathBuf::as_path).collect();
        match index.preload(&refs) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.push(format!("reading the index: {e}"));
                None
            }
        }
    }

    /// Forgets index rows under `roots` of files that are gone (issue 14, defect 3).
    fn prune(&self, roots: &[PathBuf], files: &[Candidate], errors: &mut Vec<String>) -> usize {
        let Some(mut index) = self.index() else {
            return 0;
        };
        let abs = absolute_roots(roots);
        let refs: Vec<&Path> = abs.iter().map(PathBuf::as_path).collect();
        let seen: HashSet<PathBuf> = files
            .iter()
            .flat_map(|c| std::iter::once(&c.path).chain(&c.aliases))
            .filter_map(|p| std::path::absolute(p).ok())
            .collect();
        match index.prune(&refs, &seen) {
            Ok(n) => n,
            Err(e) => {
                errors.push(format!("pruning the index: {e}"));
                0
            }
        }
    }

    /// Whole-file hashes `algos` of one path (`mir hash`), through the same analysis as a scan: from
    /// the index when the file's identity is unchanged and the index holds them, else computed
    /// and stored (next to any facts a scan stored).
    pub fn hash_path(&self, path: &Path, algos: &[HashAlgo]) -> FileReport {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                return FileReport {
                    path: path.to_path_buf(),
                    error: Some(crate::report::FileError::from_core(&mir_core::Error::Io(e))),
                    ..FileReport::default()
                };
            }
        };
        let key = FileKey::from_metadata(&meta);
        let abs = std::path::absolute(path).ok();
        let known = match (self.index(), &abs) {
            (Some(i), Some(abs)) => i.cached_hashes(abs, &key).ok().flatten(),
            _ => None,
        };
        let want = Want {
            header: false,
            hashes: algos,
        };
        let (mut report, changed) = self.analyser.analyse(
            path,
            meta.len(),
            None,
            None,
            known.as_ref(),
            want,
            &ConfigCache::default(),
        );
        report.cached = !changed && report.error.is_none();
        if let (true, Some(abs), Some(mut index), Some(facts)) =
            (changed, abs, self.index(), report.facts.as_ref())
            && report.error.is_none()
        {
            let h = facts.hashes.clone();
            let updated = index
                .merge_hashes(&[(abs.clone(), key, h.clone())])
                .unwrap_or(0);
            if updated == 0 {
                // No scan row yet: store the hashes alone (a scan fills in the facts).
                let entry = Entry {
                    path: abs,
                    key,
                    hashes: h,
                    ..Entry::default()
                };
                let _ = index.store_batch(&[entry]);
            }
        }
        report
    }

    /// Duplicate groups under `roots` (`mir dupes`): scans them (facts from the index where
    /// unchanged; rows of files that are gone pruned), hashes only the files whose size collides
    /// with another's and that have no hash yet, and groups the files that still exist with
    /// `mir-index`'s grouping. Needs an index (an in-memory one will do). Returns the report and
    /// per-file warnings.
    pub fn dupes(
        &self,
        roots: &[PathBuf],
    ) -> Result<(mir_index::DupeReport, Vec<String>), mir_index::IndexError> {
        let out = self.scan(roots, &|_| {});
        let mut warnings = out.index_errors;
        let abs = absolute_roots(roots);
        let refs: Vec<&Path> = abs.iter().map(PathBuf::as_path).collect();
        let to_hash = match self.index() {
            Some(index) => index.unhashed_size_collisions(&refs)?,
            None => Vec::new(),
        };
        let algos = [HashAlgo::Sha256, HashAlgo::Blake3];
        let want = Want {
            header: false,
            hashes: &algos,
        };
        let mut updates = Vec::new();
        for (path, key) in to_hash {
            let now = std::fs::metadata(&path).map(|m| FileKey::from_metadata(&m));
            if now.as_ref().ok() != Some(&key) {
                continue; // Changed or gone since the scan: not compared.
            }
            // Hash only the file the scan recorded (identity checked on the open handle).
            let expect = (key.dev, key.ino) != (0, 0);
            let expect = expect.then_some(mir_core::FileId {
                dev: key.dev,
                ino: key.ino,
            });
            let (report, _) = self.analyser.analyse(
                &path,
                key.size,
                expect,
                None,
                None,
                want,
                &ConfigCache::default(),
            );
            match (report.error, report.facts) {
                (None, Some(f)) => {
                    let after = std::fs::metadata(&path).map(|m| FileKey::from_metadata(&m));
                    if after.as_ref().ok() == Some(&key) {
                        updates.push((path, key, f.hashes));
                    } else {
                        warnings.push(format!(
                            "{}: changed while it was hashed; skipped",
                            path.display()
                        ));
                    }
                }
                (Some(e), _) => warnings.push(format!("{}: {}", path.display(), e.message)),
                _ => {}
            }
        }
        let Some(mut index) = self.index() else {
            return Ok((mir_index::find_dupes(&[]), warnings));
        };
        index.merge_hashes(&updates)?;
        // Only files that exist: a row the prune could not reach (a cancelled scan, a root
        // given as a file) must not be offered as a copy.
        let files: Vec<mir_index::DupeFile> = index
            .dupe_files(&refs)?
            .into_iter()
            .filter(|f| f.path.exists())
            .collect();
        Ok((mir_index::find_dupes(&files), warnings))
    }

    /// Reads and identifies one file, without the index. Handy for a single path.
    pub fn scan_file(&self, path: &Path) -> Record {
        Record::from_report(&self.analyser.analyse_path(path, &self.options.hashes))
    }

    /// One file: facts from the index when its identity is unchanged, else read; the entry to
    /// store when anything new was learnt.
    fn process(
        &self,
        c: &Candidate,
        preloaded: Option<&Preloaded>,
        configs: &ConfigCache,
    ) -> (FileReport, Option<Entry>) {
        let key = FileKey {
            dev: c.dev_ino.0,
            ino: c.dev_ino.1,
            size: c.size,
            mtime_ns: c.mtime_ns,
            ctime_ns: c.ctime_ns,
        };
        let abs = std::path::absolute(&c.path).ok();
        let (cached, known_hashes) = match (preloaded, &abs) {
            (Some(p), Some(abs)) => {
                let hashes = p.cached_hashes(abs, &key);
                let facts = p
                    .lookup(abs, &key)
                    .and_then(|row| StoredFacts::from_json(&row.record_json, row.hashes.clone()));
                (facts, hashes)
            }
            _ => (None, None),
        };
        let want = Want {
            header: true,
            hashes: &self.options.hashes,
        };
        // The walk accepted this (device, inode): the open is checked against it, so a symlink
        // retargeted since the walk is refused, never read.
        let expect = (c.dev_ino != (0, 0)).then_some(mir_core::FileId {
            dev: c.dev_ino.0,
            ino: c.dev_ino.1,
        });
        let (mut report, changed) =
            self.analyser
                .analyse(&c.path, c.size, expect, cached, known_hashes, want, configs);
        report.aliases = c.aliases.clone();
        let entry = match (abs, &report.facts, changed && self.index.is_some()) {
            (Some(path), Some(facts), true) if report.error.is_none() => {
                StoredFacts::to_json(facts).map(|record_json| Entry {
                    path,
                    key,
                    format: facts.format.clone(),
                    key_sig: facts.signatures.as_ref().map(Signatures::key_sig_hex),
                    shape_sig: facts.signatures.as_ref().map(Signatures::shape_sig_hex),
                    precision: facts.precision(),
                    mir: report.mir().map(ToString::to_string),
                    record_json,
                    hashes: facts.hashes.clone(),
                })
            }
            _ => None,
        };
        (report, entry)
    }

    /// Identifies a shard set from its members' merged index and gives every readable member
    /// the set's identification.
    fn identify_group(&self, group: &shards::ShardGroup, members: &mut [&mut FileReport]) {
        let mut merged = TensorIndex::new("");
        for r in members.iter() {
            if let Some(i) = r.facts.as_ref().and_then(|f| f.index.as_ref()) {
                if merged.format.is_empty() {
                    merged.format = i.format.clone();
                }
                merged.tensors.extend(i.tensors.iter().cloned());
                for (k, v) in &i.metadata {
                    merged
                        .metadata
                        .entry(k.clone())
                        .or_insert_with(|| v.clone());
                }
            }
        }
        let readable = !merged.tensors.is_empty();
        let sigs = readable.then(|| Signatures::of(&merged));
        let model = readable.then(|| {
            let configs = ConfigCache::default();
            let model_type = configs.model_type(&group.model);
            let adapter_base = configs.adapter_base(&group.model);
            // The model's name: the index file's name without `.index.json`.
            let name = group
                .model
                .file_name()
                .and_then(|n| n.to_str())
                .map(|n| n.trim_end_matches(".index.json"));
            let ctx = Context {
                file_name: name,
                config_model_type: model_type.as_deref(),
                adapter_base: adapter_base.as_deref(),
                ..Context::default()
            };
            let mut c = self.analyser.identifier.classify(&merged, &ctx);
            c.evidence.push(format!(
                "identified as one model across {} shards",
                group.members.len()
            ));
            c
        });
        for r in members.iter_mut() {
            if let Some(link) = r.shard.as_mut() {
                link.key_sig = sigs.as_ref().map(Signatures::key_sig_hex);
                link.shape_sig = sigs.as_ref().map(Signatures::shape_sig_hex);
            }
            if r.error.is_none()
                && let Some(m) = &model
            {
                // The file keeps its own precision; the rest is the set's.
                let precision = r.identification.as_ref().and_then(|c| c.precision.clone());
                let mut c = m.clone();
                c.precision = precision;
                r.identification = Some(c);
            }
        }
    }
}

fn absolute_roots(roots: &[PathBuf]) -> Vec<PathBuf> {
    roots
        .iter()
        .filter_map(|r| std::path::absolute(r).ok())
        .collect()
}

/// Puts analyses back in path order, identifies shard sets when complete, emits.
struct Emitter<'a> {
    files: &'a [Candidate],
    groups: &'a [shards::ShardGroup],
    member_of: &'a shards::Membership,
    places: &'a [Placement],
    slots: Vec<Option<FileReport>>,
    pending: Vec<usize>,
    next: usize,
    models: BTreeMap<PathBuf, ModelAcc>,
    /// Whether models are gathered ([`ScanOptions::models`]).
    gather_models: bool,
}

/// What is gathered about one model while its files are emitted.
struct ModelAcc {
    kind: ModelKind,
    files: Vec<PathBuf>,
    /// Each file's component (diffusers) and identification.
    ids: Vec<(Option<String>, Option<mir_classify::Classification>)>,
}

impl<'a> Emitter<'a> {
    fn new(
        files: &'a [Candidate],
        groups: &'a [shards::ShardGroup],
        member_of: &'a shards::Membership,
        places: &'a [Placement],
    ) -> Emitter<'a> {
        Emitter {
            files,
            groups,
            member_of,
            places,
            slots: (0..files.len()).map(|_| None).collect(),
            pending: groups.iter().map(|g| g.members.len()).collect(),
            next: 0,
            models: BTreeMap::new(),
            gather_models: true,
        }
    }

    fn arrive(&mut self, i: usize, mut report: FileReport, scanner: &Scanner) {
        if let Some(p) = self.places.get(i) {
            report.model = Some(ModelLink {
                path: p.model.clone(),
                kind: p.kind,
                component: p.component.clone(),
            });
        }
        let group = self.member_of.get(i).copied().flatten();
        if let Some((g, part)) = group
            && let Some(shard_group) = self.groups.get(g)
        {
            report.shard = Some(ShardLink {
                model: shard_group.model.clone(),
                part,
                total: shard_group.total,
                key_sig: None,
                shape_sig: None,
            });
        }
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = Some(report);
        }
        if let Some((g, _)) = group
            && let Some(left) = self.pending.get_mut(g)
        {
            *left -= 1;
            if *left == 0
                && let Some(shard_group) = self.groups.get(g)
            {
                // Take the members out and put them back: O(members), not O(files).
                let mut taken: Vec<(usize, FileReport)> = shard_group
                    .members
                    .iter()
                    .filter_map(|&m| self.slots.get_mut(m).and_then(Option::take).map(|r| (m, r)))
                    .collect();
                let mut refs: Vec<&mut FileReport> = taken.iter_mut().map(|(_, r)| r).collect();
                scanner.identify_group(shard_group, &mut refs);
                for (m, r) in taken {
                    if let Some(slot) = self.slots.get_mut(m) {
                        *slot = Some(r);
                    }
                }
            }
        }
    }

    fn ready(&self, i: usize) -> bool {
        self.slots.get(i).is_some_and(Option::is_some)
            && match self.member_of.get(i).copied().flatten() {
                Some((g, _)) => self.pending.get(g).is_some_and(|&n| n == 0),
                None => true,
            }
    }

    /// Emits every report that is ready, in order; true when the sink asked to stop.
    fn drain(
        &mut self,
        sink: &mut dyn FnMut(Emitted) -> ControlFlow<()>,
        keep_index: bool,
        summary: &mut Summary,
    ) -> bool {
        while self.next < self.files.len() && self.ready(self.next) {
            let Some(mut report) = self.slots.get_mut(self.next).and_then(Option::take) else {
                break;
            };
            self.next += 1;
            if !keep_index && let Some(f) = report.facts.as_mut() {
                f.index = None;
            }
            summary.files += 1;
            if report.error.is_some() {
                summary.errors += 1;
            } else if report.is_unrecognised() {
                summary.unrecognised += 1;
            } else {
                summary.identified += 1;
            }
            if let Some(link) = report.model.as_ref().filter(|_| self.gather_models) {
                let acc = self
                    .models
                    .entry(link.path.clone())
                    .or_insert_with(|| ModelAcc {
                        kind: link.kind,
                        files: Vec::new(),
                        ids: Vec::new(),
                    });
                acc.files.push(report.path.clone());
                acc.ids
                    .push((link.component.clone(), report.identification.clone()));
            }
            if sink(Emitted::File(Box::new(report))).is_break() {
                return true;
            }
        }
        false
    }

    /// The models, in path order, named from their files.
    fn models(&mut self, _analyser: &Analyser) -> Vec<ModelReport> {
        std::mem::take(&mut self.models)
            .into_iter()
            .map(|(path, acc)| model_report(path, acc))
            .collect()
    }
}

/// The first line of an InvokeAI IP-Adapter folder's `image_encoder.txt` (a model identifier
/// such as `InvokeAI/ip_adapter_sd_image_encoder`): at most 1 KiB read, opened like a weight file
/// (a FIFO in its place never blocks), only printable ASCII kept.
fn invokeai_image_encoder(folder: &std::path::Path) -> Option<String> {
    let src = mir_core::Source::open(folder.join(shards::INVOKEAI_IMAGE_ENCODER)).ok()?;
    let bytes = src
        .read_vec(0, src.len().min(1024), "image_encoder.txt", 1024)
        .ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let line = text.lines().next()?.trim();
    (!line.is_empty() && line.bytes().all(|b| b.is_ascii_graphic())).then(|| line.to_owned())
}

/// Diffusers component folders that hold the denoiser, which names the pipeline.
const DENOISERS: [&str; 4] = ["unet", "transformer", "prior", "decoder"];

fn model_report(path: PathBuf, acc: ModelAcc) -> ModelReport {
    let mut report = ModelReport {
        path,
        kind: acc.kind,
        files: acc.files,
        mir: None,
        components: Vec::new(),
        decided_by: None,
        evidence: Vec::new(),
    };
    match acc.kind {
        ModelKind::Diffusers => {
            let mut seen = HashSet::new();
            for (component, id) in &acc.ids {
                let Some(name) = component else { continue };
                if seen.insert(name.clone()) {
                    report
                        .components
                        .push((name.clone(), id.as_ref().and_then(|c| c.mir.clone())));
                }
            }
            let denoiser = acc.ids.iter().find(|(c, id)| {
                c.as_deref().is_some_and(|c| DENOISERS.contains(&c))
                    && id.as_ref().is_some_and(|i| i.mir.is_some())
            });
            if let Some((Some(component), Some(id))) = denoiser {
                report.mir = id.mir.clone();
                report.decided_by = id.decided_by;
                report
                    .evidence
                    .push(format!("pipeline named from its {component} component"));
            }
        }
        ModelKind::InvokeAi => {
            // The folder is its one weight file, named by its content; the sidecar says which
            // image encoder it needs.
            if let Some((_, Some(c))) = acc.ids.first() {
                report.mir = c.mir.clone();
                report.decided_by = c.decided_by;
                report.evidence = c.evidence.clone();
            }
            report.evidence.push(format!(
                "InvokeAI IP-Adapter folder; {} names the image encoder {}",
                shards::INVOKEAI_IMAGE_ENCODER,
                invokeai_image_encoder(&report.path)
                    .map_or("(unreadable)".to_owned(), |e| format!("{e:?}"))
            ));
        }
        _ => {
            // A file alone, a shard set (every member carries the set's ID) or a snapshot:
            // the ID its files agree on.
            let ids: Vec<&mir_classify::Classification> =
                acc.ids.iter().filter_map(|(_, c)| c.as_ref()).collect();
            let first = ids.iter().find(|c| c.mir.is_some());
            if let Some(c) = first {
                let agree = ids
                    .iter()
                    .filter(|o| o.mir.is_some())
                    .all(|o| o.mir == c.mir);
                if agree {
                    report.mir = c.mir.clone();
                    report.decided_by = c.decided_by;
                    report.evidence = c.evidence.clone();
                } else {
                    report
                        .evidence
                        .push("its files are identified as different models".to_owned());
                }
            }
        }
    }
    report
}
