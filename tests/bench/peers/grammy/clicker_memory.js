// The clicker keeping its users in memory, as the article's bot does: lost on a restart.
// Run: BOT_TOKEN=... [BOT_API_URL=...] node clicker_memory.js
import { startBot, TOP } from "./bot.js";

const users = new Map(); // id -> { name, seq, clicks }

startBot({
  start(id, name) {
    const player = users.get(id);
    if (player) {
      player.name = name;
      return player.clicks;
    }
    users.set(id, { name, seq: users.size + 1, clicks: 0 });
    return null;
  },
  click(id) {
    const player = users.get(id);
    if (!player) return null;
    player.clicks += 1;
    return player.clicks;
  },
  rating(id) {
    if (!users.has(id)) return null;
    const top = [...users.values()]
      .sort((a, b) => b.clicks - a.clicks || a.seq - b.seq)
      .slice(0, TOP);
    return { total: users.size, top };
  },
});
