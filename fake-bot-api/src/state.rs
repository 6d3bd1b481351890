//! Everything the fake remembers, behind one lock, with change notification.

mod failures;
mod queue;

use std::collections::{BTreeMap, HashMap, HashSet};

use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

pub(crate) use self::{
    failures::{Failures, Forced},
    queue::{Body, UpdateQueue},
};
use crate::{
    config::FakeConfig,
    error::ApiError,
    json,
    limits::RateLimiter,
    model::{
        AnsweredCallback, BotReaction, ChatEntry, ChatEvent, Counters, MemberStatus, ReplyKeyboard,
    },
    webhook::Webhook,
};

/// Update kinds Telegram leaves out when `allowed_updates` is empty or was never given.
const NOT_SENT_BY_DEFAULT: [&str; 3] =
    ["chat_member", "message_reaction", "message_reaction_count"];

/// The state and the channels that tell others it changed.
pub(crate) struct Shared {
    pub(crate) config: FakeConfig,
    state: Mutex<State>,
    version: watch::Sender<u64>,
    events: broadcast::Sender<ChatEvent>,
}

impl Shared {
    pub(crate) fn new(config: FakeConfig) -> Self {
        let state = State::new(&config);
        Self {
            config,
            state: Mutex::new(state),
            version: watch::Sender::new(0),
            events: broadcast::Sender::new(1024),
        }
    }

    /// Reads the state.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.lock())
    }

    /// Changes the state, then wakes every waiter and publishes the chat events it produced.
    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let (result, events) = {
            let mut state = self.state.lock();
            let result = f(&mut state);
            (result, std::mem::take(&mut state.events))
        };
        self.version.send_modify(|version| *version += 1);
        for event in events {
            // Nobody listening is fine.
            let _ = self.events.send(event);
        }
        result
    }

    /// Changes bookkeeping nobody waits for (such as which updates are being delivered)
    /// without waking the waiters.
    pub(crate) fn write_silently<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock())
    }

    /// A receiver that is marked changed after every `write`.
    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<ChatEvent> {
        self.events.subscribe()
    }
}

/// A chat someone has written in.
#[derive(Debug)]
pub(crate) struct Chat {
    /// The `Chat` object.
    pub(crate) json: Value,
    pub(crate) messages: BTreeMap<i64, Stored>,
    /// The reply keyboard the bot shows, until it removes it.
    pub(crate) reply_keyboard: Option<ReplyKeyboard>,
    /// The ids of the pinned messages, the most recently pinned first.
    pub(crate) pinned: Vec<i64>,
    last_message_id: i64,
}

impl Chat {
    /// The most recently pinned message that still exists.
    pub(crate) fn pinned_message(&self) -> Option<&Stored> {
        self.pinned
            .iter()
            .filter_map(|id| self.messages.get(id))
            .find(|stored| !stored.entry.deleted)
    }

    /// Adds a message and returns its `Message` object.
    pub(crate) fn add_message(&mut self, mut entry: ChatEntry, from: Value, extra: Value) -> Value {
        self.last_message_id += 1;
        entry.message_id = self.last_message_id;
        let mut message = json!({
            "message_id": entry.message_id,
            "from": from,
            "chat": self.json,
            "date": json::now(),
        });
        if let Some(reply_to) = entry.reply_to.and_then(|id| self.messages.get(&id)) {
            let mut replied = reply_to.json.clone();
            if let Some(object) = replied.as_object_mut() {
                object.remove("reply_to_message");
            }
            message["reply_to_message"] = replied;
        }
        if let (Some(object), Value::Object(extra)) = (message.as_object_mut(), extra) {
            object.extend(extra);
        }
        self.messages.insert(
            entry.message_id,
            Stored {
                entry,
                json: message.clone(),
            },
        );
        message
    }
}

/// A message and its current `Message` object.
#[derive(Debug)]
pub(crate) struct Stored {
    pub(crate) entry: ChatEntry,
    pub(crate) json: Value,
}

/// A button press waiting for (or having had) `answerCallbackQuery`.
#[derive(Debug)]
pub(crate) struct PendingCallback {
    pub(crate) user_id: i64,
    pub(crate) chat_id: i64,
    pub(crate) message_id: i64,
    pub(crate) data: String,
    pub(crate) answered: bool,
}

/// What the fake remembers.
pub(crate) struct State {
    pub(crate) queue: UpdateQueue,
    /// The last `allowed_updates` given to getUpdates or setWebhook.
    pub(crate) allowed_updates: Vec<String>,
    pub(crate) chats: BTreeMap<i64, Chat>,
    pub(crate) callbacks: HashMap<String, PendingCallback>,
    pub(crate) answered: Vec<AnsweredCallback>,
    pub(crate) inline_queries: HashMap<String, crate::inline::PendingInline>,
    pub(crate) inline_answers: Vec<crate::model::InlineAnswer>,
    pub(crate) webhook: Option<Webhook>,
    pub(crate) counters: Counters,
    pub(crate) limiter: RateLimiter,
    /// Forced failures by lower-case method name.
    pub(crate) failures: Failures,
    /// 429 answers by the `chat_id` of the refused call.
    pub(crate) too_many_requests_in: HashMap<i64, u64>,
    /// Groups that became supergroups: old id → new id.
    pub(crate) migrated: HashMap<i64, i64>,
    /// Chats that are supergroups whatever their id says (the targets of migrations).
    pub(crate) supergroups: HashSet<i64>,
    pub(crate) blocked: HashSet<i64>,
    /// The bot's command menus by scope (`default`, `chat:<id>`, `all_private_chats`, ...).
    pub(crate) commands: BTreeMap<String, Value>,
    /// Bumped by every getUpdates so an older long poll knows it was superseded.
    pub(crate) poll_generation: u64,
    pub(crate) files: HashMap<String, crate::methods::StoredFile>,
    /// getUpdates calls waiting for updates right now.
    pub(crate) waiting_polls: usize,
    /// getUpdates calls whose client went away or asked again before they answered (a client
    /// timeout shorter than the long poll's, for one).
    pub(crate) abandoned_polls: usize,
    /// Set on shutdown: long polls return at once.
    pub(crate) closed: bool,
    /// The values sendDice answers.
    pub(crate) dice: crate::methods::DiceRoller,
    /// The bot's setMessageReaction calls, in order.
    pub(crate) reactions: Vec<BotReaction>,
    /// The bot's name as setMyName set it (empty: the default).
    pub(crate) my_name: String,
    /// The bot's sendChatAction calls: (chat, action, when).
    pub(crate) chat_actions: Vec<(i64, String, tokio::time::Instant)>,
    /// Member statuses a test arranged, by (chat id, user id), with the `User` object.
    pub(crate) member_statuses: BTreeMap<(i64, i64), (MemberStatus, Value)>,
    /// Invoices, pre-checkout queries and charges.
    pub(crate) payments: crate::payments::Ledger,
    /// Join requests, restrictions and the bot's moderation calls.
    pub(crate) moderation: crate::groups::Moderation,
    next_callback_id: u64,
    next_file_number: usize,
    next_media_group_id: u64,
    next_poll_id: u64,
    events: Vec<ChatEvent>,
}

impl State {
    fn new(config: &FakeConfig) -> Self {
        Self {
            queue: UpdateQueue::starting_at(config.first_update_id),
            allowed_updates: Vec::new(),
            chats: BTreeMap::new(),
            callbacks: HashMap::new(),
            answered: Vec::new(),
            inline_queries: HashMap::new(),
            inline_answers: Vec::new(),
            webhook: None,
            counters: Counters::default(),
            limiter: RateLimiter::new(config.limits.clone()),
            failures: Failures::default(),
            too_many_requests_in: HashMap::new(),
            migrated: HashMap::new(),
            supergroups: HashSet::new(),
            blocked: HashSet::new(),
            commands: BTreeMap::new(),
            poll_generation: 0,
            files: HashMap::new(),
            waiting_polls: 0,
            abandoned_polls: 0,
            closed: false,
            dice: crate::methods::DiceRoller::default(),
            reactions: Vec::new(),
            my_name: String::new(),
            chat_actions: Vec::new(),
            member_statuses: BTreeMap::new(),
            payments: crate::payments::Ledger::default(),
            moderation: crate::groups::Moderation::default(),
            next_callback_id: 0,
            next_file_number: 0,
            next_media_group_id: 0,
            next_poll_id: 0,
            events: Vec::new(),
        }
    }

    /// Publishes `event` to subscribers once the current write ends.
    pub(crate) fn emit(&mut self, event: ChatEvent) {
        self.events.push(event);
    }

    /// The chat, creating it (or refreshing its `Chat` object) with `json`.
    pub(crate) fn open_chat(&mut self, id: i64, mut json: Value) -> &mut Chat {
        if self.supergroups.contains(&id) {
            json["type"] = json!("supergroup");
        }
        let chat = self.chats.entry(id).or_insert_with(|| Chat {
            json: Value::Null,
            messages: BTreeMap::new(),
            reply_keyboard: None,
            pinned: Vec::new(),
            last_message_id: 0,
        });
        chat.json = json;
        chat
    }

    /// A chat the bot may write to: 400 `chat not found` unless it was opened, and the
    /// migration error for a group that became a supergroup.
    pub(crate) fn chat_mut(&mut self, id: i64) -> Result<&mut Chat, ApiError> {
        self.check_not_migrated(id)?;
        self.chats.get_mut(&id).ok_or_else(ApiError::chat_not_found)
    }

    /// A chat the bot may read, with the same errors as [`chat_mut`](Self::chat_mut).
    pub(crate) fn chat(&self, id: i64) -> Result<&Chat, ApiError> {
        self.check_not_migrated(id)?;
        self.chats.get(&id).ok_or_else(ApiError::chat_not_found)
    }

    fn check_not_migrated(&self, id: i64) -> Result<(), ApiError> {
        match self.migrated.get(&id) {
            Some(&new) => Err(ApiError::migrated(new)),
            None => Ok(()),
        }
    }

    /// Whether updates of `kind` pass the remembered `allowed_updates`.
    pub(crate) fn allows(&self, kind: &str) -> bool {
        if self.allowed_updates.is_empty() {
            !NOT_SENT_BY_DEFAULT.contains(&kind)
        } else {
            self.allowed_updates.iter().any(|allowed| allowed == kind)
        }
    }

    /// Queues `{"update_id":…, kind: payload}` unless `allowed_updates` filters it out;
    /// returns its id either way.
    pub(crate) fn enqueue(&mut self, kind: &str, payload: Value) -> i64 {
        let id = self.queue.allocate_id();
        if self.allows(kind) {
            self.queue
                .push(id, Body::Json(json::update(id, kind, payload)));
        }
        id
    }

    /// A new callback query id: a long decimal number, as Telegram's are.
    pub(crate) fn next_callback_id(&mut self) -> String {
        self.next_callback_id += 1;
        (4_387_000_000_000_000_000_u64 + self.next_callback_id).to_string()
    }

    /// The number of a new file (its ids and path derive from it).
    pub(crate) fn next_file_number(&mut self) -> usize {
        self.next_file_number += 1;
        self.next_file_number - 1
    }

    /// A new `media_group_id`: a long decimal number, as Telegram's are.
    pub(crate) fn next_media_group_id(&mut self) -> String {
        self.next_media_group_id += 1;
        (13_800_000_000_000_000_u64 + self.next_media_group_id).to_string()
    }

    /// A new poll id: a long decimal number, as Telegram's are.
    pub(crate) fn next_poll_id(&mut self) -> String {
        self.next_poll_id += 1;
        (5_600_000_000_000_000_000_u64 + self.next_poll_id).to_string()
    }

    /// The forced failure, if any, of a call of `method` to `chat_id` now.
    pub(crate) fn forced_failure(&mut self, method: &str, chat_id: Option<i64>) -> Option<Forced> {
        let forced = self.failures.take(method, tokio::time::Instant::now())?;
        if let Forced::Error(error) = &forced
            && error.code == 429
        {
            self.count_too_many_requests(chat_id);
        }
        Some(forced)
    }

    /// Counts a 429 answer, in total and for the chat the refused call was for.
    pub(crate) fn count_too_many_requests(&mut self, chat_id: Option<i64>) {
        self.counters.too_many_requests += 1;
        if let Some(chat_id) = chat_id {
            *self.too_many_requests_in.entry(chat_id).or_default() += 1;
        }
    }
}
