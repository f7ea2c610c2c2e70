//! A counting global allocator: the one place in writ with `unsafe` code (Cargo.toml's
//! `[workspace.lints]` denies it everywhere; each shipped crate also forbids it at its root).
//!
//! A binary or test that measures memory installs it:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: writ_bench::counting::Counting = writ_bench::counting::Counting;
//! ```
//!
//! It forwards every call unchanged to the system allocator and counts, with no allocation and
//! no lock: the calls made on the current thread (always), and the bytes allocated and still
//! live (process-wide, only inside [`memory_of`]).
#![allow(
    unsafe_code,
    reason = "a GlobalAlloc is unsafe to implement; every call is forwarded unchanged to System"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering::Relaxed};

/// The allocator; install it with `#[global_allocator]`.
pub struct Counting;

thread_local! {
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

static COUNTING_BYTES: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

fn count(grown: isize, allocated: usize) {
    // `try_with`: the thread-local may be gone while a thread shuts down.
    let _ = CALLS.try_with(|n| n.set(n.get() + 1));
    if COUNTING_BYTES.load(Relaxed) {
        LIVE.fetch_add(grown, Relaxed);
        ALLOCATED.fetch_add(allocated, Relaxed);
    }
}

// SAFETY: every method forwards its arguments unchanged to `System` and returns its result;
// counting touches only atomics and a const-initialized thread-local `Cell` (no allocation, no
// reentrancy).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize, layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize, layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through this allocator) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        if COUNTING_BYTES.load(Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize, new_size);
        }
        p
    }
}

/// Runs `f` and counts the allocator calls (alloc, alloc_zeroed, realloc) it made on this
/// thread. Meaningful only where [`Counting`] is the global allocator.
pub fn allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = CALLS.with(Cell::get);
    let out = f();
    (out, CALLS.with(Cell::get) - before)
}

/// Memory of a loaded value: bytes allocated while loading, and bytes still live once loading
/// is over and its temporaries are dropped (the value itself).
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    pub allocated: f64,
    pub retained: f64,
}

/// Loads with `load`, counting bytes process-wide; the value is kept alive until after the
/// count. Meaningful only where [`Counting`] is the global allocator, on one thread at a time.
pub fn memory_of<T>(load: impl FnOnce() -> T) -> (T, Memory) {
    LIVE.store(0, Relaxed);
    ALLOCATED.store(0, Relaxed);
    COUNTING_BYTES.store(true, Relaxed);
    let value = black_box(load());
    COUNTING_BYTES.store(false, Relaxed);
    let memory =
        Memory { allocated: ALLOCATED.load(Relaxed) as f64, retained: LIVE.load(Relaxed) as f64 };
    (value, memory)
}
