//! What intake reads of the store on PostgreSQL while it routes updates and starts: the owners
//! of the bot's messages, modules' conversations, and where long polling resumes — the same
//! readings as the redb store's (`store/owners.rs`, `store/conversations.rs`,
//! `Db::last_seen`), from the tables the units of work and the outbox write.

use super::PgStore;
use crate::Result;

/// `botbox_meta`'s key of the time since which every sent message has its owner record.
const OWNERS_SINCE: &str = "owners_since";

impl PgStore {
    /// The highest update id ever recorded, by any node: long polling resumes after it.
    pub async fn last_seen(&self) -> Result<Option<u64>> {
        let rows = self
            .query("SELECT max(update_id) FROM botbox_seen", &[])
            .await?;
        Ok(rows
            .first()
            .and_then(|r| r.get::<_, Option<i64>>(0))
            .map(|v| v as u64))
    }

    /// The module that sent what `key` names (`store::message_key`), if recorded.
    pub async fn owner(&self, key: &str) -> Result<Option<String>> {
        let rows = self
            .query("SELECT v FROM botbox_owners WHERE k = $1", &[&key])
            .await?;
        Ok(rows.first().and_then(|r| {
            let v: &str = r.get(0);
            v.split_once(' ').map(|(_, m)| m.to_string())
        }))
    }

    /// Since when every message a module sends has an owner record (Unix seconds);
    /// `u64::MAX` when not yet.
    pub async fn owners_since(&self) -> Result<u64> {
        let rows = self
            .query("SELECT v FROM botbox_meta WHERE k = $1", &[&OWNERS_SINCE])
            .await?;
        Ok(rows
            .first()
            .and_then(|r| r.get::<_, &[u8]>(0).try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(u64::MAX))
    }

    /// Marks that from now on every message sent has its owner record (once: an earlier mark
    /// stays).
    pub async fn mark_owners_since(&self) -> Result<()> {
        let now = crate::clock::unix_secs().to_be_bytes();
        self.query(
            "INSERT INTO botbox_meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING",
            &[&OWNERS_SINCE, &now.as_slice()],
        )
        .await?;
        Ok(())
    }

    /// The module waiting for a text from `user_id` in `chat_id` (its own declaration first,
    /// then the chat's), if one still waits.
    pub async fn conversation_owner(
        &self,
        chat_id: i64,
        user_id: Option<i64>,
    ) -> Result<Option<String>> {
        let keys: Vec<String> = user_id
            .map(|u| crate::store::conversations::key(chat_id, Some(u)))
            .into_iter()
            .chain([crate::store::conversations::key(chat_id, None)])
            .collect();
        let rows = self
            .query(
                "SELECT k, v FROM botbox_conversations WHERE k = ANY($1)",
                &[&keys],
            )
            .await?;
        let now = crate::clock::unix_secs();
        for k in &keys {
            let found = rows.iter().find(|r| r.get::<_, &str>(0) == k);
            if let Some(row) = found
                && let Some((until, module)) = row.get::<_, &str>(1).split_once(' ')
                && until.parse::<u64>().is_ok_and(|u| u > now)
            {
                return Ok(Some(module.to_string()));
            }
        }
        Ok(None)
    }
}
