"""`mir.scan(progress=...)` and `mir.scan(index=None | path | "default")` (issue 15)."""

from __future__ import annotations

import io
import json
import os
import pathlib
import shutil
import subprocess
import threading
import time

import pytest

import mir

from conftest import FIXTURES
from test_mir import _time_one, slow_folder


def small_library(tmp: pathlib.Path) -> pathlib.Path:
    """A folder with readable files of two formats and one broken file."""
    lib = tmp / "lib"
    (lib / "gguf").mkdir(parents=True)
    for name in ("llama_v1.gguf", "lora_adapter.gguf", "flux_city96.gguf"):
        shutil.copy(FIXTURES / "gguf" / name, lib / "gguf" / name)
    shutil.copytree(FIXTURES / "safetensors", lib / "safetensors")
    (lib / "broken.safetensors").write_bytes(b"\x00" * 3)
    # A hard link: one record (with an alias), so counted once in the total too.
    os.link(lib / "gguf" / "llama_v1.gguf", lib / "gguf" / "llama_link.gguf")
    return lib


# -- progress ---------------------------------------------------------------------------------


def test_progress_counts_every_record_to_the_total(tmp_path: pathlib.Path) -> None:
    lib = small_library(tmp_path)
    calls: list[mir.Progress] = []
    threads: set[int] = set()

    def on_progress(p: mir.Progress) -> None:
        threads.add(threading.get_ident())
        calls.append(p)

    records = list(mir.scan(lib, progress=on_progress, threads=2))
    assert len(records) > 5
    # Called on the iterating thread only (the GIL held), never on an engine thread.
    assert threads == {threading.get_ident()}
    # First call once the walk is over, then one per record.
    assert len(calls) == len(records) + 1
    assert calls[0].files_done == 0 and calls[0].path is None and calls[0].bytes_done == 0
    assert all(c.files_total == len(records) for c in calls)
    assert [c.files_done for c in calls] == list(range(len(records) + 1))
    assert [c.path for c in calls[1:]] == [r.path for r in records]
    last = calls[-1]
    assert last.files_done == last.files_total == len(records)
    assert last.fraction == 1.0
    assert last.bytes_done == sum(r.size for r in records)
    assert last.errors == sum(1 for r in records if r.error) >= 1
    assert last.cached == 0
    assert sum(len(r.aliases) for r in records) == 1
    assert all(a.elapsed <= b.elapsed for a, b in zip(calls, calls[1:]))
    # The records are the same as without a callback.
    assert [r.to_dict() for r in records] == [r.to_dict() for r in mir.scan(lib)]


def test_progress_on_an_empty_scan(tmp_path: pathlib.Path) -> None:
    calls: list[mir.Progress] = []
    assert list(mir.scan(tmp_path, progress=calls.append)) == []
    assert calls == [calls[0]] and calls[0].files_total == 0 and calls[0].fraction == 1.0


class Stop(Exception):
    pass


def test_an_exception_in_the_callback_cancels_the_scan(tmp_path: pathlib.Path) -> None:
    folder = slow_folder(tmp_path, 12)
    seen: list[int] = []

    def on_progress(p: mir.Progress) -> None:
        seen.append(p.files_done)
        if p.files_done == 1:
            raise Stop("enough")

    start = time.monotonic()
    it = mir.scan(folder, hashes=["sha256"], threads=1, progress=on_progress)
    got = []
    with pytest.raises(Stop, match="enough"):
        for r in it:
            got.append(r)
    elapsed = time.monotonic() - start
    # The record whose callback raised is not yielded; the scan was stopped and joined.
    assert got == [] and seen == [0, 1]
    assert it.cancelled is True
    assert list(it) == []
    one = _time_one(folder)
    assert elapsed < one * 6, (elapsed, one)


def test_progress_true_writes_one_closing_line_to_stderr(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lib = small_library(tmp_path)
    records = list(mir.scan(lib, progress=True))
    n, errors = len(records), sum(1 for r in records if r.error)
    err = capsys.readouterr().err
    # stderr is not a terminal here: no redraws, only the closing line.
    assert err.splitlines() == [err.strip()]
    assert err.startswith(f"mir: {n}/{n} files (100.0%), ")
    assert err.rstrip().endswith(f", {errors} errors") and errors > 1


def test_progress_bar_redraws_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    bar = mir.ProgressBar(out, every=0)
    for done in range(4):
        bar(mir.Progress(done, 3, done * 1024, None, 0, 0, 0.0))
    text = out.getvalue()
    assert text.count("\r") == 4 and text.endswith("\n") and text.count("\n") == 1
    assert "mir: 3/3 files (100.0%), 3.0 KiB" in text


def test_a_bad_progress_argument_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(TypeError):
        mir.scan(tmp_path, progress="yes")  # type: ignore[arg-type]


# -- index ------------------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A temporary HOME and XDG cache folder, so no test touches the user's real index."""
    home = tmp_path / "home"
    (home / "cache").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.delenv("MIR_INDEX", raising=False)
    return home


def _cached(records: list[mir.Record]) -> list[bool]:
    return [bool(r.cached) for r in records if r.ok]


def test_index_none_reads_every_file_every_time(tmp_path: pathlib.Path, home: pathlib.Path) -> None:
    lib = small_library(tmp_path)
    for _ in range(2):
        records = list(mir.scan(lib, index=None))
        assert records and not any(r.cached for r in records)
    assert not (home / "cache" / "mir").exists(), "index=None must NOT create an index"


def test_index_at_a_path_serves_the_second_scan(tmp_path: pathlib.Path, home: pathlib.Path) -> None:
    lib = small_library(tmp_path)
    db = tmp_path / "facts.sqlite3"
    first = list(mir.scan(lib, index=db))
    assert db.is_file()
    assert not any(r.cached for r in first)
    second = list(mir.scan(lib, index=str(db)))
    assert all(_cached(second)) and len(_cached(second)) > 5
    # Same answers from the cache, apart from `cached`.
    strip = lambda rs: [{**r.to_dict(), "cached": None} for r in rs]  # noqa: E731
    assert strip(first) == strip(second)
    assert not (home / "cache" / "mir").exists()


def test_index_default_is_the_cli_index(
    tmp_path: pathlib.Path, home: pathlib.Path, mir_cli: pathlib.Path
) -> None:
    lib = small_library(tmp_path)
    expected = home / "cache" / "mir" / "index.sqlite3"
    first = list(mir.scan(lib, index=mir.DEFAULT_INDEX))
    assert expected.is_file(), "the default index lives in the XDG cache folder"
    assert not any(r.cached for r in first)
    second = list(mir.scan(lib, index="default"))
    assert all(_cached(second)) and len(_cached(second)) > 5
    # The `mir` command, with the same environment and no --index, finds the same index.
    out = subprocess.run(
        [str(mir_cli), "scan", "--json", str(lib)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    cli = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(cli) == len(second)
    assert all(r["cached"] for r in cli if r["error"] is None)


def test_index_default_follows_mir_index(
    tmp_path: pathlib.Path, home: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = small_library(tmp_path)
    chosen = tmp_path / "elsewhere.sqlite3"
    monkeypatch.setenv("MIR_INDEX", str(chosen))
    list(mir.scan(lib, index="default"))
    assert chosen.is_file()
    assert not (home / "cache" / "mir").exists()
    assert all(_cached(list(mir.scan(lib, index="default"))))


def test_a_path_object_named_default_is_a_file(
    tmp_path: pathlib.Path, home: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = small_library(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    list(mir.scan(lib, index=pathlib.Path("default")))
    assert (work / "default").is_file()
    assert not (home / "cache" / "mir").exists(), "a Path is a file, NOT the default index"
