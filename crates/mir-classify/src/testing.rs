//! Test support: turns a small text spec into a [`TensorIndex`] plus the expectations a test
//! checks. The module does no IO: `@include` lines are resolved by a closure the caller gives.
//!
//! A spec has one tensor per line, `name [dtype] [d0,d1,...]`; the dtype may be left out (F16
//! is assumed) and a dimension of `-1` (model-toolkit's "any rank") becomes 16. Lines of
//! model-toolkit's `components/*.txt` lists (`key [d0,...]`) are valid spec lines. Other lines:
//!
//! * `# comment` and blank lines are ignored;
//! * `@format gguf` sets the index's format;
//! * `@meta key value…` adds a string metadata entry (`@meta_int key 15` an integer one);
//! * `@prefix text` prepends `text` to the names of every following tensor line (`@prefix` alone
//!   resets it), so one spec can hold an all-in-one checkpoint;
//! * `@include name` inserts another spec (resolved by the caller) under the current prefix; its
//!   expectations are ignored;
//! * expectations, read only from the top-level spec: `@expect <id>|none`,
//!   `@expect_candidate <id>`, `@expect_component <id> <prefix>`, `@expect_decided_by <kind>`,
//!   `@expect_prediction eps|v|edm|flow|none`, `@partial <reason>` (a deliberate look-alike or
//!   negative fixture: its coverage may be below 1.0);
//! * inputs beside the index: `@file_name name`, `@config_model_type type`,
//!   `@adapter_base repo` (a sibling adapter_config.json's base model),
//!   `@hash file_256|layer_256|layer_b3 <hex>`.

use mir_core::{Dtype, MetaValue, TensorIndex, TensorRecord};

/// Why a spec is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A line does not follow the format.
    #[error("spec line {line}: {reason}: {text:?}")]
    BadLine {
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        reason: &'static str,
        /// The line.
        text: String,
    },
    /// An `@include` the resolver could not supply.
    #[error("spec include {0:?} not found")]
    MissingInclude(String),
    /// Includes nested too deeply (a cycle).
    #[error("spec includes nest deeper than 8 levels")]
    TooDeep,
}

/// A parsed spec: the index and what a test should check.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    /// The tensors and metadata.
    pub index: TensorIndex,
    /// The expected ID (`none` for no ID).
    pub expect: Option<String>,
    /// IDs expected among the candidates.
    pub expect_candidates: Vec<String>,
    /// Expected components, as (ID, prefix).
    pub expect_components: Vec<(String, String)>,
    /// Expected deciding evidence kind (`metadata`, `structure`, `hash`, `filename`).
    pub expect_decided_by: Option<String>,
    /// The file name to classify under.
    pub file_name: Option<String>,
    /// A sibling config's `model_type`.
    pub config_model_type: Option<String>,
    /// `@adapter_base`: a sibling adapter_config.json's `base_model_name_or_path`.
    pub adapter_base: Option<String>,
    /// Hashes, as (field, hex).
    pub hashes: Vec<(String, String)>,
    /// Expected prediction (`eps`, `v`, `edm`, `flow`, `none`).
    pub expect_prediction: Option<String>,
    /// Why the fixture is a deliberate look-alike or negative one whose coverage may be below
    /// 1.0 (`@partial reason`); `None` for an ordinary fixture, which must be fully explained.
    pub partial: Option<String>,
}

fn parse_shape(s: &str) -> Option<Vec<u64>> {
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    if inner.trim().is_empty() {
        return Some(Vec::new());
    }
    inner
        .split(',')
        .map(|d| {
            let d = d.trim();
            if d == "-1" { Some(16) } else { d.parse().ok() }
        })
        .collect()
}

fn parse_into(
    spec: &mut Spec,
    text: &str,
    outer_prefix: &str,
    top: bool,
    depth: usize,
    resolve: &mut dyn FnMut(&str) -> Option<String>,
) -> Result<(), SpecError> {
    if depth > 8 {
        return Err(SpecError::TooDeep);
    }
    let mut prefix = outer_prefix.to_owned();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let bad = |reason| SpecError::BadLine {
            line: i.saturating_add(1),
            reason,
            text: raw.to_owned(),
        };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('@') {
            let (cmd, arg) = rest.split_once(' ').unwrap_or((rest, ""));
            let arg = arg.trim();
            match cmd {
                "format" => spec.index.format = arg.to_owned(),
                "prefix" => prefix = format!("{outer_prefix}{arg}"),
                "meta" | "meta_int" => {
                    let (k, v) = arg.split_once(' ').ok_or_else(|| bad("no value"))?;
                    let v = v.trim();
                    let value = if cmd == "meta" {
                        MetaValue::Str(v.to_owned())
                    } else {
                        MetaValue::UInt(v.parse().map_err(|_| bad("not an integer"))?)
                    };
                    spec.index.metadata.insert(k.to_owned(), value);
                }
                "include" => {
                    let inc = resolve(arg).ok_or_else(|| SpecError::MissingInclude(arg.into()))?;
                    parse_into(spec, &inc, &prefix, false, depth.saturating_add(1), resolve)?;
                }
                "expect" | "expect_candidate" | "expect_component" | "expect_decided_by"
                | "expect_prediction" | "partial" | "file_name" | "config_model_type"
                | "adapter_base" | "hash" => {
                    if arg.is_empty() {
                        return Err(bad("no value"));
                    }
                    if !top {
                        continue;
                    }
                    match cmd {
                        "expect" => spec.expect = Some(arg.to_owned()),
                        "expect_candidate" => spec.expect_candidates.push(arg.to_owned()),
                        "expect_decided_by" => spec.expect_decided_by = Some(arg.to_owned()),
                        "expect_prediction" => spec.expect_prediction = Some(arg.to_owned()),
                        "partial" => spec.partial = Some(arg.to_owned()),
                        "file_name" => spec.file_name = Some(arg.to_owned()),
                        "config_model_type" => spec.config_model_type = Some(arg.to_owned()),
                        "adapter_base" => spec.adapter_base = Some(arg.to_owned()),
                        "expect_component" => {
                            let (id, p) = arg.split_once(' ').ok_or_else(|| bad("no prefix"))?;
                            spec.expect_components
                                .push((id.to_owned(), p.trim().to_owned()));
                        }
                        _ => {
                            let (f, h) = arg.split_once(' ').ok_or_else(|| bad("no hash"))?;
                            spec.hashes.push((f.to_owned(), h.trim().to_owned()));
                        }
                    }
                }
                _ => return Err(bad("unknown directive")),
            }
            continue;
        }
        let mut parts: Vec<&str> = line.split_whitespace().collect();
        let shape_text = parts.pop().ok_or_else(|| bad("empty"))?;
        let shape = parse_shape(shape_text).ok_or_else(|| bad("no [shape] at the end"))?;
        let (name, dtype) = match parts.as_slice() {
            [name] => (*name, Dtype::F16),
            [name, dtype] => (*name, Dtype::from_safetensors(dtype)),
            _ => return Err(bad("expected name [dtype] [shape]")),
        };
        spec.index
            .tensors
            .push(TensorRecord::new(format!("{prefix}{name}"), dtype, shape));
    }
    Ok(())
}

/// Parses a spec; `resolve` supplies the text of `@include`d specs by name.
pub fn load_spec(
    text: &str,
    resolve: &mut dyn FnMut(&str) -> Option<String>,
) -> Result<Spec, SpecError> {
    let mut spec = Spec {
        index: TensorIndex::new("safetensors"),
        ..Spec::default()
    };
    parse_into(&mut spec, text, "", true, 0, resolve)?;
    Ok(spec)
}

/// Builds an index from a spec without includes.
pub fn index_from_spec(text: &str) -> Result<TensorIndex, SpecError> {
    Ok(load_spec(text, &mut |_| None)?.index)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_dtypes_shapes_and_directives() {
        let spec = "# c\n@format gguf\n@meta general.architecture flux\n@meta_int general.file_type 15\n\
                    @prefix model.\na.weight BF16 [2,3]\nb []\n@prefix\nc [-1,4]\n@expect mir:model.x.y\n\
                    @expect_component mir:model.vae.kl vae.\n@file_name f.gguf\n@hash file_256 ab\n";
        let s = load_spec(spec, &mut |_| None).unwrap();
        let idx = &s.index;
        assert_eq!(idx.format, "gguf");
        assert_eq!(idx.meta_str("general.architecture"), Some("flux"));
        assert_eq!(
            idx.metadata.get("general.file_type"),
            Some(&MetaValue::UInt(15))
        );
        assert_eq!(idx.tensors[0].name, "model.a.weight");
        assert_eq!(idx.tensors[0].dtype, Dtype::BF16);
        assert_eq!(idx.tensors[1].shape, Vec::<u64>::new());
        assert_eq!(idx.tensors[2].name, "c");
        assert_eq!(idx.tensors[2].shape, vec![16, 4]);
        assert_eq!(s.expect.as_deref(), Some("mir:model.x.y"));
        assert_eq!(s.expect_components[0].1, "vae.");
        assert_eq!(s.file_name.as_deref(), Some("f.gguf"));
        assert_eq!(s.hashes[0], ("file_256".into(), "ab".into()));
    }

    #[test]
    fn includes_nest_under_the_current_prefix_and_drop_expectations() {
        let mut resolve = |n: &str| {
            (n == "inner").then(|| "@expect mir:model.a.b\n@prefix x.\nw [1]\n".to_owned())
        };
        let s = load_spec("@prefix p.\n@include inner\n", &mut resolve).unwrap();
        assert_eq!(s.index.tensors[0].name, "p.x.w");
        assert_eq!(s.expect, None);
        assert!(matches!(
            load_spec("@include nope", &mut resolve),
            Err(SpecError::MissingInclude(_))
        ));
        let mut cyclic = |_: &str| Some("@include again\n".to_owned());
        assert!(matches!(
            load_spec("@include again", &mut cyclic),
            Err(SpecError::TooDeep)
        ));
    }

    #[test]
    fn bad_lines_are_errors() {
        assert!(index_from_spec("a.weight").is_err());
        assert!(index_from_spec("a.weight F16 BF16 [1]").is_err());
        assert!(index_from_spec("a [x]").is_err());
        assert!(index_from_spec("@bogus x").is_err());
        assert!(index_from_spec("@meta_int k v").is_err());
        assert!(index_from_spec("@expect").is_err());
    }
}
