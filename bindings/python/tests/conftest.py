"""Shared helpers: the repository root and the `mir` CLI to compare against."""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
FIXTURES = REPO / "fixtures"


@pytest.fixture(scope="session")
def mir_cli() -> pathlib.Path:
    """The `mir` binary: $MIR_BIN, else the workspace's debug build (built if missing)."""
    env = os.environ.get("MIR_BIN")
    if env:
        return pathlib.Path(env)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = target / "debug" / "mir"
    if not binary.exists():
        subprocess.run(["cargo", "build", "-p", "mir-cli"], cwd=REPO, check=True)
    assert binary.exists(), f"no mir binary at {binary}"
    return binary
