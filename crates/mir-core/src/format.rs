//! The trait every format plugin implements, and the registry that picks one per file.

use std::sync::Arc;

use crate::{Error, Limits, Source, TensorIndex};

/// How sure a format is, from a file's first bytes and name, that it can read the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sniff {
    /// Not this format.
    No,
    /// Only the extension fits (the bytes neither confirm nor contradict).
    Extension,
    /// The bytes fit a structural check (e.g. a plausible length prefix followed by `{`).
    Likely,
    /// The bytes carry this format's magic.
    Magic,
}

/// A file format: sniffs first bytes, parses a header into a [`TensorIndex`].
///
/// Implementations read only what the header needs, treat every byte as hostile, check
/// [`Limits`] before allocating, and never panic.
pub trait Format: Send + Sync {
    /// Short lowercase name used in output (`safetensors`, `gguf`, `ckpt`).
    fn name(&self) -> &'static str;

    /// File extensions (lowercase, no dot) this format usually has. Used to decide which files
    /// a scan looks at, and as a weak hint when sniffing.
    fn extensions(&self) -> &'static [&'static str];

    /// Judges the file from its first bytes (up to [`FormatRegistry::SNIFF_BYTES`]), its length and
    /// its lowercase extension. Must not fail, allocate much, or panic.
    fn sniff(&self, head: &[u8], file_len: u64, extension: Option<&str>) -> Sniff;

    /// Parses the header of `src` into an index. Never reads tensor data.
    fn parse(&self, src: &Source, limits: &Limits) -> Result<TensorIndex, Error>;
}

/// The formats a scan knows, built-in and loaded.
#[derive(Clone, Default)]
pub struct FormatRegistry {
    formats: Vec<Arc<dyn Format>>,
}

impl std::fmt::Debug for FormatRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.formats.iter().map(|x| x.name()))
            .finish()
    }
}

impl FormatRegistry {
    /// How many leading bytes are passed to [`Format::sniff`].
    pub const SNIFF_BYTES: usize = 64;

    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a format. Earlier formats win ties in [`FormatRegistry::detect`].
    pub fn register(&mut self, format: Arc<dyn Format>) {
        self.formats.push(format);
    }

    /// The registered formats, in registration order.
    pub fn formats(&self) -> impl Iterator<Item = &Arc<dyn Format>> {
        self.formats.iter()
    }

    /// True when some format claims files with this lowercase extension.
    pub fn claims_extension(&self, ext: &str) -> bool {
        self.formats.iter().any(|f| f.extensions().contains(&ext))
    }

    /// The format that sniffs best above [`Sniff::Extension`]; content beats the file name, so a
    /// renamed file is still read by the right parser. Falls back to an extension-only match.
    pub fn detect(&self, head: &[u8], file_len: u64, extension: Option<&str>) -> Option<(&Arc<dyn Format>, Sniff)> {
        let mut best: Option<(&Arc<dyn Format>, Sniff)> = None;
        for f in &self.formats {
            let s = f.sniff(head, file_len, extension);
            if s > Sniff::No && best.is_none_or(|(_, b)| s > b) {
                best = Some((f, s));
            }
        }
        best
    }

    /// Sniffs and parses `src`: [`Error::Unrecognised`] when no format claims it.
    pub fn parse(&self, src: &Source, limits: &Limits) -> Result<TensorIndex, Error> {
        let head = src.head(Self::SNIFF_BYTES)?;
        let ext = src.extension();
        let (format, _) = self
            .detect(&head, src.len(), ext.as_deref())
            .ok_or(Error::Unrecognised)?;
        format.parse(src, limits)
    }
}
