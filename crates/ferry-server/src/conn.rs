//! One client connection: read bytes, decode whole commands, hand each
//! pipelined batch to the executor, write the replies back, and write the
//! messages other clients' commands push to this one (pub/sub).

use crate::executor::{BatchReply, Job, Outgoing, Shared};
use bytes::BytesMut;
use ferry_resp::{decode_command, Limits};
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};

/// Commands handed over in one batch at most; a longer pipeline is cut into
/// several batches so replies start flowing and memory stays bounded.
const MAX_BATCH: usize = 1024;
/// How much a client may send ahead while its previous batch runs (the
/// socket is still watched for a client that goes away). 1 MiB holds
/// thousands of small commands; it was 64 MiB, and a bulk load
/// (`redis-cli --pipe`) then kept buffers of that size alive per batch:
/// a 232 MB peak for 1M 100-byte SETs, 55 MB with this bound (issue 13).
const READ_AHEAD_LIMIT: usize = 1024 * 1024;

pub async fn serve_connection(
    mut stream: TcpStream,
    id: u64,
    jobs: Sender<Job>,
    shared: Arc<Shared>,
    limits: Limits,
) {
    let (Ok(addr), Ok(laddr)) = (stream.peer_addr(), stream.local_addr()) else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let kill = Arc::new(Notify::new());
    let (out_tx, mut outgoing) = mpsc::unbounded_channel::<Outgoing>();
    if jobs
        .send(Job::Connect {
            id,
            addr,
            laddr,
            kill: kill.clone(),
            out: out_tx,
        })
        .is_err()
    {
        return;
    }
    let mut limits = limits;
    limits.unauthenticated = shared.auth_required.load(Ordering::Relaxed);
    let mut buf = BytesMut::with_capacity(16 * 1024);
    'conn: loop {
        // Run every complete command already buffered.
        loop {
            let before = buf.len();
            let mut cmds = Vec::new();
            let mut protocol_error = None;
            // RAFT runs here, after the commands before it (see replication.rs).
            let mut admin = None;
            while cmds.len() < MAX_BATCH {
                match decode_command(&mut buf, &limits) {
                    Ok(Some(argv)) if argv.is_empty() => continue,
                    Ok(Some(argv)) if crate::replication::is_admin(&argv) => {
                        admin = Some(argv);
                        break;
                    }
                    Ok(Some(argv)) => cmds.push(argv),
                    Ok(None) => break,
                    Err(e) => {
                        protocol_error = Some(e);
                        break;
                    }
                }
            }
            if cmds.is_empty() && protocol_error.is_none() && admin.is_none() {
                // Nothing complete is buffered: read more.
                break;
            }
            if !cmds.is_empty() {
                let job = Job::Batch {
                    id,
                    cmds,
                    input_bytes: before - buf.len(),
                };
                if jobs.send(job).is_err() {
                    break 'conn;
                }
                // Replies and pushed messages arrive on one queue, in the
                // order they must be written. Meanwhile the socket is still
                // read: a client that goes away while its command waits (a
                // blocking pop) must be forgotten at once, not served.
                let reply = loop {
                    tokio::select! {
                        biased;
                        next = outgoing.recv() => match next {
                            Some(Outgoing::Reply(r)) => break r,
                            Some(Outgoing::Push(msg)) => {
                                if stream.write_all(&msg).await.is_err() {
                                    break 'conn;
                                }
                            }
                            None => break 'conn,
                        },
                        read = stream.read_buf(&mut buf), if buf.len() < READ_AHEAD_LIMIT => match read {
                            Ok(0) | Err(_) => break 'conn,
                            Ok(_) => {}
                        },
                        _ = kill.notified() => break 'conn,
                    }
                };
                let BatchReply {
                    bytes,
                    close,
                    authenticated,
                } = reply;
                if let Some(authenticated) = authenticated {
                    limits.unauthenticated = !authenticated;
                }
                if stream.write_all(&bytes).await.is_err() || close {
                    break 'conn;
                }
            }
            if let Some(argv) = admin {
                let reply = if limits.unauthenticated {
                    ferry_resp::Reply::error("NOAUTH Authentication required.")
                } else {
                    let raft = shared.raft.get();
                    crate::replication::admin(
                        raft.map(|(n, _)| n),
                        raft.map_or("", |(_, a)| a.as_str()),
                        &argv,
                    )
                    .await
                };
                let mut out = BytesMut::new();
                reply.encode(ferry_resp::Protocol::Resp2, &mut out);
                if stream.write_all(&out).await.is_err() {
                    break 'conn;
                }
            }
            if let Some(e) = protocol_error {
                log::debug!("client {addr}: {e}, closing");
                let _ = stream.write_all(format!("-ERR {e}\r\n").as_bytes()).await;
                break 'conn;
            }
            // Go round again: the batch may have been cut at MAX_BATCH, and
            // more commands may have arrived while it ran.
        }
        tokio::select! {
            read = stream.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => break 'conn,
                Ok(_) => {}
            },
            Some(what) = outgoing.recv() => {
                let bytes = match what {
                    Outgoing::Push(b) => b,
                    Outgoing::Reply(r) => r.bytes,
                };
                if stream.write_all(&bytes).await.is_err() {
                    break 'conn;
                }
            }
            _ = kill.notified() => break 'conn,
        }
    }
    let _ = jobs.send(Job::Disconnect { id });
}
