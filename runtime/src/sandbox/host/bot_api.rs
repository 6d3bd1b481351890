//! `bot-api`: any Bot API method by name. Checked here (the method, its parameters, its files,
//! the message it acts on, the grants it needs), then, by the method's class: queued in the
//! outbox for the commit (sends and edits), queued ahead of every queue (answers), made now
//! with its result returned (reads), or sent at once and coalesced (chat actions).

mod checks;
mod payments;
mod rules;

use serde_json::{Map, Value};

use self::checks::{chat_param, invalid, parse_params, source_chat_key};
use self::rules::Checked;
use super::{HostState, MAX_ENTRIES_PER_CALL, not_in_init};
use crate::{
    bindings::{bot_api as wit, outbox as wit_outbox},
    bot_api::{Class, transport::Failure, update_kinds},
    outbox::{Action, Entry, Priority},
    sandbox::bot_access::{
        self, CHAT_ACTION_EVERY, DOWNLOAD_TIMEOUT, MAX_DOWNLOAD_BYTES, READ_TIMEOUT,
    },
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

impl HostState {
    /// Queues an outbox or answer entry for the commit; returns its ticket for sends.
    async fn queue_call(
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
        if crate::bot_api::MEMBER_METHODS.contains(&c.name.as_str())
            && let (Some(bot), Some(who)) = (&self.env.bot, bot_access::members::named(&c.params))
        {
            bot.members.forget(who);
        }
        let priority = if answer {
            Priority::Callback
        } else {
            self.priority(chat_id, priority)
        };
        let ticket = if answer {
            None
        } else {
            Some(self.env.tickets.next().await)
        };
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
        let member = (c.name == "getChatMember")
            .then(|| bot_access::members::named(&c.params))
            .flatten();
        if let Some(kept) = member.and_then(|who| bot.members.get(who)) {
            return Ok(wit::Outcome::Result(kept.to_string()));
        }
        self.env.reads.read().map_err(wit::Error::QuotaExceeded)?;
        let result = bot
            .transport
            .call(&c.name, &c.params, &files, READ_TIMEOUT)
            .await
            .map_err(telegram)?;
        if let Some(who) = member {
            bot.members.keep(who, result.clone());
        }
        Ok(wit::Outcome::Result(result.to_string()))
    }

    /// Sends a chat action now unless the same one went to the same chat a moment ago; while
    /// the call that sent it runs (a long handler: a download, a computation), sends it again
    /// every few seconds, so "typing…" stays on until the handler is done.
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
        let mut running = self.call.as_ref().map(|call| call.running.subscribe());
        let module = self.env.name.clone();
        tokio::spawn(async move {
            let send = || async {
                if let Err(e) = bot
                    .transport
                    .call(&c.name, &c.params, &[], READ_TIMEOUT)
                    .await
                {
                    tracing::debug!(module = %module, chat, "{} failed: {e}", c.name);
                }
            };
            if bot.chat_action_due(chat, &key) {
                send().await;
            }
            let Some(running) = running.as_mut() else {
                return;
            };
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(CHAT_ACTION_EVERY) => {}
                    // The call ended (its sender was dropped).
                    _ = running.changed() => return,
                }
                if bot.chat_action_due(chat, &key) {
                    send().await;
                }
            }
        });
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
        let acting_on = self.check_messages(&c, options.message).await?;
        match c.class {
            Class::Outbox | Class::Answer => {
                if self.call.is_none() {
                    return Err(wit::Error::Unavailable(
                        "sends, edits and answers are not available in init".into(),
                    ));
                }
                self.queue_call(c, files, acting_on, options.priority).await
            }
            Class::Ephemeral => self.chat_action(c),
            Class::Direct | Class::Granted(_) => {
                let parts = files.into_iter().map(|(_, p)| p).collect();
                self.read_now(c, parts).await
            }
            Class::Host => unreachable!("refused by check_method"),
        }
    }

    async fn broadcast(
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
        let call = self.call.as_ref().ok_or_else(not_in_init)?;
        if call.outbox.len() + chat_ids.len() > MAX_ENTRIES_PER_CALL {
            return Err(wit::Error::QuotaExceeded(format!(
                "at most {MAX_ENTRIES_PER_CALL} messages per update"
            )));
        }
        let first = self.env.tickets.block(chat_ids.len() as u64).await;
        let call = self.call.as_mut().ok_or_else(not_in_init)?;
        let now = crate::clock::unix_ms();
        let mut tickets = Vec::with_capacity(chat_ids.len());
        if !chat_ids.is_empty() {
            call.broadcasts.push((first, chat_ids.len() as u32));
        }
        for (ticket, chat_id) in (first..).zip(chat_ids) {
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

    async fn status(&mut self, ticket: wit::Ticket) -> Result<wit::CallStatus, wit::Error> {
        let rec = self
            .own_ticket(ticket)
            .await
            .map_err(|()| wit::Error::UnknownTicket(ticket))?;
        Ok(match rec.map(|r| (r.result, r.message_id, r.failed)) {
            Some((Some(result), _, _)) => wit::CallStatus::Done(result),
            Some((None, Some(id), _)) => {
                wit::CallStatus::Done(serde_json::json!({ "message_id": id }).to_string())
            }
            Some((None, None, Some(why))) => wit::CallStatus::Failed(why),
            Some((None, None, None)) | None => wit::CallStatus::Queued,
        })
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
