//! Server-wide state the executor owns: configuration, statistics and the
//! other connected clients.

use crate::client::ClientState;
use crate::config::{ConfigTable, ServerConfig};
use std::collections::HashMap;
use std::time::Instant;

/// Counters INFO stats reports; CONFIG RESETSTAT zeroes them.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub commands_processed: u64,
    pub connections_received: u64,
    pub rejected_connections: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
}

/// How SHUTDOWN asked the server to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    Save,
    NoSave,
}

pub struct ServerState {
    pub startup: ServerConfig,
    pub config: ConfigTable,
    pub stats: Stats,
    /// Connected clients other than the one whose command is running.
    pub clients: HashMap<u64, ClientState>,
    pub started: Instant,
    pub run_id: String,
    /// Unix seconds of the last SAVE/BGSAVE checkpoint (or start-up).
    pub lastsave: i64,
    pub shutdown: Option<ShutdownMode>,
}

impl ServerState {
    pub fn new(startup: ServerConfig) -> ServerState {
        let run_id: String = (0..40)
            .map(|_| {
                let d = rand::random::<u8>() % 16;
                char::from_digit(d as u32, 16).unwrap_or('0')
            })
            .collect();
        ServerState {
            config: ConfigTable::new(&startup),
            startup,
            stats: Stats::default(),
            clients: HashMap::new(),
            started: Instant::now(),
            run_id,
            lastsave: ferry_store::unix_ms() / 1000,
            shutdown: None,
        }
    }

    /// The password clients must AUTH with, if any.
    pub fn requirepass(&self) -> Option<&str> {
        self.config.get("requirepass").filter(|p| !p.is_empty())
    }
}
