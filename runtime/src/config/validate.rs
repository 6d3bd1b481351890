//! The checks serde cannot make: ranges and required values, each refused with the setting's name.

use super::{Config, Mode};
use crate::{Error, Result};

impl Config {
    /// Checks what serde cannot: ranges and required values.
    pub fn validate(&self) -> Result<()> {
        self.http.validate()?;
        self.payments.validate()?;
        self.store.validate()?;
        let bad = |m: &str| Err(Error::Config(m.to_string()));
        if self.telegram.token.is_empty() {
            return bad("no bot token: set `telegram.token` or BOTBOX_TOKEN (or try `botbox dev`)");
        }
        if reqwest::Url::parse(&self.telegram.api_url).is_err() {
            return bad("`telegram.api_url` is not a URL");
        }
        if self.sandbox.shards == 0 || self.sandbox.shards > 256 {
            return bad("`sandbox.shards` must be 1..=256");
        }
        if self.sandbox.memory_mib == 0 || self.sandbox.call_timeout_ms == 0 {
            return bad("`sandbox.memory_mib` and `sandbox.call_timeout_ms` must be positive");
        }
        if self.sandbox.wall_timeout_ms < self.sandbox.call_timeout_ms {
            return bad("`sandbox.wall_timeout_ms` must be at least `sandbox.call_timeout_ms`");
        }
        if self.sandbox.shard_queue == 0 {
            return bad("`sandbox.shard_queue` must be positive");
        }
        if self.outbox.module_max_queued_bytes < 64 << 10 {
            return bad(
                "`outbox.module_max_queued_bytes` must be at least 65536 (room for a few messages)",
            );
        }
        if self.sandbox.max_timer_bytes < 16 << 10 {
            return bad("`sandbox.max_timer_bytes` must be at least 16384 (room for one timer)");
        }
        if self.sandbox.max_attempts == 0 {
            return bad("`sandbox.max_attempts` must be at least 1");
        }
        if self.sandbox.max_scan_entries == 0
            || self.sandbox.max_key_bytes == 0
            || self.sandbox.max_value_bytes == 0
        {
            return bad(
                "`sandbox.max_scan_entries`, `sandbox.max_key_bytes` and `sandbox.max_value_bytes` must be positive",
            );
        }
        if self.telegram.handle_at_once_ms > 1000 {
            return bad(
                "`telegram.handle_at_once_ms` must be 0..=1000 (it delays acknowledgements)",
            );
        }
        if self.telegram.poll_timeout_secs > 50 {
            return bad("`telegram.poll_timeout_secs` must be 0..=50 (Telegram's longest poll)");
        }
        for (name, m) in &self.modules {
            if m.outbox_per_minute == Some(0) {
                return Err(Error::Config(format!(
                    "`modules.{name}.outbox_per_minute` must be positive (leave it out to keep the module's own quota; `botbox module disable {name}` stops the module)"
                )));
            }
            super::http_private::check(name, &m.http_private)?;
            if let Some(g) = m
                .bot_api_grants
                .iter()
                .find(|g| !["bot-settings", "stars", "business", "members"].contains(&g.as_str()))
            {
                return Err(Error::Config(format!(
                    "`modules.{name}.bot_api_grants`: unknown grant `{g}` (grants are `bot-settings`, `stars`, `business` and `members`)"
                )));
            }
            if !m.member_chats.is_empty() && !m.bot_api_grants.iter().any(|g| g == "members") {
                return Err(Error::Config(format!(
                    "`modules.{name}.member_chats` narrows the `members` grant, which `modules.{name}.bot_api_grants` does not give"
                )));
            }
            if let Some(w) = m.wants.iter().flatten().find(|w| !is_narrowed_kind(w)) {
                return Err(Error::Config(format!(
                    "`modules.{name}.wants`: unknown kind `{w}` (kinds are `messages`, `edited_messages`, `other_updates` and Telegram's update kinds such as `poll_answer`)"
                )));
            }
        }
        super::module_settings::check_inline(&self.modules)?;
        if !(64..=16384).contains(&self.sandbox.max_stack_kib) {
            return bad("`sandbox.max_stack_kib` must be 64..=16384");
        }
        if !(100..=1_000_000).contains(&self.sandbox.max_table_elements) {
            return bad("`sandbox.max_table_elements` must be 100..=1000000");
        }
        if !(self.outbox.chat_per_second > 0.0 && self.outbox.chat_per_second.is_finite())
            || self.outbox.chat_burst == 0
            || self.outbox.global_per_second == 0
            || self.outbox.group_per_minute == 0
            || self.outbox.max_in_flight == 0
            || self.outbox.bulk_share == 0
            || self.outbox.paid_broadcast_per_second == 0
            || self.outbox.paid_broadcast_per_second > 1000
            || self.outbox.retry_for_secs == 0
            || self.outbox.retry_max_backoff_ms == 0
        {
            return bad(
                "`outbox` limits must be positive (paid_broadcast_per_second at most 1000)",
            );
        }
        if self.backup.telegram_part_bytes == 0 || self.backup.telegram_part_bytes > 20_000_000 {
            return bad(
                "`backup.telegram_part_bytes` must be 1..=20000000 (bots download at most 20 MB)",
            );
        }
        // Also reads the passphrase file, so that a missing one stops the start, not a backup.
        super::backup_keys::check(&self.backup).map_err(|e| match e {
            Error::Config(m) => Error::Config(m),
            other => Error::Config(format!("`backup.passphrase_file`: {other}")),
        })?;
        for (name, value, max) in [
            (
                "sandbox.max_key_bytes",
                self.sandbox.max_key_bytes,
                super::MAX_RECORD_KEY,
            ),
            (
                "sandbox.max_value_bytes",
                self.sandbox.max_value_bytes,
                super::MAX_RECORD_VALUE,
            ),
        ] {
            if value > max as usize {
                return Err(Error::Config(format!(
                    "`{name}` may be at most {max}: a backup holds no longer record"
                )));
            }
        }
        if self.backup.keep == 0 {
            return bad(
                "`backup.keep` must be at least 1 (0 would delete each backup as soon as it is made; set `backup.interval_secs = 0` for no scheduled backups)",
            );
        }
        let secret = self.telegram.webhook.secret.expose();
        let secret_ok = (16..=256).contains(&secret.len())
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if self.telegram.mode == Mode::Webhook && !secret_ok {
            return bad(
                "webhook mode needs `telegram.webhook.secret` (BOTBOX_WEBHOOK_SECRET): 16-256 of A-Z a-z 0-9 _ - (it is all that keeps others from sending the bot updates; `openssl rand -hex 32` makes one)",
            );
        }
        Ok(())
    }
}

/// Whether `w` may stand in a module's `wants`: the manifest's kinds, or a kind of update
/// Telegram names besides messages, edits and button presses.
fn is_narrowed_kind(w: &str) -> bool {
    ["messages", "edited_messages", "other_updates"].contains(&w)
        || (crate::bot_api::update_kinds::KINDS.contains(&w)
            && !["message", "edited_message", "callback_query"].contains(&w))
}
