#!/usr/bin/env python3
"""Scan a library too large for one machine with the `mir` package on a ``dask.distributed``
cluster, gather every record into one Parquet file, and merge duplicates by fingerprint.

    python examples/python/dask_scan.py /mirror/org-a /mirror/org-b --out mirror.parquet
    find /mirror -type f > files.txt
    python examples/python/dask_scan.py --list files.txt --hashes sha256 \\
        --scheduler tcp://scheduler-host:8786 --out mirror.parquet

Inputs are folders and files on the command line and/or ``--list FILE`` (one path per line,
``-`` for stdin; blank lines skipped; a line ending in ``/`` is a folder, any other line is
taken as a file without a ``stat`` on the client, so a listing of millions of files costs the
client one ``stat`` per folder, not per file). They are cut into units of work that keep
together what ``mir`` needs to see at once, so each record equals the one ``mir scan --json``
gives for the same library:

* a folder named as input is one unit, scanned whole (walk, shard sets, Hugging Face cache
  aliases, diffusers pipelines exactly as the CLI sees them);
* listed files are grouped by folder (a shard set and its ``*.index.json`` stay together);
  a file inside a Hugging Face cache repository (``models--org--name/``) or a diffusers
  component folder (its parent holds ``model_index.json``) brings in that whole folder as one
  unit instead, since aliases and pipeline membership need the folder;
* units are packed into chunks of about ``--chunk`` paths (a folder counts as one; a folder's
  files are never split between chunks), and each chunk is one Dask task calling
  ``mir.scan(*chunk)`` on a worker. Relative paths are made absolute on the client.

The scheduler does the fan-out (``client.submit`` with at most a few chunks per worker thread
in flight, ``as_completed`` to gather); this script only cuts the input and writes the results.

Output (``--out``, Parquet, written by pyarrow as chunks finish, one row group per chunk; row
order is completion order, ``chunk`` gives the input order):

* one row per file record, columns as in README's field table. Scalars and lists of strings
  are typed columns; ``fingerprint`` is a struct (``key_sig``, ``shape_sig``, ``layer_256``,
  ``layer_b3``, ``sig_version``), ``components`` a list of structs (``mir``, ``prefix``),
  ``hashes`` a ``map<string, string>`` (only the algorithms asked for); the nested objects
  whose fields grow with the engine (``shard``, ``database``, ``coverage``, ``model``) are JSON
  text. ``extra`` (JSON text, usually null) keeps any field or sub-field this schema does not
  know, so a newer engine loses nothing; ``chunk`` and ``worker`` say which task and worker
  produced the row. :func:`record_from_row` turns a row back into the CLI's JSON record.
* ``--groups`` (default ``<out>.groups.parquet``): merged groups, one row each, ``relation``
  ``"duplicate"`` (the same content: equal size and whole-file hash; needs ``--hashes`` with
  ``sha256``, ``file_256`` or ``blake3``; only these copies are safe to delete,
  ``reclaimable_bytes`` = size x (copies - 1)) or ``"same_layout"`` (the same ``key_sig`` and
  ``shape_sig``: the same tensor names and shapes, e.g. an fp16 and an fp32 copy of one model,
  or two fine-tunes; NOT copies, ``reclaimable_bytes`` 0, ``distinct_contents`` says how many
  different contents the group holds when every member was hashed). Files with errors or
  without tensors are never grouped by layout.

On a real cluster the workers need the ``mir-fingerprint`` package installed, and every path
must name the same file on the client and on every worker (a shared filesystem mounted at the
same place). ``--index default`` keeps each worker machine's own facts cache (``$MIR_INDEX`` or
``~/.cache/mir/index.sqlite3`` there), so a second run reads only what changed; do not point
``--index`` at one SQLite file on a network filesystem shared by many machines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# -- the Parquet schema of a record -----------------------------------------------------------

FINGERPRINT = pa.struct(
    [
        ("key_sig", pa.string()),
        ("shape_sig", pa.string()),
        ("layer_256", pa.string()),
        ("layer_b3", pa.string()),
        ("sig_version", pa.int32()),
    ]
)
COMPONENT = pa.struct([("mir", pa.string()), ("prefix", pa.string())])

# (field, Arrow type, how it is stored): "value" as is, "struct" a struct or list of structs,
# "map" a map<string, string>, "json" JSON text.
FIELDS: Tuple[Tuple[str, pa.DataType, str], ...] = (
    ("path", pa.string(), "value"),
    ("path_bytes", pa.string(), "value"),
    ("format", pa.string(), "value"),
    ("size", pa.int64(), "value"),
    ("tensors", pa.int64(), "value"),
    ("mir", pa.string(), "value"),
    ("candidates", pa.list_(pa.string()), "value"),
    ("components", pa.list_(COMPONENT), "struct"),
    ("evidence", pa.list_(pa.string()), "value"),
    ("precision", pa.string(), "value"),
    ("fingerprint", FINGERPRINT, "struct"),
    ("error", pa.string(), "value"),
    ("confidence", pa.float64(), "value"),
    ("decided_by", pa.string(), "value"),
    ("shard", pa.string(), "json"),
    ("findings", pa.list_(pa.string()), "value"),
    ("database", pa.string(), "json"),
    ("hashes", pa.map_(pa.string(), pa.string()), "map"),
    ("cached", pa.bool_(), "value"),
    ("coverage", pa.string(), "json"),
    ("prediction", pa.string(), "value"),
    ("model", pa.string(), "json"),
    ("aliases", pa.list_(pa.string()), "value"),
)
SCHEMA = pa.schema(
    [pa.field(name, typ) for name, typ, _ in FIELDS]
    + [
        pa.field("extra", pa.string()),  # JSON: fields and sub-fields the schema lacks
        pa.field("chunk", pa.int64()),  # which chunk (task) of the input produced the row
        pa.field("worker", pa.string()),  # the Dask worker's address
    ]
)
_KNOWN = {name for name, _, _ in FIELDS}

GROUPS_SCHEMA = pa.schema(
    [
        ("relation", pa.string()),  # "duplicate" or "same_layout"
        ("key", pa.string()),  # "sha256:<hex>" / "blake3:<hex>", or "<key_sig>:<shape_sig>"
        ("files", pa.int64()),
        ("paths", pa.list_(pa.string())),
        ("total_bytes", pa.int64()),
        ("reclaimable_bytes", pa.int64()),
        ("distinct_contents", pa.int64()),  # same_layout with every member hashed; else null
    ]
)

# Whole-file hashes strong enough to call two files the same content, best first.
CONTENT_HASHES = ("sha256", "file_256", "blake3")


def _struct_fits(value: Any, typ: pa.DataType) -> bool:
    names = {typ.field(i).name for i in range(typ.num_fields)}
    return isinstance(value, dict) and set(value) <= names


def row_from_record(rec: Dict[str, Any]) -> Dict[str, Any]:
    """One JSON record (``mir scan --json``) as a row of :data:`SCHEMA` (without ``chunk`` and
    ``worker``)."""
    row: Dict[str, Any] = {}
    extra: Dict[str, Any] = {k: v for k, v in rec.items() if k not in _KNOWN}
    for name, typ, how in FIELDS:
        value = rec.get(name)
        if how == "json":
            row[name] = None if value is None else json.dumps(value, ensure_ascii=False)
        elif how == "map":
            ok = value is None or (
                isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
            )
            row[name] = None if value is None or not ok else list(value.items())
            if not ok:
                extra[name] = value
        elif how == "struct":
            inner = typ.value_type if pa.types.is_list(typ) else typ
            items = value if isinstance(value, list) else [value]
            ok = all(v is None or _struct_fits(v, inner) for v in items)
            row[name] = value if ok else None
            if not ok:
                extra[name] = value
        else:
            row[name] = value
    row["extra"] = json.dumps(extra, ensure_ascii=False) if extra else None
    return row


def record_from_row(row: Dict[str, Any]) -> Dict[str, Any]:
    """A row of the Parquet file (``table.to_pylist()``) back into the CLI's JSON record."""
    rec: Dict[str, Any] = {}
    for name, _typ, how in FIELDS:
        value = row.get(name)
        if how == "json":
            value = None if value is None else json.loads(value)
        elif how == "map":
            value = None if value is None else dict(value)
        rec[name] = value
    if row.get("extra"):
        rec.update(json.loads(row["extra"]))
    return rec


# -- cutting the input into chunks ------------------------------------------------------------

HF_REPO_PREFIXES = ("models--", "datasets--", "spaces--")


def read_listing(path: str) -> Iterator[str]:
    """The paths of a listing, one per line (raw bytes decoded as the OS does, so a non-UTF-8
    name survives). ``-`` reads stdin."""
    stream = sys.stdin.buffer if path == "-" else open(path, "rb")
    try:
        for line in stream:
            line = line.rstrip(b"\r\n")
            if line:
                yield os.fsdecode(line)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _model_folder(path: str, seen: Dict[str, Optional[str]]) -> Optional[str]:
    """The folder `mir` must see whole for the file at `path`: its Hugging Face cache
    repository, or the diffusers pipeline holding its component folder; None for neither."""
    parent = os.path.dirname(path)
    if parent in seen:
        return seen[parent]
    found: Optional[str] = None
    d = parent
    while True:
        if os.path.basename(d).startswith(HF_REPO_PREFIXES):
            found = d
            break
        up = os.path.dirname(d)
        if up == d:
            break
        d = up
    if found is None:
        grand = os.path.dirname(parent)
        if grand != parent and os.path.isfile(os.path.join(grand, "model_index.json")):
            found = grand
    seen[parent] = found
    return found


def units(paths: Iterable[str]) -> List[List[str]]:
    """The inputs as units of work, in input order: ``[folder]`` for a folder (a path ending in
    the path separator, or the folder of a Hugging Face repository or diffusers pipeline a
    file belongs to), else the listed files of one folder. Each path is made absolute; repeats
    are dropped. (A folder given without the trailing separator is scanned too, as a member of
    its parent's files: ``mir.scan`` walks any folder it is given.)"""
    order: List[Tuple[str, str]] = []  # (kind, key) in first-seen order
    folders: set = set()
    files: Dict[str, List[str]] = {}
    seen_file: set = set()
    model_of: Dict[str, Optional[str]] = {}
    for p in paths:
        is_folder = p.endswith(os.sep) or (os.altsep is not None and p.endswith(os.altsep))
        p = os.path.abspath(p)
        if is_folder:
            if p not in folders:
                folders.add(p)
                order.append(("folder", p))
            continue
        model = _model_folder(p, model_of)
        if model is not None:
            if model not in folders:
                folders.add(model)
                order.append(("folder", model))
            continue
        if p in seen_file:
            continue
        seen_file.add(p)
        parent = os.path.dirname(p)
        if parent not in files:
            files[parent] = []
            order.append(("files", parent))
        files[parent].append(p)

    def inside_a_folder(d: str) -> bool:
        while True:
            if d in folders:
                return True
            up = os.path.dirname(d)
            if up == d:
                return False
            d = up

    out: List[List[str]] = []
    for kind, key in order:
        if kind == "folder":
            out.append([key])
        elif not inside_a_folder(key):
            # (Files in a folder scanned whole anyway are left out: they would be read twice.)
            out.append(files[key])
    return out


def chunks(units_: Sequence[List[str]], size: int) -> Iterator[List[str]]:
    """Packs units into chunks of about `size` paths; a unit is never split."""
    chunk: List[str] = []
    for unit in units_:
        if chunk and len(chunk) + len(unit) > size:
            yield chunk
            chunk = []
        chunk.extend(unit)
    if chunk:
        yield chunk


# -- the task ---------------------------------------------------------------------------------


def scan_chunk(
    paths: List[str],
    chunk_no: int,
    hashes: List[str],
    index: Optional[str],
    threads: Optional[int],
) -> pa.Table:
    """Runs on a worker: one ``mir.scan`` over the chunk; its records as an Arrow table."""
    import mir  # on the worker: the package must be installed there

    worker = ""
    if threads is None:
        # The worker runs this many tasks at once: share its cores between them.
        try:
            from distributed import get_worker

            w = get_worker()
            worker = w.address
            threads = max(1, (os.cpu_count() or 1) // max(1, w.state.nthreads))
        except (ImportError, ValueError, AttributeError):
            threads = None  # not on a Dask worker: mir's default, one per core
    rows = []
    for rec in mir.scan(*paths, hashes=hashes, index=index, threads=threads):
        row = row_from_record(rec.to_dict())
        row["chunk"] = chunk_no
        row["worker"] = worker
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=SCHEMA)


# -- merging ----------------------------------------------------------------------------------


def _content_key(hashes: Optional[List[Tuple[str, str]]]) -> Optional[str]:
    if not hashes:
        return None
    h = dict(hashes)
    for algo in CONTENT_HASHES:
        if h.get(algo):
            # file_256 is the same SHA-256 under MIR's name.
            return ("sha256" if algo == "file_256" else algo) + ":" + h[algo]
    return None


def merge(table: pa.Table) -> pa.Table:
    """The groups of the records in `table` (:data:`GROUPS_SCHEMA`): proven copies
    (``duplicate``) and the same tensor layout (``same_layout``), largest first."""
    ok = table.filter(pc.is_null(table["error"]))
    cols = ok.select(["path", "size", "hashes", "tensors", "fingerprint"]).to_pydict()
    by_content: Dict[Tuple[str, int], List[int]] = {}
    by_layout: Dict[str, List[int]] = {}
    content: List[Optional[str]] = []
    for i, (size, hashes, tensors, fp) in enumerate(
        zip(cols["size"], cols["hashes"], cols["tensors"], cols["fingerprint"])
    ):
        key = _content_key(hashes)
        content.append(key)
        if key is not None:
            by_content.setdefault((key, size), []).append(i)
        if fp and fp.get("shape_sig") and tensors:
            by_layout.setdefault(f"{fp['key_sig']}:{fp['shape_sig']}", []).append(i)
    rows: List[Dict[str, Any]] = []
    paths, sizes = cols["path"], cols["size"]
    for (key, size), members in by_content.items():
        if len(members) > 1:
            rows.append(
                {
                    "relation": "duplicate",
                    "key": key,
                    "files": len(members),
                    "paths": sorted(paths[i] for i in members),
                    "total_bytes": size * len(members),
                    "reclaimable_bytes": size * (len(members) - 1),
                    "distinct_contents": 1,
                }
            )
    for key, members in by_layout.items():
        if len(members) > 1:
            hashed = [content[i] for i in members]
            rows.append(
                {
                    "relation": "same_layout",
                    "key": key,
                    "files": len(members),
                    "paths": sorted(paths[i] for i in members),
                    "total_bytes": sum(sizes[i] for i in members),
                    "reclaimable_bytes": 0,
                    "distinct_contents": None if None in hashed else len(set(hashed)),
                }
            )
    rows.sort(key=lambda r: (r["relation"], -r["total_bytes"], r["paths"][0]))
    return pa.Table.from_pylist(rows, schema=GROUPS_SCHEMA)


# -- the client -------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> Dict[str, Any]:
    from distributed import Client, LocalCluster, as_completed

    start = time.monotonic()
    # Folders named on the command line are marked as such (one stat each; listing lines are
    # not stat'ed).
    inputs: List[str] = [
        p.rstrip(os.sep) + os.sep if os.path.isdir(p) and p.rstrip(os.sep) else p
        for p in args.paths
    ]
    for listing in args.list or ():
        inputs.extend(read_listing(listing))
    plan = list(chunks(units(inputs), args.chunk))

    if args.scheduler:
        cluster = None
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = Client(cluster)
    started = time.monotonic()
    out = args.out
    groups_out = args.groups or (out[: -len(".parquet")] if out.endswith(".parquet") else out)
    if not args.groups:
        groups_out += ".groups.parquet"
    rows = errors = 0
    seen: set = set()
    workers_used: Dict[str, int] = {}
    try:
        nthreads = sum(client.nthreads().values()) or 1
        window = max(2, 2 * nthreads)
        todo = iter(enumerate(plan))
        pending = as_completed()

        def submit_next() -> bool:
            nxt = next(todo, None)
            if nxt is None:
                return False
            no, paths = nxt
            pending.add(
                client.submit(
                    scan_chunk,
                    paths,
                    no,
                    args.hashes,
                    args.index,
                    args.threads,
                    pure=False,
                    retries=1,
                )
            )
            return True

        for _ in range(window):
            if not submit_next():
                break
        with pq.ParquetWriter(out, SCHEMA) as writer:
            for fut in pending:
                table = fut.result()
                fut.release()
                submit_next()
                # A file reached twice (a folder and a file in it named apart) is kept once.
                keep = []
                for p in table["path"].to_pylist():
                    keep.append(p not in seen)
                    seen.add(p)
                if not all(keep):
                    table = table.filter(pa.array(keep))
                writer.write_table(table)
                rows += table.num_rows
                errors += table.num_rows - table["error"].null_count
                for w in table["worker"].to_pylist():
                    workers_used[w] = workers_used.get(w, 0) + 1
                if args.verbose:
                    print(f"dask_scan: {rows} records", file=sys.stderr)
        scanned = time.monotonic()
        # The merge reads back only the columns it needs.
        needed = ["path", "size", "error", "hashes", "tensors", "fingerprint"]
        groups = merge(pq.read_table(out, columns=needed))
        pq.write_table(groups, groups_out)
        merged = time.monotonic()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    g = groups.to_pydict()
    dup = [i for i, r in enumerate(g["relation"]) if r == "duplicate"]
    return {
        "records": rows,
        "errors": errors,
        "chunks": len(plan),
        "workers": len(workers_used),
        "records_per_worker": dict(sorted(workers_used.items())),
        "duplicate_groups": len(dup),
        "reclaimable_bytes": sum(g["reclaimable_bytes"][i] for i in dup),
        "same_layout_groups": len(g["relation"]) - len(dup),
        "hashed": any(h for h in args.hashes if h in CONTENT_HASHES),
        "out": out,
        "groups": groups_out,
        "seconds": round(time.monotonic() - start, 3),
        # Cutting the input and starting (or reaching) the cluster; then scanning and writing.
        "startup_seconds": round(started - start, 3),
        "scan_seconds": round(scanned - started, 3),
        "merge_seconds": round(merged - scanned, 3),
    }


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="Scan model weight files with mir on a Dask cluster into Parquet.",
    )
    ap.add_argument("paths", nargs="*", help="folders and files to scan")
    ap.add_argument(
        "--list",
        action="append",
        metavar="FILE",
        help="a file listing paths to scan, one per line ('-': stdin); may repeat",
    )
    ap.add_argument("--out", default="mir-scan.parquet", help="the records' Parquet file")
    ap.add_argument(
        "--groups", help="the merged groups' Parquet file (default: OUT with .groups.parquet)"
    )
    ap.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a running scheduler, e.g. tcp://host:8786 (default: a LocalCluster)",
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes of the LocalCluster (default: one per core)",
    )
    ap.add_argument("--chunk", type=int, default=1000, help="paths per task (default 1000)")
    ap.add_argument(
        "--hashes",
        default="",
        help="whole-file hashes, comma-separated (e.g. sha256); duplicates need sha256 or blake3",
    )
    ap.add_argument(
        "--index",
        help="facts cache on each worker: 'default' (the mir command's, per machine) or a path",
    )
    ap.add_argument(
        "--threads",
        type=int,
        help="mir threads per task (default: the worker machine's cores / its Dask threads)",
    )
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    ap.add_argument("-v", "--verbose", action="store_true", help="report progress on stderr")
    args = ap.parse_args(argv)
    if not args.paths and not args.list:
        ap.error("give folders, files or --list FILE")
    if args.chunk < 1 or args.workers < 1:
        ap.error("--chunk and --workers must be at least 1")
    args.hashes = [h.strip() for h in args.hashes.split(",") if h.strip()]
    return args


def check_options(args: argparse.Namespace) -> Optional[str]:
    """A bad ``--hashes`` said at once, not by every task: an empty scan checks the options
    (when the package is installed on the client too)."""
    try:
        import mir
    except ImportError:
        return None
    try:
        mir.scan(hashes=args.hashes).close()
    except mir.MirError as e:
        return str(e)
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    problem = check_options(args)
    if problem:
        print(f"dask_scan: {problem}", file=sys.stderr)
        return 3
    summary = run(args)
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{summary['records']} records ({summary['errors']} with errors) from "
            f"{summary['chunks']} chunks on {summary['workers']} workers in "
            f"{summary['seconds']:.1f} s -> {summary['out']}"
        )
        if summary["hashed"]:
            print(
                f"{summary['duplicate_groups']} duplicate groups (identical content), "
                f"{summary['reclaimable_bytes']} bytes reclaimable"
            )
        else:
            print("no content hash asked for (--hashes sha256): no duplicates proven")
        print(
            f"{summary['same_layout_groups']} same-layout groups (same tensors, not copies) "
            f"-> {summary['groups']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
