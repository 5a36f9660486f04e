//! The event loop: the executor's own thread accepts, reads and writes every
//! client socket (mio, epoll on Linux), as Redis does. A command is decoded,
//! run and its reply written without handing anything to another thread:
//! the two cross-thread wake-ups per batch the earlier design paid (socket
//! task -> executor -> socket task) cost a third of the time of a GET
//! without pipelining on two cores (issue 13).
//!
//! The executor asks the loop for work through [`crate::script::JobQueue`];
//! the loop turns socket events into [`Job`]s and writes what the executor
//! queued in each connection's [`Outbox`] before it waits again (Redis's
//! before-sleep step: replies leave right after their group's commit).
//! Other threads (signals, Raft, the tasks that run RAFT admin commands)
//! reach it through a [`Remote`], which wakes the loop.

mod conn;
mod outbox;

pub use outbox::Outbox;

use crate::executor::{Job, RaftJob, Shared};
use bytes::{Bytes, BytesMut};
use conn::{Conn, Dispatch, Read};
use ferry_resp::Limits;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

/// The waker's token; listeners count down from just below it, connections
/// use their client id (ids start at 1 and never reach these).
const WAKER: Token = Token(usize::MAX);
const FIRST_LISTENER: usize = usize::MAX - 1;
/// The most bytes taken from a socket in one read.
const READ_CHUNK: usize = 64 * 1024;

/// What other threads send the loop.
enum Wake {
    /// SIGINT/SIGTERM or an embedding program's stop.
    Shutdown,
    Raft(RaftJob),
    /// Start accepting connections (the server finished starting).
    Listen,
    /// The encoded reply of a RAFT admin command.
    Admin {
        id: u64,
        reply: Bytes,
    },
}

/// How other threads reach the executor; wakes the event loop.
#[derive(Clone)]
pub struct Remote {
    tx: Sender<Wake>,
    waker: Arc<Waker>,
}

impl Remote {
    /// Asks the executor to commit, checkpoint and stop, as SHUTDOWN does.
    pub fn shutdown(&self) -> bool {
        self.wake(Wake::Shutdown)
    }

    /// Hands the executor a Raft message; false once it has stopped.
    pub fn raft(&self, job: RaftJob) -> bool {
        self.wake(Wake::Raft(job))
    }

    /// Starts accepting client connections.
    pub fn listen(&self) -> bool {
        self.wake(Wake::Listen)
    }

    fn wake(&self, what: Wake) -> bool {
        self.tx.send(what).is_ok() && self.waker.wake().is_ok()
    }
}

/// The parts of an event loop built before the executor thread starts
/// (the loop itself is not `Send`).
pub struct Setup {
    poll: Poll,
    listeners: Vec<TcpListener>,
    rx: Receiver<Wake>,
    remote: Remote,
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    maxclients: usize,
}

/// Prepares the loop for `listeners`; RAFT admin commands run on `runtime`.
pub fn setup(
    listeners: Vec<TcpListener>,
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    maxclients: usize,
) -> std::io::Result<(Setup, Remote)> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let (tx, rx) = std::sync::mpsc::channel();
    let remote = Remote { tx, waker };
    Ok((
        Setup {
            poll,
            listeners,
            rx,
            remote: remote.clone(),
            shared,
            runtime,
            maxclients,
        },
        remote,
    ))
}

pub struct EventLoop {
    poll: Poll,
    events: Events,
    /// (token, readable or closed) of the last poll's events.
    fired: Vec<(Token, bool)>,
    listeners: Vec<TcpListener>,
    conns: HashMap<u64, Conn>,
    rx: Receiver<Wake>,
    remote: Remote,
    ready: outbox::Ready,
    /// The ids `flush` is working through (swapped with `ready`, so neither
    /// list gives up its allocation between turns).
    flushing: Vec<u64>,
    next_id: u64,
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    maxclients: usize,
    scratch: Vec<u8>,
}

impl EventLoop {
    pub fn new(setup: Setup) -> EventLoop {
        EventLoop {
            poll: setup.poll,
            events: Events::with_capacity(1024),
            fired: Vec::new(),
            listeners: setup.listeners,
            conns: HashMap::new(),
            rx: setup.rx,
            remote: setup.remote,
            ready: Default::default(),
            flushing: Vec::new(),
            next_id: 1,
            shared: setup.shared,
            runtime: setup.runtime,
            maxclients: setup.maxclients,
            scratch: vec![0; READ_CHUNK],
        }
    }

    /// Writes what the executor queued, then waits up to `wait` for events
    /// and appends the jobs they make to `jobs` (does not wait when `jobs`
    /// already holds some).
    pub fn turn(&mut self, wait: Duration, jobs: &mut VecDeque<Job>) {
        self.flush(jobs);
        let wait = if jobs.is_empty() {
            wait
        } else {
            Duration::ZERO
        };
        if let Err(e) = self.poll.poll(&mut self.events, Some(wait)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                log::error!("event loop: poll failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
            return;
        }
        self.fired.clear();
        self.fired.extend(self.events.iter().map(|e| {
            (
                e.token(),
                e.is_readable() || e.is_read_closed() || e.is_error(),
            )
        }));
        for i in 0..self.fired.len() {
            let (token, readable) = self.fired[i];
            match token {
                WAKER => self.woken(jobs),
                Token(t) if t > FIRST_LISTENER - self.listeners.len() && t <= FIRST_LISTENER => {
                    self.accept(FIRST_LISTENER - t, jobs)
                }
                Token(id) => {
                    if let Some(conn) = self.conns.get_mut(&(id as u64)) {
                        conn.readable |= readable;
                        self.drive(id as u64, jobs);
                    }
                }
            }
        }
    }

    /// Writes what the executor queued for each connection (and hands over
    /// the next batch of a connection whose replies were written).
    pub fn flush(&mut self, jobs: &mut VecDeque<Job>) {
        loop {
            std::mem::swap(&mut *self.ready.borrow_mut(), &mut self.flushing);
            if self.flushing.is_empty() {
                return;
            }
            for i in 0..self.flushing.len() {
                self.drive(self.flushing[i], jobs);
            }
            self.flushing.clear();
        }
    }

    /// At shutdown: writes what can be written without waiting, then closes
    /// every connection and stops listening.
    pub fn close_all(&mut self) {
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            if let Some(mut conn) = self.conns.remove(&id) {
                if !conn.out.killed() {
                    conn.take_outbox();
                    let _ = conn.write();
                }
                conn.out.close();
            }
        }
        self.listeners.clear();
    }

    fn woken(&mut self, jobs: &mut VecDeque<Job>) {
        while let Ok(what) = self.rx.try_recv() {
            match what {
                Wake::Shutdown => jobs.push_back(Job::Shutdown),
                Wake::Raft(job) => jobs.push_back(Job::Raft(job)),
                Wake::Listen => {
                    for (i, l) in self.listeners.iter_mut().enumerate() {
                        if let Err(e) = self.poll.registry().register(
                            l,
                            Token(FIRST_LISTENER - i),
                            Interest::READABLE,
                        ) {
                            log::error!("cannot watch the listening socket: {e}");
                        }
                    }
                }
                Wake::Admin { id, reply } => {
                    if let Some(conn) = self.conns.get_mut(&id) {
                        conn.wq.push_back(reply);
                        conn.waiting = false;
                        self.drive(id, jobs);
                    }
                }
            }
        }
    }

    fn accept(&mut self, index: usize, jobs: &mut VecDeque<Job>) {
        loop {
            let Some(listener) = self.listeners.get(index) else {
                return;
            };
            let (mut stream, addr) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of file descriptors, say: the pending connection
                    // stays queued; try again at the next event.
                    log::warn!("accept failed: {e}");
                    return;
                }
            };
            if self.conns.len() >= self.maxclients {
                use std::io::Write;
                let _ = stream.write(b"-ERR max number of clients reached\r\n");
                continue;
            }
            let Ok(laddr) = stream.local_addr() else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let id = self.next_id;
            self.next_id += 1;
            if let Err(e) = self.poll.registry().register(
                &mut stream,
                Token(id as usize),
                Interest::READABLE | Interest::WRITABLE,
            ) {
                log::warn!("cannot watch a new connection from {addr}: {e}");
                continue;
            }
            let out = Outbox::new(id, self.ready.clone());
            let limits = Limits {
                unauthenticated: self.shared.auth_required.load(Ordering::Relaxed),
                ..Limits::default()
            };
            jobs.push_back(Job::Connect {
                id,
                addr,
                laddr,
                out: out.clone(),
            });
            self.conns.insert(
                id,
                Conn {
                    stream,
                    id,
                    addr,
                    out,
                    limits,
                    rbuf: BytesMut::with_capacity(16 * 1024),
                    wq: VecDeque::new(),
                    waiting: false,
                    readable: true,
                    closing: false,
                    after_batch: None,
                },
            );
            self.drive(id, jobs);
        }
    }

    /// Brings one connection forward: takes its outbox, writes, reads and
    /// hands over its next batch.
    fn drive(&mut self, id: u64, jobs: &mut VecDeque<Job>) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if conn.out.killed() {
            self.close(id, jobs);
            return;
        }
        conn.take_outbox();
        loop {
            if !conn.wq.is_empty() && conn.write().is_err() {
                self.close(id, jobs);
                return;
            }
            if conn.can_dispatch() {
                match conn.dispatch() {
                    Dispatch::Nothing => {}
                    Dispatch::Job(job) => jobs.push_back(job),
                    Dispatch::Admin(argv) => {
                        if conn.limits.unauthenticated {
                            conn.wq.push_back(Bytes::from_static(
                                b"-NOAUTH Authentication required.\r\n",
                            ));
                        } else {
                            conn.waiting = true;
                            run_admin(&self.runtime, &self.shared, &self.remote, id, argv);
                        }
                        // Write that, then decode what follows.
                        continue;
                    }
                }
            }
            if !conn.readable || conn.closing {
                break;
            }
            if !conn.can_dispatch() && conn.rbuf.len() >= conn::READ_AHEAD_LIMIT {
                break;
            }
            match conn.read(&mut self.scratch) {
                Read::More => {}
                Read::Drained => conn.readable = false,
                Read::Closed => {
                    self.close(id, jobs);
                    return;
                }
            }
        }
        if !conn.wq.is_empty() && conn.write().is_err() {
            self.close(id, jobs);
            return;
        }
        if conn.closing && conn.wq.is_empty() {
            self.close(id, jobs);
        }
    }

    fn close(&mut self, id: u64, jobs: &mut VecDeque<Job>) {
        if let Some(mut conn) = self.conns.remove(&id) {
            let _ = self.poll.registry().deregister(&mut conn.stream);
            conn.out.close();
            jobs.push_back(Job::Disconnect { id });
        }
    }
}

/// Runs a RAFT admin command on the tokio runtime (it talks to the Raft
/// node) and sends its reply back to the loop.
fn run_admin(
    runtime: &tokio::runtime::Handle,
    shared: &Arc<Shared>,
    remote: &Remote,
    id: u64,
    argv: Vec<Bytes>,
) {
    let shared = shared.clone();
    let remote = remote.clone();
    runtime.spawn(async move {
        let raft = shared.raft.get();
        let reply = crate::replication::admin(
            raft.map(|(n, _)| n),
            raft.map_or("", |(_, a)| a.as_str()),
            &argv,
        )
        .await;
        let mut out = BytesMut::new();
        reply.encode(ferry_resp::Protocol::Resp2, &mut out);
        remote.wake(Wake::Admin {
            id,
            reply: out.freeze(),
        });
    });
}

/// The local addresses of `listeners`.
pub fn local_addrs(listeners: &[TcpListener]) -> Vec<SocketAddr> {
    listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect()
}
