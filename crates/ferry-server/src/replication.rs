//! What clients and operators see of Raft replication: the `# Replication`
//! section of INFO, WAIT, and the RAFT admin command.
//!
//! RAFT runs in the connection's task, not on the executor: a membership
//! change waits for the log to replicate, which needs the executor free to
//! apply entries.

use bytes::Bytes;
use ferry_raft::{RaftNode, RaftStatus, ServerState as Role};
use ferry_resp::Reply;
use std::fmt::Write;

/// INFO's replication section in Raft mode (Redis's field names where they
/// fit, so tools that read `role` and `master_host` keep working).
pub fn info_section(s: &RaftStatus) -> String {
    let mut out = String::from("# Replication\r\n");
    let leader = s.state == Role::Leader;
    let _ = write!(out, "role:{}\r\n", if leader { "master" } else { "slave" });
    if !leader {
        if let Some((host, port)) = s
            .leader_client_addr
            .as_deref()
            .and_then(|a| a.rsplit_once(':'))
        {
            let _ = write!(out, "master_host:{host}\r\nmaster_port:{port}\r\n");
            out.push_str("master_link_status:up\r\n");
        } else {
            out.push_str("master_link_status:down\r\n");
        }
    }
    let _ = write!(out, "connected_slaves:{}\r\n", s.replication.len());
    let applied = s.applied.unwrap_or(0);
    for (i, (id, matched)) in s.replication.iter().enumerate() {
        let m = matched.unwrap_or(0);
        let _ = write!(
            out,
            "slave{i}:id={id},state={},offset={m},lag={}\r\n",
            if matched.is_some() {
                "online"
            } else {
                "wait_bgsave"
            },
            applied.saturating_sub(m)
        );
    }
    let _ = write!(out, "master_repl_offset:{applied}\r\n");
    let _ = write!(out, "raft_node_id:{}\r\n", s.id);
    let _ = write!(out, "raft_state:{:?}\r\n", s.state);
    let _ = write!(
        out,
        "raft_leader_id:{}\r\n",
        s.leader.map(|l| l.to_string()).unwrap_or_default()
    );
    let _ = write!(out, "raft_term:{}\r\n", s.term);
    let _ = write!(
        out,
        "raft_last_log_index:{}\r\n",
        s.last_log_index.unwrap_or(0)
    );
    let _ = write!(out, "raft_commit_index:{}\r\n", s.committed.unwrap_or(0));
    let _ = write!(out, "raft_applied_index:{applied}\r\n");
    let _ = write!(out, "raft_snapshot_index:{}\r\n", s.snapshot.unwrap_or(0));
    let _ = write!(out, "raft_writable:{}\r\n", u8::from(s.writable));
    let voters: Vec<String> = s.voters.iter().map(|v| v.to_string()).collect();
    let _ = write!(out, "raft_voters:{}\r\n", voters.join(","));
    let learners: Vec<String> = s.learners.iter().map(|(id, _)| id.to_string()).collect();
    let _ = write!(out, "raft_learners:{}\r\n", learners.join(","));
    for (id, matched) in &s.replication {
        let m = matched.unwrap_or(0);
        let _ = write!(
            out,
            "raft_follower_{id}:matched={m},lag={}\r\n",
            s.last_log_index.unwrap_or(0).saturating_sub(m)
        );
    }
    out.push_str("\r\n");
    out
}

/// WAIT on a Raft leader: every acknowledged write is already on a
/// majority, so it answers at once with the followers that have everything
/// applied here.
pub fn caught_up_followers(s: &RaftStatus) -> i64 {
    let applied = s.applied.unwrap_or(0);
    s.replication
        .iter()
        .filter(|(_, m)| m.is_some_and(|m| m >= applied))
        .count() as i64
}

/// Whether `argv` is the RAFT admin command.
pub fn is_admin(argv: &[Bytes]) -> bool {
    argv.first()
        .is_some_and(|n| n.eq_ignore_ascii_case(b"raft"))
}

const HELP: &[&str] = &[
    "RAFT <subcommand> [<arg> ...]. Subcommands are:",
    "STATUS",
    "    This node's view of the cluster (role, term, leader, indexes, members).",
    "LEADER",
    "    The leader's node id and client address, or nil.",
    "INIT",
    "    Form a new cluster of this node alone (its log must be empty).",
    "ADD-LEARNER <id> <raft-host:port>",
    "    Add a node that receives the log without voting; returns when it caught up.",
    "PROMOTE <id>",
    "    Make a learner a voting member.",
    "REMOVE <id>",
    "    Remove a node from the cluster.",
    "HELP",
    "    Print this help.",
];

/// Runs a RAFT command. `raft_addr` is this node's own Raft address (INIT).
pub async fn admin(node: Option<&RaftNode>, raft_addr: &str, argv: &[Bytes]) -> Reply {
    let Some(node) = node else {
        return Reply::error(
            "ERR this ferry server does not run Raft (start it with `ferry serve --raft`)",
        );
    };
    let sub = argv
        .get(1)
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .unwrap_or_default();
    let arg = |i: usize| argv.get(i).map(|a| String::from_utf8_lossy(a).into_owned());
    let id = |i: usize| -> Result<u64, Reply> {
        arg(i)
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| Reply::error("ERR the node id must be a non-negative integer"))
    };
    let wrong_arity = || {
        Reply::error(format!(
            "ERR wrong number of arguments for 'raft|{sub}' command"
        ))
    };
    let done = |r: Result<(), String>| match r {
        Ok(()) => Reply::OK,
        Err(e) => Reply::error(format!("ERR {e}")),
    };
    match (sub.as_str(), argv.len()) {
        ("help", 2) => Reply::Array(HELP.iter().map(|l| Reply::status(l)).collect()),
        ("status", 2) => {
            let s = node.status();
            let mut text = info_section(&s);
            text = text.trim_start_matches("# Replication\r\n").to_string();
            Reply::bulk(text.into_bytes())
        }
        ("leader", 2) => {
            let s = node.status();
            let addr = if s.state == Role::Leader {
                None
            } else {
                s.leader_client_addr.clone()
            };
            match (s.leader, s.state == Role::Leader) {
                (Some(id), true) => Reply::Array(vec![
                    Reply::Integer(id as i64),
                    Reply::bulk(b"self".to_vec()),
                ]),
                (Some(id), false) => Reply::Array(vec![
                    Reply::Integer(id as i64),
                    addr.map_or(Reply::Null, |a| Reply::bulk(a.into_bytes())),
                ]),
                (None, _) => Reply::Null,
            }
        }
        ("init", 2) => done(node.init(raft_addr).await),
        ("add-learner", 4) => match (id(2), arg(3)) {
            (Ok(id), Some(addr)) => done(node.add_learner(id, &addr).await),
            (Err(e), _) => e,
            (_, None) => wrong_arity(),
        },
        ("promote", 3) => match id(2) {
            Ok(id) => done(node.promote(id).await),
            Err(e) => e,
        },
        ("remove", 3) => match id(2) {
            Ok(id) => done(node.remove(id).await),
            Err(e) => e,
        },
        ("help" | "status" | "leader" | "init" | "add-learner" | "promote" | "remove", _) => {
            wrong_arity()
        }
        _ => Reply::error(format!(
            "ERR unknown subcommand '{}'. Try RAFT HELP.",
            arg(1).unwrap_or_default()
        )),
    }
}
