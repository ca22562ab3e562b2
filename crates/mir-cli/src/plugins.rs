//! Format plugins: building the registry for a command, and `mir plugins`.

use std::io::Write;

use mir_core::FormatRegistry;
use mir_plugin_host::{PluginSearch, PluginSet};
use serde::Serialize;

use crate::cli::{PluginArgs, PluginOptions};
use crate::output::{json_line, term};

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
        // The reason names the plugin already (`plugin X: …`); say it once.
        let reason = r.reason.to_string();
        let what = if reason.contains(&*r.path.to_string_lossy()) {
            reason
        } else {
            format!("plugin {}: {reason}", r.path.display())
        };
        if explicit {
            anyhow::bail!("{what}");
        }
        if !quiet {
            eprintln!("mir: warning: not loaded: {}", term(&what));
        }
    }
    let mut registry = mir_scan::default_registry();
    set.register_into(&mut registry);
    Ok((registry, set))
}

#[derive(Serialize)]
struct Listed {
    /// True for the formats built into `mir` (no path, no ABI).
    builtin: bool,
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
    let mut rows: Vec<Listed> = mir_scan::default_registry()
        .formats()
        .map(|f| Listed {
            builtin: true,
            name: f.name().to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            path: String::new(),
            extensions: f.extensions().iter().map(|e| (*e).to_owned()).collect(),
            abi_version: 0,
            blake3: String::new(),
            loaded: true,
            reason: None,
        })
        .collect();
    rows.extend(set.describe().into_iter().map(|i| Listed {
        builtin: false,
        name: i.name,
        version: i.version,
        path: i.path.display().to_string(),
        extensions: i.extensions,
        abi_version: i.abi_version,
        blake3: i.blake3,
        loaded: true,
        reason: None,
    }));
    rows.extend(set.refusals().iter().map(|r| Listed {
        builtin: false,
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
        let builtin: Vec<String> = rows
            .iter()
            .filter(|r| r.builtin)
            .map(|r| format!("{} (.{})", r.name, r.extensions.join(", .")))
            .collect();
        writeln!(w, "built-in formats: {}", builtin.join("; "))?;
        rows.retain(|r| !r.builtin);
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
                    term(&r.name),
                    term(&r.version),
                    term(&r.extensions.join(", .")),
                    r.abi_version,
                    term(&r.path)
                )?;
            } else {
                writeln!(
                    w,
                    "refused  {}: {}",
                    term(&r.path),
                    term(r.reason.as_deref().unwrap_or(""))
                )?;
            }
        }
    }
    w.flush()?;
    Ok(if set.refusals().is_empty() { 0 } else { 2 })
}
