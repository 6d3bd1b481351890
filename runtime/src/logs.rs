//! The process's log: readable lines or JSON objects on standard error, filtered by
//! `BOTBOX_LOG` (`info`, `botbox=debug`, ...).
//!
//! JSON lines carry `timestamp`, `level`, `target` and the event's fields at the top level
//! (`message`, `module`, `update`, ...), so journald, Loki or any collector can index them.

use crate::config::LogFormat;

/// Starts logging to standard error; `default_level` applies when `BOTBOX_LOG` is not set.
/// Does nothing when a logger is set already.
pub fn init(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BOTBOX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
}
