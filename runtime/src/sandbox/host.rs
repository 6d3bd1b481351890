//! What a module's imports do, one file per WIT interface under `host/`: its KV namespace
//! ([`kv`]), the outbox ([`outbox`]), the log, timers and its config. This file holds the state
//! of one instance's store and of the call in progress.
//!
//! Every argument here comes from an untrusted module; each size is checked where it is used.

mod bot_api;
mod config;
mod kv;
mod log;
mod outbox;
mod timers;

use std::{collections::HashMap, sync::Arc};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::{ModuleEnv, http_out::HttpHooks};
use crate::{
    bindings::{self as wit, types},
    outbox::{Entry, Priority, Target},
    store::{NewTimer, kv_txn::KvTxn},
};

/// Most outbox requests one handler call may queue, broadcasts aside.
const MAX_REQUESTS_PER_CALL: usize = 100;
/// Most entries (broadcast messages included) one handler call may queue.
const MAX_ENTRIES_PER_CALL: usize = 50_000;

/// The state of one call of `handle-update`.
struct Call {
    txn: KvTxn,
    outbox: Vec<Entry>,
    /// The chat of the update being handled, where replies default to `interactive`.
    chat_id: Option<i64>,
    tickets: HashMap<u64, i64>,
    /// Requests queued other than through `broadcast`.
    requests: usize,
    timers: Vec<NewTimer>,
    cancel_timers: Vec<u64>,
    /// On PostgreSQL: the module's pending timers in the store as this call's transaction
    /// sees them, less those it cancelled (`host/timers.rs`); read at its first schedule.
    stored_timers: Option<crate::store::pg::TimerCount>,
    /// The messages of the update being handled: the only ones a module may name by id.
    own_messages: Vec<(i64, i32)>,
    /// The pre-checkout or shipping query of the update being handled: the only one a module
    /// may answer.
    own_query: Option<String>,
    /// Bytes of text and keyboards queued so far (see `outbox::MAX_OUTBOX_BYTES_PER_CALL`).
    outbox_bytes: usize,
    /// The bytes of the files queued calls upload, once per content: (SHA-256 hex, bytes).
    files: Vec<(String, bytes::Bytes)>,
    /// Dropped with the call: what keeps its chat actions alive watches it.
    running: tokio::sync::watch::Sender<()>,
    /// Conversations it declared it waits in, or withdrew (`outbox.expect-reply`).
    expects: Vec<ExpectReply>,
    /// Its broadcasts: (first ticket, chats).
    broadcasts: Vec<(u64, u32)>,
}

/// One `outbox.expect-reply` of a call: the module waits for the next text of `user_id`
/// (anyone when `None`) in `chat_id` for `seconds` (0 withdraws).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectReply {
    /// The chat.
    pub chat_id: i64,
    /// The user; `None` for anyone in the chat.
    pub user_id: Option<i64>,
    /// How long; 0 withdraws.
    pub seconds: u32,
}

/// What a finished call leaves behind: its KV transaction and its queued requests.
pub struct CallOutput {
    /// The transaction, to validate and apply (redb) or commit with the unit of work
    /// (PostgreSQL).
    pub txn: KvTxn,
    /// The chat of the work handled, if it has one (on PostgreSQL its partition's fence goes
    /// with the unit).
    pub chat_id: Option<i64>,
    /// The requests, in order.
    pub outbox: Vec<Entry>,
    /// Timers scheduled.
    pub timers: Vec<NewTimer>,
    /// Timers cancelled.
    pub cancel_timers: Vec<u64>,
    /// The bytes of the files `outbox` uploads.
    pub files: Vec<(String, bytes::Bytes)>,
    /// Conversations declared or withdrawn, in order.
    pub expects: Vec<ExpectReply>,
    /// Broadcasts queued: (first ticket, chats); their tickets are consecutive.
    pub broadcasts: Vec<(u64, u32)>,
}

/// The data of one instance's wasmtime store.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    http_hooks: HttpHooks,
    table: ResourceTable,
    pub(super) limits: wasmtime::StoreLimits,
    pub(super) env: Arc<ModuleEnv>,
    call: Option<Call>,
    /// Epoch ticks the current call has run; the deadline callback counts them.
    pub(super) ticks: u64,
    pub(super) max_ticks: u64,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

impl HostState {
    pub(super) fn new(env: Arc<ModuleEnv>, limits: wasmtime::StoreLimits, max_ticks: u64) -> Self {
        // No files, no environment, no sockets, no arguments: output goes to the log.
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .stdout(env.log.stream("info"))
            .stderr(env.log.stream("warn"))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        HostState {
            wasi,
            http: WasiHttpCtx::new(),
            http_hooks: HttpHooks::new(env.clone()),
            table: ResourceTable::new(),
            limits,
            env,
            call: None,
            ticks: 0,
            max_ticks,
        }
    }

    pub(super) fn begin_call(
        &mut self,
        chat_id: Option<i64>,
        own_messages: Vec<(i64, i32)>,
        own_query: Option<String>,
    ) {
        self.call = Some(Call {
            txn: self.env.kv.begin(),
            outbox: Vec::new(),
            chat_id,
            tickets: HashMap::new(),
            requests: 0,
            timers: Vec::new(),
            cancel_timers: Vec::new(),
            stored_timers: None,
            own_messages,
            own_query,
            outbox_bytes: 0,
            files: Vec::new(),
            running: tokio::sync::watch::Sender::new(()),
            expects: Vec::new(),
            broadcasts: Vec::new(),
        });
        self.ticks = 0;
    }

    pub(super) fn end_call(&mut self) -> Option<CallOutput> {
        self.call.take().map(|c| CallOutput {
            txn: c.txn,
            chat_id: c.chat_id,
            outbox: c.outbox,
            timers: c.timers,
            cancel_timers: c.cancel_timers,
            files: c.files,
            expects: c.expects,
            broadcasts: c.broadcasts,
        })
    }

    fn call(&mut self) -> Option<&mut Call> {
        self.call.as_mut()
    }

    fn queue(&mut self, entry: Entry) -> Result<(), wit::outbox::Error> {
        let call = self.call.as_mut().ok_or_else(not_in_init)?;
        // Module-controlled count: bounded per call.
        if call.requests >= MAX_REQUESTS_PER_CALL || call.outbox.len() >= MAX_ENTRIES_PER_CALL {
            return Err(wit::outbox::Error::QuotaExceeded(format!(
                "at most {MAX_REQUESTS_PER_CALL} requests per update (broadcasts aside)"
            )));
        }
        call.requests += 1;
        call.outbox.push(entry);
        Ok(())
    }

    /// Counts `bytes` more of queued text and keyboards against the call's bound.
    fn charge_bytes(&mut self, bytes: usize) -> Result<(), wit::outbox::Error> {
        let call = self.call.as_mut().ok_or_else(not_in_init)?;
        let total = call.outbox_bytes.saturating_add(bytes);
        if total > outbox::MAX_OUTBOX_BYTES_PER_CALL {
            return Err(wit::outbox::Error::QuotaExceeded(format!(
                "at most {} MiB of text and keyboards per update, this would make {} MiB",
                outbox::MAX_OUTBOX_BYTES_PER_CALL >> 20,
                total >> 20
            )));
        }
        // Module-controlled backlog: what it has waiting counts too, across updates.
        let waiting = self.env.queued_outbox.of(&self.env.name);
        if waiting.saturating_add(total as u64) > self.env.max_queued_outbox_bytes {
            return Err(wit::outbox::Error::QuotaExceeded(format!(
                "the module has {waiting} bytes of messages waiting in the outbox; at most {} (outbox.module_max_queued_bytes)",
                self.env.max_queued_outbox_bytes
            )));
        }
        call.outbox_bytes = total;
        Ok(())
    }

    fn priority(&self, chat_id: i64, asked: Option<wit::outbox::Priority>) -> Priority {
        match asked {
            Some(wit::outbox::Priority::Interactive) => Priority::Interactive,
            Some(wit::outbox::Priority::Normal) => Priority::Normal,
            Some(wit::outbox::Priority::Bulk) => Priority::Bulk,
            None if self.call.as_ref().and_then(|c| c.chat_id) == Some(chat_id) => {
                Priority::Interactive
            }
            None => Priority::Normal,
        }
    }

    /// Resolves a message reference to (chat, target), checking that a ticket is this module's:
    /// queued in this call, recent (maybe not yet durable), else as the store records it.
    async fn target(
        &mut self,
        r: wit::outbox::MessageRef,
    ) -> Result<(i64, Target), wit::outbox::Error> {
        match r {
            wit::outbox::MessageRef::Message((chat, id)) => {
                // Module-chosen ids: only the update's own messages, never another module's.
                let own = self
                    .call
                    .as_ref()
                    .is_some_and(|c| c.own_messages.contains(&(chat, id)));
                if own {
                    Ok((chat, Target::Message(id)))
                } else {
                    Err(invalid(
                        "a module names by id only the message of the update it handles; edit and delete what it sent by ticket",
                    ))
                }
            }
            wit::outbox::MessageRef::Ticket(t) => {
                if let Some(chat) = self.call.as_ref().and_then(|c| c.tickets.get(&t)) {
                    return Ok((*chat, Target::Ticket(t)));
                }
                if let Some(chat) = self.env.recent_tickets.chat_of(t) {
                    return Ok((chat, Target::Ticket(t)));
                }
                match self.env.kv.ticket(&self.env.db, t).await {
                    Ok(Some(rec)) if *rec.module == *self.env.name => {
                        Ok((rec.chat_id, Target::Ticket(t)))
                    }
                    _ => Err(wit::outbox::Error::UnknownTicket(t)),
                }
            }
        }
    }
}

impl HostState {
    /// What the store has of `ticket`, one of this module's: `Ok(None)` while it is still
    /// queued in this call or not yet durable, `Err(())` when the ticket is not this module's.
    async fn own_ticket(&mut self, ticket: u64) -> Result<Option<crate::store::TicketRecord>, ()> {
        let queued = self
            .call
            .as_ref()
            .is_some_and(|c| c.tickets.contains_key(&ticket))
            || self.env.recent_tickets.chat_of(ticket).is_some();
        if queued {
            return Ok(None);
        }
        match self.env.kv.ticket(&self.env.db, ticket).await {
            Ok(Some(rec)) if *rec.module == *self.env.name => Ok(Some(rec)),
            _ => Err(()),
        }
    }
}

fn not_in_init() -> wit::outbox::Error {
    wit::outbox::Error::InvalidArgument("the outbox is not available in init".into())
}

impl types::Host for HostState {}

fn invalid(m: impl Into<String>) -> wit::outbox::Error {
    wit::outbox::Error::InvalidArgument(m.into())
}
