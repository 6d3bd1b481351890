//! The native baseline (cargo feature `native-baseline`, benchmarks only): the clicker example
//! module's `handle-update` written in Rust inside the host, so that a benchmark can tell what
//! WebAssembly costs. Everything else is the real path: the module is compiled, instantiated and
//! `init`ed as a component, its call runs in the same [`HostState`] with the same KV
//! transaction, checks and outbox as a call into WebAssembly, and its output is committed the
//! same way. Only the handler's body runs here instead of in the sandbox.
//!
//! A module runs natively when the runtime is started with its name in
//! `Options::native_modules`; only `clicker` has a native body.

use serde::{Deserialize, Serialize};

use super::HostState;
use crate::bindings::{
    kv::{self, Host as _},
    outbox::{self, Host as _},
    types,
};

/// The modules with a native body.
pub const NATIVE_MODULES: &[&str] = &["clicker"];

/// How many users the rating lists.
const TOP: usize = 15;
const USERS: &[u8] = b"users";
const RANK: &[u8] = b"rank/";
const CLICK: &str = "Click";
const RATING: &str = "Rating";
const NOT_REGISTERED: &str = "Please send /start first.";

/// What the clicker keeps per user, under `user/` + the Telegram user id (the same JSON as the
/// WebAssembly module's).
#[derive(Serialize, Deserialize)]
struct Player {
    name: String,
    seq: u64,
    #[serde(default)]
    clicks: u64,
}

/// `handle-update` of the module named `module`, run natively on `state`.
pub(super) async fn handle(
    module: &str,
    state: &mut HostState,
    update: &types::Update,
) -> Result<(), String> {
    match module {
        "clicker" => clicker(state, update).await,
        other => Err(format!("{other} has no native body")),
    }
}

async fn clicker(state: &mut HostState, update: &types::Update) -> Result<(), String> {
    let types::UpdateKind::Message(message) = &update.kind else {
        return Ok(());
    };
    let Some(user) = &message.from else {
        return Ok(());
    };
    let chat = message.chat.id;
    if update.command.as_deref() == Some("start") {
        return start(state, chat, user).await;
    }
    match message.text.as_deref() {
        Some(CLICK) => click(state, chat, user).await,
        Some(RATING) => rating(state, chat, user).await,
        _ => Ok(()),
    }
}

async fn start(state: &mut HostState, chat: i64, user: &types::User) -> Result<(), String> {
    let greeting = match get_player(state, user).await? {
        Some(mut player) => {
            if player.name != user.first_name {
                player.name.clone_from(&user.first_name);
                let rank = rank_key(player.clicks, player.seq);
                state
                    .set(rank, player.name.clone().into_bytes())
                    .await
                    .map_err(kv_err)?;
                set_player(state, user, &player).await?;
            }
            format!("Welcome back, {}! Clicks: {}", player.name, player.clicks)
        }
        None => {
            let seq = state
                .increment(USERS.to_vec(), 1)
                .await
                .map_err(kv_err)?
                .cast_unsigned();
            let player = Player {
                name: user.first_name.clone(),
                seq,
                clicks: 0,
            };
            state
                .set(rank_key(0, seq), player.name.clone().into_bytes())
                .await
                .map_err(kv_err)?;
            set_player(state, user, &player).await?;
            format!(
                "Hello, {}! Press {CLICK} to count, {RATING} to see the best.",
                player.name
            )
        }
    };
    let keyboard = outbox::Keyboard::Reply(outbox::ReplyKeyboard {
        rows: vec![vec![CLICK.into(), RATING.into()]],
        resize: true,
        one_time: false,
    });
    send(state, chat, greeting, Some(keyboard)).await
}

async fn click(state: &mut HostState, chat: i64, user: &types::User) -> Result<(), String> {
    let Some(mut player) = get_player(state, user).await? else {
        return send(state, chat, NOT_REGISTERED.into(), None).await;
    };
    state
        .delete(rank_key(player.clicks, player.seq))
        .await
        .map_err(kv_err)?;
    player.clicks += 1;
    state
        .set(
            rank_key(player.clicks, player.seq),
            player.name.clone().into_bytes(),
        )
        .await
        .map_err(kv_err)?;
    set_player(state, user, &player).await?;
    send(state, chat, format!("Clicks: {}", player.clicks), None).await
}

async fn rating(state: &mut HostState, chat: i64, user: &types::User) -> Result<(), String> {
    if state.get(user_key(user)).await.map_err(kv_err)?.is_none() {
        return send(state, chat, NOT_REGISTERED.into(), None).await;
    }
    let total = match state.get(USERS.to_vec()).await.map_err(kv_err)? {
        None => 0,
        Some(v) => i64::from_be_bytes(v.try_into().map_err(|_| "a counter is 8 bytes")?),
    };
    let page = state
        .scan(RANK.to_vec(), None, TOP as u32)
        .await
        .map_err(kv_err)?;
    let mut text = format!("Total: {total}");
    for (place, entry) in page.entries.iter().take(TOP).enumerate() {
        let clicks = entry
            .key
            .get(RANK.len()..RANK.len() + 8)
            .and_then(|b| b.try_into().ok())
            .map(|b| u64::MAX - u64::from_be_bytes(b))
            .ok_or("malformed rating key")?;
        let name = String::from_utf8_lossy(&entry.value);
        text.push_str(&format!("\n{}: {name} - {clicks}", place + 1));
    }
    send(state, chat, text, None).await
}

async fn get_player(state: &mut HostState, user: &types::User) -> Result<Option<Player>, String> {
    match state.get(user_key(user)).await.map_err(kv_err)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("a player record does not decode: {e}")),
    }
}

async fn set_player(
    state: &mut HostState,
    user: &types::User,
    player: &Player,
) -> Result<(), String> {
    let json = serde_json::to_vec(player).map_err(|e| e.to_string())?;
    state.set(user_key(user), json).await.map_err(kv_err)
}

async fn send(
    state: &mut HostState,
    chat: i64,
    text: String,
    keyboard: Option<outbox::Keyboard>,
) -> Result<(), String> {
    let options = outbox::MessageOptions {
        parse_mode: outbox::ParseMode::Plain,
        keyboard,
        reply_to: None,
        disable_notification: false,
        priority: None,
    };
    state
        .send_message(chat, text, options)
        .await
        .map(drop)
        .map_err(|e| format!("{e:?}"))
}

/// `user/` + the id as 8 bytes that sort like signed numbers (the SDK's `Key::i64`).
fn user_key(user: &types::User) -> Vec<u8> {
    let mut key = b"user/".to_vec();
    key.extend_from_slice(&(user.id.cast_unsigned() ^ (1 << 63)).to_be_bytes());
    key
}

/// `rank/` + clicks descending + registration number (the SDK's `u64_desc` then `u64`).
fn rank_key(clicks: u64, seq: u64) -> Vec<u8> {
    let mut key = RANK.to_vec();
    key.extend_from_slice(&(u64::MAX - clicks).to_be_bytes());
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn kv_err(e: kv::Error) -> String {
    format!("{e:?}")
}
