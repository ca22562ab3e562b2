//! Bounds on everything a file's header can ask us to allocate or walk.

/// Bounds applied while parsing untrusted files. Every parser checks the relevant limit before it
/// allocates or loops on a count read from a file.
///
/// The defaults accept every real model we know of (the largest safetensors headers are a few MB,
/// GGUF vocabularies are ~256k tokens, torch checkpoints hold a few tens of thousands of tensors)
/// while keeping a hostile file to a few hundred MB of memory at worst.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest header a format may declare, in bytes (safetensors JSON, GGUF metadata and tensor
    /// infos, a torch `data.pkl`). Default 100 MB, the `safetensors` crate's own cap.
    pub max_header_bytes: u64,
    /// Most tensors one file may declare. Default 250,000: the largest single files we know (MoE
    /// checkpoints) hold under 100,000, and a header parser needs about 1 KB of memory per
    /// tensor, so a hostile count stays near 250 MB.
    pub max_tensors: u64,
    /// Most dimensions of one tensor. Default 8 (GGUF allows 4; torch in practice ≤ 6).
    pub max_rank: usize,
    /// Longest tensor name, in bytes. Default 4,096.
    pub max_name_bytes: usize,
    /// Most metadata entries (GGUF key/values, safetensors `__metadata__` pairs). Default 1,000,000.
    pub max_metadata_entries: u64,
    /// Longest single metadata string, in bytes. Default 64 MiB (chat templates and embedded
    /// configs are large, but not larger).
    pub max_string_bytes: u64,
    /// Most elements of one metadata array (GGUF tokenizer vocabularies hold ~256k). Default 16M.
    pub max_array_len: u64,
    /// Deepest nesting of arrays or containers. Default 16.
    pub max_depth: usize,
    /// Most pickle opcodes executed by the ckpt interpreter. Default 50,000,000.
    pub max_pickle_ops: u64,
    /// Most memo entries / container items the pickle interpreter keeps. Default 10,000,000.
    pub max_pickle_items: u64,
    /// Most zip entries read from a central directory. Default 1,000,000.
    pub max_zip_entries: u64,
    /// Most values (plus marks) on the pickle interpreter's stack at once. Default 1,000,000; a
    /// real `torch.save` stream stays below a few thousand (one `SETITEMS` batch of 1,000 pairs).
    pub max_pickle_stack: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 100_000_000,
            max_tensors: 250_000,
            max_rank: 8,
            max_name_bytes: 4096,
            max_metadata_entries: 1_000_000,
            max_string_bytes: 64 << 20,
            max_array_len: 16 << 20,
            max_depth: 16,
            max_pickle_ops: 50_000_000,
            max_pickle_items: 10_000_000,
            max_zip_entries: 1_000_000,
            max_pickle_stack: 1_000_000,
        }
    }
}

impl Limits {
    /// Checks `value <= limit`, returning [`crate::Error::LimitExceeded`] naming `what` otherwise.
    pub fn check(what: &'static str, value: u64, limit: u64) -> Result<(), crate::Error> {
        if value > limit {
            Err(crate::Error::LimitExceeded { what, value, limit })
        } else {
            Ok(())
        }
    }
}
