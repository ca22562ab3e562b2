//! The facade: builder, streaming, iterator, cancellation, caching, dupes, typed results.

use std::ops::ControlFlow;
use std::path::Path;

use mir_engine::{DecidedBy, Engine, Error, Event, ModelKind};
use mir_testkit::{parse_spec, write_safetensors};

const LLAMA: &str = "\
model.embed_tokens.weight F16 [32000, 64]
model.layers.0.self_attn.q_proj.weight F16 [64, 64]
model.layers.0.mlp.gate_proj.weight F16 [128, 64]
model.layers.0.input_layernorm.weight F16 [64]
";

fn write(path: &Path, spec: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    write_safetensors(path, &parse_spec(spec).unwrap(), &[]).unwrap();
}

fn library() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for n in 0..6 {
        write(&tmp.path().join(format!("m{n}/llama.safetensors")), LLAMA);
    }
    tmp
}

#[test]
fn streams_typed_results_and_stops_after_n() {
    let tmp = library();
    let engine = Engine::builder()
        .root(tmp.path())
        .threads(2)
        .build()
        .unwrap();
    let mut files = Vec::new();
    let end = engine.scan(|e| {
        if let Event::File(f) = e {
            files.push(f);
        }
        if files.len() == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    assert!(end.cancelled);
    assert_eq!(files.len(), 3);
    let f = &files[0];
    assert_eq!(f.mir().unwrap().to_string(), "mir:model.art.llama");
    assert_eq!(f.mir().unwrap().series(), "llama");
    assert_eq!(f.decided_by(), Some(DecidedBy::Structure));
    assert!(f.confidence().unwrap() > 0.0);
    assert_eq!(f.tensors, Some(4));
    assert_eq!(f.model.as_ref().unwrap().kind, ModelKind::File);
    assert!(f.error.is_none());
}

#[test]
fn iterator_yields_in_order_and_drop_stops_the_scan() {
    let tmp = library();
    let engine = Engine::builder().root(tmp.path()).build().unwrap();
    let all: Vec<_> = engine.iter().map(|f| f.path).collect();
    assert_eq!(all.len(), 6);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
    let first_two: Vec<_> = engine.iter().take(2).collect();
    assert_eq!(first_two.len(), 2);
    let mut it = engine.iter();
    it.next();
    let end = it.finish();
    assert!(end.cancelled);
}

#[test]
fn the_index_serves_a_rescan_and_rules_apply_without_rereading() {
    let tmp = library();
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index.sqlite3");
    let engine = Engine::builder()
        .root(tmp.path())
        .index_at(&index)
        .build()
        .unwrap();
    engine.scan(|_| ControlFlow::Continue(()));
    assert_eq!(engine.io_stats().opened(), 6);
    let rule = r#"
[[rule]]
id = "house-llama"
mir = "mir:model.art.house-llama"
role = "model"
overrides = ["llama", "mistral"]
[[rule.layout]]
name = "transformers"
require = ["layers.*.self_attn.q_proj.weight", "layers.*.mlp.gate_proj.weight"]
"#;
    let changed = Engine::builder()
        .root(tmp.path())
        .index_at(&index)
        .rules("house.toml", rule)
        .build()
        .unwrap();
    let mut ids = Vec::new();
    let end = changed.scan(|e| {
        if let Event::File(f) = e {
            ids.push(f.mir().map(ToString::to_string));
        }
        ControlFlow::Continue(())
    });
    assert_eq!(end.stats.opened, 0);
    assert_eq!(changed.io_stats().opened(), 0);
    assert!(
        ids.iter()
            .all(|i| i.as_deref() == Some("mir:model.art.house-llama"))
    );
}

#[test]
fn dupes_through_the_facade() {
    let tmp = library();
    let engine = Engine::builder()
        .root(tmp.path())
        .index_in_memory()
        .build()
        .unwrap();
    let (report, _warnings) = engine.dupes().unwrap();
    assert_eq!(report.identical.len(), 1);
    assert_eq!(report.identical[0].paths.len(), 6);
    // Without an index, dupes is an error, not a wrong answer.
    let none = Engine::builder().root(tmp.path()).build().unwrap();
    assert!(none.dupes().is_err());
}

#[test]
fn builder_errors_are_typed() {
    let missing = Engine::builder()
        .rule_file("/nonexistent/rules.toml")
        .build();
    assert!(matches!(missing, Err(Error::RuleFile { .. })));
    let bad = Engine::builder()
        .rules("bad.toml", "[[rule]]\nid = 3")
        .build();
    assert!(matches!(bad, Err(Error::Rules(_))));
    let db = Engine::builder().database("/nonexistent/mir.json").build();
    assert!(matches!(db, Err(Error::Database { .. })));
    let plugin = Engine::builder().plugin("/nonexistent/libx.so").build();
    assert!(matches!(plugin, Err(Error::Plugin { .. })));
}

#[test]
fn analyse_and_hash_one_file() {
    let tmp = library();
    let engine = Engine::builder().index_in_memory().build().unwrap();
    let path = tmp.path().join("m0/llama.safetensors");
    let r = engine.analyse(&path);
    assert_eq!(r.mir().unwrap().to_string(), "mir:model.art.llama");
    let h = engine.hash(&path, &[mir_engine::HashAlgo::Sha256]);
    assert!(!h.cached);
    assert_eq!(
        h.hashes.as_ref().unwrap().sha256.as_ref().unwrap().len(),
        64
    );
    let again = engine.hash(&path, &[mir_engine::HashAlgo::Sha256]);
    assert!(again.cached, "the second hash comes from the index");
    let missing = engine.analyse(&tmp.path().join("nope.safetensors"));
    assert_eq!(
        missing.error.as_ref().map(|e| e.kind),
        Some(mir_engine::ErrorKind::NotFound)
    );
}

/// Issue 14 defect 5: the library hands out typed results, not strings to parse back: a
/// checkpoint that would run `os.system` has an `Unsafe` finding with a code, a corrupt file an
/// error kind, an identified file a `MirId` and a `DecidedBy`.
#[cfg(feature = "ckpt")]
#[test]
fn defect5_results_are_typed() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ckpt");
    let engine = Engine::builder().build().unwrap();
    let payload = engine.analyse(&fixtures.join("os_system.pt"));
    let unsafe_finding = payload
        .findings
        .iter()
        .find(|f| f.severity == mir_engine::Severity::Unsafe)
        .expect("an unsafe finding");
    assert_eq!(unsafe_finding.code, "pickle-global");
    assert!(unsafe_finding.message.contains("system"));
    // Its text form keeps the record's contract (prefix added only at the output edge).
    assert!(
        mir_engine::Record::from_report(&payload)
            .findings
            .iter()
            .any(|f| f.starts_with("unsafe: "))
    );
    let broken = engine.analyse(&fixtures.join("truncated_zip.pt"));
    let kind = broken.error.as_ref().map(|e| e.kind);
    assert!(kind.is_some(), "{broken:?}");
    assert_ne!(kind, Some(mir_engine::ErrorKind::NotFound));
}

/// The progress hook: the file count once the walk is over, then one `FileDone` per file, and
/// the count equals the files the callback received.
#[test]
fn progress_counts_every_file() {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicBool;

    use mir_engine::Progress;

    let tmp = library();
    let engine = Engine::builder()
        .root(tmp.path())
        .threads(2)
        .build()
        .unwrap();
    let events = Mutex::new(Vec::new());
    let mut files = 0;
    let end = engine.scan_with_progress(
        &AtomicBool::new(false),
        &|p| events.lock().unwrap().push(p),
        |e| {
            if let Event::File(_) = e {
                files += 1;
            }
            ControlFlow::Continue(())
        },
    );
    assert!(!end.cancelled);
    let events = events.into_inner().unwrap();
    assert_eq!(files, 6);
    assert!(
        matches!(events[0], Progress::Found { files: 6 }),
        "{events:?}"
    );
    let done = events
        .iter()
        .filter(|p| matches!(p, Progress::FileDone))
        .count();
    assert_eq!(done, 6);
    assert_eq!(events.len(), 7, "one Found, then one FileDone per file");
}
