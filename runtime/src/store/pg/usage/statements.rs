//! The SQL of the usage rows (`usage.rs`): claiming a slot, reading rows, and what a
//! transaction writes to them at its commit.

use tokio_postgres::{Client, Statement};

use super::{BYTES, KEYS, SLOTS, Slot};

/// The first key of the session advisory locks by which connections claim their slots.
const SLOT_LOCKS: i32 = 726_210_020;

/// Claims the first usage slot from `preferred` (round) that no other connection holds, with a
/// session advisory lock that goes when the connection does; `preferred` if every slot is held.
pub(crate) async fn claim_slot(c: &Client, preferred: u32) -> Result<i32, tokio_postgres::Error> {
    let first = (preferred % SLOTS as u32) as i32;
    // Rows are made, and the lock tried, one at a time until the first one taken.
    let rows = c
        .query(
            "SELECT s FROM generate_series(0, $2 - 1) AS g, LATERAL (SELECT (g + $1) % $2 AS s) t \
             WHERE pg_try_advisory_lock($3, s) LIMIT 1",
            &[&first, &SLOTS, &SLOT_LOCKS],
        )
        .await?;
    rows.first().map_or(Ok(first), |r| r.try_get(0))
}

/// What a transaction writes to the usage rows at its commit.
pub(crate) struct Change {
    pub(super) slot: i32,
    pub(super) delta: [i64; 2],
    /// The own row's new spare and quota (`None`: unchanged).
    pub(super) own: Option<([i64; 2], [i64; 2])>,
    /// Other rows whose spare or quota changed.
    pub(super) others: Vec<Slot>,
}

impl Change {
    /// Sends the updates of namespace `ns`'s rows (pipelined with what the caller sends before
    /// and after).
    pub(crate) async fn send(
        &self,
        c: &Client,
        st: &Statements,
        ns: &str,
    ) -> Result<(), tokio_postgres::Error> {
        let own = async {
            if self.delta == [0, 0] && self.own.is_none() {
                return Ok(0);
            }
            let (spare, quota) = match self.own {
                Some((s, q)) => (s.map(Some), q.map(Some)),
                None => ([None; 2], [None; 2]),
            };
            let [bytes, keys] = &self.delta;
            let (sb, sk, qb, qk) = (&spare[BYTES], &spare[KEYS], &quota[BYTES], &quota[KEYS]);
            c.execute(&st.add, &[&ns, &self.slot, bytes, keys, sb, sk, qb, qk])
                .await
        };
        let others = async {
            if self.others.is_empty() {
                return Ok(0);
            }
            let col = |f: fn(&Slot) -> i64| self.others.iter().map(f).collect::<Vec<i64>>();
            let slots: Vec<i32> = self.others.iter().map(|o| o.slot).collect();
            let (sb, sk) = (col(|o| o.spare[BYTES]), col(|o| o.spare[KEYS]));
            let (qb, qk) = (col(|o| o.quota[BYTES]), col(|o| o.quota[KEYS]));
            c.execute(&st.set_spares, &[&ns, &slots, &sb, &sk, &qb, &qk])
                .await
        };
        let (own, others) = futures::join!(own, others);
        own.and(others).map(|_| ())
    }
}

/// The usage statements, prepared once per connection.
pub(crate) struct Statements {
    /// The own slot's row.
    pub own: Statement,
    /// Every row of the namespace.
    pub all: Statement,
    /// Adds to the own row, and sets its spare if given.
    add: Statement,
    /// Sets other rows' spares.
    set_spares: Statement,
    /// Creates the namespace's rows that are missing.
    pub open: Statement,
}

const COLUMNS: &str = "slot, bytes, keys, spare_bytes, spare_keys, quota_bytes, quota_keys";

impl Statements {
    pub(crate) async fn prepare(c: &Client) -> Result<Statements, tokio_postgres::Error> {
        let own = format!("SELECT {COLUMNS} FROM botbox_kv_usage WHERE ns = $1 AND slot = $2");
        let all = format!("SELECT {COLUMNS} FROM botbox_kv_usage WHERE ns = $1");
        let (own, all, add, set_spares, open) = futures::try_join!(
            c.prepare(&own),
            c.prepare(&all),
            c.prepare(
                "UPDATE botbox_kv_usage SET bytes = bytes + $3, keys = keys + $4, \
                 spare_bytes = coalesce($5, spare_bytes), spare_keys = coalesce($6, spare_keys), \
                 quota_bytes = coalesce($7, quota_bytes), quota_keys = coalesce($8, quota_keys) \
                 WHERE ns = $1 AND slot = $2"
            ),
            c.prepare(
                "UPDATE botbox_kv_usage AS u SET spare_bytes = t.sb, spare_keys = t.sk, \
                 quota_bytes = t.qb, quota_keys = t.qk \
                 FROM unnest($2::int[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) \
                   AS t(slot, sb, sk, qb, qk) \
                 WHERE u.ns = $1 AND u.slot = t.slot"
            ),
            c.prepare(
                "INSERT INTO botbox_kv_usage (ns, slot, bytes, keys) \
                 SELECT $1, s, 0, 0 FROM generate_series(0, $2::int - 1) AS s \
                 ON CONFLICT (ns, slot) DO NOTHING"
            ),
        )?;
        Ok(Statements {
            own,
            all,
            add,
            set_spares,
            open,
        })
    }
}
