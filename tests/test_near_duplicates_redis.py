"""The near-duplicate index of a shared job on a real redis-server: every worker gets the same first
URL, a race between two workers has exactly one winner, and ``--fresh`` forgets the index."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from crawler.content.simhash import NearIndex
from crawler.redis.near_duplicates import SharedNearIndex
from crawler.redis.store import RedisStore

H = 0xF0E1_D2C3_B4A5_9687  # both 32-bit halves above 2^31: Lua's bit library sees them negative


@pytest.fixture
async def stores(redis_url: str) -> AsyncIterator[list[RedisStore]]:
    """Two workers of one job, each with its own connection."""
    made = [RedisStore(redis_url, "near", worker, ttl=30, wait=5) for worker in ("w1", "w2")]
    yield made
    for store in made:
        await store.redis.aclose()


async def test_two_workers_agree_on_the_first_url(stores: list[RedisStore]) -> None:
    one, two = (SharedNearIndex(store) for store in stores)
    assert await one.first("https://a.test/post", H) is None
    assert await two.first("https://a.test/post?print=1", H ^ 0b101) == "https://a.test/post"
    assert await two.first("https://mirror.test/post", H ^ (1 << 63 | 1 << 31 | 1 << 0)) == "https://a.test/post"
    assert await one.first("https://a.test/post", H ^ 1 << 40) is None  # re-crawled: not its own duplicate
    assert await two.first("https://a.test/other", H ^ 0b111111) is None  # NEAR + 1 bits: another page
    assert await one.first("https://b.test/", H ^ 0b111111 ^ 1 << 50) == "https://a.test/other"


async def test_it_answers_as_the_in_memory_index_does(stores: list[RedisStore]) -> None:
    """The same answers, call by call, for pages near one another in every band and across the
    32-bit halves the script works with."""
    rng = random.Random(27)
    local, shared = NearIndex(), [SharedNearIndex(store) for store in stores]
    bases = [rng.getrandbits(64) for _ in range(8)]
    for i in range(400):
        h = rng.choice(bases)
        for bit in rng.sample(range(64), rng.randrange(6)):
            h ^= 1 << bit
        url = f"https://site.test/{rng.randrange(150)}"
        assert await shared[i % 2].first(url, h) == local.first(url, h), i


async def test_two_workers_racing_on_near_identical_pages_give_one_first(stores: list[RedisStore]) -> None:
    one, two = (SharedNearIndex(store) for store in stores)
    for i in range(50):
        h = random.Random(i).getrandbits(64)
        a, b = f"https://a.test/{i}", f"https://b.test/{i}"
        answers = await asyncio.gather(one.first(a, h), two.first(b, h ^ 2))
        assert answers in ([None, a], [b, None])  # the loser is the winner's duplicate


async def test_fresh_forgets_the_index(stores: list[RedisStore]) -> None:
    one, two = (SharedNearIndex(store) for store in stores)
    assert await one.first("https://a.test/", H) is None
    await stores[0].clear()
    assert [key async for key in stores[1].redis.scan_iter(match="crawler:near:*")] == []
    assert await two.first("https://b.test/", H) is None  # the first of the new crawl
    assert await one.first("https://a.test/", H) == "https://b.test/"
