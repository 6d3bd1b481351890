"""dice: a botbox module in Python, built with componentize-py against the same WIT as the Rust ones.

/roll throws dice (`/roll`, `/roll 3`, `/roll d20`, `/roll 2d6`) and answers what fell, e.g.
`Alice rolled 2d6: 3 + 5 = 8`. Each user's statistics live in the module's KV namespace, as
8-byte big-endian counters under `user/<id>/`; /stats answers them, e.g.
`Alice: 3 rolls, 4 dice, 27 points, best roll 17`.

Build it (from the repository root; see README.md beside this file and docs/python-modules.md):

    componentize-py -d wit -w module componentize -p example-modules/python-dice app -o dice.wasm
"""

import random
import re
from dataclasses import dataclass
from typing import Optional

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import kv, outbox, types

NAME = "dice"
VERSION = "0.1.0"
MAX_DICE = 10
MAX_SIDES = 1000
USAGE = f"Usage: /roll [N]d[SIDES], e.g. /roll 2d6 or /roll d20 (at most {MAX_DICE} dice of 2-{MAX_SIDES} sides)"

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


def roll(message: types.Message, user: types.User, args: str) -> None:
    spec = parse_spec(args)
    if spec is None:
        send(message.chat.id, USAGE)
        return
    dice, sides = spec
    result = Roll(dice, sides, [DICE.randint(1, sides) for _ in range(dice)])
    # Each increment is atomic; together they commit with the reply or not at all.
    kv.increment(key(user.id, "rolls"), 1)
    kv.increment(key(user.id, "dice"), dice)
    kv.increment(key(user.id, "points"), result.total)
    if result.total > read_counter(key(user.id, "best")):
        kv.set(key(user.id, "best"), result.total.to_bytes(8, "big", signed=True))
    send(message.chat.id, f"{user.first_name} rolled {result.describe()}")


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
                types.Command("stats", "Your rolls so far", False),
            ],
            wants=types.UpdateFilter(0),  # commands only
            outbox_per_minute=None,
            kv_max_bytes=16 << 20,
            kv_max_keys=100_000,
            timers=False,
            http_hosts=[],
        )

    def handle_update(self, update: types.Update) -> None:
        kind = update.kind
        if not isinstance(kind, types.UpdateKind_Message) or kind.value.from_ is None:
            return
        message, user = kind.value, kind.value.from_
        try:
            if update.command == "roll":
                roll(message, user, update.command_args)
            elif update.command == "stats":
                stats(message, user)
        except Err as e:
            # A host call refused (KV quota, outbox limits, ...): the update fails as a whole, its
            # KV writes and messages are discarded, and the host logs why.
            raise Err(f"/{update.command}: {e.value}")
