//! Shared test helpers: building the test plugins, and writing `.npy`/`.npz` fixtures.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Builds `mir-npy` and `mir-test-hostile` once per test binary, with a separate target directory
/// so the nested cargo does not wait on the lock of the `cargo test` that runs us. Optimised
/// builds (benches) get release plugins, so a comparison with in-process code is fair.
pub(crate) fn rust_plugin(crate_name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-build");
        let release = !cfg!(debug_assertions);
        let out = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "mir-npy",
                "-p",
                "mir-test-hostile",
                "--target-dir",
            ])
            .arg(&target)
            .args(release.then_some("--release"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cannot run cargo to build the test plugins");
        assert!(
            out.status.success(),
            "building the test plugins failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join(if release { "release" } else { "debug" })
    });
    let file = format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        crate_name.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    );
    let path = dir.join(file);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// The repository's C header directory.
pub(crate) fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../mir-plugin-abi/include")
}

/// Compiles `tests/plugins/c/toy.c` with `defines` into a shared library named after `variant`.
/// Needs a C compiler (`$CC`, else `cc`); fails loudly without one.
pub(crate) fn c_plugin(variant: &str, defines: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!(
        "{}toy_{variant}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/c/toy.c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let result = Command::new(&cc)
        .args([
            "-shared",
            "-fPIC",
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-O1",
        ])
        .arg("-I")
        .arg(include_dir())
        .args(defines.iter().map(|d| format!("-D{d}")))
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?} (set CC): {e}"));
    assert!(
        result.status.success(),
        "compiling {variant} failed:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

/// A `.npy` stream (version `major`) for `descr` and `shape`, header padded to 64 bytes as numpy
/// does, followed by `data`.
pub(crate) fn npy(major: u8, descr: &str, fortran: bool, shape: &[u64], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    let shape_text = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let order = if fortran { "True" } else { "False" };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape_text}, }}");
    let prelude = if major == 1 { 10 } else { 12 };
    while (prelude + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend([major, 0]);
    if major == 1 {
        out.extend((dict.len() as u16).to_le_bytes());
    } else {
        out.extend((dict.len() as u32).to_le_bytes());
    }
    out.extend(dict.as_bytes());
    out.extend(data);
    out
}

/// A `.npz` archive of `(member name, npy bytes, deflated?)`.
pub(crate) fn npz(members: &[(&str, Vec<u8>, bool)]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes, deflated) in members {
        let method = if *deflated {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}
