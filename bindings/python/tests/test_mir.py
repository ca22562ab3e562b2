"""The `mir` Python package against the CLI and its own promises (issue 15)."""

from __future__ import annotations

import _thread
import json
import pathlib
import subprocess
import threading
import time

import pytest

import mir

from conftest import FIXTURES

# Whole-file SHA-256 of 8 MiB takes about 0.5 s in a debug build; a release build is ~50x
# faster, so the size is scaled once per session until one file takes about 0.4 s.
_SLOW_BYTES: list[int] = []


def _write_slow(path: pathlib.Path, size: int) -> None:
    # A valid safetensors file (one U8 tensor of zeros, sparse), so the scan hashes it.
    header = json.dumps({"w": {"dtype": "U8", "shape": [size], "data_offsets": [0, size]}})
    raw = header.encode() + b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little") + raw)
        f.truncate(8 + len(raw) + size)


def slow_bytes(tmp: pathlib.Path) -> int:
    if not _SLOW_BYTES:
        size = 8 << 20
        probe = tmp / "probe.safetensors"
        _write_slow(probe, size)
        start = time.monotonic()
        mir.hash(probe, "sha256")
        took = max(time.monotonic() - start, 1e-3)
        probe.unlink()
        _SLOW_BYTES.append(min(max(size, int(size * 0.4 / took)), 4 << 30))
    return _SLOW_BYTES[0]


def slow_folder(tmp: pathlib.Path, files: int) -> pathlib.Path:
    """A folder of `files` sparse files that take a while to hash."""
    size = slow_bytes(tmp)
    folder = tmp / "slow"
    folder.mkdir()
    for i in range(files):
        _write_slow(folder / f"f{i:02}.safetensors", size)
    return folder


def test_records_equal_the_cli_json(mir_cli: pathlib.Path) -> None:
    out = subprocess.run(
        [str(mir_cli), "scan", "--json", "--no-index", str(FIXTURES)],
        capture_output=True,
        text=True,
    )
    # 2: some fixtures are bad files on purpose; anything else is a failure of the CLI.
    assert out.returncode in (0, 2), out.stderr
    cli = [json.loads(line) for line in out.stdout.splitlines()]
    py = [r.to_dict() for r in mir.scan(FIXTURES)]
    assert len(cli) > 100
    assert len(py) == len(cli)
    for a, b in zip(cli, py):
        assert a == b, a["path"]
    # Attributes are the JSON fields.
    for rec, d in zip(mir.scan(str(FIXTURES), threads=2), cli):
        assert (rec.path, rec.mir, rec.error, rec.size, rec.fingerprint) == (
            d["path"],
            d["mir"],
            d["error"],
            d["size"],
            d["fingerprint"],
        )
    named = [r for r in py if r["mir"]]
    assert named, "the fixtures name some models"


def test_bad_files_are_records_not_exceptions(tmp_path: pathlib.Path) -> None:
    (tmp_path / "garbage.safetensors").write_bytes(b"\xff" * 64)
    (tmp_path / "short.gguf").write_bytes(b"GGUF\x03\x00")
    records = list(mir.scan(tmp_path, FIXTURES / "hostile"))
    assert len(records) >= 3
    bad = [r for r in records if r.error]
    assert {pathlib.Path(r.path).name for r in bad} >= {"garbage.safetensors", "short.gguf"}
    for r in bad:
        assert not r.ok
        assert r.mir is None, "a file that could not be read must NOT be named"


def test_inspect_names_like_a_scan() -> None:
    scanned = {r.path: r for r in mir.scan(FIXTURES) if r.ok and r.mir}
    path, rec = sorted(scanned.items())[0]
    got = mir.inspect(path)
    assert got.mir == rec.mir
    assert got.to_dict()["fingerprint"] == rec.to_dict()["fingerprint"]


def test_errors_map_to_the_hierarchy(tmp_path: pathlib.Path) -> None:
    with pytest.raises(mir.MirFileNotFoundError) as e:
        mir.inspect(tmp_path / "missing.safetensors")
    assert isinstance(e.value, FileNotFoundError)
    assert isinstance(e.value, mir.MirError)
    assert "missing.safetensors" in str(e.value)

    trunc = tmp_path / "trunc.safetensors"
    # Declares a 4096-byte header but has 10 bytes.
    trunc.write_bytes((4096).to_bytes(8, "little") + b"{}")
    with pytest.raises(mir.FormatError) as e:
        mir.inspect(trunc)
    assert e.value.kind in ("truncated", "malformed")
    assert isinstance(e.value, ValueError)

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes((8).to_bytes(8, "little") + b"not json")
    with pytest.raises(mir.FormatError) as e:
        mir.inspect(bad)
    assert not isinstance(e.value, mir.MirIOError)

    with pytest.raises(mir.ConfigError):
        mir.hash(trunc, ["no-such-algo"])
    with pytest.raises(mir.ConfigError):
        mir.scan(tmp_path, hashes=["no-such-algo"])
    with pytest.raises(mir.IndexError_):
        mir.scan(tmp_path, index=tmp_path)  # a folder is no SQLite file
    notdb = tmp_path / "index.sqlite3"
    notdb.write_bytes(b"x" * 4096)
    with pytest.raises(mir.IndexError_):
        mir.scan(tmp_path, index=notdb)
    db = tmp_path / "mir.json"
    db.write_text("{not json")
    with pytest.raises(mir.DatabaseError):
        mir.scan(tmp_path, mir_db=db)
    with pytest.raises(mir.MirFileNotFoundError):
        mir.hash(tmp_path / "missing.bin")


def test_hash_matches_hashlib(tmp_path: pathlib.Path) -> None:
    import hashlib

    f = tmp_path / "x.bin"
    data = bytes(range(256)) * 100
    f.write_bytes(data)
    got = mir.hash(f, ["sha256", "autov2"])
    want = hashlib.sha256(data).hexdigest()
    assert got["sha256"] == want
    assert got["autov2"] == want[:10]
    # Through an index in memory too.
    assert mir.hash(f, "sha256", index=":memory:")["sha256"] == want


def test_ids_lists_the_table() -> None:
    rows = mir.ids()
    assert len(rows) > 50
    ids = {r["mir"] for r in rows}
    assert all(i.startswith("mir:") for i in ids)
    assert "mir:model.dit.flux-1-dev" in ids


def test_gil_is_released_during_a_scan(tmp_path: pathlib.Path) -> None:
    folder = slow_folder(tmp_path, 2)
    ticks: list[float] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.005)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        start = time.monotonic()
        records = list(mir.scan(folder, hashes=["sha256"], threads=1))
        end = time.monotonic()
    finally:
        stop.set()
        t.join()
    assert len(records) == 2 and all(r.hashes and r.hashes["sha256"] for r in records)
    during = [x for x in ticks if start <= x <= end]
    assert end - start > 0.2, "the scan was too fast to show anything"
    # The ticker ran all along: no gap near the scan's length (a held GIL blocks it for it all).
    gaps = [b - a for a, b in zip(during, during[1:])]
    assert len(during) > 10
    assert max(gaps) < (end - start) / 2, (max(gaps), end - start)


def test_a_finished_scan_is_not_cancelled() -> None:
    it = mir.scan(FIXTURES / "safetensors")
    records = list(it)
    assert records
    assert it.cancelled is False
    # Closed with records still queued: cancelled, though the worker may have queued them all.
    it = mir.scan(FIXTURES / "safetensors")
    next(it)
    time.sleep(0.2)
    it.close()
    assert it.cancelled is True


def test_close_cancels_the_scan(tmp_path: pathlib.Path) -> None:
    folder = slow_folder(tmp_path, 12)
    start = time.monotonic()
    it = mir.scan(folder, hashes=["sha256"], threads=1)
    first = next(it)
    assert first.path.endswith("f00.safetensors")
    assert it.cancelled is None
    it.close()
    elapsed = time.monotonic() - start
    assert it.cancelled is True
    assert list(it) == []
    # Hashing all 12 files takes about 12× the first: stopping did not wait for them.
    one = _time_one(folder)
    assert elapsed < one * 6, (elapsed, one)


def _time_one(folder: pathlib.Path) -> float:
    """How long hashing one of the folder's files takes: the longest of three (the machine may
    be busy; a longer time only makes the "stopped early" bounds looser, never wrong: a scan
    that did not stop takes about 12 of them)."""
    took = []
    for name in ("f00", "f01", "f02"):
        start = time.monotonic()
        mir.hash(folder / f"{name}.safetensors", "sha256")
        took.append(time.monotonic() - start)
    return max(took)


def test_dropping_the_iterator_cancels(tmp_path: pathlib.Path) -> None:
    folder = slow_folder(tmp_path, 12)
    start = time.monotonic()
    it = mir.scan(folder, hashes=["sha256"], threads=1)
    next(it)
    del it  # the last reference: the scan stops and its thread is joined here
    elapsed = time.monotonic() - start
    one = _time_one(folder)
    assert elapsed < one * 6, (elapsed, one)


def test_ctrl_c_cancels_the_scan(tmp_path: pathlib.Path) -> None:
    folder = slow_folder(tmp_path, 12)
    it = mir.scan(folder, hashes=["sha256"], threads=1)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    got = []
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        for r in it:
            got.append(r)
    elapsed = time.monotonic() - start
    timer.join()
    assert it.cancelled is True
    assert len(got) < 12
    one = _time_one(folder)
    assert elapsed < one * 6, (elapsed, one)


def test_dupes_finds_identical_files(tmp_path: pathlib.Path) -> None:
    import shutil

    src = FIXTURES / "gguf" / "llama_v1.gguf"
    shutil.copy(src, tmp_path / "a.gguf")
    shutil.copy(src, tmp_path / "b.gguf")
    shutil.copy(FIXTURES / "gguf" / "lora_adapter.gguf", tmp_path / "c.gguf")
    r = mir.dupes(tmp_path)
    groups = [sorted(pathlib.Path(p).name for p in g["paths"]) for g in r["identical"]]
    assert groups == [["a.gguf", "b.gguf"]]
    assert r["wasted_bytes"] == src.stat().st_size
    assert r["warnings"] == []
