//! Write `mir` format plugins in safe Rust.
//!
//! Implement [`Plugin`] for a unit type and call [`export_plugin!`] once in a `cdylib` crate:
//!
//! ```
//! use mir_plugin_sdk::{Confidence, Emitter, HostReader, Plugin, PluginError, export_plugin};
//!
//! struct Raw;
//!
//! impl Plugin for Raw {
//!     const NAME: &'static str = "raw";
//!     const VERSION: &'static str = "0.1.0";
//!     const EXTENSIONS: &'static [&'static str] = &["raw"];
//!
//!     fn sniff(head: &[u8], _file_len: u64) -> Confidence {
//!         if head.starts_with(b"RAW1") { Confidence::Magic } else { Confidence::No }
//!     }
//!
//!     fn parse(reader: &mut HostReader<'_>, out: &mut Emitter<'_>) -> Result<(), PluginError> {
//!         let mut n = [0u8; 4];
//!         reader.read_at(4, &mut n)?;
//!         let len = u64::from(u32::from_le_bytes(n));
//!         // `len * 4` cannot overflow: `len` came from a u32.
//!         out.tensor("data", "F32", &[len], Some((8, 8 + len * 4)))
//!     }
//! }
//!
//! export_plugin!(Raw);
//! ```
//!
//! The macro exports `mir_plugin_entry_v1` and `extern "C"` shims that run every trait call inside
//! [`std::panic::catch_unwind`]: a panic becomes the status code
//! [`mir_plugin_abi::status::PANIC`] and a message for the host instead of
//! aborting the host process. (A plugin built with `panic = "abort"` still aborts; do not use it.)
//!
//! Rules the host enforces on what a plugin reports are listed in this crate's `README.md`.

#![deny(missing_docs)]

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

pub use mir_plugin_abi as abi;
use mir_plugin_abi::{HostApiV1, MirStr, NO_DATA, PluginVTableV1, status};

/// How sure a plugin is, from a file's first bytes, that the file is its format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confidence {
    /// The bytes are not this format.
    No,
    /// The bytes neither confirm nor contradict it; the host goes by the file's extension.
    Neutral,
    /// The bytes pass a structural check.
    Likely,
    /// The bytes carry the format's magic.
    Magic,
}

impl Confidence {
    /// The ABI's [`abi::sniff`] constant.
    pub const fn code(self) -> u8 {
        match self {
            Confidence::No => abi::sniff::NO,
            Confidence::Neutral => abi::sniff::NEUTRAL,
            Confidence::Likely => abi::sniff::LIKELY,
            Confidence::Magic => abi::sniff::MAGIC,
        }
    }
}

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Outside what a plain weight file needs.
    Suspicious,
    /// Would execute code if the file were loaded naively.
    Unsafe,
}

/// Why a plugin could not read a file. The variant picks the status code the host sees.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The file is malformed or not this format.
    #[error("{0}")]
    Format(String),
    /// The file is well-formed but uses something the plugin does not support.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The host refused a read (outside the file, over its read budget, or an I/O error).
    #[error("the host refused to read {len} bytes at offset {offset}")]
    Read {
        /// The requested offset.
        offset: u64,
        /// The requested length.
        len: u64,
    },
    /// A host callback asked the plugin to stop (the host already knows why).
    #[error("stopped by the host")]
    Stopped,
}

impl PluginError {
    /// A [`PluginError::Format`] with this message.
    pub fn format(message: impl Into<String>) -> Self {
        PluginError::Format(message.into())
    }

    /// The ABI [`abi::status`] code for this error.
    pub fn code(&self) -> i32 {
        match self {
            PluginError::Format(_) => status::FORMAT,
            PluginError::Unsupported(_) => status::UNSUPPORTED,
            PluginError::Read { .. } => status::READ,
            PluginError::Stopped => status::STOPPED,
        }
    }
}

/// A format plugin. All functions are associated functions: a plugin keeps no state between
/// calls, and the host may call them from several threads at once.
pub trait Plugin {
    /// The format's short lowercase name (`[a-z0-9._-]`, at most 64 bytes), used as
    /// `TensorIndex::format` in `mir`'s output.
    const NAME: &'static str;
    /// The plugin's own version, shown by `mir plugins`.
    const VERSION: &'static str;
    /// File extensions the format uses, lowercase without the dot.
    const EXTENSIONS: &'static [&'static str];

    /// Judges a file from its first bytes (at most 64) and its length. Must be cheap.
    fn sniff(head: &[u8], file_len: u64) -> Confidence;

    /// Reads the file's header through `reader` and reports what it declares through `out`.
    fn parse(reader: &mut HostReader<'_>, out: &mut Emitter<'_>) -> Result<(), PluginError>;
}

/// Reads the file being parsed, through the host. Also a [`io::Read`] + [`io::Seek`] cursor, for
/// crates such as `zip` that want one.
#[derive(Debug)]
pub struct HostReader<'a> {
    api: &'a HostApiV1,
    pos: u64,
}

impl<'a> HostReader<'a> {
    /// Wraps the host table given to `parse` (used by [`export_plugin!`]).
    pub fn new(api: &'a HostApiV1) -> Self {
        HostReader { api, pos: 0 }
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.api.file_len
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.api.file_len == 0
    }

    /// Fills `buf` with the file's bytes at `offset`.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), PluginError> {
        let err = PluginError::Read {
            offset,
            len: buf.len() as u64,
        };
        if buf.is_empty() {
            return Ok(());
        }
        // SAFETY: `read_at` and `ctx` come from the host table handed to this `parse` call and are
        // valid until it returns; `buf` is a live, writable buffer of exactly `buf.len()` bytes,
        // and the contract lets the host write at most that many.
        let rc = unsafe { (self.api.read_at)(self.api.ctx, offset, buf.as_mut_ptr(), buf.len()) };
        if rc == 0 { Ok(()) } else { Err(err) }
    }

    /// Reads `len` bytes at `offset` into a new buffer, after checking `len <= limit` and that the
    /// range lies inside the file, so a hostile length allocates nothing.
    pub fn read_vec(&self, offset: u64, len: u64, limit: u64) -> Result<Vec<u8>, PluginError> {
        let err = PluginError::Read { offset, len };
        let end = offset
            .checked_add(len)
            .ok_or_else(|| PluginError::format("range overflows"))?;
        if len > limit {
            return Err(PluginError::format(format!(
                "{len} bytes requested, over the plugin's limit of {limit}"
            )));
        }
        if end > self.len() {
            return Err(err);
        }
        let n =
            usize::try_from(len).map_err(|_| PluginError::format("length does not fit memory"))?;
        let mut buf = vec![0u8; n];
        self.read_at(offset, &mut buf)?;
        Ok(buf)
    }
}

impl io::Read for HostReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let remaining = self.len().saturating_sub(self.pos);
        let n = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let Some(dst) = buf.get_mut(..n) else {
            return Ok(0);
        };
        if n == 0 {
            return Ok(0);
        }
        self.read_at(self.pos, dst)
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.pos = self.pos.saturating_add(n as u64);
        Ok(n)
    }
}

impl io::Seek for HostReader<'_> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let new = match pos {
            io::SeekFrom::Start(p) => Some(p),
            io::SeekFrom::End(d) => self.len().checked_add_signed(d),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek out of range"))?;
        self.pos = new;
        Ok(new)
    }
}

/// Reports tensors, metadata and findings to the host.
#[derive(Debug)]
pub struct Emitter<'a> {
    api: &'a HostApiV1,
}

impl<'a> Emitter<'a> {
    /// Wraps the host table given to `parse` (used by [`export_plugin!`]).
    pub fn new(api: &'a HostApiV1) -> Self {
        Emitter { api }
    }

    /// Reports a tensor: `dtype` in safetensors spelling (`F16`, `BF16`, `I64`, `BOOL`, …), the
    /// logical shape outermost first, and the absolute byte range of its data when known.
    pub fn tensor(
        &mut self,
        name: &str,
        dtype: &str,
        shape: &[u64],
        data: Option<(u64, u64)>,
    ) -> Result<(), PluginError> {
        let (start, end) = data.unwrap_or((NO_DATA, NO_DATA));
        // SAFETY: the callback and `ctx` are valid during this `parse` call; every pointer refers
        // to a live slice whose exact length is passed beside it, and the host only reads them.
        let rc = unsafe {
            (self.api.emit_tensor)(
                self.api.ctx,
                name.as_ptr(),
                name.len(),
                dtype.as_ptr(),
                dtype.len(),
                shape.as_ptr(),
                shape.len(),
                start,
                end,
            )
        };
        stop_if(rc)
    }

    /// The raw host table, for reporting something the safe methods cannot express (a test
    /// plugin that sends invalid UTF-8, say). Calling its functions is `unsafe`.
    pub fn host_api(&self) -> &'a HostApiV1 {
        self.api
    }

    /// Reports a metadata entry.
    pub fn metadata(&mut self, key: &str, value: &str) -> Result<(), PluginError> {
        // SAFETY: as in `tensor`: valid callback, live slices with their exact lengths.
        let rc = unsafe {
            (self.api.emit_metadata)(
                self.api.ctx,
                key.as_ptr(),
                key.len(),
                value.as_ptr(),
                value.len(),
            )
        };
        stop_if(rc)
    }

    /// Reports a finding, e.g. a structure that would run code when loaded naively.
    pub fn finding(&mut self, severity: Severity, message: &str) -> Result<(), PluginError> {
        let level = match severity {
            Severity::Info => abi::severity::INFO,
            Severity::Suspicious => abi::severity::SUSPICIOUS,
            Severity::Unsafe => abi::severity::UNSAFE,
        };
        // SAFETY: as in `tensor`: valid callback, a live slice with its exact length.
        let rc = unsafe {
            (self.api.emit_finding)(self.api.ctx, level, message.as_ptr(), message.len())
        };
        stop_if(rc)
    }
}

fn stop_if(rc: i32) -> Result<(), PluginError> {
    if rc == 0 {
        Ok(())
    } else {
        Err(PluginError::Stopped)
    }
}

/// Items [`export_plugin!`] expands to. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    use super::*;

    /// The plugin table in a `static`. Raw pointers are not `Sync`, so it needs this wrapper.
    #[repr(transparent)]
    #[derive(Debug)]
    pub struct StaticVTable(pub PluginVTableV1);

    // SAFETY: the table is never mutated and its pointers refer to immutable `'static` data
    // (string literals and a `static` array) and to functions, all safe to share across threads.
    unsafe impl Sync for StaticVTable {}

    /// The extension list in a `static`.
    #[repr(transparent)]
    #[derive(Debug)]
    pub struct StaticStrs<const N: usize>(pub [MirStr; N]);

    // SAFETY: as for `StaticVTable`: immutable pointers to `'static` string literals.
    unsafe impl<const N: usize> Sync for StaticStrs<N> {}

    impl<const N: usize> StaticStrs<N> {
        /// Converts `strs` (which must have `N` elements; checked at compile time).
        pub const fn new(strs: &'static [&'static str]) -> Self {
            assert!(strs.len() == N, "extension count mismatch");
            let mut out = [MirStr::from_static(""); N];
            let mut i = 0;
            while i < N {
                out[i] = MirStr::from_static(strs[i]);
                i += 1;
            }
            StaticStrs(out)
        }
    }

    /// Builds the table for `P` around its extension array.
    pub const fn vtable<P: Plugin>(extensions: &'static [MirStr]) -> PluginVTableV1 {
        PluginVTableV1 {
            abi_version: abi::ABI_VERSION,
            struct_size: size_of::<PluginVTableV1>() as u32,
            name: MirStr::from_static(P::NAME),
            version: MirStr::from_static(P::VERSION),
            extensions: extensions.as_ptr(),
            extensions_len: extensions.len(),
            sniff: Some(sniff_shim::<P>),
            parse: Some(parse_shim::<P>),
        }
    }

    /// The `extern "C"` sniff function: catches panics (a panicking sniff answers "no").
    ///
    /// # Safety
    /// `head` must point to `head_len` readable bytes (or `head_len` must be 0).
    pub unsafe extern "C" fn sniff_shim<P: Plugin>(
        head: *const u8,
        head_len: usize,
        file_len: u64,
    ) -> u8 {
        let head: &[u8] = if head.is_null() || head_len == 0 {
            &[]
        } else {
            // SAFETY: the host passes a pointer to `head_len` initialised bytes it keeps alive and
            // unmodified for the duration of this call.
            unsafe { std::slice::from_raw_parts(head, head_len) }
        };
        match catch_unwind(|| P::sniff(head, file_len).code()) {
            Ok(code) => code,
            Err(payload) => {
                // Dropping a panic payload can itself panic; leaking it cannot.
                std::mem::forget(payload);
                abi::sniff::NO
            }
        }
    }

    /// The `extern "C"` parse function: runs [`Plugin::parse`] inside `catch_unwind` and reports
    /// its error (or panic message) through `emit_error`.
    ///
    /// # Safety
    /// `host` must be null or point to a valid [`HostApiV1`] that outlives the call.
    pub unsafe extern "C" fn parse_shim<P: Plugin>(host: *const HostApiV1) -> i32 {
        if host.is_null() {
            return status::FORMAT;
        }
        // SAFETY: non-null, and the host guarantees it points to a live `HostApiV1` for this call.
        let api: HostApiV1 = unsafe { *host };
        if (api.struct_size as usize) < size_of::<HostApiV1>() {
            // The callbacks cannot be trusted to exist; say nothing and fail.
            return status::UNSUPPORTED;
        }
        let run = catch_unwind(AssertUnwindSafe(|| {
            let mut reader = HostReader::new(&api);
            let mut out = Emitter::new(&api);
            match P::parse(&mut reader, &mut out) {
                Ok(()) => status::OK,
                Err(e) => {
                    report(&api, e.code(), &e.to_string());
                    e.code()
                }
            }
        }));
        match run {
            Ok(code) => code,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a non-string panic payload".to_owned());
                // Dropping a panic payload can itself panic; leaking it cannot.
                std::mem::forget(payload);
                report(&api, status::PANIC, &format!("plugin panicked: {message}"));
                status::PANIC
            }
        }
    }

    fn report(api: &HostApiV1, code: i32, message: &str) {
        // SAFETY: `emit_error` and `ctx` are valid during this `parse` call; the message is a live
        // slice passed with its exact length.
        unsafe { (api.emit_error)(api.ctx, code, message.as_ptr(), message.len()) }
    }
}

/// Exports a [`Plugin`] type as a `mir` plugin: generates the `mir_plugin_entry_v1` symbol, the
/// static table and the panic-catching `extern "C"` shims. Use it once per `cdylib`.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        const _: () = {
            const N: usize = <$plugin as $crate::Plugin>::EXTENSIONS.len();
            static EXTENSIONS: $crate::__private::StaticStrs<N> =
                $crate::__private::StaticStrs::new(<$plugin as $crate::Plugin>::EXTENSIONS);
            static VTABLE: $crate::__private::StaticVTable = $crate::__private::StaticVTable(
                $crate::__private::vtable::<$plugin>(&EXTENSIONS.0),
            );

            /// The plugin's entry point (ABI version 1). `no_mangle` exports it from the library
            /// whatever its Rust visibility.
            #[unsafe(no_mangle)]
            extern "C" fn mir_plugin_entry_v1() -> *const $crate::abi::PluginVTableV1 {
                &VTABLE.0
            }
        };
    };
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    //! The shims against a fake host written in Rust.

    use super::*;
    use std::ffi::c_void;

    #[derive(Default)]
    struct Fake {
        data: Vec<u8>,
        tensors: Vec<(String, String, Vec<u64>, u64, u64)>,
        errors: Vec<(i32, String)>,
        refuse_tensors: bool,
    }

    fn fake(ctx: *mut c_void) -> &'static mut Fake {
        // SAFETY: every test passes a pointer to a live `Fake` it owns for the call.
        unsafe { &mut *ctx.cast::<Fake>() }
    }

    fn text(p: *const u8, n: usize) -> String {
        // SAFETY: the SDK passes live slices with their lengths.
        String::from_utf8(unsafe { std::slice::from_raw_parts(p, n) }.to_vec()).unwrap()
    }

    unsafe extern "C" fn read_at(ctx: *mut c_void, offset: u64, buf: *mut u8, len: usize) -> i32 {
        let f = fake(ctx);
        let Some(src) = f.data.get(offset as usize..offset as usize + len) else {
            return 1;
        };
        // SAFETY: `buf` is writable for `len` bytes by contract.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), buf, len) };
        0
    }

    #[allow(clippy::too_many_arguments)]
    unsafe extern "C" fn emit_tensor(
        ctx: *mut c_void,
        name: *const u8,
        name_len: usize,
        dtype: *const u8,
        dtype_len: usize,
        dims: *const u64,
        rank: usize,
        start: u64,
        end: u64,
    ) -> i32 {
        let f = fake(ctx);
        if f.refuse_tensors {
            return 1;
        }
        // SAFETY: `dims` points to `rank` values by contract.
        let dims = unsafe { std::slice::from_raw_parts(dims, rank) }.to_vec();
        f.tensors.push((
            text(name, name_len),
            text(dtype, dtype_len),
            dims,
            start,
            end,
        ));
        0
    }

    unsafe extern "C" fn emit_metadata(
        _: *mut c_void,
        _: *const u8,
        _: usize,
        _: *const u8,
        _: usize,
    ) -> i32 {
        0
    }

    unsafe extern "C" fn emit_finding(_: *mut c_void, _: u8, _: *const u8, _: usize) -> i32 {
        0
    }

    unsafe extern "C" fn emit_error(ctx: *mut c_void, code: i32, message: *const u8, len: usize) {
        fake(ctx).errors.push((code, text(message, len)));
    }

    fn api(f: &mut Fake) -> HostApiV1 {
        HostApiV1 {
            struct_size: size_of::<HostApiV1>() as u32,
            abi_version: abi::ABI_VERSION,
            ctx: (f as *mut Fake).cast(),
            file_len: f.data.len() as u64,
            read_at,
            emit_tensor,
            emit_metadata,
            emit_finding,
            emit_error,
        }
    }

    struct Toy;

    impl Plugin for Toy {
        const NAME: &'static str = "toy";
        const VERSION: &'static str = "1.2.3";
        const EXTENSIONS: &'static [&'static str] = &["toy", "toys"];

        fn sniff(head: &[u8], _: u64) -> Confidence {
            match head.first() {
                Some(b'!') => panic!("sniff boom"),
                Some(b'T') => Confidence::Magic,
                _ => Confidence::No,
            }
        }

        fn parse(reader: &mut HostReader<'_>, out: &mut Emitter<'_>) -> Result<(), PluginError> {
            let head = reader.read_vec(0, reader.len().min(8), 8)?;
            match head.get(1) {
                Some(b'p') => panic!("parse boom"),
                Some(b'r') => reader.read_vec(4, 100, 1000).map(drop),
                Some(b'l') => reader.read_vec(0, 100, 10).map(drop),
                _ => {
                    out.tensor("w", "F16", &[2, 3], Some((8, 20)))?;
                    out.tensor("b", "F16", &[3], None)
                }
            }
        }
    }

    export_plugin!(Toy);

    // The macro's entry function is not nameable (it sits in an anonymous `const`); reach it by
    // its exported symbol name, as a host does.
    unsafe extern "C" {
        fn mir_plugin_entry_v1() -> *const PluginVTableV1;
    }

    fn run(data: &[u8], refuse: bool) -> (i32, Fake) {
        let mut f = Fake {
            data: data.to_vec(),
            refuse_tensors: refuse,
            ..Fake::default()
        };
        let host = api(&mut f);
        // SAFETY: `host` points to a valid table whose ctx is `f`, alive for the call.
        let code = unsafe { __private::parse_shim::<Toy>(&host) };
        (code, f)
    }

    #[test]
    fn the_exported_table_describes_the_plugin() {
        // SAFETY: the symbol generated above; the table is static.
        let t = unsafe { &*mir_plugin_entry_v1() };
        assert_eq!(t.abi_version, abi::ABI_VERSION);
        assert_eq!(t.struct_size as usize, size_of::<PluginVTableV1>());
        assert_eq!(text(t.name.ptr, t.name.len), "toy");
        assert_eq!(text(t.version.ptr, t.version.len), "1.2.3");
        assert_eq!(t.extensions_len, 2);
        // SAFETY: two extensions, as checked above.
        let second = unsafe { *t.extensions.add(1) };
        assert_eq!(text(second.ptr, second.len), "toys");
        assert!(t.sniff.is_some() && t.parse.is_some());
    }

    #[test]
    fn tensors_flow_out_through_the_callbacks() {
        let (code, f) = run(b"T.......................", false);
        assert_eq!(code, status::OK);
        assert_eq!(f.tensors[0], ("w".into(), "F16".into(), vec![2, 3], 8, 20));
        assert_eq!(
            f.tensors[1],
            ("b".into(), "F16".into(), vec![3], NO_DATA, NO_DATA)
        );
        assert!(f.errors.is_empty());
    }

    #[test]
    fn panics_become_status_codes_with_messages() {
        let (code, f) = run(b"Tp", false);
        assert_eq!(code, status::PANIC);
        assert_eq!(
            f.errors,
            vec![(status::PANIC, "plugin panicked: parse boom".to_owned())]
        );
        // SAFETY: a valid two-byte buffer.
        let answer = unsafe { __private::sniff_shim::<Toy>(b"!x".as_ptr(), 2, 2) };
        assert_eq!(answer, abi::sniff::NO);
        // SAFETY: null with length 0 is allowed.
        let answer = unsafe { __private::sniff_shim::<Toy>(std::ptr::null(), 0, 0) };
        assert_eq!(answer, abi::sniff::NO);
        // SAFETY: a valid one-byte buffer.
        let answer = unsafe { __private::sniff_shim::<Toy>(b"T".as_ptr(), 1, 1) };
        assert_eq!(answer, abi::sniff::MAGIC);
    }

    #[test]
    fn errors_carry_their_codes() {
        let (code, f) = run(b"Tr......", false);
        assert_eq!(code, status::READ);
        assert_eq!(f.errors[0].0, status::READ);
        let (code, f) = run(b"Tl......", false);
        assert_eq!(code, status::FORMAT);
        assert!(f.errors[0].1.contains("limit of 10"), "{:?}", f.errors);
        let (code, f) = run(b"T.......", true);
        assert_eq!(code, status::STOPPED);
        assert_eq!(
            f.errors[0],
            (status::STOPPED, "stopped by the host".to_owned())
        );
    }

    #[test]
    fn a_null_or_short_host_table_is_refused_without_callbacks() {
        // SAFETY: null is allowed and refused.
        let code = unsafe { __private::parse_shim::<Toy>(std::ptr::null()) };
        assert_eq!(code, status::FORMAT);
        let mut f = Fake::default();
        let mut host = api(&mut f);
        host.struct_size = 8;
        // SAFETY: a valid table, declared short.
        let code = unsafe { __private::parse_shim::<Toy>(&host) };
        assert_eq!(code, status::UNSUPPORTED);
        assert!(f.errors.is_empty());
    }

    #[test]
    fn the_reader_is_read_and_seek() {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = Fake {
            data: b"0123456789".to_vec(),
            ..Fake::default()
        };
        let host = api(&mut f);
        let mut r = HostReader::new(&host);
        r.seek(SeekFrom::End(-3)).unwrap();
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!(out, "789");
        assert!(r.seek(SeekFrom::Current(-100)).is_err());
    }
}
