//! What a call did ([`Outcome`]) and what became of a queued one later ([`CallStatus`]).

use serde::de::DeserializeOwned;

use super::Error;
use crate::__private::botbox::bot::bot_api as wit;
use crate::outbox::Ticket;

/// What a [`call`](super::call) did, which depends on its method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A send or edit, queued in the durable outbox with the update's commit: its ticket names
    /// the message from now on (see [`status`](super::status)).
    Queued(Ticket),
    /// An answer with a deadline (answerCallbackQuery, answerInlineQuery, ...), sent right after
    /// the update's commit.
    AnswerQueued,
    /// A read (getChat, getChatMember, getFile, ...): Telegram's `result`, as JSON.
    Result(String),
    /// A chat action, sent (or coalesced with the same action sent a moment ago).
    Sent,
}

impl Outcome {
    /// The ticket of a queued send or edit; [`Error::Unexpected`] for any other outcome.
    pub fn ticket(&self) -> Result<Ticket, Error> {
        match self {
            Self::Queued(ticket) => Ok(*ticket),
            other => Err(Error::Unexpected(format!(
                "expected a queued call, got {}",
                other.describe()
            ))),
        }
    }

    /// The result of a read, decoded into `T` (a typed struct, or [`serde_json::Value`]);
    /// [`Error::Unexpected`] for any other outcome, [`Error::Json`] when it does not decode.
    pub fn result<T: DeserializeOwned>(&self) -> Result<T, Error> {
        match self {
            Self::Result(json) => serde_json::from_str(json).map_err(Error::json),
            other => Err(Error::Unexpected(format!(
                "expected a read's result, got {}",
                other.describe()
            ))),
        }
    }

    /// The result of a read as Telegram sent it (JSON), if the outcome is one.
    pub fn result_json(&self) -> Option<&str> {
        match self {
            Self::Result(json) => Some(json),
            _ => None,
        }
    }

    /// The outcome in a few words, for error messages.
    fn describe(&self) -> String {
        match self {
            Self::Queued(ticket) => format!("queued as ticket {}", ticket.to_raw()),
            Self::AnswerQueued => "an answer queued".into(),
            Self::Result(_) => "a read's result".into(),
            Self::Sent => "a chat action sent".into(),
        }
    }

    pub(crate) fn from_wit(outcome: wit::Outcome) -> Self {
        match outcome {
            wit::Outcome::Queued(ticket) => Self::Queued(Ticket::from_raw(ticket)),
            wit::Outcome::AnswerQueued => Self::AnswerQueued,
            wit::Outcome::Result(json) => Self::Result(json),
            wit::Outcome::Sent => Self::Sent,
        }
    }
}

/// What became of a queued call (see [`status`](super::status)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallStatus {
    /// Still queued, or being sent.
    Queued,
    /// Delivered: Telegram's `result`, as JSON — the sent message (with the file ids of what was
    /// uploaded), an array of messages for an album, or `true`.
    Done(String),
    /// Given up; the text says why (Telegram's error, or the user blocked the bot).
    Failed(String),
}

impl CallStatus {
    /// Whether the call was delivered.
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Done(_))
    }

    /// Telegram's result of a delivered call, decoded into `T` (for a sent message,
    /// [`SentMessage`](super::SentMessage) or [`serde_json::Value`]). [`Error::Unexpected`]
    /// while the call is queued or when it was given up, [`Error::Json`] when it does not decode.
    pub fn result<T: DeserializeOwned>(&self) -> Result<T, Error> {
        match self {
            Self::Done(json) => serde_json::from_str(json).map_err(Error::json),
            Self::Queued => Err(Error::Unexpected("the call is still queued".into())),
            Self::Failed(why) => Err(Error::Unexpected(format!("the call failed: {why}"))),
        }
    }

    pub(crate) fn from_wit(status: wit::CallStatus) -> Self {
        match status {
            wit::CallStatus::Queued => Self::Queued,
            wit::CallStatus::Done(json) => Self::Done(json),
            wit::CallStatus::Failed(why) => Self::Failed(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_gives_what_its_method_returns() {
        let queued = Outcome::from_wit(wit::Outcome::Queued(7));
        assert_eq!(queued.ticket(), Ok(Ticket::from_raw(7)));
        assert!(matches!(queued.result::<bool>(), Err(Error::Unexpected(_))));

        let read = Outcome::from_wit(wit::Outcome::Result(r#"{"status":"member"}"#.into()));
        let value: serde_json::Value = read.result().unwrap();
        assert_eq!(value["status"], "member");
        assert_eq!(read.result_json(), Some(r#"{"status":"member"}"#));
        assert!(matches!(read.result::<Vec<u8>>(), Err(Error::Json(_))));
        assert_eq!(
            Outcome::Sent.ticket().unwrap_err().to_string(),
            "unexpected outcome: expected a queued call, got a chat action sent"
        );
    }

    #[test]
    fn a_status_has_a_result_only_once_done() {
        let done = CallStatus::from_wit(wit::CallStatus::Done(r#"{"dice":{"value":5}}"#.into()));
        assert!(done.is_done());
        let value: serde_json::Value = done.result().unwrap();
        assert_eq!(value["dice"]["value"], 5);
        assert!(!CallStatus::Queued.is_done());
        assert_eq!(
            CallStatus::Failed("Forbidden: bot was blocked by the user".into())
                .result::<bool>()
                .unwrap_err()
                .to_string(),
            "unexpected outcome: the call failed: Forbidden: bot was blocked by the user"
        );
    }
}
