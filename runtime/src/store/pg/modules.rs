//! The bot's modules as every node should run them, on PostgreSQL: a change made on one node
//! (installed, swapped, rolled back, removed, disabled, enabled, configured) is written here
//! and followed by the others (`modules/registry/cluster.rs`).
//!
//! One row per module holds its state; `seq`, from a sequence, grows with every change, so a
//! node asks only for the rows changed since the last one it saw. A version's bytes are kept
//! once, by hash, for the nodes that do not have them; the newest [`KEPT_CODE`] of a module
//! are kept (the serving one and the one a rollback returns to among them).

use super::store::PgStore;
use crate::{Error, Result};

/// How many versions of a module keep their bytes in the database (the newest).
pub const KEPT_CODE: i64 = 5;

/// Milliseconds since the epoch, in the database's clock.
const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// A module as every node should run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleState {
    /// The module's name.
    pub name: String,
    /// The serving version's SHA-256; `None`: the module was removed.
    pub hash: Option<String>,
    /// Why it is disabled, when it is.
    pub disabled: Option<String>,
    /// The configuration set through the API (a TOML table), when one was.
    pub config: Option<String>,
    /// A version awaiting the operator's approval: what it asks for (JSON) and its hash.
    pub awaiting: Option<(String, String)>,
}

/// A module's row: its state, the change's number, and the node that made it.
#[derive(Debug, Clone)]
pub struct ModuleRow {
    /// The state.
    pub state: ModuleState,
    /// Grows with every change of any module.
    pub seq: i64,
    /// The node that made the change.
    pub node: String,
}

impl PgStore {
    /// The modules changed after change `after` (0: all of them), in change order.
    pub async fn modules_after(&self, after: i64) -> Result<Vec<ModuleRow>> {
        let rows = self
            .query(
                "SELECT name, hash, disabled, config, seq, node, awaiting, awaiting_hash \
                 FROM botbox_modules \
                 WHERE seq > $1 ORDER BY seq",
                &[&after],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| ModuleRow {
                state: ModuleState {
                    name: r.get(0),
                    hash: r.get(1),
                    disabled: r.get(2),
                    config: r.get(3),
                    awaiting: r
                        .get::<_, Option<String>>(6)
                        .zip(r.get::<_, Option<String>>(7)),
                },
                seq: r.get(4),
                node: r.get(5),
            })
            .collect())
    }

    /// Marks the bytes of version `hash` the newest of their module's; false: they are not kept.
    pub async fn touch_module_code(&self, hash: &str) -> Result<bool> {
        let touched = self
            .query(
                "UPDATE botbox_module_code SET at = clock_timestamp() WHERE hash = $1 RETURNING 1",
                &[&hash],
            )
            .await?;
        Ok(!touched.is_empty())
    }

    /// Keeps the bytes of version `hash` of module `name` as its newest, and forgets the
    /// module's versions older than the newest [`KEPT_CODE`].
    pub async fn keep_module_code(&self, name: &str, hash: &str, wasm: &[u8]) -> Result<()> {
        self.query(
            "INSERT INTO botbox_module_code (hash, name, wasm, at) \
             VALUES ($1, $2, $3, clock_timestamp()) ON CONFLICT (hash) DO UPDATE SET at = EXCLUDED.at",
            &[&hash, &name, &wasm],
        )
        .await?;
        self.query(
            "DELETE FROM botbox_module_code WHERE name = $1 AND hash NOT IN \
             (SELECT hash FROM botbox_module_code WHERE name = $1 ORDER BY at DESC LIMIT $2)",
            &[&name, &KEPT_CODE],
        )
        .await?;
        Ok(())
    }

    /// The bytes of version `hash`, if they are kept.
    pub async fn module_code(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        let rows = self
            .query(
                "SELECT wasm FROM botbox_module_code WHERE hash = $1",
                &[&hash],
            )
            .await?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    /// Writes the module's state as the bot's, made by `node`; `only_if_new`: only when the
    /// database has no row for it yet (a node publishing what it loaded at start). Returns the
    /// change's number, or `None` when a row was there.
    pub async fn publish_module(
        &self,
        state: &ModuleState,
        node: &str,
        only_if_new: bool,
    ) -> Result<Option<i64>> {
        let on_conflict = if only_if_new {
            "DO NOTHING"
        } else {
            "DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, \
             disabled = EXCLUDED.disabled, config = EXCLUDED.config, \
             awaiting = EXCLUDED.awaiting, awaiting_hash = EXCLUDED.awaiting_hash, \
             node = EXCLUDED.node, at_ms = EXCLUDED.at_ms"
        };
        let rows = self
            .query(
                &format!(
                    "INSERT INTO botbox_modules \
                     (name, seq, hash, disabled, config, awaiting, awaiting_hash, node, at_ms) \
                     VALUES ($1, nextval('botbox_module_seq'), $2, $3, $4, $5, $6, $7, {NOW_MS}) \
                     ON CONFLICT (name) {on_conflict} RETURNING seq"
                ),
                &[
                    &state.name,
                    &state.hash,
                    &state.disabled,
                    &state.config,
                    &state.awaiting.as_ref().map(|a| &a.0),
                    &state.awaiting.as_ref().map(|a| &a.1),
                    &node,
                ],
            )
            .await?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    /// The highest change number so far (0: none).
    pub async fn modules_seq(&self) -> Result<i64> {
        let rows = self
            .query("SELECT coalesce(max(seq), 0) FROM botbox_modules", &[])
            .await?;
        rows.first()
            .map(|r| r.get(0))
            .ok_or_else(|| pg_none("the modules' last change"))
    }
}

fn pg_none(what: &str) -> Error {
    Error::Postgres(format!("no answer for {what}"))
}
