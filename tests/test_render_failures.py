"""A rendered page whose own connection fails ends as a fetched one does: ``connect``, ``aborted``,
``tls`` or ``dns`` (not ``render``), retried when a fetch's would be. Directly, Chromium names the
failure; through the crawl's guard (``dns_servers``, ``block_private_ips``) it only says its SOCKS
connection failed, and the guard names it. Real servers on 127.0.0.1 throughout."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from yarl import URL

from crawler.core.errors import FetchError, Kind
from crawler.net.browser_failures import browser_failure
from crawler.net.failures import storage_failure
from crawler.net.proxies import Proxy
from crawler.net.proxy_blame import blame
from crawler.sinks.paths import host_dir
from tests.helpers.ports import free_port

RENDERED = {"render": ["*"], "render_timeout": 30}


@pytest.fixture
async def hangs_up() -> AsyncIterator[tuple[str, list[int]]]:
    """A server that reads each request and closes without a word: its URL, and a count of requests."""
    asked = [0]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        asked[0] += 1
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/silent", asked
    server.close()
    await server.wait_closed()


@pytest.fixture
async def stalls() -> AsyncIterator[tuple[str, list[int]]]:
    """A server that reads each request and never answers: its URL, and a count of requests."""
    asked, held = [0], []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        asked[0] += 1
        held.append(writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/stuck", asked
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.fixture
async def untrusted(tls_ca) -> AsyncIterator[str]:
    """An https:// page whose certificate no client trusts (the test's own CA): its URL."""

    async def secret(_: web.Request) -> web.Response:
        return web.Response(text="<p>secret</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", secret)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls_ca.server_context())
    await site.start()
    yield f"https://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/"  # type: ignore[union-attr]
    await runner.cleanup()


async def test_a_rendered_pages_failed_connection_is_the_fetched_pages_error_and_is_retried(
    site, crawl, hangs_up, untrusted, tmp_path
):
    """A refused port and a server that hangs up are retried (``retries``) and end as ``connect``
    and ``aborted``; an untrusted certificate is ``tls``, tried once: the kinds and tries of the
    same URLs fetched. The next page renders."""
    refused = f"http://127.0.0.1:{free_port()}/gone"
    silent, asked = hangs_up
    site.html("127.0.0.1", "/live", "alive", title="live")
    live = site.url("127.0.0.1", "/live")
    urls = [refused, silent, untrusted, live]
    rendered = await crawl(start_urls=urls, ignore_robots=True, retries=2, output=tmp_path / "r", **RENDERED)
    asked_rendering = asked[0]
    fetched = await crawl(start_urls=urls, ignore_robots=True, retries=2, output=tmp_path / "f")

    def outcome(r, url):
        record = r.by_url[url]
        return record["status"], record["error"] and record["error"]["kind"], record["attempts"]

    assert [outcome(rendered, url) for url in urls] == [
        (None, "connect", 3),
        (None, "aborted", 3),
        (None, "tls", 1),
        (200, None, 1),
    ]
    assert [outcome(rendered, url) for url in urls] == [outcome(fetched, url) for url in urls]
    assert rendered.by_url[refused]["error"]["message"] == (
        "cannot connect: connection refused (the browser: net::ERR_CONNECTION_REFUSED)"
    )
    assert rendered.by_url[untrusted]["error"]["message"] == "TLS failed (the browser: net::ERR_CERT_AUTHORITY_INVALID)"
    assert asked_rendering >= 3  # each of our tries reached the server (Chromium may add one of its own)
    assert rendered.by_url[live]["rendered"] and rendered.by_url[live]["title"] == "live"


@pytest.mark.parametrize("via", ["", "a redirect"])
async def test_a_rendered_page_whose_server_never_answers_is_a_timeout_retried_and_slows_the_host(
    site, crawl, stalls, via
):
    """No answer to the document within ``render_timeout`` (or to the hop a redirect sent it to):
    the fetch's ``timeout`` (retried, and the host slowed down), not the ``render`` error of a page
    whose scripts never finished."""
    url, asked = stalls

    async def hop(_: web.Request) -> web.Response:
        raise web.HTTPFound(url)

    site.route("127.0.0.1", "/hop", hop)
    start = site.url("127.0.0.1", "/hop") if via else url
    r = await crawl(  # (no answer ever comes, so a short deadline decides nothing)
        start_urls=[start], ignore_robots=True, retries=1, render=["*"], render_timeout=3
    )
    (record,) = r.records
    assert (record["error"], record["attempts"]) == (
        {"kind": "timeout", "message": "timed out: no answer within 3s (rendered)"},
        2,
    )
    assert asked[0] >= 2
    (slowed,) = r.crawl.parts.limiter.throttled().hosts  # the page's host (a redirect's next hop is the browser's)
    assert slowed.throttles >= 1


async def test_an_error_page_that_never_finishes_loading_is_its_status_retried_as_a_fetchs(site, crawl):
    """A 503 whose script never arrives (a challenge's, say): the page's 503, retried, as a fetch
    has it; not the ``render`` error of a page whose scripts ran late. A 200 page like it is one."""
    never = asyncio.Event()

    async def script(_: web.Request) -> web.Response:
        await never.wait()  # released by the site's shutdown
        return web.Response(text="")

    for path, status in (("/busy", 503), ("/slow", 200)):
        site.html("127.0.0.1", path, '<script src="/never.js"></script>', status=status)
    site.route("127.0.0.1", "/never.js", script)
    busy, slow = site.url("127.0.0.1", "/busy"), site.url("127.0.0.1", "/slow")
    # the answer must be in before the deadline (a busy machine's new browser is slow): 8 s, not 3
    r = await crawl(start_urls=[busy, slow], ignore_robots=True, retries=1, render=["*"], render_timeout=8)
    assert (r.by_url[busy]["status"], r.by_url[busy]["error"], r.by_url[busy]["attempts"]) == (
        503,
        {"kind": "http", "message": "503 (rendered)"},
        2,
    )
    assert (r.by_url[slow]["status"], r.by_url[slow]["error"]["kind"], r.by_url[slow]["attempts"]) == (
        None,
        "render",
        1,
    )


async def test_through_the_guard_a_rendered_pages_failure_is_named_as_a_fetch_names_it(
    site, crawl, dns_server, tmp_path
):
    """With the job's nameserver the browser connects through the crawl's guard, and Chromium
    says only that its SOCKS connection failed. A name that does not exist is ``dns``, tried
    once; a port nobody listens on is ``connect``, retried: as the same URLs fetched."""
    missing = f"http://nothing.test:{site.port}/"  # NXDOMAIN from the nameserver
    port = free_port()
    refused = f"http://gone.crawl.test:{port}/"  # 127.0.0.1, nobody listening
    site.html("live.crawl.test", "/", "alive", title="live")
    live = site.url("live.crawl.test")
    urls = [missing, refused, live]
    job = {"start_urls": urls, "ignore_robots": True, "retries": 1, "dns_servers": [dns_server.address]}
    rendered = await crawl(output=tmp_path / "r", **job, **RENDERED)
    fetched = await crawl(output=tmp_path / "f", **job)

    for url, kind, attempts in [(missing, "dns", 1), (refused, "connect", 2)]:
        record = rendered.by_url[url]
        assert (record["error"]["kind"], record["attempts"]) == (kind, attempts)
        assert (fetched.by_url[url]["error"]["kind"], fetched.by_url[url]["attempts"]) == (kind, attempts)
    assert rendered.by_url[missing]["error"] == fetched.by_url[missing]["error"]  # the resolver's own words
    assert rendered.by_url[refused]["error"]["message"].startswith(f"cannot connect to gone.crawl.test:{port}: ")
    assert rendered.by_url[live]["rendered"] and rendered.by_url[live]["title"] == "live"


async def test_a_rendered_page_that_cannot_be_written_is_a_storage_error_and_the_crawl_goes_on(site, crawl, tmp_path):
    """b.test's folder under pages/ is taken by a file: its rendered page ends as ``storage``, as a
    fetched one does (this machine's fault, not the site's); a.test's page is rendered and kept."""
    out = tmp_path / "out"
    (out / "pages").mkdir(parents=True)
    (out / "pages" / host_dir(URL(site.url("b.test")))).write_text("a file where a folder goes")
    site.html("a.test", "/", "alpha", title="A")
    site.html("b.test", "/", "beta", title="B")
    kept, lost = site.url("a.test"), site.url("b.test")
    r = await crawl(
        start_urls=[kept, lost], output=out, resolve=site.pin("a.test", "b.test"), ignore_robots=True, **RENDERED
    )

    failed = r.by_url[lost]
    assert (failed["error"]["kind"], failed["path"], r.stats.errors["storage"]) == ("storage", None, 1)
    assert failed["error"]["message"].startswith("cannot write page: ")
    assert r.by_url[kept]["rendered"] and b"alpha" in (out / r.by_url[kept]["path"]).read_bytes()
    assert not list((out / ".tmp").iterdir())


async def test_a_screenshot_that_cannot_be_written_is_the_pages_storage_error_and_says_so(site, crawl, tmp_path):
    """``render_screenshot`` with OUT/screens taken by a file: the rendered page ends as ``storage``,
    naming the screenshot (not the page); the fetched page beside it is kept."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "screens").write_text("a file where a folder goes")
    site.html("127.0.0.1", "/shown", "shown", title="shown")
    site.html("127.0.0.1", "/plain", "plain", title="plain")
    shown, plain = site.url("127.0.0.1", "/shown"), site.url("127.0.0.1", "/plain")
    r = await crawl(
        start_urls=[shown, plain],
        output=out,
        ignore_robots=True,
        max_depth=0,
        render=["*/shown"],
        render_screenshot=True,
        render_timeout=30,
    )
    failed = r.by_url[shown]
    assert (failed["error"]["kind"], failed["path"]) == ("storage", None)
    assert failed["error"]["message"].startswith("cannot write screenshot: ")
    assert (r.by_url[plain]["status"], r.by_url[plain]["title"]) == (200, "plain")


def test_a_full_disk_names_what_it_refused() -> None:
    """This machine's disk, full: ``local`` (the crawl waits, no attempt spent), naming the write."""
    full = storage_failure(OSError(errno.ENOSPC, "No space left on device"), "screenshot")
    assert (full.kind, full.message, full.retryable) == (
        Kind.LOCAL,
        "cannot write screenshot: No space left on device",
        True,
    )


@pytest.mark.parametrize(
    "code, kind, retryable",
    [
        ("ERR_NAME_NOT_RESOLVED", Kind.DNS, True),  # Chromium's word for every failed lookup
        ("ERR_SSL_PROTOCOL_ERROR", Kind.TLS, False),
        ("ERR_CERTIFICATE_TRANSPARENCY_REQUIRED", Kind.TLS, False),
        ("ERR_CONNECTION_TIMED_OUT", Kind.TIMEOUT, True),
        ("ERR_CONNECTION_RESET", Kind.ABORTED, True),
        ("ERR_CERT_DATE_INVALID", Kind.TLS, False),
        ("ERR_TOO_MANY_REDIRECTS", Kind.REDIRECT, False),
    ],
)
def test_chromiums_failures_read_as_a_fetchs(code: str, kind: Kind, retryable: bool) -> None:
    said = browser_failure(code, None)
    assert said is not None and (said.kind, said.retryable) == (kind, retryable)
    assert said.message.endswith(f"(the browser: net::{code})")


def test_what_only_a_browser_does_stays_a_render_error() -> None:
    """A navigation replaced by another, or a request our scope rules stopped: no fetch has them."""
    assert browser_failure("ERR_ABORTED", None) is None
    assert browser_failure("ERR_BLOCKED_BY_CLIENT", None) is None
    assert browser_failure("ERR_INSUFFICIENT_RESOURCES", None) is None  # the browser ran short, not the site


async def test_through_a_proxy_a_lost_connection_is_the_proxys_as_for_a_fetch() -> None:
    """The same rule as the fetcher's: a reset through a proxy moves the page to another proxy;
    a certificate the target presents stays the target's."""
    proxy = Proxy("http://127.0.0.1:3128", "http://127.0.0.1:3128", "http")
    url = URL("https://example.test/")
    reset = browser_failure("ERR_CONNECTION_RESET", proxy)
    cert = browser_failure("ERR_CERT_AUTHORITY_INVALID", proxy)
    assert isinstance(reset, FetchError) and isinstance(cert, FetchError)
    assert blame(reset, proxy, url, str, 0.0).proxy_fault
    assert not blame(cert, proxy, url, str, 0.0).proxy_fault
