import os
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Literal,
    NamedTuple,
    Optional,
    Sequence,
    TextIO,
    Union,
)

PathLike = Union[str, os.PathLike[str]]

__version__: str

DEFAULT_INDEX: Literal["default"]

class MirError(Exception):
    kind: str

class FormatError(MirError, ValueError): ...
class TruncatedError(FormatError): ...
class LimitError(FormatError): ...
class MirIOError(MirError, OSError): ...
class MirFileNotFoundError(MirIOError, FileNotFoundError): ...
class MirPermissionError(MirIOError, PermissionError): ...
class HashError(MirError): ...
class ConfigError(MirError, ValueError): ...
class IndexError_(MirError): ...
class DatabaseError(MirError): ...

class Record:
    """One file's result; the fields of `mir scan --json` (README's field table)."""

    path: str
    path_bytes: Optional[str]
    format: Optional[str]
    size: int
    tensors: Optional[int]
    mir: Optional[str]
    candidates: List[str]
    components: List[Dict[str, Any]]
    evidence: List[str]
    precision: Optional[str]
    fingerprint: Optional[Dict[str, Any]]
    error: Optional[str]
    confidence: Optional[float]
    decided_by: Optional[str]
    shard: Optional[Dict[str, Any]]
    findings: List[str]
    database: Optional[Dict[str, Any]]
    hashes: Optional[Dict[str, Optional[str]]]
    cached: bool
    coverage: Optional[Dict[str, Any]]
    prediction: Optional[str]
    model: Optional[Dict[str, Any]]
    aliases: List[str]
    def __init__(self, data: Dict[str, Any]) -> None: ...
    def __getattr__(self, name: str) -> Any: ...
    def to_dict(self) -> Dict[str, Any]: ...
    @property
    def ok(self) -> bool: ...

class Progress(NamedTuple):
    """Where a scan is; see `mir.scan`'s `progress`."""

    files_done: int
    files_total: int
    bytes_done: int
    path: Optional[str]
    errors: int
    cached: int
    elapsed: float
    @property
    def fraction(self) -> float: ...

ProgressCallback = Callable[[Progress], Any]

class ProgressBar:
    stream: TextIO
    every: float
    def __init__(self, stream: Optional[TextIO] = ..., every: float = ...) -> None: ...
    def __call__(self, p: Progress) -> None: ...

class Scan(Iterator[Record]):
    def __iter__(self) -> Scan: ...
    def __next__(self) -> Record: ...
    def close(self) -> None: ...
    @property
    def cancelled(self) -> Optional[bool]: ...
    def __enter__(self) -> Scan: ...
    def __exit__(self, *exc: object) -> None: ...

def scan(
    *paths: PathLike,
    index: Optional[PathLike] = ...,
    hashes: Sequence[str] = ...,
    mir_db: Optional[PathLike] = ...,
    threads: Optional[int] = ...,
    progress: Union[None, bool, ProgressCallback] = ...,
) -> Scan:
    """`index`: None (no index), "default" (the `mir` command's index), ":memory:", or a
    SQLite file. `progress`: a callable receiving a `Progress` on the iterating thread, or True
    for a `ProgressBar` on stderr."""

def inspect(path: PathLike, mir_db: Optional[PathLike] = ...) -> Record: ...
def hash(
    path: PathLike,
    algos: Union[str, Sequence[str]] = ...,
    index: Optional[PathLike] = ...,
) -> Dict[str, str]: ...
def ids() -> List[Dict[str, Any]]: ...
def dupes(
    *paths: PathLike,
    index: Optional[PathLike] = ...,
    threads: Optional[int] = ...,
) -> Dict[str, Any]: ...
