"""The clicker keeping its users in memory, as the article's bot does: lost on a restart.

Run: BOT_TOKEN=... [BOT_API_URL=...] python clicker_memory.py
"""

import heapq

from clicker import TOP, run


class Memory:
    def __init__(self) -> None:
        self.users: dict[int, dict] = {}

    async def start(self, user_id: int, name: str):
        player = self.users.get(user_id)
        if player is not None:
            player["name"] = name
            return player["clicks"]
        self.users[user_id] = {"name": name, "seq": len(self.users) + 1, "clicks": 0}
        return None

    async def click(self, user_id: int):
        player = self.users.get(user_id)
        if player is None:
            return None
        player["clicks"] += 1
        return player["clicks"]

    async def rating(self, user_id: int):
        if user_id not in self.users:
            return None
        top = heapq.nsmallest(
            TOP, self.users.values(), key=lambda p: (-p["clicks"], p["seq"])
        )
        return len(self.users), [(p["name"], p["clicks"]) for p in top]


if __name__ == "__main__":
    run(Memory())
