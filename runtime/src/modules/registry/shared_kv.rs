//! Modules' KV namespaces on PostgreSQL, for a bot whose store is there (`[store] url`).
//!
//! A module's namespace is opened once, before its first version's environment is made
//! (opening creates its usage rows, a round trip), and every later version shares it, as
//! versions share the redb namespace. The redb namespace is still opened: the host's own
//! bookkeeping that has not moved to PostgreSQL yet (the timers' counts at start) reads it.

use std::sync::Arc;

use super::Registry;
use crate::{
    Error, Result,
    store::{kv_txn::KvNamespace, pg::kv::PgNamespace},
};

impl Registry {
    /// Opens module `name`'s namespace on PostgreSQL if the bot's store is there and it is not
    /// open yet.
    pub(super) async fn open_shared_kv(&self, name: &str) -> Result<()> {
        let Some((pg, owned)) = &self.ctx.pg else {
            return Ok(());
        };
        if self.shared_kv.lock().contains_key(name) {
            return Ok(());
        }
        let config = &self.ctx.config;
        let ns = PgNamespace::open(
            pg.pool().clone(),
            name,
            config.kv_limits(),
            config.kv_quota(),
        )
        .await
        .map_err(|e| Error::module(name, format!("cannot open its KV namespace: {e:?}")))?
        .fenced_by(owned.clone());
        self.shared_kv
            .lock()
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(ns));
        Ok(())
    }

    /// Module `name`'s namespace on PostgreSQL, once opened.
    pub(super) fn shared_kv(&self, name: &str) -> Option<Arc<PgNamespace>> {
        self.shared_kv.lock().get(name).cloned()
    }

    /// The KV namespace module `name`'s work commits to: on PostgreSQL when the bot's store is
    /// there, else the redb one; `None` before the module ever ran.
    pub fn kv_namespace(&self, name: &str) -> Option<KvNamespace> {
        match &self.ctx.pg {
            Some(_) => self.shared_kv(name).map(KvNamespace::Pg),
            None => self.namespace(name).map(KvNamespace::Redb),
        }
    }
}
