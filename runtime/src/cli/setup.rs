//! `botbox setup ...`: what `installer/install.sh` asks the Bot API, done here rather than with
//! curl and sed so that the answers are parsed as JSON and the token never appears on a command
//! line (it is read from `BOTBOX_TOKEN`) nor in a message (errors are printed without URLs).

use std::time::{Duration, Instant};

use clap::Subcommand;
use serde_json::{Value, json};

/// The installer's helpers. Exit status: 0 done, 2 usage, 3 the token is wrong, 4 the Bot API
/// cannot be reached, 5 nothing arrived in time.
#[derive(Debug, Subcommand)]
pub enum SetupCommand {
    /// Checks the token in `BOTBOX_TOKEN` with getMe; prints the bot's username.
    Token {
        /// The Bot API server.
        #[arg(long, default_value = "https://api.telegram.org")]
        api_url: String,
    },
    /// Waits for a private message to the bot that is exactly `code`, typed by a person (not
    /// forwarded, not from a bot); prints the sender's user id, a tab, their name, a tab and
    /// their @username (empty when they have none).
    Operator {
        /// The Bot API server.
        #[arg(long, default_value = "https://api.telegram.org")]
        api_url: String,
        /// The text the operator is asked to send.
        #[arg(long)]
        code: String,
        /// How long to wait, in seconds.
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
    },
}

/// What getMe said about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    /// The token works; the bot's username (without `@`).
    Valid(String),
    /// Telegram (or the token's shape) says no; why, in plain words.
    Wrong(String),
    /// The Bot API could not be asked; why.
    Unreachable(String),
}

/// How to get a token, for messages.
pub const WHERE_TOKENS_COME_FROM: &str = "In Telegram, open @BotFather, send /mybots, choose your bot and press \"API Token\" (or send /newbot to make a new bot); copy the whole token, like 123456789:AAHk3...";

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .build()
        .unwrap_or_default()
}

fn method_url(api_url: &str, token: &str, method: &str) -> String {
    format!("{}/bot{token}/{method}", api_url.trim_end_matches('/'))
}

/// Whether `token` has the shape of a bot token: digits, a colon, then letters, digits, `_`, `-`.
pub fn looks_like_token(token: &str) -> bool {
    match token.split_once(':') {
        Some((id, secret)) => {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && !secret.is_empty()
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        }
        None => false,
    }
}

/// An error with its causes, `outer: inner: ...` (reqwest's own text is only the outer one).
fn chain(e: reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Calls a Bot API method; `Err` carries a [`TokenCheck`] saying what went wrong.
pub(crate) async fn call(
    http: &reqwest::Client,
    api_url: &str,
    token: &str,
    method: &str,
    body: Value,
) -> Result<Value, TokenCheck> {
    let resp = http
        .post(method_url(api_url, token, method))
        .json(&body)
        .send()
        .await
        .map_err(|e| {
            TokenCheck::Unreachable(format!(
                "cannot reach the Telegram Bot API at {api_url}: {}",
                chain(e.without_url())
            ))
        })?;
    let status = resp.status();
    let answer: Value = resp.json().await.map_err(|e| {
        TokenCheck::Unreachable(format!(
            "{api_url} did not answer like the Telegram Bot API ({status}): {}",
            chain(e.without_url())
        ))
    })?;
    if answer["ok"].as_bool() == Some(true) {
        return Ok(answer["result"].clone());
    }
    let description = answer["description"].as_str().unwrap_or("no description");
    match status.as_u16() {
        401 | 404 => Err(TokenCheck::Wrong(format!(
            "Telegram does not know this token ({description}). It may be mistyped or \
             incomplete, or it was replaced with /revoke. {WHERE_TOKENS_COME_FROM}"
        ))),
        code => Err(TokenCheck::Unreachable(format!(
            "Telegram answered {method} with {code}: {description}"
        ))),
    }
}

/// Asks getMe whether `token` works.
pub async fn check_token(api_url: &str, token: &str) -> TokenCheck {
    let token = token.trim();
    if token.is_empty() {
        return TokenCheck::Wrong(format!("No token was given. {WHERE_TOKENS_COME_FROM}"));
    }
    if !looks_like_token(token) {
        return TokenCheck::Wrong(format!(
            "That is not a bot token: a token is a number, a colon and a long code of letters \
             and digits, with no spaces. {WHERE_TOKENS_COME_FROM}"
        ));
    }
    match call(&client(), api_url, token, "getMe", json!({})).await {
        Ok(me) => TokenCheck::Valid(me["username"].as_str().unwrap_or_default().to_string()),
        Err(e) => e,
    }
}

fn exit_code(check: &TokenCheck) -> i32 {
    match check {
        TokenCheck::Valid(_) => 0,
        TokenCheck::Wrong(_) => 3,
        TokenCheck::Unreachable(_) => 4,
    }
}

/// Runs a helper; returns the exit status.
pub async fn run(cmd: SetupCommand) -> anyhow::Result<i32> {
    let token = std::env::var("BOTBOX_TOKEN").unwrap_or_default();
    match cmd {
        SetupCommand::Token { api_url } => {
            let check = check_token(&api_url, &token).await;
            match &check {
                TokenCheck::Valid(name) => println!("{name}"),
                TokenCheck::Wrong(why) | TokenCheck::Unreachable(why) => eprintln!("{why}"),
            }
            Ok(exit_code(&check))
        }
        SetupCommand::Operator {
            api_url,
            code,
            timeout_secs,
        } => {
            if code.trim().chars().count() < MIN_CODE_CHARS {
                eprintln!(
                    "The pairing code must be at least {MIN_CODE_CHARS} characters: a short one \
                     can be guessed by sending many."
                );
                return Ok(2);
            }
            let check = check_token(&api_url, &token).await;
            if let TokenCheck::Wrong(why) | TokenCheck::Unreachable(why) = &check {
                eprintln!("{why}");
                return Ok(exit_code(&check));
            }
            match wait_for_operator(&api_url, token.trim(), &code, timeout_secs).await {
                Ok(Some(sender)) => {
                    println!("{}\t{}\t{}", sender.id, sender.name, sender.username);
                    Ok(0)
                }
                Ok(None) => {
                    eprintln!(
                        "No message with {code} arrived in {timeout_secs} seconds. Is it the \
                         right bot? Open it in Telegram, press Start, and send {code}."
                    );
                    Ok(5)
                }
                Err(e) => {
                    let why = match &e {
                        TokenCheck::Wrong(w) | TokenCheck::Unreachable(w) => w.clone(),
                        TokenCheck::Valid(_) => String::new(),
                    };
                    eprintln!("{why}");
                    Ok(exit_code(&e))
                }
            }
        }
    }
}

/// The shortest pairing code `setup operator` takes.
pub const MIN_CODE_CHARS: usize = 10;

/// Who sent the pairing code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// Their Telegram user id.
    pub id: i64,
    /// First and last name, with tabs and line breaks made spaces.
    pub name: String,
    /// Their @username without the `@`, or empty.
    pub username: String,
}

/// Whether `message` pairs its sender as the operator: a private chat, text that is exactly
/// `code` (surrounding white space and letter case aside; a code inside a longer text does not count, so
/// sending every code at once is no use), typed by a person: a forwarded message carries
/// someone else's words, and a bot is not an operator. `Err` says why a message that holds
/// the code was not taken, for the installer's screen.
pub fn pairs(message: &Value, code: &str) -> Result<Option<Sender>, String> {
    let text = message["text"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let code = code.to_ascii_uppercase();
    if code.is_empty() || !text.contains(&code) {
        return Ok(None);
    }
    let from = &message["from"];
    let who = printable(from["first_name"].as_str().unwrap_or("someone"));
    if message["chat"]["type"].as_str() != Some("private") {
        return Err(format!("{who} sent the code in a group: ignored"));
    }
    if text.trim() != code {
        return Err(format!(
            "a message from {who} holds the code among other text: ignored (send the code alone)"
        ));
    }
    if !message["forward_origin"].is_null() || !message["forward_date"].is_null() {
        return Err(format!(
            "{who} forwarded a message with the code: ignored (type or paste the code instead)"
        ));
    }
    let Some(id) = from["id"].as_i64() else {
        return Ok(None);
    };
    if from["is_bot"].as_bool() == Some(true) {
        return Err(format!("the bot {who} sent the code: ignored"));
    }
    let name = [from["first_name"].as_str(), from["last_name"].as_str()]
        .into_iter()
        .flatten()
        .map(printable)
        .collect::<Vec<_>>()
        .join(" ");
    let username = from["username"].as_str().map(printable).unwrap_or_default();
    Ok(Some(Sender { id, name, username }))
}

/// A name as one line of plain text: control characters (tabs, line breaks, escapes) become
/// spaces, so a name can neither split the installer's tab-separated answer nor drive its
/// terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Reads the bot's updates until a message that [`pairs`] arrives; returns its sender. Updates
/// read are confirmed (Telegram forgets them): the bot is not running yet, and the operator's
/// `/start` and code need no answer.
pub async fn wait_for_operator(
    api_url: &str,
    token: &str,
    code: &str,
    timeout_secs: u64,
) -> Result<Option<Sender>, TokenCheck> {
    let http = client();
    let deadline = Instant::now() + Duration::from_secs(timeout_secs);
    let mut offset: Option<i64> = None;
    let mut webhook_removed = false;
    while Instant::now() < deadline {
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            .clamp(1, 20);
        let mut body = json!({ "timeout": wait, "allowed_updates": ["message"] });
        if let Some(o) = offset {
            body["offset"] = json!(o);
        }
        let updates = match call(&http, api_url, token, "getUpdates", body).await {
            Ok(u) => u,
            Err(TokenCheck::Unreachable(why)) if why.contains("409") && !webhook_removed => {
                // Another program receives this bot's updates through a webhook; botbox polls.
                eprintln!(
                    "This bot had a webhook (another program received its messages); removing it."
                );
                call(&http, api_url, token, "deleteWebhook", json!({})).await?;
                webhook_removed = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        for u in updates.as_array().into_iter().flatten() {
            if let Some(id) = u["update_id"].as_i64() {
                offset = Some(id + 1);
            }
            match pairs(&u["message"], code) {
                Ok(None) => {}
                Err(why) => eprintln!("{why}"),
                Ok(Some(sender)) => {
                    // Confirms what was read, so the bot does not answer the code later.
                    let _ = call(
                        &http,
                        api_url,
                        token,
                        "getUpdates",
                        json!({ "offset": offset, "timeout": 0 }),
                    )
                    .await;
                    return Ok(Some(sender));
                }
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shape() {
        assert!(looks_like_token("123456:TEST-TOKEN"));
        assert!(looks_like_token(
            "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
        ));
        assert!(!looks_like_token("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"));
        assert!(!looks_like_token("12:ab cd"));
        assert!(!looks_like_token(":abc"));
        assert!(!looks_like_token("12:"));
    }

    #[test]
    fn only_the_code_alone_typed_in_a_private_chat_by_a_person_pairs() {
        let code = "K7QXM2PA9RTD";
        let message = |text: &str, extra: Value| {
            let mut m = json!({
                "text": text,
                "chat": {"id": 7, "type": "private"},
                "from": {"id": 7, "is_bot": false, "first_name": "Al\tice", "last_name": "B",
                         "username": "alice"},
            });
            for (k, v) in extra.as_object().unwrap() {
                m[k] = v.clone();
            }
            m
        };
        let alice = Sender {
            id: 7,
            name: "Al ice B".into(),
            username: "alice".into(),
        };
        assert_eq!(
            pairs(&message(code, json!({})), code),
            Ok(Some(alice.clone()))
        );
        assert_eq!(
            pairs(
                &message(&format!(" {}\n", code.to_lowercase()), json!({})),
                code
            ),
            Ok(Some(alice))
        );
        assert_eq!(pairs(&message("hello", json!({})), code), Ok(None));
        assert_eq!(pairs(&message("", json!({})), ""), Ok(None));
        let refused = |m: Value| pairs(&m, code).unwrap_err();
        assert!(refused(message(&format!("x{code}y"), json!({}))).contains("among other text"));
        assert!(
            refused(message(
                code,
                json!({"forward_origin": {"type": "hidden_user"}})
            ))
            .contains("forwarded")
        );
        assert!(refused(message(code, json!({"forward_date": 1}))).contains("forwarded"));
        assert!(
            refused(message(code, json!({"chat": {"id": -1, "type": "group"}})))
                .contains("in a group")
        );
        let mut bot = message(code, json!({}));
        bot["from"]["is_bot"] = json!(true);
        assert!(refused(bot).contains("the bot"));
    }
}
