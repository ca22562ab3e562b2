//! The committed fixtures: every `ok` file parses, every hostile file gives the error EXPECT names.

use std::path::PathBuf;

use mir_core::{Limits, Source};
use mir_safetensors::{SafetensorsError, parse};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/safetensors")
}

#[test]
fn ok_fixtures_parse() {
    let mut n = 0;
    for e in std::fs::read_dir(fixtures().join("ok")).unwrap() {
        let p = e.unwrap().path();
        let index = parse(&Source::open(&p).unwrap(), &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(index.format, "safetensors");
        n += 1;
    }
    assert!(n >= 5);
}

#[test]
fn hostile_fixtures_give_their_specific_errors() {
    let dir = fixtures().join("hostile");
    let expect = std::fs::read_to_string(dir.join("EXPECT")).unwrap();
    let mut n = 0;
    for line in expect
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (file, variant) = line.split_once(' ').unwrap();
        let src = Source::open(dir.join(file)).unwrap();
        let err = parse(&src, &Limits::default()).expect_err(file);
        let inner = err
            .downcast_format::<SafetensorsError>()
            .unwrap_or_else(|| panic!("{file}: not a SafetensorsError: {err}"));
        let debug = format!("{inner:?}");
        assert!(
            debug.starts_with(variant.trim()),
            "{file}: expected {variant}, got {debug}"
        );
        // Messages name the problem in words, not only a variant.
        assert!(!err.to_string().is_empty());
        n += 1;
    }
    assert!(n >= 15, "only {n} hostile fixtures listed");
}
