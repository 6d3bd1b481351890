//! Messages without a file: sendDice, sendPoll and stopPoll, sendLocation.

use std::{collections::VecDeque, sync::Arc};

use serde_json::{Value, json};

use super::{
    admit, message_id,
    outgoing::{Body, Outgoing},
};
use crate::{
    error::ApiError,
    markup::{self, Parsed},
    model::{ChatEvent, Markup},
    params::Params,
    state::Shared,
    text,
};

/// The dice Telegram has, with the highest value of each (the lowest is 1).
const DICE: [(&str, u32); 6] = [
    ("🎲", 6),
    ("🎯", 6),
    ("🏀", 5),
    ("⚽", 5),
    ("🎳", 6),
    ("🎰", 64),
];

/// The values sendDice answers: a fixed-seed pseudo-random sequence (the same in every run,
/// varied within one), unless a test queued values.
#[derive(Debug)]
pub(crate) struct DiceRoller {
    seed: u64,
    pub(crate) queued: VecDeque<u32>,
}

impl Default for DiceRoller {
    fn default() -> Self {
        Self {
            seed: 0x5EED_D1CE,
            queued: VecDeque::new(),
        }
    }
}

impl DiceRoller {
    /// The next value from 1 to `max` (a queued value is clamped into that range).
    fn roll(&mut self, max: u32) -> u32 {
        if let Some(value) = self.queued.pop_front() {
            return value.clamp(1, max);
        }
        // splitmix64.
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        1 + u32::try_from(z % u64::from(max)).expect("below max")
    }
}

/// sendDice: `emoji` is one of 🎲 🎯 🏀 ⚽ 🎳 🎰 (default 🎲); the message has
/// `dice: {emoji, value}`.
pub(super) fn send_dice(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let outgoing = Outgoing::parse(params)?;
    let emoji = params
        .str("emoji")
        .filter(|emoji| !emoji.is_empty())
        .unwrap_or_else(|| "🎲".to_owned());
    let (emoji, max) = DICE
        .iter()
        .copied()
        .find(|(known, _)| *known == emoji.trim_end_matches('\u{fe0f}'))
        // MTProto's error for an emoji that is not a dice, passed on by the Bot API.
        .ok_or_else(|| ApiError::bad_request("EMOTICON_INVALID"))?;
    shared.write(|state| {
        let reply_to = outgoing.check(state)?;
        admit(state, outgoing.chat_id)?;
        // Rolled once the send is sure, so that a refused send leaves a queued value queued.
        let value = state.dice.roll(max);
        let extra = json!({ "dice": { "emoji": emoji, "value": value } });
        Ok(outgoing.add(shared, state, reply_to, Body::empty(), None, extra))
    })
}

/// sendPoll: a regular or quiz poll with 2–12 options (strings or `InputPollOption`
/// objects). Telegram's (TDLib's) error words.
pub(super) fn send_poll(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let question = text::format(
        &params.str("question").unwrap_or_default(),
        params
            .str("question_parse_mode")
            .filter(|mode| !mode.is_empty())
            .as_deref(),
    )?;
    let options = poll_options(params)?;
    if question.text.trim().is_empty() {
        return Err(ApiError::bad_request("poll question must be non-empty"));
    }
    if text::utf16_len(&question.text) > 300 {
        return Err(ApiError::bad_request(
            "poll question length must not exceed 300",
        ));
    }
    if options.len() < 2 {
        return Err(ApiError::bad_request("poll must have at least 2 option"));
    }
    if options.len() > 12 {
        return Err(ApiError::bad_request(
            "poll can't have more than 12 options",
        ));
    }
    if options.iter().any(|option| option.trim().is_empty()) {
        return Err(ApiError::bad_request("poll options must be non-empty"));
    }
    if options.iter().any(|option| text::utf16_len(option) > 100) {
        return Err(ApiError::bad_request(
            "poll options length must not exceed 100",
        ));
    }
    let kind = params.str("type").unwrap_or_default();
    let quiz = match kind.as_str() {
        "" | "regular" => false,
        "quiz" => true,
        _ => return Err(ApiError::bad_request("unsupported poll type specified")),
    };
    let anonymous = !params.has("is_anonymous") || params.bool("is_anonymous");
    let mut poll = json!({
        "question": question.text,
        "options": options
            .iter()
            .map(|text| json!({ "text": text, "voter_count": 0 }))
            .collect::<Vec<_>>(),
        "total_voter_count": 0,
        "is_closed": params.bool("is_closed"),
        "is_anonymous": anonymous,
        "type": if quiz { "quiz" } else { "regular" },
        "allows_multiple_answers": !quiz && params.bool("allows_multiple_answers"),
    });
    if let Some(entities) = question.entities_json() {
        poll["question_entities"] = entities;
    }
    if quiz && let Some(correct) = params.int("correct_option_id")? {
        if usize::try_from(correct).map_or(true, |correct| correct >= options.len()) {
            return Err(ApiError::bad_request("wrong correct option ID specified"));
        }
        poll["correct_option_id"] = json!(correct);
    }
    let body = Body::plain(question.text.clone());
    let outgoing = Outgoing::parse(params)?;
    shared.write(|state| {
        outgoing.check(state)?;
        poll["id"] = json!(state.next_poll_id());
        outgoing.send(shared, state, body, None, json!({ "poll": poll }))
    })
}

/// The texts of the `options` parameter.
fn poll_options(params: &Params) -> Result<Vec<String>, ApiError> {
    let options = params
        .json("options")
        .ok()
        .flatten()
        .ok_or_else(|| ApiError::bad_request("can't parse options JSON object"))?;
    let Value::Array(options) = options else {
        return Err(ApiError::bad_request(
            "expected an Array of String as options",
        ));
    };
    options
        .iter()
        .map(|option| match option {
            Value::String(text) => Ok(text.clone()),
            Value::Object(object) => object
                .get("text")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ApiError::bad_request("field \"text\" must be of type String")),
            _ => Err(ApiError::bad_request(
                "expected an option to be of type String",
            )),
        })
        .collect()
}

/// stopPoll: closes a poll the bot sent and answers the `Poll`. As with the edits, a call
/// without `reply_markup` removes the inline keyboard.
pub(super) fn stop_poll(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let chat_id = super::chat_id(params)?;
    let message_id = message_id(params)?;
    let Parsed { markup, echo } = markup::parse(params)?.unwrap_or(Parsed {
        markup: None,
        echo: None,
    });
    if markup
        .as_ref()
        .is_some_and(|m| !matches!(m, Markup::Inline(_)))
    {
        return Err(ApiError::bad_request("inline keyboard expected"));
    }
    shared.write(|state| {
        let chat = state.chat_mut(chat_id)?;
        let stored = chat
            .messages
            .get_mut(&message_id)
            .filter(|stored| {
                !stored.entry.deleted && stored.entry.from_bot && stored.json.get("poll").is_some()
            })
            .ok_or_else(|| ApiError::bad_request("message with poll to stop not found"))?;
        if stored.json["poll"]["is_closed"] == json!(true) {
            return Err(ApiError::bad_request("poll has already been closed"));
        }
        stored.json["poll"]["is_closed"] = json!(true);
        let message = stored.json.as_object_mut().expect("a message is an object");
        match echo {
            Some(echo) => message.insert("reply_markup".to_owned(), echo),
            None => message.remove("reply_markup"),
        };
        stored.entry.reply_markup = markup;
        let (entry, poll) = (stored.entry.clone(), stored.json["poll"].clone());
        state.emit(ChatEvent::BotEdited { chat_id, entry });
        Ok(poll)
    })
}

/// sendLocation: `latitude` and `longitude` (required), and the live location's fields.
pub(super) fn send_location(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let coordinate = |key: &str| -> Result<f64, ApiError> {
        let text = params
            .str(key)
            .filter(|text| !text.trim().is_empty())
            .ok_or_else(|| ApiError::bad_request(format!("{key} is empty")))?;
        text.trim()
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid {key} specified")))
    };
    let mut location = json!({
        "latitude": coordinate("latitude")?,
        "longitude": coordinate("longitude")?,
    });
    for key in ["live_period", "heading", "proximity_alert_radius"] {
        if let Some(value) = params.int(key)? {
            location[key] = json!(value);
        }
    }
    if let Some(accuracy) = params.str("horizontal_accuracy")
        && let Ok(accuracy) = accuracy.trim().parse::<f64>()
    {
        location["horizontal_accuracy"] = json!(accuracy);
    }
    let outgoing = Outgoing::parse(params)?;
    shared.write(|state| {
        let extra = json!({ "location": location });
        outgoing.send(shared, state, Body::empty(), None, extra)
    })
}
