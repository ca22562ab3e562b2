"""Python peers for `cargo xtask bench`: what model managers run today to read headers.

usage: peers.py safetensors|gguf DIR

* safetensors: `safe_open(path, "np")`, its metadata, its keys, and `get_slice(k).get_shape()`
  for every key (how ComfyUI and InvokeAI probe a file without loading it).
* gguf: `gguf.GGUFReader(path)` and every tensor's name and shape (what ComfyUI-GGUF and
  InvokeAI use).

Walks DIR (sorted), reads every matching file, and prints one JSON object on stdout: files,
tensors, errors, and the seconds spent in the loop (interpreter start-up and imports excluded).
"""

import json
import os
import sys
import time


def files_under(root, ext):
    out = []
    for d, _, names in os.walk(root):
        out.extend(os.path.join(d, n) for n in names if n.endswith(ext))
    out.sort()
    return out


def read_safetensors(path):
    from safetensors import safe_open

    n = 0
    with safe_open(path, "np") as f:
        f.metadata()
        for k in f.keys():
            f.get_slice(k).get_shape()
            n += 1
    return n


def read_gguf(path):
    import gguf

    reader = gguf.GGUFReader(path)
    n = 0
    for t in reader.tensors:
        _ = (t.name, tuple(int(d) for d in t.shape))
        n += 1
    return n


def main():
    kind, root = sys.argv[1], sys.argv[2]
    if kind == "safetensors":
        import safetensors  # noqa: F401  (imported before the clock starts)
        ext, read = ".safetensors", read_safetensors
    elif kind == "gguf":
        import gguf  # noqa: F401
        ext, read = ".gguf", read_gguf
    else:
        sys.exit(f"unknown kind {kind}")
    paths = files_under(root, ext)
    files = tensors = errors = 0
    start = time.perf_counter()
    for p in paths:
        try:
            tensors += read(p)
            files += 1
        except Exception as e:  # a peer failure is reported, not fatal
            errors += 1
            print(f"{p}: {e}", file=sys.stderr)
    seconds = time.perf_counter() - start
    print(json.dumps({"files": files, "tensors": tensors, "errors": errors, "seconds": seconds}))


if __name__ == "__main__":
    main()
