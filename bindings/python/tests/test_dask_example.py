"""examples/python/dask_scan.py on a LocalCluster of 2 worker processes, against `mir scan`."""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys

import distributed  # noqa: F401 - required: .ci/run installs dask[distributed] and pyarrow
import pyarrow.parquet as pq

from conftest import FIXTURES, REPO

SCRIPT = REPO / "examples" / "python" / "dask_scan.py"
spec = importlib.util.spec_from_file_location("dask_scan", SCRIPT)
assert spec and spec.loader
dask_scan = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dask_scan)

LLAMA = [
    ("model.embed_tokens.weight", [320, 64]),
    ("model.layers.0.self_attn.q_proj.weight", [64, 64]),
    ("model.layers.0.mlp.gate_proj.weight", [128, 64]),
    ("model.layers.0.input_layernorm.weight", [64]),
]


def safetensors(path: pathlib.Path, tensors, dtype: str = "F16", fill: bytes = b"\0") -> None:
    """A valid safetensors file; `fill` is the first data byte (different content, same
    layout)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    width = {"F16": 2, "F32": 4}[dtype]
    header, offset = {}, 0
    for name, shape in tensors:
        n = width
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + fill)
        f.truncate(8 + len(raw) + offset)


def library(tmp: pathlib.Path) -> pathlib.Path:
    lib = tmp / "lib"
    shutil.copytree(FIXTURES / "gguf", lib / "gguf")
    shutil.copytree(FIXTURES / "safetensors", lib / "safetensors")  # hostile files included
    # Duplicates: the same content in three places.
    src = FIXTURES / "gguf" / "llama_v1.gguf"
    (lib / "copies").mkdir()
    shutil.copy(src, lib / "copies" / "a.gguf")
    shutil.copy(src, lib / "copies" / "b.gguf")
    # The same layout with other content (and another precision): NOT duplicates.
    safetensors(lib / "layout" / "fp16.safetensors", LLAMA, fill=b"\1")
    safetensors(lib / "layout" / "fp16-tuned.safetensors", LLAMA, fill=b"\2")
    safetensors(lib / "layout" / "fp32.safetensors", LLAMA, dtype="F32")
    # A shard set with its index: the shards must be scanned together.
    shards = lib / "sharded"
    safetensors(shards / "model-00001-of-00002.safetensors", LLAMA[:2])
    safetensors(shards / "model-00002-of-00002.safetensors", LLAMA[2:])
    weight_map = {
        name: f"model-0000{1 + i // 2}-of-00002.safetensors" for i, (name, _) in enumerate(LLAMA)
    }
    (shards / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    # A diffusers pipeline: its components belong to the pipeline folder.
    pipe = lib / "pipeline"
    safetensors(pipe / "unet" / "diffusion_pytorch_model.safetensors", LLAMA)
    safetensors(pipe / "vae" / "diffusion_pytorch_model.safetensors", LLAMA[:1])
    (pipe / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "StableDiffusionPipeline",
                "unet": ["diffusers", "UNet2DConditionModel"],
            }
        )
    )
    # A Hugging Face cache repository: the snapshot symlink is an alias of its blob.
    repo = lib / "hub" / "models--org--name"
    blob = repo / "blobs" / ("ab" * 32)
    safetensors(blob, LLAMA, fill=b"\3")
    (repo / "snapshots" / "rev1").mkdir(parents=True)
    os.symlink(blob, repo / "snapshots" / "rev1" / "model.safetensors")
    return lib


def test_dask_scan_equals_the_cli(tmp_path: pathlib.Path, mir_cli: pathlib.Path) -> None:
    lib = library(tmp_path)
    # Most of the library as a listing of files (non-weight files among them; paths relative
    # to the script's working folder for one folder; one folder as a line ending in `/`), the
    # rest as a folder argument.
    listing = tmp_path / "files.txt"
    lines = [str(lib / "copies") + "/"]
    for d, dirs, files in os.walk(lib):
        dirs.sort()
        here = pathlib.Path(d)
        if here.is_relative_to(lib / "gguf") or here.is_relative_to(lib / "copies"):
            continue
        if here == lib / "layout":
            lines += [os.path.join("lib", "layout", f) for f in sorted(files)]
            continue
        lines += [os.path.join(d, f) for f in sorted(files)]
    listing.write_text("\n".join(lines) + "\n\n")
    out = tmp_path / "records.parquet"
    run = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            str(lib / "gguf"),
            "--list",
            str(listing),
            "--workers",
            "2",
            "--chunk",
            "4",
            "--hashes",
            "sha256",
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.splitlines()[-1])

    cli_run = subprocess.run(
        [str(mir_cli), "scan", "--json", "--no-index", "--hash", "sha256", str(lib)],
        capture_output=True,
        text=True,
    )
    assert cli_run.returncode in (0, 1, 2), cli_run.stderr
    cli = {r["path"]: r for r in map(json.loads, cli_run.stdout.splitlines())}

    table = pq.read_table(out)
    assert table.schema.equals(dask_scan.SCHEMA)
    rows = table.to_pylist()
    got = {r["path"]: dask_scan.record_from_row(r) for r in rows}
    assert len(got) == len(rows), "a path appears twice"
    assert sorted(got) == sorted(cli)
    for path, want in cli.items():
        assert got[path] == want, path
    # The cases that need files seen together came out right.
    shard = got[str(lib / "sharded" / "model-00001-of-00002.safetensors")]["shard"]
    assert shard and shard["model"].endswith("model.safetensors.index.json")
    unet = got[str(lib / "pipeline" / "unet" / "diffusion_pytorch_model.safetensors")]
    assert unet["model"]["kind"] == "diffusers"
    snapshot = [r for r in got.values() if r["aliases"]]
    assert len(snapshot) == 1 and "blobs" in snapshot[0]["aliases"][0]

    # Both workers did some of the work, in more than one chunk.
    assert summary["records"] == len(cli)
    assert summary["workers"] == 2 and summary["chunks"] > 2
    assert summary["errors"] == sum(1 for r in cli.values() if r["error"]) > 0
    assert len({r["worker"] for r in rows}) == 2
    assert {r["chunk"] for r in rows} == set(range(summary["chunks"]))
    phases = [summary[k] for k in ("startup_seconds", "scan_seconds", "merge_seconds")]
    assert all(p >= 0 for p in phases) and sum(phases) <= summary["seconds"] + 0.01, summary

    groups = pq.read_table(summary["groups"]).to_pylist()
    dupes = [g for g in groups if g["relation"] == "duplicate"]
    layout = [g for g in groups if g["relation"] == "same_layout"]
    size = (FIXTURES / "gguf" / "llama_v1.gguf").stat().st_size
    llama_copies = sorted(
        [
            str(lib / "copies" / "a.gguf"),
            str(lib / "copies" / "b.gguf"),
            str(lib / "gguf" / "llama_v1.gguf"),
        ]
    )
    assert {"paths": llama_copies, "reclaimable_bytes": 2 * size} in [
        {"paths": g["paths"], "reclaimable_bytes": g["reclaimable_bytes"]} for g in dupes
    ]
    assert summary["reclaimable_bytes"] == sum(g["reclaimable_bytes"] for g in dupes)
    # Every duplicate group is content proven equal by the CLI's own hashes.
    for g in dupes:
        assert len({cli[p]["hashes"]["sha256"] for p in g["paths"]}) == 1
        assert len({cli[p]["size"] for p in g["paths"]}) == 1
    # Same layout, other content: grouped as same_layout, NOT as duplicates.
    tuned = {
        str(lib / "layout" / n)
        for n in ("fp16.safetensors", "fp16-tuned.safetensors", "fp32.safetensors")
    }
    assert not any(tuned & set(g["paths"]) for g in dupes)
    (same,) = [g for g in layout if tuned <= set(g["paths"])]
    assert same["reclaimable_bytes"] == 0
    assert same["distinct_contents"] == len(same["paths"]) >= 3


def test_units_keep_what_mir_needs_together(tmp_path: pathlib.Path) -> None:
    lib = library(tmp_path)
    files = [str(p) for p in sorted(lib.rglob("*")) if p.is_file() or p.is_symlink()]
    us = dask_scan.units(files + [str(lib / "gguf") + os.sep])
    # A folder named as input is one unit, and files under it are not listed again.
    assert [str(lib / "gguf")] in us
    assert not any(len(u) > 1 and any("/gguf/" in p for p in u) for u in us)
    # The shard set is one unit; the pipeline and the HF repository are folder units.
    assert sorted(os.path.basename(p) for p in next(u for u in us if "sharded" in u[0])) == [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
    ]
    assert [str(lib / "pipeline")] in us and [str(lib / "hub" / "models--org--name")] in us
    # Chunks never split a unit.
    for size in (1, 2, 3, 100):
        cs = list(dask_scan.chunks(us, size))
        assert sum(len(c) for c in cs) == sum(len(u) for u in us)
        for u in us:
            assert any(c[i : i + len(u)] == u for c in cs for i in range(len(c)))


def test_rows_round_trip_unknown_fields() -> None:
    rec = {
        "path": "x.safetensors",
        "size": 1,
        "hashes": {"sha256": "ab"},
        "fingerprint": {
            "key_sig": "k",
            "shape_sig": "s",
            "layer_256": None,
            "layer_b3": None,
            "sig_version": 1,
            "new": 2,
        },
        "added_later": {"a": [1]},
    }
    row = dask_scan.row_from_record(rec)
    assert row["fingerprint"] is None  # would lose `new`: kept in `extra` whole
    back = dask_scan.record_from_row(row)
    assert back["fingerprint"] == rec["fingerprint"]
    assert back["added_later"] == {"a": [1]}
    assert back["hashes"] == {"sha256": "ab"}


def test_a_bad_hash_is_refused_before_any_task(tmp_path: pathlib.Path) -> None:
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path), "--hashes", "sha257", "--out", "x.parquet"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert run.returncode == 3 and "sha257" in run.stderr
    assert not (tmp_path / "x.parquet").exists()


def test_a_running_scheduler_is_used(tmp_path: pathlib.Path, mir_cli: pathlib.Path) -> None:
    """`--scheduler ADDRESS`: the script connects to a cluster it did not start, and the tasks
    run on that cluster's worker."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp://",
        dashboard_address=None,
    ) as cluster:
        (worker,) = cluster.scheduler_info["workers"]
        out = tmp_path / "gguf.parquet"
        run = subprocess.run(
            [
                sys.executable,
                str(SCRIPT),
                str(FIXTURES / "gguf"),
                "--scheduler",
                cluster.scheduler_address,
                "--out",
                str(out),
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stderr
        # The cluster outlives the script: it was not the script's to close.
        assert cluster.scheduler_info["workers"]
    summary = json.loads(run.stdout.splitlines()[-1])
    assert summary["records_per_worker"] == {worker: summary["records"]}
    cli = subprocess.run(
        [str(mir_cli), "scan", "--json", "--no-index", str(FIXTURES / "gguf")],
        capture_output=True,
        text=True,
    )
    want = [json.loads(line) for line in cli.stdout.splitlines()]
    rows = pq.read_table(out).to_pylist()
    got = sorted((dask_scan.record_from_row(r) for r in rows), key=lambda r: r["path"])
    assert got == want and len(got) > 3
    assert summary["hashed"] is False and summary["duplicate_groups"] == 0
