"""The parser process: pages are parsed in a forked child. Its death costs no URL, a page that
crashes it ends in an error record, and the crawl goes on."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from yarl import URL

from crawler.config import Job
from crawler.core.errors import FetchError
from crawler.engine import Crawl
from crawler.parsing import process as parser_process
from crawler.parsing.page import Fetched
from crawler.parsing.process import InlineParser, Parsed, ParserPool, ParserProcess, make_parser
from crawler.parsing.reader import PageReader
from crawler.settings import reader_settings
from crawler.sinks.pages import Placement
from crawler.sinks.paths import host_dir
from tests.helpers.output import read_records


def job(site, out: Path, *hosts: str, **fields: Any) -> Job:
    return Job.model_validate(
        {
            "start_urls": [site.url(hosts[0])],
            "output": out,
            "parser": "process",
            "resolve": site.pin(*hosts),
            "retry_backoff": 0.01,
            **fields,
        }
    )


async def test_parser_killed_mid_crawl_loses_nothing(site, tmp_path):
    crawl = Crawl(job(site, tmp_path / "out", "a.test"))
    killed: list[int] = []

    async def kill(_: web.Request) -> web.Response:  # the OOM killer, as seen by the crawl
        killed.append(crawl.parts.parser.pid)
        os.kill(crawl.parts.parser.pid, signal.SIGKILL)
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
    assert crawl.parts.parser.deaths == 1 and len(killed) == 1
    assert any("parser process died (signal 9)" in w for w in stats.warnings)


async def test_page_that_crashes_the_parser_gets_an_error_record(site, tmp_path, monkeypatch):
    real_read = PageReader.read

    def fragile_read(self, page):  # runs in the child
        if page.url.endswith("/segv"):
            os.kill(os.getpid(), signal.SIGSEGV)
        if page.url.endswith("/bug"):
            raise ValueError("a bug in the reader")
        return real_read(self, page)

    monkeypatch.setattr(PageReader, "read", fragile_read)  # before the fork, so the child has it
    site.html("a.test", "/", '<a href="/segv">s</a> <a href="/bug">b</a> <a href="/ok">ok</a>')
    site.html("a.test", "/segv", '<a href="/unreached">u</a>')
    site.html("a.test", "/bug", '<a href="/unreached">u</a>')
    site.html("a.test", "/ok", '<a href="/ok2">ok2</a>')
    site.html("a.test", "/ok2", "", title="Still parsing")
    crawl = Crawl(job(site, tmp_path / "out", "a.test"))

    stats = await crawl.run()

    by_path = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "out")}
    assert sorted(by_path) == ["", "bug", "ok", "ok2", "segv"]
    segv, bug = by_path["segv"], by_path["bug"]
    assert segv["status"] == 200 and segv["path"] and segv["error"]["kind"] == "internal"
    assert segv["error"]["message"] == "the parser process died (signal 11) twice while parsing this page"
    assert bug["error"] == {"kind": "internal", "message": "parser: ValueError: a bug in the reader"}
    assert by_path["ok2"]["title"] == "Still parsing" and by_path["ok2"]["error"] is None
    assert crawl.parts.parser.deaths == 2  # the page was given a second child before it was given up
    assert stats.errors["internal"] == 2 and site.hits[("a.test", "/segv")] == 1


async def test_only_the_page_being_parsed_is_blamed_for_a_crash(monkeypatch):
    real_read = PageReader.read

    def fragile_read(self, page):
        if page.url.endswith("/segv"):
            os.kill(os.getpid(), signal.SIGSEGV)
        return real_read(self, page)

    monkeypatch.setattr(PageReader, "read", fragile_read)
    parser = ParserProcess(PageReader(reader_settings(Job.model_validate({"start_urls": ["http://a.test/"]}))))
    await parser.start()
    try:  # both pages are written before the child reads the first: the innocent one waits behind it
        crash, fine = await asyncio.gather(
            parser.read(Fetched("http://a.test/segv", b"<title>x</title>", "text/html")),
            parser.read(Fetched("http://a.test/fine", b'<title>Fine</title><a href="/next">n</a>', "text/html")),
            return_exceptions=True,
        )
    finally:
        await parser.close()
    assert isinstance(crash, FetchError) and crash.kind == "internal"
    assert isinstance(fine, Parsed) and fine.result.title == "Fine"
    assert fine.result.links == [("http://a.test/next", "a.test:80")]
    assert parser.deaths == 2


async def test_inline_parser_gives_the_same_crawl_as_the_process(site, tmp_path, monkeypatch):
    real_read = PageReader.read

    def buggy_read(self, page):
        if page.url.endswith("/bug"):
            raise ValueError("a bug in the reader")
        return real_read(self, page)

    monkeypatch.setattr(PageReader, "read", buggy_read)
    site.html("a.test", "/", '<a href="/c1">c1</a> <a href="/c2">c2</a> <a href="/bug">b</a>', title="Home")
    for c in (1, 2):
        cards = "".join(f'<div class="p"><b>{c}-{i}</b><i>{i}.5</i></div>' for i in range(3))
        site.html("a.test", f"/c{c}", f'{cards}<a href="/c{3 - c}">other</a> <a href="/">home</a>')
    site.html("a.test", "/bug", "<p>never read</p>")
    rules = [
        {
            "name": "product",
            "match": "re:/c\\d$",
            "items": "div.p",
            "fields": {"name": {"css": "b"}, "price": {"css": "i", "type": "float"}},
        }
    ]

    outputs = {}
    for mode in ("process", "inline"):
        out = tmp_path / mode
        stats = await Crawl(job(site, out, "a.test", parser=mode, extract=rules)).run()
        assert stats.items == 6
        records = sorted(read_records(out), key=lambda r: r["url"])
        items = sorted((out / "items.jsonl").read_text().splitlines())
        outputs[mode] = ([(r["url"], r["status"], r["title"], r["items"], r["error"]) for r in records], items)

    assert outputs["process"] == outputs["inline"]
    records, items = outputs["inline"]
    assert [r[0].rsplit("/", 1)[1] for r in records] == ["", "bug", "c1", "c2"]
    assert records[1][4] == {"kind": "internal", "message": "parser: ValueError: a bug in the reader"}
    found = sorted((i["name"], i["price"]) for i in map(json.loads, items))
    assert found == [(f"{c}-{i}", i + 0.5) for c in (1, 2) for i in range(3)]


def test_auto_parses_inline_when_only_one_cpu_is_available(monkeypatch):
    reader = PageReader(reader_settings(Job.model_validate({"start_urls": ["http://a.test/"]})))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert isinstance(make_parser("auto", reader), InlineParser)
    assert isinstance(make_parser("process", reader), ParserProcess)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert isinstance(make_parser("auto", reader), ParserProcess)
    assert isinstance(make_parser("inline", reader), InlineParser)


async def test_crawl_parses_inline_when_the_parser_process_cannot_start(site, tmp_path, monkeypatch):
    def refuse() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refuse)  # what a container's pids limit does
    site.html("a.test", "/", '<a href="/p1">1</a>', title="Home")
    site.html("a.test", "/p1", "", title="P1")

    stats = await Crawl(job(site, tmp_path / "out", "a.test")).run()

    titles = {r["url"].split("/", 3)[3]: r["title"] for r in read_records(tmp_path / "out")}
    assert titles == {"": "Home", "p1": "P1"}
    assert stats.warnings == ["cannot start the parser process (Resource temporarily unavailable); parsing inline"]


async def test_a_page_that_hangs_the_parser_is_given_up_and_the_crawl_goes_on(site, tmp_path, monkeypatch):
    real_read = PageReader.read

    def hanging_read(self, page):
        if page.url.endswith("/hang"):
            signal.pause()  # a pathological document: the child never answers
        return real_read(self, page)

    monkeypatch.setattr(PageReader, "read", hanging_read)
    monkeypatch.setattr(parser_process, "PARSE_TIMEOUT", 3.0)  # the timer includes a new child's start-up
    site.html("a.test", "/", '<a href="/hang">h</a> <a href="/p1">1</a>', title="Home")
    site.html("a.test", "/hang", '<a href="/unreached">u</a>')
    site.html("a.test", "/p1", '<a href="/p2">2</a>', title="P1")
    site.html("a.test", "/p2", "", title="P2")
    crawl = Crawl(job(site, tmp_path / "out", "a.test"))

    stats = await crawl.run()

    by_path = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "out")}
    assert sorted(by_path) == ["", "hang", "p1", "p2"]
    assert by_path["hang"]["error"] == {
        "kind": "internal",
        "message": "the parser process died (stopped after 3s on one page) twice while parsing this page",
    }
    assert by_path["p2"]["title"] == "P2" and stats.errors["internal"] == 1


async def test_a_page_given_up_by_the_parser_still_has_its_file(site, tmp_path, monkeypatch):
    """The parser process writes each HTML page's file with the page. One that kills it there
    (twice) is given up: the crawl's own process writes that file, and the record points at it."""
    crawler_pid = os.getpid()
    real_place = Placement.place

    def fatal_place(self: Placement) -> tuple[str, str]:
        if self.url.endswith("/fatal") and os.getpid() != crawler_pid:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_place(self)

    monkeypatch.setattr(Placement, "place", fatal_place)
    site.html("a.test", "/", '<a href="/fatal">f</a> <a href="/p1">1</a>', title="Home")
    site.html("a.test", "/fatal", "<p>kills the parser while it writes me</p>")
    site.html("a.test", "/p1", "", title="P1")
    out = tmp_path / "out"

    await Crawl(job(site, out, "a.test")).run()

    by_path = {r["url"].split("/", 3)[3]: r for r in read_records(out)}
    assert sorted(by_path) == ["", "fatal", "p1"]
    assert by_path["fatal"]["error"]["kind"] == "internal"
    for record in by_path.values():
        body = (out / record["path"]).read_bytes()
        assert hashlib.sha256(body).hexdigest() == record["sha256"]
    assert b"kills the parser while it writes me" in (out / by_path["fatal"]["path"]).read_bytes()
    assert not list((out / ".tmp").iterdir())


@pytest.mark.parametrize("mode", ["process", "inline"])
async def test_a_page_that_cannot_be_written_is_a_storage_error_and_the_crawl_goes_on(site, tmp_path, mode):
    """b.test's folder under pages/ is taken by a file: its page ends as ``storage`` (it is not
    the site's fault, and it is not parsed as if it were kept); a.test's pages are written."""
    out = tmp_path / "out"
    (out / "pages").mkdir(parents=True)
    (out / "pages" / host_dir(URL(site.url("b.test")))).write_text("a file where a folder goes")
    site.html("a.test", "/", '<a href="/p1">1</a>', title="Home")
    site.html("a.test", "/p1", "", title="P1")
    site.html("b.test", "/", '<a href="/never">n</a>', title="B")
    start = [site.url("a.test"), site.url("b.test")]

    stats = await Crawl(job(site, out, "a.test", "b.test", start_urls=start, parser=mode)).run()

    by_url = {r["url"]: r for r in read_records(out)}
    assert sorted(by_url) == sorted([*start, site.url("a.test", "/p1")])
    failed = by_url[site.url("b.test")]
    assert failed["error"]["kind"] == "storage" and failed["error"]["message"].startswith("cannot write page: ")
    assert failed["path"] is None and stats.errors["storage"] == 1
    assert (out / by_url[site.url("a.test", "/p1")]["path"]).is_file()
    assert not list((out / ".tmp").iterdir())  # the body that found no place left no temp file


async def test_a_page_whose_reader_was_cancelled_does_not_restart_the_parser():
    """A crawl that stops cancels pages waiting for the parser; their answers still arrive and are
    dropped, not taken for the child's death (no restart, no warning)."""
    warnings: list[str] = []
    parser = ParserProcess(
        PageReader(reader_settings(Job.model_validate({"start_urls": ["http://a.test/"]}))), warnings.append
    )
    await parser.start()
    try:
        waiting = asyncio.ensure_future(parser.read(Fetched("http://a.test/1", b"<title>One</title>", "text/html")))
        await asyncio.sleep(0)  # one turn of the loop (not a wait): the task runs to its await, the page written
        waiting.cancel()
        after = await parser.read(Fetched("http://a.test/2", b"<title>Two</title>", "text/html"))  # answered in order
    finally:
        await parser.close()
    assert waiting.cancelled() and after.result.title == "Two"
    assert parser.deaths == 0 and warnings == []


def test_a_content_crawl_parses_in_a_pool_of_processes(monkeypatch):
    """Content extraction costs several times the parse: one parser process per CPU, at least
    two, at most four, unless the job parses inline."""
    reader = PageReader(reader_settings(Job.model_validate({"start_urls": ["http://a.test/"]})))
    for cpus, count in ((1, 2), (2, 2), (3, 3), (16, 4)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, cpus=cpus: set(range(cpus)))
        pool = make_parser("process", reader, heavy=True)
        assert isinstance(pool, ParserPool) and len(pool.parsers) == count
    assert isinstance(make_parser("inline", reader, heavy=True), InlineParser)
    assert isinstance(make_parser("process", reader), ParserProcess)


async def test_the_pool_sends_each_page_to_the_least_busy_process():
    def parse(page: Any) -> Any:
        yield {"pid": os.getpid()}

    reader = PageReader(reader_settings(Job.model_validate({"start_urls": ["http://a.test/"]})), parse)
    pool = ParserPool([ParserProcess(reader), ParserProcess(reader)])
    await pool.start()
    try:
        pages = [Fetched(f"http://a.test/{i}", b"<p>x</p>", "text/html") for i in range(4)]
        results = await asyncio.gather(*(pool.read(page) for page in pages))  # all sent before any answer
    finally:
        await pool.close()
    pids = [r.result.items[0]["pid"] for r in results]
    assert len(set(pids)) == 2 and os.getpid() not in pids
    assert pids[0] != pids[1] and pids[0] == pids[2] and pids[1] == pids[3]


async def test_a_pool_member_that_could_not_fork_gets_no_pages_while_another_can():
    """A refused fork leaves that member parsing on the event loop: the pool sends it nothing
    while a forked member works."""

    def parse(page: Any) -> Any:
        yield {"pid": os.getpid()}

    reader = PageReader(reader_settings(Job.model_validate({"start_urls": ["http://a.test/"]})), parse)
    forked, refused = ParserProcess(reader), ParserProcess(reader)
    refused._fallback = InlineParser(reader)  # what start() leaves when os.fork raises
    pool = ParserPool([refused, forked])
    await forked.start()
    try:
        pages = [Fetched(f"http://a.test/{i}", b"<p>x</p>", "text/html") for i in range(4)]
        results = await asyncio.gather(*(pool.read(page) for page in pages))
    finally:
        await pool.close()
    pids = {r.result.items[0]["pid"] for r in results}
    assert len(pids) == 1 and os.getpid() not in pids  # all four parsed by the forked child
