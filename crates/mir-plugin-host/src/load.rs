//! Loading one plugin library: checks before `dlopen`, the ABI handshake, and the table.

use std::path::{Path, PathBuf};

use libloading::Library;
use mir_plugin_abi::{
    ABI_VERSION, ENTRY_SYMBOL, EntryFn, MirStr, ParseFn, PluginVTableV1, SniffFn,
};

use crate::Error;

/// Largest plugin file we read to check its exports and hash it (512 MiB).
const MAX_PLUGIN_FILE_BYTES: u64 = 512 << 20;
/// Longest format name a plugin may declare.
pub(crate) const MAX_FORMAT_NAME: usize = 64;
/// Longest version string.
const MAX_VERSION: usize = 64;
/// Most extensions.
const MAX_EXTENSIONS: usize = 32;
/// Longest extension.
const MAX_EXTENSION: usize = 16;

/// What `mir plugins` shows about a loaded plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginInfo {
    /// The format name (also `TensorIndex::format` of files it reads).
    pub name: String,
    /// The plugin's own version string.
    pub version: String,
    /// The canonical path it was loaded from.
    pub path: PathBuf,
    /// The extensions it claims, lowercase without a dot.
    pub extensions: Vec<String>,
    /// The ABI version it declared.
    pub abi_version: u32,
    /// The size of its table, as it declared (larger than ours for a newer 1.x plugin).
    pub struct_size: u32,
    /// The BLAKE3 hash of the library file, hex, as it was when checked (for caches and audit).
    pub blake3: String,
}

/// A plugin library loaded into this process and checked.
///
/// It implements [`mir_core::Format`], so it goes into a [`mir_core::FormatRegistry`] beside the
/// built-in formats. Dropping it unloads the library.
///
/// **Loading a plugin runs its code** (its initialisers at load time, its functions on every
/// file) with the full rights of the process. Load only libraries you trust as much as `mir`
/// itself.
#[derive(Debug)]
pub struct LoadedPlugin {
    pub(crate) info: PluginInfo,
    /// The name as `'static`, as [`mir_core::Format::name`] requires: copied and leaked once per
    /// load (at most [`MAX_FORMAT_NAME`] bytes), so it never points into the library.
    pub(crate) name: &'static str,
    /// The extensions, copied and leaked once per load, like `name`.
    pub(crate) extensions: &'static [&'static str],
    /// Function pointers into the library, valid only while `library` is loaded.
    pub(crate) sniff: SniffFn,
    pub(crate) parse: ParseFn,
    /// Keeps the code behind `sniff` and `parse` loaded. It must stay the LAST field: fields are
    /// dropped in declaration order, so the library is unloaded only after everything that points
    /// into it is gone.
    _library: Library,
}

impl LoadedPlugin {
    /// Loads the plugin at `path`.
    ///
    /// Steps, each refusing with a specific [`Error`]: canonicalise the path; refuse a file (or
    /// directory) writable by other users; read the file and check, **before loading it**, that it
    /// is a shared library exporting `mir_plugin_entry_v1` (so a stray library in a plugin
    /// directory never runs); load it; call the entry function; read `abi_version` and
    /// `struct_size` before anything else; then validate the name, version, extensions and
    /// functions.
    pub fn load(path: impl AsRef<Path>) -> Result<LoadedPlugin, Error> {
        let given = path.as_ref();
        let io = |source| Error::Io {
            plugin: given.to_path_buf(),
            source,
        };
        let path = std::fs::canonicalize(given).map_err(io)?;
        let meta = std::fs::metadata(&path).map_err(io)?;
        if !meta.is_file() {
            return Err(Error::NotALibrary {
                plugin: path,
                reason: "not a regular file".to_owned(),
            });
        }
        check_permissions(&path, &meta)?;
        if meta.len() > MAX_PLUGIN_FILE_BYTES {
            return Err(Error::NotALibrary {
                plugin: path,
                reason: format!("{} bytes, larger than any plugin should be", meta.len()),
            });
        }
        let bytes = std::fs::read(&path).map_err(io)?;
        let blake3 = blake3::hash(&bytes).to_hex().to_string();
        check_exports(&path, &bytes)?;
        drop(bytes);

        // SAFETY: loading a library runs its initialisers; that is the documented trust decision
        // of loading a plugin at all (the user asked for this path or put it in a plugin
        // directory). The file was checked above to be a library exporting our entry symbol.
        let library = unsafe { Library::new(&path) }.map_err(|source| Error::Open {
            plugin: path.clone(),
            source,
        })?;
        // SAFETY: the symbol is declared by the ABI as `EntryFn`; we copy the function pointer out
        // of the `Symbol` and keep `library` alive in the returned value for as long as it is used.
        let entry: EntryFn = unsafe { library.get::<EntryFn>(ENTRY_SYMBOL) }
            .map(|sym| *sym)
            .map_err(|_| Error::NoEntry {
                plugin: path.clone(),
            })?;
        // SAFETY: the ABI says the entry function takes nothing and returns a pointer; the library
        // is loaded.
        let table = unsafe { entry() };
        if table.is_null() || !table.is_aligned() {
            return Err(Error::BadVTable { plugin: path });
        }
        // SAFETY: `table` is non-null and aligned, and the ABI requires it to point to a table
        // that lives as long as the library. Only the first two `u32` fields, present in every
        // version, are read here, before anything else.
        let (abi_version, struct_size) = unsafe {
            (
                std::ptr::addr_of!((*table).abi_version).read(),
                std::ptr::addr_of!((*table).struct_size).read(),
            )
        };
        if abi_version != ABI_VERSION {
            return Err(Error::AbiVersion {
                plugin: path,
                found: abi_version,
                expected: ABI_VERSION,
            });
        }
        let min = size_of::<PluginVTableV1>() as u32;
        if struct_size < min {
            return Err(Error::StructSize {
                plugin: path,
                found: struct_size,
                min,
            });
        }
        // SAFETY: the plugin declared ABI version 1 with a table at least as large as ours, so the
        // version-1 prefix is there to read; every field type accepts any bit pattern the plugin
        // can legally produce (raw pointers, integers, nullable function pointers).
        let vt: PluginVTableV1 = unsafe { table.read() };

        let name = read_str(&path, "name", vt.name, MAX_FORMAT_NAME)?;
        if name.is_empty()
            || !name.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
            })
        {
            return Err(bad(
                &path,
                "name",
                format!("{name:?} is not a short lowercase name [a-z0-9._-]"),
            ));
        }
        let version = read_str(&path, "version", vt.version, MAX_VERSION)?;
        if version.chars().any(char::is_control) {
            return Err(bad(&path, "version", "has control characters".to_owned()));
        }
        let extensions = read_extensions(&path, &vt)?;
        let (Some(sniff), Some(parse)) = (vt.sniff, vt.parse) else {
            return Err(bad(&path, "functions", "sniff or parse is null".to_owned()));
        };

        let info = PluginInfo {
            name: name.clone(),
            version,
            path,
            extensions: extensions.clone(),
            abi_version,
            struct_size,
            blake3,
        };
        let name: &'static str = Box::leak(name.into_boxed_str());
        let extensions: Vec<&'static str> = extensions
            .into_iter()
            .map(|e| &*Box::leak(e.into_boxed_str()))
            .collect();
        Ok(LoadedPlugin {
            info,
            name,
            extensions: Box::leak(extensions.into_boxed_slice()),
            sniff,
            parse,
            _library: library,
        })
    }

    /// What `mir plugins` lists about this plugin.
    pub fn describe(&self) -> &PluginInfo {
        &self.info
    }

    /// The path the plugin was loaded from (canonical).
    pub fn path(&self) -> &Path {
        &self.info.path
    }
}

fn bad(path: &Path, field: &'static str, reason: String) -> Error {
    Error::BadDescriptor {
        plugin: path.to_path_buf(),
        field,
        reason,
    }
}

/// Copies a string out of the plugin's table after checking its pointer and length.
fn read_str(path: &Path, field: &'static str, s: MirStr, max: usize) -> Result<String, Error> {
    if s.len > max {
        return Err(bad(
            path,
            field,
            format!("{} bytes, over the limit of {max}", s.len),
        ));
    }
    if s.len == 0 {
        return Ok(String::new());
    }
    if s.ptr.is_null() {
        return Err(bad(path, field, "null pointer".to_owned()));
    }
    // SAFETY: non-null, at most `max` bytes, and the ABI requires table strings to point to
    // `len` bytes that live as long as the library (which is loaded).
    let bytes = unsafe { std::slice::from_raw_parts(s.ptr, s.len) };
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| bad(path, field, "not UTF-8".to_owned()))
}

fn read_extensions(path: &Path, vt: &PluginVTableV1) -> Result<Vec<String>, Error> {
    if vt.extensions_len > MAX_EXTENSIONS {
        return Err(bad(
            path,
            "extensions",
            format!(
                "{} of them, over the limit of {MAX_EXTENSIONS}",
                vt.extensions_len
            ),
        ));
    }
    if vt.extensions_len == 0 {
        return Ok(Vec::new());
    }
    if vt.extensions.is_null() || !vt.extensions.is_aligned() {
        return Err(bad(
            path,
            "extensions",
            "null or misaligned pointer".to_owned(),
        ));
    }
    // SAFETY: non-null, aligned, at most `MAX_EXTENSIONS` elements, and the ABI requires it to
    // point to `extensions_len` `MirStr`s that live as long as the library.
    let list = unsafe { std::slice::from_raw_parts(vt.extensions, vt.extensions_len) };
    list.iter()
        .map(|&s| {
            let e = read_str(path, "extensions", s, MAX_EXTENSION)?;
            if e.is_empty()
                || !e
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(bad(
                    path,
                    "extensions",
                    format!("{e:?} is not lowercase letters and digits"),
                ));
            }
            Ok(e)
        })
        .collect()
}

/// Checks with an object-file reader (no code runs) that `bytes` is a shared library exporting
/// the entry symbol, as rust-analyzer does for proc-macro libraries.
fn check_exports(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use object::{Object, ObjectSymbol};
    let file = object::File::parse(bytes).map_err(|e| Error::NotALibrary {
        plugin: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let wanted = ENTRY_SYMBOL.to_bytes();
    // Mach-O prefixes C symbol names with an underscore.
    let matches = |name: &[u8]| name == wanted || name.strip_prefix(b"_") == Some(wanted);
    let exported = match file.exports() {
        Ok(exports) => exports.iter().any(|e| matches(e.name())),
        Err(_) => false,
    };
    let dynamic = || {
        file.dynamic_symbols()
            .any(|s| s.is_definition() && s.is_global() && s.name_bytes().is_ok_and(matches))
    };
    if exported || dynamic() {
        Ok(())
    } else {
        Err(Error::NoEntry {
            plugin: path.to_path_buf(),
        })
    }
}

#[cfg(unix)]
fn check_permissions(path: &Path, meta: &std::fs::Metadata) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let world_writable = |mode: u32| mode & 0o002 != 0;
    if world_writable(meta.permissions().mode()) {
        return Err(Error::Insecure {
            plugin: path.to_path_buf(),
            what: "the file",
        });
    }
    if let Some(dir) = path.parent()
        && let Ok(dmeta) = std::fs::metadata(dir)
        && world_writable(dmeta.permissions().mode())
    {
        return Err(Error::Insecure {
            plugin: path.to_path_buf(),
            what: "its directory",
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), Error> {
    // Windows ACLs are not checked; plugin directories there are per-user profile folders.
    Ok(())
}
