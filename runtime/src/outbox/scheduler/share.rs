//! This node's share of the bot when several nodes serve it on PostgreSQL (issue 19): the chats
//! of the partitions it holds, and its part of the bot-wide rate limits.
//!
//! Chats: an entry of a chat whose partition this node no longer holds (it moved to another node
//! at a rebalancing or a takeover) is dropped from memory, unsent: its row stays in
//! `botbox_outbox`, where the partition's new owner claims it (`pickup.rs`). Dropping takes the
//! chat's entries out of its queue, the index, the queue depths and the module's queued bytes,
//! and lets their sequence numbers go (`seqs.rs`: were the partition to come back, a claim
//! brings them back). A head in flight is not dropped: its request ends as it ends, and what
//! follows it is dropped then. The chats are looked over each time the partitions held change,
//! and a chat is asked again when it is chosen to send.
//!
//! Rates: the global limit (`global_per_second`) and the paid-broadcast one are divided by the
//! nodes running the bot at the last renewal (`Owned::nodes`), so that the nodes together stay
//! within the bot's limit; a chat's own limits stay whole (a chat has one owner).

use std::time::Instant;

use super::{Deps, Scheduler, slot};

/// A node's part of a bot-wide limit of `per_second` when `nodes` nodes share it (at least 1).
pub(super) fn share(per_second: u32, nodes: u32) -> u32 {
    (per_second / nodes.max(1)).max(1)
}

/// Whether this node sends `chat`'s entries (always, unless it shares the bot).
pub(super) fn owns(deps: &Deps, chat: i64) -> bool {
    deps.owned.as_ref().is_none_or(|o| o.owns(Some(chat)))
}

impl Scheduler {
    /// Follows the nodes' count and the partitions held (called while the lease holds).
    pub(super) fn follow_share(&mut self, deps: &Deps, now: Instant) {
        let Some(owned) = &deps.owned else { return };
        self.set_nodes(owned.nodes(), now);
        let generation = owned.generation();
        if self.generation == Some(generation) {
            return;
        }
        self.generation = Some(generation);
        let gone: Vec<i64> = (self.chats.keys().copied())
            .filter(|&chat| !self.sends(deps, chat))
            .collect();
        for chat in gone {
            self.drop_chat(deps, chat, now);
        }
        let callbacks = std::mem::take(&mut self.callbacks);
        for (seq, e) in callbacks {
            match owns(deps, e.chat_id) {
                true => self.callbacks.push_back((seq, e)),
                false => self.let_go(deps, seq, &e),
            }
        }
    }

    /// Whether this node sends `chat`'s queue: it holds the chat's partition, or the chat is a
    /// supergroup that a group became (its entries' rows are under the group's partition, and
    /// stay this node's: dropping them would leave them to nobody).
    pub(super) fn sends(&self, deps: &Deps, chat: i64) -> bool {
        owns(deps, chat) || self.migrated.values().any(|&to| to == chat)
    }

    /// The bot-wide limiters become this node's share of the bot's when `nodes` run it.
    pub(super) fn set_nodes(&mut self, nodes: u32, now: Instant) {
        if self.nodes == nodes {
            return;
        }
        self.nodes = nodes;
        let global = share(self.cfg.global_per_second, nodes);
        self.global.set_per_second(global, now);
        if let Some(p) = &mut self.paid {
            p.set_per_second(share(self.cfg.paid_broadcast_per_second, nodes), now);
        }
        tracing::info!(
            nodes,
            global,
            "this node's share of the bot's rate limit changed"
        );
    }

    /// Drops `chat`'s entries but a head in flight: another node sends them.
    pub(super) fn drop_chat(&mut self, deps: &Deps, chat: i64, now: Instant) {
        let Some(c) = self.chats.get_mut(&chat) else {
            return;
        };
        let keep = usize::from(c.busy);
        let gone: Vec<_> = c.queue.drain(keep..).collect();
        for (seq, e) in &gone {
            self.let_go(deps, *seq, e);
        }
        if !gone.is_empty() {
            tracing::debug!(
                chat,
                entries = gone.len(),
                "the chat's partition moved to another node; its owner sends its messages"
            );
        }
        self.refile(chat, now);
    }

    /// Forgets entry `seq` without finishing it: its row stays for the partition's owner.
    fn let_go(&mut self, deps: &Deps, seq: u64, e: &crate::outbox::Entry) {
        self.depth[slot(e.priority)] = self.depth[slot(e.priority)].saturating_sub(1);
        deps.queued.remove(&e.module, e.payload_bytes());
        self.seqs.released(seq);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::watch;

    use super::*;
    use crate::config::OutboxConfig;

    /// Sends in the first second as fast as `limiter` allows (each call ends at once).
    fn sends_in_a_second(limiter: &mut crate::outbox::limits::Paced, t0: Instant) -> usize {
        let (mut now, mut n) = (t0, 0);
        loop {
            now = limiter.ready_at(now);
            if now >= t0 + Duration::from_secs(1) {
                return n;
            }
            limiter.take();
            limiter.settle(now);
            n += 1;
        }
    }

    #[test]
    fn three_nodes_each_send_a_third_of_the_bot_s_rate() {
        let cfg = OutboxConfig {
            paid_broadcast: true,
            ..OutboxConfig::default()
        };
        let (global, paid) = (cfg.global_per_second, cfg.paid_broadcast_per_second);
        let t0 = Instant::now();
        let (_stop, stopped) = watch::channel(false);
        let mut s = Scheduler::new(cfg, t0, stopped);
        s.set_nodes(3, t0);
        let t1 = t0 + Duration::from_secs(5);
        let sent = sends_in_a_second(&mut s.global, t1);
        assert_eq!(sent, (global / 3) as usize, "bot-wide {global}/s");
        let paid_sent = sends_in_a_second(s.paid.as_mut().expect("paid is on"), t1);
        assert_eq!(paid_sent, (paid / 3) as usize, "paid broadcasts {paid}/s");
        // A node alone again sends at the whole rate.
        s.set_nodes(1, t1);
        let t2 = t1 + Duration::from_secs(5);
        assert_eq!(sends_in_a_second(&mut s.global, t2), global as usize);
        assert_eq!(share(30, 0), 30);
        assert_eq!(share(30, 100), 1);
    }
}
