//! How far behind the target is, in time: the source's replication offset
//! is sampled a few times a second (with when it was seen), so the moment
//! the source wrote the first byte not applied yet can be read off the
//! samples (interpolated between the two around it). The lag is how long
//! ago that was; zero when everything is applied.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Samples older than this are dropped (the oldest is kept as a floor).
const HISTORY: Duration = Duration::from_secs(120);

#[derive(Default)]
pub struct Clock {
    samples: VecDeque<(Instant, u64)>,
}

impl Clock {
    /// The source's offset was `offset` at `at`.
    pub fn record(&mut self, at: Instant, offset: u64) {
        if self.samples.back().is_some_and(|(_, o)| *o == offset) {
            // Unchanged: the earlier time is the one that counts.
            return;
        }
        self.samples.push_back((at, offset));
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|(t, _)| at.duration_since(*t) > HISTORY)
        {
            self.samples.pop_front();
        }
    }

    /// Seconds since the source wrote the first byte after `applied`; None
    /// before the first sample.
    pub fn lag(&self, applied: u64, now: Instant) -> Option<f64> {
        let (_, newest) = *self.samples.back()?;
        if applied >= newest {
            return Some(0.0);
        }
        let i = self.samples.iter().position(|(_, o)| *o > applied)?;
        let written = match i.checked_sub(1).and_then(|j| self.samples.get(j)) {
            // Between two samples: in proportion to the bytes.
            Some(&(ta, oa)) => {
                let (tb, ob) = self.samples[i];
                let share = (applied + 1 - oa) as f64 / (ob - oa) as f64;
                ta + tb.duration_since(ta).mul_f64(share.clamp(0.0, 1.0))
            }
            // Older than the history: at least this old.
            None => self.samples[i].0,
        };
        Some(now.saturating_duration_since(written).as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_age_of_the_first_unapplied_write() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_millis(n);
        let mut c = Clock::default();
        assert_eq!(c.lag(0, t0), None);
        c.record(s(0), 100);
        c.record(s(1000), 200);
        c.record(s(1500), 200);
        c.record(s(2000), 300);
        assert_eq!(c.lag(300, s(2500)), Some(0.0));
        // Byte 150 was written half-way between 0 and 1000 ms.
        let lag = c.lag(149, s(2500)).unwrap();
        assert!((lag - 2.0).abs() < 0.02, "{lag}");
        // Byte 201: between 1000 ms (200) and 2000 ms (300).
        let lag = c.lag(200, s(2000)).unwrap();
        assert!((lag - 0.99).abs() < 0.02, "{lag}");
        // Older than every sample: at least the oldest's age.
        assert!((c.lag(10, s(3000)).unwrap() - 3.0).abs() < 0.01);
    }
}
