"""dice: a botbox module in Python, built with componentize-py against the same WIT as the Rust ones.

/roll throws dice (`/roll`, `/roll 3`, `/roll d20`, `/roll 2d6`) and answers what fell, e.g.
`Alice rolled 2d6: 3 + 5 = 8`. /dice sends Telegram's animated 🎲 instead (sendDice through the
general Bot API call, contract 0.1.2): Telegram picks the value, so the module keeps the call's
ticket in KV and, when the animation is over (a timer, 4 s), reads the delivered message from the
ticket's status and answers `Alice rolled a 🎲: 5`. Each user's statistics live in the module's
KV namespace, as 8-byte big-endian counters under `user/<id>/`; /stats answers them, e.g.
`Alice: 3 rolls, 4 dice, 27 points, best roll 17`.

Build it (from the repository root; see README.md beside this file and docs/python-modules.md):

    componentize-py -d wit -w module componentize -p example-modules/python-dice app -o dice.wasm
"""

import json
import random
import re
from dataclasses import dataclass
from typing import Optional

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import bot_api, kv, outbox, timers, types

NAME = "dice"
VERSION = "0.1.0"
MAX_DICE = 10
MAX_SIDES = 1000
USAGE = f"Usage: /roll [N]d[SIDES], e.g. /roll 2d6 or /roll d20 (at most {MAX_DICE} dice of 2-{MAX_SIDES} sides)"

# How long Telegram's 🎲 animation plays before the value shows, in milliseconds.
DICE_ANIMATION_MS = 4_000
# How often a die's status is asked again while it is still queued (Telegram's limits may hold
# it back), every DICE_ANIMATION_MS, before the module gives up on it.
DICE_CHECKS = 5

# `NdM`, `dM` or `N`; missing parts mean one die, six sides.
SPEC = re.compile(r"^(\d*)(?:[dD](\d+))?$")

# Random numbers come from the host (WASI `random`) at each call. A seeded `random.Random()` made
# here would be frozen into the component: componentize-py runs this file's top level at build time
# and snapshots the result.
DICE = random.SystemRandom()


@dataclass
class Roll:
    """What one /roll threw."""

    dice: int
    sides: int
    values: list[int]

    @property
    def total(self) -> int:
        return sum(self.values)

    def describe(self) -> str:
        if len(self.values) == 1:
            return f"{self.dice}d{self.sides}: {self.total}"
        points = " + ".join(str(v) for v in self.values)
        return f"{self.dice}d{self.sides}: {points} = {self.total}"


def parse_spec(args: str) -> Optional[tuple[int, int]]:
    """`2d6` -> (2, 6); None when the text is not a roll we allow."""
    match = SPEC.match(args.strip() or "1d6")
    if match is None:
        return None
    dice = int(match.group(1) or 1)
    sides = int(match.group(2) or 6)
    if not (1 <= dice <= MAX_DICE and 2 <= sides <= MAX_SIDES):
        return None
    return dice, sides


def count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def key(user_id: int, field: str) -> bytes:
    return f"user/{user_id}/{field}".encode()


def read_counter(k: bytes) -> int:
    value = kv.get(k)
    return int.from_bytes(value, "big", signed=True) if value else 0


def send(chat_id: int, text: str) -> None:
    options = outbox.MessageOptions(
        parse_mode=outbox.ParseMode.PLAIN,
        keyboard=None,
        reply_to=None,
        disable_notification=False,
        priority=None,
    )
    outbox.send_message(chat_id, text, options)


def count_roll(user_id: int, dice: int, total: int) -> None:
    """Adds one roll of `dice` dice that made `total` to the user's statistics."""
    # Each increment is atomic; together they commit with the reply or not at all.
    kv.increment(key(user_id, "rolls"), 1)
    kv.increment(key(user_id, "dice"), dice)
    kv.increment(key(user_id, "points"), total)
    if total > read_counter(key(user_id, "best")):
        kv.set(key(user_id, "best"), total.to_bytes(8, "big", signed=True))


def roll(message: types.Message, user: types.User, args: str) -> None:
    spec = parse_spec(args)
    if spec is None:
        send(message.chat.id, USAGE)
        return
    dice, sides = spec
    result = Roll(dice, sides, [DICE.randint(1, sides) for _ in range(dice)])
    count_roll(user.id, dice, result.total)
    send(message.chat.id, f"{user.first_name} rolled {result.describe()}")


def pending_key(ticket: int) -> bytes:
    return f"pending/{ticket}".encode()


def throw_die(message: types.Message, user: types.User) -> None:
    """/dice: sends a real 🎲 and looks at what fell once the animation is over."""
    params = json.dumps({"chat_id": message.chat.id, "emoji": "🎲"})
    outcome = bot_api.call("sendDice", params, [], bot_api.CallOptions(priority=None, message=None))
    if not isinstance(outcome, bot_api.Outcome_Queued):
        raise Err(f"sendDice was not queued: {outcome}")
    ticket = outcome.value
    # Who threw it, under the ticket: the timer's update has no sender.
    pending = {"user": user.id, "name": user.first_name, "checks": 0}
    kv.set(pending_key(ticket), json.dumps(pending).encode())
    timers.schedule_after(DICE_ANIMATION_MS, message.chat.id, ticket.to_bytes(8, "big"))


def die_landed(fired: types.TimerFired) -> None:
    """The timer of a /dice: answers what fell and counts it, or looks again a bit later."""
    ticket = int.from_bytes(fired.payload, "big")
    raw = kv.get(pending_key(ticket))
    if raw is None or fired.chat_id is None:
        return
    pending = json.loads(raw)
    status = bot_api.status(ticket)
    if isinstance(status, bot_api.CallStatus_Queued):
        # Not delivered yet: ask again after another animation's length, a few times.
        pending["checks"] += 1
        if pending["checks"] >= DICE_CHECKS:
            kv.delete(pending_key(ticket))
            return
        kv.set(pending_key(ticket), json.dumps(pending).encode())
        timers.schedule_after(DICE_ANIMATION_MS, fired.chat_id, fired.payload)
        return
    kv.delete(pending_key(ticket))
    if isinstance(status, bot_api.CallStatus_Failed):
        # The die never arrived (the user blocked the bot, ...): nothing to count or answer.
        return
    sent = json.loads(status.value)
    value = int(sent["dice"]["value"])
    count_roll(pending["user"], 1, value)
    send(fired.chat_id, f"{pending['name']} rolled a 🎲: {value}")


def stats(message: types.Message, user: types.User) -> None:
    rolls = read_counter(key(user.id, "rolls"))
    if rolls == 0:
        send(message.chat.id, f"{user.first_name}, you have not rolled yet: try /roll")
        return
    dice = read_counter(key(user.id, "dice"))
    points = read_counter(key(user.id, "points"))
    best = read_counter(key(user.id, "best"))
    send(
        message.chat.id,
        f"{user.first_name}: {count(rolls, 'roll', 'rolls')}, {count(dice, 'die', 'dice')}, "
        f"{count(points, 'point', 'points')}, best roll {best}",
    )


class Handler(exports.Handler):
    """The module's exports: componentize-py instantiates this class once per instance."""

    def init(self) -> types.Manifest:
        return types.Manifest(
            name=NAME,
            version=VERSION,
            commands=[
                types.Command("roll", "Throw dice: /roll, /roll d20, /roll 2d6", False),
                types.Command("dice", "Throw Telegram's animated die", False),
                types.Command("stats", "Your rolls so far", False),
            ],
            wants=types.UpdateFilter(0),  # commands only
            outbox_per_minute=None,
            kv_max_bytes=16 << 20,
            kv_max_keys=100_000,
            timers=True,  # /dice looks at what fell when the animation is over
            http_hosts=[],
        )

    def handle_update(self, update: types.Update) -> None:
        kind = update.kind
        if isinstance(kind, types.UpdateKind_Timer):
            try:
                die_landed(kind.value)
            except Err as e:
                raise Err(f"/dice timer: {e.value}")
            return
        if not isinstance(kind, types.UpdateKind_Message) or kind.value.from_ is None:
            return
        message, user = kind.value, kind.value.from_
        try:
            if update.command == "roll":
                roll(message, user, update.command_args)
            elif update.command == "dice":
                throw_die(message, user)
            elif update.command == "stats":
                stats(message, user)
        except Err as e:
            # A host call refused (KV quota, outbox limits, ...): the update fails as a whole, its
            # KV writes and messages are discarded, and the host logs why.
            raise Err(f"/{update.command}: {e.value}")
