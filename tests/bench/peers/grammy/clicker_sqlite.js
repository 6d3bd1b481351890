// The clicker keeping its users in SQLite (better-sqlite3; CLICKER_DB, default
// clicker.sqlite3) in WAL mode with synchronous=FULL: every write is committed, and on the
// disk, before the reply is sent.
// Run: BOT_TOKEN=... [BOT_API_URL=...] [CLICKER_DB=...] node clicker_sqlite.js
import Database from "better-sqlite3";
import { startBot, TOP } from "./bot.js";

const db = new Database(process.env.CLICKER_DB ?? "clicker.sqlite3");
db.pragma("journal_mode = WAL");
db.pragma("synchronous = FULL");
db.exec(`
  CREATE TABLE IF NOT EXISTS users (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id INTEGER NOT NULL UNIQUE,
    name TEXT NOT NULL,
    clicks INTEGER NOT NULL DEFAULT 0);
  CREATE INDEX IF NOT EXISTS users_rating ON users (clicks DESC, seq);
`);

const find = db.prepare("SELECT clicks FROM users WHERE id = ?").pluck();
const rename = db.prepare("UPDATE users SET name = ? WHERE id = ?");
const insert = db.prepare("INSERT INTO users (id, name) VALUES (?, ?)");
const click = db.prepare("UPDATE users SET clicks = clicks + 1 WHERE id = ? RETURNING clicks").pluck();
const total = db.prepare("SELECT COUNT(*) FROM users").pluck();
const top = db.prepare("SELECT name, clicks FROM users ORDER BY clicks DESC, seq LIMIT ?");

const start = db.transaction((id, name) => {
  const clicks = find.get(id);
  if (clicks === undefined) {
    insert.run(id, name);
    return null;
  }
  rename.run(name, id);
  return clicks;
});

startBot({
  start,
  click: (id) => click.get(id) ?? null,
  rating(id) {
    if (find.get(id) === undefined) return null;
    return { total: total.get(), top: top.all(TOP) };
  },
});
