//! Chat members read a moment ago: `getChatMember` answers are kept for [`MEMBER_CACHE_FOR`], so
//! a module that checks whether the sender of every command is an admin asks Telegram once a
//! minute per person, not once per message. A member method a module queues for someone
//! (ban, restrict, promote, ...) forgets what was kept of them.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use serde_json::{Map, Value};

/// How long a `getChatMember` answer is reused: a promotion or demotion made elsewhere may
/// take this long to show.
pub const MEMBER_CACHE_FOR: Duration = Duration::from_secs(60);
/// Most answers kept; past it the stale ones go, then all.
const MAX_KEPT: usize = 10_000;

/// (chat, user) → when read, and Telegram's `ChatMember`.
#[derive(Debug, Default)]
pub struct Members(Mutex<HashMap<(i64, i64), (Instant, Value)>>);

/// The (chat, user) a call's parameters name, when both are numbers.
pub fn named(params: &Map<String, Value>) -> Option<(i64, i64)> {
    Some((
        params.get("chat_id")?.as_i64()?,
        params.get("user_id")?.as_i64()?,
    ))
}

impl Members {
    /// What was read of `who` less than [`MEMBER_CACHE_FOR`] ago.
    pub fn get(&self, who: (i64, i64)) -> Option<Value> {
        let map = self.0.lock();
        let (at, member) = map.get(&who)?;
        (at.elapsed() < MEMBER_CACHE_FOR).then(|| member.clone())
    }

    /// Keeps what was just read of `who`.
    pub fn keep(&self, who: (i64, i64), member: Value) {
        let mut map = self.0.lock();
        if map.len() >= MAX_KEPT {
            map.retain(|_, (at, _)| at.elapsed() < MEMBER_CACHE_FOR);
            if map.len() >= MAX_KEPT {
                map.clear();
            }
        }
        map.insert(who, (Instant::now(), member));
    }

    /// Forgets `who`: something was done to them.
    pub fn forget(&self, who: (i64, i64)) {
        self.0.lock().remove(&who);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_is_kept_until_forgotten_and_only_numbers_name_one() {
        let members = Members::default();
        assert_eq!(members.get((-1, 7)), None);
        members.keep((-1, 7), serde_json::json!({"status": "administrator"}));
        assert_eq!(members.get((-1, 7)).unwrap()["status"], "administrator");
        members.forget((-1, 7));
        assert_eq!(members.get((-1, 7)), None);
        let mut params = Map::new();
        params.insert("chat_id".into(), Value::from("@channel"));
        params.insert("user_id".into(), Value::from(7));
        assert_eq!(named(&params), None);
        params.insert("chat_id".into(), Value::from(-1));
        assert_eq!(named(&params), Some((-1, 7)));
    }
}
