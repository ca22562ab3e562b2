//! The reference data the repository carries: the bundled MIR database is the published file,
//! byte for byte, with its licences beside it; every folder of outside data has its licence and
//! a README; the August 2025 database (MPL-2.0 + Commons Clause) is never in the repository.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_bundled_database_is_unmodified_and_licensed() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let bytes = std::fs::read(data.join("mir-2025-07.json")).unwrap();
    assert_eq!(
        format!("{:x}", Sha256::digest(&bytes)),
        "237640b47dcb2ee4a6db0e8c5adabd2864a6968bca7f9a38d983f63414974961",
        "mir-2025-07.json must stay byte for byte as published"
    );
    let lgpl = std::fs::read_to_string(data.join("LGPL-3.0.txt")).unwrap();
    assert!(lgpl.contains("GNU LESSER GENERAL PUBLIC LICENSE") && lgpl.contains("Version 3"));
    let gpl = std::fs::read_to_string(data.join("GPL-3.0.txt")).unwrap();
    assert!(gpl.contains("GNU GENERAL PUBLIC LICENSE") && gpl.contains("Version 3"));
    let readme = std::fs::read_to_string(data.join("README.md")).unwrap();
    assert!(readme.contains("unmodified") && readme.contains("LGPL"));
}

#[test]
fn outside_data_carries_its_licence_and_source() {
    let toolkit = repo().join("fixtures/reference/model-toolkit");
    assert!(
        std::fs::read_to_string(toolkit.join("LICENSE"))
            .unwrap()
            .starts_with("MIT License")
    );
    assert!(toolkit.join("components/UNET-CAS-C.txt").is_file());
    for readme in [
        "fixtures/reference/model-toolkit/README.md",
        "fixtures/reference/mir-testvec/README.md",
        "fixtures/mir-db/README.md",
    ] {
        let text = std::fs::read_to_string(repo().join(readme)).unwrap();
        assert!(text.contains("Licence"), "{readme} states no licence");
    }
}

#[test]
fn the_august_2025_database_is_never_in_the_repository() {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                if !matches!(name.as_str(), "target" | ".git" | "corpus" | "artifacts") {
                    walk(&p, found);
                }
            } else if name.starts_with("mir-2025-08") {
                found.push(p);
            }
        }
    }
    let mut found = Vec::new();
    walk(&repo(), &mut found);
    assert!(found.is_empty(), "{found:?}");
}
