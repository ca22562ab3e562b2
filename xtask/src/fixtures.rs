//! The small committed fixtures and their generators.
//!
//! Every file under `fixtures/safetensors/` is written here; `cargo xtask fixtures` rewrites
//! them and the test below fails when the committed copies differ from what this code writes.
//! `fixtures/safetensors/hostile/EXPECT` names the error each hostile file must produce.

use std::path::Path;

use mir_testkit::{SpecTensor, parse_spec, safetensors_header};

/// A fixture: file name and bytes.
type Fixture = (&'static str, Vec<u8>);

fn safetensors(spec: &str, metadata: &[(&str, &str)]) -> Vec<u8> {
    let tensors: Vec<SpecTensor> = parse_spec(spec).unwrap_or_default();
    let (header, data_len) = safetensors_header(&tensors, metadata);
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(&header);
    // Deterministic, non-zero data so hashes of the fixtures mean something.
    f.extend((0..data_len).map(|i| (i % 251) as u8));
    f
}

fn raw(header: &str, data: usize) -> Vec<u8> {
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    f.resize(f.len() + data, 0);
    f
}

/// Valid files.
pub(crate) fn ok() -> Vec<Fixture> {
    let two = "a.weight F16 [2,2]\nb.bias F32 [2]";
    vec![
        (
            "tiny_f16.safetensors",
            safetensors(two, &[("format", "pt")]),
        ),
        (
            "tiny_bf16_scalar.safetensors",
            safetensors("scale BF16 []\nw BF16 [3,1]", &[]),
        ),
        (
            "empty.safetensors",
            safetensors("", &[("note", "no tensors")]),
        ),
        (
            "f8_and_f4.safetensors",
            safetensors("q F8_E4M3 [4,4]\nz F4 [2,4]", &[]),
        ),
        ("renamed_safetensors.bin", safetensors(two, &[])),
    ]
}

/// Hostile or damaged files, each with the error it must give (see EXPECT).
pub(crate) fn hostile() -> Vec<(Fixture, &'static str)> {
    let good = r#"{"w":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]}}"#;
    let mut length_bomb = (1u64 << 60).to_le_bytes().to_vec();
    length_bomb.extend_from_slice(b"{}      ");
    let mut past_end = 4096u64.to_le_bytes().to_vec();
    past_end.extend_from_slice(good.as_bytes());
    let mut bad_utf8 = raw(good, 8);
    bad_utf8[10] = 0xc3; // a lone UTF-8 lead byte inside the JSON
    let mut truncated = raw(good, 8);
    truncated.truncate(truncated.len() - 3);
    vec![
        (("length_bomb.safetensors", length_bomb), "HeaderTooLarge"),
        (("header_past_end.safetensors", past_end), "HeaderPastEnd"),
        (("zero_bytes.safetensors", Vec::new()), "HeaderTooSmall"),
        (("truncated_data.safetensors", truncated), "DataTruncated"),
        (
            ("trailing_bytes.safetensors", raw(good, 12)),
            "TrailingBytes",
        ),
        (
            (
                "overlapping_offsets.safetensors",
                raw(
                    r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#,
                    6,
                ),
            ),
            "InvalidOffsets",
        ),
        (
            (
                "hole_in_data.safetensors",
                raw(
                    r#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}"#,
                    6,
                ),
            ),
            "InvalidOffsets",
        ),
        (
            (
                "size_mismatch.safetensors",
                raw(
                    r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}"#,
                    8,
                ),
            ),
            "SizeMismatch",
        ),
        (
            (
                "shape_overflow.safetensors",
                raw(
                    r#"{"a":{"dtype":"F32","shape":[4611686018427387904,16],"data_offsets":[0,8]}}"#,
                    8,
                ),
            ),
            "Overflow",
        ),
        (("bad_utf8.safetensors", bad_utf8), "InvalidUtf8"),
        (
            (
                "non_string_metadata.safetensors",
                raw(
                    r#"{"__metadata__":{"steps":1000},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
                    1,
                ),
            ),
            "MetadataNotString",
        ),
        (
            (
                "duplicate_names.safetensors",
                raw(
                    r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#,
                    2,
                ),
            ),
            "DuplicateName",
        ),
        (
            ("not_json.safetensors", raw("{not json at all}", 0)),
            "InvalidJson",
        ),
        (
            ("array_header.safetensors", raw("[1,2,3]", 0)),
            "InvalidJson",
        ),
        (
            ("entry_not_object.safetensors", raw(r#"{"a":[1,2]}"#, 0)),
            "InvalidEntry",
        ),
    ]
}

/// Writes every fixture under `dir` (the repository's `fixtures/`). Returns the file count.
pub(crate) fn write_all(dir: &Path) -> anyhow::Result<usize> {
    let ok_dir = dir.join("safetensors/ok");
    let hostile_dir = dir.join("safetensors/hostile");
    std::fs::create_dir_all(&ok_dir)?;
    std::fs::create_dir_all(&hostile_dir)?;
    let mut n = 0;
    for (name, bytes) in ok() {
        std::fs::write(ok_dir.join(name), bytes)?;
        n += 1;
    }
    let mut expect = String::from(
        "# file  expected SafetensorsError variant (written by cargo xtask fixtures)\n",
    );
    for ((name, bytes), variant) in hostile() {
        std::fs::write(hostile_dir.join(name), bytes)?;
        expect.push_str(&format!("{name} {variant}\n"));
        n += 1;
    }
    std::fs::write(hostile_dir.join("EXPECT"), expect)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_fixtures_are_up_to_date() {
        let root = crate::workspace_root().join("fixtures");
        let tmp = std::env::temp_dir().join(format!("mir-xtask-fixtures-{}", std::process::id()));
        write_all(&tmp).unwrap();
        for sub in ["safetensors/ok", "safetensors/hostile"] {
            let mut names: Vec<_> = std::fs::read_dir(tmp.join(sub))
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            names.sort();
            for name in names {
                let fresh = std::fs::read(tmp.join(sub).join(&name)).unwrap();
                let committed = std::fs::read(root.join(sub).join(&name)).unwrap_or_else(|_| {
                    panic!("fixtures/{sub}/{name:?} is missing: run `cargo xtask fixtures`")
                });
                assert!(
                    fresh == committed,
                    "fixtures/{sub}/{name:?} is stale: run `cargo xtask fixtures`"
                );
            }
        }
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn demo_library_builds() {
        let tmp = std::env::temp_dir().join(format!("mir-xtask-demo-{}", std::process::id()));
        let built = crate::build_demo(&crate::workspace_root(), &tmp).unwrap();
        assert!(built.valid >= ok().len());
        assert_eq!(built.broken, hostile().len());
        assert!(built.models > 50, "{built:?}");
        // Only weight files are copied.
        assert!(!tmp.join("gguf/make_fixtures.py").exists());
        assert!(tmp.join("safetensors/ok/tiny_f16.safetensors").is_file());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
