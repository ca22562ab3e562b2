//! `default_path` honours `MIR_INDEX` (its own test binary, since it sets the environment).

#[test]
fn mir_index_overrides_the_cache_dir() {
    let dir = tempfile::tempdir().expect("temp dir");
    let want = dir.path().join("custom.sqlite3");
    // SAFETY: this test binary has this single test, so no other thread reads the environment.
    unsafe { std::env::set_var("MIR_INDEX", &want) };
    assert_eq!(mir_index::default_path().expect("path"), want);
    let idx = mir_index::Index::open_default(1).expect("open");
    assert_eq!(idx.record_version(), 1);
    assert!(want.is_file());
    // SAFETY: as above.
    unsafe { std::env::set_var("MIR_INDEX", "") };
    let platform = mir_index::default_path().expect("a cache dir exists here");
    assert!(
        platform.ends_with("mir/index.sqlite3"),
        "{}",
        platform.display()
    );
}
