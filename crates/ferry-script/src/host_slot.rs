//! The host of the run in progress, where the permanent `redis.call`,
//! `redis.pcall` and `redis.acl_check_cmd` functions find it.
//!
//! Creating those functions per run with `Lua::scope` (the safe way to lend
//! a borrowed host to Lua) cost more than the rest of a short EVALSHA:
//! three closures, their userdata and the garbage they leave. Instead the
//! functions are made once and the run lends its host through this slot.

use crate::host::Host;
use std::cell::Cell;
use std::ptr::NonNull;

#[derive(Default)]
pub(crate) struct HostSlot {
    host: Cell<Option<NonNull<dyn Host + 'static>>>,
    /// Set while the host is borrowed by a callback (no re-entry).
    in_use: Cell<bool>,
}

impl HostSlot {
    /// Runs `f` with `host` lent to the slot; the slot is emptied when `f`
    /// returns or unwinds.
    pub fn lend<R>(&self, host: &mut dyn Host, f: impl FnOnce() -> R) -> R {
        let ptr: NonNull<dyn Host + '_> = NonNull::from(host);
        // SAFETY: only the lifetime bound of the trait object is erased.
        // The pointer is stored for the duration of this call only (the
        // guard below clears it on return and on unwind), and this call
        // holds the `&mut` it came from for all that time without using it,
        // so `borrow` hands out the only live reference.
        let ptr: NonNull<dyn Host + 'static> = unsafe { std::mem::transmute(ptr) };
        struct Clear<'a>(&'a HostSlot, Option<NonNull<dyn Host + 'static>>);
        impl Drop for Clear<'_> {
            fn drop(&mut self) {
                self.0.host.set(self.1.take());
            }
        }
        let previous = self.host.replace(Some(ptr));
        let _clear = Clear(self, previous);
        f()
    }

    /// Runs `f` with the lent host; None outside a run, or when a callback
    /// already holds it.
    pub fn borrow<R>(&self, f: impl FnOnce(&mut dyn Host) -> R) -> Option<R> {
        let mut ptr = self.host.get()?;
        if self.in_use.replace(true) {
            return None;
        }
        struct Release<'a>(&'a Cell<bool>);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        let _release = Release(&self.in_use);
        // SAFETY: the pointer is valid while lent (see `lend`), and `in_use`
        // makes this the only reference made from it at any time.
        let host = unsafe { ptr.as_mut() };
        Some(f(host))
    }
}
