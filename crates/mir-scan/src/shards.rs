//! Grouping the shards of one model.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use mir_safetensors::sharding::{ShardIndex, shard_position};

use crate::walk::{Candidate, WalkError};

/// A model spread over several files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ShardGroup {
    /// The index file, or the first shard when there is none.
    pub(crate) model: PathBuf,
    /// Member paths, in shard order.
    pub(crate) members: Vec<PathBuf>,
    /// How many shards the model declares.
    pub(crate) total: u32,
}

/// Each member path's group number and shard part.
pub(crate) type Membership = HashMap<PathBuf, (usize, Option<u32>)>;

/// Groups candidates into models: first by `*.safetensors.index.json`, then by the
/// `-NNNNN-of-MMMMM` naming for shards no index claims. Returns the groups and, for each member
/// path, its group number and part.
pub(crate) fn group(
    candidates: &[Candidate],
    indexes: &[PathBuf],
    errors: &mut Vec<WalkError>,
) -> (Vec<ShardGroup>, Membership) {
    let present: std::collections::HashSet<&Path> =
        candidates.iter().map(|c| c.path.as_path()).collect();
    let mut groups = Vec::new();
    let mut member_of: Membership = HashMap::new();

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
        let members: Vec<PathBuf> = shards
            .iter()
            .map(|s| dir.join(s))
            .filter(|p| present.contains(p.as_path()))
            .collect();
        if members.is_empty() {
            continue;
        }
        let n = groups.len();
        for m in &members {
            let part = m
                .file_name()
                .and_then(|f| f.to_str())
                .and_then(shard_position)
                .map(|(_, p, _)| p);
            member_of.insert(m.clone(), (n, part));
        }
        groups.push(ShardGroup {
            model: index_path.clone(),
            members,
            total: u32::try_from(shards.len()).unwrap_or(u32::MAX),
        });
    }

    let mut by_name: BTreeMap<(PathBuf, String, u32), Vec<(u32, PathBuf)>> = BTreeMap::new();
    for c in candidates {
        if member_of.contains_key(&c.path) {
            continue;
        }
        let Some(name) = c.path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        if let Some((stem, part, total)) = shard_position(name) {
            let dir = c.path.parent().unwrap_or(Path::new("")).to_path_buf();
            let ext = c.path.extension().and_then(|e| e.to_str()).unwrap_or("");
            by_name
                .entry((dir, format!("{stem}.{ext}"), total))
                .or_default()
                .push((part, c.path.clone()));
        }
    }
    for ((_, _, total), mut members) in by_name {
        if total < 2 {
            continue;
        }
        members.sort();
        let n = groups.len();
        for (part, path) in &members {
            member_of.insert(path.clone(), (n, Some(*part)));
        }
        groups.push(ShardGroup {
            model: members.first().map(|m| m.1.clone()).unwrap_or_default(),
            members: members.into_iter().map(|m| m.1).collect(),
            total,
        });
    }
    (groups, member_of)
}
