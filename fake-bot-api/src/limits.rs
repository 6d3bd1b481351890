//! Telegram's outbound limits as sliding-window logs.
//!
//! Each scope (a chat, a group, the whole bot) keeps the instants of the calls it admitted in
//! the last window. A call is admitted only if every scope it belongs to has room; otherwise
//! the caller learns how long until the fullest scope frees a slot: the instant of the
//! `len - limit + 1`-th oldest call plus the window, minus now, rounded up to whole seconds
//! (Telegram's `retry_after` is whole seconds and never 0). Refused calls are not recorded,
//! so a client that honours `retry_after` always gets through on its next try.

use std::{
    collections::{HashMap, VecDeque},
    time::Duration,
};

use tokio::time::Instant;

use crate::config::Limits;

const GROUP_WINDOW: Duration = Duration::from_secs(60);
const GLOBAL_WINDOW: Duration = Duration::from_secs(1);

/// The windows of every scope.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limits: Limits,
    chats: HashMap<i64, VecDeque<Instant>>,
    groups: HashMap<i64, VecDeque<Instant>>,
    global: VecDeque<Instant>,
}

impl RateLimiter {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            chats: HashMap::new(),
            groups: HashMap::new(),
            global: VecDeque::new(),
        }
    }

    /// Records a call to `chat_id` at `now` if all its scopes have room; otherwise returns the
    /// `retry_after` seconds.
    pub(crate) fn admit(&mut self, chat_id: i64, now: Instant) -> Result<(), u32> {
        let chat = self.chats.entry(chat_id).or_default();
        let mut wait = wait_for(chat, self.limits.chat_burst, self.limits.chat_window, now);
        if chat_id < 0 {
            let group = self.groups.entry(chat_id).or_default();
            wait = wait.max(wait_for(
                group,
                self.limits.group_per_minute,
                GROUP_WINDOW,
                now,
            ));
        }
        wait = wait.max(wait_for(
            &mut self.global,
            self.limits.global_per_second,
            GLOBAL_WINDOW,
            now,
        ));
        if let Some(wait) = wait {
            return Err(whole_seconds(wait));
        }
        self.chats.entry(chat_id).or_default().push_back(now);
        if chat_id < 0 {
            self.groups.entry(chat_id).or_default().push_back(now);
        }
        self.global.push_back(now);
        Ok(())
    }
}

/// Forgets calls older than `window`; returns how long until a call fits, if it does not now.
fn wait_for(
    log: &mut VecDeque<Instant>,
    limit: u32,
    window: Duration,
    now: Instant,
) -> Option<Duration> {
    while log.front().is_some_and(|&at| at + window <= now) {
        log.pop_front();
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if log.len() < limit {
        return None;
    }
    // The call that must leave the window before one more fits.
    let blocking = log[log.len() - limit];
    Some((blocking + window).saturating_duration_since(now))
}

fn whole_seconds(wait: Duration) -> u32 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    u32::try_from(seconds.max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_chat_window_answers_retry_after_until_it_frees() {
        let limits = Limits {
            chat_burst: 2,
            ..Limits::default()
        };
        let mut limiter = RateLimiter::new(limits);
        let start = Instant::now();
        assert_eq!(limiter.admit(7, start), Ok(()));
        assert_eq!(limiter.admit(7, start), Ok(()));
        assert_eq!(limiter.admit(7, start + Duration::from_millis(10)), Err(1));
        assert_eq!(
            limiter.admit(8, start),
            Ok(()),
            "other chats are not affected"
        );
        assert_eq!(limiter.admit(7, start + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn groups_are_limited_per_minute() {
        let limits = Limits {
            chat_burst: 100,
            group_per_minute: 2,
            ..Limits::default()
        };
        let mut limiter = RateLimiter::new(limits);
        let start = Instant::now();
        assert_eq!(limiter.admit(-5, start), Ok(()));
        assert_eq!(limiter.admit(-5, start + Duration::from_secs(1)), Ok(()));
        assert_eq!(limiter.admit(-5, start + Duration::from_secs(2)), Err(58));
    }
}
