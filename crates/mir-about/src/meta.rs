//! Descriptive metadata from a header: `modelspec.*` (Stability AI's model spec, also written by
//! kohya and SwarmUI), kohya's `ss_*` training keys, and GGUF's `general.*` keys.

use std::collections::BTreeMap;

use mir_core::{MetaValue, TensorIndex};
use serde_json::Value;

use crate::{About, Entry, MAX_WORDS, put, split_words};

/// Largest `ss_tag_frequency` text parsed for suggested trigger words (a JSON object of datasets
/// → tag → count). Real ones are tens to hundreds of KB; a larger one is a finding, not parsed.
pub const MAX_TAG_FREQUENCY_BYTES: usize = 4 << 20;
/// Most tags counted from `ss_tag_frequency` (the rest are ignored, with a finding).
pub const MAX_TAGS: usize = 100_000;
/// Suggested trigger words kept from `ss_tag_frequency` (the most frequent).
pub const SUGGESTED_WORDS: usize = 10;
/// Longest text value copied into the record (a description, a title); longer text is cut at a
/// character boundary and marked with `…`.
pub const MAX_TEXT: usize = 16 << 10;

/// `modelspec.<key>` → normalised name. `trigger_phrase` and `tags` become arrays.
const MODELSPEC: &[(&str, &str)] = &[
    ("title", "title"),
    ("author", "author"),
    ("description", "description"),
    ("license", "license"),
    ("date", "date"),
    ("resolution", "resolution"),
    ("trigger_phrase", "trigger_words"),
    ("usage_hint", "usage_hint"),
    ("tags", "tags"),
    ("prediction_type", "prediction_type"),
    ("merged_from", "merged_from"),
    ("architecture", "architecture"),
    ("implementation", "implementation"),
];

/// kohya `ss_*` → normalised name (numbers become numbers).
const KOHYA: &[(&str, &str)] = &[
    ("ss_output_name", "name"),
    ("ss_base_model_version", "base_model"),
    ("ss_sd_model_name", "trained_on"),
    ("ss_network_module", "network_module"),
    ("ss_network_dim", "network_dim"),
    ("ss_network_alpha", "network_alpha"),
    ("ss_resolution", "resolution"),
    ("ss_num_train_images", "train_images"),
    ("ss_steps", "train_steps"),
];

/// GGUF `general.*` → normalised name.
const GGUF: &[(&str, &str)] = &[
    ("general.name", "name"),
    ("general.basename", "basename"),
    ("general.finetune", "finetune"),
    ("general.size_label", "size_label"),
    ("general.license", "license"),
    ("general.author", "author"),
    ("general.description", "description"),
    ("general.quantized_by", "quantized_by"),
    ("general.tags", "tags"),
];

/// Adds what `index`'s metadata says to `about`; problems with the metadata go to `findings`.
pub fn normalise(index: &TensorIndex, about: &mut About, findings: &mut Vec<String>) {
    let m = &index.metadata;
    modelspec(m, "", about);
    for (key, name) in KOHYA {
        if let Some(v) = m.get(*key) {
            put(about, name, Entry::new(scalar(v), *key));
        }
    }
    if let Some(v) = m.get("ss_tag_frequency") {
        match suggested_words(v) {
            Ok(words) if !words.is_empty() => put(
                about,
                "suggested_trigger_words",
                Entry::new(words, "ss_tag_frequency"),
            ),
            Ok(_) => {}
            Err(e) => findings.push(format!("metadata ss_tag_frequency: {e}")),
        }
    }
    if index.format == "gguf" {
        gguf(index, about);
    }
}

/// `modelspec.*` keys of `m` (`prefix` is prepended to each source: a sidecar's file name).
pub(crate) fn modelspec(m: &BTreeMap<String, MetaValue>, prefix: &str, about: &mut About) {
    for (key, name) in MODELSPEC {
        let full = format!("modelspec.{key}");
        let Some(v) = m.get(&full) else { continue };
        let source = format!("{prefix}{full}");
        let value = match (*name, v) {
            ("trigger_words" | "tags", MetaValue::Str(s)) => Value::from(split_words(s, MAX_WORDS)),
            _ => scalar(v),
        };
        put(about, name, Entry::new(value, source));
    }
    if let Some(MetaValue::Str(t)) = m.get("modelspec.thumbnail") {
        let media_type = crate::thumbnail::media_type(t);
        put(
            about,
            "thumbnail",
            Entry::new(
                serde_json::json!({ "embedded": true, "media_type": media_type, "chars": t.len() }),
                format!("{prefix}modelspec.thumbnail"),
            ),
        );
    }
}

/// A metadata value as JSON: numbers written as text (safetensors metadata is string-only) become
/// numbers, long text is cut.
pub(crate) fn scalar(v: &MetaValue) -> Value {
    match v {
        MetaValue::Str(s) => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i64>() {
                Value::from(i)
            } else if let Some(f) = t.parse::<f64>().ok().filter(|f| f.is_finite())
                && t.bytes().any(|b| b.is_ascii_digit())
                && !t.eq_ignore_ascii_case("nan")
            {
                Value::from(f)
            } else {
                Value::from(cut(s))
            }
        }
        MetaValue::Int(i) => Value::from(*i),
        MetaValue::UInt(u) => Value::from(*u),
        MetaValue::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        MetaValue::Bool(b) => Value::Bool(*b),
        MetaValue::Array(a) => Value::Array(a.iter().take(MAX_WORDS).map(scalar).collect()),
        MetaValue::Elided { element, len } => {
            serde_json::json!({ "elided_array": { "element": element, "len": len } })
        }
    }
}

/// `s`, cut to [`MAX_TEXT`] bytes at a character boundary.
pub(crate) fn cut(s: &str) -> String {
    if s.len() <= MAX_TEXT {
        return s.to_owned();
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", s.get(..end).unwrap_or_default())
}

/// Why `ss_tag_frequency` gave no words.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TagFrequencyError {
    /// Not a string.
    #[error("not a text value")]
    NotText,
    /// Over [`MAX_TAG_FREQUENCY_BYTES`].
    #[error("{0} bytes, over the {MAX_TAG_FREQUENCY_BYTES} read for tags; not parsed")]
    TooLarge(usize),
    /// Not JSON, or not `{dataset: {tag: count}}`.
    #[error("not JSON of datasets → tag → count: {0}")]
    Malformed(String),
}

/// The most frequent tags over every dataset of kohya's `ss_tag_frequency`
/// (`{"<n>_<dataset>": {"<tag>": <count>, …}, …}`), most frequent first, ties by name.
pub fn suggested_words(v: &MetaValue) -> Result<Vec<String>, TagFrequencyError> {
    let MetaValue::Str(text) = v else {
        return Err(TagFrequencyError::NotText);
    };
    if text.len() > MAX_TAG_FREQUENCY_BYTES {
        return Err(TagFrequencyError::TooLarge(text.len()));
    }
    let parsed: Value =
        serde_json::from_str(text).map_err(|e| TagFrequencyError::Malformed(e.to_string()))?;
    let Value::Object(datasets) = parsed else {
        return Err(TagFrequencyError::Malformed("not an object".into()));
    };
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut seen = 0usize;
    for (_, tags) in &datasets {
        let Value::Object(tags) = tags else {
            return Err(TagFrequencyError::Malformed(
                "a dataset is not an object of tag counts".into(),
            ));
        };
        for (tag, n) in tags {
            seen += 1;
            if seen > MAX_TAGS {
                break;
            }
            let n = n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64));
            let tag = tag.trim();
            if let Some(n) = n
                && !tag.is_empty()
            {
                let c = counts.entry(tag).or_default();
                *c = c.saturating_add(n);
            }
        }
    }
    let mut ranked: Vec<(&str, u64)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    Ok(ranked
        .into_iter()
        .take(SUGGESTED_WORDS)
        .map(|(t, _)| t.to_owned())
        .collect())
}

/// GGUF `general.*`, the base models, the context length and the parameter count.
fn gguf(index: &TensorIndex, about: &mut About) {
    let m = &index.metadata;
    for (key, name) in GGUF {
        if let Some(v) = m.get(*key) {
            put(about, name, Entry::new(scalar(v), *key));
        }
    }
    // general.base_model.count and general.base_model.N.{name,organization,version,repo_url}
    let count = m
        .get("general.base_model.count")
        .and_then(meta_u64)
        .unwrap_or(0)
        .min(64);
    let mut bases = Vec::new();
    for n in 0..count {
        let mut b = serde_json::Map::new();
        for field in ["name", "organization", "version", "repo_url"] {
            if let Some(v) = m.get(&format!("general.base_model.{n}.{field}")) {
                b.insert(field.to_owned(), scalar(v));
            }
        }
        if !b.is_empty() {
            bases.push(Value::Object(b));
        }
    }
    if let Some(first) = bases
        .first()
        .and_then(|b| b.get("name"))
        .and_then(Value::as_str)
    {
        put(
            about,
            "base_model",
            Entry::new(first, "general.base_model.0.name"),
        );
    }
    if !bases.is_empty() {
        put(
            about,
            "base_models",
            Entry::new(bases, "general.base_model.*"),
        );
    }
    if let Some(arch) = m.get("general.architecture").and_then(MetaValue::as_str) {
        let key = format!("{arch}.context_length");
        if let Some(v) = m.get(&key) {
            put(about, "context_length", Entry::new(scalar(v), key));
        }
    }
    let params: u64 = index
        .tensors
        .iter()
        .fold(0u64, |a, t| a.saturating_add(t.numel()));
    if params > 0 {
        put(about, "parameters", Entry::new(params, "tensors"));
    }
    let mut mix: BTreeMap<String, u64> = BTreeMap::new();
    for t in &index.tensors {
        *mix.entry(t.dtype.name().to_owned()).or_default() += 1;
    }
    if !mix.is_empty() {
        put(
            about,
            "quant_mix",
            Entry::new(serde_json::json!(mix), "tensors"),
        );
    }
}

pub(crate) fn meta_u64(v: &MetaValue) -> Option<u64> {
    match v {
        MetaValue::UInt(u) => Some(*u),
        MetaValue::Int(i) => u64::try_from(*i).ok(),
        MetaValue::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(pairs: &[(&str, &str)]) -> TensorIndex {
        let mut i = TensorIndex::new("safetensors");
        for (k, v) in pairs {
            i.metadata.insert((*k).into(), MetaValue::Str((*v).into()));
        }
        i
    }

    #[test]
    fn modelspec_keys_are_normalised_with_their_source() {
        let i = st(&[
            ("modelspec.title", "Paper Cut"),
            ("modelspec.author", "someone"),
            (
                "modelspec.trigger_phrase",
                "papercut, layered paper , papercut",
            ),
            ("modelspec.tags", "style,paper"),
            ("modelspec.resolution", "1024x1024"),
            ("modelspec.thumbnail", "data:image/png;base64,iVBORw0KGgo="),
        ]);
        let mut a = About::new();
        let mut f = Vec::new();
        normalise(&i, &mut a, &mut f);
        assert_eq!(a["title"], Entry::new("Paper Cut", "modelspec.title"));
        assert_eq!(
            a["trigger_words"].value,
            serde_json::json!(["papercut", "layered paper"])
        );
        assert_eq!(a["tags"].value, serde_json::json!(["style", "paper"]));
        assert_eq!(a["resolution"].value, "1024x1024");
        // The thumbnail's presence, never its data.
        assert_eq!(a["thumbnail"].value["media_type"], "image/png");
        assert!(!a["thumbnail"].value.to_string().contains("iVBOR"));
        assert!(f.is_empty());
    }

    #[test]
    fn kohya_keys_and_suggested_words() {
        let i = st(&[
            ("ss_network_dim", "16"),
            ("ss_network_alpha", "8.0"),
            ("ss_output_name", "inkstyle"),
            ("ss_base_model_version", "sdxl_base_v1-0"),
            (
                "ss_tag_frequency",
                r#"{"10_ink": {"ink": 40, "1girl": 12, "sketch": 40}, "5_more": {"1girl": 30}}"#,
            ),
        ]);
        let mut a = About::new();
        let mut f = Vec::new();
        normalise(&i, &mut a, &mut f);
        assert_eq!(a["network_dim"].value, 16);
        assert_eq!(a["network_alpha"].value, 8.0);
        assert_eq!(a["name"], Entry::new("inkstyle", "ss_output_name"));
        assert_eq!(a["base_model"].source, "ss_base_model_version");
        assert_eq!(
            a["suggested_trigger_words"].value,
            serde_json::json!(["1girl", "ink", "sketch"])
        );
        // Suggested words are not declared trigger words.
        assert!(!a.contains_key("trigger_words"));
    }

    #[test]
    fn hostile_tag_frequency_is_a_finding() {
        for bad in ["{not json", "[1,2]", r#"{"a": 3}"#] {
            let i = st(&[("ss_tag_frequency", bad)]);
            let mut a = About::new();
            let mut f = Vec::new();
            normalise(&i, &mut a, &mut f);
            assert!(!a.contains_key("suggested_trigger_words"), "{bad}");
            assert_eq!(f.len(), 1, "{bad}");
            assert!(f[0].starts_with("metadata ss_tag_frequency: "), "{}", f[0]);
        }
        let huge = format!(
            "{{\"a\": {{\"{}\": 1}}}}",
            "x".repeat(MAX_TAG_FREQUENCY_BYTES)
        );
        assert!(matches!(
            suggested_words(&MetaValue::Str(huge)),
            Err(TagFrequencyError::TooLarge(_))
        ));
    }

    #[test]
    fn long_text_is_cut_at_a_char_boundary() {
        let s = "é".repeat(MAX_TEXT);
        let c = cut(&s);
        assert!(c.len() <= MAX_TEXT + '…'.len_utf8());
        assert!(c.ends_with('…'));
    }
}
