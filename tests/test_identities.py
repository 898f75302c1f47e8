"""Identities (identities:): each a proxy, a cookie jar, headers, kept together. Unit tests of the
pool and its books (in memory and state.sqlite, in Redis), then real crawls: cookies per visitor,
max_uses, a banned identity retired, a kill -9 and a resume, a job shared by two workers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from selectolax.lexbor import LexborHTMLParser
from yarl import URL

from crawler.commands.report import build
from crawler.core.response import Response
from crawler.frontier.sqlite import SqliteFrontier
from crawler.net.identities import Identities, IdentitySettings, LocalBook
from crawler.net.proxies import NoProxy, Router
from crawler.redis.identity_pool import SharedIdentities
from crawler.redis.store import RedisStore
from tests.helpers.cli import run_cli
from tests.helpers.login_site import Visitors
from tests.helpers.output import last_stats, read_records, table
from tests.helpers.timing import until

URL_A = URL("http://a.test/")


def router(*proxies: str, cap: int | None = None) -> Router:
    return Router(list(proxies), {}, [], rotation="round_robin", cap=cap, cooldown=60, wait=60)


def identity_text(ident: int) -> str:
    return orjson.dumps({"id": ident, "proxy": None}).decode()


@pytest.fixture(params=["memory", "redis"])
async def two_books(request, redis_url) -> Any:
    """Two views of one pool: the same LocalBook twice, or two workers' SharedIdentities."""
    if request.param == "memory":
        book = LocalBook()
        yield book, book
        return
    stores = [RedisStore(redis_url, "job", f"w{i}", ttl=30, wait=5) for i in range(2)]
    yield SharedIdentities(stores[0]), SharedIdentities(stores[1])
    for store in stores:
        await store.redis.aclose()


async def test_a_book_fills_slots_once_counts_uses_and_never_writes_back_a_retired_identity(two_books):
    one, other = two_books
    assert await one.read("direct") == ({}, {})
    first, second = await one.new_id(), await other.new_id()
    assert second == first + 1
    assert await one.claim("direct", 0, identity_text(first))
    assert not await other.claim("direct", 0, identity_text(second))  # one slot, one identity
    assert await other.claim("pool", 0, identity_text(second))  # routes are apart
    assert [await other.use("direct", 0, first, 3) for _ in range(3)] == [1, 2, 3]
    assert await one.read("direct") == ({}, {})  # the third use retired it
    assert await one.use("direct", 0, first, 3) == 0
    await one.save("direct", 0, first, identity_text(first))  # too late: not written back
    assert await other.read("direct") == ({}, {})
    assert not await one.retire("pool", 0, first)  # not the identity in that slot: nothing happens
    await one.save("pool", 0, second, identity_text(second)[:-1] + ',"x":1}')
    slots, _ = await other.read("pool")
    assert slots == {0: identity_text(second)[:-1] + ',"x":1}'}
    assert await other.retire("pool", 0, second)
    assert await one.read("pool") == ({}, {})
    assert not await one.retire("pool", 0, second)  # retired already (counted by the first)


async def test_a_local_book_is_kept_in_state_sqlite_at_each_commit(tmp_path):
    frontier = SqliteFrontier(tmp_path / "state.sqlite", tmp_path / "records.jsonl")
    book = LocalBook(frontier)
    await frontier.open()
    ident = await book.new_id()
    await book.claim("direct", 0, identity_text(ident))
    await book.use("direct", 0, ident, 0)
    await frontier.commit()
    await frontier.close()
    frontier = SqliteFrontier(tmp_path / "state.sqlite", tmp_path / "records.jsonl")
    again = LocalBook(frontier)
    await frontier.open()
    assert await again.read("direct") == ({0: identity_text(ident)}, {ident: 1})
    assert await again.new_id() == ident + 1
    await frontier.close()


async def test_the_pool_fills_then_spreads_and_retires_used_up_or_blocked_identities():
    pool = Identities(IdentitySettings(pool=2, max_uses=3, user_agents=("A", "B")), router(), LocalBook())
    leased = [await pool.lease(URL_A) for _ in range(12)]
    ids = [i.id for i in leased]
    assert ids[:5] == [1, 2, 1, 2, 1]  # two made, then the least used; 1 served its 3 requests,
    assert ids[5] == 3  # and 3 took its slot
    assert ids == [1, 2, 1, 2, 1, 3, 3, 2, 4, 4, 3, 5]  # each at most 3 times
    assert {i.id: i.headers["User-Agent"] for i in leased[:2]} == {1: "B", 2: "A"}
    assert (pool.use.made, pool.use.retired["max_uses"]) == (5, 3)  # 1, 2 and 3 used up
    latest = leased[-1]
    await pool.blocked(latest)
    await pool.blocked(latest)  # (another request of it was blocked too: retired once)
    assert (await pool.lease(URL_A)).id == 6  # in its slot
    assert pool.use.made == 6 and pool.use.retired == {"max_uses": 3, "banned": 0, "blocked": 1, "proxy": 0}
    assert latest.id not in [(await pool.lease(URL_A)).id for _ in range(3)]


async def test_an_identity_keeps_its_proxy_and_makes_way_when_it_cools_down():
    proxies = router("http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3")
    pool = Identities(IdentitySettings(pool=2), proxies, LocalBook())
    one, two = await pool.lease(URL_A), await pool.lease(URL_A)
    assert (one.proxy.id, two.proxy.id) == ("http://127.0.0.1:1", "http://127.0.0.1:2")
    proxies.release(one.proxy)
    proxies.release(two.proxy, failed=True)  # cools down: its identity waits, the other serves
    again = await pool.lease(URL_A)
    assert again is one and again.proxy.inflight == 1
    proxies.release(one.proxy, failed=True)  # both cool down: one makes way for a new identity
    new = await pool.lease(URL_A)
    assert new.id == 3 and new.proxy.id == "http://127.0.0.1:3"
    assert pool.use.made == 3 and pool.use.retired["proxy"] == 1
    proxies.disable(new.proxy, "rejected our credentials")
    proxies.release(new.proxy)
    with pytest.raises(NoProxy):  # 3's proxy is out for good, the others cool down: wait
        await pool.lease(URL_A)


async def test_a_proxy_at_its_cap_makes_requests_wait_not_identities_go():
    proxies = router("http://127.0.0.1:1", "http://127.0.0.1:2", cap=1)
    pool = Identities(IdentitySettings(pool=1), proxies, LocalBook())
    one = await pool.lease(URL_A)
    with pytest.raises(NoProxy) as waited:
        await pool.lease(URL_A)
    assert not waited.value.hopeless
    proxies.release(one.proxy)
    assert await pool.lease(URL_A) is one


async def test_a_ban_while_fetching_retires_the_identity():
    from crawler.core.errors import FetchError, Kind

    pool = Identities(IdentitySettings(pool=1), router(), LocalBook())
    one = await pool.lease(URL_A)

    async def banned() -> Response:
        raise FetchError(Kind.PROXY, "ban signal", banned=True)

    with pytest.raises(FetchError):
        await pool.fetch(one, URL_A, banned)
    assert (await pool.lease(URL_A)).id == 2
    assert pool.use.retired == {"max_uses": 0, "banned": 1, "blocked": 0, "proxy": 0}


def vids_by_identity(records: list[dict], visitors: Visitors) -> dict[int, set[str | None]]:
    """The visitor ids each identity's requests carried (each page is fetched once)."""
    carried = dict(visitors.seen)
    found: dict[int, set[str | None]] = {}
    for rec in records:
        found.setdefault(rec["identity"], set()).add(carried[URL(rec["url"]).path])
    return found


async def test_each_identity_is_one_visitor_with_its_own_cookies(site, crawl, tmp_path):
    visitors = Visitors(site, "v.test", pages=12)
    start = {"start_urls": [site.url("v.test", "/visit/p0")], "resolve": site.pin("v.test"), "ignore_robots": True}
    r = await crawl(**start, identities=2, per_host=1)
    assert len(r.records) == 12 and all(rec["status"] == 200 for rec in r.records)
    assert len(visitors.given) == 2  # the first request of each identity came without a cookie
    by_identity = vids_by_identity(r.records, visitors)
    assert set(by_identity) == {1, 2}
    for vids in by_identity.values():  # its first request had none; the others carried its own id
        assert len(vids - {None}) == 1
    assert set.union(*by_identity.values()) - {None} == set(visitors.given)

    visitors.seen.clear()  # without identities: the crawl is one visitor, records say no identity
    plain = await crawl(**start, output=tmp_path / "plain")
    assert all("identity" not in rec for rec in plain.records)
    assert len(visitors.given) == 3 and [v for _, v in visitors.seen].count(None) == 1


async def test_max_uses_retires_an_identity_and_another_takes_its_place(site, crawl):
    visitors = Visitors(site, "v.test", pages=12)
    r = await crawl(
        start_urls=[site.url("v.test", "/visit/p0")],
        resolve=site.pin("v.test"),
        ignore_robots=True,
        identities={"pool": 2, "max_uses": 3},
        per_host=1,
    )
    assert len(r.records) == 12 and all(rec["status"] == 200 for rec in r.records)
    uses = [rec["identity"] for rec in r.records]
    assert [uses.count(i) for i in range(1, 6)] == [3, 3, 3, 2, 1] and len(uses) == 12
    assert len(visitors.given) == 5  # a new identity is a new visitor: no cookie of the old one
    assert all(len(vids - {None}) <= 1 for vids in vids_by_identity(r.records, visitors).values())
    assert r.summary_lines("identities:", "logins:") == ["identities: 5 made, 3 retired (3 max_uses)"]
    retired = {"max_uses": 3, "banned": 0, "blocked": 0, "proxy": 0}
    assert last_stats(r.out)["identities"] == {"made": 5, "retired": retired}
    assert last_stats(r.out)["logins"] == {"ok": 0, "failed": 0, "relogins": 0}  # (no login: zeros)
    metrics = r.metrics()
    assert metrics["crawler_identities_made_total[]"] == 5
    for reason, n in retired.items():
        assert metrics[f"crawler_identities_retired_total[('reason', '{reason}')]"] == n
    shown = table(LexborHTMLParser(build(r.out).read_text()), "Identities and logins")
    assert shown == [["identities made", "5"], ["retired: max_uses", "3"]]


@pytest.mark.parametrize("rendered", [False, True])
async def test_a_banned_identity_is_retired_and_its_request_goes_on_as_another(site, crawl, proxies, rendered):
    """Fetched or rendered (the browser goes through the identity's proxy), alike."""
    banned, clean = await proxies("http", 2)

    async def page(request: web.Request) -> web.Response:
        if request.remote == banned.source:  # the site bans one proxy's address
            return web.Response(status=429)
        n = int(request.path.removeprefix("/p"))
        links = "".join(f'<a href="/p{k}">{k}</a>' for k in (n + 1, n + 2) if k < 8)
        return web.Response(text=f"<title>page {n}</title>{links}", content_type="text/html")

    site.route("127.0.0.1", "*", page)
    r = await crawl(
        start_urls=[site.url("127.0.0.1", "/p0")],
        proxies=[banned.url(), clean.url()],
        identities=2,
        proxy_ban_status=[429],
        proxy_cooldown=60,
        ignore_robots=True,
        per_host=1,
        **({"render": ["*"], "render_timeout": 30} if rendered else {}),
    )
    assert len(r.records) == 8 and all(rec["status"] == 200 and rec["attempts"] == 1 for rec in r.records)
    assert {rec["rendered"] for rec in r.records} == {rendered}
    assert {rec["proxy"] for rec in r.records} == {clean.id}
    assert None not in {rec["identity"] for rec in r.records}  # each page says as whom it went
    assert 1 not in {rec["identity"] for rec in r.records}  # the first identity had the banned proxy
    (used,) = [p for p in r.stats.proxies if p.id == banned.id]
    assert used.bans == 1
    assert r.summary_lines("identities:") == ["identities: 3 made, 1 retired (1 banned)"]  # 1, its slot's 3, and 2
    assert last_stats(r.out)["identities"]["retired"]["banned"] == 1
    assert r.metrics()["crawler_identities_retired_total[('reason', 'banned')]"] == 1


@pytest.mark.parametrize("challenge", ["header", "title"])  # seen by the fetcher, by the parser
async def test_a_visitor_answered_a_challenge_page_is_retired_and_its_page_fetched_as_another(site, crawl, challenge):
    visitors = Visitors(site, "v.test", pages=10, challenged="1", challenge=challenge)
    r = await crawl(
        start_urls=[site.url("v.test", "/visit/p0")],
        resolve=site.pin("v.test"),
        ignore_robots=True,
        identities=2,
        per_host=1,
        blocked_when=[{"header": "x-challenge"}, {"title": "^Just a check$"}],
        extract=[{"name": "visit", "fields": {"title": "title"}}],
    )
    assert len(r.records) == 10 and all(rec["status"] == 200 and rec["error"] is None for rec in r.records)
    assert [vid for _, vid in visitors.seen].count("1") == 1  # challenged once, then never sent again
    assert [rec["identity"] for rec in r.records].count(1) == 1  # identity 1's first page, before its cookie
    assert r.summary_lines("identities:") == ["identities: 3 made, 1 retired (1 blocked)"]
    assert r.metrics()["crawler_identities_retired_total[('reason', 'blocked')]"] == 1
    items = [json.loads(line)["title"] for line in (r.out / "items.jsonl").open()]
    assert sorted(items) == sorted(f"Visit {n}" for n in range(10))  # no challenge page became an item


def saved_pool(out: Path) -> dict[str, Any] | None:
    """The identities a crawl saved in its state.sqlite (None: none yet)."""
    state = out / "state.sqlite"
    if not state.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{state}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT value FROM job WHERE key='identities'").fetchone()
    except sqlite3.Error:  # not created yet
        return None
    return json.loads(row[0]) if row else None


def with_cookies(pool: dict[str, Any] | None, n: int) -> bool:
    slots = [json.loads(text) for route in (pool or {}).get("slots", {}).values() for text in route.values()]
    return len(slots) == n and all(s["cookies"] for s in slots)


def visits(site, out: Path, *more: str) -> list[str]:
    """The command line of a crawl of ``Visitors`` as two identities, one request at a time."""
    seed = site.url("v.test", "/visit/p0")
    return ["crawl", seed, "-o", str(out), "-q", "--ignore-robots", "--per-host", "1", "--identities", "2", *more]


async def test_identities_and_their_cookies_survive_a_kill(site, tmp_path):
    visitors = Visitors(site, "v.test", pages=30, hold_from=10)
    out = tmp_path / "o"
    args = visits(site, out, "--resolve", *site.pin("v.test"))
    first = await asyncio.create_subprocess_exec(sys.executable, "-m", "crawler", *args, stderr=asyncio.subprocess.PIPE)
    await until(lambda: with_cookies(saved_pool(out), 2), "both identities saved with their cookies")
    first.kill()
    assert await first.wait() == -9
    before = {rec["url"]: rec["identity"] for rec in read_records(out)}
    given = list(visitors.given)
    visitors.gate.set()
    code, _, err = await run_cli(*args)
    assert code == 0, err
    records = read_records(out)
    assert len(records) == len({rec["url"] for rec in records}) == 30
    assert visitors.given == given and len(given) == 2  # no new visitor after the resume
    after = [rec for rec in records if rec["url"] not in before]
    assert after and {rec["identity"] for rec in after} <= {1, 2}
    carried = dict(visitors.seen)
    assert {carried[URL(rec["url"]).path] for rec in after} <= set(given)  # with the cookies of before


async def test_a_shared_job_shares_its_identities_between_workers(site, redis_url, tmp_path):
    visitors = Visitors(site, "v.test", pages=30, hold_from=10)
    out = tmp_path / "o"

    def worker(name: str) -> list[str]:
        shared = ["--frontier", redis_url, "--name", "shared", "--worker-id", name, "--lease-ttl", "2"]
        return visits(site, out, *shared, "--resolve", *site.pin("v.test"))

    from redis.asyncio import Redis

    client = Redis.from_url(redis_url, decode_responses=True)

    async def shared_with_cookies() -> bool:
        pool = await client.hgetall("crawler:shared:identities")
        return len(pool) == 2 and all(json.loads(text)["cookies"] for text in pool.values())

    try:
        a = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "crawler", *worker("a"), stderr=asyncio.subprocess.PIPE
        )
        await until(shared_with_cookies, "worker a's identities in Redis with their cookies")
        a.send_signal(signal.SIGINT)  # a drains: its page in flight waits for the gate
        visitors.gate.set()
        assert await asyncio.wait_for(a.wait(), 60) == 130
        given = list(visitors.given)
        code, _, err = await run_cli(*worker("b"))
        assert code == 0, err
    finally:
        await client.aclose()
    a_records = read_records(out / "shards" / "a")
    b_records = read_records(out / "shards" / "b")
    assert len(a_records) + len(b_records) == 30 and b_records
    made = [last_stats(out / "shards" / w)["identities"]["made"] for w in ("a", "b")]
    assert made == [2, 0]  # each worker counts its own: b went on with a's
    assert visitors.given == given and len(given) == 2  # b went on as a's two visitors
    assert {rec["identity"] for rec in b_records} <= {rec["identity"] for rec in a_records} == {1, 2}
    carried = dict(visitors.seen)
    assert {carried[URL(rec["url"]).path] for rec in b_records} <= set(given)
