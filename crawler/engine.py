"""The engine: owns the session, the dispatcher and the workers; turns answers into records.

Data flows one way: frontier → scheduler (host gate) → worker → fetcher → page file / parser process
→ links back into the frontier, and one record per URL into ``records.jsonl``. The dispatcher keeps at
most ``concurrency`` workers alive; each worker handles one leased request start to finish.

Checkpoints (every 0.5 s, every 64 KB of records, and at the end) commit the frontier and *then*
flush records, so a record never reaches disk before the links its page produced are durable.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import random
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any

from yarl import URL

from crawler.config import Job
from crawler.errors import FetchError, Kind
from crawler.net.fetch import Fetcher, Response, make_session
from crawler.frontier import Frontier, Request
from crawler.frontier.memory import MemoryFrontier
from crawler.frontier.sqlite import SqliteFrontier, repair_tail
from crawler.parsing.process import make_parser
from crawler.net.proxies import Proxy, Router
from crawler.parsing.reader import PageReader
from crawler.net.robots import Robots
from crawler.scheduling.scheduler import HostGate, Scheduler
from crawler.sinks.pages import PageStore
from crawler.sinks.records import FLUSH_BYTES, RecordSink
from crawler.sinks.table import CsvSink
from crawler.net.sitemaps import sitemap_urls
from crawler.stats import Progress, Stats
from crawler.urls import InvalidURL, Scope, host_key, join

if TYPE_CHECKING:
    from crawler.sinks.warc import WarcSink


class Crawl:
    """One crawl job from seeds to summary. ``await Crawl(job).run()``; ``stop()`` drains."""

    def __init__(self, job: Job, *, frontier: Frontier | None = None,
                 warn: Callable[[str], None] | None = None, progress: Progress | None = None) -> None:
        self.job = job
        self.out = job.output_dir
        self.stats = Stats()
        self.frontier: Frontier = frontier or (
            MemoryFrontier() if job.frontier == "memory"
            else SqliteFrontier(self.out / "state.sqlite", self.out / "records.jsonl"))
        self.gate = HostGate(job.per_host, job.delay, job.jitter, adaptive=job.adaptive)
        self.scheduler = Scheduler(self.frontier, self.gate)
        self.scope = Scope.for_job(job)
        self.router = Router.from_job(job)
        self.parser = make_parser(job.parser, PageReader(job), warn=self.warn)

        self._warn_cb = warn
        self._progress = progress or Progress(enabled=False)
        self._admitted = 0
        self._per_host: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()

    def warn(self, message: str) -> None:
        message = self.router.redact(message)
        self.stats.warnings.append(message)
        if self._warn_cb:
            self._warn_cb(message)

    def stop(self) -> None:
        """Stop leasing new URLs; in-flight requests finish and are recorded."""
        self.stats.interrupted = True
        self.scheduler.close()

    async def run(self) -> Stats:
        self.out.mkdir(parents=True, exist_ok=True)
        lock = _lock(self.out)
        try:
            return await self._run()
        finally:
            os.close(lock)

    async def _run(self) -> Stats:
        await self.parser.start()  # first: a fork must come before any thread
        try:
            return await self._crawl()
        finally:
            await self.parser.close()

    async def _crawl(self) -> Stats:
        if self.job.fresh:
            _clear(self.out)
        shutil.rmtree(self.out / ".tmp", ignore_errors=True)
        await self.frontier.open()
        self.stats.resumed = getattr(self.frontier, "resumed", 0)
        self._admitted = self.frontier.admitted()
        if self.job.max_pages_per_host is not None:
            self._per_host.update(self.frontier.admitted_per_host())
        self.pages = PageStore(self.out)
        start_over = isinstance(self.frontier, MemoryFrontier)
        self.records = RecordSink(self.out / "records.jsonl", truncate=start_over)
        self.items = self._item_sink(start_over) if self.job.extract else None
        self.warc: WarcSink | None = None
        if self.job.warc:
            from crawler.sinks.warc import WarcSink  # warcio costs 30 ms of start-up; only here

            self.warc = WarcSink(self.out / "crawl.warc.gz", self.pages.executor)
        ticker = asyncio.create_task(self._tick())
        try:
            async with make_session(self.job) as session:
                self.fetcher = Fetcher(session, self.job, self.router, self.warc)
                self.robots = Robots(self.fetcher, self.gate, self.job.user_agent,
                                     retries=self.job.retries, backoff=self.job.retry_backoff,
                                     warn=self.warn)
                for host in self.frontier.hosts_with_work():
                    self.scheduler.has_work(host)
                await self._admit([Request(u, host_key(URL(u, encoded=True))) for u in self.job.start_urls])
                if self.job.sitemaps:
                    await asyncio.gather(*(self._seed_from_sitemaps(u) for u in self._seed_roots()))
                try:
                    await self._dispatch()
                finally:
                    await self.fetcher.close()
        finally:
            ticker.cancel()
            self._progress.clear()
            await self.frontier.close()  # commit first: records never get ahead of the frontier
            if self.items is not None:
                self.items.close()
            self.records.close()
            if self.warc is not None:
                self.warc.close()
            self.pages.close()
        self.stats.left_queued = self.frontier.queued()
        now = asyncio.get_running_loop().time()
        self.stats.throttle_report = [
            f"{host}: slowed {s.throttles} times, down to {s.min_slots} of {s.limit} slots; "
            f"now {s.slots} slots, {s.delay:g}s delay" for host, s in self.gate.throttled()]
        self.stats.proxy_report = [f"{p.id}: {p.requests} requests, {p.failures} failures, {p.bans} bans, "
                                   f"{p.bytes / 1e6:.1f} MB, {p.state(now)}" for p in self.router.proxies()]
        return self.stats

    def _item_sink(self, start_over: bool) -> RecordSink | CsvSink:
        if self.job.format == "csv":
            columns = list(dict.fromkeys(f for rule in self.job.extract for f in rule.fields))
            return CsvSink(self.out / "items.csv", columns, truncate=start_over)
        path = self.out / "items.jsonl"
        if not start_over and path.exists():
            repair_tail(path)  # a crash may have cut the last line
        return RecordSink(path, truncate=start_over)

    def _seed_roots(self) -> list[URL]:
        """One start URL per seed host."""
        roots: dict[str, URL] = {}
        for u in self.job.start_urls:
            url = URL(u, encoded=True)
            roots.setdefault(host_key(url), url)
        return list(roots.values())

    async def _seed_from_sitemaps(self, root: URL) -> None:
        """Admit the in-scope pages listed by the host's sitemaps (depth 1, parent: the sitemap)."""
        declared = [] if self.job.ignore_robots else await self.robots.sitemaps(root, host_key(root))
        fetch = partial(self.fetcher.get_routed, limit=self.job.max_bytes)
        async for found in sitemap_urls(root, declared, fetch, self.job.max_bytes, self.warn):
            await self._admit([Request(str(u), host_key(u), 1, parent) for u, parent in found
                               if self.scope.allows(u, 1) and len(str(u)) <= self.job.max_url_length])

    async def _checkpoint(self) -> None:
        """Frontier, then items, then records: a crash can repeat a page's items, never lose them."""
        await self.frontier.commit()
        if self.items is not None:
            self.items.flush()
        self.records.flush()

    async def _dispatch(self) -> None:
        slots = asyncio.Semaphore(self.job.concurrency)
        while True:
            await slots.acquire()
            request = await self.scheduler.next()
            if request is None:
                break
            task = asyncio.create_task(self._work(request, slots))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self._tasks:
            await asyncio.gather(*self._tasks)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            await self._checkpoint()
            self._progress.show(self.stats.progress_line(self.frontier.queued(), self.scheduler.inflight))

    async def _admit(self, requests: Sequence[Request]) -> None:
        """Add requests to the frontier, within ``max_pages`` (a cap on URLs, hence on records)
        and ``max_pages_per_host`` (against calendars and other traps)."""
        limit = None if self.job.max_pages is None else self.job.max_pages - self._admitted
        cap = self.job.max_pages_per_host
        if cap is not None:
            requests = [r for r in requests if self._per_host[r.host] < cap]
        if not requests or (limit is not None and limit <= 0):
            return
        if cap is not None:  # one at a time near the cap, so a host never passes it
            fresh: list[Request] = []
            for r in requests:
                if self._per_host[r.host] < cap and (limit is None or len(fresh) < limit):
                    added = await self.frontier.add([r])
                    self._per_host[r.host] += len(added)
                    fresh += added
        else:
            fresh = await self.frontier.add(requests, limit)
        self._admitted += len(fresh)
        for host in {r.host for r in fresh}:
            self.scheduler.has_work(host)

    async def _work(self, request: Request, slots: asyncio.Semaphore) -> None:
        try:
            await self._handle(request)
        except Exception as e:  # a bug must not lose the URL: it still gets its record
            text = self.router.redact(f"{type(e).__name__}: {e}")
            self.warn(f"internal error on {request.url}: {text}")
            self._record(request, None, FetchError(Kind.INTERNAL, text), 0.0)
            await self.frontier.done(request)
        finally:
            self.scheduler.finished(request)
            slots.release()

    async def _handle(self, request: Request) -> None:
        url = URL(request.url, encoded=True)
        started = perf_counter()
        response: Response | None = None
        proxy: Proxy | None = None
        loop = asyncio.get_running_loop()
        sent = loop.time()
        try:
            if not self.job.ignore_robots and not await self.robots.allowed(url, request.host):
                raise FetchError(Kind.ROBOTS, "disallowed by robots.txt")
            proxy = await self.router.acquire(url.host or "")
            sent = loop.time()
            response = await self.fetcher.fetch(url, self.pages, proxy)
            error = response.error
        except FetchError as e:
            error = e
        if proxy is None and (response is not None or (error is not None and error.kind is Kind.TIMEOUT)):
            overloaded = error is not None and (error.kind is Kind.TIMEOUT or
                                                (response is not None and response.status in (429, 503)))
            self.gate.observe(request.host, sent, loop.time(), overloaded)
        if proxy is not None:
            self.router.release(proxy, failed=bool(error and error.proxy_fault and not error.banned),
                                banned=bool(error and error.banned),
                                nbytes=response.nbytes if response is not None else 0)
        if error is not None and error.proxy_fault and request.proxy_attempts < self.job.proxy_retries:
            request.proxy_attempts += 1  # the proxy's fault: try another, keep the normal retries
            await self._requeue(request, 0.0)
            return
        if error is not None and error.retryable and request.attempt < self.job.retries:
            await self._retry(request, error)
            return
        extra: dict[str, Any] = {"proxy": proxy.id if proxy is not None else None}
        if response is not None and response.location is not None:
            error = await self._redirect(request, url, response.location, extra)
        elif response is not None and response.body is not None:
            try:
                await self._follow(request, response.body, response.content_type, extra)
            except FetchError as e:  # the page could not be parsed (see crawler.parsing.process)
                error = e
                self.warn(f"{request.url}: {e.message}")
        self._record(request, response, error, started, **extra)
        await self.frontier.done(request)
        if self.records.pending_bytes >= FLUSH_BYTES:
            await self._checkpoint()

    async def _retry(self, request: Request, error: FetchError) -> None:
        request.attempt += 1
        self.stats.retries += 1
        wait = error.retry_after
        if wait is None:
            wait = self.job.retry_backoff * 2 ** (request.attempt - 1) * random.uniform(0.5, 1.5)
        await self._requeue(request, wait)

    async def _requeue(self, request: Request, wait: float) -> None:
        """Back into the frontier; the host starts nothing new for ``wait`` seconds."""
        if wait:
            self.gate.backoff(request.host, asyncio.get_running_loop().time() + wait)
        await self.frontier.release(request)
        self.scheduler.has_work(request.host)

    async def _redirect(self, request: Request, url: URL, location: str,
                        extra: dict[str, Any]) -> FetchError | None:
        """Queue a redirect's target as its own request; each hop is scope- and dedup-checked."""
        self.stats.redirects += 1
        try:
            target = join(url, location)
        except InvalidURL as e:
            return FetchError(Kind.REDIRECT, f"redirect to unusable URL {location[:200]!r}: {e}")
        extra["final_url"] = str(target)
        if request.redirects >= self.job.max_redirects:
            return FetchError(Kind.REDIRECT, f"more than {self.job.max_redirects} redirects")
        if not self.scope.allows(target, request.depth):
            return FetchError(Kind.REDIRECT, f"redirect to out-of-scope URL {target}")
        await self._admit([Request(str(target), host_key(target), request.depth, request.url,
                                   redirects=request.redirects + 1)])
        return None

    async def _follow(self, request: Request, body: bytes, content_type: str | None,
                      extra: dict[str, Any]) -> None:
        """Parse an HTML page once: admit its in-scope links, write its items, note its title."""
        page = await self.parser.read(request.url, body, content_type, request.depth)
        extra["title"] = page.title
        if self.items is not None:
            for item in page.items:
                self.items.write(item)
            self.stats.items += len(page.items)
            extra["items"], extra["extract_errors"] = len(page.items), page.extract_errors
        await self._admit([Request(link, host, request.depth + 1, request.url) for link, host in page.links])

    def _record(self, request: Request, response: Response | None, error: FetchError | None,
                started: float, **extra: Any) -> None:
        s = self.stats
        r = response
        s.records += 1
        if error is not None:
            s.errors[error.kind.value] += 1
        elif r is not None and 200 <= r.status < 300:
            s.pages += 1
            s.bytes += r.nbytes
        self.records.write({
            "url": request.url,
            "final_url": extra.get("final_url", request.url if r is not None else None),
            "status": r.status if r is not None else None,
            "error": error.as_record() if error is not None else None,
            "content_type": r.content_type if r is not None else None,
            "bytes": r.nbytes if r is not None else 0,
            "sha256": r.sha256 if r is not None else None,
            "depth": request.depth,
            "parent": request.parent,
            "fetched_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "elapsed_ms": round((perf_counter() - started) * 1000, 1) if started else None,
            "path": r.path if r is not None else None,
            "title": extra.get("title"),
            "attempts": request.attempt + 1,
            "proxy": extra.get("proxy"),
            **({"items": extra.get("items", 0), "extract_errors": extra.get("extract_errors", [])}
               if self.items is not None else {}),
        })


def _lock(out: Path) -> int:
    """Hold ``OUT/.lock`` for the crawl, so two processes never share one output directory."""
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LockedError(f"{out} is in use by another crawl") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _clear(out: Path) -> None:
    """``--fresh``: forget the previous crawl in ``out`` (state, records, items and pages)."""
    for name in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm", "records.jsonl",
                 "items.jsonl", "items.csv", "crawl.warc.gz", ".warc-good"):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "pages", ignore_errors=True)


class LockedError(Exception):
    """The output directory is held by another running crawl."""
