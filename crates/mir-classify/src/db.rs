//! The published MIR databases (`mir-2025-07.json`, `mir-2025-08.json`) as a hash index.
//!
//! Every `file_256`, `layer_256` and `layer_b3` value (list or dict form) is indexed by its
//! lowercase hex. The `"None"` sentinels (SHA-256 and BLAKE3 of the text `None`, stored where
//! the MIR tools could not read a file) are dropped: they would match every unreadable file.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

/// SHA-256 of the text `None` (SPEC-notes §2.3).
pub const SENTINEL_SHA256_NONE: &str =
    "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91";
/// BLAKE3 of the text `None` (SPEC-notes §2.3).
pub const SENTINEL_B3_NONE: &str =
    "b52807536902cabbf84f99e4fa2f8713fb4ef77e739f06367ee0d486e3222faa";

/// Why a database file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The file could not be read.
    #[error("cannot read MIR database {path}: {source}")]
    Io {
        /// The path given.
        path: String,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not JSON.
    #[error("MIR database is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON does not have the database's shape (an object of series of compats).
    #[error("MIR database has an unexpected shape: {0}")]
    Shape(String),
}

/// One indexed hash: where it sits in the database.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DbEntry {
    /// The series key (`info.unet.stable-diffusion-xl-1`).
    pub(crate) key: String,
    /// The compat entry (`*` for the base entry).
    pub(crate) compat: String,
    /// Which field held the hash.
    pub(crate) field: &'static str,
    /// The entry's `repo`.
    pub(crate) repo: Option<String>,
    /// The entry's `pkg`.
    pub(crate) pkg: Option<Value>,
}

/// A loaded MIR database.
#[derive(Clone, Debug, Default)]
pub struct MirDatabase {
    by_hash: HashMap<String, Vec<DbEntry>>,
}

/// The hash fields the database holds, in the order they are trusted.
pub(crate) const FIELDS: [&str; 3] = ["file_256", "layer_256", "layer_b3"];

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl MirDatabase {
    /// Reads a database file from `path` (the only IO this crate does).
    pub fn load(path: &Path) -> Result<Self, DbError> {
        let bytes = std::fs::read(path).map_err(|source| DbError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&bytes)
    }

    /// Parses a database from JSON bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DbError> {
        let root: Value = serde_json::from_slice(bytes)?;
        let Value::Object(series) = root else {
            return Err(DbError::Shape("the top level is not an object".into()));
        };
        let mut db = MirDatabase::default();
        for (key, compats) in &series {
            let Value::Object(compats) = compats else {
                return Err(DbError::Shape(format!("{key} is not an object of compats")));
            };
            for (compat, entry) in compats {
                let Value::Object(fields) = entry else {
                    continue;
                };
                let repo = fields
                    .get("repo")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let pkg = fields.get("pkg").cloned();
                for field in FIELDS {
                    let hashes: Vec<&str> = match fields.get(field) {
                        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                        Some(Value::Object(o)) => o.keys().map(String::as_str).collect(),
                        Some(Value::String(s)) => vec![s.as_str()],
                        _ => continue,
                    };
                    for h in hashes {
                        let h = h.trim().to_ascii_lowercase();
                        if !is_hex64(&h) || h == SENTINEL_SHA256_NONE || h == SENTINEL_B3_NONE {
                            continue;
                        }
                        db.by_hash.entry(h).or_default().push(DbEntry {
                            key: key.clone(),
                            compat: compat.clone(),
                            field,
                            repo: repo.clone(),
                            pkg: pkg.clone(),
                        });
                    }
                }
            }
        }
        Ok(db)
    }

    /// How many distinct hashes are indexed.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// True when no hash is indexed.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The entries whose `field` holds `hex` (exact lowercase equality).
    pub(crate) fn lookup(&self, field: &str, hex: &str) -> Vec<&DbEntry> {
        let h = hex.trim().to_ascii_lowercase();
        self.by_hash
            .get(&h)
            .map(|v| v.iter().filter(|e| e.field == field).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn indexes_list_and_dict_forms_and_drops_sentinels() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let json = format!(
            r#"{{"info.lora.hyper": {{"flux1-dev": {{"repo": "r", "file_256": {{"{a}": {{"steps": 8}}}}}}}},
               "info.unet.x": {{"*": {{"layer_256": ["{b}", "{SENTINEL_SHA256_NONE}"], "layer_b3": ["{SENTINEL_B3_NONE}", "short"]}}}}}}"#
        );
        let db = MirDatabase::from_json(json.as_bytes()).unwrap();
        assert_eq!(db.len(), 2);
        let hit = db.lookup("file_256", &a);
        assert_eq!(hit.len(), 1);
        assert_eq!(hit[0].key, "info.lora.hyper");
        assert_eq!(hit[0].repo.as_deref(), Some("r"));
        assert_eq!(db.lookup("layer_256", &b.to_lowercase()).len(), 1);
        assert!(db.lookup("file_256", &b).is_empty());
        assert!(db.lookup("layer_256", SENTINEL_SHA256_NONE).is_empty());
    }

    #[test]
    fn rejects_bad_input_with_specific_errors() {
        assert!(matches!(
            MirDatabase::from_json(b"{not json"),
            Err(DbError::Json(_))
        ));
        assert!(matches!(
            MirDatabase::from_json(b"[1,2]"),
            Err(DbError::Shape(_))
        ));
        assert!(matches!(
            MirDatabase::from_json(br#"{"info.x.y": 3}"#),
            Err(DbError::Shape(_))
        ));
        assert!(matches!(
            MirDatabase::load(Path::new("/nonexistent/mir.json")),
            Err(DbError::Io { .. })
        ));
    }
}
