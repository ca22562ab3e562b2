//! Loading one plugin library: checks before `dlopen`, the ABI handshake, and the table.

use std::path::{Path, PathBuf};

use libloading::Library;
use mir_plugin_abi::{
    ABI_VERSION, ENTRY_SYMBOL, EntryFn, MirStr, ParseFn, PluginVTableV1, SniffFn,
};

use crate::Error;

/// Largest plugin file we check and hash (512 MiB); its exports are checked by reading only the
/// headers and symbol tables.
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
        // Only the parts of the file an object reader needs (headers, then the dynamic symbol
        // table) are read to decide: a large stray file in a plugin folder is refused after its
        // first bytes, not read whole on every command.
        // Opened like a weight file (non-blocking, regular files only), and it must be the file
        // whose permissions were just checked.
        let (file, _) =
            mir_core::open_regular(&path, mir_core::FileId::of(&meta)).map_err(|e| match e {
                mir_core::Error::Io(source) => io(source),
                other => io(std::io::Error::other(other.to_string())),
            })?;
        check_exports(&path, &file)?;
        // A library that passed is hashed by streaming it (no copy in memory).
        let mut hasher = blake3::Hasher::new();
        std::io::Seek::rewind(&mut &file).map_err(io)?;
        hasher.update_reader(&file).map_err(io)?;
        let blake3 = hasher.finalize().to_hex().to_string();
        drop(file);

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

/// Checks with an object-file reader (no code runs) that `file` is a shared library exporting
/// the entry symbol, as rust-analyzer does for proc-macro libraries. The file kind is decided
/// from its first bytes before anything else is read; the reader then fetches only the ranges it
/// parses ([`object::ReadCache`]).
fn check_exports(path: &Path, file: &std::fs::File) -> Result<(), Error> {
    use object::{Object, ObjectSymbol};
    let not_a_library = |reason: String| Error::NotALibrary {
        plugin: path.to_path_buf(),
        reason,
    };
    let mut head = [0u8; 64];
    let n = read_head(file, &mut head).map_err(|source| Error::Io {
        plugin: path.to_path_buf(),
        source,
    })?;
    let kind = object::FileKind::parse(head.get(..n).unwrap_or_default())
        .map_err(|e| not_a_library(e.to_string()))?;
    use object::FileKind as K;
    if !matches!(
        kind,
        K::Elf32
            | K::Elf64
            | K::MachO32
            | K::MachO64
            | K::MachOFat32
            | K::MachOFat64
            | K::Pe32
            | K::Pe64
    ) {
        return Err(not_a_library(format!(
            "a {kind:?} file, not a shared library"
        )));
    }
    let cache = object::ReadCache::new(file);
    let obj = object::File::parse(&cache).map_err(|e| not_a_library(e.to_string()))?;
    let wanted = ENTRY_SYMBOL.to_bytes();
    // Mach-O prefixes C symbol names with an underscore.
    let matches = |name: &[u8]| name == wanted || name.strip_prefix(b"_") == Some(wanted);
    let exported = match obj.exports() {
        Ok(exports) => exports.iter().any(|e| matches(e.name())),
        Err(_) => false,
    };
    let dynamic = || {
        obj.dynamic_symbols()
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

/// Reads up to `buf.len()` bytes from the start of `file`; returns how many.
fn read_head(mut file: &std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::{Read, Seek};
    file.rewind()?;
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..) {
        if rest.is_empty() {
            break;
        }
        match file.read(rest) {
            Ok(0) => break,
            Ok(k) => got = got.saturating_add(k),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    file.rewind()?;
    Ok(got)
}

/// Refuses a plugin that another user could replace: the file, or ANY directory above it (up to
/// `/`), that is writable by its group or by everyone, or owned by a user other than this
/// process's (effective) user and root, as OpenSSH's `StrictModes` does for `authorized_keys`.
/// `path` is canonical, so every ancestor is a real directory.
///
/// One exception: a directory owned by root with the sticky bit (`/tmp`) may be writable by
/// everyone, because there no user can rename or remove an entry owned by another; the entry
/// below it is then checked like any other. A group-writable directory is refused even when
/// the group has no other member (checking membership would need the group database): use
/// mode 755 for plugin folders.
#[cfg(unix)]
fn check_permissions(path: &Path, meta: &std::fs::Metadata) -> Result<(), Error> {
    // SAFETY: `geteuid` takes no arguments, has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let insecure = |what, at: &Path, why| Error::Insecure {
        plugin: path.to_path_buf(),
        what,
        at: at.to_path_buf(),
        why,
    };
    if let Some(why) = unsafe_to_trust(meta, me, false) {
        return Err(insecure("the file", path, why));
    }
    for (depth, dir) in path.ancestors().skip(1).enumerate() {
        if dir.as_os_str().is_empty() {
            break;
        }
        let dmeta = std::fs::metadata(dir).map_err(|source| Error::Io {
            plugin: path.to_path_buf(),
            source,
        })?;
        if let Some(why) = unsafe_to_trust(&dmeta, me, true) {
            let what = if depth == 0 {
                "its directory"
            } else {
                "an ancestor directory"
            };
            return Err(insecure(what, dir, why));
        }
    }
    Ok(())
}

/// Why another user could change what `meta` describes, if they could.
#[cfg(unix)]
fn unsafe_to_trust(meta: &std::fs::Metadata, me: u32, is_dir: bool) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let (uid, mode) = (meta.uid(), meta.mode());
    if uid != 0 && uid != me {
        return Some(format!("is owned by another user (uid {uid})"));
    }
    let sticky_root_dir = is_dir && uid == 0 && mode & 0o1000 != 0;
    if mode & 0o002 != 0 && !sticky_root_dir {
        return Some("is writable by every user".to_owned());
    }
    if mode & 0o020 != 0 && !sticky_root_dir {
        return Some("is writable by its group".to_owned());
    }
    None
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), Error> {
    // Windows ACLs are not checked; plugin directories there are per-user profile folders.
    Ok(())
}
