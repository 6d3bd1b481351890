"""What both aiogram clickers share: the texts and keyboard of botbox's example-modules/clicker,
and the bot, over a store whose async methods have committed their writes when they return:

    start(id, name) -> None for a new user, else their clicks
    click(id) -> None if unknown, else the new count
    rating(id) -> None if unknown, else (total, [(name, clicks)] of the top 15)
"""

import asyncio
import os

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import CommandStart
from aiogram.types import KeyboardButton, Message, ReplyKeyboardMarkup

TOP = 15
NOT_REGISTERED = "Please send /start first."
KEYBOARD = ReplyKeyboardMarkup(
    keyboard=[[KeyboardButton(text="Click"), KeyboardButton(text="Rating")]],
    resize_keyboard=True,
)


def build_dispatcher(store) -> Dispatcher:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        name = message.from_user.first_name
        clicks = await store.start(message.from_user.id, name)
        if clicks is None:
            text = f"Hello, {name}! Press Click to count, Rating to see the best."
        else:
            text = f"Welcome back, {name}! Clicks: {clicks}"
        await message.answer(text, reply_markup=KEYBOARD)

    @dp.message(F.text == "Click")
    async def click(message: Message) -> None:
        clicks = await store.click(message.from_user.id)
        await message.answer(NOT_REGISTERED if clicks is None else f"Clicks: {clicks}")

    @dp.message(F.text == "Rating")
    async def rating(message: Message) -> None:
        found = await store.rating(message.from_user.id)
        if found is None:
            await message.answer(NOT_REGISTERED)
            return
        total, top = found
        lines = [f"Total: {total}"]
        lines += [f"{i}: {name} - {clicks}" for i, (name, clicks) in enumerate(top, 1)]
        await message.answer("\n".join(lines))

    return dp


def make_bot() -> Bot:
    """A bot from BOT_TOKEN, talking to BOT_API_URL when it is set (the fake Bot API)."""
    url = os.environ.get("BOT_API_URL")
    session = AiohttpSession(api=TelegramAPIServer.from_base(url)) if url else None
    return Bot(os.environ["BOT_TOKEN"], session=session)


def run(store) -> None:
    async def main() -> None:
        if hasattr(store, "open"):
            await store.open()
        await build_dispatcher(store).start_polling(make_bot())

    asyncio.run(main())
