"""classify_curl: curl failures → error kinds, by code and the handle's proxy infos (pure), and
the same on real failures provoked with curl_cffi's low-level Curl on 127.0.0.1."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from curl_cffi import CurlECode, CurlInfo, CurlOpt
from curl_cffi.curl import Curl, CurlError
from curl_cffi.requests.exceptions import ConnectionError as CurlConnectionError

from crawler.core.errors import FetchError, Kind
from crawler.net.curl_failures import Code, classify_curl, curl_message, is_curl_error
from crawler.net.failures import classify, is_transport
from crawler.net.wire import Rejected
from crawler.observe.summary import summary
from tests.helpers.leaks import read_output
from tests.helpers.ports import free_port


def wrapped(code: int, text: str) -> str:
    """A message as curl_cffi words it."""
    return (
        f"Failed to perform, curl: ({code}) {text}. "
        "See https://curl.se/libcurl/c/libcurl-errors.html first for more details."
    )


# The study's table (section 4), row by row: code → kind, retryable; without a proxy.
TABLE = [
    (6, Kind.DNS, True, "Could not resolve host: nosuch.invalid"),
    (5, Kind.PROXY, True, "Could not resolve proxy: proxy.invalid"),
    (7, Kind.CONNECT, True, "Failed to connect to 127.0.0.1:4 after 0 ms: Could not connect to server"),
    (97, Kind.PROXY, True, "cannot complete SOCKS5 connection to 127.0.0.1. (1)"),
    (28, Kind.TIMEOUT, True, "Operation timed out after 2001 milliseconds with 0 bytes received"),
    (18, Kind.ABORTED, True, "end of response with 990 bytes missing"),
    (52, Kind.ABORTED, True, "Empty reply from server"),
    (55, Kind.ABORTED, True, "Send failure: Broken pipe"),
    (56, Kind.ABORTED, True, "Recv failure: Connection reset by peer"),
    (16, Kind.PROTOCOL, True, "Error in the HTTP2 framing layer"),
    (92, Kind.PROTOCOL, True, "HTTP/2 stream 1 was not closed cleanly: PROTOCOL_ERROR (err 1)"),
    (95, Kind.PROTOCOL, True, "HTTP/3 error"),
    (8, Kind.PROTOCOL, False, "Weird server reply"),
    (1, Kind.PROTOCOL, False, "Received HTTP/0.9 when not allowed"),
    (35, Kind.TLS, False, "Send failure: Connection reset by peer"),
    (58, Kind.TLS, False, "unable to set private key file"),
    (59, Kind.TLS, False, "failed setting cipher list"),
    (60, Kind.TLS, False, "SSL certificate OpenSSL verify result: unable to get local issuer certificate (20)"),
    (77, Kind.TLS, False, "error setting certificate file: /nope.pem"),
    (61, Kind.DECODE, False, "Error while processing content unencoding: incorrect header check"),
    (23, Kind.TOO_LARGE, False, "client returned ERROR on write of 16384 bytes"),
    (47, Kind.REDIRECT, False, "Maximum (0) redirects followed"),
    (27, Kind.LOCAL, True, "Out of memory"),
    (27, Kind.INVALID_URL, False, "URL rejected: Port number was not a decimal number between 0 and 65535"),
    (3, Kind.INVALID_URL, False, "URL using bad/illegal format or missing URL"),
    (99, Kind.PROTOCOL, False, "Unrecoverable error in select/poll"),  # not in the table: not retried
]


@pytest.mark.parametrize("code, kind, retryable, text", TABLE)
def test_each_code_of_the_table_has_its_kind(code, kind, retryable, text):
    error = classify_curl(code, wrapped(code, text), via_proxy=False)
    assert isinstance(error, FetchError) and (error.kind, error.retryable) == (kind, retryable)
    assert error.message.endswith(f"{text.rstrip('.')} (curl {code})")


@pytest.mark.parametrize(
    "code, infos, kind, retryable, words",
    [
        (7, {}, Kind.PROXY, True, "cannot connect to proxy: Failed to connect"),  # the proxy is down
        (7, {"connect_code": 500}, Kind.PROXY, True, "proxy refused the tunnel (500)"),
        (7, {"connect_code": 502, "connect_reason": "Bad Gateway"}, Kind.PROXY, True, "proxy refused the tunnel (502)"),
        (7, {"connect_code": 500, "connect_reason": "Unable to connect to upstream proxy"}, Kind.PROXY, True, "tunnel"),
        (7, {"connect_code": 403}, Kind.PROXY, True, "proxy refused the tunnel (403)"),
        # the proxy reports the target unreachable: the target's (crawler.net.proxy_blame)
        (7, {"connect_code": 500, "connect_reason": "Unable to connect"}, Kind.CONNECT, True, "500 Unable to connect"),
        (97, {"proxy_error": 19}, Kind.CONNECT, True, "connection refused (SOCKS5 reply 5, curl 97)"),
        (97, {"proxy_error": 21}, Kind.CONNECT, True, "host unreachable (SOCKS5 reply 4, curl 97)"),
        (97, {"proxy_error": 22}, Kind.CONNECT, True, "network unreachable (SOCKS5 reply 3, curl 97)"),
        (97, {"proxy_error": 24}, Kind.CONNECT, True, "TTL expired (SOCKS5 reply 6, curl 97)"),
        (97, {"proxy_error": 23}, Kind.PROXY, True, "SOCKS proxy failed"),  # not allowed by its ruleset
        (97, {"proxy_error": 17}, Kind.PROXY, True, "SOCKS proxy failed"),  # address type not supported
        (97, {"proxy_error": 20}, Kind.PROXY, True, "SOCKS proxy failed"),  # general failure
        (97, {"proxy_error": 3}, Kind.PROXY, True, "SOCKS proxy failed"),  # closed
        (5, {}, Kind.PROXY, True, "cannot resolve proxy"),
        (56, {}, Kind.PROXY, True, "proxy failed: Proxy CONNECT aborted"),
        (60, {"proxy_tls_verify": 20}, Kind.PROXY, True, "TLS with the proxy failed"),  # an https:// proxy
        (60, {"connect_code": 200}, Kind.TLS, False, "TLS failed"),  # the target's, inside the tunnel
        (28, {}, Kind.TIMEOUT, True, "timed out"),  # the fetcher blames the proxy for these itself
        (52, {"connect_code": 200}, Kind.ABORTED, True, "connection lost"),
    ],
)
def test_through_a_proxy_the_handle_infos_tell_whose_failure_it_is(code, infos, kind, retryable, words):
    text = "Proxy CONNECT aborted" if code == 56 else "Failed to connect to 127.0.0.1:9 over proxy 127.0.0.1"
    error = classify_curl(code, wrapped(code, text), via_proxy=True, **infos)
    assert isinstance(error, FetchError) and (error.kind, error.retryable) == (kind, retryable)
    assert words in error.message
    assert (error.reported_by_proxy is not None) == (kind is Kind.CONNECT)


@pytest.mark.parametrize(
    "code, infos, status",
    [
        (7, {"connect_code": 407}, 407),  # no credentials sent
        (7, {"connect_code": 401}, 401),  # tinyproxy's answer to a wrong password
        (56, {"connect_code": 407}, 407),  # whatever code curl gives it
        (97, {"proxy_error": 33}, "SOCKS user rejected"),
        (97, {"proxy_error": 12}, "SOCKS: no acceptable authentication"),  # the proxy wants credentials
    ],
)
def test_rejected_credentials_are_flagged_so_the_proxy_can_be_disabled(code, infos, status):
    assert classify_curl(code, wrapped(code, "CONNECT tunnel failed"), via_proxy=True, **infos) == Rejected(status)


def test_proxy_infos_do_not_count_without_a_proxy():
    error = classify_curl(7, "x", connect_code=407, via_proxy=False)
    assert isinstance(error, FetchError) and error.kind is Kind.CONNECT


@pytest.mark.parametrize(
    "text, secret",
    [
        ("Failed to connect to proxy http://alice:s3cretpw@127.0.0.1:3128 refused", "s3cretpw"),
        ("Could not resolve proxy: socks5h://bob:p%40ss%3Aw@proxy.test", "p%40ss"),
        ("Could not resolve proxy: socks5://bob:p@ss:w%rd/x@proxy.test", "p@ss"),
        ("Failed to connect to alice:s3cretpw@127.0.0.1 port 3128", "s3cretpw"),
        ("CONNECT to 'https://carol:tlspass1@127.0.0.1:8443' failed", "tlspass1"),
    ],
)
def test_messages_never_carry_credentials(text, secret):
    for via_proxy in (True, False):
        error = classify_curl(5, wrapped(5, text), via_proxy=via_proxy)
        assert isinstance(error, FetchError) and secret not in error.message and "***@" in error.message
        assert "alice" not in error.message and "bob" not in error.message and "carol" not in error.message


def test_messages_are_one_readable_line():
    text = wrapped(97, "User was rejected by the SOCKS5 server (1 2).")
    assert curl_message(text) == "User was rejected by the SOCKS5 server (1 2)"
    assert curl_message("Failed to perform, curl: (7) two\nlines\r\n  here") == "two lines here"
    assert curl_message("") == "no message"
    error = classify_curl(
        7, wrapped(7, "Failed to connect to 127.0.0.1:4 after 0 ms: Could not connect to server"), via_proxy=False
    )
    assert isinstance(error, FetchError)
    assert (
        error.message
        == "cannot connect: Failed to connect to 127.0.0.1:4 after 0 ms: Could not connect to server (curl 7)"
    )
    assert "127.0.0.1:4" in curl_message("Failed to connect to 127.0.0.1:4 after 0 ms")  # host:port is no userinfo


def test_codes_are_curls_own():
    for code in Code:
        assert CurlECode[code.name] == code


def test_curl_errors_are_transport_failures_never_storage():
    low = CurlError(wrapped(52, "Empty reply from server"), code=52)  # the low-level API's: no OSError
    high = CurlConnectionError(wrapped(7, "Failed to connect to 127.0.0.1:4"), code=7)  # an OSError
    assert not isinstance(low, OSError) and isinstance(high, OSError)
    for exc, kind in ((low, Kind.ABORTED), (high, Kind.CONNECT)):
        assert is_curl_error(exc) and is_transport(exc)
        assert classify(exc).kind is kind
    assert not is_curl_error(OSError(28, "No space left on device"))
    assert classify(OSError(5, "Input/output error")).kind is Kind.STORAGE


def test_the_aiohttp_side_does_not_import_curl_cffi():
    code = "import sys, crawler.net.failures, crawler.net.fetch; sys.exit('curl_cffi' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def perform(url: str, proxy: str | None = None, ca: str | None = None) -> FetchError | Rejected | None:
    """One GET with curl_cffi's low-level handle, classified as the transport will classify it."""
    curl = Curl()
    try:
        curl.setopt(CurlOpt.URL, url.encode())
        curl.setopt(CurlOpt.TIMEOUT_MS, 20_000)  # a guard against a hang only
        curl.setopt(CurlOpt.WRITEFUNCTION, len)
        if ca:
            curl.setopt(CurlOpt.CAINFO, ca.encode())
        if proxy:
            curl.setopt(CurlOpt.PROXY, proxy.encode())
        try:
            curl.perform()
            return None
        except CurlError as e:
            return classify_curl(
                e.code,
                str(e),
                proxy_error=int(curl.getinfo(CurlInfo.PROXY_ERROR)),
                connect_code=int(curl.getinfo(CurlInfo.HTTP_CONNECTCODE)),
                proxy_tls_verify=int(curl.getinfo(CurlInfo.PROXY_SSL_VERIFYRESULT)),
                via_proxy=proxy is not None,
            )
    finally:
        curl.close()


async def fails(url: str, proxy: str | None = None, ca: str | None = None) -> FetchError | Rejected:
    """The failure of a GET made on a thread (the servers answer on this test's event loop)."""
    error = await asyncio.to_thread(perform, url, proxy, ca)
    assert error is not None, f"{url} did not fail"
    return error


async def test_real_failures_of_the_target():
    async def no_reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the whole request, then nothing: curl 52
        writer.close()

    server = await asyncio.start_server(no_reply, "127.0.0.1", 0)
    try:
        refused = await fails(f"http://127.0.0.1:{free_port()}/")
        cut = await fails(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/")
    finally:
        server.close()
    assert refused.kind is Kind.CONNECT and refused.retryable and "(curl 7)" in refused.message
    assert cut.kind is Kind.ABORTED and cut.retryable
    assert cut.message == "connection lost: Empty reply from server (curl 52)"


async def test_a_certificate_of_an_unknown_ca_is_tls(h2_site):
    error = await fails(h2_site.url("/"))  # curl_cffi's own bundle (certifi) does not know the test CA
    assert error.kind is Kind.TLS and not error.retryable and "(curl 60)" in error.message


async def test_real_proxy_failures(proxies, h2_site, tls_ca):
    (tiny,) = await proxies("http", 1, user="alice", password="rightpw1")
    (socks,) = await proxies("socks5", 1, user="bob", password="rightpw2")
    target, ca = h2_site.url("/"), str(tls_ca.bundle)
    h2_site.pages["/"] = (200, {}, b"ok")
    assert await asyncio.to_thread(perform, target, tiny.url(), ca) is None  # the right passwords work
    assert await asyncio.to_thread(perform, target, socks.url(), ca) is None

    wrong = await fails(target, tiny.url("wrongpw9"), ca)  # CONNECT answered 401 (tinyproxy's way)
    missing = await fails(target, tiny.id, ca)  # no credentials: 407
    socks_wrong = await fails(target, socks.url("wrongpw9"), ca)
    socks_refused = await fails(f"http://127.0.0.1:{free_port()}/", socks.url(), ca)  # the target refuses
    down = await fails(target, f"http://carol:s3cretpw@127.0.0.1:{free_port()}", ca)

    assert (wrong, missing, socks_wrong) == (Rejected(401), Rejected(407), Rejected("SOCKS user rejected"))
    assert isinstance(socks_refused, FetchError) and socks_refused.kind is Kind.CONNECT
    assert isinstance(down, FetchError) and down.kind is Kind.PROXY and down.retryable
    assert "cannot connect to proxy" in down.message
    for error in (socks_refused, down):
        assert "wrongpw9" not in error.message and "rightpw" not in error.message and "s3cretpw" not in error.message
    assert [r.path for r in h2_site.requests] == ["/", "/"]  # only the two good requests got through


@pytest.mark.parametrize("kind, status", [("http", "401"), ("socks5", "SOCKS user rejected")])
async def test_a_curl_crawl_disables_a_proxy_that_refuses_its_password(h2_site, tls_ca, crawl, proxies, kind, status):
    (p,) = await proxies(kind, 1, user="dana", password="rightpw5")
    h2_site.pages["*"] = (200, {"content-type": "text/html"}, b"<title>never reached</title>")
    r = await crawl(
        start_urls=[h2_site.url()],
        proxy=p.url("wrongpw5"),
        transport="curl",
        ca_bundle=str(tls_ca.bundle),
        retries=0,
        ignore_robots=True,
    )
    (rec,) = r.records
    assert rec["error"]["kind"] == "proxy", rec
    assert f"{p.id}: disabled: rejected our credentials ({status})" in rec["error"]["message"]
    told = summary(r.stats, str(r.out))
    assert f"disabled: rejected our credentials ({status})" in told
    everything = told.encode() + b"".join(read_output(f) for f in r.out.rglob("*") if f.is_file())
    assert b"wrongpw5" not in everything and b"rightpw5" not in everything
    assert h2_site.requests == []
