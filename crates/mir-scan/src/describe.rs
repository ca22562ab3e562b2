//! What a file says about itself beyond its identification (issue 16): the header's normalised
//! metadata, adapter shape and packaging (kept with the facts), the configs in its folder and
//! its sidecars (read on every scan: they change without the weight file changing). Sidecars
//! are found from the walk's folder listing: one listing per folder, never a `stat` per
//! candidate name.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mir_about::config::FolderConfigs;
use mir_about::{Described, FileAbout};

use crate::facts::Facts;
use crate::report::{Finding, Severity};

type Names = Arc<BTreeSet<String>>;

/// Per folder: the names of its possible side files, and what its configs say.
#[derive(Debug, Default)]
pub(crate) struct SideCache {
    names: Mutex<HashMap<PathBuf, Names>>,
    configs: Mutex<HashMap<PathBuf, Arc<FolderConfigs>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SideCache {
    /// A cache primed with a walk's listing: every walked folder is known (with no side files
    /// unless listed), so none is listed again.
    pub(crate) fn from_listing(folders: &[PathBuf], side_files: &[PathBuf]) -> SideCache {
        let mut map: HashMap<PathBuf, BTreeSet<String>> = folders
            .iter()
            .map(|f| (f.clone(), BTreeSet::new()))
            .collect();
        for p in side_files {
            if let (Some(dir), Some(name)) = (p.parent(), p.file_name().and_then(|n| n.to_str())) {
                map.entry(dir.to_path_buf())
                    .or_default()
                    .insert(name.to_owned());
            }
        }
        SideCache {
            names: Mutex::new(map.into_iter().map(|(k, v)| (k, Arc::new(v))).collect()),
            configs: Mutex::default(),
        }
    }

    /// The side-file names of `dir`: from the walk, else one listing of the folder (a file named
    /// alone, `mir inspect`).
    fn names(&self, dir: &Path) -> Names {
        if let Some(n) = lock(&self.names).get(dir) {
            return Arc::clone(n);
        }
        let listed = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let set: BTreeSet<String> = std::fs::read_dir(listed)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| mir_about::sidecar::is_side_file_name(n))
                    .collect()
            })
            .unwrap_or_default();
        let set = Arc::new(set);
        lock(&self.names).insert(dir.to_path_buf(), Arc::clone(&set));
        set
    }

    /// What the configs in `dir` say (`None` when it has none), read once per folder.
    pub(crate) fn folder_configs(&self, dir: &Path) -> Option<Arc<FolderConfigs>> {
        let names = self.names(dir);
        self.configs(dir, &names)
    }

    fn configs(&self, dir: &Path, names: &BTreeSet<String>) -> Option<Arc<FolderConfigs>> {
        if !names.contains("config.json") && !names.contains("adapter_config.json") {
            return None;
        }
        if let Some(c) = lock(&self.configs).get(dir) {
            return Some(Arc::clone(c));
        }
        let c = Arc::new(mir_about::config::read_folder(dir, &|n| names.contains(n)));
        lock(&self.configs).insert(dir.to_path_buf(), Arc::clone(&c));
        Some(c)
    }
}

/// What the header says, from the facts (computed when facts stored by an older version lack it).
pub(crate) fn file_about(facts: &Facts) -> Option<FileAbout> {
    match (&facts.about, &facts.index) {
        (Some(a), _) => Some(a.clone()),
        (None, Some(i)) => Some(mir_about::describe_index(i)),
        (None, None) => None,
    }
}

/// Everything known about `path` beyond its identification.
pub(crate) fn describe(path: &Path, facts: &Facts, cache: &SideCache) -> Described {
    let file = file_about(facts);
    let dir = path.parent().unwrap_or(Path::new(""));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let names = cache.names(dir);
    let configs = cache.configs(dir, &names);
    let sidecars = if name.is_empty() {
        mir_about::sidecar::SidecarInfo::default()
    } else {
        mir_about::sidecar::read_sidecars(dir, name, &|n| names.contains(n))
    };
    Described::merge(file.as_ref(), configs.as_deref(), sidecars)
}

/// The findings a description adds to a file's report (informational: a bad sidecar is never
/// an error of the weight file).
pub(crate) fn findings_of(d: &Described) -> impl Iterator<Item = Finding> + '_ {
    d.findings.iter().map(|m| Finding {
        severity: Severity::Info,
        code: if m.starts_with("sidecar ") || m.starts_with("config ") {
            "sidecar"
        } else {
            "metadata"
        },
        message: m.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walked_folders_are_never_listed_again() {
        // The folder does not exist: had the cache listed it, it would know no names.
        let dir = PathBuf::from("/nonexistent-mir-test-folder");
        let walked = PathBuf::from("/nonexistent-mir-test-empty");
        let cache = SideCache::from_listing(
            std::slice::from_ref(&walked),
            &[dir.join("a.civitai.info"), dir.join("a.preview.png")],
        );
        let names = cache.names(&dir);
        assert_eq!(
            names.iter().map(String::as_str).collect::<Vec<_>>(),
            vec!["a.civitai.info", "a.preview.png"]
        );
        assert!(cache.names(&walked).is_empty());
    }

    #[test]
    fn a_folder_not_walked_is_listed_once() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("m.civitai.info"),
            r#"{"modelId": 3, "id": 4}"#,
        )
        .unwrap();
        std::fs::write(d.path().join("m.safetensors"), b"").unwrap();
        let cache = SideCache::default();
        assert!(cache.names(d.path()).contains("m.civitai.info"));
        // Listed once: a file added later is not seen by this cache (one scan's view).
        std::fs::write(d.path().join("m.preview.png"), b"").unwrap();
        assert!(!cache.names(d.path()).contains("m.preview.png"));
        let facts = Facts::default();
        let described = describe(&d.path().join("m.safetensors"), &facts, &cache);
        assert_eq!(described.civitai.map(|c| c.model_id), Some(3));
        assert_eq!(described.sidecars.len(), 1);
    }
}
