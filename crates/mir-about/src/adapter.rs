//! The shape of a LoRA-like adapter from its tensor names and shapes: rank (the first dimension
//! of `lora_down`/`lora_A`), the parts it targets and the blocks it covers. Alpha is a tensor's
//! *value* (`.alpha` scalars), which a header does not hold: it comes from metadata
//! (`ss_network_alpha`) or a PEFT `adapter_config.json` (`lora_alpha`).

use std::collections::{BTreeMap, BTreeSet};

use mir_core::TensorIndex;
use serde::{Deserialize, Serialize};

/// A LoRA-like adapter's shape.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Adapter {
    /// The algorithm: `lora` (incl. LoCon), `loha`, `lokr`.
    pub algo: String,
    /// The rank most of its down projections have.
    pub rank: Option<u64>,
    /// Every distinct rank, when they differ (smallest first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranks: Vec<u64>,
    /// Alpha, from metadata or `adapter_config.json` (a header does not hold tensor values).
    pub alpha: Option<f64>,
    /// True when the file has `.alpha` tensors (their values need the tensor data).
    #[serde(default)]
    pub alpha_tensors: bool,
    /// The parts it targets: `unet`, `dit`, `text_encoder_1`, `text_encoder_2`, `text_encoder_3`,
    /// `language_model` (an LLM's LoRA: llama.cpp `blk.N.*`, PEFT `model.layers.N.*`).
    pub targets: Vec<String>,
    /// Block coverage: `<target>.<group>` → number of distinct blocks touched (e.g.
    /// `dit.double_blocks`: 19, `unet.input_blocks`: 6).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub blocks: BTreeMap<String, usize>,
    /// Modules adapted (distinct module names).
    pub modules: usize,
}

/// Down-projection suffixes (the rank is their first dimension) and the algorithm they name.
const DOWN: &[(&str, &str)] = &[
    (".lora_down.weight", "lora"),
    (".lora_A.weight", "lora"),
    (".lora_A.default.weight", "lora"),
    (".down.weight", "lora"),
    (".hada_w1_a", "loha"),
    (".lokr_w1", "lokr"),
    (".lokr_w1_a", "lokr"),
    // llama.cpp's LoRA GGUF (`convert_lora_to_gguf.py`): `<tensor>.lora_a` is [rank, in].
    (".lora_a", "lora"),
];
/// Every suffix of an adapter tensor (to find its module name).
const SUFFIXES: &[&str] = &[
    ".lora_down.weight",
    ".lora_up.weight",
    ".lora_A.weight",
    ".lora_B.weight",
    ".lora_A.default.weight",
    ".lora_B.default.weight",
    ".lora_mid.weight",
    ".alpha",
    ".hada_w1_a",
    ".hada_w1_b",
    ".hada_w2_a",
    ".hada_w2_b",
    ".lokr_w1",
    ".lokr_w2",
    ".lokr_w1_a",
    ".lokr_w1_b",
    ".lokr_w2_a",
    ".lokr_w2_b",
    ".lora_a",
    ".lora_b",
];

/// False when `name` ends with none of [`SUFFIXES`], decided from its last one or two
/// dot-separated segments (every suffix starts at a dot): most tensors of a base model end in
/// `.<module>.weight` with a module that is no adapter part, and are passed over without 20
/// suffix comparisons each.
fn may_end_with_a_suffix(name: &str) -> bool {
    let Some((head, last)) = name.rsplit_once('.') else {
        return false;
    };
    if last != "weight" {
        return matches!(
            last,
            "alpha"
                | "hada_w1_a"
                | "hada_w1_b"
                | "hada_w2_a"
                | "hada_w2_b"
                | "lokr_w1"
                | "lokr_w2"
                | "lokr_w1_a"
                | "lokr_w1_b"
                | "lokr_w2_a"
                | "lokr_w2_b"
                | "lora_a"
                | "lora_b"
        );
    }
    let part = head.rsplit_once('.').map_or(head, |(_, p)| p);
    matches!(
        part,
        "lora_down" | "lora_up" | "lora_A" | "lora_B" | "lora_mid" | "default"
    )
}

/// Block groups, longest first so `single_transformer_blocks` wins over `transformer_blocks`.
const GROUPS: &[&str] = &[
    "single_transformer_blocks",
    "transformer_blocks",
    "double_blocks",
    "single_blocks",
    "joint_blocks",
    "input_blocks",
    "output_blocks",
    "down_blocks",
    "up_blocks",
    "layers",
    "blocks",
    "blk",
];
/// Groups without an index.
const SINGLE: &[&str] = &["middle_block", "mid_block"];

/// The adapter shape of `index`, when it holds LoRA-like tensors.
pub fn detect(index: &TensorIndex) -> Option<Adapter> {
    let mut ranks: BTreeMap<u64, usize> = BTreeMap::new();
    let mut algos: BTreeMap<&str, usize> = BTreeMap::new();
    // Order does not matter (targets and blocks are sets): hashed, not compared name by name
    // (foldhash, seeded per process: names are the file's, so no fixed seed to collide against).
    let mut modules: foldhash::HashSet<&str> = foldhash::HashSet::default();
    let mut alpha_tensors = false;
    for t in &index.tensors {
        if !may_end_with_a_suffix(&t.name) {
            continue;
        }
        let Some(module) = SUFFIXES.iter().find_map(|s| t.name.strip_suffix(s)) else {
            continue;
        };
        if t.name.ends_with(".alpha") {
            // `.alpha` alone does not make an adapter (some models have alpha parameters).
            alpha_tensors = true;
            continue;
        }
        modules.insert(module);
        if let Some((_, algo)) = DOWN.iter().find(|(s, _)| t.name.ends_with(s)) {
            *algos.entry(algo).or_default() += 1;
            if *algo == "lora"
                && let Some(&r) = t.shape.first()
            {
                *ranks.entry(r).or_default() += 1;
            }
        }
    }
    if modules.is_empty() {
        return None;
    }
    let algo = algos
        .iter()
        .max_by_key(|(_, n)| **n)
        .map_or("lora", |(a, _)| *a)
        .to_owned();
    let rank = ranks
        .iter()
        .max_by_key(|(r, n)| (**n, **r))
        .map(|(r, _)| *r);
    let mut targets: BTreeSet<&'static str> = BTreeSet::new();
    let mut blocks: BTreeMap<(&'static str, &'static str), BTreeSet<u64>> = BTreeMap::new();
    for m in &modules {
        let (target, rest) = target_of(m);
        targets.insert(target);
        if let Some((group, idx)) = block_of(rest) {
            blocks.entry((target, group)).or_default().insert(idx);
        }
    }
    Some(Adapter {
        algo,
        rank,
        ranks: if ranks.len() > 1 {
            ranks.keys().copied().collect()
        } else {
            Vec::new()
        },
        alpha: None,
        alpha_tensors,
        targets: targets.into_iter().map(str::to_owned).collect(),
        blocks: blocks
            .into_iter()
            .map(|((target, group), v)| (format!("{target}.{group}"), v.len()))
            .collect(),
        modules: modules.len(),
    })
}

/// Prefixes naming a target, and the target (`None`: decide unet or dit from the block names).
const PREFIXES: &[(&str, Option<&str>)] = &[
    ("lora_te1_", Some("text_encoder_1")),
    ("lora_te2_", Some("text_encoder_2")),
    ("lora_te3_", Some("text_encoder_3")),
    ("lora_te_", Some("text_encoder_1")),
    ("text_encoder_2.", Some("text_encoder_2")),
    ("text_encoder_3.", Some("text_encoder_3")),
    ("text_encoder.", Some("text_encoder_1")),
    ("te1.", Some("text_encoder_1")),
    ("te2.", Some("text_encoder_2")),
    ("lora_transformer_", Some("dit")),
    ("transformer.", Some("dit")),
    ("lora_unet_", None),
    ("unet.", Some("unet")),
    ("diffusion_model.", None),
    ("model.diffusion_model.", None),
    ("base_model.model.", None),
];

/// The target a module name belongs to, and the rest of the name.
fn target_of(module: &str) -> (&'static str, &str) {
    for (p, t) in PREFIXES {
        if let Some(rest) = module.strip_prefix(p) {
            return (t.unwrap_or_else(|| denoiser_of(rest)), rest);
        }
    }
    (denoiser_of(module), module)
}

/// `unet` for UNet block names (`input_blocks`, `down_blocks`, …), `language_model` for an
/// LLM's layers, else `dit`.
fn denoiser_of(rest: &str) -> &'static str {
    const LLM: &[&str] = &[
        "blk.",
        "model.layers.",
        "layers.",
        "model.embed_tokens",
        "lm_head",
    ];
    if LLM.iter().any(|p| rest.starts_with(p)) {
        return "language_model";
    }
    const UNET: &[&str] = &[
        "input_blocks",
        "middle_block",
        "output_blocks",
        "down_blocks",
        "mid_block",
        "up_blocks",
    ];
    if UNET.iter().any(|u| rest.starts_with(u)) {
        "unet"
    } else {
        "dit"
    }
}

/// The first block group in a module name and its index (`double_blocks_3_img_attn` →
/// (`double_blocks`, 3); `mid_block.attentions.0` → (`mid_block`, 0)). Names may be joined by
/// `.` (diffusers/PEFT) or `_` (kohya).
fn block_of(rest: &str) -> Option<(&'static str, u64)> {
    let bytes = rest.as_bytes();
    for start in 0..bytes.len() {
        let at_boundary = start == 0 || matches!(bytes.get(start - 1), Some(b'.' | b'_'));
        if !at_boundary {
            continue;
        }
        let tail = rest.get(start..)?;
        for s in SINGLE {
            if tail.starts_with(s) {
                return Some((s, 0));
            }
        }
        for g in GROUPS {
            if let Some(after) = tail.strip_prefix(g)
                && let Some(num) = after.strip_prefix(['.', '_'])
            {
                let digits: &str = num
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap_or("");
                if let Ok(n) = digits.parse() {
                    return Some((g, n));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_prefilter_passes_every_name_a_suffix_ends() {
        for suffix in super::SUFFIXES
            .iter()
            .chain(super::DOWN.iter().map(|(s, _)| s))
        {
            for stem in ["m", "a.b_c", "lora_unet_x", ""] {
                let name = format!("{stem}{suffix}");
                let ends = super::SUFFIXES.iter().any(|s| name.ends_with(s));
                assert!(
                    !ends || super::may_end_with_a_suffix(&name),
                    "{name} ends with an adapter suffix but the prefilter drops it"
                );
            }
        }
        for plain in ["a.to_k.weight", "a.alpha_x", "weight", "a.down.bias", "x"] {
            assert!(!super::may_end_with_a_suffix(plain), "{plain}");
        }
    }

    use super::*;
    use mir_core::{Dtype, TensorRecord};

    fn index(names: &[(&str, &[u64])]) -> TensorIndex {
        let mut i = TensorIndex::new("safetensors");
        for (n, s) in names {
            i.tensors
                .push(TensorRecord::new(*n, Dtype::F16, s.to_vec()));
        }
        i
    }

    #[test]
    fn kohya_sdxl_lora_rank_targets_blocks() {
        let i = index(&[
            (
                "lora_unet_input_blocks_4_1_proj_in.lora_down.weight",
                &[16, 640],
            ),
            (
                "lora_unet_input_blocks_4_1_proj_in.lora_up.weight",
                &[640, 16],
            ),
            ("lora_unet_input_blocks_4_1_proj_in.alpha", &[]),
            (
                "lora_unet_output_blocks_0_1_proj_in.lora_down.weight",
                &[16, 1280],
            ),
            (
                "lora_unet_middle_block_1_proj_in.lora_down.weight",
                &[16, 1280],
            ),
            (
                "lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight",
                &[8, 768],
            ),
            (
                "lora_te2_text_model_encoder_layers_3_mlp_fc1.lora_down.weight",
                &[16, 1280],
            ),
        ]);
        let a = detect(&i).unwrap();
        assert_eq!(a.algo, "lora");
        assert_eq!(a.rank, Some(16));
        assert_eq!(a.ranks, vec![8, 16]);
        assert!(a.alpha_tensors);
        assert_eq!(a.targets, vec!["text_encoder_1", "text_encoder_2", "unet"]);
        assert_eq!(a.blocks["unet.input_blocks"], 1);
        assert_eq!(a.blocks["unet.middle_block"], 1);
        assert_eq!(a.blocks["text_encoder_2.layers"], 1);
        assert_eq!(a.modules, 5);
    }

    #[test]
    fn flux_loras_target_the_dit() {
        let kohya = index(&[
            (
                "lora_unet_double_blocks_0_img_attn_proj.lora_down.weight",
                &[32, 3072],
            ),
            (
                "lora_unet_double_blocks_18_img_attn_proj.lora_down.weight",
                &[32, 3072],
            ),
            (
                "lora_unet_single_blocks_37_linear1.lora_down.weight",
                &[32, 3072],
            ),
        ]);
        let a = detect(&kohya).unwrap();
        assert_eq!(a.targets, vec!["dit"]);
        assert_eq!(a.blocks["dit.double_blocks"], 2);
        assert_eq!(a.blocks["dit.single_blocks"], 1);
        let peft = index(&[
            (
                "transformer.single_transformer_blocks.3.attn.to_q.lora_A.weight",
                &[4, 3072],
            ),
            (
                "transformer.transformer_blocks.0.attn.to_q.lora_A.weight",
                &[4, 3072],
            ),
            (
                "transformer.transformer_blocks.0.attn.to_q.lora_B.weight",
                &[3072, 4],
            ),
        ]);
        let a = detect(&peft).unwrap();
        assert_eq!(a.rank, Some(4));
        assert_eq!(a.targets, vec!["dit"]);
        assert_eq!(a.blocks["dit.single_transformer_blocks"], 1);
        assert_eq!(a.blocks["dit.transformer_blocks"], 1);
    }

    #[test]
    fn a_checkpoint_is_not_an_adapter() {
        let i = index(&[
            (
                "model.diffusion_model.input_blocks.0.0.weight",
                &[320, 4, 3, 3],
            ),
            ("time_embed.alpha", &[]),
        ]);
        assert_eq!(detect(&i), None);
    }

    #[test]
    fn llm_loras_target_the_language_model() {
        let gguf = index(&[
            ("blk.0.attn_q.weight.lora_a", &[16, 4096]),
            ("blk.0.attn_q.weight.lora_b", &[4096, 16]),
            ("blk.1.attn_q.weight.lora_a", &[16, 4096]),
        ]);
        let a = detect(&gguf).unwrap();
        assert_eq!(a.rank, Some(16));
        assert_eq!(a.targets, vec!["language_model"]);
        assert_eq!(a.blocks["language_model.blk"], 2);
        let peft = index(&[(
            "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight",
            &[8, 4096],
        )]);
        let a = detect(&peft).unwrap();
        assert_eq!(a.targets, vec!["language_model"]);
        assert_eq!(a.blocks["language_model.layers"], 1);
    }

    #[test]
    fn loha_and_lokr_are_named() {
        let i = index(&[
            (
                "lora_unet_down_blocks_0_attentions_0_proj_in.hada_w1_a",
                &[640, 8],
            ),
            (
                "lora_unet_down_blocks_0_attentions_0_proj_in.hada_w1_b",
                &[8, 640],
            ),
        ]);
        let a = detect(&i).unwrap();
        assert_eq!(a.algo, "loha");
        assert_eq!(a.targets, vec!["unet"]);
        assert_eq!(a.blocks["unet.down_blocks"], 1);
    }
}
