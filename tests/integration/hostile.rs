//! A hostile module runs next to the clicker and tries everything: files, environment, network,
//! the bot token, other modules' KV data, giant values, message floods, giant texts, endless
//! recursion, panics, endless loops, memory bombs and log floods. Each attack is contained and
//! reported (in the hostile module's own answer, or in its counters, quarantine and log), and
//! the clicker answers right after each one.

use std::time::Duration;

use crate::support::*;
use botbox::{Config, Runtime, modules::registry::ModuleInfo};
use botbox_test_artifacts::{CLICKER, HOSTILE};
use fake_bot_api::Limits;

/// The hostile module's KV quota (its manifest declares it).
const HOSTILE_KV_BYTES: u64 = 16 * 1024;

/// A bot token shaped like a real one, so the hostile module would recognise it.
const TOKEN: &str = "7348812345:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

/// A runtime with the clicker and the hostile module, `change`d, against `fake`.
async fn start_both(
    root: &std::path::Path,
    fake: &FakeBotApi,
    change: impl FnOnce(&mut Config),
) -> Runtime {
    let mut c = config(root, fake, &[CLICKER, HOSTILE]);
    change(&mut c);
    start(c).await
}

fn fake() -> FakeBotApi {
    FakeBotApi::start(FakeConfig {
        token: TOKEN.into(),
        ..FakeConfig::default()
    })
    .unwrap()
}

/// Sends `text` as `user` and returns the bot's next message in the user's chat.
async fn ask(fake: &FakeBotApi, user: &TestUser, text: &str) -> String {
    let before = bot_texts(fake, user.id).len();
    fake.send_text(user, text);
    fake.wait_until(WAIT, |v| {
        v.transcript(user.id).iter().filter(|e| e.from_bot).count() > before
    })
    .await
    .unwrap_or_else(|error| panic!("no answer to {text}: {error:#}"));
    bot_texts(fake, user.id).swap_remove(before)
}

/// A clicker user who clicks after every attack and must get the right count at once.
struct Bystander {
    user: TestUser,
    clicks: u32,
}

impl Bystander {
    async fn join(fake: &FakeBotApi) -> Bystander {
        let user = TestUser::alice();
        assert!(ask(fake, &user, "/start").await.contains("Hello"));
        Bystander { user, clicks: 0 }
    }

    /// Clicks and checks the clicker's answer.
    async fn still_answers(&mut self, fake: &FakeBotApi, after: &str) {
        self.clicks += 1;
        assert_eq!(
            ask(fake, &self.user, "Click").await,
            format!("Clicks: {}", self.clicks),
            "the clicker after {after}"
        );
    }
}

/// The hostile module as the admin API shows it.
fn hostile(rt: &Runtime) -> ModuleInfo {
    rt.registry().info("hostile").expect("hostile is loaded")
}

/// Waits until `check` gives something.
async fn eventually<T>(what: &str, check: impl Fn() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "never {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `condition` holds for the hostile module's info.
async fn wait_for(rt: &Runtime, what: &str, condition: impl Fn(&ModuleInfo) -> bool) -> ModuleInfo {
    eventually(what, || Some(hostile(rt)).filter(&condition)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_environment_network_and_the_bot_token_are_out_of_reach() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake();
    // A real port the module is told about: nothing may connect to it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let rt = start_both(dir.path(), &fake, |c| {
        // The module may read its own settings; the token is not among them. A decoy shaped
        // like a token shows that the module's search would find one.
        let settings = c.modules.entry("hostile".into()).or_default();
        let decoy = toml::Value::String("111:decoy-not-the-token".into());
        settings.config.insert("decoy".into(), decoy);
    })
    .await;
    let mut alice = Bystander::join(&fake).await;
    let mallory = TestUser::new(666, "Mallory");

    assert_eq!(ask(&fake, &mallory, "/files").await, "files: denied");
    alice.still_answers(&fake, "/files").await;
    assert_eq!(ask(&fake, &mallory, "/env").await, "env: 0 vars, 0 args");
    alice.still_answers(&fake, "/env").await;
    let net = ask(&fake, &mallory, &format!("/net {port}")).await;
    assert!(net.starts_with("net: denied"), "{net}");
    assert_eq!(
        listener.accept().map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::WouldBlock),
        "nothing connected to the port"
    );
    alice.still_answers(&fake, "/net").await;
    // Searched: environment, arguments, files, its config and the update; found: the decoy.
    assert_eq!(
        ask(&fake, &mallory, "/token").await,
        "token: FOUND in config decoy"
    );
    alice.still_answers(&fake, "/token").await;

    let secret = TOKEN.split(':').nth(1).unwrap();
    assert!(
        bot_texts(&fake, mallory.id)
            .iter()
            .all(|t| !t.contains(secret)),
        "the token reached the chat"
    );
    let info = hostile(&rt);
    assert_eq!((info.traps, info.errors), (0, 0), "{info:?}");
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_namespace_escapes_and_giant_values_leave_the_clickers_data_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake();
    let rt = start_both(dir.path(), &fake, |_| {}).await;
    let mut alice = Bystander::join(&fake).await;
    alice.still_answers(&fake, "nothing").await;
    alice.still_answers(&fake, "nothing").await;
    let bob = TestUser::bob();
    assert!(ask(&fake, &bob, "/start").await.contains("Hello"));
    assert_eq!(ask(&fake, &bob, "Click").await, "Clicks: 1");
    let rating = "Total: 2\n1: Alice - 2\n2: Bob - 1";
    assert_eq!(ask(&fake, &alice.user, "Rating").await, rating);

    // Reads through the clicker's keys, `../clicker/...`, NUL and the longest key find nothing;
    // the overlong key is refused; then junk is written under all of them. Twice: the second
    // run finds only its own junk.
    let mallory = TestUser::new(666, "Mallory");
    let escape = format!("/escape {} {}", alice.user.id, bob.id);
    for _ in 0..2 {
        let answer = ask(&fake, &mallory, &escape).await;
        assert!(
            answer.starts_with("escape: saw nothing of clicker (")
                && answer.ends_with("1 refused)"),
            "{answer}"
        );
    }
    assert_eq!(ask(&fake, &alice.user, "Rating").await, rating);
    alice.still_answers(&fake, "/escape").await;

    // A 2 MiB value is refused; 1000-byte values fill the quota the manifest declares, and the
    // write past it is refused.
    let big = ask(&fake, &mallory, "/bigvalue").await;
    let (value, rest) = big
        .strip_prefix("bigvalue: ")
        .and_then(|b| b.split_once("; filled "))
        .unwrap_or_else(|| panic!("{big}"));
    assert!(value.starts_with("value too large: "), "{big}");
    let (filled, usage) = rest.split_once("; usage ").unwrap();
    let (filled, error) = filled.split_once(" then ").unwrap();
    assert!(filled.parse::<u32>().unwrap() > 0, "{big}");
    assert!(error.starts_with("quota exceeded: "), "{big}");
    let (bytes, max) = usage
        .strip_suffix(" bytes")
        .unwrap()
        .split_once(" of ")
        .unwrap();
    assert_eq!(max.parse::<u64>().unwrap(), HOSTILE_KV_BYTES);
    assert!(bytes.parse::<u64>().unwrap() <= HOSTILE_KV_BYTES, "{big}");
    alice.still_answers(&fake, "/bigvalue").await;

    // The clicker's records, ranking and user counter are intact.
    let carol = TestUser::new(77, "Carol");
    assert!(ask(&fake, &carol, "/start").await.contains("Hello"));
    assert_eq!(
        ask(&fake, &carol, "Rating").await,
        "Total: 3\n1: Alice - 4\n2: Bob - 1\n3: Carol - 0"
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_flood_stops_at_100_per_update_and_a_100_kb_text_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Per-chat limits raised on both sides (in step) so 100 messages to one chat take seconds.
    let fake = FakeBotApi::start(FakeConfig {
        token: TOKEN.into(),
        limits: Limits {
            chat_burst: 50,
            global_per_second: 300,
            ..Limits::default()
        },
        ..FakeConfig::default()
    })
    .unwrap();
    let rt = start_both(dir.path(), &fake, |c| {
        c.outbox.chat_burst = 50;
        c.outbox.chat_per_second = 50.0;
        c.outbox.global_per_second = 300;
    })
    .await;
    let mut alice = Bystander::join(&fake).await;
    let mallory = TestUser::new(666, "Mallory");

    // 1000 sends in one update: the first 100 are accepted, the rest refused.
    fake.send_text(&mallory, "/flood");
    fake.wait_for_bot_text(mallory.id, "flood 100", WAIT)
        .await
        .expect("the accepted part of the flood is delivered");
    alice.still_answers(&fake, "/flood").await;
    assert_eq!(
        ask(&fake, &mallory, "/report").await,
        "flood: 100 accepted, then quota exceeded: at most 100 requests per update (broadcasts aside)"
    );
    let flood = bot_texts(&fake, mallory.id)
        .into_iter()
        .filter(|t| t.starts_with("flood "))
        .count();
    assert_eq!(flood, 100, "messages of the flood delivered");
    assert_eq!(fake.counters().too_many_requests, 0, "429s from Telegram");

    let big = ask(&fake, &mallory, "/bigtext").await;
    let refused = "invalid argument: message text has 102400 characters, Telegram allows 4096";
    assert_eq!(big, format!("bigtext: send {refused}; broadcast {refused}"));
    alice.still_answers(&fake, "/bigtext").await;
    assert!(
        bot_texts(&fake, mallory.id)
            .iter()
            .all(|t| t.chars().count() <= 4096)
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursion_panics_endless_loops_and_memory_bombs_are_stopped_quarantined_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake();
    let rt = start_both(dir.path(), &fake, |_| {}).await;
    let mut alice = Bystander::join(&fake).await;
    let mallory = TestUser::new(666, "Mallory");
    let attacks = [
        ("/recurse", "call stack exhausted"),
        ("/recurse_frames", "out of bounds memory access"),
        ("/panic", "hostile module panics on purpose"),
        ("/spin", "CPU time limit of the call exceeded"),
        ("/bomb", "forcing trap when growing memory"),
    ];
    for (n, (attack, reason)) in (1..).zip(attacks) {
        fake.send_text(&mallory, attack);
        alice.still_answers(&fake, attack).await;
        let info = wait_for(&rt, "quarantined", |i| i.quarantined == n).await;
        assert_eq!(info.traps, 2 * n, "tried max_attempts = 2 times: {info:?}");
        // Reported: the update is in quarantine with the reason.
        let (module, _, why) = eventually("in quarantine", || {
            let mut quarantined = rt.db().quarantined().unwrap();
            (quarantined.len() as u64 == n).then(|| quarantined.pop().unwrap())
        })
        .await;
        assert_eq!(module, "hostile");
        assert!(why.contains(reason), "{attack} was quarantined for: {why}");
        // The report quotes what this update's calls wrote, never an earlier update's output.
        assert_eq!(
            why.contains("panicked"),
            attack == "/panic",
            "{attack} was quarantined for: {why}"
        );
        // The module serves again from a fresh instance.
        assert_eq!(ask(&fake, &mallory, "/ping").await, "hostile alive");
    }
    let info = hostile(&rt);
    assert_eq!(info.state, "running");
    assert_eq!(info.quarantined, 5);
    let host_events = rt
        .registry()
        .logs("hostile", 1000)
        .unwrap()
        .into_iter()
        .filter(|l| l.level == "host" && l.text.contains("quarantined after 2 failed tries"))
        .count();
    assert_eq!(host_events, 5, "each quarantine is in the module's log");
    assert_eq!(
        bot_texts(&fake, mallory.id),
        ["hostile alive"; 5],
        "the attacks sent nothing"
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_flood_keeps_only_the_last_lines_and_the_bot_keeps_answering() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake();
    let rt = start_both(dir.path(), &fake, |c| {
        c.sandbox.log_lines_kept = 50;
        // 100,000 lines take about 0.2 s in a debug build of the host: room for a loaded
        // machine, so the flood itself is what is tested, not the CPU deadline.
        c.sandbox.call_timeout_ms = 5_000;
    })
    .await;
    let mut alice = Bystander::join(&fake).await;
    let mallory = TestUser::new(666, "Mallory");
    assert_eq!(
        ask(&fake, &mallory, "/logflood").await,
        "logflood: wrote 100000 lines"
    );
    alice.still_answers(&fake, "/logflood").await;
    let kept = rt.registry().logs("hostile", usize::MAX).unwrap();
    assert_eq!(kept.len(), 50, "lines kept");
    assert!(
        kept.iter()
            .all(|l| l.text.starts_with("hostile log flood line 999")),
        "the last lines are kept: {kept:?}"
    );
    assert_eq!(ask(&fake, &mallory, "/ping").await, "hostile alive");
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_breaker_stops_a_module_that_keeps_trapping_and_tells_the_operator() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake();
    let operator = TestUser::new(4242, "Operator");
    fake.open_chat(&operator);
    let rt = start_both(dir.path(), &fake, |c| {
        c.sandbox.breaker_quarantines = 2;
        c.telegram.operators = vec![operator.id];
    })
    .await;
    let mut alice = Bystander::join(&fake).await;
    let mallory = TestUser::new(666, "Mallory");
    assert_eq!(ask(&fake, &mallory, "/ping").await, "hostile alive");

    fake.send_text(&mallory, "/recurse");
    fake.send_text(&mallory, "/recurse");
    let told = fake
        .wait_for_bot_text(operator.id, "Module `hostile` was stopped", WAIT)
        .await
        .expect("the operator is told");
    assert!(
        told.text
            .starts_with("⚠️ Module `hostile` was stopped: 2 updates in a row failed")
    );
    assert!(told.text.contains("call stack exhausted"), "{}", told.text);
    let info = wait_for(&rt, "disabled", |i| i.state == "disabled").await;
    assert!(
        info.disabled_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("circuit breaker")),
        "{info:?}"
    );
    alice.still_answers(&fake, "the breaker tripped").await;

    // The stopped module no longer answers: the clicker's answer to a later update in the same
    // chat arrives, the module's never does.
    let calls = info.calls;
    fake.send_text(&mallory, "/files");
    assert!(ask(&fake, &mallory, "/start").await.contains("Hello"));
    assert_eq!(
        bot_texts(&fake, mallory.id).len(),
        2,
        "{:?}",
        bot_texts(&fake, mallory.id)
    );
    assert_eq!(hostile(&rt).calls, calls);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_modules_messages_cannot_be_edited_or_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake();
    let rt = start_both(dir.path(), &fake, |_| {}).await;
    let mut alice = Bystander::join(&fake).await;
    alice.still_answers(&fake, "joining").await;
    let target = fake
        .transcript(alice.user.id)
        .into_iter()
        .rfind(|e| e.from_bot && e.text == "Clicks: 1")
        .expect("the clicker's reply");
    let mallory = TestUser::new(666, "Mallory");
    let answer = ask(
        &fake,
        &mallory,
        &format!("/vandal {} {}", alice.user.id, target.message_id),
    )
    .await;
    assert!(
        answer.starts_with("vandal: edit ")
            && answer
                .matches("only the message of the update it handles")
                .count()
                == 2,
        "{answer}"
    );
    alice.still_answers(&fake, "/vandal").await;
    let after = fake
        .transcript(alice.user.id)
        .into_iter()
        .find(|e| e.message_id == target.message_id)
        .unwrap();
    assert_eq!(
        (after.text.as_str(), after.edits, after.deleted),
        ("Clicks: 1", 0, false)
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_cannot_make_the_host_hold_gigabytes_nor_misuse_chat_0_or_interactive_broadcasts()
{
    let dir = tempfile::tempdir().unwrap();
    let fake = fake();
    let rt = start_both(dir.path(), &fake, |_| {}).await;
    let mut alice = Bystander::join(&fake).await;
    let mallory = TestUser::new(666, "Mallory");

    let hoard = ask(&fake, &mallory, "/hoard").await;
    let parts: Vec<&str> = hoard.split("; ").collect();
    assert_eq!(
        parts[0],
        "hoard: url invalid argument: button URL has 1048596 bytes, at most 2048"
    );
    assert_eq!(parts[1], "chat0 invalid argument: chat id 0 is no chat");
    // 10,000 copies of 8 KiB of text and a 100-button keyboard: over the call's 16 MiB.
    assert!(
        parts[2].starts_with("broadcasts 0 accepted, then") && parts[2].contains("16 MiB"),
        "{hoard}"
    );
    assert_eq!(
        parts[3],
        "priority invalid argument: a broadcast cannot be interactive: use normal or bulk priority"
    );
    alice.still_answers(&fake, "/hoard").await;
    assert_eq!(
        bot_texts(&fake, mallory.id),
        [hoard],
        "nothing else was queued"
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_reads_and_deletes_in_one_call_are_refused_before_the_host_holds_gigabytes() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake();
    // CPU enough to read far past the bound.
    let rt = start_both(dir.path(), &fake, |c| c.sandbox.call_timeout_ms = 5_000).await;
    let mut alice = Bystander::join(&fake).await;
    let mallory = TestUser::new(666, "Mallory");
    let answer = ask(&fake, &mallory, "/readloop").await;
    let refused =
        "quota exceeded: one call may read, scan and write at most 64 MiB of keys and values";
    // 64 MiB of 1 KiB keys: 65,536 reads; the deletes each read and write their key.
    assert_eq!(
        answer,
        format!("readloop: 65536 reads, then {refused}; 0 deletes, then {refused}")
    );
    alice.still_answers(&fake, "/readloop").await;
    rt.stop().await;
}
