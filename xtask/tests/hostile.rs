//! Every file under `fixtures/hostile/` gives exactly the outcome `fixtures/hostile/EXPECT`
//! names, through the scan's own registry (so sniffing by content, not name, is covered).

use std::path::{Path, PathBuf};

use mir_core::{Error, Limits, Source};

fn hostile_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/hostile")
}

/// The outcome of reading `path`, in EXPECT's notation.
fn outcome(path: &Path) -> String {
    let registry = mir_scan::default_registry();
    let src = match Source::open(path) {
        Ok(s) => s,
        Err(e) => return format!("error\tIo\t{e}"),
    };
    match registry.parse(&src, &Limits::default()) {
        Ok(index) => format!(
            "ok\t{}\ttensors={}\tfindings={}",
            index.format,
            index.tensors.len(),
            index.findings.len()
        ),
        Err(Error::Unrecognised) => "unrecognised".to_owned(),
        Err(e) => format!("error\t{}\t{e}", kind(&e)),
    }
}

/// `Truncated`, `LimitExceeded`, `Io`, or `format:Variant` for a format's own error.
fn kind(e: &Error) -> String {
    match e {
        Error::Io(_) => "Io".to_owned(),
        Error::Truncated { .. } => "Truncated".to_owned(),
        Error::LimitExceeded { .. } => "LimitExceeded".to_owned(),
        Error::Format { format, source } => {
            // The variant name is the start of the typed error's Debug text.
            let debug = format!("{source:?}");
            let variant: String = debug
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            format!("{format}:{variant}")
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn every_hostile_fixture_gives_its_expected_outcome() {
    let dir = hostile_dir();
    let expect = std::fs::read_to_string(dir.join("EXPECT"))
        .expect("fixtures/hostile/EXPECT is missing: run `cargo xtask fixtures`");
    let mut failures = Vec::new();
    let mut n = 0;
    for line in expect
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (path, want) = line.split_once('\t').expect("EXPECT line without a tab");
        let got = outcome(&dir.join(path));
        if got != want {
            failures.push(format!("{path}\n  want: {want}\n  got:  {got}"));
        }
        n += 1;
    }
    assert!(n >= 60, "only {n} hostile fixtures listed");
    assert!(
        failures.is_empty(),
        "{} of {n} wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_hostile_file_is_listed() {
    let dir = hostile_dir();
    let expect = std::fs::read_to_string(dir.join("EXPECT")).unwrap();
    let listed: Vec<&str> = expect
        .lines()
        .filter_map(|l| l.split_once('\t').map(|(p, _)| p))
        .collect();
    for sub in ["mixed", "gguf", "safetensors", "ckpt"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let name = e.unwrap().file_name();
            let rel = format!("{sub}/{}", name.to_string_lossy());
            assert!(
                listed.contains(&rel.as_str()),
                "{rel} has no line in EXPECT"
            );
        }
    }
}
