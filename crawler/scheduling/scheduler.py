"""Host gate and scheduler: which URL may start now.

The :class:`HostGate` holds per-host politeness state (slots in use, the earliest time the next
request may start). The :class:`Scheduler` keeps every host with queued work in exactly one place:
the *ready* ring (served round-robin), the *sleeping* heap (delay or backoff not yet over) or the
*full* set (all slots busy). A slow host therefore never idles a worker that another host could use.
"""

from __future__ import annotations

import asyncio
import heapq
import random
from collections import deque
from dataclasses import dataclass

from crawler.frontier import Frontier, Request


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
    cut_at: float = -1.0  # loop time of the last decrease


SUSTAINED = 5  # successes in a row before a throttled host gets a slot back (and half its delay)
FIRST_DELAY = 0.05  # the extra delay a first cut adds; each further cut doubles it
SPIKE = 3.0  # a response this many times slower than the host's average is a latency spike
SPIKE_FLOOR = 0.5  # ...if it also took at least this many seconds
MAX_THROTTLE_DELAY = 30.0


class HostGate:
    """Per-host concurrency slots and start-to-start delay, counted on the target host.

    With ``adaptive`` (AIMD), 429/503, timeouts or a latency spike halve a host's slots; at one
    slot they double its delay instead (from 50 ms, at most 30 s). Sustained success halves the
    extra delay and gives slots back one at a time, never beyond the configured values.
    """

    def __init__(self, per_host: int, delay: float = 0.0, jitter: float = 0.0,
                 adaptive: bool = True) -> None:
        self._per_host = per_host
        self._delay = delay
        self._jitter = jitter
        self._adaptive = adaptive
        self._hosts: dict[str, HostState] = {}

    def state(self, host: str) -> HostState:
        s = self._hosts.get(host)
        if s is None:
            s = self._hosts[host] = HostState(self._per_host, self._delay, limit=self._per_host,
                                              base_delay=self._delay, min_slots=self._per_host)
        return s

    def observe(self, host: str, sent: float, now: float, overloaded: bool) -> None:
        """Feed one response (sent and answered at loop times) and whether the host said it is
        overloaded (AIMD). Requests sent before the last cut cannot cause another: one cut per
        round trip, not one per request that was already in flight."""
        if not self._adaptive:
            return
        s = self.state(host)
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
        elif s.slots < s.limit or s.delay > s.base_delay:
            s.good += 1
            if s.good >= SUSTAINED:
                s.good = 0
                s.slots = min(s.limit, s.slots + 1)
                s.delay = s.base_delay if s.delay / 2 < s.base_delay + 0.01 else s.delay / 2

    def throttled(self) -> list[tuple[str, HostState]]:
        """Hosts the AIMD throttle slowed down at some point in the crawl."""
        return [(h, s) for h, s in self._hosts.items() if s.throttles]

    def start(self, host: str, now: float) -> None:
        s = self.state(host)
        s.active += 1
        gap = s.delay + (random.uniform(0, self._jitter) if self._jitter else 0.0)
        s.ready_at = max(s.ready_at, now + gap)

    def finish(self, host: str) -> None:
        self.state(host).active -= 1

    def set_delay(self, host: str, delay: float, now: float) -> None:
        """Raise a host's delay (robots.txt Crawl-delay) from ``now`` on; never lowers the job's."""
        s = self.state(host)
        s.base_delay = max(s.base_delay, delay)
        s.delay = max(s.delay, delay)
        s.ready_at = max(s.ready_at, now + s.delay)

    def backoff(self, host: str, until: float) -> None:
        """No new request to ``host`` starts before ``until`` (loop time)."""
        s = self.state(host)
        s.ready_at = max(s.ready_at, until)


class Scheduler:
    """Hands out leased requests whose host gate is open, round-robin across hosts."""

    def __init__(self, frontier: Frontier, gate: HostGate) -> None:
        self._frontier = frontier
        self.gate = gate
        self._ready: deque[str] = deque()
        self._sleeping: list[tuple[float, str]] = []
        self._full: set[str] = set()
        self._placed: set[str] = set()
        self._wake = asyncio.Event()
        self.inflight = 0
        self.closed = False

    def has_work(self, host: str) -> None:
        """Tell the scheduler that ``host`` has queued requests."""
        if host not in self._placed:
            self._placed.add(host)
            self._ready.append(host)
            self._wake.set()

    def finished(self, request: Request) -> None:
        """A leased request is over: free its slot."""
        self.inflight -= 1
        self.gate.finish(request.host)
        if request.host in self._full:
            self._full.discard(request.host)
            self._ready.append(request.host)
        self._wake.set()

    def close(self) -> None:
        """Stop handing out requests (Ctrl-C); ``next`` returns None from now on."""
        self.closed = True
        self._wake.set()

    async def next(self) -> Request | None:
        """The next request to fetch, waiting as needed; None once the crawl has nothing left."""
        loop = asyncio.get_running_loop()
        while not self.closed:
            self._wake.clear()
            now = loop.time()
            request = await self._take(now)
            if request is not None:
                return request
            if self.inflight == 0 and self._frontier.queued() == 0:
                return None
            timeout = self._sleeping[0][0] - now if self._sleeping else None
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass
        return None

    async def _take(self, now: float) -> Request | None:
        while self._sleeping and self._sleeping[0][0] <= now:
            self._ready.append(heapq.heappop(self._sleeping)[1])
        while self._ready:
            host = self._ready.popleft()
            s = self.gate.state(host)
            if s.active >= s.slots:
                self._full.add(host)
                continue
            if s.ready_at > now:
                heapq.heappush(self._sleeping, (s.ready_at, host))
                continue
            request = await self._frontier.lease(host)
            if request is None:
                self._placed.discard(host)
                continue
            self.gate.start(host, now)
            self.inflight += 1
            self._ready.append(host)
            return request
        return None
