//! The process's allocator: glibc's malloc, switched to mimalloc by
//! `ferry migrate`.
//!
//! A copy allocates and frees a few small buffers per key (commands,
//! replies, payloads); glibc's malloc and free took about 40% of `ferry
//! migrate`'s CPU, and mimalloc cuts the process's CPU by about a third.
//! `ferry serve` stays on glibc: with mimalloc its peak memory while
//! loading a million keys rose from 146 MB to 239 MB (docs/benchmarks.md).
//!
//! The switch only goes from off to on. Blocks allocated before it (by
//! glibc) are recognized on free and realloc with `mi_is_in_heap_region`
//! and returned to glibc, so every block goes back to the allocator that
//! made it.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

static MIMALLOC: AtomicBool = AtomicBool::new(false);

/// From now on, new blocks come from mimalloc.
pub fn use_mimalloc() {
    MIMALLOC.store(true, Ordering::SeqCst);
}

pub struct Switch;

fn on() -> bool {
    MIMALLOC.load(Ordering::Relaxed)
}

/// Whether `p` was allocated by mimalloc.
fn from_mimalloc(p: *mut u8) -> bool {
    // SAFETY: only compares the address with mimalloc's reserved regions.
    on() && unsafe { mi::mi_is_in_heap_region(p.cast()) }
}

// SAFETY: every block is freed or resized by the allocator that made it
// (see the module comment); mimalloc honours size and alignment.
unsafe impl GlobalAlloc for Switch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if on() {
            mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        } else {
            System.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if on() {
            mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        } else {
            System.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if from_mimalloc(p) {
            mi::mi_free(p.cast());
        } else {
            System.dealloc(p, layout);
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !on() {
            return System.realloc(p, layout, new_size);
        }
        if from_mimalloc(p) {
            return mi::mi_realloc_aligned(p.cast(), new_size, layout.align()).cast();
        }
        // A glibc block from before the switch moves to mimalloc.
        let new: *mut u8 = mi::mi_malloc_aligned(new_size, layout.align()).cast();
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(p, new, layout.size().min(new_size));
            System.dealloc(p, layout);
        }
        new
    }
}
