"""Fingerprint AI model weight files (safetensors, GGUF, PyTorch checkpoints) and name them
with MIR IDs, in-process.

    import mir
    for rec in mir.scan("/models", index="default", progress=True):
        print(rec.path, rec.mir, rec.confidence, rec.error)

The engine is Rust (``mir-engine``); the GIL is released while it works. Records are
:class:`Record` objects whose ``to_dict()`` is exactly the JSON record of ``mir scan --json``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, TextIO, Union

from . import _mir

__all__ = [
    "scan",
    "inspect",
    "hash",
    "ids",
    "dupes",
    "Record",
    "Scan",
    "Progress",
    "ProgressBar",
    "DEFAULT_INDEX",
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

DEFAULT_INDEX = "default"
"""``index=DEFAULT_INDEX`` (the string ``"default"``) uses the ``mir`` command's index:
``$MIR_INDEX`` if set and not empty, else ``<cache folder>/mir/index.sqlite3`` (the cache folder
is ``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux, ``~/Library/Caches`` on macOS,
``%LOCALAPPDATA%`` on Windows)."""

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


class Progress(NamedTuple):
    """Where a scan is, handed to the ``progress`` callback of :func:`scan`.

    The callback is called on the thread that iterates the scan (the GIL held), never on the
    engine's threads: once when the walk is over (``files_done == 0``), then once per record,
    just before the record is yielded, so the last call has ``files_done == files_total``.
    """

    files_done: int
    """Records produced so far (this one included)."""
    files_total: int
    """Records the scan will produce (known once the walk is over)."""
    bytes_done: int
    """Sum of the ``size`` of the records produced so far."""
    path: Optional[str]
    """The path of the record about to be yielded (``None`` in the first call)."""
    errors: int
    """Records so far with ``error`` set."""
    cached: int
    """Records so far whose facts came from the index (``cached`` true)."""
    elapsed: float
    """Seconds since the scan started."""

    @property
    def fraction(self) -> float:
        """``files_done / files_total`` (1.0 for a scan of no file)."""
        return self.files_done / self.files_total if self.files_total else 1.0


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover - the loop returns


class ProgressBar:
    """A one-line progress display on a text stream (stderr by default), for
    ``progress=True``: ``mir: 120/418 files (28.7%), 3.1 GiB, 2 errors``, redrawn in place at
    most every ``every`` seconds on a terminal and always at the end, then a newline. On a
    stream that is not a terminal only the closing line is written. A callable usable as
    ``progress=ProgressBar(stream)``."""

    def __init__(self, stream: Optional[TextIO] = None, every: float = 0.1) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        isatty = getattr(self.stream, "isatty", None)
        self._tty = bool(isatty and isatty())
        self._last = -1.0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        end = p.files_done == p.files_total
        # Not a terminal (a log file): only the closing line, no carriage returns.
        if not end and (not self._tty or now - self._last < self.every):
            return
        self._last = now
        line = (
            f"mir: {p.files_done}/{p.files_total} files ({100 * p.fraction:.1f}%), "
            f"{_human_bytes(p.bytes_done)}"
        )
        if p.errors:
            line += f", {p.errors} error{'s' if p.errors != 1 else ''}"
        if p.cached:
            line += f", {p.cached} cached"
        if self._tty:
            self.stream.write("\r" + line + "\x1b[K" + ("\n" if end else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


ProgressCallback = Callable[[Progress], Any]


class Scan:
    """An iterator over the records of a running scan, in path order.

    The scan runs on Rust threads while you iterate; the GIL is released while waiting.
    Ctrl-C while waiting stops the scan and raises ``KeyboardInterrupt``; ``close()``, leaving a
    ``with`` block, or dropping the iterator stops it too. With a ``progress`` callback, an
    exception the callback raises stops the scan the same way and propagates out of the
    iteration.
    """

    def __init__(self, inner: "_mir.ScanIter", progress: Optional[ProgressCallback] = None) -> None:
        self._inner = inner
        self._progress = progress
        self._start = time.monotonic()
        self._total = 0
        self._done = 0
        self._bytes = 0
        self._errors = 0
        self._cached = 0

    def __iter__(self) -> "Scan":
        return self

    def __next__(self) -> Record:
        item = next(self._inner)
        if self._progress is None:
            return Record._from_json(item)
        if isinstance(item, int):
            # The walk is over: the count of records to come; then the first record.
            self._total = item
            self._report(None)
            item = next(self._inner)
        rec = Record._from_json(item)
        self._done += 1
        self._bytes += rec.size or 0
        self._errors += rec.error is not None
        self._cached += bool(rec.cached)
        self._report(rec.path)
        return rec

    def _report(self, path: Optional[str]) -> None:
        assert self._progress is not None
        p = Progress(
            files_done=self._done,
            files_total=max(self._total, self._done),
            bytes_done=self._bytes,
            path=path,
            errors=self._errors,
            cached=self._cached,
            elapsed=time.monotonic() - self._start,
        )
        try:
            self._progress(p)
        except BaseException:
            # The caller's callback failed (or asked to stop by raising): stop the scan and
            # its threads before the exception leaves the iteration.
            self._inner.close()
            raise

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
    """``None``, ``"default"`` and ``":memory:"`` as given; any other value as a path. A path
    object (not a ``str``) naming a file ``default`` or ``:memory:`` is that file."""
    if index is None or isinstance(index, str):
        return index
    path = os.fspath(index)
    if path in (DEFAULT_INDEX, ":memory:"):
        return os.path.join(os.curdir, path)
    return path


def scan(
    *paths: PathLike,
    index: Optional[PathLike] = None,
    hashes: Sequence[str] = (),
    mir_db: Optional[PathLike] = None,
    threads: Optional[int] = None,
    progress: Union[None, bool, ProgressCallback] = None,
) -> Scan:
    """Scans files and folders; returns an iterator yielding each file's :class:`Record`
    while the scan runs.

    ``index``: where facts are cached between scans, so an unchanged file is not opened again
    (its record has ``cached`` true). ``None`` (the default): no index, every file is read.
    ``"default"`` (:data:`DEFAULT_INDEX`): the index the ``mir`` command uses (``$MIR_INDEX``,
    else ``~/.cache/mir/index.sqlite3`` on Linux). ``":memory:"``: one in memory for this scan.
    Any other string or path: that SQLite file (created if needed; pass
    ``pathlib.Path("default")`` for a file named ``default``).

    ``hashes``: whole-file hashes to compute (``"sha256"``, ``"blake3"``, ``"autov2"``, ...).
    ``mir_db``: a published MIR database (``mir.json``). ``threads``: worker threads (default
    one per core).

    ``progress``: a callable receiving a :class:`Progress` (files done and total, bytes, the
    current path, errors, cached records), called on the iterating thread once the walk is
    over and then once per record; ``True`` draws a :class:`ProgressBar` on stderr. An
    exception raised by the callback stops the scan and propagates out of the iteration.

    A bad file never raises: its record has ``error`` set. Raises :class:`ConfigError`,
    :class:`IndexError_` or :class:`DatabaseError` when the scan cannot start.
    """
    if isinstance(hashes, str):
        hashes = [hashes]
    if progress is True:
        callback: Optional[ProgressCallback] = ProgressBar()
    elif progress is None or progress is False:
        callback = None
    elif callable(progress):
        callback = progress
    else:
        raise TypeError(f"progress must be None, True or a callable, not {type(progress).__name__}")
    try:
        inner = _mir.scan(
            [os.fspath(p) for p in paths],
            index=_index_arg(index),
            hashes=list(hashes),
            mir_db=None if mir_db is None else os.fspath(mir_db),
            threads=threads,
            progress=callback is not None,
        )
    except _mir.RawError as e:
        raise _mapped(e) from None
    return Scan(inner, callback)


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
    ``autov1``, ``autov2``, ``autov3``, ``blake3``, ``crc32``, ``file_256``). ``index``: as
    in :func:`scan` (``None``, ``"default"``, ``":memory:"`` or a path): a file unchanged since
    its hashes were stored is not read again. Raises a :class:`MirError` subclass when the file
    cannot be read or an algorithm is unknown."""
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
    SQLite file to reuse facts and hashes, or ``"default"`` for the ``mir`` command's index
    (as in :func:`scan`; ``None``, the default, uses an index in memory)."""
    try:
        line, warnings = _mir.dupes([os.fspath(p) for p in paths], _index_arg(index), threads)
    except _mir.RawError as e:
        raise _mapped(e) from None
    report: Dict[str, Any] = json.loads(line)
    report["warnings"] = list(warnings)
    return report
