//! What happens to people in groups: a user asks to join (a `chat_join_request` update) and the
//! bot approves or declines; the bot bans, unbans and restricts members. The methods are in
//! `methods/moderation.rs`; statuses show in getChatMember (`set_member_status` arranges them).

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::{
    FakeBotApi, json,
    model::{MemberStatus, TestUser},
};

/// Where a join request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinDecision {
    /// Nobody decided yet.
    Pending,
    /// The bot approved: the user is a member.
    Approved,
    /// The bot declined.
    Declined,
}

/// A restriction the bot put on a member (`restrictChatMember`).
#[derive(Clone, Debug, PartialEq)]
pub struct Restriction {
    /// The permissions left to the member, as the bot sent them.
    pub permissions: Value,
    /// Until when, Unix seconds (0: forever).
    pub until_date: i64,
}

/// Join requests, restrictions and bans by (chat, user).
#[derive(Debug, Default)]
pub(crate) struct Moderation {
    pub(crate) join_requests: HashMap<(i64, i64), JoinDecision>,
    pub(crate) restrictions: HashMap<(i64, i64), Restriction>,
    /// Every moderation call the bot made, in order: (method, chat, user).
    pub(crate) actions: Vec<(String, i64, i64)>,
}

impl FakeBotApi {
    /// `user` asks to join the group `group_id` titled `title` (a group whose invite link needs
    /// approval): queues a `chat_join_request` update; returns its `update_id`.
    pub fn request_to_join(&self, user: &TestUser, group_id: i64, title: &str) -> i64 {
        self.inner.shared.write(|state| {
            state.open_chat(group_id, json::group_chat(group_id, title));
            state.open_chat(user.id, json::private_chat(user));
            state
                .moderation
                .join_requests
                .insert((group_id, user.id), JoinDecision::Pending);
            state.enqueue(
                "chat_join_request",
                json!({
                    "chat": json::group_chat(group_id, title),
                    "from": json::user(user),
                    "user_chat_id": user.id,
                    "date": json::now(),
                }),
            )
        })
    }

    /// `by` adds the bot to the group `group_id` titled `title`, as an administrator or a plain
    /// member: queues the `my_chat_member` update Telegram sends; returns its `update_id`.
    pub fn add_bot_to_group(&self, by: &TestUser, group_id: i64, title: &str, admin: bool) -> i64 {
        let bot = json::bot_user(&self.inner.shared.config);
        let status = if admin {
            MemberStatus::Administrator
        } else {
            MemberStatus::Member
        };
        self.inner.shared.write(|state| {
            state.open_chat(group_id, json::group_chat(group_id, title));
            let bot_id = self.inner.shared.config.bot_id();
            state
                .member_statuses
                .insert((group_id, bot_id), (status, bot.clone()));
            state.enqueue(
                "my_chat_member",
                json!({
                    "chat": json::group_chat(group_id, title),
                    "from": json::user(by),
                    "date": json::now(),
                    "old_chat_member": { "status": "left", "user": bot },
                    "new_chat_member": { "status": status.as_str(), "user": bot },
                }),
            )
        })
    }

    /// Where `user`'s request to join `group_id` stands, if they asked.
    pub fn join_decision(&self, group_id: i64, user_id: i64) -> Option<JoinDecision> {
        self.inner.shared.read(|state| {
            state
                .moderation
                .join_requests
                .get(&(group_id, user_id))
                .copied()
        })
    }

    /// The restriction the bot put on `user_id` in `group_id`, if any.
    pub fn restriction(&self, group_id: i64, user_id: i64) -> Option<Restriction> {
        self.inner.shared.read(|state| {
            state
                .moderation
                .restrictions
                .get(&(group_id, user_id))
                .cloned()
        })
    }

    /// `user_id`'s status in `group_id` as the fake knows it from the bot's moderation, join
    /// requests and [`set_member_status`](Self::set_member_status).
    pub fn member_status(&self, group_id: i64, user_id: i64) -> Option<MemberStatus> {
        self.inner.shared.read(|state| {
            state
                .member_statuses
                .get(&(group_id, user_id))
                .map(|(s, _)| *s)
        })
    }

    /// The moderation calls the bot made, in order: (method, chat, user).
    pub fn moderation_actions(&self) -> Vec<(String, i64, i64)> {
        self.inner
            .shared
            .read(|state| state.moderation.actions.clone())
    }
}
