//! What modules' Bot API calls made outside the outbox share: the transport (reads, downloads,
//! chat actions), the chat actions sent a moment ago (coalesced), and each module's budget of
//! reads and downloaded bytes per minute.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use parking_lot::Mutex;

use crate::bot_api::transport::Transport;

pub mod members;

/// Most reads (and downloads) one module may make per minute.
pub const READS_PER_MINUTE: u32 = 600;
/// Most bytes one module may download per minute.
pub const DOWNLOAD_BYTES_PER_MINUTE: u64 = 200 << 20;
/// Telegram's limit on files bots download: 20 MB.
pub const MAX_DOWNLOAD_BYTES: u64 = 20 << 20;
/// How long a read may wait for Telegram.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a download may take.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// The same chat action in the same chat is sent at most this often (Telegram shows one for
/// five seconds).
pub const CHAT_ACTION_EVERY: Duration = Duration::from_secs(4);

/// The Bot API as modules reach it outside the outbox.
#[derive(Debug)]
pub struct BotAccess {
    /// The connection to the Bot API.
    pub transport: Transport,
    /// (chat, action) → when it was last sent.
    chat_actions: Mutex<HashMap<(i64, String), Instant>>,
    /// Chat members read a moment ago.
    pub members: members::Members,
}

impl BotAccess {
    /// Access through `transport`.
    pub fn new(transport: Transport) -> Arc<BotAccess> {
        Arc::new(BotAccess {
            transport,
            chat_actions: Mutex::default(),
            members: members::Members::default(),
        })
    }

    /// Whether `action` in `chat` should be sent now (it was not sent in the last few seconds);
    /// if so, it counts as sent.
    pub fn chat_action_due(&self, chat: i64, action: &str) -> bool {
        let now = Instant::now();
        let mut map = self.chat_actions.lock();
        // Bounded: entries older than the interval are dropped before one is added.
        if map.len() >= 10_000 {
            map.retain(|_, at| now.duration_since(*at) < CHAT_ACTION_EVERY);
        }
        match map.get(&(chat, action.to_string())) {
            Some(at) if now.duration_since(*at) < CHAT_ACTION_EVERY => false,
            _ => {
                map.insert((chat, action.to_string()), now);
                true
            }
        }
    }
}

/// One module's reads and downloaded bytes in the current minute.
#[derive(Debug)]
pub struct ReadBudget(Mutex<(Instant, u32, u64)>);

impl Default for ReadBudget {
    fn default() -> Self {
        ReadBudget(Mutex::new((Instant::now(), 0, 0)))
    }
}

impl ReadBudget {
    fn window(&self) -> parking_lot::MutexGuard<'_, (Instant, u32, u64)> {
        let mut w = self.0.lock();
        if w.0.elapsed() >= Duration::from_secs(60) {
            *w = (Instant::now(), 0, 0);
        }
        w
    }

    /// Counts one read; `Err` says the module made too many this minute.
    pub fn read(&self) -> Result<(), String> {
        let mut w = self.window();
        if w.1 >= READS_PER_MINUTE {
            return Err(format!(
                "at most {READS_PER_MINUTE} Bot API reads and downloads per minute"
            ));
        }
        w.1 += 1;
        Ok(())
    }

    /// The bytes the module may still download this minute.
    pub fn download_room(&self) -> u64 {
        DOWNLOAD_BYTES_PER_MINUTE.saturating_sub(self.window().2)
    }

    /// Counts `bytes` downloaded.
    pub fn downloaded(&self, bytes: u64) {
        self.window().2 += bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_action_is_sent_once_per_interval_per_chat_and_action() {
        let bot = teloxide_core::Bot::new("1:x");
        let access = BotAccess::new(Transport::of(&bot));
        assert!(access.chat_action_due(1, "typing"));
        assert!(!access.chat_action_due(1, "typing"));
        assert!(access.chat_action_due(1, "upload_photo"));
        assert!(access.chat_action_due(2, "typing"));
    }

    #[test]
    fn reads_past_the_budget_are_refused_naming_it() {
        let budget = ReadBudget::default();
        for _ in 0..READS_PER_MINUTE {
            budget.read().unwrap();
        }
        assert!(budget.read().unwrap_err().contains("600 Bot API reads"));
        budget.downloaded(DOWNLOAD_BYTES_PER_MINUTE - 5);
        assert_eq!(budget.download_room(), 5);
    }
}
