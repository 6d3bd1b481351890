//! Entries arriving at the scheduler: answers to button presses to their own queue, the rest to
//! their chat's (following migrations, merging edits of one message, giving up at once what goes
//! to a chat whose user blocked the bot). The chat is filed again.

use std::time::Instant;

use super::{ChatQueue, Deps, Scheduler, shared, slot};
use crate::{
    outbox::{Action, Entry, Priority},
    store::pg::Delivered,
};

impl Scheduler {
    /// Queues entry `seq`, unless it is queued already or was finished lately (a copy from the
    /// read at start, the channel or a claim: `seqs.rs`). In its chat's queue it goes after the
    /// entries with smaller sequence numbers (one claimed from the database can come after a
    /// later one of the channel), never before a head in flight.
    pub(super) fn push(&mut self, deps: &Deps, seq: u64, mut e: Entry) {
        if !self.seqs.take(seq) {
            return;
        }
        self.depth[slot(e.priority)] += 1;
        deps.queued.add(&e.module, e.payload_bytes());
        if e.priority == Priority::Callback {
            self.callbacks.push_back((seq, e));
            return;
        }
        if let Some(new) = self.migrated.get(&e.chat_id) {
            e.chat_id = *new;
        }
        if deps.blocked.lock().contains(&e.chat_id) {
            self.give_up(deps, seq, &e, "the user blocked the bot");
            return;
        }
        let now = Instant::now();
        let chat_id = e.chat_id;
        let chat = self
            .chats
            .entry(chat_id)
            .or_insert_with(|| ChatQueue::new(&self.cfg, chat_id, now));
        if let Action::EditText { target, .. } = &e.action {
            // Merge with a pending edit of the same message (not one already in flight).
            let skip = usize::from(chat.busy);
            let earlier = chat.queue.iter().skip(skip).position(
                |(_, q)| matches!(&q.action, Action::EditText { target: t, .. } if t == target),
            );
            // The later edit of the two is kept (the one queued may be the later).
            if let Some(i) = earlier
                && chat.queue[i + skip].0 > seq
            {
                deps.stats.count(&deps.stats.coalesced);
                self.depth[slot(e.priority)] -= 1;
                deps.queued.remove(&e.module, e.payload_bytes());
                self.seqs.finished(seq, now);
                let d = Delivered {
                    seq,
                    ..Delivered::default()
                };
                shared::finish_later(deps, &self.stop, d);
                return;
            }
            if let Some(i) = earlier {
                let (old_seq, old) = chat.queue.remove(i + skip).expect("found above");
                self.seqs.finished(old_seq, now);
                deps.stats.count(&deps.stats.coalesced);
                self.depth[slot(old.priority)] -= 1;
                deps.queued.remove(&old.module, old.payload_bytes());
                let d = Delivered {
                    seq: old_seq,
                    ..Delivered::default()
                };
                shared::finish_later(deps, &self.stop, d);
            }
        }
        let after = (chat.queue.iter().skip(usize::from(chat.busy)))
            .rposition(|(s, _)| *s < seq)
            .map_or(usize::from(chat.busy), |i| i + 1 + usize::from(chat.busy));
        chat.queue.insert(after, (seq, e));
        self.refile(chat_id, now);
    }
}
