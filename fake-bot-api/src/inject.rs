//! What users do: write, reply, edit, press buttons, block the bot; and raw updates.
//!
//! Each injection queues one update (for getUpdates or the webhook) and returns its
//! `update_id`. Updates of a kind the remembered `allowed_updates` excludes are not queued,
//! as with Telegram, but still get an id.

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::{
    FakeBotApi, json,
    methods::{MediaKind, StoredFile},
    model::{ChatEntry, TestUser},
    params::Upload,
    state::{Body, PendingCallback, State},
    text,
};

impl FakeBotApi {
    /// `user` writes `text` to the bot in their private chat.
    pub fn send_text(&self, user: &TestUser, text: impl Into<String>) -> i64 {
        let chat = json::private_chat(user);
        self.write_message(user, user.id, chat, text.into(), None)
            .expect("a new message in an open chat cannot fail")
    }

    /// `user` writes `text` in the group `group_id` (negative; `-100…` ids are supergroups)
    /// titled `title`.
    pub fn send_text_in_group(
        &self,
        group_id: i64,
        title: &str,
        user: &TestUser,
        text: impl Into<String>,
    ) -> i64 {
        let chat = json::group_chat(group_id, title);
        self.write_message(user, group_id, chat, text.into(), None)
            .expect("a new message in an open chat cannot fail")
    }

    /// `user` sends a file to the bot in their private chat, as a document named `file_name`
    /// with `caption`; the bot can fetch it with getFile and the file download.
    pub fn send_document(
        &self,
        user: &TestUser,
        file_name: &str,
        bytes: Vec<u8>,
        caption: &str,
    ) -> i64 {
        let file = Upload {
            file_name: Some(file_name.to_owned()),
            content_type: Some("application/wasm".to_owned()),
            bytes: bytes.into(),
        };
        self.send_file(user, MediaKind::Document, file, caption)
    }

    /// `user` sends a photo (PNG or JPEG `bytes`; its width and height are read from them)
    /// to the bot in their private chat with `caption`. The message's `photo` has one
    /// `PhotoSize` whose `file_id` the bot can fetch with getFile and the file download.
    pub fn send_photo(&self, user: &TestUser, bytes: Vec<u8>, caption: &str) -> i64 {
        let file = Upload {
            file_name: None,
            content_type: None,
            bytes: bytes.into(),
        };
        self.send_file(user, MediaKind::Photo, file, caption)
    }

    fn send_file(&self, user: &TestUser, kind: MediaKind, upload: Upload, caption: &str) -> i64 {
        let chat = json::private_chat(user);
        self.inner.shared.write(|state| {
            let mut file = StoredFile::new(
                state.next_file_number(),
                kind,
                upload.file_name,
                upload.content_type,
                upload.bytes,
            );
            if kind == MediaKind::Photo {
                // Telegram names the files of photos itself.
                file.document.file_name = None;
            }
            let mut extra = crate::methods::media_fields(&file);
            if !caption.is_empty() {
                extra["caption"] = json!(caption);
                if let Some(entities) = text::command_entities(caption) {
                    extra["caption_entities"] = entities;
                }
            }
            let entry = ChatEntry {
                document: (kind == MediaKind::Document).then(|| file.document.clone()),
                ..ChatEntry::from_user(user.id, caption.to_owned())
            };
            state.files.insert(file.document.file_id.clone(), file);
            let chat = state.open_chat(user.id, chat);
            let message = chat.add_message(entry, json::user(user), extra);
            state.enqueue("message", message)
        })
    }

    /// `user` replies with `text` to message `reply_to` of a chat someone already wrote in
    /// (e.g. answering a `force_reply`).
    pub fn send_reply(
        &self,
        user: &TestUser,
        chat_id: i64,
        reply_to: i64,
        text: impl Into<String>,
    ) -> anyhow::Result<i64> {
        let chat = self
            .inner
            .shared
            .read(|state| state.chats.get(&chat_id).map(|chat| chat.json.clone()))
            .with_context(|| format!("nobody wrote in chat {chat_id}"))?;
        self.write_message(user, chat_id, chat, text.into(), Some(reply_to))
    }

    fn write_message(
        &self,
        user: &TestUser,
        chat_id: i64,
        chat: Value,
        text: String,
        reply_to: Option<i64>,
    ) -> anyhow::Result<i64> {
        let mut extra = json!({ "text": text });
        if let Some(entities) = text::command_entities(&text) {
            extra["entities"] = entities;
        }
        self.inner.shared.write(|state| {
            let chat = state.open_chat(chat_id, chat);
            if let Some(id) = reply_to
                && chat.messages.get(&id).is_none_or(|m| m.entry.deleted)
            {
                bail!("chat {chat_id} has no message {id} to reply to");
            }
            let entry = ChatEntry {
                reply_to,
                ..ChatEntry::from_user(user.id, text)
            };
            let message = chat.add_message(entry, json::user(user), extra);
            Ok(state.enqueue("message", message))
        })
    }

    /// `user` edits their message `message_id` in `chat_id` to `new_text`
    /// (an `edited_message` update).
    pub fn edit_text(
        &self,
        user: &TestUser,
        chat_id: i64,
        message_id: i64,
        new_text: impl Into<String>,
    ) -> anyhow::Result<i64> {
        let new_text = new_text.into();
        self.inner.shared.write(|state| {
            let stored = state
                .chats
                .get_mut(&chat_id)
                .and_then(|chat| chat.messages.get_mut(&message_id))
                .filter(|stored| !stored.entry.deleted)
                .with_context(|| format!("chat {chat_id} has no message {message_id}"))?;
            if stored.entry.from_bot || stored.entry.from_id != user.id {
                bail!(
                    "message {message_id} in chat {chat_id} is not {}'s",
                    user.first_name
                );
            }
            stored.entry.text.clone_from(&new_text);
            stored.entry.edits += 1;
            let message = &mut stored.json;
            message["text"] = json!(new_text);
            message["edit_date"] = json!(json::now());
            match text::command_entities(&new_text) {
                Some(entities) => message["entities"] = entities,
                None => {
                    if let Some(object) = message.as_object_mut() {
                        object.remove("entities");
                    }
                }
            }
            let message = message.clone();
            Ok(state.enqueue("edited_message", message))
        })
    }

    /// `user` presses the inline button with `callback_data` on the bot's message
    /// `message_id` in `chat_id` (a `callback_query` update). Fails if that message has no
    /// such button.
    pub fn press_button(
        &self,
        user: &TestUser,
        chat_id: i64,
        message_id: i64,
        callback_data: &str,
    ) -> anyhow::Result<i64> {
        self.inner
            .shared
            .write(|state| press(state, user, chat_id, message_id, callback_data, true))
    }

    /// Like [`Self::press_button`], but with any `callback_data`, as a modified client can
    /// send: the press of a button the message does not have (a forged tag).
    pub fn press_forged_button(
        &self,
        user: &TestUser,
        chat_id: i64,
        message_id: i64,
        callback_data: &str,
    ) -> anyhow::Result<i64> {
        self.inner
            .shared
            .write(|state| press(state, user, chat_id, message_id, callback_data, false))
    }

    /// `user` presses the inline button labelled `label` on the newest bot message in
    /// `chat_id` that has one.
    pub fn press_inline_label(
        &self,
        user: &TestUser,
        chat_id: i64,
        label: &str,
    ) -> anyhow::Result<i64> {
        self.inner.shared.write(|state| {
            let (message_id, data) = state
                .chats
                .get(&chat_id)
                .and_then(|chat| {
                    chat.messages.values().rev().find_map(|stored| {
                        let entry = &stored.entry;
                        let button = entry
                            .inline_button(label)
                            .filter(|_| entry.from_bot && !entry.deleted)?;
                        Some((entry.message_id, button.callback_data.clone()?))
                    })
                })
                .with_context(|| {
                    format!("no bot message in chat {chat_id} has a callback button {label:?}")
                })?;
            press(state, user, chat_id, message_id, &data, true)
        })
    }

    /// Makes `user` block (`true`) or unblock the bot: sends to their private chat are then
    /// answered `403 Forbidden: bot was blocked by the user`. Queues the `my_chat_member`
    /// update Telegram sends (status `kicked`, or `member` again) and returns its id.
    pub fn set_blocked(&self, user: &TestUser, blocked: bool) -> i64 {
        let bot = json::bot_user(self.config());
        let member = |status: &str| {
            let mut member = json!({ "user": bot, "status": status });
            if status == "kicked" {
                member["until_date"] = json!(0);
            }
            member
        };
        let (old, new) = if blocked {
            ("member", "kicked")
        } else {
            ("kicked", "member")
        };
        let update = json!({
            "chat": json::private_chat(user),
            "from": json::user(user),
            "date": json::now(),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        });
        self.inner.shared.write(|state| {
            if blocked {
                state.blocked.insert(user.id);
            } else {
                state.blocked.remove(&user.id);
            }
            state.enqueue("my_chat_member", update)
        })
    }

    /// Queues `update` exactly as given; the fake fills in nothing. Its integer `update_id`,
    /// if any, orders and confirms it (and later ids are allocated above it); without one it
    /// gets an id used only for that, which is returned.
    pub fn inject_raw_update(&self, update: Value) -> i64 {
        self.inner.shared.write(|state| {
            let id = update["update_id"]
                .as_i64()
                .unwrap_or_else(|| state.queue.allocate_id());
            let allowed = json::update_kind(&update).is_none_or(|kind| state.allows(kind));
            if allowed {
                state.queue.push(id, Body::Json(update));
            }
            id
        })
    }

    /// Queues `body` as the text of one update, exactly as given, even if it is not JSON.
    /// A webhook receives it as the POST body; getUpdates splices it verbatim into its
    /// `result` array between commas (`{"ok":true,"result":[…,<body>,…]}`), so a malformed
    /// body makes that whole getUpdates answer malformed. `allowed_updates` does not apply.
    /// Its id (for confirmation) is its `update_id` if it parses as JSON with one, else a
    /// fresh one, returned.
    pub fn inject_raw_body(&self, body: impl Into<String>) -> i64 {
        let body = body.into();
        let declared = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|value| value["update_id"].as_i64());
        self.inner.shared.write(|state| {
            let id = declared.unwrap_or_else(|| state.queue.allocate_id());
            state.queue.push(id, Body::Raw(body));
            id
        })
    }
}

fn press(
    state: &mut State,
    user: &TestUser,
    chat_id: i64,
    message_id: i64,
    callback_data: &str,
    only_its_buttons: bool,
) -> anyhow::Result<i64> {
    let stored = state
        .chats
        .get(&chat_id)
        .and_then(|chat| chat.messages.get(&message_id))
        .filter(|stored| stored.entry.from_bot && !stored.entry.deleted)
        .with_context(|| format!("chat {chat_id} has no bot message {message_id}"))?;
    let has_button = stored
        .entry
        .inline_buttons()
        .iter()
        .flatten()
        .any(|button| button.callback_data.as_deref() == Some(callback_data));
    if only_its_buttons && !has_button {
        bail!("message {message_id} in chat {chat_id} has no button with data {callback_data:?}");
    }
    let message = stored.json.clone();
    let id = state.next_callback_id();
    state.callbacks.insert(
        id.clone(),
        PendingCallback {
            user_id: user.id,
            chat_id,
            message_id,
            data: callback_data.to_owned(),
            answered: false,
        },
    );
    let query = json!({
        "id": id,
        "from": json::user(user),
        "message": message,
        "chat_instance": json::chat_instance(chat_id),
        "data": callback_data,
    });
    Ok(state.enqueue("callback_query", query))
}
