//! A synthetic model library of `n` weight files from real layouts, for `cargo xtask bench`.
//!
//! Files are sparse: headers are real bytes (GGUF vocabularies included), tensor data is a hole,
//! so a 7 GB checkpoint costs its header (plus a filesystem block) on disk. The library is laid
//! out so that each format is one folder, which is how the bench times a peer and `mir` on the
//! same subset:
//!
//! ```text
//! library-N/
//!   safetensors/checkpoints/{sdxl,sd1}/  safetensors/loras/{sdxl,sdxl-unet,sd1}/
//!   safetensors/vae/  safetensors/text_encoders/  safetensors/llm/<model>/ (shards + index.json)
//!   gguf/llm/  gguf/diffusion/
//!   manifest.tsv   (kind, path, header bytes a reader must read, file length; one line per file)
//!   library.json   (generator version, plan hash, counts; written last, marks the library complete)
//! ```
//!
//! The mix ([`MIX`], per mille of `n`) follows what model-manager libraries hold: LoRAs dominate,
//! then checkpoints, LLMs and their shards, GGUF files, VAEs and text encoders.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use mir_core::Dtype;
use mir_testkit::gguf::{GgufFile, ggml};
use mir_testkit::{SpecTensor, safetensors_header};

use crate::layouts::{self, LlmConfig};

/// Bump when the generator's output changes, so cached libraries are rebuilt.
pub const GENERATOR_VERSION: u32 = 1;

/// A fixed-width placeholder in every template, replaced by the file's number so that no two
/// files have the same bytes.
const PLACEHOLDER: &str = "mir-bench-file-XXXXXXXX";

/// What a library file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// All-in-one SDXL checkpoint (UNet, two text encoders, VAE), F16, ~2,500 tensors.
    SdxlCheckpoint,
    /// All-in-one SD 1.x checkpoint, F16 or F32, ~1,100 tensors.
    Sd1Checkpoint,
    /// SDXL LoRA with both text encoders (~3,100 tensors, kohya metadata).
    SdxlLora,
    /// SDXL LoRA, UNet only (~2,400 tensors).
    SdxlUnetLora,
    /// SD 1.x LoRA (~530 tensors).
    Sd1Lora,
    /// Standalone VAE (SD1, SDXL or SD3).
    Vae,
    /// Standalone text encoder (CLIP-L, CLIP-G or T5-XXL).
    TextEncoder,
    /// One shard of a sharded Hugging Face LLM (safetensors, llama names).
    LlmShard,
    /// llama.cpp GGUF LLM (Q4_K_M); one in 20 has a 152k-token BPE vocabulary, the rest 32k.
    GgufLlm,
    /// city96-style quantised diffusion UNet/transformer GGUF.
    GgufDiffusion,
    /// A `model.safetensors.index.json` (not counted in `n`).
    ShardIndex,
    /// Real-layout library: an all-in-one checkpoint written from a `fixtures/specs` bundle
    /// (SD 1.5, SDXL, SD3 medium, FLUX.1-dev with VAE and text encoders).
    Bundle,
    /// Real-layout library: a kohya or diffusers/PEFT LoRA from `fixtures/specs`.
    Lora,
    /// Real-layout library: one shard of a diffusers UNet/transformer split in two.
    DiffusersShard,
}

impl Kind {
    /// The name used in the manifest and the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SdxlCheckpoint => "sdxl-checkpoint",
            Kind::Sd1Checkpoint => "sd1-checkpoint",
            Kind::SdxlLora => "sdxl-lora",
            Kind::SdxlUnetLora => "sdxl-unet-lora",
            Kind::Sd1Lora => "sd1-lora",
            Kind::Vae => "vae",
            Kind::TextEncoder => "text-encoder",
            Kind::LlmShard => "llm-shard",
            Kind::GgufLlm => "gguf-llm",
            Kind::GgufDiffusion => "gguf-diffusion",
            Kind::ShardIndex => "shard-index",
            Kind::Bundle => "bundle",
            Kind::Lora => "lora",
            Kind::DiffusersShard => "diffusers-shard",
        }
    }
}

/// The mix, in files per thousand. LoRAs take whatever rounding leaves.
pub const MIX: &[(Kind, u32)] = &[
    (Kind::SdxlCheckpoint, 100),
    (Kind::Sd1Checkpoint, 100),
    (Kind::SdxlLora, 250),
    (Kind::SdxlUnetLora, 100),
    (Kind::Sd1Lora, 100),
    (Kind::Vae, 50),
    (Kind::TextEncoder, 70),
    (Kind::LlmShard, 100),
    (Kind::GgufLlm, 75),
    (Kind::GgufDiffusion, 55),
];

/// How many files of each kind a library of `n` files holds.
pub fn counts(n: usize) -> Vec<(Kind, usize)> {
    let mut out: Vec<(Kind, usize)> = MIX
        .iter()
        .map(|&(k, pm)| (k, n * pm as usize / 1000))
        .collect();
    let given: usize = out.iter().map(|(_, c)| c).sum();
    if let Some(lora) = out.iter_mut().find(|(k, _)| *k == Kind::SdxlLora) {
        lora.1 += n - given;
    }
    out
}

/// One file of a generated library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// What it is.
    pub kind: Kind,
    /// Path relative to the library root.
    pub rel: PathBuf,
    /// Bytes a header reader must read: `8 + N` for safetensors, the end of the tensor infos for
    /// GGUF, the whole file for a JSON index.
    pub header_bytes: u64,
    /// The file's length.
    pub len: u64,
}

/// A generated library's summary (`library.json`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Weight files (index files excluded).
    pub files: usize,
    /// Every file written, index files included.
    pub entries: Vec<Entry>,
    /// Bytes the library occupies on disk (allocated blocks).
    pub disk_bytes: u64,
    /// Sum of the files' apparent lengths.
    pub apparent_bytes: u64,
    /// The plan hash ([`plan_hash`]).
    pub hash: String,
}

/// A hash of everything the library depends on: the generator version, `n`, and the text of
/// every toolkit list used. A library whose `library.json` carries the same hash is reused.
pub fn plan_hash(n: usize) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&GENERATOR_VERSION.to_le_bytes());
    h.update(&(n as u64).to_le_bytes());
    for list in LISTS {
        h.update(layouts::component_text(list).as_bytes());
    }
    format!("{:032x}", h.digest128())
}

/// Every toolkit list the generator reads.
const LISTS: &[&str] = &[
    "UNET-XL-SD.txt",
    "UNET-v1-SD.txt",
    "UNET-v3-MMDIT.txt",
    "CLIP-v1-SD.txt",
    "CLIP-XL-SD.txt",
    "CLIP-v3-L.txt",
    "CLIP-v3-G.txt",
    "CLIP-v3-T5.txt",
    "VAE-vX-S.txt",
    "VAE-v1-SD.txt",
    "VAE-v3-SD.txt",
    "LoRA-XL-UNET.txt",
    "LoRA-XL-CLIP.txt",
    "LoRA-XL-AUX-CLIP.txt",
    "LoRA-v1-UNET.txt",
    "LoRA-v1-CLIP.txt",
];

/// Reads `library.json` in `dir` and returns its hash, if the library is complete.
pub fn existing_hash(dir: &Path) -> Option<String> {
    let text = fs::read_to_string(dir.join("library.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("hash")?.as_str().map(str::to_owned)
}

/// Reads the manifest of a complete library.
pub fn read_manifest(dir: &Path) -> io::Result<Vec<Entry>> {
    let text = fs::read_to_string(dir.join("manifest.tsv"))?;
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad manifest line");
    text.lines()
        .map(|line| {
            let mut f = line.split('\t');
            let kind = f.next().ok_or_else(bad)?;
            let kind = ALL_KINDS
                .iter()
                .copied()
                .find(|k| k.as_str() == kind)
                .ok_or_else(bad)?;
            let rel = PathBuf::from(f.next().ok_or_else(bad)?);
            let header_bytes = f.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            let len = f.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            Ok(Entry {
                kind,
                rel,
                header_bytes,
                len,
            })
        })
        .collect()
}

const ALL_KINDS: &[Kind] = &[
    Kind::SdxlCheckpoint,
    Kind::Sd1Checkpoint,
    Kind::SdxlLora,
    Kind::SdxlUnetLora,
    Kind::Sd1Lora,
    Kind::Vae,
    Kind::TextEncoder,
    Kind::LlmShard,
    Kind::GgufLlm,
    Kind::GgufDiffusion,
    Kind::ShardIndex,
    Kind::Bundle,
    Kind::Lora,
    Kind::DiffusersShard,
];

/// A header template: the bytes up to the end of the header, where the placeholder sits, the
/// header bytes a reader must read, and the file length.
struct Template {
    bytes: Vec<u8>,
    at: Option<usize>,
    header_bytes: u64,
    len: u64,
}

impl Template {
    fn safetensors(spec: &[SpecTensor], metadata: &[(String, String)]) -> Template {
        let mut meta: Vec<(&str, &str)> = vec![("modelspec.title", PLACEHOLDER)];
        meta.extend(metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let (header, data) = safetensors_header(spec, &meta);
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(&header);
        let header_bytes = bytes.len() as u64;
        Template {
            at: find(&bytes, PLACEHOLDER.as_bytes()),
            bytes,
            header_bytes,
            len: header_bytes + data,
        }
    }

    fn gguf(g: &GgufFile) -> io::Result<Template> {
        let (bytes, data) = g.header()?;
        let header_bytes = bytes.len() as u64;
        Ok(Template {
            at: find(&bytes, PLACEHOLDER.as_bytes()),
            len: header_bytes.next_multiple_of(mir_testkit::gguf::ALIGNMENT) + data,
            bytes,
            header_bytes,
        })
    }

    fn write(&self, path: &Path, number: usize) -> io::Result<()> {
        let mut bytes = self.bytes.clone();
        if let Some(at) = self.at {
            let tag = format!("mir-bench-file-{number:08}");
            bytes[at..at + tag.len()].copy_from_slice(tag.as_bytes());
        }
        let mut f = fs::File::create(path)?;
        f.write_all(&bytes)?;
        f.set_len(self.len)?;
        Ok(())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The LLMs used for shards: (config, number of shards).
const SHARDED: &[(LlmConfig, usize)] = &[
    (layouts::LLAMA2_7B, 2),
    (layouts::MISTRAL_7B, 3),
    (layouts::QWEN25_7B, 4),
];

/// Generates a library of `n` weight files in `dir` (which is cleared first) and returns its
/// summary. `progress` is called with a line of text now and then.
pub fn generate(dir: &Path, n: usize, progress: &dyn Fn(&str)) -> io::Result<Summary> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)?;
    let hash = plan_hash(n);
    let mut entries = Vec::new();
    let mut number = 0usize;
    for (kind, count) in counts(n) {
        progress(&format!("{count} × {}", kind.as_str()));
        generate_kind(dir, kind, count, &mut number, &mut entries)?;
    }

    let mut manifest = String::new();
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut disk_bytes, mut apparent_bytes) = (0u64, 0u64);
    for e in &entries {
        manifest.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            e.kind.as_str(),
            e.rel.display(),
            e.header_bytes,
            e.len
        ));
        *by_kind.entry(e.kind.as_str()).or_default() += 1;
        let meta = fs::metadata(dir.join(&e.rel))?;
        disk_bytes += meta.blocks() * 512;
        apparent_bytes += meta.len();
    }
    fs::write(dir.join("manifest.tsv"), manifest)?;
    let files = entries
        .iter()
        .filter(|e| e.kind != Kind::ShardIndex)
        .count();
    let json = serde_json::json!({
        "generator_version": GENERATOR_VERSION,
        "n": n,
        "files": files,
        "hash": hash,
        "disk_bytes": disk_bytes,
        "apparent_bytes": apparent_bytes,
        "by_kind": by_kind,
    });
    fs::write(
        dir.join("library.json"),
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )?;
    Ok(Summary {
        files,
        entries,
        disk_bytes,
        apparent_bytes,
        hash,
    })
}

/// Disk and apparent bytes of a library's files (for a reused library).
pub fn sizes(dir: &Path, entries: &[Entry]) -> io::Result<(u64, u64)> {
    let (mut disk, mut apparent) = (0, 0);
    for e in entries {
        let m = fs::metadata(dir.join(&e.rel))?;
        disk += m.blocks() * 512;
        apparent += m.len();
    }
    Ok((disk, apparent))
}

fn generate_kind(
    dir: &Path,
    kind: Kind,
    count: usize,
    number: &mut usize,
    entries: &mut Vec<Entry>,
) -> io::Result<()> {
    if count == 0 {
        return Ok(());
    }
    // Each kind has a few variants; file i uses variant i % variants.len().
    let (folder, ext, variants): (&str, &str, Vec<(String, Template)>) = match kind {
        Kind::SdxlCheckpoint => (
            "safetensors/checkpoints/sdxl",
            "safetensors",
            vec![(
                "sdxl".into(),
                Template::safetensors(&layouts::sdxl_checkpoint(&Dtype::F16), &[]),
            )],
        ),
        Kind::Sd1Checkpoint => (
            "safetensors/checkpoints/sd1",
            "safetensors",
            vec![
                (
                    "sd15-fp16".into(),
                    Template::safetensors(&layouts::sd1_checkpoint(&Dtype::F16), &[]),
                ),
                (
                    "sd15-fp32".into(),
                    Template::safetensors(&layouts::sd1_checkpoint(&Dtype::F32), &[]),
                ),
            ],
        ),
        Kind::SdxlLora => (
            "safetensors/loras/sdxl",
            "safetensors",
            vec![(
                "lora".into(),
                Template::safetensors(
                    &layouts::sdxl_lora(false),
                    &layouts::lora_metadata("sdxl_base_v1-0"),
                ),
            )],
        ),
        Kind::SdxlUnetLora => (
            "safetensors/loras/sdxl-unet",
            "safetensors",
            vec![(
                "lora".into(),
                Template::safetensors(
                    &layouts::sdxl_lora(true),
                    &layouts::lora_metadata("sdxl_base_v1-0"),
                ),
            )],
        ),
        Kind::Sd1Lora => (
            "safetensors/loras/sd1",
            "safetensors",
            vec![(
                "lora".into(),
                Template::safetensors(&layouts::sd1_lora(), &layouts::lora_metadata("sd_v1")),
            )],
        ),
        Kind::Vae => (
            "safetensors/vae",
            "safetensors",
            ["VAE-v1-SD.txt", "VAE-vX-S.txt", "VAE-v3-SD.txt"]
                .iter()
                .map(|l| {
                    (
                        l.trim_end_matches(".txt").to_lowercase(),
                        Template::safetensors(&layouts::vae(l), &[]),
                    )
                })
                .collect(),
        ),
        Kind::TextEncoder => (
            "safetensors/text_encoders",
            "safetensors",
            ["CLIP-v3-L.txt", "CLIP-v3-G.txt", "CLIP-v3-T5.txt"]
                .iter()
                .map(|l| {
                    (
                        l.trim_end_matches(".txt").to_lowercase(),
                        Template::safetensors(&layouts::text_encoder(l), &[]),
                    )
                })
                .collect(),
        ),
        Kind::LlmShard => return generate_shards(dir, count, number, entries),
        Kind::GgufLlm => (
            "gguf/llm",
            "gguf",
            vec![
                ("tinyllama-1.1b.Q4_K_M".into(), llm(&layouts::TINYLLAMA)?),
                ("llama-2-7b.Q4_K_M".into(), llm(&layouts::LLAMA2_7B)?),
                ("mistral-7b.Q4_K_M".into(), llm(&layouts::MISTRAL_7B)?),
            ],
        ),
        Kind::GgufDiffusion => (
            "gguf/diffusion",
            "gguf",
            vec![
                (
                    "sdxl-unet.Q8_0".into(),
                    Template::gguf(&layouts::diffusion_gguf(
                        "UNET-XL-SD.txt",
                        "sdxl",
                        ggml::Q8_0,
                        PLACEHOLDER,
                    ))?,
                ),
                (
                    "sd15-unet.Q4_0".into(),
                    Template::gguf(&layouts::diffusion_gguf(
                        "UNET-v1-SD.txt",
                        "sd1",
                        ggml::Q4_0,
                        PLACEHOLDER,
                    ))?,
                ),
                (
                    "sd3-mmdit.Q8_0".into(),
                    Template::gguf(&layouts::diffusion_gguf(
                        "UNET-v3-MMDIT.txt",
                        "sd3",
                        ggml::Q8_0,
                        PLACEHOLDER,
                    ))?,
                ),
            ],
        ),
        Kind::ShardIndex | Kind::Bundle | Kind::Lora | Kind::DiffusersShard => return Ok(()),
    };
    // The 152k-vocabulary GGUF is big to build: only made when a library has 20 GGUF LLMs.
    let big_vocab = if kind == Kind::GgufLlm && count >= 20 {
        Some(llm(&layouts::QWEN25_7B)?)
    } else {
        None
    };
    fs::create_dir_all(dir.join(folder))?;
    for i in 0..count {
        let (label, t) = match &big_vocab {
            Some(t) if i % 20 == 19 => ("qwen2.5-7b.Q4_K_M", t),
            _ => {
                let (label, t) = &variants[i % variants.len()];
                (label.as_str(), t)
            }
        };
        let rel = PathBuf::from(folder).join(format!("{:05}-{label}.{ext}", *number));
        t.write(&dir.join(&rel), *number)?;
        entries.push(Entry {
            kind,
            rel,
            header_bytes: t.header_bytes,
            len: t.len,
        });
        *number += 1;
    }
    Ok(())
}

fn llm(c: &LlmConfig) -> io::Result<Template> {
    Template::gguf(&layouts::llm_gguf(c, PLACEHOLDER))
}

/// Sharded LLMs in `safetensors/llm/<model>-<k>/`: `model-0000i-of-0000m.safetensors` and
/// `model.safetensors.index.json`; the last model gets fewer shards if `count` runs out.
fn generate_shards(
    dir: &Path,
    count: usize,
    number: &mut usize,
    entries: &mut Vec<Entry>,
) -> io::Result<()> {
    let mut left = count;
    let mut model = 0usize;
    while left > 0 {
        let (config, parts) = SHARDED[model % SHARDED.len()];
        let parts = parts.min(left);
        let folder =
            PathBuf::from("safetensors/llm").join(format!("{:05}-{}", *number, config.name));
        fs::create_dir_all(dir.join(&folder))?;
        let blocks = layouts::llama_hf_blocks(&config, &Dtype::BF16);
        let per = blocks.len().div_ceil(parts);
        let mut weight_map = serde_json::Map::new();
        let mut total_size = 0u64;
        for (p, chunk) in blocks.chunks(per).enumerate() {
            let spec: Vec<SpecTensor> = chunk.iter().flatten().cloned().collect();
            let name = format!("model-{:05}-of-{parts:05}.safetensors", p + 1);
            for t in &spec {
                weight_map.insert(t.name.clone(), name.clone().into());
            }
            let t = Template::safetensors(&spec, &[("format".into(), "pt".into())]);
            let rel = folder.join(&name);
            t.write(&dir.join(&rel), *number)?;
            total_size += t.len - t.header_bytes;
            entries.push(Entry {
                kind: Kind::LlmShard,
                rel,
                header_bytes: t.header_bytes,
                len: t.len,
            });
            *number += 1;
        }
        let index = serde_json::json!({
            "metadata": {"total_size": total_size},
            "weight_map": weight_map,
        });
        let text = serde_json::to_vec_pretty(&index).unwrap_or_default();
        let rel = folder.join("model.safetensors.index.json");
        fs::write(dir.join(&rel), &text)?;
        entries.push(Entry {
            kind: Kind::ShardIndex,
            rel,
            header_bytes: text.len() as u64,
            len: text.len() as u64,
        });
        left -= parts;
        model += 1;
    }
    Ok(())
}

/// The real-layout library (issue 19): only safetensors, laid out like real releases, per
/// mille of `n`: all-in-one checkpoints, LoRAs of 500–3,000 tensors, diffusers shards, LLM shards.
pub const REAL_MIX: &[(Kind, u32)] = &[
    (Kind::Bundle, 200),
    (Kind::Lora, 450),
    (Kind::DiffusersShard, 150),
    (Kind::LlmShard, 200),
];

/// Specs of the real-layout library, by kind (file `i` of a kind uses spec `i % len`).
const REAL_SPECS: &[(Kind, &[&str])] = &[
    (
        Kind::Bundle,
        &[
            "sd1.bundle",
            "sdxl.bundle",
            "sd3-medium.bundle",
            "flux-1-dev.bundle",
        ],
    ),
    (
        Kind::Lora,
        &[
            "lora-sdxl.kohya",
            "lora-sdxl.peft",
            "lora-flux.kohya",
            "lora-flux.peft",
            "lora-sd3.kohya",
            "lora-sd1.kohya",
        ],
    ),
    (
        Kind::DiffusersShard,
        &[
            "sdxl.diffusers",
            "flux-1-dev.diffusers",
            "sd3-5-large.diffusers",
        ],
    ),
];

fn specs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/specs")
}

/// The text of a spec or of what it includes: `fixtures/specs/NAME`, or a model-toolkit list
/// for `toolkit:NAME` (through [`layouts::component_text`]).
fn resolve_spec(name: &str) -> Option<String> {
    match name.strip_prefix("toolkit:") {
        Some(list) => Some(layouts::component_text(list)),
        None => fs::read_to_string(specs_dir().join(name)).ok(),
    }
}

/// The tensors and metadata of `fixtures/specs/<name>.spec`.
/// A spec's tensors and string metadata.
type LoadedSpec = (Vec<SpecTensor>, Vec<(String, String)>);

fn load_real_spec(name: &str) -> io::Result<LoadedSpec> {
    let text = resolve_spec(&format!("{name}.spec"))
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("spec {name}")))?;
    let spec = mir_classify::testing::load_spec(&text, &mut resolve_spec)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{name}: {e}")))?;
    let tensors = spec
        .index
        .tensors
        .iter()
        .map(|t| SpecTensor {
            name: t.name.clone(),
            dtype: t.dtype.clone(),
            shape: t.shape.clone(),
        })
        .collect();
    let meta = spec
        .index
        .metadata
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
        .collect();
    Ok((tensors, meta))
}

/// How many files of each kind the real-layout library of `n` files holds.
pub fn real_counts(n: usize) -> Vec<(Kind, usize)> {
    let mut out: Vec<(Kind, usize)> = REAL_MIX
        .iter()
        .map(|&(k, pm)| (k, n * pm as usize / 1000))
        .collect();
    let given: usize = out.iter().map(|(_, c)| c).sum();
    if let Some(lora) = out.iter_mut().find(|(k, _)| *k == Kind::Lora) {
        lora.1 += n - given;
    }
    out
}

/// The plan hash of the real-layout library (generator version, `n`, every spec it reads).
pub fn real_plan_hash(n: usize) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(b"real-layout");
    h.update(&GENERATOR_VERSION.to_le_bytes());
    h.update(&(n as u64).to_le_bytes());
    for (_, names) in REAL_SPECS {
        for name in *names {
            h.update(
                resolve_spec(&format!("{name}.spec"))
                    .unwrap_or_default()
                    .as_bytes(),
            );
        }
    }
    for list in LISTS {
        h.update(layouts::component_text(list).as_bytes());
    }
    format!("{:032x}", h.digest128())
}

/// Generates the real-layout library of `n` safetensors files in `dir/safetensors/` (cleared
/// first), with `manifest.tsv` and `library.json` as [`generate`] writes them.
pub fn generate_real(dir: &Path, n: usize, progress: &dyn Fn(&str)) -> io::Result<Summary> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)?;
    let hash = real_plan_hash(n);
    let mut entries = Vec::new();
    let mut number = 0usize;
    for (kind, count) in real_counts(n) {
        progress(&format!("{count} × {}", kind.as_str()));
        if kind == Kind::LlmShard {
            generate_shards(dir, count, &mut number, &mut entries)?;
            continue;
        }
        let names = REAL_SPECS
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, n)| *n)
            .unwrap_or_default();
        let specs: Vec<(&str, LoadedSpec)> = names
            .iter()
            .map(|name| load_real_spec(name).map(|l| (*name, l)))
            .collect::<io::Result<_>>()?;
        if kind == Kind::DiffusersShard {
            generate_diffusers_shards(dir, count, &specs, &mut number, &mut entries)?;
            continue;
        }
        let folder = PathBuf::from("safetensors").join(kind.as_str());
        fs::create_dir_all(dir.join(&folder))?;
        let templates: Vec<(&str, Template)> = specs
            .iter()
            .map(|(name, (t, m))| (*name, Template::safetensors(t, m)))
            .collect();
        for i in 0..count {
            let (label, t) = &templates[i % templates.len()];
            let rel = folder.join(format!("{:05}-{label}.safetensors", number));
            t.write(&dir.join(&rel), number)?;
            entries.push(Entry {
                kind,
                rel,
                header_bytes: t.header_bytes,
                len: t.len,
            });
            number += 1;
        }
    }
    let mut manifest = String::new();
    let (mut disk_bytes, mut apparent_bytes) = (0u64, 0u64);
    for e in &entries {
        manifest.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            e.kind.as_str(),
            e.rel.display(),
            e.header_bytes,
            e.len
        ));
        let meta = fs::metadata(dir.join(&e.rel))?;
        disk_bytes += meta.blocks() * 512;
        apparent_bytes += meta.len();
    }
    fs::write(dir.join("manifest.tsv"), manifest)?;
    let files = entries
        .iter()
        .filter(|e| e.kind != Kind::ShardIndex)
        .count();
    let json = serde_json::json!({
        "generator_version": GENERATOR_VERSION,
        "layout": "real",
        "n": n,
        "files": files,
        "hash": hash,
        "disk_bytes": disk_bytes,
        "apparent_bytes": apparent_bytes,
    });
    fs::write(
        dir.join("library.json"),
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )?;
    Ok(Summary {
        files,
        entries,
        disk_bytes,
        apparent_bytes,
        hash,
    })
}

/// Diffusers models split in two shards (`diffusion_pytorch_model-0000i-of-00002.safetensors`
/// with their `.index.json`), in `safetensors/diffusers/<number>-<spec>/`.
fn generate_diffusers_shards(
    dir: &Path,
    count: usize,
    specs: &[(&str, LoadedSpec)],
    number: &mut usize,
    entries: &mut Vec<Entry>,
) -> io::Result<()> {
    let mut left = count;
    let mut model = 0usize;
    while left > 0 && !specs.is_empty() {
        let (label, (tensors, _)) = &specs[model % specs.len()];
        let parts = 2.min(left);
        let folder = PathBuf::from("safetensors/diffusers").join(format!("{:05}-{label}", *number));
        fs::create_dir_all(dir.join(&folder))?;
        let per = tensors.len().div_ceil(parts).max(1);
        let mut weight_map = serde_json::Map::new();
        let mut total_size = 0u64;
        for (p, chunk) in tensors.chunks(per).enumerate() {
            let name = format!(
                "diffusion_pytorch_model-{:05}-of-{parts:05}.safetensors",
                p + 1
            );
            for t in chunk {
                weight_map.insert(t.name.clone(), name.clone().into());
            }
            let t = Template::safetensors(chunk, &[("format".into(), "pt".into())]);
            let rel = folder.join(&name);
            t.write(&dir.join(&rel), *number)?;
            total_size += t.len - t.header_bytes;
            entries.push(Entry {
                kind: Kind::DiffusersShard,
                rel,
                header_bytes: t.header_bytes,
                len: t.len,
            });
            *number += 1;
        }
        let index = serde_json::json!({
            "metadata": {"total_size": total_size},
            "weight_map": weight_map,
        });
        let text = serde_json::to_vec_pretty(&index).unwrap_or_default();
        let rel = folder.join("diffusion_pytorch_model.safetensors.index.json");
        fs::write(dir.join(&rel), &text)?;
        entries.push(Entry {
            kind: Kind::ShardIndex,
            rel,
            header_bytes: text.len() as u64,
            len: text.len() as u64,
        });
        left -= parts;
        model += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_layout_library_parses_and_has_large_loras() {
        let dir = std::env::temp_dir().join(format!("mir-bench-real-{}", std::process::id()));
        let s = generate_real(&dir, 40, &|_| {}).unwrap();
        assert_eq!(s.files, 40);
        assert_eq!(existing_hash(&dir), Some(real_plan_hash(40)));
        assert_eq!(read_manifest(&dir).unwrap(), s.entries);
        let limits = mir_core::Limits::default();
        let mut max_lora = 0;
        for e in s.entries.iter().filter(|e| e.kind != Kind::ShardIndex) {
            use mir_core::Format;
            let src = mir_core::Source::open(dir.join(&e.rel)).unwrap();
            let index = mir_safetensors::SafetensorsFormat
                .parse(&src, &limits)
                .unwrap_or_else(|err| panic!("{}: {err}", e.rel.display()));
            if e.kind == Kind::Lora {
                max_lora = max_lora.max(index.tensors.len());
            }
        }
        assert!(max_lora >= 2_000, "largest LoRA has {max_lora} tensors");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn counts_add_up() {
        for n in [1, 7, 100, 1250, 5000, 10_000] {
            let total: usize = counts(n).iter().map(|(_, c)| c).sum();
            assert_eq!(total, n);
        }
        let c = counts(5000);
        assert!(c.contains(&(Kind::SdxlCheckpoint, 500)));
        assert!(c.contains(&(Kind::GgufLlm, 375)));
    }

    #[test]
    fn small_library_parses_and_has_a_manifest() {
        let dir = std::env::temp_dir().join(format!("mir-bench-lib-{}", std::process::id()));
        let s = generate(&dir, 40, &|_| {}).unwrap();
        assert_eq!(s.files, 40);
        assert_eq!(existing_hash(&dir), Some(plan_hash(40)));
        let manifest = read_manifest(&dir).unwrap();
        assert_eq!(manifest, s.entries);
        let limits = mir_core::Limits::default();
        for e in manifest.iter().filter(|e| e.kind != Kind::ShardIndex) {
            let path = dir.join(&e.rel);
            let src = mir_core::Source::open(&path).unwrap();
            assert_eq!(src.len(), e.len, "{}", e.rel.display());
            if e.rel.extension().is_some_and(|x| x == "gguf") {
                let h = mir_gguf::parse_header(&src, &limits).unwrap();
                assert_eq!(h.header_len, e.header_bytes, "{}", e.rel.display());
            } else {
                use mir_core::Format;
                mir_safetensors::SafetensorsFormat
                    .parse(&src, &limits)
                    .unwrap_or_else(|err| panic!("{}: {err}", e.rel.display()));
            }
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
