//! The outbox sequence numbers the scheduler holds, and those it finished lately: an entry
//! reaches it from several places (the read at start, the channel of local commits, the pickup's
//! claims of rows, `pickup.rs`), and is queued once.
//!
//! Held: from the moment an entry is queued until the scheduler is finished with it (delivered
//! and recorded, given up, merged into a later edit) or drops it (its chat's partition moved to
//! another node). A copy of a held entry is ignored.
//!
//! Finished lately, while claims run: a claim is a query, and its answer can come after the
//! scheduler finished an entry it returns. A delivery's record (the row's delete) is durable
//! before the scheduler learns the entry is finished, so a claim that *began* after the finish
//! cannot return the row; one that began before can. So each finish is kept with its instant
//! until the answer of a claim that began after it is in: then no claim still running can
//! return the row, and the finish is forgotten. A claim's rows are checked before its
//! beginning prunes the finishes.
//!
//! Not covered: a give-up or merge is recorded in a task of its own after the scheduler let the
//! entry go (`shared::finish_later`), so a claim that began between the two could return the
//! row — only a claim of rows an earlier epoch took (`Claim::NotMine`, after this node's
//! partitions changed), which does not return this node's rows while their epoch holds.

use std::{
    collections::{HashSet, VecDeque},
    time::Instant,
};

/// Held and lately finished sequence numbers.
#[derive(Debug, Default)]
pub(super) struct Seqs {
    held: HashSet<u64>,
    /// Finished lately, oldest first, with when (kept only while claims run).
    finished: VecDeque<(Instant, u64)>,
    finished_set: HashSet<u64>,
    /// Claims run: finishes are kept until a later claim's answer.
    keep_finished: bool,
}

impl Seqs {
    /// Keeps finishes until a claim that began after them answered (claims run).
    pub fn keep_finished(&mut self) {
        self.keep_finished = true;
    }

    /// Takes `seq` in; false when it is held, or was finished lately (a copy: ignore it).
    pub fn take(&mut self, seq: u64) -> bool {
        !self.finished_set.contains(&seq) && self.held.insert(seq)
    }

    /// The scheduler is finished with `seq` at `now` (delivered, given up, merged).
    pub fn finished(&mut self, seq: u64, now: Instant) {
        self.held.remove(&seq);
        if self.keep_finished && self.finished_set.insert(seq) {
            self.finished.push_back((now, seq));
        }
    }

    /// The scheduler let `seq` go without finishing it (another node sends it): a later claim
    /// may bring it back.
    pub fn released(&mut self, seq: u64) {
        self.held.remove(&seq);
    }

    /// The answer of a claim that began at `begun` was taken in: finishes before `begun` are
    /// forgotten (no claim still running can return their rows).
    pub fn claimed(&mut self, begun: Instant) {
        while let Some(&(at, seq)) = self.finished.front() {
            if at >= begun {
                break;
            }
            self.finished.pop_front();
            self.finished_set.remove(&seq);
        }
    }

    /// How many are held.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_row_claimed_before_its_finish_and_answered_after_it_is_not_queued_again() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut s = Seqs::default();
        s.keep_finished();
        assert!(s.take(50));
        assert!(!s.take(50), "a copy of a held entry");
        // A claim begins at 10 ms and returns row 50 (its delete not committed yet); the
        // scheduler finishes 50 at 20 ms, then takes the claim's answer in.
        s.finished(50, at(20));
        assert!(!s.take(50), "the claim's copy of a finished entry");
        s.claimed(at(10));
        assert!(
            !s.take(50),
            "a claim that began before the finish may still return it"
        );
        // A claim that began at 30 ms answered: the row was gone when it began.
        s.claimed(at(30));
        assert!(s.take(50), "forgotten");
        // Released (the chat moved): a later claim may bring it back.
        s.released(50);
        assert!(s.take(50));
        assert_eq!(s.held(), 1);
    }

    #[test]
    fn without_claims_nothing_finished_is_kept() {
        let mut s = Seqs::default();
        assert!(s.take(7));
        s.finished(7, Instant::now());
        assert!(s.finished.is_empty() && s.finished_set.is_empty());
    }
}
