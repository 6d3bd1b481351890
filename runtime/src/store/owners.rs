//! Which module sent a message or a poll, for the updates that belong to it: a poll's updates
//! and answers, reactions to a message (see `bot_api::update_kinds::owner_key`). Written when a
//! call's delivery is recorded, read when such an update is routed, kept
//! [`super::retention::TICKET_RETENTION`] like the tickets.

use redb::{ReadableDatabase, ReadableTable};

use super::{Db, tables::OWNERS};
use crate::Result;

/// A row's value: `<unix seconds> <module>`.
fn row(module: &str) -> String {
    format!("{} {module}", crate::clock::unix_secs())
}

/// Records `owned` (key, module) in `txn`.
pub(super) fn record(txn: &redb::WriteTransaction, owned: &[(String, String)]) -> Result<()> {
    if owned.is_empty() {
        return Ok(());
    }
    let mut t = txn.open_table(OWNERS)?;
    for (key, module) in owned {
        t.insert(key.as_str(), row(module).as_str())?;
    }
    Ok(())
}

impl Db {
    /// The module that sent what `key` names, if the store knows it.
    pub fn owner(&self, key: &str) -> Result<Option<String>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(OWNERS)?;
        Ok(t.get(key)?
            .and_then(|v| v.value().split_once(' ').map(|(_, m)| m.to_string())))
    }

    /// Forgets owners recorded more than `max_age` ago; returns how many.
    pub fn prune_owners(&self, max_age: std::time::Duration) -> Result<usize> {
        let cutoff = crate::clock::unix_secs().saturating_sub(max_age.as_secs());
        self.in_batches(|txn| {
            let mut t = txn.open_table(OWNERS)?;
            let mut old = Vec::new();
            for item in t.iter()? {
                let (k, v) = item?;
                let at = v
                    .value()
                    .split_once(' ')
                    .and_then(|(s, _)| s.parse::<u64>().ok())
                    .unwrap_or(0);
                if at < cutoff {
                    old.push(k.value().to_string());
                    if old.len() == super::retention::BATCH {
                        break;
                    }
                }
            }
            for k in &old {
                t.remove(k.as_str())?;
            }
            Ok(old.len())
        })
    }
}
