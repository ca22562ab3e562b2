//! Parses the embedded rule files at build time and writes them, in the order of `BUILTIN_RULES`
//! (`src/rules.rs`), as postcard bytes to `$OUT_DIR/builtin-rules.postcard`, which
//! `RuleSet::builtin` decodes at start-up: a process no longer spends milliseconds parsing
//! 300 kB of TOML before it can classify one file (issue 19). A rule file that is not valid
//! TOML or does not follow the schema fails the build, naming the file.
//!
//! The list of files is read from `src/rules.rs` itself (every `include_str!("../rules/…")`), so
//! `BUILTIN_RULES` stays the one list: a new rule file is added there as before.

use std::path::Path;

#[allow(dead_code, unreachable_pub)]
#[path = "src/defs.rs"]
mod defs;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest);
    println!("cargo::rerun-if-changed=rules");
    println!("cargo::rerun-if-changed=src/rules.rs");
    println!("cargo::rerun-if-changed=src/defs.rs");
    let rules_rs = std::fs::read_to_string(root.join("src/rules.rs")).expect("src/rules.rs");
    let marker = "include_str!(\"../rules/";
    let mut names = Vec::new();
    let mut rest = rules_rs.as_str();
    while let Some(at) = rest.find(marker) {
        let tail = &rest[at + marker.len()..];
        let end = tail
            .find('"')
            .expect("unterminated include_str! in src/rules.rs");
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    let read = |name: &str| {
        let path = root.join("rules").join(name);
        println!("cargo::rerun-if-changed=rules/{name}");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    assert!(
        names.iter().any(|n| n == "layout.toml"),
        "src/rules.rs embeds no rules/layout.toml"
    );
    let layout: defs::LayoutFile = toml::from_str(&read("layout.toml"))
        .unwrap_or_else(|e| panic!("rule file layout.toml: {e}"));
    let mut rules = Vec::new();
    for name in names.iter().filter(|n| *n != "layout.toml") {
        let f: defs::RuleFile =
            toml::from_str(&read(name)).unwrap_or_else(|e| panic!("rule file {name}: {e}"));
        rules.extend(f.rule);
    }
    let bytes = postcard::to_allocvec(&defs::Builtin { layout, rules }).expect("postcard");
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    std::fs::write(Path::new(&out).join("builtin-rules.postcard"), bytes)
        .expect("writing builtin-rules.postcard");
}
