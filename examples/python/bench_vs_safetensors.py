#!/usr/bin/env python3
"""In one Python process: `mir.scan` over the safetensors files of a folder vs a
`safetensors.safe_open` loop reading what a model manager reads (keys, shapes, metadata).

    pip install safetensors numpy        # the baseline only; `mir` needs neither
    python examples/python/bench_vs_safetensors.py FOLDER [--runs 5] [--threads N] [--index F]

Prints the best wall time of each over `--runs` runs (both read warm page cache after the first
run) and their ratio. `mir.scan` does more per file (classification, fingerprint signatures), so
the ratio understates the header-reading difference. Build the package in release mode
(`pip install ./bindings/python`) before measuring: a `maturin develop` build is unoptimised.
"""

from __future__ import annotations

import argparse
import pathlib
import time
from typing import List, Optional

import mir


def with_safe_open(files: List[pathlib.Path]) -> int:
    from safetensors import safe_open

    tensors = 0
    for f in files:
        try:
            with safe_open(str(f), framework="numpy") as h:
                h.metadata()
                for k in h.keys():
                    h.get_slice(k).get_shape()
                    tensors += 1
        except Exception:  # noqa: BLE001 - a bad file counts as read, as in a scan
            pass
    return tensors


def with_mir(files: List[pathlib.Path], threads: Optional[int], index: Optional[str] = None) -> int:
    return sum(r.tensors or 0 for r in mir.scan(*files, threads=threads, index=index))


def best(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=pathlib.Path)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="mir threads (default: per core)")
    ap.add_argument("--index", help="also time mir.scan through this index (warm after run 1)")
    args = ap.parse_args()
    files = sorted(p for p in args.folder.rglob("*.safetensors") if p.is_file())
    if not files:
        raise SystemExit(f"no .safetensors files under {args.folder}")
    print(f"{len(files)} safetensors files, {with_safe_open(files)} tensors via safe_open, "
          f"{with_mir(files, args.threads)} via mir")
    t_st = best(lambda: with_safe_open(files), args.runs)
    t_mir = best(lambda: with_mir(files, args.threads), args.runs)
    print(f"safe_open loop: {t_st * 1e3:.1f} ms   mir.scan: {t_mir * 1e3:.1f} ms   "
          f"ratio: {t_st / t_mir:.2f}x")
    if args.index:
        t_idx = best(lambda: with_mir(files, args.threads, args.index), args.runs)
        print(f"mir.scan through the index: {t_idx * 1e3:.1f} ms   ratio: {t_st / t_idx:.2f}x")


if __name__ == "__main__":
    main()
