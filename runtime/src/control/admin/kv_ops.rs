//! KV operations for operators, the same whether the runtime runs (through its admin API,
//! on the live namespaces) or is stopped (on the database directly).
//!
//! Writes go through the module's namespace and the group committer like a handler's, so they
//! are atomic, respect the module's quota, and never race a running module. On a bot whose KV
//! is on PostgreSQL they are one SERIALIZABLE transaction in the module's namespace there,
//! with the usage rows a handler's transaction keeps (`kv_ops/pg.rs`): any node serves them.

use std::{collections::HashMap, sync::Arc};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::{
    Error, Result,
    store::{
        Committer, Db, Handled, Op,
        kv::{Applied, KvError, KvLimits, Namespace, Page, Quota},
        kv_txn::KvNamespace,
        pg::{Pool, kv::PgNamespace},
    },
};

mod pg;
#[cfg(test)]
mod pg_tests;

/// One exported entry: the key as `key` (UTF-8) or `key_hex`; the value as exactly one of
/// `json` (the bytes are a JSON document), `text` (UTF-8 that is not JSON) or `hex`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// The key, when it is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key: Option<String>,
    /// The key in hex, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key_hex: Option<String>,
    /// The value, when it is a JSON document.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub json: Option<serde_json::Value>,
    /// The value, when it is UTF-8 but not JSON.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text: Option<String>,
    /// The value in hex, otherwise.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hex: Option<String>,
}

impl Line {
    /// The line for an entry.
    pub fn new(key: &[u8], value: &[u8]) -> Line {
        let (key, key_hex) = match std::str::from_utf8(key) {
            Ok(k) => (Some(k.to_string()), None),
            Err(_) => (None, Some(hex::encode(key))),
        };
        let mut line = Line {
            key,
            key_hex,
            json: None,
            text: None,
            hex: None,
        };
        match (serde_json::from_slice(value), std::str::from_utf8(value)) {
            (Ok(v), _) => line.json = Some(v),
            (Err(_), Ok(t)) => line.text = Some(t.to_string()),
            _ => line.hex = Some(hex::encode(value)),
        }
        line
    }

    /// The entry of a line; an error names what is missing or malformed.
    pub fn entry(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let bad = |m: &str| Error::Config(format!("import line: {m}"));
        let key = match (&self.key, &self.key_hex) {
            (Some(k), None) => k.as_bytes().to_vec(),
            (None, Some(h)) => hex::decode(h).map_err(|_| bad("key_hex is not hex"))?,
            _ => return Err(bad("needs exactly one of key, key_hex")),
        };
        let value = match (&self.json, &self.text, &self.hex) {
            (Some(j), None, None) => serde_json::to_vec(j).map_err(|e| bad(&e.to_string()))?,
            (None, Some(t), None) => t.as_bytes().to_vec(),
            (None, None, Some(h)) => hex::decode(h).map_err(|_| bad("hex is not hex"))?,
            _ => return Err(bad("needs exactly one of json, text, hex")),
        };
        Ok((key, value))
    }
}

/// `entries` as JSON lines, one [`Line`] each.
pub fn json_lines<'a>(entries: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> String {
    let mut out = String::new();
    for (k, v) in entries {
        out.push_str(&serde_json::to_string(&Line::new(k, v)).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// KV access for operators.
pub struct KvOps {
    db: Arc<Db>,
    committer: Committer,
    limits: KvLimits,
    quota: Quota,
    /// Namespaces opened on demand (a stopped runtime).
    namespaces: Mutex<HashMap<String, Ns>>,
    /// The modules of a running runtime: only their namespaces may be used.
    registry: Option<Arc<crate::modules::registry::Registry>>,
    /// A stopped bot's PostgreSQL database (`[store] url`), where its namespaces are.
    pg: Option<Arc<Pool>>,
}

/// A module's namespace, in the store the bot keeps its KV in.
#[derive(Clone)]
enum Ns {
    Redb(Arc<Namespace>),
    Pg(Arc<PgNamespace>),
}

fn kv_err(e: KvError) -> Error {
    Error::Config(format!("{e:?}"))
}

impl KvOps {
    /// Operations on the namespaces of a running runtime (on PostgreSQL when its modules' KV is
    /// there: any node serves them).
    pub fn online(
        db: Arc<Db>,
        committer: Committer,
        registry: Arc<crate::modules::registry::Registry>,
        limits: KvLimits,
    ) -> KvOps {
        KvOps {
            db,
            committer,
            limits,
            quota: Quota {
                max_bytes: u64::MAX,
                max_keys: u64::MAX,
            },
            namespaces: Mutex::default(),
            registry: Some(registry),
            pg: None,
        }
    }

    /// Operations on a stopped runtime's database (this process holds its lock).
    pub fn offline(db: Arc<Db>, committer: Committer, limits: KvLimits, quota: Quota) -> KvOps {
        KvOps {
            db,
            committer,
            limits,
            quota,
            namespaces: Mutex::default(),
            registry: None,
            pg: None,
        }
    }

    /// Operations on the namespaces of a bot on PostgreSQL whose node is stopped here: the
    /// database is shared, so other nodes may run meanwhile (every write is one SERIALIZABLE
    /// transaction, as a module's is).
    pub fn offline_pg(self, pool: Arc<Pool>) -> KvOps {
        KvOps {
            pg: Some(pool),
            ..self
        }
    }

    async fn namespace(&self, module: &str) -> Result<Ns> {
        if let Some(registry) = &self.registry {
            return match registry.kv_namespace(module) {
                Some(KvNamespace::Pg(ns)) => Ok(Ns::Pg(ns)),
                Some(KvNamespace::Redb(ns)) => Ok(Ns::Redb(ns)),
                None => Err(Error::Config(format!("no module `{module}` is loaded"))),
            };
        }
        if let Some(ns) = self.namespaces.lock().get(module) {
            return Ok(ns.clone());
        }
        if module.is_empty() || module.len() > 32 {
            return Err(Error::Config(format!("`{module}` is not a module name")));
        }
        let ns = match &self.pg {
            Some(pool) => Ns::Pg(Arc::new(
                PgNamespace::open(pool.clone(), module, self.limits, self.quota)
                    .await
                    .map_err(pg::store_err)?,
            )),
            None => Ns::Redb(Arc::new(
                Namespace::open(self.db.raw().clone(), module, self.limits, self.quota)
                    .map_err(kv_err)?,
            )),
        };
        let mut map = self.namespaces.lock();
        Ok(map.entry(module.to_string()).or_insert(ns).clone())
    }

    /// The value of `key`.
    pub async fn get(&self, module: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let ns = match self.namespace(module).await? {
            Ns::Redb(ns) => ns,
            Ns::Pg(ns) => return pg::get(&ns, key).await,
        };
        let mut txn = ns.begin();
        let v = ns.get(&mut txn, key);
        ns.abort(&mut txn);
        v.map_err(kv_err)
    }

    /// One page of entries with `prefix`, after `after`.
    pub async fn scan(
        &self,
        module: &str,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: u32,
    ) -> Result<Page> {
        let ns = match self.namespace(module).await? {
            Ns::Redb(ns) => ns,
            Ns::Pg(ns) => return pg::scan(&ns, prefix, after, limit).await,
        };
        let mut txn = ns.begin();
        let page = ns.scan(&mut txn, prefix, after, limit);
        ns.abort(&mut txn);
        page.map_err(kv_err)
    }

    /// Every entry, in key order.
    pub async fn export(&self, module: &str) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let (entries, next) = self.scan(module, b"", after.as_deref(), u32::MAX).await?;
            out.extend(entries);
            match next {
                Some(n) => after = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// Every entry as JSON lines, in key order (what `import` reads back).
    pub async fn export_lines(&self, module: &str) -> Result<String> {
        let entries = self.export(module).await?;
        Ok(json_lines(
            entries.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
        ))
    }

    /// Applies `writes` (`None` deletes) atomically and waits until they are durable. Returns
    /// whether each key existed before.
    pub async fn write(
        &self,
        module: &str,
        writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    ) -> Result<Vec<bool>> {
        let ns = match self.namespace(module).await? {
            Ns::Redb(ns) => ns,
            Ns::Pg(ns) => return pg::write(&ns, &writes).await,
        };
        loop {
            let mut txn = ns.begin();
            let mut existed = Vec::with_capacity(writes.len());
            for (k, _) in &writes {
                match ns.get(&mut txn, k) {
                    Ok(v) => existed.push(v.is_some()),
                    Err(e) => {
                        ns.abort(&mut txn);
                        return Err(kv_err(e));
                    }
                }
            }
            if let Err(e) = ns.batch(&mut txn, &writes) {
                ns.abort(&mut txn);
                return Err(kv_err(e));
            }
            let (tx, rx) = tokio::sync::oneshot::channel();
            let committer = &self.committer;
            let applied = ns.validate_and_apply(&mut txn, |seq, w| {
                committer.send(Op::Handled(Box::new(Handled {
                    namespace: ns.clone(),
                    update_id: None,
                    writes: w,
                    kv_seq: seq,
                    outbox: Vec::new(),
                    files: Vec::new(),
                    quarantine: None,
                    tickets: None,
                    timers: Vec::new(),
                    cancel_timers: Vec::new(),
                    fired_timer: None,
                    expects: Vec::new(),
                    broadcasts: Vec::new(),
                    done: Some(tx),
                })))
            });
            match applied {
                Applied::Ok(_, sent) => {
                    sent?;
                    return match rx.await {
                        Ok(Ok(())) => Ok(existed),
                        Ok(Err(e)) => Err(Error::Corrupt(e)),
                        Err(_) => Err(Error::ShuttingDown),
                    };
                }
                Applied::Conflict => continue,
            }
        }
    }
}
