"""The TLS test servers themselves: the HTTP/2-only site (aiohttp cannot fetch it, curl_cffi can)
and the JA4 server (it tells curl_cffi's Chrome from aiohttp), and the fingerprint code."""

from __future__ import annotations

import asyncio
import gzip
import re
from pathlib import Path

import aiohttp
import pytest
from curl_cffi import CurlHttpVersion, CurlOpt
from curl_cffi.requests import AsyncSession

from crawler.core.errors import Kind
from crawler.net.failures import classify, is_transport
from tests.helpers.client_hello import ClientHello, fingerprint, is_grease, ja3, ja4, parse_client_hello

HELLOS = Path(__file__).parent / "fixtures" / "tls"
CHROME_JA4 = "t13d1516h2_8daaf6152771_02713d6af862"  # Chrome 131+'s published JA4, first connection
PAGE = b"<html><head><title>only h2</title></head><body><a href='/next'>next</a></body></html>"


def session(tls_ca, *pins: str, impersonate: str | None = "chrome131") -> AsyncSession:
    return AsyncSession(
        impersonate=impersonate,
        verify=str(tls_ca.bundle),
        curl_options={CurlOpt.RESOLVE: list(pins)} if pins else None,
        timeout=10,
    )


async def test_aiohttp_cannot_fetch_the_h2_only_site(h2_site, tls_ca):
    h2_site.pages["/"] = (200, {"content-type": "text/html"}, PAGE)
    async with aiohttp.ClientSession() as client:
        with pytest.raises(Exception) as e:
            async with client.get(h2_site.url("/"), ssl=tls_ca.client_context()) as resp:
                await resp.read()
    assert is_transport(e.value) and classify(e.value).kind is Kind.ABORTED
    assert h2_site.refused >= 1 and h2_site.connections == 0 and h2_site.requests == []  # (aiohttp tries twice)


async def test_curl_fetches_the_h2_only_site_over_http2(h2_site, tls_ca):
    big = bytes(range(256)) * 4096  # 1 MiB: past the initial 64 KiB window, so flow control is exercised
    h2_site.pages.update(
        {
            "/": (200, {"content-type": "text/html"}, PAGE),
            "/robots.txt": (200, {"content-type": "text/plain"}, b"User-agent: *\nDisallow: /private\n"),
            "/big": (200, {"content-type": "application/octet-stream"}, big),
            "/zipped": (200, {"content-type": "text/html", "content-encoding": "gzip"}, gzip.compress(PAGE)),
            "/moved": (301, {"location": "/"}, b""),
        }
    )
    async with session(tls_ca, h2_site.pin()) as s:
        home = await s.get(h2_site.url("/", host="h2.test"), cookies={"sid": "abc123"})
        robots = await s.get(h2_site.url("/robots.txt", host="h2.test"))
        large = await s.get(h2_site.url("/big", host="h2.test"))
        zipped = await s.get(h2_site.url("/zipped", host="h2.test"))
        moved = await s.get(h2_site.url("/moved", host="h2.test"), allow_redirects=False)
        missing = await s.get(h2_site.url("/nope", host="h2.test"))
    assert home.status_code == 200 and home.content == PAGE
    assert home.http_version == CurlHttpVersion.V2_0 == 3
    assert robots.text.startswith("User-agent: *")
    assert large.content == big
    assert zipped.content == PAGE  # curl_cffi decoded it
    assert moved.status_code == 301 and moved.headers["location"] == "/"
    assert missing.status_code == 404
    first = h2_site.requests[0]
    assert [r.path for r in h2_site.requests] == ["/", "/robots.txt", "/big", "/zipped", "/moved", "/nope"]
    assert first.headers[":authority"].startswith("h2.test") and first.headers["cookie"] == "sid=abc123"
    assert "Chrome/131" in first.headers["user-agent"]
    assert h2_site.connections == 1 and {r.connection for r in h2_site.requests} == {1}  # one connection, reused


async def test_every_path_can_have_one_answer(h2_site, tls_ca):
    h2_site.pages["*"] = (200, {"content-type": "text/plain"}, b"anything")
    h2_site.pages["/q"] = (200, {"content-type": "text/plain"}, b"q without its query")
    async with session(tls_ca, impersonate=None) as s:
        r = await s.get(h2_site.url("/any/where?x=1"), http_version="v2tls")
        q = await s.get(h2_site.url("/q?page=2"), http_version="v2tls")
    assert r.content == b"anything" and h2_site.requests[0].path == "/any/where?x=1"
    assert q.content == b"q without its query" and r.http_version == 3  # curl without impersonation: h2 too


async def test_the_ja4_server_knows_chrome_from_aiohttp(ja4_server, tls_ca):
    async with session(tls_ca, ja4_server.pin()) as s:
        chrome = (await s.get(ja4_server.url())).json()
    async with aiohttp.ClientSession() as client:  # the crawler's context with a ca_bundle: no ALPN
        python = []
        for _ in range(2):
            async with client.get(
                f"https://127.0.0.1:{ja4_server.port}/",
                ssl=tls_ca.client_context(),
                server_hostname="ja4.test",
                headers={"Connection": "close"},
            ) as resp:
                python.append(await resp.json())
    assert re.fullmatch(r"t13d1[5-7]1[5-8]h2_8daaf6152771_[0-9a-f]{12}", chrome["ja4"]), chrome["ja4"]
    assert chrome["alpn"] == ["h2", "http/1.1"] and chrome["sni"] == "ja4.test"
    assert chrome["tls_version"] == "TLSv1.3" and re.fullmatch(r"[0-9a-f]{32}", chrome["ja3"])
    assert re.fullmatch(r"t13d\d{4}00_[0-9a-f]{12}_[0-9a-f]{12}", python[0]["ja4"]), python[0]["ja4"]
    assert python[0]["ja4"] == python[1]["ja4"] and python[0]["alpn"] == []  # the same on every connection
    assert [seen.ja4 for seen in ja4_server.seen] == [chrome["ja4"], python[0]["ja4"], python[1]["ja4"]]


def test_ja4_of_a_recorded_chrome_client_hello_is_chromes_published_one():
    """curl_cffi 0.17.0's chrome131 ClientHello, recorded from the wire (first connection)."""
    seen = fingerprint((HELLOS / "chrome131.client-hello").read_bytes())
    assert seen.ja4 == CHROME_JA4
    assert seen.alpn == ["h2", "http/1.1"] and seen.sni == "ja4.test"
    hello = parse_client_hello((HELLOS / "chrome131.client-hello").read_bytes())
    assert any(is_grease(c) for c in hello.ciphers) and any(is_grease(e) for e in hello.extensions)
    assert seen.ja3_string.startswith("771,4865-4866-4867-")  # GREASE left out of JA3 too
    assert ja3(hello) == (seen.ja3_string, seen.ja3)


def test_ja4_of_a_recorded_python_client_hello():
    """aiohttp's default context (no ca_bundle) offers http/1.1: JA4 "h1"; 18 ciphers, 12 extensions."""
    seen = fingerprint((HELLOS / "aiohttp.client-hello").read_bytes())
    assert seen.ja4 == "t13d1812h1_85036bcba153_d41ae481755e"
    assert seen.alpn == ["http/1.1"]


def hello(**fields: object) -> ClientHello:
    base: dict[str, object] = dict(
        version=0x0303,
        ciphers=[0x1301],
        extensions=[0x002B],
        groups=[],
        point_formats=[],
        signature_algorithms=[],
        alpn=[],
        versions=[0x0304],
        sni=None,
    )
    return ClientHello(**{**base, **fields})


@pytest.mark.parametrize(
    "fields, a",
    [
        ({}, "t13i010100"),
        ({"sni": "x.test", "alpn": ["h2", "http/1.1"]}, "t13d0101h2"),
        ({"alpn": ["http/1.1"]}, "t13i0101h1"),
        ({"alpn": ["\xab\xcd"]}, "t13i0101ad"),  # not alphanumeric: first and last hex digits
        ({"versions": [0x0A0A, 0x0303]}, "t12i010100"),  # GREASE is not a version
        ({"versions": []}, "t12i010100"),  # no supported_versions: the legacy version
        ({"ciphers": [0x2A2A, 0x1301, 0x1302]}, "t13i020100"),
    ],
)
def test_ja4_first_part(fields, a):
    assert ja4(hello(**fields)).split("_")[0] == a


def test_ja4_hashes_sorted_ciphers_and_extensions_without_sni_and_alpn():
    one = hello(ciphers=[0x1302, 0x1301], extensions=[0x0010, 0x000D, 0x0000, 0x002B], signature_algorithms=[0x0403])
    two = hello(ciphers=[0x1301, 0x1302], extensions=[0x002B, 0x0000, 0x000D, 0x0010], signature_algorithms=[0x0403])
    assert ja4(one) == ja4(two)
    assert ja4(hello(ciphers=[], extensions=[])).endswith("_000000000000_000000000000")


@pytest.mark.parametrize("data", [b"", b"GET / HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x00\x04\x02\x00\x00\x00"])
def test_what_is_no_client_hello_is_refused(data):
    with pytest.raises(ValueError):
        parse_client_hello(data)


async def test_the_servers_stop_while_a_client_still_holds_a_connection(h2_site, ja4_server):
    held = [await asyncio.open_connection("127.0.0.1", port) for port in (h2_site.port, ja4_server.port)]
    async with asyncio.timeout(30):  # a guard against a hang, not a measurement
        await h2_site.stop()
        await ja4_server.stop()
    for _, writer in held:
        writer.close()
