//! A namespace's usage on PostgreSQL, kept in escrow: several rows per namespace, so that
//! transactions that grow it at once do not all update (and conflict on) one row.
//!
//! `botbox_kv_usage` holds [`SLOTS`] rows per namespace, one per *slot*. Each connection claims
//! a slot when it connects — the first one from a preferred start (the pool's connections go in
//! turn from a random one) that no other connection, of any node, holds: a session advisory
//! lock, gone with the connection — and its transactions add what they change (bytes, keys) to
//! their slot's row only; the namespace's usage is the sum over its rows. Beside its share of
//! the usage, a row holds a *spare*: how much more its slot may grow without looking at the
//! other rows, and the quota the spare was granted under. For every row with a spare,
//! `usage + every spare ≤ that row's quota` (per dimension).
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

use tokio_postgres::Row;

mod statements;

pub(crate) use statements::{Change, Statements, claim_slot};

/// Usage rows per namespace: at most this many connections (of all nodes) hold a slot of their
/// own; more share slots.
pub(crate) const SLOTS: i32 = 64;

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
