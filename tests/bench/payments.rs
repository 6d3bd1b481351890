//! How fast pre-checkout queries are answered while a 10,000-chat broadcast drains. Telegram
//! fails a payment whose query is not answered within 10 s; the module's answer leaves on the
//! fast lane (right after the update's commit, ahead of every queue). Goal: p99 < 1 s.
//!
//! The `api-probe` test module sends a 10-star invoice (`/invoice approve`) and approves every
//! pre-checkout query for it; its `/bcast 10000` queues one sendPhoto to chats 1001..=11000 at
//! bulk priority. The runtime and the fake Bot API (at Telegram's limits: 30 messages a second)
//! run in this process. A buyer presses Pay 200 times, 20 a second, first with nothing else
//! going on, then while the broadcast drains; each latency is from the query's update being
//! queued at the fake to the fake receiving the answer. Prints one JSON object; never fails on
//! speed.
//!
//! Run: `cargo bench -p botbox --bench payments` (release build; about 30 s).

mod broadcasting;
mod latency;
mod support;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use fake_bot_api::{ChatEvent, CheckoutOutcome, FakeBotApi, TestUser};
use serde_json::json;

/// Payments per phase.
const PAYMENTS: usize = 200;
/// The pause between two presses of Pay.
const EVERY: Duration = Duration::from_millis(50);

/// Query id → when its answer reached the fake, and whether it approved.
type Answered = Arc<Mutex<HashMap<String, (Instant, bool)>>>;

/// Presses Pay `PAYMENTS` times; returns each answer's latency (ms, sorted) and the approvals.
async fn pay_many(
    fake: &FakeBotApi,
    buyer: &TestUser,
    invoice: i64,
    answered: &Answered,
) -> (Vec<f64>, usize) {
    let mut asked = Vec::new();
    for _ in 0..PAYMENTS {
        let at = Instant::now();
        let id = fake
            .pay(buyer, buyer.id, invoice)
            .expect("an invoice to pay");
        asked.push((id, at));
        tokio::time::sleep(EVERY).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while answered.lock().unwrap().len() < asked.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answered = std::mem::take(&mut *answered.lock().unwrap());
    let mut approved = 0;
    let mut latencies: Vec<f64> = asked
        .iter()
        .filter_map(|(id, at)| {
            let (done, ok) = answered.get(id)?;
            approved += usize::from(*ok);
            Some((*done - *at).as_secs_f64() * 1e3)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    (latencies, approved)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bench = broadcasting::start().await;
    let fake = &bench.fake;
    let buyer = TestUser::new(2, "Buyer");
    let answered: Answered = Arc::default();
    let mut events = fake.subscribe();
    let recorder = answered.clone();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let ChatEvent::CheckoutAnswered {
                query_id, outcome, ..
            } = event
            {
                let ok = matches!(outcome, CheckoutOutcome::Approved { .. });
                recorder
                    .lock()
                    .unwrap()
                    .insert(query_id, (Instant::now(), ok));
            }
        }
    });
    fake.send_text(&buyer, "/invoice approve");
    let started = Instant::now();
    let invoice = loop {
        if let Some((id, _)) = fake.newest_invoice(buyer.id) {
            break id;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the probe's invoice"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };

    let (idle, idle_ok) = pay_many(fake, &buyer, invoice, &answered).await;
    let ((busy, busy_ok), broadcast) = bench
        .while_broadcasting(pay_many(fake, &buyer, invoice, &answered))
        .await;
    println!(
        "{}",
        json!({
            "bench": "payments",
            "payments_per_phase": PAYMENTS,
            "pay_every_ms": EVERY.as_millis(),
            "idle": latency::summary(&idle),
            "idle_approved": idle_ok,
            "during_broadcast": latency::summary(&busy),
            "during_broadcast_approved": busy_ok,
            "broadcast": broadcast,
            "too_many_requests": fake.counters().too_many_requests,
            "goal_p99_ms": 1000,
        })
    );
    bench.runtime.stop().await;
}
