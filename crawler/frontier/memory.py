"""In-memory frontier: for tests and for crawls that need no resume (``frontier: memory``)."""

from __future__ import annotations

import heapq
import itertools
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from crawler.core.errors import StateError
from crawler.core.request import NO_CAPS, Attempts, Caps, Counts, Lease, Request, Visit
from crawler.core.urls import dedup_key


class MemoryFrontier:
    """Frontier in process memory: for tests and for crawls that need no resume."""

    persistent = False
    generation = 1

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._per_host: Counter[str] = Counter()
        self._queues: dict[str, list[tuple[int, int, Request]]] = {}  # heaps of (-priority, order, request)
        self._leased: dict[int, Lease] = {}
        self._ids = itertools.count(1)
        self._order = itertools.count(1)  # admission order; retries take -order: the head of their band
        self._queued = 0

    async def open(self) -> int:
        return 0

    async def add(self, requests: Sequence[Request], caps: Caps = NO_CAPS) -> list[Request]:
        fresh: list[Request] = []
        for r in requests:
            if caps.total is not None and len(self._seen) >= caps.total:
                break
            key = dedup_key(r.url)
            if key in self._seen or (caps.per_host is not None and self._per_host[r.host] >= caps.per_host):
                continue
            self._seen.add(key)
            self._per_host[r.host] += 1
            heapq.heappush(self._queues.setdefault(r.host, []), (-r.priority, next(self._order), r))
            fresh.append(r)
        self._queued += len(fresh)
        return fresh

    async def lease(self, wants: Mapping[str, int], ttl: float) -> list[Lease]:
        expires = time.time() + ttl
        leases: list[Lease] = []
        for host, n in wants.items():
            q = self._queues.get(host)
            while q and n > 0:
                lease = Lease(next(self._ids), heapq.heappop(q)[2], expires)
                self._leased[lease.id] = lease
                leases.append(lease)
                n -= 1
            if q is not None and not q:
                del self._queues[host]
        self._queued -= len(leases)
        return leases

    async def again(self, lease: Lease, attempts: Attempts) -> None:
        self._leased.pop(lease.id, None)
        r = replace(lease.request, attempts=attempts)
        heapq.heappush(self._queues.setdefault(r.host, []), (-r.priority, -next(self._order), r))
        self._queued += 1

    async def done(self, lease: Lease, visit: Visit | None = None) -> None:
        self._leased.pop(lease.id, None)

    async def recrawl(self, due: Callable[[str, Visit | None], bool] | None) -> int | None:
        raise StateError("a re-crawl needs the job's saved state (frontier: sqlite)")

    async def seen(self, url: str) -> bool:
        return dedup_key(url) in self._seen

    async def counts(self) -> Counts:
        return Counts(self._queued, len(self._leased), len(self._seen))

    async def hosts_with_work(self) -> list[str]:
        return list(self._queues)

    async def commit(self) -> None:
        pass

    async def flushed(self) -> None:
        pass

    async def close(self) -> None:
        pass
