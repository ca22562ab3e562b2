//! The one error type of the plugin host: why a plugin was refused, or why its output was.

use std::io;
use std::path::PathBuf;

/// Why a plugin could not be loaded, or why what it reported about a file was rejected.
///
/// Every variant names the plugin's file, so `mir plugins` and scan errors point at the culprit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The plugin file could not be found, canonicalised or read.
    #[error("plugin {plugin}: {source}")]
    Io {
        /// The plugin file.
        plugin: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The plugin file, or the directory holding it, can be written by other users, so loading it
    /// would run code anyone on the machine could have put there.
    #[error("plugin {plugin}: refused because {what} ({}) {why}", at.display())]
    Insecure {
        /// The plugin file.
        plugin: PathBuf,
        /// `the file`, `its directory` or `an ancestor directory`.
        what: &'static str,
        /// The file or directory at fault.
        at: PathBuf,
        /// Why: `is writable by its group`, `is writable by every user`, `is owned by another
        /// user (uid N)`.
        why: String,
    },
    /// The file is not a shared library this platform can read.
    #[error("plugin {plugin}: not a shared library: {reason}")]
    NotALibrary {
        /// The plugin file.
        plugin: PathBuf,
        /// What the object reader said.
        reason: String,
    },
    /// The library does not export `mir_plugin_entry_v1` (not a mir plugin, or one built for a
    /// different ABI major version). Checked before the library is loaded, so none of its code ran.
    #[error(
        "plugin {plugin}: does not export mir_plugin_entry_v1 (not a mir plugin, or built for another ABI major version)"
    )]
    NoEntry {
        /// The plugin file.
        plugin: PathBuf,
    },
    /// The dynamic loader refused the library.
    #[error("plugin {plugin}: cannot load: {source}")]
    Open {
        /// The plugin file.
        plugin: PathBuf,
        /// The loader's error.
        source: libloading::Error,
    },
    /// The entry function returned a null or misaligned table.
    #[error("plugin {plugin}: the entry function returned a null or misaligned table")]
    BadVTable {
        /// The plugin file.
        plugin: PathBuf,
    },
    /// The table's `abi_version` is not the one this host speaks.
    #[error("plugin {plugin}: ABI version {found}, but this mir speaks version {expected}")]
    AbiVersion {
        /// The plugin file.
        plugin: PathBuf,
        /// What the plugin declared.
        found: u32,
        /// [`mir_plugin_abi::ABI_VERSION`].
        expected: u32,
    },
    /// The table's `struct_size` is smaller than version 1's table.
    #[error(
        "plugin {plugin}: its table is {found} bytes, smaller than the {min} bytes of ABI version 1"
    )]
    StructSize {
        /// The plugin file.
        plugin: PathBuf,
        /// What the plugin declared.
        found: u32,
        /// `size_of::<PluginVTableV1>()`.
        min: u32,
    },
    /// A field of the plugin's table is invalid (a bad name, too many extensions, a missing
    /// function).
    #[error("plugin {plugin}: invalid {field}: {reason}")]
    BadDescriptor {
        /// The plugin file.
        plugin: PathBuf,
        /// The table field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Another format (built in, or a plugin loaded earlier) already has this name.
    #[error("plugin {plugin}: the format name {name:?} is already taken by {by}")]
    NameTaken {
        /// The plugin file.
        plugin: PathBuf,
        /// The contested name.
        name: String,
        /// `a built-in format` or the other plugin's path.
        by: String,
    },
    /// The plugin reported failure with this status code and message.
    #[error("plugin {plugin} failed ({}): {message}", status_name(*.code))]
    Failed {
        /// The plugin file.
        plugin: PathBuf,
        /// The ABI status code it returned.
        code: i32,
        /// The message it gave through `emit_error` (empty if none).
        message: String,
    },
    /// The plugin panicked; its SDK caught the panic and reported it.
    #[error("plugin {plugin} panicked: {message}")]
    Panicked {
        /// The plugin file.
        plugin: PathBuf,
        /// The panic message.
        message: String,
    },
    /// Reading the file for the plugin failed (an I/O error, or the file shrank).
    #[error("plugin {plugin}: reading the file failed: {source}")]
    Read {
        /// The plugin file.
        plugin: PathBuf,
        /// The source's error.
        source: mir_core::Error,
    },
    /// The plugin asked to read more of the file than `Limits::max_header_bytes` allows.
    #[error("plugin {plugin}: read more than {limit} bytes of the file")]
    ReadBudget {
        /// The plugin file.
        plugin: PathBuf,
        /// The budget in bytes.
        limit: u64,
    },
    /// The plugin reported more items than a limit allows.
    #[error("plugin {plugin}: reported more {what} than the limit of {limit}")]
    TooMany {
        /// The plugin file.
        plugin: PathBuf,
        /// `tensors`, `metadata entries`, `findings`, or `bytes of names and values`.
        what: &'static str,
        /// The limit in force.
        limit: u64,
    },
    /// Memory to copy what the plugin reported (a string or list within the limits) could not
    /// be allocated: this file fails, the scan goes on.
    #[error("plugin {plugin}: out of memory: cannot allocate {bytes} bytes for a {what}")]
    OutOfMemory {
        /// The plugin file.
        plugin: PathBuf,
        /// What the memory was for.
        what: &'static str,
        /// The size asked for.
        bytes: u64,
    },
    /// A string the plugin reported is longer than its limit.
    #[error("plugin {plugin}: a {what} of {len} bytes is over the limit of {limit}")]
    TooLong {
        /// The plugin file.
        plugin: PathBuf,
        /// `tensor name`, `dtype`, `metadata key`, ….
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A string the plugin reported is empty, not UTF-8, or has control characters.
    #[error("plugin {plugin}: a {what} is {problem}")]
    BadString {
        /// The plugin file.
        plugin: PathBuf,
        /// `tensor name`, `dtype`, `metadata key`, ….
        what: &'static str,
        /// `not UTF-8`, `empty` or `not printable`.
        problem: &'static str,
    },
    /// The plugin passed a null pointer with a non-zero length.
    #[error("plugin {plugin}: null pointer for a {what}")]
    NullPointer {
        /// The plugin file.
        plugin: PathBuf,
        /// What the pointer was for.
        what: &'static str,
    },
    /// A tensor has more dimensions than `Limits::max_rank`.
    #[error("plugin {plugin}: tensor {tensor} has rank {rank}, over the limit of {limit}")]
    RankTooLarge {
        /// The plugin file.
        plugin: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// Its rank.
        rank: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A tensor's element count (or byte size) overflows 64 bits.
    #[error("plugin {plugin}: tensor {tensor} has dimensions {dims:?} whose size overflows")]
    DimsOverflow {
        /// The plugin file.
        plugin: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// Its dimensions.
        dims: Vec<u64>,
    },
    /// A tensor's data range is reversed or ends past the end of the file.
    #[error(
        "plugin {plugin}: tensor {tensor} has data range {start}..{end} outside the file of {file_len} bytes"
    )]
    RangeOutsideFile {
        /// The plugin file.
        plugin: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// The range's start.
        start: u64,
        /// The range's end.
        end: u64,
        /// The file's length.
        file_len: u64,
    },
    /// A tensor's data range is too short for its shape and element type.
    #[error("plugin {plugin}: tensor {tensor} needs {needed} bytes but its data range has {len}")]
    RangeTooShort {
        /// The plugin file.
        plugin: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// Bytes its shape and dtype need.
        needed: u64,
        /// Bytes in its range.
        len: u64,
    },
    /// Two tensors have the same name.
    #[error("plugin {plugin}: tensor {tensor} is reported twice")]
    DuplicateTensor {
        /// The plugin file.
        plugin: PathBuf,
        /// The repeated name.
        tensor: String,
    },
    /// Two metadata entries have the same key.
    #[error("plugin {plugin}: metadata key {key} is reported twice")]
    DuplicateMetadata {
        /// The plugin file.
        plugin: PathBuf,
        /// The repeated key.
        key: String,
    },
    /// A finding has a severity the ABI does not define.
    #[error("plugin {plugin}: finding severity {value} is not 0, 1 or 2")]
    BadSeverity {
        /// The plugin file.
        plugin: PathBuf,
        /// The value it sent.
        value: u8,
    },
}

/// A readable name for an ABI status code.
fn status_name(code: i32) -> String {
    use mir_plugin_abi::status;
    match code {
        status::FORMAT => "malformed file".to_owned(),
        status::READ => "read refused".to_owned(),
        status::UNSUPPORTED => "unsupported".to_owned(),
        status::PANIC => "panic".to_owned(),
        status::STOPPED => "stopped".to_owned(),
        other => format!("status {other}"),
    }
}
