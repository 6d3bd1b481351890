//! `/hoard`: tries to make the host hold more memory for one call than any quota allows, and to
//! misuse the outbox: a 1 MB button URL, a message to chat 0, broadcasts of full-length texts
//! with full keyboards to 10,000 chats until refused, and a broadcast that claims interactive
//! priority.

use botbox_sdk::{
    InlineButton, InlineKeyboard, Message, Update,
    outbox::{self, Priority},
};

/// `ACCEPTED`, or the start of the error.
fn outcome<T>(r: Result<T, outbox::Error>) -> String {
    match r {
        Ok(_) => "ACCEPTED".to_owned(),
        Err(error) => error.to_string().chars().take(120).collect(),
    }
}

/// What each try got.
pub fn hoard(update: &Update) -> String {
    let chat = update.chat_id().unwrap_or(1);
    let long_url = format!("https://example.com/{}", "a".repeat(1 << 20));
    let url = outcome(
        Message::new(chat, "a link")
            .inline_keyboard(InlineKeyboard::new().row([InlineButton::url("go", long_url)]))
            .send(),
    );
    let chat0 = outcome(Message::new(0, "to nobody").send());
    // 10,000 chats × (4096 characters + 100 buttons): hundreds of MB per broadcast if the host
    // copied it all.
    let text = "é".repeat(4096);
    let keyboard = (0..10).fold(InlineKeyboard::new(), |k, r| {
        k.row((0..10).map(|c| InlineButton::callback("x".repeat(200), format!("{r}{c}"))))
    });
    let chats: Vec<i64> = (1..=10_000).collect();
    let mut accepted = 0;
    let mut refused = String::from("never refused");
    for _ in 0..5 {
        match Message::new(chat, text.clone())
            .inline_keyboard(keyboard.clone())
            .broadcast(&chats)
        {
            Ok(_) => accepted += 1,
            Err(error) => {
                refused = error.to_string().chars().take(120).collect();
                break;
            }
        }
    }
    let priority = outcome(
        Message::new(chat, "urgent broadcast")
            .priority(Priority::Interactive)
            .broadcast(&[chat]),
    );
    format!(
        "hoard: url {url}; chat0 {chat0}; broadcasts {accepted} accepted, then {refused}; priority {priority}"
    )
}
