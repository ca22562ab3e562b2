//! Fuzz target: arbitrary plugin callbacks (reads, tensors, metadata, findings, errors, in any
//! order, with any lengths, ranks, ranges and bytes) through the plugin host's validator, on an
//! arbitrary file, with either the default limits or tight ones that the fuzzer can reach.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mir_core::{Limits, Source};
use mir_plugin_host::{FuzzCall, fuzz_validate};

#[derive(Arbitrary, Debug)]
struct Input {
    file: Vec<u8>,
    tight_limits: bool,
    calls: Vec<Call>,
    code: i32,
}

#[derive(Arbitrary, Debug)]
enum Call {
    Read {
        offset: u64,
        len: u16,
    },
    Tensor {
        name: Vec<u8>,
        dtype: Dtype,
        dims: Vec<u64>,
        start: u64,
        end: u64,
    },
    NoData {
        name: Vec<u8>,
        dtype: Dtype,
        dims: Vec<u64>,
    },
    Metadata {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Finding {
        level: u8,
        message: Vec<u8>,
    },
    Error {
        message: Vec<u8>,
    },
}

/// Real dtype names most of the time, so the size checks are reached.
#[derive(Arbitrary, Debug)]
enum Dtype {
    F16,
    F32,
    U8,
    F4,
    Q4K,
    Raw(Vec<u8>),
}

impl Dtype {
    fn bytes(self) -> Vec<u8> {
        match self {
            Dtype::F16 => b"F16".to_vec(),
            Dtype::F32 => b"F32".to_vec(),
            Dtype::U8 => b"U8".to_vec(),
            Dtype::F4 => b"F4".to_vec(),
            Dtype::Q4K => b"Q4_K".to_vec(),
            Dtype::Raw(v) => v,
        }
    }
}

fuzz_target!(|input: Input| {
    let limits = if input.tight_limits {
        Limits {
            max_header_bytes: 256,
            max_tensors: 4,
            max_rank: 3,
            max_name_bytes: 16,
            max_metadata_entries: 4,
            max_string_bytes: 32,
            ..Limits::default()
        }
    } else {
        Limits::default()
    };
    let script: Vec<FuzzCall> = input
        .calls
        .into_iter()
        .map(|c| match c {
            Call::Read { offset, len } => FuzzCall::Read { offset, len },
            Call::Tensor {
                name,
                dtype,
                dims,
                start,
                end,
            } => FuzzCall::Tensor {
                name,
                dtype: dtype.bytes(),
                dims,
                start,
                end,
            },
            Call::NoData { name, dtype, dims } => FuzzCall::Tensor {
                name,
                dtype: dtype.bytes(),
                dims,
                start: u64::MAX,
                end: u64::MAX,
            },
            Call::Metadata { key, value } => FuzzCall::Metadata { key, value },
            Call::Finding { level, message } => FuzzCall::Finding { level, message },
            Call::Error { message } => FuzzCall::Error { message },
        })
        .collect();
    let src = Source::from_bytes("fuzz.bin", input.file);
    let _ = fuzz_validate(&src, &limits, &script, input.code);
});
