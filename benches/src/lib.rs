//! Inputs shared by the criterion benches and `cargo xtask bench`.
//!
//! * [`sdxl_like_spec`] builds a ~2,500-tensor all-in-one SDXL checkpoint's tensor list from the
//!   model-toolkit key lists in `fixtures/reference` (UNet, both text encoders, VAE), the size real
//!   checkpoints have.
//! * [`gguf_150k_vocab`] and [`gguf_small`]: GGUF LLM headers, one with a real 152k-token
//!   vocabulary.
//! * [`safetensors_bytes`] turns a spec into a whole in-memory safetensors file (data zeroed).
//! * [`layouts`]: the real key/shape layouts (diffusion models, LoRAs, VAEs, text encoders,
//!   LLMs in Hugging Face and llama.cpp naming); [`library`]: the synthetic library
//!   `cargo xtask bench` scans.
//! * `src/bin/floor.rs`: the floor `cargo xtask bench` compares `mir scan` with (open each file,
//!   pread its header bytes, nothing else).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use mir_testkit::gguf::GgufFile;
use mir_testkit::{SpecTensor, safetensors_header};

pub mod layouts;
pub mod library;

/// The model-toolkit component lists kept in the repository (`fixtures/reference/model-toolkit`,
/// MIT, licence beside them).
pub fn toolkit_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/reference/model-toolkit/components")
}

/// An all-in-one SDXL checkpoint's tensors: UNet, CLIP-L, OpenCLIP-G and VAE, F16.
pub fn sdxl_like_spec() -> Vec<SpecTensor> {
    layouts::sdxl_checkpoint(&mir_core::Dtype::F16)
}

/// A llama-like GGUF LLM with a real-size vocabulary (Qwen2.5-7B's 152k tokens, token types and
/// BPE merges; 339 tensors), as the `parse/gguf` bench and the library use.
pub fn gguf_150k_vocab() -> GgufFile {
    layouts::llm_gguf(&layouts::QWEN25_7B, "bench-qwen2.5-7b")
}

/// A small GGUF: TinyLlama's tensor list (201 tensors) without a tokenizer.
pub fn gguf_small() -> GgufFile {
    let mut g = layouts::llm_gguf(&layouts::TINYLLAMA, "bench-small");
    g.kv.retain(|(k, _)| !k.starts_with("tokenizer."));
    g
}

/// A small file: `n` tensors with short names.
pub fn small_spec(n: usize) -> Vec<SpecTensor> {
    (0..n)
        .map(|i| SpecTensor {
            name: format!("layers.{i}.weight"),
            dtype: mir_core::Dtype::F16,
            shape: vec![4, 4],
        })
        .collect()
}

/// A whole safetensors file in memory for `spec` (data section zeroed; use small shapes or a
/// header-only reader).
pub fn safetensors_bytes(spec: &[SpecTensor], metadata: &[(&str, &str)]) -> Vec<u8> {
    let (header, data_len) = safetensors_header(spec, metadata);
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(&header);
    f.resize(f.len() + usize::try_from(data_len).unwrap_or(0), 0);
    f
}

/// Writes a sparse safetensors file for `spec` at `path`.
pub fn write_sparse(path: &Path, spec: &[SpecTensor]) -> std::io::Result<()> {
    mir_testkit::write_safetensors(path, spec, &[])
}
