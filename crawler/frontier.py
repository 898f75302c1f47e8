"""The frontier: every URL the crawl has admitted, queued per host, with leases.

The engine only talks to the :class:`Frontier` protocol, so an SQLite or Redis backend can replace
:class:`MemoryFrontier` without touching it. A URL's life: ``add`` (deduplicated) → ``lease`` (taken
by a worker) → ``done`` (final record written) or ``release`` (back in the queue for a retry).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(slots=True)
class Request:
    """One URL to fetch, with where it came from. ``url`` is canonical; ``host`` is its host key."""

    url: str
    host: str
    depth: int = 0
    parent: str | None = None
    attempt: int = 0
    redirects: int = 0


class Frontier(Protocol):
    """Storage of queued and leased URLs and of the seen set."""

    async def add(self, requests: Sequence[Request], limit: int | None = None) -> list[Request]:
        """Queue the requests whose URL was never seen, at most ``limit`` of them; return those."""

    async def lease(self, host: str) -> Request | None:
        """Take the next queued request for ``host``; it stays leased until done or released."""

    async def release(self, request: Request) -> None:
        """Put a leased request back at the head of its host's queue (for a retry)."""

    async def done(self, request: Request) -> None:
        """The request's final record is written; drop its lease."""

    async def seen(self, url: str) -> bool:
        """True if ``url`` was ever admitted."""

    def queued(self) -> int:
        """Requests waiting in queues (not leased)."""

    def hosts_with_work(self) -> list[str]:
        """Hosts that have queued requests (used to restart scheduling, e.g. after a resume)."""


class MemoryFrontier:
    """Frontier in process memory: for tests and for crawls that need no resume."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._queues: dict[str, deque[Request]] = {}
        self._leased: dict[str, Request] = {}
        self._queued = 0

    async def add(self, requests: Sequence[Request], limit: int | None = None) -> list[Request]:
        fresh = []
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

    def leased(self) -> int:
        return len(self._leased)
