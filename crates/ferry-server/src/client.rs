//! Per-connection state, owned by the executor.

use ferry_resp::Protocol;
use std::net::SocketAddr;
use std::time::Instant;

/// One connected client as the executor sees it.
#[derive(Debug)]
pub struct ClientState {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub name: Option<Vec<u8>>,
    pub db: usize,
    pub protocol: Protocol,
    pub authenticated: bool,
    /// The ACL user the connection runs as (`default` until AUTH).
    pub user: Vec<u8>,
    /// READONLY: a Raft follower answers this connection's reads from its
    /// own (possibly stale) copy instead of redirecting them.
    pub stale_reads: bool,
    pub created: Instant,
    pub last_active: Instant,
    /// Full name of the last command (`client|list`), for CLIENT LIST.
    pub last_cmd: Option<crate::cmd::FullName>,
    /// Set when the connection must close once the current replies are sent.
    pub close_after_reply: bool,
    /// Commands queued since MULTI; None outside a transaction.
    pub multi: Option<Vec<Vec<bytes::Bytes>>>,
    /// A command was refused while queuing: EXEC will answer EXECABORT.
    pub multi_failed: bool,
    /// EXEC is running this client's queue (blocking commands do not block).
    pub in_exec: bool,
    /// A script of this client is running: its commands do not block, and
    /// run with the script's database and protocol.
    pub in_script: bool,
    /// WATCHed keys with the identity and version they had then (None
    /// when missing); EXEC fails if any of them changed.
    pub watched: Vec<WatchedKey>,
    /// The connection's queue: replies and pushed messages, in order; also
    /// how the connection is closed (CLIENT KILL).
    pub out: crate::eventloop::Outbox,
    /// Channels and patterns subscribed to, in subscription order.
    pub channels: Vec<bytes::Bytes>,
    pub patterns: Vec<bytes::Bytes>,
    /// Out-of-band messages for this client produced by its own current
    /// command; written just before that command's reply.
    pub pending_pushes: Vec<ferry_resp::Reply>,
    /// Set by the executor while it retries this client's blocked command
    /// because this key was signalled (XREAD serves from that key only).
    pub woken_by: Option<Vec<u8>>,
    /// Client-side caching options and pending self-invalidations.
    pub tracking: crate::tracking::ClientTracking,
    /// CLIENT REPLY OFF: replies are dropped (pushed messages are not).
    pub reply_off: bool,
    /// CLIENT REPLY SKIP was given: the next command's reply is dropped.
    pub reply_skip_next: bool,
    /// CLIENT NO-TOUCH ON (Redis 7.2): reads do not count as accesses.
    pub no_touch: bool,
}

/// A key named by WATCH, with the identity and version it had then.
#[derive(Debug, Clone)]
pub struct WatchedKey {
    pub db: usize,
    pub key: bytes::Bytes,
    /// (key id, version), or None when the key did not exist.
    pub version: Option<(i64, i64)>,
    /// A clone of [`crate::state::ServerState::watch_token`]: while any
    /// watched key exists, the store keeps versions exact.
    pub token: std::rc::Rc<()>,
}

impl ClientState {
    pub fn new(
        id: u64,
        addr: SocketAddr,
        laddr: SocketAddr,
        out: crate::eventloop::Outbox,
        authenticated: bool,
    ) -> ClientState {
        let now = Instant::now();
        ClientState {
            id,
            addr,
            laddr,
            name: None,
            db: 0,
            protocol: Protocol::Resp2,
            authenticated,
            user: b"default".to_vec(),
            stale_reads: false,
            created: now,
            last_active: now,
            last_cmd: None,
            close_after_reply: false,
            multi: None,
            multi_failed: false,
            in_exec: false,
            in_script: false,
            watched: Vec::new(),
            out,
            channels: Vec::new(),
            patterns: Vec::new(),
            pending_pushes: Vec::new(),
            woken_by: None,
            tracking: Default::default(),
            reply_off: false,
            reply_skip_next: false,
            no_touch: false,
        }
    }

    /// In RESP2, a client with subscriptions may only run the pub/sub
    /// commands, PING, QUIT and RESET.
    pub fn in_subscribed_mode(&self) -> bool {
        self.protocol == Protocol::Resp2 && self.subscription_count() > 0
    }

    pub fn subscription_count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// CLIENT LIST's `flags`: the letters Redis 7.0 prints for the states
    /// ferry has, in its order; `N` for none.
    fn flags(&self) -> String {
        let mut f = String::new();
        for (on, c) in [
            (self.subscription_count() > 0, 'P'),
            (self.multi.is_some(), 'x'),
            (self.tracking.on, 't'),
            (self.tracking.broken_redirect, 'R'),
            (self.tracking.bcast, 'B'),
            (self.close_after_reply, 'c'),
            (self.no_touch, 'T'),
        ] {
            if on {
                f.push(c);
            }
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// The line CLIENT LIST and CLIENT INFO print, in Redis 7.0's field order.
    /// Memory and buffer fields describe Redis internals ferry does not have;
    /// they are reported with neutral values so parsers keep working.
    pub fn info_line(&self) -> String {
        let now = Instant::now();
        format!(
            "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1024 events=r cmd={} user={} redir={} resp={}",
            self.id,
                        self.addr,
            self.laddr,
            self.name.as_deref().map(String::from_utf8_lossy).unwrap_or_default(),
            now.duration_since(self.created).as_secs(),
            now.duration_since(self.last_active).as_secs(),
            self.flags(),
                                                self.db,
            self.channels.len(),
            self.patterns.len(),
            self.multi.as_ref().map_or(-1, |q| q.len() as i64),
            self.last_cmd
                .map(|n| n.to_string())
                .unwrap_or_else(|| "NULL".into()),
            String::from_utf8_lossy(&self.user),
            if self.tracking.on {
                self.tracking.redirect as i64
            } else {
                -1
            },
            match self.protocol {
                Protocol::Resp2 => 2,
                Protocol::Resp3 => 3,
            }
        )
    }
}
