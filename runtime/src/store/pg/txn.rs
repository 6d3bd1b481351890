//! One handler call's PostgreSQL transaction: its connection, its buffered writes, and the
//! pipelining of `BEGIN` and those writes with the next query.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use tokio_postgres::Row;

use super::{Conn, Pool, io, is_conflict, schema, unit, usage};
use crate::store::kv::KvError;

/// The isolation every unit of work runs at (see the module docs of `store::pg`).
pub(crate) const BEGIN: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE";

/// A read-write transaction of one handler call on PostgreSQL.
pub struct PgTxn {
    pub(crate) pool: Arc<Pool>,
    /// `None` once the transaction ended.
    pub(crate) conn: Option<Conn>,
    /// Whether `BEGIN` was sent.
    pub(crate) begun: bool,
    /// PostgreSQL refused the transaction (it does not serialize): the handler runs again.
    pub(crate) doomed: bool,
    /// The connection failed; the transaction is lost (PostgreSQL rolls it back).
    pub(crate) broken: Option<KvError>,
    /// The unit's done mark found its update or timer finished already: rolled back.
    pub(crate) refused: Option<(schema::Refusal, String)>,
    /// Writes not sent yet (`None` deletes).
    pub(crate) writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Size of each key's value before this transaction, for keys read or written (`None`:
    /// absent).
    pub(crate) before: HashMap<Vec<u8>, Option<usize>>,
    /// Size of each written key's value as this transaction left it (`None`: deleted).
    pub(crate) sizes: HashMap<Vec<u8>, Option<usize>>,
    /// The namespace's usage rows as this transaction read and plans them.
    pub(crate) escrow: usage::Escrow,
    pub(crate) delta_bytes: i64,
    pub(crate) delta_keys: i64,
    /// Bytes of keys and values tracked (bounded like the redb backend's).
    pub(crate) tracked: usize,
}

/// The error a call gets once PostgreSQL refused its transaction; the host runs it again.
pub(crate) fn conflict() -> KvError {
    KvError::Io("a concurrent transaction changed what this call read; it runs again".into())
}

impl PgTxn {
    pub(crate) fn new(pool: Arc<Pool>, conn: Conn) -> PgTxn {
        PgTxn {
            escrow: usage::Escrow::new(conn.slot),
            pool,
            conn: Some(conn),
            begun: false,
            doomed: false,
            broken: None,
            refused: None,
            writes: BTreeMap::new(),
            before: HashMap::new(),
            sizes: HashMap::new(),
            delta_bytes: 0,
            delta_keys: 0,
            tracked: 0,
        }
    }

    /// The state a batch goes back to if it fails.
    pub(crate) fn save(&self) -> Saved {
        Saved {
            writes: self.writes.clone(),
            before: self.before.clone(),
            sizes: self.sizes.clone(),
            delta_bytes: self.delta_bytes,
            delta_keys: self.delta_keys,
        }
    }

    /// Goes back to a saved state (nothing was sent since: only `get`s and the usage, which do
    /// not send the buffered writes).
    pub(crate) fn restore(&mut self, saved: Saved) {
        self.writes = saved.writes;
        self.before = saved.before;
        self.sizes = saved.sizes;
        self.delta_bytes = saved.delta_bytes;
        self.delta_keys = saved.delta_keys;
    }

    /// Records a failure of the transaction and returns the error the call sees.
    pub(crate) fn fail(&mut self, e: &tokio_postgres::Error) -> KvError {
        let code = e.code().map(|c| c.code());
        if is_conflict(e) {
            self.doomed = true;
            conflict()
        } else if let Some(refusal) = code.and_then(schema::refusal) {
            let why = e
                .as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_string());
            self.refused = Some((refusal, why.clone()));
            KvError::Io(why)
        } else {
            let err = io(e);
            self.broken = Some(err.clone());
            err
        }
    }

    /// Refuses to go on once the transaction failed.
    pub(crate) fn usable(&self) -> Result<&Conn, KvError> {
        if self.doomed {
            return Err(conflict());
        }
        if let Some((_, why)) = &self.refused {
            return Err(KvError::Io(why.clone()));
        }
        if let Some(e) = &self.broken {
            return Err(e.clone());
        }
        self.conn
            .as_ref()
            .ok_or_else(|| KvError::Io("the transaction has ended".into()))
    }

    /// Sends `BEGIN` (if not sent yet), the buffered writes if `last` needs them (a range or the
    /// commit; a key's read is answered from the buffer first), then `last`, in one pipeline:
    /// one round trip for all of them. Returns the rows of `last`.
    pub(crate) async fn send(&mut self, ns: &str, last: Last<'_>) -> Result<Vec<Row>, KvError> {
        self.usable()?;
        let Some(conn) = self.conn.take() else {
            return Err(KvError::Io("the transaction has ended".into()));
        };
        let flush = matches!(last, Last::Range(..) | Last::Commit(..));
        let writes = match flush {
            true => std::mem::take(&mut self.writes),
            false => BTreeMap::new(),
        };
        let mut set_k: Vec<&[u8]> = Vec::new();
        let mut set_v: Vec<&[u8]> = Vec::new();
        let mut del: Vec<&[u8]> = Vec::new();
        for (k, v) in &writes {
            match v {
                Some(v) => {
                    set_k.push(k);
                    set_v.push(v);
                }
                None => del.push(k),
            }
        }
        let begin = !self.begun;
        let result = {
            let (c, st) = (&conn.client, &conn.st);
            let (b, u, d, l) = futures::join!(
                async {
                    match begin {
                        true => c.batch_execute(BEGIN).await,
                        false => Ok(()),
                    }
                },
                async {
                    match set_k.is_empty() {
                        true => Ok(0),
                        false => c.execute(&st.upsert, &[&ns, &set_k, &set_v]).await,
                    }
                },
                async {
                    match del.is_empty() {
                        true => Ok(0),
                        false => c.execute(&st.delete, &[&ns, &del]).await,
                    }
                },
                async {
                    match last {
                        Last::Get(k) => c.query(&st.get, &[&ns, &k]).await,
                        Last::Range(lo, Some(hi), n) => {
                            c.query(&st.range_to, &[&ns, &lo, &hi, &n]).await
                        }
                        Last::Range(lo, None, n) => c.query(&st.range_open, &[&ns, &lo, &n]).await,
                        Last::OwnSlot(slot) => c.query(&st.usage.own, &[&ns, &slot]).await,
                        Last::Slots => c.query(&st.usage.all, &[&ns]).await,
                        Last::Commit(change, rows) => {
                            let (u, unit, commit) = futures::join!(
                                change.send(c, &st.usage, ns),
                                async {
                                    match rows {
                                        Some(rows) => rows.send(c, &st.unit).await,
                                        None => Ok(Vec::new()),
                                    }
                                },
                                c.batch_execute("COMMIT")
                            );
                            // After a failed statement, `COMMIT` answers `ROLLBACK` without an
                            // error: the statement's error is the one that counts.
                            u.and(unit).and_then(|rows| commit.map(|()| rows))
                        }
                    }
                }
            );
            b.and(u).and(d).and(l)
        };
        self.conn = Some(conn);
        self.begun = true;
        result.map_err(|e| self.fail(&e))
    }
}

/// How a transaction ended.
pub(crate) enum Ended {
    /// Durable; the rows the unit's outbox insert answered (none without a unit).
    Committed(Vec<Row>),
    /// PostgreSQL refused it: run it again.
    Conflict,
    /// The unit's done mark or fence refused it; rolled back.
    Refused(schema::Refusal, String),
}

/// A transaction's state before a batch.
pub(crate) struct Saved {
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    before: HashMap<Vec<u8>, Option<usize>>,
    sizes: HashMap<Vec<u8>, Option<usize>>,
    pub delta_bytes: i64,
    pub delta_keys: i64,
}

/// What a pipeline ends with.
pub(crate) enum Last<'a> {
    /// The value of a key.
    Get(&'a [u8]),
    /// Keys from (included), to (excluded), at most this many.
    Range(&'a [u8], Option<&'a [u8]>, i64),
    /// The namespace's usage row of this slot.
    OwnSlot(i32),
    /// Every usage row of the namespace.
    Slots,
    /// Writes the usage change, sends a unit's rows if there is one, then commits.
    Commit(&'a usage::Change, Option<&'a unit::Rows>),
}

impl Drop for PgTxn {
    /// A transaction dropped unfinished (its call was cancelled) is rolled back on a task, and
    /// its connection reused; outside a runtime the connection is closed, which PostgreSQL
    /// takes as a rollback.
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if !self.begun {
            self.pool.put(conn);
            return;
        }
        if self.broken.is_none()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let pool = self.pool.clone();
            rt.spawn(async move {
                if conn.client.batch_execute("ROLLBACK").await.is_ok() {
                    pool.put(conn);
                }
            });
        }
    }
}
