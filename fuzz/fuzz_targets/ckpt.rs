//! Fuzz target: the PyTorch checkpoint reader (zip container, legacy stream, pickle interpreter)
//! on arbitrary bytes, with the default limits. Nothing in the input may ever run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mir_core::{Format, Limits, Source};

fuzz_target!(|data: &[u8]| {
    let src = Source::from_bytes("fuzz.pt", data.to_vec());
    let _ = mir_ckpt::CkptFormat.parse(&src, &Limits::default());
});
