"""examples/python/comfyui_library.py on a ComfyUI-style folder the test builds."""

from __future__ import annotations

import importlib.util
import pathlib
import shutil

from conftest import FIXTURES, REPO

spec = importlib.util.spec_from_file_location(
    "comfyui_library", REPO / "examples" / "python" / "comfyui_library.py"
)
assert spec and spec.loader
comfy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(comfy)


def test_misplaced_and_duplicates(tmp_path: pathlib.Path) -> None:
    models = tmp_path / "models"
    for d in ("checkpoints", "loras", "unet", "clip", "vae"):
        (models / d).mkdir(parents=True)
    flux = FIXTURES / "gguf" / "flux_city96.gguf"  # mir:model.dit.flux-1-dev
    lora = FIXTURES / "gguf" / "lora_adapter.gguf"  # mir:model.lora.…
    llama = FIXTURES / "gguf" / "llama_v1.gguf"  # mir:model.art.llama
    shutil.copy(flux, models / "unet" / "flux.gguf")  # right place
    shutil.copy(flux, models / "loras" / "flux-in-loras.gguf")  # wrong, and a duplicate
    shutil.copy(lora, models / "loras" / "adapter.gguf")  # right place
    shutil.copy(llama, models / "clip" / "llama.gguf")  # right place
    shutil.copy(llama, models / "vae" / "llama.gguf")  # wrong, and a duplicate
    (models / "vae" / "broken.safetensors").write_bytes(b"\x00" * 3)

    r = comfy.report(models)
    assert r["files"] == 6
    misplaced = {m["path"]: m for m in r["misplaced"]}
    assert set(misplaced) == {"loras/flux-in-loras.gguf", "vae/llama.gguf"}
    assert misplaced["loras/flux-in-loras.gguf"]["kind"] == "dit"
    assert "unet" in misplaced["loras/flux-in-loras.gguf"]["expected"]
    assert misplaced["vae/llama.gguf"]["kind"] == "art"
    # Files in their right folder must NOT be reported.
    for ok in ("unet/flux.gguf", "loras/adapter.gguf", "clip/llama.gguf"):
        assert ok not in misplaced
    assert r["duplicates"] == [
        ["clip/llama.gguf", "vae/llama.gguf"],
        ["loras/flux-in-loras.gguf", "unet/flux.gguf"],
    ]
    assert [e["path"] for e in r["errors"]] == ["vae/broken.safetensors"]
    assert comfy.main([str(models)]) == 1


def test_clean_folder_exits_zero(tmp_path: pathlib.Path) -> None:
    models = tmp_path / "models"
    (models / "loras").mkdir(parents=True)
    shutil.copy(FIXTURES / "gguf" / "lora_adapter.gguf", models / "loras" / "a.gguf")
    r = comfy.report(models)
    assert r["misplaced"] == [] and r["duplicates"] == []
    assert comfy.main([str(models), "--json"]) == 0
