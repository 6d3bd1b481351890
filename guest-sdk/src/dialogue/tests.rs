//! The replay and divergence logic against a host simulated in memory.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use super::host::Host;
use super::*;
use crate::types::{CallbackQuery, TimerFired, UpdateKind};
use crate::update::tests::{message, update, user};
use crate::{Message, Update};

/// A pending timer: its delay, chat and payload.
type Timer = (Duration, i64, Vec<u8>);

/// The simulated host: a KV map, the texts sent per chat, pending timers.
#[derive(Default)]
struct World {
    kv: RefCell<BTreeMap<Vec<u8>, Vec<u8>>>,
    sent: RefCell<Vec<(i64, String)>>,
    timers: RefCell<BTreeMap<u64, Timer>>,
    next_timer: Cell<u64>,
    answered: Cell<usize>,
    now: Cell<u64>,
    /// Conversations declared: (chat, user) → seconds.
    expects: RefCell<BTreeMap<(i64, Option<i64>), u32>>,
}

#[derive(Clone, Default)]
struct Mock(Rc<World>);

impl Host for Mock {
    fn kv_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.0.kv.borrow().get(key).cloned())
    }
    fn kv_set(&self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        self.0.kv.borrow_mut().insert(key.to_vec(), value.to_vec());
        Ok(())
    }
    fn kv_delete(&self, key: &[u8]) -> Result<(), Error> {
        self.0.kv.borrow_mut().remove(key);
        Ok(())
    }
    fn say(&self, chat: i64, text: &str) -> Result<(), Error> {
        self.0.sent.borrow_mut().push((chat, text.to_owned()));
        Ok(())
    }
    fn send(&self, message: Message) -> Result<(), Error> {
        self.0.sent.borrow_mut().push((0, format!("{message:?}")));
        Ok(())
    }
    fn answer_callback(&self, _: &str) -> Result<(), Error> {
        self.0.answered.set(self.0.answered.get() + 1);
        Ok(())
    }
    fn schedule(&self, delay: Duration, chat: i64, payload: &[u8]) -> Result<u64, Error> {
        let id = self.0.next_timer.get() + 1;
        self.0.next_timer.set(id);
        self.0
            .timers
            .borrow_mut()
            .insert(id, (delay, chat, payload.to_vec()));
        Ok(id)
    }
    fn cancel(&self, timer: u64) -> Result<(), Error> {
        self.0.timers.borrow_mut().remove(&timer);
        Ok(())
    }
    fn now_unix_ms(&self) -> u64 {
        self.0.now.set(self.0.now.get() + 1000);
        self.0.now.get()
    }
    fn warn(&self, _: &str) {}

    fn expect_reply(&self, chat: i64, user: Option<i64>, seconds: u32) -> Result<(), Error> {
        let mut expects = self.0.expects.borrow_mut();
        if seconds == 0 {
            expects.remove(&(chat, user));
        } else {
            expects.insert((chat, user), seconds);
        }
        Ok(())
    }
}

impl Mock {
    /// Takes the texts sent so far.
    fn sent(&self) -> Vec<String> {
        self.0
            .sent
            .take()
            .into_iter()
            .map(|(_, text)| text)
            .collect()
    }
    fn pending_timers(&self) -> Vec<(u64, Duration)> {
        self.0
            .timers
            .borrow()
            .iter()
            .map(|(id, (delay, ..))| (*id, *delay))
            .collect()
    }
    /// Fires a timer (whether or not it is still pending, as a late stale one would).
    fn fire(&self, id: u64, chat: i64) -> Update {
        let payload = self
            .0
            .timers
            .borrow_mut()
            .remove(&id)
            .map(|(_, _, payload)| payload)
            .unwrap_or_else(|| {
                Key {
                    kind: b'u',
                    a: chat,
                    b: 0,
                }
                .timer_payload()
            });
        update(
            UpdateKind::Timer(TimerFired {
                id,
                chat_id: Some(chat),
                payload,
                due_unix_ms: 0,
                late_ms: 0,
            }),
            None,
            "",
        )
    }
}

use super::log::Key;

const ANN: i64 = 42;
const BOB: i64 = 43;

fn text(chat: i64, text: &str) -> Update {
    update(UpdateKind::Message(message(chat, text)), None, "")
}

fn command(chat: i64, name: &str) -> Update {
    update(
        UpdateKind::Message(message(chat, &format!("/{name}"))),
        Some(name),
        "",
    )
}

fn press(chat: i64, data: &str) -> Update {
    update(
        UpdateKind::CallbackQuery(CallbackQuery {
            id: "q".into(),
            from: user(chat, "Ann"),
            message: Some(message(chat, "pick")),
            data: data.into(),
        }),
        None,
        "",
    )
}

async fn number(d: &Dialogue, question: &str) -> Result<i64, Error> {
    let mut answer = d.ask(question).await?;
    loop {
        match answer.trim().parse() {
            Ok(n) => return Ok(n),
            Err(_) => answer = d.ask("Not a number, again please.").await?,
        }
    }
}

async fn sum(d: Dialogue) -> Result<(), Error> {
    let a = number(&d, "First number?").await?;
    let b = number(&d, "Second number?").await?;
    d.say(&format!("{a} + {b} = {}", a + b))
}

/// Like `sum` but with a button where `sum` awaits the second number.
async fn sum_with_button(d: Dialogue) -> Result<(), Error> {
    let a = number(&d, "First number?").await?;
    d.say("Pick the second")?;
    let b: i64 = d.wait_button().await.parse().unwrap_or(0);
    d.say(&format!("{a} + {b} = {}", a + b))
}

/// Like `sum` but it stops after the first number.
async fn one_number(d: Dialogue) -> Result<(), Error> {
    let a = number(&d, "First number?").await?;
    d.say(&format!("got {a}"))
}

fn registry(mock: &Mock) -> Dialogues {
    Dialogues::with_host(Box::new(mock.clone()))
        .inactivity(Duration::from_secs(60), "Timed out; send /sum again.")
        .command("sum", "Add two numbers", 1, sum)
}

fn handle(dialogues: &Dialogues, update: &Update) -> Outcome {
    dialogues
        .handle(update)
        .expect("the mock host does not fail")
}

fn feed(dialogues: &Dialogues, update: &Update) {
    let _ = handle(dialogues, update);
}

#[test]
fn the_sum_dialogue_asks_validates_answers_and_leaves_nothing_behind() {
    let mock = Mock::default();
    let d = registry(&mock);
    assert_eq!(handle(&d, &text(ANN, "hello")), Outcome::NotMine);
    assert_eq!(handle(&d, &command(ANN, "sum")), Outcome::Handled);
    assert_eq!(mock.sent(), ["First number?"]);
    // While it waits, the user's next text is declared the module's, for the inactivity time.
    let declared: Vec<_> = mock.0.expects.borrow().clone().into_iter().collect();
    assert_eq!(declared, [((ANN, Some(ANN)), 60)]);
    feed(&d, &text(ANN, "two"));
    assert_eq!(mock.sent(), ["Not a number, again please."]);
    feed(&d, &text(ANN, "2"));
    assert_eq!(mock.sent(), ["Second number?"]);
    feed(&d, &text(ANN, "3"));
    assert_eq!(mock.sent(), ["2 + 3 = 5"]);
    assert!(
        mock.0.kv.borrow().is_empty(),
        "the log is deleted at the end"
    );
    assert!(mock.pending_timers().is_empty(), "the timeout is cancelled");
    assert!(
        mock.0.expects.borrow().is_empty(),
        "the conversation is withdrawn"
    );
    assert_eq!(d.cached(), 0);
    assert_eq!(handle(&d, &text(ANN, "4")), Outcome::NotMine);
}

#[test]
fn a_fresh_instance_rebuilds_the_dialogue_by_replay_without_sending_again() {
    let mock = Mock::default();
    let first = registry(&mock);
    feed(&first, &command(ANN, "sum"));
    feed(&first, &text(ANN, "x"));
    feed(&first, &text(ANN, "20"));
    assert_eq!(
        mock.sent(),
        [
            "First number?",
            "Not a number, again please.",
            "Second number?"
        ]
    );
    drop(first); // a restart, a trap or a swap: the instance is gone
    let second = registry(&mock);
    feed(&second, &text(ANN, "22"));
    assert_eq!(mock.sent(), ["20 + 22 = 42"]);
}

#[test]
fn a_step_whose_commit_was_discarded_is_not_taken_from_the_cache() {
    let mock = Mock::default();
    let d = registry(&mock);
    feed(&d, &command(ANN, "sum"));
    mock.sent();
    // The handler runs, then its writes are discarded (it failed, or the host reruns it).
    let before = mock.0.kv.borrow().clone();
    feed(&d, &text(ANN, "5"));
    *mock.0.kv.borrow_mut() = before;
    mock.sent();
    // The cached future moved on, the store did not: the dialogue is rebuilt from the store.
    feed(&d, &text(ANN, "6"));
    assert_eq!(mock.sent(), ["Second number?"]);
    feed(&d, &text(ANN, "1"));
    assert_eq!(mock.sent(), ["6 + 1 = 7"]);
}

#[test]
fn the_inactivity_timeout_ends_the_dialogue_and_stale_timers_are_ignored() {
    let mock = Mock::default();
    let d = registry(&mock);
    feed(&d, &command(ANN, "sum"));
    let [(first_timer, delay)] = mock.pending_timers()[..] else {
        panic!("one timer: {:?}", mock.pending_timers())
    };
    assert_eq!(delay, Duration::from_secs(60));
    feed(&d, &text(ANN, "1"));
    let [(second_timer, _)] = mock.pending_timers()[..] else {
        panic!("the first timer is replaced: {:?}", mock.pending_timers())
    };
    mock.sent();
    // The first timer fires anyway (it was due while the cancel committed): ignored.
    assert_eq!(handle(&d, &mock.fire(first_timer, ANN)), Outcome::Handled);
    assert_eq!(mock.sent(), Vec::<String>::new());
    assert_eq!(handle(&d, &mock.fire(second_timer, ANN)), Outcome::Handled);
    assert_eq!(mock.sent(), ["Timed out; send /sum again."]);
    assert!(mock.0.kv.borrow().is_empty());
    assert_eq!(handle(&d, &text(ANN, "2")), Outcome::NotMine);
}

#[test]
fn an_await_with_its_own_timeout_goes_on_after_it_and_replays_it() {
    async fn patient(d: Dialogue) -> Result<(), Error> {
        d.say("Anything to add?")?;
        match d.wait_message_with_timeout(Duration::from_secs(5)).await {
            Some(text) => d.say(&format!("added {text}"))?,
            None => d.say("nothing added")?,
        }
        let last = d.ask("Last word?").await?;
        d.say(&format!("bye {last}"))
    }
    let mock = Mock::default();
    let make =
        || Dialogues::with_host(Box::new(mock.clone())).command("patient", "Wait", 1, patient);
    let d = make();
    feed(&d, &command(ANN, "patient"));
    let [(timer, delay)] = mock.pending_timers()[..] else {
        panic!()
    };
    assert_eq!(delay, Duration::from_secs(5));
    feed(&d, &mock.fire(timer, ANN));
    assert_eq!(
        mock.sent(),
        ["Anything to add?", "nothing added", "Last word?"]
    );
    assert!(
        mock.pending_timers().is_empty(),
        "no inactivity timeout is configured"
    );
    let fresh = make();
    feed(&fresh, &text(ANN, "ok"));
    assert_eq!(mock.sent(), ["bye ok"]);
}

#[test]
fn cancel_ends_the_dialogue_and_a_start_command_replaces_the_running_one() {
    let mock = Mock::default();
    let d = registry(&mock);
    assert_eq!(handle(&d, &command(ANN, "cancel")), Outcome::Handled);
    assert_eq!(mock.sent(), ["There is nothing to cancel."]);
    feed(&d, &command(ANN, "sum"));
    feed(&d, &text(ANN, "1"));
    feed(&d, &command(ANN, "sum"));
    assert_eq!(
        mock.sent(),
        ["First number?", "Second number?", "First number?"]
    );
    feed(&d, &text(ANN, "2"));
    feed(&d, &text(ANN, "3"));
    assert_eq!(mock.sent(), ["Second number?", "2 + 3 = 5"]);
    feed(&d, &command(ANN, "sum"));
    feed(&d, &command(ANN, "cancel"));
    assert_eq!(mock.sent(), ["First number?", "Cancelled."]);
    assert!(mock.0.kv.borrow().is_empty());
    assert!(mock.pending_timers().is_empty());
}

#[test]
fn inputs_of_the_wrong_kind_are_ignored_and_buttons_are_answered() {
    let mock = Mock::default();
    let d = Dialogues::with_host(Box::new(mock.clone()))
        .unexpected("Please use the buttons.")
        .command("sum", "Add", 1, sum_with_button);
    feed(&d, &command(ANN, "sum"));
    assert_eq!(handle(&d, &press(ANN, "7")), Outcome::Ignored);
    assert_eq!(mock.0.answered.get(), 1, "a press is always answered");
    feed(&d, &text(ANN, "1"));
    assert_eq!(handle(&d, &text(ANN, "2")), Outcome::Ignored);
    assert_eq!(handle(&d, &press(ANN, "2")), Outcome::Handled);
    assert_eq!(
        mock.sent(),
        [
            "First number?",
            "Please use the buttons.",
            "Pick the second",
            "Please use the buttons.",
            "1 + 2 = 3"
        ]
    );
}

#[test]
fn a_new_version_number_ends_the_dialogue_as_the_author_chose() {
    let mock = Mock::default();
    feed(&registry(&mock), &command(ANN, "sum"));
    let bumped = Dialogues::with_host(Box::new(mock.clone()))
        .on_divergence(Divergence::Tell("Updated; send /sum again.".into()))
        .command("sum", "Add", 2, sum);
    mock.sent();
    feed(&bumped, &text(ANN, "1"));
    assert_eq!(mock.sent(), ["Updated; send /sum again."]);
    assert!(mock.0.kv.borrow().is_empty());
    assert_eq!(handle(&bumped, &text(ANN, "1")), Outcome::NotMine);
}

#[test]
fn awaiting_another_kind_of_input_than_the_log_is_a_divergence_that_can_restart() {
    let mock = Mock::default();
    let d = registry(&mock);
    feed(&d, &command(ANN, "sum"));
    feed(&d, &text(ANN, "1"));
    // Ann's dialogue awaits the second number as text; the new code awaits a button there.
    feed(&d, &command(BOB, "sum"));
    mock.sent();
    let changed = Dialogues::with_host(Box::new(mock.clone()))
        .on_divergence(Divergence::Restart(Some("Starting over.".into())))
        .command("sum", "Add", 1, sum_with_button);
    feed(&changed, &text(ANN, "x"));
    assert_eq!(mock.sent(), ["Starting over.", "First number?"]);
    // Bob is still at the first question, which the new code asks the same way: no divergence.
    feed(&changed, &text(BOB, "5"));
    assert_eq!(mock.sent(), ["Pick the second"]);
}

#[test]
fn finishing_before_the_log_is_consumed_is_a_divergence() {
    let mock = Mock::default();
    let d = registry(&mock);
    feed(&d, &command(ANN, "sum"));
    feed(&d, &text(ANN, "1"));
    mock.sent();
    let shorter = Dialogues::with_host(Box::new(mock.clone()))
        .on_divergence(Divergence::Tell("Changed.".into()))
        .command("sum", "Add", 1, one_number);
    feed(&shorter, &text(ANN, "2"));
    assert_eq!(mock.sent(), ["Changed."]);
}

thread_local! {
    static CLOCK_READS: Cell<u32> = const { Cell::new(0) };
}

async fn timed(d: Dialogue) -> Result<(), Error> {
    let started = d.now_unix_ms().await;
    let name: String = d.record(|| "from the store".to_owned()).await;
    let _ = d.ask("Ready?").await?;
    let done = d.now_unix_ms().await;
    CLOCK_READS.with(|c| c.set(c.get() + 1));
    let _ = d.ask("Sure?").await?;
    d.say(&format!("{name}: {} s", (done - started) / 1000))
}

async fn timed_reordered(d: Dialogue) -> Result<(), Error> {
    let name: String = d.record(|| "from the store".to_owned()).await;
    let started = d.now_unix_ms().await;
    let _ = d.ask("Ready?").await?;
    d.say(&format!("{name} {started}"))
}

#[test]
fn recorded_values_replay_without_being_read_again_and_must_come_in_order() {
    let mock = Mock::default();
    let make = |f: fn(Dialogue) -> _| {
        Dialogues::with_host(Box::new(mock.clone()))
            .on_divergence(Divergence::Tell("Changed.".into()))
            .command("timed", "Time", 1, f)
    };
    let d = make(timed);
    feed(&d, &command(ANN, "timed"));
    feed(&d, &text(ANN, "yes"));
    let clock = mock.0.now.get();
    let fresh = make(timed);
    feed(&fresh, &text(ANN, "sure"));
    assert_eq!(mock.0.now.get(), clock, "the clock is not read on replay");
    assert_eq!(mock.sent(), ["Ready?", "Sure?", "from the store: 1 s"]);

    let d = make(timed);
    feed(&d, &command(ANN, "timed"));
    mock.sent();
    let reordered = Dialogues::with_host(Box::new(mock.clone()))
        .on_divergence(Divergence::Tell("Changed.".into()))
        .command("timed", "Time", 1, timed_reordered);
    feed(&reordered, &text(ANN, "yes"));
    assert_eq!(mock.sent(), ["Changed."]);
}

#[test]
fn the_key_decides_whose_dialogue_an_input_is() {
    const GROUP: i64 = -100;
    let in_group = |from: i64, text: &str| {
        let mut m = message(GROUP, text);
        m.from = Some(user(from, "U"));
        let command = text.strip_prefix('/');
        update(UpdateKind::Message(m), command, "")
    };
    let mock = Mock::default();
    let by_chat = registry(&mock).key(DialogueKey::Chat);
    feed(&by_chat, &in_group(ANN, "/sum"));
    feed(&by_chat, &in_group(BOB, "4"));
    feed(&by_chat, &in_group(ANN, "5"));
    assert_eq!(
        mock.sent(),
        ["First number?", "Second number?", "4 + 5 = 9"]
    );
    let mock = Mock::default();
    let by_member = registry(&mock).key(DialogueKey::UserInChat);
    feed(&by_member, &in_group(ANN, "/sum"));
    assert_eq!(handle(&by_member, &in_group(BOB, "4")), Outcome::NotMine);
    feed(&by_member, &in_group(ANN, "5"));
    assert_eq!(mock.sent(), ["First number?", "Second number?"]);
}

#[test]
fn a_suspended_dialogue_costs_bytes() {
    let mock = Mock::default();
    let d = registry(&mock);
    for user in 1..=100 {
        feed(&d, &command(user, "sum"));
        feed(&d, &text(user, "1"));
    }
    assert_eq!(d.cached(), 100);
    let running = d.running.borrow();
    let future = std::mem::size_of_val(&*running.values().next().unwrap().future);
    let entry = std::mem::size_of::<((i64, i64), Running)>();
    eprintln!("suspended `sum` future: {future} bytes; cache entry: {entry} bytes (native)");
    // On this 64-bit host; wasm32 pointers are half the size.
    assert!(future + entry < 512, "{future} + {entry}");
}
