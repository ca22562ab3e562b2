//! Real tensor layouts for benches and the synthetic library: diffusion checkpoints, LoRAs, VAEs
//! and text encoders from the model-toolkit key lists in `fixtures/reference`, and LLMs (Hugging Face
//! llama names for safetensors, llama.cpp names for GGUF) built from their published
//! configurations.

use std::collections::HashMap;

use mir_core::Dtype;
use mir_testkit::gguf::{GgufFile, GgufTensor, GgufValue, ggml};
use mir_testkit::{SpecTensor, parse_spec};

use crate::toolkit_dir;

/// The LoRA rank used where the key lists leave it open (`-1`).
pub const LORA_RANK: u64 = 16;

/// The text of a model-toolkit component list. Panics (loudly) when it is missing.
pub fn component_text(name: &str) -> String {
    let path = toolkit_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A component list with `prefix` prepended to every name and `dtype` for every tensor.
pub fn component(name: &str, prefix: &str, dtype: &Dtype) -> Vec<SpecTensor> {
    let mut spec = parse_spec(&component_text(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    for t in &mut spec {
        t.name = format!("{prefix}{}", t.name);
        t.dtype = dtype.clone();
    }
    spec
}

fn dedup(mut spec: Vec<SpecTensor>) -> Vec<SpecTensor> {
    let mut seen = std::collections::HashSet::new();
    spec.retain(|t| seen.insert(t.name.clone()));
    spec
}

/// An all-in-one SDXL checkpoint (original layout): UNet, CLIP-L, OpenCLIP-G and VAE.
pub fn sdxl_checkpoint(dtype: &Dtype) -> Vec<SpecTensor> {
    let mut spec = component("UNET-XL-SD.txt", "model.diffusion_model.", dtype);
    spec.extend(component(
        "CLIP-v1-SD.txt",
        "conditioner.embedders.0.transformer.text_model.",
        dtype,
    ));
    spec.extend(component(
        "CLIP-XL-SD.txt",
        "conditioner.embedders.1.model.",
        dtype,
    ));
    spec.extend(component("VAE-vX-S.txt", "first_stage_model.", dtype));
    dedup(spec)
}

/// An all-in-one SD 1.x checkpoint (original layout): UNet, CLIP-L and VAE.
pub fn sd1_checkpoint(dtype: &Dtype) -> Vec<SpecTensor> {
    let mut spec = component("UNET-v1-SD.txt", "model.diffusion_model.", dtype);
    spec.extend(component(
        "CLIP-v1-SD.txt",
        "cond_stage_model.transformer.text_model.",
        dtype,
    ));
    spec.extend(component("VAE-v1-SD.txt", "first_stage_model.", dtype));
    dedup(spec)
}

/// Maps a LoRA module name (`input_blocks_4_1_proj_in`) to the shape of the weight it adapts,
/// from a base model's key list (`input_blocks.4.1.proj_in.weight`).
fn module_shapes(list: &str, prefix: &str) -> HashMap<String, Vec<u64>> {
    component(list, "", &Dtype::F16)
        .into_iter()
        .filter_map(|t| {
            let module = t.name.strip_suffix(".weight")?;
            Some((format!("{prefix}{}", module.replace('.', "_")), t.shape))
        })
        .collect()
}

/// A kohya-style LoRA from toolkit LoRA lists: `-1` (open) dimensions become the adapted
/// weight's real in/out dimensions (looked up in the base model's list) and rank
/// [`LORA_RANK`]; where the base weight is not known, the rank position gets the rank and the
/// other open dimensions 1.
pub fn lora(lists: &[(&str, &str, &str)]) -> Vec<SpecTensor> {
    let mut out = Vec::new();
    for (list, base_list, base_prefix) in lists {
        let bases = module_shapes(base_list, base_prefix);
        for mut t in component(list, "", &Dtype::F16) {
            let (module, part) = match t.name.split_once('.') {
                Some((m, p)) => (m, p),
                None => (t.name.as_str(), ""),
            };
            let module = module
                .strip_prefix("lora_unet_")
                .or_else(|| module.strip_prefix("lora_te1_"))
                .or_else(|| module.strip_prefix("lora_te2_"))
                .or_else(|| module.strip_prefix("lora_te_"))
                .unwrap_or(module);
            let base = bases.get(module).filter(|b| b.len() == t.shape.len());
            t.shape = match (part, base) {
                ("lora_down.weight", Some(b)) => {
                    let mut s = b.clone();
                    s[0] = LORA_RANK;
                    s
                }
                ("lora_up.weight", Some(b)) => {
                    let mut s = vec![b[0], LORA_RANK];
                    s.resize(b.len(), 1);
                    s
                }
                ("lora_down.weight", None) => set_rank(t.shape, 0),
                ("lora_up.weight", None) => set_rank(t.shape, 1),
                _ => t.shape,
            };
            out.push(t);
        }
    }
    dedup(out)
}

fn set_rank(mut shape: Vec<u64>, at: usize) -> Vec<u64> {
    if let Some(d) = shape.get_mut(at) {
        *d = LORA_RANK;
    }
    shape
}

/// An SDXL LoRA (UNet and both text encoders), or UNet-only when `unet_only`.
pub fn sdxl_lora(unet_only: bool) -> Vec<SpecTensor> {
    let mut lists = vec![("LoRA-XL-UNET.txt", "UNET-XL-SD.txt", "")];
    if !unet_only {
        lists.push(("LoRA-XL-AUX-CLIP.txt", "CLIP-v1-SD.txt", "text_model_"));
        lists.push(("LoRA-XL-CLIP.txt", "CLIP-v3-G.txt", ""));
    }
    lora(&lists)
}

/// An SD 1.x LoRA (diffusers-named UNet modules and the text encoder).
pub fn sd1_lora() -> Vec<SpecTensor> {
    lora(&[
        ("LoRA-v1-UNET.txt", "UNET-v1-SD.txt", ""),
        ("LoRA-v1-CLIP.txt", "CLIP-v1-SD.txt", "text_model_"),
    ])
}

/// kohya training metadata of a realistic size (a tag-frequency table of a few KB).
pub fn lora_metadata(base: &str) -> Vec<(String, String)> {
    let tags: Vec<String> = (0..120)
        .map(|i| format!("\"tag_{i}_{}\": {}", syllables(i, 3), 200 - i))
        .collect();
    vec![
        ("ss_base_model_version".into(), base.into()),
        ("ss_network_module".into(), "networks.lora".into()),
        ("ss_network_dim".into(), LORA_RANK.to_string()),
        ("ss_network_alpha".into(), "8.0".into()),
        ("ss_learning_rate".into(), "0.0001".into()),
        ("ss_num_train_images".into(), "1200".into()),
        (
            "ss_tag_frequency".into(),
            format!("{{\"img\": {{{}}}}}", tags.join(", ")),
        ),
    ]
}

/// A standalone VAE: SD1 (`VAE-v1-SD`), SDXL (`VAE-vX-S`) or SD3 (`VAE-v3-SD`).
pub fn vae(list: &str) -> Vec<SpecTensor> {
    component(list, "", &Dtype::F16)
}

/// A standalone text encoder: `CLIP-v3-L.txt`, `CLIP-v3-G.txt` or `CLIP-v3-T5.txt`.
pub fn text_encoder(list: &str) -> Vec<SpecTensor> {
    component(list, "", &Dtype::F16)
}

/// A decoder-only transformer's configuration (the few fields that decide its tensor list).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LlmConfig {
    /// Short name used in file names and `general.name`.
    pub name: &'static str,
    /// Hidden size.
    pub hidden: u64,
    /// Feed-forward size.
    pub ffn: u64,
    /// Transformer blocks.
    pub layers: u64,
    /// Key/value projection rows (heads_kv × head_dim).
    pub kv: u64,
    /// Vocabulary size.
    pub vocab: u64,
    /// Whether q/k/v carry biases (Qwen2).
    pub qkv_bias: bool,
    /// GPT-2 style BPE tokenizer with merges (else sentencepiece `llama` with scores).
    pub bpe: bool,
}

/// TinyLlama 1.1B (32k vocabulary).
pub const TINYLLAMA: LlmConfig = LlmConfig {
    name: "tinyllama-1.1b",
    hidden: 2048,
    ffn: 5632,
    layers: 22,
    kv: 256,
    vocab: 32000,
    qkv_bias: false,
    bpe: false,
};

/// Llama 2 7B (32k vocabulary).
pub const LLAMA2_7B: LlmConfig = LlmConfig {
    name: "llama-2-7b",
    hidden: 4096,
    ffn: 11008,
    layers: 32,
    kv: 4096,
    vocab: 32000,
    qkv_bias: false,
    bpe: false,
};

/// Mistral 7B (32k vocabulary, grouped-query attention).
pub const MISTRAL_7B: LlmConfig = LlmConfig {
    name: "mistral-7b",
    hidden: 4096,
    ffn: 14336,
    layers: 32,
    kv: 1024,
    vocab: 32000,
    qkv_bias: false,
    bpe: false,
};

/// Qwen2.5 7B (152k vocabulary with BPE merges).
pub const QWEN25_7B: LlmConfig = LlmConfig {
    name: "qwen2.5-7b",
    hidden: 3584,
    ffn: 18944,
    layers: 28,
    kv: 512,
    vocab: 152064,
    qkv_bias: true,
    bpe: true,
};

/// Hugging Face llama-style names and PyTorch shapes, grouped per block (index 0 holds the
/// embeddings, the last group the final norm and head) so shards can split on block boundaries.
pub fn llama_hf_blocks(c: &LlmConfig, dtype: &Dtype) -> Vec<Vec<SpecTensor>> {
    let t = |name: String, shape: Vec<u64>| SpecTensor {
        name,
        dtype: dtype.clone(),
        shape,
    };
    let mut groups = vec![vec![t(
        "model.embed_tokens.weight".into(),
        vec![c.vocab, c.hidden],
    )]];
    for b in 0..c.layers {
        let p = format!("model.layers.{b}");
        let mut g = vec![
            t(format!("{p}.input_layernorm.weight"), vec![c.hidden]),
            t(
                format!("{p}.self_attn.q_proj.weight"),
                vec![c.hidden, c.hidden],
            ),
            t(format!("{p}.self_attn.k_proj.weight"), vec![c.kv, c.hidden]),
            t(format!("{p}.self_attn.v_proj.weight"), vec![c.kv, c.hidden]),
            t(
                format!("{p}.self_attn.o_proj.weight"),
                vec![c.hidden, c.hidden],
            ),
            t(
                format!("{p}.post_attention_layernorm.weight"),
                vec![c.hidden],
            ),
            t(format!("{p}.mlp.gate_proj.weight"), vec![c.ffn, c.hidden]),
            t(format!("{p}.mlp.up_proj.weight"), vec![c.ffn, c.hidden]),
            t(format!("{p}.mlp.down_proj.weight"), vec![c.hidden, c.ffn]),
        ];
        if c.qkv_bias {
            g.push(t(format!("{p}.self_attn.q_proj.bias"), vec![c.hidden]));
            g.push(t(format!("{p}.self_attn.k_proj.bias"), vec![c.kv]));
            g.push(t(format!("{p}.self_attn.v_proj.bias"), vec![c.kv]));
        }
        groups.push(g);
    }
    groups.push(vec![
        t("model.norm.weight".into(), vec![c.hidden]),
        t("lm_head.weight".into(), vec![c.vocab, c.hidden]),
    ]);
    groups
}

/// A deterministic pronounceable piece for token `i` (lowercase letters, `n` syllables at most).
fn syllables(i: u64, n: u64) -> String {
    const ON: &[u8] = b"bcdfghklmnprstvwz";
    const NU: &[u8] = b"aeiou";
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i >> 7);
    let count = 1 + x % n;
    let mut s = String::new();
    for _ in 0..count {
        s.push(ON[(x % ON.len() as u64) as usize] as char);
        x /= ON.len() as u64;
        s.push(NU[(x % NU.len() as u64) as usize] as char);
        x /= NU.len() as u64;
        x = x.wrapping_mul(31).wrapping_add(i);
    }
    s
}

/// The tokenizer key/values of a real-size vocabulary: tokens, scores, token types, and merges
/// for BPE vocabularies.
pub fn tokenizer_kv(g: &mut GgufFile, vocab: u64, bpe: bool) {
    let tokens: Vec<String> = (0..vocab)
        .map(|i| match i {
            0 if !bpe => "<unk>".into(),
            1 if !bpe => "<s>".into(),
            2 if !bpe => "</s>".into(),
            3..=258 if !bpe => format!("<0x{:02X}>", i - 3),
            _ if bpe => format!("\u{120}{}{i}", syllables(i, 3)),
            _ => format!("\u{2581}{}", syllables(i, 4)),
        })
        .collect();
    let types: Vec<i32> = (0..vocab)
        .map(|i| match i {
            0..=2 if !bpe => 3,
            3..=258 if !bpe => 6,
            _ => 1,
        })
        .collect();
    g.kv(
        "tokenizer.ggml.model",
        GgufValue::Str(if bpe { "gpt2" } else { "llama" }.into()),
    );
    if bpe {
        g.kv("tokenizer.ggml.pre", GgufValue::Str("qwen2".into()));
    }
    g.kv("tokenizer.ggml.tokens", GgufValue::StrArray(tokens));
    if !bpe {
        let scores: Vec<f32> = (0..vocab).map(|i| -(i as f32)).collect();
        g.kv("tokenizer.ggml.scores", GgufValue::F32Array(scores));
    }
    g.kv("tokenizer.ggml.token_type", GgufValue::I32Array(types));
    if bpe {
        let merges: Vec<String> = (0..vocab.saturating_sub(700))
            .map(|i| format!("\u{120}{} {}", syllables(i, 2), syllables(i + 1, 2)))
            .collect();
        g.kv("tokenizer.ggml.merges", GgufValue::StrArray(merges));
    }
    g.kv("tokenizer.ggml.bos_token_id", GgufValue::U32(1));
    g.kv("tokenizer.ggml.eos_token_id", GgufValue::U32(2));
    g.kv(
        "tokenizer.chat_template",
        GgufValue::Str(
            "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + \
             message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if \
             add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
                .repeat(3),
        ),
    );
}

/// A llama.cpp GGUF of `c` quantised like `Q4_K_M` (Q4_K matrices, Q6_K output, F32 norms and
/// biases) with a real-size vocabulary. `name` goes into `general.name`.
pub fn llm_gguf(c: &LlmConfig, name: &str) -> GgufFile {
    let arch = if c.qkv_bias { "qwen2" } else { "llama" };
    let mut g = GgufFile::default();
    g.kv("general.architecture", GgufValue::Str(arch.into()))
        .kv("general.name", GgufValue::Str(name.into()))
        .kv("general.file_type", GgufValue::U32(15))
        .kv("general.quantization_version", GgufValue::U32(2))
        .kv(&format!("{arch}.context_length"), GgufValue::U32(32768))
        .kv(
            &format!("{arch}.embedding_length"),
            GgufValue::U32(c.hidden as u32),
        )
        .kv(
            &format!("{arch}.block_count"),
            GgufValue::U32(c.layers as u32),
        )
        .kv(
            &format!("{arch}.feed_forward_length"),
            GgufValue::U32(c.ffn as u32),
        )
        .kv(&format!("{arch}.attention.head_count"), GgufValue::U32(32))
        .kv(
            &format!("{arch}.attention.head_count_kv"),
            GgufValue::U32((c.kv / 128).max(1) as u32),
        )
        .kv(&format!("{arch}.rope.freq_base"), GgufValue::F32(10000.0))
        .kv(
            &format!("{arch}.attention.layer_norm_rms_epsilon"),
            GgufValue::F32(1e-5),
        );
    tokenizer_kv(&mut g, c.vocab, c.bpe);
    let q = |name: String, shape: &[u64], ty: u32| GgufTensor::from_torch_shape(name, shape, ty);
    g.tensor(q(
        "token_embd.weight".into(),
        &[c.vocab, c.hidden],
        ggml::Q4_K,
    ));
    for b in 0..c.layers {
        let p = format!("blk.{b}");
        g.tensor(q(format!("{p}.attn_norm.weight"), &[c.hidden], ggml::F32))
            .tensor(q(
                format!("{p}.attn_q.weight"),
                &[c.hidden, c.hidden],
                ggml::Q4_K,
            ))
            .tensor(q(
                format!("{p}.attn_k.weight"),
                &[c.kv, c.hidden],
                ggml::Q4_K,
            ))
            .tensor(q(
                format!("{p}.attn_v.weight"),
                &[c.kv, c.hidden],
                ggml::Q6_K,
            ))
            .tensor(q(
                format!("{p}.attn_output.weight"),
                &[c.hidden, c.hidden],
                ggml::Q4_K,
            ))
            .tensor(q(format!("{p}.ffn_norm.weight"), &[c.hidden], ggml::F32))
            .tensor(q(
                format!("{p}.ffn_gate.weight"),
                &[c.ffn, c.hidden],
                ggml::Q4_K,
            ))
            .tensor(q(
                format!("{p}.ffn_up.weight"),
                &[c.ffn, c.hidden],
                ggml::Q4_K,
            ))
            .tensor(q(
                format!("{p}.ffn_down.weight"),
                &[c.hidden, c.ffn],
                ggml::Q6_K,
            ));
        if c.qkv_bias {
            g.tensor(q(format!("{p}.attn_q.bias"), &[c.hidden], ggml::F32))
                .tensor(q(format!("{p}.attn_k.bias"), &[c.kv], ggml::F32))
                .tensor(q(format!("{p}.attn_v.bias"), &[c.kv], ggml::F32));
        }
    }
    g.tensor(q("output_norm.weight".into(), &[c.hidden], ggml::F32))
        .tensor(q("output.weight".into(), &[c.vocab, c.hidden], ggml::Q6_K));
    g
}

/// A city96-style diffusion GGUF (ComfyUI-GGUF): the UNet/transformer's own names, matrices
/// quantised with `quant` where their rows fill whole blocks (F16 otherwise), convolutions F16,
/// vectors F32. `arch` is `sdxl`, `sd1` or `sd3`.
pub fn diffusion_gguf(list: &str, arch: &str, quant: u32, name: &str) -> GgufFile {
    let mut g = GgufFile::default();
    g.kv("general.architecture", GgufValue::Str(arch.into()))
        .kv("general.name", GgufValue::Str(name.into()))
        .kv("general.quantization_version", GgufValue::U32(2))
        .kv("general.file_type", GgufValue::U32(7));
    for t in component(list, "", &Dtype::F16) {
        let mut ty = match t.shape.len() {
            0 | 1 => ggml::F32,
            2 => quant,
            _ => ggml::F16,
        };
        let mut tensor = GgufTensor::from_torch_shape(t.name.clone(), &t.shape, ty);
        if tensor.data_bytes().is_none() {
            ty = ggml::F16;
            tensor.ty = ty;
        }
        g.tensor(tensor);
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lora_open_dims_become_rank_and_base_dims() {
        let spec = sdxl_lora(false);
        let by: HashMap<&str, &SpecTensor> = spec.iter().map(|t| (t.name.as_str(), t)).collect();
        // proj_in of input_blocks.4.1 is [640,640] in the SDXL UNet.
        assert_eq!(
            by["lora_unet_input_blocks_4_1_proj_in.lora_down.weight"].shape,
            vec![16, 640]
        );
        assert_eq!(
            by["lora_unet_input_blocks_4_1_proj_in.lora_up.weight"].shape,
            vec![640, 16]
        );
        assert_eq!(
            by["lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight"].shape,
            vec![5120, 16]
        );
        assert!(spec.len() > 2500, "{}", spec.len());
    }

    #[test]
    fn llm_layouts_have_the_real_tensor_counts() {
        let hf: usize = llama_hf_blocks(&LLAMA2_7B, &Dtype::F16)
            .iter()
            .map(Vec::len)
            .sum();
        assert_eq!(hf, 291);
        let g = llm_gguf(&TINYLLAMA, "t");
        assert_eq!(g.tensors.len(), 22 * 9 + 3);
        assert!(g.header().is_ok());
        let d = diffusion_gguf("UNET-XL-SD.txt", "sdxl", ggml::Q8_0, "x");
        assert!(d.header().is_ok());
        assert!(d.tensors.iter().any(|t| t.ty == ggml::Q8_0));
    }
}
