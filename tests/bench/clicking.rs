//! People pressing Click in the clicker while a broadcast drains (the outbox and wide_broadcast
//! benches): each sends `/start`, then Click at a steady pace whether or not the bot has
//! answered yet (people do not wait in step), and each reply is matched to what it answers.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use fake_bot_api::{FakeBotApi, TestUser};
use parking_lot::Mutex;
use tokio::sync::watch;

/// The user's message a reply answers: 0 for `/start`, N for the N-th Click.
pub fn answers(reply: &str) -> Option<u64> {
    if reply.starts_with("Hello") || reply.starts_with("Welcome") {
        return Some(0);
    }
    reply.strip_prefix("Clicks: ")?.parse().ok()
}

/// When each user's message was written: (chat, 0 for `/start` or N for the N-th Click).
pub type Sent = Arc<Mutex<HashMap<(i64, u64), Instant>>>;

/// Makes each of `users` send `/start`, then Click every `every` (their phases spread over that
/// period), until `stop` is set.
pub fn chat_along(
    fake: &FakeBotApi,
    users: Vec<TestUser>,
    every: Duration,
    stop: &watch::Receiver<bool>,
) -> (Sent, Vec<tokio::task::JoinHandle<()>>) {
    let sent: Sent = Arc::default();
    let count = u32::try_from(users.len()).expect("few users");
    let tasks = users
        .into_iter()
        .enumerate()
        .map(|(i, user)| {
            let (fake, sent, mut stop) = (fake.clone(), sent.clone(), stop.clone());
            let phase = every * u32::try_from(i).expect("few users") / count;
            tokio::spawn(async move {
                let start = tokio::time::Instant::now() + phase;
                for n in 0_u32.. {
                    tokio::select! {
                        _ = tokio::time::sleep_until(start + every * n) => {}
                        _ = stop.wait_for(|stop| *stop) => break,
                    }
                    sent.lock().insert((user.id, u64::from(n)), Instant::now());
                    fake.send_text(&user, if n == 0 { "/start" } else { "Click" });
                }
            })
        })
        .collect();
    (sent, tasks)
}
