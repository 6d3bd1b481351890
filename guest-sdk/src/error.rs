//! The crate's error type.

use std::fmt;

/// Why a handler failed. Every SDK call's error converts into it, so `?` works in
/// [`Module::init`](crate::Module::init) and [`Module::handle_update`](crate::Module::handle_update);
/// the host logs its message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key-value store call failed.
    #[error("kv: {0}")]
    Kv(#[from] crate::kv::Error),
    /// The outbox refused a message, an edit, a deletion or a callback answer.
    #[error("outbox: {0}")]
    Outbox(#[from] crate::outbox::Error),
    /// A config value could not be read or parsed.
    #[error("config: {0}")]
    Config(#[from] crate::config::Error),
    /// A timer could not be scheduled or cancelled.
    #[error("timers: {0}")]
    Timers(#[from] crate::timers::Error),
    /// Anything else the module reports, as a message.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// An error with this message, for failures of the module's own logic.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self::Other(message.to_string())
    }
}

/// A Bot API error becomes [`Error::Other`] with its text (`bot api: not allowed: ...`): match on
/// [`bot_api::Error`](crate::bot_api::Error) before `?` to react to a refusal. (Not a variant of
/// its own, so that a module that never calls the Bot API carries none of its code.)
impl From<crate::bot_api::Error> for Error {
    #[inline]
    fn from(error: crate::bot_api::Error) -> Self {
        Self::Other(format!("bot api: {error}"))
    }
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Self::Other(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Self::Other(message.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_failing_part() {
        let error = Error::from(crate::kv::Error::QuotaExceeded("100 keys".into()));
        assert_eq!(error.to_string(), "kv: quota exceeded: 100 keys");
        assert_eq!(Error::msg(42).to_string(), "42");
        assert_eq!(Error::from("no chat").to_string(), "no chat");
    }
}
