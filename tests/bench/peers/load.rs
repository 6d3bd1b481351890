//! What every contestant of the peers bench goes through, against a fake Bot API of its own:
//! registration (every user sends `/start`), saturation (a backlog of Clicks and Ratings queued
//! at once, timed until the last reply), then a steady load of `rate` updates a second with the
//! latency of each reply. Each phase checks every answer against what botbox's clicker says; a
//! wrong, missing or repeated answer ends the contestant's run with the reason.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use fake_bot_api::{ChatEvent, FakeBotApi, Markup, TestUser};
use parking_lot::Mutex;

/// The rating's length, as in the clicker.
const TOP: usize = 15;

/// The users of one run and what each has sent so far.
pub struct Users {
    pub people: Vec<TestUser>,
    /// Per user: the Clicks and the Ratings sent after `/start`.
    clicks: Vec<u64>,
    ratings: Vec<u64>,
}

impl Users {
    /// `count` users with ids from `first`, named `P0`, `P1`, ...
    pub fn new(first: i64, count: usize) -> Self {
        let people = (0..count)
            .map(|i| TestUser::new(first + i as i64, format!("P{i}")))
            .collect();
        Self {
            people,
            clicks: vec![0; count],
            ratings: vec![0; count],
        }
    }

    /// The user's `n`-th message after `/start` (from 0): every tenth is Rating.
    fn next_text(&mut self, i: usize) -> (&'static str, u64) {
        let n = self.clicks[i] + self.ratings[i];
        if n % 10 == 9 {
            self.ratings[i] += 1;
            ("Rating", u64::MAX - self.ratings[i])
        } else {
            self.clicks[i] += 1;
            ("Click", self.clicks[i])
        }
    }
}

/// Every user sends `/start`; checks each greeting and its keyboard.
pub async fn register(fake: &FakeBotApi, users: &Users, timeout: Duration) -> Result<(), String> {
    for user in &users.people {
        fake.send_text(user, "/start");
    }
    let want = users.people.len() as u64;
    wait_for_sends(fake, want, timeout).await?;
    for user in &users.people {
        let texts = fake.bot_texts(user.id);
        let hello = format!(
            "Hello, {}! Press Click to count, Rating to see the best.",
            user.first_name
        );
        if texts != [hello.clone()] {
            return Err(format!("{}: wanted [{hello:?}], got {texts:?}", user.id));
        }
        match fake.last_bot_message(user.id).and_then(|m| m.reply_markup) {
            Some(Markup::Keyboard(k))
                if k.rows == [["Click", "Rating"]] && k.resize && !k.one_time => {}
            other => return Err(format!("{}: the keyboard is {other:?}", user.id)),
        }
    }
    Ok(())
}

/// Queues `per_user` messages from every user at once (round robin); returns the updates
/// answered per second, from the first queued to the last answer.
pub async fn saturate(
    fake: &FakeBotApi,
    users: &mut Users,
    per_user: usize,
    timeout: Duration,
) -> Result<f64, String> {
    let before = fake.counters().sends;
    let total = per_user * users.people.len();
    let started = Instant::now();
    for _ in 0..per_user {
        for i in 0..users.people.len() {
            let (text, _) = users.next_text(i);
            fake.send_text(&users.people[i], text);
        }
    }
    wait_for_sends(fake, before + total as u64, timeout).await?;
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// What the steady phase measured: every reply's latency (ms, sorted) and the rate it fed.
pub struct Steady {
    pub latencies_ms: Vec<f64>,
    pub fed_per_second: f64,
}

/// `rate` updates a second for `seconds` (ten every 10 ms, round robin over the users); each
/// reply is matched to the message it answers; `sample` runs every 200 ms (the RSS).
pub async fn steady(
    fake: &FakeBotApi,
    users: &mut Users,
    rate: u64,
    seconds: u64,
    timeout: Duration,
    mut sample: impl FnMut(),
) -> Result<Steady, String> {
    let sent: Arc<Mutex<HashMap<(i64, u64), Instant>>> = Arc::default();
    let mut events = fake.subscribe();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    // Ratings are told apart by their number per user, counted from those already answered.
    let mut ratings: HashMap<i64, u64> = users
        .people
        .iter()
        .zip(&users.ratings)
        .map(|(user, &r)| (user.id, r))
        .collect();
    let collector = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let event = tokio::select! {
                    event = events.recv() => event,
                    _ = stopped.wait_for(|stop| *stop) => break,
                };
                let (chat_id, entry) = match event {
                    Ok(ChatEvent::BotSent { chat_id, entry }) => (chat_id, entry),
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        eprintln!("peers: the latency collector missed {n} replies");
                        continue;
                    }
                    Err(_) => break,
                };
                let arrived = Instant::now();
                let tag = if entry.text.starts_with("Total: ") {
                    let r = ratings.entry(chat_id).or_default();
                    *r += 1;
                    u64::MAX - *r
                } else {
                    match entry
                        .text
                        .strip_prefix("Clicks: ")
                        .and_then(|n| n.parse().ok())
                    {
                        Some(n) => n,
                        None => continue,
                    }
                };
                if let Some(t) = sent.lock().remove(&(chat_id, tag)) {
                    latencies.push((arrived - t).as_secs_f64() * 1e3);
                }
            }
            latencies
        })
    };
    let before = fake.counters().sends;
    let total = rate * seconds;
    let per_tick = (rate / 100).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut last_sample = started;
    let (mut queued, mut next) = (0, 0);
    while queued < total {
        tick.tick().await;
        for _ in 0..per_tick.min(total - queued) {
            let i = next % users.people.len();
            next += 1;
            let (text, tag) = users.next_text(i);
            let user = &users.people[i];
            sent.lock().insert((user.id, tag), Instant::now());
            fake.send_text(user, text);
            queued += 1;
        }
        if last_sample.elapsed() >= Duration::from_millis(200) {
            last_sample = Instant::now();
            sample();
        }
    }
    let fed_per_second = total as f64 / started.elapsed().as_secs_f64();
    let drained = wait_for_sends(fake, before + total, timeout).await;
    // Replies still travelling to the collector: a moment, then end it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send_replace(true);
    let mut latencies_ms = collector.await.expect("the collector");
    drained?;
    latencies_ms.sort_by(f64::total_cmp);
    Ok(Steady {
        latencies_ms,
        fed_per_second,
    })
}

/// Waits until the fake counted `sends` messages from the bot.
async fn wait_for_sends(fake: &FakeBotApi, sends: u64, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let now = fake.counters().sends;
        if now >= sends {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{now} of {sends} messages sent within {timeout:?} ({} updates not fetched)",
                fake.pending_updates()
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Checks every chat against what its user sent: one greeting, each Click answered once with
/// its count, each Rating with `Total: <users>` and a well-formed top, nothing more.
pub fn verify(fake: &FakeBotApi, users: &Users) -> Result<(), String> {
    let total = users.people.len();
    for (i, user) in users.people.iter().enumerate() {
        let texts = fake.bot_texts(user.id);
        let mut clicks = Vec::new();
        let mut ratings = 0;
        for text in texts.iter().skip(1) {
            if let Some(n) = text.strip_prefix("Clicks: ") {
                clicks.push(n.parse::<u64>().map_err(|_| format!("{text:?}"))?);
            } else if text.starts_with("Total: ") {
                check_rating(text, total).map_err(|e| format!("{}: {e} in {text:?}", user.id))?;
                ratings += 1;
            } else {
                return Err(format!("{}: unexpected {text:?}", user.id));
            }
        }
        clicks.sort_unstable();
        let want: Vec<u64> = (1..=users.clicks[i]).collect();
        if clicks != want || ratings != users.ratings[i] {
            return Err(format!(
                "{}: wanted Clicks 1..={} and {} ratings, got {clicks:?} and {ratings}",
                user.id, users.clicks[i], users.ratings[i]
            ));
        }
    }
    Ok(())
}

/// `Total: N` then up to `TOP` lines `i: name - clicks`, clicks not increasing.
fn check_rating(text: &str, users: usize) -> Result<(), String> {
    let mut lines = text.lines();
    if lines.next() != Some(&format!("Total: {users}")) {
        return Err("a wrong total".into());
    }
    let mut previous = u64::MAX;
    let mut places = 0;
    for (place, line) in lines.enumerate() {
        let rest = line
            .strip_prefix(&format!("{}: P", place + 1))
            .ok_or("a wrong place or name")?;
        let (_, clicks) = rest.split_once(" - ").ok_or("no ' - '")?;
        let clicks: u64 = clicks.parse().map_err(|_| "clicks not a number")?;
        if clicks > previous {
            return Err("not sorted".into());
        }
        previous = clicks;
        places += 1;
    }
    if places != TOP.min(users) {
        return Err(format!("{places} places"));
    }
    Ok(())
}
