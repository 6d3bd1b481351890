// What both grammY clickers share: the texts and keyboard of botbox's example-modules/clicker,
// and the bot, generic over where the users are kept. The store's methods are synchronous
// (a Map, or better-sqlite3) and have committed their writes when they return.
import { Bot, Keyboard } from "grammy";
import { run } from "@grammyjs/runner";

export const TOP = 15;
const NOT_REGISTERED = "Please send /start first.";
const keyboard = new Keyboard().text("Click").text("Rating").resized();

// store: { start(id, name) -> null | clicks, click(id) -> null | clicks,
//          rating(id) -> null | { total, top: [{ name, clicks }] } }
export function startBot(store) {
  const token = process.env.BOT_TOKEN;
  if (!token) throw new Error("BOT_TOKEN is not set");
  // BOT_API_URL: another Bot API server (the fake one), e.g. http://127.0.0.1:8081
  const apiRoot = process.env.BOT_API_URL?.replace(/\/+$/, "");
  const bot = new Bot(token, { client: apiRoot ? { apiRoot } : {} });

  bot.command("start", (ctx) => {
    const name = ctx.from.first_name;
    const clicks = store.start(ctx.from.id, name);
    const text = clicks === null
      ? `Hello, ${name}! Press Click to count, Rating to see the best.`
      : `Welcome back, ${name}! Clicks: ${clicks}`;
    return ctx.reply(text, { reply_markup: keyboard });
  });

  bot.hears("Click", (ctx) => {
    const clicks = store.click(ctx.from.id);
    return ctx.reply(clicks === null ? NOT_REGISTERED : `Clicks: ${clicks}`);
  });

  bot.hears("Rating", (ctx) => {
    const rating = store.rating(ctx.from.id);
    if (rating === null) return ctx.reply(NOT_REGISTERED);
    const lines = [`Total: ${rating.total}`];
    rating.top.forEach((p, i) => lines.push(`${i + 1}: ${p.name} - ${p.clicks}`));
    return ctx.reply(lines.join("\n"));
  });

  bot.catch((err) => console.error("handler failed:", err.error));
  // grammY's runner handles updates concurrently (bot.start() would take them one by one).
  const runner = run(bot);
  const stop = () => runner.isRunning() && runner.stop();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
