//! Download queue: users send links; the bot queues them, lets their owners pick a quality or
//! cancel with inline buttons, and every few seconds hands the due links to downloader
//! services over gRPC. It is botbox's version of dwld-bot, a Go service that connects Telegram
//! users to separate downloaders, with all of dwld-bot's rules.
//!
//! What it shows:
//! - a module serving gRPC to the outside (`Registry.Register`, `Registry.Report`, mounted by
//!   the host at `/modules/download-queue/`) and calling gRPC services (`Downloader.Download`)
//!   with [`botbox_sdk::grpc`], over prost messages written by hand after `proto/`;
//! - the HTTP grant: the manifest declares the downloaders' hosts (`downloader_hosts`), and the
//!   host refuses any other;
//! - a periodic durable timer ([`botbox_sdk::timers`]) that restarts itself and is re-created
//!   by any update should it ever be lost;
//! - a queue in KV with indexes by due time and by owner, inline keyboards edited in place,
//!   per-user ownership with admins from the config, input checks and flood limits.
//!
//! The rules: each link is stored with its quality, due time, owner, the bot's message about it
//! (with the keyboard) and the insertion status message. Every `interval_secs` the due links go
//! to a downloader chosen by the `routes` rules (several matches: a random first, the others in
//! turn after an error). A refusal or failure puts the link back with a doubling wait and the
//! error (shown in `/list`); a link that cannot be stored goes to a downloader at once. Sent
//! links leave the queue and their messages are deleted. Users see and manage only their own
//! links; `admins` see and manage all.
//!
//! Run it: build the example modules, put `download_queue.wasm` in the bot's modules folder, set
//! `[http] addr` and `[modules.download-queue.config]` (`downloader_hosts`, ...), and start
//! downloaders beside the bot: `downloader/` and `README.md` in this folder say how.

mod dispatch;
mod internal;
mod links;
mod proto;
mod queue;
mod registry;
mod routing;
mod settings;
mod store;
mod view;

use botbox_sdk::{Error, Manifest, Module, Update, http, reply};

use settings::Settings;

struct DownloadQueue;

const HELP: &str = "Send me links (http:// or https://), several per message if you like. \
Each goes to a downloader after a while; until then change its quality or cancel it with the \
buttons under it (or /quality <number> <quality>, /remove <number>). /list shows your queued \
links.";

impl Module for DownloadQueue {
    fn init() -> Result<Manifest, Error> {
        let settings = Settings::load()?;
        let mut manifest = Manifest::new("download-queue", env!("CARGO_PKG_VERSION"))
            .command("links", "How to queue links for download")
            .command("list", "Your queued links (admins: all)")
            .command("remove", "Take a queued link out: /remove <number>")
            .command(
                "quality",
                "Change a link's quality: /quality <number> <quality>",
            )
            .command("downloaders", "The registered downloaders (admins)")
            .wants_messages()
            .timers();
        for host in &settings.downloader_hosts {
            manifest = manifest.http_host(host);
        }
        if settings.registry_token.trim().is_empty() {
            botbox_sdk::log::warn!(
                "no registry_token is set: every downloader is refused until one is (set it in \
                 [modules.download-queue.config] and give it to the downloaders as DQ_TOKEN)"
            );
        }
        Ok(manifest)
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        let settings = Settings::load()?;
        if let Some(timer) = update.timer() {
            if timer.payload == dispatch::TICK_PAYLOAD {
                dispatch::on_tick(&settings, timer.id)?;
            }
            return Ok(());
        }
        if let Err(error) = dispatch::ensure_tick(&settings) {
            // Without timers (the operator may take them away) links wait; users are served.
            botbox_sdk::log::warn!("cannot schedule the dispatch timer: {error}");
        }
        if let Some(query) = update.callback() {
            return queue::press(query, &settings);
        }
        let Some(user) = update.from() else {
            return Ok(());
        };
        match update.command() {
            Some("links") => {
                reply(update, HELP)?;
                Ok(())
            }
            Some("list") => queue::list(update, user, &settings),
            Some("remove" | "quality") => queue::command(update, user, &settings),
            Some("downloaders") => downloaders(update, user.id, &settings),
            Some(_) => Ok(()),
            None => match update.text() {
                Some(text) => queue::add(update, user, text, &settings),
                None => {
                    reply(update, "Send links as text, please.")?;
                    Ok(())
                }
            },
        }
    }
}

impl http::Handler for DownloadQueue {
    fn handle(request: http::Request) -> http::Response {
        registry::handle(request)
    }
}

botbox_sdk::export_module!(DownloadQueue, http = DownloadQueue);

/// `/downloaders` (admins): who is registered, at which addresses.
fn downloaders(update: &Update, user: i64, settings: &Settings) -> Result<(), Error> {
    if !settings.is_admin(user) {
        reply(update, "Only admins can see the downloaders.")?;
        return Ok(());
    }
    let list = store::downloaders()?;
    let mut text = format!("{} downloader(s) registered:", list.len());
    for downloader in &list {
        text.push_str(&format!(
            "\n{} at {} (last heard {})",
            downloader.name,
            downloader.addresses.join(" "),
            view::clock(downloader.seen_ms)
        ));
    }
    reply(update, &text)?;
    Ok(())
}
