//! What operators look at to see what the server does: MONITOR's feed, the
//! SLOWLOG, the latency monitor's events and the per-command latency
//! histograms (LATENCY HISTOGRAM), kept as Redis 7.0 keeps them.

use crate::client::ClientState;
use crate::state::ServerState;
use bytes::Bytes;
use ferry_resp::Reply;
use std::collections::{BTreeMap, VecDeque};

/// Redis's sdscatrepr: a quoted string with C escapes, non-printable
/// bytes as `\xNN`.
pub fn repr(out: &mut String, s: &[u8]) {
    out.push('"');
    for &b in s {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
}

/// The arguments as MONITOR and SLOWLOG show them: passwords of AUTH,
/// HELLO ... AUTH and MIGRATE ... AUTH/AUTH2 as `(redacted)`, as Redis does.
pub fn redacted(argv: &[Bytes]) -> Vec<Bytes> {
    let hidden = Bytes::from_static(b"(redacted)");
    let mut out = argv.to_vec();
    let name = argv
        .first()
        .map(|a| a.to_ascii_lowercase())
        .unwrap_or_default();
    match name.as_slice() {
        b"auth" => out[1..].iter_mut().for_each(|a| *a = hidden.clone()),
        b"hello" | b"migrate" => {
            let mut i = 1;
            while i < out.len() {
                if out[i].eq_ignore_ascii_case(b"auth") {
                    let n = if name == b"hello" { 2 } else { 1 };
                    for a in out.iter_mut().skip(i + 1).take(n) {
                        *a = hidden.clone();
                    }
                    i += n;
                } else if name == b"migrate" && out[i].eq_ignore_ascii_case(b"auth2") {
                    for a in out.iter_mut().skip(i + 1).take(2) {
                        *a = hidden.clone();
                    }
                    i += 2;
                }
                i += 1;
            }
        }
        _ => {}
    }
    out
}

/// Whether MONITOR shows this command at all (Redis hides admin commands
/// and those flagged `skip_monitor`).
pub fn monitored(spec: &crate::cmd::CommandSpec) -> bool {
    !spec.has_flag("skip_monitor") && !spec.has_flag("admin")
}

/// Sends one command of `client` (in its current database) to every
/// MONITOR client, if any: `+<unix s>.<us> [<db> <addr>|lua] "arg" ...`.
/// `from_script` marks the commands a script runs (Redis shows `lua`).
pub fn feed_monitors(
    server: &mut ServerState,
    client: &mut ClientState,
    from_script: bool,
    argv: &[Bytes],
) {
    if server.monitors.is_empty() {
        return;
    }
    let db = client.db;
    let origin = client.addr.to_string();
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    let mut line = format!(
        "{}.{:06} [{db} {}] ",
        micros / 1_000_000,
        micros % 1_000_000,
        if from_script { "lua" } else { origin.as_str() }
    );
    for (i, a) in redacted(argv).iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        repr(&mut line, a);
    }
    let msg = Reply::Status(line.into());
    for id in server.monitors.clone() {
        server.push_message(Some(&mut *client), id, msg.clone());
    }
}

/// One SLOWLOG entry.
#[derive(Debug, Clone)]
pub struct SlowEntry {
    pub id: u64,
    pub time: i64,
    pub micros: u64,
    pub argv: Vec<Bytes>,
    pub peer: String,
    pub name: Bytes,
}

/// Most arguments an entry keeps, and bytes per argument (as Redis).
const SLOWLOG_MAX_ARGC: usize = 32;
const SLOWLOG_MAX_ARGLEN: usize = 128;

#[derive(Debug, Default)]
pub struct SlowLog {
    pub entries: VecDeque<SlowEntry>,
    next_id: u64,
}

impl SlowLog {
    /// Records a command that took `micros` (newest first), trimmed to
    /// `max_len` entries.
    pub fn push(&mut self, client: &ClientState, argv: &[Bytes], micros: u64, max_len: usize) {
        let argv = redacted(argv);
        let mut kept: Vec<Bytes> = Vec::with_capacity(argv.len().min(SLOWLOG_MAX_ARGC));
        for (i, a) in argv.iter().enumerate() {
            if i == SLOWLOG_MAX_ARGC - 1 && argv.len() > SLOWLOG_MAX_ARGC {
                kept.push(Bytes::from(format!(
                    "... ({} more arguments)",
                    argv.len() - SLOWLOG_MAX_ARGC + 1
                )));
                break;
            }
            if a.len() > SLOWLOG_MAX_ARGLEN {
                let mut s = a[..SLOWLOG_MAX_ARGLEN].to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - SLOWLOG_MAX_ARGLEN).as_bytes(),
                );
                kept.push(Bytes::from(s));
            } else {
                kept.push(a.clone());
            }
        }
        self.entries.push_front(SlowEntry {
            id: self.next_id,
            time: ferry_store::unix_ms() / 1000,
            micros,
            argv: kept,
            peer: client.addr.to_string(),
            name: client.name.clone().map(Bytes::from).unwrap_or_default(),
        });
        self.next_id += 1;
        self.entries.truncate(max_len);
    }
}

/// The latency monitor's samples of one event (`command`, `fast-command`).
#[derive(Debug, Default, Clone)]
pub struct LatencyEvent {
    /// (unix seconds, milliseconds), oldest first, at most 160.
    pub samples: VecDeque<(i64, u64)>,
    pub max: u64,
}

#[derive(Debug, Default)]
pub struct LatencyMonitor {
    pub events: BTreeMap<String, LatencyEvent>,
}

impl LatencyMonitor {
    /// Adds a sample; one per second per event, the larger kept (Redis's
    /// latencyAddSample).
    pub fn add(&mut self, event: &str, ms: u64) {
        let now = ferry_store::unix_ms() / 1000;
        let e = self.events.entry(event.to_string()).or_default();
        e.max = e.max.max(ms);
        match e.samples.back_mut() {
            Some(last) if last.0 == now => last.1 = last.1.max(ms),
            _ => {
                e.samples.push_back((now, ms));
                if e.samples.len() > 160 {
                    e.samples.pop_front();
                }
            }
        }
    }
}

/// Per-command latency in power-of-two microsecond buckets, for LATENCY
/// HISTOGRAM (Redis keeps an HDR histogram and reports the same buckets).
#[derive(Debug, Clone, Copy)]
pub struct Histogram {
    pub buckets: [u64; 40],
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { buckets: [0; 40] }
    }
}

impl Histogram {
    pub fn record(&mut self, micros: u64) {
        let i = (64 - micros.max(1).leading_zeros() as usize - 1).min(39);
        self.buckets[i] += 1;
    }

    /// (bucket upper bound in µs, cumulative count) for every bucket that
    /// adds calls, as Redis's reply lists them.
    pub fn cumulative(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut total = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            if *n > 0 {
                total += n;
                out.push((1u64 << i, total));
            }
        }
        out
    }
}
