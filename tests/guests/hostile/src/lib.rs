//! A hostile module: each command tries to break out of the sandbox or to harm the bot, then
//! reports what it got in the chat, so a test asserts on what a user would see. Commands that
//! cannot report (they trap) are stopped by the host and show up in its counters, quarantine
//! and log instead.
//!
//! Its manifest declares a KV quota of [`KV_MAX_BYTES`] bytes.
//!
//! - `/files` reads `/etc/passwd`, lists `/` and `.`, creates files: `files: denied` when every
//!   try failed, else `files: GOT <what>`.
//! - `/env` counts environment variables and arguments: `env: <n> vars, <n> args`.
//! - `/net <port>` connects to 127.0.0.1:`<port>` over TCP, sends UDP there and looks up
//!   `localhost`: `net: denied (<tcp error>)`, else `net: GOT <what>`.
//! - `/token` looks for anything shaped like a bot token in its environment, arguments, files it
//!   might reach, its config and the update: `token: not found (<n> places searched)`, else
//!   `token: FOUND in <where>`.
//! - `/escape <user id>...` reads keys naming the clicker's data (`users`, `user/<id>`,
//!   `rank/...`, `../clicker/users`, NUL, the longest key) and scans its whole namespace, then
//!   writes junk under the same keys: `escape: saw nothing of clicker (<n> keys tried, <m>
//!   refused)` or `escape: SAW <key>`.
//! - `/bigvalue` stores a 2 MiB value, then 1000-byte values until its quota refuses one:
//!   `bigvalue: <error>; filled <n> then <error>; usage <bytes> of <max> bytes`.
//! - `/readloop` reads a 1 KiB key and deletes absent 1 KiB keys in loops until refused:
//!   `readloop: <n> reads, then <error>; <m> deletes, then <error>`.
//! - `/flood` sends `flood 1`, `flood 2`, ... up to 1000 messages in one update; the outcome,
//!   `flood: <n> accepted, then <error>`, is kept and answered by `/report`.
//! - `/bigtext` sends and broadcasts a 100 kB text: `bigtext: send <error>; broadcast <error>`.
//! - `/logflood` writes 100,000 lines to stdout and stderr: `logflood: wrote 100000 lines`.
//! - `/forgelog` writes a line that carries a forged host log line after a newline and terminal
//!   escape sequences, through its log and stderr, then panics with it (quarantined).
//! - `/recurse` recurses without bound until the host's stack limit traps; `/recurse_frames` does
//!   with big frames in linear memory (Rust's stack), which runs out first and traps on the
//!   access below its bottom; `/panic` panics, `/spin` loops forever, `/bomb` allocates without
//!   bound: each traps (panic, CPU deadline, memory).
//! - `/vandal <chat id> <message id>` tries to edit and to delete that message (another
//!   module's): `vandal: edit <error or ACCEPTED>; delete <error or ACCEPTED>`.
//! - `/hoard` tries a 1 MB button URL, a message to chat 0, broadcasts of full texts with full
//!   keyboards to 10,000 chats until refused, and an interactive broadcast (see `hoard.rs`).
//! - `/ping` answers `hostile alive`.

mod hoard;
mod reach;
mod store;
mod traps;

use botbox_sdk::{Error, Manifest, Module, Update, kv, outbox, reply};

/// The KV quota the manifest declares.
pub const KV_MAX_BYTES: u64 = 16 * 1024;

/// Where `/flood` keeps its outcome for `/report`.
const FLOOD_REPORT: &str = "flood report";

struct Hostile;

impl Module for Hostile {
    fn init() -> Result<Manifest, Error> {
        Ok(Manifest::new("hostile", env!("CARGO_PKG_VERSION"))
            .kv_max_bytes(KV_MAX_BYTES)
            .command("files", "Try to read and write files")
            .command("env", "Count environment variables and arguments")
            .command("net", "Try to reach 127.0.0.1:<port>")
            .command("token", "Look for the bot token")
            .command("escape", "Try to reach other modules' KV data")
            .command("bigvalue", "Store a giant value and fill the KV quota")
            .command("readloop", "Read and delete keys until the host refuses")
            .command("flood", "Send 1000 messages in one update")
            .command("report", "Show what /flood got")
            .command("bigtext", "Send a 100 kB message")
            .command("logflood", "Write 100,000 log lines")
            .command("forgelog", "Write a forged log line with terminal escapes")
            .command("recurse", "Recurse without bound")
            .command("recurse_frames", "Recurse without bound with big frames")
            .command("panic", "Panic")
            .command("spin", "Loop forever")
            .command("bomb", "Allocate memory without bound")
            .command("vandal", "Edit and delete another module's message")
            .command("hoard", "Make the host hold gigabytes for one call")
            .command("ping", "Answer `hostile alive`"))
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        let answer = match update.command() {
            Some("files") => reach::files(),
            Some("env") => reach::env(),
            Some("net") => match update.command_args().trim().parse::<u16>() {
                Ok(port) => reach::net(port),
                Err(_) => "usage: /net <port>".to_owned(),
            },
            Some("token") => reach::token(update),
            Some("escape") => store::escape(update.command_args()),
            Some("bigvalue") => store::big_value(),
            Some("readloop") => store::read_loop(),
            Some("flood") => {
                kv::set(FLOOD_REPORT, flood(update)?)?;
                return Ok(());
            }
            Some("report") => match kv::get(FLOOD_REPORT)? {
                Some(report) => String::from_utf8_lossy(&report).into_owned(),
                None => "no flood yet".to_owned(),
            },
            Some("bigtext") => big_text(update)?,
            Some("logflood") => traps::log_flood(),
            Some("recurse") => traps::recurse(),
            Some("recurse_frames") => traps::recurse_frames(),
            Some("panic") => panic!("hostile module panics on purpose"),
            Some("spin") => traps::spin(),
            Some("bomb") => traps::bomb(),
            Some("vandal") => vandal(update.command_args()),
            Some("hoard") => hoard::hoard(update),
            Some("ping") => "hostile alive".to_owned(),
            Some("forgelog") => {
                botbox_sdk::log::warn!("{FORGED}");
                eprintln!("{FORGED}");
                panic!("{FORGED}");
            }
            _ => return Ok(()),
        };
        reply(update, &answer)?;
        Ok(())
    }
}

/// A log line that would pass for the host's after a newline, and would clear the operator's
/// screen and retitle the terminal if printed raw.
const FORGED: &str =
    "forged\n2026-12-04T00:00:00Z  INFO botbox: operator approved \u{1b}[2J\u{1b}]0;owned\u{7}";

/// Sends up to 1000 messages to the update's chat; returns how far it got.
fn flood(update: &Update) -> Result<String, Error> {
    for i in 0..1000 {
        if let Err(error) = reply(update, &format!("flood {}", i + 1)) {
            return Ok(format!("flood: {i} accepted, then {error}"));
        }
    }
    Ok("flood: 1000 accepted".to_owned())
}

/// Tries to edit and delete the message `<chat id> <message id>` named in `args`.
fn vandal(args: &str) -> String {
    let mut parts = args.split_whitespace().map(str::parse::<i64>);
    let (Some(Ok(chat_id)), Some(Ok(message_id))) = (parts.next(), parts.next()) else {
        return "usage: /vandal <chat id> <message id>".to_owned();
    };
    let target = outbox::MessageRef::Message {
        chat_id,
        message_id: i32::try_from(message_id).unwrap_or(i32::MAX),
    };
    let outcome = |r: Result<(), botbox_sdk::outbox::Error>| match r {
        Ok(()) => "ACCEPTED".to_owned(),
        Err(error) => error.to_string(),
    };
    format!(
        "vandal: edit {}; delete {}",
        outcome(outbox::edit_text(target, "vandalised")),
        outcome(outbox::delete(target))
    )
}

/// Tries to send and to broadcast a 100 kB text.
fn big_text(update: &Update) -> Result<String, Error> {
    let chat = update.chat_id().ok_or("no chat")?;
    let text = "x".repeat(100 * 1024);
    let sent = match reply(update, &text) {
        Ok(_) => "ACCEPTED".to_owned(),
        Err(error) => error.to_string(),
    };
    let broadcast = match outbox::broadcast(&[chat], &text) {
        Ok(_) => "ACCEPTED".to_owned(),
        Err(error) => error.to_string(),
    };
    Ok(format!("bigtext: send {sent}; broadcast {broadcast}"))
}

botbox_sdk::export_module!(Hostile);
