"""The scheduler: which leased requests may start now.

Every host with queued work is in one place: the *ready* ring (served round-robin), the
*sleeping* heap (its delay or back-off is not over) or the *full* set (all its slots busy). A slow
host therefore never idles a worker that another host could use. A host whose request just
finished goes to the front of the ring, so its next request follows on the connection that is
still open, instead of after a lap of every host (which, in a crawl of 20,000 hosts, outlasts
keep-alive and costs a new connection per request); the ring may then also hold a stale repeat
of it further back, skipped when met. The same holds for a host whose request just finished with
nothing else queued, when the links of that page give it work again: it is one of the WARM hosts
answered last, and it is placed at the front too (a hub linking 20,000 hosts otherwise brings each
host's second page a lap later, on a new connection). One call to :meth:`next` takes a slot from the
:class:`~crawler.scheduling.limiter.HostLimiter` for each request it hands out, and leases them
from the frontier in one batch.

The frontier and the limiter are async and may really suspend (a networked backend), so a host's
place is decided only from answers that cannot have gone stale: work admitted or a slot released
for a host *while* it is being taken marks it ``_rewoken``, and it goes back to the ready ring.

A lease's slot is handed to the pipeline as a :class:`LeaseSlot`: it goes back once the host has
answered, and a visit that makes a second request to the host (a host's first URL: robots.txt,
then the page) takes it anew, waiting for the host's next start as any request does. Slots taken
outside a lease (a rendered page's requests, sitemaps) are :attr:`slots`' and go back through the
same release. If the crawl still stops moving (nothing in flight, work queued, its
hosts' slots all taken) for ``stall_after`` seconds, the watchdog names the holders and frees the
slots of those that are over: never a silent hang.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from crawler.core.request import Lease
from crawler.frontier import Frontier
from crawler.scheduling.limiter import HostLimiter
from crawler.scheduling.slots import SLOT_POLL, Slots

POLL = 0.5  # seconds between looks at the frontier when other processes hold the job's work
STALL_AFTER = 120.0  # seconds with nothing in flight and every slot of the queued hosts taken
HOLD_MAX = 2.0  # the longest a lease waits in its worker for its host's next start (else: the frontier)
WARM = 1024  # hosts answered last with nothing queued: new work for one of them goes to the front


class Scheduler:
    """Hands out leases whose host may start now, round-robin across hosts."""

    def __init__(
        self,
        frontier: Frontier,
        limiter: HostLimiter,
        lease_ttl: float,
        *,
        stall_after: float = STALL_AFTER,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self._frontier = frontier
        self._limiter = limiter
        self._ttl = lease_ttl
        self._stall_after = stall_after
        self._warn = warn
        self._stalled_at: float | None = None  # when nothing in flight first met only full hosts
        self.slots = Slots(limiter.acquire, self._release)
        self._ready: deque[str] = deque()
        self._sleeping: list[tuple[float, str]] = []
        self._full: set[str] = set()
        self._placed: set[str] = set()
        self._taking: set[str] = set()
        self._rewoken: set[str] = set()
        self._freed: set[int] = set()  # leases whose slot ``free`` gave back before they finished
        self._warm: dict[str, None] = {}  # the last WARM hosts answered with no work queued, oldest first
        self._wake = asyncio.Event()
        self.inflight = 0
        self.closed = False

    def has_work(self, host: str) -> None:
        """Tell the scheduler that ``host`` has queued requests."""
        if host in self._taking:
            self._rewoken.add(host)
        elif host not in self._placed:
            self._placed.add(host)
            if host in self._warm:  # answered a moment ago: its connection is likely still open
                del self._warm[host]
                self._ready.appendleft(host)
            else:
                self._ready.append(host)
            self._wake.set()

    def slot_of(self, lease: Lease) -> LeaseSlot:
        """The handle on ``lease``'s slot that the pipeline is given for the request."""
        return LeaseSlot(self, lease)

    async def free(self, lease: Lease) -> None:
        """The request's answer is in: give its host's slot back now (parsing and settling the
        page hold no slot, as in Scrapy's download slots). Nothing if it is already back."""
        if lease.id not in self._freed:
            self._freed.add(lease.id)
            await self._release(lease.request.host)

    async def restart(self, lease: Lease) -> float | None:
        """Take a slot of the lease's host anew for its next request (the page, after the host's
        robots.txt): the slot goes back, then is taken once the limiter allows, so the start-to-
        start delay (and Crawl-delay, back-off, AIMD) holds between the two requests as between
        any two. 0.0: the slot is held again. A wait longer than HOLD_MAX (a long Crawl-delay):
        those seconds, and the lease holds no slot; its worker must not idle that long. None:
        the crawl stopped meanwhile (no slot held either)."""
        await self.free(lease)
        host = lease.request.host
        while not self.closed:
            wait = await self._limiter.acquire(host)
            if not wait:
                self._freed.discard(lease.id)
                return 0.0
            if HOLD_MAX < wait < math.inf:
                return wait
            await asyncio.sleep(min(wait, POLL) if wait != math.inf else SLOT_POLL)  # full: polled
        return None

    async def finished(self, lease: Lease) -> None:
        """A leased request is over: free its slot, unless ``free`` already did."""
        self.inflight -= 1
        if lease.id in self._freed:
            self._freed.discard(lease.id)
            self._wake.set()
        else:
            await self._release(lease.request.host)

    async def _release(self, host: str) -> None:
        await self._limiter.release(host)
        if host in self._taking:
            self._rewoken.add(host)
        elif host in self._placed:  # first in line: its next request reuses the warm connection
            self._full.discard(host)
            self._ready.appendleft(host)  # may repeat an entry further back: _take skips stale ones
        else:
            self._keep_warm(host)
        self._wake.set()

    def _keep_warm(self, host: str) -> None:
        """Remember ``host`` among the last WARM answered with nothing queued (see has_work)."""
        self._warm.pop(host, None)
        self._warm[host] = None
        if len(self._warm) > WARM:
            del self._warm[next(iter(self._warm))]

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold a slot of ``host`` for a fetch outside any lease (sitemaps), waiting like a request."""
        holder = self.slots.holder(f"sitemap fetch on {host}", math.inf)
        try:
            while wait := await holder.take(host):  # noqa: ASYNC110 - the limiter answers in durations
                await asyncio.sleep(min(wait, POLL))
            yield
        finally:
            await holder.close()

    def close(self) -> None:
        """Stop handing out requests (Ctrl-C, SIGTERM); ``next`` returns [] from now on."""
        self.closed = True
        self._wake.set()

    async def next(self, limit: int) -> list[Lease]:
        """Up to ``limit`` leases that may start now, waiting for at least one; [] once the
        whole job (every process sharing it) has nothing queued or leased."""
        loop = asyncio.get_running_loop()
        while not self.closed:
            self._wake.clear()
            leases = await self._take(limit)
            if leases:
                self._stalled_at = None
                return leases
            timeout = self._sleeping[0][0] - loop.time() if self._sleeping else None
            if self.inflight == 0 and not self._ready:
                counts = await self._frontier.counts()
                if counts.unfinished <= 0:
                    return []
                await self._watch(loop.time())
                if not self._placed:  # work this process was not told about (other processes)
                    for host in await self._frontier.hosts_with_work():
                        self.has_work(host)
                # other processes hold the rest: look again soon, whatever this one waits for
                timeout = min(timeout if timeout is not None else POLL, POLL)
            if self._ready or self.closed:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass
        return []

    async def _watch(self, now: float) -> None:
        """Nothing in flight and work queued: if hosts wait for slots that nothing gives back,
        for ``stall_after`` seconds, unstick them."""
        if not self._full:
            self._stalled_at = None
        elif self._stalled_at is None:
            self._stalled_at = now
        elif now - self._stalled_at >= self._stall_after:
            self._stalled_at = None
            await self.unstick(now)

    async def unstick(self, now: float) -> None:
        """Say who holds the slots of each host waiting for one, then give back the slots of
        holders that are over, and those no holder of this process accounts for (nothing is in
        flight). The hosts wake on their release."""
        held, full = self._limiter.held(), sorted(self._full)
        for host in full:
            holders = self.slots.held(host)
            named = (
                ", ".join(
                    f"{h.name} ({h.hosts[host]}{', over' if h.closed or now >= h.over_at else ''})" for h in holders
                )
                or "no page or fetch of this crawl"
            )
            if self._warn is not None:
                self._warn(
                    f"nothing in flight for {self._stall_after:g}s and {host} has no free slot: "
                    f"{held.get(host, 0)} held by {named}; freeing what belongs to finished pages"
                )
        await self.slots.free_over()
        held = self._limiter.held()
        for host in full:
            for _ in range(held.get(host, 0) - sum(h.hosts[host] for h in self.slots.held(host))):
                await self._release(host)
            if host in self._full:  # all its slots held by live pages: ask again anyway
                self._full.discard(host)
                self._ready.append(host)

    async def _take(self, limit: int) -> list[Lease]:
        """Acquire slots on ready hosts (up to ``limit``), then lease that many in one batch."""
        now = asyncio.get_running_loop().time()
        while self._sleeping and self._sleeping[0][0] <= now:
            self._ready.append(heapq.heappop(self._sleeping)[1])
        wants: dict[str, int] = {}
        waits: dict[str, float] = {}
        taken = 0
        while self._ready and taken < limit:
            host = self._ready.popleft()
            if host in self._taking or host in self._full or host not in self._placed:
                continue  # a stale entry: the host is handled, full, or has no work left
            self._taking.add(host)
            got, wait = await self._limiter.acquire_up_to(host, limit - taken)
            taken += got
            if got:
                wants[host] = got
                waits[host] = wait
            else:
                self._place(host, wait)
        if not wants:
            return []
        leases = await self._frontier.lease(wants, self._ttl)
        self.inflight += len(leases)
        for lease in leases:
            wants[lease.request.host] -= 1
        for host, unused in wants.items():
            for _ in range(unused):  # slots acquired for requests the host did not have
                await self._limiter.release(host)
            if unused and host not in self._rewoken:
                self._taking.discard(host)
                self._placed.discard(host)  # no queued work left; has_work places it again
                self._keep_warm(host)
            else:
                self._place(host, 0.0 if unused else waits[host])
        return leases

    def _place(self, host: str, wait: float) -> None:
        """Put a host that was being taken where its last answer says it belongs."""
        self._taking.discard(host)
        if host in self._rewoken:
            self._rewoken.discard(host)
            wait = 0.0 if wait == math.inf else wait
        if wait == 0.0:
            self._ready.append(host)
        elif wait == math.inf:
            self._full.add(host)
        else:
            heapq.heappush(self._sleeping, (asyncio.get_running_loop().time() + wait, host))


class LeaseSlot:
    """The host slot one lease holds, as the pipeline sees it: given back once the host has
    answered (:meth:`free`), or taken anew for the lease's next request to the host
    (:meth:`restart`). The scheduler keeps the count, so the lease's end gives back only what
    it still holds."""

    def __init__(self, scheduler: Scheduler, lease: Lease) -> None:
        self._scheduler = scheduler
        self._lease = lease

    async def free(self) -> None:
        await self._scheduler.free(self._lease)

    async def restart(self) -> float | None:
        return await self._scheduler.restart(self._lease)
