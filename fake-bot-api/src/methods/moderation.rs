//! approveChatJoinRequest, declineChatJoinRequest, banChatMember, unbanChatMember,
//! restrictChatMember (see `groups.rs`).

use std::sync::Arc;

use serde_json::{Value, json};

use super::chat_id;
use crate::{
    error::ApiError,
    groups::{JoinDecision, Restriction},
    json,
    model::MemberStatus,
    params::Params,
    state::{Shared, State},
};

/// The required `user_id`.
fn user_id(params: &Params) -> Result<i64, ApiError> {
    params
        .int("user_id")?
        .ok_or_else(|| ApiError::bad_request("user_id is empty"))
}

/// Moderation happens in groups only.
fn group_id(params: &Params) -> Result<i64, ApiError> {
    let chat = chat_id(params)?;
    if chat > 0 {
        return Err(ApiError::bad_request(
            "method is available for supergroup and channel chats only",
        ));
    }
    Ok(chat)
}

/// Sets `user`'s status in `chat`, keeping the `User` object the fake knows, and queues the
/// `chat_member` update Telegram sends (to bots that ask for it) when the status changes.
fn set_status(shared: &Shared, state: &mut State, chat: i64, user: i64, status: MemberStatus) {
    let known = state.member_statuses.get(&(chat, user)).cloned();
    let before = known.as_ref().map_or(MemberStatus::Left, |(s, _)| *s);
    let person = known
        .map(|(_, u)| u)
        .or_else(|| {
            state
                .chats
                .get(&user)
                .map(|c| json!({ "id": user, "is_bot": false, "first_name": c.json["first_name"] }))
        })
        .unwrap_or_else(|| json!({ "id": user, "is_bot": false, "first_name": "User" }));
    state
        .member_statuses
        .insert((chat, user), (status, person.clone()));
    if before == status {
        return;
    }
    let group = state
        .chats
        .get(&chat)
        .map(|c| c.json.clone())
        .unwrap_or(json!({ "id": chat, "type": "supergroup" }));
    let member = |s: MemberStatus| json!({ "status": s.as_str(), "user": person });
    state.enqueue(
        "chat_member",
        json!({
            "chat": group,
            "from": json::bot_user(&shared.config),
            "date": json::now(),
            "old_chat_member": member(before),
            "new_chat_member": member(status),
        }),
    );
}
/// approveChatJoinRequest (`approve`) and declineChatJoinRequest: a pending request, once.
pub(super) fn decide_join(
    shared: &Arc<Shared>,
    params: &Params,
    approve: bool,
) -> Result<Value, ApiError> {
    let chat = group_id(params)?;
    let user = user_id(params)?;
    shared.write(|state| {
        let pending = state.moderation.join_requests.get_mut(&(chat, user));
        match pending {
            Some(d) if *d == JoinDecision::Pending => {
                *d = if approve {
                    JoinDecision::Approved
                } else {
                    JoinDecision::Declined
                };
            }
            _ => return Err(ApiError::bad_request("HIDE_REQUESTER_MISSING")),
        }
        let method = if approve {
            "approveChatJoinRequest"
        } else {
            "declineChatJoinRequest"
        };
        state.moderation.actions.push((method.into(), chat, user));
        if approve {
            set_status(shared, state, chat, user, MemberStatus::Member);
        }
        Ok(json!(true))
    })
}

/// banChatMember (`ban`) and unbanChatMember.
pub(super) fn ban(shared: &Arc<Shared>, params: &Params, ban: bool) -> Result<Value, ApiError> {
    let chat = group_id(params)?;
    let user = user_id(params)?;
    if user == shared.config.bot_id() {
        return Err(ApiError::bad_request("can't remove chat owner"));
    }
    shared.write(|state| {
        let method = if ban {
            "banChatMember"
        } else {
            "unbanChatMember"
        };
        state.moderation.actions.push((method.into(), chat, user));
        set_status(
            shared,
            state,
            chat,
            user,
            if ban {
                MemberStatus::Kicked
            } else {
                MemberStatus::Left
            },
        );
        Ok(json!(true))
    })
}

/// restrictChatMember: the permissions left and until when.
pub(super) fn restrict(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let chat = group_id(params)?;
    let user = user_id(params)?;
    let permissions = match params.json("permissions") {
        Ok(Some(p @ Value::Object(_))) => p,
        _ => {
            return Err(ApiError::bad_request(
                "can't parse chat permissions JSON object",
            ));
        }
    };
    let until_date = params.int("until_date")?.unwrap_or(0);
    shared.write(|state| {
        state
            .moderation
            .actions
            .push(("restrictChatMember".into(), chat, user));
        state.moderation.restrictions.insert(
            (chat, user),
            Restriction {
                permissions,
                until_date,
            },
        );
        Ok(json!(true))
    })
}
