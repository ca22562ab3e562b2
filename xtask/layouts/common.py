"""Shared helpers of the layout generators (owned by gen_image.py's author).

A generator builds the real model class on torch's `meta` device (no memory, no weights, no
download), reads `state_dict()` names, shapes and dtypes, optionally rewrites the names into an
original (authors' / single-file) layout, and writes a spec file in the format of
`crates/mir-classify/src/testing.rs`: `name DTYPE [d0,d1,...]` per line.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterable

import torch
from diffusers.utils import logging as _dlog

_dlog.set_verbosity_error()

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "fixtures" / "specs"

# torch dtype -> safetensors spelling.
DTYPES = {
    torch.bfloat16: "BF16",
    torch.float16: "F16",
    torch.float32: "F32",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}

# An entry: name -> (dtype string, shape list).
Layout = "OrderedDict[str, tuple[str, list[int]]]"


def meta_state(cls, config: dict, dtype: torch.dtype | None = torch.bfloat16) -> Layout:
    """Instantiates `cls(**config)` on the meta device and returns its state_dict as a layout.

    `dtype` casts floating-point tensors (the released files are stored in one dtype, BF16 for
    most); None keeps the dtypes the class creates.
    """
    with torch.device("meta"):
        model = cls(**config)
    if dtype is not None:
        model = model.to(dtype)
    out: Layout = OrderedDict()
    for name, t in model.state_dict().items():
        out[name] = (DTYPES[t.dtype], list(t.shape))
    return out


def meta_model(cls, config: dict):
    """The meta-device model itself (for adapters that walk its modules)."""
    with torch.device("meta"):
        return cls(**config)


class Unmapped(Exception):
    pass


def invert(layout: Layout, rules: list[tuple[str, str, int]], drop: Iterable[str] = ()) -> Layout:
    """Rewrites diffusers names into an original layout.

    `rules` are `(regex, template, part)`: the first regex that matches a whole name gives the
    original name (`\\1`-style groups); names that several diffusers tensors map to are
    concatenated along dim 0 in `part` order (fused qkv, FLUX's single-block linear1). A name no
    rule matches raises `Unmapped` so that a class change cannot silently drop a tensor.
    `drop` are regexes of diffusers names with no original counterpart.
    """
    compiled = [(re.compile(r), t, p) for r, t, p in rules]
    dropped = [re.compile(d) for d in drop]
    parts: "OrderedDict[str, list[tuple[int, str, list[int]]]]" = OrderedDict()
    for name, (dt, shape) in layout.items():
        if any(d.fullmatch(name) for d in dropped):
            continue
        for rx, tmpl, part in compiled:
            m = rx.fullmatch(name)
            if m:
                new = m.expand(tmpl)
                parts.setdefault(new, []).append((part, dt, shape))
                break
        else:
            raise Unmapped(name)
    out: Layout = OrderedDict()
    for new, items in parts.items():
        items.sort(key=lambda x: x[0])
        dt = items[0][1]
        shape = list(items[0][2])
        for _, _, s in items[1:]:
            if list(s[1:]) != shape[1:]:
                raise ValueError(f"cannot fuse {new}: {s} vs {shape}")
            shape[0] += s[0]
        out[new] = (dt, shape)
    return out


def prefixed(layout: Layout, prefix: str) -> Layout:
    return OrderedDict((prefix + k, v) for k, v in layout.items())


def write_spec(
    family_layout: str,
    layout: Layout,
    header: list[str],
    expect: list[str],
    meta: list[str] = (),
) -> Path:
    """Writes `fixtures/specs/<family_layout>.spec`.

    `header` lines become `# ` comments (generator, class, config source); `expect` lines are
    `@expect …` / `@expect_candidate …` / `@file_name …` directives written verbatim.
    """
    path = SPECS / f"{family_layout}.spec"
    lines = [f"# {h}" if h else "#" for h in header]
    lines.append(f"# {len(layout)} tensors.")
    lines += list(meta)
    lines += list(expect)
    for name, (dt, shape) in layout.items():
        lines.append(f"{name} {dt} [{','.join(str(d) for d in shape)}]")
    path.write_text("\n".join(lines) + "\n")
    return path


def fmt_config(config: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in config.items())


Gen = Callable[[], None]
