//! The Bot API methods: dispatch by name, and the small ones.

mod albums;
mod callbacks;
mod caption_edits;
mod dice_polls;
mod file_sources;
mod files;
mod forwards;
mod inline_answers;
mod invoices;
mod media;
mod media_sends;
mod members;
mod messages;
mod moderation;
mod outgoing;
mod pins;
mod reactions;
mod updates;

use std::sync::Arc;

use serde_json::{Value, json};

pub(crate) use self::{
    dice_polls::DiceRoller,
    files::download,
    media::{MediaKind, StoredFile},
};
use crate::{
    error::ApiError,
    json,
    params::Params,
    state::{Forced, Shared, State},
};

/// The `Message` fields showing `file` (e.g. `photo` or `document`).
pub(crate) fn media_fields(file: &StoredFile) -> Value {
    media::message_fields(file, &serde_json::Map::new())
}

/// The methods the fake knows, in lower case (Telegram matches names case-insensitively).
const METHODS: [&str; 58] = [
    "getme",
    "setmyname",
    "getmyname",
    "getupdates",
    "setwebhook",
    "deletewebhook",
    "getwebhookinfo",
    "sendmessage",
    "editmessagetext",
    "editmessagereplymarkup",
    "deletemessage",
    "answercallbackquery",
    "answerinlinequery",
    "sendinvoice",
    "approvechatjoinrequest",
    "declinechatjoinrequest",
    "banchatmember",
    "unbanchatmember",
    "restrictchatmember",
    "createinvoicelink",
    "answerprecheckoutquery",
    "refundstarpayment",
    "getstartransactions",
    "getmystarbalance",
    "senddocument",
    "getfile",
    "sendchataction",
    "setmycommands",
    "getmycommands",
    "deletemycommands",
    "logout",
    "close",
    "getchat",
    "deletemessages",
    "pinchatmessage",
    "unpinchatmessage",
    "unpinallchatmessages",
    "editmessagemedia",
    "sendphoto",
    "sendvideo",
    "sendaudio",
    "sendvoice",
    "sendanimation",
    "sendsticker",
    "sendvideonote",
    "sendmediagroup",
    "senddice",
    "sendpoll",
    "stoppoll",
    "sendlocation",
    "copymessage",
    "forwardmessage",
    "setmessagereaction",
    "editmessagecaption",
    "getchatmember",
    "getchatadministrators",
    "getchatmembercount",
    // The name before Bot API 5.3, which Telegram still answers.
    "getchatmemberscount",
];

/// A successful answer: `{"ok":true,"result":…}` plus Telegram's occasional `description`.
pub(crate) struct Reply {
    /// The `result`, as JSON text (getUpdates may splice raw update bodies into it).
    pub(crate) result: String,
    pub(crate) description: Option<&'static str>,
}

impl From<Value> for Reply {
    fn from(value: Value) -> Self {
        Self {
            result: value.to_string(),
            description: None,
        }
    }
}

/// Runs `method` (any case) with `params`.
pub(crate) async fn call(
    shared: &Arc<Shared>,
    method: &str,
    params: &Params,
) -> Result<Reply, ApiError> {
    let method = method.to_ascii_lowercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(ApiError::not_found());
    }
    let target = params.int("chat_id").ok().flatten();
    match shared.write(|state| state.forced_failure(&method, target)) {
        None => run(shared, &method, params).await,
        Some(Forced::Error(error)) => Err(error),
        // If the client gives up meanwhile, the server drops this future with the connection.
        Some(Forced::Before(delay)) => {
            tokio::time::sleep(delay).await;
            run(shared, &method, params).await
        }
        Some(Forced::After(delay)) => {
            let reply = run(shared, &method, params).await;
            tokio::time::sleep(delay).await;
            reply
        }
    }
}

/// Runs a known `method` (lower case).
async fn run(shared: &Arc<Shared>, method: &str, params: &Params) -> Result<Reply, ApiError> {
    match method {
        "getme" => Ok(json::me(&shared.config).into()),
        "setmyname" => {
            let name = params.str("name").unwrap_or_default();
            if name.chars().count() > 64 {
                return Err(ApiError::bad_request("bot name is too long"));
            }
            shared.write(|state| state.my_name = name);
            Ok(json!(true).into())
        }
        "getmyname" => Ok(json!({ "name": shared.read(|state| state.my_name.clone()) }).into()),
        "getupdates" => updates::get_updates(shared, params).await,
        "setwebhook" => updates::set_webhook(shared, params),
        "deletewebhook" => updates::delete_webhook(shared, params),
        "getwebhookinfo" => Ok(shared.read(updates::webhook_info).into()),
        "sendmessage" => messages::send_message(shared, params).map(Reply::from),
        "editmessagetext" => messages::edit_message(shared, params, true).map(Reply::from),
        "editmessagereplymarkup" => messages::edit_message(shared, params, false).map(Reply::from),
        "deletemessage" => messages::delete_message(shared, params).map(Reply::from),
        "answercallbackquery" => callbacks::answer(shared, params).map(Reply::from),
        "answerinlinequery" => inline_answers::answer(shared, params).map(Reply::from),
        "sendinvoice" => invoices::send_invoice(shared, params).map(Reply::from),
        "approvechatjoinrequest" => moderation::decide_join(shared, params, true).map(Reply::from),
        "declinechatjoinrequest" => moderation::decide_join(shared, params, false).map(Reply::from),
        "banchatmember" => moderation::ban(shared, params, true).map(Reply::from),
        "unbanchatmember" => moderation::ban(shared, params, false).map(Reply::from),
        "restrictchatmember" => moderation::restrict(shared, params).map(Reply::from),
        "createinvoicelink" => invoices::create_link(shared, params).map(Reply::from),
        "answerprecheckoutquery" => invoices::answer_checkout(shared, params).map(Reply::from),
        "refundstarpayment" => invoices::refund(shared, params).map(Reply::from),
        "getstartransactions" => invoices::transactions(shared, params).map(Reply::from),
        "getmystarbalance" => Ok(invoices::balance(shared).into()),
        "senddocument" | "sendphoto" | "sendvideo" | "sendaudio" | "sendvoice"
        | "sendanimation" | "sendsticker" | "sendvideonote" => {
            let kind = MediaKind::of_method(method).expect("a send method of a file");
            media_sends::send_media(shared, params, kind).map(Reply::from)
        }
        "sendmediagroup" => albums::send_media_group(shared, params).map(Reply::from),
        "senddice" => dice_polls::send_dice(shared, params).map(Reply::from),
        "sendpoll" => dice_polls::send_poll(shared, params).map(Reply::from),
        "stoppoll" => dice_polls::stop_poll(shared, params).map(Reply::from),
        "sendlocation" => dice_polls::send_location(shared, params).map(Reply::from),
        "copymessage" => forwards::copy_message(shared, params).map(Reply::from),
        "forwardmessage" => forwards::forward_message(shared, params).map(Reply::from),
        "setmessagereaction" => reactions::set_reaction(shared, params).map(Reply::from),
        "editmessagecaption" => caption_edits::edit_caption(shared, params).map(Reply::from),
        "getchatmember" => members::get_chat_member(shared, params).map(Reply::from),
        "getchatadministrators" => members::get_administrators(shared, params).map(Reply::from),
        "getchatmembercount" | "getchatmemberscount" => {
            members::get_member_count(shared, params).map(Reply::from)
        }
        "getfile" => files::get_file(shared, params).map(Reply::from),
        "sendchataction" => {
            let chat_id = chat_id(params)?;
            let action = params
                .str("action")
                .filter(|a| !a.is_empty())
                .ok_or_else(|| ApiError::bad_request("action is empty"))?;
            shared.write(|state| {
                state.chat(chat_id).map(|_| ())?;
                // Bounded: a test reads the recent ones.
                if state.chat_actions.len() >= 10_000 {
                    state.chat_actions.remove(0);
                }
                state
                    .chat_actions
                    .push((chat_id, action, tokio::time::Instant::now()));
                Ok::<_, ApiError>(())
            })?;
            Ok(json!(true).into())
        }
        "setmycommands" => {
            let commands = params
                .json("commands")
                .map_err(|()| ApiError::bad_request("can't parse commands JSON object"))?
                .unwrap_or_else(|| json!([]));
            let scope = scope_key(params)?;
            shared.write(|state| state.commands.insert(scope, commands));
            Ok(json!(true).into())
        }
        "getmycommands" => {
            let scope = scope_key(params)?;
            Ok(shared
                .read(|state| state.commands.get(&scope).cloned())
                .unwrap_or_else(|| json!([]))
                .into())
        }
        "deletemycommands" => {
            let scope = scope_key(params)?;
            shared.write(|state| state.commands.remove(&scope));
            Ok(json!(true).into())
        }
        "getchat" => {
            let chat_id = chat_id(params)?;
            let (mut chat, pinned) = shared.read(|state| {
                state.chat(chat_id).map(|chat| {
                    let pinned = chat.pinned_message().map(|stored| stored.json.clone());
                    (chat.json.clone(), pinned)
                })
            })?;
            chat["accent_color_id"] = json!(0);
            chat["max_reaction_count"] = json!(11);
            // Required since Bot API 9.0 (teloxide-core 0.13 fails to parse a chat without it).
            chat["accepted_gift_types"] = json!({
                "unlimited_gifts": true,
                "limited_gifts": true,
                "unique_gifts": true,
                "premium_subscription": true,
            });
            if let Some(pinned) = pinned {
                chat["pinned_message"] = pinned;
            }
            Ok(chat.into())
        }
        "deletemessages" => messages::delete_messages(shared, params).map(Reply::from),
        "pinchatmessage" => pins::pin(shared, params).map(Reply::from),
        "unpinchatmessage" => pins::unpin(shared, params).map(Reply::from),
        "unpinallchatmessages" => pins::unpin_all(shared, params).map(Reply::from),
        "editmessagemedia" => files::edit_media(shared, params).map(Reply::from),
        // logOut and close: nothing to tear down in a fake.
        _ => Ok(json!(true).into()),
    }
}

/// The required `chat_id`: an integer; `@username` names no chat the fake knows.
pub(crate) fn chat_id(params: &Params) -> Result<i64, ApiError> {
    if !params.has("chat_id") {
        return Err(ApiError::bad_request("chat_id is empty"));
    }
    params
        .int("chat_id")
        .ok()
        .flatten()
        .ok_or_else(ApiError::chat_not_found)
}

/// The required `message_id`.
pub(crate) fn message_id(params: &Params) -> Result<i64, ApiError> {
    params
        .int("message_id")?
        .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))
}

/// 403 if `chat_id` is the private chat of a user who blocked the bot.
pub(crate) fn check_not_blocked(state: &State, chat_id: i64) -> Result<(), ApiError> {
    if chat_id > 0 && state.blocked.contains(&chat_id) {
        return Err(ApiError::forbidden("bot was blocked by the user"));
    }
    Ok(())
}

/// Counts a message against the rate limits, or answers 429 without counting it.
pub(crate) fn admit(state: &mut State, chat_id: i64) -> Result<(), ApiError> {
    state
        .limiter
        .admit(chat_id, tokio::time::Instant::now())
        .map_err(|retry_after| {
            state.count_too_many_requests(Some(chat_id));
            ApiError::too_many_requests(retry_after)
        })
}

/// The key of a command menu's `scope` parameter: its type, and its chat when it has one
/// (`default`, `chat:42`, `chat_member:42:7`).
fn scope_key(params: &Params) -> Result<String, ApiError> {
    let Some(scope) = params
        .json("scope")
        .map_err(|()| ApiError::bad_request("can't parse BotCommandScope JSON object"))?
    else {
        return Ok("default".into());
    };
    let kind = scope
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("unsupported bot command scope type"))?;
    let mut key = kind.to_string();
    for part in ["chat_id", "user_id"] {
        if let Some(v) = scope.get(part) {
            key.push(':');
            key.push_str(v.to_string().trim_matches('"'));
        }
    }
    Ok(key)
}
