"""When things happen: the moments a crawl's host limiter gives out slots (politeness is checked on
them), the gaps between moments, and waiting for an event that only shows in a file or a server."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from crawler.engine import Crawl


def record_grants(crawl: Crawl) -> defaultdict[str, list[float]]:
    """Log, per host, the moment the crawl's host limiter gives out each slot. Politeness is checked
    on these times: they are where the delay is kept, so a busy machine cannot shift them, whereas a
    request reaching the server late makes the next gap there look short."""
    grants: defaultdict[str, list[float]] = defaultdict(list)
    acquire = crawl.parts.limiter.acquire

    async def logged(host: str) -> float:
        wait = await acquire(host)
        if wait == 0:
            grants[host.split(":")[0]].append(time.monotonic())  # by name, as Site counts them
        return wait

    crawl.parts.limiter.acquire = logged  # type: ignore[method-assign]  # acquire_up_to calls it too
    return grants


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


async def until(check: Callable[[], Any], what: str, timeout: float = 60) -> None:
    """Wait for ``check()`` (a value, or an awaitable of one) to be true, asking every 50 ms: the
    wait for an event that only shows in a file or a server's answers. Fails naming ``what``
    after ``timeout`` seconds, far beyond what even a busy machine needs."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if asyncio.iscoroutine(answer):
            answer = await answer
        if answer:
            return
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g}s"
        await asyncio.sleep(0.05)
