//! [`Dialogue`], the handle a dialogue function gets, and the futures it awaits.
//!
//! Every dialogue of a registry shares one [`Shared`]: the host, and the state of the one step
//! being driven right now (the input to deliver, the log being replayed, the entries appended).
//! A suspended dialogue therefore holds only its future: its locals and one pointer.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Input;
use super::host::Host;
use super::log::{Entry, Kind, Timeout, Want, tag};
use crate::{Error, Message};

/// What a step was stopped by, found by the driver after a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Replay found the code and the log disagree.
    Diverged(String),
    /// A recorded value could not be encoded.
    Failed(String),
}

/// The input the driver hands to the waiting dialogue in a live step.
#[derive(Debug, Clone)]
pub(crate) enum Live {
    Input { chat: i64, from: i64, input: Input },
    Timeout,
}

/// The state of the step being driven.
#[derive(Default)]
pub(crate) struct Step {
    /// Replaying: entries are taken from `replay`, and nothing is sent.
    pub replaying: bool,
    /// The logged entries still to replay.
    pub replay: VecDeque<Entry>,
    /// How many entries were consumed so far (for messages).
    pub index: u32,
    /// The input of a live step, until the dialogue takes it.
    pub live: Option<Live>,
    /// Entries produced by a live step, to append to the log.
    pub appended: Vec<Entry>,
    /// What the dialogue awaits, set when it suspends.
    pub want: Option<Want>,
    pub stop: Option<Stop>,
    /// The chat and sender of the latest input; the starting user and arguments.
    pub chat: i64,
    pub from: i64,
    pub user: i64,
    pub args: String,
}

/// The host and the step, shared by every dialogue of a registry.
pub(crate) struct Shared {
    pub host: Box<dyn Host>,
    pub step: RefCell<Step>,
}

/// The handle a dialogue function receives: ask questions, await answers, and record what may
/// differ between runs.
///
/// Every method that sends does nothing while the dialogue is being rebuilt by replay (the
/// messages were sent when the step first ran); the awaits return the logged inputs then.
/// Await only this handle's futures in a dialogue (no timers, channels or other executors'
/// futures): the SDK's executor polls a dialogue only when an input arrives.
#[derive(Clone)]
pub struct Dialogue {
    pub(crate) shared: Rc<Shared>,
}

impl Dialogue {
    /// The chat of the latest input (of the start command, before any input): where
    /// [`say`](Self::say) sends.
    pub fn chat(&self) -> i64 {
        self.shared.step.borrow().chat
    }

    /// The Telegram user id of whoever sent the latest input (the user who started the
    /// dialogue, before any input).
    pub fn sender(&self) -> i64 {
        self.shared.step.borrow().from
    }

    /// The Telegram user id of the user who started the dialogue.
    pub fn user(&self) -> i64 {
        self.shared.step.borrow().user
    }

    /// The text after the start command (`12` for `/sum 12`), trimmed; empty when none.
    pub fn args(&self) -> String {
        self.shared.step.borrow().args.clone()
    }

    /// Whether the dialogue is being rebuilt from its log right now (its messages are not
    /// sent again). Rarely needed: [`effect`](Self::effect) covers the usual case.
    pub fn is_replaying(&self) -> bool {
        self.shared.step.borrow().replaying
    }

    /// Sends `text` as plain text to [`chat`](Self::chat).
    pub fn say(&self, text: &str) -> Result<(), Error> {
        if self.is_replaying() {
            return Ok(());
        }
        let chat = self.chat();
        self.shared.host.say(chat, text)
    }

    /// Sends a message built with [`Message`] (keyboards, formatting, another chat).
    pub fn send(&self, message: Message) -> Result<(), Error> {
        if self.is_replaying() {
            return Ok(());
        }
        self.shared.host.send(message)
    }

    /// Runs `effect` (a KV write, a message sent another way) only when the step runs for the
    /// first time, not when it is replayed. Values the dialogue reads go through
    /// [`record`](Self::record) instead.
    pub fn effect<E: Into<Error>>(
        &self,
        effect: impl FnOnce() -> Result<(), E>,
    ) -> Result<(), Error> {
        if self.is_replaying() {
            return Ok(());
        }
        effect().map_err(Into::into)
    }

    /// Sends `question` and waits for a text message, which it returns.
    pub async fn ask(&self, question: &str) -> Result<String, Error> {
        self.say(question)?;
        Ok(self.wait_message().await)
    }

    /// Waits for a text message from the dialogue's key (the user, the chat, ...) and returns
    /// its text. After the registry's inactivity timeout without one, the dialogue ends.
    pub async fn wait_message(&self) -> String {
        match self.next(Kind::Text, Timeout::Inactivity).await {
            Some(Input::Text(text)) => text,
            _ => unreachable!("a text await is given text"),
        }
    }

    /// Waits for a text message at most `timeout`; `None` when the time ran out (the dialogue
    /// goes on, unlike the inactivity timeout).
    pub async fn wait_message_with_timeout(&self, timeout: Duration) -> Option<String> {
        match self.next(Kind::Text, after(timeout)).await {
            Some(Input::Text(text)) => Some(text),
            _ => None,
        }
    }

    /// Waits for a press of one of the module's inline buttons and returns its data (the press
    /// is answered, which stops the button's spinner). Text messages meanwhile are not inputs
    /// of the dialogue (see [`Outcome::Ignored`](super::Outcome::Ignored)).
    pub async fn wait_button(&self) -> String {
        match self.next(Kind::Button, Timeout::Inactivity).await {
            Some(Input::Button(data)) => data,
            _ => unreachable!("a button await is given a button"),
        }
    }

    /// Waits for a button press at most `timeout`; `None` when the time ran out.
    pub async fn wait_button_with_timeout(&self, timeout: Duration) -> Option<String> {
        match self.next(Kind::Button, after(timeout)).await {
            Some(Input::Button(data)) => Some(data),
            _ => None,
        }
    }

    /// Waits for a text message or a button press, whichever comes first.
    pub async fn wait_input(&self) -> Input {
        self.next(Kind::Any, Timeout::Inactivity)
            .await
            .expect("an await without a timeout of its own is given an input")
    }

    /// Waits for a text message or a button press at most `timeout`; `None` when the time ran
    /// out.
    pub async fn wait_input_with_timeout(&self, timeout: Duration) -> Option<Input> {
        self.next(Kind::Any, after(timeout)).await
    }

    /// Returns the value of `read` and logs it; on replay returns the logged value without
    /// calling `read`. Use it for everything that may differ between runs: the clock, random
    /// numbers, KV reads, HTTP answers. Values are logged as JSON.
    ///
    /// On replay the values must be asked for in the same order and with the same types as the
    /// first time; if not, the dialogue has diverged (see [`Divergence`](super::Divergence)).
    pub async fn record<T, F>(&self, read: F) -> T
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> T,
    {
        self.record_tagged(tag(std::any::type_name::<T>()), read)
            .await
    }

    /// Makes a Bot API read (getChatMember, getChat, ...: see [`crate::bot_api`]) and records
    /// its answer like [`record`](Self::record), so that a replay of the dialogue gets the
    /// answer Telegram gave the first time instead of asking again. A refusal or Telegram's
    /// error is recorded too, as its text.
    pub async fn bot_api_read<T: DeserializeOwned>(
        &self,
        method: &str,
        params: &impl Serialize,
    ) -> Result<T, Error> {
        let answer: Result<String, String> = self
            .record_tagged(tag("bot-api"), || {
                match crate::bot_api::call(method, params) {
                    Ok(outcome) => outcome
                        .result_json()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("`{method}` is not a read")),
                    Err(error) => Err(error.to_string()),
                }
            })
            .await;
        let json = answer.map_err(Error::from)?;
        serde_json::from_str(&json).map_err(|e| Error::from(format!("`{method}`: {e}")))
    }

    /// The host's clock (Unix time in milliseconds), recorded like [`record`](Self::record).
    pub async fn now_unix_ms(&self) -> u64 {
        let host = &self.shared.host;
        self.record_tagged(tag("now"), || host.now_unix_ms()).await
    }

    async fn record_tagged<T, F>(&self, tag: u32, read: F) -> T
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> T,
    {
        let replayed = {
            let mut step = self.shared.step.borrow_mut();
            if step.stop.is_some() {
                None
            } else if step.replaying {
                step.index += 1;
                match step.replay.pop_front() {
                    Some(Entry::Record { tag: logged, value }) if logged == tag => {
                        match serde_json::from_slice(&value) {
                            Ok(value) => return value,
                            Err(error) => Some(format!(
                                "the value recorded at step {} does not decode: {error}",
                                step.index
                            )),
                        }
                    }
                    Some(other) => Some(format!(
                        "a value of another type was recorded at step {}, or {}",
                        step.index,
                        other.describe()
                    )),
                    None => Some(format!(
                        "a value is recorded at step {} that the log does not have",
                        step.index
                    )),
                }
            } else {
                None
            }
        };
        if let Some(reason) = replayed {
            self.stop(Stop::Diverged(reason));
            return std::future::pending().await;
        }
        if self.shared.step.borrow().stop.is_some() {
            return std::future::pending().await;
        }
        let value = read();
        match serde_json::to_vec(&value) {
            Ok(bytes) => {
                self.shared
                    .step
                    .borrow_mut()
                    .appended
                    .push(Entry::Record { tag, value: bytes });
                value
            }
            Err(error) => {
                self.stop(Stop::Failed(format!("cannot record a value: {error}")));
                std::future::pending().await
            }
        }
    }

    fn stop(&self, stop: Stop) {
        self.shared.step.borrow_mut().stop.get_or_insert(stop);
    }

    fn next(&self, kind: Kind, timeout: Timeout) -> NextInput<'_> {
        NextInput {
            dialogue: self,
            want: Want { kind, timeout },
        }
    }
}

fn after(timeout: Duration) -> Timeout {
    Timeout::After(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX))
}

/// The next input of a dialogue: from the log while replaying, from the driver when live.
/// `None` means the await's own timeout fired.
struct NextInput<'a> {
    dialogue: &'a Dialogue,
    want: Want,
}

impl Future for NextInput<'_> {
    type Output = Option<Input>;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Input>> {
        let want = self.want;
        let mut step = self.dialogue.shared.step.borrow_mut();
        let step = &mut *step;
        if step.stop.is_some() {
            return Poll::Pending;
        }
        if step.replaying {
            let Some(entry) = step.replay.pop_front() else {
                // The end of the log: the dialogue is where it was suspended.
                step.want = Some(want);
                return Poll::Pending;
            };
            step.index += 1;
            return match entry {
                Entry::Input {
                    want: logged,
                    chat,
                    from,
                    input,
                } if logged == want && want.accepts(&input) => {
                    step.chat = chat;
                    step.from = from;
                    Poll::Ready(Some(input))
                }
                Entry::Timeout { want: logged }
                    if logged == want && matches!(want.timeout, Timeout::After(_)) =>
                {
                    Poll::Ready(None)
                }
                other => {
                    step.stop = Some(Stop::Diverged(format!(
                        "step {} awaits {}; the log has {}",
                        step.index,
                        want.describe(),
                        other.describe()
                    )));
                    Poll::Pending
                }
            };
        }
        match step.live.take() {
            Some(Live::Input { chat, from, input }) => {
                step.chat = chat;
                step.from = from;
                step.appended.push(Entry::Input {
                    want,
                    chat,
                    from,
                    input: input.clone(),
                });
                Poll::Ready(Some(input))
            }
            Some(Live::Timeout) => {
                step.appended.push(Entry::Timeout { want });
                Poll::Ready(None)
            }
            None => {
                step.want = Some(want);
                Poll::Pending
            }
        }
    }
}
