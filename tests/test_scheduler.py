"""The scheduler's order: which host's request starts next."""

from __future__ import annotations

import asyncio
import math

from crawler.core.request import Request
from crawler.frontier.memory import MemoryFrontier
from crawler.scheduling.limiter import LocalHostLimiter
from crawler.scheduling.scheduler import Scheduler


async def test_a_host_whose_request_finished_goes_next_while_its_connection_is_warm():
    """Host a has three URLs, b, c and d one each, one slot per host, one request at a time: when
    a's request finishes, a's next URL starts before c and d (its connection is still open),
    instead of after a lap of every host."""
    frontier = MemoryFrontier()
    scheduler = Scheduler(frontier, LocalHostLimiter(per_host=1), lease_ttl=60)
    await frontier.add(
        [Request(f"http://a/{i}", "a:80") for i in range(3)] + [Request(f"http://{h}/", f"{h}:80") for h in "bcd"]
    )
    for host in ("a:80", "b:80", "c:80", "d:80"):
        scheduler.has_work(host)
    order = []
    (first,) = await scheduler.next(1)
    order.append(first.request.url)
    (second,) = await scheduler.next(1)
    order.append(second.request.url)
    await scheduler.finished(first)
    (third,) = await scheduler.next(1)
    order.append(third.request.url)
    assert order == ["http://a/0", "http://b/", "http://a/1"]


async def test_links_found_on_a_hosts_last_page_go_next_while_its_connection_is_warm():
    """Host a has one URL, b to e one each. a's page finishes with nothing queued, then its links
    arrive (parsed after the answer): a's next URL starts before c, d and e, not after the lap a
    hub of 20,000 hosts would make."""
    frontier = MemoryFrontier()
    scheduler = Scheduler(frontier, LocalHostLimiter(per_host=1), lease_ttl=60)
    await frontier.add([Request("http://a/", "a:80")] + [Request(f"http://{h}/", f"{h}:80") for h in "bcde"])
    for host in ("a:80", "b:80", "c:80", "d:80", "e:80"):
        scheduler.has_work(host)
    (a,) = await scheduler.next(1)
    (b,) = await scheduler.next(1)
    await scheduler.free(a)  # a answered; its page is being parsed, nothing of a's is queued
    (c,) = await scheduler.next(1)
    await frontier.add([Request("http://a/next", "a:80")])  # the page's link
    scheduler.has_work("a:80")
    (fourth,) = await scheduler.next(1)
    assert [lease.request.url for lease in (a, b, c, fourth)] == [
        "http://a/",
        "http://b/",
        "http://c/",
        "http://a/next",
    ]
    for lease in (a, b, c, fourth):
        await scheduler.finished(lease)
    rest = [lease.request.url for _ in range(2) for lease in await scheduler.next(1)]
    assert rest == ["http://d/", "http://e/"]  # the others in their order, none skipped


class Watched(LocalHostLimiter):
    """Sets ``refused`` once a host was found with no free slot (the scheduler now waits for one)."""

    def __init__(self, per_host: int) -> None:
        super().__init__(per_host)
        self.refused = asyncio.Event()

    async def acquire_up_to(self, host: str, want: int) -> tuple[int, float]:
        taken, wait = await super().acquire_up_to(host, want)
        if wait == math.inf:
            self.refused.set()
        return taken, wait


async def test_a_host_whose_slots_a_page_holds_starts_when_the_page_gives_them_back():
    """A rendered page holds both slots of host b (its scripts load from there) while b's own URL
    is queued: once the page closes, b's URL starts; the crawl does not wait forever."""
    frontier = MemoryFrontier()
    limiter = Watched(per_host=2)
    scheduler = Scheduler(frontier, limiter, lease_ttl=60)
    page = scheduler.slots.holder("page http://a/", 60)
    assert await page.take("b:80") == 0 and await page.take("b:80") == 0
    await frontier.add([Request("http://b/", "b:80")])
    scheduler.has_work("b:80")
    waiting = asyncio.create_task(scheduler.next(1))
    await asyncio.wait_for(limiter.refused.wait(), 5)
    await page.give("b:80")
    await page.close()
    (lease,) = await asyncio.wait_for(waiting, 5)
    assert lease.request.url == "http://b/" and limiter.held() == {"b:80": 1}
    await scheduler.finished(lease)
    assert limiter.held() == {} and scheduler.slots.count() == 0


async def test_a_closed_page_takes_no_slot_and_asks_the_limiter_nothing():
    """A page's request checked after its page closed (a route handler that outlived it): it gets
    no slot, and the limiter is not asked (an acquire would count a start the host never sees and
    push its next real request back by the delay: a minute here)."""
    limiter = LocalHostLimiter(2, delay=60.0)
    scheduler = Scheduler(MemoryFrontier(), limiter, lease_ttl=60)
    page = scheduler.slots.holder("page http://a/", 60)
    await page.close()
    assert await page.take("b:80") == math.inf
    assert await limiter.acquire("b:80") == 0  # the host's first start: nothing was counted before


async def test_a_crawl_stuck_on_slots_nobody_gives_back_says_who_holds_them_and_frees_them():
    """Nothing in flight, b's URL queued, b's slots held: one by a page that is over but never
    gave it back, one taken behind every holder's back, one by a page still loading. The
    watchdog names them, frees the first two, and b's URL starts; the live page keeps its slot."""
    frontier = MemoryFrontier()
    limiter = Watched(per_host=3)
    warnings: list[str] = []
    scheduler = Scheduler(frontier, limiter, lease_ttl=60, stall_after=0.1, warn=warnings.append)
    stuck = scheduler.slots.holder("page http://a/stuck", 0)
    live = scheduler.slots.holder("page http://a/live", 60)
    assert await stuck.take("b:80") == 0 and await live.take("b:80") == 0
    assert await limiter.acquire("b:80") == 0  # leaked: no holder knows it
    await frontier.add([Request("http://b/", "b:80")])
    scheduler.has_work("b:80")

    (lease,) = await asyncio.wait_for(scheduler.next(1), 10)

    assert lease.request.url == "http://b/"
    (warning,) = warnings
    assert warning.startswith(
        "nothing in flight for 0.1s and b:80 has no free slot: 3 held by "
        "page http://a/live (1), page http://a/stuck (1, over)"
    )
    assert limiter.held() == {"b:80": 2} and [h.name for h in scheduler.slots.held("b:80")] == ["page http://a/live"]
