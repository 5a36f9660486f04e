//! `/api/state`: one JSON snapshot of everything the page shows, so the
//! page is a pure view and a script can read the same numbers.

use crate::board::{unix_ms, Board, Kind, Phase, Sample};
use serde::Serialize;
use std::collections::BTreeMap;

/// A metric as the page sees it; `value` is `null` for a gauge nobody set.
#[derive(Debug, Serialize)]
pub struct MetricState {
    pub name: String,
    pub help: String,
    pub kind: Kind,
    pub value: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct State {
    pub tool: String,
    pub run_id: String,
    pub labels: BTreeMap<String, String>,
    pub started_ms: u64,
    pub now_ms: u64,
    pub phase: String,
    pub phases: Vec<Phase>,
    /// Every metric by name (without the `ferry_` prefix). Counters are
    /// whole numbers; serde_json writes them without a fraction.
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// Help text, kind and value of each metric, in registration order.
    pub metric_list: Vec<MetricState>,
    /// The latest sample (0 before the first second has passed).
    pub keys_per_s: f64,
    pub bytes_per_s: f64,
    pub history: Vec<Sample>,
}

/// Takes a snapshot of `board`.
pub fn snapshot(board: &Board) -> State {
    let mut metrics = BTreeMap::new();
    let mut metric_list = Vec::new();
    for m in board.metrics() {
        let value = m.value();
        let json = match (m.kind(), value) {
            (Kind::Counter, _) => serde_json::Value::from(m.count()),
            (Kind::Gauge, Some(v)) => serde_json::Number::from_f64(v)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            (Kind::Gauge, None) => serde_json::Value::Null,
        };
        metrics.insert(m.name().to_string(), json);
        metric_list.push(MetricState {
            name: m.name().to_string(),
            help: m.help().to_string(),
            kind: m.kind(),
            value,
        });
    }
    let history = board.history();
    let last = history.last().copied();
    State {
        tool: board.tool().to_string(),
        run_id: board.run_id().to_string(),
        labels: board.labels().iter().cloned().collect(),
        started_ms: board.started_ms(),
        now_ms: unix_ms(),
        phase: board.current_phase(),
        phases: board.phases(),
        metrics,
        metric_list,
        keys_per_s: last.map(|s| s.keys_per_s).unwrap_or(0.0),
        bytes_per_s: last.map(|s| s.bytes_per_s).unwrap_or(0.0),
        history,
    }
}
