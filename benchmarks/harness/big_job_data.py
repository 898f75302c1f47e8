"""A crawl's output at a million URLs, made without crawling (for ``scenarios/big_job.py``).

The job is a broad crawl of HOSTS seed hosts, PER_HOST URLs each: the root page (a seed, depth 0)
links the host's other pages (depth 1). Hosts are loopback addresses (``127.a.b.c:PORT``), so one
local server can answer for all of them when the job is resumed (``serve``). Everything is written
by the crawler's own code: ``Record.as_json`` through ``RecordSink``, the ``SqliteFrontier``'s
``add``/``lease``/``done``/``commit`` (with the visit ``crawler.recrawl.visit_after`` makes), and
``StatsLog`` on a clock that moves 15 minutes over the crawl. Hosts are crawled in groups of
GROUP, roots first, so records of many hosts interleave as they do in a broad crawl.

Outcomes, fixed by a seeded random generator: mostly 200, about 4% 404s, 2% redirects, one URL in
40 refused by robots.txt (hosts ``n % 4 == 0`` disallow ``/private/``), and timeouts, refused
connections, 500s, oversized and undecodable bodies below 1% each.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import orjson

import crawler.observe.statslog as statslog
from crawler.core.errors import FetchError, Kind
from crawler.core.record import Record
from crawler.core.request import Lease, Request
from crawler.frontier.sqlite import SqliteFrontier
from crawler.observe.stats import Stats
from crawler.observe.statslog import StatsLog
from crawler.recrawl import RecrawlSettings, visit_after
from crawler.sinks.records import RecordSink

GROUP = 1000  # hosts crawled together
START = 1_796_500_000.0  # the fake clock's start (epoch seconds)
CRAWL_SECONDS = 900.0  # the whole crawl's span on the fake clock
SECTIONS = ("news", "blog", "docs", "shop", "help", "about")
WORDS = ("garden", "tools", "winter", "report", "guide", "market", "river", "update", "notes", "review")
NO_RECRAWL = RecrawlSettings(after=None, rules=(), adaptive=False)


def host_of(n: int, port: int) -> str:
    """Host ``n``'s key (``host:port``): a loopback address, so one server answers them all."""
    return f"127.{1 + n // 65536}.{(n // 256) % 256}.{n % 256}:{port}"


def number_of(address: str) -> int:
    """``host_of`` backwards (the address without its port)."""
    _, a, b, c = (int(x) for x in address.split("."))
    return (a - 1) * 65536 + b * 256 + c


def page_path(n: int, k: int) -> str:
    """URL path of page ``k`` of host ``n``: ``/`` for the root; the last page of a host ``n % 4 == 0``
    is under ``/private/``, which its robots.txt disallows."""
    if k == 0:
        return "/"
    words = "-".join(WORDS[(n + k * i) % len(WORDS)] for i in range(1, 4))
    folder = "private" if n % 4 == 0 and k == 9 else SECTIONS[(n + k) % len(SECTIONS)]
    return f"/{folder}/2026/{words}-{k}.html"


class _Clock:
    """Stands in for the ``time`` module of ``crawler.observe.statslog``: moves only when told."""

    def __init__(self) -> None:
        self.now = START

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now - START


def _outcome(n: int, k: int, rng: random.Random) -> str:
    if k == 0:
        return "ok"  # a root always answers: its links are the host's other URLs
    if n % 4 == 0 and k == 9:
        return "robots"
    r = rng.random()
    for kind, below in (
        ("404", 0.040),
        ("301", 0.060),
        ("timeout", 0.066),
        ("connect", 0.069),
        ("500", 0.072),
        ("too_large", 0.073),
        ("decode", 0.074),
    ):
        if r < below:
            return kind
    return "ok"


def _record(
    request: Request, n: int, k: int, port: int, when: float, rng: random.Random
) -> tuple[Record, dict[str, str]]:
    """The record (and response headers) a crawl would have written for ``request``."""
    url = request.url
    fetched = _iso(when)
    r = Record(
        url, request.depth, request.parent, 1, fetched_at=fetched, elapsed_ms=round(rng.lognormvariate(4, 0.8), 1)
    )
    kind = _outcome(n, k, rng)
    headers: dict[str, str] = {}
    if kind == "ok":
        r.status, r.final_url, r.content_type = 200, url, "text/html; charset=utf-8"
        r.bytes = int(rng.lognormvariate(9.5, 0.9))
        r.sha256 = hashlib.sha256(f"{url} {r.bytes}".encode()).hexdigest()
        leaf = "_index.html" if k == 0 else page_path(n, k)[1:]
        r.path = f"pages/{host_of(n, port).replace(':', '_')}/{leaf}"
        r.title = f"{WORDS[k % len(WORDS)].title()} · Site {n}"
        headers = {"ETag": f'"{n:x}-{k:x}-{r.bytes:x}"', "Last-Modified": "Sun, 06 Dec 2026 10:00:00 GMT"}
    elif kind == "404":
        r.status, r.final_url, r.content_type = 404, url, "text/html"
        r.error = FetchError(Kind.HTTP, "404 Not Found")
    elif kind == "301":
        r.status, r.final_url, r.content_type = 301, f"http://{host_of(n, port)}/", "text/html"
    elif kind == "500":
        r.status, r.final_url, r.attempts = 500, url, 3
        r.error = FetchError(Kind.HTTP, "500 Internal Server Error")
    elif kind == "robots":
        r.error, r.elapsed_ms = FetchError(Kind.ROBOTS, "disallowed by robots.txt"), 0.1
    else:
        r.attempts = 3 if kind in ("timeout", "connect") else 1
        r.error = FetchError(Kind(kind), _MESSAGES[kind].format(host=host_of(n, port)))
    return r, headers


_MESSAGES = {
    "timeout": "timed out",
    "connect": "Cannot connect to host {host} ssl:default [Connect call failed]",
    "too_large": "body exceeds 50000000 bytes",
    "decode": "cannot decode gzip body: Error -3 while decompressing data: incorrect header check",
}


def _iso(epoch: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).isoformat(timespec="milliseconds")


class _Crawl:
    """Feeds the frontier, the records and the stats log as the engine does, one lease at a time."""

    def __init__(self, out: Path, port: int, total: int, clock: _Clock) -> None:
        self.out, self.port, self.total, self.clock = out, port, total, clock
        self.frontier = SqliteFrontier(out / "state.sqlite", out / "records.jsonl")
        self.sink = RecordSink(out / "records.jsonl", truncate=True)
        self.stats = Stats()
        self.rng = random.Random(26)
        self.log = StatsLog(out)

    async def finish(self, lease: Lease) -> Request | None:
        """Write the lease's record and mark it done; a root that answered returns itself."""
        request = lease.request
        n = number_of(request.host.rsplit(":", 1)[0])
        k = 0 if request.depth == 0 else int(request.url.rsplit("-", 1)[1].split(".")[0])
        self.clock.now += CRAWL_SECONDS / self.total
        record, headers = _record(request, n, k, self.port, self.clock.now, self.rng)
        visit = visit_after(record, headers, None, NO_RECRAWL)
        await self.frontier.done(lease, visit)
        self.stats.count(record, 0, request.host)
        self.sink.write(record.as_json(with_items=False))
        self.stats.started = _perf_now() - (self.clock.now - START)
        counts = await self.frontier.counts()
        self.log.tick(self.stats, counts.queued, counts.leased, [])
        return request if k == 0 and record.ok else None

    async def checkpoint(self) -> None:
        """Commit the frontier, then flush the records (the engine's order)."""
        mark = self.sink.mark()
        await self.frontier.commit()
        self.sink.flush(mark)


def _perf_now() -> float:
    import time

    return time.perf_counter()


async def build(out: Path, half: Path, hosts: int, per_host: int, port: int) -> None:
    """``out``: the finished job; ``half``: the same job killed when half its URLs had their record,
    the rest of that group's leases in flight. Seeds are crawled first, so by then all are admitted."""
    clock, saved = _Clock(), statslog.time
    statslog.time = clock  # type: ignore[assignment]  # stats lines at the fake clock's times
    crawl = _Crawl(out, port, hosts * per_host, clock)
    try:
        await crawl.frontier.open()
        seeds = [Request(f"http://{host_of(n, port)}/", host_of(n, port)) for n in range(hosts)]
        await crawl.frontier.add(seeds)
        groups = [[host_of(n, port) for n in range(g, min(hosts, g + GROUP))] for g in range(0, hosts, GROUP)]
        for group in groups:  # the seeds first (breadth first): every host's links are admitted
            roots = await crawl.frontier.lease(dict.fromkeys(group, 1), 60)
            answered = [r for lease in roots if (r := await crawl.finish(lease)) is not None]
            await crawl.frontier.add([link for r in answered for link in _links(r, per_host)])
            await crawl.checkpoint()
        copied = False
        for group in groups:
            leases = await crawl.frontier.lease(dict.fromkeys(group, per_host), 60)
            need = hosts * per_host // 2 - crawl.stats.records
            if not copied and need <= len(leases):  # killed here: the group's other leases in flight
                for lease in leases[:need]:
                    await crawl.finish(lease)
                await crawl.checkpoint()
                _copy(out, half)
                copied, leases = True, leases[need:]
            for lease in leases:
                await crawl.finish(lease)
            await crawl.checkpoint()
        crawl.log.tick(crawl.stats, 0, 0, [], final=True)
    finally:
        statslog.time = saved
        await crawl.frontier.close()
        crawl.sink.close()


def _links(root: Request, per_host: int) -> list[Request]:
    """The links of a host's root page: the host's other pages."""
    n = number_of(root.host.rsplit(":", 1)[0])
    return [Request(f"http://{root.host}{page_path(n, k)}", root.host, 1, root.url) for k in range(1, per_host)]


def _copy(out: Path, half: Path) -> None:
    """The output as a kill -9 would leave it now: the committed state and the flushed lines."""
    half.mkdir(parents=True)
    for name in ("records.jsonl", "stats.jsonl"):
        shutil.copyfile(out / name, half / name)
    src, dst = sqlite3.connect(out / "state.sqlite"), sqlite3.connect(half / "state.sqlite")
    src.backup(dst)
    src.close()
    dst.close()


def make_shards(job: Path, shared: Path, repeats: int = 1000) -> None:
    """``shared/shards/w1`` and ``w2``: the job's records split by host, as two workers of a shared
    job write them, with ``repeats`` URLs recorded by both (a worker killed after writing a record,
    the URL fetched again by the other) and a torn last line in ``w1``."""
    shards = [shared / "shards" / "w1", shared / "shards" / "w2"]
    for s in shards:
        s.mkdir(parents=True)
    files = [open(s / "records.jsonl", "wb") for s in shards]  # noqa: SIM115
    try:
        every = max(1, _count_lines(job / "records.jsonl") // repeats)
        for i, line in enumerate(_lines(job / "records.jsonl")):
            url = orjson.loads(line)["url"] if i % every == 0 else None
            shard = hash_host(line) % 2
            files[shard].write(line)
            if url is not None:  # the other worker's record of the URL, a minute later
                again = orjson.loads(line)
                again["fetched_at"] = _iso(START + CRAWL_SECONDS + 60)
                files[1 - shard].write(orjson.dumps(again) + b"\n")
        files[0].write(line[: len(line) // 2])
    finally:
        for f in files:
            f.close()
    for s in shards:
        shutil.copyfile(job / "stats.jsonl", s / "stats.jsonl")


def hash_host(line: bytes) -> int:
    """A stable number per host of a record line (its URL's host part, read without parsing)."""
    start = line.index(b"://") + 3
    return int(hashlib.md5(line[start : line.index(b"/", start)]).hexdigest()[:8], 16)


def _count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def _lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        yield from f


def serve(port: int) -> None:
    """Answer for every host of the job on ``0.0.0.0:port`` (all of 127/8 reaches it): robots.txt
    as the job's hosts had it, a small page for any other path."""
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        n = number_of(request.host.rsplit(":", 1)[0])
        if request.path == "/robots.txt":
            return web.Response(text="User-agent: *\nDisallow: /private/\n" if n % 4 == 0 else "")
        return web.Response(text="<html><title>page</title><p>" + "words " * 300, content_type="text/html")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "0.0.0.0", port, backlog=1024).start()
        await asyncio.Event().wait()

    asyncio.run(main())
