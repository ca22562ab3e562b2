//! The C ABI between `mir` and its run-time format plugins.
//!
//! This crate holds only `#[repr(C)]` types, `extern "C"` function-pointer types and constants.
//! It has no dependencies and does not use `std`, so a plugin written in any language that can
//! produce a C shared library can implement it; `include/mir_plugin.h` is the same contract in C.
//!
//! # The contract (version 1)
//!
//! * A plugin is a shared library exporting one symbol, [`ENTRY_SYMBOL`]
//!   (`mir_plugin_entry_v1`), of type [`EntryFn`]. It returns a pointer to a
//!   [`PluginVTableV1`] that lives as long as the library stays loaded. The entry function must
//!   have no side effects; the host may call it more than once.
//! * The host reads [`PluginVTableV1::abi_version`] and [`PluginVTableV1::struct_size`] before it
//!   touches any other field or calls any function, and refuses the plugin unless
//!   `abi_version == ABI_VERSION` and `struct_size >= size_of::<PluginVTableV1>()`.
//! * **Bytes in.** The plugin never sees a path and does no I/O. `sniff` gets the file's first
//!   bytes; `parse` gets a [`HostApiV1`] whose `read_at` callback copies file bytes into a buffer
//!   the plugin owns.
//! * **Callbacks out.** `parse` reports tensors, metadata, findings and its error message through
//!   the `emit_*` callbacks. Every string is a pointer and a byte length (UTF-8, not
//!   NUL-terminated) that only has to stay valid for the duration of the callback. The host copies
//!   what it keeps, so **no allocation crosses the boundary and nothing is ever freed across it**.
//! * A callback returning non-zero means "stop": the host has rejected the output (a limit or a
//!   validation rule) and the plugin should return from `parse` promptly.
//! * `sniff` and `parse` may be called concurrently from several threads, each call with its own
//!   [`HostApiV1`]; they must not keep state between calls, and must not keep the `ctx` pointer or
//!   any callback after they return.
//! * A Rust plugin must not let a panic unwind out of an `extern "C"` function (since Rust 1.81
//!   that aborts the host); `mir-plugin-sdk`'s `export_plugin!` catches panics for you.
//!
//! # Versioning
//!
//! The major version is part of the entry symbol's name (`_v1`) and of every struct's name. Minor
//! revisions only **append** fields to the end of a struct; the reader of a struct checks its
//! `struct_size` before reading an appended field. Anything else (a removed or reordered field, a
//! changed signature) is a new major version with a new entry symbol, and a host may export both.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use core::ffi::{CStr, c_void};

/// The ABI major version this crate describes; [`PluginVTableV1::abi_version`] must equal it.
pub const ABI_VERSION: u32 = 1;

/// The name of the one symbol a version-1 plugin exports.
pub const ENTRY_SYMBOL: &CStr = c"mir_plugin_entry_v1";

/// `data_start` and `data_end` both set to this value mean "the byte range is not known" (for
/// example a compressed archive member).
pub const NO_DATA: u64 = u64::MAX;

/// What a plugin's `sniff` function answers.
pub mod sniff {
    /// The bytes are not this format.
    pub const NO: u8 = 0;
    /// The bytes neither confirm nor contradict this format; the host then goes by the file's
    /// extension alone.
    pub const NEUTRAL: u8 = 1;
    /// The bytes pass a structural check but carry no magic.
    pub const LIKELY: u8 = 2;
    /// The bytes carry this format's magic.
    pub const MAGIC: u8 = 3;
}

/// Status codes: the return value of `parse` and the `code` of `emit_error`.
pub mod status {
    /// Success.
    pub const OK: i32 = 0;
    /// The file is malformed or not this format.
    pub const FORMAT: i32 = 1;
    /// A `read_at` call failed (the range is outside the file, or an I/O error).
    pub const READ: i32 = 2;
    /// The file is well-formed but uses a feature the plugin does not support.
    pub const UNSUPPORTED: i32 = 3;
    /// The plugin panicked (or hit an internal bug) and recovered.
    pub const PANIC: i32 = 4;
    /// A host callback returned non-zero and the plugin stopped as asked.
    pub const STOPPED: i32 = 5;
}

/// Severities for `emit_finding`.
pub mod severity {
    /// Worth knowing.
    pub const INFO: u8 = 0;
    /// Outside what a plain weight file needs.
    pub const SUSPICIOUS: u8 = 1;
    /// Would execute code or touch the system if loaded naively (e.g. a pickled object array).
    pub const UNSAFE: u8 = 2;
}

/// A UTF-8 string as a pointer and a byte length (not NUL-terminated).
///
/// In the [`PluginVTableV1`] the bytes live as long as the library stays loaded.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MirStr {
    /// The first byte; may be dangling (but not null) when `len` is 0.
    pub ptr: *const u8,
    /// The length in bytes.
    pub len: usize,
}

impl MirStr {
    /// Points at a `'static` Rust string (usable in `static` initialisers).
    pub const fn from_static(s: &'static str) -> MirStr {
        MirStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }
}

/// The entry symbol's type: returns the plugin's table, or null to refuse to load.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginVTableV1;

/// Judges a file from its first `head_len` bytes (at most 64) and its total length; returns one of
/// the [`sniff`] constants. Must not fail, allocate much or block.
pub type SniffFn = unsafe extern "C" fn(head: *const u8, head_len: usize, file_len: u64) -> u8;

/// Parses one file through `host`; returns a [`status`] code. On failure it should first call
/// `emit_error` with a message.
pub type ParseFn = unsafe extern "C" fn(host: *const HostApiV1) -> i32;

/// The table a plugin's entry symbol returns. Field order is fixed; later 1.x revisions only append.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PluginVTableV1 {
    /// Must equal [`ABI_VERSION`]. Read first.
    pub abi_version: u32,
    /// `size_of::<PluginVTableV1>()` as the plugin was compiled; read second.
    pub struct_size: u32,
    /// The format's short lowercase name (`npy`): ASCII letters, digits, `-`, `_`, `.`, at most 64
    /// bytes. It becomes `TensorIndex::format` in `mir`'s output.
    pub name: MirStr,
    /// The plugin's own version (free text, at most 64 bytes), shown by `mir plugins`.
    pub version: MirStr,
    /// File extensions the format uses: lowercase, no dot. Points at `extensions_len` strings.
    pub extensions: *const MirStr,
    /// How many extensions (at most 32).
    pub extensions_len: usize,
    /// The sniff function (required).
    pub sniff: Option<SniffFn>,
    /// The parse function (required).
    pub parse: Option<ParseFn>,
}

/// Copies `len` bytes of the file at `offset` into `buf`. Returns 0 on success, non-zero when the
/// range is outside the file, over the read budget, or the read failed (then `buf` is unspecified).
pub type ReadAtFn =
    unsafe extern "C" fn(ctx: *mut c_void, offset: u64, buf: *mut u8, len: usize) -> i32;

/// Reports one tensor: its name, its dtype (safetensors spelling such as `F16`, `BF16`, `I64`,
/// `BOOL`; anything else is kept as an unknown type by that name), its logical shape (`rank`
/// dimensions, outermost first, PyTorch order) and the absolute byte range `[data_start, data_end)`
/// of its data in the file, or [`NO_DATA`] twice. Returns 0 to continue, non-zero to stop.
pub type EmitTensorFn = unsafe extern "C" fn(
    ctx: *mut c_void,
    name: *const u8,
    name_len: usize,
    dtype: *const u8,
    dtype_len: usize,
    dims: *const u64,
    rank: usize,
    data_start: u64,
    data_end: u64,
) -> i32;

/// Reports one metadata entry as a UTF-8 key and value. Returns 0 to continue, non-zero to stop.
pub type EmitMetadataFn = unsafe extern "C" fn(
    ctx: *mut c_void,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> i32;

/// Reports a finding (a [`severity`] and a one-line UTF-8 message). Returns 0 to continue,
/// non-zero to stop.
pub type EmitFindingFn = unsafe extern "C" fn(
    ctx: *mut c_void,
    severity: u8,
    message: *const u8,
    message_len: usize,
) -> i32;

/// Reports why `parse` is about to fail: a [`status`] code and a one-line UTF-8 message. The host
/// keeps the first call's message.
pub type EmitErrorFn =
    unsafe extern "C" fn(ctx: *mut c_void, code: i32, message: *const u8, message_len: usize);

/// What the host hands to `parse`: the file's length and the callbacks. Valid only during the
/// `parse` call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct HostApiV1 {
    /// `size_of::<HostApiV1>()` as the host was compiled; check it before reading a field a later
    /// 1.x revision appends.
    pub struct_size: u32,
    /// The host's [`ABI_VERSION`].
    pub abi_version: u32,
    /// Opaque host state; pass it back to every callback unchanged.
    pub ctx: *mut c_void,
    /// The file's length in bytes.
    pub file_len: u64,
    /// Reads file bytes.
    pub read_at: ReadAtFn,
    /// Reports a tensor.
    pub emit_tensor: EmitTensorFn,
    /// Reports a metadata entry.
    pub emit_metadata: EmitMetadataFn,
    /// Reports a finding.
    pub emit_finding: EmitFindingFn,
    /// Reports the error message before a failing return.
    pub emit_error: EmitErrorFn,
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layouts_are_what_the_c_header_says_on_64_bit() {
        if size_of::<usize>() != 8 {
            return;
        }
        assert_eq!(size_of::<MirStr>(), 16);
        assert_eq!(offset_of!(PluginVTableV1, name), 8);
        assert_eq!(offset_of!(PluginVTableV1, extensions), 40);
        assert_eq!(offset_of!(PluginVTableV1, parse), 64);
        assert_eq!(size_of::<PluginVTableV1>(), 72);
        assert_eq!(offset_of!(HostApiV1, file_len), 16);
        assert_eq!(offset_of!(HostApiV1, emit_error), 56);
        assert_eq!(size_of::<HostApiV1>(), 64);
    }

    #[test]
    fn entry_symbol_carries_the_major_version() {
        let name = ENTRY_SYMBOL.to_str().unwrap_or("");
        assert!(name.ends_with("_v1"));
        assert_eq!(ABI_VERSION, 1);
    }
}
