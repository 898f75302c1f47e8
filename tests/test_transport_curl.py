"""``transport: curl`` end to end over plain HTTP: the same pipeline as aiohttp's (robots.txt,
cookies, WARC, caps, the private-address guard, error kinds), through real proxies too."""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web
from warcio.archiveiterator import ArchiveIterator

from tests.helpers.cli import run_cli
from tests.helpers.leaks import basic_credentials, read_output
from tests.test_proxies import sources

WARCIO = str(Path(sys.executable).parent / "warcio")
PAGE = b"<html><head><title>zipped</title></head><body><a href='/next'>n</a></body></html>"


def shop(site, host: str = "c.test") -> None:
    """A home page linking to a page that sets a cookie, a gzip page and a page that reads the cookie."""
    site.html(host, "/", '<a href="/login">l</a><a href="/zip">z</a>', title="home")
    site.html(host, "/robots.txt", "")

    async def login(_: web.Request) -> web.Response:
        resp = web.Response(text='<title>in</title><a href="/account">a</a>', content_type="text/html")
        resp.set_cookie("sid", "visitor-7", path="/")
        return resp

    async def account(request: web.Request) -> web.Response:
        who = request.cookies.get("sid", "nobody")
        return web.Response(text=f"<title>account of {who}</title>", content_type="text/html")

    async def zipped(_: web.Request) -> web.Response:
        return web.Response(
            body=gzip.compress(PAGE, mtime=0), headers={"Content-Encoding": "gzip", "Content-Type": "text/html"}
        )

    site.route(host, "/login", login)
    site.route(host, "/account", account)
    site.route(host, "/zip", zipped)
    site.html(host, "/next", "", title="next")


async def test_curl_crawls_stores_and_keeps_cookies_like_a_visitor(site, crawl):
    shop(site)
    r = await crawl(start_urls=[site.url("c.test")], resolve=site.pin("c.test"), transport="curl")
    titles = {rec["url"].rsplit("/", 1)[1]: rec["title"] for rec in r.records}
    assert titles == {"": "home", "login": "in", "account": "account of visitor-7", "zip": "zipped", "next": "next"}
    assert {(rec["transport"], rec["http_version"]) for rec in r.records} == {("curl", "1.1")}
    assert (r.out / r.by_url[site.url("c.test", "/zip")]["path"]).read_bytes() == PAGE  # decoded for the page file
    assert site.hits[("c.test", "/robots.txt")] == 1  # robots.txt asked over the same transport


async def test_transport_rules_choose_curl_per_url_pattern(site, crawl):
    shop(site)
    r = await crawl(
        start_urls=[site.url("c.test")],
        resolve=site.pin("c.test"),
        transport_rules=[{"match": "*/zip", "transport": "curl", "impersonate": "firefox"}],
    )
    chosen = {rec["url"].rsplit("/", 1)[1]: rec["transport"] for rec in r.records}
    assert chosen == {"": "aiohttp", "login": "aiohttp", "account": "aiohttp", "zip": "curl", "next": "aiohttp"}
    firefox = [h for h in site.headers if "Firefox" in h.get("User-Agent", "")]
    assert len(firefox) == 1  # the one URL the rule sent over curl, as Firefox


async def test_impersonation_sends_the_browser_headers_and_its_user_agent_unless_the_job_names_one(
    site, crawl, tmp_path
):
    shop(site)
    await crawl(start_urls=[site.url("c.test", "/next")], resolve=site.pin("c.test"), impersonate="chrome")
    sent = [h for h in site.headers if "Sec-Fetch-Mode" in h]
    assert sent and all("Chrome/" in h["User-Agent"] and h["Sec-CH-UA-Mobile"] == "?0" for h in sent)
    assert all(h["Accept-Encoding"] == "gzip, deflate, br, zstd" for h in sent)
    site.headers.clear()
    await crawl(
        start_urls=[site.url("c.test", "/next")],
        resolve=site.pin("c.test"),
        impersonate="chrome",
        user_agent="ourbot/1.0",
        output=tmp_path / "named",
    )
    assert {h["User-Agent"] for h in site.headers} == {"ourbot/1.0"}


@pytest.mark.parametrize(
    "kind, auth",
    [("http", {"user": "alice", "password": "s3cretpw"}), ("socks5", {"user": "bob", "password": "p@ss:w%rd/x"})],
)
async def test_curl_goes_through_real_proxies_with_credentials(site, crawl, proxies, kind, auth):
    (p,) = await proxies(kind, 1, **auth)
    shop(site, "127.0.0.1")
    r = await crawl(start_urls=[site.url("127.0.0.1")], proxy=p.url(), impersonate="chrome", warc=True)
    assert r.stats.pages == 5 and {rec["proxy"] for rec in r.records} == {p.id}
    assert sources(site) == {p.source: 5}  # every page arrived from the proxy's address
    assert {rec["transport"] for rec in r.records} == {"curl"}
    everything = b"".join(read_output(f) for f in r.out.rglob("*") if f.is_file())
    everything += "\n".join(r.stats.warnings).encode()
    assert b"WARC/1.1" in everything
    for secret in (b"s3cretpw", b"p@ss", b"p%40ss", *basic_credentials(auth)):
        assert secret not in everything


async def test_curl_warc_keeps_the_bytes_as_received_and_the_head_as_sent(site, crawl):
    shop(site)
    r = await crawl(
        start_urls=[site.url("c.test", "/zip")], resolve=site.pin("c.test"), impersonate="chrome", warc=True
    )
    warc = r.out / "crawl.warc.gz"
    check = subprocess.run([WARCIO, "check", "-v", str(warc)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with open(warc, "rb") as f:
        records = [
            (rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI"), rec.http_headers, rec.raw_stream.read())
            for rec in ArchiveIterator(f)
        ]
    (response,) = [r for r in records if r[0] == "response" and r[1].endswith("/zip")]
    (request,) = [r for r in records if r[0] == "request" and r[1].endswith("/zip")]
    assert response[3] == gzip.compress(PAGE, mtime=0) and response[2].get_header("Content-Encoding") == "gzip"
    assert request[2].get_header("sec-ch-ua-mobile") == "?0"  # the browser's headers, as curl sent them


async def test_curl_caps_bodies_and_bombs(site, crawl):
    async def big(_: web.Request) -> web.Response:
        return web.Response(body=b"x" * 3_000_000, content_type="application/octet-stream")

    bomb = gzip.compress(b"\0" * 20_000_000)

    async def bombed(_: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})

    async def streamed(request: web.Request) -> web.StreamResponse:  # no Content-Length: caught while reading
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        for _ in range(40):
            await resp.write(b"y" * 100_000)
        return resp

    site.route("c.test", "/big", big)
    site.route("c.test", "/bomb", bombed)
    site.route("c.test", "/stream", streamed)
    site.html("c.test", "/", '<a href="/big">b</a><a href="/bomb">b</a><a href="/stream">s</a>', title="home")
    r = await crawl(start_urls=[site.url("c.test")], resolve=site.pin("c.test"), transport="curl", max_bytes=1_000_000)
    kinds = {rec["url"].rsplit("/", 1)[1]: (rec["error"] or {}).get("kind") for rec in r.records}
    assert kinds == {"": None, "big": "too_large", "bomb": "too_large", "stream": "too_large"}
    assert not list((r.out / "pages").rglob("*big*")) and not list((r.out / "pages").rglob("*stream*"))


async def test_a_body_larger_than_the_buffer_streams_whole(site, crawl):
    """Past 1 MiB buffered, curl is paused until the page file has taken the bytes: nothing lost."""
    body = bytes(range(256)) * 20_000  # 5 MB

    async def large(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/octet-stream")

    site.route("c.test", "/large", large)
    r = await crawl(
        start_urls=[site.url("c.test", "/large")], resolve=site.pin("c.test"), transport="curl", ignore_robots=True
    )
    assert (r.out / r.records[0]["path"]).read_bytes() == body


async def test_curl_keeps_block_private_ips_for_names_and_literals(site, crawl):
    site.html("a.test", "/", "hi")
    literal = f"http://127.0.0.1:{site.port}/"
    r = await crawl(
        start_urls=[site.url("a.test"), literal],
        resolve=site.pin("a.test"),
        block_private_ips=True,
        transport="curl",
        retries=2,
    )
    assert {rec["error"]["kind"] for rec in r.records} == {"blocked"}
    assert "non-public addresses (127.0.0.1)" in r.by_url[site.url("a.test")]["error"]["message"]
    assert sum(site.hits.values()) == 0  # nothing reached the server, robots.txt included


async def test_curl_failures_get_the_error_kinds_of_aiohttp(site, crawl):
    stalled = asyncio.Event()

    async def stall(_: web.Request) -> web.Response:
        await stalled.wait()  # never set before the crawl gives up on it
        return web.Response(text="late")

    async def hang_up(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.close()
        await stalled.wait()
        return web.Response(text="never")

    site.route("c.test", "/stall", stall)
    site.route("c.test", "/hangup", hang_up)
    closed = "http://closed.test:9/"  # the discard port: nothing listens on loopback
    r = await crawl(
        start_urls=[site.url("c.test", "/stall"), site.url("c.test", "/hangup"), closed],
        resolve=[*site.pin("c.test"), "closed.test:9:127.0.0.1"],
        transport="curl",
        ignore_robots=True,
        retries=0,
        timeout={"read": 1, "total": 30},
    )
    stalled.set()
    kinds = {rec["url"]: rec["error"]["kind"] for rec in r.records}
    assert kinds == {
        site.url("c.test", "/stall"): "timeout",
        site.url("c.test", "/hangup"): "aborted",
        closed: "connect",
    }


async def test_bad_transport_options_are_one_line_errors(tmp_path):
    for args, expected in [
        (("--impersonate", "netscape4"), "curl does not know the browser 'netscape4'"),
        (("--transport", "aiohttp", "--impersonate", "chrome"), "impersonate needs transport: curl"),
        (("--transport", "carrier-pigeon"), "transport"),
    ]:
        code, out, err = await run_cli("crawl", "http://127.0.0.1:9/", "-o", str(tmp_path / "out"), *args)
        assert code == 2 and expected in err and "Traceback" not in err, (args, err)
        assert len(err.strip().splitlines()) == 1, err
    job = tmp_path / "job.yaml"
    job.write_text(
        json.dumps({"start_urls": ["http://127.0.0.1:9/"], "transport_rules": [{"match": "*", "impersonate": "x y"}]})
    )
    code, _, err = await run_cli("run", str(job))
    assert code == 2 and "transport_rules" in err and "Traceback" not in err, err


async def test_curl_takes_proxies_from_the_job_or_with_trust_env_only(site, crawl, proxies, monkeypatch, tmp_path):
    """curl never reads *_proxy / NO_PROXY itself: a NO_PROXY naming the host does not take the
    request around the job's proxy; with ``trust_env`` the environment's proxy is used."""
    (p,) = await proxies("http", 1)
    site.html("localhost", "/", "hello", title="home")
    url = f"http://localhost:{site.port}/"
    monkeypatch.setenv("NO_PROXY", "localhost")
    r = await crawl(start_urls=[url], proxy=p.url(), transport="curl", ignore_robots=True)
    assert r.records[0]["status"] == 200 and sources(site) == {p.source: 1}
    monkeypatch.delenv("NO_PROXY")
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, p.url())
    site.remotes.clear()
    r = await crawl(start_urls=[url], trust_env=True, transport="curl", ignore_robots=True, output=tmp_path / "env")
    assert r.records[0]["status"] == 200 and sources(site) == {p.source: 1}
