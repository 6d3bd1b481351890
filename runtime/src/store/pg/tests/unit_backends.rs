//! The units of work of both stores behind one test-only interface, so that one list of
//! behaviours (`units.rs`) runs against redb (the committer, as the host drives it) and against a
//! throwaway PostgreSQL.

use std::{any::Any, collections::HashMap, sync::Arc};

use parking_lot::Mutex;

use super::*;
use crate::store::{
    Committer, Db, Handled, Op, TicketRecord,
    kv::{Applied, Namespace},
    pg::{PgStore, Unit, UnitOutcome},
    records::Entry,
};

/// How a handler's unit ended (conflicts are run again by the adapters, as the host does).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Done {
    /// Durable; its queued requests' sequence numbers.
    Committed(Vec<u64>),
    /// The update or timer was finished already: nothing applied.
    AlreadyDone,
}

/// A bot's store of either backend, with the operations the host performs.
pub(super) trait UnitStore: Sized {
    async fn start() -> (Box<dyn Any>, Self);
    /// Records updates (id, raw, modules); answers the ids to route (recorded now).
    async fn record(&self, updates: &[(u64, &str, &[&str])]) -> Vec<u64>;
    /// A handler of `module` that sets `writes` in its namespace, committed with `unit`.
    async fn handle(&self, module: &str, writes: &[(&[u8], &[u8])], unit: Unit) -> Done;
    /// A committed value of `module`'s namespace.
    async fn get(&self, module: &str, key: &[u8]) -> Option<Vec<u8>>;
    /// (update id, modules owing it a handling), oldest first.
    async fn pending(&self) -> Vec<(u64, Vec<String>)>;
    async fn outbox(&self) -> Vec<(u64, Entry)>;
    async fn delivered(&self, seq: u64, ticket: Option<(u64, TicketRecord)>);
    async fn ticket(&self, ticket: u64) -> Option<TicketRecord>;
    /// Ids of the timers due at `now_ms`.
    async fn due(&self, now_ms: u64) -> Vec<u64>;
    async fn quarantined(&self) -> Vec<(String, u64, String)>;
}

fn decode(outbox: Vec<(u64, Vec<u8>)>) -> Vec<(u64, Entry)> {
    let entry = |b: &[u8]| serde_json::from_slice(b).expect("an outbox entry");
    outbox.into_iter().map(|(s, b)| (s, entry(&b))).collect()
}

/// The embedded store: a redb file, its committer, namespaces opened on demand.
pub(super) struct Redb {
    db: Db,
    committer: Committer,
    namespaces: Mutex<HashMap<String, Arc<Namespace>>>,
}

impl Redb {
    fn namespace(&self, module: &str) -> Arc<Namespace> {
        let open = || {
            let ns = Namespace::open(self.db.raw().clone(), module, LIMITS, ROOMY);
            Arc::new(ns.expect("namespace"))
        };
        self.namespaces
            .lock()
            .entry(module.to_string())
            .or_insert_with(open)
            .clone()
    }
}

impl UnitStore for Redb {
    async fn start() -> (Box<dyn Any>, Self) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).expect("db");
        let (outbox, _) = tokio::sync::mpsc::unbounded_channel();
        let (fatal, _) = tokio::sync::watch::channel(None);
        let committer = Committer::start(db.raw().clone(), outbox, fatal).expect("committer");
        let namespaces = Mutex::new(HashMap::new());
        let store = Redb {
            db,
            committer,
            namespaces,
        };
        (Box::new(dir), store)
    }
    async fn record(&self, updates: &[(u64, &str, &[&str])]) -> Vec<u64> {
        // As the intake does: an update id seen before is not recorded again.
        let mut fresh: Vec<(u64, String, Vec<String>)> = Vec::new();
        for (id, raw, modules) in updates {
            if !self.db.seen(*id).expect("seen") && !fresh.iter().any(|f| f.0 == *id) {
                let modules = modules.iter().map(|m| m.to_string()).collect();
                fresh.push((*id, raw.to_string(), modules));
            }
        }
        let ids = fresh.iter().map(|f| f.0).collect();
        let record = |done| Op::Record {
            updates: fresh,
            skipped: Vec::new(),
            done: Some(done),
        };
        self.committer.commit(record).await.expect("recorded");
        ids
    }
    async fn handle(&self, module: &str, writes: &[(&[u8], &[u8])], unit: Unit) -> Done {
        let ns = self.namespace(module);
        let mut txn = ns.begin();
        for (k, v) in writes {
            ns.set(&mut txn, k, v).expect("set");
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let outbox = unit.outbox.clone();
        let applied = ns.validate_and_apply(&mut txn, |seq, writes| {
            let op = Op::Handled(Box::new(Handled {
                namespace: ns.clone(),
                update_id: unit.update_id,
                writes,
                kv_seq: seq,
                outbox: unit.outbox,
                files: unit.files,
                quarantine: unit.quarantine,
                tickets: None,
                timers: unit.timers,
                cancel_timers: unit.cancel_timers,
                fired_timer: unit.fired_timer,
                expects: unit.expects,
                broadcasts: unit.broadcasts,
                done: Some(tx),
            }));
            self.committer.send(op).expect("committer")
        });
        assert!(matches!(applied, Applied::Ok(..)), "no concurrent writer");
        rx.await.expect("committer").expect("durable");
        // The committer numbers entries as it queues them: the last ones of the outbox.
        let queued = self.db.outbox().expect("outbox");
        let seqs = queued[queued.len() - outbox.len()..]
            .iter()
            .map(|(s, _)| *s);
        Done::Committed(seqs.collect())
    }
    async fn get(&self, module: &str, key: &[u8]) -> Option<Vec<u8>> {
        let ns = self.namespace(module);
        let mut txn = ns.begin();
        let v = ns.get(&mut txn, key).expect("get");
        ns.abort(&mut txn);
        v
    }
    async fn pending(&self) -> Vec<(u64, Vec<String>)> {
        let p = self.db.pending_updates().expect("pending");
        p.into_iter().map(|u| (u.update_id, u.modules)).collect()
    }
    async fn outbox(&self) -> Vec<(u64, Entry)> {
        decode(self.db.outbox().expect("outbox"))
    }
    async fn delivered(&self, seq: u64, ticket: Option<(u64, TicketRecord)>) {
        let op = |done| Op::Delivered {
            seq,
            ticket,
            uploaded: Vec::new(),
            owned: Vec::new(),
            done: Some(done),
        };
        self.committer.commit(op).await.expect("delivered");
    }
    async fn ticket(&self, ticket: u64) -> Option<TicketRecord> {
        self.db.ticket(ticket).expect("ticket")
    }
    async fn due(&self, now_ms: u64) -> Vec<u64> {
        let due = self.db.due_timers(now_ms, 100).expect("due");
        due.iter().map(|t| t.id).collect()
    }
    async fn quarantined(&self) -> Vec<(String, u64, String)> {
        self.db.quarantined().expect("quarantined")
    }
}

/// The shared store: a throwaway PostgreSQL server.
pub(super) struct Pg {
    store: PgStore,
    namespaces: Mutex<HashMap<String, Arc<PgNamespace>>>,
}

impl Pg {
    async fn namespace(&self, module: &str) -> Arc<PgNamespace> {
        if let Some(ns) = self.namespaces.lock().get(module) {
            return ns.clone();
        }
        let pool = self.store.pool().clone();
        let ns = PgNamespace::open(pool, module, LIMITS, ROOMY).await;
        let ns = Arc::new(ns.expect("namespace"));
        self.namespaces.lock().insert(module.into(), ns.clone());
        ns
    }
}

impl UnitStore for Pg {
    async fn start() -> (Box<dyn Any>, Self) {
        let server = Postgres::start().expect("a throwaway PostgreSQL");
        let store = PgStore::open(&server.url()).await.expect("store");
        let namespaces = Mutex::new(HashMap::new());
        (Box::new(server), Pg { store, namespaces })
    }
    async fn record(&self, updates: &[(u64, &str, &[&str])]) -> Vec<u64> {
        let updates: Vec<(u64, String, Vec<String>)> = updates
            .iter()
            .map(|(id, raw, m)| {
                (
                    *id,
                    raw.to_string(),
                    m.iter().map(|m| m.to_string()).collect(),
                )
            })
            .collect();
        self.store.record(&updates, &[]).await.expect("recorded")
    }
    async fn handle(&self, module: &str, writes: &[(&[u8], &[u8])], unit: Unit) -> Done {
        let ns = self.namespace(module).await;
        loop {
            let mut txn = ns.begin().await.expect("begin");
            for (k, v) in writes {
                ns.set(&mut txn, k, v).await.expect("set");
            }
            match ns.commit_unit(&mut txn, &unit).await.expect("commit") {
                UnitOutcome::Committed { seqs } => return Done::Committed(seqs),
                UnitOutcome::Conflict => continue,
                UnitOutcome::AlreadyDone(_) => return Done::AlreadyDone,
                UnitOutcome::Fenced(why) => panic!("no partitions here: {why}"),
            }
        }
    }
    async fn get(&self, module: &str, key: &[u8]) -> Option<Vec<u8>> {
        let ns = self.namespace(module).await;
        let mut txn = ns.begin().await.expect("begin");
        let v = ns.get(&mut txn, key).await.expect("get");
        ns.abort(&mut txn).await;
        v
    }
    async fn pending(&self) -> Vec<(u64, Vec<String>)> {
        let p = self.store.pending_updates().await.expect("pending");
        p.into_iter().map(|u| (u.update_id, u.modules)).collect()
    }
    async fn outbox(&self) -> Vec<(u64, Entry)> {
        decode(self.store.outbox().await.expect("outbox"))
    }
    async fn delivered(&self, seq: u64, ticket: Option<(u64, TicketRecord)>) {
        let ticket = ticket.as_ref().map(|(t, r)| (*t, r));
        self.store.delivered(seq, ticket).await.expect("delivered");
    }
    async fn ticket(&self, ticket: u64) -> Option<TicketRecord> {
        self.store.ticket(ticket).await.expect("ticket")
    }
    async fn due(&self, now_ms: u64) -> Vec<u64> {
        let due = self.store.due_timers(now_ms, 100).await.expect("due");
        due.iter().map(|t| t.id).collect()
    }
    async fn quarantined(&self) -> Vec<(String, u64, String)> {
        self.store.quarantined().await.expect("quarantined")
    }
}

/// Runs each listed behaviour (an `async fn name<S: UnitStore>()`) as two tests, `name::redb`
/// and `name::postgres`.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn redb() {
                    super::$name::<super::super::unit_backends::Redb>().await
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name::<super::super::unit_backends::Pg>().await
                }
            }
        )*
    };
}
pub(super) use on_both_stores;
