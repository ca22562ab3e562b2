//! Running a plugin on one file: the host callbacks, and validation of everything it reports.
//!
//! Plugin output is untrusted input. Each callback checks its arguments against [`Limits`]
//! before copying anything: string lengths before reading them, the rank before reading the
//! dimensions, counts before growing the index, and a total budget of copied bytes. The first
//! violation is kept and every later callback answers "stop".

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use mir_core::{
    Dtype, Finding, Limits, MetaValue, Severity, Sniff, Source, TensorIndex, TensorRecord,
};
use mir_plugin_abi::{ABI_VERSION, HostApiV1, NO_DATA, severity, sniff, status};

use crate::{Error, LoadedPlugin};

/// Longest dtype string.
const MAX_DTYPE: usize = 64;
/// Most findings per file.
const MAX_FINDINGS: u64 = 1000;
/// Longest finding or error message kept.
const MAX_MESSAGE: usize = 4096;

/// One `parse` call's state, reached through the `ctx` pointer.
struct Session<'a> {
    plugin: &'a Path,
    src: &'a Source,
    limits: &'a Limits,
    /// Bytes the plugin has read so far; capped at `limits.max_header_bytes`.
    read: u64,
    /// Bytes of names, values and dimensions copied so far; capped at `limits.max_header_bytes`.
    copied: u64,
    index: TensorIndex,
    /// The first rule the plugin broke.
    violation: Option<Error>,
    /// The first `emit_error` message.
    message: Option<String>,
}

impl Session<'_> {
    fn path(&self) -> std::path::PathBuf {
        self.plugin.to_path_buf()
    }

    /// Records the first violation; returns the "stop" code.
    fn fail(&mut self, e: Error) -> i32 {
        if self.violation.is_none() {
            self.violation = Some(e);
        }
        1
    }

    /// Charges `n` copied bytes to the output budget.
    fn charge(&mut self, n: usize) -> Result<(), Error> {
        let limit = self.limits.max_header_bytes;
        self.copied = self.copied.saturating_add(n as u64);
        if self.copied > limit {
            return Err(Error::TooMany {
                plugin: self.path(),
                what: "bytes of names and values",
                limit,
            });
        }
        Ok(())
    }

    /// Copies a plugin string after checking its pointer, length, encoding and content.
    fn string(
        &mut self,
        what: &'static str,
        ptr: *const u8,
        len: usize,
        max: usize,
    ) -> Result<String, Error> {
        if len > max {
            return Err(Error::TooLong {
                plugin: self.path(),
                what,
                len,
                limit: max,
            });
        }
        let plugin = self.path();
        let bad = |problem| Error::BadString {
            plugin: plugin.clone(),
            what,
            problem,
        };
        if len == 0 {
            return Err(bad("empty"));
        }
        if ptr.is_null() {
            return Err(Error::NullPointer { plugin, what });
        }
        self.charge(len)?;
        // SAFETY: non-null, `len` is bounded by a limit, and the ABI requires the pointer to refer
        // to `len` readable bytes for the duration of the callback.
        let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
        let s = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        if s.chars().any(char::is_control) {
            return Err(bad("not printable"));
        }
        // Fallible: a value within the limits (up to `max_string_bytes`) that the allocator
        // cannot provide fails this file, not the process.
        let mut out = String::new();
        out.try_reserve_exact(len).map_err(|_| Error::OutOfMemory {
            plugin: self.path(),
            what,
            bytes: len as u64,
        })?;
        out.push_str(s);
        Ok(out)
    }

    fn read_at(&mut self, offset: u64, buf: *mut u8, len: usize) -> i32 {
        if self.violation.is_some() {
            return 1;
        }
        if len == 0 {
            return 0;
        }
        if buf.is_null() {
            return self.fail(Error::NullPointer {
                plugin: self.path(),
                what: "read buffer",
            });
        }
        // A read outside the file is an ordinary failure (a truncated file), not a violation: the
        // plugin is told no and reports its own error.
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.src.len() => {}
            _ => return 1,
        }
        let limit = self.limits.max_header_bytes;
        self.read = self.read.saturating_add(len as u64);
        if self.read > limit {
            return self.fail(Error::ReadBudget {
                plugin: self.path(),
                limit,
            });
        }
        // SAFETY: non-null; the ABI requires `buf` to be writable for `len` bytes for the duration
        // of the call, and `len` is within the file (so within the budget, not arbitrary).
        let dst = unsafe { std::slice::from_raw_parts_mut(buf, len) };
        match self.src.read_exact_at(offset, dst, "plugin read") {
            Ok(()) => 0,
            Err(source) => self.fail(Error::Read {
                plugin: self.path(),
                source,
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn tensor(
        &mut self,
        name: (*const u8, usize),
        dtype: (*const u8, usize),
        dims: *const u64,
        rank: usize,
        start: u64,
        end: u64,
    ) -> Result<(), Error> {
        let limit = self.limits.max_tensors;
        if self.index.tensors.len() as u64 >= limit {
            return Err(Error::TooMany {
                plugin: self.path(),
                what: "tensors",
                limit,
            });
        }
        let name = self.string("tensor name", name.0, name.1, self.limits.max_name_bytes)?;
        let dtype_name = self.string("dtype", dtype.0, dtype.1, MAX_DTYPE)?;
        if rank > self.limits.max_rank {
            return Err(Error::RankTooLarge {
                plugin: self.path(),
                tensor: name,
                rank,
                limit: self.limits.max_rank,
            });
        }
        let shape: Vec<u64> = if rank == 0 {
            Vec::new()
        } else if dims.is_null() || !dims.is_aligned() {
            return Err(Error::NullPointer {
                plugin: self.path(),
                what: "dimension array",
            });
        } else {
            self.charge(rank.saturating_mul(8))?;
            // SAFETY: non-null, aligned, `rank` is at most `max_rank`, and the ABI requires `dims`
            // to point to `rank` readable `u64`s for the duration of the callback.
            unsafe { std::slice::from_raw_parts(dims, rank) }.to_vec()
        };
        let dtype = Dtype::from_safetensors(&dtype_name);
        let numel = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
        let bits_total = numel.and_then(|n| match dtype.bits() {
            Some(b) => n.checked_mul(u64::from(b)),
            None => Some(0),
        });
        let Some(bits_total) = bits_total else {
            return Err(Error::DimsOverflow {
                plugin: self.path(),
                tensor: name,
                dims: shape,
            });
        };
        let data = if (start, end) == (NO_DATA, NO_DATA) {
            None
        } else {
            let file_len = self.src.len();
            if start > end || end > file_len {
                return Err(Error::RangeOutsideFile {
                    plugin: self.path(),
                    tensor: name,
                    start,
                    end,
                    file_len,
                });
            }
            let len = end.saturating_sub(start);
            let needed = bits_total.div_ceil(8);
            if len < needed {
                return Err(Error::RangeTooShort {
                    plugin: self.path(),
                    tensor: name,
                    needed,
                    len,
                });
            }
            Some((start, end))
        };
        if self.index.tensors.try_reserve(1).is_err() {
            return Err(Error::OutOfMemory {
                plugin: self.path(),
                what: "tensor list",
                bytes: (self.index.tensors.len() as u64).saturating_add(1),
            });
        }
        self.index.tensors.push(TensorRecord {
            name,
            dtype,
            shape,
            data,
        });
        Ok(())
    }

    fn metadata(
        &mut self,
        key: (*const u8, usize),
        value: (*const u8, usize),
    ) -> Result<(), Error> {
        let limit = self.limits.max_metadata_entries;
        if self.index.metadata.len() as u64 >= limit {
            return Err(Error::TooMany {
                plugin: self.path(),
                what: "metadata entries",
                limit,
            });
        }
        let key = self.string("metadata key", key.0, key.1, self.limits.max_name_bytes)?;
        let max_value = usize::try_from(self.limits.max_string_bytes).unwrap_or(usize::MAX);
        let value = if value.1 == 0 {
            String::new()
        } else {
            self.string("metadata value", value.0, value.1, max_value)?
        };
        if self.index.metadata.contains_key(&key) {
            return Err(Error::DuplicateMetadata {
                plugin: self.path(),
                key,
            });
        }
        self.index.metadata.insert(key, MetaValue::Str(value));
        Ok(())
    }

    fn finding(&mut self, level: u8, message: (*const u8, usize)) -> Result<(), Error> {
        if self.index.findings.len() as u64 >= MAX_FINDINGS {
            return Err(Error::TooMany {
                plugin: self.path(),
                what: "findings",
                limit: MAX_FINDINGS,
            });
        }
        let severity = match level {
            severity::INFO => Severity::Info,
            severity::SUSPICIOUS => Severity::Suspicious,
            severity::UNSAFE => Severity::Unsafe,
            value => {
                return Err(Error::BadSeverity {
                    plugin: self.path(),
                    value,
                });
            }
        };
        let message = self.string("finding message", message.0, message.1, MAX_MESSAGE)?;
        self.index.findings.push(Finding { severity, message });
        Ok(())
    }

    fn error(&mut self, message: *const u8, len: usize) {
        if self.message.is_some() {
            return;
        }
        let text = if message.is_null() || len == 0 {
            String::new()
        } else {
            let shown = len.min(MAX_MESSAGE);
            // SAFETY: non-null; the ABI requires `len` readable bytes for the duration of the
            // call, and we read at most `min(len, MAX_MESSAGE)` of them.
            let bytes = unsafe { std::slice::from_raw_parts(message, shown) };
            String::from_utf8_lossy(bytes).into_owned()
        };
        self.message = Some(text);
    }

    /// Turns the plugin's return code and what it reported into the result.
    fn finish(self, code: i32) -> Result<TensorIndex, Error> {
        if let Some(e) = self.violation {
            return Err(e);
        }
        let message = self.message.unwrap_or_default();
        match code {
            status::OK => {}
            status::PANIC => {
                return Err(Error::Panicked {
                    plugin: self.plugin.to_path_buf(),
                    message,
                });
            }
            code => {
                return Err(Error::Failed {
                    plugin: self.plugin.to_path_buf(),
                    code,
                    message,
                });
            }
        }
        // Duplicate names are found by sorting references, so no second copy of the names is kept.
        let mut names: Vec<&str> = self.index.tensors.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|w| w.first() == w.last()) {
            return Err(Error::DuplicateTensor {
                plugin: self.plugin.to_path_buf(),
                tensor: pair.first().copied().unwrap_or_default().to_owned(),
            });
        }
        Ok(self.index)
    }
}

/// Runs `f` on the session behind `ctx`; a null `ctx` or a panic in the host's own code
/// answers `on_fail` (a callback must never unwind into the plugin).
fn with_session<T>(ctx: *mut c_void, on_fail: T, f: impl FnOnce(&mut Session<'_>) -> T) -> T {
    // SAFETY: `ctx` is the `Session` that `parse_source` created and owns for the duration of the
    // plugin's `parse` call; the ABI forbids calling back after `parse` returns or from another
    // thread, so this is the only live reference.
    let Some(session) = (unsafe { ctx.cast::<Session<'_>>().as_mut() }) else {
        return on_fail;
    };
    catch_unwind(AssertUnwindSafe(|| f(session))).unwrap_or(on_fail)
}

fn into_code(session: &mut Session<'_>, r: Result<(), Error>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => session.fail(e),
    }
}

unsafe extern "C" fn cb_read_at(ctx: *mut c_void, offset: u64, buf: *mut u8, len: usize) -> i32 {
    with_session(ctx, 1, |s| s.read_at(offset, buf, len))
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn cb_emit_tensor(
    ctx: *mut c_void,
    name: *const u8,
    name_len: usize,
    dtype: *const u8,
    dtype_len: usize,
    dims: *const u64,
    rank: usize,
    data_start: u64,
    data_end: u64,
) -> i32 {
    with_session(ctx, 1, |s| {
        if s.violation.is_some() {
            return 1;
        }
        let r = s.tensor(
            (name, name_len),
            (dtype, dtype_len),
            dims,
            rank,
            data_start,
            data_end,
        );
        into_code(s, r)
    })
}

unsafe extern "C" fn cb_emit_metadata(
    ctx: *mut c_void,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> i32 {
    with_session(ctx, 1, |s| {
        if s.violation.is_some() {
            return 1;
        }
        let r = s.metadata((key, key_len), (value, value_len));
        into_code(s, r)
    })
}

unsafe extern "C" fn cb_emit_finding(
    ctx: *mut c_void,
    level: u8,
    message: *const u8,
    len: usize,
) -> i32 {
    with_session(ctx, 1, |s| {
        if s.violation.is_some() {
            return 1;
        }
        let r = s.finding(level, (message, len));
        into_code(s, r)
    })
}

unsafe extern "C" fn cb_emit_error(ctx: *mut c_void, _code: i32, message: *const u8, len: usize) {
    with_session(ctx, (), |s| s.error(message, len));
}

/// Builds the host API for one file, lets `plugin` call back through it, and validates what it
/// reported. `plugin` stands for a plugin's `parse` entry (real or, for fuzzing, scripted).
fn run_session(
    plugin_path: &Path,
    name: &'static str,
    src: &Source,
    limits: &Limits,
    plugin: impl FnOnce(&HostApiV1) -> i32,
) -> Result<TensorIndex, Error> {
    let mut session = Session {
        plugin: plugin_path,
        src,
        limits,
        read: 0,
        copied: 0,
        index: TensorIndex::new(name),
        violation: None,
        message: None,
    };
    let ctx: *mut Session<'_> = &mut session;
    let api = HostApiV1 {
        struct_size: size_of::<HostApiV1>() as u32,
        abi_version: ABI_VERSION,
        ctx: ctx.cast(),
        file_len: src.len(),
        read_at: cb_read_at,
        emit_tensor: cb_emit_tensor,
        emit_metadata: cb_emit_metadata,
        emit_finding: cb_emit_finding,
        emit_error: cb_emit_error,
    };
    let code = plugin(&api);
    session.finish(code)
}

/// Fuzzing entry (not a stable API): runs the validator on a "plugin" that calls back through
/// the real host callbacks as `script` says, then returns `code`, on the file `src`.
///
/// Every call passes real buffers of the lengths it claims, as the ABI requires of plugins; the
/// lengths, ranks, counts, ranges, bytes and order are arbitrary.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub fn fuzz_validate(
    src: &Source,
    limits: &Limits,
    script: &[FuzzCall],
    code: i32,
) -> Result<TensorIndex, Error> {
    run_session(Path::new("fuzz-plugin"), "fuzz", src, limits, |api| {
        for call in script {
            let ctx = api.ctx;
            // SAFETY: every callback is called during the session, on its thread, with `ctx` from
            // `api` and with pointers to live buffers of exactly the lengths passed.
            let stop = unsafe {
                match call {
                    FuzzCall::Read { offset, len } => {
                        let mut buf = vec![0u8; usize::from(*len)];
                        (api.read_at)(ctx, *offset, buf.as_mut_ptr(), buf.len())
                    }
                    FuzzCall::Tensor {
                        name,
                        dtype,
                        dims,
                        start,
                        end,
                    } => (api.emit_tensor)(
                        ctx,
                        name.as_ptr(),
                        name.len(),
                        dtype.as_ptr(),
                        dtype.len(),
                        dims.as_ptr(),
                        dims.len(),
                        *start,
                        *end,
                    ),
                    FuzzCall::Metadata { key, value } => (api.emit_metadata)(
                        ctx,
                        key.as_ptr(),
                        key.len(),
                        value.as_ptr(),
                        value.len(),
                    ),
                    FuzzCall::Finding { level, message } => {
                        (api.emit_finding)(ctx, *level, message.as_ptr(), message.len())
                    }
                    FuzzCall::Error { message } => {
                        (api.emit_error)(ctx, 1, message.as_ptr(), message.len());
                        0
                    }
                }
            };
            if stop != 0 {
                break;
            }
        }
        code
    })
}

/// One scripted plugin callback for [`fuzz_validate`].
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub enum FuzzCall {
    Read {
        offset: u64,
        len: u16,
    },
    Tensor {
        name: Vec<u8>,
        dtype: Vec<u8>,
        dims: Vec<u64>,
        start: u64,
        end: u64,
    },
    Metadata {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Finding {
        level: u8,
        message: Vec<u8>,
    },
    Error {
        message: Vec<u8>,
    },
}

impl LoadedPlugin {
    /// Runs the plugin on `src` and validates what it reports, with the plugin's own error type.
    /// [`mir_core::Format::parse`] wraps this.
    pub fn parse_source(&self, src: &Source, limits: &Limits) -> Result<TensorIndex, Error> {
        let parse = self.parse;
        run_session(&self.info.path, self.name, src, limits, |api| {
            // SAFETY: `parse` comes from a table that passed the ABI handshake, and the library it
            // lives in is kept loaded by `self`. `api` and the session behind its `ctx` outlive
            // the call, and the session is not touched until it returns.
            unsafe { parse(api) }
        })
    }

    /// Asks the plugin about a file's first bytes.
    pub fn sniff_bytes(&self, head: &[u8], file_len: u64, extension: Option<&str>) -> Sniff {
        // SAFETY: `sniff` comes from a validated table of a library `self` keeps loaded; `head`
        // is a live slice passed with its exact length.
        let answer = unsafe { (self.sniff)(head.as_ptr(), head.len(), file_len) };
        match answer {
            sniff::MAGIC => Sniff::Magic,
            sniff::LIKELY => Sniff::Likely,
            sniff::NEUTRAL if extension.is_some_and(|e| self.extensions.contains(&e)) => {
                Sniff::Extension
            }
            // NO, NEUTRAL without a matching extension, and any value the ABI does not define.
            _ => Sniff::No,
        }
    }
}

impl mir_core::Format for LoadedPlugin {
    fn name(&self) -> &'static str {
        self.name
    }

    fn extensions(&self) -> &'static [&'static str] {
        self.extensions
    }

    fn sniff(&self, head: &[u8], file_len: u64, extension: Option<&str>) -> Sniff {
        self.sniff_bytes(head, file_len, extension)
    }

    fn parse(&self, src: &Source, limits: &Limits) -> Result<TensorIndex, mir_core::Error> {
        self.parse_source(src, limits).map_err(|e| match e {
            // I/O and truncation keep their own core variants, as for built-in formats.
            Error::Read { source, .. } => source,
            Error::OutOfMemory { what, bytes, .. } => mir_core::Error::OutOfMemory { what, bytes },
            other => mir_core::Error::format(self.name, other),
        })
    }
}

#[cfg(all(test, feature = "fuzzing"))]
#[allow(clippy::unwrap_used, clippy::panic)]
mod fuzz_entry_tests {
    use super::*;

    fn tensor(name: &[u8], start: u64, end: u64) -> FuzzCall {
        FuzzCall::Tensor {
            name: name.to_vec(),
            dtype: b"U8".to_vec(),
            dims: vec![4],
            start,
            end,
        }
    }

    #[test]
    fn scripted_calls_go_through_the_real_validator() {
        let src = Source::from_bytes("f.bin", vec![0u8; 8]);
        let limits = Limits::default();
        let ok = fuzz_validate(&src, &limits, &[tensor(b"a", 0, 4), tensor(b"b", 4, 8)], 0);
        assert_eq!(ok.unwrap().tensors.len(), 2);
        let past = fuzz_validate(&src, &limits, &[tensor(b"a", 4, 12)], 0).unwrap_err();
        assert!(
            matches!(past, Error::RangeOutsideFile { end: 12, .. }),
            "{past:?}"
        );
        let dup = fuzz_validate(&src, &limits, &[tensor(b"a", 0, 4), tensor(b"a", 4, 8)], 0);
        assert!(matches!(dup, Err(Error::DuplicateTensor { .. })), "{dup:?}");
        let failed = fuzz_validate(&src, &limits, &[], 7).unwrap_err();
        assert!(
            matches!(failed, Error::Failed { code: 7, .. }),
            "{failed:?}"
        );
    }
}
