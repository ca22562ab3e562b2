//! Grouping files into models: shard sets, diffusers folders, Hugging Face cache snapshots.
//!
//! Everything here is linear in the number of files (a hash map from path to position, one pass
//! per rule): 100,000 files with 5,000 two-part models group in a fraction of a second, and 200
//! small `*.index.json` files pointing at one shard make one group, not 200 (a shard belongs to
//! the first index, in path order, that claims it).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use mir_safetensors::sharding::{ShardIndex, shard_position};

use crate::report::ModelKind;
use crate::walk::{Candidate, WalkError};

/// A model spread over several files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ShardGroup {
    /// The index file, or the first shard when there is none.
    pub(crate) model: PathBuf,
    /// Member positions in the candidate list, in shard order.
    pub(crate) members: Vec<usize>,
    /// How many shards the model declares.
    pub(crate) total: u32,
}

/// For each candidate (by position): its shard group and part, if any.
pub(crate) type Membership = Vec<Option<(usize, Option<u32>)>>;

fn part_of(path: &Path) -> Option<u32> {
    path.file_name()
        .and_then(|f| f.to_str())
        .and_then(shard_position)
        .map(|(_, p, _)| p)
}

/// Groups candidates into shard sets: first by `*.safetensors.index.json` (each index read
/// once; a file already claimed by an earlier index is not claimed again), then by the
/// `-NNNNN-of-MMMMM` naming for shards no index claims.
pub(crate) fn group(
    candidates: &[Candidate],
    indexes: &[PathBuf],
    errors: &mut Vec<WalkError>,
) -> (Vec<ShardGroup>, Membership) {
    let position: HashMap<&Path, usize> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| (c.path.as_path(), i))
        .collect();
    let mut groups = Vec::new();
    let mut member_of: Membership = vec![None; candidates.len()];

    for index_path in indexes {
        let index = match ShardIndex::read(index_path) {
            Ok(i) => i,
            Err(e) => {
                errors.push(WalkError {
                    path: Some(index_path.clone()),
                    message: e.to_string(),
                    is_loop: false,
                });
                continue;
            }
        };
        let dir = index_path.parent().unwrap_or(Path::new(""));
        let shards = index.shards();
        let mut members: Vec<usize> = Vec::new();
        let mut seen = HashSet::new();
        for s in &shards {
            let p = dir.join(s);
            if let Some(&i) = position.get(p.as_path())
                && member_of[i].is_none()
                && seen.insert(i)
            {
                members.push(i);
            }
        }
        if members.is_empty() {
            continue;
        }
        let n = groups.len();
        for &m in &members {
            member_of[m] = Some((n, part_of(&candidates[m].path)));
        }
        groups.push(ShardGroup {
            model: index_path.clone(),
            members,
            total: u32::try_from(shards.len()).unwrap_or(u32::MAX),
        });
    }

    // (folder, stem.ext, total) -> [(part, position)]
    type ByName<'a> = BTreeMap<(&'a Path, String, u32), Vec<(u32, usize)>>;
    let mut by_name: ByName<'_> = BTreeMap::new();
    for (i, c) in candidates.iter().enumerate() {
        if member_of[i].is_some() {
            continue;
        }
        let Some(name) = c.path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        if let Some((stem, part, total)) = shard_position(name) {
            let dir = c.path.parent().unwrap_or(Path::new(""));
            let ext = c.path.extension().and_then(|e| e.to_str()).unwrap_or("");
            by_name
                .entry((dir, format!("{stem}.{ext}"), total))
                .or_default()
                .push((part, i));
        }
    }
    for ((_, _, total), mut members) in by_name {
        if total < 2 {
            continue;
        }
        members.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        let n = groups.len();
        for &(part, i) in &members {
            member_of[i] = Some((n, Some(part)));
        }
        let model = candidates[members[0].1].path.clone();
        groups.push(ShardGroup {
            model,
            members: members.into_iter().map(|m| m.1).collect(),
            total,
        });
    }
    (groups, member_of)
}

/// The model each candidate belongs to (by position): its path, kind and diffusers component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Placement {
    pub(crate) model: PathBuf,
    pub(crate) kind: ModelKind,
    pub(crate) component: Option<String>,
}

/// How far above a file a `model_index.json` or a snapshot folder is looked for: diffusers puts
/// weights at `<model>/<component>/<file>`, one or two levels down.
const MAX_MODEL_DEPTH: usize = 3;

/// Places every candidate in a model: a diffusers folder (a `model_index.json` at most
/// [`MAX_MODEL_DEPTH`] folders up), else its shard set, else a Hugging Face snapshot
/// (`…/models--*/snapshots/<rev>/`), else the file alone. One pass over the files, each looking
/// at a few ancestors in a hash set.
pub(crate) fn place(
    candidates: &[Candidate],
    groups: &[ShardGroup],
    member_of: &Membership,
    model_indexes: &[PathBuf],
) -> Vec<Placement> {
    let diffusers: HashSet<&Path> = model_indexes.iter().filter_map(|p| p.parent()).collect();
    candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut dir = c.path.parent();
            let mut below: Option<&std::ffi::OsStr> = None;
            for _ in 0..MAX_MODEL_DEPTH {
                let Some(d) = dir else { break };
                if diffusers.contains(d) {
                    return Placement {
                        model: d.to_path_buf(),
                        kind: ModelKind::Diffusers,
                        component: below.map(|b| b.to_string_lossy().into_owned()),
                    };
                }
                below = d.file_name();
                dir = d.parent();
            }
            if let Some(folder) = invokeai_ip_adapter_folder(&c.path) {
                return Placement {
                    model: folder.to_path_buf(),
                    kind: ModelKind::InvokeAi,
                    component: None,
                };
            }
            if let Some((g, _)) = member_of.get(i).copied().flatten()
                && let Some(group) = groups.get(g)
            {
                return Placement {
                    model: group.model.clone(),
                    kind: ModelKind::Shards,
                    component: None,
                };
            }
            if let Some(snap) = snapshot_of(&c.path) {
                return Placement {
                    model: snap.to_path_buf(),
                    kind: ModelKind::Snapshot,
                    component: None,
                };
            }
            Placement {
                model: c.path.clone(),
                kind: ModelKind::File,
                component: None,
            }
        })
        .collect()
}

/// The folder InvokeAI converts an IP-Adapter into (`invokeai/backend/ip_adapter/README.md`):
/// `ip_adapter.bin` (the original nested `image_proj` / `ip_adapter` dicts) beside
/// `image_encoder.txt` (the CLIP-vision encoder it needs). One `stat`, and only for a file so
/// named.
fn invokeai_ip_adapter_folder(path: &Path) -> Option<&Path> {
    let name = path.file_name()?.to_str()?;
    if name != "ip_adapter.bin" && name != "ip_adapter.safetensors" {
        return None;
    }
    let dir = path.parent()?;
    dir.join(INVOKEAI_IMAGE_ENCODER).is_file().then_some(dir)
}

/// The sidecar of an InvokeAI IP-Adapter folder that names its image encoder.
pub(crate) const INVOKEAI_IMAGE_ENCODER: &str = "image_encoder.txt";

/// The `snapshots/<rev>` folder of a Hugging Face cache path, if the path is inside one.
fn snapshot_of(path: &Path) -> Option<&Path> {
    let mut dir = path.parent();
    while let Some(d) = dir {
        let parent = d.parent()?;
        if parent.file_name().is_some_and(|n| n == "snapshots")
            && parent
                .parent()
                .and_then(Path::file_name)
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("models--"))
        {
            return Some(d);
        }
        dir = d.parent();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(p: &str) -> Candidate {
        Candidate {
            path: PathBuf::from(p),
            size: 1,
            dev_ino: (0, 0),
            mtime_ns: 0,
            ctime_ns: 0,
            aliases: Vec::new(),
        }
    }

    #[test]
    fn groups_by_naming_and_leaves_singles_alone() {
        let c: Vec<Candidate> = [
            "/m/a-00001-of-00002.safetensors",
            "/m/a-00002-of-00002.safetensors",
            "/m/b.safetensors",
            "/m/c-00001-of-00003.safetensors",
        ]
        .iter()
        .map(|p| cand(p))
        .collect();
        let (groups, member_of) = group(&c, &[], &mut Vec::new());
        // A lone shard of three is still a (partial) shard set: its record says so.
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].members, vec![0, 1]);
        assert_eq!(groups[1].members, vec![3]);
        assert_eq!(groups[0].total, 2);
        assert_eq!(member_of[0], Some((0, Some(1))));
        assert_eq!(member_of[1], Some((0, Some(2))));
        assert_eq!(member_of[2], None);
        assert_eq!(member_of[3], Some((1, Some(1))));
    }

    #[test]
    fn many_indexes_pointing_at_one_shard_make_one_group() {
        let tmp = tempfile::tempdir().unwrap();
        let big = tmp.path().join("big.safetensors");
        let c = vec![cand(big.to_str().unwrap())];
        let mut indexes = Vec::new();
        for n in 0..200 {
            let p = tmp.path().join(format!("m{n:03}.safetensors.index.json"));
            std::fs::write(
                &p,
                r#"{"metadata":{},"weight_map":{"a":"big.safetensors","b":"big.safetensors"}}"#,
            )
            .unwrap();
            indexes.push(p);
        }
        let (groups, member_of) = group(&c, &indexes, &mut Vec::new());
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].model, indexes[0]);
        assert_eq!(member_of[0].map(|m| m.0), Some(0));
    }

    #[test]
    fn grouping_is_near_linear() {
        // 100,000 files, 5,000 two-part models: the old O(groups x files) pass took ~40 s.
        let mut c = Vec::with_capacity(100_000);
        for m in 0..5_000 {
            for part in 1..=2 {
                c.push(cand(&format!("/lib/d{m}/w-{part:05}-of-00002.safetensors")));
            }
        }
        for n in 0..90_000 {
            c.push(cand(&format!("/lib/single/f{n}.safetensors")));
        }
        c.sort_by(|a, b| a.path.cmp(&b.path));
        let t = std::time::Instant::now();
        let (groups, member_of) = group(&c, &[], &mut Vec::new());
        let places = place(&c, &groups, &member_of, &[]);
        let took = t.elapsed();
        assert_eq!(groups.len(), 5_000);
        assert_eq!(
            places
                .iter()
                .filter(|p| p.kind == ModelKind::Shards)
                .count(),
            10_000
        );
        // Generous for a loaded debug build; quadratic work would take minutes.
        assert!(took.as_secs() < 20, "grouping took {took:?}");
    }

    #[test]
    fn places_diffusers_components_and_hf_snapshots() {
        let c: Vec<Candidate> = [
            "/sd/unet/diffusion_pytorch_model.safetensors",
            "/sd/vae/diffusion_pytorch_model.safetensors",
            "/hub/models--org--x/snapshots/abc/model.safetensors",
            "/loose/y.safetensors",
        ]
        .iter()
        .map(|p| cand(p))
        .collect();
        let (groups, member_of) = group(&c, &[], &mut Vec::new());
        let places = place(
            &c,
            &groups,
            &member_of,
            &[PathBuf::from("/sd/model_index.json")],
        );
        assert_eq!(places[0].kind, ModelKind::Diffusers);
        assert_eq!(places[0].model, Path::new("/sd"));
        assert_eq!(places[0].component.as_deref(), Some("unet"));
        assert_eq!(places[1].component.as_deref(), Some("vae"));
        assert_eq!(places[2].kind, ModelKind::Snapshot);
        assert_eq!(
            places[2].model,
            Path::new("/hub/models--org--x/snapshots/abc")
        );
        assert_eq!(places[3].kind, ModelKind::File);
        assert_eq!(places[3].model, Path::new("/loose/y.safetensors"));
    }
}
