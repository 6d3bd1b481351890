//! A start that resumes updates recorded before the last stop: the replies their handling
//! queues while the start is still under way are sent once each.

use std::time::Duration;

use crate::support::*;
use botbox::{
    health::Health,
    store::{Committer, Db, Op},
};
use botbox_test_artifacts::CLICKER;

const USERS: i64 = 300;

/// The updates `fake` holds for the bot, taken as polling would (and confirmed, so that the
/// runtime's own polling finds none of them).
async fn take_updates(fake: &FakeBotApi) -> Vec<serde_json::Value> {
    let url = format!("{}bot{}/getUpdates", fake.api_url(), fake.token());
    let client = reqwest::Client::new();
    let mut updates = Vec::new();
    let mut offset = 0;
    loop {
        let got: serde_json::Value = client
            .post(&url)
            .json(&serde_json::json!({ "timeout": 0, "limit": 100, "offset": offset }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let page = got["result"].as_array().unwrap().clone();
        let Some(last) = page.last().and_then(|u| u["update_id"].as_u64()) else {
            break;
        };
        offset = last + 1;
        updates.extend(page);
    }
    updates
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_to_updates_resumed_at_start_are_sent_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let mut c = config(dir.path(), &fake, &[CLICKER]);
    c.outbox.chat_per_second = 50.0;
    c.outbox.global_per_second = 10_000;

    // A bot stopped right after recording these updates, before handling any of them.
    let users: Vec<TestUser> = (1..=USERS)
        .map(|i| TestUser::new(5000 + i, format!("U{i}")))
        .collect();
    for u in &users {
        fake.send_text(u, "/start");
    }
    let updates = take_updates(&fake).await;
    assert_eq!(updates.len(), USERS as usize);
    std::fs::create_dir_all(&c.data_dir).unwrap();
    let db = Db::open(&c.data_dir).unwrap();
    let (outbox_tx, _outbox_rx) = tokio::sync::mpsc::unbounded_channel();
    let committer =
        Committer::start(db.raw().clone(), outbox_tx, Health::default().sender()).unwrap();
    let (done, recorded) = tokio::sync::oneshot::channel();
    let records = updates
        .iter()
        .map(|u| {
            let id = u["update_id"].as_u64().unwrap();
            (id, u.to_string(), vec!["clicker".to_string()])
        })
        .collect();
    committer
        .send(Op::Record {
            updates: records,
            skipped: vec![],
            done: Some(done),
        })
        .unwrap();
    recorded.await.unwrap().unwrap();
    let thread = committer.take_thread();
    drop((committer, db));
    thread.unwrap().join().unwrap();

    // The start resumes them; their replies are committed while it goes on.
    let rt = start(c).await;
    fake.wait_until(WAIT, |v| {
        users.iter().all(|u| {
            v.transcript(u.id)
                .iter()
                .any(|e| e.text.starts_with("Hello"))
        })
    })
    .await
    .unwrap();
    // Anything sent twice would have been sent by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let twice: Vec<(i64, usize)> = users
        .iter()
        .map(|u| (u.id, bot_texts(&fake, u.id).len()))
        .filter(|(_, n)| *n != 1)
        .collect();
    assert!(
        twice.is_empty(),
        "{} of {USERS} users got other than one reply: {:?}",
        twice.len(),
        &twice[..twice.len().min(10)]
    );
    rt.stop().await;
}
