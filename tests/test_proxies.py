"""Proxy-routed crawls through real proxy servers (tinyproxy for HTTP/CONNECT, microsocks for SOCKS5)."""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
from collections import Counter, defaultdict

import pytest
import trustme
from aiohttp import web
from yarl import URL

from crawler import Hooks, Job, Outgoing
from crawler.engine import Crawl
from crawler.net.proxies import Pool, Proxy
from crawler.observe.summary import summary
from tests.helpers.leaks import basic_credentials, read_output
from tests.helpers.ordered import archived, crawl_in_order
from tests.helpers.output import read_records
from tests.helpers.ports import free_port


def pages(site, host: str, n: int) -> list[str]:
    site.html(host, "/", "".join(f'<a href="/p{i}">{i}</a>' for i in range(n)))
    for i in range(n):
        site.html(host, f"/p{i}", f"page {i}")
    return [site.url(host)] + [site.url(host, f"/p{i}") for i in range(n)]


def sources(site, host: str | None = None) -> Counter[str]:
    """How many requests (robots.txt excluded) reached the site from each peer address."""
    return Counter(r for h, path, r in site.remotes if path != "/robots.txt" and host in (None, h))


@pytest.mark.parametrize(
    "kind, auth",
    [
        ("http", {}),
        ("http", {"user": "alice", "password": "s3cretpw"}),
        ("socks5", {}),
        ("socks5", {"user": "bob", "password": "p@ss:w%rd/x"}),
    ],
)
async def test_requests_go_through_the_proxy(site, crawl, proxies, kind, auth):
    (p,) = await proxies(kind, 1, **auth)
    urls = pages(site, "127.0.0.1", 5)
    r = await crawl(start_urls=[urls[0]], proxy=p.url(), warc=True)
    assert r.stats.pages == 6
    assert sources(site) == {p.source: 6}
    assert {rec["proxy"] for rec in r.records} == {p.id}
    everything = b"".join(read_output(f) for f in r.out.rglob("*") if f.is_file())
    everything += "\n".join(r.stats.warnings).encode()
    everything += summary(r.stats, str(r.out)).encode()  # with its proxies: lines
    assert b"WARC/1.1" in everything  # the archive was read, decompressed
    for secret in (b"s3cretpw", b"p@ss", b"p%40ss", *basic_credentials(auth)):
        assert secret not in everything


async def test_round_robin_random_least_used_spread_requests(site, crawl, proxies, tmp_path):
    ps = await proxies("socks5", 3)
    pages(site, "127.0.0.1", 29)
    for rotation in ("round_robin", "least_used", "random"):
        site.remotes.clear()
        r = await crawl(
            start_urls=[site.url("127.0.0.1")],
            proxies=[p.url() for p in ps],
            proxy_rotation=rotation,
            output=tmp_path / rotation,
            ignore_robots=True,
        )
        assert r.stats.pages == 30
        counts = sources(site)
        assert set(counts) == {p.source for p in ps}, rotation
        if rotation != "random":
            assert max(counts.values()) - min(counts.values()) <= 1, (rotation, counts)


async def test_sticky_keeps_each_host_on_one_proxy(hosts_site, crawl, proxies):
    ps = await proxies("socks5", 3)
    seeds = [pages(hosts_site, h, 8)[0] for h in ("127.0.0.1", "127.0.0.2", "127.0.0.3")]
    r = await crawl(start_urls=seeds, proxies=[p.url() for p in ps], proxy_rotation="sticky", ignore_robots=True)
    assert r.stats.pages == 27
    used = {h: set(sources(hosts_site, h)) for h in ("127.0.0.1", "127.0.0.2", "127.0.0.3")}
    assert all(len(s) == 1 for s in used.values()), used
    assert len(set.union(*used.values())) == 3  # hosts were spread over the proxies


async def test_routing_rules_send_each_host_its_own_way(hosts_site, crawl, proxies):
    (http,) = await proxies("http", 1)
    (socks,) = await proxies("socks5", 1)
    seeds = [pages(hosts_site, h, 3)[0] for h in ("127.0.0.1", "127.0.0.2", "127.0.0.3")]
    r = await crawl(
        start_urls=seeds,
        proxy_pools={"web": [http.url()]},
        proxy_rules=[
            {"match": "127.0.0.1", "proxy": "web"},
            {"match": "re:^127\\.0\\.0\\.2$", "proxy": socks.url()},
            {"match": "*", "proxy": "direct"},
        ],
    )
    assert r.stats.pages == 12
    assert set(sources(hosts_site, "127.0.0.1")) == {http.source}
    assert set(sources(hosts_site, "127.0.0.2")) == {socks.source}
    assert set(sources(hosts_site, "127.0.0.3")) == {"127.0.0.1"}  # direct
    by_host = defaultdict(set)
    for rec in r.records:
        by_host[rec["url"].split("/")[2].split(":")[0]].add(rec["proxy"])
    assert by_host == {"127.0.0.1": {http.id}, "127.0.0.2": {socks.id}, "127.0.0.3": {None}}


async def test_killed_proxy_loses_no_url_and_is_reported(site, crawl, proxies):
    ps = await proxies("socks5", 3)
    victim = ps[0]
    served = Counter()

    async def page(request: web.Request) -> web.Response:
        served[request.path] += 1
        if sum(served.values()) == 15:
            victim.kill()
        return web.Response(text=f"page {request.path}", content_type="text/html")

    site.html("127.0.0.1", "/", "".join(f'<a href="/p{i}">{i}</a>' for i in range(60)))
    site.route("127.0.0.1", "*", page)
    r = await crawl(
        start_urls=[site.url("127.0.0.1")],
        proxies=[p.url() for p in ps],
        ignore_robots=True,
        proxy_cooldown=30,
        concurrency=6,
        per_host=6,
    )
    assert len(r.records) == 61 and all(rec["status"] == 200 for rec in r.records)
    assert len({rec["url"] for rec in r.records}) == 61
    late = [rec["proxy"] for rec in r.records[-20:]]
    assert victim.id not in late, "traffic kept going to the dead proxy"
    (used,) = [p for p in r.stats.proxies if p.id == victim.id]
    assert used.state.startswith("cooling down")


@pytest.mark.parametrize("transport", ["aiohttp", "curl"])
@pytest.mark.parametrize("kind", ["http", "socks5"])
async def test_all_proxies_dead_every_url_ends_with_a_proxy_error(site, crawl, proxies, kind, transport):
    ps = await proxies(kind, 2)
    for p in ps:
        p.kill()
        await p.proc.wait()
    site.html("127.0.0.1", "/", "home")
    r = await crawl(
        start_urls=[site.url("127.0.0.1"), site.url("127.0.0.1", "/x")],
        proxies=[p.url() for p in ps],
        transport=transport,
        ignore_robots=True,
        proxy_cooldown=0.05,
        proxy_wait=0.5,
        proxy_retries=3,
        retries=0,
    )
    assert len(r.records) == 2
    assert {rec["error"]["kind"] for rec in r.records} == {"proxy"}
    assert not site.remotes
    assert all(used.failures >= 1 for used in r.stats.proxies)  # a dead proxy is still the one to blame


@pytest.mark.parametrize("transport", ["aiohttp", "curl"])
@pytest.mark.parametrize(
    "kind, scheme", [("socks5", "https"), ("http", "https"), ("http", "http"), ("squid", "https"), ("squid", "http")]
)
async def test_a_target_the_proxy_cannot_reach_is_not_blamed_on_the_proxy(
    site, proxies, tmp_path, kind, scheme, transport
):
    """The proxy works and says the target refused it (microsocks: SOCKS5 reply 5; tinyproxy: its
    answer to CONNECT or to a plain http:// request it forwards, 500 Unable to connect; squid: 503
    with X-Squid-Error ERR_CONNECT_FAIL): the target's ``connect`` error after the normal retries,
    no other proxy sought, the proxy's page not archived as the target's answer, and the proxy,
    healthy, takes the next URL at once."""
    (p,) = await proxies(kind, 1)
    port = free_port()  # nobody listens there
    dead = f"{scheme}://127.0.0.1:{port}/gone"  # (https through tinyproxy: a CONNECT; http: forwarded)
    site.html("127.0.0.1", "/live", "alive", title="live")
    live = site.url("127.0.0.1", "/live")
    stats, by_url = await crawl_in_order(
        tmp_path, dead, live, proxy=p.url(), transport=transport, retries=1, proxy_cooldown=300, proxy_wait=2, warc=True
    )
    gone = by_url[dead]
    assert (gone["error"]["kind"], gone["attempts"], gone["proxy"]) == ("connect", 2, p.id)
    said = {
        "socks5": "connection refused (SOCKS5 reply 5",
        "http": "500 Unable to connect",
        "squid": "503 Service Unavailable, ERR_CONNECT_FAIL 111",
    }[kind]
    assert gone["error"]["message"].startswith(f"cannot connect to 127.0.0.1:{port}, reported by proxy {p.id}: {said}")
    assert (by_url[live]["status"], by_url[live]["title"], by_url[live]["proxy"]) == (200, "live", p.id)
    assert [(path, peer) for _, path, peer in site.remotes] == [("/live", p.source)]
    assert archived(tmp_path / "o" / "crawl.warc.gz") == [live]
    (used,) = stats.proxies
    assert (used.requests, used.failures, used.state) == (3, 0, "ok")  # two tries of the dead URL, one live
    final = json.loads((tmp_path / "o" / "stats.jsonl").read_text().splitlines()[-1])
    assert final["proxies"][p.id]["failures"] == 0 and final["errors_by_kind"] == {"connect": 1}


@pytest.mark.parametrize("transport", ["aiohttp", "curl"])
@pytest.mark.parametrize("kind", ["socks5", "http", "squid"])
async def test_a_proxy_that_reaches_no_target_is_blamed_at_the_third_in_a_row(site, proxies, tmp_path, kind, transport):
    """A proxy whose own network is down says every target is unreachable. Dead targets with a live
    one between them stay the targets' errors; the third different one in a row is the proxy's:
    it cools down, and the pool (this proxy alone) gives up on the URL."""
    (p,) = await proxies(kind, 1)
    site.html("127.0.0.1", "/live", "alive", title="live")
    live = site.url("127.0.0.1", "/live")
    ports: set[int] = set()
    while len(ports) < 5:
        ports.add(free_port())  # nobody listens there: five different targets
    dead = [f"https://127.0.0.1:{port}/gone" for port in sorted(ports)]
    stats, by_url = await crawl_in_order(
        tmp_path, dead[0], dead[1], live, dead[2], dead[3], dead[4],
        proxy=p.url(), transport=transport, retries=0, proxy_retries=0, proxy_cooldown=300, proxy_wait=0.5,
    )  # fmt: skip
    assert by_url[live]["status"] == 200
    for url in dead[:4]:  # two, an answer, two: never three in a row
        assert by_url[url]["error"]["message"].startswith(f"cannot connect to 127.0.0.1:{URL(url).port}, reported by")
    last = by_url[dead[4]]["error"]
    assert last["kind"] == "connect" and last["message"].startswith(
        f"via {p.id}: 3 different targets unreachable since it last reached one"
    )
    (used,) = stats.proxies
    assert (used.failures, used.state) == (1, "cooling down (1 failures in a row)")


@pytest.mark.parametrize("transport", ["aiohttp", "curl"])
async def test_through_socks5_the_crawl_resolves_so_an_unknown_name_is_the_targets(
    site, proxies, dns_server, tmp_path, transport
):
    """``socks5://``: the crawl's resolver looks the target up before the proxy is asked, so a name
    that does not exist is the target's ``dns`` error (not retried, not the proxy's)."""
    (p,) = await proxies("socks5", 1)
    site.html("live.crawl.test", "/", "alive", title="live")
    dead, live = site.url("nowhere.test", "/"), site.url("live.crawl.test", "/")
    stats, by_url = await crawl_in_order(
        tmp_path, dead, live, proxy=p.url(), transport=transport, dns_servers=[dns_server.address], proxy_cooldown=300
    )
    error = by_url[dead]["error"]
    assert error["kind"] == "dns" and "nowhere.test" in error["message"] and p.id not in error["message"]
    assert by_url[dead]["attempts"] == 1
    assert (by_url[live]["status"], by_url[live]["proxy"]) == (200, p.id)
    (used,) = stats.proxies
    assert (used.requests, used.failures, used.state) == (2, 0, "ok")  # (taken for both; the lookup failed first)


async def test_wrong_password_names_the_proxy_not_the_password(site, proxies, tmp_path):
    (p,) = await proxies("pproxy", 1, user="alice", password="rightpass")
    pages(site, "127.0.0.1", 1)
    out = tmp_path / "o"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crawler",
        "crawl",
        site.url("127.0.0.1"),
        "-o",
        str(out),
        "--proxy",
        p.url(password="wrongpass9"),
        "--retries",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
    rec = json.loads((out / "records.jsonl").read_text().splitlines()[0])
    assert rec["error"]["kind"] == "proxy" and p.id in rec["error"]["message"]
    assert "rejected our credentials (407)" in rec["error"]["message"]
    everything = stdout + stderr + b"".join(f.read_bytes() for f in out.rglob("*") if f.is_file())
    assert b"wrongpass9" not in everything and b"rightpass" not in everything
    assert b"disabled: rejected our credentials (407)" in stderr  # the summary names why
    assert rec["error"]["message"].startswith("robots.txt unavailable")  # robots.txt met the 407 first


async def test_https_target_through_http_proxy_with_private_ca(proxies, crawl, tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.remote or "")
        return web.Response(text="<a href='/next'>n</a>" if request.path == "/" else "secure", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tls_site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await tls_site.start()
    port = tls_site._server.sockets[0].getsockname()[1]
    (p,) = await proxies("http", 1, user="carol", password="tlspass1")
    try:
        ok = await crawl(
            start_urls=[f"https://localhost:{port}/"], proxy=p.url(), ca_bundle=ca_file, output=tmp_path / "ok"
        )
        bad = await crawl(start_urls=[f"https://localhost:{port}/"], proxy=p.url(), output=tmp_path / "bad", retries=0)
    finally:
        await runner.cleanup()
    assert ok.stats.pages == 2 and set(seen) == {p.source}
    assert bad.records[0]["error"]["kind"] == "tls"


async def test_per_host_limit_holds_through_one_proxy(hosts_site, crawl, proxies):
    (p,) = await proxies("http", 1)
    full = {h: asyncio.Event() for h in ("127.0.0.1", "127.0.0.2")}

    def hold(host: str):
        async def handler(_: web.Request) -> web.Response:
            if hosts_site.inflight[host] >= 3:
                full[host].set()
            try:
                await asyncio.wait_for(full[host].wait(), 5)
            except TimeoutError:
                pass
            return web.Response(text="leaf", content_type="text/html")

        return handler

    seeds = []
    for h in full:
        seeds.append(pages(hosts_site, h, 10)[0])
        for i in range(10):
            hosts_site.route(h, f"/p{i}", hold(h))
    r = await crawl(start_urls=seeds, proxy=p.url(), per_host=3, concurrency=16, ignore_robots=True)
    assert r.stats.pages == 22
    assert hosts_site.max_inflight["127.0.0.1"] == 3 and hosts_site.max_inflight["127.0.0.2"] == 3
    assert set(sources(hosts_site)) == {p.source}


async def test_ban_signals_cool_a_proxy_and_requests_move_to_another(site, crawl, proxies):
    banned, clean = await proxies("socks5", 2)

    async def page(request: web.Request) -> web.Response:
        if request.remote == banned.source:
            if request.path.endswith("0"):
                return web.Response(status=429)
            return web.Response(text="<p>Please solve this CAPTCHA</p>", content_type="text/html")
        return web.Response(text=f"<p>{request.path}</p>", content_type="text/html")

    site.html("127.0.0.1", "/", "".join(f'<a href="/p{i}">{i}</a>' for i in range(20)))
    site.route("127.0.0.1", "*", page)
    r = await crawl(
        start_urls=[site.url("127.0.0.1")],
        proxies=[banned.url(), clean.url()],
        ignore_robots=True,
        proxy_ban_status=[429],
        proxy_ban_body="(?i)captcha",
        proxy_cooldown=60,
    )
    assert len(r.records) == 21 and all(rec["status"] == 200 for rec in r.records)
    assert {rec["proxy"] for rec in r.records[1:]} == {clean.id}
    assert not any(b"CAPTCHA" in f.read_bytes() for f in (r.out / "pages").rglob("*") if f.is_file())
    (used,) = [p for p in r.stats.proxies if p.id == banned.id]
    assert used.bans > 0


async def test_per_proxy_concurrency_cap(site, crawl, proxies):
    (p,) = await proxies("socks5", 1)
    pages(site, "127.0.0.1", 12)
    r = await crawl(
        start_urls=[site.url("127.0.0.1")],
        proxy=p.url(),
        proxy_concurrency=1,
        per_host=4,
        concurrency=8,
        ignore_robots=True,
    )
    assert r.stats.pages == 13
    assert site.max_inflight["127.0.0.1"] == 1


async def test_trust_env_uses_http_proxy_and_honours_no_proxy(hosts_site, crawl, proxies, monkeypatch, tmp_path):
    (p,) = await proxies("http", 1)
    for h in ("127.0.0.1", "127.0.0.2"):
        pages(hosts_site, h, 2)
    monkeypatch.setenv("HTTP_PROXY", p.url())
    monkeypatch.setenv("NO_PROXY", "127.0.0.2")
    r = await crawl(
        start_urls=[hosts_site.url("127.0.0.1"), hosts_site.url("127.0.0.2")], trust_env=True, ignore_robots=True
    )
    assert r.stats.pages == 6
    assert set(sources(hosts_site, "127.0.0.1")) == {p.source}
    assert set(sources(hosts_site, "127.0.0.2")) == {"127.0.0.1"}
    hosts_site.remotes.clear()
    off = await crawl(start_urls=[hosts_site.url("127.0.0.1")], ignore_robots=True, output=tmp_path / "off")
    assert off.stats.pages == 3 and set(sources(hosts_site)) == {"127.0.0.1"}  # off unless asked


@pytest.mark.parametrize("rotation", ["round_robin", "sticky", "least_used", "random"])
def test_a_page_to_render_takes_a_proxy_the_browser_can_use_and_a_host_keeps_its_own(rotation):
    """Chromium cannot authenticate to SOCKS: a page to render takes one of the pool's HTTP
    proxies (a sticky host always the same one), and a sticky host's fetched pages stay on their
    SOCKS proxy; a pool with no proxy the browser can use (or only disabled ones) gives what it
    has, and the page fails saying why."""
    socks = Proxy("socks5://127.0.0.1:1080", "socks5://sam:pw@127.0.0.1:1080", "socks5")
    http = [Proxy(f"http://127.0.0.1:{port}", f"http://sam:pw@127.0.0.1:{port}", "http") for port in (3128, 3129)]
    pool = Pool("default", [socks, *http], rotation, None)
    if rotation in ("round_robin", "sticky"):
        assert pool.pick("a.test", 0.0) is socks
    rendered = [pool.pick("a.test", 0.0, browser=True) for _ in range(4)]
    assert all(any(r is h for h in http) for r in rendered)
    if rotation == "sticky":
        assert len({r.id for r in rendered}) == 1  # one visitor's address for the host's rendered pages
        assert pool.pick("a.test", 0.0) is socks
    for proxy in http:
        proxy.dead = "credentials rejected"
    assert pool.pick("a.test", 0.0, browser=True) is socks
    assert Pool("socks", [socks], rotation, None).pick("a.test", 0.0, browser=True) is socks


async def test_a_page_to_render_waits_for_a_proxy_the_browser_can_use_and_says_so():
    """The pool's HTTP proxy cools down: a page to render waits for it (not for the SOCKS proxy
    with credentials, which is ready) and gives up naming what it waited for."""
    from crawler.net.proxies import NoProxy, Router

    router = Router(
        ["socks5://sam:pw@127.0.0.1:1080", "http://127.0.0.1:9"],
        {},
        [],
        rotation="round_robin",
        cap=None,
        cooldown=60,
        wait=0.1,
    )
    http = router.take("a.test", browser=True)
    assert http is not None and http.id == "http://127.0.0.1:9"
    router.release(http, failed=True)  # cooling down for a minute
    assert router.take("a.test") is not None  # a fetched page takes the SOCKS proxy
    with pytest.raises(NoProxy) as waiting:
        router.take("a.test", browser=True)
    given_up = router.gave_up(waiting.value)
    assert given_up.message.startswith("pool 'default': none the browser can use after 0.1s (")
    assert "pw" not in given_up.message


async def test_router_waits_at_most_proxy_wait_then_says_why():
    from crawler.core.errors import FetchError
    from crawler.net.proxies import Router

    router = Router(["http://127.0.0.1:9"], {}, [], rotation="round_robin", cap=None, cooldown=60, wait=0.1)
    proxy = await router.acquire("a.test")
    router.release(proxy, failed=True)  # cooling down for a minute
    with pytest.raises(FetchError, match=r"pool 'default': none has worked for 0.1s .*cooling down"):
        await router.acquire("a.test")
    router.disable(proxy, "rejected our credentials (407)")
    with pytest.raises(FetchError, match="every proxy is disabled"):
        await router.acquire("a.test")


async def test_https_proxy_url_speaks_tls_to_the_proxy(hosts_site, crawl, proxies, tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    pem = tmp_path / "proxy.pem"  # pproxy wants the key, then the certificate, in one file
    pem.write_bytes(cert.private_key_pem.bytes() + b"".join(c.bytes() for c in cert.cert_chain_pems))
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    urls = pages(hosts_site, "127.0.0.2", 3)
    (p,) = await proxies("pproxy-tls", 1, user="dave", password="tlsproxy7", tls_pem=pem)
    assert p.url().startswith("https://")

    ok = await crawl(start_urls=[urls[0]], proxy=p.url(), ca_bundle=ca_file, output=tmp_path / "ok")
    untrusted = await crawl(
        start_urls=[urls[0]], proxy=p.url(), proxy_retries=1, proxy_cooldown=0, output=tmp_path / "untrusted"
    )

    assert ok.stats.pages == 4 and {r["proxy"] for r in ok.records} == {p.id}
    (rec,) = untrusted.records  # the proxy's certificate is the proxy's fault, not the site's
    assert rec["error"]["kind"] == "proxy" and f"TLS with proxy {p.id} failed" in rec["error"]["message"]
    assert "CERTIFICATE_VERIFY_FAILED" in rec["error"]["message"] and "tlsproxy7" not in json.dumps(rec)
    assert hosts_site.hits[("127.0.0.2", "/")] == 1  # only the trusted crawl reached the site


async def test_a_request_hook_chooses_the_proxy_of_each_request(site, proxies, tmp_path):
    """Per request: a proxy URL (HTTP and SOCKS, with credentials), a pool of the job, direct,
    or the job's own route; a choice that is none of these is that request's hook error."""
    (http,) = await proxies("http", 1, user="carol", password="hookpw55")
    (socks,) = await proxies("socks5", 1, user="dan", password="sockpw66")
    (pooled,) = await proxies("socks5", 1)
    (default,) = await proxies("http", 1)
    routes = {
        "/http": http.url(),
        "/socks": socks.url(),
        "/pool": "spare",
        "/direct": "direct",
        "/bad": "fast",
        "/job": None,
    }
    site.html("127.0.0.1", "/", "".join(f'<a href="{path}">{path}</a>' for path in routes))
    for path in routes:
        site.html("127.0.0.1", path, path)

    def choose(req: Outgoing) -> None:
        req.proxy = routes.get(URL(req.url).path)

    job = Job.model_validate(
        {
            "start_urls": [site.url("127.0.0.1")],
            "output": str(tmp_path / "o"),
            "proxy": default.url(),
            "proxy_pools": {"spare": [pooled.url()]},
            "ignore_robots": True,
        }
    )
    stats = await Crawl(job, hooks=Hooks(request=choose)).run()

    by_path = {URL(r["url"]).path: r for r in read_records(tmp_path / "o")}
    peers = {path: peer for _, path, peer in site.remotes}
    assert peers == {
        "/": default.source,
        "/http": http.source,
        "/socks": socks.source,
        "/pool": pooled.source,
        "/direct": "127.0.0.1",
        "/job": default.source,
    }
    assert {path: r["proxy"] for path, r in by_path.items() if path != "/bad"} == {
        "/": default.id,
        "/http": http.id,
        "/socks": socks.id,
        "/pool": pooled.id,
        "/direct": None,
        "/job": default.id,
    }
    bad = by_path["/bad"]["error"]
    assert bad["kind"] == "hook" and "'fast' is not 'direct', a proxy URL or a pool of this job" in bad["message"]
    everything = b"".join(f.read_bytes() for f in (tmp_path / "o").rglob("*") if f.is_file())
    everything += summary(stats, str(tmp_path / "o")).encode()  # with its proxies: lines
    assert b"hookpw55" not in everything and b"sockpw66" not in everything


@pytest.mark.parametrize("transport", ["aiohttp", "curl"])
async def test_socks5_targets_are_resolved_by_the_crawl_with_its_pins_and_guard(hosts_site, crawl, proxies, transport):
    """``socks5://`` (not ``socks5h``): the crawl resolves the target (``--resolve`` pins, the
    private-address guard) and hands the proxy the address."""
    (p,) = await proxies("socks5", 1)
    hosts_site.html("c.test", "/", "hello", title="home")
    pin = [f"c.test:{hosts_site.port}:127.0.0.2"]  # a name only our resolver knows
    job = {"start_urls": [hosts_site.url("c.test")], "proxy": p.url(), "transport": transport, "ignore_robots": True}
    r = await crawl(**job, resolve=pin, retries=0)
    assert (r.records[0]["status"], r.records[0]["title"]) == (200, "home")
    assert [(host, remote) for host, _, remote in hosts_site.remotes] == [("c.test", p.source)]
    guarded = await crawl(**job, resolve=pin, block_private_ips=True, retries=0, output=r.out.parent / "guarded")
    assert guarded.records[0]["error"]["kind"] == "blocked" and len(hosts_site.remotes) == 1
