//! The host calls dialogues make, behind a trait so that the replay logic runs in unit tests on
//! the host target, where the component's imports do not exist.

use std::time::Duration;

use crate::{Error, Message, kv, log, outbox, timers};

/// Every effect the dialogue machinery has on the world.
pub(crate) trait Host {
    fn kv_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error>;
    fn kv_set(&self, key: &[u8], value: &[u8]) -> Result<(), Error>;
    fn kv_delete(&self, key: &[u8]) -> Result<(), Error>;
    fn say(&self, chat: i64, text: &str) -> Result<(), Error>;
    fn send(&self, message: Message) -> Result<(), Error>;
    fn answer_callback(&self, query_id: &str) -> Result<(), Error>;
    fn schedule(&self, delay: Duration, chat: i64, payload: &[u8]) -> Result<u64, Error>;
    fn cancel(&self, timer: u64) -> Result<(), Error>;
    fn now_unix_ms(&self) -> u64;
    fn warn(&self, message: &str);
    /// Says the module waits for the next text of `user` (anyone: `None`) in `chat` for
    /// `seconds`; 0 withdraws it (contract 0.1.3, `outbox.expect-reply`).
    fn expect_reply(&self, chat: i64, user: Option<i64>, seconds: u32) -> Result<(), Error>;
}

/// The real host: the component's imports.
pub(crate) struct Wit;

impl Host for Wit {
    fn kv_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(kv::get(key)?)
    }

    fn kv_set(&self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        Ok(kv::set(key, value)?)
    }

    fn kv_delete(&self, key: &[u8]) -> Result<(), Error> {
        kv::delete(key)?;
        Ok(())
    }

    fn say(&self, chat: i64, text: &str) -> Result<(), Error> {
        Message::new(chat, text).send()?;
        Ok(())
    }

    fn send(&self, message: Message) -> Result<(), Error> {
        message.send()?;
        Ok(())
    }

    fn answer_callback(&self, query_id: &str) -> Result<(), Error> {
        Ok(
            crate::__private::botbox::bot::outbox::answer_callback_query(query_id, None, false)
                .map_err(outbox::Error::from)?,
        )
    }

    fn schedule(&self, delay: Duration, chat: i64, payload: &[u8]) -> Result<u64, Error> {
        Ok(timers::after(delay, Some(chat), payload)?)
    }

    fn cancel(&self, timer: u64) -> Result<(), Error> {
        timers::cancel(timer)?;
        Ok(())
    }

    fn now_unix_ms(&self) -> u64 {
        timers::now_unix_ms()
    }

    fn warn(&self, message: &str) {
        log::write(log::Level::Warn, message);
    }

    fn expect_reply(&self, chat: i64, user: Option<i64>, seconds: u32) -> Result<(), Error> {
        Ok(
            crate::__private::botbox::bot::outbox::expect_reply(chat, user, seconds)
                .map_err(outbox::Error::from)?,
        )
    }
}
