"""Failures of this machine (no file descriptors, memory, disk) are never blamed on a site, never
open a host that robots.txt could close, and a crawl that cannot make progress stops, resumable."""

from __future__ import annotations

import errno
from collections import Counter

import aiohttp
import pytest
from aiohttp import web

from crawler import pipeline, stall
from crawler.config import Job
from crawler.core.errors import StalledError
from crawler.engine import Crawl
from tests.helpers.output import read_records


def out_of_files(monkeypatch, when) -> Counter[str]:
    """Make new connections fail as socket() does without free descriptors, for requests
    ``when(path)`` picks; returns the count of failures per path."""
    failed: Counter[str] = Counter()
    create = aiohttp.TCPConnector._create_connection

    async def create_or_fail(self, req, traces, timeout):
        if when(req.url.path, failed):
            failed[req.url.path] += 1
            raise aiohttp.ClientConnectorError(req.connection_key, OSError(errno.EMFILE, "Too many open files"))
        return await create(self, req, traces, timeout)

    monkeypatch.setattr(aiohttp.TCPConnector, "_create_connection", create_or_fail)
    monkeypatch.setattr(pipeline, "LOCAL_PAUSE", 0.05)
    return failed


async def test_a_local_failure_fetching_robots_never_opens_the_host(site, crawl, monkeypatch):
    async def robots(_: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /private\n")

    site.route("a.test", "/robots.txt", robots)
    site.html("a.test", "/", '<a href="/private">p</a><a href="/open">o</a>')
    site.html("a.test", "/open", "open")
    site.html("a.test", "/private", "secret")
    failed = out_of_files(monkeypatch, lambda path, n: path == "/robots.txt" and n[path] < 3)
    r = await crawl(start_urls=[site.url("a.test")], resolve=site.pin("a.test"))
    assert failed["/robots.txt"] == 3 and site.hits[("a.test", "/robots.txt")] == 1
    assert site.hits[("a.test", "/private")] == 0
    assert r.by_url[site.url("a.test", "/private")]["error"] == {
        "kind": "robots",
        "message": "disallowed by robots.txt",
    }
    home = r.by_url[site.url("a.test")]
    assert home["status"] == 200 and home["attempts"] == 1  # waiting for this machine is no attempt
    assert r.by_url[site.url("a.test", "/open")]["status"] == 200


async def test_local_failures_of_pages_are_retried_not_recorded_against_the_site(site, crawl, monkeypatch):
    site.html("a.test", "/", '<a href="/p">p</a>')
    site.html("a.test", "/p", "p")
    failed = out_of_files(monkeypatch, lambda path, n: path == "/p" and n[path] < 4)
    r = await crawl(
        start_urls=[site.url("a.test")],
        resolve=site.pin("a.test"),
        ignore_robots=True,
        retries=1,
        headers={"Connection": "close"},
    )  # a new socket per request
    assert failed["/p"] == 4
    rec = r.by_url[site.url("a.test", "/p")]
    assert rec["status"] == 200 and rec["attempts"] == 1 and r.stats.errors == {}


async def test_a_crawl_that_cannot_make_progress_stops_and_resumes(site, tmp_path, monkeypatch):
    site.html("a.test", "/", "".join(f'<a href="/p{i}">{i}</a>' for i in range(5)))
    for i in range(5):
        site.html("a.test", f"/p{i}", "leaf")
    job = Job.model_validate(
        {
            "start_urls": [site.url("a.test")],
            "resolve": site.pin("a.test"),
            "output": tmp_path / "o",
            "ignore_robots": True,
        }
    )
    first = Crawl(job)
    await first.run()  # the seed and its links are admitted and fetched...
    (tmp_path / "o" / "records.jsonl").write_bytes(b"")  # ...then forgotten: all six are due again
    monkeypatch.setattr(stall, "STALL_FAILURES", 5)
    monkeypatch.setattr(stall, "STALL_SECONDS", 0.2)
    out_of_files(monkeypatch, lambda path, n: True)
    with pytest.raises(
        StalledError,
        match=r"cannot make progress: \d+ requests in a row failed for lack of "
        r"resources on this machine \(Too many open files\).*run the same command",
    ):
        await Crawl(job).run()
    assert read_records(tmp_path / "o") == []  # nothing was blamed on the site
    monkeypatch.undo()
    stats = await Crawl(job).run()
    records = read_records(tmp_path / "o")
    assert stats.records == 6 and len({r["url"] for r in records}) == 6
    assert all(r["status"] == 200 for r in records)
