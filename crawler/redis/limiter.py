"""Per-host politeness held in Redis, for every process of a shared job at once.

A host's slots are a sorted set of holders (token → expiry): a worker that dies holding a slot
blocks nothing for longer than ``lease_ttl``, since its heartbeat stops renewing the slot. The
host's next start time, its delay (with Crawl-delay and Retry-After) and AIMD's state live in one
hash; every step is one Lua script that reads Redis's clock, so the delay between two requests
to one host holds across processes and machines. A request costs one round trip: taking its slot
gives back the slot of the host's previous request and what AIMD learnt from its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
import time

from crawler.core.errors import ClusterError
from crawler.core.usage import Throttled, Throttling
from crawler.redis.store import RedisStore

FULL_POLL = 0.02  # seconds between looks at a host whose slots other processes hold
PARK = 0.005  # seconds a given-back slot waits for this process's next acquire of its host
MAX_REPORTED = 100


class RedisHostLimiter:
    """The :class:`~crawler.scheduling.limiter.HostLimiter` contract on a shared job."""

    def __init__(
        self, store: RedisStore, per_host: int, delay: float = 0.0, jitter: float = 0.0, *, adaptive: bool = True
    ) -> None:
        self._store = store
        self._keys = store.keys
        self._per_host = per_host
        self._delay_ms = round(delay * 1000)
        self._jitter = jitter
        self._adaptive = adaptive
        self._held: dict[str, list[str]] = {}  # host → tokens of the slots this process holds
        self._tokens = (f"{store.worker}:{i}" for i in itertools.count())
        self._parked: dict[str, list[str]] = {}  # host → slots given back here, not yet in Redis
        self._flusher: asyncio.Task[None] | None = None
        self._answers: dict[str, list[int]] = {}  # host → (ms taken, overloaded) pairs not yet sent
        self._throttled: dict[str, Throttled] = {}
        store.renewals.append(self._renewal)
        store.before_close.append(self._last_words)

    async def acquire(self, host: str) -> float:
        taken, wait = await self.acquire_up_to(host, 1)
        return 0.0 if taken else wait

    async def acquire_up_to(self, host: str, want: int) -> tuple[int, float]:
        """One round trip, which also gives back the slots of ``host`` this process just released."""
        prefix = next(self._tokens)
        jitter_ms = round(random.uniform(0, self._jitter) * 1000) if self._jitter else 0
        old = self._pop_parked(host)
        taken, answer, change, *state = await self._store.script(
            "ACQUIRE",
            [self._keys.state(host), self._keys.slots(host)],
            [
                old,
                self._per_host,
                self._delay_ms,
                prefix,
                jitter_ms,
                round(self._store.ttl * 1000),
                want,
                *(self._answers.pop(host, []) if old else []),
            ],
        )
        self._note(host, change, state)
        if taken:
            self._held.setdefault(host, []).extend(f"{prefix}:{i}" for i in range(1, taken + 1))
        if answer >= 0:
            return taken, float(answer) / 1000
        # full: our own release wakes us, others' releases are polled for
        return taken, math.inf if self._held.get(host) else FULL_POLL

    async def release(self, host: str) -> None:
        """Park the slot: the scheduler puts the host first in line, so this process's next
        acquire of it usually follows at once and gives the slot back in its own round trip.
        Slots still parked after PARK seconds are given back on their own."""
        tokens = self._held[host]
        self._parked.setdefault(host, []).append(tokens.pop())
        if not tokens:
            del self._held[host]
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._give_back_parked())

    async def observe(self, host: str, sent: float, overloaded: bool) -> None:
        """Kept here until the request's slot goes back: both reach Redis in one round trip."""
        if self._adaptive:
            self._answers.setdefault(host, []).extend((round((time.monotonic() - sent) * 1000), int(overloaded)))

    async def _give_back_parked(self) -> None:
        await asyncio.sleep(PARK)
        with contextlib.suppress(ClusterError):  # Redis is gone: the slots expire with the lease TTL
            await self.give_back_all()

    async def _last_words(self) -> None:
        """Before the store closes: a give-back already on its way reaches Redis first (else its
        slot stays there, blocking the host for the lease TTL), then the slots still parked."""
        while self._flusher is not None and not self._flusher.done():  # (a release meanwhile starts another)
            await asyncio.wait((self._flusher,))
        await self.give_back_all()

    async def give_back_all(self) -> None:
        """Give every parked slot back now."""
        while self._parked:
            host = next(iter(self._parked))
            old = self._pop_parked(host)
            change, *state = await self._store.script(
                "RELEASE",
                [self._keys.state(host), self._keys.slots(host)],
                [old, self._per_host, self._delay_ms, *self._answers.pop(host, [])],
            )
            self._note(host, change, state)

    def _pop_parked(self, host: str) -> str:
        """Every parked slot of ``host``, as the scripts take them: tokens joined by spaces."""
        return " ".join(self._parked.pop(host, []))

    def _note(self, host: str, change: int, state: list[object]) -> None:
        if change and (host in self._throttled or len(self._throttled) < MAX_REPORTED):
            slots, delay_ms, throttles, least = state
            delay = float(str(delay_ms)) / 1000
            self._throttled[host] = Throttled(
                host, int(str(throttles)), int(str(least)), self._per_host, int(str(slots)), delay, shared=True
            )

    async def backoff(self, host: str, seconds: float) -> None:
        await self._store.script("HOLD", [self._keys.state(host)], [round(seconds * 1000), -1])

    async def crawl_delay(self, host: str, seconds: float) -> None:
        ms = round(seconds * 1000)
        await self._store.script("HOLD", [self._keys.state(host)], [ms, ms])

    def held(self) -> dict[str, int]:
        """Slots given back and only parked are no longer held (they reach Redis within PARK)."""
        return {host: len(tokens) for host, tokens in self._held.items() if tokens}

    def throttled(self) -> Throttling:
        return Throttling(tuple(self._throttled.values()))

    def _renewal(self) -> tuple[list[str], list[str]]:
        pairs: list[str] = []
        for held in (self._held, self._parked):
            for host, tokens in held.items():
                key = self._keys.slots(host)
                for token in tokens:
                    pairs += [key, token]
        return [], pairs
