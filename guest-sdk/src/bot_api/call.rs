//! [`Call`]: a Bot API call built step by step (parameters, files, options), and [`FilePart`],
//! a file uploaded with it.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Error, Outcome};
use crate::__private::botbox::bot::bot_api as wit;
use crate::outbox::{Priority, Ticket};

/// A file uploaded with a call. A parameter names it as `attach://<name>` (see
/// [`attach`](Self::attach)): `"photo": "attach://qr"`, or the `media` of an album item.
/// Photos up to 10 MB, other files up to 50 MB (Telegram's limits for bots).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePart {
    name: String,
    file_name: String,
    bytes: Vec<u8>,
}

impl FilePart {
    /// The file `file_name` (the name Telegram shows for a document and guesses its type from)
    /// with `bytes`, named `name` (1–64 of `a-z A-Z 0-9 _ -`) for `attach://name`.
    pub fn new(name: impl Into<String>, file_name: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self {
            name: name.into(),
            file_name: file_name.into(),
            bytes,
        }
    }

    /// `attach://<name>`: what a parameter says to send this file.
    pub fn attach(&self) -> String {
        format!("attach://{}", self.name)
    }

    /// The name after `attach://`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn into_wit(self) -> wit::FilePart {
        wit::FilePart {
            name: self.name,
            file_name: self.file_name,
            bytes: self.bytes,
        }
    }
}

/// A call of any Bot API method, built step by step and made with [`send`](Self::send) (or
/// [`broadcast`](Self::broadcast)).
///
/// ```no_run
/// # fn main() -> Result<(), botbox_sdk::bot_api::Error> {
/// # let png = Vec::new();
/// use botbox_sdk::bot_api::{Call, FilePart};
///
/// let ticket = Call::new("sendPhoto")
///     .param("chat_id", 42)
///     .param("photo", "attach://qr")
///     .param("caption", "Your code")
///     .file(FilePart::new("qr", "qr.png", png))
///     .send()?
///     .ticket()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a call is made only by `send` or `broadcast`"]
pub struct Call {
    method: String,
    params: Map<String, Value>,
    files: Vec<FilePart>,
    priority: Option<Priority>,
    message: Option<Ticket>,
    /// The first parameter that did not encode, reported by `send`.
    error: Option<Error>,
}

impl Call {
    /// A call of `method` (`sendPhoto`, `getChatMember`, ...) without parameters yet.
    pub fn new(method: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            params: Map::new(),
            files: Vec::new(),
            priority: None,
            message: None,
            error: None,
        }
    }

    /// Sets the parameter `name` to `value` (anything serde encodes: numbers, strings, structs
    /// of Telegram's types, [`serde_json::Value`]).
    pub fn param(mut self, name: &str, value: impl Serialize) -> Self {
        match serde_json::to_value(value) {
            Ok(value) => {
                self.params.insert(name.to_owned(), value);
            }
            Err(error) => self.fail(Error::json(error)),
        }
        self
    }

    /// Sets every field of `params` (a struct or map that encodes as a JSON object) as a
    /// parameter, over those set before.
    pub fn params(mut self, params: &impl Serialize) -> Self {
        match serde_json::to_value(params) {
            Ok(Value::Object(fields)) => self.params.extend(fields),
            Ok(Value::Null) => {}
            Ok(other) => self.fail(Error::Json(format!(
                "parameters must be a JSON object, not {other}"
            ))),
            Err(error) => self.fail(Error::json(error)),
        }
        self
    }

    /// Uploads `file` with the call; a parameter names it with [`FilePart::attach`].
    pub fn file(mut self, file: FilePart) -> Self {
        self.files.push(file);
        self
    }

    /// Acts on the message this module sent with `ticket` (an edit, deletion, pin, copy,
    /// forward, reaction): the host fills in `chat_id` and `message_id` (`from_chat_id` and
    /// `message_id` for copies and forwards) when it sends the call, even if the message was
    /// not delivered yet when the call was made.
    pub fn acting_on(mut self, ticket: Ticket) -> Self {
        self.message = Some(ticket);
        self
    }

    /// How urgent a queued send or edit is. By default the host treats the chat of the update
    /// being handled as [`Priority::Interactive`] and others as [`Priority::Normal`];
    /// broadcasts default to [`Priority::Bulk`].
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = Some(priority);
        self
    }

    /// The method's name.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The parameters as the host will get them: a JSON object, or an empty string for none.
    pub fn params_json(&self) -> Result<String, Error> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        if self.params.is_empty() {
            return Ok(String::new());
        }
        serde_json::to_string(&self.params).map_err(Error::json)
    }

    /// Makes the call. Sends and edits are queued with the update's commit (the outcome holds
    /// their ticket), answers leave right after it, reads return Telegram's result now, chat
    /// actions are sent at once.
    pub fn send(self) -> Result<Outcome, Error> {
        let params = self.params_json()?;
        let options = options(self.priority, self.message);
        let files: Vec<wit::FilePart> = self.files.into_iter().map(FilePart::into_wit).collect();
        let outcome = wit::call(&self.method, &params, &files, options)?;
        Ok(Outcome::from_wit(outcome))
    }

    /// Queues the same call to each chat in `chat_ids` (at most 10 000), with `chat_id` set per
    /// chat, at [`Priority::Bulk`] unless [`priority`](Self::priority) says otherwise. The files
    /// are stored and uploaded once. One ticket per chat, in order.
    pub fn broadcast(self, chat_ids: &[i64]) -> Result<Vec<Ticket>, Error> {
        let params = self.params_json()?;
        let options = options(self.priority, self.message);
        let files: Vec<wit::FilePart> = self.files.into_iter().map(FilePart::into_wit).collect();
        let tickets = wit::broadcast(chat_ids, &self.method, &params, &files, options)?;
        Ok(tickets.into_iter().map(Ticket::from_raw).collect())
    }

    /// Keeps the first encoding error for `send`.
    fn fail(&mut self, error: Error) {
        self.error.get_or_insert(error);
    }
}

fn options(priority: Option<Priority>, message: Option<Ticket>) -> wit::CallOptions {
    wit::CallOptions {
        priority,
        message: message.map(Ticket::to_raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Dice<'a> {
        chat_id: i64,
        emoji: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        disable_notification: Option<bool>,
    }

    #[test]
    fn parameters_merge_into_one_json_object() {
        let call = Call::new("sendDice")
            .params(&Dice {
                chat_id: 42,
                emoji: "🎲",
                disable_notification: None,
            })
            .param("emoji", "🎯")
            .param("reply_parameters", serde_json::json!({"message_id": 5}));
        assert_eq!(call.method(), "sendDice");
        let json: Value = serde_json::from_str(&call.params_json().unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"chat_id": 42, "emoji": "🎯", "reply_parameters": {"message_id": 5}})
        );
    }

    #[test]
    fn no_parameters_is_an_empty_string_and_a_non_object_is_refused() {
        assert_eq!(Call::new("getMe").params_json().unwrap(), "");
        assert_eq!(
            Call::new("getMe").params(&()).params_json().unwrap(),
            "",
            "unit encodes as null: no parameters"
        );
        let error = Call::new("sendMessage")
            .params(&[1, 2])
            .param("text", "x")
            .params_json()
            .unwrap_err();
        assert_eq!(error.rule(), "json");
        assert!(error.to_string().contains("JSON object"), "{error}");
    }

    #[test]
    fn a_file_part_is_attached_by_its_name() {
        let part = FilePart::new("qr", "qr.png", vec![1, 2, 3]);
        assert_eq!(part.attach(), "attach://qr");
        assert_eq!(part.name(), "qr");
        assert_eq!(part.bytes(), [1, 2, 3]);
        let wit = part.into_wit();
        assert_eq!(wit.file_name, "qr.png");
    }

    #[test]
    fn options_carry_the_ticket_and_priority() {
        let options = options(Some(Priority::Bulk), Some(Ticket::from_raw(3)));
        assert_eq!(options.message, Some(3));
        assert_eq!(options.priority, Some(Priority::Bulk));
    }
}
