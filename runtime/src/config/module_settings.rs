//! `[modules.<name>]`: what the operator sets for one module. Each setting narrows what the
//! module's manifest declares; none widens it.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{Error, Result};

/// One module's settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModuleSettings {
    /// The values the module reads through its `config` import.
    pub config: toml::Table,
    /// Narrows the module's outbox quota (messages per minute); it can never widen what the
    /// module's manifest declares.
    pub outbox_per_minute: Option<u32>,
    /// Narrows the module's KV byte quota; never widens it.
    pub kv_max_bytes: Option<u64>,
    /// Narrows the module's KV key quota; never widens it.
    pub kv_max_keys: Option<u64>,
    /// `false` takes the timers capability away from a module that declares it.
    pub timers: Option<bool>,
    /// Narrows the HTTP hosts the module declares to those listed here (same patterns).
    pub http_hosts: Option<Vec<String>>,
    /// The non-public addresses its outgoing HTTP may reach (loopback, private, link-local...),
    /// as addresses or CIDR ranges (`127.0.0.1`, `10.0.0.0/8`); none by default.
    pub http_private: Vec<String>,
    /// More of its commands that only operators may use, besides those its manifest marks.
    pub admin_commands: Vec<String>,
    /// Bot API methods beyond sends, edits, answers and reads that it may call:
    /// `bot-settings` (the bot's commands, name, descriptions, photo, menu button),
    /// `stars` (the bot's balance, transactions, refunds, gifts it pays for), `business`
    /// (connected business accounts), `members` (ban, restrict, promote, approve or decline
    /// join requests, set a group's permissions). None by default.
    pub bot_api_grants: Vec<String>,
    /// Narrows the `members` grant to these chats (group ids); empty: every group the bot
    /// administers.
    pub member_chats: Vec<i64>,
    /// Lets it call Bot API methods newer than this host knows (unchecked parameters).
    pub unknown_bot_api_methods: bool,
    /// Narrows the updates it receives beyond its commands and button presses to these kinds:
    /// `messages`, `edited_messages`, `other_updates`, or Telegram's name of a kind
    /// (`poll_answer`, `message_reaction`, ...). Never widens what the module asks for.
    pub wants: Option<Vec<String>>,
    /// Which inline queries (`@bot query`) it answers when several modules want them: those
    /// whose first word is this prefix (letters, digits, `_` and `-`, compared without case),
    /// or `*` for those no other module's prefix takes. A query reaches one module, and the
    /// `chosen_inline_result` of its answer the same one (docs/inline.md).
    pub inline: Option<String>,
}

/// The longest inline prefix: a query's first word, as short as a command.
const MAX_INLINE_PREFIX: usize = 32;

/// Checks the modules' `inline` settings: each a prefix of letters, digits, `_` and `-`, or
/// `*`; no prefix given to two modules, and at most one `*`.
pub(super) fn check_inline(modules: &BTreeMap<String, ModuleSettings>) -> Result<()> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (name, m) in modules {
        let Some(prefix) = m.inline.as_deref() else {
            continue;
        };
        let valid = prefix == "*"
            || (!prefix.is_empty()
                && prefix.len() <= MAX_INLINE_PREFIX
                && prefix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        if !valid {
            return Err(Error::Config(format!(
                "`modules.{name}.inline`: `{prefix}` is neither `*` nor a prefix of 1-{MAX_INLINE_PREFIX} letters, digits, `_` and `-`"
            )));
        }
        if let Some(other) = seen.insert(prefix.to_ascii_lowercase(), name) {
            let what = if prefix == "*" {
                "only one module may answer the inline queries no prefix takes (`*`)".to_string()
            } else {
                format!("the prefix `{prefix}` can lead to one module only")
            };
            return Err(Error::Config(format!(
                "`modules.{other}.inline` and `modules.{name}.inline`: {what}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modules(prefixes: &[(&str, &str)]) -> BTreeMap<String, ModuleSettings> {
        prefixes
            .iter()
            .map(|(name, prefix)| {
                let settings = ModuleSettings {
                    inline: Some(prefix.to_string()),
                    ..ModuleSettings::default()
                };
                (name.to_string(), settings)
            })
            .collect()
    }

    #[test]
    fn inline_prefixes_are_words_unique_and_one_default_at_most() {
        assert!(check_inline(&modules(&[("qr", "*"), ("shop", "shop")])).is_ok());
        let err = check_inline(&modules(&[("a", "shop"), ("b", "SHOP")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`modules.a.inline` and `modules.b.inline`"),
            "{err}"
        );
        let err = check_inline(&modules(&[("a", "*"), ("b", "*")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("only one module"), "{err}");
        for bad in ["", "two words", "qr:", &"x".repeat(33)] {
            let err = check_inline(&modules(&[("qr", bad)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("`modules.qr.inline`"), "{bad}: {err}");
        }
    }
}
