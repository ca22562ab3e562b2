//! Fuzz target: the PyTorch checkpoint reader (zip container, legacy stream, pickle interpreter)
//! on arbitrary bytes. Nothing in the input may ever run.
//!
//! Each input is read twice: as it is with the default limits, and as a bare protocol-4 pickle
//! (`\x80\x04` + input, so the interpreter and the walk see every input) with tight limits under a
//! counting allocator, which checks the pickle walk's memory accounting: whatever the input, the
//! peak heap stays under a ceiling derived from those limits (issue 17, item 7).
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use libfuzzer_sys::fuzz_target;
use mir_core::{Format, Limits, Source};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` unchanged; the counters never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Limits under which a bomb reaches a budget within a fuzz input's size.
fn tight() -> Limits {
    Limits {
        max_header_bytes: 1 << 20,
        max_tensors: 1_000,
        max_string_bytes: 64 << 10,
        max_pickle_items: 20_000, // 480 KB of values
        max_pickle_stack: 10_000,
        max_pickle_ops: 1_000_000,
        max_zip_entries: 1_000,
        ..Limits::default()
    }
}

/// The peak any input may reach under [`tight`]: the pickle's values (480 KB, up to 1.5× while
/// the arena grows), the stack, memo and one 1 MiB text line, the walk's tensors and names, and
/// the input itself, with room to spare.
const CEILING: usize = 24 << 20;

fuzz_target!(|data: &[u8]| {
    let src = Source::from_bytes("fuzz.pt", data.to_vec());
    let _ = mir_ckpt::CkptFormat.parse(&src, &Limits::default());

    let mut pickle = vec![0x80, 4];
    pickle.extend_from_slice(data);
    let src = Source::from_bytes("fuzz.pkl", pickle);
    let limits = tight();
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let _ = mir_ckpt::CkptFormat.parse(&src, &limits);
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    assert!(
        peak <= CEILING + 4 * data.len(),
        "peak heap {peak} B for a {} B input",
        data.len()
    );
});
