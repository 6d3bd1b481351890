//! Which modules an update goes to.
//!
//! - A command (`/name`, `/name@this_bot`, with or without arguments) goes to the module whose
//!   manifest lists it; when two modules list the same command the one loaded first keeps it.
//!   `/name@other_bot` is for another bot and is dropped.
//! - A callback query goes to the module whose tag starts its data (`<tag>:<data>`); the host
//!   added the tag when the module drew the button.
//! - Other messages, edited messages and other updates go to every module that asked for them.

use std::collections::HashMap;

use teloxide_core::types::{self as tg, UpdateKind};

use crate::bindings::types::{Manifest, UpdateFilter};

/// How an update reached a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// One of its commands: (command, arguments).
    Command(String, String),
    /// A press of one of its buttons, with the data as the module wrote it.
    Callback(String),
    /// It asked for this kind of update.
    Wanted,
}

/// The routing table, rebuilt whenever the set of modules changes.
#[derive(Default, Clone)]
pub struct Router {
    bot_username: String,
    commands: HashMap<String, String>,
    tags: HashMap<String, String>,
    messages: Vec<String>,
    edited: Vec<String>,
    other: Vec<String>,
}

impl Router {
    /// An empty table for the bot `@bot_username`.
    pub fn new(bot_username: &str) -> Router {
        Router {
            bot_username: bot_username.to_ascii_lowercase(),
            ..Router::default()
        }
    }

    /// Adds a module; returns the commands it lost to modules added earlier.
    pub fn add(&mut self, manifest: &Manifest, tag: &str) -> Vec<String> {
        let name = &manifest.name;
        let mut lost = Vec::new();
        for c in &manifest.commands {
            let owner = self
                .commands
                .entry(c.name.to_ascii_lowercase())
                .or_insert_with(|| name.clone());
            if owner != name {
                lost.push(c.name.clone());
            }
        }
        self.tags.insert(tag.to_string(), name.clone());
        if manifest.wants.contains(UpdateFilter::MESSAGES) {
            self.messages.push(name.clone());
        }
        if manifest.wants.contains(UpdateFilter::EDITED_MESSAGES) {
            self.edited.push(name.clone());
        }
        if manifest.wants.contains(UpdateFilter::OTHER_UPDATES) {
            self.other.push(name.clone());
        }
        lost
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
    pub fn route(&self, u: &tg::Update) -> Vec<(String, Reason)> {
        match &u.kind {
            UpdateKind::Message(m) => {
                if let Some(text) = m.text()
                    && let Some((cmd, args, for_us)) = self.parse_command(text)
                {
                    if !for_us {
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
            _ => self
                .other
                .iter()
                .map(|m| (m.clone(), Reason::Wanted))
                .collect(),
        }
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

/// Checks a manifest the module returned.
pub fn validate(m: &Manifest) -> Result<(), String> {
    let ok_name = |s: &str, extra: &[char], max| {
        !s.is_empty()
            && s.len() <= max
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(&c))
    };
    if !ok_name(&m.name, &['-', '_'], 32) {
        return Err(format!(
            "module name `{}` must be 1-32 of a-z 0-9 - _",
            m.name
        ));
    }
    if m.version.is_empty() || m.version.len() > 64 {
        return Err("version must be 1-64 characters".into());
    }
    if m.outbox_per_minute == Some(0) {
        return Err("outbox-per-minute must be positive".into());
    }
    if m.commands.len() > 100 {
        return Err("at most 100 commands".into());
    }
    for c in &m.commands {
        if !ok_name(&c.name, &['_'], 32) {
            return Err(format!("command `{}` must be 1-32 of a-z 0-9 _", c.name));
        }
        if c.description.is_empty() || c.description.chars().count() > 256 {
            return Err(format!(
                "command `{}` needs a description of 1-256 characters",
                c.name
            ));
        }
    }
    Ok(())
}
