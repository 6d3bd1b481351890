//! The harness's requests about people in groups: a reply to someone's message, a join
//! request and its decision, an admin, a member's status and restriction. Read when a line is
//! not one of [`super::Request`]'s.

use fake_bot_api::{JoinDecision, MemberStatus, TestUser};
use serde::Deserialize;
use serde_json::{Value, json};

use super::session::Session;

/// One request about a group.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum GroupRequest {
    /// A user writes `text` in the group, in reply to its message `to`.
    Reply {
        /// The user's id.
        user: i64,
        /// Their first name.
        name: String,
        /// The group's id.
        group: i64,
        /// The message replied to.
        to: i64,
        /// The text.
        text: String,
    },
    /// A user asks to join the group (a `chat_join_request`).
    JoinRequest {
        /// The user's id.
        user: i64,
        /// Their first name.
        name: String,
        /// The group's id and title.
        group: (i64, String),
    },
    /// Where a user's join request stands after the bot settles: `pending`, `approved`,
    /// `declined`, or `null` when they did not ask.
    JoinDecision {
        /// The group's id.
        group: i64,
        /// The user's id.
        user: i64,
    },
    /// Makes a user an administrator of the group.
    MakeAdmin {
        /// The user's id.
        user: i64,
        /// Their first name.
        name: String,
        /// The group's id.
        group: i64,
    },
    /// A member's status and restriction after the bot settles:
    /// `{"status": "kicked"|..|null, "restricted": {"permissions", "until_date"}|null}`.
    Member {
        /// The group's id.
        group: i64,
        /// The user's id.
        user: i64,
    },
}

impl Session {
    /// Carries out a request about a group.
    pub(super) async fn handle_group(&self, request: GroupRequest) -> anyhow::Result<Value> {
        let fake = self.fake();
        match request {
            GroupRequest::Reply {
                user,
                name,
                group,
                to,
                text,
            } => Ok(json!(fake.send_reply(
                &TestUser::new(user, name),
                group,
                to,
                text
            )?)),
            GroupRequest::JoinRequest { user, name, group } => Ok(json!(fake.request_to_join(
                &TestUser::new(user, name),
                group.0,
                &group.1
            ))),
            GroupRequest::JoinDecision { group, user } => {
                self.settled().await?;
                Ok(json!(fake.join_decision(group, user).map(|d| match d {
                    JoinDecision::Pending => "pending",
                    JoinDecision::Approved => "approved",
                    JoinDecision::Declined => "declined",
                })))
            }
            GroupRequest::MakeAdmin { user, name, group } => {
                fake.set_member_status(
                    group,
                    &TestUser::new(user, name),
                    MemberStatus::Administrator,
                );
                Ok(Value::Null)
            }
            GroupRequest::Member { group, user } => {
                self.settled().await?;
                let restricted = fake
                    .restriction(group, user)
                    .map(|r| json!({ "permissions": r.permissions, "until_date": r.until_date }));
                Ok(json!({
                    "status": fake.member_status(group, user).map(MemberStatus::as_str),
                    "restricted": restricted,
                }))
            }
        }
    }
}
