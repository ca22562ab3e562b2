//! Scan-level faults, end to end through the `mir` binary: a library with corrupt files, files
//! that change while they are read, unreadable files and folders, symlink loops, non-UTF-8
//! names, and proof that a scan never modifies what it reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use common::{mir, records};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

fn scan(dir: &Path) -> Output {
    mir(&["scan", "--json", "--quiet", dir.to_str().unwrap()])
}

fn file_name(r: &serde_json::Value) -> String {
    Path::new(r["path"].as_str().unwrap())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn by_name(recs: &[serde_json::Value]) -> BTreeMap<String, &serde_json::Value> {
    recs.iter().map(|r| (file_name(r), r)).collect()
}

/// A valid safetensors file with `n` F16 tensors of shape [2] and the given metadata.
fn safetensors_file(n: usize, prefix: &str) -> Vec<u8> {
    let entries: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#""{prefix}.{i}.weight":{{"dtype":"F16","shape":[2],"data_offsets":[{},{}]}}"#,
                i * 4,
                i * 4 + 4
            )
        })
        .collect();
    let header = format!("{{{}}}", entries.join(","));
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    f.resize(f.len() + n * 4, 7);
    f
}

/// A valid GGUF v3 file with one F32 tensor of `dims` elements and one string key.
fn gguf_file(name: &str, elems: u64) -> Vec<u8> {
    let mut f = b"GGUF".to_vec();
    f.extend_from_slice(&3u32.to_le_bytes());
    f.extend_from_slice(&1u64.to_le_bytes()); // tensors
    f.extend_from_slice(&1u64.to_le_bytes()); // key/values
    let key = b"general.architecture";
    f.extend_from_slice(&(key.len() as u64).to_le_bytes());
    f.extend_from_slice(key);
    f.extend_from_slice(&8u32.to_le_bytes()); // string
    f.extend_from_slice(&5u64.to_le_bytes());
    f.extend_from_slice(b"llama");
    f.extend_from_slice(&(name.len() as u64).to_le_bytes());
    f.extend_from_slice(name.as_bytes());
    f.extend_from_slice(&1u32.to_le_bytes()); // rank
    f.extend_from_slice(&elems.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes()); // F32
    f.extend_from_slice(&0u64.to_le_bytes()); // offset
    f.resize(f.len().next_multiple_of(32), 0);
    f.resize(f.len() + elems as usize * 4, 1);
    f.resize(f.len().next_multiple_of(32), 0);
    f
}

#[test]
fn a_library_with_ten_percent_corrupt_files_reads_every_good_one_and_names_every_bad_one() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut good: BTreeMap<String, (&str, usize)> = BTreeMap::new();
    for i in 0..80 {
        let name = format!("model_{i:03}.safetensors");
        std::fs::write(d.join(&name), safetensors_file(1 + i % 7, "layers")).unwrap();
        good.insert(name, ("safetensors", 1 + i % 7));
    }
    for i in 0..10 {
        let name = format!("quant_{i:03}.gguf");
        std::fs::write(d.join(&name), gguf_file("token_embd.weight", 4 + i)).unwrap();
        good.insert(name, ("gguf", 1));
    }
    let valid = safetensors_file(3, "x");
    let valid_gguf = gguf_file("w", 8);
    let mut length_bomb = (1u64 << 62).to_le_bytes().to_vec();
    length_bomb.extend_from_slice(b"{}");
    let mut bad_json = valid.clone();
    bad_json[8] = b'[';
    let mut gguf_bad_version = valid_gguf.clone();
    gguf_bad_version[4] = 99;
    let mut gguf_count_bomb = valid_gguf.clone();
    gguf_count_bomb[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    // Each corrupt file with a piece of the reason its record must give.
    let bad: Vec<(&str, Vec<u8>, &str)> = vec![
        ("bad_00_empty.safetensors", vec![], "too small"),
        (
            "bad_01_cut_header.safetensors",
            valid[..30].to_vec(),
            "runs past the end",
        ),
        (
            "bad_02_cut_data.safetensors",
            valid[..valid.len() - 3].to_vec(),
            "truncated download",
        ),
        (
            "bad_03_length_bomb.safetensors",
            length_bomb,
            "over the limit",
        ),
        (
            "bad_04_not_json.safetensors",
            bad_json,
            "not a valid JSON object",
        ),
        (
            "bad_05_text.sft",
            b"this is a readme, not a model\n".repeat(4),
            // Said as what it is, not as a header length read from text.
            "safetensors: not a safetensors file: it holds text",
        ),
        ("bad_06_empty.gguf", vec![], "truncated: the magic"),
        ("bad_07_cut.gguf", valid_gguf[..40].to_vec(), "cannot fit"),
        (
            "bad_08_version.gguf",
            gguf_bad_version,
            "unsupported gguf version",
        ),
        (
            "bad_09_count_bomb.gguf",
            gguf_count_bomb,
            "tensor count 18446744073709551615",
        ),
    ];
    for (name, bytes, _) in &bad {
        std::fs::write(d.join(name), bytes).unwrap();
    }
    // Files no format claims are not weight files and get no record.
    std::fs::write(d.join("README.md"), "# my models").unwrap();

    let out = scan(d);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records(&out);
    assert_eq!(recs.len(), 100);
    let recs = by_name(&recs);
    for (name, (format, tensors)) in &good {
        let r = recs[name];
        assert!(r["error"].is_null(), "{name}: {}", r["error"]);
        assert_eq!(r["format"], *format, "{name}");
        assert_eq!(r["tensors"], *tensors, "{name}");
        assert!(r["fingerprint"]["key_sig"].is_string(), "{name}");
    }
    for (name, _, reason) in &bad {
        let r = recs[*name];
        let error = r["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no error"));
        assert!(error.contains(reason), "{name}: {error:?} lacks {reason:?}");
        assert!(r["fingerprint"].is_null(), "{name}");
        assert!(r["tensors"].is_null(), "{name}");
    }
}

#[test]
fn a_file_truncated_or_replaced_while_it_is_scanned_gives_a_record_or_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // A large header (about 3 MB, 40k tensors) makes the read window wide.
    let full = Arc::new(safetensors_file(40_000, "model.layers"));
    let gguf = Arc::new(gguf_file("w", 16));
    let path = d.join("moving.safetensors");
    std::fs::write(&path, &*full).unwrap();
    std::fs::write(d.join("steady.safetensors"), safetensors_file(2, "s")).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, full, gguf, path) = (stop.clone(), full.clone(), gguf.clone(), path.clone());
        let staging = d.join("staging.tmp");
        std::thread::spawn(move || {
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                match round % 4 {
                    // Shrink in place (a download restarted), then grow back.
                    0 => std::fs::File::options()
                        .write(true)
                        .open(&path)
                        .and_then(|f| f.set_len(100))
                        .unwrap(),
                    1 => std::fs::write(&path, &*full).unwrap(),
                    // Replace atomically with a different file (a GGUF under the same name).
                    2 => {
                        std::fs::write(&staging, &*gguf).unwrap();
                        std::fs::rename(&staging, &path).unwrap();
                    }
                    _ => {
                        std::fs::write(&staging, &*full).unwrap();
                        std::fs::rename(&staging, &path).unwrap();
                    }
                }
                round += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            round
        })
    };
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..25 {
        let out = scan(d);
        let code = out.status.code();
        assert!(
            matches!(code, Some(0..=2)),
            "mir crashed or was killed: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let recs = records(&out);
        let recs = by_name(&recs);
        let steady = recs["steady.safetensors"];
        assert!(steady["error"].is_null());
        if let Some(r) = recs.get("moving.safetensors") {
            let outcome = match (r["error"].as_str(), r["format"].as_str()) {
                (None, Some("safetensors")) => {
                    assert_eq!(r["tensors"], 40_000);
                    "safetensors record".to_owned()
                }
                (None, Some("gguf")) => {
                    assert_eq!(r["tensors"], 1);
                    "gguf record".to_owned()
                }
                (Some(e), _) => {
                    // Each error names what went wrong: a truncation, a short header or data
                    // section, or a header read while half rewritten (not JSON or not GGUF).
                    let known = [
                        "truncated",
                        "runs past the end",
                        "too small",
                        "data section",
                        "not a valid JSON object",
                        "trailing",
                        "cannot fit",
                        "past the end",
                        "needs bytes",
                        // Replaced by rename between the walk and the open: another inode.
                        "changed identity",
                    ];
                    assert!(known.iter().any(|k| e.contains(k)), "unclear error: {e}");
                    format!("error: {}", e.split(':').next().unwrap_or_default())
                }
                other => panic!("record neither read nor failed: {other:?} {r}"),
            };
            *outcomes.entry(outcome).or_default() += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = writer.join().unwrap();
    assert!(rounds > 4, "the writer barely ran ({rounds} rounds)");
    assert!(outcomes.values().sum::<usize>() >= 20, "{outcomes:?}");
    eprintln!("outcomes over 25 scans while the file changed {rounds} times: {outcomes:?}");
}

/// True when this process can read a file whose permissions forbid it (root, CAP_DAC_OVERRIDE).
fn reads_ignore_permissions(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let probe = dir.join("probe");
    std::fs::write(&probe, b"x").unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o000)).unwrap();
    let readable = std::fs::read(&probe).is_ok();
    std::fs::remove_file(&probe).unwrap();
    readable
}

#[cfg(unix)]
#[test]
fn unreadable_files_and_folders_are_reported_and_the_scan_goes_on() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let privileged = reads_ignore_permissions(d);
    std::fs::write(d.join("a_ok.safetensors"), safetensors_file(2, "a")).unwrap();
    let locked_file = d.join("b_locked.safetensors");
    std::fs::write(&locked_file, safetensors_file(2, "b")).unwrap();
    let locked_dir = d.join("c_locked_dir");
    std::fs::create_dir(&locked_dir).unwrap();
    std::fs::write(
        locked_dir.join("inside.safetensors"),
        safetensors_file(1, "c"),
    )
    .unwrap();
    let none = std::fs::Permissions::from_mode(0o000);
    std::fs::set_permissions(&locked_file, none.clone()).unwrap();
    std::fs::set_permissions(&locked_dir, none).unwrap();

    let out = scan(d);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let recs = records(&out);
    let recs = by_name(&recs);
    // Put the permissions back before asserting, so the temporary folder can be removed.
    std::fs::set_permissions(&locked_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&locked_file, std::fs::Permissions::from_mode(0o644)).unwrap();

    assert!(recs["a_ok.safetensors"]["error"].is_null());
    if privileged {
        // Root (as in CI containers) reads through mode 000: everything is read normally
        // (exit 1: read, but these synthetic files have no MIR ID).
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(recs.len(), 3);
        assert!(recs["b_locked.safetensors"]["error"].is_null());
        assert_eq!(recs["inside.safetensors"]["tensors"], 1);
    } else {
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(recs.len(), 2, "the locked folder cannot be listed");
        let e = recs["b_locked.safetensors"]["error"].as_str().unwrap();
        assert!(e.contains("Permission denied"), "{e}");
        assert!(recs["b_locked.safetensors"]["fingerprint"].is_null());
        assert!(
            stderr.contains("c_locked_dir") && stderr.contains("Permission denied"),
            "the unreadable folder is reported on stderr: {stderr}"
        );
    }
}

#[cfg(unix)]
#[test]
fn symlink_loops_end_and_every_file_is_reported_once() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lib");
    let sub = root.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join("model.safetensors"), safetensors_file(2, "m")).unwrap();
    symlink(&root, sub.join("back_to_root")).unwrap(); // a directory loop
    symlink(root.join("a"), root.join("b")).unwrap(); // a two-link cycle
    symlink(root.join("b"), root.join("a")).unwrap();
    symlink("self.safetensors", root.join("self.safetensors")).unwrap(); // a link to itself
    symlink(
        sub.join("model.safetensors"),
        root.join("alias.safetensors"),
    )
    .unwrap();

    // Not --quiet: the loop warning goes to stderr.
    let out = mir(&["scan", "--json", root.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let recs = records(&out);
    // The real file and its alias are one inode: one record, under the first path in order.
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(file_name(&recs[0]), "alias.safetensors");
    assert!(recs[0]["error"].is_null());
    assert_eq!(recs[0]["tensors"], 2);
    // A directory loop is not followed and only warned about; links that never resolve (the
    // two-link cycle, the self-link) cannot be opened and are reported as errors (exit 2).
    assert!(
        stderr.contains("warning: symlink loop not followed") && stderr.contains("back_to_root"),
        "{stderr}"
    );
    for name in ["lib/a:", "lib/b:", "lib/self.safetensors:"] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(name) && l.contains("Too many levels of symbolic links")),
            "{name} not reported: {stderr}"
        );
    }
    assert_eq!(out.status.code(), Some(2), "{stderr}");
}

#[cfg(unix)]
#[test]
fn non_utf8_folder_and_file_names_are_reported_losslessly_for_good_and_bad_files() {
    use base64::Engine;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(std::ffi::OsStr::from_bytes(b"mod\xe8les"));
    std::fs::create_dir(&dir).unwrap();
    let good = dir.join(std::ffi::OsStr::from_bytes(b"\xff\xfegood.gguf"));
    let bad = dir.join(std::ffi::OsStr::from_bytes(b"bad\x80.safetensors"));
    std::fs::write(&good, gguf_file("w", 4)).unwrap();
    std::fs::write(&bad, b"\x10\0\0\0\0\0\0\0{").unwrap();

    let out = scan(tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let recs = records(&out);
    assert_eq!(recs.len(), 2);
    let decode = |r: &serde_json::Value| -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(r["path_bytes"].as_str().expect("path_bytes set"))
            .unwrap()
    };
    let mut by_path: BTreeMap<Vec<u8>, &serde_json::Value> =
        recs.iter().map(|r| (decode(r), r)).collect();
    let g = by_path
        .remove(&good.clone().into_os_string().into_vec())
        .expect("good file");
    assert_eq!(g["format"], "gguf");
    assert!(g["error"].is_null());
    let b = by_path
        .remove(&bad.clone().into_os_string().into_vec())
        .expect("bad file");
    assert!(b["error"].as_str().unwrap().contains("runs past the end"));
    // The lossy `path` is still there for display.
    assert!(b["path"].as_str().unwrap().contains('\u{fffd}'));
}

/// Every regular file under `dir` with its length, modification time and full contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() {
                let bytes = std::fs::read(&p).unwrap();
                out.insert(p, (meta.len(), meta.modified().unwrap(), bytes));
            }
        }
    }
    out
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn scanned_files_are_never_modified() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    copy_tree(&fixtures, &lib);
    // An old modification time on every file, so that any write would show.
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let before_times = snapshot(&lib);
    for p in before_times.keys() {
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let before = snapshot(&lib);
    assert!(before.len() > 150, "fixtures missing: {}", before.len());
    assert!(
        before
            .keys()
            .any(|p| p.to_string_lossy().contains("hostile/gguf"))
    );

    let out = scan(&lib);
    assert!(matches!(out.status.code(), Some(0..=2)));
    assert!(records(&out).len() > 100);
    for p in before.keys().filter(|p| p.extension().is_some()) {
        let o = mir(&["inspect", "--json", p.to_str().unwrap()]);
        assert!(
            o.status.code().is_some(),
            "inspect crashed on {}",
            p.display()
        );
    }

    let after = snapshot(&lib);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "files appeared or vanished"
    );
    for (p, (len, mtime, bytes)) in &before {
        let (len2, mtime2, bytes2) = &after[p];
        assert_eq!(len, len2, "{} changed size", p.display());
        assert_eq!(mtime, mtime2, "{} was written", p.display());
        assert!(bytes == bytes2, "{} changed content", p.display());
    }
}

// A scan killed mid-way leaves a usable index: see `an_interrupted_scan_leaves_a_usable_index`
// in tests/index.rs (kill during batched stores, then a re-scan completes with every record).

/// Runs `mir` with `args` and kills it if it has not finished after `secs` seconds (a hang
/// fails the test instead of blocking the suite).
fn mir_with_watchdog(args: &[&str], secs: u64) -> Output {
    use std::io::Read;
    let index = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("faults-watchdog-{}.sqlite3", std::process::id()));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mir"))
        .args(args)
        .env("MIR_INDEX", &index)
        .env_remove("MIR_PLUGIN_PATH")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run mir");
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mir {args:?} did not finish within {secs} s (hung)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

/// Item 11 of issue 17: `mir inspect` and `mir hash` on a FIFO used to wait forever for a writer.
#[cfg(unix)]
#[test]
fn inspect_and_hash_refuse_a_fifo_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("model.safetensors");
    mkfifo(&fifo);
    let f = fifo.to_str().unwrap();
    let out = mir_with_watchdog(&["inspect", f], 20);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a regular file") && err.contains("fifo"),
        "{err}"
    );
    for args in [
        &["hash", "--no-index", f][..],
        &["hash", "--no-index", "--json", f][..],
    ] {
        let out = mir_with_watchdog(args, 20);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(all.contains("not a regular file"), "{args:?}: {all}");
    }
}

/// Replaces every `*.safetensors` in `dir` by a FIFO (through a rename, as an attacker would).
#[cfg(unix)]
fn fifos_in_place_of(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "safetensors") {
            let staging = p.with_extension("fifo-tmp");
            mkfifo(&staging);
            std::fs::rename(&staging, &p).unwrap();
        }
    }
}

/// Item 11 of issue 17: files listed by the walk and replaced by FIFOs before they are opened
/// (swapped exactly between the walk and the reads, through the progress callback) give one
/// error record each; the scan ends.
#[cfg(unix)]
#[test]
fn files_replaced_by_fifos_after_the_walk_give_error_records_and_the_scan_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_path_buf();
    for i in 0..4 {
        std::fs::write(
            d.join(format!("m{i}.safetensors")),
            safetensors_file(2, "x"),
        )
        .unwrap();
    }
    std::fs::write(d.join("config.json"), b"{\"model_type\":\"llama\"}").unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let root = d.clone();
    std::thread::spawn(move || {
        let scanner = mir_scan::Scanner::new(mir_scan::ScanOptions {
            threads: 2,
            ..Default::default()
        })
        .unwrap();
        let swap_root = root.clone();
        let out = scanner.scan(&[root], &move |p| {
            if let mir_scan::Progress::Found { .. } = p {
                fifos_in_place_of(&swap_root);
                // config.json is read beside weight files: a FIFO there must not block either.
                let cfg = swap_root.join("config.json");
                std::fs::remove_file(&cfg).unwrap();
                mkfifo(&cfg);
            }
        });
        let _ = tx.send(out);
    });
    let out = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the scan hung on a FIFO");
    assert_eq!(out.records.len(), 4);
    for r in &out.records {
        let e = r.error.as_deref().unwrap_or_default();
        assert!(
            e.contains("not a regular file") || e.contains("changed identity"),
            "{}: {e:?}",
            r.path
        );
        assert!(r.tensors.is_none());
    }
    // The same folder scanned now (FIFOs from the start) is not read at all and does not hang.
    let out = mir_with_watchdog(
        &[
            "scan",
            "--json",
            "--quiet",
            "--no-index",
            d.to_str().unwrap(),
        ],
        30,
    );
    assert!(
        records(&out).is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Item 12 of issue 17: a symlink the walk accepted (it pointed inside the root) and retargeted
/// outside the roots before the open is not read: the file opened is checked (device and
/// inode), not the path. Nothing of the outside file appears in any record or error.
#[cfg(unix)]
#[test]
fn a_symlink_retargeted_outside_the_roots_after_the_walk_is_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let inside = root.join("store");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    // The secret is a valid safetensors file whose tensor names would show in a record, and a
    // text file whose first 8 bytes would show in a "header length" error.
    std::fs::write(
        outside.join("secret.safetensors"),
        safetensors_file(3, "SECRETNAME"),
    )
    .unwrap();
    std::fs::write(outside.join("passwd"), b"root:x:0:0:root:/root:/bin/bash\n").unwrap();
    for i in 0..4 {
        let target = inside.join(format!("t{i}.bin"));
        std::fs::write(&target, safetensors_file(2, "ok")).unwrap();
        std::os::unix::fs::symlink(&target, root.join(format!("l{i}.safetensors"))).unwrap();
    }
    let retarget = {
        let (root, outside) = (root.clone(), outside.clone());
        move || {
            for i in 0..4 {
                let link = root.join(format!("l{i}.safetensors"));
                let staging = root.join(format!("l{i}.tmp"));
                let target = if i % 2 == 0 {
                    "secret.safetensors"
                } else {
                    "passwd"
                };
                std::os::unix::fs::symlink(outside.join(target), &staging).unwrap();
                std::fs::rename(&staging, &link).unwrap();
            }
        }
    };
    let scanner = mir_scan::Scanner::new(mir_scan::ScanOptions {
        threads: 2,
        hashes: vec![mir_scan::HashAlgo::Crc32],
        ..Default::default()
    })
    .unwrap();
    let out = scanner.scan(std::slice::from_ref(&root), &|p| {
        if let mir_scan::Progress::Found { files } = p {
            assert_eq!(files, 4, "the walk accepted the four links");
            retarget();
        }
    });
    assert_eq!(out.records.len(), 4);
    for r in &out.records {
        let json = serde_json::to_string(r).unwrap();
        assert!(!json.contains("SECRET"), "{json}");
        assert!(!json.contains("root:x"), "{json}");
        // "root:x:0" as a little-endian u64, as a "declared header length" error would print it.
        let as_len = u64::from_le_bytes(*b"root:x:0").to_string();
        assert!(!json.contains(&as_len), "{json}");
        let e = r.error.as_deref().unwrap_or_default();
        assert!(e.contains("changed identity"), "{}: {e:?}", r.path);
        assert!(r.tensors.is_none() && r.hashes.is_none());
    }
}

/// Item 10 of issue 17 (threads): a thread count past the documented bound is a usage error, not
/// a 29-second scan of one file or a panic in the walker; the bound itself scans promptly.
#[test]
fn thread_counts_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.safetensors"), safetensors_file(2, "x")).unwrap();
    let d = tmp.path().to_str().unwrap();
    for (flag, bad) in [
        ("--threads", "18446744073709551615"),
        ("--threads", "1024"),
        ("--threads", "65"),
        ("--hash-threads", "17"),
    ] {
        let out = mir_with_watchdog(&["scan", "--no-index", flag, bad, d], 20);
        // A usage error: its own exit status (3), apart from "some file unreadable" (2).
        assert_eq!(out.status.code(), Some(3), "{flag} {bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("is not in 0..="), "{flag} {bad}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let start = std::time::Instant::now();
    let out = mir_with_watchdog(
        &[
            "scan",
            "--no-index",
            "--quiet",
            "--json",
            "--threads",
            "64",
            "--hash-threads",
            "16",
            "--hash",
            "crc32",
            d,
        ],
        60,
    );
    assert_eq!(
        records(&out).len(),
        1,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("64 threads, one file: {:?}", start.elapsed());
    // The library clamps too, for embedders that bypass the command line.
    let scanner = mir_scan::Scanner::new(mir_scan::ScanOptions {
        threads: usize::MAX,
        ..Default::default()
    })
    .unwrap();
    let out = scanner.scan(&[tmp.path().to_path_buf()], &|_| {});
    assert_eq!(out.records.len(), 1);
}

/// Item 8 of issue 17: an allocation the allocator refuses (here: under a 90 MB address-space
/// limit, a 99 MB safetensors header and a GGUF with a 64 MiB string, both within the default
/// limits) used to abort the whole scan with nothing printed. Now each such file is one error
/// record naming the problem, the other files are read, and a rescan with an index does the
/// same (the failing file is not stored, but it no longer kills the scan).
#[cfg(target_os = "linux")]
#[test]
fn an_allocation_failure_is_one_error_record_and_the_scan_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("good.safetensors"), safetensors_file(2, "g")).unwrap();
    // Sparse files: the declared sizes cost no disk.
    let n: u64 = 99_000_000;
    let mut st = n.to_le_bytes().to_vec();
    st.push(b'{');
    std::fs::write(d.join("bomb.safetensors"), &st).unwrap();
    std::fs::File::options()
        .write(true)
        .open(d.join("bomb.safetensors"))
        .unwrap()
        .set_len(8 + n)
        .unwrap();
    let s: u64 = 64 << 20; // the longest string the default limits allow
    let mut g = b"GGUF".to_vec();
    g.extend_from_slice(&3u32.to_le_bytes());
    g.extend_from_slice(&0u64.to_le_bytes());
    g.extend_from_slice(&1u64.to_le_bytes());
    g.extend_from_slice(&4u64.to_le_bytes());
    g.extend_from_slice(b"note");
    g.extend_from_slice(&8u32.to_le_bytes());
    g.extend_from_slice(&s.to_le_bytes());
    let glen = g.len() as u64;
    std::fs::write(d.join("bomb.gguf"), &g).unwrap();
    std::fs::File::options()
        .write(true)
        .open(d.join("bomb.gguf"))
        .unwrap()
        .set_len(glen + s + 64)
        .unwrap();

    let index = d.join("index.sqlite3");
    for round in 0..2 {
        let script =
            "ulimit -v 90000 && exec \"$0\" scan --json --quiet --threads 1 --index \"$1\" \"$2\"";
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(env!("CARGO_BIN_EXE_mir"))
            .arg(&index)
            .arg(d)
            .env_remove("MIR_PLUGIN_PATH")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "round {round}: {:?} {err}",
            out.status
        );
        assert!(!err.contains("memory allocation of"), "{err}");
        let recs = records(&out);
        let recs = by_name(&recs);
        assert_eq!(recs.len(), 3, "round {round}: {recs:?}");
        assert!(recs["good.safetensors"]["error"].is_null());
        assert_eq!(recs["good.safetensors"]["tensors"], 2);
        for (bomb, format) in [("bomb.safetensors", "safetensors"), ("bomb.gguf", "gguf")] {
            let e = recs[bomb]["error"].as_str().unwrap_or_default();
            // Every error of a format carries the format's name (issue 18).
            assert!(
                e.starts_with(&format!("{format}: out of memory: cannot allocate")),
                "round {round} {bomb}: {e}"
            );
            assert!(recs[bomb]["tensors"].is_null());
        }
    }
}

/// Item 18 of issue 17: a vocabulary-only GGUF (llama.cpp's tokenizer test files: an
/// architecture, `general.file_type` = F16, a tokenizer, no tensor) holds no weights. It must NOT
/// be named `mir:model.art.llama:f16` (or any model), says it holds no weights, and gets no
/// "ends inside the padding" note.
#[test]
fn a_vocabulary_only_gguf_is_not_named_as_a_model() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hostile/gguf/vocab_only.gguf");
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("ggml-vocab-llama-spm.gguf");
    std::fs::copy(&fixture, &p).unwrap();
    let out = mir(&[
        "scan",
        "--json",
        "--quiet",
        "--no-index",
        tmp.path().to_str().unwrap(),
    ]);
    let recs = records(&out);
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r["format"], "gguf");
    assert_eq!(r["tensors"], 0);
    assert!(r["error"].is_null(), "{r}");
    assert!(
        r["mir"].is_null(),
        "a vocabulary file named as a model: {r}"
    );
    assert_ne!(r["mir"], "mir:model.art.llama:f16");
    assert!(r["candidates"].as_array().unwrap().is_empty(), "{r}");
    let text = r.to_string();
    assert!(
        text.contains("no tensors") && text.contains("no weights"),
        "{r}"
    );
    assert!(!text.contains("padding"), "spurious padding note: {r}");
    // `inspect` agrees.
    let out = mir(&["inspect", "--json", p.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["mir"].is_null(), "{v}");
}
