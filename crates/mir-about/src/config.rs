//! Configs in a weight file's folder: a diffusers/transformers `config.json` and a PEFT
//! `adapter_config.json`. Read once per folder, bounded like sidecars; a malformed one is a
//! finding.

use std::path::Path;

use serde_json::Value;

use crate::sidecar::read_json;
use crate::{About, Entry, MAX_WORDS, put};

/// What a folder's configs say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FolderConfigs {
    /// Normalised values: `class` (`_class_name` / `architectures[0]`), `model_type`,
    /// `context_length` (`max_position_embeddings`), `peft_type`, `base_model`
    /// (`base_model_name_or_path`), `target_modules`.
    pub about: About,
    /// PEFT `r`.
    pub rank: Option<u64>,
    /// PEFT `lora_alpha`.
    pub alpha: Option<f64>,
    /// `config.json`'s `model_type`, whole (the classifier's evidence).
    pub model_type: Option<String>,
    /// The base model `adapter_config.json` names, whole: PEFT's `base_model_name_or_path`, else
    /// mlx-lm's `model` (the classifier's evidence).
    pub adapter_base: Option<String>,
    /// Malformed configs.
    pub findings: Vec<String>,
}

impl FolderConfigs {
    /// True when the folder has no config we read.
    pub fn is_empty(&self) -> bool {
        self.about.is_empty()
            && self.rank.is_none()
            && self.alpha.is_none()
            && self.model_type.is_none()
            && self.adapter_base.is_none()
            && self.findings.is_empty()
    }
}

/// Reads `config.json` and `adapter_config.json` in `dir` when `exists` says the listing has them.
pub fn read_folder(dir: &Path, exists: &dyn Fn(&str) -> bool) -> FolderConfigs {
    let mut out = FolderConfigs::default();
    if exists("adapter_config.json") {
        match read_json(&dir.join("adapter_config.json")) {
            Ok(Value::Object(o)) => {
                let src = |k: &str| format!("adapter_config.json:{k}");
                out.rank = o.get("r").and_then(Value::as_u64);
                out.adapter_base = ["base_model_name_or_path", "model"]
                    .iter()
                    .find_map(|k| o.get(*k)?.as_str().map(str::to_owned));
                out.alpha = o.get("lora_alpha").and_then(Value::as_f64);
                if let Some(t) = o.get("peft_type").and_then(Value::as_str) {
                    put(&mut out.about, "peft_type", Entry::new(t, src("peft_type")));
                }
                if let Some(t) = o.get("base_model_name_or_path").and_then(Value::as_str)
                    && !t.is_empty()
                {
                    put(
                        &mut out.about,
                        "base_model",
                        Entry::new(crate::meta::cut(t), src("base_model_name_or_path")),
                    );
                }
                match o.get("target_modules") {
                    Some(Value::Array(a)) => {
                        let m: Vec<&str> =
                            a.iter().filter_map(Value::as_str).take(MAX_WORDS).collect();
                        put(
                            &mut out.about,
                            "target_modules",
                            Entry::new(m, src("target_modules")),
                        );
                    }
                    Some(Value::String(s)) => {
                        put(
                            &mut out.about,
                            "target_modules",
                            Entry::new(crate::meta::cut(s), src("target_modules")),
                        );
                    }
                    _ => {}
                }
            }
            Ok(_) => out
                .findings
                .push("config adapter_config.json: not a JSON object".into()),
            Err(e) => out
                .findings
                .push(format!("config adapter_config.json: {e}")),
        }
    }
    if exists("config.json") {
        match read_json(&dir.join("config.json")) {
            Ok(Value::Object(o)) => {
                let src = |k: &str| format!("config.json:{k}");
                if let Some(c) = o.get("_class_name").and_then(Value::as_str) {
                    put(&mut out.about, "class", Entry::new(c, src("_class_name")));
                } else if let Some(c) = o
                    .get("architectures")
                    .and_then(|a| a.get(0))
                    .and_then(Value::as_str)
                {
                    put(&mut out.about, "class", Entry::new(c, src("architectures")));
                }
                if let Some(t) = o.get("model_type").and_then(Value::as_str) {
                    out.model_type = Some(t.to_owned());
                    put(
                        &mut out.about,
                        "model_type",
                        Entry::new(t, src("model_type")),
                    );
                }
                if let Some(n) = o.get("max_position_embeddings").and_then(Value::as_u64) {
                    put(
                        &mut out.about,
                        "context_length",
                        Entry::new(n, src("max_position_embeddings")),
                    );
                }
            }
            Ok(_) => out
                .findings
                .push("config config.json: not a JSON object".into()),
            Err(e) => out.findings.push(format!("config config.json: {e}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peft_and_transformers_configs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("adapter_config.json"),
            r#"{"peft_type": "LORA", "r": 16, "lora_alpha": 32, "base_model_name_or_path": "black-forest-labs/FLUX.1-dev", "target_modules": ["to_q", "to_k"]}"#,
        )
        .unwrap();
        std::fs::write(
            d.path().join("config.json"),
            r#"{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "max_position_embeddings": 8192}"#,
        )
        .unwrap();
        let c = read_folder(d.path(), &|_| true);
        assert_eq!(c.rank, Some(16));
        assert_eq!(c.alpha, Some(32.0));
        assert_eq!(
            c.about["base_model"].source,
            "adapter_config.json:base_model_name_or_path"
        );
        assert_eq!(c.about["class"].value, "LlamaForCausalLM");
        assert_eq!(c.about["context_length"].value, 8192);
        assert!(c.findings.is_empty());
        std::fs::write(d.path().join("config.json"), "nope").unwrap();
        let c = read_folder(d.path(), &|n| n == "config.json");
        assert_eq!(c.findings.len(), 1);
        assert!(c.findings[0].starts_with("config config.json: not JSON"));
    }
}
