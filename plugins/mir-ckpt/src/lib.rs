//! PyTorch checkpoints (`.ckpt`, `.pt`, `.pth`, `.bin`, `.pkl`) read without executing them.
//!
//! [`CkptFormat`] lists a checkpoint's tensors (names, dtypes, shapes, byte ranges) and metadata
//! from its pickle, which an allowlist interpreter turns into inert values: no global is
//! imported, no callable is called, so a malicious file cannot run code here. Globals outside
//! PyTorch's weights-only allowlist become [`mir_core::Finding`]s (`global posix.system in
//! data.pkl`, [`mir_core::Severity::Unsafe`] for modules that run commands), and the file's
//! readable tensors are still listed.
//!
//! # Containers
//!
//! * The zip archive of `torch.save` (PyTorch ≥ 1.6): `<prefix>/data.pkl`, `<prefix>/data/<key>`
//!   storages, `<prefix>/byteorder`. The prefix is `archive` today but was the file stem once.
//!   TorchScript archives are read the same way and carry a finding; their code is never read.
//! * The legacy format: five pickles (magic number, protocol 1001, sys_info, the object, the
//!   storage keys) followed by the storages.
//! * A bare pickle: listed (usually without tensors) so its globals are still reported.
//! * The tar format of PyTorch ≤ 0.1.10 is refused with [`CkptError::TarFormat`], after every
//!   pickle in it was analysed for globals (they come with the error, see [`findings_of`]).
//! * TorchScript archives (`torch.jit.save`, `.pt` or `.jit`): `data.pkl` gives the module's
//!   parameters and buffers, `constants.pkl` its tensor constants (named `constants.<i>`);
//!   TorchScript's own classes (`__torch__.…`, `torch.jit._pickle.…`) are the expected format
//!   and are counted in one informational finding. The code in `code/` is never read or run.
//!
//! # When a file cannot be read
//!
//! A parse error after a payload keeps the findings made before it: the error is then a
//! [`CkptError::WithFindings`], whose text is the original error's, and [`findings_of`] returns
//! the findings (a scan puts them in the record beside the error).
//!
//! # Bounded memory
//!
//! Every value the pickle interpreter builds is charged what it costs in memory (arena slots,
//! container items, memo slots, string bytes) before it is allocated; one pickle may take
//! 24 bytes × `Limits::max_pickle_items` (240 MB by default). The walk that finds tensors costs
//! at most `max_pickle_items` steps, copies no key, and walks a shared value without tensors
//! once; all tensor names together are bounded (64 MiB) and root metadata strings together are
//! bounded by `max_string_bytes`.
//!
//! # Names and metadata
//!
//! When the file is a wrapped state dict (`{"state_dict": …}` from Lightning, `params_ema` from
//! upscalers, …; see the preference order in the `torch` module's `WRAPPER_KEYS`), tensor names
//! are the inner keys and the wrapper is in `ckpt.state_dict_key`; tensors outside the chosen
//! state dict (optimizer state, a second copy) are not listed, and an Info finding counts them.
//! Nested dicts without a wrapper key give dotted names. Scalars at the root (`global_step`,
//! `epoch`, version strings) become metadata under their own keys, plus:
//!
//! | key | value |
//! |---|---|
//! | `ckpt.container` | `zip`, `legacy` or `pickle` |
//! | `ckpt.pickle_protocol` | the highest `PROTO` the object pickle declared (0 for protocols 0–1) |
//! | `ckpt.archive_prefix` | the zip folder holding `data.pkl` |
//! | `ckpt.byteorder` | `little` or `big`, when the file says |
//! | `ckpt.state_dict_key` | the wrapper key path (dotted) the tensors were taken from |
//! | `ckpt.shared_storages` | how many storages several tensors share (tied weights, views) |
//!
//! # Byte ranges
//!
//! A tensor's range is the storage's absolute offset plus `storage_offset × itemsize`, for the
//! span its strides reach; it is absent for compressed entries, dtypes without a whole-byte size,
//! and tensors that would reach past their storage (which is reported as a finding, not an
//! error, since the names and shapes are still right).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::panic
)]

mod container;
mod error;
mod pickle;
mod torch;

use mir_core::{Error, Format, Limits, Sniff, Source, TensorIndex};

pub use error::CkptError;

/// The findings a failed parse made before its error ([`CkptError::WithFindings`]); empty for
/// any other error.
pub fn findings_of(e: &Error) -> &[mir_core::Finding] {
    match e.downcast_format::<CkptError>() {
        Some(CkptError::WithFindings { findings, .. }) => findings,
        _ => &[],
    }
}

/// The PyTorch checkpoint format.
#[derive(Clone, Copy, Debug, Default)]
pub struct CkptFormat;

/// The first bytes of the legacy format's magic-number pickle, after `PROTO n`:
/// `LONG1 10 <0x1950a86a20f9469cfc6c little-endian>`.
const LEGACY_MAGIC_PICKLE: &[u8] = b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";

/// How many leading bytes [`CkptFormat::parse`] reads to pick a container.
const HEAD: usize = 512;

impl CkptFormat {
    /// True when `head` carries another weight format's magic, so a `.bin` is not ours.
    fn other_format(head: &[u8], file_len: u64) -> bool {
        if head.starts_with(b"GGUF") || head.starts_with(b"FUGG") {
            return true;
        }
        // safetensors: a u64 header length, then a JSON object that fits the file.
        if let (Some(len), Some(b'{')) = (head.get(..8), head.get(8)) {
            let mut n = [0u8; 8];
            n.copy_from_slice(len);
            let n = u64::from_le_bytes(n);
            if n >= 2 && n <= file_len.saturating_sub(8) {
                return true;
            }
        }
        false
    }
}

impl Format for CkptFormat {
    fn name(&self) -> &'static str {
        "ckpt"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &["ckpt", "pt", "pth", "bin", "pkl", "jit"]
    }

    fn sniff(&self, head: &[u8], file_len: u64, extension: Option<&str>) -> Sniff {
        if Self::other_format(head, file_len) {
            return Sniff::No;
        }
        match head {
            // A zip: a torch file only if it holds `<prefix>/data.pkl`, which parse decides.
            [b'P', b'K', 3, 4, ..] => Sniff::Likely,
            [0x80, 2..=5, rest @ ..] if rest.starts_with(LEGACY_MAGIC_PICKLE) => Sniff::Magic,
            [0x80, 2..=5, ..] => Sniff::Likely,
            _ if extension.is_some_and(|e| self.extensions().contains(&e)) => Sniff::Extension,
            _ => Sniff::No,
        }
    }

    fn parse(&self, src: &Source, limits: &Limits) -> Result<TensorIndex, Error> {
        let head = src.head(HEAD)?;
        if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            return container::parse_zip(src, limits);
        }
        if head.get(257..262) == Some(b"ustar") {
            return Err(container::tar_globals(src, limits));
        }
        match head.first() {
            // PROTO, or an opcode a protocol 0/1 pickle can start with.
            Some(
                0x80 | b'(' | b']' | b'}' | b')' | b'c' | b'N' | b'I' | b'L' | b'S' | b'V' | b'X'
                | b'K' | b'J',
            ) => container::parse_pickles(src, limits),
            _ => Err(CkptError::NotACheckpoint.into()),
        }
    }
}
