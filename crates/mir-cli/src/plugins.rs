//! Format plugins: building the registry for a command, and `mir plugins`.

use std::io::Write;

use mir_core::FormatRegistry;
use mir_plugin_host::{PluginSearch, PluginSet};
use serde::Serialize;

use crate::cli::{PluginArgs, PluginOptions};
use crate::output::json_line;

/// Loads the plugins `opts` asks for.
fn discover(opts: &PluginOptions) -> PluginSet {
    let builtin: Vec<String> = mir_scan::default_registry()
        .formats()
        .map(|f| f.name().to_owned())
        .collect();
    let mut search = PluginSearch::standard(opts.plugins.clone(), builtin);
    if opts.no_plugin_dirs {
        search.dirs.clear();
        search.optional_dirs.clear();
    }
    PluginSet::discover(&search)
}

/// The built-in formats plus the plugins `opts` asks for. A plugin named with `--plugin` that
/// cannot be loaded is an error; a refused file from a plugin folder is a warning.
pub(crate) fn registry(
    opts: &PluginOptions,
    quiet: bool,
) -> anyhow::Result<(FormatRegistry, PluginSet)> {
    let set = discover(opts);
    for r in set.refusals() {
        let explicit = opts.plugins.contains(&r.path);
        if explicit {
            anyhow::bail!("plugin {} refused: {}", r.path.display(), r.reason);
        }
        if !quiet {
            eprintln!(
                "mir: warning: plugin {} not loaded: {}",
                r.path.display(),
                r.reason
            );
        }
    }
    let mut registry = mir_scan::default_registry();
    set.register_into(&mut registry);
    Ok((registry, set))
}

#[derive(Serialize)]
struct Listed {
    name: String,
    version: String,
    path: String,
    extensions: Vec<String>,
    abi_version: u32,
    blake3: String,
    loaded: bool,
    reason: Option<String>,
}

pub(crate) fn run(args: PluginArgs) -> anyhow::Result<u8> {
    let set = discover(&args.plugins);
    let mut rows: Vec<Listed> = set
        .describe()
        .into_iter()
        .map(|i| Listed {
            name: i.name,
            version: i.version,
            path: i.path.display().to_string(),
            extensions: i.extensions,
            abi_version: i.abi_version,
            blake3: i.blake3,
            loaded: true,
            reason: None,
        })
        .collect();
    rows.extend(set.refusals().iter().map(|r| Listed {
        name: String::new(),
        version: String::new(),
        path: r.path.display().to_string(),
        extensions: Vec::new(),
        abi_version: 0,
        blake3: String::new(),
        loaded: false,
        reason: Some(r.reason.to_string()),
    }));
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    if args.json {
        for r in &rows {
            json_line(&mut w, r)?;
        }
    } else {
        let builtin: Vec<String> = mir_scan::default_registry()
            .formats()
            .map(|f| format!("{} (.{})", f.name(), f.extensions().join(", .")))
            .collect();
        writeln!(w, "built-in formats: {}", builtin.join("; "))?;
        if rows.is_empty() {
            writeln!(
                w,
                "no plugins (searched --plugin, MIR_PLUGIN_PATH and {})",
                PluginSearch::config_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|| "the config folder".into())
            )?;
        }
        for r in &rows {
            if r.loaded {
                writeln!(
                    w,
                    "loaded   {} {} (.{}) abi v{} {}",
                    r.name,
                    r.version,
                    r.extensions.join(", ."),
                    r.abi_version,
                    r.path
                )?;
            } else {
                writeln!(
                    w,
                    "refused  {}: {}",
                    r.path,
                    r.reason.as_deref().unwrap_or("")
                )?;
            }
        }
    }
    w.flush()?;
    Ok(if set.refusals().is_empty() { 0 } else { 2 })
}
