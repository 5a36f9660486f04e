//! The Raft transport: one TCP connection per peer, frames of
//! `[u32 length][bincode]`. Written here rather than taken from an HTTP/gRPC
//! stack because a length-prefixed frame over a kept-alive socket is all
//! three RPCs need, and it keeps the build small.
//!
//! Every frame carries the cluster name and the sender's id and client
//! address: a node started with another cluster's name is refused with a
//! clear log line, and followers learn the leader's client address for the
//! redirects they give.

use crate::types::{decode, encode, FerryNode, NodeId, Raft, TypeConfig};
use openraft::error::{InstallSnapshotError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Largest frame accepted (a snapshot chunk is 3 MiB; entries are groups).
const MAX_FRAME: usize = 256 << 20;

/// Who sent a frame.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Sender {
    pub cluster: String,
    pub node: NodeId,
    /// Where the sender serves Redis clients.
    pub client_addr: String,
}

#[derive(Serialize, Deserialize)]
enum Rpc {
    Append(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<NodeId>),
    Snapshot(InstallSnapshotRequest<TypeConfig>),
}

#[derive(Serialize, Deserialize)]
enum Answer {
    Append(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    Snapshot(Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>),
    /// The frame was refused (another cluster); the text says why.
    Refused(String),
}

/// Client addresses of the other nodes, learned from their frames.
#[derive(Clone, Default)]
pub struct Peers(Arc<Mutex<HashMap<NodeId, String>>>);

impl Peers {
    pub fn client_addr(&self, node: NodeId) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&node)
            .cloned()
    }

    fn learn(&self, from: &Sender) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if m.get(&from.node) != Some(&from.client_addr) {
            m.insert(from.node, from.client_addr.clone());
        }
    }
}

async fn write_frame(s: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(body.len() + 4);
    buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
    buf.extend_from_slice(body);
    s.write_all(&buf).await
}

async fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!(
            "a Raft frame of {len} bytes is over the {MAX_FRAME}-byte limit"
        )));
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await?;
    Ok(body)
}

/// Answers the RPCs of the other nodes until the listener fails.
pub async fn serve(listener: TcpListener, raft: Raft, me: Sender, peers: Peers) {
    loop {
        let (mut stream, addr) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                log::warn!("raft: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (raft, me, peers) = (raft.clone(), me.clone(), peers.clone());
        tokio::spawn(async move {
            let mut warned = false;
            while let Ok(body) = read_frame(&mut stream).await {
                let Ok((from, rpc)) = decode::<(Sender, Rpc)>(&body) else {
                    log::warn!("raft: {addr} sent a frame this node cannot read (not a ferry node of the same version?); closing");
                    break;
                };
                let answer = if from.cluster != me.cluster {
                    let why = format!(
                        "node {} at {addr} belongs to Raft cluster '{}', this node to '{}'",
                        from.node, from.cluster, me.cluster
                    );
                    if !warned {
                        log::warn!("raft: refusing {why}");
                        warned = true;
                    }
                    Answer::Refused(why)
                } else {
                    peers.learn(&from);
                    match rpc {
                        Rpc::Append(r) => Answer::Append(raft.append_entries(r).await),
                        Rpc::Vote(r) => Answer::Vote(raft.vote(r).await),
                        Rpc::Snapshot(r) => Answer::Snapshot(raft.install_snapshot(r).await),
                    }
                };
                let Ok(bytes) = encode(&(&me, answer)) else {
                    break;
                };
                if write_frame(&mut stream, &bytes).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// Makes a connection per peer for openraft.
pub struct Network {
    pub me: Sender,
    pub peers: Peers,
}

pub struct Connection {
    target: NodeId,
    addr: String,
    stream: Option<TcpStream>,
    me: Sender,
    peers: Peers,
    /// When a refusal was last logged (at most one line a minute).
    refused_logged: Option<Instant>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &FerryNode) -> Connection {
        Connection {
            target,
            addr: node.raft_addr.clone(),
            stream: None,
            me: self.me.clone(),
            peers: self.peers.clone(),
            refused_logged: None,
        }
    }
}

type Failure = RPCError<NodeId, FerryNode, RaftError<NodeId>>;

impl Connection {
    async fn call(&mut self, rpc: Rpc, ttl: Duration) -> Result<Answer, Unreachable> {
        let unreachable =
            |e: &dyn std::fmt::Display| Unreachable::new(&std::io::Error::other(e.to_string()));
        let body = encode(&(&self.me, rpc)).map_err(|e| unreachable(&e))?;
        let mut stream = match self.stream.take() {
            Some(s) => s,
            None => {
                let s = tokio::time::timeout(ttl, TcpStream::connect(&self.addr))
                    .await
                    .map_err(|e| unreachable(&e))?
                    .map_err(|e| unreachable(&e))?;
                let _ = s.set_nodelay(true);
                s
            }
        };
        // The stream is out of `self` during the call: if openraft drops
        // this future mid-frame, the half-used socket goes with it.
        let reply = tokio::time::timeout(ttl, async {
            write_frame(&mut stream, &body).await?;
            read_frame(&mut stream).await
        })
        .await
        .map_err(|e| unreachable(&e))?
        .map_err(|e| unreachable(&e))?;
        let (from, answer) = decode::<(Sender, Answer)>(&reply).map_err(|e| unreachable(&e))?;
        if let Answer::Refused(why) = &answer {
            if self
                .refused_logged
                .is_none_or(|t| t.elapsed() > Duration::from_secs(60))
            {
                log::warn!(
                    "raft: node {} at {} refused this node: {why}",
                    self.target,
                    self.addr
                );
                self.refused_logged = Some(Instant::now());
            }
            return Err(unreachable(why));
        }
        self.peers.learn(&from);
        self.stream = Some(stream);
        Ok(answer)
    }
}

fn unexpected(target: NodeId) -> Unreachable {
    Unreachable::new(&std::io::Error::other(format!(
        "node {target} answered another kind of RPC"
    )))
}

impl RaftNetwork<TypeConfig> for Connection {
    /// Retry an unreachable peer soon: openraft's default (500 ms) is
    /// longer than the election timeout, so a node that just restarted
    /// would miss its heartbeats, start an election and unseat a healthy
    /// leader.
    fn backoff(&self) -> openraft::network::Backoff {
        openraft::network::Backoff::new(std::iter::repeat(Duration::from_millis(50)))
    }

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, Failure> {
        match self.call(Rpc::Append(rpc), option.hard_ttl()).await {
            Ok(Answer::Append(Ok(r))) => Ok(r),
            Ok(Answer::Append(Err(e))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(RPCError::Unreachable(unexpected(self.target))),
            Err(u) => Err(RPCError::Unreachable(u)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, FerryNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        match self.call(Rpc::Snapshot(rpc), option.hard_ttl()).await {
            Ok(Answer::Snapshot(Ok(r))) => Ok(r),
            Ok(Answer::Snapshot(Err(e))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(RPCError::Unreachable(unexpected(self.target))),
            Err(u) => Err(RPCError::Unreachable(u)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, Failure> {
        match self.call(Rpc::Vote(rpc), option.hard_ttl()).await {
            Ok(Answer::Vote(Ok(r))) => Ok(r),
            Ok(Answer::Vote(Err(e))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(RPCError::Unreachable(unexpected(self.target))),
            Err(u) => Err(RPCError::Unreachable(u)),
        }
    }
}
