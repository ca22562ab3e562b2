"""Fingerprint AI model weight files (safetensors, GGUF, PyTorch checkpoints) and name them
with MIR IDs, in-process.

    import mir
    for rec in mir.scan("/models", index="/tmp/mir.sqlite3"):
        print(rec.path, rec.mir, rec.confidence, rec.error)

The engine is Rust (``mir-engine``); the GIL is released while it works. Records are
:class:`Record` objects whose ``to_dict()`` is exactly the JSON record of ``mir scan --json``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from . import _mir

__all__ = [
    "scan",
    "inspect",
    "hash",
    "ids",
    "dupes",
    "Record",
    "Scan",
    "MirError",
    "FormatError",
    "TruncatedError",
    "LimitError",
    "MirFileNotFoundError",
    "MirPermissionError",
    "MirIOError",
    "HashError",
    "ConfigError",
    "IndexError_",
    "DatabaseError",
    "__version__",
]

__version__: str = _mir.__version__

PathLike = Union[str, "os.PathLike[str]"]

# The fields of a record, in the order of the JSON line (README's field table).
_FIELDS = (
    "path",
    "path_bytes",
    "format",
    "size",
    "tensors",
    "mir",
    "candidates",
    "components",
    "evidence",
    "precision",
    "fingerprint",
    "error",
    "confidence",
    "decided_by",
    "shard",
    "findings",
    "database",
    "hashes",
    "cached",
    "coverage",
    "prediction",
    "model",
    "aliases",
    # Issue 16: omitted from the JSON when empty, so `None` here then.
    "about",
    "adapter",
    "packaging",
    "sidecars",
    "preview",
    "air",
)


class MirError(Exception):
    """Base class of every error raised by :mod:`mir`."""


class FormatError(MirError, ValueError):
    """The file is not a valid weight file: its format rejected the header."""


class TruncatedError(FormatError):
    """The file ends before a structure it declares."""


class LimitError(FormatError):
    """A count or length in the file is over a limit (a hostile or broken file)."""


class MirIOError(MirError, OSError):
    """The file could not be read."""


class MirFileNotFoundError(MirIOError, FileNotFoundError):
    """The file does not exist."""


class MirPermissionError(MirIOError, PermissionError):
    """The operating system refused to open or read the file."""


class HashError(MirError):
    """Whole-file hashing failed (e.g. the file changed while hashed)."""


class ConfigError(MirError, ValueError):
    """A bad argument: unknown hash algorithm, rule file, plugin."""


class IndexError_(MirError):
    """The index (SQLite facts cache) could not be opened, read or written.

    Named with a trailing underscore so it does not shadow the built-in ``IndexError``.
    """


class DatabaseError(MirError):
    """The MIR database (``mir_db``) could not be loaded."""


_KINDS = {
    "not-found": MirFileNotFoundError,
    "permission-denied": MirPermissionError,
    "io": MirIOError,
    "truncated": TruncatedError,
    "limit-exceeded": LimitError,
    "malformed": FormatError,
    "hash": HashError,
    "usage": ConfigError,
    "rules": ConfigError,
    "rule-file": ConfigError,
    "plugin": ConfigError,
    "index": IndexError_,
    "database": DatabaseError,
}


def _mapped(e: "_mir.RawError") -> MirError:
    kind, message = e.args
    cls = _KINDS.get(kind, MirError)
    err = cls(message)
    err.kind = kind  # type: ignore[attr-defined]
    return err


class Record:
    """One file's result: the JSON record of ``mir scan --json`` with one attribute per field
    (``path``, ``format``, ``size``, ``tensors``, ``mir``, ``candidates``, ``confidence``,
    ``decided_by``, ``error``, ``fingerprint``, ``hashes``, ... as in README's field table).
    Fields added by a newer engine are attributes too."""

    __slots__ = ("_d",)

    def __init__(self, data: Dict[str, Any]) -> None:
        self._d = data

    @classmethod
    def _from_json(cls, line: str) -> "Record":
        return cls(json.loads(line))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._d[name]
        except KeyError:
            if name in _FIELDS:
                return None
            raise AttributeError(name) from None

    def to_dict(self) -> Dict[str, Any]:
        """The record as the CLI's JSON line, parsed (a fresh copy)."""
        return json.loads(json.dumps(self._d))

    @property
    def ok(self) -> bool:
        """True when the file was read without error."""
        return self._d.get("error") is None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and self._d == other._d

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Record(path={self._d.get('path')!r}, mir={self._d.get('mir')!r}, error={self._d.get('error')!r})"


class Scan:
    """An iterator over the records of a running scan, in path order.

    The scan runs on Rust threads while you iterate; the GIL is released while waiting.
    Ctrl-C while waiting stops the scan and raises ``KeyboardInterrupt``; ``close()``, leaving a
    ``with`` block, or dropping the iterator stops it too.
    """

    def __init__(self, inner: "_mir.ScanIter") -> None:
        self._inner = inner

    def __iter__(self) -> "Scan":
        return self

    def __next__(self) -> Record:
        return Record._from_json(next(self._inner))

    def close(self) -> None:
        """Stops the scan and waits for its threads."""
        self._inner.close()

    @property
    def cancelled(self) -> Optional[bool]:
        """``None`` while the scan runs; then whether it stopped before its end."""
        return self._inner.cancelled

    def __enter__(self) -> "Scan":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _index_arg(index: Optional[PathLike]) -> Optional[str]:
    return None if index is None else os.fspath(index)


def scan(
    *paths: PathLike,
    index: Optional[PathLike] = None,
    hashes: Sequence[str] = (),
    mir_db: Optional[PathLike] = None,
    threads: Optional[int] = None,
) -> Scan:
    """Scans files and folders; returns an iterator yielding each file's :class:`Record`
    while the scan runs.

    ``index``: a SQLite file for the facts cache (``":memory:"`` for one in memory; ``None``,
    the default, reads every file). ``hashes``: whole-file hashes to compute (``"sha256"``,
    ``"blake3"``, ``"autov2"``, ...). ``mir_db``: a published MIR database (``mir.json``).
    ``threads``: worker threads (default one per core).

    A bad file never raises: its record has ``error`` set. Raises :class:`ConfigError`,
    :class:`IndexError_` or :class:`DatabaseError` when the scan cannot start.
    """
    if isinstance(hashes, str):
        hashes = [hashes]
    try:
        inner = _mir.scan(
            [os.fspath(p) for p in paths],
            index=_index_arg(index),
            hashes=list(hashes),
            mir_db=None if mir_db is None else os.fspath(mir_db),
            threads=threads,
        )
    except _mir.RawError as e:
        raise _mapped(e) from None
    return Scan(inner)


def inspect(path: PathLike, mir_db: Optional[PathLike] = None) -> Record:
    """Identifies one file exactly as a scan would. Raises a :class:`MirError` subclass
    (:class:`FormatError`, :class:`MirFileNotFoundError`, ...) when the file cannot be read."""
    try:
        line = _mir.inspect(os.fspath(path), None if mir_db is None else os.fspath(mir_db))
    except _mir.RawError as e:
        raise _mapped(e) from None
    return Record._from_json(line)


def hash(  # noqa: A001 - the CLI's verb
    path: PathLike,
    algos: Union[str, Sequence[str]] = ("sha256",),
    index: Optional[PathLike] = None,
) -> Dict[str, str]:
    """Whole-file hashes of one file: ``{"sha256": "…", ...}`` for ``algos`` (``sha256``,
    ``autov1``, ``autov2``, ``autov3``, ``blake3``, ``crc32``, ``file_256``). Raises a
    :class:`MirError` subclass when the file cannot be read or an algorithm is unknown."""
    if isinstance(algos, str):
        algos = [algos]
    try:
        line = _mir.hash(os.fspath(path), list(algos), _index_arg(index))
    except _mir.RawError as e:
        raise _mapped(e) from None
    return {k: v for k, v in json.loads(line).items() if v is not None}


def ids() -> List[Dict[str, Any]]:
    """Every ID the built-in rules can emit and what decides it (the rows of
    ``mir ids --json``)."""
    return [json.loads(line) for line in _mir.ids()]


def dupes(
    *paths: PathLike,
    index: Optional[PathLike] = None,
    threads: Optional[int] = None,
) -> Dict[str, Any]:
    """Duplicates among the files under ``paths``: the report of ``mir dupes --json``
    (``identical`` content groups, ``same_shape`` groups, ``wasted_bytes``, ``unhashed``) plus
    ``warnings`` (per-file problems). Only files whose sizes collide are hashed. ``index``: a
    SQLite file to reuse facts and hashes (default: an index in memory)."""
    try:
        line, warnings = _mir.dupes([os.fspath(p) for p in paths], _index_arg(index), threads)
    except _mir.RawError as e:
        raise _mapped(e) from None
    report: Dict[str, Any] = json.loads(line)
    report["warnings"] = list(warnings)
    return report
