//! What the registry reports: a module as the admin API and the CLI show it, and what a change
//! did.

use serde::{Deserialize, Serialize};

use super::Slot;
use crate::{sandbox::Capabilities, store::kv::Quota};

/// A module as the admin API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// Its name.
    pub name: String,
    /// Its version, from its manifest.
    pub version: String,
    /// SHA-256 of its component file.
    pub hash: String,
    /// Whether it serves.
    pub state: State,
    /// Why it is disabled.
    pub disabled_reason: Option<String>,
    /// Instances handling its chats.
    pub shards: usize,
    /// Calls of `handle-update`.
    pub calls: u64,
    /// Calls that returned an error value.
    pub errors: u64,
    /// Calls that trapped or hit a limit.
    pub traps: u64,
    /// Updates quarantined.
    pub quarantined: u64,
    /// Median handling time of recent calls, microseconds.
    pub latency_p50_us: Option<u32>,
    /// 99th percentile of recent handling times, microseconds.
    pub latency_p99_us: Option<u32>,
    /// Its file in the modules directory.
    pub file: String,
    /// Hash of the version a rollback returns to.
    pub previous: Option<String>,
    /// Its commands.
    pub commands: Vec<String>,
    /// Capabilities granted (declared, narrowed by the operator).
    pub capabilities: Option<Capabilities>,
    /// KV quota in force.
    pub kv_quota: Option<Quota>,
    /// A new version kept aside until the operator approves it.
    #[serde(default)]
    pub awaiting_approval: Option<super::Awaiting>,
}

/// Whether a module serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Updates are routed to it.
    Running,
    /// Stopped by an operator or the circuit breaker; its data and file stay.
    Disabled,
}

impl State {
    /// The word the admin API and the CLI show.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Disabled => "disabled",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a change did to a module (shown as the lowercase words in the admin API and the CLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// A new module.
    #[serde(rename = "added")]
    Added,
    /// A new version of a running module.
    #[serde(rename = "swapped")]
    Swapped,
    /// The same version was installed again: nothing changed.
    #[serde(rename = "unchanged")]
    Unchanged,
    /// Back to the previous version.
    #[serde(rename = "rolled back")]
    RolledBack,
    /// Restarted with a new configuration.
    #[serde(rename = "reconfigured")]
    Reconfigured,
    /// A disabled module serves again.
    #[serde(rename = "enabled")]
    Enabled,
}

impl Action {
    /// The word the admin API and the CLI show.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Added => "added",
            Action::Swapped => "swapped",
            Action::Unchanged => "unchanged",
            Action::RolledBack => "rolled back",
            Action::Reconfigured => "reconfigured",
            Action::Enabled => "enabled",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with the word the admin API and the CLI show (`done.action == "swapped"`).
impl PartialEq<&str> for Action {
    fn eq(&self, word: &&str) -> bool {
        self.as_str() == *word
    }
}

/// Compares with the word the admin API and the CLI show (`info.state == "running"`).
impl PartialEq<&str> for State {
    fn eq(&self, word: &&str) -> bool {
        self.as_str() == *word
    }
}

/// What an install did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Installed {
    /// The module.
    pub name: String,
    /// Its version now.
    pub version: String,
    /// Its hash now.
    pub hash: String,
    /// What was done.
    pub action: Action,
    /// The version it replaced.
    pub replaced: Option<String>,
    /// How what it asks for changed from the version it replaced (from nothing, when added).
    #[serde(default)]
    pub changes: super::Changes,
}

pub(super) fn info(name: &str, s: &Slot) -> ModuleInfo {
    use std::sync::atomic::Ordering::Relaxed;
    let latency = s.stats.latency_us();
    let current = s.module.as_ref().map(|m| m.current());
    ModuleInfo {
        name: name.to_string(),
        version: s
            .manifest
            .as_ref()
            .map(|m| m.version.clone())
            .unwrap_or_default(),
        hash: s.hash.clone(),
        state: if s.module.is_some() {
            State::Running
        } else {
            State::Disabled
        },
        disabled_reason: s.persisted.disabled.clone(),
        shards: s.module.as_ref().map_or(0, |m| m.shard_count()),
        calls: s.stats.calls.load(Relaxed),
        errors: s.stats.errors.load(Relaxed),
        traps: s.stats.traps.load(Relaxed),
        quarantined: s.stats.quarantined.load(Relaxed),
        latency_p50_us: latency.map(|l| l.0),
        latency_p99_us: latency.map(|l| l.1),
        file: s.file.display().to_string(),
        previous: s.persisted.previous.clone(),
        commands: s
            .manifest
            .as_ref()
            .map(|m| m.commands.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default(),
        capabilities: current.as_ref().map(|v| v.env.capabilities.read().clone()),
        kv_quota: current.as_ref().map(|v| v.env.kv.quota()),
        awaiting_approval: None,
    }
}
