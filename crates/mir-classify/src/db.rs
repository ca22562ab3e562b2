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
    ///
    /// One streaming pass with typed visitors (`stream` below): names are borrowed from the
    /// bytes, fields other than `repo`, `pkg` and the three hash fields are skipped unread, and
    /// an entry's `pkg` is kept as raw JSON and turned into a value only when the entry holds a
    /// hash (38 of the bundled database's 397 entries). Same index as building a
    /// `serde_json::Value` of the whole file first (a test compares both on every database in
    /// the repository), at a fraction of the start-up cost of `mir scan`. Where a hostile file
    /// repeats a key, every occurrence is indexed (a JSON tree keeps the last).
    pub fn from_json(bytes: &[u8]) -> Result<Self, DbError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let mut cx = stream::Cx::default();
        match serde::de::DeserializeSeed::deserialize(stream::Root(&mut cx), &mut de) {
            Ok(()) => {}
            // A shape error is raised through serde to stop the parse; the text is kept aside.
            Err(_) if cx.shape.is_some() => {
                return Err(DbError::Shape(cx.shape.unwrap_or_default()));
            }
            Err(e) => return Err(DbError::Json(e)),
        }
        de.end()?;
        Ok(cx.db)
    }

    /// Adds one entry's hashes (in [`FIELDS`] order, each list in file order).
    fn add(
        &mut self,
        key: &str,
        compat: &str,
        repo: Option<&str>,
        pkg: Option<&Value>,
        hashes: &[Vec<String>; 3],
    ) {
        for (field, list) in FIELDS.into_iter().zip(hashes) {
            for h in list {
                let h = h.trim().to_ascii_lowercase();
                if !is_hex64(&h) || h == SENTINEL_SHA256_NONE || h == SENTINEL_B3_NONE {
                    continue;
                }
                self.by_hash.entry(h).or_default().push(DbEntry {
                    key: key.to_owned(),
                    compat: compat.to_owned(),
                    field,
                    repo: repo.map(str::to_owned),
                    pkg: pkg.cloned(),
                });
            }
        }
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

/// The streaming visitors of [`MirDatabase::from_json`]: series ► compats ► entry fields.
mod stream {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde_json::Value;
    use serde_json::value::RawValue;

    use super::{FIELDS, MirDatabase};

    /// A JSON string, borrowed when it holds no escapes.
    struct Text<'de>(Cow<'de, str>);

    impl<'de> serde::Deserialize<'de> for Text<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Text<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E: serde::de::Error>(
                    self,
                    v: &'de str,
                ) -> Result<Text<'de>, E> {
                    Ok(Text(Cow::Borrowed(v)))
                }
                fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                    Ok(Text(Cow::Owned(v.to_owned())))
                }
            }
            d.deserialize_str(V)
        }
    }

    /// Any JSON value: the string when it is one (what `Value::as_str` keeps), else `None`.
    struct MaybeText(Option<String>);

    impl<'de> serde::Deserialize<'de> for MaybeText {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = MaybeText;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<MaybeText, E> {
                    Ok(MaybeText(Some(v.to_owned())))
                }
                fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<MaybeText, E> {
                    Ok(MaybeText(None))
                }
                fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<MaybeText, E> {
                    Ok(MaybeText(None))
                }
                fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<MaybeText, E> {
                    Ok(MaybeText(None))
                }
                fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<MaybeText, E> {
                    Ok(MaybeText(None))
                }
                fn visit_unit<E: serde::de::Error>(self) -> Result<MaybeText, E> {
                    Ok(MaybeText(None))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<MaybeText, A::Error> {
                    while s.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(MaybeText(None))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<MaybeText, A::Error> {
                    while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    Ok(MaybeText(None))
                }
            }
            d.deserialize_any(V)
        }
    }

    /// A hash field: a list of hashes, an object keyed by hash, or one hash; anything else
    /// holds none.
    struct HashList(Vec<String>);

    impl<'de> serde::Deserialize<'de> for HashList {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = HashList;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("hashes")
                }
                fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<HashList, E> {
                    Ok(HashList(vec![v.to_owned()]))
                }
                fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<HashList, E> {
                    Ok(HashList(Vec::new()))
                }
                fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<HashList, E> {
                    Ok(HashList(Vec::new()))
                }
                fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<HashList, E> {
                    Ok(HashList(Vec::new()))
                }
                fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<HashList, E> {
                    Ok(HashList(Vec::new()))
                }
                fn visit_unit<E: serde::de::Error>(self) -> Result<HashList, E> {
                    Ok(HashList(Vec::new()))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<HashList, A::Error> {
                    let mut out = Vec::new();
                    while let Some(MaybeText(t)) = s.next_element()? {
                        out.extend(t);
                    }
                    Ok(HashList(out))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<HashList, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, IgnoredAny)) = m.next_entry::<Text<'de>, IgnoredAny>()? {
                        out.push(k.0.into_owned());
                    }
                    Ok(HashList(out))
                }
            }
            d.deserialize_any(V)
        }
    }

    /// The top level: an object of series.
    pub(super) struct Root<'a>(pub(super) &'a mut Cx);

    impl<'de> DeserializeSeed<'de> for Root<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    /// What the parse builds, and the shape problem that stopped it.
    #[derive(Default)]
    pub(super) struct Cx {
        pub(super) db: MirDatabase,
        pub(super) shape: Option<String>,
    }

    impl Cx {
        fn shape<E: serde::de::Error>(&mut self, what: String) -> E {
            let e = E::custom(&what);
            self.shape = Some(what);
            e
        }
    }

    impl<'de> Visitor<'de> for Root<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of series")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
            while let Some(key) = m.next_key::<Text<'de>>()? {
                m.next_value_seed(Series {
                    cx: &mut *self.0,
                    key: &key.0,
                })?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
            Err(self.0.shape("the top level is not an object".into()))
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
            Err(self.0.shape("the top level is not an object".into()))
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
            Err(self.0.shape("the top level is not an object".into()))
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
            Err(self.0.shape("the top level is not an object".into()))
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
            Err(self.0.shape("the top level is not an object".into()))
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
            Err(self.0.shape("the top level is not an object".into()))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
            Err(self.0.shape("the top level is not an object".into()))
        }
    }

    /// One series: an object of compats.
    struct Series<'a, 'k> {
        cx: &'a mut Cx,
        key: &'k str,
    }

    impl<'de> DeserializeSeed<'de> for Series<'_, '_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Series<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of compats")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
            while let Some(compat) = m.next_key::<Text<'de>>()? {
                let e: Entry<'de> = m.next_value()?;
                if let Some(e) = e.0 {
                    if e.hashes.iter().all(Vec::is_empty) {
                        continue;
                    }
                    let pkg = match e.pkg {
                        Some(raw) => Some(
                            serde_json::from_str::<Value>(raw.get())
                                .map_err(serde::de::Error::custom)?,
                        ),
                        None => None,
                    };
                    self.cx.db.add(
                        self.key,
                        &compat.0,
                        e.repo.as_deref(),
                        pkg.as_ref(),
                        &e.hashes,
                    );
                }
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
            Err(self.not_compats())
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
            Err(self.not_compats())
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
            Err(self.not_compats())
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
            Err(self.not_compats())
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
            Err(self.not_compats())
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
            Err(self.not_compats())
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
            Err(self.not_compats())
        }
    }

    impl Series<'_, '_> {
        fn not_compats<E: serde::de::Error>(self) -> E {
            let what = format!("{} is not an object of compats", self.key);
            self.cx.shape(what)
        }
    }

    /// One compat entry's fields (`None`: the entry is not an object and is skipped).
    struct Entry<'de>(Option<EntryFields<'de>>);

    struct EntryFields<'de> {
        repo: Option<String>,
        pkg: Option<&'de RawValue>,
        hashes: [Vec<String>; 3],
    }

    impl<'de> serde::Deserialize<'de> for Entry<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Entry<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a compat entry")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entry<'de>, A::Error> {
                    let mut e = EntryFields {
                        repo: None,
                        pkg: None,
                        hashes: Default::default(),
                    };
                    while let Some(k) = m.next_key::<Text<'de>>()? {
                        if let Some(i) = FIELDS.iter().position(|f| *f == k.0) {
                            let HashList(list) = m.next_value()?;
                            if let Some(slot) = e.hashes.get_mut(i) {
                                *slot = list;
                            }
                        } else if k.0 == "repo" {
                            e.repo = m.next_value::<MaybeText>()?.0;
                        } else if k.0 == "pkg" {
                            e.pkg = Some(m.next_value()?);
                        } else {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                    Ok(Entry(Some(e)))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Entry<'de>, A::Error> {
                    while s.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(Entry(None))
                }
                fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Entry<'de>, E> {
                    Ok(Entry(None))
                }
                fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Entry<'de>, E> {
                    Ok(Entry(None))
                }
                fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Entry<'de>, E> {
                    Ok(Entry(None))
                }
                fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Entry<'de>, E> {
                    Ok(Entry(None))
                }
                fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Entry<'de>, E> {
                    Ok(Entry(None))
                }
                fn visit_unit<E: serde::de::Error>(self) -> Result<Entry<'de>, E> {
                    Ok(Entry(None))
                }
            }
            d.deserialize_any(V)
        }
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

    /// The former loader (a `serde_json::Value` of the whole file, then walked), the reference
    /// for the streaming one.
    fn reference(bytes: &[u8]) -> Option<HashMap<String, Vec<DbEntry>>> {
        let Value::Object(series) = serde_json::from_slice(bytes).ok()? else {
            return None;
        };
        let mut by_hash: HashMap<String, Vec<DbEntry>> = HashMap::new();
        for (key, compats) in &series {
            let Value::Object(compats) = compats else {
                return None;
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
                        by_hash.entry(h).or_default().push(DbEntry {
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
        Some(by_hash)
    }

    /// Every database in the repository (the bundled July 2025 one and the August 2025 format
    /// excerpt) and odd shapes: the streaming loader builds the same index as the reference.
    #[test]
    fn streaming_loader_equals_the_json_tree_walk() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut inputs: Vec<Vec<u8>> = [
            "crates/mir-cli/data/mir-2025-07.json",
            "fixtures/mir-db/excerpt-2025-08-format.json",
        ]
        .iter()
        .map(|p| std::fs::read(root.join(p)).unwrap())
        .collect();
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        inputs.push(
            format!(
                r#"{{"s.x": {{"*": {{"layer_b3": "{a}", "pkg": {{"0": {{"x": [1, "\u0041"]}}}}, "repo": 7,
                     "file_256": ["{b}", 3, null, {{"k": 1}}], "other": [[]]}},
                   "c\"q": [1], "d": 5, "e": null,
                   "f": {{"file_256": {{"{b}": 1, " {a} ": [2]}}, "layer_256": true, "repo": "r\n"}}}},
                  "s\u00e9": {{}}}}"#
            )
            .into_bytes(),
        );
        for bytes in &inputs {
            let want = reference(bytes).unwrap();
            assert!(!want.is_empty());
            let got = MirDatabase::from_json(bytes).unwrap();
            assert_eq!(got.by_hash, want);
        }
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
