//! Minimal framed TCP transport: [u32 len][bincode(Req)] -> [u32 len][bincode(Resp)].
use crate::types::*;
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest, VoteResponse};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Serialize, Deserialize)]
enum Req {
    Append(AppendEntriesRequest<TC>),
    Vote(VoteRequest<NodeId>),
    Snap(InstallSnapshotRequest<TC>),
}
#[derive(Serialize, Deserialize)]
enum Resp {
    Append(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    Snap(Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>),
}

async fn write_frame(s: &mut TcpStream, b: &[u8]) -> std::io::Result<()> {
    s.write_all(&(b.len() as u32).to_be_bytes()).await?;
    s.write_all(b).await
}
async fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut l = [0u8; 4];
    s.read_exact(&mut l).await?;
    let mut b = vec![0u8; u32::from_be_bytes(l) as usize];
    s.read_exact(&mut b).await?;
    Ok(b)
}

pub async fn serve(l: TcpListener, raft: Raft) {
    loop {
        let Ok((mut s, _)) = l.accept().await else { continue };
        s.set_nodelay(true).ok();
        let raft = raft.clone();
        tokio::spawn(async move {
            while let Ok(b) = read_frame(&mut s).await {
                let req: Req = bincode::deserialize(&b).unwrap();
                let resp = match req {
                    Req::Append(r) => Resp::Append(raft.append_entries(r).await),
                    Req::Vote(r) => Resp::Vote(raft.vote(r).await),
                    Req::Snap(r) => Resp::Snap(raft.install_snapshot(r).await),
                };
                if write_frame(&mut s, &bincode::serialize(&resp).unwrap()).await.is_err() { break; }
            }
        });
    }
}

pub struct Factory;
pub struct Conn { target: NodeId, addr: String, s: Option<TcpStream> }

impl RaftNetworkFactory<TC> for Factory {
    type Network = Conn;
    async fn new_client(&mut self, target: NodeId, node: &FerryNode) -> Conn {
        Conn { target, addr: node.raft_addr.clone(), s: None }
    }
}

impl Conn {
    async fn rpc(&mut self, req: Req, ttl: std::time::Duration) -> Result<Resp, RPCError<NodeId, FerryNode, std::convert::Infallible>> {
        if self.s.is_none() {
            let s = TcpStream::connect(&self.addr).await.map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))?;
            s.set_nodelay(true).ok();
            self.s = Some(s);
        }
        // Take the stream out: if openraft's outer timeout drops this future mid-frame,
        // the half-used stream is dropped with it instead of being reused out of sync.
        let mut s = self.s.take().unwrap();
        let b = bincode::serialize(&req).unwrap();
        let r = tokio::time::timeout(ttl, async { write_frame(&mut s, &b).await?; read_frame(&mut s).await }).await;
        match r {
            Ok(Ok(b)) => { self.s = Some(s); Ok(bincode::deserialize(&b).unwrap()) }
            Ok(Err(e)) => Err(RPCError::Network(NetworkError::new(&e))),
            Err(e) => Err(RPCError::Network(NetworkError::new(&e))),
        }
    }
}

macro_rules! conv {
    ($self:ident, $r:expr, $variant:ident, $ttl:expr) => {{
        let tgt = $self.target;
        match $self.rpc($r, $ttl).await {
            Ok(Resp::$variant(Ok(x))) => Ok(x),
            Ok(Resp::$variant(Err(e))) => Err(RPCError::RemoteError(RemoteError::new(tgt, e))),
            Ok(_) => unreachable!(),
            Err(RPCError::Unreachable(u)) => Err(RPCError::Unreachable(u)),
            Err(RPCError::Network(n)) => Err(RPCError::Network(n)),
            Err(_) => unreachable!(),
        }
    }};
}

impl RaftNetwork<TC> for Conn {
    async fn append_entries(&mut self, rpc: AppendEntriesRequest<TC>, option: RPCOption)
        -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, FerryNode, RaftError<NodeId>>> {
        conv!(self, Req::Append(rpc), Append, option.hard_ttl())
    }
    async fn install_snapshot(&mut self, rpc: InstallSnapshotRequest<TC>, option: RPCOption)
        -> Result<InstallSnapshotResponse<NodeId>, RPCError<NodeId, FerryNode, RaftError<NodeId, InstallSnapshotError>>> {
        conv!(self, Req::Snap(rpc), Snap, option.hard_ttl())
    }
    async fn vote(&mut self, rpc: VoteRequest<NodeId>, option: RPCOption)
        -> Result<VoteResponse<NodeId>, RPCError<NodeId, FerryNode, RaftError<NodeId>>> {
        conv!(self, Req::Vote(rpc), Vote, option.hard_ttl())
    }
}
