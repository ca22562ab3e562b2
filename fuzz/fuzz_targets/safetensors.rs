//! Fuzz target: the safetensors header parser on arbitrary bytes, with the default limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mir_core::{Limits, Source};

fuzz_target!(|data: &[u8]| {
    let src = Source::from_bytes("fuzz.safetensors", data.to_vec());
    let _ = mir_safetensors::parse(&src, &Limits::default());
});
