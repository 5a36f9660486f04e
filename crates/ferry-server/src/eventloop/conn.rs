//! One client connection as the event loop keeps it: the bytes read but not
//! yet run, the replies not yet written, and whether a batch is with the
//! executor. A connection hands over one pipelined batch at a time and
//! decodes the next only once the replies of the last one are written, so
//! replies and pushed messages leave in the order they were made.

use super::outbox::Outbox;
use crate::executor::{Job, Outgoing};
use bytes::{Buf, Bytes, BytesMut};
use ferry_resp::{decode_command, Limits};
use mio::net::TcpStream;
use std::collections::VecDeque;
use std::io::{ErrorKind, IoSlice, Write};
use std::net::SocketAddr;

/// Commands handed over in one batch at most; a longer pipeline is cut into
/// several batches so replies start flowing and memory stays bounded.
const MAX_BATCH: usize = 1024;
/// How much a client may send ahead while its previous batch runs (the
/// socket is still read, so a client that goes away while its command
/// waits, a blocking pop, is forgotten at once). 1 MiB holds thousands of
/// small commands; 64 MiB kept a 232 MB peak for a `redis-cli --pipe` load
/// of 1M 100-byte SETs, 55 MB with this bound (issue 13).
pub(super) const READ_AHEAD_LIMIT: usize = 1024 * 1024;

pub(super) struct Conn {
    pub stream: TcpStream,
    pub id: u64,
    pub addr: SocketAddr,
    pub out: Outbox,
    pub limits: Limits,
    /// Bytes read and not yet decoded.
    pub rbuf: BytesMut,
    /// Bytes to write, in order.
    pub wq: VecDeque<Bytes>,
    /// A batch (or a RAFT admin command) is being run for this connection.
    pub waiting: bool,
    /// The socket reported data that has not been read to the end yet
    /// (mio's readiness is edge-triggered).
    pub readable: bool,
    /// Close once `wq` is written.
    pub closing: bool,
    /// Decoded behind the batch now running: a RAFT admin command (it runs
    /// after the commands before it) or the protocol error that ends the
    /// connection.
    pub after_batch: Option<AfterBatch>,
}

pub(super) enum AfterBatch {
    Admin(Vec<Bytes>),
    ProtocolError(String),
}

/// What decoding the buffered bytes produced.
pub(super) enum Dispatch {
    Nothing,
    Job(Job),
    Admin(Vec<Bytes>),
}

pub(super) enum Read {
    /// Bytes arrived (the socket may hold more).
    More,
    /// Nothing more to read now.
    Drained,
    /// The peer closed the connection, or it failed.
    Closed,
}

impl Conn {
    /// A new batch may be handed over: nothing runs for this connection and
    /// its earlier replies are written (a client that does not read its
    /// replies is not served more).
    pub fn can_dispatch(&self) -> bool {
        !self.waiting && self.wq.is_empty() && !self.closing
    }

    /// Takes what the executor queued for this connection.
    pub fn take_outbox(&mut self) {
        for item in self.out.take() {
            match item {
                Outgoing::Push(bytes) => self.wq.push_back(bytes),
                Outgoing::Reply(reply) => {
                    if !reply.bytes.is_empty() {
                        self.wq.push_back(reply.bytes);
                    }
                    self.waiting = false;
                    if let Some(authenticated) = reply.authenticated {
                        self.limits.unauthenticated = !authenticated;
                    }
                    if reply.close {
                        self.closing = true;
                    }
                }
            }
        }
    }

    /// Decodes the next batch, if one is complete.
    pub fn dispatch(&mut self) -> Dispatch {
        match self.after_batch.take() {
            Some(AfterBatch::Admin(argv)) => return Dispatch::Admin(argv),
            Some(AfterBatch::ProtocolError(e)) => {
                self.protocol_error(e);
                return Dispatch::Nothing;
            }
            None => {}
        }
        let before = self.rbuf.len();
        let mut cmds = Vec::new();
        while cmds.len() < MAX_BATCH {
            match decode_command(&mut self.rbuf, &self.limits) {
                Ok(Some(argv)) if argv.is_empty() => continue,
                Ok(Some(argv)) if crate::replication::is_admin(&argv) => {
                    if cmds.is_empty() {
                        return Dispatch::Admin(argv);
                    }
                    self.after_batch = Some(AfterBatch::Admin(argv));
                    break;
                }
                Ok(Some(argv)) => cmds.push(argv),
                Ok(None) => break,
                Err(e) => {
                    if cmds.is_empty() {
                        self.protocol_error(e.to_string());
                        return Dispatch::Nothing;
                    }
                    self.after_batch = Some(AfterBatch::ProtocolError(e.to_string()));
                    break;
                }
            }
        }
        if cmds.is_empty() {
            return Dispatch::Nothing;
        }
        self.waiting = true;
        Dispatch::Job(Job::Batch {
            id: self.id,
            cmds,
            input_bytes: before - self.rbuf.len(),
        })
    }

    fn protocol_error(&mut self, e: String) {
        log::debug!("client {}: {e}, closing", self.addr);
        self.wq.push_back(Bytes::from(format!("-ERR {e}\r\n")));
        self.closing = true;
    }

    /// Reads once into `scratch` and keeps what came.
    pub fn read(&mut self, scratch: &mut [u8]) -> Read {
        loop {
            match std::io::Read::read(&mut self.stream, scratch) {
                Ok(0) => return Read::Closed,
                Ok(n) => {
                    self.rbuf.extend_from_slice(&scratch[..n]);
                    // A short read took everything the socket held; new
                    // data brings a new readiness event.
                    return if n < scratch.len() {
                        Read::Drained
                    } else {
                        Read::More
                    };
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Read::Drained,
                Err(_) => return Read::Closed,
            }
        }
    }

    /// Writes as much of `wq` as the socket takes; an error means the
    /// connection is gone.
    pub fn write(&mut self) -> std::io::Result<()> {
        while !self.wq.is_empty() {
            let written = if self.wq.len() == 1 {
                self.stream.write(&self.wq[0])
            } else {
                let mut slices = [IoSlice::new(&[]); 16];
                let n = self.wq.len().min(slices.len());
                for (slice, bytes) in slices.iter_mut().zip(self.wq.iter()) {
                    *slice = IoSlice::new(bytes);
                }
                self.stream.write_vectored(&slices[..n])
            };
            match written {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(mut n) => {
                    while n > 0 {
                        let Some(front) = self.wq.front_mut() else {
                            break;
                        };
                        if n >= front.len() {
                            n -= front.len();
                            self.wq.pop_front();
                        } else {
                            front.advance(n);
                            n = 0;
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
