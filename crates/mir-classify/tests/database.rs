//! The MIR databases (the bundled July 2025 one, and our own excerpt in the August 2025 format;
//! the August 2025 database itself is read only from `$MIR_DB_2025_08`): exact hash matches name finetunes and
//! distillation LoRAs, layer hashes alone are not trusted for VAEs and LoRAs, sentinels are
//! ignored, and a hash that contradicts the file's own structure does not override it.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use mir_classify::testing::Spec;
use mir_classify::{Classifier, EvidenceKind, MirDatabase, SENTINEL_B3_NONE, SENTINEL_SHA256_NONE};
use serde_json::Value;

/// Our own test data in the August 2025 database's format (`fixtures/mir-db/README.md`).
const EXCERPT: &str = "excerpt-2025-08-format.json";

fn db_path(name: &str) -> std::path::PathBuf {
    common::database(name)
}

/// The August 2025 database when `MIR_DB_2025_08` names it; `None` (with a message saying what
/// was skipped) when it is not set. It is never copied into the repository (MPL-2.0 + Commons
/// Clause).
fn real_2025_08(what: &str) -> Option<std::path::PathBuf> {
    match std::env::var_os("MIR_DB_2025_08") {
        Some(p) => Some(p.into()),
        None => {
            println!("MIR_DB_2025_08 is not set: {what} skipped for the August 2025 database");
            None
        }
    }
}

fn json(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(db_path(name)).unwrap()).unwrap()
}

/// The first hash of `field` under `key` / `compat` (list or dict form).
fn first_hash(db: &Value, key: &str, compat: &str, field: &str) -> String {
    match &db[key][compat][field] {
        Value::Array(a) => a[0].as_str().unwrap().to_owned(),
        Value::Object(o) => o.keys().next().unwrap().clone(),
        other => panic!("{key}:{compat} {field} is {other:?}"),
    }
}

fn classifier(name: &str) -> Classifier {
    Classifier::builtin()
        .unwrap()
        .with_database(MirDatabase::load(&db_path(name)).unwrap())
}

fn with_hash(mut s: Spec, field: &str, hex: &str) -> Spec {
    s.hashes = vec![(field.to_owned(), hex.to_owned())];
    s
}

#[test]
fn both_databases_load_and_drop_the_none_sentinels() {
    let db = MirDatabase::load(&db_path("mir-2025-07.json")).unwrap();
    assert!(db.len() > 60, "mir-2025-07.json: only {} hashes", db.len());
    // The excerpt holds 62 constructed hashes and the 3 "None" sentinels, which are dropped.
    assert_eq!(MirDatabase::load(&db_path(EXCERPT)).unwrap().len(), 62);
    if let Some(path) = real_2025_08("the load check") {
        let db = MirDatabase::load(&path).unwrap();
        assert!(
            db.len() > 60,
            "{}: only {} hashes",
            path.display(),
            db.len()
        );
    }
    // DB-final stores the sentinels under stable-diffusion-v1-5; they must not match anything.
    let c = classifier(EXCERPT);
    for (field, hex) in [
        ("layer_256", SENTINEL_SHA256_NONE),
        ("layer_b3", SENTINEL_B3_NONE),
        ("file_256", SENTINEL_SHA256_NONE),
    ] {
        let s = with_hash(common::spec("unknown.random.spec"), field, hex);
        let out = common::classify(&c, &s);
        assert_eq!(out.database, None, "{field} sentinel matched");
        assert_eq!(out.mir, None);
    }
}

#[test]
fn a_file_hash_names_an_sdxl_finetune() {
    let db = json(EXCERPT);
    let hex = first_hash(
        &db,
        "info.unet.stable-diffusion-xl-1",
        "pony-diffusion",
        "file_256",
    );
    let c = classifier(EXCERPT);
    let out = common::classify(
        &c,
        &with_hash(
            common::spec("sdxl.sgm.spec"),
            "file_256",
            &hex.to_uppercase(),
        ),
    );
    assert_eq!(
        out.mir.unwrap().to_string(),
        "mir:model.unet.stable-diffusion-xl:pony-diffusion"
    );
    assert_eq!(out.decided_by, Some(EvidenceKind::Hash));
    let m = out.database.unwrap();
    assert_eq!(m.key, "info.unet.stable-diffusion-xl-1");
    assert_eq!(m.compat, "pony-diffusion");
    assert_eq!(m.field, "file_256");
    assert!(m.trusted);
    assert!(
        out.evidence.iter().any(|e| e.contains("file_256 matches")),
        "{:?}",
        out.evidence
    );
}

#[test]
fn a_file_hash_names_a_distillation_lora_and_carries_repo_and_pkg() {
    let db = json("mir-2025-07.json");
    let hex = first_hash(&db, "info.lora.hyper", "stable-diffusion-xl", "file_256");
    let c = classifier("mir-2025-07.json");
    let out = common::classify(
        &c,
        &with_hash(common::spec("lora-sdxl.peft.spec"), "file_256", &hex),
    );
    assert_eq!(
        out.mir.unwrap().to_string(),
        "mir:model.lora.hyper:stable-diffusion-xl"
    );
    let m = out.database.unwrap();
    assert_eq!(m.repo.as_deref(), Some("ByteDance/Hyper-SD"));
    assert!(m.pkg.is_some());
    assert_eq!(
        m.mir.unwrap().to_string(),
        "mir:model.lora.hyper:stable-diffusion-xl"
    );
}

#[test]
fn a_layer_hash_alone_is_not_trusted_for_a_vae_but_a_file_hash_is() {
    let db = json(EXCERPT);
    let c = classifier(EXCERPT);
    let b3 = first_hash(&db, "info.vae.kl", "stable-diffusion-xl-1", "layer_b3");
    let out = common::classify(
        &c,
        &with_hash(common::spec("vae-kl-4.ldm.spec"), "layer_b3", &b3),
    );
    assert_eq!(out.mir.unwrap().to_string(), "mir:model.vae.kl");
    let m = out.database.unwrap();
    assert!(!m.trusted);
    assert_eq!(m.field, "layer_b3");
    assert!(out.evidence.iter().any(|e| e.contains("not trusted")));

    let f = first_hash(&db, "info.vae.kl", "stable-diffusion-xl-1", "file_256");
    let out = common::classify(
        &c,
        &with_hash(common::spec("vae-kl-4.ldm.spec"), "file_256", &f),
    );
    assert_eq!(
        out.mir.unwrap().to_string(),
        "mir:model.vae.kl:stable-diffusion-xl"
    );
    assert_eq!(out.decided_by, Some(EvidenceKind::Hash));
    assert_eq!(
        out.database.unwrap().repo.as_deref(),
        Some("madebyollin/sdxl-vae-fp16-fix")
    );
}

#[test]
fn a_layer_hash_of_a_base_model_is_trusted() {
    let db = json(EXCERPT);
    let b3 = first_hash(&db, "info.dit.flux1-dev", "*", "layer_b3");
    let c = classifier(EXCERPT);
    // No tensors at all: the hash alone names the file.
    let s = with_hash(Spec::default(), "layer_b3", &b3);
    let out = common::classify(&c, &s);
    assert_eq!(out.mir.unwrap().to_string(), "mir:model.dit.flux-1-dev");
    assert_eq!(out.decided_by, Some(EvidenceKind::Hash));
}

#[test]
fn a_hash_that_contradicts_structure_does_not_override_it() {
    let db = json(EXCERPT);
    let hex = first_hash(
        &db,
        "info.unet.stable-diffusion-xl-1",
        "pony-diffusion",
        "file_256",
    );
    let c = classifier(EXCERPT);
    let out = common::classify(
        &c,
        &with_hash(common::spec("sd1.ldm.spec"), "file_256", &hex),
    );
    assert_eq!(
        out.mir.unwrap().to_string(),
        "mir:model.unet.stable-diffusion-v1"
    );
    assert_eq!(out.decided_by, Some(EvidenceKind::Structure));
    assert!(
        out.evidence.iter().any(|e| e.contains("disagrees")),
        "{:?}",
        out.evidence
    );
    assert!(out.database.is_some());
}

#[test]
fn every_trusted_database_entry_maps_to_a_canonical_model_id() {
    // Every hashed entry of both databases must map onto a valid model-domain ID.
    let mut paths = vec![db_path("mir-2025-07.json"), db_path(EXCERPT)];
    paths.extend(real_2025_08("the canonical-ID check"));
    for path in paths {
        let name = path.display().to_string();
        let db: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let c = Classifier::builtin()
            .unwrap()
            .with_database(MirDatabase::load(&path).unwrap());
        for (key, compats) in db.as_object().unwrap() {
            for (compat, entry) in compats.as_object().unwrap() {
                for field in ["file_256", "layer_256", "layer_b3"] {
                    let all: Vec<String> = match &entry[field] {
                        Value::Array(a) => a
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect(),
                        Value::Object(o) => o.keys().cloned().collect(),
                        _ => continue,
                    };
                    // The databases hold a few malformed values (63 or 128 hex digits, empty
                    // strings); they are not indexed, so skip them here too.
                    let Some(hex) = all.into_iter().find(|h| {
                        h.len() == 64
                            && h.bytes().all(|b| b.is_ascii_hexdigit())
                            && h != SENTINEL_SHA256_NONE
                            && h != SENTINEL_B3_NONE
                    }) else {
                        continue;
                    };
                    let out = common::classify(&c, &with_hash(Spec::default(), field, &hex));
                    let m = out
                        .database
                        .unwrap_or_else(|| panic!("{name} {key}:{compat} {field} not found"));
                    let id = m
                        .mir
                        .unwrap_or_else(|| panic!("{key}:{compat} maps to no ID"));
                    assert!(id.is_canonical(), "{key}:{compat} -> {id}");
                    assert_eq!(id.domain(), mir_id::Domain::Model);
                }
            }
        }
    }
}

#[test]
fn database_aliases_follow_ids_md_series() {
    let db = json(EXCERPT);
    let c = classifier(EXCERPT);
    for (key, compat, want) in [
        (
            "info.dit.flux1-schnell",
            "*",
            "mir:model.dit.flux-1-schnell",
        ),
        (
            "info.unet.stable-diffusion-v1-5",
            "*",
            "mir:model.unet.stable-diffusion-v1",
        ),
        (
            "info.unet.stable-diffusion-xl-refiner-1",
            "*",
            "mir:model.unet.stable-diffusion-xl:refiner",
        ),
        ("info.stst.umt5", "*", "mir:model.transformer.umt5-xxl"),
        (
            "info.dit.pixart-sigma-xl-2-1024-ms",
            "*",
            "mir:model.dit.pixart-sigma",
        ),
        ("info.unet.kolors", "diffusers", "mir:model.unet.kolors"),
        (
            "info.lora.hyper",
            "flux1-dev",
            "mir:model.lora.hyper:flux-1-dev",
        ),
    ] {
        let field = ["file_256", "layer_256", "layer_b3"]
            .into_iter()
            .find(|f| db[key][compat].get(f).is_some())
            .unwrap();
        let hex = first_hash(&db, key, compat, field);
        let out = common::classify(&c, &with_hash(Spec::default(), field, &hex));
        assert_eq!(
            out.database.unwrap().mir.unwrap().to_string(),
            want,
            "{key}:{compat}"
        );
    }
}

#[test]
fn a_hash_refines_an_architecture_only_result() {
    let db = json(EXCERPT);
    let hex = first_hash(&db, "info.dit.flux1-dev", "*", "file_256");
    let c = classifier(EXCERPT);
    let out = common::classify(
        &c,
        &with_hash(common::spec("dit-unknown.mmdit.spec"), "file_256", &hex),
    );
    assert_eq!(out.mir.unwrap().to_string(), "mir:model.dit.flux-1-dev");
    assert_eq!(out.decided_by, Some(EvidenceKind::Hash));
}

#[test]
fn a_hash_outranks_a_compat_that_only_the_file_name_gave() {
    let db = json(EXCERPT);
    let hex = first_hash(&db, "info.vae.kl", "stable-diffusion-v1-5", "file_256");
    let c = classifier(EXCERPT);
    // Named like an SDXL VAE, hashed like the SD1.5 one.
    let out = common::classify(
        &c,
        &with_hash(common::spec("vae-kl-4-sdxl.named.spec"), "file_256", &hex),
    );
    assert_eq!(
        out.mir.unwrap().to_string(),
        "mir:model.vae.kl:stable-diffusion-v1"
    );
    assert_eq!(out.decided_by, Some(EvidenceKind::Hash));
}
