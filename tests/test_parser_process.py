"""The parser process: pages are parsed in a forked child. Its death costs no URL, a page that
crashes it ends in an error record, and the crawl goes on."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from aiohttp import web

from crawler.config import Job
from crawler.engine import Crawl
from crawler.errors import FetchError
from crawler.parser_process import ParserProcess
from crawler.reader import PageReader, PageResult
from tests.conftest import read_records


def job(site, tmp_path: Path, *hosts: str) -> Job:
    return Job.model_validate({"start_urls": [site.url(hosts[0])], "output": tmp_path / "out",
                               "resolve": site.pin(*hosts), "retry_backoff": 0.01})


async def test_parser_killed_mid_crawl_loses_nothing(site, tmp_path):
    crawl = Crawl(job(site, tmp_path, "a.test"))
    killed: list[int] = []

    async def kill(_: web.Request) -> web.Response:  # the OOM killer, as seen by the crawl
        killed.append(crawl.parser.pid)
        os.kill(crawl.parser.pid, signal.SIGKILL)
        return web.Response(text='<a href="/after">after</a>', content_type="text/html")

    site.html("a.test", "/", '<a href="/kill">kill</a> <a href="/p1">1</a> <a href="/p2">2</a>')
    site.route("a.test", "/kill", kill)
    site.html("a.test", "/after", '<a href="/p3">3</a>', title="After")
    for n in (1, 2, 3):
        site.html("a.test", f"/p{n}", "", title=f"P{n}")

    stats = await crawl.run()

    records = read_records(tmp_path / "out")
    by_path = {r["url"].split("/", 3)[3]: r for r in records}
    assert sorted(by_path) == ["", "after", "kill", "p1", "p2", "p3"]
    assert all(r["status"] == 200 and r["error"] is None for r in records)
    assert by_path["after"]["title"] == "After"  # /kill's links were read by the new child
    assert by_path["p3"]["title"] == "P3"
    assert crawl.parser.deaths == 1 and len(killed) == 1
    assert any("parser process died (signal 9)" in w for w in stats.warnings)


async def test_page_that_crashes_the_parser_gets_an_error_record(site, tmp_path, monkeypatch):
    real_read = PageReader.read

    def fragile_read(self, url, body, content_type, depth):  # runs in the child
        if url.endswith("/segv"):
            os.kill(os.getpid(), signal.SIGSEGV)
        if url.endswith("/bug"):
            raise ValueError("a bug in the reader")
        return real_read(self, url, body, content_type, depth)

    monkeypatch.setattr(PageReader, "read", fragile_read)  # before the fork, so the child has it
    site.html("a.test", "/", '<a href="/segv">s</a> <a href="/bug">b</a> <a href="/ok">ok</a>')
    site.html("a.test", "/segv", '<a href="/unreached">u</a>')
    site.html("a.test", "/bug", '<a href="/unreached">u</a>')
    site.html("a.test", "/ok", '<a href="/ok2">ok2</a>')
    site.html("a.test", "/ok2", "", title="Still parsing")
    crawl = Crawl(job(site, tmp_path, "a.test"))

    stats = await crawl.run()

    by_path = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "out")}
    assert sorted(by_path) == ["", "bug", "ok", "ok2", "segv"]
    segv, bug = by_path["segv"], by_path["bug"]
    assert segv["status"] == 200 and segv["path"] and segv["error"]["kind"] == "internal"
    assert segv["error"]["message"] == "the parser process died (signal 11) twice while parsing this page"
    assert bug["error"] == {"kind": "internal", "message": "parser: ValueError: a bug in the reader"}
    assert by_path["ok2"]["title"] == "Still parsing" and by_path["ok2"]["error"] is None
    assert crawl.parser.deaths == 2  # the page was given a second child before it was given up
    assert stats.errors["internal"] == 2 and site.hits[("a.test", "/segv")] == 1


async def test_only_the_page_being_parsed_is_blamed_for_a_crash(monkeypatch):
    real_read = PageReader.read

    def fragile_read(self, url, body, content_type, depth):
        if url.endswith("/segv"):
            os.kill(os.getpid(), signal.SIGSEGV)
        return real_read(self, url, body, content_type, depth)

    monkeypatch.setattr(PageReader, "read", fragile_read)
    parser = ParserProcess(PageReader(Job.model_validate({"start_urls": ["http://a.test/"]})))
    await parser.start()
    try:  # both pages are written before the child reads the first: the innocent one waits behind it
        crash, fine = await asyncio.gather(
            parser.read("http://a.test/segv", b"<title>x</title>", "text/html", 0),
            parser.read("http://a.test/fine", b'<title>Fine</title><a href="/next">n</a>', "text/html", 0),
            return_exceptions=True)
    finally:
        await parser.close()
    assert isinstance(crash, FetchError) and crash.kind == "internal"
    assert isinstance(fine, PageResult) and fine.title == "Fine"
    assert fine.links == [("http://a.test/next", "a.test:80")]
    assert parser.deaths == 2
