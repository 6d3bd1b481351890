//! Rate limiters for Telegram's limits.
//!
//! Telegram states its limits as "N messages in a period" (30 per second overall, 20 per minute
//! in a group) and answers 429 the moment a window holds too many. A token bucket of capacity N
//! refilling N per period would allow up to 2N in one window, so hard caps use a
//! [`SlidingWindow`]: the time of each of the last N sends is kept, and a send may go when the
//! oldest of them left the window.
//!
//! Which time? Telegram counts a call when it *arrives*, somewhere between the moment we start it
//! and the moment its answer is back, and the delay varies per call (a loaded machine, a slow
//! connection). Counting calls from their start lets a late-arriving old call and a fast new one
//! land in the same Telegram window, one too many. So a call counts from the moment it starts
//! (while it is in flight it always counts) until one window after its answer came back: every
//! call Telegram can still see in its window is then also in ours, whatever the delays. The cost
//! is one round trip per window (30 sends per 1.1 s at 100 ms latency instead of per 1 s). Each
//! window is also widened by [`MARGIN`].
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

    /// Refills at `rate_per_sec` up to `capacity` from now on (the tokens it has are kept, up
    /// to the new capacity).
    pub fn set_rate(&mut self, capacity: f64, rate_per_sec: f64, now: Instant) {
        self.refill(now);
        self.capacity = capacity.max(1.0);
        self.rate = rate_per_sec;
        self.tokens = self.tokens.min(self.capacity);
    }

    /// Whether the bucket is full (it can be forgotten).
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.capacity
    }
}

/// At most `max` calls in any `window`, a call counting from its start until one window after it
/// ended (see the module docs).
#[derive(Debug, Clone)]
pub struct SlidingWindow {
    max: usize,
    window: Duration,
    /// When each of the last ended calls ended, oldest first.
    sent: VecDeque<Instant>,
    /// Calls started and not ended yet.
    in_flight: usize,
}

impl SlidingWindow {
    /// A window allowing `max` events per `window` (widened by [`MARGIN`]).
    pub fn new(max: u32, window: Duration) -> SlidingWindow {
        SlidingWindow {
            max: max.max(1) as usize,
            window: window + MARGIN,
            sent: VecDeque::new(),
            in_flight: 0,
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

    /// When the next call may start (`now` if it may). When the window is full of calls still in
    /// flight, the answer is a window from now; an ended call is the earlier wake-up.
    pub fn ready_at(&mut self, now: Instant) -> Instant {
        self.expire(now);
        let used = self.sent.len() + self.in_flight;
        if used < self.max {
            now
        } else if self.in_flight >= self.max {
            now + self.window
        } else {
            self.sent[used - self.max] + self.window
        }
    }

    /// Records that a call starts.
    pub fn take(&mut self) {
        self.in_flight += 1;
    }

    /// Allows `max` calls per window from now on (the calls it counts stay counted).
    pub fn set_max(&mut self, max: u32) {
        self.max = max.max(1) as usize;
        while self.sent.len() > self.max {
            self.sent.pop_front();
        }
    }

    /// Records that a call started with [`Self::take`] ended at `now`.
    pub fn settle(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.sent.push_back(now);
        while self.sent.len() > self.max {
            self.sent.pop_front();
        }
    }

    /// Whether no call is inside the window (it can be forgotten).
    pub fn is_idle(&mut self, now: Instant) -> bool {
        self.expire(now);
        self.sent.is_empty() && self.in_flight == 0
    }
}

/// A bot-wide limit: a hard sliding window of `per_second` a second, paced by a small token
/// bucket so that sends are spread over the second instead of leaving in one burst (a reply
/// arriving mid-second then waits one slot, ~33 ms at 30/s, not for the window to reopen).
#[derive(Debug, Clone)]
pub struct Paced {
    window: SlidingWindow,
    pace: TokenBucket,
}

impl Paced {
    /// A limit of `per_second`, with a tenth of a second's worth at once.
    pub fn new(per_second: u32, now: Instant) -> Paced {
        let rate = f64::from(per_second);
        Paced {
            window: SlidingWindow::new(per_second, Duration::from_secs(1)),
            pace: TokenBucket::new((rate / 10.0).max(1.0), rate, now),
        }
    }

    /// When the next call may start (`now` if it may).
    pub fn ready_at(&mut self, now: Instant) -> Instant {
        self.window.ready_at(now).max(self.pace.ready_at(now))
    }

    /// The limit becomes `per_second` (a node's share of the bot's limit changed); the calls it
    /// counts stay counted.
    pub fn set_per_second(&mut self, per_second: u32, now: Instant) {
        let rate = f64::from(per_second.max(1));
        self.window.set_max(per_second);
        self.pace.set_rate((rate / 10.0).max(1.0), rate, now);
    }

    /// Records that a call starts.
    pub fn take(&mut self) {
        self.window.take();
        self.pace.take();
    }

    /// Records that a call started with [`Self::take`] ended at `now`.
    pub fn settle(&mut self, now: Instant) {
        self.window.settle(now);
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
        // Send as fast as allowed for three seconds of simulated time; each call ends at once.
        while now < t0 + Duration::from_secs(3) {
            let at = w.ready_at(now);
            now = at;
            w.take();
            w.settle(now);
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

    #[test]
    fn a_call_counts_while_in_flight_and_for_a_window_after_it_ended() {
        let t0 = Instant::now();
        let window = Duration::from_secs(1) + MARGIN;
        let mut w = SlidingWindow::new(2, Duration::from_secs(1));
        w.take();
        w.take();
        // Both in flight: nothing may start, however long they take.
        assert!(w.ready_at(t0 + Duration::from_secs(5)) > t0 + Duration::from_secs(5));
        // The first ends 300 ms after it started: it counts until a window after that.
        let end = t0 + Duration::from_millis(300);
        w.settle(end);
        assert_eq!(w.ready_at(end), end + window);
        w.settle(end + Duration::from_millis(10));
        assert_eq!(w.ready_at(end + window), end + window);
        w.take();
        assert!(!w.is_idle(end + Duration::from_secs(10)));
    }
}
