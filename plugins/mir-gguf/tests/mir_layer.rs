//! MIR's GGUF `layer_256` (SPEC-notes §2.1) reproduced byte for byte on the shared test vector.

use std::path::PathBuf;

use mir_core::{Limits, Source, signature::Signatures};

/// The MIR test vectors kept in the repository (`fixtures/reference/mir-testvec`, README there).
fn testvec() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/reference/mir-testvec")
}

#[test]
fn tv4_tiny_layer_string_and_hashes_match_the_vector() {
    let dir = testvec();
    let vector: String = std::fs::read_to_string(dir.join("gguf_vector.json")).unwrap();
    let field = |name: &str| -> String {
        let at = vector.find(&format!("\"{name}\": \"")).unwrap() + name.len() + 5;
        let rest = &vector[at..];
        rest[..rest.find("\",\n").unwrap()].to_string()
    };
    let src = Source::open(dir.join("tv4_tiny.gguf")).unwrap();
    let header = mir_gguf::parse_header(&src, &Limits::default()).unwrap();
    let index = header.to_index();
    assert_eq!(
        index.mir_layer_string.as_deref(),
        Some(field("layer_string").as_str())
    );
    let sigs = Signatures::of(&index);
    assert_eq!(sigs.layer_256.as_deref(), Some(field("layer_256").as_str()));
    assert_eq!(sigs.layer_b3.as_deref(), Some(field("layer_b3").as_str()));
}
