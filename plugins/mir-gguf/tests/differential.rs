//! Differential test against gguf-rs 0.1.8 on every fixture it can read: tensor names, stored
//! (ggml-order) shapes, offsets, alignment, data offset, metadata keys and scalar values must
//! agree. Where gguf-rs fails or is wrong, the test pins down the known gguf-rs fault, so a fixed
//! gguf-rs (or a regression of ours) shows up here.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufReader, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use common::{fixture, fixture_files};
use mir_gguf::{GgufHeader, GgufValue};

/// What gguf-rs made of a file.
enum Oracle {
    Read(gguf_rs::GGUFModel),
    Failed(String),
    Panicked,
}

/// gguf-rs the way it should be called: magic read by hand, the rest through a `BufReader`
/// (gguf-rs itself does one `read` syscall per field), every array read in full.
fn gguf_rs(path: &Path) -> Oracle {
    let run = || -> BoxResult<gguf_rs::GGUFModel> {
        let mut file = std::fs::File::open(path)?;
        let mut magic = [0u8; 4];
        file.read_exact(&mut magic)?;
        let reader = BufReader::with_capacity(64 << 10, file);
        let mut c = gguf_rs::GGUFContainer::new(gguf_rs::ByteOrder::LE, Box::new(reader), u64::MAX);
        c.decode().map_err(|e| e.to_string().into())
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(m)) => Oracle::Read(m),
        Ok(Err(e)) => Oracle::Failed(e.to_string()),
        Err(_) => Oracle::Panicked,
    }
}

/// A boxed-error result, so the test needs no `anyhow` dependency of its own.
type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Byte sizes gguf-rs 0.1.8 gets wrong (it derives the block size from the type id).
const GGUF_RS_WRONG_SIZES: &[&str] = &["BF16", "I8", "I16", "I32", "I64", "F64", "IQ4_NL", "MXFP4"];

fn compare(name: &str, ours: &GgufHeader, theirs: &gguf_rs::GGUFModel) -> Vec<String> {
    let mut notes = Vec::new();
    assert_eq!(theirs.get_version(), format!("v{}", ours.version), "{name}");
    assert_eq!(theirs.num_tensor(), ours.tensors.len() as u64, "{name}");
    assert_eq!(theirs.num_kv(), ours.kv.len() as u64, "{name}");
    assert_eq!(theirs.alignment(), ours.alignment, "{name}");
    assert_eq!(theirs.data_offset(), ours.data_offset, "{name}");
    let their_tensors = theirs.tensors();
    assert_eq!(their_tensors.len(), ours.tensors.len());
    for (a, b) in ours.tensors.iter().zip(their_tensors) {
        assert_eq!(a.name, b.name, "{name}");
        assert_eq!(a.dims, b.shape, "{name}: {} (both in ggml order)", a.name);
        assert_eq!(a.ggml_type, b.kind, "{name}: {}", a.name);
        assert_eq!(a.offset, b.offset, "{name}: {}", a.name);
        let size = a.data.map(|(s, e)| e - s).unwrap();
        if size != b.size {
            let ty = a.type_name.unwrap();
            assert!(
                GGUF_RS_WRONG_SIZES.contains(&ty),
                "{name}: {} size {size} vs {}",
                a.name,
                b.size
            );
            notes.push(format!(
                "{name}: gguf-rs says {ty} tensor {} has {} bytes, not {size}",
                a.name, b.size
            ));
        }
    }
    let our_keys: BTreeSet<&str> = ours.kv.iter().map(|e| e.key.as_str()).collect();
    let their_keys: BTreeSet<&str> = theirs.metadata().keys().map(String::as_str).collect();
    assert_eq!(our_keys, their_keys, "{name}");
    for e in &ours.kv {
        let v = &theirs.metadata()[&e.key];
        match &e.value {
            GgufValue::Str(s) => assert_eq!(v.as_str(), Some(s.as_str()), "{name}: {}", e.key),
            GgufValue::Bool(b) => assert_eq!(v.as_bool(), Some(*b), "{name}: {}", e.key),
            GgufValue::Array(a) => {
                assert_eq!(
                    v.as_array().map(Vec::len),
                    Some(a.len as usize),
                    "{name}: {}",
                    e.key
                )
            }
            other => {
                if let Some(i) = other.as_int() {
                    assert_eq!(v.to_string(), i.to_string(), "{name}: {}", e.key);
                }
            }
        }
    }
    notes
}

#[test]
fn agrees_with_gguf_rs_where_gguf_rs_reads_the_file() {
    let mut read = Vec::new();
    let mut notes = Vec::new();
    for path in fixture_files() {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let ours = fixture(&name);
        match gguf_rs(&path) {
            Oracle::Read(m) => {
                notes.extend(compare(&name, &ours, &m));
                read.push(name);
            }
            Oracle::Failed(e) => notes.push(format!("{name}: gguf-rs failed: {e}")),
            Oracle::Panicked => notes.push(format!("{name}: gguf-rs panicked")),
        }
    }
    for n in &notes {
        println!("{n}");
    }
    // The files gguf-rs reads; the rest are its known faults, pinned below.
    let expect = [
        "flux_city96.gguf",
        "llama_v2.gguf",
        "llama_v3.gguf",
        "lora_adapter.gguf",
        "values.gguf",
    ];
    assert_eq!(read, expect);
    let has = |needle: &str| notes.iter().any(|n| n.contains(needle));
    assert!(
        has("llama_be.gguf: gguf-rs failed: invalid version 50331648"),
        "{notes:?}"
    );
    assert!(has("nested.gguf: gguf-rs failed"), "{notes:?}");
    assert!(has("llama_v1.gguf: gguf-rs failed"), "{notes:?}");
    assert!(has("types_40_41.gguf: gguf-rs panicked"), "{notes:?}");
    assert!(has("gguf-rs says BF16 tensor bf16.weight has"), "{notes:?}");
}
