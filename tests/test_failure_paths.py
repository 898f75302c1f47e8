"""Failure paths of the crawl itself: state that cannot be saved, damaged files on resume, bugs of
ours, a pool of proxies that is cooling down, and backends whose awaits really suspend."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import pytest
from aiohttp import web

from crawler.config import Job
from crawler.core.errors import CheckpointError
from crawler.engine import Crawl
from crawler.frontier.sqlite import SqliteFrontier
from crawler.net import fetch
from crawler.observe.stats import MAX_WARNINGS, Stats
from crawler.scheduling.limiter import LocalHostLimiter
from crawler.sinks.records import RecordSink
from tests.helpers.frontier_doubles import YieldingFrontier
from tests.helpers.output import read_records


def links(paths: list[str]) -> str:
    return "".join(f'<a href="{p}">{p}</a>' for p in paths)


def serve_tree(site, host: str, pages: int) -> list[str]:
    """A seed linking to ``pages`` pages; returns every URL of the site."""
    site.html(host, "/", links([f"/p{i}" for i in range(pages)]))
    for i in range(pages):
        site.html(host, f"/p{i}", "leaf", title=f"p{i}")
    return [site.url(host)] + [site.url(host, f"/p{i}") for i in range(pages)]


class FailingCommit(YieldingFrontier):
    """The state store fails (disk full, I/O error) once ``fail_after`` URLs are done."""

    def __init__(self, inner, fail_after: int) -> None:
        super().__init__(inner)
        self.finished = 0
        self.fail_after = fail_after

    async def done(self, lease, visit=None) -> None:
        self.finished += 1
        await super().done(lease, visit)

    async def commit(self) -> None:
        if self.finished >= self.fail_after:
            raise sqlite3.OperationalError("database or disk is full")
        await super().commit()

    async def close(self) -> None:
        if self.finished < self.fail_after:
            await self.inner.close()
            return
        self.inner._conn().close()  # the process's view: nothing after the last commit is kept
        self.inner._db = None
        raise sqlite3.OperationalError("database or disk is full")


async def test_a_failed_commit_stops_the_crawl_and_never_doubles_a_record(site, tmp_path):
    """The first checkpoint (64 KB of records, ~160) succeeds; one after 250 records fails."""
    urls = serve_tree(site, "a.test", 500)
    out = tmp_path / "out"
    job = Job.model_validate(
        {
            "start_urls": [site.url("a.test")],
            "resolve": site.pin("a.test"),
            "output": out,
            "ignore_robots": True,
            "concurrency": 4,
        }
    )
    inner = SqliteFrontier(out / "state.sqlite", out / "records.jsonl")
    with pytest.raises(CheckpointError, match=r"database or disk is full.*run the same command again"):
        await Crawl(job, frontier=FailingCommit(inner, fail_after=250)).run()
    first = Counter(r["url"] for r in read_records(out))
    assert 0 < len(first) < 250 and set(first.values()) == {1}
    assert not any(r["error"] and r["error"]["kind"] == "internal" for r in read_records(out))

    stats = await Crawl(job).run()  # the same job again resumes from the last good commit
    final = Counter(r["url"] for r in read_records(out))
    assert sorted(final) == sorted(urls) and set(final.values()) == {1}
    assert stats.resumed == len(first)


async def test_records_on_a_full_disk_exit_1_with_one_line(site, tmp_path):
    serve_tree(site, "a.test", 30)
    out = tmp_path / "out"
    out.mkdir()
    (out / "records.jsonl").symlink_to("/dev/full")  # every write: ENOSPC
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crawler",
        "crawl",
        site.url("a.test"),
        "--resolve",
        *site.pin("a.test"),
        "-o",
        str(out),
        "--frontier",
        "memory",
        "--ignore-robots",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 1
    assert lines == [
        "error: cannot save the crawl's state (No space left on device); stopped; run the same command again to resume"
    ]


def test_record_sink_keeps_lines_a_failed_write_did_not_store(tmp_path):
    sink = RecordSink(Path("/dev/full"), truncate=False)
    sink.write({"url": "http://a/1"})
    sink.write({"url": "http://a/2"})
    mark = sink.mark()
    sink.write({"url": "http://a/3"})
    with pytest.raises(OSError):
        sink.flush(mark)
    assert sink.mark() == 2 and sink.pending_bytes == 3 * len(b'{"url":"http://a/1"}\n')
    sink.close(flush=False)


async def test_resume_sets_damaged_records_and_items_aside_and_goes_on(site, tmp_path):
    urls = serve_tree(site, "a.test", 20)
    out = tmp_path / "out"
    job = {
        "start_urls": [site.url("a.test")],
        "resolve": site.pin("a.test"),
        "output": out,
        "ignore_robots": True,
        "format": "csv",
        "extract": [{"name": "page", "match": "*", "fields": {"title": "title"}}],
    }
    await Crawl(Job.model_validate(job)).run()
    lines = (out / "records.jsonl").read_bytes().splitlines(keepends=True)
    damaged_url = json.loads(lines[4])["url"]
    lines[4] = lines[4][:30] + b"\n"  # a record cut in half, in the middle of the file
    lines.insert(2, b"\x00\x00 not json\n")
    (out / "records.jsonl").write_bytes(b"".join(lines))
    with open(out / "items.csv", "ab") as f:
        f.write(b'one,"two,three\n')  # a row torn inside a quoted field (kill -9 mid-write)

    stats = await Crawl(Job.model_validate(job)).run()
    assert stats.damaged == 3
    records = read_records(out)
    assert sorted(r["url"] for r in records) == sorted(urls)  # the damaged one was fetched again
    assert sum(r["url"] == damaged_url for r in records) == 1
    assert (out / "records.jsonl.damaged").read_bytes().count(b"\n") == 2
    assert b'"two,three' in (out / "items.csv.damaged").read_bytes()
    rows = (out / "items.csv").read_text().splitlines()
    assert rows[0] == "url,rule,title"
    item_urls = Counter(row.split(",")[0] for row in rows[1:])  # a refetched page's item repeats
    assert sorted(item_urls) == sorted(urls) and item_urls[damaged_url] == 2


async def test_a_bug_of_ours_is_an_internal_error_with_a_warning(site, crawl, monkeypatch):
    serve_tree(site, "a.test", 3)
    original = fetch.Fetcher._handle

    async def buggy(self, resp, url, *rest):
        if url.path == "/p1":
            raise TypeError("unsupported operand")
        return await original(self, resp, url, *rest)

    monkeypatch.setattr(fetch.Fetcher, "_handle", buggy)
    r = await crawl(start_urls=[site.url("a.test")], resolve=site.pin("a.test"), ignore_robots=True)
    bad = r.by_url[site.url("a.test", "/p1")]
    assert bad["error"] == {"kind": "internal", "message": "TypeError: unsupported operand"}
    assert any("internal error" in w and "TypeError" in w for w in r.stats.warnings)
    assert all(r.by_url[site.url("a.test", p)]["status"] == 200 for p in ("/", "/p0", "/p2"))


async def test_requests_waiting_for_a_proxy_hold_no_slot(site, crawl, unused_tcp_port):
    """Host a.test goes through a dead proxy (cooling down), b.test goes direct: b.test's pages
    are all fetched while a.test's requests wait for the pool, not after they give up."""
    serve_tree(site, "b.test", 20)
    a_seeds = [site.url("a.test", f"/a{i}") for i in range(4)]  # enough to fill every slot
    r = await crawl(
        start_urls=[*a_seeds, site.url("b.test")],
        resolve=site.pin("a.test", "b.test"),
        ignore_robots=True,
        concurrency=2,
        per_host=2,
        proxy_wait=10,
        proxy_cooldown=30,
        proxy_rules=[{"match": "a.test", "proxy": f"http://127.0.0.1:{unused_tcp_port}"}],
    )
    order = [rec["url"].split("/")[2].split(":")[0] for rec in r.records]
    assert order.count("b.test") == 21 and all(rec["status"] == 200 for rec in r.records if "b.test" in rec["url"])
    assert all(r.by_url[u]["error"]["kind"] == "proxy" for u in a_seeds)
    assert order.index("a.test") > max(i for i, h in enumerate(order) if h == "b.test")


@pytest.mark.parametrize("sitemaps", [False, True])
async def test_robots_and_sitemap_fetches_keep_the_hosts_delay(site, tmp_path, sitemaps):
    """robots.txt (asked for by the first page, or by sitemap seeding) and sitemaps are requests
    like any other: every start on the host, theirs included, is ``delay`` after the last."""
    site.route("a.test", "/robots.txt", _text(f"Sitemap: {site.url('a.test', '/sitemap.xml')}\n"))
    site.route("a.test", "/sitemap.xml", _text(f"<urlset><url><loc>{site.url('a.test', '/p0')}</loc></url></urlset>"))
    serve_tree(site, "a.test", 2)
    job = Job.model_validate(
        {
            "start_urls": [site.url("a.test")],
            "resolve": site.pin("a.test"),
            "per_host": 1,
            "delay": 0.6,
            "sitemaps": sitemaps,
            "adaptive": False,
            "output": tmp_path / "o",
        }
    )
    await Crawl(job).run()
    starts = site.starts["a.test"]
    assert site.hits[("a.test", "/robots.txt")] == 1 and site.hits[("a.test", "/sitemap.xml")] == int(sitemaps)
    assert len(starts) == 4 + sitemaps
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 0.3, gaps  # arrival times: a request reaching the server late eats into one gap


def _text(body: str):
    async def handler(_: web.Request) -> web.Response:
        return web.Response(text=body)

    return handler


async def test_a_crawl_on_a_suspending_frontier_matches_a_plain_one(site, tmp_path):
    """Every frontier call yields to the loop (as Redis would): same records, caps still hold."""
    for h in ("a.test", "b.test", "c.test"):
        site.html(
            h,
            "/",
            links([f"http://{x}:{site.port}/{h[0]}{i}" for x in ("a.test", "b.test", "c.test") for i in range(15)]),
        )
        site.route(h, "*", _page)
    seeds = [site.url(h) for h in ("a.test", "b.test", "c.test")]
    fields = {
        "start_urls": seeds,
        "resolve": site.pin("a.test", "b.test", "c.test"),
        "ignore_robots": True,
        "concurrency": 8,
        "per_host": 3,
        "max_pages_per_host": 25,
        "max_pages": 70,
    }
    plain = await Crawl(Job.model_validate({**fields, "output": tmp_path / "plain"})).run()
    out = tmp_path / "yielding"
    frontier = YieldingFrontier(SqliteFrontier(out / "state.sqlite", out / "records.jsonl"))
    stats = await Crawl(Job.model_validate({**fields, "output": out}), frontier=frontier).run()
    records = read_records(out)
    per_host = Counter(rec["url"].split("/")[2] for rec in records)
    assert len(records) == 70 == stats.records == plain.records and frontier.calls > 100
    assert len({rec["url"] for rec in records}) == 70 and max(per_host.values()) <= 25
    assert all(rec["status"] == 200 for rec in records)


async def _page(_: web.Request) -> web.Response:
    return web.Response(text="<title>x</title>", content_type="text/html")


async def test_per_host_state_stays_bounded_over_many_hosts():
    limiter = LocalHostLimiter(per_host=2, delay=0.0)
    for i in range(50_000):
        host = f"h{i}.test:80"
        assert await limiter.acquire(host) == 0
        await limiter.release(host)
    assert len(limiter) < 10_000
    stats = Stats()
    for i in range(5 * MAX_WARNINGS):
        stats.warn(f"robots.txt of h{i} unavailable")
    assert len(stats.warnings) == MAX_WARNINGS and stats.warning_count == 5 * MAX_WARNINGS


async def test_redirect_targets_pass_admission_like_links(site, crawl):
    """A redirect to a URL longer than max_url_length is refused as a link would be (it used to
    skip the length check); one within the limit is followed."""
    long_path = "/" + "x" * 120

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(long_path if request.path == "/long" else "/short-target")

    site.route("a.test", "/long", redirect)
    site.route("a.test", "/short", redirect)
    site.html("a.test", "/short-target", "ok")
    site.html("a.test", long_path, "never")
    r = await crawl(
        start_urls=[site.url("a.test", "/long"), site.url("a.test", "/short")],
        resolve=site.pin("a.test"),
        ignore_robots=True,
        max_url_length=100,
    )
    long_rec = r.by_url[site.url("a.test", "/long")]
    assert long_rec["error"]["kind"] == "redirect" and "max_url_length" in long_rec["error"]["message"]
    assert site.hits[("a.test", long_path)] == 0
    assert r.by_url[site.url("a.test", "/short-target")]["status"] == 200


async def test_robots_rules_are_kept_for_a_bounded_number_of_hosts(site, crawl, monkeypatch):
    """With room for 3 hosts' rules, 8 hosts are crawled: rules are evicted oldest first (asked
    again if the host comes back), and each host's robots.txt still holds for its pages."""
    from crawler.net import robots

    monkeypatch.setattr(robots, "CACHE", 3)
    hosts = [f"h{i}.test" for i in range(8)]
    for h in hosts:
        site.route(h, "/robots.txt", _text("User-agent: *\nDisallow: /private\n"))
        site.html(h, "/", '<a href="/private">p</a><a href="/open">o</a>')
        site.html(h, "/open", "open")
    r = await crawl(start_urls=[site.url(h) for h in hosts], resolve=site.pin(*hosts), concurrency=2)
    assert all(site.hits[(h, "/private")] == 0 and site.hits[(h, "/open")] == 1 for h in hosts)
    assert len(r.crawl.net.robots._rules) <= 3


async def test_robots_txt_past_the_cache_is_parsed_again_not_fetched_again(site, crawl, monkeypatch):
    """A host whose parsed rules were dropped (CACHE) keeps its robots.txt text: coming back to
    it (here: h0 to h7 are visited in a chain, then z links a page of each) parses that again (the
    rules still hold) without a second request; with no room for the texts either (FORMS_BYTES),
    it is asked again."""
    from crawler.net import robots

    monkeypatch.setattr(robots, "CACHE", 2)
    hosts = [f"h{i}.test" for i in range(8)]
    for h, after in zip(hosts, [*hosts[1:], "z.test"], strict=True):
        site.route(h, "/robots.txt", _text("User-agent: *\nDisallow: /private\n"))
        site.html(h, "/", f'<a href="{site.url(after)}">next</a>')
        site.html(h, "/open", "open")
    site.html(
        "z.test", "/", "".join(f'<a href="{site.url(h)}private">p</a><a href="{site.url(h)}open">o</a>' for h in hosts)
    )
    job = {"start_urls": [site.url("h0.test")], "resolve": site.pin(*hosts, "z.test"), "allow_domains": ["test"]}
    r = await crawl(**job)
    assert all(site.hits[(h, "/private")] == 0 and site.hits[(h, "/open")] == 1 for h in hosts)
    assert all(site.hits[(h, "/robots.txt")] == 1 for h in hosts)
    assert len(r.crawl.net.robots._rules) <= 2

    monkeypatch.setattr(robots, "FORMS_BYTES", 0)
    await crawl(**job, fresh=True)
    assert all(site.hits[(h, "/private")] == 0 and site.hits[(h, "/open")] == 2 for h in hosts)
    assert sum(site.hits[(h, "/robots.txt")] for h in hosts) >= 2 * len(hosts) + len(hosts) - 2  # all but 2 again


class SlowCommit(YieldingFrontier):
    """The first commit stays suspended (a slow networked store) until the store is being closed,
    and then fails as a closed connection does: the race the engine must not run into. Later
    commits (the engine's last checkpoint) go through."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.closing = asyncio.Event()
        self.commits = 0

    async def commit(self) -> None:
        self.commits += 1
        if self.commits > 1:
            return await super().commit()
        await self.closing.wait()
        raise sqlite3.ProgrammingError("Cannot operate on a closed database.")

    async def close(self) -> None:
        self.closing.set()
        await super().close()


async def test_the_last_commit_never_races_a_checkpoint_in_progress(site, tmp_path):
    """The crawl ends while a checkpoint is suspended in its commit: the checkpoint is stopped
    before the last commit, so the crawl finishes cleanly with every record kept."""
    urls = serve_tree(site, "a.test", 60)
    out = tmp_path / "out"
    job = Job.model_validate(
        {"start_urls": [site.url("a.test")], "resolve": site.pin("a.test"), "output": out, "ignore_robots": True}
    )
    crawl = Crawl(job, frontier=SlowCommit(SqliteFrontier(out / "state.sqlite", out / "records.jsonl")))
    crawl._flush_now.set()
    stats = await crawl.run()
    assert stats.records == len(urls) == len(read_records(out))
