//! Generators of the metadata and sidecar files model tools write, with the key names those
//! tools use, for tests of `mir-about` and the scan's `about`, `sidecars` and `air` fields:
//!
//! * kohya's sd-scripts (`train_network.py`): `ss_*` training keys and the `modelspec.*` keys
//!   it adds (`sai_model_spec` 1.0.0);
//! * llama.cpp's `gguf-py` (`GGUFWriter`): `general.*` keys and `<arch>.context_length`;
//! * civitai helpers: `<stem>.civitai.info`, civitai's model-version JSON (`id`, `modelId`,
//!   `name`, `baseModel`, `trainedWords`, `model`, `files`, `images`);
//! * Stability Matrix: `<stem>.cm-info.json` (its `ConnectedModelInfo`, PascalCase keys);
//! * A1111/Forge: `<stem>.json` user metadata (`description`, `sd version`, `activation text`,
//!   `preferred weight`, `notes`);
//! * SwarmUI: `<stem>.swarm.json` (`modelspec.*` keys as it would write them into a header).

use serde_json::json;

use crate::gguf::{GgufFile, GgufValue};

/// kohya training metadata for a LoRA: the `ss_*` keys `train_network.py` writes and the
/// `modelspec.*` keys it adds. `tag_frequency` is `(dataset, [(tag, count)])`.
pub fn kohya_lora_metadata(
    output_name: &str,
    base_model_version: &str,
    architecture: &str,
    dim: u32,
    alpha: f32,
    tag_frequency: &[(&str, &[(&str, u64)])],
) -> Vec<(String, String)> {
    let freq: serde_json::Map<String, serde_json::Value> = tag_frequency
        .iter()
        .map(|(set, tags)| {
            let t: serde_json::Map<String, serde_json::Value> = tags
                .iter()
                .map(|(k, n)| ((*k).to_owned(), json!(n)))
                .collect();
            ((*set).to_owned(), serde_json::Value::Object(t))
        })
        .collect();
    let images: u64 = tag_frequency.len() as u64 * 10;
    vec![
        ("ss_output_name".into(), output_name.into()),
        ("ss_base_model_version".into(), base_model_version.into()),
        (
            "ss_sd_model_name".into(),
            "sd_xl_base_1.0.safetensors".into(),
        ),
        ("ss_network_module".into(), "networks.lora".into()),
        ("ss_network_dim".into(), dim.to_string()),
        ("ss_network_alpha".into(), format!("{alpha:.1}")),
        ("ss_resolution".into(), "(1024, 1024)".into()),
        ("ss_num_train_images".into(), images.to_string()),
        ("ss_steps".into(), "1500".into()),
        (
            "ss_tag_frequency".into(),
            serde_json::Value::Object(freq).to_string(),
        ),
        ("modelspec.sai_model_spec".into(), "1.0.0".into()),
        ("modelspec.architecture".into(), architecture.into()),
        (
            "modelspec.implementation".into(),
            "https://github.com/Stability-AI/generative-models".into(),
        ),
        ("modelspec.title".into(), output_name.into()),
        ("modelspec.resolution".into(), "1024x1024".into()),
        ("modelspec.date".into(), "2024-05-01T12:00:00".into()),
    ]
}

/// Borrowed pairs for [`crate::write_safetensors`].
pub fn pairs(meta: &[(String, String)]) -> Vec<(&str, &str)> {
    meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A `modelspec.thumbnail` data URI holding `bytes` as `media_type`, base64 (standard).
pub fn data_uri(media_type: &str, bytes: &[u8]) -> String {
    use base64::Engine;
    let s = base64::engine::general_purpose::STANDARD.encode(bytes);
    format!("data:{media_type};base64,{s}")
}

/// Adds the `general.*` keys llama.cpp's `gguf-py` writes for a model with one base model, and
/// its context length.
#[allow(clippy::too_many_arguments)]
pub fn gguf_general(
    f: &mut GgufFile,
    arch: &str,
    name: &str,
    basename: &str,
    finetune: &str,
    size_label: &str,
    license: &str,
    quantized_by: &str,
    base: (&str, &str, &str),
    context_length: u32,
) {
    f.kv("general.architecture", GgufValue::Str(arch.into()))
        .kv("general.type", GgufValue::Str("model".into()))
        .kv("general.name", GgufValue::Str(name.into()))
        .kv("general.basename", GgufValue::Str(basename.into()))
        .kv("general.finetune", GgufValue::Str(finetune.into()))
        .kv("general.size_label", GgufValue::Str(size_label.into()))
        .kv("general.license", GgufValue::Str(license.into()))
        .kv("general.quantized_by", GgufValue::Str(quantized_by.into()))
        .kv("general.base_model.count", GgufValue::U32(1))
        .kv("general.base_model.0.name", GgufValue::Str(base.0.into()))
        .kv(
            "general.base_model.0.organization",
            GgufValue::Str(base.1.into()),
        )
        .kv(
            "general.base_model.0.repo_url",
            GgufValue::Str(base.2.into()),
        )
        .kv(
            &format!("{arch}.context_length"),
            GgufValue::U32(context_length),
        );
}

/// A `<stem>.civitai.info` (civitai's model-version JSON, as civitai helpers save it).
pub fn civitai_info(
    model_id: u64,
    version_id: u64,
    base_model: &str,
    trained_words: &[&str],
    model_name: &str,
    model_type: &str,
) -> String {
    json!({
        "id": version_id,
        "modelId": model_id,
        "name": "v1.0",
        "createdAt": "2024-05-01T12:00:00.000Z",
        "baseModel": base_model,
        "baseModelType": "Standard",
        "trainedWords": trained_words,
        "description": null,
        "model": { "name": model_name, "type": model_type, "nsfw": false, "poi": false },
        "files": [{ "id": version_id + 1, "name": "file.safetensors", "type": "Model",
                    "hashes": { "AutoV2": "0123456789" }, "primary": true }],
        "images": [],
        "downloadUrl": format!("https://civitai.com/api/download/models/{version_id}"),
    })
    .to_string()
}

/// A `<stem>.cm-info.json` (Stability Matrix's `ConnectedModelInfo`).
pub fn cm_info(
    model_id: u64,
    version_id: u64,
    base_model: &str,
    trained_words: &[&str],
    model_name: &str,
    model_type: &str,
) -> String {
    json!({
        "ModelId": model_id,
        "ModelName": model_name,
        "ModelDescription": "",
        "Nsfw": false,
        "Tags": [],
        "ModelType": model_type,
        "VersionId": version_id,
        "VersionName": "v1.0",
        "VersionDescription": null,
        "BaseModel": base_model,
        "FileMetadata": { "Format": "SafeTensor", "Size": "Pruned", "Fp": "Fp16" },
        "ImportedAt": "2024-05-01T12:00:00+00:00",
        "Hashes": { "SHA256": "0123456789ABCDEF", "BLAKE3": null },
        "TrainedWords": trained_words,
        "ThumbnailImageUrl": null,
    })
    .to_string()
}

/// A `<stem>.json` (A1111/Forge extra-networks user metadata).
pub fn a1111_json(activation_text: &str, sd_version: &str, preferred_weight: f64) -> String {
    json!({
        "description": "",
        "sd version": sd_version,
        "activation text": activation_text,
        "preferred weight": preferred_weight,
        "negative text": "",
        "notes": "",
    })
    .to_string()
}

/// A `<stem>.swarm.json` (SwarmUI's metadata for a file it does not rewrite).
pub fn swarm_json(title: &str, architecture: &str, trigger_phrase: &str, author: &str) -> String {
    json!({
        "modelspec.title": title,
        "modelspec.architecture": architecture,
        "modelspec.author": author,
        "modelspec.trigger_phrase": trigger_phrase,
        "modelspec.usage_hint": "",
        "modelspec.date": "2024-05-01",
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uri_is_standard_base64() {
        assert_eq!(data_uri("image/png", b"Man"), "data:image/png;base64,TWFu");
        assert_eq!(data_uri("image/png", b"Ma"), "data:image/png;base64,TWE=");
        assert_eq!(data_uri("image/png", b"M"), "data:image/png;base64,TQ==");
    }

    #[test]
    fn kohya_keys_are_kohyas() {
        let m = kohya_lora_metadata(
            "x",
            "sdxl_base_v1-0",
            "a/lora",
            16,
            8.0,
            &[("1_x", &[("t", 2)])],
        );
        let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert!(keys.contains(&"ss_tag_frequency"));
        assert_eq!(
            m.iter().find(|(k, _)| k == "ss_network_alpha").unwrap().1,
            "8.0"
        );
    }
}
