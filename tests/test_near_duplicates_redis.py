"""The near-duplicate index of a shared job on a real redis-server: every worker gets the same first
URL, a race between two workers has exactly one winner, and ``--fresh`` forgets the index."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from crawler.content.simhash import NEAR, NearIndex, distance
from crawler.redis.near_duplicates import SharedNearIndex, block_fields
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


async def test_it_answers_as_a_scan_of_every_first_does(stores: list[RedisStore]) -> None:
    """Call by call, for pages near one another in every block and across the 32-bit halves the
    script works with: None when the in-memory index says None, else a first within NEAR bits (which
    one, when several are, depends on the order each index reads them)."""
    rng = random.Random(27)
    local, shared = NearIndex(), [SharedNearIndex(store) for store in stores]
    firsts: dict[int, str] = {}
    bases = [rng.getrandbits(64) for _ in range(8)]
    several = 0
    for i in range(400):
        h = rng.choice(bases)
        for bit in rng.sample(range(64), rng.randrange(6)):
            h ^= 1 << bit
        url = f"https://site.test/{rng.randrange(150)}"
        near = [u for g, u in firsts.items() if distance(g, h) <= NEAR]
        answer = await shared[i % 2].first(url, h)
        assert (answer is None) == (local.first(url, h) is None), i
        if url in near or not near:
            assert answer is None, i
        else:
            assert answer in near, i
        if not near:
            firsts[h] = url
        several += len(near) > 1
    assert several > 50  # the order of reading matters in these


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


async def test_every_hash_within_near_bits_is_found_and_no_other(stores: list[RedisStore]) -> None:
    """A first and a page 0 to 9 bits from it, anywhere in the 64 bits: found up to NEAR, never past it."""
    rng = random.Random(5)
    shared = [SharedNearIndex(store) for store in stores]
    for i in range(400):
        h, far = rng.getrandbits(64), i % 10
        mask = sum(1 << bit for bit in rng.sample(range(64), far))
        assert await shared[0].first(f"https://a.test/{i}", h) is None
        answer = await shared[1].first(f"https://b.test/{i}", h ^ mask)
        assert answer == (f"https://a.test/{i}" if far <= NEAR else None), (i, hex(mask))


@pytest.mark.parametrize("lone", [63, 42, 41, 21, 20, 0])
async def test_a_change_at_the_edges_of_the_blocks_is_found(stores: list[RedisStore], lone: int) -> None:
    """Five bits changed at the edges of the three blocks (63-42, 41-21, 20-0), two in each of two
    blocks and one in the third (the case a look-up finds only through that one's neighbours), and
    across the 32-bit halves; the sixth edge bit changed too, it is another page."""
    one, two = (SharedNearIndex(store) for store in stores)
    edges = {63, 42, 41, 21, 20, 0}
    five = sum(1 << bit for bit in edges - {lone})
    assert await one.first("https://a.test/", H) is None
    assert await two.first("https://b.test/", H ^ five) == "https://a.test/"
    halves = 1 << 31 | 1 << 32 | 1 << 63 | 1 << 42 | 1 << 20  # 31 and 32 both in the middle block
    assert await one.first("https://c.test/", H ^ halves) == "https://a.test/"
    assert await two.first("https://d.test/", H ^ five ^ 1 << lone) is None


async def test_a_page_seen_again_is_not_its_own_duplicate(stores: list[RedisStore]) -> None:
    one, two = (SharedNearIndex(store) for store in stores)
    assert await one.first("https://a.test/", H) is None
    assert await two.first("https://a.test/", H) is None  # the same content again
    assert await one.first("https://a.test/", H ^ 0b10101) is None  # changed a little
    assert await two.first("https://b.test/", H ^ 0b10101) == "https://a.test/"
    assert await stores[0].redis.hlen(stores[0].keys.near_firsts) == 1


async def test_many_workers_racing_on_near_identical_pages_give_one_first(stores: list[RedisStore]) -> None:
    """40 look-ups in flight at once, on two connections, for hashes within 2 bits of one another:
    exactly one is the first, every other its duplicate."""
    shared = [SharedNearIndex(store) for store in stores]
    for round_ in range(10):
        h = random.Random(round_).getrandbits(64)
        urls = [f"https://site{n}.test/{round_}" for n in range(40)]
        answers = await asyncio.gather(*(shared[n % 2].first(u, h ^ 1 << n) for n, u in enumerate(urls)))
        winners = [u for u, answer in zip(urls, answers, strict=True) if answer is None]
        assert len(winners) == 1, round_
        assert answers.count(winners[0]) == 39, round_


async def test_each_first_is_filed_once_under_each_block(stores: list[RedisStore], redis_url: str) -> None:
    """What keeps a look-up cheap: three 8-byte entries per first page, in its own blocks' fields,
    none for a duplicate or a page seen again."""
    rng = random.Random(9)
    index, keys = SharedNearIndex(stores[0]), stores[0].keys
    hashes = [rng.getrandbits(64) for _ in range(300)]
    for n, h in enumerate(hashes):
        assert await index.first(f"https://a.test/{n}", h) is None
        assert await index.first(f"https://b.test/{n}", h ^ 1) == f"https://a.test/{n}"
        assert await index.first(f"https://a.test/{n}", h ^ 2) is None
    raw = Redis.from_url(redis_url)  # the fields and hashes are bytes
    buckets = await raw.hgetall(keys.near_blocks)
    await raw.aclose()
    assert sum(len(v) for v in buckets.values()) == 3 * 8 * len(hashes)
    for h in hashes:
        for field in block_fields(h)[:3]:
            assert h.to_bytes(8, "big") in buckets[field]
