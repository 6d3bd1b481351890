//! Why a Bot API call failed: the host's refusals, Telegram's errors, and JSON that would not
//! encode or decode.

use crate::__private::botbox::bot::bot_api as wit;
use crate::outbox::Ticket;

/// Why a [`bot_api`](crate::bot_api) call failed. The host's refusals keep the text of the rule
/// it applied; nothing was queued or sent for them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not a method of the Bot API version the host speaks (and unknown methods are not allowed
    /// for this module).
    #[error("unknown method: {0}")]
    UnknownMethod(String),
    /// The host's own method (getUpdates, setWebhook, ...), or one that needs a grant the
    /// operator has not given.
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// A parameter is missing, unknown, of the wrong type, or breaks a limit; the text names it.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// The call acts on a message that is neither this module's (by ticket) nor the message of
    /// the update being handled.
    #[error("not own message: {0}")]
    NotOwnMessage(String),
    /// A quota: requests or bytes per update, bytes waiting in the outbox, reads per minute.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// The ticket names no message this module sent.
    #[error("unknown ticket {}", .0.to_raw())]
    UnknownTicket(Ticket),
    /// Telegram refused a read, or it timed out (`code` 0).
    #[error("telegram error {code}: {description}")]
    Telegram {
        /// The HTTP-like error code (400, 403, 429, ...), or 0 for a timeout or network failure.
        code: u16,
        /// Telegram's description.
        description: String,
    },
    /// Not available here (the outbox and reads are not available in `init`).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The parameters did not encode as a JSON object, or a result did not decode into the type
    /// asked for.
    #[error("json: {0}")]
    Json(String),
    /// The call did something else than the caller expected: a ticket asked of a read, a result
    /// of a queued send, the result of a call still queued or given up.
    #[error("unexpected outcome: {0}")]
    Unexpected(String),
}

impl Error {
    /// The name of the rule as the contract spells it (`not-allowed`, `invalid-parameter`, ...),
    /// or `json` and `unexpected` for the SDK's own errors.
    pub fn rule(&self) -> &'static str {
        match self {
            Self::UnknownMethod(_) => "unknown-method",
            Self::NotAllowed(_) => "not-allowed",
            Self::InvalidParameter(_) => "invalid-parameter",
            Self::NotOwnMessage(_) => "not-own-message",
            Self::QuotaExceeded(_) => "quota-exceeded",
            Self::UnknownTicket(_) => "unknown-ticket",
            Self::Telegram { .. } => "telegram",
            Self::Unavailable(_) => "unavailable",
            Self::Json(_) => "json",
            Self::Unexpected(_) => "unexpected",
        }
    }

    /// A [`Json`](Self::Json) error from serde_json's.
    pub(crate) fn json(error: serde_json::Error) -> Self {
        Self::Json(error.to_string())
    }
}

impl From<wit::Error> for Error {
    fn from(error: wit::Error) -> Self {
        match error {
            wit::Error::UnknownMethod(text) => Self::UnknownMethod(text),
            wit::Error::NotAllowed(text) => Self::NotAllowed(text),
            wit::Error::InvalidParameter(text) => Self::InvalidParameter(text),
            wit::Error::NotOwnMessage(text) => Self::NotOwnMessage(text),
            wit::Error::QuotaExceeded(text) => Self::QuotaExceeded(text),
            wit::Error::UnknownTicket(ticket) => Self::UnknownTicket(Ticket::from_raw(ticket)),
            wit::Error::Telegram(error) => Self::Telegram {
                code: error.code,
                description: error.description,
            },
            wit::Error::Unavailable(text) => Self::Unavailable(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_the_rule_and_its_text() {
        let error = Error::from(wit::Error::NotAllowed("setWebhook is the host's".into()));
        assert_eq!(error.rule(), "not-allowed");
        assert_eq!(error.to_string(), "not allowed: setWebhook is the host's");
        let error = Error::from(wit::Error::Telegram(wit::TelegramError {
            code: 400,
            description: "Bad Request: chat not found".into(),
        }));
        assert_eq!(error.rule(), "telegram");
        assert_eq!(
            error.to_string(),
            "telegram error 400: Bad Request: chat not found"
        );
        let error = Error::from(wit::Error::UnknownTicket(9));
        assert_eq!(error, Error::UnknownTicket(Ticket::from_raw(9)));
        assert_eq!(error.to_string(), "unknown ticket 9");
    }

    #[test]
    fn the_crate_error_says_where_it_came_from() {
        let error = crate::Error::from(Error::NotOwnMessage("message 5 in chat 1".into()));
        assert_eq!(
            error.to_string(),
            "bot api: not own message: message 5 in chat 1"
        );
    }
}
