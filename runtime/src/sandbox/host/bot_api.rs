//! `bot-api`: any Bot API method by name. Checked here (the method, its parameters, its files,
//! the message it acts on, the grants it needs), then, by the method's class: queued in the
//! outbox for the commit (sends and edits), queued ahead of every queue (answers), made now
//! with its result returned (reads), or sent at once and coalesced (chat actions).

mod checks;

use serde_json::{Map, Value};

use self::checks::{chat_param, invalid, parse_params, source_chat_key};
use super::{HostState, MAX_ENTRIES_PER_CALL, not_in_init};
use crate::{
    bindings::{bot_api as wit, outbox as wit_outbox},
    bot_api::{self as api, Class, Grant, Refusal, transport::Failure, update_kinds},
    outbox::{Action, Entry, Priority},
    sandbox::bot_access::{DOWNLOAD_TIMEOUT, MAX_DOWNLOAD_BYTES, READ_TIMEOUT},
    store::records::StoredFile,
};

/// Most chats one `broadcast` call may name.
const MAX_BROADCAST_CHATS: usize = 10_000;

impl From<wit_outbox::Error> for wit::Error {
    fn from(e: wit_outbox::Error) -> Self {
        match e {
            wit_outbox::Error::InvalidArgument(m) => wit::Error::InvalidParameter(m),
            wit_outbox::Error::QuotaExceeded(m) => wit::Error::QuotaExceeded(m),
            wit_outbox::Error::UnknownTicket(t) => wit::Error::UnknownTicket(t),
        }
    }
}

fn telegram(f: Failure) -> wit::Error {
    let (code, description) = match f {
        Failure::RetryAfter(s) => (429, format!("Too Many Requests: retry after {s}")),
        Failure::Migrated(c) => (400, format!("the group moved to the supergroup {c}")),
        Failure::Api { code, description } => (code, description),
        Failure::Network(d) => (0, d),
    };
    wit::Error::Telegram(wit::TelegramError { code, description })
}

fn grant_name(g: Grant) -> &'static str {
    match g {
        Grant::BotSettings => "bot-settings",
        Grant::Stars => "stars",
        Grant::Business => "business",
    }
}

/// A call that passed the checks: its method's class and its parameters.
struct Checked {
    name: String,
    class: Class,
    touches: bool,
    params: Map<String, Value>,
}

impl HostState {
    /// The method is known (or the operator allows unknown ones), not the host's, granted if it
    /// needs a grant, and its parameters have its shape.
    fn check_method(
        &self,
        method: &str,
        params: Map<String, Value>,
    ) -> Result<Checked, wit::Error> {
        let value = Value::Object(params);
        let caps = self.env.capabilities.read().clone();
        let (class, touches) = match api::check(method, &value) {
            Ok(m) => (m.class, m.touches_messages),
            Err(Refusal::UnknownMethod(_)) if caps.unknown_bot_api_methods => {
                // Checked by name only: the operator allowed methods newer than this host.
                if method.is_empty()
                    || method.len() > 64
                    || !method.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return Err(wit::Error::UnknownMethod(format!(
                        "`{}` is not a Bot API method name",
                        crate::text::printable(method, 64)
                    )));
                }
                let class = if ["send", "edit", "delete", "copy", "forward", "pin", "unpin"]
                    .iter()
                    .any(|p| method.starts_with(p))
                {
                    Class::Outbox
                } else {
                    Class::Direct
                };
                (class, class == Class::Outbox && !method.starts_with("send"))
            }
            Err(Refusal::UnknownMethod(_)) => {
                return Err(wit::Error::UnknownMethod(format!(
                    "`{}` is not a method of the Bot API this host speaks; the operator can allow methods newer than the host with `modules.{}.unknown_bot_api_methods = true`",
                    crate::text::printable(method, 64),
                    self.env.name
                )));
            }
            Err(r @ Refusal::HostOnly { .. }) => {
                return Err(wit::Error::NotAllowed(format!(
                    "{r}: the host owns the connection to Telegram"
                )));
            }
            Err(other) => return Err(invalid(other.to_string())),
        };
        if let Class::Granted(g) = class
            && !caps.bot_api_grants.iter().any(|x| x == grant_name(g))
        {
            return Err(wit::Error::NotAllowed(format!(
                "`{method}` needs the `{}` grant, which the operator gives with `modules.{}.bot_api_grants = [\"{}\"]`",
                grant_name(g),
                self.env.name,
                grant_name(g)
            )));
        }
        if checks::acts_on_every_module(method) {
            return Err(wit::Error::NotAllowed(format!(
                "`{method}` acts on every module's messages; unpin the module's own messages one by one with unpinChatMessage"
            )));
        }
        let Value::Object(mut params) = value else {
            unreachable!("built from a map above")
        };
        checks::tag_callbacks(&mut params, &self.env.tag)?;
        Ok(Checked {
            name: method.to_string(),
            class,
            touches,
            params,
        })
    }

    /// The message(s) the call acts on are this module's (by ticket) or the update's own.
    /// Returns the ticket's (chat, ticket) when the call names its message by ticket.
    fn check_messages(
        &mut self,
        c: &Checked,
        ticket: Option<u64>,
    ) -> Result<Option<(i64, u64)>, wit::Error> {
        let source = source_chat_key(&c.name);
        if let Some(t) = ticket {
            if c.params.contains_key("message_id") || c.params.contains_key("inline_message_id") {
                return Err(invalid(
                    "a call that names its message by ticket passes no `message_id`: the host fills it in",
                ));
            }
            let (chat, _) = self.target(wit_outbox::MessageRef::Ticket(t))?;
            if source == "chat_id" && chat_param(&c.params, "chat_id")?.is_some_and(|p| p != chat) {
                return Err(invalid(format!(
                    "`chat_id` differs from the chat of ticket {t}"
                )));
            }
            return Ok(Some((chat, t)));
        }
        if !c.touches {
            return Ok(None);
        }
        if c.params.contains_key("inline_message_id") {
            return Err(wit::Error::NotOwnMessage(
                "inline messages cannot be named yet: the host cannot tell whose they are".into(),
            ));
        }
        let chat = chat_param(&c.params, source)?
            .ok_or_else(|| invalid(format!("`{source}` is missing")))?;
        let mut ids: Vec<i64> = Vec::new();
        if let Some(id) = c.params.get("message_id") {
            ids.push(
                id.as_i64()
                    .ok_or_else(|| invalid("`message_id` must be a number"))?,
            );
        }
        if let Some(list) = c.params.get("message_ids") {
            let list = list
                .as_array()
                .ok_or_else(|| invalid("`message_ids` must be an array"))?;
            for id in list {
                ids.push(
                    id.as_i64()
                        .ok_or_else(|| invalid("`message_ids` must hold numbers"))?,
                );
            }
        }
        if ids.is_empty() {
            return Err(invalid(format!(
                "`{}` needs `message_id` here (or the message by ticket in the call's options)",
                c.name
            )));
        }
        let own = &self.call.as_ref().ok_or_else(not_in_init)?.own_messages;
        match ids.iter().find(|id| {
            !own.iter()
                .any(|(ch, m)| *ch == chat && i64::from(*m) == **id)
        }) {
            Some(id) => Err(wit::Error::NotOwnMessage(format!(
                "message {id} in chat {chat} is not the message of the update being handled; a module acts on what it sent by ticket (the call's options), and never on other modules' messages"
            ))),
            None => Ok(None),
        }
    }

    /// Queues an outbox or answer entry for the commit; returns its ticket for sends.
    fn queue_call(
        &mut self,
        c: Checked,
        files: Vec<(StoredFile, crate::bot_api::transport::FilePart)>,
        acting_on: Option<(i64, u64)>,
        priority: Option<wit_outbox::Priority>,
    ) -> Result<wit::Outcome, wit::Error> {
        let answer = c.class == Class::Answer;
        let chat_id = if answer {
            0
        } else {
            match acting_on {
                Some((chat, _)) if source_chat_key(&c.name) == "chat_id" => chat,
                _ => chat_param(&c.params, "chat_id")?
                    .or(chat_param(&c.params, "user_id")?)
                    .ok_or_else(|| invalid(format!("`{}` needs `chat_id`", c.name)))?,
            }
        };
        let file_bytes: usize = files.iter().map(|(f, _)| f.size as usize).sum();
        let params_bytes = serde_json::to_string(&c.params).map_or(0, |p| p.len());
        self.charge_bytes(params_bytes + file_bytes)?;
        let priority = if answer {
            Priority::Callback
        } else {
            self.priority(chat_id, priority)
        };
        let ticket = (!answer).then(|| self.env.tickets.next());
        self.keep_files(&files)?;
        self.queue(Entry {
            module: self.env.name.to_string(),
            chat_id,
            priority,
            ticket,
            queued_at_ms: crate::clock::unix_ms(),
            action: Action::Call {
                name: c.name,
                params: c.params,
                files: files.into_iter().map(|(f, _)| f).collect(),
                acting_on,
            },
        })?;
        Ok(match ticket {
            Some(t) => {
                if let Some(call) = self.call() {
                    call.tickets.insert(t, chat_id);
                }
                wit::Outcome::Queued(t)
            }
            None => wit::Outcome::AnswerQueued,
        })
    }

    /// Keeps the bytes of a call's files for the commit, once per content.
    fn keep_files(
        &mut self,
        files: &[(StoredFile, crate::bot_api::transport::FilePart)],
    ) -> Result<(), wit::Error> {
        let call = self.call.as_mut().ok_or_else(not_in_init)?;
        for (f, part) in files {
            if !call.files.iter().any(|(sha, _)| *sha == f.sha256) {
                call.files.push((f.sha256.clone(), part.bytes.clone()));
            }
        }
        Ok(())
    }

    /// Makes a read now and returns Telegram's result.
    async fn read_now(
        &mut self,
        c: Checked,
        files: Vec<crate::bot_api::transport::FilePart>,
    ) -> Result<wit::Outcome, wit::Error> {
        let bot = self.env.bot.clone().ok_or_else(|| {
            wit::Error::Unavailable(
                "the Bot API is not available while a module is only probed".into(),
            )
        })?;
        self.env.reads.read().map_err(wit::Error::QuotaExceeded)?;
        let result = bot
            .transport
            .call(&c.name, &c.params, &files, READ_TIMEOUT)
            .await
            .map_err(telegram)?;
        Ok(wit::Outcome::Result(result.to_string()))
    }

    /// Sends a chat action now unless the same one went to the same chat a moment ago.
    fn chat_action(&mut self, c: Checked) -> Result<wit::Outcome, wit::Error> {
        let bot = self.env.bot.clone().ok_or_else(|| {
            wit::Error::Unavailable(
                "the Bot API is not available while a module is only probed".into(),
            )
        })?;
        let chat = chat_param(&c.params, "chat_id")?.unwrap_or(0);
        let key = c
            .params
            .get("action")
            .or(c.params.get("draft_id"))
            .map(Value::to_string)
            .unwrap_or_default();
        if bot.chat_action_due(chat, &key) {
            let module = self.env.name.clone();
            tokio::spawn(async move {
                if let Err(e) = bot
                    .transport
                    .call(&c.name, &c.params, &[], READ_TIMEOUT)
                    .await
                {
                    tracing::debug!(module = %module, chat, "{} failed: {e}", c.name);
                }
            });
        }
        Ok(wit::Outcome::Sent)
    }
}

impl wit::Host for HostState {
    async fn call(
        &mut self,
        method: String,
        params: String,
        files: Vec<wit::FilePart>,
        options: wit::CallOptions,
    ) -> Result<wit::Outcome, wit::Error> {
        let params = parse_params(&params)?;
        let c = self.check_method(&method, params)?;
        let files = checks::files(&c.name, &c.params, files)?;
        let acting_on = self.check_messages(&c, options.message)?;
        match c.class {
            Class::Outbox | Class::Answer => {
                if self.call.is_none() {
                    return Err(wit::Error::Unavailable(
                        "sends, edits and answers are not available in init".into(),
                    ));
                }
                self.queue_call(c, files, acting_on, options.priority)
            }
            Class::Ephemeral => self.chat_action(c),
            Class::Direct | Class::Granted(_) => {
                let parts = files.into_iter().map(|(_, p)| p).collect();
                self.read_now(c, parts).await
            }
            Class::Host => unreachable!("refused by check_method"),
        }
    }

    fn broadcast(
        &mut self,
        chat_ids: Vec<i64>,
        method: String,
        params: String,
        files: Vec<wit::FilePart>,
        options: wit::CallOptions,
    ) -> Result<Vec<wit::Ticket>, wit::Error> {
        // Module-controlled count: bounded before anything is copied.
        if chat_ids.is_empty() || chat_ids.len() > MAX_BROADCAST_CHATS {
            return Err(invalid(format!(
                "a broadcast names 1 to {MAX_BROADCAST_CHATS} chats, this one {}",
                chat_ids.len()
            )));
        }
        if chat_ids.contains(&0) {
            return Err(invalid("chat id 0 is no chat"));
        }
        if options.message.is_some() {
            return Err(invalid("a broadcast sends; it acts on no message"));
        }
        let mut params = parse_params(&params)?;
        params.insert("chat_id".into(), Value::from(chat_ids[0]));
        let c = self.check_method(&method, params)?;
        if c.class != Class::Outbox || c.touches {
            return Err(invalid(format!(
                "`{method}` cannot be broadcast: only sends can (sendMessage, sendPhoto, ...)"
            )));
        }
        let priority = match options.priority {
            Some(wit_outbox::Priority::Interactive) => {
                return Err(invalid(
                    "a broadcast cannot be interactive: use normal or bulk priority",
                ));
            }
            Some(p) => self.priority(0, Some(p)),
            None => Priority::Bulk,
        };
        let mut files = checks::files(&c.name, &c.params, files)?;
        let shares = u32::try_from(chat_ids.len()).unwrap_or(u32::MAX);
        for (f, _) in &mut files {
            f.shared_by = shares;
        }
        let params_bytes = serde_json::to_string(&c.params).map_or(0, |p| p.len());
        let file_bytes: usize = files.iter().map(|(f, _)| f.size as usize).sum();
        self.charge_bytes(
            params_bytes
                .saturating_mul(chat_ids.len())
                .saturating_add(file_bytes),
        )?;
        self.keep_files(&files)?;
        let stored: Vec<StoredFile> = files.into_iter().map(|(f, _)| f).collect();
        let module = self.env.name.to_string();
        let call = self.call.as_mut().ok_or_else(not_in_init)?;
        if call.outbox.len() + chat_ids.len() > MAX_ENTRIES_PER_CALL {
            return Err(wit::Error::QuotaExceeded(format!(
                "at most {MAX_ENTRIES_PER_CALL} messages per update"
            )));
        }
        let now = crate::clock::unix_ms();
        let mut tickets = Vec::with_capacity(chat_ids.len());
        for chat_id in chat_ids {
            let ticket = self.env.tickets.next();
            let mut params = c.params.clone();
            params.insert("chat_id".into(), Value::from(chat_id));
            call.outbox.push(Entry {
                module: module.clone(),
                chat_id,
                priority,
                ticket: Some(ticket),
                queued_at_ms: now,
                action: Action::Call {
                    name: c.name.clone(),
                    params,
                    files: stored.clone(),
                    acting_on: None,
                },
            });
            call.tickets.insert(ticket, chat_id);
            tickets.push(ticket);
        }
        Ok(tickets)
    }

    fn status(&mut self, ticket: wit::Ticket) -> Result<wit::CallStatus, wit::Error> {
        if self
            .call
            .as_ref()
            .is_some_and(|c| c.tickets.contains_key(&ticket))
            || self.env.recent_tickets.chat_of(ticket).is_some()
        {
            return Ok(wit::CallStatus::Queued);
        }
        match self.env.db.ticket(ticket) {
            Ok(Some(rec)) if *rec.module == *self.env.name => {
                Ok(match (rec.result, rec.message_id, rec.failed) {
                    (Some(result), _, _) => wit::CallStatus::Done(result),
                    (None, Some(id), _) => {
                        wit::CallStatus::Done(serde_json::json!({ "message_id": id }).to_string())
                    }
                    (None, None, Some(why)) => wit::CallStatus::Failed(why),
                    (None, None, None) => wit::CallStatus::Queued,
                })
            }
            _ => Err(wit::Error::UnknownTicket(ticket)),
        }
    }

    fn want_updates(&mut self, kinds: Vec<String>) -> Result<(), wit::Error> {
        if self.call.is_some() {
            return Err(wit::Error::Unavailable(
                "update kinds are asked for in init".into(),
            ));
        }
        // Module-controlled count: there are fewer kinds than this.
        if kinds.len() > 64 {
            return Err(invalid("at most 64 kinds of update"));
        }
        if let Some(k) = kinds.iter().find(|k| !update_kinds::is_known(k)) {
            return Err(invalid(format!(
                "`{}` is not a kind of update of the Bot API this host speaks",
                crate::text::printable(k, 64)
            )));
        }
        let mut wanted = self.env.wanted_kinds.write();
        for k in kinds {
            if !wanted.contains(&k) {
                wanted.push(k);
            }
        }
        Ok(())
    }

    async fn download(&mut self, file_id: String) -> Result<Vec<u8>, wit::Error> {
        // Module-controlled size: Telegram's file ids are well under this.
        if file_id.is_empty() || file_id.len() > 256 {
            return Err(invalid("`file_id` must be 1-256 bytes"));
        }
        let bot = self.env.bot.clone().ok_or_else(|| {
            wit::Error::Unavailable(
                "the Bot API is not available while a module is only probed".into(),
            )
        })?;
        self.env.reads.read().map_err(wit::Error::QuotaExceeded)?;
        let mut params = Map::new();
        params.insert("file_id".into(), Value::from(file_id));
        let file = bot
            .transport
            .call("getFile", &params, &[], READ_TIMEOUT)
            .await
            .map_err(|f| match f {
                // Telegram's answer for a file over what bots may download.
                Failure::Api {
                    code: 400,
                    description,
                } if description.contains("too big") => wit::Error::QuotaExceeded(format!(
                    "bots download files of at most {} MB (Telegram: {description})",
                    MAX_DOWNLOAD_BYTES >> 20
                )),
                other => telegram(other),
            })?;
        let size = file.get("file_size").and_then(Value::as_u64).unwrap_or(0);
        if size > MAX_DOWNLOAD_BYTES {
            return Err(wit::Error::QuotaExceeded(format!(
                "the file has {size} bytes; bots download files of at most {} MB",
                MAX_DOWNLOAD_BYTES >> 20
            )));
        }
        let room = self.env.reads.download_room().min(MAX_DOWNLOAD_BYTES);
        if size > room {
            return Err(wit::Error::QuotaExceeded(format!(
                "the file has {size} bytes and the module may download {room} more this minute"
            )));
        }
        let path = file
            .get("file_path")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                telegram(Failure::Api {
                    code: 400,
                    description: "Telegram gave no file_path for this file".into(),
                })
            })?;
        let bytes = bot
            .transport
            .download(path, room, DOWNLOAD_TIMEOUT)
            .await
            .map_err(|f| match f {
                Failure::Api { code: 413, .. } => wit::Error::QuotaExceeded(format!(
                    "the file is larger than the {room} bytes the module may download now (at most {} MB per file)",
                    MAX_DOWNLOAD_BYTES >> 20
                )),
                other => telegram(other),
            })?;
        self.env.reads.downloaded(bytes.len() as u64);
        Ok(bytes)
    }
}
