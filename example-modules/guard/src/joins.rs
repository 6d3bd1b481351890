//! Join requests: a button in the requester's private chat approves; a durable timer declines
//! when nobody pressed in time. `pending/<group><user>` holds the request until it is decided.

use std::time::Duration;

use botbox_sdk::bot_api::Call;
use botbox_sdk::kv::{self, Key};
use botbox_sdk::outbox::{self, InlineButton, InlineKeyboard};
use botbox_sdk::types::CallbackQuery;
use botbox_sdk::{Error, Message, Update, timers};
use serde::{Deserialize, Serialize};

/// How long a requester has to press the button.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(300);
/// The button's label.
pub const BUTTON: &str = "I'm a person, let me in";
/// How long the welcome stays in the group before it deletes itself.
pub const WELCOME_FOR: Duration = Duration::from_secs(60);

/// A request waiting for its button.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    title: String,
    timer: u64,
}

/// What a timer carries: a request's deadline (the group and the user), or a welcome to
/// delete (its ticket).
#[derive(Debug, Serialize, Deserialize)]
enum Fired {
    Asked { group: i64, user: i64 },
    Welcome { ticket: u64 },
}

fn pending_key(group: i64, user: i64) -> Key {
    Key::new("pending/").i64(group).i64(user)
}

/// A `chat_join_request`: the question in the requester's chat, and the timer.
pub fn asked(update: &Update) -> Result<(), Error> {
    #[derive(Deserialize)]
    struct Request {
        chat: Chat,
        from: botbox_sdk::bot_api::ApiUser,
        user_chat_id: i64,
    }
    #[derive(Deserialize)]
    struct Chat {
        id: i64,
        #[serde(default)]
        title: String,
    }
    let Some(request) = update.other_body::<Request>() else {
        return Ok(());
    };
    let request = request?;
    let (group, user) = (request.chat.id, request.from.id);
    let payload = serde_json::to_vec(&Fired::Asked { group, user }).map_err(|e| e.to_string())?;
    let timer = timers::after(ANSWER_WITHIN, Some(request.user_chat_id), &payload)?;
    kv::set_json(
        pending_key(group, user),
        &Pending {
            title: request.chat.title.clone(),
            timer,
        },
    )?;
    Message::new(
        request.user_chat_id,
        format!(
            "You asked to join {}. Press the button within {} minutes to get in.",
            request.chat.title,
            ANSWER_WITHIN.as_secs() / 60
        ),
    )
    .inline_keyboard(
        InlineKeyboard::new().row([InlineButton::callback(BUTTON, format!("join:{group}"))]),
    )
    .send()?;
    Ok(())
}

/// The button: approves the request if it still waits.
pub fn pressed(press: &CallbackQuery) -> Result<(), Error> {
    outbox::answer_callback(press)?;
    let Some(group) = press
        .data
        .strip_prefix("join:")
        .and_then(|g| g.parse::<i64>().ok())
    else {
        return Ok(());
    };
    let user = press.from.id;
    let Some(pending) = kv::get_json::<Pending>(pending_key(group, user))? else {
        return Ok(());
    };
    kv::delete(pending_key(group, user))?;
    timers::cancel(pending.timer)?;
    Call::new("approveChatJoinRequest")
        .param("chat_id", group)
        .param("user_id", user)
        .send()?;
    let chat = press.message.as_ref().map_or(user, |m| m.chat.id);
    Message::new(chat, format!("Welcome to {}!", pending.title)).send()?;
    let welcome = Message::new(
        group,
        format!(
            "Welcome, {}! Please read the pinned rules.",
            press.from.first_name
        ),
    )
    .silent()
    .send()?;
    let payload = serde_json::to_vec(&Fired::Welcome {
        ticket: welcome.to_raw(),
    })
    .map_err(|e| e.to_string())?;
    timers::after(WELCOME_FOR, Some(group), &payload)?;
    Ok(())
}

/// A timer: a request's deadline declines it if nobody pressed; a welcome is deleted.
pub fn fired(payload: &[u8]) -> Result<(), Error> {
    let (group, user) = match serde_json::from_slice::<Fired>(payload) {
        Ok(Fired::Asked { group, user }) => (group, user),
        Ok(Fired::Welcome { ticket }) => {
            return Ok(outbox::delete(outbox::Ticket::from_raw(ticket))?);
        }
        Err(_) => return Ok(()),
    };
    let Some(pending) = kv::get_json::<Pending>(pending_key(group, user))? else {
        return Ok(());
    };
    kv::delete(pending_key(group, user))?;
    Call::new("declineChatJoinRequest")
        .param("chat_id", group)
        .param("user_id", user)
        .send()?;
    Message::new(
        user,
        format!(
            "Time is up: your request to join {} was declined. You can ask again.",
            pending.title
        ),
    )
    .send()?;
    Ok(())
}
