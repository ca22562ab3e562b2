//! Listing the weight files under a set of roots.
//!
//! The walk is parallel (`ignore`'s walker, with every filter off so hidden folders such as
//! `~/.cache/huggingface` are seen), follows symlinks only when their target stays inside one of
//! the roots, survives symlink loops and unreadable folders (reported, not fatal), and keeps one
//! path per file: hard links and symlinked Hugging Face cache blobs share a device and inode, and
//! the path with a weight-file extension (or else the first in byte order) stands for them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

/// A weight file the walk found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The path that stands for the file.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Device and inode (0, 0 where the platform has none).
    pub dev_ino: (u64, u64),
    /// Modification time in nanoseconds since the epoch (0 when unknown).
    pub mtime_ns: i64,
    /// Change time (inode status change) in nanoseconds since the epoch where the platform has
    /// one (Unix `st_ctime`), else the creation time, else 0. Writing a file and putting its
    /// mtime back still moves its ctime.
    pub ctime_ns: i64,
    /// Other paths to the same file (hard links, symlinks), in byte order.
    pub aliases: Vec<PathBuf>,
}

/// A folder or entry the walk could not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkError {
    /// The path concerned, when known.
    pub path: Option<PathBuf>,
    /// What went wrong.
    pub message: String,
    /// True for a symlink loop (harmless: the loop is simply not followed).
    pub is_loop: bool,
}

/// Which files the walk keeps.
#[derive(Clone, Debug)]
pub struct Selection {
    /// Lowercase extensions of weight files (from the format registry).
    pub extensions: Vec<String>,
    /// Also keep extensionless files named like content hashes (HF blobs, Ollama `sha256-…`).
    pub hash_named: bool,
    /// Follow symlinks whose target is outside the roots too (`mir scan --follow-symlinks`).
    /// When false they are listed in [`Listing::outside_symlinks`] and not followed.
    pub follow_outside: bool,
}

impl Selection {
    fn wants(&self, path: &Path) -> bool {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if !looks_like_hash(name) => {
                let ext = ext.to_ascii_lowercase();
                self.extensions.contains(&ext)
            }
            _ => self.hash_named && looks_like_hash(name),
        }
    }

    fn has_extension(&self, path: &Path) -> bool {
        path.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| self.extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
    }
}

/// True for names such as `3f2a…` (≥ 32 hex digits) or `sha256-3f2a…`, `sha256:3f2a…`.
fn looks_like_hash(name: &str) -> bool {
    let hex = name
        .strip_prefix("sha256-")
        .or_else(|| name.strip_prefix("sha256:"))
        .unwrap_or(name);
    hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Side files the scanner wants to know about besides weight files.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// The weight files, sorted by path.
    pub files: Vec<Candidate>,
    /// `*.safetensors.index.json` shard indexes found, one per (device, inode), sorted.
    pub shard_indexes: Vec<PathBuf>,
    /// `model_index.json` files (diffusers folders) found, sorted.
    pub model_indexes: Vec<PathBuf>,
    /// Folders and entries that could not be read.
    pub errors: Vec<WalkError>,
    /// Symlinks (to folders, or to files the selection wants) whose target leaves the roots and
    /// which were therefore not followed, sorted.
    pub outside_symlinks: Vec<PathBuf>,
    /// Files beside the weight files that may be sidecars or folder configs (`*.info`, `*.json`,
    /// preview images; see `mir_about::sidecar`), so sidecars are found from this listing and
    /// never by probing names. Unsorted.
    pub side_files: Vec<PathBuf>,
    /// Every folder the walk listed (so a folder without side files is known to have none).
    /// Unsorted.
    pub folders: Vec<PathBuf>,
}

/// Walks `roots` with `threads` threads (0 = automatic) and lists the selected files.
pub fn collect(roots: &[PathBuf], selection: &Selection, threads: usize) -> Listing {
    let mut listing = Listing::default();
    let mut walk_roots = Vec::new();
    let mut canonical_roots = Vec::new();
    for root in roots {
        match root.canonicalize() {
            Ok(c) => {
                canonical_roots.push(c);
                walk_roots.push(root.clone());
            }
            Err(e) => listing.errors.push(WalkError {
                path: Some(root.clone()),
                message: e.to_string(),
                is_loop: false,
            }),
        }
    }
    let Some((first, rest)) = walk_roots.split_first() else {
        return listing;
    };

    let mut builder = WalkBuilder::new(first);
    for r in rest {
        builder.add(r);
    }
    let inside = canonical_roots.clone();
    let outside: std::sync::Arc<Mutex<Vec<PathBuf>>> = std::sync::Arc::default();
    let outside_seen = std::sync::Arc::clone(&outside);
    let follow_outside = selection.follow_outside;
    let wanted = selection.clone();
    builder
        .standard_filters(false)
        .hidden(false)
        .follow_links(true)
        .threads(threads)
        .filter_entry(move |entry| {
            // A symlink is followed only when its target stays under one of the roots (or with
            // `follow_outside`); one that leaves them is reported, never skipped silently.
            if !entry.path_is_symlink() {
                return true;
            }
            match entry.path().canonicalize() {
                Ok(target) if inside.iter().any(|r| target.starts_with(r)) => true,
                Ok(target) => {
                    if !follow_outside && (target.is_dir() || wanted.wants(entry.path())) {
                        lock(&outside_seen).push(entry.path().to_path_buf());
                    }
                    follow_outside
                }
                Err(_) => false,
            }
        });

    let found: Mutex<Vec<(PathBuf, std::fs::Metadata)>> = Mutex::new(Vec::new());
    type DevIno = Option<(u64, u64)>;
    let indexes: Mutex<Vec<(PathBuf, DevIno)>> = Mutex::new(Vec::new());
    let model_indexes: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<WalkError>> = Mutex::new(Vec::new());
    let side_files: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let folders: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let visit = |result: Result<ignore::DirEntry, ignore::Error>| match result {
        Ok(entry) => {
            let is_file = entry.file_type().is_some_and(|t| t.is_file());
            if is_file {
                let path = entry.path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.ends_with(".safetensors.index.json") {
                    let id = entry.metadata().ok().as_ref().and_then(dev_ino);
                    lock(&indexes).push((path.to_path_buf(), id));
                } else if name == "model_index.json" {
                    lock(&model_indexes).push(path.to_path_buf());
                } else if selection.wants(path) {
                    match entry.metadata() {
                        Ok(m) => lock(&found).push((path.to_path_buf(), m)),
                        Err(e) => lock(&errors).push(walk_error(e)),
                    }
                } else if mir_about::sidecar::is_side_file_name(name) {
                    lock(&side_files).push(path.to_path_buf());
                }
            } else if entry.file_type().is_some_and(|t| t.is_dir()) {
                lock(&folders).push(entry.path().to_path_buf());
            }
        }
        Err(e) => lock(&errors).push(walk_error(e)),
    };
    // Files named on the command line need no walk: the parallel walker's threads would only
    // start, find nothing to share, and sleep in 1 ms steps before they quit (measured: a
    // one-file scan waited ~7 ms for them). Folders are walked in parallel.
    if canonical_roots.iter().all(|r| r.is_file()) {
        builder.build().for_each(visit);
    } else {
        builder.build_parallel().run(|| {
            Box::new(|result| {
                visit(result);
                WalkState::Continue
            })
        });
    }

    listing.files = dedupe(found.into_inner().unwrap_or_default(), selection);
    // One index per (device, inode): a hard-linked or symlinked copy is read once.
    let mut found_indexes = indexes.into_inner().unwrap_or_default();
    found_indexes.sort();
    let mut seen_inodes = std::collections::HashSet::new();
    listing.shard_indexes = found_indexes
        .into_iter()
        .filter(|(_, id)| id.is_none_or(|id| seen_inodes.insert(id)))
        .map(|(p, _)| p)
        .collect();
    listing.model_indexes = model_indexes.into_inner().unwrap_or_default();
    listing.model_indexes.sort();
    listing
        .errors
        .extend(errors.into_inner().unwrap_or_default());
    listing.errors.sort_by(|a, b| a.path.cmp(&b.path));
    let mut outside = std::mem::take(&mut *lock(&outside));
    outside.sort();
    outside.dedup();
    listing.outside_symlinks = outside;
    listing.side_files = side_files.into_inner().unwrap_or_default();
    listing.folders = folders.into_inner().unwrap_or_default();
    listing
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn walk_error(e: ignore::Error) -> WalkError {
    fn parts(e: &ignore::Error) -> (Option<PathBuf>, bool) {
        match e {
            ignore::Error::WithPath { path, err } => {
                let (p, l) = parts(err);
                (p.or_else(|| Some(path.clone())), l)
            }
            ignore::Error::Loop { child, .. } => (Some(child.clone()), true),
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                parts(err)
            }
            _ => (None, false),
        }
    }
    let (path, is_loop) = parts(&e);
    WalkError {
        path,
        message: e.to_string(),
        is_loop,
    }
}

/// One candidate per (device, inode): the path with a weight-file extension wins, then the
/// first in byte order; the others become aliases.
fn dedupe(found: Vec<(PathBuf, std::fs::Metadata)>, selection: &Selection) -> Vec<Candidate> {
    let mut by_inode: HashMap<(u64, u64), Vec<(PathBuf, std::fs::Metadata)>> = HashMap::new();
    let mut no_inode = Vec::new();
    for (path, meta) in found {
        match dev_ino(&meta) {
            Some(key) => by_inode.entry(key).or_default().push((path, meta)),
            None => no_inode.push((path, meta)),
        }
    }
    let mut out: Vec<Candidate> = Vec::with_capacity(by_inode.len() + no_inode.len());
    for (key, mut paths) in by_inode {
        paths.sort_by(|a, b| {
            let ka = !selection.has_extension(&a.0);
            let kb = !selection.has_extension(&b.0);
            ka.cmp(&kb).then_with(|| a.0.cmp(&b.0))
        });
        let mut it = paths.into_iter();
        if let Some((path, meta)) = it.next() {
            let mut aliases: Vec<PathBuf> = it.map(|(p, _)| p).collect();
            aliases.sort();
            aliases.dedup();
            aliases.retain(|a| *a != path);
            out.push(candidate(path, &meta, key, aliases));
        }
    }
    for (path, meta) in no_inode {
        out.push(candidate(path, &meta, (0, 0), Vec::new()));
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn candidate(
    path: PathBuf,
    meta: &std::fs::Metadata,
    dev_ino: (u64, u64),
    aliases: Vec<PathBuf>,
) -> Candidate {
    Candidate {
        path,
        size: meta.len(),
        dev_ino,
        mtime_ns: mtime_ns(meta),
        ctime_ns: ctime_ns(meta),
        aliases,
    }
}

/// Modification time in nanoseconds since the epoch, 0 when unknown.
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

/// Change time in nanoseconds (Unix `st_ctime`); elsewhere the creation time; 0 when unknown.
pub fn ctime_ns(meta: &std::fs::Metadata) -> i64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.ctime()
            .saturating_mul(1_000_000_000)
            .saturating_add(meta.ctime_nsec())
    }
    #[cfg(not(unix))]
    {
        meta.created()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_nanos()).ok())
            .unwrap_or(0)
    }
}

#[cfg(unix)]
fn dev_ino(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn dev_ino(_meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel() -> Selection {
        Selection {
            extensions: vec!["safetensors".into(), "gguf".into()],
            hash_named: true,
            follow_outside: false,
        }
    }

    #[test]
    fn selects_by_extension_and_hash_names() {
        let s = sel();
        assert!(s.wants(Path::new("a/B.SafeTensors")));
        assert!(s.wants(Path::new(
            "blobs/3f2a8c9d0e1f3f2a8c9d0e1f3f2a8c9d0e1f3f2a8c9d0e1f3f2a8c9d0e1f1234"
        )));
        assert!(s.wants(Path::new("blobs/sha256-3f2a8c9d0e1f3f2a8c9d0e1f3f2a8c9d")));
        assert!(!s.wants(Path::new("README.md")));
        assert!(!s.wants(Path::new("LICENSE")));
        assert!(!s.wants(Path::new("preview.png")));
    }

    #[cfg(unix)]
    #[test]
    fn dedupes_hf_cache_symlinks_and_stays_inside_roots() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("hub/models--x");
        let blobs = root.join("blobs");
        let snap = root.join("snapshots/abc");
        std::fs::create_dir_all(&blobs).unwrap();
        std::fs::create_dir_all(&snap).unwrap();
        let blob = blobs.join("aa".repeat(32));
        std::fs::write(&blob, b"x").unwrap();
        std::os::unix::fs::symlink(&blob, snap.join("model.safetensors")).unwrap();
        std::fs::hard_link(&blob, root.join("copy.safetensors")).unwrap();
        // A link that leaves the root is not followed; a loop does not hang the walk.
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.safetensors"), b"y").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
        std::os::unix::fs::symlink(&root, snap.join("loop")).unwrap();

        let listing = collect(std::slice::from_ref(&root), &sel(), 2);
        let paths: Vec<&Path> = listing.files.iter().map(|c| c.path.as_path()).collect();
        assert_eq!(paths.len(), 1, "{paths:?}");
        assert_eq!(listing.files[0].aliases.len(), 2);
        assert!(paths[0].extension().is_some());
        assert!(!paths.iter().any(|p| p.ends_with("secret.safetensors")));
        assert!(
            listing.errors.iter().all(|e| e.is_loop),
            "{:?}",
            listing.errors
        );
        // The link that leaves the root is reported, not skipped silently.
        assert_eq!(listing.outside_symlinks, vec![root.join("escape")]);

        // Asked to, the walk follows it.
        let follow = Selection {
            follow_outside: true,
            ..sel()
        };
        let listing = collect(std::slice::from_ref(&root), &follow, 2);
        assert!(
            listing
                .files
                .iter()
                .any(|c| c.path.ends_with("escape/secret.safetensors")),
            "{:?}",
            listing.files
        );
        assert!(listing.outside_symlinks.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn shard_indexes_are_deduplicated_by_inode_and_diffusers_found() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("lib");
        std::fs::create_dir_all(root.join("sd/unet")).unwrap();
        let a = root.join("a.safetensors.index.json");
        std::fs::write(&a, b"{}").unwrap();
        std::fs::hard_link(&a, root.join("b.safetensors.index.json")).unwrap();
        std::fs::write(root.join("c.safetensors.index.json"), b"{}").unwrap();
        std::fs::write(root.join("sd/model_index.json"), b"{}").unwrap();
        let listing = collect(std::slice::from_ref(&root), &sel(), 2);
        assert_eq!(
            listing.shard_indexes,
            vec![a, root.join("c.safetensors.index.json")],
            "a hard-linked index is read once"
        );
        assert_eq!(
            listing.model_indexes,
            vec![root.join("sd/model_index.json")]
        );
    }
}
