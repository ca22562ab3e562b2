#!/usr/bin/env python3
"""Generate the real tensor layouts of the video, audio and 3-D denoisers, the video/audio VAEs,
the tiny decoders and the LoRAs of the video bases, as `fixtures/specs/<family>.<layout>.spec`.

Every layout comes from the real model class instantiated on torch's `meta` device (no weights,
no memory) with the RELEASED config values written below; each config cites the Hugging Face repo
and file it comes from. The network cannot reach the hub, so the values were taken from the
diffusers source (class defaults, conversion scripts, docs and tests) and from knowledge of the
published `config.json` files; each entry says which.

Original / single-file layouts (the keys ComfyUI users keep) are built by INVERTING diffusers' own
single-file conversion (`diffusers/loaders/single_file_utils.py`), since the authors' code is not
pip-installable; each such spec says so in its header.

Run:  python xtask/layouts/gen_video.py (in a venv with xtask/layouts/requirements.txt installed) [--only SUBSTRING]
Self-contained on purpose (common.py belongs to the image generator).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "fixtures" / "specs"
SCRIPT = "xtask/layouts/gen_video.py"

DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.bool: "BOOL",
    torch.uint8: "U8",
}


def meta_state_dict(cls, config: dict, dtype=torch.bfloat16):
    """Instantiate `cls(**config)` on the meta device and return [(name, dtype, shape)]."""
    with torch.device("meta"):
        model = cls(**config)
    model = model.to(dtype)
    return [(k, DTYPES[v.dtype], list(v.shape)) for k, v in model.state_dict().items()]


def write_spec(name: str, expect: str, header: list[str], rows, extra: list[str] = ()):
    lines = [f"# {h}" for h in header]
    lines.append(f"# generator: {SCRIPT}")
    lines.append(f"@expect {expect}")
    lines.extend(extra)
    for k, dt, shape in rows:
        lines.append(f"{k} {dt} [{','.join(str(d) for d in shape)}]")
    path = OUT / f"{name}.spec"
    path.write_text("\n".join(lines) + "\n")
    print(f"{path.relative_to(ROOT)}: {len(rows)} tensors", file=sys.stderr)


def rename_rows(rows, fn):
    out = []
    for k, dt, shape in rows:
        r = fn(k, shape)
        if r is None:
            continue
        if isinstance(r, list):
            out.extend((nk, dt, ns) for nk, ns in r)
        else:
            out.append((r, dt, shape))
    return out


def merge_rows(rows, groups):
    """Fuse row groups: groups is {new_key: ([old keys], dim)} concatenated along dim."""
    by = {k: (dt, s) for k, dt, s in rows}
    first = {}
    skip = set()
    for nk, (olds, dim) in groups.items():
        if all(o in by for o in olds):
            first[olds[0]] = (nk, olds, dim)
            skip.update(olds[1:])
    out = []
    for k, dt, s in rows:
        if k in skip:
            continue
        if k in first:
            nk, olds, dim = first[k]
            shape = list(by[olds[0]][1])
            shape[dim] = sum(by[o][1][dim] for o in olds)
            out.append((nk, dt, shape))
            continue
        out.append((k, dt, s))
    return out


# ---------------------------------------------------------------------------------------------
# Wan 2.1 / 2.2
# ---------------------------------------------------------------------------------------------

def wan_to_original(key: str, shape):
    """Invert diffusers' `convert_wan_transformer_to_diffusers` (single_file_utils.py).

    The forward map renames `blocks.N.modulation` -> `scale_shift_table`, `head.modulation` ->
    `scale_shift_table`, `head.head` -> `proj_out`, swaps norm2/norm3, renames attention
    projections and the CLIP image embedder; VACE's `before_proj`/`after_proj` become
    `proj_in`/`proj_out`. `img_emb.emb_pos` (FLF2V) is the inverse of the diffusers conversion
    script's `condition_embedder.image_embedder.pos_embed`.
    """
    k = key
    top = {
        "scale_shift_table": "head.modulation",
        "proj_out.weight": "head.head.weight",
        "proj_out.bias": "head.head.bias",
        "condition_embedder.image_embedder.pos_embed": "img_emb.emb_pos",
    }
    if k in top:
        return top[k]
    subs = [
        ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
        ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
        ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
        ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
        ("condition_embedder.time_proj", "time_projection.1"),
        ("condition_embedder.image_embedder.norm1", "img_emb.proj.0"),
        ("condition_embedder.image_embedder.ff.net.0.proj", "img_emb.proj.1"),
        ("condition_embedder.image_embedder.ff.net.2", "img_emb.proj.3"),
        ("condition_embedder.image_embedder.norm2", "img_emb.proj.4"),
        (".attn1.", ".self_attn."),
        (".attn2.", ".cross_attn."),
        (".to_out.0.", ".o."),
        (".to_q.", ".q."),
        (".to_k.", ".k."),
        (".to_v.", ".v."),
        (".add_k_proj.", ".k_img."),
        (".add_v_proj.", ".v_img."),
        (".norm_added_k.", ".norm_k_img."),
        (".ffn.net.0.proj.", ".ffn.0."),
        (".ffn.net.2.", ".ffn.2."),
    ]
    for a, b in subs:
        k = k.replace(a, b)
    # norm2 <-> norm3 swap inside blocks
    k = re.sub(r"\.norm2\.", ".norm__x.", k)
    k = re.sub(r"\.norm3\.", ".norm2.", k)
    k = k.replace(".norm__x.", ".norm3.")
    k = re.sub(r"^(blocks\.\d+|vace_blocks\.\d+)\.scale_shift_table$", r"\1.modulation", k)
    k = re.sub(r"^(vace_blocks\.\d+)\.proj_in\.", r"\1.before_proj.", k)
    k = re.sub(r"^(vace_blocks\.\d+)\.proj_out\.", r"\1.after_proj.", k)
    return k


def wan_animate_to_original(rows):
    """Invert convert_wan_transformer_to_diffusers' Animate branches (motion encoder, face
    adapter/encoder), then the common Wan renames. The face adapter's k/v are fused back into
    `linear1_kv`; the motion encoder's activation biases get back their [1, C, 1, 1] shape."""
    fuse = {}
    for k, _, _ in rows:
        m = re.match(r"^face_adapter\.(\d+)\.to_k\.(weight|bias)$", k)
        if m:
            i, p = m.groups()
            fuse[f"face_adapter.fuser_blocks.{i}.linear1_kv.{p}"] = (
                [f"face_adapter.{i}.to_k.{p}", f"face_adapter.{i}.to_v.{p}"], 0)
    rows = merge_rows(rows, fuse)

    def inv(k, sh):
        if k.startswith("face_adapter.fuser_blocks."):
            return k
        m = re.match(r"^face_adapter\.(\d+)\.(\w+)\.(weight|bias)$", k)
        if m:
            i, mod, p = m.groups()
            mod = {"to_q": "linear1_q", "to_out": "linear2", "norm_q": "q_norm", "norm_k": "k_norm"}[mod]
            return f"face_adapter.fuser_blocks.{i}.{mod}.{p}"
        if k.startswith("face_encoder."):
            return re.sub(r"^face_encoder\.(conv1_local|conv2|conv3)\.", r"face_encoder.\1.conv.", k)
        if k.startswith("motion_encoder."):
            fixed = {
                "motion_encoder.motion_synthesis_weight": "motion_encoder.dec.direction.weight",
                "motion_encoder.conv_in.weight": "motion_encoder.enc.net_app.convs.0.0.weight",
                "motion_encoder.conv_in.act_fn.bias": "motion_encoder.enc.net_app.convs.0.1.bias",
                "motion_encoder.conv_out.weight": "motion_encoder.enc.net_app.convs.8.weight",
            }
            if k in fixed:
                n = fixed[k]
            elif k.startswith("motion_encoder.motion_network."):
                n = k.replace("motion_encoder.motion_network.", "motion_encoder.enc.fc.")
            else:
                m = re.match(r"^motion_encoder\.res_blocks\.(\d+)\.(.*)$", k)
                i, rest = int(m.group(1)) + 1, m.group(2)
                rest = {"conv1.weight": "conv1.0.weight", "conv1.act_fn.bias": "conv1.1.bias",
                        "conv2.weight": "conv2.1.weight", "conv2.act_fn.bias": "conv2.2.bias",
                        "conv_skip.weight": "skip.1.weight"}[rest]
                n = f"motion_encoder.enc.net_app.convs.{i}.{rest}"
            if n.startswith("motion_encoder.enc.net_app.convs.") and n.endswith(".bias"):
                return [(n, [1, sh[0], 1, 1])]
            return n
        return wan_to_original(k, sh)

    return rename_rows(rows, inv)


WAN_SRC = "config values: diffusers convert_wan_to_diffusers.py TRANSFORMER_CONFIGS / class defaults"

WAN_BASE = dict(
    patch_size=(1, 2, 2), attention_head_dim=128, text_dim=4096, freq_dim=256,
    cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024,
)
WAN_1_3B = dict(WAN_BASE, num_attention_heads=12, ffn_dim=8960, num_layers=30, in_channels=16, out_channels=16)
WAN_14B = dict(WAN_BASE, num_attention_heads=40, ffn_dim=13824, num_layers=40, in_channels=16, out_channels=16)
WAN_14B_I2V = dict(WAN_14B, in_channels=36, image_dim=1280, added_kv_proj_dim=5120)
WAN_5B = dict(WAN_BASE, num_attention_heads=24, ffn_dim=14336, num_layers=30, in_channels=48, out_channels=48)


def gen_wan():
    import diffusers as d

    jobs = [
        # (name, id, class, config, repo/file, both layouts)
        ("wan-2-1-t2v-1-3b", "mir:model.dit.wan-2-1:t2v", d.WanTransformer3DModel, WAN_1_3B,
         "Wan-AI/Wan2.1-T2V-1.3B-Diffusers transformer/config.json"),
        ("wan-2-1-t2v-14b", "mir:model.dit.wan-2-1:t2v", d.WanTransformer3DModel, WAN_14B,
         "Wan-AI/Wan2.1-T2V-14B-Diffusers transformer/config.json"),
        ("wan-2-1-i2v-14b", "mir:model.dit.wan-2-1:i2v", d.WanTransformer3DModel, WAN_14B_I2V,
         "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers transformer/config.json"),
        ("wan-2-1-flf2v-14b", "mir:model.dit.wan-2-1:flf2v", d.WanTransformer3DModel,
         dict(WAN_14B_I2V, pos_embed_seq_len=257 * 2),
         "Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers transformer/config.json"),
        ("wan-2-1-vace-1-3b", "mir:model.dit.wan-2-1:vace", d.WanVACETransformer3DModel,
         dict(WAN_1_3B, vace_layers=list(range(0, 30, 2)), vace_in_channels=96),
         "Wan-AI/Wan2.1-VACE-1.3B-diffusers transformer/config.json"),
        ("wan-2-1-vace-14b", "mir:model.dit.wan-2-1:vace", d.WanVACETransformer3DModel,
         dict(WAN_14B, vace_layers=[0, 5, 10, 15, 20, 25, 30, 35], vace_in_channels=96),
         "Wan-AI/Wan2.1-VACE-14B-diffusers transformer/config.json"),
        # VideoX-Fun's Wan2.1-Fun-Control: in_dim 48 (noise 16 + control 16 + mask/ref 16),
        # model_type i2v (CLIP image embedder).
        ("wan-2-1-fun-control-1-3b", "mir:model.dit.wan-2-1:fun-control", d.WanTransformer3DModel,
         dict(WAN_1_3B, in_channels=48, image_dim=1280, added_kv_proj_dim=1536),
         "alibaba-pai/Wan2.1-Fun-1.3B-Control config.json (in_dim 48, model_type i2v)"),
        ("wan-2-1-fun-control-14b", "mir:model.dit.wan-2-1:fun-control", d.WanTransformer3DModel,
         dict(WAN_14B_I2V, in_channels=48),
         "alibaba-pai/Wan2.1-Fun-14B-Control config.json (in_dim 48, model_type i2v)"),
        ("wan-2-2-t2v-a14b", "mir:model.dit.wan-2-1:t2v", d.WanTransformer3DModel, WAN_14B,
         "Wan-AI/Wan2.2-T2V-A14B-Diffusers transformer/config.json (and transformer_2)"),
        ("wan-2-2-i2v-a14b", "mir:model.dit.wan-2-2:i2v", d.WanTransformer3DModel,
         dict(WAN_14B, in_channels=36),
         "Wan-AI/Wan2.2-I2V-A14B-Diffusers transformer/config.json (and transformer_2)"),
        ("wan-2-2-ti2v-5b", "mir:model.dit.wan-2-2:ti2v", d.WanTransformer3DModel, WAN_5B,
         "Wan-AI/Wan2.2-TI2V-5B-Diffusers transformer/config.json"),
        ("wan-2-2-animate-14b", "mir:model.dit.wan-2-2:animate", d.WanAnimateTransformer3DModel,
         dict(WAN_14B, in_channels=36, latent_channels=16, image_dim=1280, added_kv_proj_dim=5120),
         "Wan-AI/Wan2.2-Animate-14B-Diffusers transformer/config.json"),
    ]
    for name, mir, cls, cfg, src in jobs:
        rows = meta_state_dict(cls, cfg)
        hdr = [f"{name}: real layout, diffusers {cls.__name__}",
               f"config: {src}; {WAN_SRC}"]
        extra = []
        if name == "wan-2-2-t2v-a14b":
            hdr.append("one A14B expert is shape-identical to Wan 2.1 T2V 14B: named as such, with both candidates")
            extra = ["@expect_candidate mir:model.dit.wan-2-2:t2v"]
        write_spec(f"{name}.diffusers", mir, hdr, rows, extra)
        if "animate" in name:
            orig = wan_animate_to_original(rows)
        else:
            orig = rename_rows(rows, wan_to_original)
        write_spec(f"{name}.original", mir,
                   hdr[:2] + ["original (Wan-Video/Wan2.x, ComfyUI) key names: inverse of diffusers'"
                              " single_file_utils.convert_wan_transformer_to_diffusers"] + hdr[2:],
                   orig, extra)


def wan22_vae_to_original(rows):
    """Invert diffusers' scripts/convert_wan_to_diffusers.py convert_vae_22 (Wan2.2_VAE.pth names):
    the resampler of down/up block X sits after its residual blocks in the same Sequential."""
    nres = {}
    for k, _, _ in rows:
        m = re.match(r"^(encoder\.down_blocks|decoder\.up_blocks)\.(\d+)\.resnets\.(\d+)\.", k)
        if m:
            key = (m.group(1), m.group(2))
            nres[key] = max(nres.get(key, 0), int(m.group(3)) + 1)
    res = [("norm1.gamma", "residual.0.gamma"), ("conv1.", "residual.2."), ("norm2.gamma", "residual.3.gamma"),
           ("conv2.", "residual.6."), ("conv_shortcut.", "shortcut.")]

    def resnet(rest):
        for a, b in res:
            if rest.startswith(a):
                return b + rest[len(a):]
        raise KeyError(rest)

    def inv(k, sh):
        fixed = {"quant_conv": "conv1", "post_quant_conv": "conv2"}
        head, _, tail = k.partition(".")
        if head in fixed:
            return f"{fixed[head]}.{tail}"
        for part in ("encoder", "decoder"):
            if not k.startswith(part + "."):
                continue
            rest = k[len(part) + 1:]
            if rest.startswith("conv_in."):
                return f"{part}.conv1.{rest[len('conv_in.'):]}"
            if rest.startswith("norm_out."):
                return f"{part}.head.0.{rest[len('norm_out.'):]}"
            if rest.startswith("conv_out."):
                return f"{part}.head.2.{rest[len('conv_out.'):]}"
            m = re.match(r"^mid_block\.resnets\.(\d+)\.(.*)$", rest)
            if m:
                return f"{part}.middle.{2 * int(m.group(1))}.{resnet(m.group(2))}"
            m = re.match(r"^mid_block\.attentions\.0\.(.*)$", rest)
            if m:
                return f"{part}.middle.1.{m.group(1)}"
            blocks, orig = ("down_blocks", "downsamples") if part == "encoder" else ("up_blocks", "upsamples")
            m = re.match(rf"^{blocks}\.(\d+)\.resnets\.(\d+)\.(.*)$", rest)
            if m:
                x, r, t = m.groups()
                return f"{part}.{orig}.{x}.{orig}.{r}.{resnet(t)}"
            m = re.match(rf"^{blocks}\.(\d+)\.(downsampler|upsampler)\.(.*)$", rest)
            if m:
                x, _, t = m.groups()
                return f"{part}.{orig}.{x}.{orig}.{nres[(part + '.' + blocks, x)]}.{t}"
        raise KeyError(k)

    return rename_rows(rows, inv)


def gen_wan_vae():
    import diffusers as d

    rows = meta_state_dict(d.AutoencoderKLWan, dict(), torch.float32)
    write_spec("vae-wan-2-1.diffusers", "mir:model.vae.wan",
               ["Wan 2.1 VAE (z_dim 16): real layout, diffusers AutoencoderKLWan",
                "config: Wan-AI/Wan2.1-T2V-14B-Diffusers vae/config.json (= class defaults)"], rows)
    cfg = dict(base_dim=160, decoder_base_dim=256, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
               temperal_downsample=[False, True, True], is_residual=True, in_channels=12,
               out_channels=12, patch_size=2, scale_factor_spatial=16, scale_factor_temporal=4)
    rows = meta_state_dict(d.AutoencoderKLWan, cfg, torch.float32)
    hdr = ["Wan 2.2 VAE (z_dim 48, 16x spatial compression): real layout, diffusers AutoencoderKLWan",
           "config: Wan-AI/Wan2.2-TI2V-5B-Diffusers vae/config.json (values from diffusers'"
           " convert_wan_to_diffusers.py get_vae_config for wan2.2)"]
    write_spec("vae-wan-2-2.diffusers", "mir:model.vae.wan-2-2", hdr, rows)
    write_spec("vae-wan-2-2.native", "mir:model.vae.wan-2-2", hdr + [
        "original (Wan-AI/Wan2.2-TI2V-5B Wan2.2_VAE.pth, ComfyUI wan2.2_vae) names: inverse of"
        " diffusers' scripts/convert_wan_to_diffusers.py convert_vae_22"], wan22_vae_to_original(rows))


def gen_wan_authors():
    """Wan 2.2 S2V from the authors' code (github.com/Wan-Video/Wan2.2; not on PyPI), and a check of
    the inverted Wan layouts above against the authors' WanModel / WanAnimateModel.

    Give a checkout with the WAN22_REPO environment variable; skipped otherwise. Only the model
    modules are imported (the package __init__ pulls in the whole pipeline)."""
    import importlib
    import os
    import types

    repo = os.environ.get("WAN22_REPO")
    if not repo:
        print("WAN22_REPO not set: Wan S2V layout and the authors'-code check skipped", file=sys.stderr)
        return
    root = Path(repo) / "wan"
    for name, sub in [("wan", ""), ("wan.modules", "modules"), ("wan.distributed", "distributed"),
                      ("wan.modules.s2v", "modules/s2v"), ("wan.modules.animate", "modules/animate")]:
        m = types.ModuleType(name)
        m.__path__ = [str(root / sub)]
        sys.modules[name] = m
    model = importlib.import_module("wan.modules.model")
    s2v = importlib.import_module("wan.modules.s2v.model_s2v")

    def authors(cls, cfg):
        return meta_state_dict(cls, cfg)

    # 1. the inverted original layouts must equal the authors' state dicts
    for spec, cfg in [
        ("wan-2-1-t2v-14b.original", dict(model_type="t2v", in_dim=16, dim=5120, ffn_dim=13824, num_heads=40, num_layers=40)),
        ("wan-2-1-t2v-1-3b.original", dict(model_type="t2v", in_dim=16, dim=1536, ffn_dim=8960, num_heads=12, num_layers=30)),
        ("wan-2-2-i2v-a14b.original", dict(model_type="i2v", in_dim=36, dim=5120, ffn_dim=13824, num_heads=40, num_layers=40)),
        ("wan-2-2-ti2v-5b.original", dict(model_type="ti2v", in_dim=48, out_dim=48, dim=3072, ffn_dim=14336,
                                          num_heads=24, num_layers=30)),
    ]:
        got = {k: sh for k, _, sh in authors(model.WanModel, cfg)}
        mine = {}
        for line in (OUT / f"{spec}.spec").read_text().splitlines():
            if line and line[0] not in "#@":
                n, _, sh = line.split()
                mine[n] = [int(x) for x in sh.strip("[]").split(",") if x]
        if got != mine:
            raise SystemExit(f"{spec}: differs from the authors' WanModel: "
                             f"{sorted(set(got) ^ set(mine))[:8]}")
        print(f"{spec}: equal to the authors' WanModel", file=sys.stderr)

    # 2. Wan 2.2 Animate 14B: the authors' state dict also holds the motion encoder's blur kernels
    # (persistent buffers diffusers drops), so it replaces the inverted layout.
    animate = importlib.import_module("wan.modules.animate.model_animate")
    write_spec("wan-2-2-animate-14b.original", "mir:model.dit.wan-2-2:animate",
               ["wan-2-2-animate-14b: real layout, the authors' WanAnimateModel (Wan-Video/Wan2.2"
                " wan/modules/animate/model_animate.py)",
                "config: Wan-AI/Wan2.2-Animate-14B (wan/configs/wan_animate_14B.py; equal to the class defaults)",
                "equal to the inverse of the diffusers conversion plus the motion encoder's 14 blur `kernel` buffers"],
               authors(animate.WanAnimateModel, dict()))

    # 3. Wan 2.2 S2V 14B (wan/configs/wan_s2v_14B.py, the values of Wan-AI/Wan2.2-S2V-14B config.json)
    cfg = dict(cond_dim=16, audio_dim=1024, num_audio_token=4, enable_adain=True, adain_mode="attn_norm",
               audio_inject_layers=[0, 4, 8, 12, 16, 20, 24, 27, 30, 33, 36, 39], zero_init=True,
               zero_timestep=True, enable_motioner=False, add_last_motion=True, enable_tsm=False,
               trainable_token_pos_emb=False, enable_framepack=True, framepack_drop_mode="padd",
               patch_size=(1, 2, 2), in_dim=16, dim=5120, ffn_dim=13824, freq_dim=256, text_dim=4096,
               out_dim=16, num_heads=40, num_layers=40, window_size=(-1, -1), qk_norm=True,
               cross_attn_norm=True, eps=1e-6)
    write_spec("wan-2-2-s2v-14b.original", "mir:model.dit.wan-2-2:s2v",
               ["wan-2-2-s2v-14b: real layout, the authors' WanModel_S2V (Wan-Video/Wan2.2 wan/modules/s2v/model_s2v.py)",
                "config: Wan-AI/Wan2.2-S2V-14B (wan/configs/wan_s2v_14B.py transformer values; diffusers has no S2V class)"],
               authors(s2v.WanModel_S2V, cfg))


# ---------------------------------------------------------------------------------------------
# Stable Video Diffusion
# ---------------------------------------------------------------------------------------------

def svd_to_sgm(rows, layers_per_block=2):
    """Invert diffusers' scripts/convert_svd_to_diffusers.py (convert_ldm_unet_checkpoint for the
    VideoUNet of Stability's generative-models): sgm names under `model.diffusion_model.`."""
    res = [("norm1.", "in_layers.0."), ("conv1.", "in_layers.2."), ("norm2.", "out_layers.0."),
           ("conv2.", "out_layers.3."), ("time_emb_proj.", "emb_layers.1."), ("conv_shortcut.", "skip_connection.")]

    def resnet(rest):
        for a, b in res:
            if rest.startswith(a):
                return b + rest[len(a):]
        raise KeyError(rest)

    def attn(rest):
        rest = rest.replace("temporal_transformer_blocks.", "time_stack.")
        return rest.replace("time_pos_embed.linear_1.", "time_pos_embed.0.").replace(
            "time_pos_embed.linear_2.", "time_pos_embed.2.")

    up_has_attn = {int(m.group(1)) for k, _, _ in rows
                   if (m := re.match(r"^up_blocks\.(\d+)\.attentions\.", k))}

    def resnet_part(rest):
        # spatial_res_block.X -> X, temporal_res_block.X -> time_stack.X, time_mixer.* kept
        if rest.startswith("spatial_res_block."):
            return resnet(rest[len("spatial_res_block."):])
        if rest.startswith("temporal_res_block."):
            return "time_stack." + resnet(rest[len("temporal_res_block."):])
        return rest

    def inv(k, sh):
        pre = "model.diffusion_model."
        for a, b in [("conv_in.", "input_blocks.0.0."), ("time_embedding.linear_1.", "time_embed.0."),
                     ("time_embedding.linear_2.", "time_embed.2."), ("add_embedding.linear_1.", "label_emb.0.0."),
                     ("add_embedding.linear_2.", "label_emb.0.2."), ("conv_norm_out.", "out.0."),
                     ("conv_out.", "out.2.")]:
            if k.startswith(a):
                return pre + b + k[len(a):]
        m = re.match(r"^down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)$", k)
        if m:
            b, kind, l, rest = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
            i = 1 + b * (layers_per_block + 1) + l
            return pre + (f"input_blocks.{i}.0.{resnet_part(rest)}" if kind == "resnets"
                          else f"input_blocks.{i}.1.{attn(rest)}")
        m = re.match(r"^down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)$", k)
        if m:
            return pre + f"input_blocks.{(int(m.group(1)) + 1) * (layers_per_block + 1)}.0.op.{m.group(2)}"
        m = re.match(r"^mid_block\.(resnets|attentions)\.(\d+)\.(.*)$", k)
        if m:
            kind, l, rest = m.group(1), int(m.group(2)), m.group(3)
            return pre + (f"middle_block.{2 * l}.{resnet_part(rest)}" if kind == "resnets"
                          else f"middle_block.1.{attn(rest)}")
        m = re.match(r"^up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)$", k)
        if m:
            b, kind, l, rest = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
            i = b * (layers_per_block + 1) + l
            return pre + (f"output_blocks.{i}.0.{resnet_part(rest)}" if kind == "resnets"
                          else f"output_blocks.{i}.1.{attn(rest)}")
        m = re.match(r"^up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)$", k)
        if m:
            b = int(m.group(1))
            i = b * (layers_per_block + 1) + layers_per_block
            return pre + f"output_blocks.{i}.{2 if b in up_has_attn else 1}.conv.{m.group(2)}"
        raise KeyError(k)

    return rename_rows(rows, inv)


def gen_svd():
    import diffusers as d

    for name, frames, repo in [("stable-video-diffusion", 14, "stabilityai/stable-video-diffusion-img2vid"),
                               ("stable-video-diffusion-xt", 25, "stabilityai/stable-video-diffusion-img2vid-xt")]:
        cfg = dict(sample_size=96, in_channels=8, out_channels=4, num_frames=frames)
        rows = meta_state_dict(d.UNetSpatioTemporalConditionModel, cfg, torch.float16)
        extra = []
        hdr = [f"{name}: real layout, diffusers UNetSpatioTemporalConditionModel",
               f"config: {repo} unet/config.json (class defaults; num_frames {frames})"]
        if frames == 25:
            hdr.append("SVD-XT is shape-identical to SVD: named without compat")
        write_spec(f"{name}.diffusers", "mir:model.unet.stable-video-diffusion", hdr, rows, extra)
        if frames == 14:
            write_spec(f"{name}.sgm", "mir:model.unet.stable-video-diffusion", hdr + [
                "original sgm (Stability generative-models VideoUNet; svd.safetensors as ComfyUI loads it)"
                " names under model.diffusion_model.: inverse of diffusers' scripts/convert_svd_to_diffusers.py"],
                svd_to_sgm(rows))


# ---------------------------------------------------------------------------------------------
# LTX-Video, LTX-2
# ---------------------------------------------------------------------------------------------

def gen_ltx():
    import diffusers as d

    jobs = [
        ("ltx-video-2b", "mir:model.dit.ltx-video", d.LTXVideoTransformer3DModel, dict(),
         "Lightricks/LTX-Video transformer/config.json (0.9.x 2B, = class defaults)"),
        ("ltx-video-13b", "mir:model.dit.ltx-video", d.LTXVideoTransformer3DModel,
         dict(num_layers=48, attention_head_dim=128, cross_attention_dim=4096),
         "Lightricks/LTX-Video ltxv-13b-0.9.7-dev config (48 layers, 32x128 heads)"),
    ]
    for name, mir, cls, cfg, src in jobs:
        rows = meta_state_dict(cls, cfg)
        hdr = [f"{name}: real layout, diffusers {cls.__name__}", f"config: {src}"]
        write_spec(f"{name}.diffusers", mir, hdr, rows)

        def inv(k, s):
            k = k.replace("proj_in.", "patchify_proj.").replace("time_embed.", "adaln_single.")
            return k.replace(".norm_q.", ".q_norm.").replace(".norm_k.", ".k_norm.")

        write_spec(f"{name}.original", mir, hdr + [
            "original (Lightricks/LTX-Video) key names: inverse of single_file_utils."
            "convert_ltx_transformer_checkpoint_to_diffusers"], rename_rows(rows, inv))

    cls = d.LTX2VideoTransformer3DModel
    rows = meta_state_dict(cls, dict())
    hdr = ["ltx-2: real layout, diffusers LTX2VideoTransformer3DModel (audio + video streams)",
           "config: Lightricks/LTX-2 transformer/config.json (19B; = class defaults)"]
    write_spec("ltx-2.diffusers", "mir:model.dit.ltx-2", hdr, rows)
    rename = [
        ("audio_proj_in", "audio_patchify_proj"),
        ("av_cross_attn_video_scale_shift", "av_ca_video_scale_shift_adaln_single"),
        ("av_cross_attn_video_a2v_gate", "av_ca_a2v_gate_adaln_single"),
        ("av_cross_attn_audio_scale_shift", "av_ca_audio_scale_shift_adaln_single"),
        ("av_cross_attn_audio_v2a_gate", "av_ca_v2a_gate_adaln_single"),
        ("video_a2v_cross_attn_scale_shift_table", "scale_shift_table_a2v_ca_video"),
        ("audio_a2v_cross_attn_scale_shift_table", "scale_shift_table_a2v_ca_audio"),
        (".norm_q.", ".q_norm."),
        (".norm_k.", ".k_norm."),
    ]

    def inv2(k, s):
        for a, b in rename:
            k = k.replace(a, b)
        if k.startswith("proj_in."):
            k = "patchify_proj." + k[len("proj_in."):]
        if k.startswith("time_embed."):
            k = "adaln_single." + k[len("time_embed."):]
        if k.startswith("audio_time_embed."):
            k = "audio_adaln_single." + k[len("audio_time_embed."):]
        return k

    write_spec("ltx-2.original", "mir:model.dit.ltx-2", hdr + [
        "original (Lightricks/LTX-2) key names: inverse of single_file_utils."
        "convert_ltx2_transformer_to_diffusers (its dropped *_embeddings_connector text"
        " connectors are not reconstructed)"], rename_rows(rows, inv2))


# ---------------------------------------------------------------------------------------------
# HunyuanVideo (+I2V), HunyuanVideo 1.5
# ---------------------------------------------------------------------------------------------

def hunyuan_to_original(rows, hidden: int):
    """Invert single_file_utils.convert_hunyuan_video_transformer_to_diffusers."""
    fuse = {}
    keys = {k for k, _, _ in rows}
    for k in keys:
        m = re.match(r"^transformer_blocks\.(\d+)\.attn\.to_q\.(weight|bias)$", k)
        if m:
            i, p = m.groups()
            fuse[f"double_blocks.{i}.img_attn_qkv.{p}"] = (
                [f"transformer_blocks.{i}.attn.to_{x}.{p}" for x in "qkv"], 0)
            fuse[f"double_blocks.{i}.txt_attn_qkv.{p}"] = (
                [f"transformer_blocks.{i}.attn.add_{x}_proj.{p}" for x in "qkv"], 0)
        m = re.match(r"^single_transformer_blocks\.(\d+)\.attn\.to_q\.(weight|bias)$", k)
        if m:
            i, p = m.groups()
            fuse[f"single_blocks.{i}.linear1.{p}"] = (
                [f"single_transformer_blocks.{i}.attn.to_{x}.{p}" for x in "qkv"]
                + [f"single_transformer_blocks.{i}.proj_mlp.{p}"], 0)
        m = re.match(r"^context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.attn\.to_q\.(weight|bias)$", k)
        if m:
            i, p = m.groups()
            fuse[f"txt_in.individual_token_refiner.blocks.{i}.self_attn_qkv.{p}"] = (
                [f"context_embedder.token_refiner.refiner_blocks.{i}.attn.to_{x}.{p}" for x in "qkv"], 0)
    rows = merge_rows(rows, fuse)

    def inv(k, s):
        if k.startswith(("double_blocks.", "single_blocks.", "txt_in.")) and (
                "qkv" in k or "linear1" in k):
            return k
        if k.startswith("context_embedder."):
            k = k.replace("context_embedder.token_refiner.refiner_blocks", "txt_in.individual_token_refiner.blocks")
            k = k.replace("context_embedder.time_text_embed.timestep_embedder.linear_1", "txt_in.t_embedder.mlp.0")
            k = k.replace("context_embedder.time_text_embed.timestep_embedder.linear_2", "txt_in.t_embedder.mlp.2")
            k = k.replace("context_embedder.time_text_embed.text_embedder", "txt_in.c_embedder")
            k = k.replace("context_embedder.", "txt_in.")
            k = k.replace(".norm_out.linear.", ".adaLN_modulation.1.")
            k = k.replace(".attn.to_out.0.", ".self_attn_proj.")
            k = k.replace(".ff.net.0.proj.", ".mlp.fc1.").replace(".ff.net.2.", ".mlp.fc2.")
            k = k.replace(".ff.", ".mlp.")
            k = k.replace(".proj_in.", ".input_embedder.")
            return k
        if k.startswith("transformer_blocks."):
            k = k.replace("transformer_blocks.", "double_blocks.", 1)
            for a, b in [(".attn.norm_q.", ".img_attn_q_norm."), (".attn.norm_k.", ".img_attn_k_norm."),
                         (".attn.to_out.0.", ".img_attn_proj."), (".attn.norm_added_q.", ".txt_attn_q_norm."),
                         (".attn.norm_added_k.", ".txt_attn_k_norm."), (".attn.to_add_out.", ".txt_attn_proj."),
                         (".norm1.linear.", ".img_mod.linear."), (".norm1_context.linear.", ".txt_mod.linear."),
                         (".norm2_context.", ".txt_norm2."), (".norm2.", ".img_norm2."),
                         (".ff_context.net.0.proj.", ".txt_mlp.fc1."), (".ff_context.net.2.", ".txt_mlp.fc2."),
                         (".ff.net.0.proj.", ".img_mlp.fc1."), (".ff.net.2.", ".img_mlp.fc2.")]:
                k = k.replace(a, b)
            return k
        if k.startswith("single_transformer_blocks."):
            k = k.replace("single_transformer_blocks.", "single_blocks.", 1)
            k = k.replace(".proj_out.", ".linear2.").replace(".attn.norm_q.", ".q_norm.")
            k = k.replace(".attn.norm_k.", ".k_norm.").replace(".norm.linear.", ".modulation.linear.")
            return k
        for a, b in [("x_embedder", "img_in"),
                     ("time_text_embed.timestep_embedder.linear_1", "time_in.mlp.0"),
                     ("time_text_embed.timestep_embedder.linear_2", "time_in.mlp.2"),
                     ("time_text_embed.guidance_embedder.linear_1", "guidance_in.mlp.0"),
                     ("time_text_embed.guidance_embedder.linear_2", "guidance_in.mlp.2"),
                     ("time_text_embed.text_embedder.linear_1", "vector_in.in_layer"),
                     ("time_text_embed.text_embedder.linear_2", "vector_in.out_layer"),
                     ("norm_out.linear", "final_layer.adaLN_modulation.1"),
                     ("proj_out", "final_layer.linear")]:
            if k.startswith(a):
                return b + k[len(a):]
        return k

    return rename_rows(rows, inv)


def hunyuanvideo15_to_original(rows):
    """Invert diffusers' scripts/convert_hunyuan_video1_5_to_diffusers.py
    (convert_hyvideo15_transformer_to_diffusers): Tencent's HunyuanVideo-1.5 names, with separate
    img/txt q, k, v in the double blocks and a fused qkv in the token refiner."""
    fuse = {}
    for k, _, _ in rows:
        m = re.match(r"^context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.attn\.to_q\.(weight|bias)$", k)
        if m:
            i, p = m.groups()
            fuse[f"txt_in.individual_token_refiner.blocks.{i}.self_attn_qkv.{p}"] = (
                [f"context_embedder.token_refiner.refiner_blocks.{i}.attn.to_{x}.{p}" for x in "qkv"], 0)
    rows = merge_rows(rows, fuse)
    top = [("x_embedder.proj.", "img_in.proj."), ("image_embedder.norm_in.", "vision_in.proj.0."),
           ("image_embedder.linear_1.", "vision_in.proj.1."), ("image_embedder.linear_2.", "vision_in.proj.3."),
           ("image_embedder.norm_out.", "vision_in.proj.4."),
           ("context_embedder.time_text_embed.timestep_embedder.linear_1.", "txt_in.t_embedder.mlp.0."),
           ("context_embedder.time_text_embed.timestep_embedder.linear_2.", "txt_in.t_embedder.mlp.2."),
           ("context_embedder.time_text_embed.text_embedder.", "txt_in.c_embedder."),
           ("context_embedder.proj_in.", "txt_in.input_embedder."),
           ("context_embedder_2.norm.", "byt5_in.layernorm."), ("context_embedder_2.linear_1.", "byt5_in.fc1."),
           ("context_embedder_2.linear_2.", "byt5_in.fc2."), ("context_embedder_2.linear_3.", "byt5_in.fc3."),
           ("time_embed.timestep_embedder.linear_1.", "time_in.mlp.0."),
           ("time_embed.timestep_embedder.linear_2.", "time_in.mlp.2."),
           ("time_embed.timestep_embedder_r.linear_1.", "time_r_in.mlp.0."),
           ("time_embed.timestep_embedder_r.linear_2.", "time_r_in.mlp.2."),
           ("cond_type_embed.", "cond_type_embedding."),
           ("norm_out.linear.", "final_layer.adaLN_modulation.1."), ("proj_out.", "final_layer.linear.")]
    refiner = [("norm1.", "norm1."), ("norm2.", "norm2."), ("attn.to_out.0.", "self_attn_proj."),
               ("ff.net.0.proj.", "mlp.fc1."), ("ff.net.2.", "mlp.fc2."), ("norm_out.linear.", "adaLN_modulation.1.")]
    double = [("norm1.linear.", "img_mod.linear."), ("norm1_context.linear.", "txt_mod.linear."),
              ("attn.to_q.", "img_attn_q."), ("attn.to_k.", "img_attn_k."), ("attn.to_v.", "img_attn_v."),
              ("attn.norm_q.", "img_attn_q_norm."), ("attn.norm_k.", "img_attn_k_norm."),
              ("attn.to_out.0.", "img_attn_proj."), ("attn.add_q_proj.", "txt_attn_q."),
              ("attn.add_k_proj.", "txt_attn_k."), ("attn.add_v_proj.", "txt_attn_v."),
              ("attn.norm_added_q.", "txt_attn_q_norm."), ("attn.norm_added_k.", "txt_attn_k_norm."),
              ("attn.to_add_out.", "txt_attn_proj."), ("ff.net.0.proj.", "img_mlp.fc1."), ("ff.net.2.", "img_mlp.fc2."),
              ("ff_context.net.0.proj.", "txt_mlp.fc1."), ("ff_context.net.2.", "txt_mlp.fc2.")]

    def inv(k, sh):
        if k.startswith("txt_in.individual_token_refiner."):
            return k
        for a, b in top:
            if k.startswith(a):
                return b + k[len(a):]
        m = re.match(r"^context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.(.*)$", k)
        table, head = (refiner, f"txt_in.individual_token_refiner.blocks.{m.group(1)}.") if m else (None, None)
        if not m:
            m = re.match(r"^transformer_blocks\.(\d+)\.(.*)$", k)
            table, head = double, f"double_blocks.{m.group(1)}."
        rest = m.group(2)
        for a, b in table:
            if rest.startswith(a):
                return head + b + rest[len(a):]
        raise KeyError(k)

    return rename_rows(rows, inv)


def gen_hunyuanvideo():
    import diffusers as d

    jobs = [
        ("hunyuanvideo-t2v", "mir:model.dit.hunyuanvideo", dict(),
         "hunyuanvideo-community/HunyuanVideo transformer/config.json (= class defaults)"),
        ("hunyuanvideo-i2v", "mir:model.dit.hunyuanvideo:i2v",
         dict(in_channels=33, guidance_embeds=False, image_condition_type="latent_concat"),
         "hunyuanvideo-community/HunyuanVideo-I2V transformer/config.json"),
    ]
    for name, mir, cfg, src in jobs:
        rows = meta_state_dict(d.HunyuanVideoTransformer3DModel, cfg)
        hdr = [f"{name}: real layout, diffusers HunyuanVideoTransformer3DModel", f"config: {src}"]
        write_spec(f"{name}.diffusers", mir, hdr, rows)
        write_spec(f"{name}.original", mir, hdr + [
            "original (Tencent HunyuanVideo, ComfyUI) key names: inverse of single_file_utils."
            "convert_hunyuan_video_transformer_to_diffusers (q/k/v re-fused)"],
            hunyuan_to_original(rows, 3072))

    for name, task, src in [("hunyuanvideo-1-5-t2v", "t2v", "hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-720p_t2v"),
                            ("hunyuanvideo-1-5-i2v", "i2v", "hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-720p_i2v")]:
        rows = meta_state_dict(d.HunyuanVideo15Transformer3DModel, dict(task_type=task))
        hdr = [f"{name}: real layout, diffusers HunyuanVideo15Transformer3DModel",
               f"config: {src} transformer/config.json (class defaults, task_type {task})"]
        write_spec(f"{name}.diffusers", "mir:model.dit.hunyuanvideo-1-5", hdr, rows)
        write_spec(f"{name}.original", "mir:model.dit.hunyuanvideo-1-5", hdr + [
            "original (tencent/HunyuanVideo-1.5, ComfyUI) names: inverse of diffusers'"
            " scripts/convert_hunyuan_video1_5_to_diffusers.py (refiner qkv re-fused)"],
            hunyuanvideo15_to_original(rows))


# ---------------------------------------------------------------------------------------------
# Mochi, CogVideoX, Cosmos
# ---------------------------------------------------------------------------------------------

def mochi_to_original(rows):
    fuse = {}
    for i in range(48):
        b = f"transformer_blocks.{i}."
        fuse[f"blocks.{i}.attn.qkv_x.weight"] = ([b + f"attn1.to_{x}.weight" for x in "qkv"], 0)
        fuse[f"blocks.{i}.attn.qkv_y.weight"] = ([b + f"attn1.add_{x}_proj.weight" for x in "qkv"], 0)
    rows = merge_rows(rows, fuse)
    table = [
        ("patch_embed.proj.", "x_embedder.proj."),
        ("time_embed.timestep_embedder.linear_1.", "t_embedder.mlp.0."),
        ("time_embed.timestep_embedder.linear_2.", "t_embedder.mlp.2."),
        ("time_embed.pooler.", "t5_y_embedder."),
        ("time_embed.caption_proj.", "t5_yproj."),
        ("norm_out.linear.", "final_layer.mod."),
        ("proj_out.", "final_layer.linear."),
    ]

    def inv(k, s):
        for a, b in table:
            if k.startswith(a):
                return b + k[len(a):]
        m = re.match(r"^transformer_blocks\.(\d+)\.(.*)$", k)
        if not m:
            return k
        i, rest = m.groups()
        for a, b in [("norm1.linear.", "mod_x."), ("norm1_context.linear.", "mod_y."),
                     ("norm1_context.linear_1.", "mod_y."), ("attn1.norm_q.", "attn.q_norm_x."),
                     ("attn1.norm_k.", "attn.k_norm_x."), ("attn1.to_out.0.", "attn.proj_x."),
                     ("attn1.norm_added_q.", "attn.q_norm_y."), ("attn1.norm_added_k.", "attn.k_norm_y."),
                     ("attn1.to_add_out.", "attn.proj_y."), ("ff.net.0.proj.", "mlp_x.w1."),
                     ("ff.net.2.", "mlp_x.w2."), ("ff_context.net.0.proj.", "mlp_y.w1."),
                     ("ff_context.net.2.", "mlp_y.w2.")]:
            if rest.startswith(a):
                return f"blocks.{i}.{b}{rest[len(a):]}"
        return f"blocks.{i}.{rest}"

    return rename_rows(rows, inv)


def cosmos_to_original(rows, version: int):
    """Invert single_file_utils.convert_cosmos_transformer_checkpoint_to_diffusers (Cosmos 1.0 or
    2.0 branch), keys under `net.` as NVIDIA's checkpoints keep them. The training-only buffers
    the conversion drops (logvar.*, pos_embedder.seq, accum_* counters) are not reconstructed."""
    def inv(k, sh):
        if version == 1:
            top = [("patch_embed.proj.", "x_embedder.proj.1."), ("learnable_pos_embed.", "extra_pos_embedder."),
                   ("time_embed.t_embedder.", "t_embedder.1."), ("time_embed.norm.", "affline_norm."),
                   ("norm_out.linear_1.", "final_layer.adaLN_modulation.1."),
                   ("norm_out.linear_2.", "final_layer.adaLN_modulation.2."), ("proj_out.", "final_layer.linear.")]
            blk = [("norm1.linear_1.", "blocks.0.adaLN_modulation.1."), ("norm1.linear_2.", "blocks.0.adaLN_modulation.2."),
                   ("norm2.linear_1.", "blocks.1.adaLN_modulation.1."), ("norm2.linear_2.", "blocks.1.adaLN_modulation.2."),
                   ("norm3.linear_1.", "blocks.2.adaLN_modulation.1."), ("norm3.linear_2.", "blocks.2.adaLN_modulation.2."),
                   ("attn1.", "blocks.0.block.attn."), ("attn2.", "blocks.1.block.attn."),
                   ("ff.net.0.proj.", "blocks.2.block.layer1."), ("ff.net.2.", "blocks.2.block.layer2.")]
            att = [("to_q.", "to_q.0."), ("norm_q.", "to_q.1."), ("to_k.", "to_k.0."), ("norm_k.", "to_k.1."),
                   ("to_v.", "to_v.0.")]
        else:
            top = [("patch_embed.proj.", "x_embedder.proj.1."), ("time_embed.t_embedder.", "t_embedder.1."),
                   ("time_embed.norm.", "t_embedding_norm."),
                   ("norm_out.linear_1.", "final_layer.adaln_modulation.1."),
                   ("norm_out.linear_2.", "final_layer.adaln_modulation.2."), ("proj_out.", "final_layer.linear.")]
            blk = [("norm1.linear_1.", "adaln_modulation_self_attn.1."), ("norm1.linear_2.", "adaln_modulation_self_attn.2."),
                   ("norm2.linear_1.", "adaln_modulation_cross_attn.1."), ("norm2.linear_2.", "adaln_modulation_cross_attn.2."),
                   ("norm3.linear_1.", "adaln_modulation_mlp.1."), ("norm3.linear_2.", "adaln_modulation_mlp.2."),
                   ("attn1.", "self_attn."), ("attn2.", "cross_attn."),
                   ("ff.net.0.proj.", "mlp.layer1."), ("ff.net.2.", "mlp.layer2.")]
            att = [("to_q.", "q_proj."), ("to_k.", "k_proj."), ("to_v.", "v_proj."), ("to_out.0.", "output_proj."),
                   ("norm_q.", "q_norm."), ("norm_k.", "k_norm.")]
        for a, b in top:
            if k.startswith(a):
                return "net." + b + k[len(a):]
        m = re.match(r"^transformer_blocks\.(\d+)\.(.*)$", k)
        i, rest = m.groups()
        for a, b in blk:
            if rest.startswith(a):
                rest = b + rest[len(a):]
                if a.startswith("attn"):
                    tail = rest[len(b):]
                    for x, y in att:
                        if tail.startswith(x):
                            tail = y + tail[len(x):]
                            break
                    rest = b + tail
                break
        head = f"blocks.block{i}." if version == 1 else f"blocks.{i}."
        return "net." + head + rest

    return rename_rows(rows, inv)


def gen_mochi_cog_cosmos():
    import diffusers as d

    rows = meta_state_dict(d.MochiTransformer3DModel, dict())
    hdr = ["mochi-1: real layout, diffusers MochiTransformer3DModel",
           "config: genmo/mochi-1-preview transformer/config.json (= class defaults)"]
    write_spec("mochi-1.diffusers", "mir:model.dit.mochi-1", hdr, rows)
    write_spec("mochi-1.original", "mir:model.dit.mochi-1", hdr + [
        "original (genmo/mochi, ComfyUI) key names: inverse of single_file_utils."
        "convert_mochi_transformer_checkpoint_to_diffusers (qkv re-fused)"], mochi_to_original(rows))

    cog = [
        ("cogvideox-2b", "mir:model.dit.cogvideox", dict(num_attention_heads=30, num_layers=30),
         "THUDM/CogVideoX-2b transformer/config.json"),
        ("cogvideox-5b", "mir:model.dit.cogvideox",
         dict(num_attention_heads=48, num_layers=42, use_rotary_positional_embeddings=True),
         "THUDM/CogVideoX-5b transformer/config.json"),
        ("cogvideox-5b-i2v", "mir:model.dit.cogvideox:i2v",
         dict(num_attention_heads=48, num_layers=42, in_channels=32, use_rotary_positional_embeddings=True,
              use_learned_positional_embeddings=True),
         "THUDM/CogVideoX-5b-I2V transformer/config.json"),
    ]
    for name, mir, cfg, src in cog:
        rows = meta_state_dict(d.CogVideoXTransformer3DModel, cfg)
        write_spec(f"{name}.diffusers", mir, [f"{name}: real layout, diffusers CogVideoXTransformer3DModel",
                                              f"config: {src}"], rows)

    cosmos = [
        ("cosmos-1-7b-t2w", "mir:model.dit.cosmos-1", dict(),
         "nvidia/Cosmos-1.0-Diffusion-7B-Text2World transformer/config.json (= class defaults)"),
        ("cosmos-1-7b-v2w", "mir:model.dit.cosmos-1", dict(in_channels=17),
         "nvidia/Cosmos-1.0-Diffusion-7B-Video2World transformer/config.json (in_channels 16+1)"),
        ("cosmos-predict2-2b-t2i", "mir:model.dit.cosmos-predict2",
         dict(num_attention_heads=16, rope_scale=(1.0, 4.0, 4.0), extra_pos_embed_type=None),
         "nvidia/Cosmos-Predict2-2B-Text2Image transformer/config.json"),
        ("cosmos-predict2-14b-v2w", "mir:model.dit.cosmos-predict2",
         dict(in_channels=17, num_attention_heads=40, num_layers=36, rope_scale=(1.0, 3.0, 3.0),
              extra_pos_embed_type=None),
         "nvidia/Cosmos-Predict2-14B-Video2World transformer/config.json"),
    ]
    for name, mir, cfg, src in cosmos:
        rows = meta_state_dict(d.CosmosTransformer3DModel, cfg)
        hdr = [f"{name}: real layout, diffusers CosmosTransformer3DModel", f"config: {src}"]
        write_spec(f"{name}.diffusers", mir, hdr, rows)
        version = 1 if "cosmos-1" in name else 2
        write_spec(f"{name}.original", mir, hdr + [
            f"original (NVIDIA Cosmos {'1.0' if version == 1 else 'Predict2'}, ComfyUI) names under net.: inverse of"
            " single_file_utils.convert_cosmos_transformer_checkpoint_to_diffusers"],
            cosmos_to_original(rows, version))


# ---------------------------------------------------------------------------------------------
# Audio: Stable Audio Open, ACE-Step; AnimateDiff
# ---------------------------------------------------------------------------------------------

def gen_audio_animatediff():
    import diffusers as d

    rows = meta_state_dict(d.StableAudioDiTModel, dict(), torch.float32)
    write_spec("stable-audio-open-1.diffusers", "mir:model.dit.stable-audio-open-1",
               ["stable-audio-open-1: real layout, diffusers StableAudioDiTModel",
                "config: stabilityai/stable-audio-open-1.0 transformer/config.json (= class defaults)"], rows)
    rows = meta_state_dict(d.AceStepTransformer1DModel, dict())
    hdr = ["ace-step: real layout, diffusers AceStepTransformer1DModel (ACE-Step 1.5 DiT)",
           "config: ACE-Step/Ace-Step1.5 transformer/config.json (= class defaults)"]
    write_spec("ace-step.diffusers", "mir:model.dit.ace-step", hdr, rows)
    # The released ACE-Step 1.5 checkpoint holds the DiT under `decoder.` and its condition
    # encoder / audio tokenizer / detokenizer beside it: inverse of diffusers'
    # scripts/convert_ace_step_to_diffusers.py (attention q_proj/k_proj/v_proj/o_proj/q_norm/k_norm,
    # proj_in/proj_out as index 1 of an nn.Sequential).
    attn = [(".to_q.", ".q_proj."), (".to_k.", ".k_proj."), (".to_v.", ".v_proj."), (".to_out.0.", ".o_proj."),
            (".norm_q.", ".q_norm."), (".norm_k.", ".k_norm.")]

    def ace(prefix):
        def f(k, sh):
            k = k.replace("proj_in_conv.", "proj_in.1.").replace("proj_out_conv.", "proj_out.1.")
            for a, b in attn:
                k = k.replace(a, b)
            return prefix + k
        return f

    orig = rename_rows(rows, ace("decoder."))
    for cls, prefix in [(d.AceStepConditionEncoder, "encoder."), (d.AceStepAudioTokenizer, "tokenizer."),
                        (d.AceStepAudioTokenDetokenizer, "detokenizer.")]:
        orig += rename_rows(meta_state_dict(cls, dict()), ace(prefix))
    write_spec("ace-step.original", "mir:model.dit.ace-step", hdr + [
        "original ACE-Step 1.5 checkpoint names: the DiT under decoder., with the condition encoder,"
        " audio tokenizer and detokenizer (diffusers AceStepConditionEncoder / AceStepAudioTokenizer /"
        " AceStepAudioTokenDetokenizer, class defaults) under encoder., tokenizer., detokenizer.; inverse of"
        " diffusers' scripts/convert_ace_step_to_diffusers.py (null_condition_emb left out: its shape is"
        " not in the conversion)"], orig)

    def inv_motion(k, s):
        # Inverse of single_file_utils.convert_animatediff_checkpoint_to_diffusers.
        m = re.match(r"^(.*motion_modules\.\d+)\.(.*)$", k)
        if not m:
            return k
        head, rest = m.groups()
        rest = (rest.replace(".norm1", ".norms.0").replace(".norm2", ".norms.1")
                .replace(".norm3", ".ff_norm").replace(".attn1", ".attention_blocks.0")
                .replace(".attn2", ".attention_blocks.1"))
        return f"{head}.temporal_transformer.{rest}"

    for name, cfg, src in [
        ("animatediff-sd1-v2", dict(use_motion_mid_block=True, motion_max_seq_length=32),
         "guoyww/animatediff-motion-adapter-v1-5-2 config.json"),
        ("animatediff-sd1-v3", dict(use_motion_mid_block=False, motion_max_seq_length=32),
         "guoyww/animatediff-motion-adapter-v1-5-3 config.json"),
        ("animatediff-sdxl", dict(block_out_channels=(320, 640, 1280), use_motion_mid_block=False,
                                  motion_max_seq_length=32, motion_num_attention_heads=8),
         "guoyww/animatediff-motion-adapter-sdxl-beta config.json"),
    ]:
        base = "stable-diffusion-xl" if "sdxl" in name else "stable-diffusion-v1"
        rows = meta_state_dict(d.MotionAdapter, cfg, torch.float16)
        hdr = [f"{name}: real layout, diffusers MotionAdapter", f"config: {src}"]
        write_spec(f"{name}.diffusers", f"mir:model.lora.animatediff:{base}", hdr, rows)
        orig = rename_rows(rows, inv_motion)
        # the original checkpoints also hold the sinusoidal pos_encoder.pe buffers diffusers drops
        pe = []
        for k, dt, s in orig:
            if k.endswith("attention_blocks.0.to_q.weight"):
                dim = s[1]
                pe.append((k.replace(".to_q.weight", ".pos_encoder.pe"), dt, [1, cfg["motion_max_seq_length"], dim]))
                pe.append((k.replace("attention_blocks.0.to_q.weight", "attention_blocks.1.pos_encoder.pe"), dt,
                           [1, cfg["motion_max_seq_length"], dim]))
        write_spec(f"{name}.original", f"mir:model.lora.animatediff:{base}", hdr + [
            "original (guoyww/AnimateDiff mm_*.ckpt) key names: inverse of single_file_utils."
            "convert_animatediff_checkpoint_to_diffusers, plus the pos_encoder.pe buffers it drops"],
            orig + pe)


# ---------------------------------------------------------------------------------------------
# VAEs and tiny decoders
# ---------------------------------------------------------------------------------------------

def ldm_vae_names(rows, n_up: int):
    """Invert diffusers' single_file_utils.convert_ldm_vae_checkpoint (LDM/BFL AutoencoderKL names)."""
    out = []
    for k, dt, sh in rows:
        n = k
        m = re.match(r"^(encoder|decoder)\.mid_block\.attentions\.0\.(\w+)(?:\.0)?\.(weight|bias)$", k)
        if m:
            part, mod, p = m.groups()
            mod = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out": "proj_out"}[mod]
            if p == "weight" and len(sh) == 2:
                sh = sh + [1, 1]  # LDM attention projections are 1x1 convolutions
            out.append((f"{part}.mid.attn_1.{mod}.{p}", dt, sh))
            continue
        n = re.sub(r"^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.", r"encoder.down.\1.block.\2.", n)
        n = re.sub(r"^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.", r"encoder.down.\1.downsample.", n)
        n = re.sub(r"^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.",
                   lambda m: f"decoder.up.{n_up - 1 - int(m.group(1))}.block.{m.group(2)}.", n)
        n = re.sub(r"^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.",
                   lambda m: f"decoder.up.{n_up - 1 - int(m.group(1))}.upsample.", n)
        n = re.sub(r"^(encoder|decoder)\.mid_block\.resnets\.(\d+)\.",
                   lambda m: f"{m.group(1)}.mid.block_{int(m.group(2)) + 1}.", n)
        n = n.replace(".conv_shortcut.", ".nin_shortcut.").replace(".conv_norm_out.", ".norm_out.")
        out.append((n, dt, sh))
    return out


def gen_vaes():
    import diffusers as d

    jobs = [
        ("vae-flux-2", "mir:model.vae.flux-2", d.AutoencoderKLFlux2, dict(),
         "black-forest-labs/FLUX.2-dev vae/config.json (= class defaults)"),
        ("vae-hunyuanvideo", "mir:model.vae.hunyuanvideo", d.AutoencoderKLHunyuanVideo, dict(),
         "hunyuanvideo-community/HunyuanVideo vae/config.json (= class defaults)"),
        ("vae-hunyuanvideo-1-5", "mir:model.vae.hunyuanvideo-1-5", d.AutoencoderKLHunyuanVideo15, dict(),
         "hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-720p_t2v vae/config.json (= class defaults)"),
        ("vae-ltx-video", "mir:model.vae.ltx-video", d.AutoencoderKLLTXVideo, dict(),
         "Lightricks/LTX-Video vae/config.json (0.9.0; = class defaults)"),
        ("vae-ltx-2", "mir:model.vae.ltx-2", d.AutoencoderKLLTX2Video, dict(),
         "Lightricks/LTX-2 vae/config.json (= class defaults)"),
        ("vae-mochi-1", "mir:model.vae.mochi-1", d.AutoencoderKLMochi, dict(),
         "genmo/mochi-1-preview vae/config.json (= class defaults)"),
        ("vae-cogvideox", "mir:model.vae.cogvideox", d.AutoencoderKLCogVideoX, dict(),
         "THUDM/CogVideoX-2b vae/config.json (= class defaults)"),
        ("vae-cosmos", "mir:model.vae.cosmos", d.AutoencoderKLCosmos, dict(),
         "nvidia/Cosmos-1.0-Diffusion-7B-Text2World vae/config.json (CV8x8x8; = class defaults)"),
        ("vae-oobleck", "mir:model.vae.oobleck", d.AutoencoderOobleck, dict(),
         "stabilityai/stable-audio-open-1.0 vae/config.json (= class defaults)"),
    ]
    for name, mir, cls, cfg, src in jobs:
        rows = meta_state_dict(cls, cfg, torch.float32)
        hdr = [f"{name}: real layout, diffusers {cls.__name__}", f"config: {src}"]
        write_spec(f"{name}.diffusers", mir, hdr, rows)
        if name == "vae-flux-2":
            write_spec(f"{name}.bfl", mir, hdr + [
                "BFL single-file (ae.safetensors) names: inverse of single_file_utils."
                "convert_ldm_vae_checkpoint, the LDM AutoencoderKL naming FLUX.1's ae also uses;"
                " bn.* (the latent BatchNorm) and quant_conv/post_quant_conv kept at the top level"
                " as the diffusers class has them (their place in BFL's file is not verified)"],
                ldm_vae_names(rows, 4))

    def tae_orig(part):
        # madebyollin/taesd taesd.py: Encoder/Decoder are nn.Sequential; the Decoder starts with a
        # parameter-free Clamp() that diffusers' DecoderTiny does in forward, so original decoder
        # index = diffusers index + 1 (diffusers scripts/convert_tiny_autoencoder_to_diffusers.py).
        def f(k, s):
            pre = f"{part}.layers."
            if not k.startswith(pre):
                return None
            rest = k[len(pre):]
            i, tail = rest.split(".", 1)
            if part == "decoder":
                i = str(int(i) + 1)
            return f"{i}.{tail}"
        return f

    for name, base, latent, src in [
        ("tae-sd", "stable-diffusion-v1", 4, "madebyollin/taesd config.json"),
        ("tae-sdxl", "stable-diffusion-xl", 4, "madebyollin/taesdxl config.json"),
        ("tae-flux-1", "flux-1-dev", 16, "madebyollin/taef1 config.json"),
    ]:
        rows = meta_state_dict(d.AutoencoderTiny, dict(latent_channels=latent), torch.float16)
        hdr = [f"{name}: real layout, diffusers AutoencoderTiny", f"config: {src} (latent_channels {latent})"]
        expect = "mir:model.vae.tae"
        if latent == 4:
            hdr.append("TAESD and TAESDXL are shape-identical: named without compat")
            extra = ["@expect_candidate mir:model.vae.tae:stable-diffusion-v1",
                     "@expect_candidate mir:model.vae.tae:stable-diffusion-xl"]
        else:
            hdr.append("TAEF1 and TAESD3 are shape-identical (16 latent channels): named without compat")
            extra = ["@expect_candidate mir:model.vae.tae:flux-1-dev",
                     "@expect_candidate mir:model.vae.tae:stable-diffusion-3"]
        if name == "tae-sdxl":
            continue  # identical rows to tae-sd; the decoder-only original below covers the name case
        write_spec(f"{name}.diffusers", expect, hdr, rows, extra)
        write_spec(f"{name}.decoder", expect, hdr + [
            "original decoder-only file (taesd_decoder / taef1_decoder .pth/.safetensors, the"
            " ComfyUI vae_approx file): taesd.py Decoder indices = diffusers decoder.layers + 1"],
            rename_rows(rows, tae_orig("decoder")), extra)


def gen_taehv():
    """TAEHV-family tiny video decoders, from the author's taehv.py (madebyollin/taehv; not on PyPI).

    Give its path with the TAEHV_PY environment variable (a clone's taehv.py); skipped otherwise.
    The released checkpoints carry every TGrow convolution at full width (TAEHV.patch_tgrow_layers
    trims them when temporal upscaling is switched off), so they are built with upscaling on."""
    import importlib.util
    import os

    src = os.environ.get("TAEHV_PY")
    if not src:
        print("TAEHV_PY not set: TAEHV layouts skipped", file=sys.stderr)
        return
    mspec = importlib.util.spec_from_file_location("taehv", src)
    mod = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(mod)
    full = (True, True, True)
    jobs = [
        # name, expect, candidates, kwargs, released file
        ("tae-hv-16", "mir:model.vae.tae",
         ["mir:model.vae.tae:hunyuanvideo", "mir:model.vae.tae:wan-2-1", "mir:model.vae.tae:cogvideox"],
         dict(patch_size=1, latent_channels=16, encoder_time_downscale=(True, True, False)),
         "taehv.safetensors / taew2_1.safetensors / taecvx.safetensors (16 latent channels, patch 1)"),
        ("tae-wan-2-2", "mir:model.vae.tae:wan-2-2", [],
         dict(patch_size=2, latent_channels=48, encoder_time_downscale=(True, True, False)),
         "taew2_2.safetensors (48 latent channels, patch 2)"),
        ("tae-hunyuanvideo-1-5", "mir:model.vae.tae:hunyuanvideo-1-5", [],
         dict(patch_size=2, latent_channels=32, encoder_time_downscale=(True, True, False)),
         "taehv1_5.safetensors (32 latent channels, patch 2)"),
        ("tae-ltx-2", "mir:model.vae.tae:ltx-2", [],
         dict(patch_size=4, latent_channels=128, encoder_time_downscale=(True, True, True)),
         "taeltx_2.safetensors (128 latent channels, patch 4)"),
    ]
    for name, expect, cands, kw, released in jobs:
        with torch.device("meta"):
            m = mod.TAEHV(checkpoint_path=None, decoder_time_upscale=full, **kw)
        m = m.to(torch.float16)
        rows = [(k, DTYPES[v.dtype], list(v.shape)) for k, v in m.state_dict().items()]
        hdr = [f"{name}: real layout, the author's taehv.py TAEHV (madebyollin/taehv)",
               f"config: the TAEHV constructor values taehv.py picks for {released}"]
        if cands:
            hdr.append("TAEHV, TAEW2.1 and TAECVX are shape-identical: named without compat unless the file name decides")
        write_spec(f"{name}.original", expect, hdr, rows, [f"@expect_candidate {c}" for c in cands])


# ---------------------------------------------------------------------------------------------
# LoRAs of the video bases
# ---------------------------------------------------------------------------------------------

def lora_rows(rows, targets, rank, prefix, style):
    """Name a LoRA pair for every Linear weight whose module path matches one of `targets`.

    style 'peft': `<prefix><module>.lora_A.weight` [r, in] / `.lora_B.weight` [out, r];
    style 'kohya': `lora_unet_<module with _>.lora_down.weight` / `.lora_up.weight` / `.alpha`.
    """
    out = []
    for k, dt, s in rows:
        if not k.endswith(".weight") or len(s) != 2:
            continue
        mod = k[: -len(".weight")]
        if not any(re.search(t, mod) for t in targets):
            continue
        o, i = s
        if style == "peft":
            out.append((f"{prefix}{mod}.lora_A.weight", "BF16", [rank, i]))
            out.append((f"{prefix}{mod}.lora_B.weight", "BF16", [o, rank]))
        elif style == "loha":
            # LyCORIS LoHa (lycoris_<module with _>): two Hadamard factor pairs per module
            m = "lycoris_" + mod.replace(".", "_")
            out.append((f"{m}.hada_w1_a", "BF16", [o, rank]))
            out.append((f"{m}.hada_w1_b", "BF16", [rank, i]))
            out.append((f"{m}.hada_w2_a", "BF16", [o, rank]))
            out.append((f"{m}.hada_w2_b", "BF16", [rank, i]))
            out.append((f"{m}.alpha", "BF16", []))
        else:
            m = "lora_unet_" + mod.replace(".", "_")
            out.append((f"{m}.lora_down.weight", "BF16", [rank, i]))
            out.append((f"{m}.lora_up.weight", "BF16", [o, rank]))
            out.append((f"{m}.alpha", "BF16", []))
    return out


def gen_loras():
    import diffusers as d

    attn = [r"\.attn1\.to_[qkv]$", r"\.attn1\.to_out\.0$", r"\.attn2\.to_[qkv]$", r"\.attn2\.to_out\.0$"]
    ffw = [r"\.ffn\.net\.0\.proj$", r"\.ffn\.net\.2$"]
    wan = meta_state_dict(d.WanTransformer3DModel, WAN_14B)
    wan_o = rename_rows(wan, wan_to_original)
    # diffusers/PEFT (diffusers training scripts: transformer.<module>.lora_A.weight)
    write_spec("lora-wan-14b.peft", "mir:model.lora.lora:wan-2-1",
               ["LoRA of Wan 14B T2V, diffusers/PEFT names: a LoRA pair (rank 32) on every targeted Linear"
                " of the real WanTransformer3DModel (attn1/attn2 q,k,v,out and ffn)",
                "config: Wan-AI/Wan2.1-T2V-14B-Diffusers transformer/config.json"],
               lora_rows(wan, attn + ffw, 32, "transformer.", "peft"),
               ["@expect_candidate mir:model.lora.lora:wan-2-2"])
    # ComfyUI / musubi-tuner style on the original names (diffusion_model.blocks.N.self_attn.q)
    ot = [r"\.self_attn\.[qkvo]$", r"\.cross_attn\.[qkvo]$", r"\.ffn\.[02]$"]
    write_spec("lora-wan-14b.comfy", "mir:model.lora.lora:wan-2-1",
               ["LoRA of Wan 14B T2V, ComfyUI names (diffusion_model.<original module>.lora_A/B): every"
                " targeted Linear of the original-layout Wan (inverse of the diffusers conversion)",
                "config: Wan-AI/Wan2.1-T2V-14B transformer config"],
               lora_rows(wan_o, ot, 32, "diffusion_model.", "peft"),
               ["@expect_candidate mir:model.lora.lora:wan-2-2"])
    write_spec("lora-wan-14b.kohya", "mir:model.lora.lora:wan-2-1",
               ["LoRA of Wan 14B T2V, kohya/musubi-tuner names (lora_unet_blocks_N_self_attn_q.lora_down)",
                "config: Wan-AI/Wan2.1-T2V-14B transformer config"],
               lora_rows(wan_o, ot, 32, "", "kohya"),
               ["@expect_candidate mir:model.lora.lora:wan-2-2"])

    # Wan 2.1 1.3B and Wan 2.2 TI2V 5B LoRAs (the existing width rules of adapters.toml)
    for name, cfg, mir, src in [
        ("lora-wan-2-1-1-3b", WAN_1_3B, "mir:model.lora.lora:wan-2-1", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"),
        ("lora-wan-2-2-5b", WAN_5B, "mir:model.lora.lora:wan-2-2", "Wan-AI/Wan2.2-TI2V-5B-Diffusers"),
    ]:
        rows = meta_state_dict(d.WanTransformer3DModel, cfg)
        write_spec(f"{name}.peft", mir, [f"LoRA of {src}, diffusers/PEFT names on every targeted Linear of the real"
                                         " WanTransformer3DModel", f"config: {src} transformer/config.json"],
                   lora_rows(rows, attn + ffw, 32, "transformer.", "peft"))
        write_spec(f"{name}.comfy", mir, [f"LoRA of {src}, ComfyUI names (diffusion_model.<original module>)",
                                          f"config: {src} transformer/config.json"],
                   lora_rows(rename_rows(rows, wan_to_original), ot, 32, "diffusion_model.", "peft"))

    write_spec("loha-wan-14b.lycoris", "mir:model.lora.loha:wan-2-1",
               ["LyCORIS LoHa of Wan 14B T2V (lycoris_blocks_N_self_attn_q.hada_w1_a ...), rank 16, on every"
                " targeted Linear of the original-layout Wan", "config: Wan-AI/Wan2.1-T2V-14B transformer config"],
               lora_rows(wan_o, ot, 16, "", "loha"), ["@expect_candidate mir:model.lora.loha:wan-2-2"])

    hv = meta_state_dict(d.HunyuanVideoTransformer3DModel, dict())
    hv_t = [r"transformer_blocks\.\d+\.attn\.(to_[qkv]|add_[qkv]_proj|to_out\.0|to_add_out)$",
            r"single_transformer_blocks\.\d+\.attn\.to_[qkv]$", r"single_transformer_blocks\.\d+\.proj_(mlp|out)$"]
    write_spec("lora-hunyuanvideo.peft", "mir:model.lora.lora:hunyuanvideo",
               ["LoRA of HunyuanVideo, diffusers/PEFT names on every attention Linear of the real"
                " HunyuanVideoTransformer3DModel", "config: hunyuanvideo-community/HunyuanVideo transformer/config.json"],
               lora_rows(hv, hv_t, 32, "transformer.", "peft"))
    hv_o = hunyuan_to_original(hv, 3072)
    write_spec("lora-hunyuanvideo.kohya", "mir:model.lora.lora:hunyuanvideo",
               ["LoRA of HunyuanVideo, musubi-tuner/kohya names on the original modules"
                " (lora_unet_double_blocks_N_img_attn_qkv)", "config: tencent/HunyuanVideo"],
               lora_rows(hv_o, [r"double_blocks\.\d+\.(img|txt)_attn_(qkv|proj)$",
                                r"double_blocks\.\d+\.(img|txt)_mlp\.fc[12]$",
                                r"single_blocks\.\d+\.linear[12]$"], 32, "", "kohya"))

    write_spec("loha-hunyuanvideo.lycoris", "mir:model.lora.loha:hunyuanvideo",
               ["LyCORIS LoHa of HunyuanVideo on the original modules (lycoris_double_blocks_N_img_attn_qkv.hada_w1_a ...)",
                "config: tencent/HunyuanVideo"],
               lora_rows(hv_o, [r"double_blocks\.\d+\.(img|txt)_attn_(qkv|proj)$", r"single_blocks\.\d+\.linear[12]$"],
                         16, "", "loha"))

    ltx = meta_state_dict(d.LTXVideoTransformer3DModel, dict())
    ltx_t = [r"\.attn[12]\.to_[qkv]$", r"\.attn[12]\.to_out\.0$"]
    write_spec("lora-ltx-video.peft", "mir:model.lora.lora:ltx-video",
               ["LoRA of LTX-Video 2B, diffusers/PEFT names on every attention Linear of the real"
                " LTXVideoTransformer3DModel", "config: Lightricks/LTX-Video transformer/config.json"],
               lora_rows(ltx, ltx_t, 32, "transformer.", "peft"))
    write_spec("lora-ltx-video.comfy", "mir:model.lora.lora:ltx-video",
               ["LoRA of LTX-Video 2B, ComfyUI names (diffusion_model.transformer_blocks.N.attn1.to_q.lora_A)",
                "config: Lightricks/LTX-Video transformer/config.json"],
               lora_rows(ltx, ltx_t, 32, "diffusion_model.", "peft"))


# ---------------------------------------------------------------------------------------------
# Authors' own code (pip-installable): Hunyuan3D-2 (hy3dgen), Stable Audio Open (stable-audio-tools)
# ---------------------------------------------------------------------------------------------

def gen_authors_code():
    """Needs `pip install --no-deps hy3dgen==2.0.2 stable-audio-tools==0.0.19 einops`."""
    # Load the DiT module file alone: hy3dgen's package __init__ pulls in mesh/texture tooling
    # (trimesh, ...) the DiT itself does not use.
    import importlib.util

    spec = importlib.util.find_spec("hy3dgen")
    path = Path(spec.origin).parent / "shapegen" / "models" / "denoisers" / "hunyuan3ddit.py"
    mspec = importlib.util.spec_from_file_location("hunyuan3ddit", path)
    mod = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(mod)
    Hunyuan3DDiT = mod.Hunyuan3DDiT

    base = dict(in_channels=64, context_in_dim=1536, hidden_size=1024, mlp_ratio=4.0, num_heads=16,
                axes_dim=[64], theta=10000, qkv_bias=True, guidance_embed=False)
    for name, cfg, src, extra in [
        ("hunyuan3d-2", dict(base, depth=16, depth_single_blocks=32),
         "tencent/Hunyuan3D-2 hunyuan3d-dit-v2-0/config.yaml (model.params)", []),
        ("hunyuan3d-2-mini", dict(base, depth=8, depth_single_blocks=16),
         "tencent/Hunyuan3D-2mini hunyuan3d-dit-v2-mini/config.yaml (model.params; depths from"
         " knowledge of the release, 0.6B parameters)",
         ["# mini differs only in depth (8 double blocks): compat mini"]),
    ]:
        rows = meta_state_dict(Hunyuan3DDiT, cfg, torch.float16)
        mir = "mir:model.dit.hunyuan3d-2" + (":mini" if "mini" in name else "")
        write_spec(f"{name}.original", mir,
                   [f"{name}: real layout, the authors' hy3dgen 2.0.2 Hunyuan3DDiT (pip hy3dgen)",
                    f"config: {src}"] + [e[2:] for e in extra], rows)
        # ComfyUI's Hunyuan3D-2 checkpoint (model.fp16.safetensors) keeps the DiT under `model.`
        write_spec(f"{name}.comfy", mir,
                   [f"{name}: real layout, the authors' hy3dgen 2.0.2 Hunyuan3DDiT, under `model.` as in"
                    " tencent/Hunyuan3D-2 model.fp16.safetensors (the released single file)",
                    f"config: {src}"], [("model." + k, dt, sh) for k, dt, sh in rows])

    from stable_audio_tools.models.dit import DiffusionTransformer

    cfg = dict(io_channels=64, embed_dim=1536, depth=24, num_heads=24, cond_token_dim=768,
               global_cond_dim=1536, project_cond_tokens=False, transformer_type="continuous_transformer")
    rows = meta_state_dict(DiffusionTransformer, cfg, torch.float32)
    write_spec("stable-audio-open-1.original", "mir:model.dit.stable-audio-open-1",
               ["stable-audio-open-1: real layout, the authors' stable-audio-tools 0.0.19 DiffusionTransformer",
                "config: stabilityai/stable-audio-open-1.0 model_config.json (model.diffusion.config)",
                "keys under `model.model.` as in the released model.safetensors (ConditionedDiffusionModelWrapper"
                " -> DiTWrapper -> DiffusionTransformer)"],
               [("model.model." + k, dt, sh) for k, dt, sh in rows])
    # stable_audio_tools.models.autoencoders imports torchaudio, alias_free_torch and the sampling
    # code at import time; only the Oobleck classes are needed, so their definitions are taken
    # from the installed module's source and run with what they use.
    import ast
    import importlib.util
    from typing import Literal

    from stable_audio_tools.models.blocks import SnakeBeta
    from torch import nn
    from torch.nn.utils import weight_norm

    src = Path(importlib.util.find_spec("stable_audio_tools").origin).parent / "models" / "autoencoders.py"
    tree = ast.parse(src.read_text())
    wanted = {"WNConv1d", "WNConvTranspose1d", "checkpoint", "get_activation", "ResidualUnit",
              "EncoderBlock", "DecoderBlock", "OobleckEncoder", "OobleckDecoder"}
    body = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in wanted]
    ns = {"torch": torch, "nn": nn, "weight_norm": weight_norm, "SnakeBeta": SnakeBeta,
          "Literal": Literal, "Activation1d": None, "math": __import__("math")}
    exec(compile(ast.Module(body=body, type_ignores=[]), str(src), "exec"), ns)
    enc = dict(in_channels=2, channels=128, c_mults=[1, 2, 4, 8, 16], strides=[2, 4, 4, 8, 8],
               latent_dim=128, use_snake=True)
    dec = dict(out_channels=2, channels=128, c_mults=[1, 2, 4, 8, 16], strides=[2, 4, 4, 8, 8],
               latent_dim=64, use_snake=True, final_tanh=False)
    rows = ([("encoder." + k, dt, sh) for k, dt, sh in meta_state_dict(ns["OobleckEncoder"], enc, torch.float32)]
            + [("decoder." + k, dt, sh) for k, dt, sh in meta_state_dict(ns["OobleckDecoder"], dec, torch.float32)])
    write_spec("vae-oobleck.original", "mir:model.vae.oobleck",
               ["vae-oobleck: real layout, the authors' stable-audio-tools 0.0.19 OobleckEncoder/OobleckDecoder"
                " (AudioAutoencoder.encoder/.decoder; in the released model.safetensors under pretransform.model.)",
                "config: stabilityai/stable-audio-open-1.0 model_config.json (model.pretransform.config; the VAE"
                " bottleneck doubles the encoder's latent_dim to 128)"], rows)


# ---------------------------------------------------------------------------------------------
# `groups` for rules/video.toml, read off the generated layouts
# ---------------------------------------------------------------------------------------------

# rule id -> the fixtures whose layout the rule's groups must explain completely
RULE_FIXTURES = {
    "wan-vace": ["wan-2-1-vace-1-3b", "wan-2-1-vace-14b"],
    "wan-flf2v": ["wan-2-1-flf2v-14b"],
    "wan-fun-control": ["wan-2-1-fun-control-1-3b", "wan-2-1-fun-control-14b"],
    "wan-animate": ["wan-2-2-animate-14b"],
    "wan-s2v": ["wan-2-2-s2v-14b"],
    "stable-video-diffusion": ["stable-video-diffusion", "stable-video-diffusion-xt"],
    "ltx-2": ["ltx-2"],
    "hunyuanvideo-i2v": ["hunyuanvideo-i2v"],
    "hunyuanvideo-1-5": ["hunyuanvideo-1-5-t2v", "hunyuanvideo-1-5-i2v"],
    "mochi-1": ["mochi-1"],
    "cogvideox": ["cogvideox-2b", "cogvideox-5b"],
    "cogvideox-i2v": ["cogvideox-5b-i2v"],
    "cosmos-1": ["cosmos-1-7b-t2w", "cosmos-1-7b-v2w"],
    "cosmos-predict2": ["cosmos-predict2-2b-t2i", "cosmos-predict2-14b-v2w"],
    "stable-audio-open-1": ["stable-audio-open-1"],
    "ace-step": ["ace-step"],
    "animatediff-sd1": ["animatediff-sd1-v2", "animatediff-sd1-v3"],
    "animatediff-sdxl": ["animatediff-sdxl"],
    "vae-wan-2-2": ["vae-wan-2-2"],
    "vae-flux-2": ["vae-flux-2"],
    "vae-hunyuanvideo": ["vae-hunyuanvideo"],
    "vae-hunyuanvideo-1-5": ["vae-hunyuanvideo-1-5"],
    "vae-ltx-video": ["vae-ltx-video"],
    "vae-ltx-2": ["vae-ltx-2"],
    "vae-mochi-1": ["vae-mochi-1"],
    "vae-cogvideox": ["vae-cogvideox"],
    "vae-cosmos": ["vae-cosmos"],
    "vae-oobleck": ["vae-oobleck"],
    "hunyuan3d-2": ["hunyuan3d-2"],
    "hunyuan3d-2-mini": ["hunyuan3d-2-mini"],
    "lora-hunyuanvideo": [],  # adapter view: groups below
    "lora-ltx-video": [],
    "tae-4": ["tae-sd"],
    "tae-16": ["tae-flux-1"],
    "tae-sdxl": ["tae-sd"],
    "tae-sd1": ["tae-sd"],
    "tae-flux-1": ["tae-flux-1"],
    "tae-sd3": ["tae-flux-1"],
    "taehv-16": ["tae-hv-16"],
    "taehv-hunyuanvideo": ["tae-hv-16"],
    "taehv-wan-2-1": ["tae-hv-16"],
    "taehv-cogvideox": ["tae-hv-16"],
    "taehv-wan-2-2": ["tae-wan-2-2"],
    "taehv-hunyuanvideo-1-5": ["tae-hunyuanvideo-1-5"],
    "taehv-ltx-2": ["tae-ltx-2"],
    # written by gen_families.py
    "wan-2-2-fun-control": ["wan-2-2-fun-control-a14b", "wan-2-2-fun-control-5b"],
    "hunyuan3d-2-1": ["hunyuan3d-2-1"],
}

BLOCK_LISTS = re.compile(r"(blocks|layers|block|stack|modules|blocks_2|^encoder|^decoder)$")
# The wrapper prefixes of crates/mir-classify/rules/layout.toml `strip_prefixes` that occur in
# these layouts, stripped repeatedly, longest first, as the classifier does.
STRIP = sorted(("model.diffusion_model.", "diffusion_model.", "model.model.", "model.", "transformer.",
                "unet.", "net."), key=len, reverse=True)


def group_of(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for p in STRIP:
            if key.startswith(p) and len(key) > len(p):
                key = key[len(p):]
                changed = True
                break
    # Cosmos 1.0 names its blocks `blocks.block0`, `blocks.block1`, ...
    s = ["block*" if re.fullmatch(r"block\d+", x) else x for x in key.split(".")]
    num = next((i for i, x in enumerate(s) if x.isdigit() or x == "block*"), None)
    if num == 1 and s[1] == "block*":
        return f"{s[0]}.block*.{s[2]}"
    if num == 0:
        return f"*.{s[1]}" if len(s) > 2 else f"*.{s[-1]}"
    if num == 1 and BLOCK_LISTS.search(s[0]):
        if len(s) > 3 and s[2].isdigit():  # sgm: input_blocks.1.0.time_stack...
            return f"{s[0]}.*.*.{s[3]}"
        return f"{s[0]}.*.{s[2]}" if len(s) >= 3 else f"{s[0]}.*"
    if num is not None and num >= 2:
        return ".".join(s[:2]) if num > 2 or len(s) > 3 else s[0]
    if num is None and len(s) >= 3:
        return ".".join(s[:2])
    return s[0] if len(s) > 1 else key


# Groups no generated layout shows: the parts an all-in-one SVD checkpoint holds besides the UNet
# (its temporal VAE decoder and its CLIP-vision / VAE-encoder conditioners, which no component
# rule names yet).
EXTRA_GROUPS = {
    "stable-video-diffusion": ["conditioner.**", "first_stage_model.**"],
    # Wan 2.1 Fun V1.1 Control adds the reference-image conv (VideoX-Fun add_ref_conv); the Wan 2.2
    # Fun-Control rule's own fixtures come from gen_families.py
    "wan-fun-control": ["ref_conv"],
    # LoRAs (adapter view, `unet/<module path joined with _>`): every module a HunyuanVideo or
    # LTX-Video LoRA may target, in diffusers and original naming
    "lora-hunyuanvideo": [
        "unet/double_blocks_*_img_attn", "unet/double_blocks_*_txt_attn", "unet/double_blocks_*_img_mlp",
        "unet/double_blocks_*_txt_mlp", "unet/double_blocks_*_img_mod", "unet/double_blocks_*_txt_mod",
        "unet/single_blocks_*_linear1", "unet/single_blocks_*_linear2", "unet/single_blocks_*_modulation",
        "unet/transformer_blocks_*_attn", "unet/transformer_blocks_*_ff", "unet/transformer_blocks_*_ff_context",
        "unet/transformer_blocks_*_norm1", "unet/transformer_blocks_*_norm1_context",
        "unet/single_transformer_blocks_*_attn", "unet/single_transformer_blocks_*_proj_mlp",
        "unet/single_transformer_blocks_*_proj_out", "unet/single_transformer_blocks_*_norm",
        "unet/txt_in", "unet/context_embedder", "unet/img_in", "unet/x_embedder", "unet/time_in",
        "unet/vector_in", "unet/guidance_in", "unet/time_text_embed", "unet/final_layer",
        "unet/norm_out", "unet/proj_out",
    ],
    "lora-ltx-video": [
        "unet/transformer_blocks_*_attn1", "unet/transformer_blocks_*_attn2", "unet/transformer_blocks_*_ff",
        "unet/proj_in", "unet/patchify_proj", "unet/proj_out", "unet/caption_projection",
        "unet/time_embed", "unet/adaln_single",
    ],
    # Cosmos originals: the training-time buffers diffusers' conversion drops
    "cosmos-1": ["logvar", "pos_embedder"],
    "ace-step": ["null_condition_emb"],
    "cosmos-predict2": ["pos_embedder", "accum_*", "**._extra_state"],
    # FLUX.2 VAE, BFL names: the quant convolutions may also sit inside encoder/decoder
    "vae-flux-2": ["encoder.quant_conv", "decoder.post_quant_conv"],
}


def rule_groups() -> dict[str, list[str]]:
    out = {}
    for rule, fixtures in RULE_FIXTURES.items():
        groups = set(EXTRA_GROUPS.get(rule, []))
        for f in fixtures:
            for path in sorted(OUT.glob(f"{f}.*.spec")):
                for line in path.read_text().splitlines():
                    if not line or line[0] in "#@":
                        continue
                    key = line.split()[0]
                    # ComfyUI scaled-fp8 packaging (layout.toml `benign`), not a module of the family
                    if key == "scaled_fp8" or key.endswith(".scale_weight"):
                        continue
                    groups.add(group_of(key))
        out[rule] = sorted(groups)
    return out


def write_groups():
    """Rewrite the `groups = [...]` of every rule of rules/video.toml named in RULE_FIXTURES."""
    path = ROOT / "crates" / "mir-classify" / "rules" / "video.toml"
    text = path.read_text()
    text = re.sub(r"^groups = \[\n(?:  .*\n)*\]\n", "", text, flags=re.M)
    groups = rule_groups()
    out, cur = [], None
    for line in text.split("\n"):
        m = re.match(r'^id = "(.*)"$', line)
        if m:
            cur = m.group(1)
        out.append(line)
        if line.startswith("role = ") and cur in groups:
            out.append("groups = [")
            row = "  "
            for g in groups[cur]:
                item = f'"{g}", '
                if len(row) + len(item) > 100:
                    out.append(row.rstrip())
                    row = "  "
                row += item
            out.append(row.rstrip())
            out.append("]")
    path.write_text("\n".join(out))


GENS = {
    "wan": gen_wan, "wan-vae": gen_wan_vae, "svd": gen_svd, "ltx": gen_ltx,
    "hunyuanvideo": gen_hunyuanvideo, "mochi-cog-cosmos": gen_mochi_cog_cosmos,
    "audio-animatediff": gen_audio_animatediff, "vaes": gen_vaes, "loras": gen_loras,
    "authors-code": gen_authors_code, "taehv": gen_taehv, "wan-authors": gen_wan_authors,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--groups", action="store_true", help="rewrite the groups of rules/video.toml")
    a = ap.parse_args()
    if a.groups:
        write_groups()
        return
    for n, g in GENS.items():
        if a.only in n:
            g()


if __name__ == "__main__":
    main()
