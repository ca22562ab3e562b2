//! The scan pipeline: walk, look up the index, parse and hash in parallel, group shards,
//! identify, store, report.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mir_core::signature::Signatures;
use mir_core::{FormatRegistry, Limits, Severity, Source, TensorIndex};
use mir_hash::{FileHashes, HashAlgo, HashOptions};
use mir_index::{Entry, FileKey, Index, Preloaded};
use rayon::prelude::*;

use crate::identify::{Context, Identifier};
use crate::record::{FingerprintRecord, Record, ShardRecord, Summary};
use crate::shards;
use crate::walk::{self, Candidate, Selection, WalkError};

/// The version of what the scanner stores in the index. Bump it when the record's meaning
/// changes; rule and database changes are covered by [`record_version`] already.
pub const RECORD_VERSION: u32 = 1;

/// Most worker threads a scan uses; [`ScanOptions::threads`] above it is clamped. A scan is bound
/// by the disk, and idle walker threads poll for work, so threads far beyond the cores cost time
/// instead of saving it (one file, 2 cores: 64 threads 0.05 s, 256 threads 2 s, 1,024 threads
/// 224 s), and a count near `usize::MAX` made the walker panic.
pub const MAX_THREADS: usize = 64;

/// Files per batch: each batch is parsed in parallel, then stored in one index transaction, so a
/// killed scan keeps every finished batch.
const BATCH: usize = 512;

/// The formats built into `mir`.
pub fn default_registry() -> FormatRegistry {
    let mut r = FormatRegistry::new();
    r.register(Arc::new(mir_safetensors::SafetensorsFormat));
    r.register(Arc::new(mir_gguf::GgufFormat));
    r.register(Arc::new(mir_ckpt::CkptFormat));
    r
}

/// The record version to open the index with for this set of formats and this identifier: it
/// changes with [`RECORD_VERSION`], the crate version, the formats and the rules/database, so
/// records cached by another configuration are read again.
pub fn record_version(registry: &FormatRegistry, identifier: &Identifier) -> u32 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&RECORD_VERSION.to_le_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    for f in registry.formats() {
        h.update(f.name().as_bytes());
        h.update(b"\0");
    }
    h.update(&identifier.fingerprint().to_le_bytes());
    // The index stores a u32; 0 is avoided so it never looks like an unset value.
    (h.digest() as u32).max(1)
}

/// How a scan runs.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Worker threads for walking and parsing; 0 picks one per core. At most [`MAX_THREADS`]
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
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: 0,
            limits: Limits::default(),
            hash_named_files: true,
            hashes: Vec::new(),
            hash_options: HashOptions::default(),
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

/// Everything a scan found.
#[derive(Debug, Default)]
pub struct ScanOutput {
    /// One record per weight file, sorted by path.
    pub records: Vec<Record>,
    /// Folders or entries that could not be walked (symlink loops included, flagged `is_loop`).
    pub walk_errors: Vec<WalkError>,
    /// Problems with the index (the scan went on without it).
    pub index_errors: Vec<String>,
    /// Counts.
    pub summary: Summary,
}

/// Scans model libraries.
#[derive(Debug)]
pub struct Scanner {
    options: ScanOptions,
    registry: FormatRegistry,
    identifier: Identifier,
    index: Option<Mutex<Index>>,
    /// The worker pool when `threads` is set (built once, used for every batch); `None` uses
    /// rayon's global pool.
    pool: Option<rayon::ThreadPool>,
}

/// One file's result: its record, its index when a shard group needs it, and what to store.
type Outcome = (Record, Option<TensorIndex>, Option<Entry>);

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
        let pool = (options.threads > 0)
            .then(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(options.threads)
                    .build()
                    .ok()
            })
            .flatten();
        Scanner {
            options,
            registry,
            identifier,
            index: None,
            pool,
        }
    }

    /// Uses `index` to skip files that did not change since they were read, and stores what is
    /// read. Open it with [`record_version`] of this scanner's formats and identifier.
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
        &self.registry
    }

    /// Walks `roots` (folders or files) and reports every weight file.
    pub fn scan(&self, roots: &[PathBuf], progress: &(dyn Fn(Progress) + Sync)) -> ScanOutput {
        let selection = Selection {
            extensions: self
                .registry
                .formats()
                .flat_map(|f| f.extensions().iter().map(|e| (*e).to_owned()))
                .collect(),
            hash_named: self.options.hash_named_files,
        };
        let mut listing = walk::collect(roots, &selection, self.options.threads);
        let (groups, member_of) =
            shards::group(&listing.files, &listing.shard_indexes, &mut listing.errors);
        progress(Progress::Found {
            files: listing.files.len(),
        });

        let mut index_errors = Vec::new();
        let preloaded = self.preload(roots, &mut index_errors);
        let configs = ConfigCache::default();
        let mut records = Vec::with_capacity(listing.files.len());
        let mut kept: HashMap<PathBuf, TensorIndex> = HashMap::new();
        for batch in listing.files.chunks(BATCH) {
            let work = |c: &Candidate| {
                let out = self.process(
                    c,
                    member_of.contains_key(&c.path),
                    &configs,
                    preloaded.as_ref(),
                );
                progress(Progress::FileDone);
                out
            };
            let results: Vec<Outcome> = self.in_pool(|| batch.par_iter().map(work).collect());
            let mut entries = Vec::new();
            for ((record, index, entry), c) in results.into_iter().zip(batch) {
                if let Some(i) = index {
                    kept.insert(c.path.clone(), i);
                }
                entries.extend(entry);
                records.push(record);
            }
            if let (Some(index), false) = (self.index(), entries.is_empty()) {
                let mut index = index;
                if let Err(e) = index.store_batch(&entries) {
                    index_errors.push(format!(
                        "storing {} records in the index: {e}",
                        entries.len()
                    ));
                }
            }
        }
        self.identify_groups(
            &groups,
            &member_of,
            &listing.files,
            &mut records,
            &kept,
            &configs,
        );

        let mut summary = Summary {
            files: records.len(),
            ..Summary::default()
        };
        for r in &records {
            if r.error.is_some() {
                summary.errors += 1;
            } else if r.is_unrecognised() {
                summary.unrecognised += 1;
            } else {
                summary.identified += 1;
            }
        }
        summary.errors += listing.errors.iter().filter(|e| !e.is_loop).count();
        ScanOutput {
            records,
            walk_errors: listing.errors,
            index_errors,
            summary,
        }
    }

    fn preload(&self, roots: &[PathBuf], errors: &mut Vec<String>) -> Option<Preloaded> {
        let index = self.index()?;
        let abs: Vec<PathBuf> = roots
            .iter()
            .filter_map(|r| std::path::absolute(r).ok())
            .collect();
        let refs: Vec<&Path> = abs.iter().map(PathBuf::as_path).collect();
        match index.preload(&refs) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.push(format!("reading the index: {e}"));
                None
            }
        }
    }

    fn in_pool<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    /// Reads and identifies one file, without the index. Handy for a single path.
    pub fn scan_file(&self, path: &Path) -> Record {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let c = Candidate {
            path: path.to_path_buf(),
            size,
            dev_ino: (0, 0),
            mtime_ns: 0,
            aliases: Vec::new(),
        };
        self.read_one(&c, false, &ConfigCache::default()).0
    }

    /// One file: from the index when it is unchanged and has the hashes asked for, otherwise
    /// read (and hashed) and queued for storing.
    fn process(
        &self,
        c: &Candidate,
        in_group: bool,
        configs: &ConfigCache,
        preloaded: Option<&Preloaded>,
    ) -> Outcome {
        let key = FileKey {
            dev: c.dev_ino.0,
            ino: c.dev_ino.1,
            size: c.size,
            mtime_ns: c.mtime_ns,
        };
        let abs = std::path::absolute(&c.path).ok();
        let cached = match (preloaded, &abs) {
            (Some(p), Some(abs)) if !in_group => p.lookup(abs, &key),
            _ => None,
        };
        if let Some(cached) = cached
            && let Ok(mut record) = serde_json::from_str::<Record>(&cached.record_json)
        {
            let (text, bytes) = crate::record::path_fields(&c.path);
            record.path = text;
            record.path_bytes = bytes;
            record.cached = true;
            let algos = &self.options.hashes;
            if cached.hashes.covers(algos) {
                record.hashes = (!algos.is_empty()).then(|| select(&cached.hashes, algos));
                return (record, None, None);
            }
            // Known file, new hashes asked for: hash it, no need to parse it again.
            let missing: Vec<HashAlgo> = algos
                .iter()
                .copied()
                .filter(|a| cached.hashes.get(*a).is_none())
                .collect();
            match hash_listed(c, &missing, &self.options.hash_options) {
                Ok(new) => {
                    let merged = merge(&cached.hashes, &new);
                    record.hashes = Some(select(&merged, algos));
                    let entry = abs.map(|path| Entry {
                        path,
                        key,
                        format: cached.format.clone(),
                        key_sig: cached.key_sig.clone(),
                        shape_sig: cached.shape_sig.clone(),
                        precision: cached.precision.clone(),
                        mir: cached.mir.clone(),
                        record_json: cached.record_json.clone(),
                        hashes: new,
                    });
                    return (record, None, entry);
                }
                Err(e) => {
                    record.error = Some(format!("hashing: {e}"));
                    return (record, None, None);
                }
            }
        }
        let (record, index, precision) = self.read_one(c, in_group, configs);
        let entry = match (&abs, &record.error, self.index.is_some()) {
            (Some(path), None, true) => {
                let mut stored = record.clone();
                let hashes = stored.hashes.take().unwrap_or_default();
                serde_json::to_string(&stored)
                    .ok()
                    .map(|record_json| Entry {
                        path: path.clone(),
                        key,
                        format: record.format.clone(),
                        key_sig: record.fingerprint.as_ref().map(|f| f.key_sig.clone()),
                        shape_sig: record.fingerprint.as_ref().map(|f| f.shape_sig.clone()),
                        precision,
                        mir: record.mir.clone(),
                        record_json,
                        hashes,
                    })
            }
            _ => None,
        };
        (record, index, entry)
    }

    /// Parses, hashes (when asked) and identifies one file. Returns the record, the index when
    /// `keep_index`, and the dominant dtype's name (for the index's precision column).
    fn read_one(
        &self,
        c: &Candidate,
        keep_index: bool,
        configs: &ConfigCache,
    ) -> (Record, Option<TensorIndex>, Option<String>) {
        let mut record = Record::for_path(&c.path, c.size);
        let index = match open_listed(c).and_then(|src| {
            record.size = src.len();
            let head = src.head(FormatRegistry::SNIFF_BYTES)?;
            let ext = src.extension();
            match self.registry.detect(&head, src.len(), ext.as_deref()) {
                Some((format, _)) => {
                    record.format = Some(format.name().to_owned());
                    format.parse(&src, &self.options.limits).map(Some)
                }
                None => Ok(None),
            }
        }) {
            Ok(Some(index)) => Some(index),
            Ok(None) => {
                record
                    .evidence
                    .push("no known format recognised the file's first bytes".to_owned());
                None
            }
            Err(e) => {
                record.error = Some(e.to_string());
                // Findings made before the error (a payload before the damage) stay in the record.
                record.findings = error_findings(&e);
                return (record, None, None);
            }
        };
        if !self.options.hashes.is_empty() {
            match hash_listed(c, &self.options.hashes, &self.options.hash_options) {
                Ok(h) => record.hashes = Some(h),
                Err(e) => {
                    record.error = Some(format!("hashing: {e}"));
                    return (record, None, None);
                }
            }
        }
        let Some(index) = index else {
            return (record, None, None);
        };
        let sigs = Signatures::of(&index);
        record.tensors = Some(index.tensors.len());
        record.fingerprint = Some(FingerprintRecord::from(&sigs));
        record.findings = finding_strings(&index.findings);
        let model_type = configs.model_type(&c.path);
        let file_256 = record
            .hashes
            .as_ref()
            .and_then(|h| h.sha256.clone().or_else(|| h.file_256.clone()));
        let ctx = Context {
            file_name: c.path.file_name().and_then(|n| n.to_str()),
            config_model_type: model_type.as_deref(),
            layer_256: sigs.layer_256.as_deref(),
            layer_b3: sigs.layer_b3.as_deref(),
            file_256: file_256.as_deref(),
        };
        self.identifier.identify(&index, &ctx, &mut record);
        let precision = index.dominant_dtype().map(|d| d.name().to_owned());
        (record, keep_index.then_some(index), precision)
    }

    fn identify_groups(
        &self,
        groups: &[shards::ShardGroup],
        member_of: &shards::Membership,
        files: &[Candidate],
        records: &mut [Record],
        kept: &HashMap<PathBuf, TensorIndex>,
        configs: &ConfigCache,
    ) {
        for (n, group) in groups.iter().enumerate() {
            let mut merged = TensorIndex::new("");
            for m in &group.members {
                if let Some(i) = kept.get(m) {
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
            let mut model = Record::default();
            if readable {
                let model_type = configs.model_type(&group.model);
                // The model's name: the index file's name without `.index.json`.
                let name = group
                    .model
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(|n| n.trim_end_matches(".index.json"));
                let ctx = Context {
                    file_name: name,
                    config_model_type: model_type.as_deref(),
                    ..Context::default()
                };
                self.identifier.identify(&merged, &ctx, &mut model);
                model.evidence.push(format!(
                    "identified as one model across {} shards",
                    group.members.len()
                ));
            }
            for (record, c) in records.iter_mut().zip(files) {
                let Some(&(g, part)) = member_of.get(&c.path) else {
                    continue;
                };
                if g != n {
                    continue;
                }
                record.shard = Some(ShardRecord {
                    model: crate::record::path_fields(&group.model).0,
                    part,
                    total: group.total,
                    model_key_sig: sigs.as_ref().map(Signatures::key_sig_hex),
                    model_shape_sig: sigs.as_ref().map(Signatures::shape_sig_hex),
                });
                if record.error.is_none() && readable {
                    record.mir = model.mir.clone();
                    record.candidates = model.candidates.clone();
                    record.components = model.components.clone();
                    record.evidence = model.evidence.clone();
                    record.confidence = model.confidence;
                    record.decided_by = model.decided_by.clone();
                    record.database = model.database.clone();
                    record.coverage = model.coverage.clone();
                    record.prediction = model.prediction.clone();
                }
            }
        }
    }
}

/// The identity the walk accepted for `c`, when the platform has one.
fn listed_id(c: &Candidate) -> Option<mir_core::FileId> {
    (c.dev_ino != (0, 0)).then_some(mir_core::FileId {
        dev: c.dev_ino.0,
        ino: c.dev_ino.1,
    })
}

/// Opens the file the walk listed, refusing (on the open handle) a FIFO or device, and a file
/// that is not the one the walk accepted (a symlink retargeted outside the roots since).
fn open_listed(c: &Candidate) -> Result<Source, mir_core::Error> {
    match listed_id(c) {
        Some(id) => Source::open_expecting(&c.path, id),
        None => Source::open(&c.path),
    }
}

/// Hashes the file the walk listed, with the same identity check as [`open_listed`].
fn hash_listed(
    c: &Candidate,
    algos: &[HashAlgo],
    opts: &HashOptions,
) -> Result<FileHashes, mir_hash::HashError> {
    mir_hash::hash_file_checked(&c.path, listed_id(c), algos, opts).map(|(h, _)| h)
}

/// The hashes of `from` that `algos` asks for (SHA-256 also fills AutoV2 and file_256).
fn select(from: &FileHashes, algos: &[HashAlgo]) -> FileHashes {
    let mut out = FileHashes::default();
    for a in algos {
        let v = from.get(*a).map(str::to_owned);
        match a {
            HashAlgo::Sha256 => out.sha256 = v,
            HashAlgo::AutoV1 => out.autov1 = v,
            HashAlgo::AutoV2 => out.autov2 = v,
            HashAlgo::AutoV3 => {
                out.autov3 = v;
                out.autov3_unavailable = from.autov3_unavailable.clone();
            }
            HashAlgo::Blake3 => out.blake3 = v,
            HashAlgo::Crc32 => out.crc32 = v,
            HashAlgo::File256 => out.file_256 = v,
            // A hash added to mir-hash later is still selected through the full set.
            _ => return from.clone(),
        }
    }
    out
}

/// `old` with every hash `new` has.
fn merge(old: &FileHashes, new: &FileHashes) -> FileHashes {
    let pick = |a: &Option<String>, b: &Option<String>| b.clone().or_else(|| a.clone());
    FileHashes {
        sha256: pick(&old.sha256, &new.sha256),
        autov1: pick(&old.autov1, &new.autov1),
        autov2: pick(&old.autov2, &new.autov2),
        autov3: pick(&old.autov3, &new.autov3),
        blake3: pick(&old.blake3, &new.blake3),
        crc32: pick(&old.crc32, &new.crc32),
        file_256: pick(&old.file_256, &new.file_256),
        autov3_unavailable: pick(&old.autov3_unavailable, &new.autov3_unavailable),
    }
}

/// `model_type` of `config.json` beside a file, read once per folder.
#[derive(Default)]
struct ConfigCache {
    by_dir: Mutex<HashMap<PathBuf, Option<String>>>,
}

impl ConfigCache {
    const MAX_CONFIG_BYTES: u64 = 4 << 20;

    fn model_type(&self, file: &Path) -> Option<String> {
        let dir = file.parent()?.to_path_buf();
        if let Some(v) = self
            .by_dir
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&dir)
        {
            return v.clone();
        }
        let v = read_model_type(&dir.join("config.json"));
        self.by_dir
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(dir, v.clone());
        v
    }
}

fn read_model_type(path: &Path) -> Option<String> {
    // Opened like a weight file: a FIFO named config.json never blocks the scan.
    let src = Source::open(path).ok()?;
    let bytes = src
        .read_vec(0, src.len(), "config.json", ConfigCache::MAX_CONFIG_BYTES)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("model_type")?.as_str().map(str::to_owned)
}

/// Reads one file's header with the given formats: its index and fingerprints (for
/// `mir inspect`).
pub fn inspect(
    path: &Path,
    registry: &FormatRegistry,
    limits: &Limits,
) -> Result<(TensorIndex, Signatures), mir_core::Error> {
    let src = Source::open(path)?;
    let index = registry.parse(&src, limits)?;
    let sigs = Signatures::of(&index);
    Ok((index, sigs))
}

/// The findings a parse made before it failed (a payload before the damage), as record strings;
/// empty for errors that carry none.
pub fn error_findings(e: &mir_core::Error) -> Vec<String> {
    finding_strings(mir_ckpt::findings_of(e))
}

/// Findings as record strings: prefixed by severity when not informational.
fn finding_strings(findings: &[mir_core::Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| match f.severity {
            Severity::Info => f.message.clone(),
            s => format!("{}: {}", s.as_str(), f.message),
        })
        .collect()
}
