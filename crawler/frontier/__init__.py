"""The frontier: every URL the crawl has admitted, queued per host, with leases.

The engine only talks to the :class:`Frontier` protocol. Every method is async, so a networked
backend (Redis, shared by many processes) can implement it without changing its callers. A URL's
life: ``add`` (deduplicated, within the caps) → ``lease`` (taken by a worker, in batches) → ``done``
(its final record is written) or ``again`` (not finished: back in its host's queue, with the
:class:`~crawler.core.request.Attempts` its next try starts from, which every backend stores).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from crawler.core.request import NO_CAPS, Attempts, Caps, Counts, Lease, Request, Visit


class Frontier(Protocol):
    """Storage of queued and leased URLs and of the seen set.

    Backends: :class:`~crawler.frontier.memory.MemoryFrontier` (tests, throwaway crawls),
    :class:`~crawler.frontier.sqlite.SqliteFrontier` (the default; survives crashes and resumes) and
    :class:`~crawler.redis.frontier.RedisFrontier` (one job shared by many processes).
    """

    persistent: bool  # keeps state across runs (records are appended); False: starts empty
    generation: int  # which crawl of the job this is: 1, then one more per re-crawl

    async def open(self) -> int:
        """Prepare the store (durable backends reconcile it after a crash); return how many URLs
        were already done before this run."""

    async def add(self, requests: Sequence[Request], caps: Caps = NO_CAPS) -> list[Request]:
        """Queue the requests whose URL (by its ``dedup_key``) was never seen, as far as ``caps``
        allow; return those."""

    async def lease(self, wants: Mapping[str, int], ttl: float) -> list[Lease]:
        """Take up to ``wants[host]`` queued requests of each host for ``ttl`` s: the highest
        ``priority`` first, oldest first among equals."""

    async def again(self, lease: Lease, attempts: Attempts) -> None:
        """The visit did not finish the URL: the lease's request, with ``attempts`` in place of
        its own, goes back to the head of its host's queue, among requests of its priority. The
        attempts are kept as durably as the queue: a resumed crawl, or another worker taking the
        URL back, goes on from them."""

    async def done(self, lease: Lease, visit: Visit | None = None) -> None:
        """The request's final record is written (flushed at the next checkpoint); a persistent
        backend keeps ``visit`` for the next re-crawl."""

    async def recrawl(self, due: Callable[[str, Visit | None], bool] | None) -> int | None:
        """``--recrawl``: join the job's current generation if it is unfinished (None: this run
        resumes it), else start the next one, queuing every finished URL ``due(url, visit)``
        accepts (all, for None) with its last visit. Returns how many URLs were queued again."""

    async def seen(self, url: str) -> bool:
        """True if ``url``, or a URL with its ``dedup_key``, was ever admitted."""

    async def counts(self) -> Counts:
        """Queued, leased and admitted URLs of the whole job."""

    async def hosts_with_work(self) -> list[str]:
        """Hosts that have queued requests (used to (re)start scheduling, e.g. after a resume)."""

    async def commit(self) -> None:
        """Make every change so far durable. Records are flushed only after this returns."""

    async def flushed(self) -> None:
        """Every record written before the last ``commit`` began is on disk now. A shared
        backend publishes those requests as done only here, so a crash repeats a URL at worst."""

    async def close(self) -> None:
        """Commit and release the store."""
