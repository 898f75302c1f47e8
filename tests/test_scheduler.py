"""The scheduler's order: which host's request starts next."""

from __future__ import annotations

from crawler.frontier import Request
from crawler.frontier.memory import MemoryFrontier
from crawler.scheduling.limiter import LocalHostLimiter
from crawler.scheduling.scheduler import Scheduler


async def test_a_host_whose_request_finished_goes_next_while_its_connection_is_warm():
    """Host a has three URLs, b, c and d one each, one slot per host, one request at a time: when
    a's request finishes, a's next URL starts before c and d (its connection is still open),
    instead of after a lap of every host."""
    frontier = MemoryFrontier()
    scheduler = Scheduler(frontier, LocalHostLimiter(per_host=1), lease_ttl=60)
    await frontier.add([Request(f"http://a/{i}", "a:80") for i in range(3)]
                       + [Request(f"http://{h}/", f"{h}:80") for h in "bcd"])
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
