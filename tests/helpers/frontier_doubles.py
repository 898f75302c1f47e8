"""A frontier that really suspends: every call yields to the event loop before and after the
wrapped backend runs, as a networked backend (Redis) would. Engine code that assumes a call
completes without another coroutine running in between fails against it. It also counts the
leases of each URL (one lease per visit)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from crawler.core.request import NO_CAPS, Attempts, Caps, Counts, Lease, Request, Visit
from crawler.frontier import Frontier


class YieldingFrontier:
    """Wraps a backend; each call yields ``yields`` times before and after it runs."""

    def __init__(self, inner: Frontier, yields: int = 2) -> None:
        self.inner = inner
        self.persistent = inner.persistent
        self._yields = yields
        self.calls = 0
        self.leased: Counter[str] = Counter()  # URL → times leased

    async def _pause(self) -> None:
        self.calls += 1
        for _ in range(self._yields):
            await asyncio.sleep(0)

    @property
    def generation(self) -> int:
        return self.inner.generation

    async def open(self) -> int:
        await self._pause()
        return await self.inner.open()

    async def recrawl(self, due: Callable[[str, Visit | None], bool] | None) -> int | None:
        await self._pause()
        return await self.inner.recrawl(due)

    async def add(self, requests: Sequence[Request], caps: Caps = NO_CAPS) -> list[Request]:
        requests = list(requests)
        await self._pause()
        fresh = await self.inner.add(requests, caps)
        await self._pause()
        return fresh

    async def lease(self, wants: Mapping[str, int], ttl: float) -> list[Lease]:
        wants = dict(wants)
        await self._pause()
        leases = await self.inner.lease(wants, ttl)
        self.leased.update(lease.request.url for lease in leases)
        await self._pause()
        return leases

    async def again(self, lease: Lease, attempts: Attempts) -> None:
        await self._pause()
        await self.inner.again(lease, attempts)

    async def done(self, lease: Lease, visit: Visit | None = None) -> None:
        await self._pause()
        await self.inner.done(lease, visit)

    async def seen(self, url: str) -> bool:
        await self._pause()
        return await self.inner.seen(url)

    async def counts(self) -> Counts:
        await self._pause()
        return await self.inner.counts()

    async def hosts_with_work(self) -> list[str]:
        await self._pause()
        return await self.inner.hosts_with_work()

    async def commit(self) -> None:
        await self._pause()
        await self.inner.commit()
        await self._pause()

    async def flushed(self) -> None:
        await self._pause()
        await self.inner.flushed()

    async def close(self) -> None:
        await self._pause()
        await self.inner.close()
