//! [`Dialogues::handle`]: which dialogue an update is for, and one step of it, live or replayed.

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::handle::{Dialogue, Live, Step, Stop};
use super::log::{Entry, HASH_SEED, Header, Key, Kind, Timeout, Want, chain};
use super::{DialogueKey, Dialogues, Divergence, Input, Outcome, Running};
use crate::{Error, Update};

/// The command that cancels the running dialogue.
pub(super) const CANCEL: &str = "cancel";
/// How long the host routes a user's texts to a dialogue that waits without a timeout.
const CONVERSATION_WITHOUT_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// The longest the host keeps a conversation (7 days).
const MAX_CONVERSATION_SECS: u64 = 7 * 24 * 3600;

/// What an update means to the dialogues.
enum Event<'u> {
    Start {
        spec: usize,
        args: String,
    },
    Cancel,
    Timer {
        id: u64,
    },
    Input {
        input: Input,
        callback: Option<&'u str>,
    },
    Other,
}

/// Where an event comes from: the chat to answer in and the sender.
#[derive(Clone, Copy)]
struct Origin {
    chat: i64,
    from: i64,
}

impl Dialogues {
    /// Gives `update` to the dialogues: starts one for a start command, cancels for `/cancel`,
    /// hands an input or a timeout to the dialogue of its key, and says whether it did.
    ///
    /// Fails only when the store or the outbox fails; the update's effects are then discarded
    /// (return the error from `handle_update`).
    pub fn handle(&self, update: &Update) -> Result<Outcome, Error> {
        let Some((key, origin, event)) = self.classify(update) else {
            return Ok(Outcome::NotMine);
        };
        let header = self.load_header(key)?;
        let host = &self.shared.host;
        match (event, header) {
            (Event::Start { spec, args }, old) => {
                if let Some(old) = &old {
                    self.end(key, old)?;
                }
                self.start(key, spec, origin, args)?;
            }
            (Event::Cancel, Some(header)) => {
                self.end(key, &header)?;
                host.say(origin.chat, &self.cancelled)?;
            }
            (Event::Cancel, None) => host.say(origin.chat, &self.nothing_to_cancel)?,
            (Event::Timer { id }, Some(header)) if header.timer == Some(id) => {
                if header.want.timeout == Timeout::Inactivity {
                    self.end(key, &header)?;
                    if let Some((_, text)) = &self.inactivity {
                        host.say(origin.chat, text)?;
                    }
                } else {
                    self.resume(key, &header, origin, Live::Timeout)?;
                }
            }
            // A timer of a dialogue that has moved on or ended.
            (Event::Timer { .. }, _) => {}
            (Event::Input { input, callback }, Some(header)) => {
                if let Some(id) = callback {
                    host.answer_callback(id)?;
                }
                if !header.want.accepts(&input) {
                    return self.ignore(origin);
                }
                let live = Live::Input {
                    chat: origin.chat,
                    from: origin.from,
                    input,
                };
                self.resume(key, &header, origin, live)?;
            }
            (Event::Other, Some(_)) => return self.ignore(origin),
            (Event::Input { .. } | Event::Other, None) => return Ok(Outcome::NotMine),
        }
        Ok(Outcome::Handled)
    }

    fn ignore(&self, origin: Origin) -> Result<Outcome, Error> {
        if let Some(text) = &self.unexpected {
            self.shared.host.say(origin.chat, text)?;
        }
        Ok(Outcome::Ignored)
    }

    fn classify<'u>(&self, update: &'u Update) -> Option<(Key, Origin, Event<'u>)> {
        if let Some(fired) = update.timer() {
            let key = Key::from_timer_payload(&fired.payload)?;
            let chat = fired.chat_id.unwrap_or(key.a);
            let origin = Origin { chat, from: 0 };
            return Some((key, origin, Event::Timer { id: fired.id }));
        }
        let chat = update.chat_id()?;
        let from = update.from().map(|user| user.id);
        let key = match self.key {
            DialogueKey::User => Key {
                kind: b'u',
                a: from?,
                b: 0,
            },
            DialogueKey::Chat => Key {
                kind: b'c',
                a: chat,
                b: 0,
            },
            DialogueKey::UserInChat => Key {
                kind: b'm',
                a: chat,
                b: from?,
            },
        };
        let origin = Origin {
            chat,
            from: from.unwrap_or(0),
        };
        let event = if let Some(command) = update.command() {
            if command == CANCEL {
                Event::Cancel
            } else {
                let spec = self.specs.iter().position(|spec| spec.name == command)?;
                Event::Start {
                    spec,
                    args: update.command_args().to_owned(),
                }
            }
        } else if let Some(query) = update.callback() {
            Event::Input {
                input: Input::Button(query.data.clone()),
                callback: Some(&query.id),
            }
        } else if let Some(text) = update.message().and_then(|m| m.text.as_deref()) {
            Event::Input {
                input: Input::Text(text.to_owned()),
                callback: None,
            }
        } else if update.message().is_some() {
            Event::Other
        } else {
            return None;
        };
        Some((key, origin, event))
    }

    fn load_header(&self, key: Key) -> Result<Option<Header>, Error> {
        let Some(bytes) = self.shared.host.kv_get(&key.header_key())? else {
            return Ok(None);
        };
        let header = Header::decode(&bytes);
        if header.is_none() {
            self.shared.host.warn(&format!(
                "a dialogue header of {key:?} is damaged; it is dropped"
            ));
        }
        Ok(header)
    }

    /// Ends the dialogue of `header`: its log, its header, its timer and its cached future.
    fn end(&self, key: Key, header: &Header) -> Result<(), Error> {
        let host = &self.shared.host;
        for seq in 0..header.steps {
            host.kv_delete(&key.log_key(seq))?;
        }
        host.kv_delete(&key.header_key())?;
        if let Some(timer) = header.timer {
            cancel(host.as_ref(), timer);
        }
        self.expect_reply(header.chat, header.user, None);
        self.running.borrow_mut().remove(&(key.a, key.b));
        Ok(())
    }

    fn start(&self, key: Key, spec: usize, origin: Origin, args: String) -> Result<(), Error> {
        let spec_ = &self.specs[spec];
        let entry = Entry::Start {
            name: spec_.name.clone(),
            version: spec_.version,
            chat: origin.chat,
            user: origin.from,
            args: args.clone(),
        };
        let running = Running {
            steps: 0,
            hash: HASH_SEED,
            future: (spec_.start)(self.dialogue()),
        };
        let step = Step {
            appended: vec![entry],
            chat: origin.chat,
            from: origin.from,
            user: origin.from,
            args,
            ..Step::default()
        };
        self.live_step(key, spec, running, None, step)
    }

    /// Hands `live` to the dialogue of `header`: its cached future if it is valid, else one
    /// rebuilt by replay; a dialogue that diverged ends as [`Divergence`] says.
    fn resume(&self, key: Key, header: &Header, origin: Origin, live: Live) -> Result<(), Error> {
        let cached = self.running.borrow_mut().remove(&(key.a, key.b));
        let running = match cached {
            Some(running) if running.steps == header.steps && running.hash == header.hash => {
                Ok(running)
            }
            _ => self.rebuild(key, header)?,
        };
        let running = match running {
            Ok(running) => running,
            Err(reason) => return self.diverged(key, header, origin, &reason),
        };
        let spec = self
            .spec(&header.name)
            .expect("a rebuilt or cached dialogue has a spec");
        let step = Step {
            live: Some(live),
            chat: header.chat,
            from: header.user,
            user: header.user,
            args: header.args.clone(),
            ..Step::default()
        };
        self.live_step(key, spec, running, Some(header), step)
    }

    /// Rebuilds the dialogue of `header` from its log with every send suppressed; `Err` says
    /// how the code diverged from the log.
    fn rebuild(&self, key: Key, header: &Header) -> Result<Result<Running, String>, Error> {
        let Some(spec) = self.spec(&header.name) else {
            return Ok(Err(format!(
                "the module has no dialogue `{}` any more",
                header.name
            )));
        };
        let spec = &self.specs[spec];
        if spec.version != header.version {
            return Ok(Err(format!(
                "`{}` was started at version {}; the module has version {}",
                header.name, header.version, spec.version
            )));
        }
        let mut entries = VecDeque::with_capacity(header.steps as usize);
        let mut hash = HASH_SEED;
        for seq in 0..header.steps {
            let bytes = self.shared.host.kv_get(&key.log_key(seq))?;
            let Some(entry) = bytes.as_deref().and_then(Entry::decode) else {
                return Ok(Err(format!("entry {seq} of the log is missing or damaged")));
            };
            hash = chain(hash, bytes.as_deref().unwrap_or_default());
            entries.push_back(entry);
        }
        if hash != header.hash {
            return Ok(Err("the log does not match its header".into()));
        }
        let Some(Entry::Start {
            chat, user, args, ..
        }) = entries.pop_front()
        else {
            return Ok(Err(
                "the log does not begin with the dialogue's start".into()
            ));
        };
        *self.shared.step.borrow_mut() = Step {
            replaying: true,
            replay: entries,
            index: 0,
            chat,
            from: user,
            user,
            args,
            ..Step::default()
        };
        let mut running = Running {
            steps: header.steps,
            hash,
            future: (spec.start)(self.dialogue()),
        };
        let poll = poll(&mut running);
        let step = std::mem::take(&mut *self.shared.step.borrow_mut());
        if let Some(Stop::Diverged(reason) | Stop::Failed(reason)) = step.stop {
            return Ok(Err(reason));
        }
        if poll.is_ready() {
            return Ok(Err(format!(
                "the dialogue finishes after {} of its {} logged inputs",
                step.index,
                header.steps - 1
            )));
        }
        match step.want {
            Some(want) if step.replay.is_empty() && want == header.want => Ok(Ok(running)),
            Some(want) if step.replay.is_empty() => Ok(Err(format!(
                "after its log the dialogue awaits {}; it used to await {}",
                want.describe(),
                header.want.describe()
            ))),
            _ => Ok(Err(
                "the dialogue awaits something that is not one of its inputs".into(),
            )),
        }
    }

    /// Polls a dialogue once with the step's input, then commits what it did: the new log
    /// entries, the header and the timer; or the end of the dialogue.
    fn live_step(
        &self,
        key: Key,
        spec: usize,
        mut running: Running,
        previous: Option<&Header>,
        step: Step,
    ) -> Result<(), Error> {
        *self.shared.step.borrow_mut() = step;
        let poll = poll(&mut running);
        let step = std::mem::take(&mut *self.shared.step.borrow_mut());
        let host = &self.shared.host;
        let spec = &self.specs[spec];
        let stopped = match (poll, step.stop, step.want) {
            (Poll::Ready(Ok(())), ..) => None,
            (Poll::Ready(Err(error)), ..) => Some(format!("failed: {error}")),
            (Poll::Pending, Some(Stop::Diverged(reason) | Stop::Failed(reason)), _) => Some(reason),
            (Poll::Pending, None, None) => {
                Some("awaits something that is not one of its inputs".into())
            }
            (Poll::Pending, None, Some(want)) => {
                return self.suspend(
                    key,
                    spec.name.clone(),
                    spec.version,
                    running,
                    previous,
                    step.appended,
                    want,
                    step.chat,
                    step.user,
                    step.args,
                );
            }
        };
        if let Some(reason) = stopped {
            host.warn(&format!(
                "dialogue `{}` of {key:?} ended: {reason}",
                spec.name
            ));
        }
        match previous {
            Some(header) => self.end(key, header),
            None => Ok(()),
        }
    }

    /// Appends a suspended dialogue's new entries to its log and writes its header, moving its
    /// timer to the new await.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site, every part of a step"
    )]
    fn suspend(
        &self,
        key: Key,
        name: String,
        version: u32,
        mut running: Running,
        previous: Option<&Header>,
        appended: Vec<Entry>,
        want: Want,
        chat: i64,
        user: i64,
        args: String,
    ) -> Result<(), Error> {
        let host = &self.shared.host;
        let (mut steps, mut hash) = previous.map_or((0, HASH_SEED), |h| (h.steps, h.hash));
        for entry in &appended {
            let bytes = entry.encode();
            host.kv_set(&key.log_key(steps), &bytes)?;
            hash = chain(hash, &bytes);
            steps += 1;
        }
        if let Some(timer) = previous.and_then(|h| h.timer) {
            cancel(host.as_ref(), timer);
        }
        let delay = match want.timeout {
            Timeout::Inactivity => self.inactivity.as_ref().map(|(delay, _)| *delay),
            Timeout::After(ms) => Some(Duration::from_millis(ms)),
        };
        // Without a timer (the module's timer quota is used up, or the operator took timers
        // away) the dialogue still works; it just does not time out.
        let timer = delay.and_then(|delay| {
            host.schedule(delay, chat, &key.timer_payload())
                .map_err(|error| host.warn(&format!("dialogue `{name}` has no timeout: {error}")))
                .ok()
        });
        let header = Header {
            name,
            version,
            steps,
            hash,
            want,
            timer,
            user,
            chat,
            args,
        };
        host.kv_set(&key.header_key(), &header.encode())?;
        // While it waits for a text, that text is this module's alone; not while it waits for
        // a button.
        let waits = (header.want.kind != Kind::Button)
            .then(|| delay.unwrap_or(CONVERSATION_WITHOUT_TIMEOUT));
        self.expect_reply(chat, user, waits);
        running.steps = steps;
        running.hash = hash;
        let mut cache = self.running.borrow_mut();
        if cache.len() >= self.cache_limit
            && let Some(evicted) = cache.keys().next().copied()
        {
            cache.remove(&evicted);
        }
        cache.insert((key.a, key.b), running);
        Ok(())
    }

    /// Ends a diverged dialogue the way the registry says.
    fn diverged(
        &self,
        key: Key,
        header: &Header,
        origin: Origin,
        reason: &str,
    ) -> Result<(), Error> {
        let host = &self.shared.host;
        host.warn(&format!(
            "dialogue `{}` of {key:?} cannot go on with this version of the module: {reason}",
            header.name
        ));
        self.end(key, header)?;
        match &self.divergence {
            Divergence::Tell(text) => host.say(origin.chat, text),
            Divergence::Restart(notice) => {
                if let Some(text) = notice {
                    host.say(origin.chat, text)?;
                }
                let Some(spec) = self.spec(&header.name) else {
                    return Ok(());
                };
                let origin = Origin {
                    chat: origin.chat,
                    from: header.user,
                };
                self.start(key, spec, origin, header.args.clone())
            }
        }
    }

    /// Declares for `waits` (`None` withdraws) with the host that the next text of `user`
    /// (of anyone, for a chat's dialogue) in `chat` is this module's. A refusal is only
    /// logged: the dialogue works without it, sharing texts with the other modules.
    fn expect_reply(&self, chat: i64, user: i64, waits: Option<Duration>) {
        let user = (self.key != DialogueKey::Chat).then_some(user);
        let seconds = waits.map_or(0, |d| {
            u32::try_from(d.as_secs().clamp(1, MAX_CONVERSATION_SECS)).unwrap_or(u32::MAX)
        });
        let host = &self.shared.host;
        if let Err(error) = host.expect_reply(chat, user, seconds) {
            host.warn(&format!(
                "the host keeps no conversation for the dialogue: {error}"
            ));
        }
    }

    fn spec(&self, name: &str) -> Option<usize> {
        self.specs.iter().position(|spec| spec.name == name)
    }

    fn dialogue(&self) -> Dialogue {
        Dialogue {
            shared: self.shared.clone(),
        }
    }
}

/// Cancels a dialogue's timer. A failure is only logged: the timer then fires for nothing, and
/// is ignored as stale.
fn cancel(host: &dyn super::host::Host, timer: u64) {
    if let Err(error) = host.cancel(timer) {
        host.warn(&format!("a dialogue timer could not be cancelled: {error}"));
    }
}

/// The whole executor: poll once, with a waker that does nothing, because a dialogue only ever
/// awaits the inputs the driver puts in place before polling.
fn poll(running: &mut Running) -> Poll<Result<(), Error>> {
    running
        .future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
}
