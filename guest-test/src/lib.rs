//! Test a botbox module in conversations with a real bot.
//!
//! Each [`Bot`] is a real botbox host — the runtime, its redb store on disk, the outbox — with an
//! in-memory Telegram, running the module this package builds. Users write and press buttons,
//! the test reads what the bot answered, moves the clock forward to fire timers and looks into
//! the module's KV store:
//!
//! ```no_run
//! use botbox_test::Bot;
//!
//! let bot = Bot::start();
//! let alice = bot.user("Alice");
//! alice.send("/start");
//! alice.expect_reply("Hello, Alice");
//! alice.press("Click");
//! alice.expect_reply("Clicks: 1");
//! bot.advance(std::time::Duration::from_secs(3600)); // an hour later
//! assert!(bot.kv_get("user/1001").is_some());
//! ```
//!
//! Tests run with `cargo test` in a project made by `botbox new`: they compile for
//! wasm32-wasip2 like the module, and the project's `.cargo/config.toml` makes `botbox
//! test-runner` their runner. The runner starts a bot for each [`Bot`] and tears it down when it
//! is dropped.
//!
//! Before the test looks at a chat, the bot **settles**: every message sent so far is handled
//! and committed, every reply delivered, and no timer is due. So `expect_reply` never races the
//! module, and [`User::expect_no_reply`] means "no reply at all", not "no reply yet".
//!
//! Failures panic with the chat so far, like `assert!`. A wasm test binary cannot unwind, so the
//! runner gives each test an instance of its own: a failing test does not stop the others.

use std::{
    cell::{Cell, RefCell},
    collections::HashMap,
    fmt,
    io::{Read, Write},
    net::TcpStream,
    time::Duration,
};

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

mod groups;
mod inline;
mod payments;
pub use groups::{JoinDecision, Member};
pub use inline::{InlineAnswer, InlineQuery};
pub use payments::Checkout;

/// The first user id [`Bot::user`] hands out.
const FIRST_USER_ID: i64 = 1001;
/// The first group id [`Bot::group`] hands out (supergroup ids look like this).
const FIRST_GROUP_ID: i64 = -1_001_000_000_001;

/// A bot running the module under test. Dropping it stops the bot and removes its data.
pub struct Bot {
    conn: RefCell<Conn>,
    module: String,
    next_user: Cell<i64>,
    next_group: Cell<i64>,
    /// Users' first names by id, for transcripts.
    names: RefCell<HashMap<i64, String>>,
}

/// How to start a [`Bot`] other than with [`Bot::start`]'s defaults.
#[derive(Debug, Default, Clone)]
#[must_use]
pub struct Builder {
    module: Option<String>,
    config: Option<String>,
    operators: Vec<i64>,
    grants: Vec<String>,
}

impl Builder {
    /// Runs another module of the workspace (its crate name) or a `.wasm` file (a path)
    /// instead of this package's.
    pub fn module(mut self, crate_name_or_path: &str) -> Builder {
        self.module = Some(crate_name_or_path.to_string());
        self
    }

    /// The module's settings, as the operator writes them under `[modules.<name>.config]`.
    pub fn config(mut self, toml: &str) -> Builder {
        self.config = Some(toml.to_string());
        self
    }

    /// Makes the user with this id an operator of the bot (admin-only commands).
    pub fn operator(mut self, user_id: i64) -> Builder {
        self.operators.push(user_id);
        self
    }

    /// Gives the module a Bot API grant (`stars`, `bot-settings`, `business`), as the operator
    /// does with `bot_api_grants`.
    pub fn grant(mut self, grant: &str) -> Builder {
        self.grants.push(grant.to_string());
        self
    }

    /// Starts the bot; panics with the reason if it cannot (for example, the module's `init`
    /// fails).
    pub fn start(self) -> Bot {
        self.try_start()
            .unwrap_or_else(|e| panic!("botbox-test: the bot did not start: {e}"))
    }

    /// Starts the bot, or says why it cannot.
    pub fn try_start(self) -> Result<Bot, String> {
        let mut conn = Conn::open()?;
        let started = conn.call(json!({
            "op": "start",
            "module": self.module,
            "config": self.config,
            "operators": self.operators,
            "grants": self.grants,
        }))?;
        Ok(Bot {
            conn: RefCell::new(conn),
            module: started["module"].as_str().unwrap_or_default().to_string(),
            next_user: Cell::new(FIRST_USER_ID),
            next_group: Cell::new(FIRST_GROUP_ID),
            names: RefCell::default(),
        })
    }
}

impl Bot {
    /// Starts a bot running this package's module with no settings.
    pub fn start() -> Bot {
        Builder::default().start()
    }

    /// Starts a bot another way: another module, settings, operators.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The module's name, from its manifest.
    pub fn module(&self) -> &str {
        &self.module
    }

    /// A new user with a private chat with the bot; ids count up from 1001.
    pub fn user(&self, first_name: &str) -> User<'_> {
        let id = self.next_user.get();
        self.next_user.set(id + 1);
        self.user_with_id(first_name, id)
    }

    /// A user with the given Telegram id (say, one made operator with [`Builder::operator`]).
    pub fn user_with_id(&self, first_name: &str, id: i64) -> User<'_> {
        self.names.borrow_mut().insert(id, first_name.to_string());
        User {
            bot: self,
            id,
            name: first_name.to_string(),
            chat: Chat {
                bot: self,
                id,
                label: first_name.to_string(),
                seen: Cell::new(0),
            },
        }
    }

    /// A new group chat with the bot in it; ids count down from -1001000000001.
    pub fn group(&self, title: &str) -> Group<'_> {
        let id = self.next_group.get();
        self.next_group.set(id - 1);
        Group {
            bot: self,
            id,
            title: title.to_string(),
            chat: Chat {
                bot: self,
                id,
                label: format!("the group {title}"),
                seen: Cell::new(0),
            },
        }
    }

    /// Moves the modules' clock forward by `by`, then waits until the bot settles: timers that
    /// fall due fire, and their effects are done when this returns.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.call(json!({ "op": "advance", "ms": ms }));
    }

    /// Waits until every update is handled, every message delivered and no timer is due.
    pub fn settle(&self) {
        self.call(json!({ "op": "settle" }));
    }

    /// The value stored under `key` in the module's KV store.
    pub fn kv_get(&self, key: impl AsRef<[u8]>) -> Option<Vec<u8>> {
        let value = self.call(json!({ "op": "kv_get", "key": key.as_ref() }));
        serde_json::from_value(value).expect("botbox-test: a KV value is bytes")
    }

    /// The JSON value stored under `key` (as `botbox_sdk::kv::set_json` writes it).
    pub fn kv_json<T: DeserializeOwned>(&self, key: impl AsRef<[u8]>) -> Option<T> {
        let key = key.as_ref();
        let bytes = self.kv_get(key)?;
        Some(serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "botbox-test: the value of {:?} is not the JSON expected: {e}",
                String::from_utf8_lossy(key)
            )
        }))
    }

    /// The counter under `key` (as `botbox_sdk::kv::increment` keeps it: an 8-byte big-endian
    /// integer); 0 when the key does not exist.
    pub fn kv_counter(&self, key: impl AsRef<[u8]>) -> i64 {
        let key = key.as_ref();
        match self.kv_get(key) {
            None => 0,
            Some(v) => i64::from_be_bytes(v.as_slice().try_into().unwrap_or_else(|_| {
                panic!(
                    "botbox-test: the value of {:?} is not a counter ({} bytes)",
                    String::from_utf8_lossy(key),
                    v.len()
                )
            })),
        }
    }

    /// Every entry of the module's KV store whose key starts with `prefix`, in key order.
    pub fn kv_scan(&self, prefix: impl AsRef<[u8]>) -> Vec<(Vec<u8>, Vec<u8>)> {
        let value = self.call(json!({ "op": "kv_scan", "prefix": prefix.as_ref() }));
        serde_json::from_value(value).expect("botbox-test: KV entries are pairs of bytes")
    }

    /// The module's recent log lines (`level: text`), oldest first.
    pub fn logs(&self) -> Vec<String> {
        let value = self.call(json!({ "op": "logs" }));
        serde_json::from_value(value).expect("botbox-test: log lines are text")
    }

    fn call(&self, request: Value) -> Value {
        self.conn
            .borrow_mut()
            .call(request)
            .unwrap_or_else(|e| panic!("botbox-test: {e}"))
    }
}

impl fmt::Debug for Bot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bot").field("module", &self.module).finish()
    }
}

/// A Telegram user in a private chat with the bot.
#[derive(Debug)]
pub struct User<'a> {
    bot: &'a Bot,
    id: i64,
    name: String,
    chat: Chat<'a>,
}

impl User<'_> {
    /// The user's Telegram id (also their private chat's id).
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The user's first name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes `text` to the bot in the private chat (a command if it starts with `/`).
    pub fn send(&self, text: &str) {
        self.bot.call(json!({
            "op": "send", "user": self.id, "name": self.name, "text": text,
        }));
    }

    /// Presses the inline button labelled `label` on the newest bot message of the private
    /// chat that has one (after the bot settles, so a button the module just drew can be
    /// pressed). Buttons of a reply keyboard send their label as a message: use
    /// [`User::send`] for those.
    pub fn press(&self, label: &str) {
        self.chat.press(self, label);
    }

    /// The bot's next reply in the private chat, which must contain `text`: the first bot
    /// message not returned before by `expect_reply` or [`User::replies`].
    pub fn expect_reply(&self, text: &str) -> Message {
        self.chat.expect_reply(text)
    }

    /// Every bot message of the private chat not returned before by [`User::expect_reply`] or
    /// `replies`.
    pub fn replies(&self) -> Vec<Message> {
        self.chat.replies()
    }

    /// Checks that the bot sent nothing new in the private chat.
    pub fn expect_no_reply(&self) {
        self.chat.expect_no_reply();
    }

    /// The newest bot message of the private chat that is not deleted, as it is now (after
    /// edits).
    pub fn last_message(&self) -> Message {
        self.chat.last_message()
    }

    /// The whole private chat, oldest first, as it is now.
    pub fn messages(&self) -> Vec<Message> {
        self.chat.messages()
    }
}

/// A group chat with the bot in it; users write there with [`Group::send`].
#[derive(Debug)]
pub struct Group<'a> {
    bot: &'a Bot,
    id: i64,
    title: String,
    chat: Chat<'a>,
}

impl Group<'_> {
    /// The group's chat id (negative, as Telegram's are).
    pub fn id(&self) -> i64 {
        self.id
    }

    /// `from` writes `text` in the group (a command if it starts with `/`).
    pub fn send(&self, from: &User<'_>, text: &str) {
        self.bot.call(json!({
            "op": "send", "user": from.id, "name": from.name, "text": text,
            "group": [self.id, self.title],
        }));
    }

    /// `from` presses the inline button labelled `label` on the newest bot message of the
    /// group that has one.
    pub fn press(&self, from: &User<'_>, label: &str) {
        self.chat.press(from, label);
    }

    /// The bot's next message in the group, which must contain `text`.
    pub fn expect_reply(&self, text: &str) -> Message {
        self.chat.expect_reply(text)
    }

    /// Every bot message of the group not returned before.
    pub fn replies(&self) -> Vec<Message> {
        self.chat.replies()
    }

    /// Checks that the bot sent nothing new in the group.
    pub fn expect_no_reply(&self) {
        self.chat.expect_no_reply();
    }

    /// The newest bot message of the group that is not deleted, as it is now.
    pub fn last_message(&self) -> Message {
        self.chat.last_message()
    }

    /// The whole group chat, oldest first, as it is now.
    pub fn messages(&self) -> Vec<Message> {
        self.chat.messages()
    }
}

/// What users and groups share: a chat and how far the test has read it.
#[derive(Debug)]
struct Chat<'a> {
    bot: &'a Bot,
    id: i64,
    /// How failure messages name it: `Alice`, or `the group Team`.
    label: String,
    /// Bot messages already returned by `expect_reply`/`replies`.
    seen: Cell<usize>,
}

impl Chat<'_> {
    fn press(&self, from: &User<'_>, label: &str) {
        let mut request = json!({
            "op": "press", "user": from.id, "name": from.name, "label": label,
        });
        if self.id != from.id {
            request["group"] = json!(self.id);
        }
        let pressed = self.bot.conn.borrow_mut().call(request);
        if let Err(e) = pressed {
            panic!(
                "botbox-test: {} cannot press {label:?}: {e}\n{}",
                from.name,
                self.render(&self.messages())
            );
        }
    }

    fn expect_reply(&self, text: &str) -> Message {
        let chat = self.messages();
        let next = chat.iter().filter(|m| m.from_bot).nth(self.seen.get());
        match next {
            Some(m) if m.text.contains(text) => {
                self.seen.set(self.seen.get() + 1);
                m.clone()
            }
            Some(m) => panic!(
                "botbox-test: expected the bot to reply to {} with a message containing \
                 {text:?}, but its next message is {:?}\n{}",
                self.label,
                m.text,
                self.render(&chat)
            ),
            None => panic!(
                "botbox-test: expected the bot to reply to {} with a message containing \
                 {text:?}, but it sent nothing more\n{}",
                self.label,
                self.render(&chat)
            ),
        }
    }

    fn replies(&self) -> Vec<Message> {
        let fresh: Vec<Message> = self
            .messages()
            .into_iter()
            .filter(|m| m.from_bot)
            .skip(self.seen.get())
            .collect();
        self.seen.set(self.seen.get() + fresh.len());
        fresh
    }

    fn expect_no_reply(&self) {
        let chat = self.messages();
        if let Some(m) = chat.iter().filter(|m| m.from_bot).nth(self.seen.get()) {
            panic!(
                "botbox-test: expected no reply to {}, but the bot sent {:?}\n{}",
                self.label,
                m.text,
                self.render(&chat)
            );
        }
    }

    fn last_message(&self) -> Message {
        self.messages()
            .into_iter()
            .rev()
            .find(|m| m.from_bot && !m.deleted)
            .unwrap_or_else(|| panic!("botbox-test: the bot has sent {} nothing", self.label))
    }

    fn messages(&self) -> Vec<Message> {
        let value = self.bot.call(json!({ "op": "chat", "chat": self.id }));
        serde_json::from_value(value).expect("botbox-test: a chat is a list of messages")
    }

    fn render(&self, chat: &[Message]) -> String {
        render(&self.label, chat, &self.bot.names.borrow())
    }
}

/// One message of a chat, as the chat shows it now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[non_exhaustive]
pub struct Message {
    /// Its id within the chat.
    pub id: i64,
    /// Whether the bot sent it (otherwise a user did).
    pub from_bot: bool,
    /// The sender's Telegram user id.
    pub from_id: i64,
    /// Its visible text (without markup).
    pub text: String,
    /// The labels of its inline buttons, row by row.
    pub buttons: Vec<Vec<String>>,
    /// How many times the bot edited it.
    pub edits: u32,
    /// Whether it was deleted.
    pub deleted: bool,
}

impl Message {
    /// Whether it has an inline button labelled `label`.
    pub fn has_button(&self, label: &str) -> bool {
        self.buttons.iter().flatten().any(|b| b == label)
    }
}

/// The chat as a failure message shows it, senders by first name.
fn render(label: &str, chat: &[Message], names: &HashMap<i64, String>) -> String {
    let mut out = format!("--- chat with {label} ---\n");
    for m in chat {
        let unknown = format!("user {}", m.from_id);
        let who = match names.get(&m.from_id) {
            _ if m.from_bot => "bot",
            Some(name) => name,
            None => &unknown,
        };
        let mut notes = Vec::new();
        if m.edits > 0 {
            notes.push(format!("edited {}x", m.edits));
        }
        if m.deleted {
            notes.push("deleted".to_string());
        }
        if !m.buttons.is_empty() {
            notes.push(format!("buttons {:?}", m.buttons));
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!("  [{}]", notes.join(", "))
        };
        out.push_str(&format!("{who}: {}{notes}\n", m.text));
    }
    out.push_str("---");
    out
}

/// The connection to `botbox test-runner`: one JSON request per line, one answer per line.
struct Conn {
    stream: TcpStream,
    /// Bytes read past the last answer's end.
    pending: Vec<u8>,
}

impl Conn {
    fn open() -> Result<Conn, String> {
        let addr = std::env::var("BOTBOX_TEST_ADDR").map_err(|_| {
            "BOTBOX_TEST_ADDR is not set: these tests run inside `botbox test-runner`. Run \
             them with `cargo test` in a project whose .cargo/config.toml sets \
             `runner = [\"botbox\", \"test-runner\"]` for wasm32-wasip2 (`botbox new` writes it)"
                .to_string()
        })?;
        let stream = TcpStream::connect(&addr)
            .map_err(|e| format!("cannot reach botbox test-runner at {addr}: {e}"))?;
        Ok(Conn {
            stream,
            pending: Vec::new(),
        })
    }

    fn call(&mut self, request: Value) -> Result<Value, String> {
        let mut line = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
        line.push(b'\n');
        self.stream
            .write_all(&line)
            .map_err(|e| format!("lost botbox test-runner: {e}"))?;
        let answer = self.read_line()?;
        let mut answer: Value =
            serde_json::from_slice(&answer).map_err(|e| format!("a garbled answer: {e}"))?;
        if let Some(error) = answer.get("error").and_then(Value::as_str) {
            return Err(error.to_string());
        }
        Ok(answer.get_mut("ok").map(Value::take).unwrap_or(Value::Null))
    }

    /// The next line from the runner, without its newline. (A `BufReader` would need a second
    /// handle to the socket, which wasm32-wasip2 cannot clone.)
    fn read_line(&mut self) -> Result<Vec<u8>, String> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let rest = self.pending.split_off(end + 1);
                let mut line = std::mem::replace(&mut self.pending, rest);
                line.pop();
                return Ok(line);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err("botbox test-runner closed the connection".into()),
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("lost botbox test-runner: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_shows_the_chat_by_sender_with_edits_deletions_and_buttons() {
        let message = |id, from_id, from_bot, text: &str| Message {
            id,
            from_bot,
            from_id,
            text: text.into(),
            buttons: vec![],
            edits: 0,
            deleted: false,
        };
        let mut hi = message(3, 42, true, "Hi");
        hi.buttons = vec![vec!["Click".into()]];
        hi.edits = 2;
        hi.deleted = true;
        let chat = [
            message(1, 1001, false, "/start"),
            message(2, 7, false, "me too"),
            hi,
        ];
        let names = HashMap::from([(1001, "Alice".to_string())]);
        assert_eq!(
            render("the group Team", &chat, &names),
            "--- chat with the group Team ---\nAlice: /start\nuser 7: me too\nbot: Hi  [edited \
             2x, deleted, buttons [[\"Click\"]]]\n---"
        );
    }
}
