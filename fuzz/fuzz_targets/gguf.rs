//! Fuzz target: the GGUF header parser and its conversion to a tensor index, on arbitrary bytes,
//! with the default limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mir_core::{Format, Limits, Source};

fuzz_target!(|data: &[u8]| {
    let src = Source::from_bytes("fuzz.gguf", data.to_vec());
    let _ = mir_gguf::GgufFormat.parse(&src, &Limits::default());
});
