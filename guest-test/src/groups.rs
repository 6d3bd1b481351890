//! People in groups: replies to someone's message, join requests and their decision, admins,
//! and what the bot did to a member (banned, restricted).

use serde_json::{Value, json};

use crate::{Group, Message, User};

/// Where a join request stands (see [`Group::request_join`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinDecision {
    /// The bot has not decided yet.
    Pending,
    /// The bot approved: the user is a member.
    Approved,
    /// The bot declined.
    Declined,
}

/// A member as the bot left them (see [`Group::member`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Member {
    /// `member`, `administrator`, `kicked` (banned), `left`, ...; `None` when the bot never
    /// acted on them and nobody arranged it.
    pub status: Option<String>,
    /// The permissions `restrictChatMember` left them, and until when (Unix seconds; 0:
    /// forever), if the bot restricted them.
    pub restricted: Option<(Value, i64)>,
}

impl Group<'_> {
    /// `from` writes `text` in the group in reply to `to` (a message of [`Group::messages`]).
    pub fn reply(&self, from: &User<'_>, to: &Message, text: &str) {
        self.bot.call(json!({
            "op": "reply", "user": from.id, "name": from.name, "group": self.id,
            "to": to.id, "text": text,
        }));
    }

    /// `user` asks to join the group through an invite link that needs approval: a
    /// `chat_join_request`, which reaches modules that asked for that kind of update.
    pub fn request_join(&self, user: &User<'_>) {
        self.bot.call(json!({
            "op": "join_request", "user": user.id, "name": user.name,
            "group": [self.id, self.title],
        }));
    }

    /// Where `user`'s request to join stands once the bot settles; `None` if they did not ask.
    pub fn join_decision(&self, user: &User<'_>) -> Option<JoinDecision> {
        let value = self.bot.call(json!({
            "op": "join_decision", "group": self.id, "user": user.id,
        }));
        match value.as_str() {
            Some("pending") => Some(JoinDecision::Pending),
            Some("approved") => Some(JoinDecision::Approved),
            Some("declined") => Some(JoinDecision::Declined),
            _ => None,
        }
    }

    /// Makes `user` an administrator of the group (getChatMember says so from now on).
    pub fn make_admin(&self, user: &User<'_>) {
        self.bot.call(json!({
            "op": "make_admin", "user": user.id, "name": user.name, "group": self.id,
        }));
    }

    /// What the bot did to `user` in the group, once it settles.
    pub fn member(&self, user: &User<'_>) -> Member {
        let value = self.bot.call(json!({
            "op": "member", "group": self.id, "user": user.id,
        }));
        Member {
            status: value["status"].as_str().map(str::to_string),
            restricted: value["restricted"].as_object().map(|r| {
                (
                    r.get("permissions").cloned().unwrap_or_default(),
                    r.get("until_date").and_then(Value::as_i64).unwrap_or(0),
                )
            }),
        }
    }
}
