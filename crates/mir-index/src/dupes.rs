//! Duplicate finding as a pure function over file facts, so it is tested without SQLite.
//!
//! * **Identical content**: files with the same SHA-256 or the same BLAKE3 (a file with both
//!   joins the groups of either). Paths that share a device and inode (hard links, or a symlinked
//!   Hugging Face snapshot and its blob) occupy the disk once, so a group wastes
//!   `size × (distinct inodes − 1)` bytes.
//! * **Same architecture, different precision or container**: files with the same `shape_sig`
//!   (same tensor names and shapes) whose (format, precision) differ, like the fp32 and fp16
//!   safetensors of one model or its GGUF quantisation. This is a *layout* match, not a proof of
//!   a copy: two different LoRAs or two finetunes share a layout. So nothing in such a group is
//!   offered as reclaimable unless its content is proven equal to another member's (same
//!   SHA-256 or BLAKE3), and files without tensors (vocabulary-only or metadata-only files, whose
//!   shape signature is that of an empty list) are never grouped by layout.
//!
//! Paths are reported losslessly: a path that is not UTF-8 is shown lossily and its raw bytes
//! are given in base64 beside it (`paths_bytes`, `path_bytes`, `smallest_bytes`), like
//! `mir scan`'s `path_bytes`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// What duplicate finding needs to know about one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DupeFile {
    /// The file's path.
    pub path: PathBuf,
    /// Device id (0 where unknown).
    pub dev: u64,
    /// Inode number (0 where unknown).
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Container format (`safetensors`, `gguf`, …).
    pub format: Option<String>,
    /// The scanner's precision summary (`F16`, `BF16`, `Q4_K`, …).
    pub precision: Option<String>,
    /// Shape signature (tensor names and shapes, no dtypes).
    pub shape_sig: Option<String>,
    /// Whole-file SHA-256, if computed.
    pub sha256: Option<String>,
    /// Whole-file BLAKE3, if computed.
    pub blake3: Option<String>,
    /// Tensors the file holds, when known. A file with none is never grouped by layout.
    pub tensors: Option<u64>,
}

impl DupeFile {
    /// The physical identity of the file: paths with the same one share their bytes on disk.
    fn inode(&self) -> Option<(u64, u64)> {
        (self.dev != 0 || self.ino != 0).then_some((self.dev, self.ino))
    }
}

/// Files with identical content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContentGroup {
    /// The group's SHA-256, when any member has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The group's BLAKE3, when any member has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    /// The size of each copy.
    pub size: u64,
    /// Every path, sorted (lossy UTF-8 in JSON; see `paths_bytes`).
    #[serde(serialize_with = "lossy_paths")]
    pub paths: Vec<PathBuf>,
    /// For each of `paths`, in order: the raw path bytes in base64 when the path is not valid
    /// UTF-8, else `null`.
    pub paths_bytes: Vec<Option<String>>,
    /// `size × (distinct inodes − 1)`: what deleting all copies but one would free.
    pub wasted_bytes: u64,
}

/// One file of a [`ShapeGroup`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShapeMember {
    /// The file's path (lossy UTF-8 in JSON; see `path_bytes`).
    #[serde(serialize_with = "lossy_path")]
    pub path: PathBuf,
    /// The raw path bytes in base64 when the path is not valid UTF-8, else `null`.
    pub path_bytes: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Container format.
    pub format: Option<String>,
    /// Precision summary.
    pub precision: Option<String>,
}

/// Files with the same tensor names and shapes in different precisions or containers: the same
/// architecture, not proven copies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShapeGroup {
    /// The shared shape signature.
    pub shape_sig: String,
    /// What the group is: always `"same_architecture"` (a layout match, not a duplicate).
    pub relation: &'static str,
    /// The members, smallest first.
    pub files: Vec<ShapeMember>,
    /// The smallest member's path (lossy UTF-8 in JSON; see `smallest_bytes`).
    #[serde(serialize_with = "lossy_path")]
    pub smallest: PathBuf,
    /// The raw bytes of `smallest` in base64 when it is not valid UTF-8, else `null`.
    pub smallest_bytes: Option<String>,
    /// Bytes on disk of all members (each inode counted once).
    pub total_bytes: u64,
    /// Bytes of members whose content is proven equal (same SHA-256 or BLAKE3) to another
    /// member's on another inode: the only part of a layout match that is safe to reclaim (those
    /// files are also in `identical`). A layout match alone reclaims nothing, so this is 0
    /// unless hashes prove copies.
    pub reclaimable_bytes: u64,
    /// True when hashes prove that at least two members hold different content.
    pub proven_different: bool,
}

/// The result of [`find_dupes`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DupeReport {
    /// Identical-content groups, most wasted bytes first.
    pub identical: Vec<ContentGroup>,
    /// Same-architecture groups (a layout match in another precision or container, not proven
    /// copies), largest first.
    pub same_shape: Vec<ShapeGroup>,
    /// Sum of `wasted_bytes` over `identical`.
    pub wasted_bytes: u64,
    /// Files that have neither SHA-256 nor BLAKE3, so their content was not compared.
    pub unhashed: usize,
}

/// Union-find over file indices, for files linked by either of two hashes.
struct Groups(Vec<usize>);

impl Groups {
    fn root(&mut self, mut i: usize) -> usize {
        while let Some(&p) = self.0.get(i) {
            if p == i {
                break;
            }
            i = p;
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        if let Some(slot) = self.0.get_mut(ra) {
            *slot = rb;
        }
    }
}

/// Groups `files` into identical-content and same-shape groups.
pub fn find_dupes(files: &[DupeFile]) -> DupeReport {
    let mut report = DupeReport {
        identical: content_groups(files),
        same_shape: shape_groups(files),
        ..DupeReport::default()
    };
    report.wasted_bytes = report.identical.iter().map(|g| g.wasted_bytes).sum();
    report.unhashed = files
        .iter()
        .filter(|f| f.sha256.is_none() && f.blake3.is_none())
        .count();
    report
}

fn content_groups(files: &[DupeFile]) -> Vec<ContentGroup> {
    let mut groups = Groups((0..files.len()).collect());
    let mut first_with: HashMap<(u8, &str), usize> = HashMap::new();
    for (i, f) in files.iter().enumerate() {
        let keys = [(b's', f.sha256.as_deref()), (b'b', f.blake3.as_deref())];
        for (kind, hash) in keys {
            if let Some(hash) = hash {
                match first_with.get(&(kind, hash)) {
                    Some(&j) => groups.union(i, j),
                    None => {
                        first_with.insert((kind, hash), i);
                    }
                }
            }
        }
    }
    let mut members: BTreeMap<usize, Vec<&DupeFile>> = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        if f.sha256.is_some() || f.blake3.is_some() {
            members.entry(groups.root(i)).or_default().push(f);
        }
    }
    let mut out: Vec<ContentGroup> = members
        .into_values()
        .filter(|m| m.len() > 1)
        .filter_map(|m| {
            let size = m.first()?.size;
            let wasted_bytes = size.saturating_mul(distinct_inodes(&m).saturating_sub(1));
            let mut paths: Vec<PathBuf> = m.iter().map(|f| f.path.clone()).collect();
            paths.sort();
            (wasted_bytes > 0).then(|| ContentGroup {
                sha256: m.iter().find_map(|f| f.sha256.clone()),
                blake3: m.iter().find_map(|f| f.blake3.clone()),
                size,
                paths_bytes: paths.iter().map(|p| path_text(p).1).collect(),
                paths,
                wasted_bytes,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.wasted_bytes
            .cmp(&a.wasted_bytes)
            .then(a.paths.cmp(&b.paths))
    });
    out
}

/// Distinct files on disk among `members`; files of unknown inode each count once.
fn distinct_inodes(members: &[&DupeFile]) -> u64 {
    let known: BTreeSet<(u64, u64)> = members.iter().filter_map(|f| f.inode()).collect();
    let unknown = members.iter().filter(|f| f.inode().is_none()).count();
    (known.len() + unknown) as u64
}

fn shape_groups(files: &[DupeFile]) -> Vec<ShapeGroup> {
    let mut by_shape: BTreeMap<&str, Vec<&DupeFile>> = BTreeMap::new();
    for f in files {
        // A file without tensors has the shape signature of an empty list: every such file
        // would "match" every other. It holds no weights, so it has no layout to compare.
        if f.tensors == Some(0) {
            continue;
        }
        if let Some(sig) = f.shape_sig.as_deref() {
            by_shape.entry(sig).or_default().push(f);
        }
    }
    let mut out: Vec<ShapeGroup> = by_shape
        .into_iter()
        .filter(|(_, m)| {
            let variants: BTreeSet<_> = m.iter().map(|f| (&f.format, &f.precision)).collect();
            variants.len() > 1
        })
        .filter_map(|(sig, mut m)| {
            m.sort_by(|a, b| a.size.cmp(&b.size).then(a.path.cmp(&b.path)));
            let smallest = m.first()?;
            let mut seen = BTreeSet::new();
            let total_bytes: u64 = m
                .iter()
                .filter(|f| f.inode().is_none_or(|i| seen.insert(i)))
                .map(|f| f.size)
                .sum();
            let (reclaimable_bytes, proven_different) = proven_copies(&m);
            let (_, smallest_bytes) = path_text(&smallest.path);
            Some(ShapeGroup {
                shape_sig: sig.to_owned(),
                relation: "same_architecture",
                smallest: smallest.path.clone(),
                smallest_bytes,
                reclaimable_bytes,
                proven_different,
                total_bytes,
                files: m
                    .iter()
                    .map(|f| ShapeMember {
                        path: f.path.clone(),
                        path_bytes: path_text(&f.path).1,
                        size: f.size,
                        format: f.format.clone(),
                        precision: f.precision.clone(),
                    })
                    .collect(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.total_bytes
            .cmp(&a.total_bytes)
            .then(a.shape_sig.cmp(&b.shape_sig))
    });
    out
}

/// Among `members`: the bytes of those proven (by an equal hash) to be copies of another member
/// on another inode, and whether hashes prove two members different.
fn proven_copies(members: &[&DupeFile]) -> (u64, bool) {
    let content: Vec<&DupeFile> = members
        .iter()
        .copied()
        .filter(|f| f.sha256.is_some() || f.blake3.is_some())
        .collect();
    let groups = content_groups(&content.iter().map(|f| (*f).clone()).collect::<Vec<_>>());
    let reclaimable = groups.iter().map(|g| g.wasted_bytes).sum();
    // Two hashed members that share neither hash differ. Members in one content group agree.
    let mut distinct = false;
    for (i, a) in content.iter().enumerate() {
        for b in content.iter().skip(i + 1) {
            let differ = |x: &Option<String>, y: &Option<String>| match (x, y) {
                (Some(x), Some(y)) => x != y,
                _ => false,
            };
            if differ(&a.sha256, &b.sha256) || differ(&a.blake3, &b.blake3) {
                distinct = true;
            }
        }
    }
    (reclaimable, distinct)
}

/// A path as text (lossy when it is not UTF-8) and, then, its raw bytes in base64.
pub fn path_text(path: &Path) -> (String, Option<String>) {
    match path.to_str() {
        Some(s) => (s.to_owned(), None),
        None => (path.to_string_lossy().into_owned(), Some(raw_base64(path))),
    }
}

#[cfg(unix)]
fn raw_base64(path: &Path) -> String {
    use base64::Engine as _;
    use std::os::unix::ffi::OsStrExt;
    base64::engine::general_purpose::STANDARD.encode(path.as_os_str().as_bytes())
}

#[cfg(not(unix))]
fn raw_base64(path: &Path) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(path.to_string_lossy().as_bytes())
}

fn lossy_path<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

fn lossy_paths<S: serde::Serializer>(paths: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(paths.iter().map(|p| p.to_string_lossy()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, ino: u64, size: u64) -> DupeFile {
        DupeFile {
            path: PathBuf::from(path),
            dev: 1,
            ino,
            size,
            ..DupeFile::default()
        }
    }

    fn hashed(path: &str, ino: u64, size: u64, sha: Option<&str>, b3: Option<&str>) -> DupeFile {
        DupeFile {
            sha256: sha.map(str::to_owned),
            blake3: b3.map(str::to_owned),
            ..file(path, ino, size)
        }
    }

    #[test]
    fn identical_content_by_either_hash() {
        let files = [
            hashed("/a", 1, 100, Some("s1"), None),
            hashed("/b", 2, 100, Some("s1"), Some("b1")),
            hashed("/c", 3, 100, None, Some("b1")),
            hashed("/d", 4, 100, Some("s2"), None),
            file("/e", 5, 100),
        ];
        let r = find_dupes(&files);
        assert_eq!(r.identical.len(), 1);
        let g = &r.identical[0];
        assert_eq!(g.paths, [PathBuf::from("/a"), "/b".into(), "/c".into()]);
        assert_eq!(g.sha256.as_deref(), Some("s1"));
        assert_eq!(g.blake3.as_deref(), Some("b1"));
        assert_eq!(g.wasted_bytes, 200);
        assert_eq!(r.wasted_bytes, 200);
        assert_eq!(r.unhashed, 1);
    }

    #[test]
    fn hard_links_waste_nothing() {
        let files = [
            hashed("/a", 7, 100, Some("s"), None),
            hashed("/a-link", 7, 100, Some("s"), None),
        ];
        assert!(find_dupes(&files).identical.is_empty());
        let files = [
            hashed("/a", 7, 100, Some("s"), None),
            hashed("/a-link", 7, 100, Some("s"), None),
            hashed("/copy", 8, 100, Some("s"), None),
        ];
        let r = find_dupes(&files);
        assert_eq!(r.identical[0].wasted_bytes, 100);
        assert_eq!(r.identical[0].paths.len(), 3);
    }

    #[test]
    fn same_shapes_in_other_precisions() {
        let with = |path: &str, ino, size, format: &str, precision: &str, sig: &str| DupeFile {
            format: Some(format.into()),
            precision: Some(precision.into()),
            shape_sig: Some(sig.into()),
            ..file(path, ino, size)
        };
        let files = [
            with("/sdxl-fp32.safetensors", 1, 400, "safetensors", "F32", "x"),
            with("/sdxl-fp16.safetensors", 2, 200, "safetensors", "F16", "x"),
            with("/sdxl-q8.gguf", 3, 110, "gguf", "Q8_0", "x"),
            // Two finetunes of one architecture in the same precision are not duplicates.
            with("/tune-a.safetensors", 4, 200, "safetensors", "F16", "y"),
            with("/tune-b.safetensors", 5, 200, "safetensors", "F16", "y"),
        ];
        let r = find_dupes(&files);
        assert_eq!(r.same_shape.len(), 1);
        let g = &r.same_shape[0];
        assert_eq!(g.shape_sig, "x");
        assert_eq!(g.smallest, PathBuf::from("/sdxl-q8.gguf"));
        assert_eq!(
            g.files.iter().map(|f| f.size).collect::<Vec<_>>(),
            [110, 200, 400]
        );
        assert_eq!(g.total_bytes, 710);
        assert_eq!(g.relation, "same_architecture");
        // A layout match is not a copy: nothing is offered as reclaimable.
        assert_eq!(g.reclaimable_bytes, 0);
        assert!(!g.proven_different, "nothing was hashed");
        assert!(r.identical.is_empty());
    }

    /// Issue 17 item 19: two different LoRAs with one layout were "reclaimable" even after
    /// their hashes proved them different; every zero-tensor file landed in one group.
    #[test]
    fn a_layout_match_is_never_reclaimable_and_tensorless_files_are_never_grouped() {
        let lora = |path: &str, ino, precision: &str, sha: &str| DupeFile {
            format: Some("safetensors".into()),
            precision: Some(precision.into()),
            shape_sig: Some("lora-layout".into()),
            sha256: Some(sha.into()),
            tensors: Some(264),
            ..file(path, ino, 100)
        };
        let empty = |path: &str, ino, format: &str| DupeFile {
            format: Some(format.into()),
            shape_sig: Some("empty-list".into()),
            tensors: Some(0),
            ..file(path, ino, 5_000_000 + ino)
        };
        let files = [
            lora("/style-a.safetensors", 1, "F16", "aaa"),
            lora("/style-b.safetensors", 2, "BF16", "bbb"),
            empty("/vocab-llama.gguf", 3, "gguf"),
            empty("/vocab-falcon.gguf", 4, "gguf"),
            empty("/meta-only.safetensors", 5, "safetensors"),
        ];
        let r = find_dupes(&files);
        assert_eq!(r.same_shape.len(), 1, "{:?}", r.same_shape);
        let g = &r.same_shape[0];
        assert_eq!(g.shape_sig, "lora-layout");
        assert_eq!(
            g.reclaimable_bytes, 0,
            "proven different, so nothing to reclaim"
        );
        assert!(g.proven_different);
        assert!(r.identical.is_empty());
        assert_eq!(r.wasted_bytes, 0);
        // Two members proven identical (another inode) inside a layout group: only those are.
        let mut files = files.to_vec();
        files.push(lora("/style-a-copy.safetensors", 9, "F16", "aaa"));
        let r = find_dupes(&files);
        assert_eq!(r.same_shape[0].reclaimable_bytes, 100);
        assert_eq!(r.identical.len(), 1);
        assert_eq!(r.wasted_bytes, 100);
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_paths_serialize_losslessly() {
        use std::os::unix::ffi::OsStrExt;
        let raw = std::ffi::OsStr::from_bytes(b"/m/caf\xe9.safetensors");
        let mut a = hashed("/m/a.safetensors", 1, 10, Some("s"), None);
        let mut b = hashed("/m/b", 2, 10, Some("s"), None);
        b.path = PathBuf::from(raw);
        a.shape_sig = Some("x".into());
        b.shape_sig = Some("x".into());
        a.precision = Some("F16".into());
        b.precision = Some("F32".into());
        let r = find_dupes(&[a, b]);
        let json = serde_json::to_value(&r).expect("a non-UTF-8 path must not fail serialization");
        let g = &json["identical"][0];
        assert_eq!(g["paths"][0], "/m/a.safetensors");
        assert_eq!(g["paths"][1], "/m/caf\u{fffd}.safetensors");
        assert_eq!(g["paths_bytes"][0], serde_json::Value::Null);
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(b"/m/caf\xe9.safetensors");
        assert_eq!(g["paths_bytes"][1], b64.as_str());
        let s = &json["same_shape"][0];
        assert_eq!(s["files"][1]["path_bytes"], b64.as_str());
        assert_eq!(s["relation"], "same_architecture");
    }

    #[test]
    fn groups_are_ordered_by_waste() {
        let files = [
            hashed("/small1", 1, 10, Some("a"), None),
            hashed("/small2", 2, 10, Some("a"), None),
            hashed("/big1", 3, 1000, Some("b"), None),
            hashed("/big2", 4, 1000, Some("b"), None),
        ];
        let r = find_dupes(&files);
        assert_eq!(
            r.identical
                .iter()
                .map(|g| g.wasted_bytes)
                .collect::<Vec<_>>(),
            [1000, 10]
        );
        assert_eq!(r.wasted_bytes, 1010);
    }
}
