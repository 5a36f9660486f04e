mod log_store;
mod net;
mod sm;
mod types;
use openraft::{ChangeMembers, Config, ServerState};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use types::*;

async fn start(id: u64, base: &str) -> (Raft, sm::Sm, tokio::task::JoinHandle<()>) {
    let cfg = Arc::new(Config {
        heartbeat_interval: env_u64("HB", 100), election_timeout_min: env_u64("EMIN", 300), election_timeout_max: env_u64("EMAX", 600),
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(2000),
        max_in_snapshot_log_to_keep: 100, purge_batch_size: 256,
        ..Default::default()
    }.validate().unwrap());
    let dir = format!("{base}/n{id}");
    std::fs::create_dir_all(&dir).unwrap();
    let ls = log_store::LogStore::open(&format!("{dir}/raft.db"), std::env::var("NOFSYNC").is_err()).unwrap();
    let sm = sm::Sm::open(&dir);
    let raft = Raft::new(id, cfg, net::Factory, ls, sm.clone()).await.unwrap();
    let l = tokio::net::TcpListener::bind(format!("127.0.0.1:{}", 27000 + id)).await.unwrap();
    let h = tokio::spawn(net::serve(l, raft.clone()));
    (raft, sm, h)
}
fn env_u64(k: &str, d: u64) -> u64 { std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d) }
fn node(id: u64) -> FerryNode {
    FerryNode { raft_addr: format!("127.0.0.1:{}", 27000 + id), addr: format!("127.0.0.1:{}", 26000 + id) }
}
fn grp(seq: u64, n: usize) -> Group {
    Group { origin: 1, boot: 0, seq, ops: (0..n).map(|i| (format!("k{seq}:{i}").into_bytes(), vec![b'x'; 3])).collect() }
}

fn vacuum_into_probe(base: &str) {
    let c = rusqlite::Connection::open(format!("{base}/v.db")).unwrap();
    c.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES(1);").unwrap();
    c.execute_batch("BEGIN; SELECT * FROM t;").unwrap();
    let r = c.execute_batch(&format!("VACUUM INTO '{base}/v2.db'"));
    println!("VACUUM INTO inside an open read txn: {:?}", r.map_err(|e| e.to_string()));
    c.execute_batch("COMMIT").unwrap();
    let r = c.execute_batch(&format!("VACUUM INTO '{base}/v3.db'"));
    println!("VACUUM INTO outside txn: {:?}", r.map_err(|e| e.to_string()));
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let base = "/tmp/raft-probe/data";
    let _ = std::fs::remove_dir_all(base);
    std::fs::create_dir_all(base).unwrap();
    vacuum_into_probe(base);

    let mut nodes = BTreeMap::new();
    for id in 1..=3 { nodes.insert(id, start(id, base).await); }
    let r1 = nodes[&1].0.clone();
    r1.initialize(BTreeMap::from([(1u64, node(1))])).await.unwrap();
    r1.wait(Some(Duration::from_secs(5))).state(ServerState::Leader, "leader").await.unwrap();
    r1.add_learner(2, node(2), true).await.unwrap();
    r1.add_learner(3, node(3), true).await.unwrap();
    let resp = r1.change_membership(ChangeMembers::AddVoterIds([2u64, 3].into()), false).await.unwrap();
    println!("membership now {:?} at {}", resp.membership.as_ref().map(|m| m.voter_ids().collect::<Vec<_>>()), resp.log_id);

    // Sequential client_write: latency of one commit round (append+fsync on 3 nodes, apply).
    let t = Instant::now();
    for s in 0..200 { r1.client_write(grp(s, 10)).await.unwrap(); }
    println!("sequential client_write: {:.3} ms/entry", t.elapsed().as_secs_f64() * 1000.0 / 200.0);

    // Pipelined: client_write_ff from one task keeps order; await receivers afterwards.
    for (n, per) in [(5000u64, 50usize), (500, 800)] {
        let t = Instant::now();
        let mut rxs = Vec::new();
        let base = r1.metrics().borrow().last_log_index.unwrap() + 10_000;
        for s in base..base + n { rxs.push(r1.client_write_ff(grp(s, per)).await.unwrap()); }
        let mut last = None;
        for rx in rxs { last = Some(rx.await.unwrap().unwrap().log_id); }
        let el = t.elapsed().as_secs_f64();
        println!("pipelined client_write_ff: {n} entries x {per} ops in {:.2}s = {:.0} ops/s, {:.3} ms/entry, last {:?}", el, (n as f64 * per as f64) / el, el * 1000.0 / n as f64, last.map(|l| l.index));
    }
    // One in flight at a time, 800 ops per entry (what a non-pipelined executor would see).
    let t = Instant::now();
    for s in 0..100 { r1.client_write(grp(2_000_000 + s, 800)).await.unwrap(); }
    println!("sequential 800-op entries: {:.3} ms/entry", t.elapsed().as_secs_f64() * 10.0);

    let t = Instant::now();
    let rl = r1.ensure_linearizable().await.unwrap();
    println!("ensure_linearizable -> {:?} in {:?}", rl, t.elapsed());
    let (rl, applied) = r1.get_read_log_id().await.unwrap();
    println!("get_read_log_id -> read {:?} applied {:?}", rl, applied);
    println!("millis_since_quorum_ack = {:?}", r1.metrics().borrow().millis_since_quorum_ack);

    // Snapshot + purge, then a new learner must be fed by snapshot (chunked install_snapshot).
    r1.trigger().snapshot().await.unwrap();
    r1.wait(Some(Duration::from_secs(10))).metrics(|m| m.snapshot.is_some() && m.purged.is_some(), "snap+purge").await.unwrap();
    let m = r1.metrics().borrow().clone();
    println!("leader snapshot {:?} purged {:?}", m.snapshot, m.purged);
    nodes.insert(4, start(4, base).await);
    let t = Instant::now();
    r1.add_learner(4, node(4), true).await.unwrap();
    println!("learner 4 caught up in {:?}; rows n1={} n4={}; n4 snapshot {:?}", t.elapsed(), nodes[&1].1.count(), nodes[&4].1.count(), nodes[&4].0.metrics().borrow().snapshot);
    r1.change_membership(ChangeMembers::RemoveNodes([4u64].into()), false).await.unwrap();

    // Failover: stop the leader, time until another node is leader.
    let (r, _, h) = nodes.remove(&1).unwrap();
    let t = Instant::now();
    h.abort();
    r.shutdown().await.unwrap();
    let r2 = nodes[&2].0.clone();
    loop {
        let m = r2.metrics().borrow().clone();
        if let Some(l) = m.current_leader { if l != 1 { println!("new leader {l} term {} after {:?}", m.current_term, t.elapsed()); break; } }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let lid = r2.metrics().borrow().current_leader.unwrap();
    let nl = nodes[&lid].0.clone();
    // Write to a follower: ForwardToLeader carries leader id + node (with its client addr).
    let fid = if lid == 2 { 3 } else { 2 };
    let e = nodes[&fid].0.client_write(grp(999999, 1)).await.unwrap_err();
    println!("write on follower -> {e}; forward_to_leader = {:?}", e.forward_to_leader());
    let t = Instant::now();
    nl.client_write(grp(1_000_000, 1)).await.unwrap();
    println!("first write on new leader {:?}", t.elapsed());

    // Restart node 1 from its files (log, vote, committed, state machine) and let it rejoin.
    drop(r);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    let (r1b, sm1b, _h) = start(1, base).await;
    println!("restarted n1: vote {:?} last_applied at start {:?}", r1b.metrics().borrow().vote, r1b.metrics().borrow().last_applied.map(|l| l.index));
    let target = nl.metrics().borrow().last_log_index.unwrap();
    r1b.wait(Some(Duration::from_secs(10))).applied_index_at_least(Some(target), "rejoin").await.unwrap();
    println!("n1 rejoined as {:?}, applied {} in {:?}; rows n1={} leader={}", r1b.metrics().borrow().state, target, t.elapsed(), sm1b.count(), nodes[&lid].1.count());
}
