//! Entry points for the fuzz targets in `fuzz/` and for the replay of their corpus in the
//! normal test suite (`fuzzing/tests.rs`): each takes the raw bytes a fuzzer made, feeds them to
//! the host's own parsers and checks — the same functions the running bot calls on what
//! Telegram, an operator or a module sends — and panics only when the host misbehaves.
//! See docs/fuzzing.md.

mod kv_keys;

use std::sync::OnceLock;

use axum::{body::Bytes, http::StatusCode, routing::post};
use serde_json::{Value, json};

use crate::{
    bindings::types::{Command, Manifest, UpdateFilter},
    bot_api::update_kinds,
    intake::{convert, host_commands, webhook},
    modules::{Reason, Router},
    sandbox::Capabilities,
};

pub use kv_keys::kv_keys;

/// The operator of the fuzzed bot (a Telegram user id).
const OPERATOR: i64 = 42;
/// The secret the fuzzed webhook expects.
const SECRET: &str = "fuzz-secret_1";
/// The fuzzed webhook's body limit.
const MAX_BODY: usize = 4096;

/// Reads a fuzzer's bytes as a sequence of small choices; past the end, every choice is 0.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        *first
    }

    /// Up to `max` bytes, the length given by the next byte.
    fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = (self.byte() as usize % (max + 1)).min(self.0.len());
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken
    }

    fn text(&mut self, max: usize) -> String {
        String::from_utf8_lossy(self.bytes(max)).into_owned()
    }

    fn rest(self) -> &'a [u8] {
        self.0
    }
}

/// A bot with two modules: `echo` (commands `/start`, `/echo`, the admin-only `/ban`; every
/// message; buttons tagged `e`) and `polls` (every other kind of update; buttons tagged `p`).
fn bot_router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let command = |name: &str, admin_only| Command {
            name: name.into(),
            description: format!("the {name} command"),
            admin_only,
        };
        let module = |name: &str, commands, wants| Manifest {
            name: name.into(),
            version: "1".into(),
            commands,
            wants,
            outbox_per_minute: None,
            kv_max_bytes: None,
            kv_max_keys: None,
            timers: false,
            http_hosts: Vec::new(),
        };
        let mut router = Router::new("fuzz_bot", &[OPERATOR]);
        let echo = vec![
            command("start", false),
            command("echo", false),
            command("ban", true),
        ];
        router.add(
            &module("echo", echo, UpdateFilter::MESSAGES),
            "e",
            &[],
            &[],
            None,
        );
        router.add(
            &module("polls", Vec::new(), UpdateFilter::OTHER_UPDATES),
            "p",
            &[],
            &["poll_answer".into()],
            None,
        );
        // Two inline modules told apart by the operator's prefixes.
        let inline = [
            "inline_query".to_string(),
            "chosen_inline_result".to_string(),
        ];
        for (name, tag, prefix) in [("qr", "q", "*"), ("shop", "s", "shop")] {
            router.add(
                &module(name, Vec::new(), UpdateFilter::empty()),
                tag,
                &[],
                &inline,
                None,
            );
            router.set_inline_prefix(name, prefix);
        }
        router
    })
}

/// What intake does with one update Telegram sent, short of the database: parse it as
/// `Intake::submit` does, recognize the host's commands, route it, and convert it to the
/// contract's form for each module it goes to.
fn intake_update(raw: &Value) {
    if raw.get("update_id").and_then(Value::as_u64).is_none() {
        return;
    }
    // From text, as `Intake::submit` does (teloxide's UpdateKind wants borrowed keys).
    let Ok(update) = update_kinds::parse(raw, &raw.to_string()) else {
        return;
    };
    let router = bot_router();
    let _ = host_commands::parse(&update, router);
    let _ = convert::chat_of(&update);
    let _ = update_kinds::owner_key(raw);
    let _ = crate::text::cut_bytes(&raw.to_string(), 200);
    let routed = router.route(&update, raw);
    if matches!(
        update_kinds::kind_of(raw),
        Some("inline_query" | "chosen_inline_result")
    ) {
        assert!(
            routed.len() <= 1,
            "an inline query reaches one module at most"
        );
    }
    if crate::bot_api::payments::is_about_invoice(raw) {
        assert!(
            routed.len() <= 1 && routed.iter().all(|(_, r)| *r == Reason::Payment),
            "a payment's update reaches the module that issued the invoice, or none"
        );
    }
    for (_, reason) in routed {
        let (callback, command) = match &reason {
            Reason::Callback(data) => (Some(data.as_str()), None),
            Reason::Command(c, a) => (None, Some((c.as_str(), a.as_str()))),
            Reason::Wanted | Reason::Payment => (None, None),
        };
        let converted = convert::update(&update, raw, callback, command);
        assert_eq!(converted.update_id, i64::from(update.id.0));
    }
}

/// Any bytes as the JSON of an update from Telegram.
pub fn update_convert(data: &[u8]) {
    if let Ok(raw @ Value::Object(_)) = serde_json::from_slice::<Value>(data) {
        intake_update(&raw);
    }
}

/// Any text as a message, a caption or a button's data, from an operator or anyone, in a
/// private chat or a group.
pub fn router(data: &[u8]) {
    let mut input = Input(data);
    let shape = input.byte();
    let from = json!({
        "id": if shape & 0x10 != 0 { OPERATOR } else { 7 },
        "is_bot": false,
        "first_name": "F",
    });
    let chat = if shape & 0x20 != 0 {
        json!({"id": -100, "type": "group", "title": "G"})
    } else {
        json!({"id": from["id"], "type": "private", "first_name": "F"})
    };
    let text = String::from_utf8_lossy(input.rest()).into_owned();
    let mut message = json!({"message_id": 1, "date": 0, "chat": chat, "from": from});
    let update = match shape % 4 {
        0 => {
            message["text"] = text.into();
            json!({"update_id": 1, "message": message})
        }
        1 => {
            message["caption"] = text.into();
            message["document"] = json!({"file_id": "f", "file_unique_id": "u", "file_size": 10, "file_name": "m.wasm"});
            json!({"update_id": 1, "message": message})
        }
        2 => {
            message["text"] = text.into();
            json!({"update_id": 1, "edited_message": message})
        }
        _ => json!({"update_id": 1, "callback_query": {
            "id": "q", "from": from, "chat_instance": "c", "data": text, "message": message,
        }}),
    };
    intake_update(&update);
}

/// A request to the webhook server: the first line is the secret header (absent when the
/// line is empty), the rest the body. The answer must be 401 without the secret, 413 over the
/// body limit, else 200.
pub fn webhook(data: &[u8]) {
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let mut request = axum::http::Request::post("/telegram");
    if !header.is_empty() {
        request = request.header(webhook::SECRET_HEADER, header);
    }
    let Ok(request) = request.body(axum::body::Body::from(body.to_vec())) else {
        return; // not a header value: no HTTP client could send it
    };
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a tokio runtime")
    });
    let app = webhook::app("/telegram", SECRET.as_bytes(), MAX_BODY, post(receive), ());
    let status = runtime
        .block_on(tower::ServiceExt::oneshot(app, request))
        .expect("axum's router is infallible")
        .status();
    let expected = if header != SECRET.as_bytes() {
        StatusCode::UNAUTHORIZED
    } else if body.len() > MAX_BODY {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::OK
    };
    assert_eq!(status, expected, "header {header:?}, {} bytes", body.len());
}

/// The webhook's handler with intake short of the database.
async fn receive(body: Bytes) -> StatusCode {
    if let Some(raw) = webhook::decode(&body) {
        intake_update(&raw);
    }
    StatusCode::OK
}

/// Any bytes as a backup file, read into an empty database (as `botbox restore` does), then
/// again with its checksum recomputed so that the body's own checks are reached. A snapshot
/// that was accepted must survive a round trip: the database it built, backed up again, holds
/// as many tables and records.
pub fn backup_reader(data: &[u8]) {
    let _ = crate::backup::read_into_empty(data);
    if data.len() < 56 {
        return;
    }
    use sha2::Digest;
    let mut sealed = data.to_vec();
    let at = sealed.len() - 40;
    let sha = sha2::Sha256::digest(&sealed[..at]);
    sealed[at..at + 32].copy_from_slice(&sha);
    sealed[at + 32..].copy_from_slice(b"BBK-DONE");
    let Ok((info, db)) = crate::backup::read_into_empty(&sealed[..]) else {
        return;
    };
    let mut again = Vec::new();
    let written =
        crate::backup::write_snapshot(&db, &mut again).expect("a restored database backs up");
    let (tables, records) = (written.tables, written.records);
    assert_eq!((tables, records), (info.tables, info.records));
    let reread = crate::backup::verify(&again[..]).expect("a fresh backup verifies");
    assert_eq!((reread.tables, reread.records), (tables, records));
}

/// Any text as the operator's `botbox.toml`, parsed, checked and put to use as `botbox run`
/// does.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut config) = crate::Config::from_toml(text) else {
        return;
    };
    if config.apply_env(|_| None).is_err() || config.validate().is_err() {
        return;
    }
    let _ = (config.call_timeout(), config.kv_limits(), config.kv_quota());
    let _ = config.backup_dir();
    let _ = crate::sandbox::OutgoingLimits::from_config(&config.http);
    let _ = webhook::path(&config.telegram.webhook.url);
}

/// Any manifest a module could return, checked; when accepted, its grants and routes are
/// built and a host is looked up in them.
pub fn manifest(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.byte();
    let mut wants = UpdateFilter::empty();
    for (bit, flag) in [
        UpdateFilter::MESSAGES,
        UpdateFilter::EDITED_MESSAGES,
        UpdateFilter::OTHER_UPDATES,
    ]
    .into_iter()
    .enumerate()
    {
        if flags & (1 << bit) != 0 {
            wants |= flag;
        }
    }
    let limit = |input: &mut Input<'_>, on: bool| {
        on.then(|| u64::from_le_bytes([input.byte(), input.byte(), 0, 0, 0, 0, 0, 0]))
    };
    let m = Manifest {
        name: input.text(40),
        version: input.text(70),
        outbox_per_minute: limit(&mut input, flags & 8 != 0).map(|v| v as u32),
        kv_max_bytes: limit(&mut input, flags & 16 != 0),
        kv_max_keys: limit(&mut input, flags & 32 != 0),
        timers: flags & 64 != 0,
        wants,
        commands: (0..input.byte() % 4)
            .map(|_| Command {
                name: input.text(40),
                description: input.text(64),
                admin_only: input.byte() & 1 != 0,
            })
            .collect(),
        http_hosts: (0..input.byte() % 4).map(|_| input.text(80)).collect(),
    };
    let (host, port) = (
        input.text(80),
        u16::from_le_bytes([input.byte(), input.byte()]),
    );
    if super::modules::manifest::validate(&m).is_err() {
        return;
    }
    let capabilities = Capabilities::granted(m.timers, &m.http_hosts, None);
    let _ = capabilities.allows(&host, port, 443);
    let mut routes = bot_router().empty_like();
    routes.add(&m, "t", &[], &[], None);
    for c in &m.commands {
        assert!(routes.owns_command(&c.name), "accepted command {}", c.name);
    }
}

#[cfg(test)]
mod tests;
