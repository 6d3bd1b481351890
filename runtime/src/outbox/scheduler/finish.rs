//! What the scheduler does with a request's outcome: commit, wait out a 429, back off, give up,
//! follow a migration. Each outcome changes one chat, which is filed again.

use std::time::{Duration, Instant};

use rand::Rng;

use super::{ChatQueue, Deps, Finished, Outcome, Scheduler, slot};

impl Scheduler {
    /// Records the end of a request and files its chat again.
    pub(super) fn finish(&mut self, deps: &Deps, f: Finished) {
        self.in_flight -= 1;
        // An answer to a button press is done whatever its outcome.
        if matches!(f.outcome, Outcome::Done) || f.chat_id == 0 {
            self.seqs.finished(f.seq, Instant::now());
        }
        if let Some((ticket, id)) = f.delivered {
            if self.message_ids.len() >= 100_000 {
                self.message_ids.clear();
            }
            self.message_ids.insert(ticket, id);
        }
        if f.chat_id == 0 {
            self.depth[0] = self.depth[0].saturating_sub(1);
            return;
        }
        let now = Instant::now();
        let Some(c) = self.chats.get_mut(&f.chat_id) else {
            return;
        };
        c.busy = false;
        if let Some(paid) = c.limited_in_flight.take() {
            c.window.settle(now);
            if let Some(g) = &mut c.group {
                g.settle(now);
            }
            match &mut self.paid {
                Some(p) if paid => p.settle(now),
                _ => self.global.settle(now),
            }
        }
        let mut refile = f.chat_id;
        match f.outcome {
            Outcome::Done => {
                c.failures = 0;
                c.failing_since = None;
                if c.queue.front().is_some_and(|(s, _)| *s == f.seq)
                    && let Some((_, e)) = c.queue.pop_front()
                {
                    self.depth[slot(e.priority)] -= 1;
                    deps.queued.remove(&e.module, e.payload_bytes());
                }
            }
            Outcome::RetryAfter(d) => {
                deps.stats.count(&deps.stats.rate_limited);
                c.blocked_until = Some(now + d);
                // Two chats limited within a second: the limit is the bot's, not the chat's.
                if let Some((at, other)) = self.last_429
                    && other != f.chat_id
                    && now.duration_since(at) < Duration::from_secs(1)
                {
                    tracing::warn!(retry_after = ?d, "Telegram limits the whole bot; every chat waits");
                    self.global_blocked_until = Some(now + d);
                }
                self.last_429 = Some((now, f.chat_id));
            }
            Outcome::Transient(err) => {
                tracing::debug!(chat = f.chat_id, error = %err, tries = c.failures + 1, "a send failed; trying again");
                c.failures += 1;
                let since = *c.failing_since.get_or_insert(now);
                let retry_for = Duration::from_secs(self.cfg.retry_for_secs);
                if now.duration_since(since) >= retry_for {
                    tracing::warn!(chat = f.chat_id, error = %err, tries = c.failures, "giving up a message: it failed for {retry_for:?}");
                    c.failures = 0;
                    c.failing_since = None;
                    if let Some((seq, e)) = c.queue.pop_front() {
                        self.give_up(deps, seq, &e, &err);
                    }
                } else {
                    // 0.5 s, 1 s, 2 s ... capped at retry_max_backoff_ms, with ±25% jitter.
                    let cap = self.cfg.retry_max_backoff_ms.max(1);
                    let base = (500u64 << c.failures.min(7)).min(cap) as f64;
                    let jitter = rand::rng().random_range(0.75..1.25);
                    c.blocked_until = Some(now + Duration::from_millis((base * jitter) as u64));
                }
            }
            Outcome::Blocked(err) => {
                tracing::info!(
                    chat = f.chat_id,
                    "chat unreachable ({err}); dropping its pending messages"
                );
                deps.blocked.lock().insert(f.chat_id);
                let pending: Vec<_> = c.queue.drain(..).collect();
                for (seq, e) in pending {
                    self.give_up(deps, seq, &e, &err);
                }
            }
            Outcome::Migrated(new) => {
                tracing::info!(
                    old = f.chat_id,
                    new,
                    "group became a supergroup; its messages follow it"
                );
                self.migrated.insert(f.chat_id, new);
                let old = self.chats.remove(&f.chat_id).expect("looked up above");
                self.ready.remove(f.chat_id);
                let target = self
                    .chats
                    .entry(new)
                    .or_insert_with(|| ChatQueue::new(&self.cfg, new, now));
                for (seq, mut e) in old.queue.into_iter().rev() {
                    e.chat_id = new;
                    target.queue.push_front((seq, e));
                }
                refile = new;
            }
        }
        self.refile(refile, now);
    }
}
