//! The clicker keeping its users in SQLite (`CLICKER_DB`, default `clicker.sqlite3`) in WAL
//! mode with `synchronous=FULL`: every write is committed, and on the disk, before the reply.

use std::sync::Mutex;

use clicker_teloxide::{Registered, Store, TOP, run};
use rusqlite::{Connection, OptionalExtension, params};

struct Sqlite {
    db: Mutex<Connection>,
}

impl Sqlite {
    fn open(path: &str) -> rusqlite::Result<Self> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS users (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 id INTEGER NOT NULL UNIQUE,
                 name TEXT NOT NULL,
                 clicks INTEGER NOT NULL DEFAULT 0);
             CREATE INDEX IF NOT EXISTS users_rating ON users (clicks DESC, seq);",
        )?;
        Ok(Self { db: Mutex::new(db) })
    }
}

impl Store for Sqlite {
    fn start(&self, id: i64, name: &str) -> Registered {
        let mut db = self.db.lock().unwrap();
        let tx = db.transaction().unwrap();
        let clicks: Option<u64> = tx
            .query_row("SELECT clicks FROM users WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .unwrap();
        match clicks {
            Some(_) => tx.execute(
                "UPDATE users SET name = ?2 WHERE id = ?1",
                params![id, name],
            ),
            None => tx.execute(
                "INSERT INTO users (id, name) VALUES (?1, ?2)",
                params![id, name],
            ),
        }
        .unwrap();
        tx.commit().unwrap();
        match clicks {
            Some(clicks) => Registered::Back { clicks },
            None => Registered::New,
        }
    }

    fn click(&self, id: i64) -> Option<u64> {
        let db = self.db.lock().unwrap();
        db.prepare_cached("UPDATE users SET clicks = clicks + 1 WHERE id = ?1 RETURNING clicks")
            .unwrap()
            .query_row([id], |r| r.get(0))
            .optional()
            .unwrap()
    }

    fn rating(&self, id: i64) -> Option<(u64, Vec<(String, u64)>)> {
        let db = self.db.lock().unwrap();
        let known = db
            .prepare_cached("SELECT 1 FROM users WHERE id = ?1")
            .unwrap()
            .exists([id])
            .unwrap();
        if !known {
            return None;
        }
        let total = db
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
            .unwrap();
        let mut top = db
            .prepare_cached("SELECT name, clicks FROM users ORDER BY clicks DESC, seq LIMIT ?1")
            .unwrap();
        let top = top
            .query_map([TOP as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        Some((total, top))
    }
}

#[tokio::main]
async fn main() {
    let path = std::env::var("CLICKER_DB").unwrap_or_else(|_| "clicker.sqlite3".into());
    run(Sqlite::open(&path).expect("open the database")).await;
}
