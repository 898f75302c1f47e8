"""Re-crawls against a local site whose pages change between runs: some send 304 to ETag, some
only to Last-Modified, some neither, one changes, one disappears, a new one appears. Run through
the CLI, as a user would, and killed with SIGKILL half-way through a re-crawl."""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import sqlite3
import sys
from collections import Counter
from pathlib import Path

from aiohttp import web
from warcio.archiveiterator import ArchiveIterator

from crawler.frontier.sqlite_state import VERSION
from crawler.observe.report.data import read as read_report
from tests.helpers.cli import run_cli
from tests.helpers.output import copy_job_fixture
from tests.helpers.site import Site
from tests.helpers.timing import until

LAST_MODIFIED = "Wed, 01 Jul 2026 10:00:00 GMT"


class ChangingSite:
    """The pages of one site, as they are in ``generation`` 1 or 2."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.generation = 1
        self.hold = asyncio.Event()
        self.hold.set()
        self.held = asyncio.Event()
        for path, handler in {
            "/": self.root,
            "/etag": self.etag,
            "/lm": self.last_modified,
            "/plain": self.plain,
            "/edited": self.edited,
            "/gone": self.gone,
            "/new": self.new,
            "/moved": self.moved,
        }.items():
            site.route("shop.test", path, handler)

    @staticmethod
    def page(title: str, links: str = "") -> str:
        return f"<html><head><title>{title}</title></head><body>{links}</body></html>"

    async def root(self, _: web.Request) -> web.Response:
        links = "".join(f'<a href="{p}">{p}</a>' for p in ("/etag", "/lm", "/plain", "/edited", "/gone", "/moved"))
        if self.generation == 2:
            links += '<a href="/new">new</a>'
        return web.Response(text=self.page("Home", links), content_type="text/html")

    async def etag(self, request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(text=self.page("ETag"), content_type="text/html", headers={"ETag": '"v1"'})

    async def last_modified(self, request: web.Request) -> web.Response:
        if request.headers.get("If-Modified-Since") == LAST_MODIFIED:
            return web.Response(status=304)
        return web.Response(text=self.page("LM"), content_type="text/html", headers={"Last-Modified": LAST_MODIFIED})

    async def plain(self, _: web.Request) -> web.Response:
        return web.Response(text=self.page("Plain"), content_type="text/html")

    async def edited(self, _: web.Request) -> web.Response:
        if self.generation == 2:
            self.held.set()
            await self.hold.wait()
        return web.Response(
            text=self.page(f"Edited v{self.generation}"),
            content_type="text/html",
            headers={"ETag": f'"e{self.generation}"'},
        )

    async def gone(self, _: web.Request) -> web.Response:
        if self.generation == 2:
            raise web.HTTPNotFound()
        return web.Response(text=self.page("Gone soon"), content_type="text/html")

    async def new(self, _: web.Request) -> web.Response:
        return web.Response(text=self.page("New"), content_type="text/html")

    async def moved(self, _: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/plain")


EXPECTED_CHANGES = {
    "/": "changed",
    "/edited": "changed",
    "/gone": "gone",
    "/new": "new",
    "/etag": "unchanged",
    "/lm": "unchanged",
    "/plain": "unchanged",
    "/moved": "unchanged",
}


def job_args(site: Site, out: Path) -> list[str]:
    return [
        "crawl",
        site.url("shop.test"),
        "--resolve",
        site.pin("shop.test")[0],
        "-o",
        str(out),
        "--warc",
        "--retries",
        "0",
    ]


def lines(path: Path) -> list[dict]:
    """The whole lines of a JSONL file (one being written may end in a torn line)."""
    return [json.loads(line) for line in path.read_text().splitlines(keepends=True) if line.endswith("\n")]


def by_path(site: Site, records: list[dict]) -> dict[str, dict]:
    prefix = site.url("shop.test").rstrip("/")
    return {r["url"].removeprefix(prefix): r for r in records}


async def first_crawl(site: Site, tmp_path: Path) -> tuple[ChangingSite, Path]:
    """The site as it is in generation 1, crawled once into tmp_path/o."""
    pages = ChangingSite(site)
    await site.start()
    out = tmp_path / "o"
    code, _, err = await run_cli(*job_args(site, out))
    assert code == 0, err
    return pages, out


async def test_a_recrawl_reports_exactly_what_changed_and_rewrites_only_changed_pages(site, tmp_path):
    pages, out = await first_crawl(site, tmp_path)
    first = by_path(site, lines(out / "records.jsonl"))
    assert {r["change"] for r in first.values()} == {"new"} and {r["crawl"] for r in first.values()} == {1}
    mtimes = {p: (out / first[p]["path"]).stat().st_mtime_ns for p in ("/etag", "/lm", "/plain")}
    site.headers.clear()

    pages.generation = 2
    code, _, err = await run_cli(*job_args(site, out), "--recrawl")

    assert code == 0, err
    records = lines(out / "records.jsonl")
    second = by_path(site, [r for r in records if r["crawl"] == 2])
    assert {p: r["change"] for p, r in second.items()} == EXPECTED_CHANGES
    assert len(records) == len(first) + len(second)  # one line per URL per generation
    assert "crawl 2: 1 new, 2 changed, 4 unchanged, 1 gone (OUT/changes.jsonl)" in err
    changes = {p: r["change"] for p, r in by_path(site, lines(out / "changes.jsonl")).items()}
    assert changes == {p: c for p, c in EXPECTED_CHANGES.items() if c != "unchanged"}
    sent = {h.get("If-None-Match"): h for h in site.headers}
    assert '"v1"' in sent and '"e1"' in sent  # the ETags of the first crawl came back
    assert any(h.get("If-Modified-Since") == LAST_MODIFIED for h in site.headers)
    assert second["/etag"]["status"] == 304 and second["/lm"]["status"] == 304
    assert second["/plain"]["status"] == 200 and second["/plain"]["sha256"] == first["/plain"]["sha256"]
    for p in ("/etag", "/lm", "/plain"):  # same file, never rewritten
        assert second[p]["path"] == first[p]["path"]
        assert (out / second[p]["path"]).stat().st_mtime_ns == mtimes[p]
    assert "Edited v2" in (out / second["/edited"]["path"]).read_text()
    report = read_report(out)  # `crawler report` shows the latest crawl only
    assert (report.crawl, report.urls) == (2, len(second))
    assert dict(report.changes) == dict(Counter(EXPECTED_CHANGES.values()))
    revisits = {}
    with open(out / "crawl.warc.gz", "rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type == "revisit":
                revisits[rec.rec_headers.get_header("WARC-Target-URI")] = rec.rec_headers.get_header("WARC-Profile")
    assert {u.removeprefix(site.url("shop.test").rstrip("/")): p.rsplit("/", 1)[-1] for u, p in revisits.items()} == {
        "/etag": "server-not-modified",
        "/lm": "server-not-modified",
        "/plain": "identical-payload-digest",
    }


async def test_a_page_file_deleted_or_edited_by_hand_is_fetched_whole_again(site, tmp_path):
    """A 304 would leave the record pointing at a file that is gone or no longer the page: a
    conditional request is sent only for a file that is there and whole, else a plain GET."""
    _, out = await first_crawl(site, tmp_path)
    first = by_path(site, lines(out / "records.jsonl"))
    (out / first["/etag"]["path"]).unlink()
    (out / first["/lm"]["path"]).write_text("edited by hand")
    (out / first["/plain"]["path"]).write_text("edited by hand")
    site.headers.clear()

    code, _, err = await run_cli(*job_args(site, out), "--recrawl")

    assert code == 0, err
    second = by_path(site, [r for r in lines(out / "records.jsonl") if r["crawl"] == 2])
    assert not any(h.get("If-None-Match") == '"v1"' or h.get("If-Modified-Since") for h in site.headers)
    for p in ("/etag", "/lm", "/plain"):
        assert second[p]["status"] == 200 and second[p]["change"] == "unchanged", second[p]
        body = (out / second[p]["path"]).read_bytes()
        assert hashlib.sha256(body).hexdigest() == second[p]["sha256"] == first[p]["sha256"]

    code, _, err = await run_cli(*job_args(site, out), "--recrawl")  # the files are whole again: 304s

    assert code == 0, err
    third = by_path(site, [r for r in lines(out / "records.jsonl") if r["crawl"] == 3])
    assert third["/etag"]["status"] == 304 and third["/lm"]["status"] == 304


async def test_page_files_named_by_the_previous_mapping_are_kept_and_replaced(site, tmp_path):
    """An OUT written before ``?a=b%26c`` got its own name (``p!a=b%26c``, now ``p!a=b%2526c``):
    a 304 keeps the old file, found through the record; a changed body goes under the new name."""
    version = ["v1"]

    async def page(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == f'"{version[0]}"':
            return web.Response(status=304, headers={"ETag": f'"{version[0]}"'})
        return web.Response(text=f"body {version[0]}", content_type="text/html", headers={"ETag": f'"{version[0]}"'})

    site.html("shop.test", "/", '<a href="/p?a=b%26c">p</a>')
    site.route("shop.test", "/p", page)
    await site.start()
    out = tmp_path / "o"
    assert (await run_cli(*job_args(site, out)))[0] == 0
    new = by_path(site, lines(out / "records.jsonl"))["/p?a=b%26c"]["path"]
    old = new.replace("%2526", "%26")  # what the previous release named it
    (out / new).rename(out / old)
    (out / "records.jsonl").write_text((out / "records.jsonl").read_text().replace(new, old))
    with sqlite3.connect(out / "state.sqlite") as db:
        assert db.execute("UPDATE visits SET path = ? WHERE path = ?", (old, new)).rowcount == 1

    code, _, err = await run_cli(*job_args(site, out), "--recrawl")
    assert code == 0, err
    second = by_path(site, [r for r in lines(out / "records.jsonl") if r["crawl"] == 2])["/p?a=b%26c"]
    assert (second["status"], second["path"]) == (304, old) and (out / old).read_text() == "body v1"

    version[0] = "v2"
    code, _, err = await run_cli(*job_args(site, out), "--recrawl")
    assert code == 0, err
    third = by_path(site, [r for r in lines(out / "records.jsonl") if r["crawl"] == 3])["/p?a=b%26c"]
    assert (third["change"], third["path"]) == ("changed", new) and (out / new).read_text() == "body v2"


async def test_kill_9_during_a_recrawl_then_the_same_command_finishes_that_recrawl(site, tmp_path):
    pages, out = await first_crawl(site, tmp_path)
    pages.generation = 2
    pages.hold.clear()
    args = [sys.executable, "-m", "crawler", *job_args(site, out), "--recrawl", "-q"]
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    await asyncio.wait_for(pages.held.wait(), 60)
    await until(
        lambda: any(r["crawl"] == 2 for r in lines(out / "records.jsonl")),
        "a checkpoint put records of crawl 2 on disk",
    )
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    pages.hold.set()

    code, _, err = await run_cli(*job_args(site, out), "--recrawl")

    assert code == 0, err
    assert "Resumed" in err and "crawl 2:" in err  # the same generation went on; no third one
    records = lines(out / "records.jsonl")
    second = by_path(site, [r for r in records if r["crawl"] == 2])
    assert {p: r["change"] for p, r in second.items()} == EXPECTED_CHANGES
    assert len([r for r in records if r["crawl"] == 2]) == len(EXPECTED_CHANGES)
    assert {r["crawl"] for r in records} == {1, 2}
    assert "crawl 2: 1 new, 2 changed, 4 unchanged, 1 gone" in err


FORMAT2_PAGES = {"/": '<a href="/a">a</a><a href="/b">b</a>', "/a": "page a", "/b": "page b"}


async def test_a_job_written_before_recrawls_existed_is_upgraded_and_recrawled(site, tmp_path):
    """tests/fixtures/format2-job was written by the previous release (state format 2, no
    visits): opened by this one, it is upgraded in place, learns each URL's digest from its
    records, and a re-crawl of the same pages finds them unchanged."""
    for path, body in FORMAT2_PAGES.items():
        site.route("old.test", path, _old_page(path, body))
    await site.start()
    out = tmp_path / "job"
    db = copy_job_fixture("format2-job", out, site.port)
    port = str(site.port)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    db.close()
    mtime = (out / "pages" / f"old.test_{port}" / "a").stat().st_mtime_ns

    code, _, err = await run_cli(
        "crawl", site.url("old.test"), "--resolve", site.pin("old.test")[0], "-o", str(out), "--recrawl"
    )

    assert code == 0, err
    assert "Re-crawl: crawl 2, 3 known URLs due again" in err
    assert "crawl 2: 0 new, 0 changed, 3 unchanged, 0 gone" in err
    assert sqlite3.connect(out / "state.sqlite").execute("PRAGMA user_version").fetchone()[0] == VERSION
    assert (out / "pages" / f"old.test_{port}" / "a").stat().st_mtime_ns == mtime
    assert (out / "changes.jsonl").read_text() == ""


def _old_page(path: str, body: str):
    async def handler(_: web.Request) -> web.Response:
        return web.Response(text=f"<html><title>{path}</title><body>{body}</body></html>", content_type="text/html")

    return handler


async def test_a_job_shared_through_redis_is_recrawled_by_its_workers(site, redis_url, tmp_path):
    """Two workers (--processes 2) crawl, then re-crawl: each brings its shard's URLs and their
    validators back to the job; the merged records and changes are those of one process."""
    pages = ChangingSite(site)
    await site.start()
    out = tmp_path / "o"
    args = [
        "crawl",
        site.url("shop.test"),
        "--resolve",
        site.pin("shop.test")[0],
        "-o",
        str(out),
        "--frontier",
        redis_url,
        "--name",
        "shop",
        "--processes",
        "2",
        "--retries",
        "0",
    ]
    code, _, err = await run_cli(*args)
    assert code == 0, err
    site.headers.clear()
    pages.generation = 2

    code, _, err = await run_cli(*args, "--recrawl")

    assert code == 0, err
    records = lines(out / "records.jsonl")  # merged from the shards
    second = by_path(site, [r for r in records if r["crawl"] == 2])
    assert {p: r["change"] for p, r in second.items()} == EXPECTED_CHANGES
    assert len(records) == len(EXPECTED_CHANGES) - 1 + len(EXPECTED_CHANGES)  # /new is only in crawl 2
    changes = {p: r["change"] for p, r in by_path(site, lines(out / "changes.jsonl")).items()}
    assert changes == {p: c for p, c in EXPECTED_CHANGES.items() if c != "unchanged"}
    assert any(h.get("If-None-Match") == '"v1"' for h in site.headers)
    assert second["/etag"]["status"] == 304 and (out / second["/etag"]["path"]).is_file()


async def test_adaptive_recrawls_come_back_sooner_to_pages_that_changed(site, tmp_path):
    """recrawl: adaptive with recrawl_after 1h. The clock is moved by ageing the stored visits:
    after 90 minutes every page is due; after crawl 2, pages that changed are due again in 30
    minutes and unchanged ones in 2 hours, so 45 minutes later crawl 3 fetches only the former."""
    pages, out = await first_crawl(site, tmp_path)
    pages.generation = 2
    adaptive = [*job_args(site, out), "--recrawl", "--recrawl-adaptive", "--recrawl-after", "1h"]

    def age(seconds: int) -> None:
        db = sqlite3.connect(out / "state.sqlite")
        db.execute("UPDATE visits SET fetched_at = fetched_at - ?", (seconds,))
        db.commit()
        db.close()

    code, _, err = await run_cli(*adaptive)
    assert code == 0 and "Re-crawl: crawl 2, 0 known URLs due again" in err, err  # fetched just now
    age(90 * 60)
    code, _, err = await run_cli(*adaptive)
    assert code == 0 and "Re-crawl: crawl 3, 7 known URLs due again" in err, err
    third = by_path(site, [r for r in lines(out / "records.jsonl") if r["crawl"] == 3])
    assert third.keys() == EXPECTED_CHANGES.keys()
    age(45 * 60)

    code, _, err = await run_cli(*adaptive)

    assert code == 0, err
    fourth = by_path(site, [r for r in lines(out / "records.jsonl") if r["crawl"] == 4])
    assert sorted(fourth) == sorted(p for p, r in third.items() if r["change"] != "unchanged")


async def test_a_page_that_failed_last_time_is_parsed_when_it_answers_again(site, tmp_path):
    """A 404 in crawl 1, a page in crawl 2: its body is new, so it is parsed (title, links), not
    taken for the unchanged page of a visit that left no digest."""
    generation = {"now": 1}

    async def back(_: web.Request) -> web.Response:
        if generation["now"] == 1:
            raise web.HTTPNotFound()
        return web.Response(text=ChangingSite.page("Back", '<a href="/child">c</a>'), content_type="text/html")

    site.route("shop.test", "/", back)
    site.html("shop.test", "/child", "", title="Child")
    await site.start()
    out = tmp_path / "o"
    code, _, err = await run_cli(*job_args(site, out))
    assert code == 0, err
    generation["now"] = 2

    code, _, err = await run_cli(*job_args(site, out), "--recrawl")

    assert code == 0, err
    second = by_path(site, [r for r in lines(out / "records.jsonl") if r["crawl"] == 2])
    assert second["/"]["status"] == 200 and second["/"]["title"] == "Back"
    assert second["/child"]["title"] == "Child"
    body = (out / second["/"]["path"]).read_bytes()
    assert hashlib.sha256(body).hexdigest() == second["/"]["sha256"]
