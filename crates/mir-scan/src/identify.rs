//! Identification of a parsed file: MIR ID, candidates, components, evidence, precision, with
//! the data-driven classifier of `mir-classify`.

use mir_classify::{Classification, Classifier, Hashes, Input, MirDatabase, RuleError};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use mir_core::TensorIndex;

use crate::record::{ComponentRecord, DatabaseRecord, Record};

/// What the scanner knows about a file besides its index, for identification.
#[derive(Clone, Debug, Default)]
pub struct Context<'a> {
    /// The file's name (for the filename fallback).
    pub file_name: Option<&'a str>,
    /// `model_type` of a sibling `config.json` (transformers models).
    pub config_model_type: Option<&'a str>,
    /// The base model a sibling `adapter_config.json` names (PEFT `base_model_name_or_path`,
    /// mlx-lm `model`).
    pub adapter_base: Option<&'a str>,
    /// The MIR project's SHA-256 layer hash of this file, for database lookups.
    pub layer_256: Option<&'a str>,
    /// The MIR project's BLAKE3 layer hash.
    pub layer_b3: Option<&'a str>,
    /// SHA-256 of the whole file, when it was computed.
    pub file_256: Option<&'a str>,
}

/// Turns an index into the identification fields of a [`Record`].
#[derive(Debug)]
pub struct Identifier {
    classifier: Deferred,
    /// Identifies the rules and database, for invalidating cached records.
    fingerprint: u64,
}

/// A classifier, either ready or being built on a background thread (see
/// [`Identifier::builtin_in_background`]); the first use waits for it.
struct Deferred {
    /// `None` only if no classifier could be built at all (see [`Deferred::get`]).
    ready: OnceLock<Option<Classifier>>,
    building: Mutex<Option<JoinHandle<Option<Classifier>>>>,
}

impl Deferred {
    fn ready(c: Classifier) -> Deferred {
        Deferred {
            ready: OnceLock::from(Some(c)),
            building: Mutex::new(None),
        }
    }

    fn get(&self) -> Option<&Classifier> {
        self.ready
            .get_or_init(|| {
                let handle = self
                    .building
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take();
                // The thread only decodes rules and a database that were checked at build time and
                // by tests; should it fail anyway, the rules are built again here (without the
                // database), so a scan still names files.
                handle
                    .and_then(|h| h.join().ok().flatten())
                    .or_else(|| Classifier::builtin().ok())
            })
            .as_ref()
    }

    fn into_inner(self) -> Option<Classifier> {
        self.get();
        self.ready.into_inner().flatten()
    }
}

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ready.get() {
            Some(Some(c)) => c.fmt(f),
            Some(None) => f.write_str("no classifier"),
            None => f.write_str("Classifier (being built)"),
        }
    }
}

impl Identifier {
    /// The built-in rule set, compiled once. Fails only if the embedded rules are invalid (a test
    /// of `mir-classify` guards against that).
    pub fn builtin() -> Result<Identifier, RuleError> {
        Self::with_rules(&[])
    }

    /// The built-in rules plus `extra` rule files, as `(name, TOML text)` in the format of
    /// `mir-classify`'s `rules/*.toml` (an extra rule may override a built-in one by id).
    pub fn with_rules(extra: &[(String, String)]) -> Result<Identifier, RuleError> {
        // The embedded files were parsed at build time; only `extra` is parsed here.
        let extra: Vec<(&str, &str)> = extra
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        Ok(Identifier {
            classifier: Deferred::ready(Classifier::builtin_and(&extra)?),
            fingerprint: rules_fingerprint(&extra),
        })
    }

    /// The built-in rules and, when given, the database in `database` (the JSON of a MIR
    /// database, e.g. one embedded in the program, with its `identity` as for
    /// [`Identifier::with_database`]), decoded on a background thread while the caller goes on
    /// (walking, reading headers): the first classification waits for them. A one-file scan
    /// then pays for the rules and the file side by side instead of one after the other.
    ///
    /// Nothing here reads user input, so nothing can fail at run time that the build and the
    /// tests did not check; a database that does not decode is left out.
    pub fn builtin_in_background(database: Option<(&'static [u8], &str)>) -> Identifier {
        let mut fingerprint = rules_fingerprint(&[]);
        if let Some((_, identity)) = database {
            fingerprint = xxhash_rust::xxh3::xxh3_64_with_seed(identity.as_bytes(), fingerprint);
        }
        let json = database.map(|(json, _)| json);
        let build = move || {
            let classifier = Classifier::builtin().ok()?;
            Some(match json.map(MirDatabase::from_json) {
                Some(Ok(db)) => classifier.with_database(db),
                _ => classifier,
            })
        };
        let classifier = match std::thread::Builder::new()
            .name("mir-rules".into())
            .spawn(build)
        {
            Ok(handle) => Deferred {
                ready: OnceLock::new(),
                building: Mutex::new(Some(handle)),
            },
            // No thread to be had: build here.
            Err(_) => Deferred {
                ready: OnceLock::from(build()),
                building: Mutex::new(None),
            },
        };
        Identifier {
            classifier,
            fingerprint,
        }
    }

    /// Adds a MIR database (`--mir-db`): exact hash matches name series and compat. `identity`
    /// names this database version (e.g. its path, size and mtime) so that records cached with
    /// another database are identified again.
    pub fn with_database(self, db: MirDatabase, identity: &str) -> Identifier {
        Identifier {
            classifier: match self.classifier.into_inner() {
                Some(c) => Deferred::ready(c.with_database(db)),
                None => Deferred {
                    ready: OnceLock::from(None),
                    building: Mutex::new(None),
                },
            },
            fingerprint: xxhash_rust::xxh3::xxh3_64_with_seed(
                identity.as_bytes(),
                self.fingerprint,
            ),
        }
    }

    /// A value that changes whenever the rules or the database change.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Classifies `index` with its context.
    pub fn classify(&self, index: &TensorIndex, ctx: &Context<'_>) -> Classification {
        let input = Input {
            index,
            file_name: ctx.file_name,
            config_model_type: ctx.config_model_type,
            adapter_base: ctx.adapter_base,
            hashes: Hashes {
                file_256: ctx.file_256,
                layer_256: ctx.layer_256,
                layer_b3: ctx.layer_b3,
            },
        };
        match self.classifier.get() {
            Some(c) => c.classify(&input),
            None => Classification::default(),
        }
    }

    /// Fills `mir`, `candidates`, `components`, `evidence`, `precision`, `confidence`,
    /// `decided_by` and `database` of `record` from `index`.
    pub fn identify(&self, index: &TensorIndex, ctx: &Context<'_>, record: &mut Record) {
        apply(self.classify(index, ctx), record);
    }
}

/// XXH3 of the built-in rule files, then `extra`, then the layout file (names and texts): what
/// [`Identifier::fingerprint`] starts from.
fn rules_fingerprint(extra: &[(&str, &str)]) -> u64 {
    let (rules, layout) = Classifier::builtin_sources();
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for (name, text) in rules.iter().chain(extra) {
        h.update(name.as_bytes());
        h.update(text.as_bytes());
    }
    h.update(layout.0.as_bytes());
    h.update(layout.1.as_bytes());
    h.digest()
}

/// Copies a classification into a record's identification fields.
pub(crate) fn apply(c: Classification, record: &mut Record) {
    record.mir = c.mir.as_ref().map(ToString::to_string);
    record.candidates = c.candidates.iter().map(ToString::to_string).collect();
    record.components = c
        .components
        .into_iter()
        .map(|p| ComponentRecord {
            mir: p.mir.to_string(),
            prefix: p.prefix,
        })
        .collect();
    record.evidence = c.evidence;
    record.coverage = c.coverage.map(|v| crate::record::CoverageRecord {
        tensors: v.tensors,
        parameters: v.parameters,
        unexplained: v.unexplained.into_iter().map(|g| g.group).collect(),
    });
    record.prediction = c.prediction.map(|p| p.as_str().to_owned());
    record.confidence = c.mir.as_ref().map(|_| c.confidence);
    record.decided_by = c.decided_by.map(|k| k.as_str().to_owned());
    record.precision = c.precision.map(|p| p.to_string());
    record.database = c.database.map(|d| DatabaseRecord {
        key: d.key,
        compat: d.compat,
        field: d.field,
        repo: d.repo,
        pkg: d.pkg,
        mir: d.mir.map(|m| m.to_string()),
        trusted: d.trusted,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use mir_core::{Dtype, TensorRecord};

    /// Rules decoded on a background thread name files exactly as rules decoded in place, and
    /// the two identifiers have the same fingerprint.
    #[test]
    fn a_background_identifier_equals_one_built_in_place() {
        let db = br#"{}"#;
        let in_place = Identifier::builtin()
            .unwrap()
            .with_database(MirDatabase::from_json(db).unwrap(), "test");
        let background = Identifier::builtin_in_background(Some((db, "test")));
        assert_eq!(in_place.fingerprint(), background.fingerprint());
        let mut index = TensorIndex::new("safetensors");
        for (name, shape) in [
            ("double_blocks.0.img_attn.qkv.weight", vec![9216u64, 3072]),
            ("single_blocks.0.linear1.weight", vec![21504, 3072]),
            ("img_in.weight", vec![3072, 64]),
        ] {
            index
                .tensors
                .push(TensorRecord::new(name, Dtype::BF16, shape));
        }
        let ctx = Context::default();
        assert_eq!(
            in_place.classify(&index, &ctx),
            background.classify(&index, &ctx)
        );
        let none = Identifier::builtin_in_background(None);
        assert_eq!(
            Identifier::builtin().unwrap().fingerprint(),
            none.fingerprint()
        );
        assert_eq!(none.classify(&index, &ctx), in_place.classify(&index, &ctx));
    }
}
