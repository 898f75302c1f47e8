"""``transport: curl`` over TLS: a site that speaks only HTTP/2, a server that reads the ClientHello's
fingerprint, and HTTP/2 through real proxies (tinyproxy CONNECT, microsocks) with credentials."""

from __future__ import annotations

import json

import pytest

from tests.helpers.leaks import basic_credentials, read_output

HOME = b"<html><head><title>h2 home</title></head><body><a href='/next'>next</a></body></html>"
NEXT = b"<html><head><title>h2 next</title></head><body>only over HTTP/2</body></html>"


def serve(h2_site) -> None:
    h2_site.pages.update(
        {
            "/": (200, {"content-type": "text/html"}, HOME),
            "/next": (200, {"content-type": "text/html"}, NEXT),
            "/robots.txt": (200, {"content-type": "text/plain"}, b"User-agent: *\nDisallow: /private\n"),
        }
    )


async def test_an_http2_only_site_is_out_of_aiohttps_reach_and_crawled_over_curl(h2_site, tls_ca, crawl, tmp_path):
    serve(h2_site)
    job = {"start_urls": [h2_site.url(host="h2.test")], "resolve": [h2_site.pin()], "ca_bundle": str(tls_ca.bundle)}
    refused = await crawl(**job, retries=1, ignore_robots=True, output=tmp_path / "aiohttp")  # the page itself
    (record,) = refused.records
    assert record["error"]["kind"] == "aborted" and record["attempts"] == 2 and record["status"] is None
    assert h2_site.refused > 0 and not h2_site.requests  # no request ever got through

    r = await crawl(**job, transport="curl", output=tmp_path / "curl")
    assert {rec["url"]: (rec["title"], rec["http_version"], rec["transport"]) for rec in r.records} == {
        h2_site.url(host="h2.test"): ("h2 home", "2", "curl"),
        h2_site.url("/next", host="h2.test"): ("h2 next", "2", "curl"),
    }
    assert (r.out / r.by_url[h2_site.url("/next", host="h2.test")]["path"]).read_bytes() == NEXT
    assert h2_site.requests[0].path == "/robots.txt"  # asked over HTTP/2 too, first
    assert h2_site.connections == 1  # one connection, its streams multiplexed


def fingerprint_of(result) -> dict:
    (record,) = result.records
    assert record["error"] is None, record
    return json.loads((result.out / record["path"]).read_bytes())


async def test_impersonation_presents_the_browsers_tls_fingerprint(ja4_server, tls_ca, crawl, tmp_path):
    job = {
        "start_urls": [ja4_server.url("/fp")],
        "resolve": [ja4_server.pin()],
        "ca_bundle": str(tls_ca.bundle),
        "ignore_robots": True,
    }
    chrome = fingerprint_of(await crawl(**job, impersonate="chrome131", output=tmp_path / "chrome"))
    python = fingerprint_of(await crawl(**job, output=tmp_path / "aiohttp"))
    plain_curl = fingerprint_of(await crawl(**job, transport="curl", output=tmp_path / "curl"))
    # JA4 = t13d + ciphers + extensions + ALPN _ sorted-cipher hash _ extension hash (FoxIO)
    assert chrome["ja4"].startswith(("t13d1516h2_", "t13d1517h2_")), chrome  # Chrome 131's, first connection
    assert chrome["ja4"].split("_")[1] == "8daaf6152771"  # Chrome's cipher suites
    assert chrome["alpn"] == ["h2", "http/1.1"] and chrome["sni"] == "ja4.test"
    assert python["ja4"].split("_")[0].endswith("00") and python["alpn"] == []  # Python's TLS: no ALPN
    assert python["ja4"].split("_")[1] != "8daaf6152771"
    assert plain_curl["ja4"] != chrome["ja4"]  # curl's own BoringSSL defaults, not Chrome's


@pytest.mark.parametrize(
    "kind, auth",
    [("http", {"user": "alice", "password": "s3cretpw"}), ("socks5", {"user": "bob", "password": "p@ss:w%rd/x"})],
)
async def test_http2_through_real_proxies_with_credentials(h2_site, tls_ca, crawl, proxies, kind, auth):
    (p,) = await proxies(kind, 1, **auth)
    serve(h2_site)
    r = await crawl(
        start_urls=[h2_site.url()], proxy=p.url(), impersonate="chrome", ca_bundle=str(tls_ca.bundle), warc=True
    )
    assert {(rec["title"], rec["http_version"], rec["proxy"]) for rec in r.records} == {
        ("h2 home", "2", p.id),
        ("h2 next", "2", p.id),
    }
    everything = b"".join(read_output(f) for f in r.out.rglob("*") if f.is_file())
    assert b"WARC/1.1" in everything and b"HTTP/2 200" in everything  # the WARC says HTTP/2
    for secret in (b"s3cretpw", b"p@ss", b"p%40ss", *basic_credentials(auth)):
        assert secret not in everything


async def test_http3_is_spoken_where_asked_and_a_quic_only_site_is_crawled(h3_site, tls_ca, crawl, tmp_path):
    """``http3: true``: curl tries HTTP/3 first; a site reachable only over QUIC (UDP, no TCP
    listener) is crawled, its links followed, the record saying HTTP/3. Without it, it is not."""
    h3_site.pages.update(
        {
            "/": (200, {"content-type": "text/html"}, b"<title>h3 home</title><a href='/next'>next</a>"),
            "/next": (200, {"content-type": "text/html"}, b"<title>h3 next</title>"),
        }
    )
    job = {
        "start_urls": [h3_site.url()],
        "resolve": [h3_site.pin()],
        "ca_bundle": str(tls_ca.bundle),
        "transport": "curl",
        "ignore_robots": True,
    }
    r = await crawl(**job, http3=True)
    assert {(rec["title"], rec["http_version"]) for rec in r.records} == {("h3 home", "3"), ("h3 next", "3")}
    without = await crawl(**job, retries=0, output=tmp_path / "h2")
    assert without.records[0]["error"]["kind"] == "connect" and h3_site.paths == ["/", "/next"]
