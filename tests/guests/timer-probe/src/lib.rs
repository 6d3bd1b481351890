//! A module for the host's timer tests:
//! - `/remind <ms> <text>` schedules a timer `<ms>` from now for this chat with `<text>` as its
//!   payload and answers `scheduled <id>`;
//! - `/cancel <id>` cancels it and answers `cancelled <true|false>`;
//! - `/many <n>` schedules `n` timers an hour away and answers `scheduled <k>` and, if one was
//!   refused, `, then <error>`;
//! - `/fail <ms>` schedules a timer whose handling returns an error;
//! - a timer that fires is answered `fired: <text> (late: <yes|no>)` in its chat (late means
//!   more than two seconds after it was due);
//! - any refused timer call is answered `error: <error>`.

use std::time::Duration;

use botbox_sdk::{Error, Manifest, Message, Module, Update, reply, timers};

struct TimerProbe;

impl Module for TimerProbe {
    fn init() -> Result<Manifest, Error> {
        Ok(Manifest::new("timer-probe", env!("CARGO_PKG_VERSION"))
            .command("remind", "Schedule a reminder: /remind <ms> <text>")
            .command("cancel", "Cancel a reminder: /cancel <id>")
            .command("many", "Schedule many timers: /many <n>")
            .command("fail", "Schedule a timer whose handling fails: /fail <ms>")
            .timers())
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        if let Some(fired) = update.timer() {
            let text = String::from_utf8_lossy(&fired.payload).into_owned();
            if text == "fail" {
                return Err("this timer's handling fails".into());
            }
            let chat = fired.chat_id.ok_or("a probe timer has a chat")?;
            let late = if fired.late_ms > 2000 { "yes" } else { "no" };
            Message::new(chat, format!("fired: {text} (late: {late})")).send()?;
            return Ok(());
        }
        let chat = update.chat_id().ok_or("no chat")?;
        let args = update.command_args();
        let answer = match update.command() {
            Some("remind") => {
                let (ms, text) = args.split_once(' ').unwrap_or((args, ""));
                let ms: u64 = ms.parse().map_err(|_| "usage: /remind <ms> <text>")?;
                match timers::after(Duration::from_millis(ms), Some(chat), text.as_bytes()) {
                    Ok(id) => format!("scheduled {id}"),
                    Err(e) => format!("error: {e}"),
                }
            }
            Some("fail") => {
                let ms: u64 = args.parse().map_err(|_| "usage: /fail <ms>")?;
                match timers::after(Duration::from_millis(ms), Some(chat), b"fail") {
                    Ok(id) => format!("scheduled {id}"),
                    Err(e) => format!("error: {e}"),
                }
            }
            Some("cancel") => {
                let id: u64 = args.parse().map_err(|_| "usage: /cancel <id>")?;
                match timers::cancel(id) {
                    Ok(was) => format!("cancelled {was}"),
                    Err(e) => format!("error: {e}"),
                }
            }
            Some("many") => {
                let n: u32 = args.parse().map_err(|_| "usage: /many <n>")?;
                let mut done = 0;
                let mut refused = None;
                for i in 0..n {
                    match timers::after(Duration::from_secs(3600), Some(chat), &i.to_be_bytes()) {
                        Ok(_) => done += 1,
                        Err(e) => {
                            refused = Some(e);
                            break;
                        }
                    }
                }
                match refused {
                    Some(e) => format!("scheduled {done}, then {e}"),
                    None => format!("scheduled {done}"),
                }
            }
            _ => return Ok(()),
        };
        reply(update, &answer)?;
        Ok(())
    }
}

botbox_sdk::export_module!(TimerProbe);
