//! A module written in Python (`example-modules/python-dice`, built with componentize-py against
//! the same WIT as the Rust modules) loads into the real runtime and answers in a chat.
//!
//! The component is built from source during the test by `scripts/build-python-module.sh`, which
//! installs the pinned componentize-py the first time (PyPI) and caches the component by a hash
//! of its sources under the target dir. Compiling its 18 MB of code (CPython) takes a debug build
//! of the host minutes, so the runtime's compiled-code cache is kept beside it too: only the first
//! run after a change of the module compiles it.

use std::{
    path::Path,
    process::{Command, Stdio},
    sync::OnceLock,
    time::Instant,
};

use crate::support::*;

/// The path of `dice.wasm`, built once per test process.
fn dice_wasm() -> &'static str {
    static DICE: OnceLock<String> = OnceLock::new();
    DICE.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("runtime/ is one level below the root");
        let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("botbox-python");
        let started = Instant::now();
        let output = Command::new("bash")
            .arg(root.join("scripts/build-python-module.sh"))
            .arg(root.join("example-modules/python-dice"))
            .arg("dice")
            .arg(&out_dir)
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/build-python-module.sh");
        assert!(
            output.status.success(),
            "building the Python module failed ({}); its errors are above",
            output.status
        );
        let path = String::from_utf8(output.stdout).expect("a UTF-8 path");
        let path = path.trim().to_string();
        let size = std::fs::metadata(&path)
            .expect("the component exists")
            .len();
        eprintln!(
            "dice.wasm: {size} bytes, built or found in {:?}",
            started.elapsed()
        );
        path
    })
}

/// A configuration for a runtime in `root` whose compiled-code cache (`<data_dir>/cache`) is one
/// shared by every run of this test, in the target dir.
fn config_with_shared_cache(root: &Path, fake: &FakeBotApi, wasm: &[&str]) -> botbox::Config {
    let c = config(root, fake, wasm);
    let shared = Path::new(env!("CARGO_TARGET_TMPDIR")).join("botbox-python/wasmtime-cache");
    std::fs::create_dir_all(&shared).expect("create the shared cache");
    std::fs::create_dir_all(&c.data_dir).expect("create the data dir");
    let cache = c.data_dir.join("cache");
    if !cache.exists() {
        std::os::unix::fs::symlink(&shared, &cache).expect("link the shared cache");
    }
    c
}

/// One `/roll` answer, `Alice rolled 2d6: 3 + 5 = 8`, taken apart: the dice it names and the
/// values that fell (checked to be in range and to add up).
fn parse_roll(text: &str, user: &str) -> (String, Vec<i64>) {
    let rest = text
        .strip_prefix(&format!("{user} rolled "))
        .unwrap_or_else(|| panic!("not a roll of {user}: {text:?}"));
    let (spec, result) = rest.split_once(": ").expect("`<spec>: <result>`");
    let (dice, sides) = spec.split_once('d').expect("`<dice>d<sides>`");
    let (dice, sides): (usize, i64) = (dice.parse().unwrap(), sides.parse().unwrap());
    let (values, total) = match result.split_once(" = ") {
        Some((values, total)) => (values, total.parse::<i64>().unwrap()),
        None => (result, result.parse::<i64>().unwrap()),
    };
    let values: Vec<i64> = values.split(" + ").map(|v| v.parse().unwrap()).collect();
    assert_eq!(values.len(), dice, "{text:?}");
    assert!(values.iter().all(|v| (1..=sides).contains(v)), "{text:?}");
    assert_eq!(values.iter().sum::<i64>(), total, "{text:?}");
    (spec.to_string(), values)
}

/// Waits until the bot has said `n` things to `user`, and returns them.
async fn bot_says(fake: &FakeBotApi, user: &TestUser, n: usize) -> Vec<String> {
    fake.wait_until(WAIT, |v| {
        v.transcript(user.id).iter().filter(|e| e.from_bot).count() >= n
    })
    .await
    .expect("the bot answers");
    bot_texts(fake, user.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_module_rolls_dice_and_keeps_each_users_stats_in_kv() {
    let dice = tokio::task::spawn_blocking(dice_wasm).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let (alice, bob) = (TestUser::alice(), TestUser::bob());

    let started = Instant::now();
    let rt = start(config_with_shared_cache(dir.path(), &fake, &[dice])).await;
    eprintln!(
        "start (compile or cache, instantiate, init): {:?}",
        started.elapsed()
    );
    let sent = Instant::now();
    fake.send_text(&alice, "/roll");
    fake.wait_for_bot_text(alice.id, "Alice rolled 1d6: ", WAIT)
        .await
        .expect("the first roll");
    eprintln!("first /roll answered after {:?}", sent.elapsed());
    for roll in ["/roll 2d6", "/roll d20", "/roll 3"] {
        fake.send_text(&alice, roll);
    }
    fake.send_text(&bob, "/stats");
    fake.send_text(&bob, "/roll 99d6");
    fake.send_text(&bob, "/roll d2");

    let rolls: Vec<_> = bot_says(&fake, &alice, 4)
        .await
        .iter()
        .map(|text| parse_roll(text, "Alice"))
        .collect();
    let specs: Vec<_> = rolls.iter().map(|(spec, _)| spec.as_str()).collect();
    assert_eq!(specs, ["1d6", "2d6", "1d20", "3d6"]);
    let bob_said = bot_says(&fake, &bob, 3).await;
    assert_eq!(bob_said[0], "Bob, you have not rolled yet: try /roll");
    assert_eq!(
        bob_said[1],
        "Usage: /roll [N]d[SIDES], e.g. /roll 2d6 or /roll d20 (at most 10 dice of 2-1000 sides)"
    );
    let (_, bob_roll) = parse_roll(&bob_said[2], "Bob");

    // The stats come from KV, each user's under keys of their own.
    let points: i64 = rolls.iter().flat_map(|(_, values)| values).sum();
    let best = rolls
        .iter()
        .map(|(_, values)| values.iter().sum::<i64>())
        .max()
        .unwrap();
    let alice_stats = format!("Alice: 4 rolls, 7 dice, {points} points, best roll {best}");
    fake.send_text(&alice, "/stats");
    fake.send_text(&bob, "/stats");
    assert_eq!(bot_says(&fake, &alice, 5).await[4], alice_stats);
    let b = bob_roll[0];
    let points = if b == 1 { "1 point" } else { "2 points" };
    let bob_stats = format!("Bob: 1 roll, 1 die, {points}, best roll {b}");
    assert_eq!(bot_says(&fake, &bob, 4).await[3], bob_stats);
    rt.stop().await;

    // A restart makes fresh instances (code from the cache); the stats are still there.
    let started = Instant::now();
    let rt = start(config_with_shared_cache(dir.path(), &fake, &[])).await;
    eprintln!("restart (cached code): {:?}", started.elapsed());
    fake.send_text(&alice, "/stats");
    assert_eq!(bot_says(&fake, &alice, 6).await[5], alice_stats);

    // A real 🎲 through the Bot API (sendDice with a dict): the module reads what fell from
    // the ticket's result when its timer fires, and answers it.
    fake.queue_dice_values([5]);
    fake.send_text(&alice, "/dice");
    fake.wait_for_bot_text(alice.id, "Alice rolled a 🎲: 5", WAIT)
        .await
        .expect("the die's value, read from Telegram's result");
    assert_eq!(fake.dice(alice.id), [("🎲".to_string(), 5)]);
    rt.stop().await;
}
