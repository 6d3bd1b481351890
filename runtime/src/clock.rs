//! Time: the system's Unix time (one place computes it), and the clock modules see.
//!
//! Timers' due times, the `now-unix-ms` host call and the moment timers fire all read one
//! [`Clock`]. In production it is the system clock. The module test harness (`botbox
//! test-runner`) moves it forward by hand, so a test can fire a timer due in a week at once
//! without the code under test knowing. It only ever moves forward: an offset is added to the
//! system time, never subtracted.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// Milliseconds since the Unix epoch by the system clock (0 if the clock is before 1970).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Seconds since the Unix epoch by the system clock (0 if the clock is before 1970).
pub fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The modules' clock: the system time plus an offset that only grows. Cheap to clone; clones
/// share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicU64>,
}

impl Clock {
    /// Milliseconds since the Unix epoch, as modules see them.
    pub fn now_ms(&self) -> u64 {
        unix_ms().saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by `by` (the harness's "advance time").
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone_forward_by_the_same_amount() {
        let clock = Clock::default();
        let other = clock.clone();
        let before = other.now_ms();
        clock.advance(Duration::from_secs(7 * 24 * 3600));
        let after = other.now_ms();
        assert!(after >= before + 7 * 24 * 3600 * 1000, "{before} → {after}");
        assert!(
            after < before + 7 * 24 * 3600 * 1000 + 60_000,
            "{before} → {after}"
        );
    }
}
