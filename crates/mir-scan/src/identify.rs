//! Identification of a parsed file: MIR ID, candidates, components, evidence, precision, with
//! the data-driven classifier of `mir-classify`.

use mir_classify::{Classification, Classifier, Hashes, Input, MirDatabase, RuleError};
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
    classifier: Classifier,
    /// Identifies the rules and database, for invalidating cached records.
    fingerprint: u64,
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
        let (rules, layout) = Classifier::builtin_sources();
        let mut files: Vec<(&str, &str)> = rules.to_vec();
        files.extend(extra.iter().map(|(n, t)| (n.as_str(), t.as_str())));
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for (name, text) in &files {
            h.update(name.as_bytes());
            h.update(text.as_bytes());
        }
        h.update(layout.0.as_bytes());
        h.update(layout.1.as_bytes());
        // The embedded files were parsed at build time; only `extra` is parsed here.
        let extra: Vec<(&str, &str)> = extra
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        Ok(Identifier {
            classifier: Classifier::builtin_and(&extra)?,
            fingerprint: h.digest(),
        })
    }

    /// Adds a MIR database (`--mir-db`): exact hash matches name series and compat. `identity`
    /// names this database version (e.g. its path, size and mtime) so that records cached with
    /// another database are identified again.
    pub fn with_database(self, db: MirDatabase, identity: &str) -> Identifier {
        Identifier {
            classifier: self.classifier.with_database(db),
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
        self.classifier.classify(&input)
    }

    /// Fills `mir`, `candidates`, `components`, `evidence`, `precision`, `confidence`,
    /// `decided_by` and `database` of `record` from `index`.
    pub fn identify(&self, index: &TensorIndex, ctx: &Context<'_>, record: &mut Record) {
        apply(self.classify(index, ctx), record);
    }
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
