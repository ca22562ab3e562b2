//! Memory and work stay bounded on the worst hostile inputs.
//!
//! This test binary counts every allocation with a wrapper around the system allocator and
//! asserts, for each worst case (length and count bombs, nesting bombs, a 150k-entry array, the
//! largest header the limits allow, every file under `fixtures/hostile`), a ceiling on the peak
//! heap and on the number of allocations. The allocation count stands in for the work done: no
//! timing is measured. All cases run in one test, one after the other, so no other test's
//! allocations are counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use mir_core::{Error, FormatRegistry, Limits, Source};

/// The system allocator, counting live bytes, their peak and the number of allocations.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is `System`'s; the counters are plain atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract (non-zero size), passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator (so by `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1 << 20;

/// What one parse cost: peak heap above the starting point, and allocations made.
#[derive(Debug)]
struct Cost {
    peak: usize,
    allocs: usize,
}

/// Parses `bytes` (named `name`, so the extension hint applies) through the scan's registry and
/// measures it. The input is built and copied into the `Source` before counting starts.
fn measure(
    registry: &FormatRegistry,
    name: &str,
    bytes: Vec<u8>,
    limits: &Limits,
) -> (Result<mir_core::TensorIndex, Error>, Cost) {
    let src = Source::from_bytes(name, bytes);
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let allocs = ALLOCS.load(Ordering::Relaxed);
    let result = registry.parse(&src, limits);
    let cost = Cost {
        peak: PEAK.load(Ordering::Relaxed).saturating_sub(base),
        allocs: ALLOCS.load(Ordering::Relaxed) - allocs,
    };
    (result, cost)
}

/// A minimal little-endian GGUF v3 writer.
struct Gguf(Vec<u8>);

impl Gguf {
    fn new(tensors: u64, kvs: u64) -> Gguf {
        let mut g = Gguf(b"GGUF".to_vec());
        g.u32(3).u64(tensors).u64(kvs);
        g
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn str(&mut self, s: &[u8]) -> &mut Self {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s);
        self
    }
    fn pad(&mut self) -> &mut Self {
        self.0.resize(self.0.len().next_multiple_of(32), 0);
        self
    }
}

fn safetensors(header: &str, data: usize) -> Vec<u8> {
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    f.resize(f.len() + data, 0);
    f
}

/// A safetensors file of `n` one-byte U8 tensors, with metadata entries.
fn many_tensors(n: usize, meta: usize) -> Vec<u8> {
    let mut h = String::from("{\"__metadata__\":{");
    for i in 0..meta {
        if i > 0 {
            h.push(',');
        }
        h.push_str(&format!("\"key{i}\":\"value\""));
    }
    h.push('}');
    for i in 0..n {
        h.push_str(&format!(
            ",\"model.layers.{i}.w\":{{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[{i},{}]}}",
            i + 1
        ));
    }
    h.push('}');
    safetensors(&h, n)
}

struct Case {
    name: &'static str,
    file: &'static str,
    bytes: Vec<u8>,
    limits: Limits,
    /// `None` for a file that must be read, `Some(text)` for an error containing `text`.
    error: Option<&'static str>,
    max_peak: usize,
    max_allocs: usize,
}

/// 1 when serde_json's `arbitrary_precision` feature is on in this build, else 0. Only a
/// dev-dependency turns it on (gguf-rs, for mir-gguf's differential test), so it is on when this
/// test is built together with the whole workspace and never in `mir`; with it, serde_json
/// allocates a string for every number it hands to a visitor.
fn per_number_allocation() -> usize {
    let v: serde_json::Value = serde_json::from_str("1.50").unwrap_or_default();
    // Printed back with its text kept ("1.50") only under arbitrary_precision; else "1.5".
    let printed = v.to_string();
    usize::from(printed.as_str() == "1.50")
}

fn cases() -> Vec<Case> {
    let default = Limits::default;
    let per_number = per_number_allocation();
    let mut v = Vec::new();

    // Length and count bombs: refused before anything is allocated for them.
    let mut bomb = (1u64 << 60).to_le_bytes().to_vec();
    bomb.extend_from_slice(b"{}");
    v.push(Case {
        name: "safetensors header length 2^60",
        file: "x.safetensors",
        bytes: bomb,
        limits: default(),
        error: Some("over the limit"),
        max_peak: 64 * 1024,
        max_allocs: 20,
    });
    let mut past = 100_000_000u64.to_le_bytes().to_vec();
    past.extend_from_slice(b"{}");
    v.push(Case {
        name: "safetensors header length at the limit, file short",
        file: "x.safetensors",
        bytes: past,
        limits: default(),
        error: Some("runs past the end"),
        max_peak: 64 * 1024,
        max_allocs: 20,
    });
    let mut g = Gguf::new(u64::MAX, u64::MAX);
    g.0.resize(4096, 0);
    v.push(Case {
        name: "gguf tensor and key counts 2^64-1",
        file: "x.gguf",
        bytes: g.0,
        limits: default(),
        error: Some("cannot fit"),
        max_peak: 64 * 1024,
        max_allocs: 20,
    });
    let mut g = Gguf::new(0, 1);
    g.str(b"a").u32(9).u32(10).u64(1 << 61);
    g.0.resize(4096, 0);
    v.push(Case {
        name: "gguf array length 2^61",
        file: "x.gguf",
        bytes: g.0,
        limits: default(),
        error: Some("cannot fit"),
        max_peak: 64 * 1024,
        max_allocs: 20,
    });
    let mut g = Gguf::new(0, 1);
    g.str(b"a").u32(8).u64(u64::MAX);
    v.push(Case {
        name: "gguf string length 2^64-1",
        file: "x.gguf",
        bytes: g.0,
        limits: default(),
        error: Some("past the end"),
        max_peak: 64 * 1024,
        max_allocs: 20,
    });

    // Nesting bombs: refused at Limits::max_depth (16), however deep the file goes.
    let mut g = Gguf::new(0, 1);
    g.str(b"deep").u32(9);
    for _ in 0..100_000 {
        g.u32(9).u64(1);
    }
    v.push(Case {
        name: "gguf arrays nested 100k deep",
        file: "x.gguf",
        bytes: g.0,
        limits: default(),
        error: Some("nested deeper than 16"),
        max_peak: 4 * MIB,
        max_allocs: 200,
    });
    let deep = format!(
        "{{\"w\":{{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":{}{}}}}}",
        "[".repeat(1_000_000),
        "]".repeat(1_000_000)
    );
    v.push(Case {
        name: "safetensors JSON nested 1M deep",
        file: "x.safetensors",
        bytes: safetensors(&deep, 1),
        limits: default(),
        error: Some("recursion limit exceeded"),
        max_peak: 4 * MIB,
        max_allocs: 200,
    });

    // A 150k-token vocabulary: walked, never decoded (allocations do not grow with it).
    let mut g = Gguf::new(1, 2);
    g.str(b"general.architecture").u32(8).str(b"llama");
    g.str(b"tokenizer.ggml.tokens").u32(9).u32(8).u64(150_000);
    for i in 0..150_000u32 {
        g.str(format!("tok{i}").as_bytes());
    }
    g.str(b"w").u32(1).u64(8).u32(0).u64(0).pad();
    g.0.resize(g.0.len() + 32, 0);
    v.push(Case {
        name: "gguf 150k-string array",
        file: "x.gguf",
        bytes: g.0,
        limits: default(),
        error: None,
        max_peak: 8 * MIB,
        max_allocs: 200,
    });
    // 150k u64 elements: skipped in one step.
    let mut g = Gguf::new(0, 1);
    g.str(b"ids").u32(9).u32(10).u64(150_000);
    g.0.resize(g.0.len() + 150_000 * 8, 1);
    g.pad();
    v.push(Case {
        name: "gguf 150k-u64 array",
        file: "x.gguf",
        bytes: g.0,
        limits: default(),
        error: None,
        max_peak: 4 * MIB,
        max_allocs: 100,
    });

    // The largest header the limits allow. The single-pass scanner costs about 3.5 bytes of heap
    // per header byte (the header buffer, the index: a name and a shape per tensor, and a small
    // offsets array; the layer string is streamed into its hashers), so a 3.9 MB header (48k
    // tensors) stays under 24 MiB (it was 64 MiB with 8 allocations per tensor before).
    let file = many_tensors(48_000, 0);
    assert!(
        file.len() > 3_800_000 && file.len() < 4_000_000,
        "{}",
        file.len()
    );
    v.push(Case {
        name: "safetensors 3.9 MB header, 48k tensors (4 MB header limit)",
        file: "x.safetensors",
        bytes: file,
        limits: Limits {
            max_header_bytes: 4_000_000,
            ..default()
        },
        error: None,
        max_peak: 24 * MIB,
        // Two per tensor (its name and shape in the index), plus a fixed allowance; three more
        // (one per number) when serde_json's `arbitrary_precision` is unified into the build.
        max_allocs: 48_000 * (2 + 3 * per_number) + 1_000,
    });
    v.push(Case {
        name: "a 7.7 MB header over the 4 MB limit",
        file: "x.safetensors",
        bytes: many_tensors(96_000, 0),
        limits: Limits {
            max_header_bytes: 4_000_000,
            ..default()
        },
        error: Some("over the limit"),
        max_peak: 64 * 1024,
        max_allocs: 20,
    });
    v.push(Case {
        name: "safetensors 100k metadata entries",
        file: "x.safetensors",
        bytes: many_tensors(1, 100_000),
        limits: default(),
        error: None,
        max_peak: 32 * MIB,
        max_allocs: 100_000 * 5,
    });
    // Issue 17 item 9: unknown entry fields and `__metadata__` are never parsed into JSON trees
    // (a 100 MB header of them peaked at 5.9 GB). 8 MB of small numbers in an unknown field of
    // the first tensor: the header buffer and the piecewise layer buffer, nothing per value.
    let zeros = vec!["0"; 4_000_000].join(",");
    let h = format!(
        r#"{{"a":{{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":[{zeros}]}},"b":{{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}}}"#
    );
    v.push(Case {
        name: "safetensors 8 MB array in an unknown entry field",
        file: "x.safetensors",
        bytes: safetensors(&h, 2),
        limits: default(),
        error: None,
        max_peak: 12 * MIB,
        max_allocs: 200 + 4_000_000 * per_number,
    });
    // 8 MB of nested arrays in `__metadata__` values: rejected (not strings), read without trees.
    let nested = vec!["[[],[[]]]"; 800_000].join(",");
    v.push(Case {
        name: "safetensors 7 MB of arrays as __metadata__ values",
        file: "x.safetensors",
        bytes: safetensors(&format!(r#"{{"__metadata__":{{"k":[{nested}]}}}}"#), 0),
        limits: default(),
        error: Some("not a string"),
        max_peak: 12 * MIB,
        max_allocs: 100,
    });
    // More metadata pairs than `max_metadata_entries`: refused as they are counted.
    let pairs: Vec<String> = (0..20_001).map(|i| format!(r#""k{i}":"v""#)).collect();
    v.push(Case {
        name: "safetensors 20,001 metadata entries over a 20,000 limit",
        file: "x.safetensors",
        bytes: safetensors(&format!(r#"{{"__metadata__":{{{}}}}}"#, pairs.join(",")), 0),
        limits: Limits {
            max_metadata_entries: 20_000,
            ..default()
        },
        error: Some("more than 20000 entries"),
        max_peak: 8 * MIB,
        max_allocs: 20_000 * 4 + 100,
    });
    // A GGUF string value as long as a tighter string limit allows (4 MiB), and one byte over.
    for (len, error) in [(4 * MIB, None), (4 * MIB + 1, Some("over the limit"))] {
        let mut g = Gguf::new(0, 1);
        g.str(b"tokenizer.chat_template")
            .u32(8)
            .str(&vec![b'x'; len]);
        g.pad();
        v.push(Case {
            name: if error.is_none() {
                "gguf 4 MiB string value (4 MiB string limit)"
            } else {
                "gguf 4 MiB + 1 string value (4 MiB string limit)"
            },
            file: "x.gguf",
            bytes: g.0,
            limits: Limits {
                max_string_bytes: 4 * MIB as u64,
                ..default()
            },
            error,
            max_peak: 24 * MIB,
            max_allocs: 100,
        });
    }
    // 100k tensor infos in a GGUF: refused by a tensor limit of 50k before they are read, and
    // read within the ceiling under the default limits.
    let mut g = Gguf::new(100_000, 0);
    for i in 0..100_000u64 {
        g.str(format!("blk.{i}.w").as_bytes())
            .u32(1)
            .u64(8)
            .u32(0)
            .u64(i * 32);
    }
    g.pad();
    g.0.resize(g.0.len() + 100_000 * 32, 0);
    v.push(Case {
        name: "gguf 100k tensors over a 50k tensor limit",
        file: "x.gguf",
        bytes: g.0.clone(),
        limits: Limits {
            max_tensors: 50_000,
            ..default()
        },
        error: Some("tensor count is 100000, over the limit of 50000"),
        // The first header chunk (INITIAL_CHUNK, 1 MiB) is read before the counts are checked.
        max_peak: MIB + 64 * 1024,
        max_allocs: 20,
    });
    // PyTorch pickle memory bombs (issue 17, item 7), one per class, from fixtures/hostile/ckpt.
    let ckpt = |f: &str| {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../fixtures/hostile/ckpt")
                .join(f),
        )
        .unwrap()
    };
    for (f, what) in [
        (
            "memo_binput_dense.pkl",
            "pickle 20k LONG_BINPUT 15 keys apart (dense memo)",
        ),
        (
            "memo_binput_sparse.pkl",
            "pickle 20k LONG_BINPUT 1,000 keys apart (sparse memo)",
        ),
    ] {
        // Before: each put grew the memo by up to 1,024 slots (16 KB): 20k puts took 330 MB.
        v.push(Case {
            name: what,
            file: "x.pkl",
            bytes: ckpt(f),
            limits: default(),
            error: None,
            max_peak: 16 * MIB,
            max_allocs: 1_000,
        });
    }
    // Before: 60 copies of the 16 MiB string (960 MiB).
    v.push(Case {
        name: "ckpt one 16 MiB string shared as 60 root values",
        file: "x.pt",
        bytes: ckpt("shared_string_metadata.pt"),
        limits: default(),
        error: None,
        max_peak: 160 * MIB,
        max_allocs: 1_000,
    });
    // 5M nodes in the arena: refused at the budget (24 bytes × max_pickle_items; here 1M items,
    // 24 MB), before the arena grows past it. Before: 560 MB with the default limits.
    v.push(Case {
        name: "ckpt arena of 5M empty tuples (1M-item budget)",
        file: "x.pt",
        bytes: ckpt("arena_blowup.pt"),
        limits: Limits {
            max_pickle_items: 1_000_000,
            ..default()
        },
        error: Some("pickle memory in bytes"),
        max_peak: 64 * MIB,
        max_allocs: 1_000,
    });
    // Before: the 16 MiB path was copied for each of the 100 tensors (1.7 GB).
    v.push(Case {
        name: "ckpt 100 tensor paths under one 16 MiB key",
        file: "x.pt",
        bytes: ckpt("tensor_paths_16mib.pt"),
        limits: default(),
        error: Some("tensor name length"),
        max_peak: 64 * MIB,
        max_allocs: 1_000,
    });
    v.push(Case {
        name: "ckpt one tensor shared along 3^14 paths",
        file: "x.pt",
        bytes: ckpt("shared_tensor_bomb.pt"),
        limits: default(),
        error: Some("tensor count is 250001"),
        max_peak: 256 * MIB,
        max_allocs: 2_000_000,
    });
    v.push(Case {
        name: "gguf 100k tensors",
        file: "x.gguf",
        bytes: g.0,
        limits: default(),
        error: None,
        max_peak: 64 * MIB,
        max_allocs: 100_000 * 8,
    });
    v
}

#[test]
fn worst_cases_stay_under_their_memory_and_allocation_ceilings() {
    let registry = mir_scan::default_registry();
    let mut failures = Vec::new();
    for c in cases() {
        let input = c.bytes.len();
        let (result, cost) = measure(&registry, c.file, c.bytes, &c.limits);
        let outcome = match (&result, c.error) {
            (Ok(_), None) => Ok(()),
            (Err(e), Some(want)) if e.to_string().contains(want) => Ok(()),
            (Ok(i), Some(want)) => {
                Err(format!("read {} tensors, wanted {want:?}", i.tensors.len()))
            }
            (Err(e), _) => Err(format!("error {e}")),
        };
        eprintln!(
            "{:<62} input {:>9} B  peak {:>9} B  allocs {:>7}",
            c.name, input, cost.peak, cost.allocs
        );
        if let Err(e) = outcome {
            failures.push(format!("{}: {e}", c.name));
        }
        if cost.peak > c.max_peak {
            failures.push(format!("{}: peak {} > {}", c.name, cost.peak, c.max_peak));
        }
        if cost.allocs > c.max_allocs {
            failures.push(format!(
                "{}: {} allocations > {}",
                c.name, cost.allocs, c.max_allocs
            ));
        }
    }

    // Every committed hostile fixture: small files, so small costs.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut n = 0;
    for dir in [
        "hostile/mixed",
        "hostile/gguf",
        "hostile/safetensors",
        "safetensors/hostile",
    ] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name == "EXPECT" {
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            let (_, cost) = measure(&registry, &name, bytes, &Limits::default());
            if cost.peak > 2 * MIB || cost.allocs > 20_000 {
                failures.push(format!("{dir}/{name}: {cost:?}"));
            }
            n += 1;
        }
    }
    assert!(n > 100, "only {n} hostile fixtures found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
