//! The web console in a real browser (headless chromium through chromedriver) against a
//! running bot and the fake Bot API: logging in and out, every page with data, swapping a
//! module by upload while users click, rolling back, editing a value the bot then uses,
//! retrying a quarantined update; and requests without the session or its CSRF token refused.

mod browser;
mod refusals;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use crate::support::*;
use botbox::{Runtime, config::Secret};
use botbox_test_artifacts::{BAD_TRAP, BROADCASTER, CLICKER, CLICKER_BROKEN, CLICKER_V2};
use browser::Browser;

const TOKEN: &str = "console-test-admin-token-0123456789";

/// A running bot with `wasm` modules, its fake Bot API, and the console's address.
struct Running {
    rt: Runtime,
    fake: FakeBotApi,
    base: String,
    _dir: tempfile::TempDir,
}

async fn running(wasm: &[&str]) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let mut c = config(dir.path(), &fake, wasm);
    c.admin.token = Secret::new(TOKEN);
    let data = c.data_dir.clone();
    let rt = start(c).await;
    let addr = std::fs::read_to_string(data.join("admin.addr")).expect("admin.addr");
    Running {
        rt,
        fake,
        base: format!("http://{}", addr.trim()),
        _dir: dir,
    }
}

/// Users who press Click over and over, each waiting for the answer to the last press, until
/// stopped; returns how many presses each made (all answered).
fn keep_clicking(
    fake: &FakeBotApi,
    users: Vec<TestUser>,
) -> (Arc<AtomicBool>, tokio::task::JoinHandle<Vec<usize>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (fake, flag) = (fake.clone(), stop.clone());
    let task = tokio::spawn(async move {
        let mut pressed = vec![0usize; users.len()];
        while !flag.load(Ordering::Relaxed) {
            for (i, u) in users.iter().enumerate() {
                let before = answers(&fake, u.id);
                fake.send_text(u, "Click");
                pressed[i] += 1;
                fake.wait_until(WAIT, |v| {
                    v.transcript(u.id)
                        .iter()
                        .filter(|e| e.from_bot && e.text.starts_with("Clicks"))
                        .count()
                        > before
                })
                .await
                .unwrap_or_else(|_| panic!("click {} of user {} not answered", pressed[i], u.id));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        pressed
    });
    (stop, task)
}

/// How many "Clicks…" answers `chat` has.
fn answers(fake: &FakeBotApi, chat: i64) -> usize {
    bot_texts(fake, chat)
        .iter()
        .filter(|t| t.starts_with("Clicks"))
        .count()
}

async fn register(fake: &FakeBotApi, users: &[TestUser]) {
    for u in users {
        send_expecting(fake, u, "/start", "Hello").await;
    }
}

fn users(first: i64, n: i64) -> Vec<TestUser> {
    (first..first + n)
        .map(|id| TestUser::new(id, format!("U{id}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_logs_in_sees_every_page_with_data_and_is_refused_after_logging_out() {
    let bot = running(&[CLICKER, BROADCASTER, BAD_TRAP]).await;
    let people = users(100, 3);
    register(&bot.fake, &people).await;
    let (stop, clicking) = keep_clicking(&bot.fake, people.clone());
    // A broadcast to 10 chats that exist and 10 that do not: progress and Telegram's reason.
    let admin = TestUser::new(99, "Admin");
    bot.fake
        .open_chats((7_000_000..7_000_010).map(|id| TestUser::new(id, format!("R{id}"))));
    send_expecting(&bot.fake, &admin, "/broadcast 7000000 20 news", "queued 20").await;
    // An update a module gives up on.
    bot.fake.send_text(&admin, "/trap");

    let b = Browser::start(&bot.base).await;
    b.open("/console").await;
    assert_eq!(
        b.path().await,
        "/console/login",
        "no session: the login page"
    );
    b.find("#token")
        .await
        .send_keys("not-the-token")
        .await
        .unwrap();
    b.find("#login").await.click().await.unwrap();
    b.wait_for_text("p.error", "not the admin token").await;
    b.log_in(TOKEN).await;

    // Overview: charts with data (clicks flow while it renders). "Now" is the time since the
    // last sample, which can be a moment with no click on a loaded machine: the operator
    // reloads, and sees the clicks within a few tries.
    let (mut label, mut per_s) = (String::new(), 0.0_f64);
    for _ in 0..40 {
        let updates = b.find("#charts figure.chart svg").await;
        label = updates
            .attr("aria-label")
            .await
            .unwrap()
            .unwrap_or_default();
        per_s = label
            .rsplit("updates ")
            .next()
            .and_then(|v| v.trim_end_matches("/s").parse().ok())
            .unwrap_or_else(|| panic!("no rate in {label:?}"));
        if per_s > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        b.open("/console").await;
    }
    assert!(per_s > 0.0, "the updates chart shows the clicks: {label}");
    assert!(
        b.all("#charts svg").await.len() >= 4,
        "one chart per figure"
    );
    assert!(
        !b.all("#charts svg polyline, #charts svg circle")
            .await
            .is_empty()
    );
    b.shoot("overview").await;

    b.open("/console/modules").await;
    for name in ["clicker", "broadcaster", "bad-trap"] {
        b.find(&format!("#modules tr[data-module=\"{name}\"]"))
            .await;
    }
    b.shoot("modules").await;

    // The module's page: its live log shows what the host did with /trap.
    b.open("/console/modules/bad-trap").await;
    b.wait_for_text("#live-log", "quarantined").await;
    b.shoot("module").await;

    b.open("/console/data/clicker?prefix=user%2F").await;
    assert_eq!(
        b.all("#entries tbody tr[data-key]").await.len(),
        3,
        "one record per user"
    );
    assert!(
        b.text("#entries").await.contains("\"clicks\""),
        "values shown as JSON"
    );
    b.shoot("data").await;

    b.open("/console/outbox").await;
    let progress = b.find("#broadcast-list progress").await;
    assert_eq!(progress.attr("max").await.unwrap().as_deref(), Some("20"));
    b.wait_for_text("#broadcast-list", "10 delivered, 10 given up")
        .await;
    b.open("/console/outbox").await;
    assert!(
        b.text("#failed-tickets").await.contains("chat not found"),
        "Telegram's reason"
    );
    b.shoot("outbox").await;

    b.open("/console/quarantine").await;
    let q = b.text("#quarantined").await;
    assert!(q.contains("bad-trap") && q.contains("/trap"), "{q}");
    b.shoot("quarantine").await;

    b.open("/console/backups").await;
    b.press("/console/backups").await;
    b.wait_for_text("p.notice", "backup written").await;
    assert_eq!(b.all("#backups tbody tr a[download]").await.len(), 1);
    b.shoot("backups").await;

    // A phone's screen: the overview still fits.
    b.client.set_window_size(390, 844).await.unwrap();
    b.open("/console").await;
    let overflow = b
        .client
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth + 1;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        overflow,
        serde_json::json!(false),
        "no sideways scrolling on a phone"
    );
    b.shoot("overview-phone").await;

    // Log out: the session is over, in this browser and for its cookie anywhere.
    let cookie = b
        .client
        .get_named_cookie("botbox_console")
        .await
        .unwrap()
        .value()
        .to_string();
    b.press("/console/logout").await;
    b.find("#token").await;
    b.open("/console/modules").await;
    assert_eq!(b.path().await, "/console/login");
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/console", bot.base))
        .header("cookie", format!("botbox_console={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        replay.status(),
        303,
        "an ended session's cookie opens nothing"
    );
    b.close().await;

    stop.store(true, Ordering::Relaxed);
    clicking.await.unwrap();
    bot.rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_swapped_by_upload_while_users_click_keeps_answering_and_rolls_back() {
    let bot = running(&[CLICKER]).await;
    let people = users(200, 3);
    register(&bot.fake, &people).await;
    let (stop, clicking) = keep_clicking(&bot.fake, people.clone());

    let b = Browser::start(&bot.base).await;
    b.log_in(TOKEN).await;
    b.open("/console/modules").await;
    // A version whose init fails is refused, with the reason in words, and nothing changes.
    b.find("#wasm")
        .await
        .send_keys(CLICKER_BROKEN)
        .await
        .unwrap();
    let refused = b.wait_for_text("#upload-result.error", "clicker").await;
    println!("refusal shown: {refused}");
    assert_eq!(
        b.text("#modules tr[data-module=\"clicker\"] .version")
            .await,
        "0.1.0"
    );

    b.open("/console/modules").await;
    b.find("#wasm").await.send_keys(CLICKER_V2).await.unwrap();
    b.wait_for_text("p.notice", "clicker 2.0.0 swapped").await;
    assert_eq!(
        b.text("#modules tr[data-module=\"clicker\"] .version")
            .await,
        "2.0.0"
    );
    b.shoot("modules-after-upload").await;
    for u in &people {
        bot.fake
            .wait_for_bot_text(u.id, "Clicks (v2)", WAIT)
            .await
            .expect("v2 answers");
    }

    b.open("/console/modules/clicker").await;
    b.press("/console/modules/clicker/rollback").await;
    b.wait_for_text("p.notice", "back to version 0.1.0").await;
    assert_eq!(b.text("#version").await, "0.1.0");
    let after_rollback: Vec<usize> = people.iter().map(|u| answers(&bot.fake, u.id)).collect();
    for (u, n) in people.iter().zip(&after_rollback) {
        bot.fake
            .wait_until(WAIT, |v| {
                v.transcript(u.id)
                    .iter()
                    .filter(|e| e.from_bot && e.text.starts_with("Clicks:"))
                    .count()
                    > 0
                    && v.transcript(u.id)
                        .iter()
                        .filter(|e| e.from_bot && e.text.starts_with("Clicks"))
                        .count()
                        > *n
            })
            .await
            .expect("answers after the rollback");
    }
    b.close().await;

    stop.store(true, Ordering::Relaxed);
    let pressed = clicking.await.unwrap();
    for (u, n) in people.iter().zip(&pressed) {
        let texts = bot_texts(&bot.fake, u.id);
        let counts: Vec<u64> = texts
            .iter()
            .filter_map(|t| {
                t.rsplit(": ")
                    .next()
                    .filter(|_| t.starts_with("Clicks"))?
                    .parse()
                    .ok()
            })
            .collect();
        assert_eq!(counts.len(), *n, "every press answered once");
        assert_eq!(
            counts,
            (1..=*n as u64).collect::<Vec<_>>(),
            "no click lost or counted twice across the swap and the rollback"
        );
    }
    bot.rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_edits_a_value_the_bot_then_uses_and_retries_a_quarantined_update() {
    let bot = running(&[CLICKER, BAD_TRAP]).await;
    let ann = TestUser::new(300, "Ann");
    send_expecting(&bot.fake, &ann, "/start", "Hello").await;
    send_expecting(&bot.fake, &ann, "Click", "Clicks: 1").await;
    bot.fake.send_text(&ann, "/flaky");

    let b = Browser::start(&bot.base).await;
    b.log_in(TOKEN).await;

    // Edit Ann's record: the bot counts on from the edited value.
    b.open("/console/data/clicker?prefix=user%2F").await;
    b.find("#entries tbody tr[data-key] td.actions a")
        .await
        .click()
        .await
        .unwrap();
    let value = b.find("#value").await;
    let old = value.prop("value").await.unwrap().unwrap_or_default();
    assert!(old.contains("\"clicks\":1"), "{old}");
    value.clear().await.unwrap();
    value
        .send_keys(&old.replace("\"clicks\":1", "\"clicks\":1000"))
        .await
        .unwrap();
    b.find("#save").await.click().await.unwrap();
    b.wait_for_text("p.notice", "saved").await;
    send_expecting(&bot.fake, &ann, "Click", "Clicks: 1001").await;

    // The /flaky update waits in quarantine with its JSON and the error.
    b.open("/console/quarantine").await;
    let mut shown = String::new();
    for _ in 0..100 {
        b.open("/console/quarantine").await;
        shown = b.text("main").await;
        if shown.contains("bad-trap") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(shown.contains("bad-trap"), "{shown}");
    b.find("#quarantined details summary")
        .await
        .click()
        .await
        .unwrap();
    let json = b.text("#quarantined pre.json").await;
    assert!(json.contains("/flaky"), "the update's JSON: {json}");
    assert!(b.text("#quarantined .error-text").await.contains("panic") || shown.contains("trap"));

    // Repair what it needs (a key in its data), then retry: it is handled.
    b.open("/console/data/bad-trap").await;
    b.find("#key").await.send_keys("fixed").await.unwrap();
    b.find("#value").await.send_keys("yes").await.unwrap();
    b.find("#save").await.click().await.unwrap();
    b.wait_for_text("p.notice", "saved").await;
    b.open("/console/quarantine").await;
    let id = b
        .find("#quarantined li")
        .await
        .attr("data-update")
        .await
        .unwrap()
        .unwrap();
    b.press(&format!("/console/quarantine/bad-trap/{id}/retry"))
        .await;
    b.wait_for_text("p.notice", "handed back").await;
    bot.fake
        .wait_for_bot_text(ann.id, "flaky handled", WAIT)
        .await
        .expect("the retried update is handled");
    b.open("/console/quarantine").await;
    b.find("#none").await;
    b.close().await;
    bot.rt.stop().await;
}
