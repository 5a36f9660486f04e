//! The [`Board`]: what a long command has done so far, kept in atomics so a
//! tool's hot path can update it without locks, and read by the web page,
//! `/api/state` and `/metrics` at their own pace.
//!
//! A board holds named [`Metric`]s (counters that only go up and gauges that
//! are set), a phase timeline and a short history of rates for the charts.
//! The common metrics (keys, bytes, errors, mismatches, commands, lag,
//! backlog) exist on every board so that migrate, sync, proxy and cutover
//! show the same names; a tool adds its own with [`Board::counter`] and
//! [`Board::gauge`].

use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Seconds of rate history kept for the charts (one sample a second).
pub const HISTORY_SECS: usize = 600;

/// Phases kept in the timeline; older ones are dropped (a tool that loops
/// through phases must not grow the board without bound).
const MAX_PHASES: usize = 200;

/// Milliseconds since the Unix epoch (the page shows wall-clock times).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Whether a metric only goes up (a counter) or is set to a level (a gauge).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Counter,
    Gauge,
}

/// One named value. Counters hold a `u64`; gauges an `f64` (stored as its
/// bits) and are "not measured" until first set, so the page and `/metrics`
/// do not show a lag of 0 that nobody measured.
#[derive(Debug)]
pub struct Metric {
    name: String,
    help: String,
    kind: Kind,
    bits: AtomicU64,
    set: AtomicBool,
}

impl Metric {
    fn new(name: &str, help: &str, kind: Kind) -> Metric {
        Metric {
            name: name.to_string(),
            help: help.to_string(),
            kind,
            bits: AtomicU64::new(if kind == Kind::Gauge {
                0f64.to_bits()
            } else {
                0
            }),
            set: AtomicBool::new(kind == Kind::Counter),
        }
    }

    /// The name without the `ferry_` prefix (`keys_done`, `lag_bytes`).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn help(&self) -> &str {
        &self.help
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Adds to a counter (ignored on a gauge).
    pub fn add(&self, n: u64) {
        if self.kind == Kind::Counter && n > 0 {
            self.bits.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Sets a gauge (ignored on a counter).
    pub fn set(&self, v: f64) {
        if self.kind == Kind::Gauge {
            self.bits.store(v.to_bits(), Ordering::Relaxed);
            self.set.store(true, Ordering::Relaxed);
        }
    }

    /// A counter's total (0 for a gauge).
    pub fn count(&self) -> u64 {
        match self.kind {
            Kind::Counter => self.bits.load(Ordering::Relaxed),
            Kind::Gauge => 0,
        }
    }

    /// The value as a number; `None` for a gauge never set.
    pub fn value(&self) -> Option<f64> {
        match self.kind {
            Kind::Counter => Some(self.bits.load(Ordering::Relaxed) as f64),
            Kind::Gauge => self
                .set
                .load(Ordering::Relaxed)
                .then(|| f64::from_bits(self.bits.load(Ordering::Relaxed))),
        }
    }
}

/// One entry of the timeline. `end_ms` is `None` for the current phase.
#[derive(Clone, Debug, Serialize)]
pub struct Phase {
    pub name: String,
    pub start_ms: u64,
    pub end_ms: Option<u64>,
}

/// Rates over one sampling interval, for the charts.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Sample {
    pub t_ms: u64,
    pub keys_per_s: f64,
    pub bytes_per_s: f64,
}

#[derive(Debug)]
struct Sampler {
    last_at: Option<Instant>,
    last_keys: u64,
    last_bytes: u64,
    history: VecDeque<Sample>,
}

/// Live state of one run of a tool. Share it as `Arc<Board>`; every method
/// takes `&self`.
#[derive(Debug)]
pub struct Board {
    tool: String,
    run_id: String,
    labels: Vec<(String, String)>,
    started_ms: u64,
    metrics: RwLock<Vec<Arc<Metric>>>,
    keys_done: Arc<Metric>,
    bytes: Arc<Metric>,
    errors: Arc<Metric>,
    mismatches: Arc<Metric>,
    commands: Arc<Metric>,
    keys_estimated: Arc<Metric>,
    lag_bytes: Arc<Metric>,
    lag_seconds: Arc<Metric>,
    backlog_entries: Arc<Metric>,
    backlog_bytes: Arc<Metric>,
    phases: Mutex<VecDeque<Phase>>,
    sampler: Mutex<Sampler>,
}

impl Board {
    /// A board for one run of `tool` (`migrate`, `sync`, `proxy`, ...).
    pub fn new(tool: &str, run_id: &str) -> Board {
        let mut all = Vec::new();
        let mut m = |name: &str, help: &str, kind: Kind| {
            let metric = Arc::new(Metric::new(name, help, kind));
            all.push(metric.clone());
            metric
        };
        let keys_done = m(
            "keys_done_total",
            "Keys handled (copied, applied, deleted or skipped).",
            Kind::Counter,
        );
        let bytes = m("bytes_total", "Bytes of values moved.", Kind::Counter);
        let errors = m(
            "errors_total",
            "Keys or commands that failed.",
            Kind::Counter,
        );
        let mismatches = m(
            "mismatches_total",
            "Keys found different between source and target.",
            Kind::Counter,
        );
        let commands = m(
            "commands_total",
            "Write commands applied to the target.",
            Kind::Counter,
        );
        let keys_estimated = m(
            "keys_estimated",
            "Estimated keys to handle in the current phase.",
            Kind::Gauge,
        );
        let lag_bytes = m(
            "lag_bytes",
            "Bytes of the source's change stream not applied yet.",
            Kind::Gauge,
        );
        let lag_seconds = m(
            "lag_seconds",
            "Age of the oldest change not applied yet, in seconds.",
            Kind::Gauge,
        );
        let backlog_entries = m(
            "backlog_entries",
            "Changes waiting to be applied (dirty keys, queued commands).",
            Kind::Gauge,
        );
        let backlog_bytes = m(
            "backlog_bytes",
            "Bytes of the changes waiting to be applied.",
            Kind::Gauge,
        );
        Board {
            tool: tool.to_string(),
            run_id: run_id.to_string(),
            labels: Vec::new(),
            started_ms: unix_ms(),
            metrics: RwLock::new(all),
            keys_done,
            bytes,
            errors,
            mismatches,
            commands,
            keys_estimated,
            lag_bytes,
            lag_seconds,
            backlog_entries,
            backlog_bytes,
            phases: Mutex::new(VecDeque::new()),
            sampler: Mutex::new(Sampler {
                last_at: None,
                last_keys: 0,
                last_bytes: 0,
                history: VecDeque::new(),
            }),
        }
    }

    /// Adds a label shown on the page and on `ferry_info` (e.g. `from`, `to`).
    /// Call before sharing the board.
    pub fn with_label(mut self, key: &str, value: &str) -> Board {
        self.labels.push((key.to_string(), value.to_string()));
        self
    }

    pub fn tool(&self) -> &str {
        &self.tool
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }

    pub fn started_ms(&self) -> u64 {
        self.started_ms
    }

    /// Registers a tool's own counter (`name` without the `ferry_` prefix,
    /// ending in `_total` by Prometheus custom). Registering a name twice
    /// returns the first one.
    pub fn counter(&self, name: &str, help: &str) -> Arc<Metric> {
        self.register(name, help, Kind::Counter)
    }

    /// Registers a tool's own gauge (`name` without the `ferry_` prefix).
    pub fn gauge(&self, name: &str, help: &str) -> Arc<Metric> {
        self.register(name, help, Kind::Gauge)
    }

    fn register(&self, name: &str, help: &str, kind: Kind) -> Arc<Metric> {
        let mut all = self.metrics.write().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = all.iter().find(|m| m.name == name) {
            return m.clone();
        }
        let m = Arc::new(Metric::new(name, help, kind));
        all.push(m.clone());
        m
    }

    /// Every metric, the common ones first, in registration order.
    pub fn metrics(&self) -> Vec<Arc<Metric>> {
        self.metrics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    // --- the common metrics ---------------------------------------------

    pub fn add_keys(&self, n: u64) {
        self.keys_done.add(n);
    }

    pub fn add_bytes(&self, n: u64) {
        self.bytes.add(n);
    }

    pub fn add_errors(&self, n: u64) {
        self.errors.add(n);
    }

    pub fn add_mismatches(&self, n: u64) {
        self.mismatches.add(n);
    }

    pub fn add_commands(&self, n: u64) {
        self.commands.add(n);
    }

    pub fn set_keys_estimated(&self, n: u64) {
        self.keys_estimated.set(n as f64);
    }

    pub fn set_lag_bytes(&self, n: u64) {
        self.lag_bytes.set(n as f64);
    }

    pub fn set_lag_seconds(&self, s: f64) {
        self.lag_seconds.set(s);
    }

    pub fn set_backlog_entries(&self, n: u64) {
        self.backlog_entries.set(n as f64);
    }

    pub fn set_backlog_bytes(&self, n: u64) {
        self.backlog_bytes.set(n as f64);
    }

    pub fn keys_done(&self) -> u64 {
        self.keys_done.count()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.count()
    }

    pub fn errors(&self) -> u64 {
        self.errors.count()
    }

    pub fn mismatches(&self) -> u64 {
        self.mismatches.count()
    }

    // --- phases -----------------------------------------------------------

    /// Starts phase `name`; the current one ends now. Starting the phase
    /// that is already current does nothing.
    pub fn phase(&self, name: &str) {
        let now = unix_ms();
        let mut phases = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(last) = phases.back_mut() {
            if last.end_ms.is_none() {
                if last.name == name {
                    return;
                }
                last.end_ms = Some(now);
            }
        }
        phases.push_back(Phase {
            name: name.to_string(),
            start_ms: now,
            end_ms: None,
        });
        while phases.len() > MAX_PHASES {
            phases.pop_front();
        }
    }

    /// The current phase's name ("" before the first).
    pub fn current_phase(&self) -> String {
        let phases = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        phases.back().map(|p| p.name.clone()).unwrap_or_default()
    }

    pub fn phases(&self) -> Vec<Phase> {
        let phases = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        phases.iter().cloned().collect()
    }

    // --- rate history -----------------------------------------------------

    /// Records keys/s and bytes/s since the previous call (the server calls
    /// it once a second); keeps the last [`HISTORY_SECS`] samples.
    pub fn sample(&self) {
        let now = Instant::now();
        let (keys, bytes) = (self.keys_done(), self.bytes());
        let mut s = self.sampler.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = s.last_at {
            let secs = now.duration_since(at).as_secs_f64().max(0.001);
            let sample = Sample {
                t_ms: unix_ms(),
                keys_per_s: keys.saturating_sub(s.last_keys) as f64 / secs,
                bytes_per_s: bytes.saturating_sub(s.last_bytes) as f64 / secs,
            };
            s.history.push_back(sample);
            while s.history.len() > HISTORY_SECS {
                s.history.pop_front();
            }
        }
        s.last_at = Some(now);
        s.last_keys = keys;
        s.last_bytes = bytes;
    }

    pub fn history(&self) -> Vec<Sample> {
        let s = self.sampler.lock().unwrap_or_else(|e| e.into_inner());
        s.history.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_end_when_the_next_starts() {
        let b = Board::new("migrate", "r1");
        b.phase("bulk");
        b.phase("bulk");
        b.phase("delta");
        let p = b.phases();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "bulk");
        assert!(p[0].end_ms.is_some());
        assert!(p[1].end_ms.is_none());
        assert_eq!(b.current_phase(), "delta");
    }

    #[test]
    fn gauges_are_unmeasured_until_set() {
        let b = Board::new("sync", "r1");
        let lag = b.metrics().into_iter().find(|m| m.name() == "lag_bytes");
        assert_eq!(lag.as_ref().and_then(|m| m.value()), None);
        b.set_lag_bytes(42);
        assert_eq!(lag.and_then(|m| m.value()), Some(42.0));
        b.add_keys(3);
        b.add_keys(4);
        assert_eq!(b.keys_done(), 7);
    }

    #[test]
    fn custom_metrics_register_once() {
        let b = Board::new("proxy", "p");
        let a = b.counter("mirrored_total", "Commands mirrored.");
        let again = b.counter("mirrored_total", "Commands mirrored.");
        a.add(2);
        assert_eq!(again.count(), 2);
        let n = b.metrics().len();
        b.gauge("queue_depth", "Queued.").set(1.5);
        assert_eq!(b.metrics().len(), n + 1);
    }

    #[test]
    fn history_is_bounded() {
        let b = Board::new("migrate", "r");
        for _ in 0..HISTORY_SECS + 5 {
            b.sample();
        }
        assert_eq!(b.history().len(), HISTORY_SECS);
    }
}
