//! The scan pipeline: walk, parse in parallel, group shards, identify, report.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mir_core::signature::Signatures;
use mir_core::{FormatRegistry, Limits, Severity, Source, TensorIndex};
use rayon::prelude::*;

use crate::identify::{Context, Identifier};
use crate::record::{FingerprintRecord, Record, ShardRecord, Summary};
use crate::shards;
use crate::walk::{self, Candidate, Selection, WalkError};

/// The formats built into `mir`.
pub fn default_registry() -> FormatRegistry {
    let mut r = FormatRegistry::new();
    r.register(Arc::new(mir_safetensors::SafetensorsFormat));
    r.register(Arc::new(mir_gguf::GgufFormat));
    r.register(Arc::new(mir_ckpt::CkptFormat));
    r
}

/// How a scan runs.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Worker threads for walking and parsing; 0 picks one per core.
    pub threads: usize,
    /// Bounds applied to every file.
    pub limits: Limits,
    /// Also look at extensionless files named like content hashes (HF blobs, Ollama blobs).
    pub hash_named_files: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: 0,
            limits: Limits::default(),
            hash_named_files: true,
        }
    }
}

/// Progress events, for a progress bar.
#[derive(Clone, Debug)]
pub enum Progress {
    /// The walk is over: this many files and bytes will be read.
    Found {
        /// Files to read.
        files: usize,
    },
    /// One more file was read.
    FileDone,
}

/// Everything a scan found.
#[derive(Debug, Default)]
pub struct ScanOutput {
    /// One record per weight file, sorted by path.
    pub records: Vec<Record>,
    /// Folders or entries that could not be walked (symlink loops included, flagged `is_loop`).
    pub walk_errors: Vec<WalkError>,
    /// Counts.
    pub summary: Summary,
}

/// Scans model libraries.
#[derive(Debug)]
pub struct Scanner {
    options: ScanOptions,
    registry: FormatRegistry,
    identifier: Identifier,
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
        options: ScanOptions,
        registry: FormatRegistry,
        identifier: Identifier,
    ) -> Scanner {
        Scanner {
            options,
            registry,
            identifier,
        }
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

        let configs = ConfigCache::default();
        let work = |c: &Candidate| {
            let keep_index = member_of.contains_key(&c.path);
            let out = self.read_one(c, keep_index, &configs);
            progress(Progress::FileDone);
            out
        };
        let results: Vec<(Record, Option<TensorIndex>)> =
            self.in_pool(|| listing.files.par_iter().map(work).collect());

        let mut records = Vec::with_capacity(results.len());
        let mut kept: HashMap<PathBuf, TensorIndex> = HashMap::new();
        for ((record, index), c) in results.into_iter().zip(&listing.files) {
            if let Some(i) = index {
                kept.insert(c.path.clone(), i);
            }
            records.push(record);
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
            summary,
        }
    }

    fn in_pool<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        if self.options.threads == 0 {
            return f();
        }
        match rayon::ThreadPoolBuilder::new()
            .num_threads(self.options.threads)
            .build()
        {
            Ok(pool) => pool.install(f),
            Err(_) => f(),
        }
    }

    /// Reads and identifies one file. Used by [`Scanner::scan`] for every candidate; also handy
    /// for a single path.
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

    fn read_one(
        &self,
        c: &Candidate,
        keep_index: bool,
        configs: &ConfigCache,
    ) -> (Record, Option<TensorIndex>) {
        let mut record = Record::for_path(&c.path, c.size);
        let index = match Source::open(&c.path).and_then(|src| {
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
            Ok(Some(index)) => index,
            Ok(None) => {
                record
                    .evidence
                    .push("no known format recognised the file's first bytes".to_owned());
                return (record, None);
            }
            Err(e) => {
                record.error = Some(e.to_string());
                return (record, None);
            }
        };
        let sigs = Signatures::of(&index);
        record.tensors = Some(index.tensors.len());
        record.fingerprint = Some(FingerprintRecord::from(&sigs));
        record.findings = index
            .findings
            .iter()
            .map(|f| match f.severity {
                Severity::Info => f.message.clone(),
                s => format!("{}: {}", s.as_str(), f.message),
            })
            .collect();
        let model_type = configs.model_type(&c.path);
        let ctx = Context {
            file_name: c.path.file_name().and_then(|n| n.to_str()),
            config_model_type: model_type.as_deref(),
            layer_256: sigs.layer_256.as_deref(),
            layer_b3: sigs.layer_b3.as_deref(),
            file_256: None,
        };
        self.identifier.identify(&index, &ctx, &mut record);
        (record, keep_index.then_some(index))
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
                }
            }
        }
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
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > ConfigCache::MAX_CONFIG_BYTES {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v.get("model_type")?.as_str().map(str::to_owned)
}

/// Reads one file's header with the built-in formats: its index and fingerprints (for
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
