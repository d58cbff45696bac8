use std::sync::{Arc, Mutex};

use billing_domain::{Clock, Timestamp, parse_timestamp, to_millis_precision};
use chrono::TimeDelta;

/// A [`Clock`] that tells the time it was set to until it is set or advanced again.
///
/// Clones share the time, so a test can keep one and hand another to the service.
#[derive(Debug, Clone)]
pub struct FixedClock {
    now: Arc<Mutex<Timestamp>>,
}

impl FixedClock {
    /// The instant every clock starts at when made with [`FixedClock::default`].
    pub const DEFAULT_START: &'static str = "2025-10-01T09:15:00Z";

    /// A clock stopped at `now` (truncated to milliseconds, as [`Clock::now`] promises).
    pub fn new(now: Timestamp) -> Self {
        Self {
            now: Arc::new(Mutex::new(to_millis_precision(now))),
        }
    }

    /// A clock stopped at `raw`, an RFC 3339 date-time or a plain date.
    ///
    /// # Panics
    /// When `raw` is neither (this is a test helper).
    pub fn at(raw: &str) -> Self {
        Self::new(parse_timestamp(raw).expect("FixedClock::at needs an RFC 3339 date-time"))
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: Timestamp) {
        *self.lock() = to_millis_precision(now);
    }

    /// Moves the clock forward by `by` (backward when negative) and returns the new time.
    pub fn advance(&self, by: TimeDelta) -> Timestamp {
        let mut now = self.lock();
        *now = to_millis_precision(*now + by);
        *now
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Timestamp> {
        self.now.lock().expect("the FixedClock mutex is poisoned")
    }
}

impl Default for FixedClock {
    fn default() -> Self {
        Self::at(Self::DEFAULT_START)
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_tells_the_time_it_was_set_to_and_clones_share_it() {
        let clock = FixedClock::at("2025-10-01T00:00:00Z");
        let shared = clock.clone();
        assert_eq!(shared.now(), parse_timestamp("2025-10-01").unwrap());
        clock.set(parse_timestamp("2025-10-02T00:00:00.123456Z").unwrap());
        assert_eq!(shared.now().to_rfc3339(), "2025-10-02T00:00:00.123+00:00");
        let later = clock.advance(TimeDelta::seconds(90));
        assert_eq!(later.to_rfc3339(), "2025-10-02T00:01:30.123+00:00");
        assert_eq!(shared.now(), later);
    }
}
