//! The tables of the PostgreSQL store, created idempotently at every start.
//!
//! One table per redb table of the embedded store (`store/tables.rs`), with SQL types instead of
//! byte encodings where a column is queried; the records the host only stores and reads back
//! (outbox entries, tickets, timers) stay the same JSON bytes as in redb. Outbox sequence numbers
//! come from a sequence, ids for tickets and timers from ranges reserved in `botbox_ids`
//! (`ids.rs`), so that several nodes can allocate them without asking each other.
//!
//! Two functions make a unit of work refuse to apply twice: `botbox_done` removes an update's
//! pending mark for a module and raises if there was none (another node, or an earlier run,
//! finished it); `botbox_timer_fired` does the same for a timer. Raising, not returning false,
//! matters: they travel in the same pipeline as `COMMIT`, which then rolls the whole unit back.
//!
//! `botbox_fence` is the third: chats are split into partitions, each owned by one node at a
//! time under an epoch that grows with every takeover, while that node's lease holds. A unit of
//! a chat carries the epoch its node held; the fence, last before `COMMIT`, locks the partition's
//! row `FOR SHARE` (so a takeover's update waits for the commit in flight) and raises if the epoch
//! moved on or the node's lease ran out — a node that was paused, cut off or slow cannot commit
//! late. Leases are kept in database time (`clock_timestamp()`), not in the nodes' clocks.
//!
//! A namespace's usage is split over several rows (`usage.rs`), each updated in place many
//! times a second: `fillfactor = 10` leaves room on their pages, so that an update stays on its
//! page (HOT) and inserts no index entry, which would conflict with the SSI page locks of the
//! transactions that read the other rows through that index page.

/// SQLSTATE raised by `botbox_done`: the update was finished already.
pub(crate) const ALREADY_DONE: &str = "BXD01";
/// SQLSTATE raised by `botbox_timer_fired`: the timer fired already (or was cancelled).
pub(crate) const ALREADY_FIRED: &str = "BXT01";
/// SQLSTATE raised by `botbox_fence`: the partition moved to another node since this node took it.
pub(crate) const MOVED: &str = "BXF01";
/// SQLSTATE raised by `botbox_fence`: this node's lease ran out (it may have been paused).
pub(crate) const LEASE_LOST: &str = "BXF02";

/// Why a unit was refused by one of the functions above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The update or timer was finished already.
    AlreadyDone,
    /// The partition moved on, or this node's lease ran out.
    Fenced,
}

/// The refusal a SQLSTATE means, if it is one of ours.
pub(crate) fn refusal(code: &str) -> Option<Refusal> {
    match code {
        ALREADY_DONE | ALREADY_FIRED => Some(Refusal::AlreadyDone),
        MOVED | LEASE_LOST => Some(Refusal::Fenced),
        _ => None,
    }
}

/// Creates what is missing. Several nodes may start at once: an advisory lock makes them take
/// turns.
pub const SCHEMA: &str = "
BEGIN;
SELECT pg_advisory_xact_lock(7262100019);
CREATE TABLE IF NOT EXISTS botbox_kv (
    ns text NOT NULL,
    k bytea NOT NULL,
    v bytea NOT NULL,
    PRIMARY KEY (ns, k)
);
ALTER TABLE botbox_kv SET (fillfactor = 70);
CREATE TABLE IF NOT EXISTS botbox_kv_usage (
    ns text NOT NULL,
    slot integer NOT NULL,
    bytes bigint NOT NULL,
    keys bigint NOT NULL,
    spare_bytes bigint NOT NULL DEFAULT 0,
    spare_keys bigint NOT NULL DEFAULT 0,
    quota_bytes bigint NOT NULL DEFAULT 0,
    quota_keys bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (ns, slot)
);
ALTER TABLE botbox_kv_usage SET (fillfactor = 10);
CREATE TABLE IF NOT EXISTS botbox_seen (
    update_id bigint PRIMARY KEY,
    at_secs bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS botbox_inbox (
    update_id bigint PRIMARY KEY,
    raw text NOT NULL
);
CREATE TABLE IF NOT EXISTS botbox_pending (
    update_id bigint NOT NULL,
    module text NOT NULL,
    PRIMARY KEY (update_id, module)
);
CREATE SEQUENCE IF NOT EXISTS botbox_outbox_seq;
CREATE TABLE IF NOT EXISTS botbox_outbox (
    seq bigint PRIMARY KEY,
    chat bigint NOT NULL,
    entry bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS botbox_tickets (
    ticket bigint PRIMARY KEY,
    rec bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS botbox_timers (
    id bigint PRIMARY KEY,
    due_ms bigint NOT NULL,
    module text NOT NULL,
    rec bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS botbox_timers_due ON botbox_timers (due_ms, id);
-- Each module's timers in due order: the fair read of due timers and the count of a module's
-- pending timers (`timers.rs`).
CREATE INDEX IF NOT EXISTS botbox_timers_module_due ON botbox_timers (module, due_ms, id);
-- The next id for tickets and timers, reserved in ranges by the nodes (`ids.rs`).
CREATE TABLE IF NOT EXISTS botbox_ids (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    next bigint NOT NULL
);
INSERT INTO botbox_ids (next)
    SELECT 1 + greatest(0, (SELECT max(ticket) FROM botbox_tickets), (SELECT max(id) FROM botbox_timers))
    ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS botbox_quarantine (
    module text NOT NULL,
    update_id bigint NOT NULL,
    reason text NOT NULL,
    raw text,
    PRIMARY KEY (module, update_id)
);
CREATE TABLE IF NOT EXISTS botbox_meta (
    k text PRIMARY KEY,
    v bytea NOT NULL
);
CREATE OR REPLACE FUNCTION botbox_done(u bigint, m text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM botbox_pending WHERE update_id = u AND module = m;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'update % was handled by module % already', u, m
            USING ERRCODE = 'BXD01';
    END IF;
    DELETE FROM botbox_inbox WHERE update_id = u
        AND NOT EXISTS (SELECT 1 FROM botbox_pending WHERE update_id = u);
END $$;
CREATE OR REPLACE FUNCTION botbox_timer_fired(t bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM botbox_timers WHERE id = t;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'timer % fired already or was cancelled', t USING ERRCODE = 'BXT01';
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS botbox_files (k text PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE IF NOT EXISTS botbox_file_bytes (k text PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE IF NOT EXISTS botbox_owners (k text PRIMARY KEY, v text NOT NULL);
CREATE TABLE IF NOT EXISTS botbox_conversations (k text PRIMARY KEY, v text NOT NULL);
CREATE TABLE IF NOT EXISTS botbox_broadcasts (first bigint PRIMARY KEY, rec bytea NOT NULL);
CREATE TABLE IF NOT EXISTS botbox_crashes (update_id bigint PRIMARY KEY, starts bigint NOT NULL);
CREATE TABLE IF NOT EXISTS botbox_nodes (
    node text PRIMARY KEY,
    lease_until timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS botbox_partitions (
    id integer PRIMARY KEY,
    owner text,
    epoch bigint NOT NULL DEFAULT 0
);
CREATE OR REPLACE FUNCTION botbox_fence(p integer, e bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    current bigint;
    until timestamptz;
BEGIN
    SELECT pt.epoch, n.lease_until INTO current, until
        FROM botbox_partitions pt LEFT JOIN botbox_nodes n ON n.node = pt.owner
        WHERE pt.id = p FOR SHARE OF pt;
    IF current IS DISTINCT FROM e THEN
        RAISE EXCEPTION 'partition % moved to another node (epoch % now, this node held %)',
            p, current, e USING ERRCODE = 'BXF01';
    END IF;
    IF until IS NULL OR until < clock_timestamp() THEN
        RAISE EXCEPTION 'the lease of this node on partition % ran out', p
            USING ERRCODE = 'BXF02';
    END IF;
END $$;
-- Several nodes: the partition of each owed update, outbox row and timer (`leases.rs`), and the
-- epoch at which a node took the row in hand (0: nobody yet). The owner of a partition takes
-- what other nodes left there (`pickup.rs`); after a takeover the epoch moved on, so the rows
-- the last owner took are taken again.
ALTER TABLE botbox_pending ADD COLUMN IF NOT EXISTS part integer NOT NULL DEFAULT 0;
ALTER TABLE botbox_pending ADD COLUMN IF NOT EXISTS taken bigint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS botbox_pending_untaken ON botbox_pending (part) WHERE taken = 0;
CREATE INDEX IF NOT EXISTS botbox_pending_part ON botbox_pending (part, update_id);
ALTER TABLE botbox_outbox ADD COLUMN IF NOT EXISTS part integer NOT NULL DEFAULT 0;
ALTER TABLE botbox_outbox ADD COLUMN IF NOT EXISTS taken bigint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS botbox_outbox_untaken ON botbox_outbox (part) WHERE taken = 0;
CREATE INDEX IF NOT EXISTS botbox_outbox_part ON botbox_outbox (part, seq);
ALTER TABLE botbox_timers ADD COLUMN IF NOT EXISTS part integer NOT NULL DEFAULT 0;
-- The bot's modules, as every node should run them (`modules.rs`): one row per module, its
-- serving version's hash (NULL once removed), the operator's reason when it is disabled and the
-- configuration set through the API, and a version awaiting the operator's approval (what it
-- asks for, as JSON, and its hash); `seq` grows with every change, so a node asks for what
-- changed since the last it saw. The versions' bytes, by hash, for nodes that lack them.
CREATE SEQUENCE IF NOT EXISTS botbox_module_seq;
CREATE TABLE IF NOT EXISTS botbox_modules (
    name text PRIMARY KEY,
    seq bigint NOT NULL,
    hash text,
    disabled text,
    config text,
    awaiting text,
    awaiting_hash text,
    node text NOT NULL,
    at_ms bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS botbox_module_code (
    hash text PRIMARY KEY,
    name text NOT NULL,
    wasm bytea NOT NULL,
    at timestamptz NOT NULL
);
COMMIT;
";
