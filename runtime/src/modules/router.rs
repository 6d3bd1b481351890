//! Which modules an update goes to.
//!
//! - A command (`/name`, `/name@this_bot`, with or without arguments) goes to the module whose
//!   manifest lists it; when two modules list the same command the one loaded first keeps it.
//!   `/name@other_bot` is for another bot and is dropped.
//! - A callback query goes to the module whose tag starts its data (`<tag>:<data>`); the host
//!   added the tag when the module drew the button.
//! - An inline query goes to one of the modules that want inline queries: the one whose
//!   operator-set prefix is the query's first word, else the one set to `*`, else the only one
//!   with no prefix set. Its `chosen_inline_result` follows the same rule, so it reaches the
//!   module that answered the query (if that module wants chosen results).
//! - A payment's updates (pre-checkout and shipping queries, the messages of a successful and
//!   of a refunded payment) go to the module whose tag starts the invoice's payload: the host
//!   added it when the module issued the invoice (`bot_api::payments`), whatever it wants.
//! - Other messages, edited messages and other updates go to every module that asked for them.
//! - A command marked admin-only (by the manifest or the operator's config) goes nowhere unless
//!   its sender is one of the configured operators.

use std::collections::{HashMap, HashSet};

use teloxide_core::types::{self as tg, UpdateKind};

use crate::bindings::types::{Manifest, UpdateFilter};

/// How an update reached a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// One of its commands: (command, arguments).
    Command(String, String),
    /// A press of one of its buttons, with the data as the module wrote it.
    Callback(String),
    /// An update about one of its invoices (the tag comes off the payload on delivery).
    Payment,
    /// It asked for this kind of update.
    Wanted,
}

/// The routing table, rebuilt whenever the set of modules changes.
#[derive(Default, Clone)]
pub struct Router {
    bot_username: String,
    operators: HashSet<i64>,
    admin_only: HashSet<String>,
    commands: HashMap<String, String>,
    /// Each command with its description, in the order modules were added.
    described: Vec<(String, String)>,
    tags: HashMap<String, String>,
    messages: Vec<String>,
    edited: Vec<String>,
    other: Vec<String>,
    /// Kinds of update asked for by name (`bot-api.want-updates`): kind → modules.
    kinds: HashMap<String, Vec<String>>,
    /// The operator's inline prefixes (lower case, or `*`): module → prefix.
    inline_prefixes: HashMap<String, String>,
}

impl Router {
    /// The bot's username, without the `@`.
    pub fn bot_username(&self) -> &str {
        &self.bot_username
    }

    /// An empty table for the bot `@bot_username` run by `operators` (Telegram user ids).
    pub fn new(bot_username: &str, operators: &[i64]) -> Router {
        Router {
            bot_username: bot_username.to_ascii_lowercase(),
            operators: operators.iter().copied().collect(),
            ..Router::default()
        }
    }

    /// An empty table with the bot and operators of this one.
    pub fn empty_like(&self) -> Router {
        Router {
            bot_username: self.bot_username.clone(),
            operators: self.operators.clone(),
            ..Router::default()
        }
    }

    /// Adds a module, with `extra_admin` commands restricted to operators besides those its
    /// manifest marks, and the updates it wants (its manifest's and the `kinds` it asked for
    /// by name) narrowed to the operator's `narrowed` list when there is one (see
    /// `ModuleSettings::wants`); returns the commands it lost to modules added earlier.
    pub fn add(
        &mut self,
        manifest: &Manifest,
        tag: &str,
        extra_admin: &[String],
        kinds: &[String],
        narrowed: Option<&[String]>,
    ) -> Vec<String> {
        let name = &manifest.name;
        let mut lost = Vec::new();
        for c in &manifest.commands {
            let cmd = c.name.to_ascii_lowercase();
            let owner = self
                .commands
                .entry(cmd.clone())
                .or_insert_with(|| name.clone());
            if owner != name {
                lost.push(c.name.clone());
                continue;
            }
            self.described.push((cmd.clone(), c.description.clone()));
            if c.admin_only || extra_admin.iter().any(|a| a.eq_ignore_ascii_case(&cmd)) {
                self.admin_only.insert(cmd);
            }
        }
        self.tags.insert(tag.to_string(), name.clone());
        let kept = |kind: &str| narrowed.is_none_or(|n| n.iter().any(|k| k == kind));
        if manifest.wants.contains(UpdateFilter::MESSAGES) && kept("messages") {
            self.messages.push(name.clone());
        }
        if manifest.wants.contains(UpdateFilter::EDITED_MESSAGES) && kept("edited_messages") {
            self.edited.push(name.clone());
        }
        let other = manifest.wants.contains(UpdateFilter::OTHER_UPDATES);
        let mut named: Vec<&String> = kinds.iter().collect();
        if other && kept("other_updates") {
            self.other.push(name.clone());
        } else if other {
            // All other kinds, narrowed to those the operator names.
            named.extend(
                narrowed
                    .into_iter()
                    .flatten()
                    .filter(|k| !["messages", "edited_messages"].contains(&k.as_str())),
            );
        }
        for kind in named {
            if !kept("other_updates") && !kept(kind.as_str()) {
                continue;
            }
            let modules = self.kinds.entry(kind.clone()).or_default();
            if !modules.contains(name) {
                modules.push(name.clone());
            }
        }
        lost
    }

    /// Gives `module` the inline queries whose first word is `prefix` (`*`: those no other
    /// prefix takes); see the module docs.
    pub fn set_inline_prefix(&mut self, module: &str, prefix: &str) {
        self.inline_prefixes
            .insert(module.to_string(), prefix.to_ascii_lowercase());
    }

    /// The module an inline query (or the chosen result of one) with text `query` goes to.
    pub fn inline_owner(&self, query: &str) -> Option<&str> {
        let candidates = self.inline_candidates();
        let first = query.split_whitespace().next().unwrap_or("");
        let prefix_of = |m: &str| self.inline_prefixes.get(m).map(String::as_str);
        let by_prefix = |p: &str| {
            candidates
                .iter()
                .find(|m| prefix_of(m).is_some_and(|mine| mine.eq_ignore_ascii_case(p)))
        };
        if let Some(m) = by_prefix(first).filter(|_| first != "*") {
            return Some(m);
        }
        if let Some(m) = by_prefix("*") {
            return Some(m);
        }
        let mut unset = candidates.iter().filter(|m| prefix_of(m).is_none());
        match (unset.next(), unset.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }

    /// The modules that may answer inline queries: those that asked for them by name, or, when
    /// none did, those that want every kind of update.
    fn inline_candidates(&self) -> Vec<&str> {
        match self.kinds.get("inline_query") {
            Some(named) if !named.is_empty() => named.iter().map(String::as_str).collect(),
            _ => self.other.iter().map(String::as_str).collect(),
        }
    }

    /// Modules that want inline queries with no prefix to tell them apart: when there are
    /// several and no `*`, queries without a prefix reach none of them.
    pub fn undecided_inline(&self) -> Vec<&str> {
        let candidates = self.inline_candidates();
        let unset: Vec<&str> = candidates
            .into_iter()
            .filter(|m| !self.inline_prefixes.contains_key(*m))
            .collect();
        let default_set = self.inline_prefixes.values().any(|p| p == "*");
        if unset.len() > 1 && !default_set {
            unset
        } else {
            Vec::new()
        }
    }

    /// Whether any module wants updates beyond messages and button presses.
    pub fn wants_other(&self) -> bool {
        !self.other.is_empty()
    }

    /// Whether any module wants edited messages.
    pub fn wants_edited(&self) -> bool {
        !self.edited.is_empty()
    }

    /// The modules `u` goes to, each with the reason.
    pub fn route(&self, u: &tg::Update, raw: &serde_json::Value) -> Vec<(String, Reason)> {
        if crate::bot_api::payments::is_about_invoice(raw) {
            let payload = crate::bot_api::payments::invoice_payload(raw).unwrap_or("");
            return payload
                .split_once(':')
                .and_then(|(tag, _)| self.tags.get(tag))
                .map(|m| vec![(m.clone(), Reason::Payment)])
                .unwrap_or_default();
        }
        match &u.kind {
            UpdateKind::Message(m) => {
                if let Some(text) = m.text()
                    && let Some((cmd, args, for_us)) = self.parse_command(text)
                {
                    if !for_us {
                        return Vec::new();
                    }
                    if self.admin_only.contains(&cmd) && !self.is_operator(m.from.as_ref()) {
                        return Vec::new();
                    }
                    if let Some(owner) = self.commands.get(&cmd) {
                        return vec![(owner.clone(), Reason::Command(cmd, args))];
                    }
                }
                self.messages
                    .iter()
                    .map(|m| (m.clone(), Reason::Wanted))
                    .collect()
            }
            UpdateKind::EditedMessage(_) => self
                .edited
                .iter()
                .map(|m| (m.clone(), Reason::Wanted))
                .collect(),
            UpdateKind::CallbackQuery(q) => {
                let Some((tag, data)) = q.data.as_deref().and_then(|d| d.split_once(':')) else {
                    return Vec::new();
                };
                match self.tags.get(tag) {
                    Some(m) => vec![(m.clone(), Reason::Callback(data.to_string()))],
                    None => Vec::new(),
                }
            }
            _ => {
                let kind = crate::bot_api::update_kinds::kind_of(raw).unwrap_or("");
                if matches!(kind, "inline_query" | "chosen_inline_result") {
                    let query = raw[kind]["query"].as_str().unwrap_or("");
                    return self
                        .inline_owner(query)
                        .filter(|m| self.wanting(kind).contains(m))
                        .map(|m| vec![(m.to_string(), Reason::Wanted)])
                        .unwrap_or_default();
                }
                self.wanting(kind)
                    .into_iter()
                    .map(|m| (m.to_string(), Reason::Wanted))
                    .collect()
            }
        }
    }

    /// The modules that want updates of `kind` beyond messages, edits and button presses: by
    /// name, or all other kinds.
    pub fn wanting(&self, kind: &str) -> Vec<&str> {
        let mut modules: Vec<&str> = self.other.iter().map(String::as_str).collect();
        for m in self.kinds.get(kind).into_iter().flatten() {
            if !modules.contains(&m.as_str()) {
                modules.push(m);
            }
        }
        modules
    }

    /// The kinds of update some module asked for by name.
    pub fn wanted_kinds(&self) -> impl Iterator<Item = &str> {
        self.kinds.keys().map(String::as_str)
    }

    /// The command and its arguments, when `text` is a command addressed to this bot.
    pub fn command_of(&self, text: &str) -> Option<(String, String)> {
        self.parse_command(text)
            .and_then(|(cmd, args, for_us)| for_us.then_some((cmd, args)))
    }

    /// Whether a module owns `/command`.
    pub fn owns_command(&self, command: &str) -> bool {
        self.commands.contains_key(command)
    }

    /// The commands and their descriptions, in the order modules were added; those only
    /// operators may use are left out unless `operator`.
    pub fn described_commands(&self, operator: bool) -> Vec<(String, String)> {
        self.described
            .iter()
            .filter(|(cmd, _)| operator || !self.admin_only.contains(cmd))
            .cloned()
            .collect()
    }

    /// Whether `user` is one of the bot's operators.
    pub fn is_operator(&self, user: Option<&tg::User>) -> bool {
        user.is_some_and(|u| i64::try_from(u.id.0).is_ok_and(|id| self.operators.contains(&id)))
    }

    /// The modules that own a command or a tag, or want some update.
    pub fn modules(&self) -> HashSet<&str> {
        self.commands
            .values()
            .chain(self.tags.values())
            .chain(&self.messages)
            .chain(&self.edited)
            .chain(&self.other)
            .chain(self.kinds.values().flatten())
            .map(String::as_str)
            .collect()
    }

    /// Splits `/cmd@bot args` into (cmd, args, addressed to this bot).
    fn parse_command(&self, text: &str) -> Option<(String, String, bool)> {
        let rest = text.strip_prefix('/')?;
        let (head, args) = match rest.find(char::is_whitespace) {
            Some(i) => (&rest[..i], rest[i..].trim()),
            None => (rest, ""),
        };
        let (cmd, for_us) = match head.split_once('@') {
            Some((c, bot)) => (c, bot.eq_ignore_ascii_case(&self.bot_username)),
            None => (head, true),
        };
        if cmd.is_empty() || cmd.len() > 32 {
            return None;
        }
        Some((cmd.to_ascii_lowercase(), args.to_string(), for_us))
    }
}

#[cfg(test)]
mod tests;
