//! A module's backlog: updates recorded for it while its shard queues were full.
//!
//! Handing work to a module never waits. When the shard of an update's chat has no room, the
//! update is left where it already is — recorded in the database, pending for this module — and
//! the module is *backlogged*: from then on its new updates are left there too, so that none
//! overtakes an older one of the same chat. Intake's pump (`intake/backlog.rs`) reads the
//! backlog back in update order and hands it over as the queues drain; once it has caught up
//! with the newest update left, the module takes updates directly again. One stuck module thus
//! fills only its own queues; intake, timers and every other module go on.
//!
//! Updates left out of order (a webhook's concurrent requests can dispatch a newer update
//! first) below the point the pump has reached are remembered apart (`late`) and handed first,
//! so none is skipped. Out of order the other way, an update newer than the first one left may
//! have been queued directly just before the backlog began: it is pending in the database until
//! its handling commits, so the pump reads it too, and must not hand it over a second time —
//! the backlog remembers up to which update that can be (`queued_up_to`) and which of those
//! were left (`left_below_queued`), and the pump hands over only those.

use std::collections::BTreeSet;

use parking_lot::Mutex;

use super::{
    module::{LoadedModule, NotQueued, Work},
    shard::Msg,
};

/// The backlog of one module.
#[derive(Debug, Default)]
pub(super) struct Backlog(Mutex<Inner>);

#[derive(Debug, Default)]
struct Inner {
    /// Present while the module is backlogged.
    state: Option<State>,
    /// The newest update queued directly (not handed over from the backlog).
    newest_queued: u64,
}

#[derive(Debug)]
struct State {
    /// The pump reads pending updates from this id on.
    from: u64,
    /// The newest update left in the database since the backlog began.
    newest_left: u64,
    /// Updates left with an id below `from` (the pump had passed them).
    late: BTreeSet<u64>,
    /// The newest update queued directly before the backlog began. Updates from the first one
    /// left up to this one may be queued already: the pump hands over only those of them in
    /// `left_below_queued`.
    queued_up_to: u64,
    /// Updates up to `queued_up_to` that were left (the first one left included).
    left_below_queued: BTreeSet<u64>,
}

/// What the pump should read next for a backlogged module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacklogRead {
    /// Updates left behind the pump, to hand over first.
    pub late: Vec<u64>,
    /// Then pending updates from this id on, in order.
    pub from: u64,
}

/// What became of work offered to a module.
pub enum Offered {
    /// Queued on its shard.
    Queued,
    /// Left in the database: the module is backlogged (only updates are left; a timer is
    /// simply offered again at the next tick).
    Left,
    /// The module has stopped: the work was not taken.
    Stopped,
}

impl LoadedModule {
    /// Offers `work` (an update or a timer firing) without waiting. An update that finds no room
    /// is left recorded in the database and the module becomes backlogged.
    pub fn offer(&self, work: Work) -> Offered {
        let is_update = work.timer_id.is_none();
        let id = work.update_id;
        let mut backlog = self.backlog.0.lock();
        if is_update && let Some(state) = backlog.state.as_mut() {
            if id >= state.from {
                state.newest_left = state.newest_left.max(id);
                if id <= state.queued_up_to {
                    state.left_below_queued.insert(id);
                }
            } else {
                state.late.insert(id);
            }
            return Offered::Left;
        }
        match self.try_queue(work) {
            Ok(()) => {
                if is_update {
                    backlog.newest_queued = backlog.newest_queued.max(id);
                }
                Offered::Queued
            }
            Err(NotQueued::Stopped) => Offered::Stopped,
            // Left recorded: never counted as handled; the restart resumes it.
            Err(NotQueued::Dead) => Offered::Left,
            Err(NotQueued::Full) => {
                if is_update {
                    tracing::warn!(
                        module = %self.name(),
                        update = id,
                        "the module's queue is full; its updates wait in the database"
                    );
                    let queued_up_to = backlog.newest_queued;
                    backlog.state = Some(State {
                        from: id,
                        newest_left: id,
                        late: BTreeSet::new(),
                        queued_up_to,
                        left_below_queued: (id <= queued_up_to).then_some(id).into_iter().collect(),
                    });
                }
                Offered::Left
            }
        }
    }

    /// Queues `work` only if it can be handled at once: the module is not backlogged, did not
    /// give up its last update, and the shard of the work's chat holds nothing else (queued or
    /// being handled), so no older update of the chat can be behind or ahead of it. Returns
    /// whether it was queued; the work is dropped otherwise (its record is still held). `intake/at_once.rs` commits such an update's record with its
    /// handling.
    pub fn offer_at_once(&self, work: Work) -> bool {
        use std::sync::atomic::Ordering;
        if self.stats.quarantined_in_a_row.load(Ordering::Relaxed) > 0 {
            return false;
        }
        // Held while claiming, so the module cannot become backlogged meanwhile.
        let mut backlog = self.backlog.0.lock();
        if backlog.state.is_some() {
            return false;
        }
        let id = work.update_id;
        let shards = self.shards.read();
        let Some(shard) = super::module::shard_of(&shards, work.chat_id) else {
            return false;
        };
        if shard
            .load
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        let queued = shard.tx.try_send(Msg::Work(Box::new(work))).is_ok();
        if queued {
            backlog.newest_queued = backlog.newest_queued.max(id);
        } else {
            shard.load.fetch_sub(1, Ordering::AcqRel);
        }
        queued
    }

    /// What the pump should read for this module, when it is backlogged.
    pub fn backlog_read(&self) -> Option<BacklogRead> {
        let backlog = self.backlog.0.lock();
        backlog.state.as_ref().map(|s| BacklogRead {
            late: s.late.iter().copied().collect(),
            from: s.from,
        })
    }

    /// Hands over `work` read back from the backlog (a late one, or the next in order). Returns
    /// `false` when there is no room (the pump stops until the next round).
    pub fn offer_backlogged(&self, work: Work) -> bool {
        let id = work.update_id;
        let mut backlog = self.backlog.0.lock();
        let Some(state) = backlog.state.as_mut() else {
            return false;
        };
        let late = state.late.contains(&id);
        if !late && id < state.from {
            // Handed already (a round that read it before a later one moved `from`).
            return true;
        }
        if !late && id <= state.queued_up_to && !state.left_below_queued.contains(&id) {
            // Queued directly before the backlog began: pending only until its handling
            // commits, and not the backlog's to hand over.
            state.from = id + 1;
            return true;
        }
        match self.try_queue(work) {
            Ok(()) => {
                if late {
                    state.late.remove(&id);
                } else {
                    state.left_below_queued.remove(&id);
                    state.from = id + 1;
                }
                true
            }
            Err(NotQueued::Stopped) => true,
            Err(NotQueued::Full | NotQueued::Dead) => false,
        }
    }

    /// Moves the backlog past update `id` without queueing it: it is no longer this module's
    /// (handled, or its routing changed).
    pub fn pass_backlogged(&self, id: u64) {
        let mut backlog = self.backlog.0.lock();
        if let Some(state) = backlog.state.as_mut()
            && !state.late.remove(&id)
            && id >= state.from
        {
            state.from = id + 1;
        }
    }

    /// Ends the backlog if the pump read everything from `from` on and nothing newer was left
    /// meanwhile; returns whether it ended.
    pub fn end_backlog_if_caught_up(&self) -> bool {
        let mut backlog = self.backlog.0.lock();
        let caught_up = backlog
            .state
            .as_ref()
            .is_some_and(|s| s.late.is_empty() && s.from > s.newest_left);
        if caught_up {
            backlog.state = None;
            tracing::info!(module = %self.name(), "the module's backlog is handed over");
        }
        caught_up
    }

    /// Whether updates wait in the database for room in this module's queues.
    pub fn is_backlogged(&self) -> bool {
        self.backlog.0.lock().state.is_some()
    }
}
