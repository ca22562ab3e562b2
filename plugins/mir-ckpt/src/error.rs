//! The errors specific to PyTorch checkpoints; limits, truncation and I/O use [`mir_core::Error`].

/// Why a file could not be read as a PyTorch checkpoint.
///
/// [`crate::CkptFormat`]'s [`mir_core::Format::parse`] returns these wrapped in
/// [`mir_core::Error::Format`]; use [`mir_core::Error::downcast_format`] to get them back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CkptError {
    /// The file is neither a zip archive, a pickle, a legacy torch file nor a tar archive.
    #[error("not a torch checkpoint: neither a zip archive nor a pickle stream")]
    NotACheckpoint,
    /// The file is a tar archive, the container of PyTorch 0.1.10 and older. Its pickles were
    /// analysed first: with findings, this comes wrapped in [`CkptError::WithFindings`].
    #[error(
        "tar-format torch checkpoints are not supported (PyTorch 0.1.10 and older); re-save the file with a newer torch"
    )]
    TarFormat,
    /// The zip crate could not read the archive. torch's own zip reader is more lenient, so a
    /// file that fails here may be crafted to evade scanners.
    #[error("unreadable zip archive (possibly crafted to evade scanners): {0}")]
    Zip(#[from] zip::result::ZipError),
    /// The zip archive holds no `<prefix>/data.pkl`, so it is not a `torch.save` file.
    #[error("zip archive has no <prefix>/data.pkl record, so it is not a torch checkpoint")]
    NoDataPkl,
    /// The zip archive holds several `<prefix>/data.pkl` records. No longer returned: every
    /// candidate is now analysed and the file carries a "zip evasion" finding; kept so code that
    /// matches on it still compiles.
    #[error(
        "zip archive has several data.pkl records ({first} and {second}); torch reads only one"
    )]
    SeveralDataPkl {
        /// The first record's name.
        first: String,
        /// Another record's name.
        second: String,
    },
    /// `data.pkl` inflated to more bytes than its zip entry declares.
    #[error("data.pkl inflates past the {declared} bytes its zip entry declares")]
    InflatedPastDeclared {
        /// The uncompressed size the central directory declares.
        declared: u64,
    },
    /// A legacy (non-zip) torch file whose second pickle is not protocol version 1001.
    #[error("legacy torch file with protocol version {found}, expected 1001")]
    LegacyProtocol {
        /// What the file holds instead, as text.
        found: String,
    },
    /// A pickle stream ends before its `STOP` opcode.
    #[error("the {stream} pickle ends at byte {offset} before its STOP opcode")]
    PickleEnd {
        /// Which pickle (`data.pkl`, `legacy object pickle`, …).
        stream: &'static str,
        /// Offset of the first missing byte, from the start of the pickle.
        offset: u64,
    },
    /// A byte that is no pickle opcode (protocols 0 to 5).
    #[error("unknown pickle opcode 0x{opcode:02x} at byte {offset} of the {stream} pickle")]
    UnknownOpcode {
        /// Which pickle.
        stream: &'static str,
        /// The opcode byte.
        opcode: u8,
        /// Its offset from the start of the pickle.
        offset: u64,
    },
    /// An opcode that cannot apply to the interpreter's state (stack underflow, a memo key that
    /// was never stored, `SETITEMS` on a number, a malformed text argument, …).
    #[error("malformed pickle at byte {offset} of the {stream} pickle: {problem}")]
    MalformedPickle {
        /// Which pickle.
        stream: &'static str,
        /// Offset of the opcode.
        offset: u64,
        /// What is wrong, in a few words.
        problem: &'static str,
    },
    /// The file could not be read, but findings were made before the problem (a payload often
    /// sits before the damage that stops a parser). The text is `error`'s; the findings are in
    /// `findings` (see [`crate::findings_of`]).
    #[error("{}", inner_text(error))]
    WithFindings {
        /// Why the file could not be read.
        error: Box<mir_core::Error>,
        /// Every finding made before it, most severe first.
        findings: Vec<mir_core::Finding>,
    },
}

/// `error`'s text without the `ckpt: ` its own wrapper adds (the outer wrapper adds it again).
fn inner_text(error: &mir_core::Error) -> String {
    match error {
        mir_core::Error::Format {
            format: "ckpt",
            source,
        } => source.to_string(),
        other => other.to_string(),
    }
}

impl From<CkptError> for mir_core::Error {
    fn from(e: CkptError) -> Self {
        mir_core::Error::format("ckpt", e)
    }
}
