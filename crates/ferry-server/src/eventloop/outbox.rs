//! What the executor sends one connection: replies, messages pushed by other
//! clients' commands, or a kill. The executor and the event loop share a
//! thread, so this is a plain queue; the event loop writes it to the socket
//! before it next waits for events.

use crate::executor::Outgoing;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

/// Ids of connections whose outbox has something for the event loop.
pub(crate) type Ready = Rc<RefCell<Vec<u64>>>;

/// One connection's outgoing queue (cheap to clone: the executor's client
/// state and the script gate each hold one).
#[derive(Clone)]
pub struct Outbox(Rc<Inner>);

struct Inner {
    id: u64,
    items: RefCell<VecDeque<Outgoing>>,
    killed: Cell<bool>,
    /// False once the connection closed: what is sent then is dropped.
    open: Cell<bool>,
    ready: Ready,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Outbox({})", self.0.id)
    }
}

impl Outbox {
    pub(crate) fn new(id: u64, ready: Ready) -> Outbox {
        Outbox(Rc::new(Inner {
            id,
            items: RefCell::new(VecDeque::new()),
            killed: Cell::new(false),
            open: Cell::new(true),
            ready,
        }))
    }

    /// Queues `what` for the connection, in order; dropped when it is gone.
    pub fn send(&self, what: Outgoing) {
        let inner = &self.0;
        if !inner.open.get() {
            return;
        }
        let mut items = inner.items.borrow_mut();
        if items.is_empty() {
            inner.ready.borrow_mut().push(inner.id);
        }
        items.push_back(what);
    }

    /// Closes the connection without writing what is still queued (CLIENT
    /// KILL, a deleted ACL user, shutdown).
    pub fn kill(&self) {
        let inner = &self.0;
        if inner.open.get() && !inner.killed.replace(true) {
            inner.ready.borrow_mut().push(inner.id);
        }
    }

    pub(crate) fn killed(&self) -> bool {
        self.0.killed.get()
    }

    pub(crate) fn take(&self) -> VecDeque<Outgoing> {
        std::mem::take(&mut *self.0.items.borrow_mut())
    }

    /// The connection is gone: forget what is queued and what comes.
    pub(crate) fn close(&self) {
        self.0.open.set(false);
        self.0.items.borrow_mut().clear();
    }
}
