//! A module built against `botbox:bot@0.1.2` (world `module`), frozen in `wit/released/`: newer
//! runtimes must keep loading it. `/ping12` counts pings in KV and answers
//! `pong N (contract 0.1.2)`. Its name, `old-module-12`, differs from those of the 0.1.0 and
//! 0.1.1 modules so that all three can run side by side.

wit_bindgen::generate!({
    path: "../../../wit/released/botbox-bot@0.1.2",
    world: "module",
    // wit-bindgen 0.46 cannot resolve wasi:cli's gated import of this interface otherwise
    // (the package's deps carry wasi:http for its other worlds); nothing of it is generated.
    features: ["clocks-timezone"],
});

use botbox::bot::{kv, outbox, types};
use exports::botbox::bot::handler::Guest;

struct Old;

impl Guest for Old {
    fn init() -> Result<types::Manifest, String> {
        Ok(types::Manifest {
            name: "old-module-12".into(),
            version: "0.1.2".into(),
            commands: vec![types::Command {
                name: "ping12".into(),
                description: "Answer pong".into(),
                admin_only: false,
            }],
            wants: types::UpdateFilter::empty(),
            outbox_per_minute: None,
            kv_max_bytes: None,
            kv_max_keys: None,
            timers: false,
            http_hosts: Vec::new(),
        })
    }

    fn handle_update(update: types::Update) -> Result<(), String> {
        let types::UpdateKind::Message(message) = update.kind else {
            return Ok(());
        };
        if update.command.as_deref() != Some("ping12") {
            return Ok(());
        }
        let n = kv::increment(b"pings", 1).map_err(|e| format!("{e:?}"))?;
        let options = outbox::MessageOptions {
            parse_mode: outbox::ParseMode::Plain,
            keyboard: None,
            reply_to: None,
            disable_notification: false,
            priority: None,
        };
        outbox::send_message(
            message.chat.id,
            &format!("pong {n} (contract 0.1.2)"),
            &options,
        )
        .map_err(|e| format!("{e:?}"))?;
        Ok(())
    }
}

export!(Old);
