#!/usr/bin/env python3
"""Check a ComfyUI-style models folder with the `mir` package: files that sit in the wrong
folder for their kind, and duplicates (identical content).

    python examples/python/comfyui_library.py /path/to/ComfyUI/models [--index mir.sqlite3] [--json]

Each file is named by the engine (a MIR ID such as ``mir:model.lora.…``); the kind (the ID's
second part) says which ComfyUI folders may hold it. Files the engine cannot name, and kinds
with no folder rule, are not judged. Exit status: 0 clean, 1 problems found.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from collections import defaultdict
from typing import Any, Dict, List, Optional

import mir

# ComfyUI's folder names (folder_paths.py and common extensions) that may hold each kind of
# model, by the second part of its MIR ID (`mir:model.<kind>.<series>`).
FOLDERS_FOR_KIND: Dict[str, frozenset] = {
    "dit": frozenset({"checkpoints", "unet", "diffusion_models"}),
    "unet": frozenset({"checkpoints", "unet", "diffusion_models"}),
    "vae": frozenset({"vae", "vae_approx"}),
    "lora": frozenset({"loras", "lycoris"}),
    "controlnet": frozenset({"controlnet", "t2i_adapter"}),
    "adapter": frozenset({"ipadapter", "controlnet", "t2i_adapter", "style_models", "loras"}),
    "art": frozenset({"clip", "text_encoders", "LLM"}),
    "transformer": frozenset({"clip", "text_encoders"}),
    "vit": frozenset({"clip_vision", "clip", "text_encoders"}),
    "embedding": frozenset({"embeddings"}),
}


def kind_of(mir_id: Optional[str]) -> Optional[str]:
    """`mir:model.lora.x` → `lora`; None for unnamed files and `mir:dev.*` (unknown) IDs."""
    if not mir_id or not mir_id.startswith("mir:model."):
        return None
    parts = mir_id[len("mir:") :].split(".")
    return parts[1] if len(parts) > 1 else None


def report(root: pathlib.Path, index: Optional[str] = None) -> Dict[str, Any]:
    """Scans `root` once and returns ``{"misplaced": [...], "duplicates": [[...]], "errors":
    [...], "files": n}``; paths are relative to `root`."""
    root = pathlib.Path(root)
    misplaced: List[Dict[str, Any]] = []
    errors: List[Dict[str, str]] = []
    by_hash: Dict[str, List[str]] = defaultdict(list)
    files = 0
    for rec in mir.scan(root, index=index, hashes=["sha256"]):
        files += 1
        rel = pathlib.Path(rec.path).relative_to(root)
        if rec.error:
            errors.append({"path": rel.as_posix(), "error": rec.error})
            continue
        if rec.hashes and rec.hashes.get("sha256"):
            by_hash[rec.hashes["sha256"]].append(rel.as_posix())
        kind = kind_of(rec.mir)
        allowed = FOLDERS_FOR_KIND.get(kind) if kind else None
        folder = rel.parts[0] if len(rel.parts) > 1 else ""
        if allowed is not None and folder not in allowed:
            misplaced.append(
                {
                    "path": rel.as_posix(),
                    "mir": rec.mir,
                    "kind": kind,
                    "folder": folder,
                    "expected": sorted(allowed),
                }
            )
    duplicates = sorted(sorted(paths) for paths in by_hash.values() if len(paths) > 1)
    return {"files": files, "misplaced": misplaced, "duplicates": duplicates, "errors": errors}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", type=pathlib.Path, help="the ComfyUI models folder")
    ap.add_argument("--index", help="SQLite facts cache (faster re-runs)")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args(argv)
    r = report(args.models, args.index)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        for m in r["misplaced"]:
            print(
                f"misplaced: {m['path']} is {m['mir']} ({m['kind']}); "
                f"expected in {', '.join(m['expected'])}"
            )
        for group in r["duplicates"]:
            print("duplicates: " + "  ==  ".join(group))
        for e in r["errors"]:
            print(f"unreadable: {e['path']}: {e['error']}")
        print(
            f"{r['files']} files, {len(r['misplaced'])} misplaced, "
            f"{len(r['duplicates'])} duplicate groups, {len(r['errors'])} unreadable",
            file=sys.stderr,
        )
    return 1 if r["misplaced"] or r["duplicates"] else 0


if __name__ == "__main__":
    sys.exit(main())
