//! Coroutine dialogue: the bot of the article "State on the stack", written as sequential code
//! with botbox's [dialogues](botbox_sdk::dialogue), plus a longer questionnaire.
//!
//! `/sum` asks for a first number, then a second, and answers their sum; anything that is not
//! a whole number is rejected and asked for again. After `timeout_secs` (module config, default
//! 300) without an answer the bot says it stopped waiting and how to start again. `/profile`
//! asks for a name, an age, a language (inline buttons) and a city, each validated, saves them as
//! the user's profile in KV and shows it, with the time the user took; `/myprofile` shows the saved profile; `/cancel` ends
//! the running dialogue.
//!
//! What it shows:
//! - a dialogue is an `async fn` whose locals are the conversation's state (`a` waits in memory
//!   while the bot asks for `b`), run by the SDK's executor inside the module instance;
//! - it survives restarts, traps and hot swaps: the SDK logs each dialogue's inputs in KV and
//!   rebuilds a dialogue by replaying them, sending nothing twice;
//! - helpers are ordinary async functions (`number`, `ask_until`), loops are ordinary loops;
//! - KV writes inside a dialogue go through `Dialogue::effect`, so a replay does not repeat them,
//!   and the clock is read through `Dialogue::now_unix_ms`, which a replay answers from the log.
//!
//! Run it with `botbox dev` from the repository root and send `/sum`. (Plain messages that are
//! not answers are left to the other modules, such as the clicker, which `botbox dev` runs too.)

use std::time::Duration;

use botbox_sdk::dialogue::{Dialogue, Dialogues, Divergence, Outcome};
use botbox_sdk::{
    Error, InlineButton, InlineKeyboard, Manifest, Message, Module, Update, config, kv, reply,
};
use serde::{Deserialize, Serialize};

/// What to send to begin, said whenever a dialogue ends.
const HELP: &str = "Send /sum to add two numbers, or /profile to fill in your profile.";
/// The languages `/profile` offers, as button labels and data.
const LANGUAGES: [&str; 4] = ["Rust", "Python", "Go", "Other"];

thread_local! {
    static DIALOGUES: Dialogues = dialogues();
}

fn dialogues() -> Dialogues {
    let timeout: u64 = config::get_parsed_or("timeout_secs", 300).unwrap_or(300);
    Dialogues::new()
        .inactivity(
            Duration::from_secs(timeout),
            format!("You did not answer for {timeout} seconds, so I stopped waiting. {HELP}"),
        )
        .cancel_texts(
            format!("Cancelled. {HELP}"),
            format!("Nothing to cancel. {HELP}"),
        )
        .unexpected("Please press one of the buttons above.")
        .on_divergence(Divergence::Tell(format!(
            "The bot was updated and cannot go on with this conversation. {HELP}"
        )))
        .command("sum", "Add two numbers", 1, sum)
        .command("profile", "Fill in your profile", 1, questionnaire)
}

struct CoroutineDialogue;

impl Module for CoroutineDialogue {
    fn init() -> Result<Manifest, Error> {
        let manifest = Manifest::new("coroutine-dialogue", env!("CARGO_PKG_VERSION"))
            .command("myprofile", "Show your saved profile");
        Ok(DIALOGUES.with(|dialogues| dialogues.declare(manifest)))
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        if DIALOGUES.with(|dialogues| dialogues.handle(update))? != Outcome::NotMine {
            return Ok(());
        }
        if update.is_command("myprofile") {
            let user = update.from().ok_or("no sender")?.id;
            let text = match kv::get_json::<Profile>(profile_key(user))? {
                Some(profile) => profile.to_string(),
                None => "You have no profile yet: send /profile.".to_owned(),
            };
            reply(update, &text)?;
        }
        Ok(())
    }
}

botbox_sdk::export_module!(CoroutineDialogue);

/// The article's dialogue: two numbers and their sum.
async fn sum(d: Dialogue) -> Result<(), Error> {
    let a = number(&d, "Send me the first number.").await?;
    let b = number(&d, "Now send the second number.").await?;
    d.say(&format!("{a} + {b} = {}", i128::from(a) + i128::from(b)))
}

/// Asks `question` until the answer is a whole number.
async fn number(d: &Dialogue, question: &str) -> Result<i64, Error> {
    ask_until(
        d,
        question,
        "That is not a whole number. Please send a number like 42.",
        |text| text.trim().parse().ok(),
    )
    .await
}

/// Asks `question`, then `again` until `valid` accepts the answer.
async fn ask_until<T>(
    d: &Dialogue,
    question: &str,
    again: &str,
    valid: impl Fn(&str) -> Option<T>,
) -> Result<T, Error> {
    let mut answer = d.ask(question).await?;
    loop {
        match valid(&answer) {
            Some(value) => return Ok(value),
            None => answer = d.ask(again).await?,
        }
    }
}

/// What `/profile` saves, under `profile/` + the user id.
#[derive(Debug, Serialize, Deserialize)]
struct Profile {
    name: String,
    age: u32,
    language: String,
    city: String,
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Name: {}\nAge: {}\nLanguage: {}\nCity: {}",
            self.name, self.age, self.language, self.city
        )
    }
}

fn profile_key(user: i64) -> String {
    format!("profile/{user}")
}

/// A line of 1 to `max` characters that is not a command.
fn line(max: usize) -> impl Fn(&str) -> Option<String> {
    move |text| {
        let text = text.trim();
        let ok = !text.is_empty() && text.chars().count() <= max && !text.starts_with('/');
        ok.then(|| text.to_owned())
    }
}

/// The questionnaire: four validated answers, saved as the user's profile.
async fn questionnaire(d: Dialogue) -> Result<(), Error> {
    // The clock differs between runs, so it is recorded: a replay gets the same time back.
    let started = d.now_unix_ms().await;
    let name = ask_until(
        &d,
        "What is your name?",
        "Please send a name of 1 to 40 characters.",
        line(40),
    )
    .await?;
    let age = ask_until(
        &d,
        &format!("Nice to meet you, {name}. How old are you?"),
        "Please send your age as a whole number from 1 to 120.",
        |text| {
            text.trim()
                .parse()
                .ok()
                .filter(|age| (1..=120).contains(age))
        },
    )
    .await?;
    let buttons = LANGUAGES.map(|language| InlineButton::callback(language, language));
    d.send(
        Message::new(d.chat(), "Which language do you write bots in?")
            .inline_keyboard(InlineKeyboard::new().row(buttons)),
    )?;
    let language = loop {
        let pressed = d.wait_button().await;
        if LANGUAGES.contains(&pressed.as_str()) {
            break pressed;
        }
    };
    let city = ask_until(
        &d,
        &format!("{language}, good choice. Which city do you live in?"),
        "Please send a city name of 1 to 60 characters.",
        line(60),
    )
    .await?;
    let profile = Profile {
        name,
        age,
        language,
        city,
    };
    d.effect(|| kv::set_json(profile_key(d.user()), &profile))?;
    d.say(&format!("Saved. Your profile:\n{profile}"))?;
    let seconds = d.now_unix_ms().await.saturating_sub(started) / 1000;
    d.say(&format!("You answered in {seconds} s."))
}
