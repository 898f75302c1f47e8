"""Per-host slots, per-host delay, no head-of-line blocking, robots.txt — against a live server."""

from __future__ import annotations

import asyncio

from aiohttp import web

from crawler.config import Job
from crawler.engine import Crawl
from crawler.frontier.memory import MemoryFrontier
from tests.helpers.frontier_doubles import YieldingFrontier
from tests.helpers.timing import gaps, record_grants

HOLD = 20.0  # upper bound on how long a handler waits for its peers; reached only when a test fails


def links(paths: list[str]) -> str:
    return "".join(f'<a href="{p}">{p}</a>' for p in paths)


async def test_per_host_limit_is_reached_and_never_exceeded(site, crawl):
    hosts = ["a.test", "b.test", "c.test"]
    per_host = 3
    full = {h: asyncio.Event() for h in hosts}

    def page(host: str):
        async def handler(request: web.Request) -> web.Response:
            if site.inflight[host] >= per_host:
                full[host].set()
            try:  # hold until the host is at its limit, so overlap is certain when allowed
                await asyncio.wait_for(full[host].wait(), HOLD)
            except TimeoutError:
                pass
            return web.Response(text="<p>leaf</p>", content_type="text/html")

        return handler

    for h in hosts:
        site.html(h, "/", links([f"/p{i}" for i in range(12)]))
        for i in range(12):
            site.route(h, f"/p{i}", page(h))
    r = await crawl(
        start_urls=[site.url(h) for h in hosts],
        resolve=site.pin(*hosts),
        concurrency=20,
        per_host=per_host,
        ignore_robots=True,
    )
    assert r.stats.pages == 3 * 13
    for h in hosts:
        assert site.max_inflight[h] == per_host, (h, site.max_inflight[h])


async def test_slow_host_does_not_block_other_hosts(site, crawl):
    """While every slot of slow.test is stuck, fast.test is still crawled to the end."""
    release = asyncio.Event()
    fast_pages = [f"/f{i}" for i in range(30)]
    held_too_long: list[str] = []

    async def slow(request: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(release.wait(), HOLD)
        except TimeoutError:
            held_too_long.append(request.path)
        return web.Response(text="slow", content_type="text/html")

    async def fast(_: web.Request) -> web.Response:
        if all(site.hits[("fast.test", p)] for p in fast_pages):
            release.set()  # the last fast page arrived while the slow host was still held
        return web.Response(text="fast", content_type="text/html")

    site.html("slow.test", "/", links([f"/s{i}" for i in range(10)]))
    for i in range(10):
        site.route("slow.test", f"/s{i}", slow)
    site.html("fast.test", "/", links(fast_pages))
    for p in fast_pages:
        site.route("fast.test", p, fast)
    r = await crawl(
        start_urls=[site.url("slow.test"), site.url("fast.test")],
        resolve=site.pin("slow.test", "fast.test"),
        concurrency=8,
        per_host=2,
        ignore_robots=True,
    )
    assert held_too_long == [], "fast host waited behind the slow one"
    assert release.is_set()
    assert r.stats.pages == 1 + 10 + 1 + 30


async def test_delay_spaces_request_starts_per_host(site, crawl):
    site.html("d.test", "/", links([f"/p{i}" for i in range(5)]))
    for i in range(5):
        site.html("d.test", f"/p{i}", "leaf")
    delay = 0.15
    r = await crawl(
        start_urls=[site.url("d.test")],
        resolve=site.pin("d.test"),
        per_host=4,
        delay=delay,
        jitter=0.05,
        ignore_robots=True,
    )
    assert len(site.starts["d.test"]) == 6
    # every request held a slot; a slot taken for a URL another batch leased first goes back unused
    assert len(r.grants["d.test"]) >= 6
    assert min(gaps(r.grants["d.test"])) >= delay - 0.001, r.grants


async def test_robots_disallow_and_crawl_delay(site, crawl):
    async def robots(_: web.Request) -> web.Response:
        return web.Response(
            text="User-agent: crawler\nDisallow: /private\nCrawl-delay: 0.6\n\nUser-agent: *\nDisallow: /\n"
        )

    site.route("r.test", "/robots.txt", robots)
    site.html("r.test", "/", links(["/a", "/b", "/private/x"]))
    site.html("r.test", "/a", "a")
    site.html("r.test", "/b", "b")
    site.html("r.test", "/private/x", "secret")
    r = await crawl(start_urls=[site.url("r.test")], resolve=site.pin("r.test"), per_host=4)
    assert r.by_url[site.url("r.test", "/private/x")]["error"]["kind"] == "robots"
    assert site.hits[("r.test", "/private/x")] == 0
    assert r.by_url[site.url("r.test", "/a")]["status"] == 200
    assert site.hits[("r.test", "/robots.txt")] == 1
    page_starts = site.starts["r.test"][1:]  # after robots.txt
    assert len(page_starts) == 3
    assert min(gaps(page_starts)) >= 0.3, page_starts  # a request reaching the server late eats into one gap


async def test_a_hosts_first_url_is_leased_once_for_robots_txt_and_its_page(site, tmp_path):
    """robots.txt and the page are one visit of one lease; the page still starts no sooner after
    robots.txt than the host's delay allows, and the host's slots all come back."""
    delay = 0.2

    async def robots(_: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /private\n")

    site.route("o.test", "/robots.txt", robots)
    site.html("o.test", "/", links(["/a", "/b", "/private"]))
    site.html("o.test", "/a", "a")
    site.html("o.test", "/b", "b")
    frontier = YieldingFrontier(MemoryFrontier())
    job = Job.model_validate(
        {"start_urls": [site.url("o.test")], "resolve": site.pin("o.test"), "output": tmp_path / "o", "delay": delay}
    )
    crawl = Crawl(job, frontier=frontier)
    grants = record_grants(crawl)
    stats = await crawl.run()
    assert stats.pages == 3 and site.hits[("o.test", "/robots.txt")] == 1
    assert set(frontier.leased.values()) == {1} and len(frontier.leased) == 4  # /private: refused, once
    # a grant per request, /private's (refused, unused), and any slot taken for a URL another batch leased
    assert len(site.starts["o.test"]) == 4 and len(grants["o.test"]) >= 5
    assert min(gaps(grants["o.test"])) >= delay - 0.001, grants
    assert crawl.parts.limiter.held() == {}


async def test_after_robots_txt_a_long_crawl_delay_is_waited_in_the_frontier_not_in_a_worker(site, tmp_path):
    """A Crawl-delay longer than a worker may idle (HOLD_MAX): the page goes back to its queue,
    holding no slot and no worker, and starts no sooner after robots.txt than the delay says."""
    crawl_delay = 5.0

    async def robots(_: web.Request) -> web.Response:
        return web.Response(text=f"User-agent: *\nCrawl-delay: {crawl_delay:g}\n")

    site.route("slow.test", "/robots.txt", robots)
    site.html("slow.test", "/", "slow")
    frontier = YieldingFrontier(MemoryFrontier())
    job = Job.model_validate(
        {"start_urls": [site.url("slow.test")], "resolve": site.pin("slow.test"), "output": tmp_path / "o"}
    )
    crawl = Crawl(job, frontier=frontier)
    grants = record_grants(crawl)
    stats = await crawl.run()
    assert stats.pages == 1 and len(site.starts["slow.test"]) == 2  # robots.txt, then the page
    assert frontier.leased[site.url("slow.test")] == 2  # the wait was not spent holding the lease
    page, before = grants["slow.test"][-1], grants["slow.test"][:-1]  # before: robots.txt's (and an unused one)
    assert before and page - max(before) >= crawl_delay - 0.001, grants
    assert crawl.parts.limiter.held() == {}


async def test_robots_missing_allows_everything_and_broken_or_unreachable_disallows_for_now(
    site, crawl, unused_tcp_port
):
    """RFC 9309: 4xx means no rules; 5xx or an unreachable site means the host counts as fully
    disallowed, and robots.txt is asked for again later rather than crawling without rules."""

    async def broken(_: web.Request) -> web.Response:
        return web.Response(status=503)

    site.route("broken.test", "/robots.txt", broken)
    for h in ("broken.test", "none.test"):
        site.html(h, "/", links(["/x"]))
        site.html(h, "/x", "x")
    down = f"http://127.0.0.1:{unused_tcp_port}/"
    r = await crawl(
        start_urls=[site.url("broken.test"), site.url("none.test"), down],
        resolve=site.pin("broken.test", "none.test"),
        retries=2,
    )
    assert r.stats.pages == 2 and site.hits[("none.test", "/robots.txt")] == 1
    assert site.hits[("broken.test", "/")] == 0  # never fetched without rules
    assert site.hits[("broken.test", "/robots.txt")] >= 6  # 3 tries, then asked again later
    for url, why in ((site.url("broken.test"), "status 503"), (down, "connect")):
        rec = r.by_url[url]
        assert rec["error"]["kind"] == "robots" and why in rec["error"]["message"]
        assert "RFC 9309" in rec["error"]["message"] and rec["attempts"] == 3
    assert any("robots.txt of broken.test" in w and "not crawling it" in w for w in r.stats.warnings)


async def test_ignore_robots_fetches_nothing_from_robots(site, crawl):
    async def deny(_: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /\n")

    site.route("i.test", "/robots.txt", deny)
    site.html("i.test", "/", "home")
    r = await crawl(start_urls=[site.url("i.test")], resolve=site.pin("i.test"), ignore_robots=True)
    assert r.stats.pages == 1
    assert site.hits[("i.test", "/robots.txt")] == 0


async def test_aimd_halves_slots_on_429_and_restores_them_on_success(site, crawl):
    """429s (no Retry-After) over several round trips push the host down to one slot, one cut
    per window rather than per 429; sustained success brings it back to the configured eight."""
    per_host = 8
    overlapped: list[bool] = []  # during the first successes after the cuts
    second, full = asyncio.Event(), asyncio.Event()
    successes = 0

    async def page(request: web.Request) -> web.Response:
        nonlocal successes
        if sum(site.hits.values()) <= 17:  # the seed, then sixteen 429s (8 + 4 + 2 + 2)
            return web.Response(status=429)
        successes += 1
        if site.inflight["t.test"] >= 2:
            second.set()
        if site.inflight["t.test"] >= per_host:
            full.set()
        if successes <= 5:  # watch 0.2 s for a second request in flight: one slot allows none
            try:
                await asyncio.wait_for(second.wait(), 0.2)
            except TimeoutError:
                pass
            overlapped.append(second.is_set())
        elif successes > 200:  # late: hold until eight overlap, which only restored slots allow
            try:
                await asyncio.wait_for(full.wait(), HOLD)
            except TimeoutError:
                pass
        return web.Response(text="ok", content_type="text/html")

    site.html("t.test", "/", links([f"/p{i}" for i in range(300)]))
    site.route("t.test", "*", page)
    r = await crawl(
        start_urls=[site.url("t.test")],
        resolve=site.pin("t.test"),
        per_host=per_host,
        concurrency=16,
        ignore_robots=True,
        retries=40,
        retry_backoff=0,
    )
    state = r.crawl.parts.limiter.state(f"t.test:{site.port}")
    assert r.stats.pages == 301
    assert state.min_slots == 1 and 3 <= state.throttles < 16  # cuts per window, not per 429
    assert overlapped == [False] * 5, overlapped
    assert state.slots == per_host and state.delay == 0
    assert full.is_set() and site.max_inflight["t.test"] == per_host
    assert f"t.test:{site.port}" in {t.host for t in r.stats.throttled.hosts}
