//! Updates a module was given up on, as the operator sees them: read one (its JSON and why),
//! hand it back to its module, or drop it. The admin API (`/v1/quarantine/...`) and the console
//! both come here.
//!
//! Handing an update back writes what recording it wrote — the update in the inbox, pending for
//! that one module — and forgets its quarantine row and any crashes counted against it, in one
//! transaction; the caller then offers it to the module as intake would. If the process stops
//! in between, the start resumes it like any other recorded update.

use redb::{ReadableDatabase, ReadableTable};

use super::{CRASHES, Db, INBOX, PENDING, QUARANTINE, QUARANTINED_UPDATES};
use crate::{Error, Result};

/// One quarantined update.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Quarantined {
    /// The module that failed on it.
    pub module: String,
    /// Telegram's update id.
    pub update_id: u64,
    /// Why it was given up.
    pub reason: String,
    /// The update as Telegram sent it; `None` for an update quarantined before the host kept it.
    pub update: Option<String>,
}

impl Db {
    /// One quarantined update, with its JSON.
    pub fn quarantined_update(&self, module: &str, update_id: u64) -> Result<Option<Quarantined>> {
        let txn = self.raw().begin_read()?;
        let Some(reason) = txn
            .open_table(QUARANTINE)?
            .get((module, update_id))?
            .map(|v| v.value().to_string())
        else {
            return Ok(None);
        };
        let update = txn
            .open_table(QUARANTINED_UPDATES)?
            .get((module, update_id))?
            .map(|v| String::from_utf8_lossy(v.value()).into_owned());
        Ok(Some(Quarantined {
            module: module.to_string(),
            update_id,
            reason,
            update,
        }))
    }

    /// Records the quarantined update again, pending for `module` alone, and forgets its
    /// quarantine. Returns its JSON, to be offered to the module.
    pub fn requeue_quarantined(&self, module: &str, update_id: u64) -> Result<String> {
        let txn = self.raw().begin_write()?;
        let raw = {
            let mut quarantine = txn.open_table(QUARANTINE)?;
            let mut updates = txn.open_table(QUARANTINED_UPDATES)?;
            if quarantine.remove((module, update_id))?.is_none() {
                return Err(not_quarantined(module, update_id));
            }
            let Some(raw) = updates
                .remove((module, update_id))?
                .map(|v| v.value().to_vec())
            else {
                return Err(Error::Config(format!(
                    "update {update_id} of `{module}` was quarantined before the host kept updates it gave up; it can only be dropped"
                )));
            };
            let mut inbox = txn.open_table(INBOX)?;
            if inbox.get(update_id)?.is_none() {
                inbox.insert(update_id, raw.as_slice())?;
            }
            txn.open_table(PENDING)?.insert((update_id, module), ())?;
            txn.open_table(CRASHES)?.remove(update_id)?;
            String::from_utf8(raw)
                .map_err(|_| Error::Corrupt("a kept update is not UTF-8".into()))?
        };
        txn.commit()?;
        Ok(raw)
    }

    /// Forgets a quarantined update for good.
    pub fn drop_quarantined(&self, module: &str, update_id: u64) -> Result<()> {
        let txn = self.raw().begin_write()?;
        {
            if txn
                .open_table(QUARANTINE)?
                .remove((module, update_id))?
                .is_none()
            {
                return Err(not_quarantined(module, update_id));
            }
            txn.open_table(QUARANTINED_UPDATES)?
                .remove((module, update_id))?;
        }
        txn.commit()?;
        Ok(())
    }
}

fn not_quarantined(module: &str, update_id: u64) -> Error {
    Error::NotFound(format!(
        "update {update_id} of `{module}` is not quarantined"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quarantine(db: &Db, module: &str, id: u64, raw: &str) {
        let txn = db.raw().begin_write().unwrap();
        {
            txn.open_table(QUARANTINE)
                .unwrap()
                .insert((module, id), "trapped")
                .unwrap();
            txn.open_table(QUARANTINED_UPDATES)
                .unwrap()
                .insert((module, id), raw.as_bytes())
                .unwrap();
        }
        txn.commit().unwrap();
    }

    #[test]
    fn a_requeued_update_is_pending_for_its_module_alone_and_no_longer_quarantined() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        quarantine(&db, "clicker", 7, r#"{"update_id":7}"#);
        quarantine(&db, "other", 7, r#"{"update_id":7}"#);
        let shown = db.quarantined_update("clicker", 7).unwrap().unwrap();
        assert_eq!(shown.reason, "trapped");
        assert_eq!(shown.update.as_deref(), Some(r#"{"update_id":7}"#));

        assert_eq!(
            db.requeue_quarantined("clicker", 7).unwrap(),
            r#"{"update_id":7}"#
        );
        let pending = db.pending_updates().unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].modules, vec!["clicker".to_string()]);
        assert!(db.quarantined_update("clicker", 7).unwrap().is_none());
        assert!(db.quarantined_update("other", 7).unwrap().is_some());
        let again = db.requeue_quarantined("clicker", 7).unwrap_err();
        assert!(matches!(again, Error::NotFound(_)), "{again}");
    }

    #[test]
    fn a_dropped_update_is_gone_and_dropping_it_twice_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        quarantine(&db, "clicker", 9, "{}");
        db.drop_quarantined("clicker", 9).unwrap();
        assert!(db.quarantined().unwrap().is_empty());
        assert!(db.pending_updates().unwrap().is_empty());
        assert!(matches!(
            db.drop_quarantined("clicker", 9),
            Err(Error::NotFound(_))
        ));
    }
}
