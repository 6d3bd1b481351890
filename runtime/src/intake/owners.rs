//! Updates that belong to one module go to that module only, whoever else wants their kind:
//!
//! - a plain text in a conversation a module declared it waits in (`outbox.expect-reply`, the
//!   SDK's dialogues while they ask; `store/conversations.rs`);
//! - a message that replies to a message a module sent;
//! - a poll's updates and answers, a reaction to a message (see
//!   `bot_api::update_kinds::owner_key`).
//!
//! And a button press goes to the module its tag names only when that module sent the pressed
//! message: the tag is the client's word, the owner record (`store/owners.rs`) the host's.

use teloxide_core::types::{Update, UpdateKind};

use super::Intake;
use crate::{
    modules::Reason,
    store::{Op, message_key},
};

/// How long after it was sent a message surely still has its owner record (records are kept
/// `TICKET_RETENTION`, 7 days; a day less leaves room for clocks and pruning).
const SURELY_RECORDED_SECS: u64 = 6 * 24 * 3600;

impl Intake {
    /// Narrows `routes` to the module `update` belongs to, when the store knows one and that
    /// module wants the update; drops the routes of button presses whose tag names a module
    /// that did not send the pressed message.
    pub(super) async fn to_owner(
        &self,
        routes: Vec<(String, Reason)>,
        update: &Update,
        raw: &serde_json::Value,
    ) -> Vec<(String, Reason)> {
        if matches!(update.kind, UpdateKind::CallbackQuery(_)) {
            let mut kept = Vec::new();
            for (module, reason) in routes {
                if self.pressed_own_message(&module, raw).await {
                    kept.push((module, reason));
                }
            }
            return kept;
        }
        if routes.len() < 2 {
            return routes;
        }
        match self.owner_of(update, raw).await {
            Some(owner) if routes.iter().any(|(m, _)| *m == owner) => {
                tracing::debug!(module = %owner, "update routed to the module it belongs to");
                routes.into_iter().filter(|(m, _)| *m == owner).collect()
            }
            _ => routes,
        }
    }

    /// The module `update` belongs to, if any: for a message that is not one of a module's
    /// commands, the module waiting for its sender's text in its chat, else the sender of the
    /// message it replies to; for other kinds, the sender of their poll or message.
    async fn owner_of(&self, update: &Update, raw: &serde_json::Value) -> Option<String> {
        let UpdateKind::Message(m) = &update.kind else {
            let key = crate::bot_api::update_kinds::owner_key(raw)?;
            return self.owner(&key).await.ok().flatten();
        };
        let chat = m.chat.id.0;
        if m.text().is_some() {
            let user = m.from.as_ref().and_then(|u| i64::try_from(u.id.0).ok());
            let waiting = match &self.inner.pg {
                Some(pg) => pg.conversation_owner(chat, user).await,
                None => self.inner.db.conversation_owner(chat, user),
            };
            if let Ok(Some(owner)) = waiting {
                return Some(owner);
            }
        }
        let replied = m.reply_to_message()?;
        let key = message_key(chat, i64::from(replied.id.0));
        let owner = self.owner(&key).await.ok().flatten();
        if owner.is_some() || !replied.from.as_ref().is_some_and(|u| u.is_bot) {
            return owner;
        }
        let sent = u64::try_from(replied.date.timestamp()).unwrap_or(0);
        self.wait_for_owner(&key, sent).await.ok().flatten()
    }

    /// The owner record of the bot's message `key`, sent at `sent` (Unix seconds). It is
    /// committed once the sender has read Telegram's answer, which a quick user's reply or
    /// press can overtake by a moment: for a message new enough to be in flight, wait for it up
    /// to 2 s.
    async fn wait_for_owner(&self, key: &str, sent: u64) -> crate::Result<Option<String>> {
        let fresh = crate::clock::unix_secs().saturating_sub(sent) < 30;
        let mut found = self.owner(key).await;
        for _ in 0..if fresh { 20 } else { 1 } {
            if !matches!(found, Ok(None)) {
                break;
            }
            self.settle().await;
            found = self.owner(key).await;
            if matches!(found, Ok(None)) && fresh {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        found
    }

    /// The module that sent what `key` names, read in the bot's store.
    async fn owner(&self, key: &str) -> crate::Result<Option<String>> {
        match &self.inner.pg {
            Some(pg) => pg.owner(key).await,
            None => self.inner.db.owner(key),
        }
    }

    /// Waits until every commit sent so far is durable: a message's owner record is
    /// committed just after Telegram took the message, and a quick user may answer first.
    async fn settle(&self) {
        let settled = self.inner.committer.commit(|done| Op::Record {
            updates: Vec::new(),
            skipped: Vec::new(),
            done: Some(done),
        });
        if let Err(e) = settled.await {
            tracing::debug!("the owner records could not be waited for: {e}");
        }
    }

    /// Whether `module`, named by a press's tag, sent the pressed message: its owner record
    /// says so; or there is none where one would surely be (the message was sent while every
    /// send is recorded, and recently enough not to be pruned), so no module sent it. A
    /// message older than the records is taken on the tag's word.
    async fn pressed_own_message(&self, module: &str, raw: &serde_json::Value) -> bool {
        let message = &raw["callback_query"]["message"];
        let (Some(chat), Some(id)) = (
            message["chat"]["id"].as_i64(),
            message["message_id"].as_i64(),
        ) else {
            // An inline message: the host cannot tell whose it is, nor can a module edit it.
            return true;
        };
        let key = message_key(chat, id);
        let sent = message["date"].as_u64().unwrap_or(0);
        let found = self.wait_for_owner(&key, sent).await;
        let owner = match found {
            Ok(Some(owner)) => Some(owner),
            Ok(None) => {
                let since = match &self.inner.pg {
                    Some(pg) => pg.owners_since().await,
                    None => self.inner.db.owners_since(),
                };
                let recorded = since.is_ok_and(|since| since <= sent)
                    && crate::clock::unix_secs().saturating_sub(sent) < SURELY_RECORDED_SECS;
                if !recorded {
                    return true;
                }
                None
            }
            Err(_) => None,
        };
        if owner.as_deref() == Some(module) {
            return true;
        }
        tracing::warn!(
            module,
            chat,
            message = id,
            owner = owner.as_deref().unwrap_or("no module"),
            "a button press names this module's tag on a message it did not send; not delivered"
        );
        false
    }
}
