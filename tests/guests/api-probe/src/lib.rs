//! A test guest for the host's integration tests of `bot-api` (contract 0.1.2). Each command
//! makes one call and answers, as plain text, what came of it; a refused call is answered
//! `error: <rule>: <error>` (e.g. `error: not-allowed: not allowed: ...`).
//!
//! - `/photo [<kb>]`: sendPhoto of an 8×8 PNG (padded to <kb> KB; file part `p`, caption
//!   `probe photo`) → `queued <ticket>`
//! - `/bigphoto`: sendDocument with a 60 MB file part (the largest it can allocate below that,
//!   announced in the log) → the host's refusal
//! - `/album`: sendMediaGroup of 3 photos (`attach://a`, `b`, `c`) → `queued <ticket>`
//! - `/member`: getChatMember(chat, sender) → `member status: <status>`
//! - `/webhook`: setWebhook → `error: not-allowed: ...`
//! - `/status <ticket>` → `status: queued`, `status: done <json>` or `status: failed <why>`
//! - `/edit <ticket> <text>`: editMessageCaption of that ticket's message → `queued <ticket>`
//! - `/editid <message_id> <text>`: editMessageCaption of a literal message id in this chat
//!   (another module's message → `error: not-own-message: ...`)
//! - `/dice`: sendDice → `queued <ticket>`; `/typing`: sendChatAction typing → `sent`
//! - `/slowtyping <secs>`: sendChatAction typing, then a handler that sleeps that long →
//!   `slept <secs> s`
//! - a document whose caption is `/download` → `downloaded <len> bytes`
//! - `/setname <name>`: setMyName → `result true`, or `error: not-allowed: ...` without the
//!   operator's `bot-settings` grant
//! - `/unknown`: the method sendTeleportation → `error: unknown-method: ...`
//! - `/badparam`: sendMessage with `parse_mod` → `error: invalid-parameter: ...`
//! - `/bcast <n> [<kb>]`: broadcast of one sendPhoto (padded to <kb> KB) to chats
//!   1001..=1000+n → `broadcast <n> tickets`
//! - `/button`: sendMessage with an inline button `Tap` (data `tap`); a press is answered
//!   `pressed tap`
//! - `/memberdlg`: a dialogue that reads getChatMember (recorded for its replays), says
//!   `recorded status: <status>`, asks `Send anything`, then reads again and says
//!   `recorded: <first>, now: <second>`
//! - `/poll`: sendPoll (question `Tea?`, options yes and no) → `queued <ticket>`
//! - asks for `poll_answer` and `message_reaction` by name: each such update is answered
//!   `got <kind>` in the private chat of the user it comes from
//! - asks for `inline_query` and `chosen_inline_result`: a query is answered with one article
//!   (id `probe`, title `probe: <query>`); a chosen result is answered `got
//!   chosen_inline_result` in the user's private chat
//! - `/invoice <payload>`, `/answerquery <id>`, pre-checkout queries and payments: see
//!   [`invoices`]

mod image;
mod invoices;

use botbox_sdk::bot_api::{self, Call, ChatMember, FilePart, Outcome};
use botbox_sdk::dialogue::{self, Dialogue, Dialogues};
use botbox_sdk::outbox::Ticket;
use botbox_sdk::{Error, Manifest, Module, Update, log, reply};
use serde_json::json;

/// The size `/bigphoto` tries: above Telegram's 50 MB for a bot's upload.
const BIG: usize = 60_000_000;

thread_local! {
    static DIALOGUES: Dialogues = Dialogues::new().command(
        "memberdlg",
        "Read your membership inside a dialogue",
        1,
        member_dialogue,
    );
}

/// Reads the user's membership (recorded for replays), waits for any answer, then reads it
/// again: `recorded: <first>, now: <second>`.
async fn member_dialogue(d: Dialogue) -> Result<(), Error> {
    let params = json!({"chat_id": d.chat(), "user_id": d.user()});
    let first: ChatMember = d.bot_api_read("getChatMember", &params).await?;
    d.say(&format!("recorded status: {}", first.status))?;
    d.ask("Send anything").await?;
    let now = bot_api::get_chat_member(d.chat(), d.user())?;
    d.say(&format!("recorded: {}, now: {}", first.status, now.status))
}

struct ApiProbe;

impl Module for ApiProbe {
    fn init() -> Result<Manifest, Error> {
        let manifest = Manifest::new("api-probe", env!("CARGO_PKG_VERSION"));
        let manifest = DIALOGUES.with(|d| d.declare(manifest));
        Ok(manifest
            .command("photo", "Send an 8x8 PNG")
            .command("bigphoto", "Send a 60 MB document")
            .command("album", "Send an album of 3 photos")
            .command("member", "Read your chat membership")
            .command("webhook", "Try to set the webhook")
            .command("status", "The status of a ticket")
            .command("edit", "Edit a sent photo's caption by ticket")
            .command("editid", "Edit a caption by message id")
            .command("dice", "Send a die")
            .command("typing", "Show typing")
            .command("slowtyping", "Show typing during a slow handler")
            .command("download", "Download the document this is the caption of")
            .command("unknown", "Call a method that does not exist")
            .command(
                "setname",
                "Set the bot's name (needs the bot-settings grant)",
            )
            .command("badparam", "Call sendMessage with a wrong parameter")
            .command("bcast", "Broadcast a photo to chats 1001..")
            .command("poll", "Send a poll")
            .command("button", "Send a message with a button")
            .command("invoice", "Send a 10-star invoice with this payload")
            .command("answerquery", "Answer a pre-checkout query by id")
            // A document's caption reaches the module as a plain message.
            .wants_messages()
            .wants_updates([
                "poll_answer",
                "message_reaction",
                "inline_query",
                "chosen_inline_result",
            ]))
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        if !matches!(
            DIALOGUES.with(|d| d.handle(update))?,
            dialogue::Outcome::NotMine
        ) {
            return Ok(());
        }
        if let Some(query) = update.pre_checkout_query() {
            return invoices::check_out(&query);
        }
        if let Some(paid) = update.successful_payment() {
            return invoices::paid(update, &paid);
        }
        if update.other() == Some("inline_query") {
            return answer_inline(update);
        }
        if let Some(kind) = update.other() {
            return report_other(update, kind);
        }
        if let Some(press) = update.callback() {
            reply(update, &format!("pressed {}", press.data))?;
            return Ok(());
        }
        let Some(chat) = update.chat_id() else {
            return Ok(());
        };
        let command = match update.command() {
            Some(command) => command.to_owned(),
            None => match update.caption().and_then(|c| c.strip_prefix('/')) {
                Some(caption) => caption.split_whitespace().next().unwrap_or("").to_owned(),
                None => return Ok(()),
            },
        };
        let args = update.command_args();
        let answer = match run(update, chat, &command, args) {
            Ok(answer) => answer,
            Err(error) => format!("error: {}: {error}", error.rule()),
        };
        if !answer.is_empty() {
            reply(update, &answer)?;
        }
        Ok(())
    }
}

/// Makes the call `command` names and says what came of it (empty: nothing to say).
fn run(update: &Update, chat: i64, command: &str, args: &str) -> Result<String, bot_api::Error> {
    let outcome = match command {
        "photo" => {
            // `/photo [<kb>]`: the PNG padded to <kb> KB after its end.
            let mut png = image::png(8, 8, 0);
            if let Ok(kb) = args.trim().parse::<usize>() {
                png.resize(png.len().max(kb * 1024), 0);
            }
            Call::new("sendPhoto")
                .param("chat_id", chat)
                .param("photo", "attach://p")
                .param("caption", "probe photo")
                .file(FilePart::new("p", "p.png", png))
                .send()?
        }
        "bigphoto" => {
            let bytes = big_file();
            Call::new("sendDocument")
                .param("chat_id", chat)
                .param("document", "attach://big")
                .file(FilePart::new("big", "big.bin", bytes))
                .send()?
        }
        "album" => {
            let media: Vec<_> = ["a", "b", "c"]
                .iter()
                .map(|name| json!({"type": "photo", "media": format!("attach://{name}")}))
                .collect();
            let mut call = Call::new("sendMediaGroup")
                .param("chat_id", chat)
                .param("media", media);
            for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
                let png = image::png(8, 8, i as u8 + 1);
                call = call.file(FilePart::new(name, format!("{name}.png"), png));
            }
            call.send()?
        }
        "member" => {
            let user = update.from().map_or(chat, |user| user.id);
            let member = bot_api::get_chat_member(chat, user)?;
            return Ok(format!("member status: {}", member.status));
        }
        "webhook" => bot_api::call("setWebhook", &json!({"url": "https://evil.example/"}))?,
        "status" => {
            let status = bot_api::status(ticket(args)?)?;
            return Ok(match status {
                bot_api::CallStatus::Queued => "status: queued".into(),
                bot_api::CallStatus::Done(json) => format!("status: done {json}"),
                bot_api::CallStatus::Failed(why) => format!("status: failed {why}"),
            });
        }
        "edit" => {
            let (ticket_text, text) = args.split_once(' ').unwrap_or((args, ""));
            Call::new("editMessageCaption")
                .param("caption", text)
                .acting_on(ticket(ticket_text)?)
                .send()?
        }
        "editid" => {
            let (id, text) = args.split_once(' ').unwrap_or((args, ""));
            let id: i64 = id
                .parse()
                .map_err(|_| bot_api::Error::Json(format!("not a message id: {id:?}")))?;
            bot_api::call(
                "editMessageCaption",
                &json!({"chat_id": chat, "message_id": id, "caption": text}),
            )?
        }
        "dice" => Outcome::Queued(bot_api::send_dice(chat, "🎲")?),
        "typing" => {
            bot_api::send_chat_action(chat, "typing")?;
            Outcome::Sent
        }
        "slowtyping" => {
            // `/slowtyping <secs>`: "typing", then a handler that takes that long.
            bot_api::send_chat_action(chat, "typing")?;
            let secs: u64 = args.trim().parse().unwrap_or(9);
            std::thread::sleep(std::time::Duration::from_secs(secs));
            return Ok(format!("slept {secs} s"));
        }
        "download" => {
            let Some(document) = update.document() else {
                return Ok("send /download as the caption of a document".into());
            };
            let bytes = bot_api::download(&document.file_id)?;
            return Ok(format!("downloaded {} bytes", bytes.len()));
        }
        "button" => bot_api::call(
            "sendMessage",
            &json!({"chat_id": chat, "text": "a button", "reply_markup":
                {"inline_keyboard": [[{"text": "Tap", "callback_data": "tap"}]]}}),
        )?,
        "poll" => bot_api::call(
            "sendPoll",
            &json!({"chat_id": chat, "question": "Tea?", "options": [{"text": "yes"}, {"text": "no"}], "is_anonymous": false}),
        )?,
        "setname" => bot_api::call("setMyName", &json!({"name": args.trim()}))?,
        "invoice" => invoices::send(chat, args.trim())?,
        "answerquery" => invoices::answer_other(args.trim())?,
        "unknown" => bot_api::call("sendTeleportation", &json!({"chat_id": chat}))?,
        "badparam" => bot_api::call(
            "sendMessage",
            &json!({"chat_id": chat, "text": "x", "parse_mod": "HTML"}),
        )?,
        "bcast" => {
            // `/bcast <n> [<kb>]`: the photo padded to <kb> KB after its PNG end (the benchmark's
            // 100 KB photo).
            let mut parts = args.split_whitespace();
            let n: i64 = parts.next().and_then(|n| n.parse().ok()).unwrap_or(1);
            let mut png = image::png(8, 8, 7);
            if let Some(kb) = parts.next().and_then(|kb| kb.parse::<usize>().ok()) {
                png.resize(png.len().max(kb * 1024), 0);
            }
            let chats: Vec<i64> = (1001..=1000 + n).collect();
            let tickets = Call::new("sendPhoto")
                .param("photo", "attach://p")
                .file(FilePart::new("p", "p.png", png))
                .broadcast(&chats)?;
            return Ok(format!("broadcast {} tickets", tickets.len()));
        }
        _ => return Ok(String::new()),
    };
    Ok(describe(&outcome))
}

/// Answers `got <kind>` to the user an update asked for by name comes from.
fn report_other(update: &Update, kind: &str) -> Result<(), Error> {
    /// The part of a poll answer's or a reaction's body the probe reads.
    #[derive(serde::Deserialize)]
    struct From {
        user: Option<Id>,
        chat: Option<Id>,
        from: Option<Id>,
    }
    #[derive(serde::Deserialize)]
    struct Id {
        id: i64,
    }
    let Some(body) = update.other_body::<From>() else {
        return Ok(());
    };
    let body = body?;
    if let Some(to) = body.user.or(body.chat).or(body.from) {
        botbox_sdk::outbox::Message::new(to.id, format!("got {kind}")).send()?;
    }
    Ok(())
}

/// Answers an inline query with one article naming the query.
fn answer_inline(update: &Update) -> Result<(), Error> {
    #[derive(serde::Deserialize)]
    struct Query {
        id: String,
        query: String,
    }
    let Some(query) = update.other_body::<Query>() else {
        return Ok(());
    };
    let query = query?;
    let title = format!("probe: {}", query.query);
    Call::new("answerInlineQuery")
        .param("inline_query_id", &query.id)
        .param(
            "results",
            serde_json::json!([{
                "type": "article",
                "id": "probe",
                "title": title,
                "input_message_content": {"message_text": title},
            }]),
        )
        .param("cache_time", 0)
        .send()?;
    Ok(())
}

/// An outcome as the tests read it.
fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Queued(ticket) => format!("queued {}", ticket.to_raw()),
        Outcome::AnswerQueued => "answer queued".into(),
        Outcome::Result(json) => format!("result {json}"),
        Outcome::Sent => "sent".into(),
    }
}

fn ticket(text: &str) -> Result<Ticket, bot_api::Error> {
    text.trim()
        .parse()
        .map(Ticket::from_raw)
        .map_err(|_| bot_api::Error::Json(format!("not a ticket: {text:?}")))
}

/// 60 MB of zeros, or, when the module's memory cannot hold that, the largest block it can get
/// (in steps of 1 MiB), which is still over Telegram's 50 MB with the default 64 MiB of memory.
fn big_file() -> Vec<u8> {
    let mut size = BIG;
    loop {
        let mut bytes = Vec::new();
        if bytes.try_reserve_exact(size).is_ok() {
            bytes.resize(size, 0);
            if size < BIG {
                log::warn!("bigphoto: {BIG} bytes did not fit; sending {size}");
            }
            return bytes;
        }
        size = size.saturating_sub(1 << 20);
    }
}

botbox_sdk::export_module!(ApiProbe);
