//! Crashes counted against the updates they interrupted.
//!
//! An update whose handling kills the whole process (the kernel's OOM killer, a host bug) would
//! otherwise be resumed at every start and kill it again, for ever: the attempts a shard counts
//! live in memory and die with it. So a clean stop leaves a mark, and a start that finds none
//! counts one crash against every update still unfinished; an update found unfinished after
//! `max_attempts` crashes is quarantined instead of resumed. An update that merely waited
//! (another chat's, or a backlog) is counted too, so it is quarantined only if it stays
//! unfinished through that many crashes in a row — documented in docs/operations.md.

use redb::ReadableTable;

use super::{CRASHES, Db, INBOX, META, META_CLEAN_STOP, META_STARTED};
use crate::Result;

impl Db {
    /// Leaves the mark of a clean stop (the last thing a stop writes).
    pub fn mark_clean_stop(&self) -> Result<()> {
        let txn = self.raw().begin_write()?;
        txn.open_table(META)?.insert(META_CLEAN_STOP, &[1u8][..])?;
        txn.commit()?;
        Ok(())
    }

    /// At start: takes the clean-stop mark; without one the last run crashed, and each update
    /// still unfinished has one more crash counted. Returns (update id, crashes) for every
    /// unfinished update that has any; counts of finished updates are forgotten.
    pub fn count_crashes(&self) -> Result<Vec<(u64, u32)>> {
        self.start_counting_crashes().map(|(_, counts)| counts)
    }

    /// [`Db::count_crashes`], and whether the last run crashed: it started (a fresh database
    /// has no run before) and left no clean-stop mark.
    pub fn start_counting_crashes(&self) -> Result<(bool, Vec<(u64, u32)>)> {
        let txn = self.raw().begin_write()?;
        let mut counts = Vec::new();
        let crashed;
        {
            let mut meta = txn.open_table(META)?;
            let clean = meta.remove(META_CLEAN_STOP)?.is_some();
            crashed = !clean && meta.insert(META_STARTED, &[1u8][..])?.is_some();
            drop(meta);
            let inbox = txn.open_table(INBOX)?;
            let mut crashes = txn.open_table(CRASHES)?;
            let known: Vec<(u64, u32)> = crashes
                .iter()?
                .map(|r| r.map(|(k, v)| (k.value(), v.value())))
                .collect::<std::result::Result<_, _>>()?;
            for (id, _) in &known {
                if inbox.get(*id)?.is_none() {
                    crashes.remove(*id)?;
                }
            }
            if !clean {
                for row in inbox.iter()? {
                    let id = row?.0.value();
                    let n = crashes.get(id)?.map_or(0, |v| v.value()) + 1;
                    crashes.insert(id, n)?;
                }
            }
            for row in crashes.iter()? {
                let (k, v) = row?;
                counts.push((k.value(), v.value()));
            }
        }
        txn.commit()?;
        Ok((crashed, counts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(db: &Db, id: u64) {
        let txn = db.raw().begin_write().unwrap();
        txn.open_table(INBOX)
            .unwrap()
            .insert(id, &b"{}"[..])
            .unwrap();
        txn.commit().unwrap();
    }

    #[test]
    fn only_starts_after_a_crash_count_and_only_unfinished_updates() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        record(&db, 7);
        assert_eq!(db.count_crashes().unwrap(), [(7, 1)], "no mark: a crash");
        db.mark_clean_stop().unwrap();
        assert_eq!(
            db.count_crashes().unwrap(),
            [(7, 1)],
            "a clean stop counts nothing"
        );
        assert_eq!(
            db.count_crashes().unwrap(),
            [(7, 2)],
            "the mark is taken once"
        );
        let txn = db.raw().begin_write().unwrap();
        txn.open_table(INBOX).unwrap().remove(7).unwrap();
        txn.commit().unwrap();
        db.mark_clean_stop().unwrap();
        assert_eq!(
            db.count_crashes().unwrap(),
            [],
            "a finished update is forgotten"
        );
    }

    #[test]
    fn a_start_follows_a_crash_only_after_a_run_that_left_no_clean_mark() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        assert!(!db.start_counting_crashes().unwrap().0, "a fresh database");
        assert!(
            db.start_counting_crashes().unwrap().0,
            "a run without a stop"
        );
        db.mark_clean_stop().unwrap();
        assert!(!db.start_counting_crashes().unwrap().0, "a clean stop");
    }
}
