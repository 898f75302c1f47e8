"""WARC output: request and response records with the bytes as received, checked by warcio itself."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from aiohttp import web
from warcio.archiveiterator import ArchiveIterator

WARCIO = str(Path(sys.executable).parent / "warcio")
PAGE = b"<html><title>zipped</title><a href='/chunked'>c</a><a href='/old'>o</a><a href='/gone'>g</a></html>"
ZIPPED = gzip.compress(PAGE, mtime=0)


async def test_warc_records_hold_the_bytes_as_received(site, crawl):
    async def zipped(_: web.Request) -> web.Response:
        return web.Response(body=ZIPPED, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for part in (b"one ", b"two ", b"three"):
            await resp.write(part)
        return resp

    async def old(_: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/chunked")

    site.route("w.test", "/", zipped)
    site.route("w.test", "/chunked", chunked)
    site.route("w.test", "/old", old)
    r = await crawl(start_urls=[site.url("w.test")], resolve=site.pin("w.test"), warc=True)
    warc = r.out / "crawl.warc.gz"
    assert r.by_url[site.url("w.test")]["title"] == "zipped"  # decoded for parsing...
    assert (r.out / r.by_url[site.url("w.test")]["path"]).read_bytes() == PAGE  # ...and for the page file

    check = subprocess.run([WARCIO, "check", "-v", str(warc)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    index = [
        json.loads(line)
        for line in subprocess.run(
            [WARCIO, "index", "-f", "warc-type,warc-target-uri,http:status", str(warc)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    ]
    responses = {(i["warc-target-uri"], i.get("http:status")) for i in index if i["warc-type"] == "response"}
    requests = [i for i in index if i["warc-type"] == "request"]
    assert responses == {
        (site.url("w.test"), "200"),
        (site.url("w.test", "/chunked"), "200"),
        (site.url("w.test", "/old"), "301"),
        (site.url("w.test", "/gone"), "404"),
    }
    assert len(requests) == len(responses)

    with open(warc, "rb") as f:
        bodies = {
            rec.rec_headers.get_header("WARC-Target-URI"): (rec.raw_stream.read(), rec.http_headers)
            for rec in ArchiveIterator(f)
            if rec.rec_type == "response"
        }
    raw, headers = bodies[site.url("w.test")]
    assert raw == ZIPPED and headers.get_header("Content-Encoding") == "gzip"  # exactly as sent
    raw, headers = bodies[site.url("w.test", "/chunked")]
    assert raw == b"one two three" and headers.get_header("Content-Length") == "13"


async def test_warc_keeps_the_bomb_cap(site, crawl):
    bomb = gzip.compress(b"\0" * 20_000_000)

    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})

    site.route("b.test", "/", handler)
    r = await crawl(
        start_urls=[site.url("b.test")], resolve=site.pin("b.test"), warc=True, max_bytes=1_000_000, ignore_robots=True
    )
    assert r.records[0]["error"]["kind"] == "too_large"


def warc_responses(warc: Path) -> list[str]:
    check = subprocess.run([WARCIO, "check", "-v", str(warc)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with open(warc, "rb") as f:
        return [
            rec.rec_headers.get_header("WARC-Target-URI") for rec in ArchiveIterator(f) if rec.rec_type == "response"
        ]


async def test_resume_cuts_a_torn_warc_record_and_appends_after_it(site, crawl):
    site.html("t.test", "/", '<a href="/a">a</a>', title="Home")
    site.html("t.test", "/a", "A" * 5000, title="A")
    site.html("t.test", "/new", "", title="New")
    seeds = [site.url("t.test")]
    first = await crawl(start_urls=seeds, resolve=site.pin("t.test"), warc=True)
    warc = first.out / "crawl.warc.gz"
    before = warc.read_bytes()
    assert sorted(warc_responses(warc)) == [site.url("t.test"), site.url("t.test", "/a")]
    last_member = before[before.rindex(b"\x1f\x8b\x08") :]  # how kill -9 in mid-write leaves it
    warc.write_bytes(before + last_member[: len(last_member) // 2])

    await crawl(start_urls=[*seeds, site.url("t.test", "/new")], resolve=site.pin("t.test"), warc=True)

    assert warc.read_bytes().startswith(before)
    assert sorted(warc_responses(warc)) == sorted(site.url("t.test", p) for p in ("/", "/a", "/new"))
