"""The identities of a shared job (a :class:`~crawler.net.identities.Book` in Redis): every worker
leases from the same pool, and a worker's lease reads the cookies and logins the others saved.

Each slot is one field of a hash (``"slot route"`` → the identity's JSON); uses are counted apart
(``HINCRBY``), and the scripts that count a use, retire or save name the identity, so a write for
one another worker retired meanwhile is dropped. A new identity takes an empty slot with
``HSETNX``: two workers never fill one slot twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crawler.redis.store import RedisStore


class SharedIdentities:
    """:class:`~crawler.net.identities.Book` of a shared job."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._keys = store.keys

    async def read(self, route: str) -> tuple[Mapping[int, str], Mapping[int, int]]:
        redis, keys = self._store.redis, self._keys

        async def both() -> list[Any]:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.hgetall(keys.identities)
                pipe.hgetall(keys.identity_uses)
                return await pipe.execute()

        fields, uses = await self._store.call(both)
        slots = {}
        for name, text in fields.items():
            slot, _, of = name.partition(" ")
            if of == route:
                slots[int(slot)] = text
        return slots, {int(ident): int(n) for ident, n in uses.items()}

    async def new_id(self) -> int:
        return int(await self._store.call(lambda: self._store.redis.incr(self._keys.identity_seq)))

    async def claim(self, route: str, slot: int, text: str) -> bool:
        field = f"{slot} {route}"
        return bool(await self._store.call(lambda: self._store.redis.hsetnx(self._keys.identities, field, text)))

    async def use(self, route: str, slot: int, ident: int, max_uses: int) -> int:
        return int(await self._script("IDENTITY_USE", route, slot, ident, max_uses))

    async def retire(self, route: str, slot: int, ident: int) -> bool:
        return bool(await self._script("IDENTITY_RETIRE", route, slot, ident))

    async def save(self, route: str, slot: int, ident: int, text: str) -> None:
        await self._script("IDENTITY_SAVE", route, slot, ident, text)

    async def _script(self, name: str, route: str, slot: int, ident: int, *more: object) -> Any:
        keys = [self._keys.identities, self._keys.identity_uses]
        return await self._store.script(name, keys, [f"{slot} {route}", ident, *more])
