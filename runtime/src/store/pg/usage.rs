//! A namespace's usage on PostgreSQL, kept in escrow: several rows per namespace, so that
//! transactions that grow it at once do not all update (and conflict on) one row.
//!
//! `botbox_kv_usage` holds [`SLOTS`] rows per namespace, one per *slot*. Each connection claims
//! a slot when it connects — the first one from a preferred start (the pool's connections go in
//! turn from a random one) that no other connection, of any node, holds: a session advisory
//! lock, gone with the connection — and its transactions add what they change (bytes, keys) to
//! their slot's row only; the namespace's usage is the sum over its rows. Beside its share of the usage, a row holds a *spare*: how much
//! more its slot may grow without looking at the other rows, and the quota the spare was granted
//! under. For every row with a spare, `usage + every spare ≤ that row's quota` (per dimension).
//!
//! - A write that grows the namespace reads its own row only; if the transaction's growth fits
//!   the row's spare (granted under a quota no larger than the node's), the quota holds whatever
//!   the other slots do, and the commit takes the growth from the spare.
//! - If not, the transaction *rebalances*: it reads every row, refuses the write if the usage
//!   plus the growth would pass the quota (exactly the redb backend's check and error), and
//!   otherwise grants its slot the growth plus a [`SLOTS`]th of the quota still free (and every
//!   slot without a spare a quarter of that), taking back spares that were granted under
//!   another quota, and all the others' spares if what is free does not hold the growth. It
//!   writes its row and the rows whose spare it changed.
//! - Shrinking adds to the own row without reading it; what it frees goes back to the common
//!   pool (the next rebalance grants it).
//!
//! SERIALIZABLE keeps this exact: a transaction's decision depends only on the rows it read,
//! and one that took spare from a row conflicts with any that used it. So transactions on
//! different slots conflict only at rebalances — a slot's first spare (slots that all start at
//! once conflict with each other then), when a spare runs out, and near the quota, where every
//! growth rebalances — and a lowered quota makes every slot whose spare was granted under the
//! old one rebalance first. Connections beyond [`SLOTS`] share slots, and conflict when two of
//! them grow the namespace at once. The usage changes travel with `COMMIT`.

use tokio_postgres::{Client, Row, Statement};

/// Usage rows per namespace: at most this many connections (of all nodes) hold a slot of their
/// own; more share slots.
pub(crate) const SLOTS: i32 = 64;

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

/// Index of the bytes (of keys and values) in the pairs below.
pub(crate) const BYTES: usize = 0;
/// Index of the keys.
pub(crate) const KEYS: usize = 1;

/// One usage row of a namespace, each field as (bytes, keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub slot: i32,
    /// What this slot's transactions added (negative if they deleted keys added through another
    /// slot).
    pub used: [i64; 2],
    /// How much more this slot may grow without looking at the other rows.
    pub spare: [i64; 2],
    /// The quota the spare was granted under.
    pub quota: [i64; 2],
}

impl Slot {
    fn from_row(r: &Row) -> Result<Slot, tokio_postgres::Error> {
        Ok(Slot {
            slot: r.try_get(0)?,
            used: [r.try_get(1)?, r.try_get(2)?],
            spare: [r.try_get(3)?, r.try_get(4)?],
            quota: [r.try_get(5)?, r.try_get(6)?],
        })
    }

    /// The rows a usage query answered.
    pub(crate) fn all(rows: &[Row]) -> Result<Vec<Slot>, tokio_postgres::Error> {
        rows.iter().map(Slot::from_row).collect()
    }
}

/// A rebalance: the own slot's new spare, and the other rows whose spare goes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The own slot's spare, before the transaction's growth is taken from it.
    pub spare: [i64; 2],
    /// The quota it is granted under.
    pub quota: [i64; 2],
    /// Quota minus the usage and the other slots' spares (as they will be): the most the own
    /// slot may add plus keep spare.
    pub room: [i64; 2],
    /// Other rows with their new spare and quota.
    pub others: Vec<Slot>,
}

fn clamp(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Plans the rows (`rows`, all of the namespace's) so that `slot` may grow by `delta` within
/// `quota`; the caller checked that the usage plus `delta` fits in the dimensions it grows.
pub(crate) fn rebalance(rows: &[Slot], slot: i32, delta: [i64; 2], quota: [i64; 2]) -> Plan {
    let mut others: Vec<(Slot, bool)> = rows
        .iter()
        .filter(|r| r.slot != slot)
        .map(|r| (*r, false))
        .collect();
    let (mut spare, mut room) = ([0; 2], [0; 2]);
    for d in [BYTES, KEYS] {
        let take_back = |(o, changed): &mut (Slot, bool)| {
            if o.spare[d] > 0 {
                (o.spare[d], o.quota[d], *changed) = (0, quota[d], true);
            }
        };
        // A spare granted under another quota is not counted on: it goes back.
        others
            .iter_mut()
            .filter(|(o, _)| o.quota[d] != quota[d])
            .for_each(take_back);
        let used: i128 = rows.iter().map(|r| i128::from(r.used[d])).sum();
        let kept: i128 = others.iter().map(|(o, _)| i128::from(o.spare[d])).sum();
        let need = i128::from(delta[d].max(0));
        let mut free = i128::from(quota[d]) - used - kept;
        let short = free < need;
        if short {
            others.iter_mut().for_each(take_back);
            free = i128::from(quota[d]) - used;
        }
        let share = (free - need).max(0) / i128::from(SLOTS);
        spare[d] = clamp(need + share);
        // Slots without a spare get a quarter share too (unless spares had to go back): slots
        // that start at once then need not all rebalance, conflicting with each other, for
        // their first spare.
        if !short && share / 4 > 0 {
            for (o, changed) in others.iter_mut().filter(|(o, _)| o.spare[d] == 0) {
                (o.spare[d], o.quota[d], *changed) = (clamp(share / 4), quota[d], true);
                free -= share / 4;
            }
        }
        room[d] = clamp(free);
    }
    Plan {
        spare,
        quota,
        room,
        others: others.into_iter().filter(|o| o.1).map(|o| o.0).collect(),
    }
}

/// What a transaction knows and plans of its namespace's usage rows.
#[derive(Debug)]
pub(crate) struct Escrow {
    /// The slot of the transaction's connection.
    pub slot: i32,
    /// Its row in the transaction's snapshot, once read.
    pub own: Option<Slot>,
    /// Every row in the snapshot, once read (for a rebalance, or the usage).
    pub all: Option<Vec<Slot>>,
    /// The transaction's rebalance, if it made one.
    pub plan: Option<Plan>,
}

impl Escrow {
    pub(crate) fn new(slot: i32) -> Escrow {
        Escrow {
            slot,
            own: None,
            all: None,
            plan: None,
        }
    }

    /// Whether growing by `delta` (in the dimensions `grows`) fits the own slot's spare,
    /// granted under a quota no larger than `quota`. Needs the own row (or a plan).
    pub(crate) fn fits_own(&self, delta: [i64; 2], grows: [bool; 2], quota: [i64; 2]) -> bool {
        let (spare, under) = match (&self.plan, &self.own) {
            (Some(p), _) => (p.spare, p.quota),
            (None, Some(o)) => (o.spare, o.quota),
            (None, None) => return false,
        };
        [BYTES, KEYS]
            .into_iter()
            .all(|d| !grows[d] || (spare[d] > 0 && delta[d] <= spare[d] && under[d] <= quota[d]))
    }

    /// The writes to the usage rows of a transaction that changed the namespace by `delta`.
    pub(crate) fn change(&self, delta: [i64; 2]) -> Change {
        let grew = delta.map(|d| d.max(0));
        let own = match (&self.plan, &self.own) {
            (Some(p), _) => Some((
                [BYTES, KEYS].map(|d| {
                    let may_keep = p.room[d].saturating_sub(delta[d]);
                    (p.spare[d] - grew[d]).min(may_keep).max(0)
                }),
                p.quota,
            )),
            // Growth was checked against the spare: it is taken from it.
            (None, Some(o)) if grew != [0, 0] => Some((
                [BYTES, KEYS].map(|d| (o.spare[d] - grew[d]).max(0)),
                o.quota,
            )),
            _ => None,
        };
        debug_assert!(
            own.is_some() || grew == [0, 0],
            "growth is always checked against the usage rows"
        );
        Change {
            slot: self.slot,
            delta,
            own,
            others: self.plan.as_ref().map_or(Vec::new(), |p| p.others.clone()),
        }
    }
}

/// What a transaction writes to the usage rows at its commit.
pub(crate) struct Change {
    slot: i32,
    delta: [i64; 2],
    /// The own row's new spare and quota (`None`: unchanged).
    own: Option<([i64; 2], [i64; 2])>,
    /// Other rows whose spare went back.
    others: Vec<Slot>,
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
