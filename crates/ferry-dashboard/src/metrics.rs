//! `/metrics`: the board in Prometheus text exposition format (0.0.4).
//!
//! Written by hand rather than with the `prometheus-client` crate: the board
//! already keeps every value in its own atomics (read by the page and the
//! sampler too), so that crate would need a second copy of each value or a
//! custom collector; and it writes OpenMetrics, which appends `_total` to
//! counter names, ends with `# EOF` and cannot leave out a gauge nobody
//! measured yet. The text format is three kinds of lines.

use crate::board::{Board, Kind};
use std::collections::BTreeSet;
use std::fmt::Write;

/// The content type Prometheus expects for this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every metric of `board`, names prefixed with `ferry_`.
pub fn render(board: &Board) -> String {
    let mut out = String::new();
    let mut info = vec![
        ("tool".to_string(), board.tool().to_string()),
        ("run_id".to_string(), board.run_id().to_string()),
    ];
    info.extend(
        board
            .labels()
            .iter()
            .map(|(k, v)| (label_name(k), v.clone())),
    );
    header(
        &mut out,
        "ferry_info",
        "The tool and run this process serves (always 1).",
        "gauge",
    );
    let _ = writeln!(out, "ferry_info{} 1", labels(&info));
    header(
        &mut out,
        "ferry_start_time_seconds",
        "When the run started, in seconds since the Unix epoch.",
        "gauge",
    );
    let _ = writeln!(
        out,
        "ferry_start_time_seconds {}",
        number(board.started_ms() as f64 / 1000.0)
    );
    let phases = board.phases();
    if let Some(current) = phases.last() {
        header(
            &mut out,
            "ferry_phase_info",
            "1 for the current phase, 0 for the phases before it.",
            "gauge",
        );
        let mut seen = BTreeSet::new();
        for p in &phases {
            if seen.insert(p.name.as_str()) {
                let v = u8::from(p.name == current.name && current.end_ms.is_none());
                let _ = writeln!(
                    out,
                    "ferry_phase_info{} {v}",
                    labels(&[("phase".to_string(), p.name.clone())])
                );
            }
        }
    }
    for m in board.metrics() {
        let Some(v) = m.value() else {
            continue;
        };
        let name = format!("ferry_{}", m.name());
        let kind = match m.kind() {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        header(&mut out, &name, m.help(), kind);
        match m.kind() {
            Kind::Counter => {
                let _ = writeln!(out, "{name} {}", m.count());
            }
            Kind::Gauge => {
                let _ = writeln!(out, "{name} {}", number(v));
            }
        }
    }
    out
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn labels(pairs: &[(String, String)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// A label name Prometheus accepts: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn label_name(k: &str) -> String {
    let mut s: String = k
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// A sample value: integers without a fraction, `+Inf`/`-Inf`/`NaN` spelled
/// as Prometheus reads them.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_help_type_and_values() {
        let b = Board::new("migrate", "r\"1").with_label("from", "redis://a:1");
        b.phase("bulk");
        b.phase("delta");
        b.add_keys(12);
        b.set_lag_seconds(1.5);
        let text = render(&b);
        assert!(text.contains("# TYPE ferry_keys_done_total counter\nferry_keys_done_total 12\n"));
        assert!(text.contains("ferry_lag_seconds 1.5\n"));
        assert!(
            !text.contains("ferry_lag_bytes"),
            "unmeasured gauges are left out"
        );
        assert!(text.contains("ferry_phase_info{phase=\"bulk\"} 0\n"));
        assert!(text.contains("ferry_phase_info{phase=\"delta\"} 1\n"));
        assert!(text.contains("run_id=\"r\\\"1\",from=\"redis://a:1\""));
    }

    #[test]
    fn odd_values() {
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(3.0), "3");
        assert_eq!(label_name("9a-b"), "_9a_b");
    }
}
