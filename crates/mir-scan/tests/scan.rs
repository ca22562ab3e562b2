//! The scanner's own tests: caching facts apart from identification, invalidation, pruning,
//! shard sets served from the index, streaming and cancellation, and one analysis path for a
//! file alone and in a scan (issue 14, defects 1–4; issue 17 item 6).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use mir_scan::{
    Emitted, HashAlgo, Identifier, Index, ModelKind, ScanOptions, Scanner, default_registry,
    record_version,
};
use mir_testkit::{parse_spec, write_safetensors};

const LLAMA: &str = "\
model.embed_tokens.weight F16 [32000, 64]
model.layers.0.self_attn.q_proj.weight F16 [64, 64]
model.layers.0.self_attn.k_proj.weight F16 [64, 64]
model.layers.0.mlp.gate_proj.weight F16 [128, 64]
model.layers.0.input_layernorm.weight F16 [64]
";

const LLAMA_PART2: &str = "\
model.layers.1.self_attn.q_proj.weight F16 [64, 64]
model.layers.1.mlp.gate_proj.weight F16 [128, 64]
model.layers.1.input_layernorm.weight F16 [64]
lm_head.weight F16 [32000, 64]
";

/// An extra rule file: the llama layout, renamed (a "rule change").
const EXTRA_RULE: &str = r#"
[[rule]]
id = "house-llama"
mir = "mir:model.art.house-llama"
role = "model"
overrides = ["llama", "mistral"]
[[rule.layout]]
name = "transformers"
require = ["layers.*.self_attn.q_proj.weight", "layers.*.mlp.gate_proj.weight"]
"#;

fn write(path: &Path, spec: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    write_safetensors(path, &parse_spec(spec).unwrap(), &[]).unwrap();
}

fn scanner(index: &Path, identifier: Identifier, hashes: Vec<HashAlgo>) -> Scanner {
    let registry = default_registry();
    let version = record_version(&registry, &identifier);
    let options = ScanOptions {
        threads: 2,
        hashes,
        ..ScanOptions::default()
    };
    Scanner::with_parts(options, registry, identifier)
        .with_index(Index::open(index, version).unwrap())
}

fn builtin() -> Identifier {
    Identifier::builtin().unwrap()
}

fn library() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    write(&lib.join("llm/model-00001-of-00002.safetensors"), LLAMA);
    write(
        &lib.join("llm/model-00002-of-00002.safetensors"),
        LLAMA_PART2,
    );
    write(&lib.join("single/llama.safetensors"), LLAMA);
    let index = tmp.path().join("index.sqlite3");
    (tmp, lib, index)
}

/// Defect 1: shard members are served from the index, and the rescan prints what the first
/// scan printed (the set's ID on every member).
#[test]
fn defect1_shards_are_served_from_the_index() {
    let (_tmp, lib, index) = library();
    let first = scanner(&index, builtin(), vec![]).scan(std::slice::from_ref(&lib), &|_| {});
    assert_eq!(first.stats.opened, 3);
    let shard = &first.records[0];
    assert!(shard.shard.is_some());
    assert_eq!(shard.mir.as_deref(), Some("mir:model.art.llama"));

    let again = scanner(&index, builtin(), vec![]).scan(std::slice::from_ref(&lib), &|_| {});
    assert_eq!(again.stats.opened, 0, "no file is read again");
    assert_eq!(again.stats.cached, 3);
    for (a, b) in first.records.iter().zip(&again.records) {
        assert!(b.cached);
        let mut b = b.clone();
        b.cached = false;
        assert_eq!(a, &b, "the rescan reports what the scan reported");
    }
}

/// Defect 2 and the "rule change" promise: after a rule change (and with hashes asked for), a
/// rescan of an unchanged library opens no weight file and hashes none, and the new rule shows.
#[test]
fn defect2_a_rule_change_reads_and_hashes_nothing() {
    let (_tmp, lib, index) = library();
    let hashes = vec![HashAlgo::Sha256];
    let first =
        scanner(&index, builtin(), hashes.clone()).scan(std::slice::from_ref(&lib), &|_| {});
    assert_eq!((first.stats.opened, first.stats.hashed), (3, 3));
    assert_eq!(
        first.records[2].mir.as_deref(),
        Some("mir:model.art.llama"),
        "{:?}",
        first.records[2]
    );

    let changed = Identifier::with_rules(&[("house.toml".into(), EXTRA_RULE.into())]).unwrap();
    let s = scanner(&index, changed, hashes);
    let again = s.scan(std::slice::from_ref(&lib), &|_| {});
    assert_eq!(
        again.stats.opened, 0,
        "a rule change must not re-read a file"
    );
    assert_eq!(again.stats.hashed, 0, "nor re-hash one");
    assert_eq!(s.io_stats().opened(), 0);
    let single = &again.records[2];
    assert_eq!(single.mir.as_deref(), Some("mir:model.art.house-llama"));
    assert_ne!(single.mir.as_deref(), Some("mir:model.art.llama"));
    assert!(single.hashes.as_ref().unwrap().sha256.is_some());
    // The shard set is identified again from cached facts too.
    assert_eq!(
        again.records[0].mir.as_deref(),
        Some("mir:model.art.house-llama")
    );
}

/// Defect 2, second half: the version the index is opened with does not depend on the rules or
/// the database, so `mir dupes` (no database) and `mir scan --mir-db` share cached facts.
#[test]
fn defect2_index_version_ignores_rules_and_database() {
    let registry = default_registry();
    let plain = record_version(&registry, &builtin());
    let other = Identifier::with_rules(&[("house.toml".into(), EXTRA_RULE.into())]).unwrap();
    assert_eq!(plain, record_version(&registry, &other));
}

/// Defect 3: a deleted file's row is pruned after a scan of its folder.
#[test]
fn defect3_deleted_files_are_pruned() {
    let (_tmp, lib, index) = library();
    scanner(&index, builtin(), vec![]).scan(std::slice::from_ref(&lib), &|_| {});
    let gone = lib.join("single/llama.safetensors");
    std::fs::remove_file(&gone).unwrap();
    let s = scanner(&index, builtin(), vec![]);
    let out = s.scan(std::slice::from_ref(&lib), &|_| {});
    assert_eq!(out.stats.pruned, 1);
    let abs = std::path::absolute(&gone).unwrap();
    let rows = s.index().unwrap().paths_under(&[]).unwrap();
    assert!(!rows.contains(&abs), "{rows:?}");
    assert_eq!(rows.len(), 2);
}

/// Defect 4: a file alone (`mir inspect`) and in a scan read the same: the sibling config.json
/// says mistral in both.
#[test]
fn defect4_one_file_alone_and_in_a_scan_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    write(&dir.join("model.safetensors"), LLAMA);
    std::fs::write(dir.join("config.json"), r#"{"model_type": "mistral"}"#).unwrap();
    let s = Scanner::new(ScanOptions::default()).unwrap();
    let out = s.scan(std::slice::from_ref(&dir), &|_| {});
    let alone = s
        .analyser()
        .analyse_path(&dir.join("model.safetensors"), &[]);
    let scanned = out.records[0].mir.clone();
    assert_eq!(scanned.as_deref(), Some("mir:model.art.mistral"));
    assert_eq!(alone.mir().map(ToString::to_string), scanned);
    assert_ne!(scanned.as_deref(), Some("mir:model.art.llama"));
}

/// Issue 17 item 6: a same-size rewrite with the mtime put back is read again.
#[cfg(unix)]
#[test]
fn issue17_6_rewrite_with_mtime_restored_is_read_again() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    let f = lib.join("a.safetensors");
    write(&f, "a.weight F16 [4, 4]\n");
    let index = tmp.path().join("index.sqlite3");
    let first = scanner(&index, builtin(), vec![]).scan(std::slice::from_ref(&lib), &|_| {});
    let before = std::fs::metadata(&f).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Same size, other tensor name, mtime put back.
    write(&f, "b.weight F16 [4, 4]\n");
    assert_eq!(std::fs::metadata(&f).unwrap().len(), before.len());
    let file = std::fs::File::options().write(true).open(&f).unwrap();
    file.set_modified(before.modified().unwrap()).unwrap();
    drop(file);
    let again = scanner(&index, builtin(), vec![]).scan(std::slice::from_ref(&lib), &|_| {});
    assert_eq!(again.stats.opened, 1);
    assert!(!again.records[0].cached);
    assert_ne!(
        first.records[0].fingerprint.as_ref().unwrap().key_sig,
        again.records[0].fingerprint.as_ref().unwrap().key_sig
    );
}

/// Streaming: files arrive in path order, then models; a sink that stops ends the scan early
/// and nothing is pruned.
#[test]
fn streams_in_order_and_stops_on_request() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    for n in 0..20 {
        write(&lib.join(format!("f{n:02}.safetensors")), "w F16 [2]\n");
    }
    let s = Scanner::new(ScanOptions {
        threads: 2,
        ..ScanOptions::default()
    })
    .unwrap();
    let mut seen = Vec::new();
    let end = s.scan_with(
        std::slice::from_ref(&lib),
        &|_| {},
        &AtomicBool::new(false),
        &mut |e| {
            if let Emitted::File(r) = e {
                seen.push(r.path.clone());
            }
            if seen.len() == 5 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    );
    assert!(end.cancelled);
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_eq!(seen[0], lib.join("f00.safetensors"));

    // A cancel flag already set emits nothing.
    let mut any = false;
    let end = s.scan_with(
        std::slice::from_ref(&lib),
        &|_| {},
        &AtomicBool::new(true),
        &mut |_| {
            any = true;
            ControlFlow::Continue(())
        },
    );
    assert!(end.cancelled && !any);
}

/// Models: a shard set is one model listing both files; a file alone is its own model.
#[test]
fn models_list_their_files() {
    let (_tmp, lib, _index) = library();
    let s = Scanner::new(ScanOptions::default()).unwrap();
    let out = s.scan(std::slice::from_ref(&lib), &|_| {});
    assert_eq!(out.models.len(), 2, "{:?}", out.models);
    let shards = out.models.iter().find(|m| m.kind == "shards").unwrap();
    assert_eq!(shards.files.len(), 2);
    assert_eq!(shards.mir.as_deref(), Some("mir:model.art.llama"));
    let single = out.models.iter().find(|m| m.kind == "file").unwrap();
    assert!(single.path.ends_with("llama.safetensors"));
    let link = out.records[0].model.as_ref().unwrap();
    assert_eq!(link.kind, ModelKind::Shards.as_str());
}

/// `models: false`: no model is gathered or emitted, and the files keep their model links and
/// everything else they say.
#[test]
fn a_scan_without_models_emits_the_same_files_and_no_model() {
    let (_tmp, lib, _index) = library();
    let with = Scanner::new(ScanOptions::default()).unwrap();
    let with = with.scan(std::slice::from_ref(&lib), &|_| {});
    let without = Scanner::new(ScanOptions {
        models: false,
        ..ScanOptions::default()
    })
    .unwrap();
    let mut models = 0;
    let mut files = Vec::new();
    without.scan_with(
        std::slice::from_ref(&lib),
        &|_| {},
        &AtomicBool::new(false),
        &mut |e| {
            match e {
                Emitted::File(r) => files.push(mir_scan::Record::from_report(&r)),
                Emitted::Model(_) => models += 1,
            }
            ControlFlow::Continue(())
        },
    );
    assert_eq!(models, 0);
    assert!(!with.models.is_empty());
    assert_eq!(
        serde_json::to_string(&files).unwrap(),
        serde_json::to_string(&with.records).unwrap()
    );
    assert!(files.iter().all(|r| r.model.is_some()));
}

/// Hard-link aliases are reported, not dropped.
#[cfg(unix)]
#[test]
fn hard_link_aliases_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    write(&lib.join("a.safetensors"), "w F16 [2]\n");
    std::fs::hard_link(lib.join("a.safetensors"), lib.join("b.safetensors")).unwrap();
    let s = Scanner::new(ScanOptions::default()).unwrap();
    let out = s.scan(std::slice::from_ref(&lib), &|_| {});
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].aliases.len(), 1);
    assert!(out.records[0].aliases[0].ends_with("b.safetensors"));
}
