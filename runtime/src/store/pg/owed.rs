//! Updates owed on PostgreSQL, with several nodes: recorded by whichever node received them,
//! handled by the owner of their chat's partition.
//!
//! Each owed row (`botbox_pending`: an update, a module that owes it a handling) carries its
//! partition and the epoch at which a node took it in hand (`taken`, 0 for nobody). The node that
//! records an update takes it at once if it holds the partition at the epoch the database has
//! (then it hands the update to its modules itself); otherwise the row waits, untaken, for the
//! partition's owner, which takes what waits in its partitions a few times a second
//! (`intake/pickup.rs`). After a takeover the partition's epoch moved on, so the rows the last
//! owner took and did not finish are taken again by the new one: nothing is left owed with no
//! one to handle it, and the fence (`botbox_fence`) refuses whatever the last owner still tries
//! to commit for them.

use super::{
    PgStore,
    store::{big, pending_updates},
    timers::held_arrays,
    unit::Fence,
};
use crate::{Result, store::PendingUpdate};

/// Records updates, each update id once whichever node receives it first, and takes the owed
/// rows of the partitions the recording node holds at the database's epoch. Answers, in update
/// order, the ids recorded now and whether they were taken.
const RECORD: &str = "
WITH fresh AS (
    INSERT INTO botbox_seen (update_id, at_secs)
    SELECT id, $5 FROM unnest($1::bigint[]) AS id
    ON CONFLICT DO NOTHING RETURNING update_id),
kept AS (
    INSERT INTO botbox_inbox (update_id, raw)
    SELECT t.id, t.raw FROM unnest($1::bigint[], $2::text[]) AS t(id, raw)
    WHERE t.raw IS NOT NULL AND t.id IN (SELECT update_id FROM fresh)),
owed AS (
    INSERT INTO botbox_pending (update_id, module, part, taken)
    SELECT p.id, p.m, p.part, coalesce(
        (SELECT pt.epoch FROM botbox_partitions pt WHERE pt.id = p.part AND pt.epoch = p.held), 0)
    FROM unnest($3::bigint[], $4::text[], $6::int[], $7::bigint[]) AS p(id, m, part, held)
    WHERE p.id IN (SELECT update_id FROM fresh)
    RETURNING update_id, taken)
SELECT f.update_id, coalesce(bool_and(o.taken <> 0), false) FROM fresh f
LEFT JOIN owed o USING (update_id) GROUP BY f.update_id ORDER BY f.update_id";

/// Takes, in the partitions held (`$1`, `$2`: partitions and the epochs the node holds them
/// at; a partition whose epoch moved on is not taken), at most `$3` rows that match `{which}`,
/// and answers their updates, oldest first, each with the modules taken for it.
const TAKE: &str = "
WITH h AS (SELECT h.part, h.epoch FROM unnest($1::int[], $2::bigint[]) AS h(part, epoch)
           JOIN botbox_partitions pt ON pt.id = h.part AND pt.epoch = h.epoch),
took AS (
    UPDATE botbox_pending p SET taken = h.epoch FROM h
    WHERE (p.update_id, p.module) IN (
        SELECT q.update_id, q.module FROM botbox_pending q JOIN h ON q.part = h.part
        WHERE {which} ORDER BY q.update_id LIMIT $3 FOR UPDATE OF q SKIP LOCKED)
      AND p.part = h.part
    RETURNING p.update_id, p.module)
SELECT t.update_id, i.raw, array_agg(t.module ORDER BY t.module) FROM took t
JOIN botbox_inbox i USING (update_id) GROUP BY t.update_id, i.raw ORDER BY t.update_id";

/// The rows nobody took (cheap: a partial index).
const UNTAKEN: &str = "q.taken = 0";
/// The rows not taken at the partition's present epoch: untaken, or taken by its last owner.
const STALE: &str = "q.taken <> h.epoch";

/// An update to record: its id, raw JSON, the modules it is routed to and its partition.
pub struct ToRecord<'a> {
    /// The update's id.
    pub id: u64,
    /// Its JSON, as received.
    pub raw: &'a str,
    /// The modules it is routed to.
    pub modules: &'a [String],
    /// The partition of its chat.
    pub part: u32,
}

impl PgStore {
    /// Records `updates` and marks `skipped` ids seen, in one statement; the rows owed in the
    /// partitions of `held` (at the epochs the database has) are taken by the caller. Answers
    /// the ids recorded now, in order, each with whether the caller took it: an id another node
    /// (or an earlier call) recorded already is left out, and must not be routed again; one
    /// not taken waits for its partition's owner.
    pub async fn record_taking(
        &self,
        updates: &[ToRecord<'_>],
        skipped: &[u64],
        held: &[Fence],
    ) -> Result<Vec<(u64, bool)>> {
        let mut ids = Vec::new();
        let mut raws: Vec<Option<&str>> = Vec::new();
        let (mut owed_ids, mut owed_modules) = (Vec::new(), Vec::new());
        let (mut owed_parts, mut owed_held) = (Vec::new(), Vec::new());
        for u in updates {
            if ids.contains(&big(u.id)?) {
                continue;
            }
            ids.push(big(u.id)?);
            raws.push(Some(u.raw));
            let epoch = (held.iter().find(|f| f.partition == u.part)).map_or(0, |f| f.epoch);
            for m in u.modules {
                owed_ids.push(big(u.id)?);
                owed_modules.push(m.as_str());
                owed_parts.push(u.part as i32);
                owed_held.push(big(epoch)?);
            }
        }
        for id in skipped {
            if !ids.contains(&big(*id)?) {
                ids.push(big(*id)?);
                raws.push(None);
            }
        }
        let now = big(crate::clock::unix_secs())?;
        let rows = self
            .query(
                RECORD,
                &[
                    &ids,
                    &raws,
                    &owed_ids,
                    &owed_modules,
                    &now,
                    &owed_parts,
                    &owed_held,
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, bool>(1)))
            .collect())
    }

    /// [`PgStore::record_taking`] for one node holding nothing of them (tests, and callers
    /// that route nothing): answers the ids recorded now.
    pub async fn record(
        &self,
        updates: &[(u64, String, Vec<String>)],
        skipped: &[u64],
    ) -> Result<Vec<u64>> {
        let updates: Vec<ToRecord<'_>> = (updates.iter())
            .map(|(id, raw, modules)| ToRecord {
                id: *id,
                raw,
                modules,
                part: 0,
            })
            .collect();
        let recorded = self.record_taking(&updates, skipped, &[]).await?;
        Ok(recorded.into_iter().map(|(id, _)| id).collect())
    }

    /// Takes, in the partitions of `held`, at most `limit` owed rows nobody took — or, with
    /// `stale`, every row not taken at the partition's present epoch — and answers their
    /// updates, oldest first, each with the modules taken for it.
    pub async fn take_owed(
        &self,
        held: &[Fence],
        stale: bool,
        limit: usize,
    ) -> Result<Vec<PendingUpdate>> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let (parts, epochs) = held_arrays(held)?;
        let sql = TAKE.replace("{which}", if stale { STALE } else { UNTAKEN });
        let rows = (self.query(&sql, &[&parts, &epochs, &(limit as i64)])).await?;
        Ok(pending_updates(&rows))
    }

    /// Updates from `from` on that `module` still owes and this node took in the partitions of
    /// `held`, oldest first, at most `limit` (a module's backlog, read back as its queues
    /// drain: `intake/backlog.rs`).
    pub async fn taken_updates_for(
        &self,
        module: &str,
        from: u64,
        held: &[Fence],
        limit: usize,
    ) -> Result<Vec<PendingUpdate>> {
        let (parts, epochs) = held_arrays(held)?;
        let rows = self
            .query(
                "SELECT p.update_id, i.raw FROM botbox_pending p JOIN botbox_inbox i USING (update_id) \
                 JOIN unnest($4::int[], $5::bigint[]) AS h(part, epoch) \
                   ON h.part = p.part AND h.epoch = p.taken \
                 WHERE p.module = $1 AND p.update_id >= $2 ORDER BY p.update_id LIMIT $3",
                &[
                    &module,
                    &(from.min(i64::MAX as u64) as i64),
                    &(limit as i64),
                    &parts,
                    &epochs,
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| PendingUpdate {
                update_id: r.get::<_, i64>(0) as u64,
                raw: r.get(1),
                modules: vec![module.to_string()],
            })
            .collect())
    }
}
