"""The frontier: every URL the crawl has admitted, queued per host, with leases.

The engine only talks to the :class:`Frontier` protocol, so an SQLite or Redis backend can replace
:class:`MemoryFrontier` without touching it. A URL's life: ``add`` (deduplicated) → ``lease`` (taken
by a worker) → ``done`` (final record written) or ``release`` (back in the queue for a retry).
"""

from __future__ import annotations

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
    proxy_attempts: int = 0  # retries spent on failing proxies (not persisted: resets on resume)


class Frontier(Protocol):
    """Storage of queued and leased URLs and of the seen set.

    Backends: :class:`~crawler.frontier.memory.MemoryFrontier` (tests, throwaway crawls) and
    :class:`~crawler.frontier.sqlite.SqliteFrontier` (the default; survives crashes and resumes).
    """

    async def open(self) -> None:
        """Prepare the store (and, for durable backends, reconcile it after a crash)."""

    async def add(self, requests: Sequence[Request], limit: int | None = None) -> list[Request]:
        """Queue the requests whose URL was never seen, at most ``limit`` of them; return those."""

    async def lease(self, host: str) -> Request | None:
        """Take the next queued request for ``host``; it stays leased until done or released."""

    async def release(self, request: Request) -> None:
        """Put a leased request back at the head of its host's queue (for a retry)."""

    async def done(self, request: Request) -> None:
        """The request's final record is written (flushed at the next checkpoint); drop its lease."""

    async def seen(self, url: str) -> bool:
        """True if ``url`` was ever admitted."""

    def queued(self) -> int:
        """Requests waiting in queues (not leased)."""

    def hosts_with_work(self) -> list[str]:
        """Hosts that have queued requests (used to restart scheduling, e.g. after a resume)."""

    def admitted(self) -> int:
        """URLs ever admitted to this crawl (across resumes); ``max_pages`` counts these."""

    def admitted_per_host(self) -> dict[str, int]:
        """Admitted URLs per host key (across resumes); ``max_pages_per_host`` counts these."""

    async def commit(self) -> None:
        """Make every change so far durable. Records are flushed only after this returns."""

    async def close(self) -> None:
        """Commit and release the store."""
