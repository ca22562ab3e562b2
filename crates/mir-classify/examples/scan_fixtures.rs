//! Prints the classification of fixture specs (all of them, or those named on the command
//! line): `cargo run -p mir-classify --example scan_fixtures -- sdxl.bundle.spec`.
//!
//! With `MIR_DEBUG_DUMP=1` it prints each classification's whole `Debug` text instead.
//!
//! `@include toolkit:…` lines are read from `fixtures/reference/model-toolkit/components/`.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;

use mir_classify::testing::load_spec;
use mir_classify::{Classifier, Input};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fixtures = root.join("fixtures/specs");
    let toolkit = root.join("fixtures/reference/model-toolkit/components");
    let mut names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        names = std::fs::read_dir(&fixtures)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".spec"))
            .collect();
        names.sort();
    }
    let c = Classifier::builtin().unwrap();
    for name in names {
        let text = std::fs::read_to_string(fixtures.join(&name)).unwrap();
        let mut resolve = |n: &str| match n.strip_prefix("toolkit:") {
            Some(rest) => std::fs::read_to_string(toolkit.join(rest)).ok(),
            None => std::fs::read_to_string(fixtures.join(n)).ok(),
        };
        let spec = load_spec(&text, &mut resolve).unwrap();
        let out = c.classify(&Input {
            index: &spec.index,
            file_name: spec.file_name.as_deref(),
            config_model_type: spec.config_model_type.as_deref(),
            adapter_base: spec.adapter_base.as_deref(),
            hashes: Default::default(),
        });
        if std::env::var_os("MIR_DEBUG_DUMP").is_some() {
            // Everything the classification holds (to compare two builds' answers).
            println!("{name}: {out:#?}");
            continue;
        }
        println!(
            "{name}: {} ({}, {:.2})",
            out.mir.map_or("none".into(), |m| m.to_string()),
            out.decided_by.map_or("-", |k| k.as_str()),
            out.confidence
        );
        for c in &out.candidates {
            println!("    candidate {c}");
        }
        for c in &out.components {
            println!("    component {} under {}", c.mir, c.prefix);
        }
        for e in &out.evidence {
            println!("    - {e}");
        }
        if let Some(p) = &out.precision {
            println!("    precision {p}");
        }
    }
}
