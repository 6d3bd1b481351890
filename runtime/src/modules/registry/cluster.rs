//! One bot on several nodes (PostgreSQL): every node runs the bot's modules, not its own.
//!
//! A change an operator (or the circuit breaker) makes on one node — a module installed,
//! swapped, approved, rolled back, removed, disabled, enabled or configured, through the admin
//! API, the console, the CLI, Telegram or the node's modules directory — is written to the
//! database once it served there (`store/pg/modules.rs`), with the version's bytes. Every node
//! asks every [`FOLLOW_EVERY`] which modules changed and makes the same change through the
//! same canary path, so each one switches between two units of work, as on one node. At
//! start a node loads its modules directory, then takes the bot's state for every module the
//! database knows (the database wins over a file changed while the node was down) and
//! publishes the modules only it has, before it handles any update.
//!
//! A change made because the bot's state says so (loading at start, following another node)
//! is not published again: [`FOLLOWING`] marks it.

use std::{
    collections::{BTreeSet, HashSet},
    time::Duration,
};

use tokio::sync::watch;

use super::*;
use crate::store::pg::{ModuleRow, ModuleState};

tokio::task_local! {
    /// Set while the registry changes modules as the bot's state says (the start's loading,
    /// following another node): such a change is not published again.
    static FOLLOWING: ();
}

/// How often a node asks whether another node changed a module.
pub(crate) const FOLLOW_EVERY: Duration = Duration::from_secs(1);
/// How often a change this node failed to follow is tried again.
const RETRY_EVERY: u32 = 10;

/// Runs `f` as a change that follows the bot's state (not published again).
pub(super) async fn following<T>(f: impl Future<Output = T>) -> T {
    FOLLOWING.scope((), f).await
}

impl Registry {
    /// The module `name` as this node runs it (`None`: it has no such module).
    fn state_of(&self, name: &str) -> Option<ModuleState> {
        let mut state = {
            let slots = self.slots.read();
            let s = slots.get(name)?;
            ModuleState {
                name: name.to_string(),
                hash: Some(s.hash.clone()),
                disabled: s.persisted.disabled.clone(),
                config: s.persisted.config.as_ref().map(|c| c.to_string()),
                awaiting: None,
            }
        };
        // What awaits approval, unless it is what serves now (approved, not yet forgotten).
        // Its file is this node's own business: another node keeps it at its module's file.
        if let Some((mut awaiting, bytes)) = self.pending().get(name) {
            let hash = crate::sandbox::module_hash(&bytes);
            awaiting.file = None;
            if state.hash.as_ref() != Some(&hash)
                && let Ok(json) = serde_json::to_string(&awaiting)
            {
                state.awaiting = Some((json, hash));
            }
        }
        Some(state)
    }

    /// After a change of module `name` made on this node: writes it as the bot's, for the other
    /// nodes to follow. Nothing on one node or while following. A change that cannot be written
    /// now (the database unreachable) is written by the follower later; it is not undone here.
    pub(super) async fn publish(&self, name: &str) {
        if self.ctx.pg.is_none() || FOLLOWING.try_with(|_| ()).is_ok() {
            return;
        }
        if let Err(e) = self.publish_now(name, false).await {
            tracing::warn!(
                module = name,
                "cannot tell the other nodes of this change yet (tried again every second): {e}"
            );
            self.unpublished.lock().insert(name.to_string());
        }
    }

    /// Writes module `name` as this node runs it; `only_if_new`: unless the bot has it already.
    async fn publish_now(&self, name: &str, only_if_new: bool) -> Result<()> {
        let Some((pg, _)) = &self.ctx.pg else {
            return Ok(());
        };
        let state = self.state_of(name).unwrap_or_else(|| ModuleState {
            name: name.to_string(),
            hash: None,
            disabled: None,
            config: None,
            awaiting: None,
        });
        if let Some(hash) = &state.hash
            && !pg.touch_module_code(hash).await?
        {
            let path = self.version_path(name, hash);
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| Error::io(&path, e))?;
            pg.keep_module_code(name, hash, &bytes).await?;
        }
        if let Some((_, hash)) = &state.awaiting
            && !pg.touch_module_code(hash).await?
            && let Some((_, bytes)) = self.pending().get(name)
        {
            pg.keep_module_code(name, hash, &bytes).await?;
        }
        pg.publish_module(&state, &self.ctx.node, only_if_new)
            .await?;
        Ok(())
    }

    /// At start, after the modules directory loaded: every module the bot knows made as the
    /// bot runs it, and the modules only this node has published. Returns the last change seen.
    pub(crate) async fn join_the_bot(&self) -> Result<i64> {
        let Some((pg, _)) = &self.ctx.pg else {
            return Ok(0);
        };
        let rows = pg.modules_after(0).await?;
        let seen = rows.iter().map(|r| r.seq).max().unwrap_or(0);
        let known: HashSet<String> = rows.iter().map(|r| r.state.name.clone()).collect();
        for row in &rows {
            if let Err(e) = self.follow(row).await {
                tracing::error!(module = %row.state.name, "cannot run it as the bot does (tried again while running): {e}");
                self.unfollowed.lock().insert(row.state.name.clone());
            }
        }
        let mine: Vec<String> = self.slots.read().keys().cloned().collect();
        for name in mine.iter().filter(|n| !known.contains(*n)) {
            self.publish_now(name, true).await?;
            tracing::info!(module = %name, "published: only this node had it");
        }
        if self.slots.read().is_empty() {
            tracing::warn!(dir = %self.ctx.config.modules_dir.display(), "no modules, neither in the modules directory nor in the database: the bot will not answer");
        }
        Ok(seen)
    }

    /// Makes module `row.state.name` as the row says (nothing if it is so already).
    async fn follow(&self, row: &ModuleRow) -> Result<()> {
        following(self.converge(&row.state, &row.node)).await
    }

    async fn converge(&self, want: &ModuleState, by: &str) -> Result<()> {
        let name = want.name.as_str();
        let have = self.state_of(name);
        let Some(hash) = &want.hash else {
            if have.is_some() {
                self.remove(name, false).await?;
                tracing::info!(
                    module = name,
                    node = by,
                    "removed, as on the node that removed it"
                );
            }
            return Ok(());
        };
        if have.as_ref().and_then(|h| h.hash.as_ref()) != Some(hash) {
            let previous = (self.slots.read().get(name)).and_then(|s| s.persisted.previous.clone());
            let done = if previous.as_ref() == Some(hash) {
                self.rollback(name).await?
            } else {
                let bytes = self.bytes_of(name, hash).await?;
                self.install_named(&bytes, None, true, Expect::Any, true)
                    .await?
            };
            tracing::info!(module = name, version = %done.version, node = by, "{}, as on the node that changed it", done.action);
        }
        if want.disabled.is_none() && self.get(name).is_none() {
            self.enable(name).await?;
        }
        let config = want
            .config
            .as_deref()
            .map(|c| c.parse::<toml::Table>())
            .transpose()
            .map_err(|e| Error::Corrupt(format!("the configuration of `{name}`: {e}")))?;
        if let Some(config) = config
            && self.config_of(name).as_ref() != Some(&config)
            && want.disabled.is_none()
        {
            self.set_config(name, config).await?;
        }
        if let Some(why) = &want.disabled
            && self.get(name).is_some()
        {
            self.disable(name, why).await?;
        }
        let awaiting_here = self.state_of(name).and_then(|s| s.awaiting);
        match &want.awaiting {
            Some((json, hash)) if awaiting_here.as_ref().map(|a| &a.1) != Some(hash) => {
                let awaiting: Awaiting = serde_json::from_str(json).map_err(|e| {
                    Error::Corrupt(format!("the version of `{name}` awaiting approval: {e}"))
                })?;
                let bytes = self.bytes_of(name, hash).await?;
                self.pending().keep(&awaiting, &bytes)?;
                tracing::info!(module = name, version = %awaiting.version, node = by, "a version awaits approval, sent to another node");
            }
            // Approved elsewhere (now serving here too) or replaced: nothing awaits any more.
            None if self.pending().describe(name).is_some() => self.pending().forget(name),
            _ => {}
        }
        Ok(())
    }

    /// The bytes of version `hash` of `name`: the copy this node kept, else the database's.
    async fn bytes_of(&self, name: &str, hash: &str) -> Result<Vec<u8>> {
        if let Ok(bytes) = tokio::fs::read(self.version_path(name, hash)).await {
            return Ok(bytes);
        }
        let Some((pg, _)) = &self.ctx.pg else {
            return Err(not_found(name));
        };
        pg.module_code(hash).await?.ok_or_else(|| {
            Error::NotFound(format!(
                "version {} of `{name}`: its bytes are no longer in the database",
                &hash[..12.min(hash.len())]
            ))
        })
    }
}

/// Follows, while the node runs, the changes other nodes make (from change `seen` on), writes
/// this node's changes the database could not take at once, and tries again every
/// [`RETRY_EVERY`] rounds the changes that failed here.
pub(crate) async fn follow_the_bot(
    registry: Arc<Registry>,
    mut seen: i64,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some((pg, _)) = registry.ctx.pg.clone() else {
        return;
    };
    let mut round = 0u32;
    let mut unreachable = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_EVERY) => {}
            _ = shutdown.changed() => return,
        }
        round = round.wrapping_add(1);
        let left: BTreeSet<String> = std::mem::take(&mut *registry.unpublished.lock());
        for name in left {
            if registry.publish_now(&name, false).await.is_err() {
                registry.unpublished.lock().insert(name);
            }
        }
        let rows = match pg.modules_after(seen).await {
            Ok(rows) => rows,
            Err(e) => {
                if !std::mem::replace(&mut unreachable, true) {
                    tracing::warn!(
                        "cannot ask which modules changed (tried again every second): {e}"
                    );
                }
                continue;
            }
        };
        unreachable = false;
        if round.is_multiple_of(RETRY_EVERY) {
            let failed: BTreeSet<String> = std::mem::take(&mut *registry.unfollowed.lock());
            if !failed.is_empty()
                && let Ok(all) = pg.modules_after(0).await
            {
                for row in all.iter().filter(|r| failed.contains(&r.state.name)) {
                    follow_one(&registry, row).await;
                }
            }
        }
        for row in rows {
            seen = seen.max(row.seq);
            follow_one(&registry, &row).await;
        }
    }
}

async fn follow_one(registry: &Registry, row: &ModuleRow) {
    let name = &row.state.name;
    match registry.follow(row).await {
        Ok(()) => {
            registry.unfollowed.lock().remove(name);
        }
        Err(e) => {
            tracing::error!(module = %name, node = %row.node, "cannot make the change another node made (tried again in {RETRY_EVERY} s): {e}");
            registry.unfollowed.lock().insert(name.clone());
        }
    }
}
