//! Sharded models: `model.safetensors.index.json` and `model-00001-of-00004.safetensors`.
//!
//! A sharded model is one model spread over several files. The index file maps every tensor name
//! to the shard holding it; shards also follow the `<stem>-NNNNN-of-MMMMM.safetensors` naming. A
//! scanner groups a model's shards so that all of them get the model's ID.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// Why a shard index could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShardIndexError {
    /// The index file could not be read.
    #[error("cannot read shard index: {0}")]
    Io(#[from] std::io::Error),
    /// The index file is larger than the limit.
    #[error("shard index is {len} bytes, over the limit of {limit}")]
    TooLarge {
        /// The file's length.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// The index is not the JSON the transformers/diffusers writers produce.
    #[error("shard index is not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// A shard name in `weight_map` is not a plain file name beside the index.
    #[error("shard name {0:?} is not a file name in the index's folder")]
    BadShardName(String),
}

/// A parsed `*.safetensors.index.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ShardIndex {
    /// `metadata.total_size` when present: bytes of tensor data across shards.
    #[serde(default)]
    pub metadata: ShardMetadata,
    /// Tensor name → shard file name (relative to the index's folder).
    pub weight_map: BTreeMap<String, String>,
}

/// The `metadata` object of a shard index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ShardMetadata {
    /// Bytes of tensor data across all shards.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total_size: Option<u64>,
}

fn lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(v.as_u64().or_else(|| v.as_f64().map(|f| f as u64)))
}

/// Largest shard index we read (real ones are well under 1 MB).
pub const MAX_INDEX_BYTES: u64 = 64 << 20;

impl ShardIndex {
    /// Reads and parses an index file.
    pub fn read(path: &Path) -> Result<ShardIndex, ShardIndexError> {
        // mir-core's one open: a FIFO put in the index's place never blocks, a device is refused.
        let src = mir_core::Source::open(path).map_err(|e| match e {
            mir_core::Error::Io(io) => io,
            other => std::io::Error::other(other.to_string()),
        })?;
        let len = src.len();
        if len > MAX_INDEX_BYTES {
            return Err(ShardIndexError::TooLarge {
                len,
                limit: MAX_INDEX_BYTES,
            });
        }
        let bytes = src
            .read_vec(0, len, "shard index", MAX_INDEX_BYTES)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Self::from_json(&bytes)
    }

    /// Parses index JSON bytes.
    pub fn from_json(bytes: &[u8]) -> Result<ShardIndex, ShardIndexError> {
        let index: ShardIndex = serde_json::from_slice(bytes)?;
        for shard in index.weight_map.values() {
            let plain = Path::new(shard).file_name().and_then(|f| f.to_str()) == Some(shard);
            if !plain || shard == "." || shard == ".." {
                return Err(ShardIndexError::BadShardName(shard.clone()));
            }
        }
        Ok(index)
    }

    /// The distinct shard file names, sorted.
    pub fn shards(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.weight_map.values().map(String::as_str).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// The position of a shard named `<stem>-NNNNN-of-MMMMM.<ext>`: `(stem, part, total)`.
///
/// ```
/// use mir_safetensors::sharding::shard_position;
/// assert_eq!(shard_position("model-00002-of-00004.safetensors"), Some(("model", 2, 4)));
/// assert_eq!(shard_position("model.safetensors"), None);
/// ```
pub fn shard_position(file_name: &str) -> Option<(&str, u32, u32)> {
    let stem = file_name.rsplit_once('.').map_or(file_name, |(s, _)| s);
    let (rest, total) = stem.rsplit_once("-of-")?;
    let (base, part) = rest.rsplit_once('-')?;
    let digits = |s: &str| s.len() >= 3 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(part) || !digits(total) {
        return None;
    }
    let (part, total): (u32, u32) = (part.parse().ok()?, total.parse().ok()?);
    (part >= 1 && part <= total).then_some((base, part, total))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_index() {
        let json = br#"{"metadata":{"total_size":123},"weight_map":{"a":"m-00001-of-00002.safetensors","b":"m-00002-of-00002.safetensors","c":"m-00001-of-00002.safetensors"}}"#;
        let idx = ShardIndex::from_json(json).unwrap();
        assert_eq!(idx.metadata.total_size, Some(123));
        assert_eq!(
            idx.shards(),
            vec![
                "m-00001-of-00002.safetensors",
                "m-00002-of-00002.safetensors"
            ]
        );
    }

    #[test]
    fn refuses_paths_outside_the_folder() {
        let json = br#"{"weight_map":{"a":"../../etc/passwd"}}"#;
        assert!(matches!(
            ShardIndex::from_json(json),
            Err(ShardIndexError::BadShardName(_))
        ));
        assert!(matches!(
            ShardIndex::from_json(b"[1]"),
            Err(ShardIndexError::Json(_))
        ));
    }

    #[test]
    fn shard_names() {
        assert_eq!(
            shard_position("diffusion_pytorch_model-00001-of-00003.safetensors"),
            Some(("diffusion_pytorch_model", 1, 3))
        );
        assert_eq!(shard_position("x-00005-of-00003.safetensors"), None);
        assert_eq!(shard_position("x-1-of-2.safetensors"), None);
    }
}
