//! `log`: the module's log lines, tagged and rate-limited by its [`crate::sandbox::GuestLog`].

use super::HostState;
use crate::bindings::log;

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
