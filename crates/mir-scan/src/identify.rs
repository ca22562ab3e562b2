//! Identification of a parsed file: MIR ID, candidates, components, evidence, precision.

use mir_core::TensorIndex;
use mir_id::{Domain, MirId};

use crate::record::Record;

/// What the scanner knows about a file besides its index, for identification.
#[derive(Clone, Debug, Default)]
pub struct Context<'a> {
    /// The file's name (for the filename fallback).
    pub file_name: Option<&'a str>,
    /// `model_type` of a sibling `config.json` (transformers models).
    pub config_model_type: Option<&'a str>,
    /// The MIR project's layer hashes of this file, for database lookups.
    pub layer_256: Option<&'a str>,
    /// BLAKE3 layer hash.
    pub layer_b3: Option<&'a str>,
    /// SHA-256 of the whole file, when it was computed.
    pub file_256: Option<&'a str>,
}

/// Turns an index into the identification fields of a [`Record`].
#[derive(Debug, Default)]
pub struct Identifier {
    _private: (),
}

impl Identifier {
    /// The built-in rules.
    pub fn builtin() -> Identifier {
        Identifier { _private: () }
    }

    /// Fills `mir`, `candidates`, `components`, `evidence`, `precision`, `confidence` and
    /// `decided_by` of `record` from `index`.
    pub fn identify(&self, index: &TensorIndex, _ctx: &Context<'_>, record: &mut Record) {
        record.precision = precision_id(index).map(|id| id.to_string());
    }
}

/// The MIR precision ID of the index's dominant dtype (`mir:ops.precision.float:F16`).
pub(crate) fn precision_id(index: &TensorIndex) -> Option<MirId> {
    let (series, compat) = index.dominant_dtype()?.mir_precision()?;
    MirId::new_lenient(Domain::Ops, "precision", series, Some(compat)).ok()
}
