//! `outbox`: sends, broadcasts, edits, deletes and callback answers, checked and queued for the
//! call's commit.

use super::{HostState, MAX_ENTRIES_PER_CALL, invalid, not_in_init};
use crate::{
    bindings::outbox,
    outbox::{Action, Entry, Priority},
};

/// Longest message text Telegram accepts, in characters.
const MAX_TEXT_CHARS: usize = 4096;
/// Telegram's limit on `callback_data`, in bytes.
const MAX_CALLBACK_BYTES: usize = 64;
/// Most chats one `broadcast` call may name.
const MAX_BROADCAST_CHATS: usize = 10_000;
/// Longest button URL, in bytes (Telegram's own limit is lower; this bounds what the host holds).
const MAX_URL_BYTES: usize = 2048;
/// Most bytes of text and keyboards one handler call may queue, broadcasts included: the host
/// holds them until the commit, outside the module's memory limit.
pub(super) const MAX_OUTBOX_BYTES_PER_CALL: usize = 16 << 20;

/// What an entry of `text` with `markup` holds in the host, in bytes (roughly: its strings).
fn entry_bytes(text: &str, markup: Option<&serde_json::Value>) -> usize {
    text.len() + markup.map_or(0, |m| m.to_string().len())
}

/// Chat 0 is no chat: a message to it would sit at the head of a queue no answer clears.
fn check_chat(chat_id: i64) -> Result<(), outbox::Error> {
    if chat_id == 0 {
        return Err(invalid("chat id 0 is no chat"));
    }
    Ok(())
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
                            // Module-controlled size: bounded before it is copied or shown.
                            if url.len() > MAX_URL_BYTES {
                                return Err(invalid(format!(
                                    "button URL has {} bytes, at most {MAX_URL_BYTES}",
                                    url.len()
                                )));
                            }
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
    async fn send_message(
        &mut self,
        chat_id: i64,
        text: String,
        options: outbox::MessageOptions,
    ) -> Result<outbox::Ticket, outbox::Error> {
        check_chat(chat_id)?;
        check_text(&text)?;
        let markup = options
            .keyboard
            .map(|k| reply_markup(&self.env.tag, k))
            .transpose()?;
        self.charge_bytes(entry_bytes(&text, markup.as_ref()))?;
        let priority = self.priority(chat_id, options.priority);
        // Not in `init`: `charge_bytes` refused that above, before a ticket is taken.
        let ticket = self.env.tickets.next().await;
        self.queue(Entry {
            module: self.env.name.to_string(),
            chat_id,
            priority,
            ticket: Some(ticket),
            queued_at_ms: crate::clock::unix_ms(),
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

    async fn broadcast(
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
        if let Some(&chat) = chat_ids.iter().find(|c| **c == 0) {
            check_chat(chat)?;
        }
        check_text(&text)?;
        let markup = options
            .keyboard
            .map(|k| reply_markup(&self.env.tag, k))
            .transpose()?;
        let priority = match options.priority {
            // Interactive is for the reply to the user being served; a broadcast would take
            // every user's turn.
            Some(outbox::Priority::Interactive) => {
                return Err(invalid(
                    "a broadcast cannot be interactive: use normal or bulk priority",
                ));
            }
            Some(p) => self.priority(0, Some(p)),
            None => Priority::Bulk,
        };
        let per_chat = entry_bytes(&text, markup.as_ref());
        self.charge_bytes(per_chat.saturating_mul(chat_ids.len()))?;
        let module = self.env.name.to_string();
        let call = self.call.as_ref().ok_or_else(not_in_init)?;
        if call.outbox.len() + chat_ids.len() > MAX_ENTRIES_PER_CALL {
            return Err(outbox::Error::QuotaExceeded(format!(
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

    async fn status(&mut self, ticket: outbox::Ticket) -> Result<outbox::Delivery, outbox::Error> {
        let rec = self
            .own_ticket(ticket)
            .await
            .map_err(|()| outbox::Error::UnknownTicket(ticket))?;
        Ok(match rec.map(|r| (r.message_id, r.failed)) {
            Some((Some(id), _)) => outbox::Delivery::Delivered(id),
            Some((None, Some(why))) => outbox::Delivery::Failed(why),
            Some((None, None)) | None => outbox::Delivery::Queued,
        })
    }

    async fn edit_message_text(
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
        let (chat_id, target) = self.target(target).await?;
        self.charge_bytes(entry_bytes(&text, markup.as_ref()))?;
        let priority = self.priority(chat_id, options.priority);
        self.queue(Entry {
            module: self.env.name.to_string(),
            chat_id,
            priority,
            ticket: None,
            queued_at_ms: crate::clock::unix_ms(),
            action: Action::EditText {
                target,
                text,
                parse_mode: parse_mode(options.parse_mode),
                reply_markup: markup,
            },
        })
    }

    async fn delete_message(&mut self, target: outbox::MessageRef) -> Result<(), outbox::Error> {
        let (chat_id, target) = self.target(target).await?;
        let priority = self.priority(chat_id, None);
        self.queue(Entry {
            module: self.env.name.to_string(),
            chat_id,
            priority,
            ticket: None,
            queued_at_ms: crate::clock::unix_ms(),
            action: Action::Delete { target },
        })
    }

    async fn answer_callback_query(
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
            queued_at_ms: crate::clock::unix_ms(),
            action: Action::AnswerCallback {
                id: callback_query_id,
                text,
                alert: show_alert,
            },
        })
    }

    async fn expect_reply(
        &mut self,
        chat_id: i64,
        user_id: Option<i64>,
        seconds: u32,
    ) -> Result<(), outbox::Error> {
        if chat_id == 0 {
            return Err(invalid("chat 0 is no chat"));
        }
        if u64::from(seconds) > MAX_EXPECT_SECS {
            return Err(invalid(format!(
                "a conversation is declared for at most {MAX_EXPECT_SECS} seconds (7 days), not {seconds}"
            )));
        }
        let call = self.call().ok_or_else(not_in_init)?;
        // Module-controlled count: bounded per call.
        if call.expects.len() >= MAX_EXPECTS_PER_CALL {
            return Err(outbox::Error::QuotaExceeded(format!(
                "at most {MAX_EXPECTS_PER_CALL} expect-reply calls per update"
            )));
        }
        call.expects.push(super::ExpectReply {
            chat_id,
            user_id,
            seconds,
        });
        Ok(())
    }
}

/// The longest a module may declare it waits for a reply: owner records live as long.
const MAX_EXPECT_SECS: u64 = crate::store::retention::TICKET_RETENTION.as_secs();
/// Most `expect-reply` calls one handler call may make.
const MAX_EXPECTS_PER_CALL: usize = 100;
