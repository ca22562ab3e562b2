//! The native part of the `mir` Python package (`mir._mir`): a thin layer over [`mir_engine`].
//!
//! Every record crosses into Python as the JSON text of [`mir_engine::Record`] (the CLI's
//! `mir scan --json` line, through the same serde serialisation), so the Python objects and the
//! CLI can never drift. Exceptions are raised as `RawError(kind, message)` and mapped to the
//! `mir.MirError` hierarchy by the Python package (`python/mir/__init__.py`).
#![forbid(unsafe_code)]

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use mir_engine::{Engine, Event, HashAlgo, Progress, Record};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _mir,
    RawError,
    PyException,
    "An engine error as (kind, message); `mir` re-raises it as a `mir.MirError` subclass."
);

fn raw(kind: &str, message: impl Into<String>) -> PyErr {
    RawError::new_err((kind.to_owned(), message.into()))
}

fn engine_error(e: mir_engine::Error) -> PyErr {
    let kind = match &e {
        mir_engine::Error::Rules(_) => "rules",
        mir_engine::Error::RuleFile { .. } => "rule-file",
        mir_engine::Error::Database { .. } => "database",
        mir_engine::Error::Index(_) => "index",
        mir_engine::Error::Plugin { .. } => "plugin",
        _ => "engine",
    };
    raw(kind, e.to_string())
}

fn parse_algos(names: &[String]) -> PyResult<Vec<HashAlgo>> {
    names
        .iter()
        .map(|n| HashAlgo::from_str(n).map_err(|e| raw("usage", format!("hash {n:?}: {e}"))))
        .collect()
}

fn to_json<T: serde::Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| raw("engine", format!("serialising a record: {e}")))
}

/// Builds an engine over `paths` with the Python API's options. `index` is a SQLite path,
/// `":memory:"` for an index in memory, `"default"` for the `mir` command's index (`$MIR_INDEX`,
/// else the platform cache folder), or `None` for no index. (The Python package turns a path
/// object naming a file `default` or `:memory:` into `./default`, `./:memory:`.)
fn engine(
    paths: Vec<PathBuf>,
    index: Option<String>,
    hashes: &[String],
    mir_db: Option<PathBuf>,
    threads: Option<usize>,
) -> PyResult<Engine> {
    let mut b = Engine::builder().hashes(parse_algos(hashes)?);
    for p in paths {
        b = b.root(p);
    }
    b = match index.as_deref() {
        None => b,
        Some(":memory:") => b.index_in_memory(),
        Some("default") => b.default_index(),
        Some(p) => b.index_at(p),
    };
    if let Some(db) = mir_db {
        b = b.database(db);
    }
    if let Some(n) = threads {
        b = b.threads(n);
    }
    b.build().map_err(engine_error)
}

/// What the scan thread hands the consuming thread.
enum Msg {
    /// The walk is over: this many records will follow (sent only when progress was asked for).
    Found(usize),
    /// One file's record, as the JSON text of `mir scan --json`.
    Record(String),
}

/// A running scan: yields each file's record (JSON text) while the scan runs on a background
/// thread, and, when started with `progress=True`, the number of files to come (an `int`, once,
/// before the first record). Dropping it, `close()`, or Ctrl-C while waiting stops the scan.
#[pyclass(module = "mir._mir")]
struct ScanIter {
    rx: Mutex<Option<Receiver<Msg>>>,
    cancel: Arc<AtomicBool>,
    handle: Mutex<Option<JoinHandle<bool>>>,
    cancelled: Mutex<Option<bool>>,
    /// Set once `__next__` saw the end: every record was taken.
    exhausted: AtomicBool,
}

impl ScanIter {
    fn stop(&self) {
        self.cancel.store(true, Ordering::Relaxed);
        // Dropping the receiver unblocks a worker waiting to send.
        self.rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let handle = self
            .handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(h) = handle {
            // Stopped before the last record was taken: cancelled, even when the worker had
            // already queued every record.
            let cancelled = h.join().unwrap_or(true) || !self.exhausted.load(Ordering::Relaxed);
            let mut c = self
                .cancelled
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            c.get_or_insert(cancelled);
        }
    }
}

#[pymethods]
impl ScanIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        loop {
            // Wait without the GIL, waking every 100 ms to let Python handle signals (Ctrl-C).
            let got = py.allow_threads(|| {
                let guard = self.rx.lock().unwrap_or_else(PoisonError::into_inner);
                match guard.as_ref() {
                    Some(rx) => rx.recv_timeout(Duration::from_millis(100)),
                    None => Err(RecvTimeoutError::Disconnected),
                }
            });
            match got {
                Ok(Msg::Record(line)) => {
                    return Ok(Some(line.into_pyobject(py)?.into_any().unbind()));
                }
                Ok(Msg::Found(n)) => return Ok(Some(n.into_pyobject(py)?.into_any().unbind())),
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = py.check_signals() {
                        py.allow_threads(|| self.stop());
                        return Err(e);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.exhausted.store(true, Ordering::Relaxed);
                    py.allow_threads(|| self.stop());
                    return Ok(None);
                }
            }
        }
    }

    /// Stops the scan (no more records are produced) and waits for its threads.
    fn close(&self, py: Python<'_>) {
        py.allow_threads(|| self.stop());
    }

    /// `None` while the scan runs; then whether it was stopped before its end.
    #[getter]
    fn cancelled(&self) -> Option<bool> {
        *self
            .cancelled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for ScanIter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts a scan of `paths`; see `mir.scan`.
#[pyfunction]
#[pyo3(signature = (paths, index=None, hashes=Vec::new(), mir_db=None, threads=None, progress=false))]
fn scan(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    index: Option<String>,
    hashes: Vec<String>,
    mir_db: Option<PathBuf>,
    threads: Option<usize>,
    progress: bool,
) -> PyResult<ScanIter> {
    let engine = py.allow_threads(|| engine(paths, index, &hashes, mir_db, threads))?;
    let (tx, rx) = mpsc::sync_channel::<Msg>(64);
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let handle = std::thread::spawn(move || {
        // The file count goes through the records' channel, so the consuming thread (holding
        // the GIL) reads it before the first record; no Python code runs on this thread or on
        // the scan's workers. `FileDone` is not forwarded: the consumer counts the records it
        // takes, which is the progress its caller sees.
        let found_tx = tx.clone();
        let on_progress = move |p: Progress| {
            if let (true, Progress::Found { files }) = (progress, p) {
                let _ = found_tx.send(Msg::Found(files));
            }
        };
        let end = engine.scan_with_progress(&flag, &on_progress, |event| match event {
            Event::File(f) => {
                let record = Record::from_report(&f);
                let sent = serde_json::to_string(&record)
                    .ok()
                    .is_some_and(|line| tx.send(Msg::Record(line)).is_ok());
                if sent {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            }
            Event::Model(_) => ControlFlow::Continue(()),
        });
        end.cancelled
    });
    Ok(ScanIter {
        rx: Mutex::new(Some(rx)),
        cancel,
        handle: Mutex::new(Some(handle)),
        cancelled: Mutex::new(None),
        exhausted: AtomicBool::new(false),
    })
}

/// Identifies one file as a scan would; returns its record's JSON, or raises on a file error.
#[pyfunction]
#[pyo3(signature = (path, mir_db=None))]
fn inspect(py: Python<'_>, path: PathBuf, mir_db: Option<PathBuf>) -> PyResult<String> {
    py.allow_threads(|| {
        let engine = engine(Vec::new(), None, &[], mir_db, Some(1))?;
        let report = engine.analyse(&path);
        if let Some(e) = &report.error {
            return Err(raw(
                e.kind.as_str(),
                format!("{}: {}", path.display(), e.message),
            ));
        }
        to_json(&Record::from_report(&report))
    })
}

/// Whole-file hashes of one file as JSON (`{"sha256": ..., ...}`), or raises on a file error.
#[pyfunction]
#[pyo3(signature = (path, algos, index=None))]
fn hash(
    py: Python<'_>,
    path: PathBuf,
    algos: Vec<String>,
    index: Option<String>,
) -> PyResult<String> {
    py.allow_threads(|| {
        let algos_parsed = parse_algos(&algos)?;
        let engine = engine(Vec::new(), index, &[], None, Some(1))?;
        let report = engine.hash(&path, &algos_parsed);
        if let Some(e) = &report.error {
            return Err(raw(
                e.kind.as_str(),
                format!("{}: {}", path.display(), e.message),
            ));
        }
        match &report.hashes {
            Some(h) => to_json(h),
            None => Err(raw(
                "hash",
                format!("{}: no hashes were computed", path.display()),
            )),
        }
    })
}

/// Duplicates among `paths` as the JSON of `mir dupes --json` and the per-file warnings.
/// `index` defaults to one in memory (dupes needs an index).
#[pyfunction]
#[pyo3(signature = (paths, index=None, threads=None))]
fn dupes(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    index: Option<String>,
    threads: Option<usize>,
) -> PyResult<(String, Vec<String>)> {
    py.allow_threads(|| {
        let index = index.unwrap_or_else(|| ":memory:".to_owned());
        let engine = engine(paths, Some(index), &[], None, threads)?;
        let (report, warnings) = engine.dupes().map_err(engine_error)?;
        Ok((to_json(&report)?, warnings))
    })
}

/// Every ID the built-in rules can emit, as the JSON lines of `mir ids --json`.
#[pyfunction]
fn ids() -> PyResult<Vec<String>> {
    let c = mir_engine::classify::Classifier::builtin().map_err(|e| raw("rules", e.to_string()))?;
    c.id_table().iter().map(to_json).collect()
}

/// The native module.
#[pymodule]
fn _mir(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("RawError", m.py().get_type::<RawError>())?;
    m.add_class::<ScanIter>()?;
    m.add_function(wrap_pyfunction!(scan, m)?)?;
    m.add_function(wrap_pyfunction!(inspect, m)?)?;
    m.add_function(wrap_pyfunction!(hash, m)?)?;
    m.add_function(wrap_pyfunction!(ids, m)?)?;
    m.add_function(wrap_pyfunction!(dupes, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
