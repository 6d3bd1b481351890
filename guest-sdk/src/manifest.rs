//! What a module tells the host about itself.

use crate::__private::botbox::bot::types as wit;

/// What a module is: its name and version, the commands it answers and the other updates it
/// wants. [`Module::init`](crate::Module::init) returns one.
///
/// ```
/// use botbox_sdk::Manifest;
///
/// let manifest = Manifest::new("clicker", "1.0.0")
///     .command("start", "Register and show the keyboard")
///     .wants_messages();
/// assert_eq!(manifest.name(), "clicker");
/// ```
///
/// The host checks the manifest when the module loads and refuses it, saying why, if a name or a
/// description breaks the rules below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    name: String,
    version: String,
    commands: Vec<(String, String, bool)>,
    wants: wit::UpdateFilter,
    outbox_per_minute: Option<u32>,
    kv_max_bytes: Option<u64>,
    kv_max_keys: Option<u64>,
    timers: bool,
    http_hosts: Vec<String>,
    kinds: Vec<String>,
}

impl Manifest {
    /// A manifest for the module `name` at `version`, answering no commands and wanting no other
    /// updates yet.
    ///
    /// `name` is 1-32 characters of `a-z`, `0-9`, `-` and `_`. It names the module's KV namespace,
    /// so keep it the same across versions. `version` is free-form; `env!("CARGO_PKG_VERSION")`
    /// is a good choice.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            commands: Vec::new(),
            wants: wit::UpdateFilter::empty(),
            outbox_per_minute: None,
            kv_max_bytes: None,
            kv_max_keys: None,
            timers: false,
            http_hosts: Vec::new(),
            kinds: Vec::new(),
        }
    }

    /// Asks for kinds of update by their Bot API names (`poll_answer`, `message_reaction`,
    /// `chat_member`, `inline_query`, ...; see docs/bot-api.md). They arrive as
    /// `UpdateKind::Other` with the raw JSON. A poll's answers come to the
    /// module that sent the poll, a reaction to the module that sent the message; the host
    /// refuses the module, naming the kind, if a name is not one it knows.
    pub fn wants_updates<S: Into<String>>(mut self, kinds: impl IntoIterator<Item = S>) -> Self {
        self.kinds.extend(kinds.into_iter().map(Into::into));
        self
    }

    /// The kinds asked for by name.
    pub fn wanted_updates(&self) -> &[String] {
        &self.kinds
    }

    /// Declares the most messages per minute the module needs (sends, edits and deletes; a
    /// broadcast counts each chat). The host delivers no faster, so one module cannot use up the
    /// whole bot's rate; the operator may narrow it further.
    pub fn outbox_per_minute(mut self, limit: u32) -> Self {
        self.outbox_per_minute = Some(limit);
        self
    }

    /// Declares the most bytes (keys plus values) the module will keep in its [KV store](crate::kv).
    /// Without it the host's default applies. The operator may narrow it, never widen it; a write
    /// past the quota fails with [`QuotaExceeded`](crate::kv::Error::QuotaExceeded) and writes
    /// nothing, so a runaway module cannot fill the disk.
    pub fn kv_max_bytes(mut self, bytes: u64) -> Self {
        self.kv_max_bytes = Some(bytes);
        self
    }

    /// Declares the most keys the module will keep in its [KV store](crate::kv), with the same
    /// rules as [`kv_max_bytes`](Self::kv_max_bytes).
    pub fn kv_max_keys(mut self, keys: u64) -> Self {
        self.kv_max_keys = Some(keys);
        self
    }

    /// Adds a command the module answers, shown in Telegram's command menu. `name` has no slash
    /// and is 1-32 characters of `a-z`, `0-9` and `_`; `description` is 1-256 characters.
    pub fn command(mut self, name: impl Into<String>, description: impl Into<String>) -> Self {
        self.commands.push((name.into(), description.into(), false));
        self
    }

    /// Adds a command only the bot's operators may use (Telegram user ids in the host's
    /// configuration). The host drops it, unseen by the module, when anyone else sends it, so
    /// the module need not check who asked.
    pub fn admin_command(
        mut self,
        name: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.commands.push((name.into(), description.into(), true));
        self
    }

    /// Declares that the module schedules timers. Without it every timer call fails with a
    /// `not-allowed` error; the operator may take the capability away.
    pub fn timers(mut self) -> Self {
        self.timers = true;
        self
    }

    /// Declares a host the module may reach over HTTP: an exact name (`api.example.com`) or one
    /// leading wildcard label (`*.example.com`). Requests to any other host are refused by the
    /// host; the operator may narrow the list further.
    pub fn http_host(mut self, host: impl Into<String>) -> Self {
        self.http_hosts.push(host.into());
        self
    }

    /// Asks for messages that are not one of the module's commands: plain text, presses of reply
    /// keyboard buttons (they arrive as text), media.
    pub fn wants_messages(mut self) -> Self {
        self.wants |= wit::UpdateFilter::MESSAGES;
        self
    }

    /// Asks for edited messages.
    pub fn wants_edited_messages(mut self) -> Self {
        self.wants |= wit::UpdateFilter::EDITED_MESSAGES;
        self
    }

    /// Asks for every other kind of update (polls, chat member changes, ...), delivered as
    /// [`UpdateKind::Other`](crate::types::UpdateKind::Other) with the raw JSON.
    pub fn wants_other_updates(mut self) -> Self {
        self.wants |= wit::UpdateFilter::OTHER_UPDATES;
        self
    }

    /// The module's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The module's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The commands, as `(name, description)` pairs, in the order they were added.
    pub fn commands(&self) -> impl Iterator<Item = (&str, &str)> {
        self.commands
            .iter()
            .map(|(name, description, _)| (name.as_str(), description.as_str()))
    }

    pub(crate) fn into_wit(self) -> wit::Manifest {
        wit::Manifest {
            name: self.name,
            version: self.version,
            commands: self
                .commands
                .into_iter()
                .map(|(name, description, admin_only)| wit::Command {
                    name,
                    description,
                    admin_only,
                })
                .collect(),
            wants: self.wants,
            outbox_per_minute: self.outbox_per_minute,
            kv_max_bytes: self.kv_max_bytes,
            kv_max_keys: self.kv_max_keys,
            timers: self.timers,
            http_hosts: self.http_hosts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_collects_commands_and_filters() {
        let manifest = Manifest::new("echo", "0.1.0")
            .command("edit", "Edit a message")
            .command("buttons", "Show buttons")
            .wants_messages()
            .wants_edited_messages()
            .into_wit();
        assert_eq!(manifest.name, "echo");
        assert_eq!(manifest.version, "0.1.0");
        let names: Vec<_> = manifest.commands.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["edit", "buttons"]);
        assert_eq!(
            manifest.wants,
            wit::UpdateFilter::MESSAGES | wit::UpdateFilter::EDITED_MESSAGES
        );
    }

    #[test]
    fn a_new_manifest_wants_nothing_else() {
        let manifest = Manifest::new("quiet", "1").into_wit();
        assert!(manifest.commands.is_empty());
        assert!(manifest.wants.is_empty());
        assert_eq!(manifest.outbox_per_minute, None);
        assert_eq!((manifest.kv_max_bytes, manifest.kv_max_keys), (None, None));
    }

    #[test]
    fn quotas_are_declared_only_when_asked_for() {
        let manifest = Manifest::new("notes", "1")
            .kv_max_bytes(1 << 20)
            .kv_max_keys(500)
            .into_wit();
        assert_eq!(manifest.kv_max_bytes, Some(1 << 20));
        assert_eq!(manifest.kv_max_keys, Some(500));
    }

    #[test]
    fn capabilities_are_declared_only_when_asked_for() {
        let plain = Manifest::new("plain", "1").command("a", "A").into_wit();
        assert!(!plain.timers && plain.http_hosts.is_empty());
        assert!(!plain.commands[0].admin_only);
        let full = Manifest::new("full", "1")
            .admin_command("ban", "Ban someone")
            .timers()
            .http_host("*.example.com")
            .into_wit();
        assert!(full.timers && full.commands[0].admin_only);
        assert_eq!(full.http_hosts, ["*.example.com"]);
    }
}
