"""The clicker keeping its users in SQLite (aiosqlite; CLICKER_DB, default clicker.sqlite3) in
WAL mode with synchronous=FULL: every write is committed, and on the disk, before the reply.

Run: BOT_TOKEN=... [BOT_API_URL=...] [CLICKER_DB=...] python clicker_sqlite.py
"""

import asyncio
import os

import aiosqlite

from clicker import TOP, run

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id INTEGER NOT NULL UNIQUE,
    name TEXT NOT NULL,
    clicks INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS users_rating ON users (clicks DESC, seq);
"""


class Sqlite:
    def __init__(self, path: str) -> None:
        self.path = path
        # Handlers run concurrently on one connection: one transaction at a time.
        self.lock = asyncio.Lock()

    async def open(self) -> None:
        # Autocommit mode: each statement outside BEGIN is a transaction of its own.
        self.db = await aiosqlite.connect(self.path, isolation_level=None)
        await self.db.execute("PRAGMA journal_mode=WAL")
        await self.db.execute("PRAGMA synchronous=FULL")
        await self.db.executescript(SCHEMA)

    async def start(self, user_id: int, name: str):
        async with self.lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                async with self.db.execute(
                    "SELECT clicks FROM users WHERE id = ?", (user_id,)
                ) as cursor:
                    row = await cursor.fetchone()
                if row is None:
                    await self.db.execute(
                        "INSERT INTO users (id, name) VALUES (?, ?)", (user_id, name)
                    )
                else:
                    await self.db.execute(
                        "UPDATE users SET name = ? WHERE id = ?", (name, user_id)
                    )
                await self.db.execute("COMMIT")
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
        return None if row is None else row[0]

    async def click(self, user_id: int):
        async with self.lock:
            async with self.db.execute(
                "UPDATE users SET clicks = clicks + 1 WHERE id = ? RETURNING clicks",
                (user_id,),
            ) as cursor:
                row = await cursor.fetchone()
        return None if row is None else row[0]

    async def rating(self, user_id: int):
        async with self.lock:
            async with self.db.execute(
                "SELECT 1 FROM users WHERE id = ?", (user_id,)
            ) as cursor:
                if await cursor.fetchone() is None:
                    return None
            async with self.db.execute("SELECT COUNT(*) FROM users") as cursor:
                (total,) = await cursor.fetchone()
            async with self.db.execute(
                "SELECT name, clicks FROM users ORDER BY clicks DESC, seq LIMIT ?", (TOP,)
            ) as cursor:
                top = await cursor.fetchall()
        return total, [(name, clicks) for name, clicks in top]


if __name__ == "__main__":
    run(Sqlite(os.environ.get("CLICKER_DB", "clicker.sqlite3")))
