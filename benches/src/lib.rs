//! Inputs shared by the criterion benches and `cargo xtask bench`.
//!
//! * [`sdxl_like_spec`] builds a ~2,500-tensor all-in-one SDXL checkpoint's tensor list from the
//!   model-toolkit key lists in `../shared` (UNet, both text encoders, VAE), the size real
//!   checkpoints have.
//! * [`safetensors_bytes`] turns a spec into a whole in-memory safetensors file (data zeroed).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use mir_testkit::{SpecTensor, parse_spec, safetensors_header};

/// `../shared` relative to the workspace.
pub fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

fn component(name: &str, prefix: &str) -> Vec<SpecTensor> {
    let path = shared_dir()
        .join("reference/model-toolkit/components")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (the benches read ../shared)", path.display()));
    let mut spec = parse_spec(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for t in &mut spec {
        t.name = format!("{prefix}{}", t.name);
    }
    spec
}

/// An all-in-one SDXL checkpoint's tensors: UNet, CLIP-L, OpenCLIP-G and VAE, F16.
pub fn sdxl_like_spec() -> Vec<SpecTensor> {
    let mut spec = component("UNET-XL-SD.txt", "model.diffusion_model.");
    spec.extend(component(
        "CLIP-v1-SD.txt",
        "conditioner.embedders.0.transformer.",
    ));
    spec.extend(component(
        "CLIP-XL-SD.txt",
        "conditioner.embedders.1.model.",
    ));
    spec.extend(component("VAE-vX-S.txt", "first_stage_model."));
    let mut seen = std::collections::HashSet::new();
    spec.retain(|t| seen.insert(t.name.clone()));
    spec
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
