//! Fuzz target: every built-in format's `sniff` and `FormatRegistry::detect` on arbitrary heads,
//! lengths and extensions. Checks that `detect` picks the strongest answer (first one on ties).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mir_core::{FormatRegistry, Sniff};

/// Extensions worth trying: every claimed one, a few unclaimed ones, odd spellings and none.
const EXTENSIONS: &[Option<&str>] = &[
    None,
    Some("safetensors"),
    Some("sft"),
    Some("gguf"),
    Some("ckpt"),
    Some("pt"),
    Some("pth"),
    Some("bin"),
    Some("npy"),
    Some(""),
    Some("GGUF"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (len_bytes, head) = rest.split_at(rest.len().min(8));
    let mut raw = [0u8; 8];
    raw[..len_bytes.len()].copy_from_slice(len_bytes);
    // Half the time the real length, otherwise any length (a head shorter than the file).
    let file_len = if pick & 0x80 == 0 {
        head.len() as u64
    } else {
        u64::from_le_bytes(raw)
    };
    let head = &head[..head.len().min(FormatRegistry::SNIFF_BYTES)];
    let ext = EXTENSIONS[usize::from(pick & 0x7f) % EXTENSIONS.len()];

    let registry = mir_scan::default_registry();
    let mut best: Option<(&'static str, Sniff)> = None;
    for f in registry.formats() {
        let s = f.sniff(head, file_len, ext);
        if s > Sniff::No && best.is_none_or(|(_, b)| s > b) {
            best = Some((f.name(), s));
        }
    }
    let detected = registry
        .detect(head, file_len, ext)
        .map(|(f, s)| (f.name(), s));
    assert_eq!(
        detected, best,
        "detect disagrees with the formats' own answers"
    );
});
