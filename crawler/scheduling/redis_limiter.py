"""Per-host politeness held in Redis, for every process of a shared job at once.

A host's slots are a sorted set of holders (token → expiry): a worker that dies holding a slot
blocks nothing for longer than ``lease_ttl``, since its heartbeat stops renewing the slot. The
host's next start time, its delay (with Crawl-delay and Retry-After) and AIMD's state live in one
hash; every step is one Lua script that reads Redis's clock, so the delay between two requests
to one host holds across processes and machines.
"""

from __future__ import annotations

import itertools
import math
import random
import time

from crawler.cluster.store import RedisStore

FULL_POLL = 0.05  # seconds between looks at a host whose slots other processes hold
MAX_REPORTED = 100


class RedisHostLimiter:
    """The :class:`~crawler.scheduling.limiter.HostLimiter` contract on a shared job."""

    def __init__(self, store: RedisStore, per_host: int, delay: float = 0.0, jitter: float = 0.0, *,
                 adaptive: bool = True) -> None:
        self._store = store
        self._keys = store.keys
        self._per_host = per_host
        self._delay_ms = round(delay * 1000)
        self._jitter = jitter
        self._adaptive = adaptive
        self._held: dict[str, list[str]] = {}  # host → tokens of the slots this process holds
        self._tokens = (f"{store.worker}:{i}" for i in itertools.count())
        self._throttled: dict[str, str] = {}
        store.renewals.append(self._renewal)

    async def acquire(self, host: str) -> float:
        token = next(self._tokens)
        jitter_ms = round(random.uniform(0, self._jitter) * 1000) if self._jitter else 0
        answer = int(await self._store.script(
            "ACQUIRE", [self._keys.state(host), self._keys.slots(host)],
            [token, self._per_host, self._delay_ms, jitter_ms, round(self._store.ttl * 1000)]))
        if answer == 0:
            self._held.setdefault(host, []).append(token)
            return 0.0
        if answer < 0:  # full: our own release wakes us, others' releases are polled for
            return math.inf if self._held.get(host) else FULL_POLL
        return answer / 1000

    async def release(self, host: str) -> None:
        tokens = self._held[host]
        token = tokens.pop()
        if not tokens:
            del self._held[host]
        key = self._keys.slots(host)
        await self._store.call(lambda: self._store.redis.zrem(key, token))

    async def observe(self, host: str, sent: float, overloaded: bool) -> None:
        if not self._adaptive:
            return
        took_ms = round((time.monotonic() - sent) * 1000)
        change, slots, delay_ms, throttles, least = await self._store.script(
            "OBSERVE", [self._keys.state(host)], [took_ms, int(overloaded), self._per_host, self._delay_ms])
        if change and (host in self._throttled or len(self._throttled) < MAX_REPORTED):
            self._throttled[host] = (f"{host}: slowed {throttles} times (all workers), down to {least} of "
                                     f"{self._per_host} slots; now {slots} slots, {float(delay_ms) / 1000:g}s delay")

    async def backoff(self, host: str, seconds: float) -> None:
        await self._store.script("HOLD", [self._keys.state(host)], [round(seconds * 1000), -1])

    async def crawl_delay(self, host: str, seconds: float) -> None:
        ms = round(seconds * 1000)
        await self._store.script("HOLD", [self._keys.state(host)], [ms, ms])

    def report(self) -> list[str]:
        return list(self._throttled.values())

    def _renewal(self) -> tuple[list[str], list[str]]:
        pairs: list[str] = []
        for host, tokens in self._held.items():
            key = self._keys.slots(host)
            for token in tokens:
                pairs += [key, token]
        return [], pairs
