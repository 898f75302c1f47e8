"""Host slots taken outside a lease: a rendered page's requests to other hosts, a sitemap fetch.

Each taker is a :class:`SlotHolder` with a name (``page https://…``) and a time by which it is
over. What it holds is counted per host, and ``close`` gives all of it back whatever ended it, so
a page that is done holds no slot by construction. Every slot goes back through the scheduler's
release, which wakes a host waiting for a free slot: a slot given back behind the scheduler's
back would leave that host waiting forever. :class:`Slots` knows every holder, so a crawl that
stops moving can say who holds what (see :meth:`Scheduler.unstick`).
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Awaitable, Callable

SLOT_POLL = 0.05  # seconds between asks for a slot of a host whose slots are all taken


class SlotHolder:
    """One taker of slots; ``take`` and ``give`` per request, ``close`` when it is done."""

    def __init__(self, slots: Slots, name: str, lifetime: float) -> None:
        self.name = name
        self.hosts: Counter[str] = Counter()  # host → slots held
        self.closed = False
        self.over_at = asyncio.get_running_loop().time() + lifetime  # past this, it is over whatever it says
        self._slots = slots

    async def take(self, host: str) -> float:
        """A slot of ``host`` if one is free now (0), else the limiter's answer: seconds to wait.
        A holder closed meanwhile takes nothing (``math.inf``), nor asks the limiter once closed."""
        wait = math.inf if self.closed else await self._slots.acquire(host)
        if wait:
            return wait
        if self.closed:  # closed while the limiter answered: the slot goes straight back
            await self._slots.release(host)
            return math.inf
        self.hosts[host] += 1
        return 0.0

    async def give(self, host: str) -> None:
        """One slot of ``host`` back; nothing if this holder holds none (given back twice)."""
        if self.hosts[host] <= 0:
            del self.hosts[host]
            return
        self.hosts[host] -= 1
        if not self.hosts[host]:
            del self.hosts[host]
        await self._slots.release(host)

    async def close(self) -> None:
        """Done: every slot still held goes back, and nothing more is taken."""
        self.closed = True
        for host, count in list(self.hosts.items()):
            for _ in range(count):
                await self.give(host)
        self._slots.forget(self)


class Slots:
    """Every holder of slots outside a lease, over the limiter's acquire and the scheduler's release."""

    def __init__(self, acquire: Callable[[str], Awaitable[float]], release: Callable[[str], Awaitable[None]]) -> None:
        self.acquire = acquire
        self.release = release
        self._holders: set[SlotHolder] = set()

    def holder(self, name: str, lifetime: float) -> SlotHolder:
        """A new holder, over at the latest ``lifetime`` seconds from now."""
        holder = SlotHolder(self, name, lifetime)
        self._holders.add(holder)
        return holder

    def forget(self, holder: SlotHolder) -> None:
        if not holder.hosts:
            self._holders.discard(holder)

    def held(self, host: str) -> list[SlotHolder]:
        """The holders of ``host``'s slots."""
        return sorted((h for h in self._holders if h.hosts[host] > 0), key=lambda h: h.name)

    def count(self) -> int:
        """Slots held by every holder together."""
        return sum(sum(h.hosts.values()) for h in self._holders)

    async def free_over(self) -> int:
        """Close the holders that are over (closed, or past their time) yet hold slots: how many
        slots went back."""
        now = asyncio.get_running_loop().time()
        freed = 0
        for holder in [h for h in self._holders if h.closed or now >= h.over_at]:
            freed += sum(holder.hosts.values())
            await holder.close()
        return freed
