//! Progress of a long stage: a bar on a terminal (keys done / estimated
//! total, keys/s, MB/s, ETA, errors), a plain log line every few seconds
//! elsewhere.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub struct Progress {
    label: String,
    bar: Option<ProgressBar>,
    started: Instant,
    last_log: Instant,
    total: u64,
}

impl Progress {
    /// `total` is an estimate (0 when unknown).
    pub fn new(label: &str, total: u64) -> Progress {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(
                Some(total.max(1)),
                ProgressDrawTarget::stderr_with_hz(4),
            );
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} keys ({percent}%) {per_sec} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label.to_string());
            Some(bar)
        } else {
            None
        };
        Progress {
            label: label.to_string(),
            bar,
            started: Instant::now(),
            last_log: Instant::now(),
            total,
        }
    }

    /// Raises the estimate when more keys turn up than expected.
    pub fn update(&mut self, done: u64, bytes: u64, errors: u64) {
        if done > self.total {
            self.total = done;
        }
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let mbs = bytes as f64 / secs / 1e6;
        match &self.bar {
            Some(bar) => {
                bar.set_length(self.total.max(1));
                bar.set_position(done);
                bar.set_message(format!("{mbs:.1} MB/s, {errors} errors"));
            }
            None => {
                if self.last_log.elapsed() >= Duration::from_secs(5) {
                    self.last_log = Instant::now();
                    log::info!("{}", self.line(done, bytes, errors));
                }
            }
        }
    }

    fn line(&self, done: u64, bytes: u64, errors: u64) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = done as f64 / secs;
        let pct = if self.total > 0 {
            done as f64 * 100.0 / self.total as f64
        } else {
            0.0
        };
        let eta = if rate > 0.0 && self.total > done {
            format!("{:.0}s", (self.total - done) as f64 / rate)
        } else {
            "-".into()
        };
        format!(
            "{}: {done}/{} keys ({pct:.0}%), {rate:.0} keys/s, {:.1} MB/s, ETA {eta}, {errors} errors",
            self.label,
            self.total,
            bytes as f64 / secs / 1e6
        )
    }

    pub fn finish(self, done: u64, bytes: u64, errors: u64) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        log::info!("{}", self.line(done, bytes, errors));
    }
}
