//! Pre-checkout queries waiting for an answer. Telegram gives the bot 10 seconds to answer one,
//! then fails the payment; a module may be busy, backlogged or broken, so the host answers "no"
//! in its place at `payments.answer_within_ms` (intake's deadline, `intake/checkouts.rs`).
//! Exactly one answer leaves for each query: the module's, taken by the outbox when it sends
//! it, or the host's — whichever claims the query first.

use std::collections::HashMap;

use parking_lot::Mutex;

/// Most queries remembered at once; past it the oldest answered ones are forgotten first.
const MAX_REMEMBERED: usize = 100_000;

/// Who answered a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answerer {
    /// The module the query was routed to.
    Module,
    /// The host, at the deadline.
    Host,
}

/// The open and recently answered pre-checkout queries, by query id.
#[derive(Debug, Default)]
pub struct Checkouts {
    queries: Mutex<HashMap<String, Option<Answerer>>>,
}

impl Checkouts {
    /// A query arrived and waits for its answer.
    pub fn open(&self, query_id: &str) {
        let mut queries = self.queries.lock();
        if queries.len() >= MAX_REMEMBERED {
            queries.retain(|_, answered| answered.is_none());
        }
        queries.entry(query_id.to_string()).or_insert(None);
    }

    /// `by` answers `query_id`: true when nobody else did (a query the host does not know, such
    /// as one resumed after a restart, is the module's to answer; the module's answer tried
    /// again after a network error is still its own).
    pub fn claim(&self, query_id: &str, by: Answerer) -> bool {
        let mut queries = self.queries.lock();
        match queries.get_mut(query_id) {
            Some(Some(first)) => *first == by && by == Answerer::Module,
            Some(answer) => {
                *answer = Some(by);
                true
            }
            None => by == Answerer::Module,
        }
    }

    /// Who answered `query_id`, if it is known and answered.
    pub fn answered_by(&self, query_id: &str) -> Option<Answerer> {
        self.queries.lock().get(query_id).copied().flatten()
    }

    /// Forgets `query_id` (its deadline passed and it was answered).
    pub fn forget(&self, query_id: &str) {
        self.queries.lock().remove(query_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_answered_once_by_whoever_claims_it_first() {
        let c = Checkouts::default();
        c.open("q1");
        assert!(c.claim("q1", Answerer::Module));
        assert!(
            c.claim("q1", Answerer::Module),
            "its answer, sent again after a network error"
        );
        assert!(!c.claim("q1", Answerer::Host), "the module answered first");
        assert_eq!(c.answered_by("q1"), Some(Answerer::Module));
        c.open("q2");
        assert!(c.claim("q2", Answerer::Host));
        assert!(
            !c.claim("q2", Answerer::Module),
            "too late: the host said no"
        );
        assert!(c.claim("resumed", Answerer::Module));
        assert!(!c.claim("unknown", Answerer::Host));
        c.forget("q1");
        assert_eq!(c.answered_by("q1"), None);
    }
}
