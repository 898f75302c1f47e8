"""Whose failure it is through a proxy (crawler.net.proxy_blame), unit by unit: what the SOCKS5
replies and an HTTP proxy's CONNECT answers say, the aiohttp classifier on the exceptions
aiohttp_socks and aiohttp raise, and the blame. Real proxies: tests/test_proxies.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
import aiohttp_socks
import pytest
from multidict import CIMultiDict
from yarl import URL

from crawler.core.errors import FetchError, Kind
from crawler.core.response import Response
from crawler.net import proxy_blame
from crawler.net.failures import classify
from crawler.net.proxies import Proxy, Router
from crawler.net.proxy_blame import DeadSites, blame, forwarded_target, socks_target, tunnel_target
from crawler.pipeline import target_answered

TARGET = URL("https://example.test/page")


def router(*urls: str) -> Router:
    return Router(list(urls), {}, [], rotation="round_robin", cap=None, cooldown=1, wait=1)


@pytest.mark.parametrize(
    "reply, said",
    [(3, "network unreachable"), (4, "host unreachable"), (5, "connection refused"), (6, "TTL expired")],
)
def test_socks5_replies_about_the_target_are_the_targets(reply, said):
    error = socks_target(reply)
    assert error is not None and (error.kind, error.retryable) == (Kind.CONNECT, True)
    assert error.reported_by_proxy == f"{said} (SOCKS5 reply {reply})"


@pytest.mark.parametrize("reply", [None, 0, 1, 2, 7, 8, 0x5B])  # general, ruleset, command, address type, SOCKS4
def test_other_socks_replies_stay_the_proxys(reply):
    assert socks_target(reply) is None


def test_only_tinyproxys_unable_to_connect_says_the_target_is_unreachable():
    assert tunnel_target(500, "Unable to connect") is not None
    assert tunnel_target(500, " unable  to connect\r\n") is not None
    for status, reason in [(500, "Unable to connect to upstream proxy"), (502, "Bad Gateway"), (503, ""), (403, "")]:
        assert tunnel_target(status, reason) is None


@pytest.mark.parametrize(
    "squid, kind",
    [
        ("ERR_CONNECT_FAIL 111", Kind.CONNECT),  # refused
        ("ERR_CONNECT_FAIL 110", Kind.CONNECT),  # timed out
        ("ERR_DNS_FAIL 0", Kind.DNS),  # no such name
        ("ERR_ACCESS_DENIED 0", None),  # its rules: the proxy's
        ("ERR_CANNOT_FORWARD 0", None),  # its own trouble (no route, no upstream)
        ("ERR_CONNECT_FAILED", None),  # not squid's word
        ("", None),
    ],
)
def test_squids_error_header_says_when_the_target_is_unreachable(squid, kind):
    error = tunnel_target(503, "Service Unavailable", squid=squid)
    assert (error.kind if error is not None else None) is kind
    if error is not None:
        assert error.reported_by_proxy == f"503 Service Unavailable, {squid}"
    timed_out = tunnel_target(504, "Gateway Timeout", squid=squid)  # (Squid 3's connect timeout)
    assert (timed_out.kind if timed_out is not None else None) is kind
    assert tunnel_target(200, "OK", squid=squid) is None  # Squid's are 503s and 504s: a page posing as one


def test_what_a_proxy_says_is_one_short_line():
    """A reason phrase or header from a server posing as the proxy reaches the record's message
    without control characters, on one line, cut short."""
    error = tunnel_target(503, "Service\x1b[31m Unavailable" + "x" * 5000, squid="ERR_CONNECT_FAIL \r\n111" + "y" * 500)
    assert error is not None and error.reported_by_proxy is not None
    said = error.reported_by_proxy
    assert said.startswith("503 Service [31m Unavailablexxx") and ", ERR_CONNECT_FAIL 111yyy" in said
    assert said.isprintable() and len(said) < 250


@pytest.mark.parametrize(
    "exc, kind",
    [
        (aiohttp_socks.ProxyError("Connection refused by destination host", error_code=5), Kind.CONNECT),
        (aiohttp_socks.ProxyError("Host unreachable", error_code=4), Kind.CONNECT),
        (aiohttp_socks.ProxyError("General SOCKS server failure", error_code=1), Kind.PROXY),
        (aiohttp_socks.ProxyError("Connection not allowed by ruleset", error_code=2), Kind.PROXY),
        (aiohttp_socks.ProxyError("Malformed connect reply"), Kind.PROXY),
        (aiohttp_socks.ProxyTimeoutError("timed out"), Kind.PROXY),
    ],
)
def test_the_aiohttp_classifier_reads_the_socks_reply(exc, kind):
    assert classify(exc).kind is kind


def test_the_aiohttp_classifier_reads_the_connect_answer():
    info = aiohttp.RequestInfo(TARGET, "CONNECT", {}, TARGET)  # type: ignore[arg-type]
    unreachable = aiohttp.ClientHttpProxyError(info, (), status=500, message="Unable to connect")
    refused = aiohttp.ClientHttpProxyError(info, (), status=503, message="Service Unavailable")
    unknown = aiohttp.ClientHttpProxyError(
        info, (), status=503, message="Service Unavailable", headers=CIMultiDict({"X-Squid-Error": "ERR_DNS_FAIL 0"})
    )
    assert classify(unreachable).kind is Kind.CONNECT and classify(unreachable).reported_by_proxy is not None
    assert classify(refused).kind is Kind.PROXY and "proxy refused the tunnel (503" in classify(refused).message
    assert classify(unknown).kind is Kind.DNS and classify(unknown).reported_by_proxy is not None


async def test_a_target_the_proxy_reports_is_named_and_the_proxy_not_blamed():
    r = router("socks5://alice:pw-s3cret@127.0.0.1:1080")
    (proxy,) = r.proxies()
    error = socks_target(5)
    assert error is not None
    blamed = blame(error, proxy, TARGET, r.redact, 0.0)
    assert not blamed.proxy_fault and blamed.kind is Kind.CONNECT
    assert blamed.message == (
        "cannot connect to example.test:443, reported by proxy socks5://127.0.0.1:1080: connection refused (SOCKS5 reply 5)"
    )
    v6 = blame(socks_target(4) or error, proxy, URL("http://[::1]:8080/"), r.redact, 0.0)
    assert v6.message.startswith("cannot connect to [::1]:8080, reported by proxy")


@pytest.mark.parametrize(
    "proxy_url, kind, fault",
    [
        ("socks5://127.0.0.1:1080", Kind.DNS, False),  # the crawl looked the target up itself
        ("socks4://127.0.0.1:1080", Kind.DNS, False),
        ("http://127.0.0.1:3128", Kind.DNS, True),  # the proxy's own name (its target's is the proxy's to look up)
        ("socks5h://127.0.0.1:1080", Kind.DNS, True),
        ("socks5://127.0.0.1:1080", Kind.CONNECT, True),  # a classified connect failure, no proxy report
        ("socks5://127.0.0.1:1080", Kind.TIMEOUT, True),
        ("http://127.0.0.1:3128", Kind.ABORTED, True),
        ("http://127.0.0.1:3128", Kind.PROXY, True),
        ("http://127.0.0.1:3128", Kind.HTTP, False),
    ],
)
def test_what_stays_the_proxys_fault(proxy_url, kind, fault):
    r = router(proxy_url)
    (proxy,) = r.proxies()
    error = blame(FetchError(kind, "boom"), proxy, TARGET, r.redact, 0.0)
    assert error.proxy_fault is fault
    assert error.message == (f"via {proxy.id}: boom" if fault and kind is not Kind.PROXY else "boom")


async def test_the_third_different_target_since_an_answer_is_the_proxys_once():
    """A dead uplink: every target unreachable. Reports of requests in flight together (a crawl's
    dead seeds) count as one; the same target again counts once; an answer through the proxy
    (even a ban) starts over, its own failure does not. Blamed once, not again while it cools
    down; an answer lifts that cool-down."""
    r = router("socks5://127.0.0.1:1080")
    (proxy,) = r.proxies()
    loop = asyncio.get_running_loop()

    def blamed(url: str, sent: float | None = None) -> bool:
        error = socks_target(4)
        assert error is not None
        error = blame(error, r.hold(proxy), URL(url), r.redact, loop.time() if sent is None else sent)
        r.release(proxy, failed=error.proxy_fault)
        return error.proxy_fault

    a, b, c, d, e, f, g, h = (f"http://{name}.test/" for name in "abcdefgh")
    before = loop.time()
    assert not any(blamed(url, sent=before) for url in (a, b, c, d))  # one burst: one target
    assert not blamed(e) and not blamed(e)  # two different targets
    r.release(r.hold(proxy), answered=now("http://live.test/"), banned=True)  # a ban, but an answer: start over
    assert not any(blamed(url) for url in (f, g))
    r.release(r.hold(proxy), failed=True)  # the proxy's own failure: it reached nothing
    proxy.cooling_until = 0.0  # (its cool-down over)
    error = blame(socks_target(4) or FetchError(Kind.CONNECT, ""), r.hold(proxy), URL(h), r.redact, loop.time())
    assert error.proxy_fault and error.kind is Kind.CONNECT
    assert error.message == (
        "via socks5://127.0.0.1:1080: 3 different targets unreachable since it last reached one, "
        "its own network may be down (h.test:80: host unreachable (SOCKS5 reply 4))"
    )
    r.release(proxy, failed=True)
    assert proxy.state(loop.time()).startswith("cooling down")
    assert not blamed("http://i.test/")  # in flight when it was blamed: not blamed again
    r.release(r.hold(proxy), answered=now("http://live.test/"))  # it reached a target after all
    assert proxy.state(loop.time()) == "ok" and not blamed("http://j.test/")


def now(url: str) -> tuple[URL, float]:
    """An answer from ``url`` to a request sent now (what ``Router.release(answered=...)`` takes)."""
    return URL(url), asyncio.get_running_loop().time()


def reporter(r: Router, proxy: Proxy | None = None) -> Callable[[str], bool]:
    """``blamed(url)``: ``proxy`` (the router's one) reports ``url``'s host unreachable (SOCKS5
    reply 5) for a request sent now; whether that is blamed on the proxy."""
    if proxy is None:
        (proxy,) = r.proxies()

    def blamed(url: str) -> bool:
        now = asyncio.get_running_loop().time()
        error = blame(socks_target(5) or FetchError(Kind.CONNECT, ""), r.hold(proxy), URL(url), r.redact, now)
        r.release(proxy, failed=error.proxy_fault)
        return error.proxy_fault

    return blamed


async def test_a_target_it_said_was_dead_before_is_no_news_of_the_proxy():
    """The end of a crawl: only the retries of dead sites are left, so no answer comes between
    them. Each of those sites was reported dead before (with answers between): the proxy is not
    taken for one whose own network is down. New dead targets still are."""
    r = router("socks5://127.0.0.1:1080")
    (proxy,) = r.proxies()
    blamed = reporter(r)

    dead = [f"http://dead{n}.test/" for n in range(4)]
    for url in dead:  # first tries, a live page between each
        assert not blamed(url)
        r.release(r.hold(proxy), answered=now("http://live.test/"))
    assert not any(blamed(url) for url in dead + dead)  # their retries, nothing between
    new = [f"http://new{n}.test/" for n in range(3)]
    assert [blamed(url) for url in new] == [False, False, True]  # its network went down


async def test_targets_of_an_outage_it_was_blamed_for_count_again_in_the_next():
    """A proxy whose network goes down twice, while a crawl of three sites goes on: the sites were
    alive, so the second outage is found at the same third site as the first."""
    r = router("socks5://127.0.0.1:1080")
    (proxy,) = r.proxies()
    blamed = reporter(r)

    sites = [f"http://site{n}.test/" for n in range(3)]
    assert [blamed(url) for url in sites] == [False, False, True]
    r.release(r.hold(proxy), answered=now("http://live.test/"))  # back up
    assert proxy.state(asyncio.get_running_loop().time()) == "ok"
    assert [blamed(url) for url in sites] == [False, False, True]


async def test_a_site_that_answers_is_alive_again():
    """Sites reported unreachable while the proxy answered others (an uplink blip too short to be
    blamed looks the same) are taken for dead; each one that answers since is alive again, and a
    real outage over them is found."""
    r = router("socks5://127.0.0.1:1080")
    (proxy,) = r.proxies()
    blamed = reporter(r)
    sites = [f"http://site{n}.test/" for n in range(3)]
    for url in sites:
        assert not blamed(url)
        r.release(r.hold(proxy), answered=now("http://other.test/"))
    assert not any(blamed(url) for url in sites)  # dead sites: no news
    for url in sites:
        r.release(r.hold(proxy), answered=(URL(url), asyncio.get_running_loop().time()))  # alive after all
    assert [blamed(url) for url in sites] == [False, False, True]


async def test_a_site_found_dead_through_one_proxy_is_no_news_of_another():
    """Retries move between a pool's proxies: at a crawl's end the dead sites' retries reach a
    proxy that never saw them fail, and must not cool it down."""
    r = router("socks5://127.0.0.1:1080", "socks5://127.0.0.1:1081")
    first, second = r.proxies()
    dead = [f"http://dead{n}.test/" for n in range(3)]
    for url in dead:
        assert not reporter(r, first)(url)
        r.release(r.hold(first), answered=now("http://live.test/"))
    assert not any(reporter(r, second)(url) for url in dead)
    assert second.state(asyncio.get_running_loop().time()) == "ok"


async def test_an_answer_sent_before_the_reports_began_says_nothing_of_now():
    """An answer already on its way when the proxy's network went down (sent before the first
    report) does not start the count over: the outage is still found at the third target."""
    r = router("socks5://127.0.0.1:1080")
    (proxy,) = r.proxies()
    blamed = reporter(r)
    before = asyncio.get_running_loop().time()
    await asyncio.sleep(0)  # (the loop's clock moves on: reports come after ``before``)
    while asyncio.get_running_loop().time() == before:
        await asyncio.sleep(0.001)
    assert not blamed("http://a.test/")
    r.release(r.hold(proxy), answered=(URL("http://live.test/"), before))
    assert [blamed(url) for url in ("http://b.test/", "http://c.test/")] == [False, True]


def test_the_oldest_dead_site_is_forgotten_first(monkeypatch):
    monkeypatch.setattr(proxy_blame, "DEAD_SITES_KEPT", 3)
    dead = DeadSites()
    for target in ("a:80", "b:80", "c:80", "d:80"):
        dead.add({target})
    assert [t in dead for t in ("a:80", "b:80", "c:80", "d:80")] == [False, True, True, True]
    dead.discard("b:80")
    assert "b:80" not in dead


@pytest.mark.parametrize(
    "response, answered",
    [
        (Response(200, "text/html"), True),
        (Response(503, "text/html"), True),  # the site's own 503, or a proxy's page fetch.py saw through
        (Response(200, "text/html", rendered=True), True),
        (Response(503, "text/html", rendered=True), False),  # may be an HTTP proxy's own error page
        (None, False),
    ],
)
def test_what_counts_as_the_target_answering(response, answered):
    assert target_answered(response, None) is answered
    assert target_answered(None, FetchError(Kind.HTTP, "403", banned=True)) is True


def answer(status: int, reason: str, **headers: str) -> Any:
    """What forwarded_target reads of a wire: its status line and headers."""
    return SimpleNamespace(status=status, reason=reason, headers=CIMultiDict(headers))


def test_only_a_forwarded_plain_http_request_reads_the_proxys_own_answer():
    r = router("http://127.0.0.1:3128", "socks5://127.0.0.1:1080")
    http, socks = r.proxies()
    squid = {"X-Squid-Error": "ERR_CONNECT_FAIL 111"}
    assert forwarded_target(http, URL("http://a.test/"), answer(500, "Unable to connect")) is not None
    assert forwarded_target(http, URL("http://a.test/"), answer(503, "Service Unavailable", **squid)) is not None
    assert forwarded_target(http, URL("http://a.test/"), answer(500, "Internal Server Error")) is None  # the target's
    assert forwarded_target(http, URL("http://a.test/"), answer(503, "Service Unavailable")) is None  # the target's
    assert forwarded_target(http, URL("https://a.test/"), answer(500, "Unable to connect")) is None  # a tunnel's
    assert forwarded_target(http, URL("https://a.test/"), answer(503, "Service Unavailable", **squid)) is None
    assert forwarded_target(socks, URL("http://a.test/"), answer(500, "Unable to connect")) is None


async def test_a_name_the_proxy_cannot_resolve_is_the_targets_dns_error():
    r = router("http://127.0.0.1:3128")
    (proxy,) = r.proxies()
    error = tunnel_target(503, "Service Unavailable", squid="ERR_DNS_FAIL 0")
    assert error is not None
    blamed = blame(error, proxy, TARGET, r.redact, asyncio.get_running_loop().time())
    assert (blamed.kind, blamed.proxy_fault) == (Kind.DNS, False)
    assert blamed.message == (
        "cannot resolve example.test:443, reported by proxy http://127.0.0.1:3128: "
        "503 Service Unavailable, ERR_DNS_FAIL 0"
    )


def test_without_a_proxy_nothing_is_rewritten():
    error = socks_target(5)
    assert error is not None and blame(error, None, TARGET, str, 0.0) is error
    assert error.message == "the proxy cannot connect to the target: connection refused (SOCKS5 reply 5)"


async def test_credentials_never_reach_the_message():
    r = router("http://alice:pw-s3cret@127.0.0.1:3128")
    (proxy,) = r.proxies()
    said = tunnel_target(500, "Unable to connect pw-s3cret")  # (not the phrase: the proxy's own)
    assert said is None
    error = FetchError(Kind.CONNECT, "x", reported_by_proxy="refused by http://alice:pw-s3cret@127.0.0.1:3128")
    assert "pw-s3cret" not in blame(error, proxy, TARGET, r.redact, 0.0).message
