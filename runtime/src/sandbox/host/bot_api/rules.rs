//! What a `bot-api` call must be to go anywhere: a method the host knows (or the operator
//! allows), not the host's own, granted when it needs a grant, with parameters of its shape;
//! and, when it acts on a message, one this module sent or the one it is handling.

use serde_json::{Map, Value};

use super::{
    HostState, checks,
    checks::{chat_param, invalid, source_chat_key},
    not_in_init,
};
use crate::{
    bindings::{bot_api as wit, outbox as wit_outbox},
    bot_api::{self as api, Class, Grant, Refusal},
};

pub(super) fn grant_name(g: Grant) -> &'static str {
    match g {
        Grant::BotSettings => "bot-settings",
        Grant::Stars => "stars",
        Grant::Business => "business",
    }
}

/// A call acting on members needs the `members` grant, and names one of the chats the operator
/// narrowed it to, if they did.
fn check_members(
    method: &str,
    params: &Value,
    caps: &crate::sandbox::Capabilities,
    module: &str,
) -> Result<(), wit::Error> {
    if !caps.bot_api_grants.iter().any(|g| g == "members") {
        return Err(wit::Error::NotAllowed(format!(
            "`{method}` acts on other people in a group; the operator allows it with `modules.{module}.bot_api_grants = [\"members\"]`"
        )));
    }
    let chat = params.get("chat_id").and_then(Value::as_i64);
    if !caps.member_chats.is_empty() && !chat.is_some_and(|c| caps.member_chats.contains(&c)) {
        return Err(wit::Error::NotAllowed(format!(
            "`{method}` in chat {}: the operator's `modules.{module}.member_chats` does not list it",
            chat.map_or_else(|| "(none)".to_string(), |c| c.to_string())
        )));
    }
    Ok(())
}

/// A call that passed the checks: its method's class and its parameters.
pub(super) struct Checked {
    pub(super) name: String,
    pub(super) class: Class,
    pub(super) touches: bool,
    pub(super) params: Map<String, Value>,
}

impl HostState {
    /// The method is known (or the operator allows unknown ones), not the host's, granted if it
    /// needs a grant, and its parameters have its shape.
    pub(super) fn check_method(
        &self,
        method: &str,
        params: Map<String, Value>,
    ) -> Result<Checked, wit::Error> {
        let value = Value::Object(params);
        let caps = self.env.capabilities.read().clone();
        let (class, touches) = match api::check(method, &value) {
            Ok(m) => (m.class, m.touches_messages),
            Err(Refusal::UnknownMethod(_)) if caps.unknown_bot_api_methods => {
                // Checked by name only: the operator allowed methods newer than this host.
                if method.is_empty()
                    || method.len() > 64
                    || !method.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return Err(wit::Error::UnknownMethod(format!(
                        "`{}` is not a Bot API method name",
                        crate::text::printable(method, 64)
                    )));
                }
                let class = if ["send", "edit", "delete", "copy", "forward", "pin", "unpin"]
                    .iter()
                    .any(|p| method.starts_with(p))
                {
                    Class::Outbox
                } else {
                    Class::Direct
                };
                (class, class == Class::Outbox && !method.starts_with("send"))
            }
            Err(Refusal::UnknownMethod(_)) => {
                return Err(wit::Error::UnknownMethod(format!(
                    "`{}` is not a method of the Bot API this host speaks; the operator can allow methods newer than the host with `modules.{}.unknown_bot_api_methods = true`",
                    crate::text::printable(method, 64),
                    self.env.name
                )));
            }
            Err(r @ Refusal::HostOnly { .. }) => {
                return Err(wit::Error::NotAllowed(format!(
                    "{r}: the host owns the connection to Telegram"
                )));
            }
            Err(other) => return Err(invalid(other.to_string())),
        };
        if let Class::Granted(g) = class
            && !caps.bot_api_grants.iter().any(|x| x == grant_name(g))
        {
            return Err(wit::Error::NotAllowed(format!(
                "`{method}` needs the `{}` grant, which the operator gives with `modules.{}.bot_api_grants = [\"{}\"]`",
                grant_name(g),
                self.env.name,
                grant_name(g)
            )));
        }
        if api::MEMBER_METHODS.contains(&method) {
            check_members(method, &value, &caps, &self.env.name)?;
        }
        if checks::acts_on_every_module(method) {
            return Err(wit::Error::NotAllowed(format!(
                "`{method}` acts on every module's messages; unpin the module's own messages one by one with unpinChatMessage"
            )));
        }
        let Value::Object(mut params) = value else {
            unreachable!("built from a map above")
        };
        checks::tag_callbacks(&mut params, &self.env.tag)?;
        super::payments::tag_payload(method, &mut params, &self.env.tag)?;
        let checked = Checked {
            name: method.to_string(),
            class,
            touches,
            params,
        };
        self.check_query_answer(&checked)?;
        Ok(checked)
    }

    /// The message(s) the call acts on are this module's (by ticket) or the update's own.
    /// Returns the ticket's (chat, ticket) when the call names its message by ticket.
    pub(super) async fn check_messages(
        &mut self,
        c: &Checked,
        ticket: Option<u64>,
    ) -> Result<Option<(i64, u64)>, wit::Error> {
        let source = source_chat_key(&c.name);
        if let Some(t) = ticket {
            if c.params.contains_key("message_id") || c.params.contains_key("inline_message_id") {
                return Err(invalid(
                    "a call that names its message by ticket passes no `message_id`: the host fills it in",
                ));
            }
            let (chat, _) = self.target(wit_outbox::MessageRef::Ticket(t)).await?;
            if source == "chat_id" && chat_param(&c.params, "chat_id")?.is_some_and(|p| p != chat) {
                return Err(invalid(format!(
                    "`chat_id` differs from the chat of ticket {t}"
                )));
            }
            return Ok(Some((chat, t)));
        }
        if !c.touches {
            return Ok(None);
        }
        if c.params.contains_key("inline_message_id") {
            return Err(wit::Error::NotOwnMessage(
                "inline messages cannot be named yet: the host cannot tell whose they are".into(),
            ));
        }
        let chat = chat_param(&c.params, source)?
            .ok_or_else(|| invalid(format!("`{source}` is missing")))?;
        let mut ids: Vec<i64> = Vec::new();
        if let Some(id) = c.params.get("message_id") {
            ids.push(
                id.as_i64()
                    .ok_or_else(|| invalid("`message_id` must be a number"))?,
            );
        }
        if let Some(list) = c.params.get("message_ids") {
            let list = list
                .as_array()
                .ok_or_else(|| invalid("`message_ids` must be an array"))?;
            for id in list {
                ids.push(
                    id.as_i64()
                        .ok_or_else(|| invalid("`message_ids` must hold numbers"))?,
                );
            }
        }
        if ids.is_empty() {
            return Err(invalid(format!(
                "`{}` needs `message_id` here (or the message by ticket in the call's options)",
                c.name
            )));
        }
        let own = &self.call.as_ref().ok_or_else(not_in_init)?.own_messages;
        match ids.iter().find(|id| {
            !own.iter()
                .any(|(ch, m)| *ch == chat && i64::from(*m) == **id)
        }) {
            Some(id) => Err(wit::Error::NotOwnMessage(format!(
                "message {id} in chat {chat} is not the message of the update being handled; a module acts on what it sent by ticket (the call's options), and never on other modules' messages"
            ))),
            None => Ok(None),
        }
    }
}
