//! The one analysis function: a file's facts (from the index or read) and their
//! identification. `mir scan`, `mir inspect`, `mir hash`, `mir dupes` and the library all come
//! through [`Analyser::analyse`].

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use mir_classify::Classification;
use mir_core::signature::Signatures;
use mir_core::{FileId, FormatRegistry, Limits, Source};
use mir_hash::{FileHashes, HashAlgo, HashOptions};

use crate::facts::Facts;
use crate::identify::{Context, Identifier};
use crate::report::{FileError, FileReport, Finding};

/// Counts of what the analysis did to the file system: how many weight files it opened and how
/// many it hashed. A rescan served from the index opens none.
#[derive(Debug, Default)]
pub struct IoStats {
    opened: AtomicU64,
    hashed: AtomicU64,
}

impl IoStats {
    /// Weight files opened to read a header.
    pub fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// Weight files read whole to hash them.
    pub fn hashed(&self) -> u64 {
        self.hashed.load(Ordering::Relaxed)
    }
}

/// What to establish about a file.
#[derive(Clone, Copy, Debug)]
pub struct Want<'a> {
    /// Read and identify the header (off for `mir hash`, which only hashes).
    pub header: bool,
    /// Whole-file hashes to have (computed only when the facts lack them).
    pub hashes: &'a [HashAlgo],
}

/// Reads files into facts and identifies them: the formats, the rules, the limits.
#[derive(Debug)]
pub struct Analyser {
    pub(crate) registry: FormatRegistry,
    pub(crate) identifier: Identifier,
    pub(crate) limits: Limits,
    pub(crate) hash_options: HashOptions,
    pub(crate) stats: IoStats,
}

impl Analyser {
    /// An analyser over these formats and rules.
    pub fn new(
        registry: FormatRegistry,
        identifier: Identifier,
        limits: Limits,
        hash_options: HashOptions,
    ) -> Analyser {
        Analyser {
            registry,
            identifier,
            limits,
            hash_options,
            stats: IoStats::default(),
        }
    }

    /// The formats.
    pub fn registry(&self) -> &FormatRegistry {
        &self.registry
    }

    /// The rules and database.
    pub fn identifier(&self) -> &Identifier {
        &self.identifier
    }

    /// What the analysis did to the file system so far.
    pub fn stats(&self) -> &IoStats {
        &self.stats
    }

    /// The source layer: every weight file the analysis reads is opened here (and counted). With
    /// `expect`, the open handle must be that (device, inode) (the file the walk accepted); a FIFO
    /// or device is refused on the handle either way.
    fn open(&self, path: &Path, expect: Option<FileId>) -> Result<Source, mir_core::Error> {
        self.stats.opened.fetch_add(1, Ordering::Relaxed);
        match expect {
            Some(id) => Source::open_expecting(path, id),
            None => Source::open(path),
        }
    }

    fn hash(
        &self,
        path: &Path,
        expect: Option<FileId>,
        algos: &[HashAlgo],
    ) -> Result<FileHashes, FileError> {
        self.stats.hashed.fetch_add(1, Ordering::Relaxed);
        mir_hash::hash_file_checked(path, expect, algos, &self.hash_options)
            .map(|(h, _)| h)
            .map_err(|e| FileError::hashing(&e))
    }

    /// Reads the header of `path` into facts (format, index, fingerprints); with `expect`, only
    /// if the opened file is that (device, inode). On an error, the facts still hold what was
    /// learnt before it (the size, the format that claimed the file), and the findings the
    /// parser made before it failed (a pickle payload before the damage).
    pub fn read_facts(
        &self,
        path: &Path,
        expect: Option<FileId>,
    ) -> Result<Facts, Box<ReadFailure>> {
        let src = self.open(path, expect).map_err(|e| {
            Box::new(ReadFailure {
                error: FileError::from_core(&e),
                facts: Facts::default(),
                findings: Vec::new(),
            })
        })?;
        let mut facts = Facts {
            size: src.len(),
            ..Facts::default()
        };
        let parsed = (|| {
            let head = src.head(FormatRegistry::SNIFF_BYTES)?;
            let ext = src.extension();
            match self.registry.detect(&head, src.len(), ext.as_deref()) {
                Some((format, _)) => {
                    facts.format = Some(format.name().to_owned());
                    format
                        .parse(&src, &self.limits)
                        .map(Some)
                        .map_err(|e| crate::explain::explain(format.name(), &head, e))
                }
                None => {
                    facts.foreign = crate::explain::foreign_content(&head);
                    Ok(None)
                }
            }
        })();
        match parsed {
            Ok(Some(mut index)) => {
                facts.signatures = Some(Signatures::of(&index));
                facts.about = Some(mir_about::describe_index(&index));
                // The layer string is as long as the header; its hashes are kept instead.
                index.mir_layer_string = None;
                index.mir_layer_hashes = None;
                facts.index = Some(index);
                Ok(facts)
            }
            Ok(None) => Ok(facts),
            Err(e) => Err(Box::new(ReadFailure {
                error: FileError::from_core(&e),
                findings: findings_before(&e),
                facts,
            })),
        }
    }

    /// The one analysis function. `cached` are facts the index holds for this version of the
    /// file (then the header is not read again, and only hashes the facts lack are computed).
    /// Returns the report and whether the facts are new (to be stored).
    #[allow(clippy::too_many_arguments)]
    pub fn analyse(
        &self,
        path: &Path,
        size: u64,
        expect: Option<FileId>,
        cached: Option<Facts>,
        known_hashes: Option<&FileHashes>,
        want: Want<'_>,
        configs: &ConfigCache,
    ) -> (FileReport, bool) {
        let mut report = FileReport {
            path: path.to_path_buf(),
            size,
            ..FileReport::default()
        };
        let from_cache = cached.is_some();
        let mut changed = false;
        let mut facts = match cached {
            Some(f) => f,
            None if want.header => match self.read_facts(path, expect) {
                Ok(f) => {
                    changed = true;
                    f
                }
                Err(failed) => {
                    let ReadFailure {
                        error,
                        facts: partial,
                        findings,
                    } = *failed;
                    report.error = Some(error);
                    report.findings = findings;
                    if partial.format.is_some() {
                        report.size = partial.size;
                        report.facts = Some(partial);
                    }
                    return (report, false);
                }
            },
            None => Facts {
                size,
                ..Facts::default()
            },
        };
        if let Some(h) = known_hashes {
            facts.hashes = merge(h, &facts.hashes);
        }
        report.cached = from_cache;
        let missing: Vec<HashAlgo> = want
            .hashes
            .iter()
            .copied()
            .filter(|a| facts.hashes.get(*a).is_none())
            .collect();
        if !missing.is_empty() {
            match self.hash(path, expect, &missing) {
                Ok(new) => {
                    facts.hashes = merge(&facts.hashes, &new);
                    changed = true;
                }
                Err(e) => {
                    report.error = Some(e);
                    report.size = facts.size;
                    report.facts = Some(facts);
                    return (report, false);
                }
            }
        }
        if !want.hashes.is_empty() {
            report.hashes = Some(select(&facts.hashes, want.hashes));
        }
        report.size = facts.size;
        if let Some(index) = &facts.index {
            report.tensors = Some(index.tensors.len());
            report.findings = index.findings.iter().map(Finding::from_core).collect();
            let c = self.identify(path, index, facts.signatures.as_ref(), &report, configs);
            report.identification = Some(c);
        }
        if want.header {
            let d = crate::describe::describe(path, &facts, &configs.side);
            report.findings.extend(crate::describe::findings_of(&d));
            report.described = Some(d);
        }
        report.facts = Some(facts);
        (report, changed)
    }

    /// Identifies a file from its facts and its folder's `config.json`.
    fn identify(
        &self,
        path: &Path,
        index: &mir_core::TensorIndex,
        sigs: Option<&Signatures>,
        report: &FileReport,
        configs: &ConfigCache,
    ) -> Classification {
        let model_type = configs.model_type(path);
        let adapter_base = configs.adapter_base(path);
        let file_256 = report
            .hashes
            .as_ref()
            .and_then(|h| h.sha256.clone().or_else(|| h.file_256.clone()));
        let ctx = Context {
            file_name: path.file_name().and_then(|n| n.to_str()),
            config_model_type: model_type.as_deref(),
            adapter_base: adapter_base.as_deref(),
            layer_256: sigs.and_then(|s| s.layer_256.as_deref()),
            layer_b3: sigs.and_then(|s| s.layer_b3.as_deref()),
            file_256: file_256.as_deref(),
        };
        self.identifier.classify(index, &ctx)
    }

    /// Analyses one path without an index: what `mir inspect` and [`crate::Scanner::scan_file`]
    /// use, so a file reads the same alone as in a scan.
    pub fn analyse_path(&self, path: &Path, hashes: &[HashAlgo]) -> FileReport {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        self.analyse(
            path,
            size,
            None,
            None,
            None,
            Want {
                header: true,
                hashes,
            },
            &ConfigCache::default(),
        )
        .0
    }
}

/// The hashes of `from` that `algos` asks for (SHA-256 also fills AutoV2 and file_256).
pub(crate) fn select(from: &FileHashes, algos: &[HashAlgo]) -> FileHashes {
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
pub(crate) fn merge(old: &FileHashes, new: &FileHashes) -> FileHashes {
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

/// The configs beside a file (`config.json`, `adapter_config.json`) and its sidecars, read once
/// per folder.
#[derive(Debug, Default)]
pub struct ConfigCache {
    /// Side files (sidecars, configs) per folder; the configs are read once per folder and
    /// serve both the classifier (`model_type`, `adapter_base`) and the record's `about`.
    pub(crate) side: crate::describe::SideCache,
}

impl ConfigCache {
    /// A cache that knows a walk's folders and side files (sidecars are then found without
    /// listing any folder again).
    pub fn from_listing(listing: &crate::walk::Listing) -> ConfigCache {
        ConfigCache {
            side: crate::describe::SideCache::from_listing(&listing.folders, &listing.side_files),
        }
    }

    /// `model_type` of the `config.json` in `file`'s folder (or of `file` itself when it is a
    /// folder's path standing for a model).
    pub fn model_type(&self, file: &Path) -> Option<String> {
        self.side.folder_configs(file.parent()?)?.model_type.clone()
    }

    /// The base model the `adapter_config.json` in `file`'s folder names: PEFT's
    /// `base_model_name_or_path`, else mlx-lm's `model`. A missing, unreadable or malformed file
    /// is `None` (it never fails a scan).
    pub fn adapter_base(&self, file: &Path) -> Option<String> {
        self.side
            .folder_configs(file.parent()?)?
            .adapter_base
            .clone()
    }
}

/// Why reading a header failed, with what was learnt before the failure.
#[derive(Debug)]
pub struct ReadFailure {
    /// The error.
    pub error: FileError,
    /// What was learnt before it (the size, the format that claimed the file).
    pub facts: Facts,
    /// Findings the parser made before it failed (a pickle payload before the damage).
    pub findings: Vec<Finding>,
}

/// The findings a parse made before it failed; empty for errors that carry none.
fn findings_before(e: &mir_core::Error) -> Vec<Finding> {
    #[cfg(feature = "ckpt")]
    {
        mir_ckpt::findings_of(e)
            .iter()
            .map(Finding::from_core)
            .collect()
    }
    #[cfg(not(feature = "ckpt"))]
    {
        let _ = e;
        Vec::new()
    }
}
