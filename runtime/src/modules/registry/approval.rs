//! What a module version asks for, and the operator's approval when a new version asks for
//! more than the one it replaces.
//!
//! A module's requests are what its manifest declares and what its `init` asks for: HTTP hosts,
//! timers, kinds of update, messages a minute, and its commands. The operator's config may
//! narrow them; approval is about what the module *asks* for, so a version that asks for a new
//! host needs approval even when the operator's config would not grant it.
//!
//! Every change reports [`Changes`] against the version it replaces. A change that asks for more
//! (a new host, timers, a new kind of update, more messages a minute, no limit where there was
//! one) goes through only with the operator's approval; without it, the version is kept aside as
//! *awaiting approval* (`<data_dir>/pending/<name>.wasm`) and what runs stays as it is. Fewer
//! requests and other commands need no approval, and are shown all the same.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bindings::types::{Manifest, UpdateFilter};

/// What one version of a module asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requests {
    /// The hosts it wants to reach over HTTP, as declared (names or `*.suffix`).
    pub http_hosts: Vec<String>,
    /// It schedules timers.
    pub timers: bool,
    /// The kinds of update it receives: `messages`, `edited messages`, `other updates`, and kinds
    /// asked for by name in `init` (`chat_member`, ...).
    pub updates: Vec<String>,
    /// Messages a minute it needs at most; `None`: no limit of its own.
    pub outbox_per_minute: Option<u32>,
    /// Its commands.
    pub commands: Vec<String>,
}

impl Requests {
    /// What `manifest`, with the kinds of update `kinds` asked for by name in `init`, asks for.
    pub fn of(manifest: &Manifest, kinds: &[String]) -> Requests {
        let mut updates = Vec::new();
        for (flag, word) in [
            (UpdateFilter::MESSAGES, "messages"),
            (UpdateFilter::EDITED_MESSAGES, "edited messages"),
            (UpdateFilter::OTHER_UPDATES, "other updates"),
        ] {
            if manifest.wants.contains(flag) {
                updates.push(word.to_string());
            }
        }
        updates.extend(kinds.iter().cloned());
        let mut http_hosts = manifest.http_hosts.clone();
        http_hosts.sort();
        http_hosts.dedup();
        updates.sort();
        updates.dedup();
        let mut commands: Vec<String> = manifest
            .commands
            .iter()
            .map(|c| c.name.to_ascii_lowercase())
            .collect();
        commands.sort();
        Requests {
            http_hosts,
            timers: manifest.timers,
            updates,
            outbox_per_minute: manifest.outbox_per_minute,
            commands,
        }
    }
}

/// How a version's requests differ from those of the version it replaces (or from nothing, for
/// a new module), in words an operator reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// What it asks for beyond the version it replaces: needs the operator's approval.
    pub asks_for_more: Vec<String>,
    /// What it no longer asks for.
    pub asks_for_less: Vec<String>,
    /// Commands added (`+/name`) and dropped (`-/name`).
    pub commands: Vec<String>,
}

impl Changes {
    /// From `old` (`None`: a new module) to `new`.
    pub fn between(old: Option<&Requests>, new: &Requests) -> Changes {
        let empty = Requests::default();
        let new_module = old.is_none();
        let old = old.unwrap_or(&empty);
        let mut c = Changes::default();
        for h in &new.http_hosts {
            if !old.http_hosts.contains(h) {
                c.asks_for_more.push(format!("HTTP host {h}"));
            }
        }
        for h in &old.http_hosts {
            if !new.http_hosts.contains(h) {
                c.asks_for_less.push(format!("HTTP host {h}"));
            }
        }
        match (old.timers, new.timers) {
            (false, true) => c.asks_for_more.push("timers".into()),
            (true, false) => c.asks_for_less.push("timers".into()),
            _ => {}
        }
        for u in &new.updates {
            if !old.updates.contains(u) {
                c.asks_for_more.push(format!("updates: {u}"));
            }
        }
        for u in &old.updates {
            if !new.updates.contains(u) {
                c.asks_for_less.push(format!("updates: {u}"));
            }
        }
        let rate = |r: Option<u32>| r.map_or("no limit of its own".to_string(), |n| format!("{n}"));
        let more = match (old.outbox_per_minute, new.outbox_per_minute) {
            _ if new_module => {
                c.asks_for_more.push(format!(
                    "messages a minute: {}",
                    rate(new.outbox_per_minute)
                ));
                None
            }
            (Some(a), Some(b)) => (b > a).then_some(true).or((b < a).then_some(false)),
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
            (None, None) => None,
        };
        if let Some(more) = more {
            let line = format!(
                "messages a minute: {} → {}",
                rate(old.outbox_per_minute),
                rate(new.outbox_per_minute)
            );
            if more {
                c.asks_for_more.push(line);
            } else {
                c.asks_for_less.push(line);
            }
        }
        for cmd in &new.commands {
            if !old.commands.contains(cmd) {
                c.commands.push(format!("+/{cmd}"));
            }
        }
        for cmd in &old.commands {
            if !new.commands.contains(cmd) {
                c.commands.push(format!("-/{cmd}"));
            }
        }
        c
    }

    /// Whether the new version asks for more than the old one.
    pub fn widens(&self) -> bool {
        !self.asks_for_more.is_empty()
    }

    /// One line per change, `+` for more, `-` for less; `no change in what it asks for` when
    /// there is none.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .asks_for_more
            .iter()
            .map(|l| format!("+ {l}"))
            .chain(self.asks_for_less.iter().map(|l| format!("- {l}")))
            .collect();
        if !self.commands.is_empty() {
            lines.push(format!("commands: {}", self.commands.join(" ")));
        }
        if lines.is_empty() {
            lines.push("no change in what it asks for".into());
        }
        lines
    }
}

/// A version kept aside until the operator approves it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Awaiting {
    /// The module it would replace.
    pub name: String,
    /// Its version, from its manifest.
    pub version: String,
    /// How it differs from the version that runs.
    pub changes: Changes,
    /// The file of the modules directory it came from, if it came from one.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

impl std::fmt::Display for Awaiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} awaits the operator's approval ({}); nothing changed until then: approve with `botbox module approve {}` (or /approve {} in Telegram)",
            self.name,
            self.version,
            self.changes.lines().join("; "),
            self.name,
            self.name
        )
    }
}

impl std::error::Error for Awaiting {}

impl Awaiting {
    /// The version awaiting approval that `error` is about, if it is about one.
    pub fn of(error: &crate::Error) -> Option<&Awaiting> {
        match error {
            crate::Error::AwaitingApproval(e) => e.downcast_ref(),
            _ => None,
        }
    }
}

/// Where versions awaiting approval are kept: `<data_dir>/pending/`.
pub(super) struct PendingDir(pub(super) PathBuf);

impl PendingDir {
    fn wasm(&self, name: &str) -> PathBuf {
        self.0.join(format!("{name}.wasm"))
    }

    fn record(&self, name: &str) -> PathBuf {
        self.0.join(format!("{name}.json"))
    }

    /// Keeps `bytes` aside for `awaiting.name`, replacing any version awaiting before.
    pub(super) fn keep(&self, awaiting: &Awaiting, bytes: &[u8]) -> crate::Result<()> {
        let record = serde_json::to_vec_pretty(awaiting)
            .map_err(|e| crate::Error::Corrupt(format!("awaiting approval: {e}")))?;
        super::write_atomically(&self.wasm(&awaiting.name), bytes)?;
        super::write_atomically(&self.record(&awaiting.name), &record)
    }

    /// The version awaiting approval for `name`, with its bytes.
    pub(super) fn get(&self, name: &str) -> Option<(Awaiting, Vec<u8>)> {
        let record = std::fs::read(self.record(name)).ok()?;
        let awaiting: Awaiting = serde_json::from_slice(&record).ok()?;
        let bytes = std::fs::read(self.wasm(name)).ok()?;
        Some((awaiting, bytes))
    }

    /// What awaits approval for `name`, without the bytes.
    pub(super) fn describe(&self, name: &str) -> Option<Awaiting> {
        let record = std::fs::read(self.record(name)).ok()?;
        serde_json::from_slice(&record).ok()
    }

    /// Forgets what awaits approval for `name` (approved, or replaced by a change the operator
    /// made).
    pub(super) fn forget(&self, name: &str) {
        for path in [self.wasm(name), self.record(name)] {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Whether `path` names the same file as `other` (as given, or once resolved).
pub(super) fn same_file(path: &Path, other: &Path) -> bool {
    path == other
        || match (path.canonicalize(), other.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}

#[cfg(test)]
#[path = "approval_tests.rs"]
mod tests;
