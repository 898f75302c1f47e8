"""Fetch behaviour end to end: records, headers, retries, redirects, size caps, timeouts, pins."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
from email.utils import formatdate

from aiohttp import web


async def test_every_url_gets_one_record_and_bodies_match(site, crawl):
    site.html("a.test", "/", '<a href="/one">1</a><a href="/two">2</a><a href="/gone">x</a>', title="Home")
    body = os.urandom(3000)

    async def binary(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/octet-stream")

    site.html("a.test", "/one", '<a href="/">home</a><a href="/two#frag">2</a>', title=" One  page ")
    site.route("a.test", "/two", binary)
    r = await crawl(start_urls=[site.url("a.test")], resolve=site.pin("a.test"))
    urls = [rec["url"] for rec in r.records]
    assert sorted(urls) == sorted(site.url("a.test", p) for p in ["/", "/one", "/two", "/gone"])
    one = r.by_url[site.url("a.test", "/one")]
    assert one["title"] == "One page" and one["depth"] == 1 and one["parent"] == site.url("a.test")
    two = r.by_url[site.url("a.test", "/two")]
    assert (r.out / two["path"]).read_bytes() == body
    assert two["sha256"] == hashlib.sha256(body).hexdigest() and two["bytes"] == len(body)
    gone = r.by_url[site.url("a.test", "/gone")]
    assert gone["status"] == 404 and gone["error"]["kind"] == "http" and gone["path"] is None
    assert set(one) >= {
        "url",
        "final_url",
        "status",
        "error",
        "content_type",
        "bytes",
        "sha256",
        "depth",
        "parent",
        "fetched_at",
        "elapsed_ms",
        "path",
        "title",
    }
    assert site.hits[("a.test", "/two")] == 1


async def test_headers_user_agent_and_cookies_reach_the_server(site, crawl):
    site.html("h.test", "/", "hi")
    await crawl(
        start_urls=[site.url("h.test")],
        resolve=site.pin("h.test"),
        ignore_robots=True,
        headers={"Accept-Language": "en", "X-Token": "abc"},
        cookies={"session": "s1"},
        user_agent="TestBot/1.0",
    )
    seen = site.headers[0]
    assert seen["Accept-Language"] == "en" and seen["X-Token"] == "abc"
    assert seen["User-Agent"] == "TestBot/1.0"
    assert "session=s1" in seen["Cookie"]


async def test_default_user_agent_names_the_project(site, crawl):
    site.html("h.test", "/", "hi")
    await crawl(start_urls=[site.url("h.test")], resolve=site.pin("h.test"), ignore_robots=True)
    assert site.headers[0]["User-Agent"].startswith("crawler/")


async def test_5xx_is_retried_then_succeeds(site, crawl):
    async def flaky(_: web.Request) -> web.Response:
        if site.hits[("f.test", "/")] <= 2:
            return web.Response(status=503)
        return web.Response(text="ok", content_type="text/html")

    site.route("f.test", "/", flaky)
    r = await crawl(start_urls=[site.url("f.test")], resolve=site.pin("f.test"), retries=3, ignore_robots=True)
    rec = r.records[0]
    assert len(r.records) == 1
    assert rec["status"] == 200 and rec["error"] is None and rec["attempts"] == 3


async def test_retries_exhausted_leave_an_error_record(site, crawl):
    async def down(_: web.Request) -> web.Response:
        return web.Response(status=500)

    site.route("d.test", "/", down)
    r = await crawl(start_urls=[site.url("d.test")], resolve=site.pin("d.test"), retries=2, ignore_robots=True)
    assert site.hits[("d.test", "/")] == 3
    assert r.records[0]["error"] == {"kind": "http", "message": "500 Internal Server Error"}
    assert r.records[0]["attempts"] == 3


async def test_retry_after_seconds_and_http_date_are_honoured(site, crawl):
    times: dict[str, list[float]] = {"/s": [], "/d": []}

    def limited(path: str, header: str):
        async def handler(_: web.Request) -> web.Response:
            times[path].append(asyncio.get_running_loop().time())
            if len(times[path]) == 1:
                return web.Response(status=429, headers={"Retry-After": header})
            return web.Response(text="ok", content_type="text/html")

        return handler

    site.route("s.test", "/s", limited("/s", "1"))
    site.route("d.test", "/d", limited("/d", formatdate(usegmt=True, timeval=None)))
    r = await crawl(
        start_urls=[site.url("s.test", "/s"), site.url("d.test", "/d")],
        resolve=site.pin("s.test", "d.test"),
        ignore_robots=True,
        retry_backoff=0,
    )
    assert all(rec["status"] == 200 for rec in r.records)
    assert times["/s"][1] - times["/s"][0] >= 0.95  # Retry-After: 1 second


async def test_retry_after_is_capped(site, crawl):
    async def handler(_: web.Request) -> web.Response:
        if site.hits[("c.test", "/")] == 1:
            return web.Response(status=503, headers={"Retry-After": "86400"})
        return web.Response(text="ok", content_type="text/html")

    site.route("c.test", "/", handler)
    r = await crawl(
        start_urls=[site.url("c.test")], resolve=site.pin("c.test"), ignore_robots=True, max_retry_after=0.05
    )
    assert r.records[0]["status"] == 200 and r.records[0]["attempts"] == 2


async def test_redirect_chain_each_hop_recorded_and_deduplicated(site, crawl):
    def redirect(to: str):
        async def handler(_: web.Request) -> web.Response:
            raise web.HTTPFound(to)

        return handler

    site.html("r.test", "/", '<a href="/old">old</a><a href="/final">final</a><a href="/away">away</a>')
    site.route("r.test", "/old", redirect("/older"))
    site.route("r.test", "/older", redirect("/final"))
    site.html("r.test", "/final", "final page")
    site.route("r.test", "/away", redirect("http://elsewhere.test/"))
    r = await crawl(start_urls=[site.url("r.test")], resolve=site.pin("r.test"), ignore_robots=True)
    old = r.by_url[site.url("r.test", "/old")]
    assert old["status"] == 302 and old["final_url"] == site.url("r.test", "/older")
    assert r.by_url[site.url("r.test", "/older")]["final_url"] == site.url("r.test", "/final")
    assert site.hits[("r.test", "/final")] == 1  # linked directly and reached by redirect
    away = r.by_url[site.url("r.test", "/away")]
    assert away["error"]["kind"] == "redirect" and "out-of-scope" in away["error"]["message"]
    assert len(r.records) == len({rec["url"] for rec in r.records}) == 5


async def test_redirect_loop_and_bad_scheme_end_with_redirect_errors(site, crawl):
    async def loop(request: web.Request) -> web.Response:
        n = int(request.query.get("n", "0"))
        raise web.HTTPFound(f"/loop?n={n + 1}")

    async def to_file(_: web.Request) -> web.Response:
        raise web.HTTPFound("file:///etc/passwd")

    site.html("l.test", "/", '<a href="/loop">loop</a><a href="/file">file</a>')
    site.route("l.test", "/loop", loop)
    site.route("l.test", "/file", to_file)
    r = await crawl(start_urls=[site.url("l.test")], resolve=site.pin("l.test"), ignore_robots=True, max_redirects=3)
    kinds = {rec["url"]: (rec["error"] or {}).get("kind") for rec in r.records}
    assert kinds[site.url("l.test", "/loop?n=3")] == "redirect"
    assert site.url("l.test", "/loop?n=4") not in kinds
    assert kinds[site.url("l.test", "/file")] == "redirect"


async def test_max_bytes_cuts_lying_length_and_gzip_bomb(site, crawl):
    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/html"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(b"x" * 10_000)
        return resp

    bomb = gzip.compress(b"\0" * 20_000_000)

    async def gzip_bomb(_: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})

    async def declared(_: web.Request) -> web.Response:
        return web.Response(body=b"y" * 300_000, content_type="text/plain")

    site.html("b.test", "/", '<a href="/chunked">c</a><a href="/bomb">b</a><a href="/big">g</a>')
    site.route("b.test", "/chunked", chunked)
    site.route("b.test", "/bomb", gzip_bomb)
    site.route("b.test", "/big", declared)
    r = await crawl(start_urls=[site.url("b.test")], resolve=site.pin("b.test"), ignore_robots=True, max_bytes=200_000)
    for path in ("/chunked", "/bomb", "/big"):
        rec = r.by_url[site.url("b.test", path)]
        assert rec["error"]["kind"] == "too_large", rec
        assert rec["path"] is None
    assert len(bomb) < 200_000  # the bomb is small on the wire, huge decoded
    pages = [p.name for p in (r.out / "pages").rglob("*") if p.is_file()]
    assert pages == ["_index.html"]  # no partial body under any name
    assert not any((r.out / ".tmp").iterdir())


async def test_read_timeout_is_classified_and_others_continue(site, crawl):
    stall = asyncio.Event()

    async def stalls(_: web.Request) -> web.Response:
        await asyncio.wait_for(stall.wait(), 10)
        return web.Response(text="late")

    site.html("t.test", "/", '<a href="/stall">s</a><a href="/fine">f</a>')
    site.route("t.test", "/stall", stalls)
    site.html("t.test", "/fine", "fine")
    r = await crawl(
        start_urls=[site.url("t.test")],
        resolve=site.pin("t.test"),
        ignore_robots=True,
        timeout={"read": 2, "total": 10},
        retries=1,
    )  # /stall is held until the crawl ends
    stall.set()
    assert r.by_url[site.url("t.test", "/stall")]["error"]["kind"] == "timeout"
    assert r.by_url[site.url("t.test", "/stall")]["attempts"] == 2
    assert r.by_url[site.url("t.test", "/fine")]["status"] == 200


async def test_connection_refused_is_a_connect_error(crawl, unused_tcp_port):
    r = await crawl(start_urls=[f"http://127.0.0.1:{unused_tcp_port}/"], retries=1, ignore_robots=True)
    assert r.records[0]["error"]["kind"] == "connect"
    assert r.records[0]["attempts"] == 2


async def test_resolve_pins_names_without_dns(site, crawl):
    site.html("no-such-host.invalid", "/", "pinned")
    r = await crawl(
        start_urls=[site.url("no-such-host.invalid")], resolve=site.pin("no-such-host.invalid"), ignore_robots=True
    )
    assert r.records[0]["status"] == 200


async def test_block_private_ips_refuses_loopback_by_name_and_literal(site, crawl, tmp_path):
    site.html("a.test", "/", "hi")
    literal = f"http://127.0.0.1:{site.port}/"
    r = await crawl(
        start_urls=[site.url("a.test"), literal], resolve=site.pin("a.test"), block_private_ips=True, retries=2
    )
    assert {rec["error"]["kind"] for rec in r.records} == {"blocked"}
    assert all(rec["attempts"] == 1 for rec in r.records)  # refused, not retried
    assert "not a public address" in r.by_url[literal]["error"]["message"]
    assert "non-public addresses (127.0.0.1)" in r.by_url[site.url("a.test")]["error"]["message"]
    assert sum(site.hits.values()) == 0  # nothing reached the server, robots.txt included
    allowed = await crawl(start_urls=[site.url("a.test")], resolve=site.pin("a.test"), output=tmp_path / "ok")
    assert allowed.records[0]["status"] == 200


async def test_robots_redirect_to_a_private_address_is_not_followed(hosts_site, crawl, monkeypatch, tmp_path):
    """Loopback is all we may use, so the policy is narrowed: only 127.0.0.2 counts as private."""
    import crawler.net.resolver

    private = lambda address: address.startswith("127.0.0.2")  # noqa: E731
    monkeypatch.setattr(crawler.net.resolver, "is_blocked", private)

    async def robots(_: web.Request) -> web.Response:
        raise web.HTTPFound(hosts_site.url("127.0.0.2", "/robots.txt"))

    hosts_site.route("127.0.0.1", "/robots.txt", robots)
    hosts_site.html("127.0.0.1", "/", "home")
    r = await crawl(start_urls=[hosts_site.url("127.0.0.1")], block_private_ips=True, retries=1)
    assert r.records[0]["status"] == 200
    assert hosts_site.hits[("127.0.0.2", "/robots.txt")] == 0
    assert any("blocked" in w for w in r.stats.warnings)
    followed = await crawl(start_urls=[hosts_site.url("127.0.0.1")], output=tmp_path / "plain")
    assert followed.records[0]["status"] == 200
    assert hosts_site.hits[("127.0.0.2", "/robots.txt")] == 1  # without the flag the hop is taken
