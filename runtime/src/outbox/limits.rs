//! Rate limiters for Telegram's limits.
//!
//! Telegram states its limits as "N messages in a period" (30 per second overall, 20 per minute
//! in a group) and answers 429 the moment a window holds too many. A token bucket of capacity N
//! refilling N per period would allow up to 2N in one window, so hard caps use a
//! [`SlidingWindow`]: the time of each of the last N sends is kept, and a send may go when the
//! oldest of them left the window. Each window is widened by [`MARGIN`] so that network jitter
//! between our clock and Telegram's cannot squeeze N+1 sends into Telegram's window.
//!
//! Within a chat Telegram asks for "about one message per second" and tolerates short bursts: a
//! [`TokenBucket`] (capacity `chat_burst`, refill `chat_per_second`) gives that shape, and a
//! sliding window of `chat_burst` per second caps the burst itself.
//!
//! A message goes out only when every limiter that applies to it has room, and then it takes
//! from all of them at once, so a message waiting on one limiter does not drain the others.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

/// Added to every window (see the module docs).
pub const MARGIN: Duration = Duration::from_millis(20);

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
            capacity: capacity.max(1.0),
            rate: rate_per_sec,
            tokens: capacity.max(1.0),
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.capacity);
        self.last = now;
    }

    /// When the next token will be available (`now` if one is).
    pub fn ready_at(&mut self, now: Instant) -> Instant {
        self.refill(now);
        if self.tokens >= 1.0 {
            now
        } else {
            now + Duration::from_secs_f64((1.0 - self.tokens) / self.rate)
        }
    }

    /// Takes a token (call when [`Self::ready_at`] said now).
    pub fn take(&mut self) {
        self.tokens -= 1.0;
    }

    /// Whether the bucket is full (it can be forgotten).
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.capacity
    }
}

/// At most `max` events in any `window`.
#[derive(Debug, Clone)]
pub struct SlidingWindow {
    max: usize,
    window: Duration,
    sent: VecDeque<Instant>,
}

impl SlidingWindow {
    /// A window allowing `max` events per `window` (widened by [`MARGIN`]).
    pub fn new(max: u32, window: Duration) -> SlidingWindow {
        SlidingWindow {
            max: max.max(1) as usize,
            window: window + MARGIN,
            sent: VecDeque::new(),
        }
    }

    fn expire(&mut self, now: Instant) {
        while self
            .sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            self.sent.pop_front();
        }
    }

    /// When the next event may happen (`now` if it may).
    pub fn ready_at(&mut self, now: Instant) -> Instant {
        self.expire(now);
        if self.sent.len() < self.max {
            now
        } else {
            self.sent[self.sent.len() - self.max] + self.window
        }
    }

    /// Records an event at `now`.
    pub fn take(&mut self, now: Instant) {
        self.sent.push_back(now);
        while self.sent.len() > self.max {
            self.sent.pop_front();
        }
    }

    /// Whether no event is inside the window (it can be forgotten).
    pub fn is_idle(&mut self, now: Instant) -> bool {
        self.expire(now);
        self.sent.is_empty()
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
            assert_eq!(b.ready_at(t0), t0);
            b.take();
        }
        assert_eq!(b.ready_at(t0), t0 + Duration::from_secs(1));
        assert_eq!(
            b.ready_at(t0 + Duration::from_secs(1)),
            t0 + Duration::from_secs(1)
        );
        b.take();
        assert!(b.ready_at(t0 + Duration::from_millis(1500)) > t0 + Duration::from_millis(1500));
    }

    #[test]
    fn a_window_never_holds_more_than_its_maximum() {
        let t0 = Instant::now();
        let mut w = SlidingWindow::new(30, Duration::from_secs(1));
        let mut now = t0;
        let mut times = Vec::new();
        // Send as fast as allowed for three seconds of simulated time.
        while now < t0 + Duration::from_secs(3) {
            let at = w.ready_at(now);
            now = at;
            w.take(now);
            times.push(now);
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .filter(|u| **u - *t < Duration::from_secs(1))
                .count();
            assert!(in_window <= 30, "{in_window} sends within one second");
        }
        // And it is not much slower than the limit: 30 per (1 s + margin).
        assert!(times.len() >= 85, "{} sends in 3 s", times.len());
    }
}
