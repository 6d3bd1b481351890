//! Connections to PostgreSQL with the store's statements prepared, and a small pool of them.

#[cfg(test)]
use std::sync::atomic::AtomicI32;
use std::sync::atomic::{AtomicU32, Ordering};

use parking_lot::Mutex;
use tokio_postgres::{Client, NoTls, Statement};

use super::{SCHEMA, io};
use crate::store::kv::KvError;

/// Idle connections kept for reuse.
const MAX_IDLE: usize = 64;

/// The statements of the KV, prepared once per connection (so a query is one message, and
/// queries can be pipelined: an unprepared one would wait for its `Parse` answer first).
pub(crate) struct Statements {
    pub get: Statement,
    pub range_to: Statement,
    pub range_open: Statement,
    pub upsert: Statement,
    pub delete: Statement,
    /// The namespace's usage rows (`usage.rs`).
    pub usage: super::usage::Statements,
    /// A unit of work's rows (`unit.rs`).
    pub unit: super::unit::Statements,
}

/// One connection and its statements.
pub struct Conn {
    pub(crate) client: Client,
    pub(crate) st: Statements,
    /// The usage row its transactions add to (`usage.rs`).
    pub(crate) slot: i32,
}

impl Conn {
    /// Connects to `url` (a libpq-style string or a `postgres://` URL), prepares the statements
    /// and claims a usage slot, the first free one from `preferred_slot` (`usage.rs`). The
    /// connection's I/O runs on a task of the current tokio runtime.
    pub async fn connect(url: &str, preferred_slot: u32) -> Result<Conn, KvError> {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(|e| io(&e))?;
        tokio::spawn(async move {
            // Its errors reach the client's calls; nothing else to do with them here.
            let _ = connection.await;
        });
        // A sequential scan in a SERIALIZABLE transaction locks the whole table for SSI, so
        // every concurrent write to it becomes a conflict and a rerun (PostgreSQL's manual,
        // "Serializable Isolation Level", advises steering the planner to index scans). On a
        // small or fresh table the planner prefers them: measured, a freshly loaded table ran
        // clicks at 301/s with 43,403 reruns in 8 s, the same table later at 4,159/s with none
        // (pg-units-bench). Every statement here is a key lookup or a key range.
        client
            .batch_execute("SET enable_seqscan = off")
            .await
            .map_err(|e| io(&e))?;
        let prepare = |sql: &'static str| client.prepare(sql);
        let (get, range_to, range_open, upsert, delete) = futures::try_join!(
            prepare("SELECT v FROM botbox_kv WHERE ns = $1 AND k = $2"),
            prepare(
                "SELECT k, v FROM botbox_kv WHERE ns = $1 AND k >= $2 AND k < $3 \
                 ORDER BY k LIMIT $4"
            ),
            prepare("SELECT k, v FROM botbox_kv WHERE ns = $1 AND k >= $2 ORDER BY k LIMIT $3"),
            prepare(
                "INSERT INTO botbox_kv (ns, k, v) \
                 SELECT $1, k, v FROM unnest($2::bytea[], $3::bytea[]) AS t(k, v) \
                 ON CONFLICT (ns, k) DO UPDATE SET v = EXCLUDED.v"
            ),
            prepare("DELETE FROM botbox_kv WHERE ns = $1 AND k = ANY($2::bytea[])"),
        )
        .map_err(|e| io(&e))?;
        let (usage, unit, slot) = futures::try_join!(
            super::usage::Statements::prepare(&client),
            super::unit::Statements::prepare(&client),
            super::usage::claim_slot(&client, preferred_slot),
        )
        .map_err(|e| io(&e))?;
        let st = Statements {
            unit,
            get,
            range_to,
            range_open,
            upsert,
            delete,
            usage,
        };
        Ok(Conn { client, st, slot })
    }
}

/// Connections to one database, made on demand and reused.
pub struct Pool {
    url: String,
    idle: Mutex<Vec<Conn>>,
    /// The usage slot the next connection made prefers: they go in turn, from a random start.
    next_slot: AtomicU32,
    /// A slot every new connection takes, claimed or not (tests that share one slot).
    #[cfg(test)]
    shared_slot: AtomicI32,
}

impl Pool {
    /// A pool for `url`; creates the store's tables if they do not exist yet.
    pub async fn open(url: &str) -> Result<Pool, KvError> {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(|e| io(&e))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client.batch_execute(SCHEMA).await.map_err(|e| io(&e))?;
        Ok(Pool {
            url: url.to_string(),
            idle: Mutex::new(Vec::new()),
            next_slot: AtomicU32::new(rand::random()),
            #[cfg(test)]
            shared_slot: AtomicI32::new(-1),
        })
    }

    /// Makes the next connections prefer slots `first`, `first + 1`, … (tests choose the slots).
    #[cfg(test)]
    pub(crate) fn first_slot(&self, first: u32) {
        self.next_slot.store(first, Ordering::Relaxed);
    }

    /// Makes every new connection use `slot`, even if another connection holds it (tests).
    #[cfg(test)]
    pub(crate) fn share_slot(&self, slot: i32) {
        self.shared_slot.store(slot, Ordering::Relaxed);
    }

    #[cfg(test)]
    fn in_shared_slot(&self, mut conn: Conn) -> Conn {
        let shared = self.shared_slot.load(Ordering::Relaxed);
        if shared >= 0 {
            conn.slot = shared;
        }
        conn
    }

    /// An idle connection, or a new one. Connections that broke are dropped, not reused.
    pub async fn get(&self) -> Result<Conn, KvError> {
        loop {
            let conn = self.idle.lock().pop();
            match conn {
                Some(c) if !c.client.is_closed() => return Ok(c),
                Some(_) => {}
                None => {
                    let preferred = self.next_slot.fetch_add(1, Ordering::Relaxed);
                    let conn = Conn::connect(&self.url, preferred).await?;
                    #[cfg(test)]
                    let conn = self.in_shared_slot(conn);
                    return Ok(conn);
                }
            }
        }
    }

    /// Gives back a connection that is outside any transaction.
    pub fn put(&self, conn: Conn) {
        let mut idle = self.idle.lock();
        if !conn.client.is_closed() && idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}
