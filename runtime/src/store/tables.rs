//! Table definitions. Keys and values are plain bytes or integers so that the file stays
//! readable by future versions; records are JSON.

use redb::TableDefinition;

/// Updates recorded and not yet handled by all their modules: update id → raw JSON.
pub(crate) const INBOX: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("inbox");
/// Which modules still owe an update a handling: (update id, module) → ().
pub(crate) const PENDING: TableDefinition<'_, (u64, &str), ()> = TableDefinition::new("pending");
/// Every update id recorded, for deduplication: update id → unix seconds when recorded.
pub(crate) const SEEN: TableDefinition<'_, u64, u64> = TableDefinition::new("seen");
/// Queued outgoing requests: queue sequence number → JSON [`super::records::Entry`].
pub(crate) const OUTBOX: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("outbox");
/// Sent messages: ticket → JSON [`super::TicketRecord`].
pub(crate) const TICKETS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("tickets");
/// Files queued calls upload, by content: SHA-256 hex → JSON row (references, file id).
pub(crate) const FILES: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("files");
/// Their bytes: SHA-256 hex → bytes.
pub(crate) const FILE_BYTES: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("file_bytes");
/// Who sent a message or a poll: `msg:<chat>:<id>` or `poll:<id>` → `<unix seconds> <module>`.
pub(crate) const OWNERS: TableDefinition<'_, &str, &str> = TableDefinition::new("owners");
/// Who waits for a user's next text in a chat (`store/conversations.rs`): `<chat>:<user>` or
/// `<chat>:*` → `<until unix seconds> <module>`.
pub(crate) const CONVERSATIONS: TableDefinition<'_, &str, &str> =
    TableDefinition::new("conversations");
/// Small runtime facts (counters, module tags).
pub(crate) const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
/// Updates a module failed on too often: (module, update id) → reason.
pub(crate) const QUARANTINE: TableDefinition<'_, (&str, u64), &str> =
    TableDefinition::new("quarantine");
/// The update a module was given up on, as Telegram sent it, kept beside its [`QUARANTINE`]
/// row so that the operator can read it and hand it back: (module, update id) → raw JSON.
pub(crate) const QUARANTINED_UPDATES: TableDefinition<'_, (&str, u64), &[u8]> =
    TableDefinition::new("quarantined_updates");

/// Broadcasts: first ticket → JSON [`super::broadcasts::BroadcastRecord`]; its chats' tickets
/// follow the first one, which is how its progress is read.
pub(crate) const BROADCASTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("broadcasts");

/// Pending timers in due order: (due, Unix ms; timer id) → JSON [`super::TimerRecord`].
pub(crate) const TIMERS: TableDefinition<'_, (u64, u64), &[u8]> = TableDefinition::new("timers");
/// Pending timers by id: timer id → due, Unix ms.
pub(crate) const TIMER_DUE: TableDefinition<'_, u64, u64> = TableDefinition::new("timer_due");

/// Updates pending at a crash: update id → how many starts after a crash found it unfinished.
pub(crate) const CRASHES: TableDefinition<'_, u64, u32> = TableDefinition::new("crashes");

/// META key: present when the last stop was clean (written at stop, taken at start).
pub(crate) const META_CLEAN_STOP: &str = "clean_stop";
/// META key: present once a run has started (so a start without the clean-stop mark after it
/// follows a crash, not a fresh database).
pub(crate) const META_STARTED: &str = "started";
/// META key: the next outbox sequence number (u64 big-endian).
pub(crate) const META_NEXT_SEQ: &str = "next_outbox_seq";
/// META key: the next ticket (u64 big-endian).
pub(crate) const META_NEXT_TICKET: &str = "next_ticket";
/// META key: since when (Unix seconds, big-endian u64) every message a module sends gets an
/// owner record (`store/owners.rs`): written at the first start of a host that records them.
pub(crate) const META_OWNERS_SINCE: &str = "owners_since";
/// META key: module name → callback tag, as JSON object.
pub(crate) const META_TAGS: &str = "module_tags";

/// The name of a module's KV table.
pub(crate) fn kv_table_name(module: &str) -> String {
    format!("kv:{module}")
}
