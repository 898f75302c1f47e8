"""Crash safety: kill -9 at random moments, resume, and end with exactly what an uninterrupted crawl has."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import sqlite3
import sys
from collections import Counter
from pathlib import Path

from aiohttp import web
from warcio.archiveiterator import ArchiveIterator

from tests.helpers.cli import run_cli
from tests.helpers.output import read_records
from tests.helpers.timing import until

HOSTS = ["p.test", "q.test", "r.test"]
PAGES = 2400


def page_html(i: int) -> bytes:
    """Page i links to the next page, a few pseudo-random ones, sometimes a 404 or a redirect."""
    rng = random.Random(i)
    targets = [(i + 1) % PAGES] + [rng.randrange(PAGES) for _ in range(6)]
    links = "".join(f'<a href="http://{HOSTS[t % 3]}:PORT/p{t}">{t}</a>' for t in targets)
    if i % 97 == 0:
        links += f'<a href="/missing{i}">gone</a>'
    if i % 89 == 0:
        links += f'<a href="/old{i}">moved</a>'
    return f"<html><title>page {i}</title><body>{links}{'x' * rng.randrange(200, 3000)}</body></html>".encode()


def serve_graph(
    site, kill_after: list[int], victims: list[asyncio.subprocess.Process], orphans: list[int] | None = None
) -> None:
    """Route every host to the generated graph; SIGKILL the victim after ``kill_after[0]`` hits
    (its children, the parser process, go into ``orphans``)."""

    async def handler(request: web.Request) -> web.Response:
        if victims and kill_after[0] > 0:
            kill_after[0] -= 1
            if kill_after[0] == 0:
                pid = victims[-1].pid
                if orphans is not None:
                    orphans.extend(map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split()))
                victims[-1].kill()
        path = request.path
        if path.startswith("/old"):
            raise web.HTTPMovedPermanently(f"/p{path[4:]}")
        if not path.startswith("/p"):
            raise web.HTTPNotFound()
        body = page_html(int(path[2:])).replace(b"PORT", str(site.port).encode())
        return web.Response(body=body, content_type="text/html")

    for h in HOSTS:
        site.route(h, "*", handler)


async def crawl_proc(site, out: Path, *extra: str) -> asyncio.subprocess.Process:
    args = [
        "crawl",
        *(site.url(h, f"/p{i}") for i, h in enumerate(HOSTS)),
        "-o",
        str(out),
        "--concurrency",
        "16",
        "--per-host",
        "4",
        "-q",
        *extra,
    ]
    for pin in site.pin(*HOSTS):
        args += ["--resolve", pin]
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )


async def exited(pid: int, timeout: float) -> bool:
    """Wait (event-driven, via a pidfd) until process ``pid`` has exited."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    loop = asyncio.get_running_loop()
    gone = loop.create_future()
    loop.add_reader(fd, lambda: gone.done() or gone.set_result(True))
    try:
        return await asyncio.wait_for(gone, timeout)
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def records(out: Path) -> list[dict]:
    with open(out / "records.jsonl", "rb") as f:
        return [json.loads(line) for line in f if line.endswith(b"\n")]


async def test_sigkill_at_random_moments_then_resume_equals_uninterrupted_crawl(site, tmp_path):
    kill_after = [0]
    victims: list[asyncio.subprocess.Process] = []
    orphans: list[int] = []
    serve_graph(site, kill_after, victims, orphans)

    clean = tmp_path / "clean"
    proc = await crawl_proc(site, clean)
    assert await asyncio.wait_for(proc.wait(), 120) == 0, (await proc.stderr.read()).decode()
    expected = {r["url"] for r in records(clean) if r["status"] == 200}
    assert len(expected) == PAGES

    out = tmp_path / "crashy"
    rng = random.Random(2026)
    site.hits.clear()
    kills = 0
    done_before: dict[str, int] = {}
    for _ in range(5):
        kill_after[0] = rng.randint(30, 700)
        victims.append(await crawl_proc(site, out, "--warc"))
        code = await asyncio.wait_for(victims[-1].wait(), 120)
        if code == 0:
            break
        assert code == -9
        kills += 1
        for pid in orphans:  # the parser process sees its parent gone and exits
            assert await exited(pid, 30), f"parser process {pid} outlived its killed crawler"
        orphans.clear()
        for r in records(out):  # recorded before the kill: must never be fetched again
            path = "/" + r["url"].split("/", 3)[3]
            done_before.setdefault(r["url"], site.hits[(r["url"].split("/")[2].split(":")[0], path)])
    assert kills >= 3
    kill_after[0] = 0
    proc = await crawl_proc(site, out, "--warc")
    assert await asyncio.wait_for(proc.wait(), 120) == 0, (await proc.stderr.read()).decode()

    final = records(out)
    with open(out / "crawl.warc.gz", "rb") as f:  # whole after every kill: torn tails were cut
        archived = {
            rec.rec_headers.get_header("WARC-Target-URI") for rec in ArchiveIterator(f) if rec.rec_type == "response"
        }
    assert {r["url"] for r in final if r["status"] == 200} <= archived
    per_url = Counter(r["url"] for r in final)
    assert max(per_url.values()) == 1, per_url.most_common(3)
    assert set(per_url) == {r["url"] for r in records(clean)}
    assert {r["url"] for r in final if r["status"] == 200} == expected
    for r in final:
        if r["status"] == 200:
            body = (out / r["path"]).read_bytes()
            assert hashlib.sha256(body).hexdigest() == r["sha256"]
            assert body == page_html(int(r["url"].rsplit("/p", 1)[1])).replace(b"PORT", str(site.port).encode())
    for url, hits in done_before.items():
        host, path = url.split("/")[2].split(":")[0], "/" + url.split("/", 3)[3]
        assert site.hits[(host, path)] == hits, f"{url} fetched again after its record was written"
    assert not any((out / ".tmp").iterdir())


async def test_corrupt_or_foreign_state_is_a_clear_error_not_a_fresh_start(tmp_path):
    for name, make in [
        ("garbage", lambda p: p.write_bytes(b"this is not sqlite" * 100)),
        ("foreign", lambda p: sqlite3.connect(p).execute("CREATE TABLE t (x)").connection.commit()),
    ]:
        out = tmp_path / name
        out.mkdir()
        make(out / "state.sqlite")
        before = (out / "state.sqlite").read_bytes()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "crawler",
            "crawl",
            "http://127.0.0.1:9/",
            "-o",
            str(out),
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        text = err.decode()
        assert proc.returncode == 1 and len(text.strip().splitlines()) == 1, text
        assert "not a crawler state file" in text and "--fresh" in text
        assert (out / "state.sqlite").read_bytes() == before
        assert not (out / "records.jsonl").exists()


async def test_fresh_starts_over_and_status_reports_progress(site, crawl, tmp_path):
    site.html("a.test", "/", '<a href="/x">x</a>')
    site.html("a.test", "/x", "x")
    out = tmp_path / "o"
    await crawl(start_urls=[site.url("a.test")], resolve=site.pin("a.test"), output=out)
    again = await crawl(start_urls=[site.url("a.test")], resolve=site.pin("a.test"), output=out)
    assert again.stats.resumed == 2 and again.stats.records == 0  # robots.txt is not a record
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler", "status", str(out), stdout=asyncio.subprocess.PIPE
    )
    text = (await proc.communicate())[0].decode()
    assert "stopped" in text and "2 admitted, 2 done, 0 queued" in text and "2 in records.jsonl" in text
    fresh = await crawl(start_urls=[site.url("a.test")], resolve=site.pin("a.test"), output=out, fresh=True)
    assert fresh.stats.records == 2 and len(fresh.records) == 2


DIE_AT_COMMIT = """
import os, sys
from crawler.frontier.sqlite import SqliteFrontier
from crawler.cli import main
n = int(os.environ["DIE_AT_COMMIT"])
real = SqliteFrontier.commit
async def commit(self):
    global n
    n -= 1
    if n == 0:
        os._exit(9)  # the process dies at a checkpoint, as a kill -9 there would do
    await real(self)
SqliteFrontier.commit = commit
sys.argv = ["crawler", *sys.argv[1:]]
main()
"""


async def test_death_at_any_checkpoint_loses_no_link(site, tmp_path):
    """A binary tree: each page is linked from exactly one parent, so a child lost at a crash
    (its parent's record on disk, the child not in the store) would lose a whole subtree."""
    size = 1500

    async def tree(request: web.Request) -> web.Response:
        i = int(request.path[2:])
        kids = "".join(f'<a href="/p{k}">{k}</a>' for k in (2 * i + 1, 2 * i + 2) if k < size)
        return web.Response(text=f"<html><body>{kids}{'y' * 4000}</body></html>", content_type="text/html")

    site.route("t.test", "*", tree)
    out = tmp_path / "o"
    args = [
        "crawl",
        site.url("t.test", "/p0"),
        "--resolve",
        site.pin("t.test")[0],
        "-o",
        str(out),
        "--ignore-robots",
        "--concurrency",
        "8",
        "--per-host",
        "8",
        "-q",
    ]
    for die_at in (2, 3, 5, 8):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            DIE_AT_COMMIT,
            *args,
            env={**os.environ, "DIE_AT_COMMIT": str(die_at)},
            stderr=asyncio.subprocess.PIPE,
        )
        code = await asyncio.wait_for(proc.wait(), 60)
        if code == 0:
            break
        assert code == 9, (await proc.stderr.read()).decode()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "crawler", *args, stderr=asyncio.subprocess.PIPE)
    assert await asyncio.wait_for(proc.wait(), 60) == 0, (await proc.stderr.read()).decode()
    urls = Counter(r["url"] for r in records(out))
    assert max(urls.values()) == 1
    assert set(urls) == {site.url("t.test", f"/p{i}") for i in range(size)}


async def test_per_host_cap_counts_across_resumes(site, tmp_path):
    """Every page links to the next three; a run stopped early and resumed still admits at most
    ``max_pages_per_host`` URLs in total, not that many again."""
    from crawler.config import Job
    from crawler.engine import Crawl

    crawls: list[Crawl] = []

    async def page(request: web.Request) -> web.Response:
        i = int(request.path[2:])
        if sum(site.hits.values()) == 3:
            crawls[-1].stop()
        links = "".join(f'<a href="/p{j}">{j}</a>' for j in range(i + 1, i + 4))
        return web.Response(text=links, content_type="text/html")

    site.route("c.test", "*", page)
    job = Job.model_validate(
        {
            "start_urls": [site.url("c.test", "/p0")],
            "resolve": site.pin("c.test"),
            "output": str(tmp_path / "o"),
            "ignore_robots": True,
            "per_host": 1,
            "max_pages_per_host": 8,
        }
    )
    crawls.append(Crawl(job))
    first = await crawls[-1].run()
    assert first.interrupted and first.records < 8
    crawls.append(Crawl(job))
    await crawls[-1].run()
    urls = {json.loads(line)["url"] for line in open(tmp_path / "o/records.jsonl", "rb")}
    assert len(urls) == 8


async def test_a_retry_before_a_kill_counts_in_the_record_after_the_resume(site, tmp_path):
    """Attempts are part of a URL's saved state: the 503 it got before a kill -9 counts in the
    record that the resumed crawl writes."""
    busy = True

    async def flaky(_: web.Request) -> web.Response:
        if busy:  # the host pauses for a minute (Retry-After is capped at max_retry_after)...
            return web.Response(status=503, headers={"Retry-After": "3600"})
        return web.Response(text="<p>ok</p>", content_type="text/html")

    site.route("k.test", "/", flaky)
    out = tmp_path / "o"
    args = ["crawl", site.url("k.test"), "-o", str(out), "-q", "--retries", "2", "--resolve", *site.pin("k.test")]
    first = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )

    def retry_saved() -> bool:
        state = out / "state.sqlite"
        if not state.exists():
            return False
        try:
            with contextlib.closing(sqlite3.connect(f"file:{state}?mode=ro", uri=True)) as db:
                return db.execute("SELECT attempt FROM urls").fetchall() == [(1,)]
        except sqlite3.Error:  # not created yet
            return False

    await until(retry_saved, "the first attempt saved")
    first.kill()
    assert await first.wait() == -9
    busy = False
    code, _, err = await run_cli(*args)  # ...which the next process knows nothing of
    assert code == 0, err
    (record,) = read_records(out)
    assert (record["status"], record["attempts"]) == (200, 2) and site.hits[("k.test", "/")] == 2
