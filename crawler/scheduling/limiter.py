"""The host limiter: per-host politeness (slots, start-to-start delay, back-off, AIMD).

:class:`HostLimiter` is the contract the scheduler and the pipeline use; every method is async, and
answers are durations rather than clock readings, so a shared implementation (Redis, for many
processes) can replace :class:`LocalHostLimiter` without touching its callers. Slots count the
*target* host (``host:port``), never a proxy.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from crawler.core.usage import Throttled, Throttling


class HostLimiter(Protocol):
    """Per-host slots and start times. ``sent`` values are ``time.monotonic()`` of this process."""

    async def acquire(self, host: str) -> float:
        """Take a slot of ``host`` and schedule its next start, if a slot is free and the host's
        start time has come: return 0. Otherwise return the seconds to wait before asking again
        (``math.inf``: until one of this process's requests to ``host`` is released)."""

    async def acquire_up_to(self, host: str, want: int) -> tuple[int, float]:
        """``acquire`` up to ``want`` times in one step (one round trip for a shared limiter):
        how many slots were taken, and the answer of the first refusal (0 if none)."""

    async def release(self, host: str) -> None:
        """A request to ``host`` that held a slot is over."""

    async def observe(self, host: str, sent: float, overloaded: bool) -> None:
        """Feed one answer (AIMD): when it was sent and whether the host signalled overload. It
        counts by the time the request's slot is released (a shared limiter sends both at once)."""

    async def backoff(self, host: str, seconds: float) -> None:
        """Start nothing new on ``host`` for ``seconds`` (retry back-off, Retry-After)."""

    async def crawl_delay(self, host: str, seconds: float) -> None:
        """robots.txt's Crawl-delay: the host's delay is at least this from now on."""

    def held(self) -> dict[str, int]:
        """The slots this process holds now, per host (hosts holding none left out)."""

    def throttled(self) -> Throttling:
        """The hosts the AIMD throttle slowed down (for the summary)."""


@dataclass(slots=True)
class HostState:
    slots: int
    delay: float
    active: int = 0
    ready_at: float = 0.0
    limit: int = 0  # the configured slots; AIMD moves ``slots`` between 1 and this
    base_delay: float = 0.0  # the configured delay (or Crawl-delay); AIMD never goes below it
    latency: float = 0.0  # moving average of response time, seconds
    samples: int = 0
    good: int = 0  # successes since the last change
    throttles: int = 0
    min_slots: int = 0
    cut_at: float = -1.0  # clock time of the last decrease


SUSTAINED = 5  # successes in a row before a throttled host gets a slot back (and half its delay)
FIRST_DELAY = 0.05  # the extra delay a first cut adds; each further cut doubles it
SPIKE = 3.0  # a response this many times slower than the host's average is a latency spike
SPIKE_FLOOR = 0.5  # ...if it also took at least this many seconds
MAX_THROTTLE_DELAY = 30.0
MIN_SWEEP = 4096  # hosts held before idle ones are first swept out
MAX_REPORTED = 100  # throttled hosts named in the summary (the rest are counted)


class LocalHostLimiter:
    """Per-host politeness for one process.

    With ``adaptive`` (AIMD), 429/503, timeouts or a latency spike halve a host's slots; at one
    slot they double its delay instead (from 50 ms, at most 30 s). Sustained success halves the
    extra delay and gives slots back one at a time, never beyond the configured values.

    Memory stays bounded in broad crawls: once the table doubles, hosts that are idle and back
    at the job's defaults (no request in flight, start time passed, no Crawl-delay, no throttle)
    are dropped; a dropped host starts again from the defaults, which is what it had.
    """

    def __init__(
        self,
        per_host: int,
        delay: float = 0.0,
        jitter: float = 0.0,
        *,
        adaptive: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_host = per_host
        self._delay = delay
        self._jitter = jitter
        self._adaptive = adaptive
        self._clock = clock
        self._hosts: dict[str, HostState] = {}
        self._sweep_at = MIN_SWEEP
        self._throttled: dict[str, Throttled] = {}  # kept after the host is dropped
        self._more_throttled = 0

    def state(self, host: str) -> HostState:
        s = self._hosts.get(host)
        if s is None:
            if len(self._hosts) >= self._sweep_at:
                self._sweep()
            s = self._hosts[host] = HostState(
                self._per_host, self._delay, limit=self._per_host, base_delay=self._delay, min_slots=self._per_host
            )
        return s

    def __len__(self) -> int:
        return len(self._hosts)

    async def acquire(self, host: str) -> float:
        s = self.state(host)
        if s.active >= s.slots:
            return math.inf
        now = self._clock()
        if s.ready_at > now:
            return s.ready_at - now
        s.active += 1
        gap = s.delay + (random.uniform(0, self._jitter) if self._jitter else 0.0)
        s.ready_at = now + gap
        return 0.0

    async def acquire_up_to(self, host: str, want: int) -> tuple[int, float]:
        for taken in range(want):
            if wait := await self.acquire(host):
                return taken, wait
        return want, 0.0

    async def release(self, host: str) -> None:
        self.state(host).active -= 1

    async def observe(self, host: str, sent: float, overloaded: bool) -> None:
        """Requests sent before the last cut cannot cause another: one cut per round trip, not
        one per request that was already in flight."""
        if not self._adaptive:
            return
        s = self.state(host)
        now = self._clock()
        seconds = now - sent
        spike = s.samples >= 5 and seconds > max(SPIKE * s.latency, SPIKE_FLOOR)
        s.latency = seconds if not s.samples else 0.8 * s.latency + 0.2 * seconds
        s.samples += 1
        if (overloaded or spike) and sent <= s.cut_at:
            return
        if overloaded or spike:
            s.cut_at = now
            if s.slots > 1:  # concurrency first; the delay grows only once one slot is left
                s.slots //= 2
            else:
                s.delay = min(max(s.delay * 2, FIRST_DELAY, s.base_delay), max(MAX_THROTTLE_DELAY, s.base_delay))
            s.good = 0
            s.throttles += 1
            s.min_slots = min(s.min_slots, s.slots)
            self._note_throttle(host, s, cut=True)
        elif s.slots < s.limit or s.delay > s.base_delay:
            s.good += 1
            if s.good >= SUSTAINED:
                s.good = 0
                s.slots = min(s.limit, s.slots + 1)
                s.delay = s.base_delay if s.delay / 2 < s.base_delay + 0.01 else s.delay / 2
                self._note_throttle(host, s, cut=False)

    async def backoff(self, host: str, seconds: float) -> None:
        s = self.state(host)
        s.ready_at = max(s.ready_at, self._clock() + seconds)

    async def crawl_delay(self, host: str, seconds: float) -> None:
        s = self.state(host)
        s.base_delay = max(s.base_delay, seconds)
        s.delay = max(s.delay, seconds)
        s.ready_at = max(s.ready_at, self._clock() + s.delay)

    def held(self) -> dict[str, int]:
        return {host: s.active for host, s in self._hosts.items() if s.active}

    def throttled(self) -> Throttling:
        return Throttling(tuple(self._throttled.values()), self._more_throttled)

    def _note_throttle(self, host: str, s: HostState, *, cut: bool) -> None:
        """Keep the host's entry current (the first MAX_REPORTED hosts; others counted)."""
        if host in self._throttled or len(self._throttled) < MAX_REPORTED:
            self._throttled[host] = Throttled(host, s.throttles, s.min_slots, s.limit, s.slots, s.delay)
        elif cut and s.throttles == 1:
            self._more_throttled += 1

    def _sweep(self) -> None:
        """Drop idle hosts at the job's defaults; sweep again when the table has doubled."""
        now = self._clock()
        self._hosts = {
            h: s
            for h, s in self._hosts.items()
            if s.active
            or s.ready_at > now
            or s.base_delay != self._delay
            or s.slots != s.limit
            or s.delay != s.base_delay
        }
        self._sweep_at = max(MIN_SWEEP, 2 * len(self._hosts))
