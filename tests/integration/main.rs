//! The integration tests: the real binary or the real `Runtime`, real modules built from
//! source, the fake Bot API. One test binary (one link, one copy of the support code); each
//! file below is one feature's tests, named as sentences.

mod support;

mod admin_token;
mod approval;
mod authoring;
mod backlog;
mod backup_chat;
mod backups;
mod bot_api;
mod broadcast;
mod clicker;
mod clock_jump;
mod cluster_support;
mod compile_process;
mod console;
mod contract;
mod crash;
mod damaged;
mod descriptors;
mod dev;
mod dev_groups;
mod dev_payments;
mod dev_terminal;
mod dialogue;
mod disk_full;
mod download_queue;
mod faults;
mod flush;
mod groups;
mod help;
mod hostile;
mod http;
mod inline;
mod installer;
mod kv;
mod log_forgery;
#[cfg(feature = "native-baseline")]
mod native_baseline;
mod operator;
mod ops;
mod outbox;
mod payments;
mod polling;
mod postgres_admin;
mod postgres_cluster;
mod postgres_failover;
mod postgres_modules;
mod postgres_move;
mod postgres_run;
mod postgres_takeover;
mod postgres_timers;
mod python;
mod restart;
mod retention;
mod routing;
mod sandbox_limits;
mod slow_init;
mod swap;
mod timers;
mod token;
mod webhook;
