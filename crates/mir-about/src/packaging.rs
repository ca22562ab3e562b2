//! How the weights are packed: a property of the file, never a family. Read from tensor names
//! and types only (never from the rules), so a packaged file keeps the ID its layout gives it.

use std::collections::BTreeMap;

use mir_core::{Dtype, MetaValue, TensorIndex};

/// llama.cpp's `general.file_type` (`enum llama_ftype`) → the name `llama-quantize` gives it.
const LLAMA_FTYPES: &[(u64, &str)] = &[
    (0, "F32"),
    (1, "F16"),
    (2, "Q4_0"),
    (3, "Q4_1"),
    (7, "Q8_0"),
    (8, "Q5_0"),
    (9, "Q5_1"),
    (10, "Q2_K"),
    (11, "Q3_K_S"),
    (12, "Q3_K_M"),
    (13, "Q3_K_L"),
    (14, "Q4_K_S"),
    (15, "Q4_K_M"),
    (16, "Q5_K_S"),
    (17, "Q5_K_M"),
    (18, "Q6_K"),
    (19, "IQ2_XXS"),
    (20, "IQ2_XS"),
    (21, "Q2_K_S"),
    (22, "IQ3_XS"),
    (23, "IQ3_XXS"),
    (24, "IQ1_S"),
    (25, "IQ4_NL"),
    (26, "IQ3_S"),
    (27, "IQ3_M"),
    (28, "IQ2_S"),
    (29, "IQ2_M"),
    (30, "IQ4_XS"),
    (31, "IQ1_M"),
    (32, "BF16"),
    (36, "TQ1_0"),
    (37, "TQ2_0"),
    (38, "MXFP4_MOE"),
];

/// The name of a llama.cpp file type, if known.
pub fn llama_ftype_name(ftype: u64) -> Option<&'static str> {
    LLAMA_FTYPES
        .iter()
        .find(|(n, _)| *n == ftype)
        .map(|(_, s)| *s)
}

/// The packaging labels of `index`, in a stable order:
/// `scaled-fp8` (ComfyUI's `scaled_fp8` marker or `*.scale_weight` tensors), `comfy-quant`
/// (ComfyUI's mixed packing: `*.comfy_quant` descriptors), `fp8-weight-scale` (fp8 weights with
/// `*.weight_scale`, as compressed-tensors and ModelOpt write them),
/// `bnb-nf4` / `bnb-fp4` / `bnb-4bit` / `bnb-int8` (bitsandbytes: `*.absmax`, `*.quant_map`,
/// `*.quant_state.bitsandbytes__nf4|fp4`, `*.SCB`), `nunchaku-svdq` (Nunchaku SVDQuant:
/// `*.wscales` with `*.smooth_factor`/`*.smooth`/`*.proj_down`/`*.lora_down`; `-fp4` when it has
/// `*.wtscale`), `torchao` (a torchao tensor subclass named in a pickle or in metadata),
/// `gguf:<file type>` (from `general.file_type`, else the most common ggml type).
pub fn detect(index: &TensorIndex) -> Vec<String> {
    let seen = Seen::of(index);
    let mut out = Vec::new();
    if seen.scaled_fp8 || seen.scale_weight {
        out.push("scaled-fp8".to_owned());
    }
    if seen.comfy_quant {
        // ComfyUI's mixed-precision packing: per layer a `comfy_quant` descriptor and, for fp8
        // layers, a `weight_scale`.
        out.push("comfy-quant".to_owned());
    } else if seen.fp8 && seen.weight_scale {
        // fp8 with per-tensor scales under `weight_scale` (compressed-tensors, ModelOpt).
        out.push("fp8-weight-scale".to_owned());
    }
    if seen.bnb_nf4 {
        out.push("bnb-nf4".to_owned());
    } else if seen.bnb_fp4 {
        out.push("bnb-fp4".to_owned());
    } else if seen.absmax && seen.quant_map {
        out.push("bnb-4bit".to_owned());
    }
    if seen.scb && seen.int8 {
        out.push("bnb-int8".to_owned());
    }
    if seen.wscales && (seen.smooth_factor || seen.smooth || seen.proj_down || seen.lora_down) {
        out.push(if seen.wtscale {
            "nunchaku-svdq-fp4".to_owned()
        } else {
            "nunchaku-svdq".to_owned()
        });
    }
    if mentions_torchao(index) {
        out.push("torchao".to_owned());
    }
    if index.format == "gguf" {
        let named = index
            .metadata
            .get("general.file_type")
            .and_then(crate::meta::meta_u64)
            .and_then(llama_ftype_name);
        let label = match named {
            Some(n) => Some(n.to_owned()),
            None => dominant_ggml_type(index),
        };
        if let Some(l) = label {
            out.push(format!("gguf:{l}"));
        }
    }
    out
}

/// The name endings and dtypes the packagings are told by, gathered in one pass over the tensors
/// (a name "ends with `.x`" exactly when `x` is its last dot-separated segment).
#[derive(Debug, Default)]
struct Seen {
    /// A tensor named `scaled_fp8` or `….scaled_fp8`.
    scaled_fp8: bool,
    scale_weight: bool,
    comfy_quant: bool,
    weight_scale: bool,
    /// `….quant_state.bitsandbytes__nf4`.
    bnb_nf4: bool,
    /// `….quant_state.bitsandbytes__fp4`.
    bnb_fp4: bool,
    absmax: bool,
    quant_map: bool,
    scb: bool,
    wscales: bool,
    smooth_factor: bool,
    smooth: bool,
    proj_down: bool,
    lora_down: bool,
    wtscale: bool,
    /// Any tensor of an fp8 dtype.
    fp8: bool,
    /// Any tensor of dtype I8.
    int8: bool,
}

impl Seen {
    fn of(index: &TensorIndex) -> Seen {
        let mut s = Seen::default();
        for t in &index.tensors {
            let dtype = t.dtype.name();
            s.fp8 |= dtype.starts_with("F8");
            s.int8 |= t.dtype == Dtype::I8;
            let Some((head, last)) = t.name.rsplit_once('.') else {
                s.scaled_fp8 |= t.name == "scaled_fp8";
                continue;
            };
            match last {
                "scaled_fp8" => s.scaled_fp8 = true,
                "scale_weight" => s.scale_weight = true,
                "comfy_quant" => s.comfy_quant = true,
                "weight_scale" => s.weight_scale = true,
                "bitsandbytes__nf4" => s.bnb_nf4 |= head.ends_with(".quant_state"),
                "bitsandbytes__fp4" => s.bnb_fp4 |= head.ends_with(".quant_state"),
                "absmax" => s.absmax = true,
                "quant_map" => s.quant_map = true,
                "SCB" => s.scb = true,
                "wscales" => s.wscales = true,
                "smooth_factor" => s.smooth_factor = true,
                "smooth" => s.smooth = true,
                "proj_down" => s.proj_down = true,
                "lora_down" => s.lora_down = true,
                "wtscale" => s.wtscale = true,
                _ => {}
            }
        }
        s
    }
}

/// The ggml type most tensors have (ties: by name).
fn dominant_ggml_type(index: &TensorIndex) -> Option<String> {
    let mut mix: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &index.tensors {
        *mix.entry(t.dtype.name()).or_default() += 1;
    }
    mix.into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(n, _)| n.to_owned())
}

/// torchao saves quantised weights as tensor subclasses (`torchao.dtypes…AffineQuantizedTensor`,
/// `torchao.quantization…`): a checkpoint's pickle names them (the ckpt reader reports the
/// global), and safetensors exports record them in metadata.
fn mentions_torchao(index: &TensorIndex) -> bool {
    index
        .findings
        .iter()
        .any(|f| f.message.contains("torchao."))
        || index.metadata.iter().any(|(k, v)| {
            k.starts_with("torchao")
                || matches!(v, MetaValue::Str(s) if s.len() < 1 << 20 && s.contains("torchao."))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mir_core::TensorRecord;

    fn index(format: &str, names: &[(&str, Dtype)]) -> TensorIndex {
        let mut i = TensorIndex::new(format);
        for (n, d) in names {
            i.tensors.push(TensorRecord::new(*n, d.clone(), vec![4]));
        }
        i
    }

    #[test]
    fn each_packaging_is_named() {
        let fp8 = index(
            "safetensors",
            &[
                ("scaled_fp8", Dtype::F8E4M3),
                ("double_blocks.0.img_attn.qkv.weight", Dtype::F8E4M3),
                ("double_blocks.0.img_attn.qkv.scale_weight", Dtype::F32),
            ],
        );
        assert_eq!(detect(&fp8), vec!["scaled-fp8"]);
        let nf4 = index(
            "safetensors",
            &[
                ("a.weight", Dtype::U8),
                ("a.weight.absmax", Dtype::F32),
                ("a.weight.quant_map", Dtype::F32),
                ("a.weight.quant_state.bitsandbytes__nf4", Dtype::U8),
            ],
        );
        assert_eq!(detect(&nf4), vec!["bnb-nf4"]);
        let svdq = index(
            "safetensors",
            &[
                ("transformer_blocks.0.qkv_proj.qweight", Dtype::I8),
                ("transformer_blocks.0.qkv_proj.wscales", Dtype::BF16),
                ("transformer_blocks.0.qkv_proj.smooth_factor", Dtype::BF16),
                ("transformer_blocks.0.qkv_proj.proj_down", Dtype::BF16),
            ],
        );
        assert_eq!(detect(&svdq), vec!["nunchaku-svdq"]);
        let comfy = index(
            "safetensors",
            &[
                ("blocks.0.qkv.weight", Dtype::F8E4M3),
                ("blocks.0.qkv.weight_scale", Dtype::F32),
                ("blocks.0.qkv.comfy_quant", Dtype::U8),
            ],
        );
        assert_eq!(detect(&comfy), vec!["comfy-quant"]);
        let plain = index("safetensors", &[("a.weight", Dtype::F16)]);
        assert!(detect(&plain).is_empty());
    }

    /// The former detection, a scan of every name per question: the reference for [`Seen`].
    fn detect_by_suffix_scans(index: &TensorIndex) -> Vec<&'static str> {
        let has_suffix = |s: &str| index.tensors.iter().any(|t| t.name.ends_with(s));
        let has_name = |s: &str| {
            index
                .tensors
                .iter()
                .any(|t| t.name == s || t.name.ends_with(&format!(".{s}")))
        };
        let mut out = Vec::new();
        if has_name("scaled_fp8") || has_suffix(".scale_weight") {
            out.push("scaled-fp8");
        }
        let has_fp8 = index
            .tensors
            .iter()
            .any(|t| t.dtype.name().starts_with("F8"));
        if has_suffix(".comfy_quant") {
            out.push("comfy-quant");
        } else if has_fp8 && has_suffix(".weight_scale") {
            out.push("fp8-weight-scale");
        }
        if has_suffix(".quant_state.bitsandbytes__nf4") {
            out.push("bnb-nf4");
        } else if has_suffix(".quant_state.bitsandbytes__fp4") {
            out.push("bnb-fp4");
        } else if has_suffix(".absmax") && has_suffix(".quant_map") {
            out.push("bnb-4bit");
        }
        if has_suffix(".SCB") && index.tensors.iter().any(|t| t.dtype == Dtype::I8) {
            out.push("bnb-int8");
        }
        if has_suffix(".wscales")
            && (has_suffix(".smooth_factor")
                || has_suffix(".smooth")
                || has_suffix(".proj_down")
                || has_suffix(".lora_down"))
        {
            out.push(if has_suffix(".wtscale") {
                "nunchaku-svdq-fp4"
            } else {
                "nunchaku-svdq"
            });
        }
        out
    }

    #[test]
    fn one_pass_agrees_with_the_suffix_scans() {
        // Every marker name, alone and in pairs, with and without a dotted prefix, plus names
        // that only look alike (no dot before the marker, a marker inside the name).
        let markers = [
            "scaled_fp8",
            "a.scaled_fp8",
            "xscaled_fp8",
            "a.scale_weight",
            "scale_weight",
            "a.comfy_quant",
            "a.weight_scale",
            "a.weight.quant_state.bitsandbytes__nf4",
            "quant_state.bitsandbytes__nf4",
            "a.xquant_state.bitsandbytes__nf4",
            "a.weight.quant_state.bitsandbytes__fp4",
            "a.bitsandbytes__fp4",
            "a.absmax",
            "a.quant_map",
            "a.SCB",
            "a.wscales",
            "a.smooth_factor",
            "a.smooth",
            "a.proj_down",
            "a.lora_down",
            "a.wtscale",
            "a.wscales.b",
            "a.weight",
        ];
        let dtypes = [Dtype::F16, Dtype::F8E4M3, Dtype::I8];
        let mut checked = 0;
        for (i, a) in markers.iter().enumerate() {
            for b in markers.iter().skip(i) {
                for d in &dtypes {
                    let idx = index("safetensors", &[(a, d.clone()), (b, Dtype::F16)]);
                    let reference = detect_by_suffix_scans(&idx);
                    assert_eq!(detect(&idx), reference, "{a} + {b} ({d:?})");
                    checked += 1;
                }
            }
        }
        assert!(checked > 500);
    }

    #[test]
    fn torchao_is_read_from_a_pickle_global_finding() {
        let mut i = index("ckpt", &[("a.weight", Dtype::F32)]);
        assert!(detect(&i).is_empty());
        i.findings.push(mir_core::Finding {
            severity: mir_core::Severity::Suspicious,
            message:
                "global torchao.dtypes.affine_quantized_tensor.AffineQuantizedTensor in data.pkl"
                    .into(),
        });
        assert_eq!(detect(&i), vec!["torchao"]);
    }

    #[test]
    fn gguf_file_type_or_dominant_type() {
        let mut g = index(
            "gguf",
            &[
                ("blk.0.attn_q.weight", Dtype::Quant("Q4_K".into())),
                ("blk.0.ffn_down.weight", Dtype::Quant("Q6_K".into())),
                ("blk.1.attn_q.weight", Dtype::Quant("Q4_K".into())),
            ],
        );
        assert_eq!(detect(&g), vec!["gguf:Q4_K"]);
        g.metadata
            .insert("general.file_type".into(), MetaValue::UInt(15));
        assert_eq!(detect(&g), vec!["gguf:Q4_K_M"]);
    }
}
