//! What both binaries share: the texts and keyboard of botbox's example-modules/clicker, the
//! bot's setup from the environment, and the handler, generic over where the users are kept.

use std::sync::Arc;

use teloxide::{
    prelude::*,
    types::{KeyboardButton, KeyboardMarkup},
};

pub const TOP: usize = 15;
const CLICK: &str = "Click";
const RATING: &str = "Rating";
const NOT_REGISTERED: &str = "Please send /start first.";

/// What `/start` found: a new user, or one seen before with their clicks.
pub enum Registered {
    New,
    Back { clicks: u64 },
}

/// Where the users are kept. Every method has committed its writes when it returns.
pub trait Store: Send + Sync + 'static {
    /// Registers `id` under `name` (or renames them).
    fn start(&self, id: i64, name: &str) -> Registered;
    /// One more click; `None` if `id` never sent `/start`.
    fn click(&self, id: i64) -> Option<u64>;
    /// The number of users and the `TOP` users with the most clicks (ties: earliest first);
    /// `None` if `id` never sent `/start`.
    fn rating(&self, id: i64) -> Option<(u64, Vec<(String, u64)>)>;
}

/// A bot from `BOT_TOKEN`, talking to `BOT_API_URL` when it is set (the fake Bot API).
pub fn bot_from_env() -> Bot {
    let bot = Bot::new(std::env::var("BOT_TOKEN").expect("BOT_TOKEN"));
    match std::env::var("BOT_API_URL") {
        Ok(url) => bot.set_api_url(url.parse().expect("BOT_API_URL is a URL")),
        Err(_) => bot,
    }
}

/// Long polling until Ctrl-C or SIGTERM's default, with `store` behind the handler.
pub async fn run<S: Store>(store: S) {
    let handler = Update::filter_message().endpoint(handle::<S>);
    Dispatcher::builder(bot_from_env(), handler)
        .dependencies(dptree::deps![Arc::new(store)])
        .enable_ctrlc_handler()
        .build()
        .dispatch()
        .await;
}

async fn handle<S: Store>(bot: Bot, msg: Message, store: Arc<S>) -> ResponseResult<()> {
    let (Some(user), Some(text)) = (msg.from.clone(), msg.text()) else {
        return Ok(());
    };
    let id = user.id.0 as i64;
    let name = user.first_name.clone();
    let command = text.split_whitespace().next().unwrap_or("");
    if command == "/start" || command.starts_with("/start@") {
        // The store may block on the disk: off the async threads.
        let found = blocking(&store, move |s| s.start(id, &name)).await;
        let greeting = match found {
            Registered::New => {
                format!(
                    "Hello, {}! Press {CLICK} to count, {RATING} to see the best.",
                    user.first_name
                )
            }
            Registered::Back { clicks } => {
                format!("Welcome back, {}! Clicks: {clicks}", user.first_name)
            }
        };
        let keyboard =
            KeyboardMarkup::new([[KeyboardButton::new(CLICK), KeyboardButton::new(RATING)]])
                .resize_keyboard();
        bot.send_message(msg.chat.id, greeting)
            .reply_markup(keyboard)
            .await?;
        return Ok(());
    }
    let answer = match text {
        CLICK => blocking(&store, move |s| s.click(id))
            .await
            .map(|clicks| format!("Clicks: {clicks}")),
        RATING => blocking(&store, move |s| s.rating(id))
            .await
            .map(|(total, top)| {
                let mut text = format!("Total: {total}");
                for (place, (name, clicks)) in top.iter().enumerate() {
                    text.push_str(&format!("\n{}: {name} - {clicks}", place + 1));
                }
                text
            }),
        _ => return Ok(()),
    };
    bot.send_message(
        msg.chat.id,
        answer.unwrap_or_else(|| NOT_REGISTERED.to_owned()),
    )
    .await?;
    Ok(())
}

async fn blocking<S: Store, T: Send + 'static>(
    store: &Arc<S>,
    f: impl FnOnce(&S) -> T + Send + 'static,
) -> T {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .expect("the store panicked")
}
