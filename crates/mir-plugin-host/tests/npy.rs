//! The example NumPy plugin, built and loaded as a real shared library, read through the host.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]

mod common;

use std::sync::Arc;

use mir_core::{
    Dtype, Format, FormatRegistry, Limits, Severity, Sniff, Source, TensorIndex, TensorRecord,
    signature,
};
use mir_plugin_host::{Error, LoadedPlugin, PluginSearch, PluginSet};

fn npy_plugin() -> Arc<LoadedPlugin> {
    Arc::new(LoadedPlugin::load(common::rust_plugin("mir-npy")).unwrap())
}

fn registry(plugin: &Arc<LoadedPlugin>) -> FormatRegistry {
    let mut r = FormatRegistry::new();
    r.register(plugin.clone());
    r
}

#[test]
fn the_plugin_describes_itself() {
    let p = npy_plugin();
    let info = p.describe();
    assert_eq!(info.name, "npy");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.extensions, vec!["npy", "npz"]);
    assert_eq!(info.abi_version, 1);
    assert_eq!(
        info.struct_size as usize,
        size_of::<mir_plugin_abi::PluginVTableV1>()
    );
    assert_eq!(info.blake3.len(), 64);
    assert!(info.path.is_absolute());
    assert_eq!(p.name(), "npy");
    assert_eq!(p.extensions(), &["npy", "npz"]);
}

#[test]
fn reads_npy_headers_of_every_version() {
    let p = npy_plugin();
    let reg = registry(&p);
    let data: Vec<u8> = (0..48).collect();
    for major in [1u8, 2, 3] {
        let bytes = common::npy(major, "<f4", false, &[3, 4], &data);
        let start = (bytes.len() - data.len()) as u64;
        let src = Source::from_bytes("w.npy", bytes.clone());
        let index = reg.parse(&src, &Limits::default()).unwrap();
        assert_eq!(index.format, "npy");
        assert_eq!(index.tensors.len(), 1);
        let t = &index.tensors[0];
        assert_eq!(
            (t.name.as_str(), &t.dtype, t.shape.as_slice()),
            ("array", &Dtype::F32, &[3u64, 4][..])
        );
        assert_eq!(t.data, Some((start, start + 48)));
        assert_eq!(start % 64, 0, "numpy aligns data to 64 bytes");
        assert_eq!(
            index.meta_str("npy.version"),
            Some(format!("{major}.0").as_str())
        );
    }
}

#[test]
fn maps_dtypes_shapes_and_orders() {
    let p = npy_plugin();
    for (descr, dtype, item) in [
        (">i8", Dtype::I64, 8usize),
        ("|b1", Dtype::Bool, 1),
        ("<f2", Dtype::F16, 2),
        ("|u1", Dtype::U8, 1),
        ("<c16", Dtype::C128, 16),
    ] {
        let bytes = common::npy(1, descr, true, &[2, 5], &vec![0u8; 10 * item]);
        let index = p
            .parse_source(&Source::from_bytes("a.npy", bytes), &Limits::default())
            .unwrap();
        assert_eq!(index.tensors[0].dtype, dtype, "{descr}");
        assert_eq!(index.tensors[0].shape, vec![2, 5]);
        assert_eq!(index.meta_str("npy.fortran_order"), Some("true"));
    }
    let scalar = common::npy(1, "<f8", false, &[], &[0u8; 8]);
    let index = p
        .parse_source(&Source::from_bytes("s.npy", scalar), &Limits::default())
        .unwrap();
    assert_eq!(index.tensors[0].shape, Vec::<u64>::new());
}

#[test]
fn reads_npz_members_stored_and_deflated() {
    let p = npy_plugin();
    let weight: Vec<u8> = (0..=255u8).cycle().take(4 * 8 * 2).collect();
    let archive = common::npz(&[
        (
            "encoder/layer0.weight.npy",
            common::npy(1, "<f2", false, &[4, 8], &weight),
            false,
        ),
        (
            "encoder/layer0.bias.npy",
            common::npy(1, "<f4", false, &[8], &[0u8; 32]),
            true,
        ),
        ("README.txt", b"not an array".to_vec(), false),
    ]);
    let src = Source::from_bytes("ckpt.npz", archive.clone());
    let index = registry(&p).parse(&src, &Limits::default()).unwrap();
    assert_eq!(index.format, "npy");
    let names: Vec<&str> = index.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["encoder/layer0.weight", "encoder/layer0.bias"]);
    let w = &index.tensors[0];
    assert_eq!(
        (&w.dtype, w.shape.as_slice()),
        (&Dtype::F16, &[4u64, 8][..])
    );
    // The stored member's range points at the array bytes inside the archive.
    let (start, end) = w.data.unwrap();
    assert_eq!(&archive[start as usize..end as usize], weight.as_slice());
    // The deflated member has no byte range.
    assert_eq!(index.tensors[1].data, None);
    assert_eq!(index.meta_str("npz.members"), Some("3"));
    assert_eq!(index.findings.len(), 1);
    assert!(index.findings[0].message.contains("README.txt"));
}

#[test]
fn plugin_tensors_get_the_same_fingerprints_as_any_format() {
    let p = npy_plugin();
    let archive = common::npz(&[
        (
            "a.weight.npy",
            common::npy(1, "<f4", false, &[2, 3], &[0u8; 24]),
            true,
        ),
        (
            "a.bias.npy",
            common::npy(1, "<f4", false, &[2], &[0u8; 8]),
            true,
        ),
    ]);
    let index = p
        .parse_source(&Source::from_bytes("x.npz", archive), &Limits::default())
        .unwrap();
    let mut by_hand = TensorIndex::new("safetensors");
    by_hand
        .tensors
        .push(TensorRecord::new("a.weight", Dtype::F32, vec![2, 3]));
    by_hand
        .tensors
        .push(TensorRecord::new("a.bias", Dtype::F32, vec![2]));
    let (a, b) = (
        signature::Signatures::of(&index),
        signature::Signatures::of(&by_hand),
    );
    assert_eq!(a.key_sig_hex(), b.key_sig_hex());
    assert_eq!(a, b);
}

#[test]
fn object_arrays_are_reported_as_unsafe() {
    let p = npy_plugin();
    let bytes = common::npy(1, "|O", false, &[3], b"\x80\x04pickle...");
    let index = p
        .parse_source(&Source::from_bytes("o.npy", bytes), &Limits::default())
        .unwrap();
    assert_eq!(index.tensors[0].dtype, Dtype::Other("object".into()));
    assert_eq!(index.tensors[0].data, None);
    assert_eq!(index.findings[0].severity, Severity::Unsafe);
    assert!(index.findings[0].message.contains("allow_pickle"));
}

#[test]
fn sniffs_by_magic_and_refuses_other_zips() {
    let p = npy_plugin();
    let npy = common::npy(1, "<f4", false, &[1], &[0; 4]);
    assert_eq!(
        p.sniff(&npy[..64], npy.len() as u64, Some("bin")),
        Sniff::Magic
    );
    let npz = common::npz(&[("x.npy", npy.clone(), false)]);
    assert_eq!(
        p.sniff(&npz[..64], npz.len() as u64, Some("npz")),
        Sniff::Magic
    );
    let torch = common::npz(&[("archive/data.pkl", b"\x80\x02}q\x00.".to_vec(), false)]);
    assert_eq!(
        p.sniff(&torch[..64], torch.len() as u64, Some("pt")),
        Sniff::No
    );
    let empty = common::npz(&[]);
    assert_eq!(
        p.sniff(&empty, empty.len() as u64, Some("npz")),
        Sniff::Extension
    );
    assert_eq!(p.sniff(&empty, empty.len() as u64, Some("zip")), Sniff::No);
    assert_eq!(p.sniff(b"GGUF\x03\0\0\0", 8, Some("npy")), Sniff::No);
}

#[test]
fn a_malformed_file_is_a_format_error_naming_the_plugin() {
    let p = npy_plugin();
    let mut bytes = common::npy(1, "<f4", false, &[1000], &[0u8; 16]);
    bytes.truncate(bytes.len() - 4);
    let err = registry(&p)
        .parse(&Source::from_bytes("t.npy", bytes), &Limits::default())
        .unwrap_err();
    let host = err.downcast_format::<Error>().expect("a plugin error");
    match host {
        Error::Failed {
            plugin,
            code,
            message,
        } => {
            assert_eq!(*code, mir_plugin_abi::status::FORMAT);
            assert!(message.contains("truncated"), "{message}");
            assert!(plugin.ends_with(common::rust_plugin("mir-npy").file_name().unwrap()));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().starts_with("npy: plugin "), "{err}");
}

#[test]
fn discovery_loads_directories_and_reports_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let so = std::env::consts::DLL_SUFFIX;
    let npy = dir.path().join(format!("a_npy{so}"));
    std::fs::copy(common::rust_plugin("mir-npy"), &npy).unwrap();
    std::fs::copy(
        common::rust_plugin("mir-test-hostile"),
        dir.path().join(format!("b_hostile{so}")),
    )
    .unwrap();
    std::fs::write(dir.path().join(format!("c_junk{so}")), b"not a library").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"ignored: not a library name").unwrap();
    let missing = dir.path().join("missing");

    let search = PluginSearch {
        explicit: vec![npy.clone()],
        dirs: vec![dir.path().to_path_buf(), missing.clone()],
        optional_dirs: vec![dir.path().join("also-missing")],
        reserved_names: vec!["safetensors".into()],
    };
    let set = PluginSet::discover(&search);
    let names: Vec<String> = set.describe().into_iter().map(|i| i.name).collect();
    assert_eq!(
        names,
        ["npy", "hostile"],
        "the explicit path is loaded once"
    );
    let refusals: Vec<String> = set
        .refusals()
        .iter()
        .map(|r| r.reason.to_string())
        .collect();
    assert_eq!(set.refusals().len(), 2, "{refusals:?}");
    assert!(matches!(set.refusals()[0].reason, Error::Io { .. }));
    assert_eq!(set.refusals()[0].path, missing);
    assert!(
        matches!(set.refusals()[1].reason, Error::NotALibrary { .. }),
        "{refusals:?}"
    );

    let mut reg = FormatRegistry::new();
    set.register_into(&mut reg);
    assert!(reg.claims_extension("npz"));
    assert!(reg.claims_extension("hostile"));

    let taken = PluginSet::discover(&PluginSearch {
        explicit: vec![npy],
        reserved_names: vec!["npy".into()],
        ..Default::default()
    });
    assert!(taken.plugins().is_empty());
    assert!(matches!(&taken.refusals()[0].reason, Error::NameTaken { name, .. } if name == "npy"));
}

#[cfg(unix)]
#[test]
fn world_writable_plugins_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libw.so");
    std::fs::copy(common::rust_plugin("mir-npy"), &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(matches!(
        LoadedPlugin::load(&path),
        Err(Error::Insecure {
            what: "the file",
            ..
        })
    ));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(matches!(
        LoadedPlugin::load(&path),
        Err(Error::Insecure {
            what: "its directory",
            ..
        })
    ));
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(LoadedPlugin::load(&path).is_ok());
}

/// Issue 17 item 14: not only a world-writable file or its direct parent: a group-writable file,
/// ANY group- or world-writable ancestor (sticky root folders like /tmp excepted), and a file
/// or folder owned by another (non-root) user make the plugin something another user could
/// replace, so it is refused.
#[cfg(unix)]
#[test]
fn plugins_another_user_could_replace_are_refused_up_to_the_root() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().join("shared");
    let dir = top.join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    mode(tmp.path(), 0o755);
    mode(&top, 0o755);
    mode(&dir, 0o755);
    let path = dir.join("libp.so");
    std::fs::copy(common::rust_plugin("mir-npy"), &path).unwrap();
    mode(&path, 0o755);
    assert!(
        LoadedPlugin::load(&path).is_ok(),
        "a 755 tree under /tmp is safe"
    );

    mode(&path, 0o775);
    let e = LoadedPlugin::load(&path).err().unwrap();
    assert!(
        matches!(&e, Error::Insecure { what: "the file", why, .. } if why.contains("group")),
        "{e}"
    );
    mode(&path, 0o755);

    // Two levels up: the parent is fine, the grandparent is group- or world-writable.
    for m in [0o775, 0o777] {
        mode(&top, m);
        let e = LoadedPlugin::load(&path).err().unwrap();
        assert!(
            matches!(&e, Error::Insecure { what: "an ancestor directory", at, .. } if *at == top.canonicalize().unwrap()),
            "{m:o}: {e}"
        );
        assert!(e.to_string().contains("shared"), "{e}");
    }
    // A sticky folder is not an exception unless root owns it (checked below as another
    // user's folder when we are root).
    mode(&top, 0o755);
    assert!(LoadedPlugin::load(&path).is_ok());

    // Owned by another user: only root can hand a file to someone else.
    if std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
    {
        let chown = |p: &std::path::Path| {
            std::process::Command::new("chown")
                .arg("12345")
                .arg(p)
                .status()
                .unwrap()
                .success()
        };
        assert!(chown(&top));
        let e = LoadedPlugin::load(&path).err().unwrap();
        assert!(
            matches!(&e, Error::Insecure { what: "an ancestor directory", why, .. } if why.contains("another user")),
            "{e}"
        );
        // A sticky, world-writable folder owned by another user is not /tmp: refused.
        mode(&top, 0o1777);
        assert!(LoadedPlugin::load(&path).is_err());
    }
}

/// Issue 17 item 14: a large stray file in a plugin folder is refused from its first bytes; it
/// is never read whole (this thread's read counter, /proc/thread-self/io, proves it).
#[cfg(target_os = "linux")]
#[test]
fn a_large_junk_file_in_a_plugin_folder_is_not_read_whole() {
    let read_bytes = || -> Option<u64> {
        let io = std::fs::read_to_string("/proc/thread-self/io").ok()?;
        io.lines()
            .find_map(|l| l.strip_prefix("rchar: "))
            .and_then(|v| v.trim().parse().ok())
    };
    let dir = tempfile::tempdir().unwrap();
    let junk = dir
        .path()
        .join(format!("libjunk.{}", std::env::consts::DLL_EXTENSION));
    // 400 MB, sparse: a zero-filled "library", and one whose first bytes are an ELF header.
    let f = std::fs::File::create(&junk).unwrap();
    f.set_len(400_000_000).unwrap();
    drop(f);
    let elf = dir
        .path()
        .join(format!("libelf.{}", std::env::consts::DLL_EXTENSION));
    let mut head = b"\x7fELF\x02\x01\x01".to_vec();
    head.resize(64, 0);
    std::fs::write(&elf, &head).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&elf)
        .unwrap()
        .set_len(400_000_000)
        .unwrap();
    let search = PluginSearch {
        dirs: vec![dir.path().to_path_buf()],
        ..Default::default()
    };
    let before = read_bytes();
    let start = std::time::Instant::now();
    let set = PluginSet::discover(&search);
    let elapsed = start.elapsed();
    let after = read_bytes();
    assert!(set.plugins().is_empty());
    assert_eq!(set.refusals().len(), 2, "{:?}", set.refusals());
    for r in set.refusals() {
        assert!(
            matches!(r.reason, Error::NotALibrary { .. } | Error::NoEntry { .. }),
            "{}",
            r.reason
        );
    }
    if let (Some(b), Some(a)) = (before, after) {
        assert!(
            a - b < 4 << 20,
            "read {} bytes of two 400 MB junk files",
            a - b
        );
    }
    eprintln!("two 400 MB junk files refused in {elapsed:?}");
}
