"""In-memory frontier: for tests and for crawls that need no resume (``frontier: memory``)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from crawler.frontier import Request


class MemoryFrontier:
    """Frontier in process memory: for tests and for crawls that need no resume."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._queues: dict[str, deque[Request]] = {}
        self._leased: dict[str, Request] = {}
        self._queued = 0

    async def open(self) -> None:
        pass

    async def add(self, requests: Sequence[Request], limit: int | None = None) -> list[Request]:
        fresh: list[Request] = []
        for r in requests:
            if r.url in self._seen:
                continue
            if limit is not None and len(fresh) >= limit:
                break
            self._seen.add(r.url)
            self._queues.setdefault(r.host, deque()).append(r)
            fresh.append(r)
        self._queued += len(fresh)
        return fresh

    async def lease(self, host: str) -> Request | None:
        q = self._queues.get(host)
        if not q:
            return None
        r = q.popleft()
        if not q:
            del self._queues[host]
        self._queued -= 1
        self._leased[r.url] = r
        return r

    async def release(self, request: Request) -> None:
        self._leased.pop(request.url, None)
        self._queues.setdefault(request.host, deque()).appendleft(request)
        self._queued += 1

    async def done(self, request: Request) -> None:
        self._leased.pop(request.url, None)

    async def seen(self, url: str) -> bool:
        return url in self._seen

    def queued(self) -> int:
        return self._queued

    def hosts_with_work(self) -> list[str]:
        return list(self._queues)

    def admitted(self) -> int:
        return len(self._seen)

    def admitted_per_host(self) -> dict[str, int]:
        return {}  # a memory frontier starts empty every run

    async def commit(self) -> None:
        pass

    async def close(self) -> None:
        pass
