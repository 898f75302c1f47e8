"""The HostLimiter contract, run against the in-process limiter and the Redis one (a real
redis-server): slots, the start-to-start delay, back-off, Crawl-delay and AIMD's cut. Two Redis
limiters on one job stand for two processes: what one holds, the other must see."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from crawler.redis.limiter import RedisHostLimiter
from crawler.redis.store import RedisStore
from crawler.scheduling.limiter import LocalHostLimiter

H = "h.test:80"


@pytest.fixture(params=["local", "redis"])
async def make(request):
    stores: list[RedisStore] = []

    def build(per_host: int = 2, delay: float = 0.0, worker: str = "w1"):
        if request.param == "local":
            return LocalHostLimiter(per_host, delay)
        store = RedisStore(request.getfixturevalue("redis_url"), "limits", worker, ttl=30, wait=5)
        stores.append(store)
        return RedisHostLimiter(store, per_host, delay)

    yield build
    for store in stores:
        await store.close()


async def test_slots_are_held_until_released(make):
    limiter = make(per_host=2)
    assert await limiter.acquire(H) == 0
    assert await limiter.acquire(H) == 0
    assert await limiter.acquire(H) == math.inf  # both slots are ours: wait for our release
    await limiter.release(H)
    assert await limiter.acquire(H) == 0
    assert await limiter.acquire("other.test:80") == 0  # hosts are independent


async def test_held_says_how_many_slots_of_each_host_are_taken(make):
    limiter = make(per_host=3)
    assert limiter.held() == {}
    await limiter.acquire_up_to(H, 2)
    await limiter.acquire("other.test:80")
    assert limiter.held() == {H: 2, "other.test:80": 1}
    await limiter.release(H)
    await limiter.release("other.test:80")
    assert limiter.held() == {H: 1}


async def test_several_slots_in_one_step(make):
    limiter = make(per_host=3)
    assert await limiter.acquire_up_to(H, 2) == (2, 0.0)
    assert await limiter.acquire_up_to(H, 5) == (1, math.inf)
    paced = make(per_host=3, delay=0.5)
    with elapsed() as took:
        taken, wait = await paced.acquire_up_to("p.test:80", 3)
    assert taken == 1 and 0.5 - took() < wait <= 0.5  # the delay spaces starts even with slots free


async def test_the_delay_separates_starts_and_backoff_and_crawl_delay_push_them_out(make):
    limiter = make(per_host=4, delay=0.5)
    with elapsed() as took:
        assert await limiter.acquire(H) == 0
        wait = await limiter.acquire(H)
    assert 0.5 - took() < wait <= 0.5
    with elapsed() as took:
        await limiter.backoff("b.test:80", 2.0)
        wait = await limiter.acquire("b.test:80")
    assert 2.0 - took() < wait <= 2.0
    with elapsed() as took:
        await limiter.crawl_delay("c.test:80", 3.0)
        wait = await limiter.acquire("c.test:80")
    assert 3.0 - took() < wait <= 3.0


async def test_overload_halves_the_slots(make):
    limiter = make(per_host=4)
    assert await limiter.acquire(H) == 0
    await limiter.observe(H, time.monotonic(), overloaded=True)
    await limiter.release(H)  # an answer counts by the time its request's slot is back
    assert await limiter.acquire_up_to(H, 4) == (2, math.inf)  # 2 of 4 slots left, both held now
    assert H in {t.host for t in limiter.throttled().hosts}


async def test_two_redis_workers_share_slots_and_delay(redis_url):
    stores = [RedisStore(redis_url, "limits", w, ttl=30, wait=5) for w in "abcd"]
    a, b = (RedisHostLimiter(s, per_host=1) for s in stores[:2])
    c, d = (RedisHostLimiter(s, per_host=2, delay=1.0) for s in stores[2:])
    assert await a.acquire(H) == 0
    wait = await b.acquire(H)
    assert 0 < wait < 1  # held by another worker: b polls instead of waiting for its own release
    await a.release(H)  # a's slot reaches Redis within PARK seconds, and b takes it
    assert await acquired_within(b, H, seconds=15)
    with elapsed() as took:
        assert await c.acquire("slow.test:80") == 0
        wait = await d.acquire("slow.test:80")
    assert 1.0 - took() < wait <= 1.0
    for s in stores:
        await s.close()


async def test_a_dead_workers_slot_frees_itself_after_the_lease_ttl(redis_url):
    dead, alive = (RedisStore(redis_url, "limits", w, ttl=1, wait=5) for w in ("dead", "alive"))
    assert await RedisHostLimiter(dead, per_host=1).acquire(H) == 0  # never released, never renewed
    assert await acquired_within(RedisHostLimiter(alive, per_host=1), H, seconds=15)
    for s in (dead, alive):
        await s.close()


async def test_a_give_back_on_its_way_reaches_redis_before_the_store_closes(redis_url, redis_server):
    """The crawl ends while a released slot is on its way back to Redis: when the store's close()
    returns, the slot is no longer in Redis (left there, it would block the host for the lease TTL
    in the job's other processes)."""
    store = RedisStore(redis_url, "limits", "w", ttl=30, wait=5)
    limiter = RedisHostLimiter(store, per_host=1)
    assert await limiter.acquire(H) == 0
    on_its_way, closing, order = asyncio.Event(), asyncio.Event(), []
    script = store.script

    async def release_held_until_closing(name: str, keys: list[str], args: list[Any]) -> Any:
        if name == "RELEASE":
            on_its_way.set()
            await closing.wait()
            order.append("slot given back")
        return await script(name, keys, args)

    async def start_closing() -> None:
        closing.set()

    async def limiter_done() -> None:
        order.append("limiter done")

    store.script = release_held_until_closing  # type: ignore[method-assign]
    store.before_close.insert(0, start_closing)
    store.before_close.append(limiter_done)
    await limiter.release(H)
    await on_its_way.wait()
    await store.close()
    assert order == ["slot given back", "limiter done"]
    assert redis_server.client().zcard(store.keys.slots(H)) == 0


@contextlib.contextmanager
def elapsed() -> Iterator[Callable[[], float]]:
    """Time the calls inside, so a wait can be checked against the delay less the time they took
    (a busy machine stretches the gap between two calls, never the limiter's answer)."""
    start = time.monotonic()
    end: list[float] = []
    yield lambda: (end[0] if end else time.monotonic()) - start + 0.01  # + the clocks' rounding
    end.append(time.monotonic())


async def acquired_within(limiter, host: str, seconds: float) -> bool:
    """Ask as the scheduler does (again after each answer's wait), for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while (wait := await limiter.acquire(host)) and time.monotonic() < deadline:
        await asyncio.sleep(min(wait, 0.1))
    return wait == 0
