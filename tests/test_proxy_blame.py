"""Whose failure it is through a proxy (crawler.net.proxy_blame), unit by unit: what the SOCKS5
replies and an HTTP proxy's CONNECT answers say, the aiohttp classifier on the exceptions
aiohttp_socks and aiohttp raise, and the blame. Real proxies: tests/test_proxies.py."""

from __future__ import annotations

import aiohttp
import aiohttp_socks
import pytest
from yarl import URL

from crawler.core.errors import FetchError, Kind
from crawler.net.failures import classify
from crawler.net.proxies import Router
from crawler.net.proxy_blame import blame, forwarded_target, socks_target, tunnel_target

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
    assert classify(unreachable).kind is Kind.CONNECT and classify(unreachable).reported_by_proxy is not None
    assert classify(refused).kind is Kind.PROXY and "proxy refused the tunnel (503" in classify(refused).message


def test_a_target_the_proxy_reports_is_named_and_the_proxy_not_blamed():
    r = router("socks5://alice:pw-s3cret@127.0.0.1:1080")
    (proxy,) = r.proxies()
    error = socks_target(5)
    assert error is not None
    blamed = blame(error, proxy, TARGET, r.redact)
    assert not blamed.proxy_fault and blamed.kind is Kind.CONNECT
    assert blamed.message == (
        "cannot connect to example.test:443, reported by proxy socks5://127.0.0.1:1080: connection refused (SOCKS5 reply 5)"
    )
    v6 = blame(socks_target(4) or error, proxy, URL("http://[::1]:8080/"), r.redact)
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
    error = blame(FetchError(kind, "boom"), proxy, TARGET, r.redact)
    assert error.proxy_fault is fault
    assert error.message == (f"via {proxy.id}: boom" if fault and kind is not Kind.PROXY else "boom")


async def test_the_third_different_target_in_a_row_is_the_proxys_until_it_reaches_one():
    """A dead uplink: every target unreachable. The same target again, or an answer through the
    proxy in between (even a ban), is no run of three; a proxy's own failure does not end one."""
    r = router("socks5://127.0.0.1:1080")
    (proxy,) = r.proxies()

    def unreachable(url: str) -> FetchError:
        error = blame(socks_target(4) or FetchError(Kind.CONNECT, ""), r.hold(proxy), URL(url), r.redact)
        r.release(proxy, failed=error.proxy_fault, unreachable=True)
        return error

    a, b, c = "http://a.test/", "http://b.test/", "http://c.test/"
    assert not any(unreachable(url).proxy_fault for url in (a, b, b, a))
    r.release(r.hold(proxy), banned=True)  # the target answered: a ban, but an answer
    assert not any(unreachable(url).proxy_fault for url in (a, b))
    r.release(r.hold(proxy), failed=True)  # the proxy's own failure: it reached nothing
    third = unreachable(c)
    assert third.proxy_fault and third.kind is Kind.CONNECT
    assert third.message == (
        "via socks5://127.0.0.1:1080: 3 different targets unreachable since it last reached one, "
        "its own network may be down (c.test:80: host unreachable (SOCKS5 reply 4))"
    )
    assert unreachable(a).proxy_fault  # still none reached
    r.release(r.hold(proxy))
    assert not unreachable(c).proxy_fault


def test_only_a_forwarded_plain_http_request_reads_the_proxys_own_answer():
    r = router("http://127.0.0.1:3128", "socks5://127.0.0.1:1080")
    http, socks = r.proxies()
    assert forwarded_target(http, URL("http://a.test/"), 500, "Unable to connect") is not None
    assert forwarded_target(http, URL("http://a.test/"), 500, "Internal Server Error") is None  # the target's
    assert forwarded_target(http, URL("https://a.test/"), 500, "Unable to connect") is None  # a tunnel's payload
    assert forwarded_target(socks, URL("http://a.test/"), 500, "Unable to connect") is None


def test_without_a_proxy_nothing_is_rewritten():
    error = socks_target(5)
    assert error is not None and blame(error, None, TARGET, str) is error
    assert error.message == "the proxy cannot connect to the target: connection refused (SOCKS5 reply 5)"


def test_credentials_never_reach_the_message():
    r = router("http://alice:pw-s3cret@127.0.0.1:3128")
    (proxy,) = r.proxies()
    said = tunnel_target(500, "Unable to connect pw-s3cret")  # (not the phrase: the proxy's own)
    assert said is None
    error = FetchError(Kind.CONNECT, "x", reported_by_proxy="refused by http://alice:pw-s3cret@127.0.0.1:3128")
    assert "pw-s3cret" not in blame(error, proxy, TARGET, r.redact).message
