//! One Bot API request for one outbox entry, and what its result means.

use std::sync::Arc;

use teloxide_core::{
    ApiError, RequestError,
    payloads::{AnswerCallbackQuerySetters, EditMessageTextSetters, SendMessageSetters},
    prelude::Requester,
    types::{
        CallbackQueryId, ChatId, InlineKeyboardMarkup, MessageId, ParseMode, ReplyMarkup,
        ReplyParameters,
    },
};
use tokio::sync::{mpsc, watch};

use super::{Deps, Finished, Outcome, SEND_TIMEOUT, call, give_up, shared};
use crate::{
    bot_api::{deadline::within_running_time, transport::Failure},
    outbox::{Action, Entry, Target},
    store::{TicketRecord, pg::Delivered},
};

/// Sends `e` in a task of its own and reports to `done`.
pub(super) fn spawn(
    deps: &Arc<Deps>,
    done: &mpsc::UnboundedSender<Finished>,
    stop: &watch::Receiver<bool>,
    seq: u64,
    e: Entry,
    resolved: Option<i32>,
    paid: bool,
) {
    let (deps, done, stop) = (deps.clone(), done.clone(), stop.clone());
    tokio::spawn(async move {
        let chat_id = if e.priority == crate::outbox::Priority::Callback {
            0
        } else {
            e.chat_id
        };
        let mut delivered = None;
        let sent = if matches!(e.action, Action::Call { .. }) {
            match call::send(&deps, &e, resolved, paid).await {
                Ok(sent) => Ok(sent),
                Err(failure) => Err(classify_failure(&deps, &stop, seq, &e, failure)),
            }
        } else {
            let answer = within_running_time(SEND_TIMEOUT, request(&deps, &e, resolved, paid));
            match answer.await {
                None => Err(Outcome::Transient(format!("no answer in {SEND_TIMEOUT:?}"))),
                Some(Ok(message_id)) => Ok(call::Sent {
                    result: serde_json::Value::Null,
                    message_id,
                    uploaded: Vec::new(),
                    owned: owned_by_send(&e, message_id),
                }),
                Some(Err(err)) => Err(classify(&deps, &stop, seq, &e, err)),
            }
        };
        let outcome = match sent {
            Ok(sent) => {
                deps.stats.count(&deps.stats.delivered);
                delivered = e.ticket.zip(sent.message_id);
                let result = (!sent.result.is_null()).then(|| sent.result_text());
                let ticket = e.ticket.map(|t| {
                    let record = TicketRecord {
                        module: e.module.clone(),
                        chat_id: e.chat_id,
                        message_id: sent.message_id,
                        failed: None,
                        settled_at_secs: crate::clock::unix_secs(),
                        result,
                    };
                    (t, record)
                });
                // The chat's next message waits for this commit: at most one message per
                // chat can be delivered twice after a crash.
                let d = Delivered {
                    seq,
                    ticket,
                    uploaded: sent.uploaded,
                    owned: sent.owned,
                };
                match shared::finish(&deps, &stop, d).await {
                    Ok(()) => Outcome::Done,
                    Err(err) => Outcome::Transient(err.to_string()),
                }
            }
            Err(outcome) => outcome,
        };
        let _ = done.send(Finished {
            chat_id,
            seq,
            outcome,
            delivered,
        });
    });
}

/// The owner record a sent message makes (`store/owners.rs`): replies to it and presses of
/// its buttons are the sending module's.
fn owned_by_send(e: &Entry, message_id: Option<i32>) -> Vec<(String, String)> {
    match (&e.action, message_id) {
        (Action::Send { .. }, Some(id)) => vec![(
            crate::store::message_key(e.chat_id, i64::from(id)),
            e.module.clone(),
        )],
        _ => Vec::new(),
    }
}

/// Decides what a failed call of a module's (`bot-api`) means; gives up permanent failures.
fn classify_failure(
    deps: &Deps,
    stop: &watch::Receiver<bool>,
    seq: u64,
    e: &Entry,
    failure: Failure,
) -> Outcome {
    match failure {
        Failure::RetryAfter(s) => Outcome::RetryAfter(std::time::Duration::from_secs(s)),
        Failure::Migrated(chat) => Outcome::Migrated(chat),
        f if f.is_blocked() => Outcome::Blocked(f.to_string()),
        f if f.is_transient() => Outcome::Transient(f.to_string()),
        f => {
            tracing::warn!(module = %e.module, chat = e.chat_id, error = %f, "Telegram refused a request; it is not retried");
            give_up(deps, stop, seq, e, &f.to_string());
            Outcome::Done
        }
    }
}

/// Decides what a failed request means; gives up permanent failures right here.
fn classify(
    deps: &Deps,
    stop: &watch::Receiver<bool>,
    seq: u64,
    e: &Entry,
    err: RequestError,
) -> Outcome {
    match err {
        RequestError::RetryAfter(s) => Outcome::RetryAfter(s.duration()),
        RequestError::MigrateToChatId(new) => Outcome::Migrated(new.0),
        RequestError::Network(_) | RequestError::Io(_) | RequestError::InvalidJson { .. } => {
            Outcome::Transient(err.to_string())
        }
        RequestError::Api(
            ApiError::BotBlocked
            | ApiError::UserDeactivated
            | ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup
            | ApiError::BotKickedFromChannel,
        ) => Outcome::Blocked(err.to_string()),
        RequestError::Api(ApiError::Unknown(ref d))
            if [
                "Internal Server Error",
                "Bad Gateway",
                "Gateway",
                "Service Unavailable",
            ]
            .iter()
            .any(|p| d.starts_with(p)) =>
        {
            Outcome::Transient(err.to_string())
        }
        other => {
            tracing::warn!(module = %e.module, chat = e.chat_id, error = %other, "Telegram refused a request; it is not retried");
            give_up(deps, stop, seq, e, &other.to_string());
            Outcome::Done
        }
    }
}

/// The message `target` names: a ticket's once delivered (`resolved` when the scheduler
/// knows it). A store that could not be read (PostgreSQL away) is a transient failure.
async fn message_id(
    deps: &Deps,
    target: &Target,
    resolved: Option<i32>,
) -> Result<i32, RequestError> {
    match target {
        Target::Message(id) => Ok(*id),
        Target::Ticket(t) => {
            if let Some(id) = resolved {
                return Ok(id);
            }
            match shared::ticket(deps, *t).await {
                Ok(Some(TicketRecord {
                    message_id: Some(id),
                    ..
                })) => Ok(id),
                Ok(_) => Err(RequestError::Api(ApiError::MessageToEditNotFound)),
                Err(why) => Err(RequestError::Io(Arc::new(std::io::Error::other(why)))),
            }
        }
    }
}

fn parse_mode(p: &Option<String>) -> Option<ParseMode> {
    match p.as_deref() {
        Some("MarkdownV2") => Some(ParseMode::MarkdownV2),
        Some("HTML") => Some(ParseMode::Html),
        _ => None,
    }
}

/// Performs one request; returns the sent message's id for sendMessage.
async fn request(
    deps: &Deps,
    e: &Entry,
    resolved: Option<i32>,
    paid: bool,
) -> Result<Option<i32>, RequestError> {
    let bot = &deps.bot;
    let chat = ChatId(e.chat_id);
    match &e.action {
        Action::Send {
            text,
            parse_mode: pm,
            reply_markup,
            reply_to,
            silent,
        } => {
            let mut req = bot.send_message(chat, text.clone());
            if let Some(pm) = parse_mode(pm) {
                req = req.parse_mode(pm);
            }
            if let Some(m) = reply_markup
                && let Ok(m) = serde_json::from_value::<ReplyMarkup>(m.clone())
            {
                req = req.reply_markup(m);
            }
            if let Some(id) = reply_to {
                req = req.reply_parameters(
                    ReplyParameters::new(MessageId(*id)).allow_sending_without_reply(),
                );
            }
            if *silent {
                req = req.disable_notification(true);
            }
            if paid {
                req = req.allow_paid_broadcast(true);
            }
            Ok(Some(req.await?.id.0))
        }
        Action::EditText {
            target,
            text,
            parse_mode: pm,
            reply_markup,
        } => {
            let id = message_id(deps, target, resolved).await?;
            let mut req = bot.edit_message_text(chat, MessageId(id), text.clone());
            if let Some(pm) = parse_mode(pm) {
                req = req.parse_mode(pm);
            }
            if let Some(m) = reply_markup
                && let Ok(m) = serde_json::from_value::<InlineKeyboardMarkup>(m.clone())
            {
                req = req.reply_markup(m);
            }
            req.await?;
            Ok(None)
        }
        Action::Delete { target } => {
            let id = message_id(deps, target, resolved).await?;
            bot.delete_message(chat, MessageId(id)).await?;
            Ok(None)
        }
        Action::AnswerCallback { id, text, alert } => {
            let mut req = bot.answer_callback_query(CallbackQueryId(id.clone()));
            if let Some(t) = text {
                req = req.text(t.clone());
            }
            if *alert {
                req = req.show_alert(true);
            }
            req.await?;
            Ok(None)
        }
        Action::Call { .. } => unreachable!("sent by call::send"),
    }
}
