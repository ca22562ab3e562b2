//! Finding plugins: explicit paths, `MIR_PLUGIN_PATH` directories and the user's config directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mir_core::FormatRegistry;

use crate::{Error, LoadedPlugin, PluginInfo};

/// The environment variable listing plugin directories (`:`-separated on Unix, `;` on Windows).
pub const PLUGIN_PATH_VAR: &str = "MIR_PLUGIN_PATH";

/// Where to look for plugins, in priority order: a plugin found earlier wins a name clash.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginSearch {
    /// Plugin files named on the command line (`mir scan --plugin PATH`); loaded first.
    pub explicit: Vec<PathBuf>,
    /// Directories whose shared libraries (`*.so`, `*.dylib`, `*.dll`; not recursive) are
    /// loaded, in order. A missing directory is reported as a refusal.
    pub dirs: Vec<PathBuf>,
    /// A directory that is searched if it exists (the config directory); missing is normal.
    pub optional_dirs: Vec<PathBuf>,
    /// Format names plugins may not take (the built-in formats').
    pub reserved_names: Vec<String>,
}

impl PluginSearch {
    /// The standard search: `explicit` files, then each directory of `MIR_PLUGIN_PATH`, then
    /// [`PluginSearch::config_dir`] if it exists. `reserved_names` are the built-in formats.
    pub fn standard(explicit: Vec<PathBuf>, reserved_names: Vec<String>) -> Self {
        PluginSearch {
            explicit,
            dirs: Self::env_dirs(),
            optional_dirs: Self::config_dir().into_iter().collect(),
            reserved_names,
        }
    }

    /// The directories listed in `MIR_PLUGIN_PATH` (empty entries skipped).
    pub fn env_dirs() -> Vec<PathBuf> {
        std::env::var_os(PLUGIN_PATH_VAR)
            .map(|v| split_dirs(&v))
            .unwrap_or_default()
    }

    /// The per-user plugin directory: `<config dir>/mir/plugins`, i.e. `$XDG_CONFIG_HOME/mir/plugins`
    /// or `~/.config/mir/plugins` on Linux, `~/Library/Application Support/mir/plugins` on macOS,
    /// `%APPDATA%\mir\plugins` on Windows.
    pub fn config_dir() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("mir").join("plugins"))
    }
}

/// A plugin file that was not loaded, and why.
#[derive(Debug)]
pub struct Refusal {
    /// The file (or directory) concerned.
    pub path: PathBuf,
    /// Why; every [`Error`] names the file too.
    pub reason: Error,
}

/// The plugins a search loaded, and the ones it refused.
#[derive(Debug, Default)]
pub struct PluginSet {
    plugins: Vec<Arc<LoadedPlugin>>,
    refusals: Vec<Refusal>,
}

impl PluginSet {
    /// Loads every plugin `search` finds. Never fails as a whole: each file that cannot be loaded
    /// becomes a [`Refusal`]. The same file reached twice is loaded once; a second plugin with a
    /// name already taken (by a built-in format or an earlier plugin) is refused.
    ///
    /// **This runs the plugins' code** (see [`LoadedPlugin`]).
    pub fn discover(search: &PluginSearch) -> PluginSet {
        let mut set = PluginSet::default();
        let mut candidates: Vec<PathBuf> = search.explicit.clone();
        for (dir, required) in search
            .dirs
            .iter()
            .map(|d| (d, true))
            .chain(search.optional_dirs.iter().map(|d| (d, false)))
        {
            match libraries_in(dir) {
                Ok(found) => candidates.extend(found),
                Err(source) if required || source.kind() != std::io::ErrorKind::NotFound => {
                    set.refusals.push(Refusal {
                        path: dir.clone(),
                        reason: Error::Io {
                            plugin: dir.clone(),
                            source,
                        },
                    });
                }
                Err(_) => {}
            }
        }
        let mut names: HashMap<String, String> = search
            .reserved_names
            .iter()
            .map(|n| (n.clone(), "a built-in format".to_owned()))
            .collect();
        for path in candidates {
            // Skip a file already loaded under another spelling of its path.
            if let Ok(canonical) = std::fs::canonicalize(&path)
                && set.plugins.iter().any(|p| p.path() == canonical)
            {
                continue;
            }
            match LoadedPlugin::load(&path) {
                Ok(plugin) => {
                    if let Some(by) = names.get(&plugin.info.name) {
                        set.refusals.push(Refusal {
                            path: path.clone(),
                            reason: Error::NameTaken {
                                plugin: plugin.info.path.clone(),
                                name: plugin.info.name.clone(),
                                by: by.clone(),
                            },
                        });
                        continue;
                    }
                    names.insert(
                        plugin.info.name.clone(),
                        plugin.info.path.display().to_string(),
                    );
                    set.plugins.push(Arc::new(plugin));
                }
                Err(reason) => set.refusals.push(Refusal { path, reason }),
            }
        }
        set
    }

    /// The loaded plugins, in search order.
    pub fn plugins(&self) -> &[Arc<LoadedPlugin>] {
        &self.plugins
    }

    /// The refused files, in search order.
    pub fn refusals(&self) -> &[Refusal] {
        &self.refusals
    }

    /// What `mir plugins` lists: one entry per loaded plugin.
    pub fn describe(&self) -> Vec<PluginInfo> {
        self.plugins.iter().map(|p| p.describe().clone()).collect()
    }

    /// Adds every loaded plugin to `registry` (after whatever it already holds, so built-in
    /// formats win ties).
    pub fn register_into(&self, registry: &mut FormatRegistry) {
        for p in &self.plugins {
            registry.register(p.clone());
        }
    }
}

/// Splits a `PATH`-style list, dropping empty entries (a stray `:` must not mean "the current
/// directory", which would load whatever libraries happen to be there).
fn split_dirs(value: &std::ffi::OsStr) -> Vec<PathBuf> {
    std::env::split_paths(value)
        .filter(|p| !p.as_os_str().is_empty())
        .collect()
}

/// The shared libraries directly in `dir`, sorted by file name.
fn libraries_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_lib = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case(std::env::consts::DLL_EXTENSION));
        if is_lib && path.is_file() {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_path_lists_drop_empty_entries() {
        let joined = std::env::join_paths(["/a/b", "", "/c"]).unwrap_or_default();
        assert_eq!(
            split_dirs(&joined),
            vec![PathBuf::from("/a/b"), PathBuf::from("/c")]
        );
        assert!(split_dirs(std::ffi::OsStr::new("")).is_empty());
    }

    #[test]
    fn the_config_dir_ends_in_mir_plugins() {
        if let Some(dir) = PluginSearch::config_dir() {
            assert!(dir.ends_with("mir/plugins"));
        }
    }
}
