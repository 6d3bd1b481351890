//! What a module's imports do: its KV namespace, the outbox, the log, its config.
//!
//! Every argument here comes from an untrusted module; each size is checked where it is used.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use parking_lot::Mutex;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::{
    GuestLog,
    http_out::{HttpHooks, OutgoingLimits},
};
use crate::{
    bindings::{config, kv, log, outbox, timers, types},
    outbox::{Action, Entry, Priority, Target},
    store::{
        Db, NewTimer, TimerRecord,
        kv::{KvError, Namespace, Txn},
    },
};

/// Largest timer payload, in bytes.
const MAX_TIMER_PAYLOAD: usize = 4096;
/// Most timers one handler call may schedule.
const MAX_TIMERS_PER_CALL: usize = 100;
/// Furthest a timer may be scheduled ahead, in milliseconds (a year).
const MAX_TIMER_AHEAD_MS: u64 = 366 * 24 * 3600 * 1000;

/// Longest message text Telegram accepts, in characters.
const MAX_TEXT_CHARS: usize = 4096;
/// Telegram's limit on `callback_data`, in bytes.
const MAX_CALLBACK_BYTES: usize = 64;
/// Most outbox requests one handler call may queue, broadcasts aside.
const MAX_REQUESTS_PER_CALL: usize = 100;
/// Most chats one `broadcast` call may name.
const MAX_BROADCAST_CHATS: usize = 10_000;
/// Most entries (broadcast messages included) one handler call may queue.
const MAX_ENTRIES_PER_CALL: usize = 50_000;

/// Hands out tickets, unique for the life of the database.
pub struct TicketCounter(AtomicU64);

impl TicketCounter {
    /// Continues after `last`.
    pub fn new(last: u64) -> Self {
        TicketCounter(AtomicU64::new(last + 1))
    }
    fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// What every instance of one module shares.
pub struct ModuleEnv {
    /// The module's name (from its manifest, or its file name before `init`).
    pub name: Arc<str>,
    /// Its KV namespace.
    pub namespace: Arc<Namespace>,
    /// Its tag in callback data (`<tag>:<data>`).
    pub tag: String,
    /// The operator's settings for it.
    pub config: toml::Table,
    /// Its log.
    pub log: Arc<GuestLog>,
    /// The runtime's ticket counter.
    pub tickets: Arc<TicketCounter>,
    /// The database, to look up tickets.
    pub db: Arc<Db>,
    /// Tickets queued but maybe not yet durable: ticket → chat.
    pub recent_tickets: Mutex<HashMap<u64, i64>>,
    /// What it may use beyond KV, the outbox, the log and its config: its manifest's
    /// declaration narrowed by the operator, set once the manifest is known.
    pub capabilities: parking_lot::RwLock<Capabilities>,
    /// Most timers the module may have pending.
    pub max_timers: u64,
    /// The limits of its outgoing HTTP requests.
    pub http: OutgoingLimits,
}

/// Capabilities a module declares in its manifest and the operator may narrow.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Capabilities {
    /// It may schedule timers.
    pub timers: bool,
    /// The hosts it may reach over HTTP (exact names or `*.suffix`).
    pub http_hosts: Vec<String>,
}

impl Capabilities {
    /// What a module gets: what it declared, narrowed by the operator (`timers = false` takes
    /// timers away; `http_hosts` keeps only the declared patterns the operator also lists).
    pub fn granted(
        declared_timers: bool,
        declared_hosts: &[String],
        operator: Option<&crate::config::ModuleSettings>,
    ) -> Capabilities {
        let timers = declared_timers && operator.and_then(|o| o.timers).unwrap_or(true);
        let http_hosts = declared_hosts
            .iter()
            .filter(|h| {
                operator
                    .and_then(|o| o.http_hosts.as_ref())
                    .is_none_or(|allowed| allowed.iter().any(|a| a.eq_ignore_ascii_case(h)))
            })
            .map(|h| h.to_ascii_lowercase())
            .collect();
        Capabilities { timers, http_hosts }
    }

    /// Whether `host` on its scheme's default port matches one of the allowed patterns.
    pub fn allows_host(&self, host: &str) -> bool {
        self.allows(host, 443, 443)
    }

    /// Whether `host:port` may be reached. A pattern is a host name (`api.example.com`) or one
    /// leading wildcard label (`*.example.com`), optionally followed by `:port` or `:*`;
    /// without a port it allows only the scheme's `default_port` (80 or 443).
    pub fn allows(&self, host: &str, port: u16, default_port: u16) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.http_hosts.iter().any(|p| {
            let (name, port_ok) = match p.rsplit_once(':') {
                Some((name, "*")) => (name, true),
                Some((name, n)) => (name, n.parse() == Ok(port)),
                None => (p.as_str(), port == default_port),
            };
            port_ok
                && match name.strip_prefix("*.") {
                    Some(suffix) => {
                        host.len() > suffix.len() + 1
                            && host.ends_with(suffix)
                            && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                    }
                    None => name == host,
                }
        })
    }
}

/// The state of one call of `handle-update`.
struct Call {
    txn: Txn,
    outbox: Vec<Entry>,
    /// The chat of the update being handled, where replies default to `interactive`.
    chat_id: Option<i64>,
    tickets: HashMap<u64, i64>,
    /// Requests queued other than through `broadcast`.
    requests: usize,
    timers: Vec<NewTimer>,
    cancel_timers: Vec<u64>,
    /// The messages of the update being handled: the only ones a module may name by id.
    own_messages: Vec<(i64, i32)>,
}

/// What a finished call leaves behind: its KV transaction and its queued requests.
pub struct CallOutput {
    /// The transaction, to validate and apply.
    pub txn: Txn,
    /// The requests, in order.
    pub outbox: Vec<Entry>,
    /// Timers scheduled.
    pub timers: Vec<NewTimer>,
    /// Timers cancelled.
    pub cancel_timers: Vec<u64>,
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
            http_hooks: HttpHooks {
                env: env.clone(),
                limits: env.http,
            },
            table: ResourceTable::new(),
            limits,
            env,
            call: None,
            ticks: 0,
            max_ticks,
        }
    }

    pub(super) fn begin_call(&mut self, chat_id: Option<i64>, own_messages: Vec<(i64, i32)>) {
        self.call = Some(Call {
            txn: self.env.namespace.begin(),
            outbox: Vec::new(),
            chat_id,
            tickets: HashMap::new(),
            requests: 0,
            timers: Vec::new(),
            cancel_timers: Vec::new(),
            own_messages,
        });
        self.ticks = 0;
    }

    pub(super) fn end_call(&mut self) -> Option<CallOutput> {
        self.call.take().map(|c| CallOutput {
            txn: c.txn,
            outbox: c.outbox,
            timers: c.timers,
            cancel_timers: c.cancel_timers,
        })
    }

    fn call(&mut self) -> Option<&mut Call> {
        self.call.as_mut()
    }

    fn queue(&mut self, entry: Entry) -> Result<(), outbox::Error> {
        let call = self.call.as_mut().ok_or_else(not_in_init)?;
        // Module-controlled count: bounded per call.
        if call.requests >= MAX_REQUESTS_PER_CALL || call.outbox.len() >= MAX_ENTRIES_PER_CALL {
            return Err(outbox::Error::QuotaExceeded(format!(
                "at most {MAX_REQUESTS_PER_CALL} requests per update (broadcasts aside)"
            )));
        }
        call.requests += 1;
        call.outbox.push(entry);
        Ok(())
    }

    fn priority(&self, chat_id: i64, asked: Option<outbox::Priority>) -> Priority {
        match asked {
            Some(outbox::Priority::Interactive) => Priority::Interactive,
            Some(outbox::Priority::Normal) => Priority::Normal,
            Some(outbox::Priority::Bulk) => Priority::Bulk,
            None if self.call.as_ref().and_then(|c| c.chat_id) == Some(chat_id) => {
                Priority::Interactive
            }
            None => Priority::Normal,
        }
    }

    /// Resolves a message reference to (chat, target), checking that a ticket is this module's.
    fn target(&mut self, r: outbox::MessageRef) -> Result<(i64, Target), outbox::Error> {
        match r {
            outbox::MessageRef::Message((chat, id)) => {
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
            outbox::MessageRef::Ticket(t) => {
                if let Some(chat) = self.call.as_ref().and_then(|c| c.tickets.get(&t)) {
                    return Ok((*chat, Target::Ticket(t)));
                }
                if let Some(chat) = self.env.recent_tickets.lock().get(&t) {
                    return Ok((*chat, Target::Ticket(t)));
                }
                match self.env.db.ticket(t) {
                    Ok(Some(rec)) if *rec.module == *self.env.name => {
                        Ok((rec.chat_id, Target::Ticket(t)))
                    }
                    _ => Err(outbox::Error::UnknownTicket(t)),
                }
            }
        }
    }
}

fn not_in_init() -> outbox::Error {
    outbox::Error::InvalidArgument("the outbox is not available in init".into())
}

fn kv_error(e: KvError) -> kv::Error {
    match e {
        KvError::InvalidKey(m) => kv::Error::InvalidKey(m),
        KvError::ValueTooLarge(m) => kv::Error::ValueTooLarge(m),
        KvError::QuotaExceeded(m) => kv::Error::QuotaExceeded(m),
        KvError::WrongType(m) => kv::Error::WrongType(m),
        KvError::Io(m) => kv::Error::Io(m),
    }
}

fn no_call() -> kv::Error {
    kv::Error::Io("the KV store is not available in init".into())
}

impl types::Host for HostState {}

impl HostState {
    /// Runs a KV operation in the current call's transaction.
    fn kv<T>(
        &mut self,
        op: impl FnOnce(&Namespace, &mut Txn) -> Result<T, KvError>,
    ) -> Result<T, kv::Error> {
        let ns = self.env.namespace.clone();
        let call = self.call.as_mut().ok_or_else(no_call)?;
        op(&ns, &mut call.txn).map_err(kv_error)
    }
}

impl kv::Host for HostState {
    fn get(&mut self, key: Vec<u8>) -> Result<Option<Vec<u8>>, kv::Error> {
        self.kv(|ns, txn| ns.get(txn, &key))
    }

    fn set(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), kv::Error> {
        self.kv(|ns, txn| ns.set(txn, &key, &value))
    }

    fn delete(&mut self, key: Vec<u8>) -> Result<bool, kv::Error> {
        self.kv(|ns, txn| ns.delete(txn, &key))
    }

    fn increment(&mut self, key: Vec<u8>, delta: i64) -> Result<i64, kv::Error> {
        self.kv(|ns, txn| ns.increment(txn, &key, delta))
    }

    fn scan(
        &mut self,
        prefix: Vec<u8>,
        after: Option<Vec<u8>>,
        limit: u32,
    ) -> Result<kv::Page, kv::Error> {
        self.kv(|ns, txn| ns.scan(txn, &prefix, after.as_deref(), limit))
            .map(to_page)
    }

    fn range(
        &mut self,
        start: Vec<u8>,
        end: Option<Vec<u8>>,
        after: Option<Vec<u8>>,
        limit: u32,
    ) -> Result<kv::Page, kv::Error> {
        self.kv(|ns, txn| ns.range(txn, &start, end.as_deref(), after.as_deref(), limit))
            .map(to_page)
    }

    fn compare_and_swap(
        &mut self,
        key: Vec<u8>,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    ) -> Result<bool, kv::Error> {
        self.kv(|ns, txn| ns.compare_and_swap(txn, &key, expected.as_deref(), new.as_deref()))
    }

    fn batch(&mut self, writes: Vec<kv::Write>) -> Result<(), kv::Error> {
        let writes: Vec<_> = writes
            .into_iter()
            .map(|w| match w {
                kv::Write::Set(e) => (e.key, Some(e.value)),
                kv::Write::Delete(k) => (k, None),
            })
            .collect();
        self.kv(|ns, txn| ns.batch(txn, &writes))
    }

    fn get_usage(&mut self) -> Result<kv::Usage, kv::Error> {
        let u = self.kv(|ns, txn| Ok(ns.usage(txn)))?;
        Ok(kv::Usage {
            bytes: u.bytes,
            keys: u.keys,
            max_bytes: u.quota.max_bytes,
            max_keys: u.quota.max_keys,
        })
    }
}

fn to_page((entries, next): crate::store::kv::Page) -> kv::Page {
    kv::Page {
        entries: entries
            .into_iter()
            .map(|(key, value)| kv::Entry { key, value })
            .collect(),
        next,
    }
}

fn invalid(m: impl Into<String>) -> outbox::Error {
    outbox::Error::InvalidArgument(m.into())
}

fn check_text(text: &str) -> Result<(), outbox::Error> {
    // Module-controlled size: Telegram's limits, checked before anything is queued.
    if text.trim().is_empty() {
        return Err(invalid("message text is empty"));
    }
    let n = text.chars().count();
    if n > MAX_TEXT_CHARS {
        return Err(invalid(format!(
            "message text has {n} characters, Telegram allows {MAX_TEXT_CHARS}"
        )));
    }
    Ok(())
}

fn parse_mode(p: outbox::ParseMode) -> Option<String> {
    match p {
        outbox::ParseMode::Plain => None,
        outbox::ParseMode::MarkdownV2 => Some("MarkdownV2".into()),
        outbox::ParseMode::Html => Some("HTML".into()),
    }
}

/// Turns a keyboard into a Bot API `reply_markup`, tagging callback data with the module's tag.
fn reply_markup(tag: &str, kb: outbox::Keyboard) -> Result<serde_json::Value, outbox::Error> {
    use serde_json::json;
    // Module-controlled sizes: Telegram allows 100 buttons; labels and data are checked too.
    let count_ok = |n: usize| {
        if n > 100 {
            Err(invalid(format!(
                "a keyboard has at most 100 buttons, this one {n}"
            )))
        } else {
            Ok(())
        }
    };
    match kb {
        outbox::Keyboard::Inline(rows) => {
            count_ok(rows.iter().map(Vec::len).sum())?;
            let max_data = MAX_CALLBACK_BYTES - tag.len() - 1;
            let mut out = Vec::new();
            for row in rows {
                let mut r = Vec::new();
                for b in row {
                    if b.text.is_empty() || b.text.len() > 256 {
                        return Err(invalid("button labels must be 1..=256 bytes"));
                    }
                    r.push(match b.action {
                        outbox::ButtonAction::Callback(data) => {
                            if data.len() > max_data {
                                return Err(invalid(format!(
                                    "callback data has {} bytes, at most {max_data} fit",
                                    data.len()
                                )));
                            }
                            json!({"text": b.text, "callback_data": format!("{tag}:{data}")})
                        }
                        outbox::ButtonAction::Url(url) => {
                            if !(url.starts_with("https://")
                                || url.starts_with("http://")
                                || url.starts_with("tg://"))
                            {
                                return Err(invalid(format!(
                                    "button URL `{url}` is not http(s) or tg"
                                )));
                            }
                            json!({"text": b.text, "url": url})
                        }
                    });
                }
                out.push(r);
            }
            Ok(json!({ "inline_keyboard": out }))
        }
        outbox::Keyboard::Reply(k) => {
            count_ok(k.rows.iter().map(Vec::len).sum())?;
            if k.rows
                .iter()
                .flatten()
                .any(|l| l.is_empty() || l.len() > 256)
            {
                return Err(invalid("button labels must be 1..=256 bytes"));
            }
            let rows: Vec<Vec<_>> = k
                .rows
                .into_iter()
                .map(|r| r.into_iter().map(|t| json!({ "text": t })).collect())
                .collect();
            Ok(json!({
                "keyboard": rows,
                "resize_keyboard": k.resize,
                "one_time_keyboard": k.one_time,
            }))
        }
        outbox::Keyboard::RemoveReply => Ok(json!({ "remove_keyboard": true })),
    }
}

impl outbox::Host for HostState {
    fn send_message(
        &mut self,
        chat_id: i64,
        text: String,
        options: outbox::MessageOptions,
    ) -> Result<outbox::Ticket, outbox::Error> {
        check_text(&text)?;
        let markup = options
            .keyboard
            .map(|k| reply_markup(&self.env.tag, k))
            .transpose()?;
        let priority = self.priority(chat_id, options.priority);
        let ticket = self.env.tickets.next();
        self.queue(Entry {
            module: self.env.name.to_string(),
            chat_id,
            priority,
            ticket: Some(ticket),
            queued_at_ms: crate::outbox::now_ms(),
            action: Action::Send {
                text,
                parse_mode: parse_mode(options.parse_mode),
                reply_markup: markup,
                reply_to: options.reply_to,
                silent: options.disable_notification,
            },
        })?;
        if let Some(c) = self.call() {
            c.tickets.insert(ticket, chat_id);
        }
        Ok(ticket)
    }

    fn broadcast(
        &mut self,
        chat_ids: Vec<i64>,
        text: String,
        options: outbox::MessageOptions,
    ) -> Result<Vec<outbox::Ticket>, outbox::Error> {
        // Module-controlled sizes: the chat list, the text, the keyboard.
        if chat_ids.len() > MAX_BROADCAST_CHATS {
            return Err(invalid(format!(
                "a broadcast names at most {MAX_BROADCAST_CHATS} chats, this one {}",
                chat_ids.len()
            )));
        }
        check_text(&text)?;
        let markup = options
            .keyboard
            .map(|k| reply_markup(&self.env.tag, k))
            .transpose()?;
        let priority = match options.priority {
            Some(p) => self.priority(0, Some(p)),
            None => Priority::Bulk,
        };
        let module = self.env.name.to_string();
        let call = self.call.as_mut().ok_or_else(not_in_init)?;
        if call.outbox.len() + chat_ids.len() > MAX_ENTRIES_PER_CALL {
            return Err(outbox::Error::QuotaExceeded(format!(
                "at most {MAX_ENTRIES_PER_CALL} messages per update"
            )));
        }
        let now = crate::outbox::now_ms();
        let mut tickets = Vec::with_capacity(chat_ids.len());
        for chat_id in chat_ids {
            let ticket = self.env.tickets.next();
            call.outbox.push(Entry {
                module: module.clone(),
                chat_id,
                priority,
                ticket: Some(ticket),
                queued_at_ms: now,
                action: Action::Send {
                    text: text.clone(),
                    parse_mode: parse_mode(options.parse_mode),
                    reply_markup: markup.clone(),
                    reply_to: None,
                    silent: options.disable_notification,
                },
            });
            call.tickets.insert(ticket, chat_id);
            tickets.push(ticket);
        }
        Ok(tickets)
    }

    fn status(&mut self, ticket: outbox::Ticket) -> Result<outbox::Delivery, outbox::Error> {
        if self
            .call
            .as_ref()
            .is_some_and(|c| c.tickets.contains_key(&ticket))
            || self.env.recent_tickets.lock().contains_key(&ticket)
        {
            return Ok(outbox::Delivery::Queued);
        }
        match self.env.db.ticket(ticket) {
            Ok(Some(rec)) if *rec.module == *self.env.name => {
                Ok(match (rec.message_id, rec.failed) {
                    (Some(id), _) => outbox::Delivery::Delivered(id),
                    (None, Some(why)) => outbox::Delivery::Failed(why),
                    (None, None) => outbox::Delivery::Queued,
                })
            }
            _ => Err(outbox::Error::UnknownTicket(ticket)),
        }
    }

    fn edit_message_text(
        &mut self,
        target: outbox::MessageRef,
        text: String,
        options: outbox::MessageOptions,
    ) -> Result<(), outbox::Error> {
        check_text(&text)?;
        let markup = match options.keyboard {
            Some(k @ outbox::Keyboard::Inline(_)) => Some(reply_markup(&self.env.tag, k)?),
            Some(_) => {
                return Err(invalid(
                    "only inline keyboards can be edited into a message",
                ));
            }
            None => None,
        };
        let (chat_id, target) = self.target(target)?;
        let priority = self.priority(chat_id, options.priority);
        self.queue(Entry {
            module: self.env.name.to_string(),
            chat_id,
            priority,
            ticket: None,
            queued_at_ms: crate::outbox::now_ms(),
            action: Action::EditText {
                target,
                text,
                parse_mode: parse_mode(options.parse_mode),
                reply_markup: markup,
            },
        })
    }

    fn delete_message(&mut self, target: outbox::MessageRef) -> Result<(), outbox::Error> {
        let (chat_id, target) = self.target(target)?;
        let priority = self.priority(chat_id, None);
        self.queue(Entry {
            module: self.env.name.to_string(),
            chat_id,
            priority,
            ticket: None,
            queued_at_ms: crate::outbox::now_ms(),
            action: Action::Delete { target },
        })
    }

    fn answer_callback_query(
        &mut self,
        callback_query_id: String,
        text: Option<String>,
        show_alert: bool,
    ) -> Result<(), outbox::Error> {
        // Module-controlled sizes: Telegram's limits.
        if callback_query_id.is_empty() || callback_query_id.len() > 64 {
            return Err(invalid("callback query id must be 1..=64 bytes"));
        }
        if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
            return Err(invalid("callback answers have at most 200 characters"));
        }
        self.queue(Entry {
            module: self.env.name.to_string(),
            chat_id: 0,
            priority: Priority::Callback,
            ticket: None,
            queued_at_ms: crate::outbox::now_ms(),
            action: Action::AnswerCallback {
                id: callback_query_id,
                text,
                alert: show_alert,
            },
        })
    }
}

impl log::Host for HostState {
    fn write(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warn",
            log::Level::Error => "error",
        };
        self.env.log.line(level, &message);
    }
}

impl HostState {
    fn schedule(
        &mut self,
        due_ms: u64,
        chat_id: Option<i64>,
        payload: Vec<u8>,
    ) -> Result<u64, timers::Error> {
        if !self.env.capabilities.read().timers {
            return Err(timers::Error::NotAllowed(
                "the manifest does not declare timers, or the operator turned them off".into(),
            ));
        }
        let Some(call) = self.call.as_mut() else {
            return Err(timers::Error::NotInUpdate);
        };
        // Module-controlled sizes and counts, each bounded.
        if payload.len() > MAX_TIMER_PAYLOAD {
            return Err(timers::Error::Invalid(format!(
                "a payload has at most {MAX_TIMER_PAYLOAD} bytes"
            )));
        }
        let now = crate::outbox::now_ms();
        if due_ms > now.saturating_add(MAX_TIMER_AHEAD_MS) {
            return Err(timers::Error::Invalid(
                "a timer is at most a year away".into(),
            ));
        }
        if call.timers.len() >= MAX_TIMERS_PER_CALL {
            return Err(timers::Error::QuotaExceeded(format!(
                "at most {MAX_TIMERS_PER_CALL} timers per update"
            )));
        }
        let pending = self.env.namespace.pending_timers() + call.timers.len() as u64;
        if pending >= self.env.max_timers {
            return Err(timers::Error::QuotaExceeded(format!(
                "at most {} timers pending",
                self.env.max_timers
            )));
        }
        let id = self.env.tickets.next();
        call.timers.push(NewTimer {
            id,
            due_ms,
            record: TimerRecord {
                module: self.env.name.to_string(),
                chat_id,
                payload_hex: hex::encode(payload),
            },
        });
        Ok(id)
    }
}

impl timers::Host for HostState {
    fn schedule_after(
        &mut self,
        delay_ms: u64,
        chat_id: Option<i64>,
        payload: Vec<u8>,
    ) -> Result<u64, timers::Error> {
        let due = crate::outbox::now_ms().saturating_add(delay_ms);
        self.schedule(due, chat_id, payload)
    }

    fn schedule_at(
        &mut self,
        at_unix_ms: u64,
        chat_id: Option<i64>,
        payload: Vec<u8>,
    ) -> Result<u64, timers::Error> {
        self.schedule(at_unix_ms, chat_id, payload)
    }

    fn cancel(&mut self, id: u64) -> Result<bool, timers::Error> {
        if !self.env.capabilities.read().timers {
            return Err(timers::Error::NotAllowed(
                "the manifest does not declare timers, or the operator turned them off".into(),
            ));
        }
        let Some(call) = self.call.as_mut() else {
            return Err(timers::Error::NotInUpdate);
        };
        if let Some(i) = call.timers.iter().position(|t| t.id == id) {
            call.timers.remove(i);
            return Ok(true);
        }
        if call.cancel_timers.contains(&id) {
            return Ok(false);
        }
        // Only the module's own timers: another module's id is as good as unknown.
        let mine = self
            .env
            .db
            .timer_module(id)
            .map_err(|e| timers::Error::Invalid(format!("cannot read timers: {e}")))?
            .is_some_and(|m| *m == *self.env.name);
        if mine {
            call.cancel_timers.push(id);
        }
        Ok(mine)
    }

    fn now_unix_ms(&mut self) -> u64 {
        crate::outbox::now_ms()
    }
}

impl config::Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<String>, config::Error> {
        match self.env.config.get(&key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(
                v @ (toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_)),
            ) => Ok(Some(v.to_string())),
            Some(v) => Err(config::Error::Unsupported(v.type_str().to_string())),
        }
    }

    fn keys(&mut self) -> Vec<String> {
        self.env.config.keys().cloned().collect()
    }
}

#[cfg(test)]
mod capability_tests {
    use super::Capabilities;
    use crate::config::ModuleSettings;

    #[test]
    fn the_operator_narrows_what_a_module_declares_and_never_widens_it() {
        let declared = ["api.example.com".to_string(), "*.cdn.example".to_string()];
        let all = Capabilities::granted(true, &declared, None);
        assert!(all.timers);
        assert!(all.allows_host("api.example.com") && all.allows_host("a.b.cdn.example"));
        assert!(!all.allows_host("cdn.example") && !all.allows_host("evil-cdn.example"));
        assert!(!all.allows_host("example.com"));
        assert!(!all.allows("api.example.com", 8080, 80));
        let ports = Capabilities::granted(
            false,
            &["127.0.0.1:*".into(), "localhost:50051".into()],
            None,
        );
        assert!(ports.allows("127.0.0.1", 9, 80) && ports.allows("localhost", 50051, 80));
        assert!(!ports.allows("localhost", 50052, 80) && !ports.allows("localhost", 80, 80));
        let op = ModuleSettings {
            timers: Some(false),
            http_hosts: Some(vec!["api.example.com".into(), "other.org".into()]),
            ..ModuleSettings::default()
        };
        let narrowed = Capabilities::granted(true, &declared, Some(&op));
        assert!(!narrowed.timers);
        assert_eq!(narrowed.http_hosts, ["api.example.com"]);
        // Not declared: the operator cannot grant it.
        let op = ModuleSettings {
            timers: Some(true),
            ..ModuleSettings::default()
        };
        assert!(!Capabilities::granted(false, &[], Some(&op)).timers);
    }
}
