//! `--max-rps`: the keys sent to the source may not run ahead of the rate
//! over the time spent running. Time spent paused earns no credit: a copy
//! resumed after a pause goes on at the rate, it does not burst to catch
//! up (which would hit the source the flag protects).

use std::time::{Duration, Instant};

pub struct Rate {
    /// Keys per second; None or 0: no limit.
    rps: Option<u64>,
    /// Since when keys are counted.
    origin: Instant,
    sent: u64,
}

impl Rate {
    pub fn new(rps: Option<u64>) -> Rate {
        Rate {
            rps: rps.filter(|r| *r > 0),
            origin: Instant::now(),
            sent: 0,
        }
    }

    /// How long to wait before sending more keys; None when they may go
    /// now.
    pub fn wait(&self) -> Option<Duration> {
        let rps = self.rps?;
        let due = Duration::from_secs_f64(self.sent as f64 / rps as f64);
        due.checked_sub(self.origin.elapsed())
            .filter(|w| !w.is_zero())
    }

    /// `n` keys were sent.
    pub fn sent(&mut self, n: u64) {
        self.sent += n;
    }

    /// Paused (or stopped sending for a while): counting starts again from
    /// now, with no credit for the time that passed.
    pub fn restart(&mut self) {
        self.origin = Instant::now();
        self.sent = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_earns_no_credit() {
        let mut r = Rate::new(Some(100));
        assert_eq!(r.wait(), None);
        r.sent(100);
        // 100 keys at 100/s: due one second after the start.
        assert!(r.wait().is_some_and(|w| w > Duration::from_millis(900)));
        r.origin -= Duration::from_secs(5);
        // Five seconds later (as after a pause), 500 keys of credit...
        assert_eq!(r.wait(), None);
        // ...unless the pause restarted the count.
        r.restart();
        r.sent(50);
        assert!(r.wait().is_some_and(|w| w > Duration::from_millis(400)));
        assert_eq!(Rate::new(None).wait(), None);
        assert_eq!(Rate::new(Some(0)).wait(), None);
    }
}
