//! Loads `mir` format plugins (shared libraries speaking the `mir-plugin-abi` C ABI) and treats
//! what they report as untrusted input.
//!
//! # Brief overview
//!
//! * [`PluginSet::discover`] loads the plugins a [`PluginSearch`] names (`--plugin` files,
//!   `MIR_PLUGIN_PATH` directories, the per-user config directory) and keeps a [`Refusal`] with a
//!   specific [`Error`] for every file it would not load.
//! * A [`LoadedPlugin`] implements [`mir_core::Format`]; [`PluginSet::register_into`] adds the
//!   plugins to a [`mir_core::FormatRegistry`] beside the built-in formats, so their tensors go
//!   through the same fingerprints and classifier. [`LoadedPlugin::describe`] is what
//!   `mir plugins` lists.
//! * Before a library is loaded its file is checked with an object-file reader (it must export
//!   `mir_plugin_entry_v1`); after loading, `abi_version` and `struct_size` are read before any
//!   other field or call. Every string, rank, dimension, count and byte range a plugin reports is
//!   validated against [`mir_core::Limits`] before it is copied.
//!
//! # Trust
//!
//! **Loading a plugin is running code.** Its initialisers run when it is loaded and its functions
//! run in this process with its rights; a buggy plugin can crash or corrupt the process however
//! carefully its output is checked. The validation here protects against a plugin that is wrong,
//! not one that is malicious. Load only plugins you trust as much as `mir` itself; the loader
//! refuses files and directories other users can write. (The ABI passes no paths and lets the
//! plugin do no I/O, so a later host can run the same plugins out of process.)
//!
//! ```no_run
//! use mir_core::{FormatRegistry, Limits, Source};
//! use mir_plugin_host::{PluginSearch, PluginSet};
//!
//! let search = PluginSearch::standard(vec!["./libmir_npy.so".into()], vec!["safetensors".into()]);
//! let set = PluginSet::discover(&search);
//! for r in set.refusals() {
//!     eprintln!("{}", r.reason);
//! }
//! let mut registry = FormatRegistry::new();
//! set.register_into(&mut registry);
//! let index = registry.parse(&Source::open("weights.npz")?, &Limits::default())?;
//! # Ok::<(), mir_core::Error>(())
//! ```
#![deny(missing_docs)]
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::panic
)]

mod discover;
mod error;
mod load;
mod parse;

pub use discover::{PLUGIN_PATH_VAR, PluginSearch, PluginSet, Refusal};
pub use error::Error;
pub use load::{LoadedPlugin, PluginInfo};
pub use mir_plugin_abi::ABI_VERSION;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use parse::{FuzzCall, fuzz_validate};
