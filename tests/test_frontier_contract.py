"""The Frontier contract, run against every backend (memory, SQLite, Redis on a real
redis-server), and against a double that yields on every call, as a networked backend does."""

from __future__ import annotations

import asyncio
import itertools
import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from crawler.core.request import FIRST_ATTEMPT, Attempts, Caps, Request
from crawler.frontier.memory import MemoryFrontier
from crawler.frontier.sqlite import SqliteFrontier
from crawler.frontier.sqlite_state import APP_ID, SCHEMA, VERSION
from crawler.redis.frontier import RedisFrontier
from crawler.redis.store import RedisStore
from tests.helpers.frontier_doubles import YieldingFrontier
from tests.helpers.timing import until

BACKENDS = ["memory", "sqlite", "yielding-sqlite", "redis"]
TRIED = Attempts(attempt=1, proxy_attempts=2, render=True, proxy_waiting_since=1_700_000_000.5)


def make(kind: str, tmp_path, request=None):
    if kind == "memory":
        return MemoryFrontier()
    if kind == "redis":
        store = RedisStore(request.getfixturevalue("redis_url"), "contract", "w1", ttl=30, wait=5)
        return RedisFrontier(store, tmp_path / "r.jsonl")
    sqlite = SqliteFrontier(tmp_path / "s.sqlite", tmp_path / "r.jsonl")
    return YieldingFrontier(sqlite) if kind.startswith("yielding") else sqlite


@pytest.fixture(params=BACKENDS)
async def frontier(request, tmp_path):
    f = make(request.param, tmp_path, request)
    await f.open()
    yield f
    await f.close()


def req(path: str, host: str = "a:80") -> Request:
    return Request(f"http://{host.split(':')[0]}{path}", host)


def prio(r: Request, priority: int) -> Request:
    r.priority = priority
    return r


async def test_add_deduplicates_and_respects_the_caps(frontier):
    fresh = await frontier.add([req("/1"), req("/2"), req("/1")])
    assert [r.url for r in fresh] == ["http://a/1", "http://a/2"]
    assert await frontier.add([req("/2")]) == []
    capped = await frontier.add([req("/3"), req("/4"), req("/5")], Caps(total=4))
    assert [r.url for r in capped] == ["http://a/3", "http://a/4"]
    assert await frontier.seen("http://a/3") and not await frontier.seen("http://a/5")
    per_host = await frontier.add([req("/6"), req("/x", "b:80"), req("/y", "b:80")], Caps(per_host=1))
    assert [r.url for r in per_host] == ["http://b/x"]  # a:80 already holds 4
    counts = await frontier.counts()
    assert (counts.queued, counts.leased, counts.admitted) == (5, 0, 5)


async def test_leases_are_batched_fifo_per_host_and_failed_puts_back_at_the_head(frontier):
    await frontier.add([req("/1"), req("/2"), req("/3"), req("/x", "b:80")])
    assert sorted(await frontier.hosts_with_work()) == ["a:80", "b:80"]
    batch = await frontier.lease({"a:80": 2, "b:80": 5}, ttl=30)
    assert [lease.request.url for lease in batch] == ["http://a/1", "http://a/2", "http://b/x"]
    assert len({lease.id for lease in batch}) == 3 and all(lease.expires > 0 for lease in batch)
    assert (await frontier.counts()).leased == 3 and (await frontier.counts()).queued == 1
    first = batch[0]
    await frontier.again(first, Attempts(attempt=1))
    assert first.request.attempts == FIRST_ATTEMPT  # the lease is not edited
    (again,) = await frontier.lease({"a:80": 1}, ttl=30)
    assert again.request.url == "http://a/1" and again.request.attempts.attempt == 1 and again.id != first.id
    for lease in [again, *batch[1:]]:
        await frontier.done(lease)
    (last,) = await frontier.lease({"a:80": 9}, ttl=30)
    assert last.request.url == "http://a/3"
    assert await frontier.lease({"a:80": 1, "b:80": 1}, ttl=30) == []
    await frontier.done(last)
    counts = await frontier.counts()
    assert (counts.queued, counts.leased, counts.admitted, counts.unfinished) == (0, 0, 4, 0)
    await frontier.commit()


async def test_concurrent_adds_never_pass_the_caps(frontier):
    """Many coroutines admitting at once (their awaits interleave) stay within both caps."""
    caps = Caps(total=30, per_host=7)
    batches = [[req(f"/{i}-{j}", f"h{j % 6}:80") for j in range(12)] for i in range(10)]
    results = await asyncio.gather(*(frontier.add(b, caps) for b in batches))
    admitted = [r for fresh in results for r in fresh]
    per_host = {h: sum(r.host == h for r in admitted) for h in {r.host for r in admitted}}
    assert len(admitted) == 30 == (await frontier.counts()).admitted
    assert max(per_host.values()) <= 7


async def test_a_host_read_in_batches_never_hands_out_a_url_twice(tmp_path):
    """SQLite reads a host's queue 256 rows at a time; uncommitted leases must not be read again."""
    f = SqliteFrontier(tmp_path / "s.sqlite", tmp_path / "r.jsonl")
    await f.open()
    await f.add([req(f"/{i}") for i in range(600)])
    urls: list[str] = []
    for _ in range(20):  # bounded: 7 batches are enough
        leases = await f.lease({"a:80": 100}, ttl=30)
        urls += [lease.request.url for lease in leases]
        if len(urls) == 300:
            await f.again(leases[-1], FIRST_ATTEMPT)  # one goes back mid-way and comes out again, once
            urls.pop()
    assert len(urls) == 600 == len(set(urls))
    await f.close()


async def test_meta_is_kept_with_the_url(frontier):
    r = req("/m")
    r.meta = {"category": "c1", "path": [1, 2]}
    await frontier.add([r, req("/plain")])
    leases = await frontier.lease({"a:80": 2}, ttl=30)
    assert [lease.request.meta for lease in leases] == [{"category": "c1", "path": [1, 2]}, None]


async def test_higher_priority_is_leased_first_and_a_retry_heads_its_priority(frontier):
    await frontier.add([req("/1"), prio(req("/2"), 5), prio(req("/3"), -1), prio(req("/4"), 5), req("/5")])
    first = await frontier.lease({"a:80": 2}, ttl=30)
    assert [lease.request.url for lease in first] == ["http://a/2", "http://a/4"]
    await frontier.again(first[1], FIRST_ATTEMPT)
    await frontier.add([prio(req("/6"), 5), prio(req("/7"), 1_000_000)])
    rest = await frontier.lease({"a:80": 9}, ttl=30)
    assert [lease.request.url for lease in rest] == [
        "http://a/7",
        "http://a/4",
        "http://a/6",
        "http://a/1",
        "http://a/5",
        "http://a/3",
    ]
    assert [lease.request.priority for lease in rest] == [1_000_000, 5, 5, 0, 0, -1]
    assert await frontier.hosts_with_work() == []


async def test_a_request_sent_again_comes_back_with_its_attempts(frontier):
    """Proxy retries are counted on the request: a request that lost them on the way back would
    try bad proxies for ever."""
    await frontier.add([req("/1")])
    (lease,) = await frontier.lease({"a:80": 1}, ttl=30)
    await frontier.again(lease, TRIED)
    assert await frontier.hosts_with_work() == ["a:80"]
    (again,) = await frontier.lease({"a:80": 1}, ttl=30)
    assert again.request.attempts == TRIED


async def taken_over(kind: str, f, tmp_path, request):
    """The frontier that goes on after ``f``'s process died: the same one (memory keeps nothing
    beyond its process), the state file reopened (SQLite), or another worker of the job (Redis)."""
    if kind == "memory":
        return f
    if kind == "redis":
        await f._store.redis.aclose()  # killed: no close, no heartbeat (never opened)
        other = RedisFrontier(
            RedisStore(request.getfixturevalue("redis_url"), "contract", "w2", ttl=30, wait=5), tmp_path / "w2.jsonl"
        )
        await other.open()
        await until(other.hosts_with_work, "the dead worker's lease taken back")
        return other
    await f.close()
    reopened = make(kind, tmp_path, request)
    await reopened.open()
    return reopened


@pytest.mark.parametrize("kind", BACKENDS)
async def test_the_attempt_state_outlives_the_process_that_sent_the_url_again(kind, tmp_path, request):
    """What a retry changed is stored with the URL by every backend: after a kill and a resume
    (SQLite) or in the hands of the worker that takes a dead one's lease back (Redis), the URL
    goes on from the same attempts."""
    f = make(kind, tmp_path, request)
    if kind != "redis":
        await f.open()
    await f.add([req("/1")])
    (first,) = await f.lease({"a:80": 1}, ttl=30)
    await f.again(first, TRIED)
    await f.commit()
    if kind != "memory":  # leased again, and its process dies holding it
        (held,) = await f.lease({"a:80": 1}, ttl=1 if kind == "redis" else 30)
        assert held.request.attempts == TRIED
    after = await taken_over(kind, f, tmp_path, request)
    (lease,) = await after.lease({"a:80": 1}, ttl=30)
    assert (lease.request.url, lease.request.attempts) == ("http://a/1", TRIED)
    await after.close()


async def test_lease_order_matches_a_model_of_priorities_and_retries(frontier):
    """Random adds, leases and failures over 1,500 URLs (SQLite reads a host 256 rows at a time, so
    URLs arrive while a batch is in memory): every lease is the model's next URL."""
    rng = random.Random(7)
    model: list[tuple[int, int, str]] = []  # (-priority, order, url); a retry is ordered -n
    priorities: dict[str, int] = {}
    order = itertools.count(1)
    retry_pending = None
    for step in range(400):  # bounded
        if step < 300 and rng.random() < 0.5:
            batch = [prio(req(f"/{step}-{i}"), rng.choice([-2, 0, 0, 0, 1, 3])) for i in range(rng.randint(1, 9))]
            await frontier.add(batch)
            for r in batch:
                priorities[r.url] = r.priority
                model.append((-r.priority, next(order), r.url))
            continue
        model.sort()
        want = rng.randint(1, 12)
        leases = await frontier.lease({"a:80": want}, ttl=30)
        expected, model = model[:want], model[want:]
        assert [lease.request.url for lease in leases] == [url for _, _, url in expected]
        if retry_pending in {lease.request.url for lease in leases}:
            retry_pending = None
        for lease in leases[1:] if retry_pending is None and leases else leases:
            await frontier.done(lease)
        if retry_pending is None and leases:
            await frontier.again(leases[0], FIRST_ATTEMPT)
            retry_pending = leases[0].request.url
            model.append((-priorities[retry_pending], -next(order), retry_pending))
    assert model == [] or (await frontier.counts()).queued == len(model)


async def test_a_format_1_state_file_is_upgraded_in_place(tmp_path):
    """A state.sqlite written before meta existed (format 1) opens, keeps its queue, gains the column."""
    import sqlite3

    from crawler.frontier.sqlite import APP_ID

    path = tmp_path / "s.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE urls (id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, host TEXT NOT NULL,
            depth INTEGER NOT NULL, parent TEXT, attempt INTEGER NOT NULL DEFAULT 0,
            redirects INTEGER NOT NULL DEFAULT 0, state INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX urls_queue ON urls (host, state, id);
        INSERT INTO urls (url, host, depth) VALUES ('http://a/old', 'a:80', 1);""")
    db.execute(f"PRAGMA application_id={APP_ID}")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    f = SqliteFrontier(path, tmp_path / "r.jsonl")
    await f.open()
    (lease,) = await f.lease({"a:80": 1}, ttl=30)
    assert (lease.request.url, lease.request.depth, lease.request.meta) == ("http://a/old", 1, None)
    await f.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == VERSION


async def test_a_format_5_state_file_resumes_its_retries_with_the_rest_of_their_state_fresh(tmp_path):
    """The previous format kept only ``attempt``: a URL leased (or waiting to be tried again)
    when that crawler stopped resumes with it, and starts its proxy retries and render afresh."""
    path = tmp_path / "s.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        SCHEMA.replace(",\n    proxy_attempts INTEGER NOT NULL DEFAULT 0", "")
        .replace(",\n    render INTEGER NOT NULL DEFAULT 0", "")
        .replace(",\n    proxy_waiting_since REAL", "")
    )
    db.execute("INSERT INTO urls (url, host, depth, attempt, state) VALUES ('http://a/1', 'a:80', 1, 2, 1)")
    db.execute(f"PRAGMA application_id={APP_ID}")
    db.execute("PRAGMA user_version=5")
    db.commit()
    assert "render" not in {row[1] for row in db.execute("PRAGMA table_info(urls)")}
    db.close()
    f = SqliteFrontier(path, tmp_path / "r.jsonl")
    await f.open()
    (lease,) = await f.lease({"a:80": 1}, ttl=30)
    assert (lease.request.url, lease.request.attempts) == ("http://a/1", Attempts(attempt=2))
    await f.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == VERSION == 6


async def test_urls_with_one_dedup_key_are_one_url_requested_as_first_met(frontier):
    """Escapes' case, escaped unreserved characters and an empty query do not make a new page; the
    URL requested is the browser's URL first met, as written."""
    fresh = await frontier.add(
        [req("/x%7e"), req("/x~"), req("/X%7E"), req("/e?"), req("/e"), req("/f%2f"), req("/f%2F")]
    )
    assert [r.url for r in fresh] == ["http://a/x%7e", "http://a/X%7E", "http://a/e?", "http://a/f%2f"]
    assert await frontier.seen("http://a/x%7E") and await frontier.seen("http://a/f%2F")
    leased = await frontier.lease({"a:80": 10}, ttl=30)
    assert sorted(lease.request.url for lease in leased) == sorted(r.url for r in fresh)


async def test_an_old_state_file_is_rekeyed_and_urls_sharing_a_key_become_one(tmp_path):
    """A format-4 file (the previous release's) holding two spellings of one page keeps one: the
    page is not queued twice, and a rekeyed URL is still requested under its saved text."""
    job = Path(__file__).parent / "fixtures" / "format4-job"
    path, records = tmp_path / "s.sqlite", tmp_path / "r.jsonl"
    shutil.copy(job / "state.sqlite", path)
    shutil.copy(job / "records.jsonl", records)
    db = sqlite3.connect(path)
    db.executemany(
        "INSERT INTO urls (url, host, depth) VALUES (?, 'old.test:8799', 1)",
        [("http://old.test:8799/k%7e",), ("http://old.test:8799/k~",), ("http://old.test:8799/%6Cater",)],
    )
    db.commit()
    db.close()
    f = SqliteFrontier(path, records)
    await f.open()
    assert (
        await f.add(
            [
                Request("http://old.test:8799/k%7E", "old.test:8799"),
                Request("http://old.test:8799/later", "old.test:8799"),
            ]
        )
        == []
    )
    leased = await f.lease({"old.test:8799": 10}, ttl=30)
    assert sorted(lease.request.url for lease in leased) == [
        "http://old.test:8799/%6Cater",
        "http://old.test:8799/k~",
        "http://old.test:8799/next",
    ]  # k~ was keyed already
    await f.close()


async def test_a_recrawl_killed_midway_resumes_the_unrecorded_urls_with_the_visit_before_it(tmp_path):
    """On opening, SQLite marks done the URLs with a record of the current crawl and queues the
    rest again. A URL whose visit of this crawl was saved but whose record was lost (a kill between
    the two) is judged against the visit of the crawl before, and the state file forgets the other."""
    import orjson

    from crawler.core.request import Visit

    path, records = tmp_path / "s.sqlite", tmp_path / "r.jsonl"

    def line(name: str, crawl: int) -> bytes:
        return orjson.dumps({"url": f"http://a/{name}", "status": 200, "error": None, "crawl": crawl}) + b"\n"

    f = SqliteFrontier(path, records)
    await f.open()
    await f.add([req("/kept"), req("/lost"), req("/never")])
    for lease in await f.lease({"a:80": 3}, ttl=30):
        await f.done(lease, Visit(200, True, digest=f"first {lease.request.url}"))
    await f.close()
    records.write_bytes(line("kept", 1) + line("lost", 1) + line("never", 1))
    f = SqliteFrontier(path, records)
    await f.open()
    assert await f.recrawl(None) == 3
    for lease in await f.lease({"a:80": 2}, ttl=30):  # /never stays queued
        await f.done(lease, Visit(200, True, digest="second"))
    await f.close()  # killed: the record of /lost never reached the file
    with open(records, "ab") as out:
        out.write(line("kept", 2))
    f = SqliteFrontier(path, records)
    assert await f.open() == 1
    leased = {lease.request.url: lease.request.previous for lease in await f.lease({"a:80": 10}, ttl=30)}
    assert {url: visit.digest if visit else None for url, visit in leased.items()} == {
        "http://a/lost": "first http://a/lost",
        "http://a/never": "first http://a/never",
    }
    await f.close()
    kept = sqlite3.connect(path).execute("SELECT u.url, v.generation FROM visits v JOIN urls u ON u.id = v.url_id")
    assert sorted(kept) == [("http://a/kept", 1), ("http://a/kept", 2), ("http://a/lost", 1), ("http://a/never", 1)]
