//! What a test arranges around the bot without queuing updates: chats that exist already,
//! groups that became supergroups, and failures of the coming calls.

use std::{borrow::Borrow, time::Duration};

use serde_json::json;

use crate::{
    FakeBotApi,
    config::Failure,
    json,
    model::{MemberStatus, TestUser},
};

impl FakeBotApi {
    /// Makes `user`'s private chat exist, as if they had pressed Start long ago: the bot can
    /// send to it, and no update is queued.
    pub fn open_chat(&self, user: &TestUser) {
        self.open_chats([user]);
    }

    /// [`open_chat`](Self::open_chat) for many users at once (e.g. broadcast targets), under
    /// one lock.
    pub fn open_chats(&self, users: impl IntoIterator<Item = impl Borrow<TestUser>>) {
        self.inner.shared.write(|state| {
            for user in users {
                let user = user.borrow();
                state.open_chat(user.id, json::private_chat(user));
            }
        });
    }

    /// Upgrades the group `old_group_id` to the supergroup `new_supergroup_id`, as Telegram
    /// does when a group grows or an admin changes certain settings.
    ///
    /// From now on every call naming the old id (sends, edits, deletes, getChat, …) is
    /// answered `400 Bad Request: group chat was upgraded to a supergroup chat` with
    /// `parameters.migrate_to_chat_id` = the new id (teloxide: `RequestError::MigrateToChatId`).
    /// The new id is an open supergroup chat with the old one's title, whose transcript
    /// receives what is sent there; the old transcript keeps what it had. Telegram also
    /// posts service messages about the move; the fake queues no update for it (inject one
    /// with [`inject_raw_update`](Self::inject_raw_update) if a test needs it).
    ///
    /// # Panics
    ///
    /// If either id is not negative (not a group), or they are equal.
    pub fn migrate_group(&self, old_group_id: i64, new_supergroup_id: i64) {
        assert!(
            old_group_id < 0 && new_supergroup_id < 0 && old_group_id != new_supergroup_id,
            "a migration goes from one group id to another (both negative), \
             not {old_group_id} → {new_supergroup_id}"
        );
        self.inner.shared.write(|state| {
            let title = state
                .chats
                .get(&old_group_id)
                .and_then(|chat| chat.json["title"].as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("Group {old_group_id}"));
            state.migrated.insert(old_group_id, new_supergroup_id);
            state.supergroups.insert(new_supergroup_id);
            let chat = json!({ "id": new_supergroup_id, "title": title, "type": "supergroup" });
            state.open_chat(new_supergroup_id, chat);
        });
    }

    /// Makes the next `times` calls of `method` (any case, e.g. `"sendMessage"`) fail with
    /// `failure` instead of running, after the token check. Calls add up in order, and come
    /// before a [`fail_all`](Self::fail_all) storm.
    pub fn fail_next(&self, method: &str, times: usize, failure: Failure) {
        let method = method.to_ascii_lowercase();
        self.inner
            .shared
            .write(|state| state.failures.push_next(method, times, failure));
    }

    /// Makes every call of `method` (any case) fail with `failure` for the next `until`, e.g.
    /// a global storm of `Failure::RetryAfter(1)`. The `retry_after` stays as given however
    /// much of the storm is left. A later storm of the same method replaces this one.
    pub fn fail_all(&self, method: &str, until: Duration, failure: Failure) {
        let method = method.to_ascii_lowercase();
        let until = tokio::time::Instant::now() + until;
        self.inner
            .shared
            .write(|state| state.failures.start_storm(method, until, failure));
    }

    /// Makes getChatMember, getChatAdministrators and getChatMemberCount of the group
    /// `chat_id` show `user` with `status` (without it: a member once they wrote there, else
    /// `left`). No update is queued.
    pub fn set_member_status(&self, chat_id: i64, user: &TestUser, status: MemberStatus) {
        self.inner.shared.write(|state| {
            state
                .member_statuses
                .insert((chat_id, user.id), (status, json::user(user)));
        });
    }

    /// Makes the coming sendDice calls answer `values`, in order, each clamped into the
    /// dice's range; after them the fake's fixed-seed sequence resumes.
    pub fn queue_dice_values(&self, values: impl IntoIterator<Item = u32>) {
        self.inner
            .shared
            .write(|state| state.dice.queued.extend(values));
    }
}
