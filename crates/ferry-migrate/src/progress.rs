//! Progress of a long stage: a bar on a terminal (keys done / estimated
//! total, keys/s, MB/s, ETA, errors), a plain log line every few seconds
//! elsewhere, and the dashboard's board when `--http` gave one.

use ferry_dashboard::Board;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Progress {
    label: String,
    bar: Option<ProgressBar>,
    started: Instant,
    last_log: Instant,
    total: u64,
    /// No bar and no log lines: only the board hears of it.
    quiet: bool,
    board: Option<Arc<Board>>,
    /// What the board was last told (it takes increments, a stage reports
    /// totals).
    told: (u64, u64, u64),
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
            quiet: false,
            board: None,
            told: (0, 0, 0),
        }
    }

    /// A stage that prints nothing (a delta pass inside `migrate run`) but
    /// still feeds the board.
    pub fn quiet(label: &str) -> Progress {
        Progress {
            label: label.to_string(),
            bar: None,
            started: Instant::now(),
            last_log: Instant::now(),
            total: 0,
            quiet: true,
            board: None,
            told: (0, 0, 0),
        }
    }

    /// Also reports to `board` (keys, bytes and errors as increments, the
    /// estimate as `keys_estimated`).
    pub fn with_board(mut self, board: Option<Arc<Board>>) -> Progress {
        if let Some(b) = &board {
            if !self.quiet {
                b.set_keys_estimated(self.total);
            }
        }
        self.board = board;
        self
    }

    fn tell_board(&mut self, done: u64, bytes: u64, errors: u64) {
        if let Some(b) = &self.board {
            let (d, by, e) = self.told;
            b.add_keys(done.saturating_sub(d));
            b.add_bytes(bytes.saturating_sub(by));
            b.add_errors(errors.saturating_sub(e));
            if !self.quiet {
                b.set_keys_estimated(self.total);
            }
            self.told = (done.max(d), bytes.max(by), errors.max(e));
        }
    }

    /// Raises the estimate when more keys turn up than expected.
    pub fn update(&mut self, done: u64, bytes: u64, errors: u64) {
        if done > self.total {
            self.total = done;
        }
        self.tell_board(done, bytes, errors);
        if self.quiet {
            return;
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

    pub fn finish(mut self, done: u64, bytes: u64, errors: u64) {
        self.tell_board(done, bytes, errors);
        if self.quiet {
            return;
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        log::info!("{}", self.line(done, bytes, errors));
    }
}
