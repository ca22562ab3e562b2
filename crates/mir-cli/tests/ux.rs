//! What `mir` tells a person and a pipeline: the table (header, status column, `--explain`,
//! aligned error rows), exit codes, `--json-summary`, `--fail-on`, messages said once, errors
//! that name what a misnamed file is, symlinks leaving the roots, unclaimed files, and escaping of
//! every untrusted string on the terminal while JSON stays lossless.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{mir, records, safetensors};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Writes the fixture spec `name` (from `fixtures/specs`) as a sparse safetensors file in `dir`.
fn spec_file(dir: &Path, name: &str, file: &str) -> PathBuf {
    let specs = repo().join("fixtures/specs");
    let toolkit = repo().join("fixtures/reference/model-toolkit/components");
    let text = std::fs::read_to_string(specs.join(name)).unwrap();
    let mut resolve = |n: &str| match n.strip_prefix("toolkit:") {
        Some(rest) => std::fs::read_to_string(toolkit.join(rest)).ok(),
        None => std::fs::read_to_string(specs.join(n)).ok(),
    };
    let spec = mir_classify::testing::load_spec(&text, &mut resolve).unwrap();
    let path = dir.join(file);
    mir_testkit::write_index_safetensors(&path, &spec.index).unwrap();
    path
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A small valid safetensors file with one tensor named `name`.
fn one_tensor(name: &str) -> Vec<u8> {
    let header =
        serde_json::json!({ name: {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]} });
    safetensors(&header.to_string(), &[0; 4])
}

#[test]
fn the_table_has_a_header_and_unsure_ids_do_not_look_identified() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    spec_file(d, "flux-1-dev.bfl.spec", "a_flux.safetensors");
    spec_file(d, "dit-unknown.mmdit.spec", "b_dit.safetensors");
    spec_file(d, "sdxl.sgm.spec", "c_sdxl.safetensors");
    std::fs::write(d.join("d_broken.safetensors"), b"\x10\0\0\0\0\0\0\0{").unwrap();

    let out = mir(&["scan", d.to_str().unwrap()]);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("STATUS"), "{text}");
    let row = |file: &str| *lines.iter().find(|l| l.ends_with(file)).unwrap();
    // The FLUX file's record holds two candidates at 0.6: the table says so.
    let flux = row("a_flux.safetensors");
    assert!(flux.starts_with("ambiguous"), "{text}");
    assert!(
        text.contains("? one of mir:model.dit.flux-1-dev, mir:model.dit.flux-1-kontext-dev"),
        "{text}"
    );
    assert!(row("b_dit.safetensors").starts_with("arch-only"), "{text}");
    assert!(row("c_sdxl.safetensors").starts_with("ok "), "{text}");
    // Error rows keep the columns: every file row has its path where the header has PATH.
    let broken = row("d_broken.safetensors");
    assert!(broken.starts_with("error"), "{text}");
    let path_col = lines[0].find("PATH").unwrap();
    for l in lines
        .iter()
        .filter(|l| !l.starts_with(' ') && !l.starts_with("STATUS"))
    {
        assert_eq!(
            l.find(d.to_str().unwrap()),
            Some(path_col),
            "{l:?} in\n{text}"
        );
    }
    assert!(text.contains("  ! error: safetensors:"), "{text}");
    // The summary counts the unsure ones apart.
    let err = stderr(&out);
    assert!(
        err.contains(
            "4 files: 1 identified, 1 ambiguous, 1 architecture only, 0 unrecognised, 1 error"
        ),
        "{err}"
    );

    // --explain puts the evidence under each file.
    let explained = stdout(&mir(&["scan", "--explain", d.to_str().unwrap()]));
    assert!(
        explained.contains("  = decided by structure"),
        "{explained}"
    );
    assert!(explained.lines().filter(|l| l.starts_with("  = ")).count() > 4);
    assert!(!text.contains("  = "), "no evidence without --explain");
}

#[test]
fn json_piped_into_head_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    // Enough records to overflow the pipe's buffer (64 KiB) after the reader is gone.
    for i in 0..400 {
        std::fs::write(
            tmp.path().join(format!("m{i:03}.safetensors")),
            one_tensor("w"),
        )
        .unwrap();
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_mir"))
        .args(["scan", "--json", "--no-index", "--quiet"])
        .arg(tmp.path())
        .env_remove("MIR_PLUGIN_PATH")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here, as `head -1` exits.
    assert!(first.starts_with("{\"path\""), "{first}");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn usage_and_fatal_errors_exit_3_unreadable_files_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("ok.safetensors"), one_tensor("w")).unwrap();
    let not_json = d.join("db.json");
    std::fs::write(&not_json, b"not json").unwrap();
    let dir = d.to_str().unwrap();
    let file_as_dir = d.join("ok.safetensors/index.sqlite3");
    for args in [
        vec!["scan", "--bogus", dir],
        vec!["scan", "--hash", "md5", dir],
        vec!["scan", "--mir-db", not_json.to_str().unwrap(), dir],
        vec!["scan", "--index", file_as_dir.to_str().unwrap(), dir],
        vec!["scan", "--mir-db", "x.json", "--no-mir-db", dir],
        vec!["hash", "--algo", "nope", dir],
    ] {
        let out = mir(&args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty(), "{args:?}");
    }
    // Help is not an error.
    assert_eq!(mir(&["scan", "--help"]).status.code(), Some(0));
    // A missing file is "some file unreadable".
    let out = mir(&["scan", "--quiet", d.join("gone").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn messages_say_each_thing_once() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-db.json");
    let out = mir(&["scan", "--mir-db", missing.to_str().unwrap(), "."]);
    let err = stderr(&out);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    let gone = tmp.path().join("bad");
    let out = mir(&["scan", "--quiet", gone.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(err.matches(gone.to_str().unwrap()).count(), 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // `mir hash` on a folder: the path once.
    let folder = tmp.path().join("bad");
    std::fs::create_dir(&folder).unwrap();
    let err = stderr(&mir(&["hash", folder.to_str().unwrap()]));
    assert_eq!(err.matches(folder.to_str().unwrap()).count(), 1, "{err}");
}

#[test]
fn errors_name_what_a_misnamed_file_is() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(
        d.join("notes.safetensors"),
        b"hello world, these are my notes\n",
    )
    .unwrap();
    std::fs::write(
        d.join("model.safetensors"),
        b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 6938041042\n",
    )
    .unwrap();
    std::fs::write(
        d.join("ggml-base.en.bin"),
        b"lmgg\x01\0\0\0\0\x02\0\0\0\0\0\0\0\0\0\0",
    )
    .unwrap();
    std::fs::write(d.join("cut.gguf"), b"GGUF\x03\0\0\0").unwrap();
    let out = mir(&["scan", "--json", "--quiet", d.to_str().unwrap()]);
    let recs = records(&out);
    let error = |name: &str| {
        recs.iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(name))
            .unwrap()["error"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        error("notes.safetensors"),
        "safetensors: not a safetensors file: it holds text"
    );
    let lfs = error("model.safetensors");
    assert!(lfs.contains("Git LFS pointer"), "{lfs}");
    assert!(!lfs.contains("header length"), "{lfs}");
    let ggml = error("ggml-base.en.bin");
    assert!(ggml.contains("legacy GGML file"), "{ggml}");
    assert!(error("cut.gguf").starts_with("gguf: truncated:"));
}

#[test]
fn a_file_no_format_claims_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let notes = tmp.path().join("notes.txt");
    std::fs::write(&notes, b"hi\n").unwrap();
    let out = mir(&["scan", notes.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(
        err.contains("notes.txt: no format claims this file"),
        "{err}"
    );
    assert!(err.contains(".safetensors"), "{err}");
    assert_eq!(out.status.code(), Some(1));
    let out = mir(&["inspect", notes.to_str().unwrap()]);
    assert!(stderr(&out).contains("no format claims this file"));
    assert_eq!(out.status.code(), Some(1));
}

#[cfg(unix)]
#[test]
fn symlinked_folders_leaving_the_roots_are_reported_and_followed_on_request() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ComfyUI/models");
    let elsewhere = tmp.path().join("mnt/loras");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("style.safetensors"), one_tensor("w")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("loras")).unwrap();

    let out = mir(&["scan", "--json", "--json-summary", root.to_str().unwrap()]);
    let lines = records(&out);
    assert!(lines.iter().all(|l| l["kind"] != "file"));
    let link = lines
        .iter()
        .find(|l| l["kind"] == "outside_symlink")
        .unwrap();
    assert!(link["path"].as_str().unwrap().ends_with("loras"));
    let summary = lines.last().unwrap();
    assert_eq!(summary["kind"], "summary");
    assert_eq!(summary["files"], 0);
    assert_eq!(summary["outside_symlinks"], 1);
    let err = stderr(&out);
    assert!(err.contains("symlink leaves the scanned folders"), "{err}");
    assert!(err.contains("--follow-symlinks"), "{err}");

    let out = mir(&[
        "scan",
        "--json",
        "--follow-symlinks",
        root.to_str().unwrap(),
    ]);
    let recs = records(&out);
    assert_eq!(recs.len(), 1);
    assert!(
        recs[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("loras/style.safetensors")
    );
}

#[test]
fn json_summary_adds_kind_lines_and_keeps_file_records_intact() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.safetensors"), one_tensor("w")).unwrap();
    let missing = tmp.path().join("missing");
    let plain = mir(&[
        "scan",
        "--json",
        "--quiet",
        "--no-index",
        tmp.path().to_str().unwrap(),
    ]);
    let out = mir(&[
        "scan",
        "--json",
        "--json-summary",
        "--quiet",
        "--no-index",
        tmp.path().to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    let lines = records(&out);
    // The file record is the same object, field for field, as without the flag.
    assert_eq!(lines[0], records(&plain)[0]);
    assert!(lines[0].get("kind").is_none());
    let walk = lines.iter().find(|l| l["kind"] == "walk_error").unwrap();
    assert!(walk["path"].as_str().unwrap().ends_with("missing"));
    assert!(walk["message"].is_string());
    let summary = lines.last().unwrap();
    assert_eq!(summary["kind"], "summary");
    assert_eq!(summary["files"], 1);
    assert_eq!(summary["walk_errors"], 1);
    assert_eq!(summary["exit_code"], 2);
    assert_eq!(out.status.code(), Some(2));
    // Without --json the flag is refused.
    assert_eq!(mir(&["scan", "--json-summary", "."]).status.code(), Some(3));
}

#[test]
fn fail_on_unsafe_refuses_pickles_that_run_commands() {
    let pkl = repo().join("fixtures/ckpt/os_system_bare.pkl");
    let plain = mir(&["scan", "--quiet", pkl.to_str().unwrap()]);
    assert_ne!(plain.status.code(), Some(4));
    let out = mir(&[
        "scan",
        "--quiet",
        "--fail-on",
        "unsafe",
        pkl.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(4));
    let clean = repo().join("fixtures/ckpt/state_dict_p2.pt");
    let out = mir(&[
        "scan",
        "--quiet",
        "--fail-on",
        "unsafe",
        clean.to_str().unwrap(),
    ]);
    assert_ne!(out.status.code(), Some(4));
}

/// A bare pickle with two globals: `posix.system`, and one whose name carries an ESC sequence
/// that would erase the previous line and paint "no unsafe globals".
const INJECTING_PICKLE: &[u8] =
    b"\x80\x02cposix\nsystem\nq\x00cbuiltins\nx\x1b[1A\x1b[2Kno unsafe globals\nq\x01\x86q\x02.";

#[test]
fn untrusted_strings_are_escaped_on_the_terminal_and_lossless_in_json() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // A file name that clears the screen, a tensor name with a bidi override, metadata with ESC.
    let evil_name = "clear\x1b[2J\x1bc.safetensors";
    let header = serde_json::json!({
        "__metadata__": {"k\x1b[31mey": "va\u{202e}lue\x07"},
        "up\u{202e}.weight\x1b[8m": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},
    });
    std::fs::write(d.join(evil_name), safetensors(&header.to_string(), &[0; 4])).unwrap();
    let pkl = d.join("payload.pkl");
    std::fs::write(&pkl, INJECTING_PICKLE).unwrap();

    let no_raw_controls = |what: &str, text: &str| {
        assert!(
            !text
                .chars()
                .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
            "{what}: raw control characters in {text:?}"
        );
    };
    let table = mir(&["scan", d.to_str().unwrap()]);
    no_raw_controls("scan table", &stdout(&table));
    no_raw_controls("scan stderr", &stderr(&table));
    assert!(stdout(&table).contains("clear\\x1b[2J\\x1bc.safetensors"));
    assert!(stdout(&table).contains("builtins.x\\x1b[1A\\x1b[2Kno unsafe globals"));

    let inspect = mir(&["inspect", d.join(evil_name).to_str().unwrap()]);
    let text = stdout(&inspect);
    no_raw_controls("inspect", &text);
    assert!(text.contains("up\\u{202e}.weight\\x1b[8m"), "{text}");
    assert!(
        text.contains("k\\x1b[31mey = va\\u{202e}lue\\x07"),
        "{text}"
    );
    let inspect = mir(&["inspect", pkl.to_str().unwrap()]);
    no_raw_controls("inspect pickle", &stdout(&inspect));
    assert!(stdout(&inspect).contains("unsafe: global posix.system"));

    // Errors on stderr too.
    let cut = d.join("cut\x1b]0;owned\x07.gguf");
    std::fs::write(&cut, b"GGUF").unwrap();
    let err = stderr(&mir(&["inspect", cut.to_str().unwrap()]));
    no_raw_controls("inspect stderr", &err);
    assert!(err.contains("cut\\x1b]0;owned\\x07.gguf"), "{err}");

    // JSON keeps every byte.
    let json = mir(&["scan", "--json", "--quiet", d.to_str().unwrap()]);
    let recs = records(&json);
    assert!(
        recs.iter()
            .any(|r| r["path"].as_str().unwrap().ends_with(evil_name))
    );
    let p = recs
        .iter()
        .find(|r| r["path"].as_str().unwrap().ends_with("payload.pkl"))
        .unwrap();
    assert!(p["findings"].as_array().unwrap().iter().any(|f| {
        f.as_str()
            .unwrap()
            .contains("x\x1b[1A\x1b[2Kno unsafe globals")
    }));
    let v: serde_json::Value = serde_json::from_slice(
        &mir(&["inspect", "--json", d.join(evil_name).to_str().unwrap()]).stdout,
    )
    .unwrap();
    assert_eq!(v["first_tensors"][0]["name"], "up\u{202e}.weight\x1b[8m");
    assert_eq!(v["metadata"]["k\x1b[31mey"], "va\u{202e}lue\x07");
}

#[test]
fn inspect_columns_survive_long_tensor_names() {
    let tmp = tempfile::tempdir().unwrap();
    let long = format!("model.{}.weight", "very_long_block_name.".repeat(12));
    let header = serde_json::json!({
        long.as_str(): {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},
        "b": {"dtype": "F32", "shape": [1, 1], "data_offsets": [4, 8]},
    });
    let f = tmp.path().join("long.safetensors");
    std::fs::write(&f, safetensors(&header.to_string(), &[0; 8])).unwrap();
    let text = stdout(&mir(&["inspect", f.to_str().unwrap()]));
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("tensors (first"))
        .skip(1)
        .collect();
    assert_eq!(rows.len(), 3, "{text}");
    // The name is the last column, so the others start at the same offsets on every row.
    let name_col = rows[0].find("NAME").unwrap();
    assert_eq!(rows[1].find(&long), Some(name_col), "{text}");
    assert_eq!(rows[2].rfind('b'), Some(name_col), "{text}");
    assert_eq!(rows[1].find("F16"), rows[2].find("F32"));
}

#[test]
fn the_bundled_database_is_the_default_and_can_be_turned_off() {
    // tv1 carries no hash the July 2025 database knows. What a database changes is the
    // identification, never the facts read from the file: switching databases (the bundled one,
    // none, another) re-identifies the cached facts without reading the file again, and a
    // database that knows the file's layer hash names it at once.
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("i.sqlite3");
    let f = common::testvec().join("tv1_with_meta.safetensors");
    let run = |extra: &[&str]| {
        let mut args = vec!["scan", "--json", "--quiet"];
        args.extend_from_slice(extra);
        args.push(f.to_str().unwrap());
        records(&common::mir_in(&index, &args))[0].clone()
    };
    assert_eq!(run(&[])["cached"], false);
    assert_eq!(run(&[])["cached"], true);
    let none = run(&["--no-mir-db"]);
    assert_eq!(none["cached"], true);
    assert!(none["database"].is_null());
    // A database of our own that knows tv1's layer hash (from the MIR test vectors).
    let db = tmp.path().join("db.json");
    std::fs::write(
        &db,
        r#"{"info.vae.kl":{"test-vector":{"layer_256":["df65db738d6aa9d60ff00bdacfb989632ddce62177eba0a9194229317977ee63"]}}}"#,
    )
    .unwrap();
    let known = run(&["--mir-db", db.to_str().unwrap()]);
    assert_eq!(known["cached"], true, "{known}");
    assert_eq!(known["database"]["field"], "layer_256", "{known}");
    assert_eq!(known["database"]["key"], "info.vae.kl", "{known}");
    // And back to the bundled default: the match is gone again.
    assert!(run(&[])["database"].is_null());
}
