//! getChatMember, getChatAdministrators and getChatMemberCount, from the chats the fake
//! knows.
//!
//! In a private chat the user and the bot are both members (the bot `kicked` once the user
//! blocked it). In a group the bot is an
//! administrator, whoever wrote there is a member, and a test may arrange other statuses
//! ([`FakeBotApi::set_member_status`](crate::FakeBotApi::set_member_status)); a user the fake
//! has seen elsewhere has `left`; one it never saw is `400 Bad Request: user not found`.

use std::{collections::BTreeMap, sync::Arc};

use serde_json::{Value, json};

use super::chat_id;
use crate::{
    error::ApiError,
    json,
    model::MemberStatus,
    params::Params,
    state::{Shared, State},
};

/// getChatMember.
pub(super) fn get_chat_member(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(params)?;
    let user_id = params
        .int("user_id")
        .ok()
        .flatten()
        .filter(|&id| id > 0)
        .ok_or_else(|| ApiError::bad_request("invalid user_id specified"))?;
    shared.read(|state| {
        state.chat(chat_id)?;
        let members = members(shared, state, chat_id);
        if let Some((status, user)) = members.get(&user_id) {
            return Ok(member_json(*status, user.clone()));
        }
        let user =
            known_user(state, user_id).ok_or_else(|| ApiError::bad_request("user not found"))?;
        Ok(member_json(MemberStatus::Left, user))
    })
}

/// getChatAdministrators: the creator (if arranged), the administrators and the bot.
pub(super) fn get_administrators(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(params)?;
    shared.read(|state| {
        state.chat(chat_id)?;
        if chat_id > 0 {
            return Err(ApiError::bad_request(
                "there are no administrators in the private chat",
            ));
        }
        let members = members(shared, state, chat_id);
        let mut admins: Vec<_> = members
            .into_values()
            .filter(|(status, _)| {
                matches!(status, MemberStatus::Creator | MemberStatus::Administrator)
            })
            .collect();
        admins.sort_by_key(|(status, _)| *status != MemberStatus::Creator);
        Ok(Value::Array(
            admins
                .into_iter()
                .map(|(status, user)| member_json(status, user))
                .collect(),
        ))
    })
}

/// getChatMemberCount: 2 in a private chat; in a group its members and the bot.
pub(super) fn get_member_count(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(params)?;
    shared.read(|state| {
        state.chat(chat_id)?;
        let count = members(shared, state, chat_id)
            .values()
            .filter(|(status, _)| status.is_in_chat())
            .count();
        Ok(json!(count))
    })
}

/// Everyone whose status in the chat the fake knows, by user id, with their `User`.
fn members(shared: &Shared, state: &State, chat_id: i64) -> BTreeMap<i64, (MemberStatus, Value)> {
    let mut members = BTreeMap::new();
    let bot_status = if chat_id < 0 {
        MemberStatus::Administrator
    } else if state.blocked.contains(&chat_id) {
        MemberStatus::Kicked
    } else {
        MemberStatus::Member
    };
    members.insert(
        shared.config.bot_id(),
        (bot_status, json::bot_user(&shared.config)),
    );
    if chat_id > 0 {
        if let Some(user) = known_user(state, chat_id) {
            members.insert(chat_id, (MemberStatus::Member, user));
        }
    } else if let Some(chat) = state.chats.get(&chat_id) {
        for stored in chat
            .messages
            .values()
            .filter(|stored| !stored.entry.from_bot)
        {
            let from = stored.json["from"].clone();
            members
                .entry(stored.entry.from_id)
                .or_insert((MemberStatus::Member, from));
        }
    }
    for (&(chat, user_id), (status, user)) in &state.member_statuses {
        if chat == chat_id {
            members.insert(user_id, (*status, user.clone()));
        }
    }
    members
}

/// The `User` object of someone the fake has seen: in a message, or as a private chat.
fn known_user(state: &State, user_id: i64) -> Option<Value> {
    let from_message = state.chats.values().find_map(|chat| {
        chat.messages
            .values()
            .find(|stored| !stored.entry.from_bot && stored.entry.from_id == user_id)
            .map(|stored| stored.json["from"].clone())
    });
    let arranged = || {
        state
            .member_statuses
            .iter()
            .find(|((_, id), _)| *id == user_id)
            .map(|(_, (_, user))| user.clone())
    };
    let private_chat = || {
        let chat = &state.chats.get(&user_id)?.json;
        let mut user = json!({ "id": user_id, "is_bot": false, "first_name": chat["first_name"] });
        if let Some(username) = chat.get("username") {
            user["username"] = username.clone();
        }
        Some(user)
    };
    from_message.or_else(arranged).or_else(private_chat)
}

/// The `ChatMember` object.
fn member_json(status: MemberStatus, user: Value) -> Value {
    let mut member = json!({ "status": status.as_str(), "user": user });
    match status {
        MemberStatus::Creator => member["is_anonymous"] = json!(false),
        MemberStatus::Administrator => {
            for (right, granted) in [
                ("can_be_edited", false),
                ("is_anonymous", false),
                ("can_manage_chat", true),
                ("can_delete_messages", true),
                ("can_manage_video_chats", true),
                ("can_restrict_members", true),
                ("can_promote_members", false),
                ("can_change_info", true),
                ("can_invite_users", true),
                ("can_post_stories", true),
                ("can_edit_stories", true),
                ("can_delete_stories", true),
                ("can_pin_messages", true),
                ("can_manage_topics", false),
            ] {
                member[right] = json!(granted);
            }
        }
        MemberStatus::Kicked => member["until_date"] = json!(0),
        MemberStatus::Member | MemberStatus::Left => {}
    }
    member
}
