//! Token buckets for Telegram's limits.
//!
//! A bucket holds up to `capacity` tokens and gains `rate` tokens per second; a message takes
//! one. A chat's bucket (capacity = `chat_burst`, rate = `chat_per_second`) lets a user get a few
//! replies at once and then about one per second; a group's second bucket (capacity and rate
//! from `group_per_minute`) caps it at 20 a minute; one global bucket (`global_per_second`)
//! caps the bot as a whole. A message goes out only when every bucket that applies has a token,
//! and it takes them all at once, so a message waiting on one bucket does not drain the others.

use std::time::{Duration, Instant};

/// One token bucket.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(capacity: f64, rate_per_sec: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            capacity,
            rate: rate_per_sec,
            tokens: capacity,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.capacity);
        self.last = now;
    }

    /// Whether a token is available now.
    pub fn ready(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    /// Takes a token (call after [`Self::ready`] said yes).
    pub fn take(&mut self) {
        self.tokens -= 1.0;
    }

    /// When the next token will be available.
    pub fn ready_at(&mut self, now: Instant) -> Instant {
        self.refill(now);
        if self.tokens >= 1.0 {
            now
        } else {
            now + Duration::from_secs_f64((1.0 - self.tokens) / self.rate)
        }
    }

    /// Whether the bucket is full (it can be forgotten).
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3.0, 1.0, t0);
        for _ in 0..3 {
            assert!(b.ready(t0));
            b.take();
        }
        assert!(!b.ready(t0));
        assert_eq!(b.ready_at(t0), t0 + Duration::from_secs(1));
        assert!(b.ready(t0 + Duration::from_millis(1000)));
        b.take();
        assert!(!b.ready(t0 + Duration::from_millis(1500)));
    }
}
