//! `ferry raft`: membership and status of a Raft cluster, through the RAFT
//! command of a running node.

use clap::{Args, Subcommand};
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  ferry raft status --addr 127.0.0.1:6001          # role, term, leader, indexes, lag
  ferry raft leader --addr 127.0.0.1:6002          # which node leads, and its client address
  # Grow a cluster by one node: start it without --peers, then on the leader:
  ferry raft add-learner 4 127.0.0.1:7004 --addr 127.0.0.1:6001
  ferry raft promote 4 --addr 127.0.0.1:6001
  ferry raft remove 3 --addr 127.0.0.1:6001        # shrink it
  ferry raft init --addr 127.0.0.1:6001            # a new cluster of that one node

Membership changes run on the leader; a follower answers with the leader's address.";

#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct RaftArgs {
    #[command(subcommand)]
    action: Action,

    /// The node to ask (its client address).
    #[arg(long, global = true, value_name = "HOST:PORT", default_value = "127.0.0.1:6379")]
    addr: String,

    /// Password of the node (as --requirepass).
    #[arg(
        long,
        global = true,
        value_name = "PASS",
        env = "FERRY_PASSWORD",
        hide_env_values = true
    )]
    password: Option<String>,
}

#[derive(Subcommand)]
enum Action {
    /// Print the node's view of the cluster.
    Status,
    /// Print the leader's id and client address.
    Leader,
    /// Form a new cluster of this node alone (its log must be empty).
    Init,
    /// Add a node that receives the log without voting; returns when it caught up.
    AddLearner {
        /// The new node's id (its --node-id).
        id: u64,
        /// Its Raft address (its --raft-addr).
        raft_addr: String,
    },
    /// Make a learner a voting member.
    Promote { id: u64 },
    /// Remove a node from the cluster.
    Remove { id: u64 },
}

pub fn main(args: RaftArgs) -> ExitCode {
    let mut cmd = redis::cmd("RAFT");
    match &args.action {
        Action::Status => cmd.arg("STATUS"),
        Action::Leader => cmd.arg("LEADER"),
        Action::Init => cmd.arg("INIT"),
        Action::AddLearner { id, raft_addr } => cmd.arg("ADD-LEARNER").arg(*id).arg(raft_addr),
        Action::Promote { id } => cmd.arg("PROMOTE").arg(*id),
        Action::Remove { id } => cmd.arg("REMOVE").arg(*id),
    };
    let url = match &args.password {
        Some(p) => format!("redis://:{p}@{}/", args.addr),
        None => format!("redis://{}/", args.addr),
    };
    let result = redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection_with_timeout(std::time::Duration::from_secs(5)))
        .and_then(|mut conn| cmd.query::<redis::Value>(&mut conn));
    match result {
        Ok(value) => {
            print_value(&value);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ferry raft: {}: {e}", args.addr);
            ExitCode::FAILURE
        }
    }
}

fn print_value(v: &redis::Value) {
    match v {
        redis::Value::Nil => println!("(none)"),
        redis::Value::Okay => println!("OK"),
        redis::Value::Int(i) => println!("{i}"),
        redis::Value::BulkString(b) => print!("{}", String::from_utf8_lossy(b).replace('\r', "")),
        redis::Value::SimpleString(s) => println!("{s}"),
        redis::Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    redis::Value::Int(n) => n.to_string(),
                    redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                    redis::Value::SimpleString(s) => s.clone(),
                    other => format!("{other:?}"),
                })
                .collect();
            println!("{}", parts.join(" "));
        }
        other => println!("{other:?}"),
    }
}
