//! The Telegram Bot API as the host knows it: every method of the version it is built for, what
//! kind of call each one is, and whether a call's parameters have the right shape.
//!
//! A module's general Bot API call is checked here before anything is queued or sent. The
//! method must be known (a later method only when the operator allows it for that module), its
//! parameters must deserialize into the method's parameter type (taken from the `frankenstein`
//! crate, built without its HTTP clients) with no parameter it does not have, and its class
//! says which guarantee the call gets:
//!
//! | class | methods | guarantee |
//! |---|---|---|
//! | [`Class::Outbox`] | sends, edits, deletes, pins, moderation | durable outbox: committed with the update, per-chat order, Telegram's limits, retried |
//! | [`Class::Answer`] | `answer*` | leaves right after the commit, ahead of every queue (a deadline) |
//! | [`Class::Direct`] | `get*`, invite and invoice links, uploads for sticker sets | result returned to the running handler, recorded for a dialogue's replay |
//! | [`Class::Ephemeral`] | `sendChatAction`, drafts | not durable, coalesced per chat |
//! | [`Class::Granted`] | the bot's own settings, its Stars, business accounts | only with the operator's grant |
//! | [`Class::Host`] | `getUpdates`, webhooks, `logOut`, `close`, bot tokens | the host's alone |

pub mod deadline;
mod methods;
mod params;
pub mod payments;
pub mod transport;
pub mod update_kinds;

use serde_json::Value;

/// What kind of call a method is, which decides the guarantee it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Sends and edits: through the durable outbox.
    Outbox,
    /// Answers to a query with a deadline: sent right after the update's commit.
    Answer,
    /// Calls whose result the handler needs: made while it runs.
    Direct,
    /// Signals that are worthless late (typing…): not durable.
    Ephemeral,
    /// Acts on the bot itself or spends its money: needs the operator's grant.
    Granted(Grant),
    /// The host's own (the connection to Telegram, the bot's token).
    Host,
}

/// A capability the operator grants a module for a [`Class::Granted`] method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// The bot's commands, name, descriptions, photo, menu button, default rights, verification.
    BotSettings,
    /// The bot's Telegram Stars: balance, transactions, refunds, gifts it pays for.
    Stars,
    /// Connected business accounts' settings, stories and messages.
    Business,
}

/// Methods that act on other people in a group: ban, restrict, promote, approve or decline a
/// join request, change everyone's permissions. They leave through the outbox like sends, and
/// a module may call them only with the operator's `members` grant (narrowed to some chats by
/// `member_chats`).
pub const MEMBER_METHODS: &[&str] = &[
    "banChatMember",
    "unbanChatMember",
    "restrictChatMember",
    "promoteChatMember",
    "setChatAdministratorCustomTitle",
    "setChatMemberTag",
    "banChatSenderChat",
    "unbanChatSenderChat",
    "setChatPermissions",
    "approveChatJoinRequest",
    "declineChatJoinRequest",
];

/// One Bot API method.
#[derive(Debug)]
pub struct Method {
    /// Its name, as Telegram spells it (`sendPhoto`).
    pub name: &'static str,
    /// What kind of call it is.
    pub class: Class,
    /// Whether it acts on a message named by `message_id`(s) (edits, deletes, pins, copies):
    /// a module may do that only to its own messages and those of the update it handles.
    pub touches_messages: bool,
    /// Checks a call's parameters; `None` for a method without any.
    check: Option<ParamsCheck>,
}

/// Checks a method's parameters (a JSON object).
type ParamsCheck = fn(&Value) -> Result<(), params::Problem>;

/// Why a call was refused before anything was queued or sent; the message names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[allow(missing_docs)] // each variant's message says what it is
pub enum Refusal {
    #[error("unknown Bot API method `{0}` (not in the Bot API version this host knows)")]
    UnknownMethod(String),
    #[error("`{method}` is the host's own: modules cannot call it")]
    HostOnly { method: &'static str },
    #[error("`{method}` takes no parameters")]
    NoParameters { method: &'static str },
    #[error("`{method}`: the parameters must be a JSON object")]
    NotAnObject { method: &'static str },
    #[error("`{method}`: parameter `{parameter}`: {problem}")]
    Parameter {
        method: &'static str,
        parameter: String,
        problem: String,
    },
}

/// The method named `name`, if the host knows it.
pub fn lookup(name: &str) -> Option<&'static Method> {
    methods::METHODS.iter().find(|m| m.name == name)
}

/// Every method the host knows.
pub fn all() -> &'static [Method] {
    methods::METHODS
}

/// Checks a call of `name` with `parameters` (a JSON object, or null for none): the method is
/// known, not the host's, and the parameters have its shape. Grants and message ownership are
/// the caller's to check with what it returns.
pub fn check(name: &str, parameters: &Value) -> Result<&'static Method, Refusal> {
    let method = lookup(name).ok_or_else(|| Refusal::UnknownMethod(name.to_string()))?;
    if method.class == Class::Host {
        return Err(Refusal::HostOnly {
            method: method.name,
        });
    }
    let empty = match parameters {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        _ => {
            return Err(Refusal::NotAnObject {
                method: method.name,
            });
        }
    };
    match method.check {
        None if empty => Ok(method),
        None => Err(Refusal::NoParameters {
            method: method.name,
        }),
        Some(check) => {
            let object = if empty {
                &Value::Object(Default::default())
            } else {
                parameters
            };
            check(object).map_err(|p| Refusal::Parameter {
                method: method.name,
                parameter: p.parameter,
                problem: p.problem,
            })?;
            Ok(method)
        }
    }
}

#[cfg(test)]
mod tests;
