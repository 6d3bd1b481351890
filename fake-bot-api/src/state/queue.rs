//! The queue of updates waiting for the bot, with Telegram's confirmation rules.

use std::collections::VecDeque;

use serde_json::Value;

/// One pending update.
#[derive(Clone, Debug)]
pub(crate) struct Queued {
    /// The `update_id` (for raw updates without one, an id the fake uses only for ordering
    /// and confirmation).
    pub(crate) id: i64,
    pub(crate) body: Body,
    /// Whether a webhook delivery of it is under way.
    pub(crate) in_flight: bool,
}

/// How an update is framed on the wire.
#[derive(Clone, Debug)]
pub(crate) enum Body {
    /// A JSON value, serialized when delivered.
    Json(Value),
    /// Text delivered exactly as given, even if it is not JSON.
    Raw(String),
}

impl Body {
    /// The text a webhook delivery POSTs, or getUpdates splices into its `result` array.
    pub(crate) fn text(&self) -> String {
        match self {
            Self::Json(value) => value.to_string(),
            Self::Raw(text) => text.clone(),
        }
    }
}

/// Pending updates in arrival order.
#[derive(Debug)]
pub(crate) struct UpdateQueue {
    items: VecDeque<Queued>,
    next_id: i64,
}

impl Default for UpdateQueue {
    fn default() -> Self {
        Self::starting_at(1)
    }
}

impl UpdateQueue {
    /// An empty queue whose first update gets `first_id`.
    pub(crate) fn starting_at(first_id: i64) -> Self {
        Self {
            items: VecDeque::new(),
            next_id: first_id.max(1),
        }
    }
}

impl UpdateQueue {
    /// A fresh `update_id`, greater than every id seen so far.
    pub(crate) fn allocate_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Queues an update; an explicit id keeps later allocated ids above it.
    pub(crate) fn push(&mut self, id: i64, body: Body) {
        self.next_id = self.next_id.max(id.saturating_add(1));
        self.items.push_back(Queued {
            id,
            body,
            in_flight: false,
        });
    }

    /// Applies getUpdates' `offset`: a positive offset confirms (forgets) every update with a
    /// smaller id; a negative one forgets all but the last `-offset` updates.
    pub(crate) fn confirm(&mut self, offset: i64) {
        if offset > 0 {
            self.items.retain(|queued| queued.id >= offset);
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            let drop = self.items.len().saturating_sub(keep);
            self.items.drain(..drop);
        }
    }

    /// The first `limit` pending updates.
    pub(crate) fn first(&self, limit: usize) -> impl Iterator<Item = &Queued> {
        self.items.iter().take(limit)
    }

    /// Pending updates no webhook delivery is working on.
    pub(crate) fn idle_mut(&mut self) -> impl Iterator<Item = &mut Queued> {
        self.items.iter_mut().filter(|queued| !queued.in_flight)
    }

    /// Marks a delivery attempt of `id` as finished; removes the update if it was accepted.
    pub(crate) fn finish_delivery(&mut self, id: i64, accepted: bool) {
        if accepted {
            self.items.retain(|queued| queued.id != id);
        } else if let Some(queued) = self.items.iter_mut().find(|queued| queued.id == id) {
            queued.in_flight = false;
        }
    }

    /// Forgets every pending update (`drop_pending_updates`).
    pub(crate) fn clear(&mut self) {
        self.items.clear();
    }

    /// How many updates are pending.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue_of(n: i64) -> UpdateQueue {
        let mut queue = UpdateQueue::default();
        for _ in 0..n {
            let id = queue.allocate_id();
            queue.push(id, Body::Raw(id.to_string()));
        }
        queue
    }

    #[test]
    fn positive_offset_forgets_smaller_ids() {
        let mut queue = queue_of(5);
        queue.confirm(3);
        let ids: Vec<i64> = queue.first(100).map(|q| q.id).collect();
        assert_eq!(ids, [3, 4, 5]);
    }

    #[test]
    fn negative_offset_keeps_the_last_updates() {
        let mut queue = queue_of(5);
        queue.confirm(-2);
        let ids: Vec<i64> = queue.first(100).map(|q| q.id).collect();
        assert_eq!(ids, [4, 5]);
    }
}
