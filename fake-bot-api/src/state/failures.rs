//! Failures a test forces on the next calls of a method ([`FakeBotApi::fail_next`]) or on every
//! call for a while ([`FakeBotApi::fail_all`]).
//!
//! [`FakeBotApi::fail_next`]: crate::FakeBotApi::fail_next
//! [`FakeBotApi::fail_all`]: crate::FakeBotApi::fail_all

use std::{
    collections::{HashMap, VecDeque},
    time::Duration,
};

use tokio::time::Instant;

use crate::{config::Failure, error::ApiError};

/// What a forced failure does to one call.
#[derive(Debug)]
pub(crate) enum Forced {
    /// Answer with this error instead of running the call.
    Error(ApiError),
    /// Wait this long, then run the call.
    Before(Duration),
    /// Run the call, then wait this long before answering.
    After(Duration),
}

impl From<Failure> for Forced {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::RetryAfter(seconds) => Self::Error(ApiError::too_many_requests(seconds)),
            Failure::Api { code, description } => Self::Error(ApiError::new(code, description)),
            Failure::Raw { status, body } => Self::Error(ApiError {
                raw_body: Some(body),
                ..ApiError::new(status, String::new())
            }),
            Failure::Delay(delay) => Self::Before(delay),
            Failure::DelayAnswer(delay) => Self::After(delay),
        }
    }
}

/// The forced failures, by lower-case method name.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    /// One failure per coming call, in order.
    next: HashMap<String, VecDeque<Failure>>,
    /// Every call fails until the instant.
    storms: HashMap<String, (Instant, Failure)>,
}

impl Failures {
    pub(crate) fn push_next(&mut self, method: String, times: usize, failure: Failure) {
        let queue = self.next.entry(method).or_default();
        queue.extend(std::iter::repeat_n(failure, times));
    }

    pub(crate) fn start_storm(&mut self, method: String, until: Instant, failure: Failure) {
        self.storms.insert(method, (until, failure));
    }

    /// The failure the call of `method` at `now` gets: the next queued one, else the storm's.
    pub(crate) fn take(&mut self, method: &str, now: Instant) -> Option<Forced> {
        if let Some(queue) = self.next.get_mut(method) {
            let failure = queue.pop_front();
            if queue.is_empty() {
                self.next.remove(method);
            }
            if let Some(failure) = failure {
                return Some(failure.into());
            }
        }
        match self.storms.get(method) {
            Some((until, failure)) if *until > now => Some(failure.clone().into()),
            Some(_) => {
                self.storms.remove(method);
                None
            }
            None => None,
        }
    }
}
