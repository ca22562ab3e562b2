//! Which kinds of model each well-known UI folder is meant to hold: ComfyUI, AUTOMATIC1111 /
//! Forge and InvokeAI folder names, as data.
//!
//! A *kind* is the second part of a MIR ID (`mir:model.<kind>.<series>`): `unet` and `dit` are
//! diffusion models (all-in-one checkpoints included), `lora` every LoRA-like adapter (LyCORIS,
//! LoHa, DoRA…), `vae`, `controlnet`, `adapter` (IP-Adapter, T2I-Adapter, Redux), `embedding`
//! (textual inversion), `art` (language models), `transformer` (text encoders such as CLIP-L or
//! T5), `vit` (vision encoders) and `gan` (upscalers and restorers).
//!
//! Folder names are compared case-insensitively; a file is judged by the nearest folder above it
//! whose name is in the table (so `loras/sdxl/x.safetensors` is in `loras`). InvokeAI's type
//! folders (`main`, `lora`, …) count only under one of InvokeAI's base folders (`sdxl/lora/`),
//! because names such as `main` are common elsewhere.

/// One folder name and the kinds it is meant for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FolderRule {
    /// The application whose layout this is (`ComfyUI`, `A1111`, `InvokeAI`).
    pub app: &'static str,
    /// The folder name.
    pub folder: &'static str,
    /// When set, the folder counts only when its parent folder has one of these names.
    pub parent: Option<&'static [&'static str]>,
    /// The MIR kinds the folder is meant to hold.
    pub kinds: &'static [&'static str],
}

const DIFFUSION: &[&str] = &["unet", "dit"];
const LORA: &[&str] = &["lora"];
const VAE: &[&str] = &["vae"];
const CONTROL: &[&str] = &["controlnet", "adapter"];
const ADAPTER: &[&str] = &["adapter"];
const TEXT_ENCODER: &[&str] = &["art", "transformer", "vit"];
const VISION: &[&str] = &["vit"];
const EMBEDDING: &[&str] = &["embedding"];
const UPSCALER: &[&str] = &["gan"];

/// InvokeAI's base-model folders (`models/<base>/<type>/`).
const INVOKE_BASES: &[&str] = &[
    "any",
    "sd-1",
    "sd-2",
    "sd-3",
    "sdxl",
    "sdxl-refiner",
    "flux",
    "flux2",
    "cogview4",
    "imagen3",
    "imagen4",
    "chatgpt-4o",
    "z-image",
    "qwen-image",
];

/// The folder table. ComfyUI's names come from its `folder_paths.py`; A1111's from its
/// `models/` folder (and the extensions that add `ControlNet`, `LyCORIS`); InvokeAI's from its
/// model manager's `models/<base>/<type>` layout.
pub const FOLDER_RULES: &[FolderRule] = &[
    rule("ComfyUI", "checkpoints", DIFFUSION),
    rule("ComfyUI", "diffusion_models", DIFFUSION),
    rule("ComfyUI", "unet", DIFFUSION),
    // ComfyUI loads LoRA-shaped adapters (Control-LoRA, IP-Adapter FaceID LoRAs) from here too.
    rule("ComfyUI", "loras", &["lora", "adapter"]),
    rule("ComfyUI", "lycoris", LORA),
    rule("ComfyUI", "vae", VAE),
    rule("ComfyUI", "vae_approx", VAE),
    rule("ComfyUI", "controlnet", CONTROL),
    rule("ComfyUI", "t2i_adapter", CONTROL),
    rule("ComfyUI", "ipadapter", ADAPTER),
    rule("ComfyUI", "style_models", ADAPTER),
    rule("ComfyUI", "clip", TEXT_ENCODER),
    rule("ComfyUI", "text_encoders", TEXT_ENCODER),
    rule("ComfyUI", "LLM", &["art"]),
    rule("ComfyUI", "clip_vision", VISION),
    rule("ComfyUI", "embeddings", EMBEDDING),
    rule("ComfyUI", "upscale_models", UPSCALER),
    rule("A1111", "Stable-diffusion", DIFFUSION),
    rule("A1111", "Lora", LORA),
    rule("A1111", "LyCORIS", LORA),
    rule("A1111", "VAE", VAE),
    rule("A1111", "VAE-approx", VAE),
    rule("A1111", "ControlNet", CONTROL),
    rule("A1111", "ESRGAN", UPSCALER),
    rule("A1111", "RealESRGAN", UPSCALER),
    rule("A1111", "SwinIR", UPSCALER),
    rule("A1111", "DAT", UPSCALER),
    rule("A1111", "embeddings", EMBEDDING),
    invoke("main", DIFFUSION),
    invoke("lora", LORA),
    invoke("vae", VAE),
    invoke("controlnet", CONTROL),
    invoke("t2i_adapter", CONTROL),
    invoke("ip_adapter", ADAPTER),
    invoke("embedding", EMBEDDING),
    invoke("clip_vision", VISION),
    invoke("clip_embed", TEXT_ENCODER),
    invoke("t5_encoder", TEXT_ENCODER),
    invoke("qwen3_encoder", TEXT_ENCODER),
    invoke("spandrel_image_to_image", UPSCALER),
];

const fn rule(
    app: &'static str,
    folder: &'static str,
    kinds: &'static [&'static str],
) -> FolderRule {
    FolderRule {
        app,
        folder,
        parent: None,
        kinds,
    }
}

const fn invoke(folder: &'static str, kinds: &'static [&'static str]) -> FolderRule {
    FolderRule {
        app: "InvokeAI",
        folder,
        parent: Some(INVOKE_BASES),
        kinds,
    }
}

/// The folder a file at `path` sits in, as the table sees it: the nearest folder above the file
/// that the table names, with every rule that names it (several apps may share a name). `None`
/// when no folder above the file is in the table.
pub fn folder_of(path: &str) -> Option<(String, Vec<&'static FolderRule>)> {
    let parts: Vec<&str> = path
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    // Every part but the last (the file's own name), nearest first.
    let dirs = parts.len().checked_sub(1)?;
    for i in (0..dirs).rev() {
        let name = parts[i];
        let parent = i.checked_sub(1).map(|j| parts[j]);
        let rules: Vec<&'static FolderRule> = FOLDER_RULES
            .iter()
            .filter(|r| r.folder.eq_ignore_ascii_case(name))
            .filter(|r| match (r.parent, parent) {
                (None, _) => true,
                (Some(allowed), Some(p)) => allowed.iter().any(|a| a.eq_ignore_ascii_case(p)),
                (Some(_), None) => false,
            })
            .collect();
        if !rules.is_empty() {
            return Some((name.to_owned(), rules));
        }
    }
    None
}

/// Folder names (of any app) meant for `kind`, in table order without repeats.
pub fn folders_for(kind: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in FOLDER_RULES.iter().filter(|r| r.kinds.contains(&kind)) {
        if !out.iter().any(|f| f.eq_ignore_ascii_case(r.folder)) {
            out.push(r.folder);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_known_folder_decides() {
        let (name, rules) = folder_of("/m/ComfyUI/models/loras/sdxl/x.safetensors").unwrap();
        assert_eq!(name, "loras");
        assert!(rules.iter().all(|r| r.kinds.contains(&"lora")));
        let (name, _) = folder_of("models/checkpoints/vae/x.safetensors").unwrap();
        assert_eq!(name, "vae", "the nearest folder wins");
        let (name, rules) = folder_of("C:\\sd\\models\\Stable-diffusion\\a.ckpt").unwrap();
        assert_eq!(name, "Stable-diffusion");
        assert_eq!(rules[0].app, "A1111");
    }

    #[test]
    fn invoke_type_folders_need_a_base_folder() {
        assert!(folder_of("/projects/main/x.safetensors").is_none());
        let (name, rules) = folder_of("/invoke/models/sdxl/main/x.safetensors").unwrap();
        assert_eq!(name, "main");
        assert_eq!(rules[0].app, "InvokeAI");
        // A file directly in a known folder name is judged; its own name is never a folder.
        assert!(folder_of("loras").is_none());
        assert!(folder_of("checkpoints.safetensors").is_none());
    }

    #[test]
    fn case_insensitive_names_merge_apps() {
        let (_, rules) = folder_of("x/VAE/y.safetensors").unwrap();
        let apps: Vec<&str> = rules.iter().map(|r| r.app).collect();
        assert!(
            apps.contains(&"ComfyUI") && apps.contains(&"A1111"),
            "{apps:?}"
        );
        assert_eq!(folders_for("vae"), vec!["vae", "vae_approx", "VAE-approx"]);
        assert!(folders_for("lora").contains(&"Lora") || folders_for("lora").contains(&"loras"));
        assert!(folders_for("nothing").is_empty());
    }
}
