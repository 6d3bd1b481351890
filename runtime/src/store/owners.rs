//! Which module sent a message or a poll, for the updates that belong to it: a poll's updates
//! and answers, reactions to a message (see `bot_api::update_kinds::owner_key`), a reply to a
//! message, a press of a button under it. Written when a delivery is recorded (every message
//! a module sends, through `outbox` or `bot-api`), read when such an update is routed, kept
//! [`super::retention::TICKET_RETENTION`] like the tickets.

use redb::{ReadableDatabase, ReadableTable};

use super::{
    Db,
    tables::{META, META_OWNERS_SINCE, OWNERS},
};
use crate::Result;

/// A row's value: `<unix seconds> <module>`.
fn row(module: &str) -> String {
    format!("{} {module}", crate::clock::unix_secs())
}

/// Records `owned` (key, module) in `txn`.
pub(super) fn record(txn: &redb::WriteTransaction, owned: &[(String, String)]) -> Result<()> {
    if owned.is_empty() {
        return Ok(());
    }
    let mut t = txn.open_table(OWNERS)?;
    for (key, module) in owned {
        t.insert(key.as_str(), row(module).as_str())?;
    }
    Ok(())
}

/// Marks, once, the time from which every message a module sends has an owner record.
pub(super) fn mark_since(txn: &redb::WriteTransaction) -> Result<()> {
    let mut meta = txn.open_table(META)?;
    if meta.get(META_OWNERS_SINCE)?.is_none() {
        let now = crate::clock::unix_secs().to_be_bytes();
        meta.insert(META_OWNERS_SINCE, now.as_slice())?;
    }
    Ok(())
}

/// The key of message `message_id` in `chat_id`.
pub fn message_key(chat_id: i64, message_id: i64) -> String {
    format!("msg:{chat_id}:{message_id}")
}

impl Db {
    /// Since when every message a module sends has an owner record, Unix seconds.
    pub fn owners_since(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        Ok(meta
            .get(META_OWNERS_SINCE)?
            .and_then(|v| v.value().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(u64::MAX))
    }

    /// The module that sent what `key` names, if the store knows it.
    pub fn owner(&self, key: &str) -> Result<Option<String>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(OWNERS)?;
        Ok(t.get(key)?
            .and_then(|v| v.value().split_once(' ').map(|(_, m)| m.to_string())))
    }

    /// Forgets owners recorded more than `max_age` ago; returns how many.
    pub fn prune_owners(&self, max_age: std::time::Duration) -> Result<usize> {
        let cutoff = crate::clock::unix_secs().saturating_sub(max_age.as_secs());
        self.prune_text_rows(OWNERS, |v| {
            let at = v
                .split_once(' ')
                .and_then(|(s, _)| s.parse::<u64>().ok())
                .unwrap_or(0);
            at < cutoff
        })
    }
}
