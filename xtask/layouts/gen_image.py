#!/usr/bin/env python3
"""Generates full image-denoiser layouts (fixtures/specs/<family>.<layout>.spec) from the real
model classes of diffusers, instantiated on torch's meta device with the released config values.

    python xtask/layouts/gen_image.py             # every family (see README.md for the venv)
    python xtask/layouts/gen_image.py flux-2 loras  # some families

Config values: the Hugging Face hub is not reachable from the machine that wrote this script, so
each config below names the repo file it reproduces and where the values were taken from (the
class defaults of diffusers, which its authors set to the released model, or the released
config.json as known to the author of this script). Original (single-file / ComfyUI) layouts are
built by inverting diffusers' own single-file converters (`diffusers/loaders/single_file_utils.py`,
which maps original names to diffusers names); each spec's header says so.
"""

from __future__ import annotations

import sys
from collections import OrderedDict

import diffusers
import torch

from common import DTYPES, fmt_config, invert, meta_model, meta_state, prefixed, write_spec

GEN = "xtask/layouts/gen_image.py"
BF16 = torch.bfloat16

# ---------------------------------------------------------------------------------------------
# Inverse of diffusers' FLUX.1 single-file converter (convert_flux_transformer_checkpoint_to_
# diffusers): diffusers name -> BFL name. Used for FLUX.1 and for its diffusers descendants
# (LongCat-Image, Ovis-Image) whose single files keep the BFL names.
FLUX1_TO_BFL = [
    (r"time_text_embed\.timestep_embedder\.linear_1\.(weight|bias)", r"time_in.in_layer.\1", 0),
    (r"time_text_embed\.timestep_embedder\.linear_2\.(weight|bias)", r"time_in.out_layer.\1", 0),
    (r"time_text_embed\.text_embedder\.linear_1\.(weight|bias)", r"vector_in.in_layer.\1", 0),
    (r"time_text_embed\.text_embedder\.linear_2\.(weight|bias)", r"vector_in.out_layer.\1", 0),
    (r"time_text_embed\.guidance_embedder\.linear_1\.(weight|bias)", r"guidance_in.in_layer.\1", 0),
    (r"time_text_embed\.guidance_embedder\.linear_2\.(weight|bias)", r"guidance_in.out_layer.\1", 0),
    # LongCat-Image / Ovis-Image spell the timestep embedder differently; same BFL target.
    (r"time_embed\.timestep_embedder\.linear_1\.(weight|bias)", r"time_in.in_layer.\1", 0),
    (r"time_embed\.timestep_embedder\.linear_2\.(weight|bias)", r"time_in.out_layer.\1", 0),
    (r"timestep_embedder\.linear_1\.(weight|bias)", r"time_in.in_layer.\1", 0),
    (r"timestep_embedder\.linear_2\.(weight|bias)", r"time_in.out_layer.\1", 0),
    (r"context_embedder_norm\.weight", r"txt_norm.scale", 0),
    (r"context_embedder\.(weight|bias)", r"txt_in.\1", 0),
    (r"x_embedder\.(weight|bias)", r"img_in.\1", 0),
    (r"transformer_blocks\.(\d+)\.norm1\.linear\.(weight|bias)", r"double_blocks.\1.img_mod.lin.\2", 0),
    (r"transformer_blocks\.(\d+)\.norm1_context\.linear\.(weight|bias)", r"double_blocks.\1.txt_mod.lin.\2", 0),
    (r"transformer_blocks\.(\d+)\.attn\.to_q\.(weight|bias)", r"double_blocks.\1.img_attn.qkv.\2", 0),
    (r"transformer_blocks\.(\d+)\.attn\.to_k\.(weight|bias)", r"double_blocks.\1.img_attn.qkv.\2", 1),
    (r"transformer_blocks\.(\d+)\.attn\.to_v\.(weight|bias)", r"double_blocks.\1.img_attn.qkv.\2", 2),
    (r"transformer_blocks\.(\d+)\.attn\.add_q_proj\.(weight|bias)", r"double_blocks.\1.txt_attn.qkv.\2", 0),
    (r"transformer_blocks\.(\d+)\.attn\.add_k_proj\.(weight|bias)", r"double_blocks.\1.txt_attn.qkv.\2", 1),
    (r"transformer_blocks\.(\d+)\.attn\.add_v_proj\.(weight|bias)", r"double_blocks.\1.txt_attn.qkv.\2", 2),
    (r"transformer_blocks\.(\d+)\.attn\.norm_q\.weight", r"double_blocks.\1.img_attn.norm.query_norm.scale", 0),
    (r"transformer_blocks\.(\d+)\.attn\.norm_k\.weight", r"double_blocks.\1.img_attn.norm.key_norm.scale", 0),
    (r"transformer_blocks\.(\d+)\.attn\.norm_added_q\.weight", r"double_blocks.\1.txt_attn.norm.query_norm.scale", 0),
    (r"transformer_blocks\.(\d+)\.attn\.norm_added_k\.weight", r"double_blocks.\1.txt_attn.norm.key_norm.scale", 0),
    (r"transformer_blocks\.(\d+)\.attn\.to_out\.0\.(weight|bias)", r"double_blocks.\1.img_attn.proj.\2", 0),
    (r"transformer_blocks\.(\d+)\.attn\.to_add_out\.(weight|bias)", r"double_blocks.\1.txt_attn.proj.\2", 0),
    (r"transformer_blocks\.(\d+)\.ff\.net\.0\.proj\.(weight|bias)", r"double_blocks.\1.img_mlp.0.\2", 0),
    (r"transformer_blocks\.(\d+)\.ff\.net\.2\.(weight|bias)", r"double_blocks.\1.img_mlp.2.\2", 0),
    (r"transformer_blocks\.(\d+)\.ff_context\.net\.0\.proj\.(weight|bias)", r"double_blocks.\1.txt_mlp.0.\2", 0),
    (r"transformer_blocks\.(\d+)\.ff_context\.net\.2\.(weight|bias)", r"double_blocks.\1.txt_mlp.2.\2", 0),
    (r"single_transformer_blocks\.(\d+)\.norm\.linear\.(weight|bias)", r"single_blocks.\1.modulation.lin.\2", 0),
    (r"single_transformer_blocks\.(\d+)\.attn\.to_q\.(weight|bias)", r"single_blocks.\1.linear1.\2", 0),
    (r"single_transformer_blocks\.(\d+)\.attn\.to_k\.(weight|bias)", r"single_blocks.\1.linear1.\2", 1),
    (r"single_transformer_blocks\.(\d+)\.attn\.to_v\.(weight|bias)", r"single_blocks.\1.linear1.\2", 2),
    (r"single_transformer_blocks\.(\d+)\.proj_mlp\.(weight|bias)", r"single_blocks.\1.linear1.\2", 3),
    (r"single_transformer_blocks\.(\d+)\.proj_out\.(weight|bias)", r"single_blocks.\1.linear2.\2", 0),
    (r"single_transformer_blocks\.(\d+)\.attn\.norm_q\.weight", r"single_blocks.\1.norm.query_norm.scale", 0),
    (r"single_transformer_blocks\.(\d+)\.attn\.norm_k\.weight", r"single_blocks.\1.norm.key_norm.scale", 0),
    (r"norm_out\.linear\.(weight|bias)", r"final_layer.adaLN_modulation.1.\1", 0),
    (r"proj_out\.(weight|bias)", r"final_layer.linear.\1", 0),
]

# Inverse of convert_flux2_transformer_checkpoint_to_diffusers.
FLUX2_TO_BFL = [
    (r"x_embedder\.weight", r"img_in.weight", 0),
    (r"context_embedder\.weight", r"txt_in.weight", 0),
    (r"time_guidance_embed\.timestep_embedder\.linear_1\.weight", r"time_in.in_layer.weight", 0),
    (r"time_guidance_embed\.timestep_embedder\.linear_2\.weight", r"time_in.out_layer.weight", 0),
    (r"time_guidance_embed\.guidance_embedder\.linear_1\.weight", r"guidance_in.in_layer.weight", 0),
    (r"time_guidance_embed\.guidance_embedder\.linear_2\.weight", r"guidance_in.out_layer.weight", 0),
    (r"double_stream_modulation_(img|txt)\.linear\.weight", r"double_stream_modulation_\1.lin.weight", 0),
    (r"single_stream_modulation\.linear\.weight", r"single_stream_modulation.lin.weight", 0),
    (r"norm_out\.linear\.weight", r"final_layer.adaLN_modulation.1.weight", 0),
    (r"proj_out\.weight", r"final_layer.linear.weight", 0),
    (r"transformer_blocks\.(\d+)\.attn\.to_q\.weight", r"double_blocks.\1.img_attn.qkv.weight", 0),
    (r"transformer_blocks\.(\d+)\.attn\.to_k\.weight", r"double_blocks.\1.img_attn.qkv.weight", 1),
    (r"transformer_blocks\.(\d+)\.attn\.to_v\.weight", r"double_blocks.\1.img_attn.qkv.weight", 2),
    (r"transformer_blocks\.(\d+)\.attn\.add_q_proj\.weight", r"double_blocks.\1.txt_attn.qkv.weight", 0),
    (r"transformer_blocks\.(\d+)\.attn\.add_k_proj\.weight", r"double_blocks.\1.txt_attn.qkv.weight", 1),
    (r"transformer_blocks\.(\d+)\.attn\.add_v_proj\.weight", r"double_blocks.\1.txt_attn.qkv.weight", 2),
    (r"transformer_blocks\.(\d+)\.attn\.norm_q\.weight", r"double_blocks.\1.img_attn.norm.query_norm.scale", 0),
    (r"transformer_blocks\.(\d+)\.attn\.norm_k\.weight", r"double_blocks.\1.img_attn.norm.key_norm.scale", 0),
    (r"transformer_blocks\.(\d+)\.attn\.norm_added_q\.weight", r"double_blocks.\1.txt_attn.norm.query_norm.scale", 0),
    (r"transformer_blocks\.(\d+)\.attn\.norm_added_k\.weight", r"double_blocks.\1.txt_attn.norm.key_norm.scale", 0),
    (r"transformer_blocks\.(\d+)\.attn\.to_out\.0\.weight", r"double_blocks.\1.img_attn.proj.weight", 0),
    (r"transformer_blocks\.(\d+)\.attn\.to_add_out\.weight", r"double_blocks.\1.txt_attn.proj.weight", 0),
    (r"transformer_blocks\.(\d+)\.ff\.linear_in\.weight", r"double_blocks.\1.img_mlp.0.weight", 0),
    (r"transformer_blocks\.(\d+)\.ff\.linear_out\.weight", r"double_blocks.\1.img_mlp.2.weight", 0),
    (r"transformer_blocks\.(\d+)\.ff_context\.linear_in\.weight", r"double_blocks.\1.txt_mlp.0.weight", 0),
    (r"transformer_blocks\.(\d+)\.ff_context\.linear_out\.weight", r"double_blocks.\1.txt_mlp.2.weight", 0),
    (r"single_transformer_blocks\.(\d+)\.attn\.to_qkv_mlp_proj\.weight", r"single_blocks.\1.linear1.weight", 0),
    (r"single_transformer_blocks\.(\d+)\.attn\.to_out\.weight", r"single_blocks.\1.linear2.weight", 0),
    (r"single_transformer_blocks\.(\d+)\.attn\.norm_q\.weight", r"single_blocks.\1.norm.query_norm.scale", 0),
    (r"single_transformer_blocks\.(\d+)\.attn\.norm_k\.weight", r"single_blocks.\1.norm.key_norm.scale", 0),
]

# Inverse of convert_z_image_transformer_checkpoint_to_diffusers.
ZIMAGE_TO_ORIGINAL = [
    (r"all_final_layer\.2-1\.(.*)", r"final_layer.\1", 0),
    (r"all_x_embedder\.2-1\.(.*)", r"x_embedder.\1", 0),
    (r"(.*)\.attention\.to_q\.weight", r"\1.attention.qkv.weight", 0),
    (r"(.*)\.attention\.to_k\.weight", r"\1.attention.qkv.weight", 1),
    (r"(.*)\.attention\.to_v\.weight", r"\1.attention.qkv.weight", 2),
    (r"(.*)\.attention\.to_out\.0\.(weight|bias)", r"\1.attention.out.\2", 0),
    (r"(.*)\.attention\.norm_q\.weight", r"\1.attention.q_norm.weight", 0),
    (r"(.*)\.attention\.norm_k\.weight", r"\1.attention.k_norm.weight", 0),
    (r"(.*)", r"\1", 0),
]

# Inverse of convert_sana_transformer_to_diffusers (pos_embed and y_embedder.y_embedding, which
# the converter drops, are added back by the generator with the original code's shapes).
SANA_TO_ORIGINAL = [
    (r"patch_embed\.proj\.(weight|bias)", r"x_embedder.proj.\1", 0),
    (r"time_embed\.emb\.timestep_embedder\.linear_1\.(weight|bias)", r"t_embedder.mlp.0.\1", 0),
    (r"time_embed\.emb\.timestep_embedder\.linear_2\.(weight|bias)", r"t_embedder.mlp.2.\1", 0),
    (r"time_embed\.linear\.(weight|bias)", r"t_block.1.\1", 0),
    (r"caption_projection\.linear_1\.(weight|bias)", r"y_embedder.y_proj.fc1.\1", 0),
    (r"caption_projection\.linear_2\.(weight|bias)", r"y_embedder.y_proj.fc2.\1", 0),
    (r"caption_norm\.weight", r"attention_y_norm.weight", 0),
    (r"transformer_blocks\.(\d+)\.scale_shift_table", r"blocks.\1.scale_shift_table", 0),
    (r"transformer_blocks\.(\d+)\.attn1\.to_q\.weight", r"blocks.\1.attn.qkv.weight", 0),
    (r"transformer_blocks\.(\d+)\.attn1\.to_k\.weight", r"blocks.\1.attn.qkv.weight", 1),
    (r"transformer_blocks\.(\d+)\.attn1\.to_v\.weight", r"blocks.\1.attn.qkv.weight", 2),
    (r"transformer_blocks\.(\d+)\.attn1\.to_out\.0\.(weight|bias)", r"blocks.\1.attn.proj.\2", 0),
    (r"transformer_blocks\.(\d+)\.attn2\.to_q\.(weight|bias)", r"blocks.\1.cross_attn.q_linear.\2", 0),
    (r"transformer_blocks\.(\d+)\.attn2\.to_k\.(weight|bias)", r"blocks.\1.cross_attn.kv_linear.\2", 0),
    (r"transformer_blocks\.(\d+)\.attn2\.to_v\.(weight|bias)", r"blocks.\1.cross_attn.kv_linear.\2", 1),
    (r"transformer_blocks\.(\d+)\.attn2\.to_out\.0\.(weight|bias)", r"blocks.\1.cross_attn.proj.\2", 0),
    (r"transformer_blocks\.(\d+)\.ff\.conv_inverted\.(weight|bias)", r"blocks.\1.mlp.inverted_conv.conv.\2", 0),
    (r"transformer_blocks\.(\d+)\.ff\.conv_depth\.(weight|bias)", r"blocks.\1.mlp.depth_conv.conv.\2", 0),
    (r"transformer_blocks\.(\d+)\.ff\.conv_point\.(weight|bias)", r"blocks.\1.mlp.point_conv.conv.\2", 0),
    (r"proj_out\.(weight|bias)", r"final_layer.linear.\1", 0),
    (r"scale_shift_table", r"final_layer.scale_shift_table", 0),
]


# Inverse of diffusers' convert_hunyuan_video_transformer_to_diffusers, which HunyuanImage 2.1's
# authors' code shares (HunyuanVideo's module names), plus its ByT5 glyph mapper (byt5_in: fc1,
# fc2, fc3, layernorm -> context_embedder_2: linear_1..3, norm) and the MeanFlow r-embedder
# (time_r_in) of the distilled release.
HUNYUAN_TO_ORIGINAL = [
    (r"x_embedder\.proj\.(.*)", r"img_in.proj.\1", 0),
    (r"context_embedder\.time_text_embed\.timestep_embedder\.linear_1\.(.*)", r"txt_in.t_embedder.mlp.0.\1", 0),
    (r"context_embedder\.time_text_embed\.timestep_embedder\.linear_2\.(.*)", r"txt_in.t_embedder.mlp.2.\1", 0),
    (r"context_embedder\.time_text_embed\.text_embedder\.(linear_\d)\.(.*)", r"txt_in.c_embedder.\1.\2", 0),
    (r"context_embedder\.proj_in\.(.*)", r"txt_in.input_embedder.\1", 0),
    (r"context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.attn\.to_q\.(.*)", r"txt_in.individual_token_refiner.blocks.\1.self_attn_qkv.\2", 0),
    (r"context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.attn\.to_k\.(.*)", r"txt_in.individual_token_refiner.blocks.\1.self_attn_qkv.\2", 1),
    (r"context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.attn\.to_v\.(.*)", r"txt_in.individual_token_refiner.blocks.\1.self_attn_qkv.\2", 2),
    (r"context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.attn\.to_out\.0\.(.*)", r"txt_in.individual_token_refiner.blocks.\1.self_attn_proj.\2", 0),
    (r"context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.ff\.net\.0\.proj\.(.*)", r"txt_in.individual_token_refiner.blocks.\1.mlp.fc1.\2", 0),
    (r"context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.ff\.net\.2\.(.*)", r"txt_in.individual_token_refiner.blocks.\1.mlp.fc2.\2", 0),
    (r"context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.norm_out\.linear\.(.*)", r"txt_in.individual_token_refiner.blocks.\1.adaLN_modulation.1.\2", 0),
    (r"context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.(norm[12])\.(.*)", r"txt_in.individual_token_refiner.blocks.\1.\2.\3", 0),
    (r"context_embedder_2\.norm\.(.*)", r"byt5_in.layernorm.\1", 0),
    (r"context_embedder_2\.linear_(\d)\.(.*)", r"byt5_in.fc\1.\2", 0),
    (r"time_guidance_embed\.timestep_embedder\.linear_1\.(.*)", r"time_in.mlp.0.\1", 0),
    (r"time_guidance_embed\.timestep_embedder\.linear_2\.(.*)", r"time_in.mlp.2.\1", 0),
    (r"time_guidance_embed\.timestep_embedder_r\.linear_1\.(.*)", r"time_r_in.mlp.0.\1", 0),
    (r"time_guidance_embed\.timestep_embedder_r\.linear_2\.(.*)", r"time_r_in.mlp.2.\1", 0),
    (r"time_guidance_embed\.guidance_embedder\.linear_1\.(.*)", r"guidance_in.mlp.0.\1", 0),
    (r"time_guidance_embed\.guidance_embedder\.linear_2\.(.*)", r"guidance_in.mlp.2.\1", 0),
    (r"transformer_blocks\.(\d+)\.norm1\.linear\.(.*)", r"double_blocks.\1.img_mod.linear.\2", 0),
    (r"transformer_blocks\.(\d+)\.norm1_context\.linear\.(.*)", r"double_blocks.\1.txt_mod.linear.\2", 0),
    (r"transformer_blocks\.(\d+)\.attn\.to_q\.(.*)", r"double_blocks.\1.img_attn_qkv.\2", 0),
    (r"transformer_blocks\.(\d+)\.attn\.to_k\.(.*)", r"double_blocks.\1.img_attn_qkv.\2", 1),
    (r"transformer_blocks\.(\d+)\.attn\.to_v\.(.*)", r"double_blocks.\1.img_attn_qkv.\2", 2),
    (r"transformer_blocks\.(\d+)\.attn\.add_q_proj\.(.*)", r"double_blocks.\1.txt_attn_qkv.\2", 0),
    (r"transformer_blocks\.(\d+)\.attn\.add_k_proj\.(.*)", r"double_blocks.\1.txt_attn_qkv.\2", 1),
    (r"transformer_blocks\.(\d+)\.attn\.add_v_proj\.(.*)", r"double_blocks.\1.txt_attn_qkv.\2", 2),
    (r"transformer_blocks\.(\d+)\.attn\.norm_q\.(.*)", r"double_blocks.\1.img_attn_q_norm.\2", 0),
    (r"transformer_blocks\.(\d+)\.attn\.norm_k\.(.*)", r"double_blocks.\1.img_attn_k_norm.\2", 0),
    (r"transformer_blocks\.(\d+)\.attn\.norm_added_q\.(.*)", r"double_blocks.\1.txt_attn_q_norm.\2", 0),
    (r"transformer_blocks\.(\d+)\.attn\.norm_added_k\.(.*)", r"double_blocks.\1.txt_attn_k_norm.\2", 0),
    (r"transformer_blocks\.(\d+)\.attn\.to_out\.0\.(.*)", r"double_blocks.\1.img_attn_proj.\2", 0),
    (r"transformer_blocks\.(\d+)\.attn\.to_add_out\.(.*)", r"double_blocks.\1.txt_attn_proj.\2", 0),
    (r"transformer_blocks\.(\d+)\.ff\.net\.0\.proj\.(.*)", r"double_blocks.\1.img_mlp.fc1.\2", 0),
    (r"transformer_blocks\.(\d+)\.ff\.net\.2\.(.*)", r"double_blocks.\1.img_mlp.fc2.\2", 0),
    (r"transformer_blocks\.(\d+)\.ff_context\.net\.0\.proj\.(.*)", r"double_blocks.\1.txt_mlp.fc1.\2", 0),
    (r"transformer_blocks\.(\d+)\.ff_context\.net\.2\.(.*)", r"double_blocks.\1.txt_mlp.fc2.\2", 0),
    (r"single_transformer_blocks\.(\d+)\.attn\.to_q\.(.*)", r"single_blocks.\1.linear1.\2", 0),
    (r"single_transformer_blocks\.(\d+)\.attn\.to_k\.(.*)", r"single_blocks.\1.linear1.\2", 1),
    (r"single_transformer_blocks\.(\d+)\.attn\.to_v\.(.*)", r"single_blocks.\1.linear1.\2", 2),
    (r"single_transformer_blocks\.(\d+)\.proj_mlp\.(.*)", r"single_blocks.\1.linear1.\2", 3),
    (r"single_transformer_blocks\.(\d+)\.proj_out\.(.*)", r"single_blocks.\1.linear2.\2", 0),
    (r"single_transformer_blocks\.(\d+)\.attn\.norm_q\.(.*)", r"single_blocks.\1.q_norm.\2", 0),
    (r"single_transformer_blocks\.(\d+)\.attn\.norm_k\.(.*)", r"single_blocks.\1.k_norm.\2", 0),
    (r"single_transformer_blocks\.(\d+)\.norm\.linear\.(.*)", r"single_blocks.\1.modulation.linear.\2", 0),
    (r"norm_out\.linear\.(.*)", r"final_layer.adaLN_modulation.1.\1", 0),
    (r"proj_out\.(.*)", r"final_layer.linear.\1", 0),
]


def header(cls, config_src: str, config: dict, layout_note: str) -> list[str]:
    return [
        f"Generated by {GEN} (do not edit by hand).",
        f"Class: diffusers.{cls.__name__} (diffusers {diffusers.__version__}), built on torch's meta device.",
        f"Config: {config_src}",
        f"Config values: {fmt_config(config)}",
        f"Layout: {layout_note}",
    ]


DIFFUSERS_NOTE = "diffusers (transformer/diffusion_pytorch_model*.safetensors), names and shapes of state_dict()"


def emit(name, cls, config, src, expect, dtype=BF16, original=None, extra=(), meta=()):
    """Writes `<name>.diffusers.spec` and, for each `(layout, rules, note, extra_tensors, expect)`
    in `original`, the inverted layout."""
    sd = meta_state(cls, config, dtype)
    write_spec(f"{name}.diffusers", sd, header(cls, src, config, DIFFUSERS_NOTE), expect, meta)
    for layout, rules, note, add, exp in original or ():
        inv = invert(sd, rules)
        for k, v in add:
            inv[k] = v
        write_spec(f"{name}.{layout}", inv, header(cls, src, config, note), exp or expect)
    return sd


BFL_NOTE1 = (
    "BFL / ComfyUI single file: diffusers names rewritten by the inverse of diffusers' "
    "convert_flux_transformer_checkpoint_to_diffusers (loaders/single_file_utils.py)"
)
BFL_NOTE2 = (
    "BFL single file (flux2-dev.safetensors style): diffusers names rewritten by the inverse of "
    "diffusers' convert_flux2_transformer_checkpoint_to_diffusers (loaders/single_file_utils.py)"
)

# ---------------------------------------------------------------------------------------------
# FLUX.2


def flux2():
    cls = diffusers.Flux2Transformer2DModel
    dev = dict(
        patch_size=1, in_channels=128, out_channels=None, num_layers=8, num_single_layers=48,
        attention_head_dim=128, num_attention_heads=48, joint_attention_dim=15360,
        timestep_guidance_channels=256, mlp_ratio=3.0, axes_dims_rope=(32, 32, 32, 32),
        rope_theta=2000, eps=1e-6, guidance_embeds=True,
    )
    src = ("black-forest-labs/FLUX.2-dev transformer/config.json; values = the class defaults of "
           "diffusers' Flux2Transformer2DModel, which reproduce that file")
    e = ["@expect mir:model.dit.flux-2-dev"]
    emit("flux-2-dev", cls, dev, src, e, original=[("bfl", FLUX2_TO_BFL, BFL_NOTE2, (), None)])

    # ComfyUI's FP8 "mixed" packaging of the BFL file (flux2_dev_fp8mixed.safetensors style): the
    # block Linear weights stored as F8_E4M3 with a per-layer F32 weight_scale and a U8
    # comfy_quant descriptor; everything else kept in BF16.
    bfl = invert(meta_state(cls, dev, BF16), FLUX2_TO_BFL)
    fp8 = OrderedDict()
    for k, (dt, shape) in bfl.items():
        if k.endswith(".weight") and len(shape) == 2 and k.startswith(("double_blocks.", "single_blocks.")):
            base = k[: -len(".weight")]
            fp8[k] = ("F8_E4M3", shape)
            fp8[base + ".weight_scale"] = ("F32", [])
            fp8[base + ".comfy_quant"] = ("U8", [32])
        else:
            fp8[k] = (dt, shape)
    write_spec("flux-2-dev.comfy-fp8", fp8,
               header(cls, src, dev, BFL_NOTE2 + "; block Linear weights in ComfyUI's FP8 mixed packaging "
                      "(F8_E4M3 + weight_scale + comfy_quant per layer)"),
               ["@expect mir:model.dit.flux-2-dev"])

    # Klein: Qwen3 text encoders (3 stacked hidden states: 3 x 2560 = 7680 for Qwen3-4B,
    # 3 x 4096 = 12288 for Qwen3-8B), no guidance embedder (distilled and base alike).
    k4 = dict(dev, num_layers=5, num_single_layers=20, num_attention_heads=24,
              joint_attention_dim=7680, guidance_embeds=False)
    src4 = ("black-forest-labs/FLUX.2-klein-4B transformer/config.json (same file in "
            "FLUX.2-klein-base-4B); values from the released config as known to the script's "
            "author (hub not reachable): hidden 3072, 5 double + 20 single blocks, Qwen3-4B text width")
    k9 = dict(dev, num_layers=8, num_single_layers=24, num_attention_heads=32,
              joint_attention_dim=12288, guidance_embeds=False)
    src9 = ("black-forest-labs/FLUX.2-klein-9B transformer/config.json (same file in "
            "FLUX.2-klein-base-9B); values from the released config as known to the script's "
            "author (hub not reachable): hidden 4096, 8 double + 24 single blocks, Qwen3-8B text width")
    for size, cfg, s in (("4b", k4, src4), ("9b", k9, src9)):
        ex = [f"@expect mir:model.dit.flux-2-klein-{size}",
              f"@expect_candidate mir:model.dit.flux-2-klein-{size}:base"]
        emit(f"flux-2-klein-{size}", cls, cfg, s, ex,
             original=[("bfl", FLUX2_TO_BFL, BFL_NOTE2, (), None)])
    # Release file names: the distilled Klein under its name stays without compat (the name
    # does not say "distilled"); the base release's name decides `base`.
    for size, cfg, s_ in (("4b", k4, src4), ("9b", k9, src9)):
        sd = invert(meta_state(cls, cfg, BF16), FLUX2_TO_BFL)
        write_spec(f"flux-2-klein-{size}.release-name", sd, header(cls, s_, cfg, BFL_NOTE2 + "; release file name"),
                   [f"@file_name flux-2-klein-{size}.safetensors", f"@expect mir:model.dit.flux-2-klein-{size}",
                    f"@expect_candidate mir:model.dit.flux-2-klein-{size}:base"])
        write_spec(f"flux-2-klein-{size}.base-name", sd, header(cls, s_, cfg, BFL_NOTE2 + "; base release file name"),
                   [f"@file_name flux-2-klein-base-{size}.safetensors", f"@expect mir:model.dit.flux-2-klein-{size}:base",
                    "@expect_decided_by filename"])
    # The base (undistilled) Klein named by its metadata.
    sd = invert(meta_state(cls, k4, BF16), FLUX2_TO_BFL)
    write_spec("flux-2-klein-4b.base-meta", sd,
               header(cls, src4, k4, BFL_NOTE2 + "; modelspec.architecture of the base release"),
               ["@expect mir:model.dit.flux-2-klein-4b:base", "@expect_decided_by metadata"],
               ["@meta modelspec.architecture flux-2-klein-base-4b"])


# ---------------------------------------------------------------------------------------------
# FLUX.1 (full layouts of the existing rules) and its structural twins.

FLUX1_DEV = dict(
    patch_size=1, in_channels=64, out_channels=None, num_layers=19, num_single_layers=38,
    attention_head_dim=128, num_attention_heads=24, joint_attention_dim=4096,
    pooled_projection_dim=768, guidance_embeds=True, axes_dims_rope=(16, 56, 56),
)


def flux1():
    cls = diffusers.FluxTransformer2DModel
    variants = [
        ("flux-1-dev", dict(FLUX1_DEV), "black-forest-labs/FLUX.1-dev transformer/config.json",
         ["@expect mir:model.dit.flux-1-dev", "@expect_candidate mir:model.dit.flux-1-kontext-dev"]),
        ("flux-1-schnell", dict(FLUX1_DEV, guidance_embeds=False),
         "black-forest-labs/FLUX.1-schnell transformer/config.json",
         ["@expect mir:model.dit.flux-1-schnell"]),
        ("flux-1-fill-dev", dict(FLUX1_DEV, in_channels=384, out_channels=64),
         "black-forest-labs/FLUX.1-Fill-dev transformer/config.json",
         ["@expect mir:model.dit.flux-1-fill-dev"]),
        ("flux-1-canny-dev", dict(FLUX1_DEV, in_channels=128, out_channels=64),
         "black-forest-labs/FLUX.1-Canny-dev transformer/config.json",
         ["@expect mir:model.dit.flux-1-canny-dev", "@expect_candidate mir:model.dit.flux-1-depth-dev"]),
    ]
    for name, cfg, src, ex in variants:
        src = src + "; values as released (FLUX.1 is 19 double + 38 single blocks, hidden 3072)"
        emit(name + "-full", cls, cfg, src, ex,
             original=[("bfl", FLUX1_TO_BFL, BFL_NOTE1, (), None)])
    # Kontext: the same tensors as FLUX.1 dev; the file name (as BFL and Comfy-Org publish it)
    # or modelspec metadata decides.
    src = ("black-forest-labs/FLUX.1-Kontext-dev transformer/config.json; identical to FLUX.1-dev's "
           "(FluxTransformer2DModel, in_channels 64, guidance embedder)")
    sd = meta_state(cls, FLUX1_DEV, BF16)
    bfl = invert(sd, FLUX1_TO_BFL)
    write_spec("flux-1-kontext-dev-full.bfl", bfl, header(cls, src, FLUX1_DEV, BFL_NOTE1 + "; file name of the release"),
               ["@file_name flux1-kontext-dev.safetensors", "@expect mir:model.dit.flux-1-kontext-dev",
                "@expect_decided_by filename"])
    write_spec("flux-1-kontext-dev-full.diffusers", sd,
               header(cls, src, FLUX1_DEV, DIFFUSERS_NOTE + "; modelspec metadata"),
               ["@expect mir:model.dit.flux-1-kontext-dev", "@expect_decided_by metadata"],
               ["@meta modelspec.architecture flux-1-kontext-dev"])
    write_spec("flux-1-kontext-dev-full.nameless", bfl, header(cls, src, FLUX1_DEV, BFL_NOTE1 + "; no name, no metadata"),
               ["@expect mir:model.dit.flux-1-dev", "@expect_candidate mir:model.dit.flux-1-kontext-dev"])


def flux1_descendants():
    # LongCat-Image: FLUX.1-shaped MMDiT without pooled-text (vector_in) and guidance embedders,
    # Qwen2.5-VL-7B text width 3584.
    cls = diffusers.LongCatImageTransformer2DModel
    cfg = dict(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38,
               attention_head_dim=128, num_attention_heads=24, joint_attention_dim=3584,
               pooled_projection_dim=3584, axes_dims_rope=[16, 56, 56])
    src = ("meituan-longcat/LongCat-Image transformer/config.json; values = the class defaults of "
           "diffusers' LongCatImageTransformer2DModel, which reproduce that file")
    emit("longcat-image", cls, cfg, src, ["@expect mir:model.dit.longcat-image"],
         original=[("bfl", FLUX1_TO_BFL,
                    BFL_NOTE1 + " (no authors' single-file converter exists; this is the FLUX.1 "
                    "BFL naming LongCat-Image's FLUX-derived code keeps)", (), None)])
    # Ovis-Image: 6 double + 27 single blocks, SwiGLU MLPs, an RMSNorm on the Qwen3-1.7B text
    # features (context_embedder_norm), text width 2048.
    cls = diffusers.OvisImageTransformer2DModel
    cfg = dict(patch_size=1, in_channels=64, out_channels=64, num_layers=6, num_single_layers=27,
               attention_head_dim=128, num_attention_heads=24, joint_attention_dim=2048,
               axes_dims_rope=(16, 56, 56))
    src = ("AIDC-AI/Ovis-Image-7B transformer/config.json; values = the class defaults of diffusers' "
           "OvisImageTransformer2DModel, which reproduce that file")
    emit("ovis-image", cls, cfg, src, ["@expect mir:model.dit.ovis-image"],
         original=[("bfl", FLUX1_TO_BFL,
                    BFL_NOTE1 + " (the FLUX.1 BFL naming of Comfy-Org/Ovis-Image's single file; "
                    "context_embedder_norm written as txt_norm.scale)", (), None)])


# ---------------------------------------------------------------------------------------------
# Z-Image, Qwen-Image (+ Edit), Sana, HunyuanImage 2.1, CogView4


def zimage():
    cls = diffusers.ZImageTransformer2DModel
    cfg = dict(all_patch_size=(2,), all_f_patch_size=(1,), in_channels=16, dim=3840, n_layers=30,
               n_refiner_layers=2, n_heads=30, n_kv_heads=30, norm_eps=1e-5, qk_norm=True,
               cap_feat_dim=2560, rope_theta=256.0, t_scale=1000.0, axes_dims=[32, 48, 48],
               axes_lens=[1024, 512, 512])
    src = ("Tongyi-MAI/Z-Image-Turbo transformer/config.json (Z-Image base has the same "
           "structure); values = the class defaults of diffusers' ZImageTransformer2DModel")
    ex = ["@expect mir:model.dit.z-image", "@expect_candidate mir:model.dit.z-image:turbo",
          "@expect_candidate mir:model.dit.z-image:base"]
    emit("z-image", cls, cfg, src, ex,
         original=[("original", ZIMAGE_TO_ORIGINAL,
                    "original / ComfyUI single file (z_image_turbo_bf16.safetensors style): "
                    "inverse of diffusers' convert_z_image_transformer_checkpoint_to_diffusers", (), None)])
    sd = invert(meta_state(cls, cfg, BF16), ZIMAGE_TO_ORIGINAL)
    write_spec("z-image.turbo-name", sd, header(cls, src, cfg, "original single file under its release name"),
               ["@file_name z_image_turbo_bf16.safetensors", "@expect mir:model.dit.z-image:turbo",
                "@expect_decided_by filename"])


def qwen_image():
    cls = diffusers.QwenImageTransformer2DModel
    cfg = dict(patch_size=2, in_channels=64, out_channels=16, num_layers=60, attention_head_dim=128,
               num_attention_heads=24, joint_attention_dim=3584, guidance_embeds=False,
               axes_dims_rope=(16, 56, 56))
    src = ("Qwen/Qwen-Image transformer/config.json; values = the class defaults of diffusers' "
           "QwenImageTransformer2DModel")
    note_comfy = ("ComfyUI single file (qwen_image_bf16.safetensors): the diffusers names under "
                  "ComfyUI's model.diffusion_model. prefix")
    sd = emit("qwen-image-full", cls, cfg, src, ["@expect mir:model.dit.qwen-image",
                                                  "@expect_candidate mir:model.dit.qwen-image:edit"])
    write_spec("qwen-image-full.comfy", prefixed(sd, "model.diffusion_model."), header(cls, src, cfg, note_comfy),
               ["@expect mir:model.dit.qwen-image", "@expect_candidate mir:model.dit.qwen-image:edit"])
    # Qwen-Image-Edit (2509, 2511): the same transformer config (2511 adds zero_cond_t, which has
    # no weights). Metadata or the release file name decides.
    src_e = ("Qwen/Qwen-Image-Edit-2509 transformer/config.json: the Qwen-Image values "
             "(Qwen-Image-Edit-2511 adds zero_cond_t=true, which creates no tensors)")
    cfg_e = dict(cfg, zero_cond_t=True)
    sd = meta_state(cls, cfg_e, BF16)
    comfy = prefixed(sd, "model.diffusion_model.")
    for name, fname, exp in (
        ("qwen-image-edit.comfy", "qwen_image_edit_bf16.safetensors", "mir:model.dit.qwen-image:edit"),
        ("qwen-image-edit-2509.comfy", "qwen_image_edit_2509_bf16.safetensors", "mir:model.dit.qwen-image:edit-2509"),
        ("qwen-image-edit-2511.comfy", "qwen_image_edit_2511_bf16.safetensors", "mir:model.dit.qwen-image:edit-2511"),
    ):
        write_spec(name, comfy, header(cls, src_e, cfg_e, note_comfy + "; file name of the release"),
                   [f"@file_name {fname}", f"@expect {exp}", "@expect_decided_by filename"])
    write_spec("qwen-image-edit.modelspec", sd, header(cls, src_e, cfg_e, DIFFUSERS_NOTE + "; modelspec metadata"),
               ["@expect mir:model.dit.qwen-image:edit", "@expect_decided_by metadata"],
               ["@meta modelspec.architecture qwen-image-edit"])
    # A diffusers shard of the Edit release carries nothing that tells it from Qwen-Image.
    write_spec("qwen-image-edit.diffusers", sd, header(cls, src_e, cfg_e, DIFFUSERS_NOTE + "; a shard, no metadata"),
               ["@file_name diffusion_pytorch_model-00001-of-00005.safetensors",
                "@expect mir:model.dit.qwen-image", "@expect_candidate mir:model.dit.qwen-image:edit"])


def sana():
    cls = diffusers.SanaTransformer2DModel
    cfg = dict(in_channels=32, out_channels=32, num_attention_heads=70, attention_head_dim=32,
               num_layers=20, num_cross_attention_heads=20, cross_attention_head_dim=112,
               cross_attention_dim=2240, caption_channels=2304, mlp_ratio=2.5, sample_size=32,
               patch_size=1)
    src = ("Efficient-Large-Model/Sana_1600M_1024px_diffusers transformer/config.json; values = the "
           "class defaults of diffusers' SanaTransformer2DModel (the 1600M model)")
    # The original checkpoint also stores the sin-cos pos_embed buffer ([1, 32*32, hidden]) and
    # the null caption y_embedding ([300, 2304]) that diffusers' converter drops.
    add = [("pos_embed", ("BF16", [1, 1024, 2240])), ("y_embedder.y_embedding", ("BF16", [300, 2304]))]
    emit("sana", cls, cfg, src, ["@expect mir:model.dit.sana"],
         original=[("original", SANA_TO_ORIGINAL,
                    "authors' checkpoint (Sana_1600M_1024px.pth state_dict): inverse of diffusers' "
                    "convert_sana_transformer_to_diffusers", add, None)])


def hunyuanimage():
    cls = diffusers.HunyuanImageTransformer2DModel
    cfg = dict(in_channels=64, out_channels=64, num_attention_heads=28, attention_head_dim=128,
               num_layers=20, num_single_layers=40, num_refiner_layers=2, mlp_ratio=4.0,
               patch_size=(1, 1), qk_norm="rms_norm", guidance_embeds=False, text_embed_dim=3584,
               text_embed_2_dim=1472, rope_theta=256.0, rope_axes_dim=(64, 64))
    src = ("hunyuanvideo-community/HunyuanImage-2.1-Diffusers transformer/config.json; class "
           "defaults plus text_embed_2_dim 1472 (the ByT5 glyph encoder's width) as released")
    orig_note = ("authors' / ComfyUI single file (hunyuanimage2.1.safetensors): inverse of diffusers' "
                 "convert_hunyuan_video_transformer_to_diffusers plus the byt5_in mapper")
    emit("hunyuanimage-2-1", cls, cfg, src, ["@expect mir:model.dit.hunyuanimage-2-1"],
         original=[("original", HUNYUAN_TO_ORIGINAL, orig_note, (), None)])
    # Distilled release: guidance embedder and MeanFlow r-embedder.
    cfg_d = dict(cfg, guidance_embeds=True, use_meanflow=True)
    sd = meta_state(cls, cfg_d, BF16)
    write_spec("hunyuanimage-2-1-distilled.diffusers", sd,
               header(cls, "hunyuanvideo-community/HunyuanImage-2.1-Distilled-Diffusers transformer/config.json "
                      "(guidance_embeds and use_meanflow true)", cfg_d, DIFFUSERS_NOTE),
               ["@expect mir:model.dit.hunyuanimage-2-1"])
    write_spec("hunyuanimage-2-1-distilled.original", invert(sd, HUNYUAN_TO_ORIGINAL),
               header(cls, "hunyuanvideo-community/HunyuanImage-2.1-Distilled-Diffusers transformer/config.json "
                      "(guidance_embeds and use_meanflow true)", cfg_d, orig_note),
               ["@expect mir:model.dit.hunyuanimage-2-1"])


def cogview4():
    cls = diffusers.CogView4Transformer2DModel
    cfg = dict(patch_size=2, in_channels=16, out_channels=16, num_layers=28, attention_head_dim=128,
               num_attention_heads=32, text_embed_dim=4096, time_embed_dim=512, condition_dim=256,
               pos_embed_max_size=128, sample_size=128, rope_axes_dim=(256, 256))
    src = ("THUDM/CogView4-6B transformer/config.json; values as released (hidden 4096 = 32 heads x "
           "128, 28 layers, GLM-4-9B text width 4096)")
    sd = emit("cogview4", cls, cfg, src, ["@expect mir:model.dit.cogview4"])
    write_spec("cogview4.comfy", prefixed(sd, "model.diffusion_model."),
               header(cls, src, cfg, "single file: the diffusers names under model.diffusion_model."),
               ["@expect mir:model.dit.cogview4"])


# ---------------------------------------------------------------------------------------------
# LoRAs of the new bases, built from the real model's Linear layers: every rank-2 `.weight` of
# a block (what PEFT's `target_modules="all-linear"` restricted to the blocks, or kohya's
# network over the blocks, would wrap) gets `lora_A [r, in]` / `lora_B [out, r]` (PEFT /
# diffusers naming, `transformer.` prefix) or `lora_down` / `lora_up` / `alpha` (kohya naming,
# `lora_unet_` + the module path with `_`).

RANK = 16


def linear_modules(layout, block_prefixes):
    out = []
    for name, (_, shape) in layout.items():
        if not name.endswith(".weight") or len(shape) != 2:
            continue
        if not any(name.startswith(p) for p in block_prefixes):
            continue
        out.append((name[: -len(".weight")], shape))
    return out


def peft_lora(layout, block_prefixes, prefix="transformer."):
    out = OrderedDict()
    for mod, (o, i) in linear_modules(layout, block_prefixes):
        out[f"{prefix}{mod}.lora_A.weight"] = ("BF16", [RANK, i])
        out[f"{prefix}{mod}.lora_B.weight"] = ("BF16", [o, RANK])
    return out


def kohya_lora(layout, block_prefixes):
    out = OrderedDict()
    for mod, (o, i) in linear_modules(layout, block_prefixes):
        k = "lora_unet_" + mod.replace(".", "_")
        out[f"{k}.alpha"] = ("BF16", [])
        out[f"{k}.lora_down.weight"] = ("BF16", [RANK, i])
        out[f"{k}.lora_up.weight"] = ("BF16", [o, RANK])
    return out


def lora_header(cls, src, cfg, note):
    return header(cls, src, cfg, note) + [f"LoRA rank {RANK} over every Linear of the blocks (the base's real module names and shapes)."]


def loras():
    cls = diffusers.Flux2Transformer2DModel
    base = dict(
        patch_size=1, in_channels=128, out_channels=None, num_layers=8, num_single_layers=48,
        attention_head_dim=128, num_attention_heads=48, joint_attention_dim=15360,
        timestep_guidance_channels=256, mlp_ratio=3.0, axes_dims_rope=(32, 32, 32, 32),
        rope_theta=2000, eps=1e-6, guidance_embeds=True,
    )
    flux2 = [
        ("flux-2-dev", base, "black-forest-labs/FLUX.2-dev transformer/config.json (class defaults)"),
        ("flux-2-klein-4b", dict(base, num_layers=5, num_single_layers=20, num_attention_heads=24,
                                 joint_attention_dim=7680, guidance_embeds=False),
         "black-forest-labs/FLUX.2-klein-4B transformer/config.json (values as known, see flux-2-klein-4b.diffusers.spec)"),
        ("flux-2-klein-9b", dict(base, num_layers=8, num_single_layers=24, num_attention_heads=32,
                                 joint_attention_dim=12288, guidance_embeds=False),
         "black-forest-labs/FLUX.2-klein-9B transformer/config.json (values as known, see flux-2-klein-9b.diffusers.spec)"),
    ]
    for series, cfg, src in flux2:
        sd = meta_state(cls, cfg, BF16)
        ex = [f"@expect mir:model.lora.lora:{series}"]
        write_spec(f"lora-{series}.peft", peft_lora(sd, ("transformer_blocks.", "single_transformer_blocks.")),
                   lora_header(cls, src, cfg, "PEFT / diffusers LoRA (transformer.<module>.lora_A/lora_B)"), ex)
        bfl = invert(sd, FLUX2_TO_BFL)
        write_spec(f"lora-{series}.kohya", kohya_lora(bfl, ("double_blocks.", "single_blocks.")),
                   lora_header(cls, src, cfg, "kohya LoRA over the BFL module names (lora_unet_double_blocks_N_...)"), ex)

    cls = diffusers.QwenImageTransformer2DModel
    cfg = dict(patch_size=2, in_channels=64, out_channels=16, num_layers=60, attention_head_dim=128,
               num_attention_heads=24, joint_attention_dim=3584, guidance_embeds=False,
               axes_dims_rope=(16, 56, 56))
    src = "Qwen/Qwen-Image transformer/config.json (class defaults)"
    sd = meta_state(cls, cfg, BF16)
    ex = ["@expect mir:model.lora.lora:qwen-image"]
    write_spec("lora-qwen-image.peft", peft_lora(sd, ("transformer_blocks.",)),
               lora_header(cls, src, cfg, "PEFT / diffusers LoRA (transformer.<module>.lora_A/lora_B)"), ex)
    write_spec("lora-qwen-image.kohya", kohya_lora(sd, ("transformer_blocks.",)),
               lora_header(cls, src, cfg, "kohya-style LoRA over the diffusers module names (musubi-tuner naming)"), ex)
    # An attention-only LoRA (diffusers' training-script default targets) still reaches
    # blocks past FLUX.1's 19.
    att = OrderedDict((k, v) for k, v in peft_lora(sd, ("transformer_blocks.",)).items()
                      if ".attn.to_" in k and "to_add_out" not in k)
    write_spec("lora-qwen-image.peft-attn", att,
               lora_header(cls, src, cfg, "PEFT LoRA on to_q/to_k/to_v/to_out.0 only"), ex)

    cls = diffusers.ZImageTransformer2DModel
    cfg = dict(all_patch_size=(2,), all_f_patch_size=(1,), in_channels=16, dim=3840, n_layers=30,
               n_refiner_layers=2, n_heads=30, n_kv_heads=30, norm_eps=1e-5, qk_norm=True,
               cap_feat_dim=2560, rope_theta=256.0, t_scale=1000.0, axes_dims=[32, 48, 48],
               axes_lens=[1024, 512, 512])
    src = "Tongyi-MAI/Z-Image-Turbo transformer/config.json (class defaults)"
    sd = meta_state(cls, cfg, BF16)
    ex = ["@expect mir:model.lora.lora:z-image"]
    blocks = ("layers.", "noise_refiner.", "context_refiner.")
    write_spec("lora-z-image.peft", peft_lora(sd, blocks),
               lora_header(cls, src, cfg, "PEFT / diffusers LoRA (transformer.<module>.lora_A/lora_B)"), ex)
    # Lumina Image 2 (Z-Image's look-alike: same layers / refiner names, width 2304).
    lcls = diffusers.Lumina2Transformer2DModel
    lcfg = dict(sample_size=128, patch_size=2, in_channels=16, hidden_size=2304, num_layers=26,
                num_refiner_layers=2, num_attention_heads=24, num_kv_heads=8, multiple_of=256,
                norm_eps=1e-5, axes_dim_rope=(32, 32, 32), axes_lens=(300, 512, 512), cap_feat_dim=2304)
    lsd = meta_state(lcls, lcfg, BF16)
    lsrc = "Alpha-VLLM/Lumina-Image-2.0 transformer/config.json (values as released)"
    write_spec("lora-lumina-image-2.peft", peft_lora(lsd, blocks),
               lora_header(lcls, lsrc, lcfg, "PEFT / diffusers LoRA (transformer.<module>.lora_A/lora_B)"),
               ["@expect mir:model.lora.lora:lumina-image-2"])
    write_spec("lora-lumina-image-2.comfy", peft_lora(invert(lsd, LUMINA2_TO_ORIGINAL), blocks, prefix="diffusion_model."),
               lora_header(lcls, lsrc, lcfg, "LoRA over the original single-file module names"),
               ["@expect mir:model.lora.lora:lumina-image-2"])
    orig = invert(sd, ZIMAGE_TO_ORIGINAL)
    write_spec("lora-z-image.comfy", peft_lora(orig, blocks, prefix="diffusion_model."),
               lora_header(cls, src, cfg, "LoRA over the original single-file module names (diffusion_model.layers.N.attention.qkv...)"), ex)


# ---------------------------------------------------------------------------------------------
# SD-family UNets (diffusers UNet2DConditionModel) and their LDM / SGM single-file names: the
# inverse of diffusers' convert_ldm_unet_checkpoint (the same table diffusers' reverse script
# scripts/convert_diffusers_to_original_stable_diffusion.py writes out). Every level has 2 down
# resnets and 3 up resnets, as in all of these configs.

RESNET = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
          ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection")]


def unet_to_ldm(layout, up_has_attn, lpb=2):
    """diffusers UNet names -> LDM names. `up_has_attn[i]`: whether up block i has attentions
    (decides the upsampler's index inside output_blocks). `lpb`: resnets per down block
    (`layers_per_block`; 2 in every SD release, 1 in KOALA); up blocks have `lpb + 1`."""
    d, u = lpb + 1, lpb + 1  # input_blocks per level (resnets + downsampler); output_blocks per level
    import re as _re

    def res(inner):
        for a, b in RESNET:
            if inner.startswith(a + "."):
                return b + inner[len(a):]
        raise KeyError(inner)

    out = OrderedDict()
    for name, v in layout.items():
        m = _re.fullmatch(r"down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", name)
        if m:
            i, j, inner = int(m[1]), int(m[2]), m[3]
            out[f"input_blocks.{d * i + j + 1}.0.{res(inner)}"] = v
            continue
        m = _re.fullmatch(r"down_blocks\.(\d+)\.attentions\.(\d+)\.(.*)", name)
        if m:
            i, j, inner = int(m[1]), int(m[2]), m[3]
            out[f"input_blocks.{d * i + j + 1}.1.{inner}"] = v
            continue
        m = _re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", name)
        if m:
            out[f"input_blocks.{d * (int(m[1]) + 1)}.0.op.{m[2]}"] = v
            continue
        m = _re.fullmatch(r"up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", name)
        if m:
            i, j, inner = int(m[1]), int(m[2]), m[3]
            out[f"output_blocks.{u * i + j}.0.{res(inner)}"] = v
            continue
        m = _re.fullmatch(r"up_blocks\.(\d+)\.attentions\.(\d+)\.(.*)", name)
        if m:
            i, j, inner = int(m[1]), int(m[2]), m[3]
            out[f"output_blocks.{u * i + j}.1.{inner}"] = v
            continue
        m = _re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.(.*)", name)
        if m:
            i = int(m[1])
            out[f"output_blocks.{u * i + lpb}.{2 if up_has_attn[i] else 1}.{m[2]}"] = v
            continue
        m = _re.fullmatch(r"mid_block\.attentions\.0\.(.*)", name)
        if m:
            out[f"middle_block.1.{m[1]}"] = v
            continue
        m = _re.fullmatch(r"mid_block\.resnets\.(\d+)\.(.*)", name)
        if m:
            out[f"middle_block.{2 * int(m[1])}.{res(m[2])}"] = v
            continue
        simple = [
            (r"time_embedding\.linear_1\.(.*)", r"time_embed.0.\1"),
            (r"time_embedding\.linear_2\.(.*)", r"time_embed.2.\1"),
            (r"(?:add_embedding|class_embedding)\.linear_1\.(.*)", r"label_emb.0.0.\1"),
            (r"(?:add_embedding|class_embedding)\.linear_2\.(.*)", r"label_emb.0.2.\1"),
            (r"conv_in\.(.*)", r"input_blocks.0.0.\1"),
            (r"conv_norm_out\.(.*)", r"out.0.\1"),
            (r"conv_out\.(.*)", r"out.2.\1"),
            (r"(encoder_hid_proj\..*)", r"\1"),
        ]
        for rx, t in simple:
            m = _re.fullmatch(rx, name)
            if m:
                out[m.expand(t)] = v
                break
        else:
            raise KeyError(name)
    return out


SD15 = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
SD21 = dict(SD15, sample_size=96, cross_attention_dim=1024, attention_head_dim=(5, 10, 20, 20),
            use_linear_projection=True)
SDXL = dict(sample_size=128, in_channels=4, out_channels=4, layers_per_block=2,
            block_out_channels=(320, 640, 1280),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20),
            cross_attention_dim=2048, use_linear_projection=True, addition_embed_type="text_time",
            addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816)
SD_UP_ATTN = (False, True, True, True)
SDXL_UP_ATTN = (True, True, False)


def unets():
    cls = diffusers.UNet2DConditionModel
    ldm_note = ("original LDM / SGM single file (model.diffusion_model.* in the checkpoint; here the "
                "UNet part): inverse of diffusers' convert_ldm_unet_checkpoint")
    items = [
        ("sd1-full", SD15, "stable-diffusion-v1-5/stable-diffusion-v1-5 unet/config.json", SD_UP_ATTN, F16 := torch.float16,
         ["@expect mir:model.unet.stable-diffusion-v1"]),
        ("sd1-pix2pix", dict(SD15, in_channels=8), "timbrooks/instruct-pix2pix unet/config.json (the SD 1.5 UNet with "
         "in_channels 8: noisy latent + encoded input image)", SD_UP_ATTN, torch.float16,
         ["@expect mir:model.unet.stable-diffusion-v1:pix2pix"]),
        ("sd2-full", SD21, "stabilityai/stable-diffusion-2-1 unet/config.json", SD_UP_ATTN, torch.float16,
         ["@expect mir:model.unet.stable-diffusion-2"]),
        ("sd2-depth", dict(SD21, sample_size=64, in_channels=5), "stabilityai/stable-diffusion-2-depth unet/config.json "
         "(the SD 2 UNet with in_channels 5: latent + MiDaS depth map; the checkpoint's depth_model.* "
         "estimator is a separate part)", SD_UP_ATTN, torch.float16,
         ["@expect mir:model.unet.stable-diffusion-2:depth"]),
        ("sd2-unclip-h", dict(SD21, class_embed_type="projection", projection_class_embeddings_input_dim=2048),
         "stabilityai/stable-diffusion-2-1-unclip unet/config.json (OpenCLIP-H image embedding + noise-level "
         "embedding: 2 x 1024)", SD_UP_ATTN, torch.float16, ["@expect mir:model.unet.stable-diffusion-2:unclip"]),
        ("sd2-unclip-l", dict(SD21, class_embed_type="projection", projection_class_embeddings_input_dim=1536),
         "stabilityai/stable-diffusion-2-1-unclip-small unet/config.json (CLIP-L image embedding + noise-level "
         "embedding: 2 x 768)", SD_UP_ATTN, torch.float16, ["@expect mir:model.unet.stable-diffusion-2:unclip"]),
        ("sdxl-full", SDXL, "stabilityai/stable-diffusion-xl-base-1.0 unet/config.json", SDXL_UP_ATTN, torch.float16,
         ["@expect mir:model.unet.stable-diffusion-xl"]),
        ("kolors-full", dict(SDXL, encoder_hid_dim=4096, encoder_hid_dim_type="text_proj",
                             projection_class_embeddings_input_dim=5632),
         "Kwai-Kolors/Kolors-diffusers unet/config.json (ChatGLM3 4096 projected by encoder_hid_proj; "
         "add-embedding input 4096 + 6 x 256)", SDXL_UP_ATTN, torch.float16, ["@expect mir:model.unet.kolors"]),
    ]
    for name, cfg, src, up_attn, dt, ex in items:
        src = src + "; values as released (standard SD-family configs)"
        sd = meta_state(cls, cfg, dt)
        write_spec(f"{name}.diffusers", sd, header(cls, src, cfg, DIFFUSERS_NOTE), ex)
        write_spec(f"{name}.ldm", prefixed(unet_to_ldm(sd, up_attn), "model.diffusion_model."),
                   header(cls, src, cfg, ldm_note), ex)


# ---------------------------------------------------------------------------------------------
# SDXL distillations: the SDXL UNet2DConditionModel with fewer transformer blocks per level (and
# fewer resnets for KOALA). The hub is not reachable from here; the values below reproduce the
# released unet/config.json files and are checked against the parameter counts their authors
# publish (computed on the meta model below; the script stops if one drifts):
#   SSD-1B 1.3B (segmind/SSD-1B model card, arXiv 2401.02677), Segmind-Vega 745M (Segmind's Vega
#   model card and blog), KOALA-700M 782M and KOALA-1B 1.16B (arXiv 2312.04005, Table 2).
# SSD-1B and Vega keep one resnet in the mid block (diffusers' `mid_block_type="UNetMidBlock2D"`,
# which builds exactly one resnet and no attention); KOALA-700M has no mid block
# (`mid_block_type=None`), KOALA-1B the cross-attention mid block at depth 6.

SDXL_DISTILLED = [
    # name, config, source, published UNet parameters (billions), ID, single-file layout released
    ("ssd-1b", dict(SDXL, transformer_layers_per_block=[1, 2, 4],
                    reverse_transformer_layers_per_block=[[4, 4, 10], [2, 1, 1], [1, 1, 1]],
                    mid_block_type="UNetMidBlock2D"),
     "segmind/SSD-1B unet/config.json (transformer_layers_per_block [1, 2, 4], "
     "reverse_transformer_layers_per_block [[4, 4, 10], [2, 1, 1], 1], mid_block_type UNetMidBlock2D); "
     "single file SSD-1B.safetensors (SGM names)", 1.3, "mir:model.unet.ssd-1b", "sgm"),
    ("segmind-vega", dict(SDXL, transformer_layers_per_block=[0, 1, 2],
                          reverse_transformer_layers_per_block=[[2, 2, 2], [1, 1, 1], [0, 0, 0]],
                          mid_block_type="UNetMidBlock2D"),
     "segmind/Segmind-Vega unet/config.json (symmetric: transformer_layers_per_block [0, 1, 2], "
     "reverse [[2, 2, 2], [1, 1, 1], 0], mid_block_type UNetMidBlock2D); single file "
     "segmind-vega.safetensors (SGM names)", 0.745, "mir:model.unet.segmind-vega", "sgm"),
    ("koala-700m", dict(SDXL, layers_per_block=1, transformer_layers_per_block=[1, 2, 5], mid_block_type=None),
     "etri-vilab/koala-700m(-llava-cap) unet/config.json (layers_per_block 1, transformer_layers_per_block "
     "[1, 2, 5], mid_block_type null); released as diffusers folders only, the LDM layout is the "
     "UNet as ComfyUI / A1111 checkpoint savers write it", 0.782, "mir:model.unet.koala", "ldm"),
    ("koala-1b", dict(SDXL, layers_per_block=1, transformer_layers_per_block=[1, 2, 6]),
     "etri-vilab/koala-1b(-llava-cap) unet/config.json (layers_per_block 1, transformer_layers_per_block "
     "[1, 2, 6], cross-attention mid block at depth 6); released as diffusers folders only, the LDM "
     "layout is the UNet as ComfyUI / A1111 checkpoint savers write it", 1.16, "mir:model.unet.koala", "ldm"),
]


def sdxl_distilled():
    cls = diffusers.UNet2DConditionModel
    for name, cfg, src, billions, mir, single in SDXL_DISTILLED:
        model = meta_model(cls, cfg)
        n = sum(p.numel() for p in model.parameters()) / 1e9
        if abs(n - billions) > 0.035 * billions:
            raise SystemExit(f"{name}: {n:.3f}B parameters, the release has {billions}B: config drifted")
        src = f"{src}; {n:.3f}B UNet parameters (published: {billions}B)"
        sd = meta_state(cls, cfg, torch.float16)
        ex = [f"@expect {mir}", "@expect_prediction eps"]
        write_spec(f"{name}.diffusers", sd, header(cls, src, cfg, DIFFUSERS_NOTE.replace("transformer/", "unet/")), ex)
        note = ("original SGM single file (model.diffusion_model.*; here the UNet part): inverse of "
                "diffusers' convert_ldm_unet_checkpoint")
        lpb = cfg.get("layers_per_block", 2)
        write_spec(f"{name}.{single}", prefixed(unet_to_ldm(sd, SDXL_UP_ATTN, lpb), "model.diffusion_model."),
                   header(cls, src, cfg, note), ex)


# ---------------------------------------------------------------------------------------------
# Full layouts of the image DiT families that had only reduced fixtures before issue 12.

LUMINA2_TO_ORIGINAL = [
    (r"time_caption_embed\.caption_embedder\.(.*)", r"cap_embedder.\1", 0),
    (r"time_caption_embed\.timestep_embedder\.linear_1\.(.*)", r"t_embedder.mlp.0.\1", 0),
    (r"time_caption_embed\.timestep_embedder\.linear_2\.(.*)", r"t_embedder.mlp.2.\1", 0),
    (r"norm_out\.linear_1\.(.*)", r"final_layer.adaLN_modulation.1.\1", 0),
    (r"norm_out\.linear_2\.(.*)", r"final_layer.linear.\1", 0),
    (r"(.*)\.attn\.to_q\.weight", r"\1.attention.qkv.weight", 0),
    (r"(.*)\.attn\.to_k\.weight", r"\1.attention.qkv.weight", 1),
    (r"(.*)\.attn\.to_v\.weight", r"\1.attention.qkv.weight", 2),
    (r"(.*)\.attn\.to_out\.0\.(.*)", r"\1.attention.out.\2", 0),
    (r"(.*)\.attn\.norm_q\.(.*)", r"\1.attention.q_norm.\2", 0),
    (r"(.*)\.attn\.norm_k\.(.*)", r"\1.attention.k_norm.\2", 0),
    (r"(.*)\.feed_forward\.linear_(\d)\.(.*)", r"\1.feed_forward.w\2.\3", 0),
    (r"context_refiner\.(\d+)\.norm1\.(.*)", r"context_refiner.\1.attention_norm1.\2", 0),
    (r"context_refiner\.(\d+)\.norm2\.(.*)", r"context_refiner.\1.attention_norm2.\2", 0),
    (r"(.*)\.norm1\.norm\.(.*)", r"\1.attention_norm1.\2", 0),
    (r"(.*)\.norm1\.linear\.(.*)", r"\1.adaLN_modulation.1.\2", 0),
    (r"(.*)\.norm2\.(.*)", r"\1.attention_norm2.\2", 0),
    (r"(.*)", r"\1", 0),
]

CHROMA_TO_ORIGINAL = [
    (r"distilled_guidance_layer\.layers\.(\d+)\.linear_1\.(.*)", r"distilled_guidance_layer.layers.\1.in_layer.\2", 0),
    (r"distilled_guidance_layer\.layers\.(\d+)\.linear_2\.(.*)", r"distilled_guidance_layer.layers.\1.out_layer.\2", 0),
    (r"distilled_guidance_layer\.norms\.(\d+)\.weight", r"distilled_guidance_layer.norms.\1.scale", 0),
    (r"(distilled_guidance_layer\.(?:in|out)_proj\..*)", r"\1", 0),
    (r"norm_out\.linear\.(.*)", r"final_layer.adaLN_modulation.1.\1", 0),
] + FLUX1_TO_BFL


def dits():
    items = []
    c = diffusers.SD3Transformer2DModel
    sd3m = dict(sample_size=128, patch_size=2, in_channels=16, num_layers=24, attention_head_dim=64,
                num_attention_heads=24, joint_attention_dim=4096, caption_projection_dim=1536,
                pooled_projection_dim=2048, out_channels=16, pos_embed_max_size=192)
    items += [
        ("sd3-medium-full", c, sd3m, "stabilityai/stable-diffusion-3-medium-diffusers transformer/config.json", torch.float16,
         ["@expect mir:model.dit.stable-diffusion-3:medium"]),
        ("sd3-5-large-full", c, dict(sd3m, num_layers=38, num_attention_heads=38, caption_projection_dim=2432, qk_norm="rms_norm"),
         "stabilityai/stable-diffusion-3.5-large transformer/config.json", BF16,
         ["@expect mir:model.dit.stable-diffusion-3:3-5-large"]),
        ("sd3-5-medium-full", c, dict(sd3m, pos_embed_max_size=384, qk_norm="rms_norm", dual_attention_layers=tuple(range(13))),
         "stabilityai/stable-diffusion-3.5-medium transformer/config.json (MMDiT-X: dual attention in blocks 0-12)", BF16,
         ["@expect mir:model.dit.stable-diffusion-3:3-5-medium"]),
        ("auraflow-full", diffusers.AuraFlowTransformer2DModel,
         dict(sample_size=64, patch_size=2, in_channels=4, num_mmdit_layers=4, num_single_dit_layers=32,
              attention_head_dim=256, num_attention_heads=12, joint_attention_dim=2048,
              caption_projection_dim=3072, out_channels=4, pos_embed_max_size=9216),
         "fal/AuraFlow-v0.3 transformer/config.json (class defaults; pos_embed_max_size 9216 of v0.3)", torch.float16,
         ["@expect mir:model.dit.auraflow"]),
        ("pixart-alpha-full", diffusers.PixArtTransformer2DModel,
         dict(num_attention_heads=16, attention_head_dim=72, in_channels=4, out_channels=8, num_layers=28,
              cross_attention_dim=1152, sample_size=128, patch_size=2, caption_channels=4096,
              use_additional_conditions=True),
         "PixArt-alpha/PixArt-XL-2-1024-MS transformer/config.json (resolution / aspect-ratio micro-conditioning)",
         torch.float16, ["@expect mir:model.dit.pixart-alpha"]),
        ("pixart-sigma-full", diffusers.PixArtTransformer2DModel,
         dict(num_attention_heads=16, attention_head_dim=72, in_channels=4, out_channels=8, num_layers=28,
              cross_attention_dim=1152, sample_size=128, patch_size=2, caption_channels=4096,
              interpolation_scale=2, use_additional_conditions=False),
         "PixArt-alpha/PixArt-Sigma-XL-2-1024-MS transformer/config.json", torch.float16,
         ["@expect mir:model.dit.pixart-sigma"]),
        ("hunyuandit-full", diffusers.HunyuanDiT2DModel,
         dict(num_attention_heads=16, attention_head_dim=88, in_channels=4, patch_size=2, sample_size=128,
              hidden_size=1408, num_layers=40, mlp_ratio=4.3637, learn_sigma=True, cross_attention_dim=1024,
              cross_attention_dim_t5=2048, pooled_projection_dim=1024, text_len=77, text_len_t5=256,
              use_style_cond_and_image_meta_size=False),
         "Tencent-Hunyuan/HunyuanDiT-v1.2-Diffusers transformer/config.json", torch.float16,
         ["@expect mir:model.dit.hunyuandit-v1"]),
        ("hidream-i1-full", diffusers.HiDreamImageTransformer2DModel,
         dict(patch_size=2, in_channels=16, out_channels=16, num_layers=16, num_single_layers=32,
              attention_head_dim=128, num_attention_heads=20, caption_channels=[4096, 4096],
              text_emb_dim=2048, num_routed_experts=4, num_activated_experts=2, axes_dims_rope=(64, 32, 32),
              max_resolution=(128, 128), llama_layers=list(range(48))),
         "HiDream-ai/HiDream-I1-Full transformer/config.json", BF16, ["@expect mir:model.dit.hidream-i1"]),
    ]
    for name, cls, cfg, src, dt, ex in items:
        src = src + "; values as released (as known to the script's author; hub not reachable)"
        sd = meta_state(cls, cfg, dt)
        write_spec(f"{name}.diffusers", sd, header(cls, src, cfg, DIFFUSERS_NOTE), ex)
        if name == "hidream-i1-full":
            # diffusers' single-file converter for HiDream only strips ComfyUI's prefix.
            write_spec(f"{name}.comfy", prefixed(sd, "model.diffusion_model."),
                       header(cls, src, cfg, "ComfyUI single file: the same names under model.diffusion_model. "
                              "(diffusers' convert_hidream_transformer_to_diffusers only strips that prefix)"), ex)

    cls = diffusers.Lumina2Transformer2DModel
    cfg = dict(sample_size=128, patch_size=2, in_channels=16, hidden_size=2304, num_layers=26,
               num_refiner_layers=2, num_attention_heads=24, num_kv_heads=8, multiple_of=256,
               norm_eps=1e-5, axes_dim_rope=(32, 32, 32), axes_lens=(300, 512, 512), cap_feat_dim=2304)
    src = ("Alpha-VLLM/Lumina-Image-2.0 transformer/config.json (Gemma-2-2B caption width 2304); values "
           "as released")
    emit("lumina-image-2-full", cls, cfg, src, ["@expect mir:model.dit.lumina-image-2"],
         original=[("original", LUMINA2_TO_ORIGINAL,
                    "original / ComfyUI single file: inverse of diffusers' convert_lumina2_to_diffusers "
                    "(plus the unused norm_final.weight [hidden] the converter drops)",
                    [("norm_final.weight", ("BF16", [2304]))], None)])

    cls = diffusers.ChromaTransformer2DModel
    cfg = dict(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
               num_attention_heads=24, joint_attention_dim=4096, axes_dims_rope=(16, 56, 56),
               approximator_num_channels=64, approximator_hidden_dim=5120, approximator_layers=5)
    src = "lodestones/Chroma1-HD transformer/config.json; values = the class defaults of ChromaTransformer2DModel"
    emit("chroma-full", cls, cfg, src, ["@expect mir:model.dit.chroma"],
         original=[("original", CHROMA_TO_ORIGINAL,
                    "original single file (Chroma1-HD.safetensors): inverse of diffusers' "
                    "convert_chroma_transformer_checkpoint_to_diffusers", (), None)])


# ---------------------------------------------------------------------------------------------
# Chroma Radiance: no diffusers class; the authors' model code (lodestone-rock/flow,
# src/models/chroma/model_dct.py, not pip-installable and not vendored here) is imported from a
# local checkout named by FLOW_SRC and built on the meta device with its own `chroma_params`.


def chroma_radiance():
    import os
    import importlib

    src_dir = os.environ.get("FLOW_SRC")
    if not src_dir:
        print("chroma-radiance: set FLOW_SRC to a checkout of github.com/lodestone-rock/flow", file=sys.stderr)
        return
    sys.path.insert(0, src_dir)
    m = importlib.import_module("src.models.chroma.model_dct")
    with torch.device("meta"):
        net = m.Chroma(m.chroma_params).to(BF16)
    sd = OrderedDict((k, (DTYPES[v.dtype], list(v.shape))) for k, v in net.state_dict().items())
    params = {k: getattr(m.chroma_params, k) for k in ("in_channels", "context_in_dim", "hidden_size", "depth",
                                                        "depth_single_blocks", "patch_size", "nerf_hidden_size",
                                                        "nerf_depth", "nerf_max_freqs")}
    hdr = [
        f"Generated by {GEN} (do not edit by hand).",
        "Class: Chroma of lodestone-rock/flow src/models/chroma/model_dct.py (the authors' code), built on "
        f"torch's meta device; checkout at commit {os.environ.get('FLOW_COMMIT', 'unknown')} (FLOW_COMMIT).",
        "Config: lodestones/Chroma1-Radiance; values = the chroma_params of that file",
        f"Config values: {fmt_config(params)}",
    ]
    write_spec("chroma-radiance.original", sd, hdr + ["Layout: the authors' single file (state_dict of the model)"],
               ["@expect mir:model.dit.chroma-radiance"])
    x0 = OrderedDict(sd)
    x0["__x0__"] = ("BF16", [0])
    write_spec("chroma-radiance.x0", x0, hdr + ["Layout: the authors' single file of an x0-prediction release "
                                                "(use_x0 registers the __x0__ marker buffer)"],
               ["@expect mir:model.dit.chroma-radiance"])


# ---------------------------------------------------------------------------------------------
# OmniGen2: no diffusers class; the authors' OmniGen2Transformer2DModel (VectorSpaceLab/
# OmniGen2, omnigen2/models/transformers/transformer_omnigen2.py, not pip-installable and not
# vendored here) is imported from a local checkout named by OMNIGEN2_SRC. Triton is switched off
# so the model builds without a GPU (the fused RMSNorm and torch's RMSNorm have the same weight).


def omnigen2():
    import os
    import importlib

    src_dir = os.environ.get("OMNIGEN2_SRC")
    if not src_dir:
        print("omnigen2: set OMNIGEN2_SRC to a checkout of github.com/VectorSpaceLab/OmniGen2", file=sys.stderr)
        return
    sys.path.insert(0, src_dir)
    iu = importlib.import_module("omnigen2.utils.import_utils")
    iu.is_triton_available = lambda: False
    cls = importlib.import_module("omnigen2.models.transformers.transformer_omnigen2").OmniGen2Transformer2DModel
    cfg = dict(patch_size=2, in_channels=16, out_channels=None, hidden_size=2520, num_layers=32,
               num_refiner_layers=2, num_attention_heads=21, num_kv_heads=7, multiple_of=256,
               ffn_dim_multiplier=None, norm_eps=1e-5, axes_dim_rope=(40, 40, 40), axes_lens=(1024, 1664, 1664),
               text_feat_dim=2048, timestep_scale=1000.0)
    sd = meta_state(cls, cfg, BF16)
    hdr = [
        f"Generated by {GEN} (do not edit by hand).",
        "Class: OmniGen2Transformer2DModel of VectorSpaceLab/OmniGen2 (the authors' code), built on torch's meta "
        f"device; checkout at commit {os.environ.get('OMNIGEN2_COMMIT', 'unknown')} (OMNIGEN2_COMMIT).",
        "Config: OmniGen2/OmniGen2 transformer/config.json; values as released (as known to the script's author; "
        "hub not reachable: hidden 2520 = 21 heads x 120, 32 layers, Qwen2.5-VL-3B text width 2048; 3.97e9 "
        "parameters, the released 4B)",
        f"Config values: {fmt_config(cfg)}",
    ]
    write_spec("omnigen-2.diffusers", sd, hdr + ["Layout: the release's transformer/ folder (state_dict names)"],
               ["@expect mir:model.dit.omnigen-2"])
    f16 = OrderedDict((k, ("F16", v[1])) for k, v in prefixed(sd, "model.diffusion_model.").items())
    write_spec("omnigen-2.comfy", f16, hdr + ["Layout: ComfyUI single file (omnigen2_fp16.safetensors): the same "
                                              "names under model.diffusion_model., FP16"],
               ["@expect mir:model.dit.omnigen-2"])


FAMILIES = {
    "flux-2": flux2,
    "flux-1": flux1,
    "flux-1-descendants": flux1_descendants,
    "z-image": zimage,
    "qwen-image": qwen_image,
    "sana": sana,
    "hunyuanimage": hunyuanimage,
    "cogview4": cogview4,
    "loras": loras,
    "unets": unets,
    "sdxl-distilled": sdxl_distilled,
    "dits": dits,
    "chroma-radiance": chroma_radiance,
    "omnigen2": omnigen2,
}


def main(argv: list[str]) -> int:
    names = argv or list(FAMILIES)
    for n in names:
        if n not in FAMILIES:
            print(f"unknown family {n!r}; known: {', '.join(FAMILIES)}", file=sys.stderr)
            return 2
        FAMILIES[n]()
        print(f"{n}: done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
