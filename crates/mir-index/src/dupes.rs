//! Duplicate finding as a pure function over file facts, so it is tested without SQLite.
//!
//! * **Identical content**: files with the same SHA-256 or the same BLAKE3 (a file with both
//!   joins the groups of either). Paths that share a device and inode (hard links, or a symlinked
//!   Hugging Face snapshot and its blob) occupy the disk once, so a group wastes
//!   `size × (distinct inodes − 1)` bytes.
//! * **Same shapes, different precision or container**: files with the same `shape_sig` (same
//!   tensor names and shapes) whose (format, precision) differ, like the fp32 and fp16
//!   safetensors of one model or its GGUF quantisation. Keeping only the smallest would free
//!   `total − smallest` bytes; whether that is wise is the user's call, so it is reported, not
//!   called waste.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

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
    /// Every path, sorted.
    pub paths: Vec<PathBuf>,
    /// `size × (distinct inodes − 1)`: what deleting all copies but one would free.
    pub wasted_bytes: u64,
}

/// One file of a [`ShapeGroup`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShapeMember {
    /// The file's path.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Container format.
    pub format: Option<String>,
    /// Precision summary.
    pub precision: Option<String>,
}

/// Files with the same tensor shapes in different precisions or containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShapeGroup {
    /// The shared shape signature.
    pub shape_sig: String,
    /// The members, smallest first.
    pub files: Vec<ShapeMember>,
    /// The smallest member's path.
    pub smallest: PathBuf,
    /// Bytes on disk of all members (each inode counted once).
    pub total_bytes: u64,
    /// `total_bytes` minus the smallest member: what keeping only the smallest would free.
    pub reclaimable_bytes: u64,
}

/// The result of [`find_dupes`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DupeReport {
    /// Identical-content groups, most wasted bytes first.
    pub identical: Vec<ContentGroup>,
    /// Same-shape groups, most reclaimable bytes first.
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
            Some(ShapeGroup {
                shape_sig: sig.to_owned(),
                smallest: smallest.path.clone(),
                reclaimable_bytes: total_bytes.saturating_sub(smallest.size),
                total_bytes,
                files: m
                    .iter()
                    .map(|f| ShapeMember {
                        path: f.path.clone(),
                        size: f.size,
                        format: f.format.clone(),
                        precision: f.precision.clone(),
                    })
                    .collect(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.reclaimable_bytes
            .cmp(&a.reclaimable_bytes)
            .then(a.shape_sig.cmp(&b.shape_sig))
    });
    out
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
        assert_eq!(g.reclaimable_bytes, 600);
        assert!(r.identical.is_empty());
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
