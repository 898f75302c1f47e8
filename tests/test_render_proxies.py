"""Rendered pages through real proxies (tinyproxy, Squid, pproxy, microsocks) fail as fetched ones
do: a target the proxy cannot reach is the target's ``connect`` error (never the proxy's error
page), a dead proxy is the proxy's and the page moves to another, rejected credentials take the
proxy out. And an error status with no body, which Chromium does not show, is that status."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web
from warcio.archiveiterator import ArchiveIterator

from tests.helpers.leaks import read_output
from tests.helpers.ordered import archived, crawl_in_order
from tests.helpers.ports import free_port

RENDERED = {"render": ["*"], "render_timeout": 30}


@pytest.mark.parametrize(
    "kind, scheme, said",
    [
        ("http", "http", "500 Unable to connect"),  # tinyproxy's page, forwarded as the answer
        ("squid", "http", "503 Service Unavailable, ERR_CONNECT_FAIL 111"),  # Squid's page
        ("http", "https", "net::ERR_TUNNEL_CONNECTION_FAILED (the browser does not say why)"),
        ("squid", "https", "net::ERR_TUNNEL_CONNECTION_FAILED (the browser does not say why)"),
        ("socks5", "http", "net::ERR_SOCKS_CONNECTION_FAILED (the browser does not say why)"),
    ],
)
async def test_a_rendered_page_whose_target_the_proxy_cannot_reach_is_the_targets_error(
    site, proxies, tmp_path, kind, scheme, said
):
    """The target's ``connect`` error after the normal retries, the proxy's page neither recorded
    nor archived as the target's, and the proxy, healthy, renders the next page at once."""
    (p,) = await proxies(kind, 1)
    port = free_port()  # nobody listens there
    dead = f"{scheme}://127.0.0.1:{port}/gone"
    site.html("127.0.0.1", "/live", "alive", title="live")
    live = site.url("127.0.0.1", "/live")
    stats, by_url = await crawl_in_order(
        tmp_path, dead, live, proxy=p.url(), retries=1, proxy_cooldown=300, proxy_wait=2, warc=True, **RENDERED
    )
    gone = by_url[dead]
    assert (gone["status"], gone["error"]["kind"], gone["attempts"], gone["proxy"]) == (None, "connect", 2, p.id)
    assert gone["error"]["message"] == f"cannot connect to 127.0.0.1:{port}, reported by proxy {p.id}: {said}"
    assert (by_url[live]["status"], by_url[live]["title"], by_url[live]["rendered"]) == (200, "live", True)
    assert [(path, peer) for _, path, peer in site.remotes] == [("/live", p.source)]
    assert archived(tmp_path / "o" / "crawl.warc.gz") == [live]
    (used,) = stats.proxies
    assert (used.requests, used.failures, used.state) == (3, 0, "ok")


@pytest.mark.parametrize("kind", ["http", "socks5"])
async def test_a_rendered_page_leaves_a_dead_proxy_for_a_live_one(site, proxies, crawl, kind):
    """The browser cannot connect to the proxy: the proxy's fault, so the page is rendered through
    the other proxy and the dead one cools down; no render error is left."""
    dead, alive = await proxies(kind, 2)
    dead.kill()
    await dead.proc.wait()
    site.html("127.0.0.1", "/", "home", title="home")
    r = await crawl(
        start_urls=[site.url("127.0.0.1")],
        proxies=[dead.url(), alive.url()],
        proxy_rotation="round_robin",
        ignore_robots=True,
        proxy_cooldown=300,
        **RENDERED,
    )
    (record,) = r.records
    assert (record["status"], record["rendered"], record["proxy"], record["error"]) == (200, True, alive.id, None)
    state = {used.id: (used.failures, used.state) for used in r.stats.proxies}
    assert state[dead.id] == (1, "cooling down (1 failures in a row)")
    assert state[alive.id] == (0, "ok")


@pytest.mark.parametrize(
    "signal",
    ["status", "empty status", "status, never loads", "body", "script navigation", "script navigation, no wall"],
)
async def test_a_proxys_ban_signal_on_a_rendered_page_moves_it_to_another_proxy(site, proxies, crawl, signal):
    """``proxy_ban_status`` and ``proxy_ban_body`` are read on rendered pages as on fetched ones
    (also on the answer to a navigation by the page's script): the page the site refused through
    the first proxy is rendered through the other, the first is banned, and the refusal is
    neither recorded nor kept as the page; a ban status is in the WARC, as a fetch archives it."""
    banned, clean = await proxies("socks5", 2)
    wall = {"cf-mitigated": "challenge"}  # also a blocked_when default: the proxy's signal comes first

    async def refused(_: web.Request) -> web.Response:
        headers = wall if signal == "script navigation" else {}
        return web.Response(status=429, text="<p>slow down</p>", content_type="text/html", headers=headers)

    async def page(request: web.Request) -> web.Response:
        if request.remote != banned.source:
            return web.Response(text="<title>news</title><p>today</p>", content_type="text/html")
        if signal.startswith("script navigation"):  # the page loads, then its script goes where the site refuses
            later = 'addEventListener("load", () => setTimeout(() => { location.href = "/refused"; }, 200));'
            return web.Response(text=f"<script>{later}</script>", content_type="text/html")
        if signal == "status":
            return web.Response(status=429, text="<p>slow down</p>", content_type="text/html", headers=wall)
        if signal == "empty status":  # which Chromium does not show
            return web.Response(status=429, headers=wall)
        if signal == "status, never loads":  # a challenge whose script the page waits for forever
            never = '<script src="/never.js"></script>'
            return web.Response(status=429, text=never, content_type="text/html", headers=wall)
        return web.Response(text="<p>Please solve this CAPTCHA</p>", content_type="text/html")

    site.route("127.0.0.1", "/news", page)
    site.route("127.0.0.1", "/refused", refused)
    site.route("127.0.0.1", "/never.js", _never_arrives)
    url = site.url("127.0.0.1", "/news")
    r = await crawl(
        start_urls=[url],
        proxies=[banned.url(), clean.url()],  # round robin: the page goes to the banned one first
        proxy_rotation="round_robin",
        ignore_robots=True,
        proxy_ban_status=[429],
        proxy_ban_body="(?i)captcha",
        proxy_cooldown=300,
        **{**RENDERED, "render_timeout": 8 if signal == "status, never loads" else 30},  # 8: the 429 is in by then
        render_selector="p",  # (the script's page has none: the navigation's answer is in when it matches)
        warc=True,
    )
    (record,) = r.records
    assert (record["status"], record["title"], record["proxy"], record["error"]) == (200, "news", clean.id, None)
    assert [(path, peer) for _, path, peer in site.remotes if path == "/news"] == [
        ("/news", banned.source),
        ("/news", clean.source),
    ]
    assert b"CAPTCHA" not in (r.out / record["path"]).read_bytes()
    bans = {used.id: used.bans for used in r.stats.proxies}
    assert bans == {banned.id: 1, clean.id: 0} and r.stats.blocked == 0  # a ban signal, not a blocked page
    refusal = site.url("127.0.0.1", "/refused") if signal.startswith("script navigation") else url
    kept = [url] if signal == "body" else [refusal, url]  # a ban status is archived, as a fetch archives it
    assert archived(r.out / "crawl.warc.gz") == kept


@pytest.mark.parametrize("rendered", [True, False])
async def test_proxy_ban_body_searches_what_is_parsed_rendered_as_fetched(site, proxies, crawl, rendered):
    """``proxy_ban_body`` searches the first ``max_parse_bytes`` of a page, rendered or fetched: a
    word in the first part bans the proxy, the same word past it does not."""
    (p,) = await proxies("socks5", 1)
    filler = "<p>" + "words " * 400 + "</p>"  # 2,407 bytes
    site.html("127.0.0.1", "/early", "CAPTCHA " + filler, title="early")
    site.html("127.0.0.1", "/late", filler + "CAPTCHA", title="late")
    early, late = site.url("127.0.0.1", "/early"), site.url("127.0.0.1", "/late")
    r = await crawl(
        start_urls=[early, late],
        proxy=p.url(),
        ignore_robots=True,
        proxy_ban_body="CAPTCHA",
        max_parse_bytes=2000,
        proxy_retries=0,
        retries=0,
        max_depth=0,
        **({**RENDERED, "render": ["*/early", "*/late"]} if rendered else {}),
    )
    assert r.by_url[early]["error"]["kind"] == "proxy"
    assert (r.by_url[late]["status"], r.by_url[late]["title"], r.by_url[late]["rendered"]) == (200, "late", rendered)
    (used,) = r.stats.proxies
    assert used.bans == 1


@pytest.mark.parametrize("rendered", [True, False])
async def test_a_wall_by_its_headers_comes_before_proxy_ban_body_rendered_as_fetched(site, proxies, crawl, rendered):
    """A page whose headers make it a bot wall (``blocked_when``) and whose body matches
    ``proxy_ban_body`` is a blocked page, rendered as fetched: the fetcher reads the head first."""
    (p,) = await proxies("socks5", 1)

    async def wall(_: web.Request) -> web.Response:
        page = "<title>wall</title><p>Please solve this CAPTCHA</p>"
        return web.Response(text=page, content_type="text/html", headers={"X-Bot-Wall": "1"})

    site.route("127.0.0.1", "/wall", wall)
    url = site.url("127.0.0.1", "/wall")
    fields = RENDERED if rendered else {}
    r = await crawl(
        start_urls=[url],
        proxy=p.url(),
        ignore_robots=True,
        proxy_ban_body="CAPTCHA",
        blocked_when=[{"header": "x-bot-wall"}],
        proxy_retries=0,
        retries=0,
        **fields,
    )
    (record,) = r.records
    assert (record["status"], record["error"]["kind"], record["rendered"]) == (200, "blocked", rendered)
    assert "x-bot-wall" in record["error"]["message"] and r.stats.blocked == 1


@pytest.mark.parametrize(
    "kind, scheme, password",
    [
        ("pproxy", "http", "wrong-pw-7"),  # its 407 has no body: Chromium gives up on it
        ("pproxy", "https", "wrong-pw-7"),  # its 407 to the CONNECT
        ("http", "http", None),  # tinyproxy's 407 page, to a request without credentials
        ("refusing", "http", "wrong-pw-7"),  # a 407 page to our credentials, as Squid's: Chromium shows it
    ],
)
async def test_a_rendered_page_through_a_proxy_that_answers_407_names_the_proxy(
    site, proxies, refusing_proxy, crawl, kind, scheme, password
):
    """The proxy is out of the crawl, as for a fetch; its page is not the site's, and the password
    is nowhere in the output."""
    if kind == "refusing":
        p = await refusing_proxy()
    else:
        (p,) = await proxies(kind, 1, user="rita", password="right-pw-7")
    site.html("127.0.0.1", "/", "home")
    start = site.url("127.0.0.1") if scheme == "http" else f"https://127.0.0.1:{free_port()}/"
    proxy = p.url(password=password) if password else p.id  # (the id: the URL without credentials)
    r = await crawl(start_urls=[start], proxy=proxy, ignore_robots=True, warc=True, **RENDERED)
    (record,) = r.records
    why = "rejected our credentials (407)"
    assert (record["status"], record["error"]) == (
        None,
        {"kind": "proxy", "message": f"pool 'default': every proxy is disabled ({p.id}: disabled: {why})"},
    )  # the pool's last word, as for a fetched page
    (used,) = r.stats.proxies
    assert used.state == f"disabled: {why}"
    assert not site.remotes and archived(r.out / "crawl.warc.gz") == []
    everything = b"".join(read_output(f) for f in r.out.rglob("*") if f.is_file())
    assert b"wrong-pw-7" not in everything and b"right-pw-7" not in everything


@pytest.mark.parametrize("kind", ["http", "refusing"])  # tinyproxy's 407 page; one with a challenge
async def test_a_fetched_page_through_a_proxy_that_answers_407_archives_nothing_of_it(
    site, proxies, refusing_proxy, crawl, kind
):
    """The proxy's 407 page is the proxy's, not the site's: as for a rendered page, the proxy is
    out of the crawl and the WARC has nothing of its page."""
    p = await refusing_proxy() if kind == "refusing" else (await proxies(kind, 1, user="rita", password="pw-7"))[0]
    site.html("127.0.0.1", "/", "home")
    r = await crawl(start_urls=[site.url("127.0.0.1")], proxy=p.id, ignore_robots=True, retries=0, warc=True)
    (record,) = r.records
    assert record["error"]["kind"] == "proxy" and "rejected our credentials (407)" in record["error"]["message"]
    assert not site.remotes and archived(r.out / "crawl.warc.gz") == []


@dataclass
class RefusingProxy:
    """An HTTP proxy on 127.0.0.1 that answers every request with a 407 page (with a challenge)."""

    port: int
    server: asyncio.Server

    @property
    def id(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, password: str | None = None) -> str:
        return f"http://rita:{password}@127.0.0.1:{self.port}"


@pytest.fixture
async def refusing_proxy() -> AsyncIterator[Callable[[], Awaitable[RefusingProxy]]]:
    """``await refusing_proxy()`` starts one; all close at teardown."""
    servers: list[asyncio.Server] = []
    page = b"<html><body><h1>Cache Access Denied</h1></body></html>"

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="proxy"\r\n'
                b"Content-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(page) + page
            )
            await writer.drain()
        writer.close()

    async def start() -> RefusingProxy:
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        servers.append(server)
        return RefusingProxy(server.sockets[0].getsockname()[1], server)

    yield start
    for server in servers:
        server.close()


@pytest.mark.parametrize("via", ["direct", "tinyproxy"])
async def test_a_sites_own_login_page_is_its_401_not_the_proxys_refusal(site, proxies, crawl, via):
    """A 401 asking for Basic credentials (Chromium cancels the login: ERR_INVALID_AUTH_CREDENTIALS)
    is the page's status, as for a fetch; a proxy it came through stays in the crawl."""

    async def login(_: web.Request) -> web.Response:
        return web.Response(
            status=401, text="<p>members only</p>", content_type="text/html", headers={"WWW-Authenticate": "Basic"}
        )

    site.route("127.0.0.1", "/private", login)
    url = site.url("127.0.0.1", "/private")
    fields = {}
    if via == "tinyproxy":
        (p,) = await proxies("http", 1, user="rita", password="right-pw-7")
        fields["proxy"] = p.url()
    r = await crawl(start_urls=[url], ignore_robots=True, retries=0, **fields, **RENDERED)
    (record,) = r.records
    assert (record["status"], record["error"]) == (401, {"kind": "http", "message": "401 (rendered)"})
    assert all((used.failures, used.state) == (0, "ok") for used in r.stats.proxies)


async def test_tinyproxys_401_to_a_wrong_password_is_a_401_as_for_a_fetch(site, proxies, crawl):
    """tinyproxy answers a wrong password on a plain ``http://`` page with a 401, which cannot be
    told from the site's own: recorded as the page's 401, as the fetcher does."""
    (p,) = await proxies("http", 1, user="rita", password="right-pw-7")
    site.html("127.0.0.1", "/", "home")
    r = await crawl(
        start_urls=[site.url("127.0.0.1")],
        proxy=p.url(password="wrong-pw-7"),
        ignore_robots=True,
        retries=0,
        **RENDERED,
    )
    (record,) = r.records
    assert (record["status"], record["error"]["kind"]) == (401, "http")
    assert not site.remotes


async def test_a_socks5_proxy_with_credentials_is_refused_for_rendered_pages_in_one_line(site, proxies, crawl):
    """Chromium cannot authenticate to SOCKS5: each rendered page through such a proxy ends with a
    ``proxy`` error that says so (the proxy itself stays healthy for fetched pages)."""
    (p,) = await proxies("socks5", 1, user="sam", password="socks-pw-3")
    site.html("127.0.0.1", "/", "rendered")
    site.html("127.0.0.1", "/plain", "fetched", title="plain")
    root, plain = site.url("127.0.0.1"), site.url("127.0.0.1", "/plain")
    r = await crawl(
        start_urls=[root, plain], proxy=p.url(), ignore_robots=True, render=["*/"], render_timeout=30, max_depth=0
    )
    assert r.by_url[root]["error"] == {
        "kind": "proxy",
        "message": f"the browser cannot use {p.id}: Chromium does not support SOCKS proxies with credentials",
    }
    assert (r.by_url[plain]["status"], r.by_url[plain]["rendered"], r.by_url[plain]["proxy"]) == (200, False, p.id)
    (used,) = r.stats.proxies
    assert (used.failures, used.state) == (0, "ok")
    everything = b"".join(read_output(f) for f in r.out.rglob("*") if f.is_file())
    assert b"socks-pw-3" not in everything


async def test_in_a_mixed_pool_rendered_pages_take_the_proxies_the_browser_can_use(site, proxies, crawl):
    """A pool of a SOCKS5 proxy with credentials and an HTTP one: every rendered page goes through
    the HTTP proxy (none fails for want of one the browser can use), and the SOCKS proxy still
    serves fetched pages, its health untouched."""
    (socks,) = await proxies("socks5", 1, user="sam", password="socks-pw-4")
    (http,) = await proxies("http", 1)
    rendered = [f"/r{i}" for i in range(3)]
    for path in rendered:
        site.html("127.0.0.1", path, "rendered", title=path)
    fetched = [f"/f{i}" for i in range(4)]
    for path in fetched:
        site.html("127.0.0.1", path, "fetched", title=path)
    r = await crawl(
        start_urls=[site.url("127.0.0.1", path) for path in rendered + fetched],
        proxies=[socks.url(), http.url()],
        proxy_rotation="round_robin",
        ignore_robots=True,
        render=["*/r*"],
        render_timeout=30,
        max_depth=0,
    )
    for path in rendered:
        record = r.by_url[site.url("127.0.0.1", path)]
        assert (record["status"], record["title"], record["rendered"], record["proxy"]) == (200, path, True, http.id)
    assert {r.by_url[site.url("127.0.0.1", path)]["status"] for path in fetched} == {200}
    used = {p.id: p for p in r.stats.proxies}
    assert (used[socks.id].failures, used[socks.id].state) == (0, "ok")
    through_socks = sum(r.by_url[site.url("127.0.0.1", f)]["proxy"] == socks.id for f in fetched)
    assert used[socks.id].requests == through_socks >= 1  # fetched pages still alternate between both


async def test_a_socks5h_proxy_renders_pages(site, proxies, crawl):
    """``socks5h://`` (names resolved by the proxy) is what Chromium's ``socks5://`` does already."""
    (p,) = await proxies("socks5", 1)
    site.html("127.0.0.1", "/", "home", title="home")
    r = await crawl(
        start_urls=[site.url("127.0.0.1")],
        proxy=p.url().replace("socks5://", "socks5h://"),
        ignore_robots=True,
        **RENDERED,
    )
    (record,) = r.records
    assert (record["status"], record["title"], record["rendered"], record["error"]) == (200, "home", True, None)
    assert [(path, peer) for _, path, peer in site.remotes] == [("/", p.source)]
    (used,) = r.stats.proxies
    assert (used.failures, used.state) == (0, "ok")


async def test_a_redirect_to_a_target_the_proxy_cannot_reach_names_that_target(site, proxies, tmp_path):
    """The proxy's page answers the last hop: the error names it, not the page that redirected."""
    (p,) = await proxies("http", 1)
    port = free_port()  # nobody listens there
    site.route("127.0.0.1", "/moved", lambda _: _redirect(f"http://127.0.0.1:{port}/gone"))
    moved = site.url("127.0.0.1", "/moved")
    _, by_url = await crawl_in_order(tmp_path, moved, proxy=p.url(), retries=0, proxy_wait=2, **RENDERED)
    error = by_url[moved]["error"]
    assert error == {
        "kind": "connect",
        "message": f"cannot connect to 127.0.0.1:{port}, reported by proxy {p.id}: 500 Unable to connect",
    }


async def _never_arrives(_: web.Request) -> web.Response:
    """A script the page waits for forever (cancelled by the test's end: the server's shutdown)."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def _redirect(location: str) -> web.Response:
    raise web.HTTPFound(location)


@pytest.mark.parametrize("status", [404, 503])
async def test_a_rendered_error_status_with_no_body_is_that_status(site, crawl, status):
    """Chromium shows no page for it (``ERR_HTTP_RESPONSE_CODE_FAILURE``); the record has the
    status, as a fetched page's does, not a render error; the WARC has the answer, as a fetch's."""

    async def empty(_: web.Request) -> web.Response:
        return web.Response(status=status)

    site.route("127.0.0.1", "/empty", empty)
    url = site.url("127.0.0.1", "/empty")
    r = await crawl(start_urls=[url], ignore_robots=True, retries=0, warc=True, **RENDERED)
    (record,) = r.records
    assert (record["status"], record["rendered"], record["error"]) == (
        status,
        True,
        {"kind": "http", "message": f"{status} (rendered)"},
    )
    assert archived(r.out / "crawl.warc.gz") == [url]


@pytest.mark.parametrize("path", ["/auth", "/to-auth"])
async def test_a_sites_own_407_is_that_status_rendered_as_fetched(site, crawl, path):
    """A site reached with no proxy answers 407 (Chromium fails it as ``ERR_UNEXPECTED_PROXY_AUTH``
    and shows no answer): the page's ``http`` 407, as a fetched page's, after a redirect too."""

    async def auth(_: web.Request) -> web.Response:
        return web.Response(status=407, text="<p>who?</p>", content_type="text/html")

    site.route("127.0.0.1", "/auth", auth)
    site.route("127.0.0.1", "/to-auth", lambda _: _redirect("/auth"))
    url = site.url("127.0.0.1", path)
    rendered = await crawl(start_urls=[url], ignore_robots=True, retries=0, **RENDERED)
    fetched = await crawl(
        start_urls=[url], ignore_robots=True, retries=0, max_depth=1, output=rendered.out.parent / "f"
    )
    page = rendered.by_url[url]
    assert (page["status"], page["rendered"], page["error"]) == (
        407,
        True,
        {"kind": "http", "message": "407 (rendered)"},
    )
    assert page["final_url"] == site.url("127.0.0.1", "/auth")
    fetched_page = fetched.by_url[site.url("127.0.0.1", "/auth")]
    assert (fetched_page["status"], fetched_page["error"]["kind"]) == (407, "http")


NEVER_LOADING_WALLS = {  # a challenge whose script never arrives: status, headers, its document, the reason's mark
    "title": (503, {}, "<title>Just a moment...</title>", "Just a moment"),  # Cloudflare's, by its body
    "header": (202, {"x-amzn-waf-action": "challenge"}, "<title>aws</title>", "x-amzn-waf-action"),  # AWS WAF's
}


@pytest.mark.parametrize("known_by", NEVER_LOADING_WALLS)
async def test_a_challenge_page_that_never_finishes_loading_is_blocked(site, crawl, known_by):
    """A challenge page whose script never arrives runs out of time: a built-in ``blocked_when``
    rule reads its headers, or its document as it was sent, so the page is ``blocked`` (not a
    retried ``http`` 503, nor a ``render`` error for the 202); the WARC has that document."""
    status, headers, head, reason = NEVER_LOADING_WALLS[known_by]

    async def wall(_: web.Request) -> web.Response:
        page = f'<html><head>{head}<script src="/never.js"></script></head></html>'
        return web.Response(status=status, text=page, content_type="text/html", headers=headers)

    site.route("127.0.0.1", "/wall", wall)
    site.route("127.0.0.1", "/never.js", _never_arrives)
    walled = site.url("127.0.0.1", "/wall")
    r = await crawl(start_urls=[walled], ignore_robots=True, retries=0, warc=True, **{**RENDERED, "render_timeout": 8})
    (record,) = r.records
    assert (record["status"], record["rendered"], record["error"]["kind"]) == (status, True, "blocked")
    assert reason in record["error"]["message"]
    with (r.out / "crawl.warc.gz").open("rb") as f:  # the document as it was sent, as a fetch archives it
        (kept,) = [w.content_stream().read() for w in ArchiveIterator(f) if w.rec_type == "response"]
    assert head.encode() in kept


async def test_an_error_page_whose_document_never_arrives_whole_is_its_status_and_not_archived(crawl, tmp_path):
    """A 503 that sends its headers and half its document, then stalls: the page's ``http`` 503;
    the WARC gets no record, as its document never arrived whole (an empty one would be false)."""
    held: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n"
            b"<html><head><title>Just a moment...</title></head><body>" + b"<p>wait</p>" * 100
        )
        held.append(writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/half"
    try:
        r = await crawl(  # 8 s: its headers are in by then on a busy machine too
            start_urls=[url], ignore_robots=True, retries=0, warc=True, **{**RENDERED, "render_timeout": 8}
        )
    finally:
        for writer in held:
            writer.close()
        server.close()
    (record,) = r.records
    assert (record["status"], record["rendered"]) == (503, True)
    assert record["error"] == {"kind": "http", "message": "503 (rendered)"}
    assert archived(r.out / "crawl.warc.gz") == []


async def test_a_rendered_page_that_answers_503_is_retried_as_a_fetched_one_is(site, crawl):
    """A busy server's 503 page is tried again (``retries``); a 404 is the page's answer, once."""
    calls = {"busy": 0, "missing": 0}

    async def busy(_: web.Request) -> web.Response:
        calls["busy"] += 1
        if calls["busy"] == 1:
            return web.Response(status=503, text="<p>busy, come back</p>", content_type="text/html")
        return web.Response(text="<title>done</title><p>here</p>", content_type="text/html")

    async def missing(_: web.Request) -> web.Response:
        calls["missing"] += 1
        return web.Response(status=404, text="<p>no such page</p>", content_type="text/html")

    site.route("127.0.0.1", "/busy", busy)
    site.route("127.0.0.1", "/missing", missing)
    busy_url, missing_url = site.url("127.0.0.1", "/busy"), site.url("127.0.0.1", "/missing")
    r = await crawl(start_urls=[busy_url, missing_url], ignore_robots=True, retries=2, **RENDERED)
    assert (r.by_url[busy_url]["status"], r.by_url[busy_url]["title"], r.by_url[busy_url]["attempts"]) == (
        200,
        "done",
        2,
    )
    assert (r.by_url[missing_url]["status"], r.by_url[missing_url]["attempts"]) == (404, 1)
    assert calls == {"busy": 2, "missing": 1}
    (slowed,) = [t for t in r.crawl.parts.limiter.throttled().hosts if t.host == f"127.0.0.1:{site.port}"]
    assert slowed.throttles == 1  # the 503 slowed the host down (AIMD), as a fetched one does; the 404 did not


async def test_a_rendered_challenge_page_is_blocked_as_a_fetched_one_is(site, crawl):
    """A 503 bot wall (Cloudflare's "Just a moment...") is ``blocked``, not a retried ``http``
    error, and leaves no page file; the host's next page is crawled."""

    async def wall(_: web.Request) -> web.Response:
        page = "<html><head><title>Just a moment...</title></head><body>checking</body></html>"
        return web.Response(status=503, text=page, content_type="text/html")

    site.route("127.0.0.1", "/wall", wall)
    site.html("127.0.0.1", "/fine", "fine", title="fine")
    walled, fine = site.url("127.0.0.1", "/wall"), site.url("127.0.0.1", "/fine")
    r = await crawl(start_urls=[walled, fine], ignore_robots=True, retries=0, **RENDERED)
    record = r.by_url[walled]
    assert (record["status"], record["error"]["kind"], record["path"]) == (503, "blocked", None)
    assert "Just a moment" in record["error"]["message"]
    assert (r.by_url[fine]["status"], r.by_url[fine]["title"]) == (200, "fine")
    assert not any(b"checking" in f.read_bytes() for f in (r.out / "pages").rglob("*") if f.is_file())
    assert r.stats.blocked == 1


@pytest.mark.parametrize("render", [True, False])
@pytest.mark.parametrize("where", ["page", "redirect", "redirect loop", "redirect out of scope"])
async def test_a_wall_known_by_its_headers_is_blocked_rendered_as_fetched(site, crawl, render, where):
    """``blocked_when``'s header rule holds for the page's own 200, or for a 302 on its way (the
    browser follows it itself; in a loop, it gives up on too many redirects): the record is that
    answer's ``blocked`` error, rendered as fetched, and nothing of the page is kept. A walled 302
    out of scope is a wall first, as the fetcher reads an answer's head before its redirect."""
    away = {"redirect": "/shop", "redirect loop": "/go", "redirect out of scope": site.url("elsewhere.test", "/shop")}

    async def walled(_: web.Request) -> web.StreamResponse:
        if where != "page":
            raise web.HTTPFound(away[where], headers={"X-Bot-Wall": "1"})
        return web.Response(text="<h1>shop</h1>", content_type="text/html", headers={"X-Bot-Wall": "1"})

    site.route("127.0.0.1", "/go", walled)
    site.html("127.0.0.1", "/shop", "<h1>shop</h1>")
    site.html("elsewhere.test", "/shop", "<h1>shop</h1>")
    url = site.url("127.0.0.1", "/go")
    fields = {**(RENDERED if render else {}), "resolve": site.pin("elsewhere.test")}
    rules = [{"header": "x-bot-wall"}]
    r = await crawl(start_urls=[url], ignore_robots=True, retries=0, blocked_when=rules, warc=True, **fields)
    record = r.by_url[url]
    status = 200 if where == "page" else 302
    assert (record["status"], record["error"]["kind"], record["path"]) == (status, "blocked", None)
    assert record["rendered"] is render and list(r.by_url) == [url]
    assert not any(b"shop" in f.read_bytes() for f in (r.out / "pages").rglob("*") if f.is_file())
    assert archived(r.out / "crawl.warc.gz") == [url]  # the wall, as the fetcher archives it


@pytest.mark.parametrize("padding", [0, 20_000])  # the wall's document within max_bytes, or over it
async def test_a_wall_a_script_navigates_to_is_blocked(site, crawl, padding):
    """The page's script, once it has loaded, navigates it (in scope) to a page that is a bot wall
    by its headers: the record is that answer's ``blocked`` error (not ``too_large`` when its
    document is over ``max_bytes``: the fetcher reads the head first), and the wall is not kept."""

    async def wall(_: web.Request) -> web.Response:
        page = "<h1 id=there>verify you are human</h1>" + "<p>wait</p>" * (padding // 11)
        return web.Response(text=page, content_type="text/html", headers={"cf-mitigated": "challenge"})

    later = 'addEventListener("load", () => setTimeout(() => { location.href = "/wall"; }, 200));'
    site.html("127.0.0.1", "/start", f"<script>{later}</script>")  # (usually after the page's first look)
    site.route("127.0.0.1", "/wall", wall)
    url = site.url("127.0.0.1", "/start")
    fields = {**RENDERED, "render_selector": "#there", "max_bytes": 10_000}
    r = await crawl(start_urls=[url], ignore_robots=True, retries=0, **fields)
    (record,) = r.records
    assert (record["status"], record["error"]["kind"], record["path"]) == (200, "blocked", None)
    assert record["final_url"] == site.url("127.0.0.1", "/wall") and "cf-mitigated" in record["error"]["message"]
