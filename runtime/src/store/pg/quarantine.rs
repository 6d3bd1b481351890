//! Updates a module was given up on, on PostgreSQL (`botbox_quarantine`), as the operator sees
//! them from any node: read one, drop it, or hand it back — the same operations as the redb
//! store's (`store/quarantine.rs`).
//!
//! Handing an update back writes what recording it wrote — the update in `botbox_inbox`, owed
//! by that one module in `botbox_pending`, in its chat's partition and taken by no node — and
//! forgets its quarantine row and the crashes counted against it, in one SERIALIZABLE
//! transaction (run again when PostgreSQL refuses it, as a unit is). The node that owns the
//! partition then takes it like an update another node recorded (`intake/pickup.rs`): it is
//! handled once, by the owner, in its chat's order.

use super::{Conn, PgStore, is_conflict, store::big, store::lost, store::pg, txn::BEGIN};
use tokio_postgres::types::ToSql;

use crate::{Error, Result, store::quarantine::Quarantined};

/// How many times a hand-back refused by PostgreSQL (it does not serialize with a concurrent
/// transaction) is run again before the operator is told.
const MAX_CONFLICTS: usize = 50;

/// What a hand-back's transaction came to.
enum Tried {
    Done,
    Conflict,
    Failed(Error),
}

fn not_quarantined(module: &str, update_id: u64) -> Error {
    Error::NotFound(format!(
        "update {update_id} of `{module}` is not quarantined"
    ))
}

impl PgStore {
    /// One quarantined update, with its JSON.
    pub async fn quarantined_update(
        &self,
        module: &str,
        update_id: u64,
    ) -> Result<Option<Quarantined>> {
        let rows = self
            .query(
                "SELECT reason, raw FROM botbox_quarantine WHERE module = $1 AND update_id = $2",
                &[&module, &big(update_id)?],
            )
            .await?;
        Ok(rows.first().map(|r| Quarantined {
            module: module.to_string(),
            update_id,
            reason: r.get(0),
            update: r.get(1),
        }))
    }

    /// Forgets a quarantined update for good.
    pub async fn drop_quarantined(&self, module: &str, update_id: u64) -> Result<()> {
        let rows = self
            .query(
                "DELETE FROM botbox_quarantine WHERE module = $1 AND update_id = $2 RETURNING 1",
                &[&module, &big(update_id)?],
            )
            .await?;
        match rows.is_empty() {
            true => Err(not_quarantined(module, update_id)),
            false => Ok(()),
        }
    }

    /// Owes the quarantined update to `module` again, untaken, in the partition `part` gives
    /// for its JSON, and forgets its quarantine, in one transaction. Returns its JSON.
    pub async fn requeue_quarantined(
        &self,
        module: &str,
        update_id: u64,
        part: impl Fn(&str) -> Result<u32>,
    ) -> Result<String> {
        let id = big(update_id)?;
        for _ in 0..MAX_CONFLICTS {
            let conn = self.pool().get().await.map_err(lost)?;
            let mut raw = None;
            let tried = requeue(&conn, module, id, &part, &mut raw).await;
            let tried = match tried {
                Tried::Done => match conn.client.batch_execute("COMMIT").await {
                    Ok(()) => Tried::Done,
                    Err(e) if is_conflict(&e) => Tried::Conflict,
                    Err(e) => Tried::Failed(pg(e)),
                },
                other => {
                    if conn.client.batch_execute("ROLLBACK").await.is_err() {
                        // The connection is lost with its transaction: not pooled again.
                        return match other {
                            Tried::Failed(e) => Err(e),
                            _ => Err(Error::Postgres("the connection was lost".into())),
                        };
                    }
                    other
                }
            };
            self.pool().put(conn);
            match tried {
                Tried::Done => return raw.ok_or_else(|| Error::Corrupt("no update".into())),
                Tried::Conflict => continue,
                Tried::Failed(e) => return Err(e),
            }
        }
        Err(Error::Conflict(format!(
            "update {update_id} of `{module}` stays quarantined: concurrent transactions kept refusing the hand-back, try again"
        )))
    }
}

/// The hand-back's statements, in a transaction left open for the caller to end.
async fn requeue(
    conn: &Conn,
    module: &str,
    id: i64,
    part: &impl Fn(&str) -> Result<u32>,
    raw_out: &mut Option<String>,
) -> Tried {
    let c = &conn.client;
    let fail = |e: tokio_postgres::Error| match is_conflict(&e) {
        true => Tried::Conflict,
        false => Tried::Failed(pg(e)),
    };
    if let Err(e) = c.batch_execute(BEGIN).await {
        return fail(e);
    }
    let rows = match c
        .query(
            "DELETE FROM botbox_quarantine WHERE module = $1 AND update_id = $2 RETURNING raw",
            &[&module, &id],
        )
        .await
    {
        Ok(rows) => rows,
        Err(e) => return fail(e),
    };
    let update_id = id as u64;
    let Some(row) = rows.first() else {
        return Tried::Failed(not_quarantined(module, update_id));
    };
    let Some(raw) = row.get::<_, Option<String>>(0) else {
        return Tried::Failed(Error::Config(format!(
            "update {update_id} of `{module}` was quarantined before the host kept updates it gave up; it can only be dropped"
        )));
    };
    let p = match part(&raw) {
        Ok(p) => p as i32,
        Err(e) => return Tried::Failed(e),
    };
    let (inbox, pending, crashes): ([&(dyn ToSql + Sync); 2], [&(dyn ToSql + Sync); 3], _) = (
        [&id, &raw],
        [&id, &module, &p],
        [&id as &(dyn ToSql + Sync)],
    );
    let writes = futures::try_join!(
        c.execute(
            "INSERT INTO botbox_inbox (update_id, raw) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &inbox,
        ),
        c.execute(
            "INSERT INTO botbox_pending (update_id, module, part, taken) VALUES ($1, $2, $3, 0) \
             ON CONFLICT (update_id, module) DO NOTHING",
            &pending,
        ),
        c.execute("DELETE FROM botbox_crashes WHERE update_id = $1", &crashes),
    );
    match writes {
        Ok(_) => {
            *raw_out = Some(raw);
            Tried::Done
        }
        Err(e) => fail(e),
    }
}
