//! The runtime's log. Lines are tagged with the module's name and rate-limited by the host.
//!
//! The macros take `format!` arguments:
//!
//! ```no_run
//! use botbox_sdk::log;
//!
//! let user = 42;
//! log::info!("user {user} registered");
//! log::warn!("retrying after {} ms", 250);
//! ```
//!
//! A panic is logged at [`Level::Error`] with its message and location before the instance traps.

pub use crate::__private::botbox::bot::log::Level;

use crate::__private::botbox::bot::log as wit;

/// Writes one line to the runtime's log at `level`.
pub fn write(level: Level, message: &str) {
    wit::write(level, message);
}

/// Logs a `format!`-style line at [`Level::Debug`](crate::log::Level::Debug).
#[doc(hidden)]
#[macro_export]
macro_rules! __botbox_log_debug {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Debug, &::std::format!($($arg)+))
    };
}

/// Logs a `format!`-style line at [`Level::Info`](crate::log::Level::Info).
#[doc(hidden)]
#[macro_export]
macro_rules! __botbox_log_info {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Info, &::std::format!($($arg)+))
    };
}

/// Logs a `format!`-style line at [`Level::Warn`](crate::log::Level::Warn).
#[doc(hidden)]
#[macro_export]
macro_rules! __botbox_log_warn {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Warn, &::std::format!($($arg)+))
    };
}

/// Logs a `format!`-style line at [`Level::Error`](crate::log::Level::Error).
#[doc(hidden)]
#[macro_export]
macro_rules! __botbox_log_error {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Error, &::std::format!($($arg)+))
    };
}

#[doc(inline)]
pub use crate::__botbox_log_debug as debug;
#[doc(inline)]
pub use crate::__botbox_log_error as error;
#[doc(inline)]
pub use crate::__botbox_log_info as info;
#[doc(inline)]
pub use crate::__botbox_log_warn as warn;

/// Routes panic messages to the log, where the operator sees them next to the module's name.
pub(crate) fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            write(Level::Error, &format!("module {info}"))
        }));
    });
}
