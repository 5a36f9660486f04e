//! The source's replication streams: one per master (a standalone server,
//! or each master of a cluster), and after a failover, which server is that
//! stream's master now.
//!
//! A standalone master's replicas are read from its `INFO replication`
//! (and read again every second while the stream runs), so when the master
//! goes away the one promoted in its place is found among them. A cluster
//! shard is known by the first slot it serves: after a failover the node
//! serving that slot is its new master (`CLUSTER NODES` from any node).

use crate::{Error, Result};
use redis::aio::MultiplexedConnection;
use redis::Value;
use std::time::Duration;

/// Credentials shared by every node of the source.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    pub user: Option<String>,
    pub password: Option<String>,
    /// Plain TCP or TLS (`rediss://`), for every node of the source.
    pub security: crate::tls::Security,
}

impl Auth {
    /// The credentials and transport of a server or cluster source; a
    /// ferry store has no replication stream.
    pub fn of(spec: &ferry_migrate::endpoint::Spec) -> Result<Auth> {
        if matches!(spec, ferry_migrate::endpoint::Spec::Store { .. }) {
            return Err(crate::Error::Usage(
                "--from must be a Redis server or cluster (a ferry store file has no replication stream; use ferry migrate)".into(),
            ));
        }
        let (tls, insecure, user, password) = spec.tls_and_auth();
        let security = match (tls, insecure) {
            (false, _) => crate::tls::Security::Plain,
            (true, false) => crate::tls::Security::Tls,
            (true, true) => crate::tls::Security::TlsInsecure,
        };
        Ok(Auth {
            user,
            password,
            security,
        })
    }
}

pub type Addr = (String, u16);

/// One replication stream of the source.
#[derive(Clone, Debug)]
pub struct Shard {
    /// Its master when last seen.
    pub master: Addr,
    /// Where else to look for its master after a failover: the replicas
    /// last seen, and for a cluster every other node.
    pub others: Vec<Addr>,
    /// The first slot it serves (a cluster), None for a standalone source.
    pub first_slot: Option<u16>,
    /// The slot ranges it serves (a cluster; empty for a standalone
    /// source, whose stream carries every slot).
    pub slots: Vec<(u16, u16)>,
}

impl Shard {
    /// For logs: `host:port`, with the shard's first slot in a cluster.
    pub fn describe(&self) -> String {
        match self.first_slot {
            Some(s) => format!("{}:{} (slots from {s})", self.master.0, self.master.1),
            None => format!("{}:{}", self.master.0, self.master.1),
        }
    }
}

/// A short-lived connection to one node (discovery, lag).
pub async fn connect(addr: &Addr, auth: &Auth) -> Result<MultiplexedConnection> {
    let info = redis::ConnectionInfo {
        addr: match auth.security {
            crate::tls::Security::Plain => redis::ConnectionAddr::Tcp(addr.0.clone(), addr.1),
            sec => redis::ConnectionAddr::TcpTls {
                host: addr.0.clone(),
                port: addr.1,
                insecure: sec == crate::tls::Security::TlsInsecure,
                tls_params: None,
            },
        },
        redis: redis::RedisConnectionInfo {
            db: 0,
            username: auth.user.clone(),
            password: auth.password.clone(),
            ..Default::default()
        },
    };
    let where_ = format!("{}:{}", addr.0, addr.1);
    let client = redis::Client::open(info).map_err(|e| Error::Source(format!("{where_}: {e}")))?;
    tokio::time::timeout(
        Duration::from_secs(5),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| Error::Source(format!("{where_}: timed out connecting")))?
    .map_err(|e| {
        let hint = match auth.security {
            crate::tls::Security::Tls if e.to_string().contains("certificate") => {
                "; a self-signed or private certificate is accepted with rediss://...#insecure"
            }
            _ => "",
        };
        Error::Source(format!("{where_}: cannot connect ({e}){hint}"))
    })
}

async fn text(conn: &mut MultiplexedConnection, cmd: &redis::Cmd, addr: &Addr) -> Result<String> {
    let v: Value = cmd
        .query_async(conn)
        .await
        .map_err(|e| Error::Source(format!("{}:{}: {e}", addr.0, addr.1)))?;
    Ok(match v {
        Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        Value::VerbatimString { text, .. } => text,
        Value::SimpleString(s) => s,
        other => format!("{other:?}"),
    })
}

/// What a server's `INFO replication` says.
pub struct Replication {
    pub master: bool,
    /// A master's replicas.
    pub replicas: Vec<Addr>,
    /// `master_repl_offset`.
    pub offset: Option<u64>,
}

pub async fn replication(conn: &mut MultiplexedConnection, addr: &Addr) -> Result<Replication> {
    let info = text(conn, redis::cmd("INFO").arg("replication"), addr).await?;
    let master = info.lines().any(|l| l.trim() == "role:master");
    let offset = ferry_migrate::endpoint::parse_info_field(&info, "master_repl_offset")
        .and_then(|o| o.parse().ok());
    let replicas = info
        .lines()
        .filter(|l| l.starts_with("slave") && l.contains("ip="))
        .filter_map(|l| {
            let fields = l.split_once(':')?.1;
            let get = |k: &str| {
                fields
                    .split(',')
                    .find_map(|f| f.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
            };
            Some((get("ip")?.to_string(), get("port")?.parse().ok()?))
        })
        .collect();
    Ok(Replication {
        master,
        replicas,
        offset,
    })
}

/// One line of `CLUSTER NODES`.
struct NodeLine {
    id: String,
    addr: Addr,
    master: bool,
    failed: bool,
    master_id: String,
    slots: Vec<(u16, u16)>,
}

fn cluster_nodes(text: &str) -> Vec<NodeLine> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            // ip:port@cport[,hostname]
            let hostport = f[1].split('@').next()?;
            let (host, port) = hostport.rsplit_once(':')?;
            let slots = f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => {
                        let n = s.parse().ok()?;
                        Some((n, n))
                    }
                })
                .collect();
            Some(NodeLine {
                id: f[0].to_string(),
                addr: (host.to_string(), port.parse().ok()?),
                master: f[2].split(',').any(|x| x == "master"),
                failed: f[2].split(',').any(|x| x == "fail" || x == "noaddr"),
                master_id: f[3].to_string(),
                slots,
            })
        })
        .collect()
}

/// The databases of a standalone server that hold keys (`INFO keyspace`).
pub async fn databases(addr: &Addr, auth: &Auth) -> Result<Vec<i64>> {
    let mut conn = connect(addr, auth).await?;
    let info = text(&mut conn, redis::cmd("INFO").arg("keyspace"), addr).await?;
    Ok(info
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(_, rest)| !rest.contains("keys=0,"))
        .filter_map(|(db, _)| db.strip_prefix("db")?.parse().ok())
        .collect())
}

/// The source's streams: the server itself, or each master of a cluster
/// (found through the first seed that answers).
pub async fn shards(spec: &ferry_migrate::endpoint::Spec, auth: &Auth) -> Result<Vec<Shard>> {
    use ferry_migrate::endpoint::Spec;
    match spec {
        Spec::Server { host, port, .. } => {
            let addr = (host.clone(), *port);
            let mut conn = connect(&addr, auth).await?;
            let r = replication(&mut conn, &addr).await?;
            if !r.master {
                return Err(Error::Usage(format!(
                    "{host}:{port} is a replica; give ferry sync its master (a replica's stream would end at its next failover or restart)"
                )));
            }
            Ok(vec![Shard {
                master: addr,
                others: r.replicas,
                first_slot: None,
                slots: Vec::new(),
            }])
        }
        Spec::Cluster { seeds, .. } => {
            let mut last = None;
            for seed in seeds {
                match cluster_shards(seed, auth).await {
                    Ok(s) => return Ok(s),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| Error::Usage("--from names no cluster node".into())))
        }
        Spec::Store { .. } => Err(Error::Usage(
            "--from must be a Redis server or cluster (a ferry store file has no replication stream; use ferry migrate)".into(),
        )),
    }
}

async fn cluster_shards(seed: &Addr, auth: &Auth) -> Result<Vec<Shard>> {
    let mut conn = connect(seed, auth).await?;
    let nodes = cluster_nodes(&text(&mut conn, redis::cmd("CLUSTER").arg("NODES"), seed).await?);
    let everyone: Vec<Addr> = nodes.iter().map(|n| n.addr.clone()).collect();
    let mut out: Vec<Shard> = nodes
        .iter()
        .filter(|n| n.master && !n.failed && !n.slots.is_empty())
        .filter_map(|n| {
            let first = n.slots.iter().map(|s| s.0).min()?;
            let mut others: Vec<Addr> = nodes
                .iter()
                .filter(|r| r.master_id == n.id)
                .map(|r| r.addr.clone())
                .collect();
            others.extend(everyone.iter().filter(|a| **a != n.addr).cloned());
            others.dedup();
            Some(Shard {
                master: n.addr.clone(),
                others,
                first_slot: Some(first),
                slots: n.slots.clone(),
            })
        })
        .collect();
    if out.is_empty() {
        return Err(Error::Source(format!(
            "{}:{}: CLUSTER NODES lists no master serving slots",
            seed.0, seed.1
        )));
    }
    out.sort_by_key(|s| s.first_slot);
    Ok(out)
}

/// Where `shard`'s master is now: the old master if it still is one, else
/// a node that took its place (a promoted replica; in a cluster the node
/// serving the shard's first slot). None when nobody answers as its
/// master yet.
pub async fn find_master(shard: &Shard, auth: &Auth) -> Option<Shard> {
    let mut candidates = vec![shard.master.clone()];
    candidates.extend(shard.others.iter().cloned());
    for addr in candidates {
        let Ok(mut conn) = connect(&addr, auth).await else {
            continue;
        };
        match shard.first_slot {
            None => {
                if let Ok(Replication {
                    master: true,
                    replicas,
                    ..
                }) = replication(&mut conn, &addr).await
                {
                    let mut others = replicas;
                    others.extend(shard.others.iter().filter(|a| **a != addr).cloned());
                    others.push(shard.master.clone());
                    others.retain(|a| *a != addr);
                    others.dedup();
                    return Some(Shard {
                        master: addr,
                        others,
                        first_slot: None,
                        slots: Vec::new(),
                    });
                }
            }
            Some(slot) => {
                let Ok(t) = text(&mut conn, redis::cmd("CLUSTER").arg("NODES"), &addr).await else {
                    continue;
                };
                let nodes = cluster_nodes(&t);
                let Some(owner) = nodes.iter().find(|n| {
                    n.master && !n.failed && n.slots.iter().any(|(a, b)| *a <= slot && slot <= *b)
                }) else {
                    continue;
                };
                let mut others: Vec<Addr> = nodes
                    .iter()
                    .map(|n| n.addr.clone())
                    .filter(|a| *a != owner.addr)
                    .collect();
                others.dedup();
                return Some(Shard {
                    master: owner.addr.clone(),
                    others,
                    first_slot: Some(slot),
                    slots: owner.slots.clone(),
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cluster_nodes() {
        let t = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460 [5461->-b2]
b2 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922
c3 127.0.0.1:7002@17002,host master,fail - 0 0 3 disconnected
d4 127.0.0.1:7003@17003 slave a1 0 0 1 connected
";
        let n = cluster_nodes(t);
        assert_eq!(n.len(), 4);
        assert_eq!(n[0].slots, vec![(0, 5460)]);
        assert!(n[2].failed && n[2].slots.is_empty());
        assert_eq!(n[3].master_id, "a1");
        assert_eq!(n[1].addr, ("127.0.0.1".to_string(), 7001));
    }
}
