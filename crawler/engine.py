"""The engine: owns the crawl's lifecycle (start, checkpoint, drain, stop); its parts come from
:mod:`crawler.wiring`.

    admission → frontier → scheduler (host limiter) → worker: pipeline → outcome
        ▲                                                                  │
        └──────────── follow-up requests ◄─────────────────────────────────┤
                                          record, items ──► output (sinks) ┘

The dispatcher keeps at most ``concurrency`` workers alive; each worker runs one lease through the
pipeline and settles its outcome: requests to admission, record and items to the output, the lease
back to the frontier. Checkpoints (every 0.5 s, every 64 KB of records, and at the end) commit the
frontier and *then* flush what was buffered before the commit began, so a record never reaches disk
before the links its page produced are durable. A checkpoint that fails stops the crawl
(:class:`~crawler.core.errors.CheckpointError`); what was committed resumes on the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
from collections.abc import Callable

from crawler import seeds, sink_hooks, wiring
from crawler.config import Job
from crawler.content.near import LocalNearIndex
from crawler.core.content import NearDuplicates
from crawler.core.errors import CheckpointError, ClusterError, StalledError
from crawler.core.request import Lease
from crawler.core.step import Again, Final, Step
from crawler.core.usage import ProxyUse
from crawler.finals import internal_error
from crawler.frontier import Frontier
from crawler.hooks import Hooks
from crawler.net.sockets import fd_budget
from crawler.observe.metrics import MetricsServer, render
from crawler.observe.stats import Progress, Stats
from crawler.observe.statslog import StatsLog
from crawler.observe.summary import progress_line
from crawler.pipeline import Pipeline
from crawler.recrawl import changed_urls, due_policy, write_changes
from crawler.scheduling.limiter import HostLimiter
from crawler.sinks import outdir
from crawler.sinks.content import read_index, tidy
from crawler.sinks.output import Output
from crawler.sinks.records import FLUSH_BYTES
from crawler.stall import StallWatch

TICK = 0.5  # seconds between checkpoints


class Crawl:
    """One crawl job from seeds to summary. ``await Crawl(job).run()``; ``stop()`` drains."""

    def __init__(
        self,
        job: Job,
        *,
        hooks: Hooks | None = None,
        frontier: Frontier | None = None,
        limiter: HostLimiter | None = None,
        warn: Callable[[str], None] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.stats = Stats()  # the crawl's numbers, updated as it runs; run() returns it
        self.parts = wiring.build(job, self.warn, hooks=hooks, frontier=frontier, limiter=limiter)
        self.settings = self.parts.settings
        self._warn_cb = warn
        self._progress = progress or Progress(mode="off")
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = 0
        self._slot_free = asyncio.Event()
        self._flush_now = asyncio.Event()
        self._fatal: CheckpointError | StalledError | ClusterError | None = None
        self.stall = StallWatch()
        self.near: NearDuplicates | None = self.parts.backends.near

    def warn(self, message: str) -> None:
        message = self.parts.router.redact(message)
        self.stats.warn(message)
        if self._warn_cb:
            self._warn_cb(message)

    def stop(self) -> None:
        """Stop leasing new URLs; in-flight requests finish and are recorded."""
        self.stats.interrupted = True
        self.parts.scheduler.close()
        self.parts.router.stop()

    async def run(self) -> Stats:
        """Crawl to the end (or to ``stop``). Raises CheckpointError if state could not be saved,
        StalledError if requests kept failing on this machine."""
        self.budget = fd_budget(self.settings.concurrency)
        if self.budget.lowered:
            self.warn(self.budget.lowered)
        self.parts.out.mkdir(parents=True, exist_ok=True)
        lock = outdir.lock(self.parts.out)
        try:
            await self.parts.parser.start()  # first: a fork must come before any thread
            try:
                await self._crawl()
            finally:
                try:
                    if self.parts.renderer is not None:  # closed with the network, or here if the crawl
                        await self.parts.renderer.close()  # stopped before (it starts first thing)
                finally:
                    await self.parts.parser.close()
        finally:
            os.close(lock)
        if self._fatal is not None:
            raise self._fatal
        return self.stats

    async def _crawl(self) -> None:
        await self._open()
        ticker = asyncio.create_task(self._tick())
        metrics = MetricsServer(self.settings.metrics, self._metrics_text) if self.settings.metrics else None
        try:
            if metrics is not None:
                await metrics.start()
            output, stats = self.output, self.stats
            async with wiring.connect(
                self.parts, stats, self.warn, pages=output.pages, warc=output.warc, budget=self.budget
            ) as self.net:
                self.pipeline = Pipeline(
                    self.parts.pipeline,
                    self.net,
                    stats=stats,
                    warn=self.warn,
                    generation=self.parts.frontier.generation,
                )
                await seeds.start(self.parts, self.net, self.warn)
                await self._dispatch()
            await _stopped(ticker)  # no checkpoint may be halfway through a commit while we close
            if self._fatal is None:  # the last records on disk, then (shared jobs) published done
                try:
                    await self._checkpoint()
                    stats.left_queued = (await self.parts.frontier.counts()).queued
                    self.stats_log.tick(stats, stats.left_queued, 0, self._proxy_use(), final=True)
                except Exception as e:
                    self._fail(e)
        finally:
            await _stopped(ticker)
            if metrics is not None:
                await metrics.stop()
            self._progress.clear()
            self._close_output(flush=await self._close_frontier())
        self._report()

    async def _open(self) -> None:
        """Claim the job's state, start it over or repair it, open the frontier (and a re-crawl's
        next generation), then the output files."""
        parts, out = self.parts, self.parts.out
        if parts.backends.claim is not None:  # a shared job: is it this job? (--fresh forgets it here)
            await parts.backends.claim()
        if self.settings.fresh:
            outdir.clear(out)
        shutil.rmtree(out / ".tmp", ignore_errors=True)
        if parts.renderer is not None:
            await parts.renderer.start()  # one clear line now if there is no usable browser
        if parts.frontier.persistent:  # before the frontier reads records.jsonl
            self.stats.damaged = outdir.repair(out)
        self.stats.resumed = await parts.frontier.open()
        if self.settings.recrawl:
            await self._next_generation()
        self.stats_log = StatsLog(out)
        self.output = Output(parts.output, out, start_over=not parts.frontier.persistent)
        if parts.output.near_index:  # after --fresh and the repair: the firsts this job saw
            self.near = LocalNearIndex(read_index(out) if parts.frontier.persistent else ())

    def _report(self) -> None:
        """What each part has to tell the summary, once the crawl is over."""
        parts, stats = self.parts, self.stats
        if parts.frontier.generation > 1 and self._fatal is None:
            stats.generation = parts.frontier.generation
            stats.changes = write_changes(parts.out, parts.frontier.generation)
        generation = parts.frontier.generation
        if parts.output.content and self._fatal is None and (generation > 1 or stats.resumed):
            changed = changed_urls(parts.out) if generation > 1 else set()  # one content line per page
            if (problem := tidy(parts.out, changed, generation, index=parts.output.near_index)) is not None:
                self.warn(problem)
        stats.throttled = parts.limiter.throttled()
        stats.browser = parts.renderer.usage() if parts.renderer is not None else None
        stats.redis = parts.backends.redis_use()
        stats.proxies = self._proxy_use()

    def _proxy_use(self) -> list[ProxyUse]:
        now = asyncio.get_running_loop().time()
        return [p.usage(now) for p in self.parts.router.proxies()]

    async def _metrics_text(self) -> str:
        return render(self.stats, await self.parts.frontier.counts(), self.parts.scheduler.inflight, self._proxy_use())

    async def _next_generation(self) -> None:
        """``--recrawl``: a finished job starts its next generation; an unfinished one (stopped,
        or killed during a re-crawl) goes on with the generation it was in."""
        again = await self.parts.frontier.recrawl(due_policy(self.parts.pipeline.recrawl))
        if again is not None:
            self.stats.resumed = 0
            self.stats.recrawled = again

    async def _dispatch(self) -> None:
        """Start a worker for each lease the scheduler hands out, at most ``concurrency`` at once."""
        concurrency = self.budget.concurrency
        while True:
            if self._running >= concurrency:
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            try:
                leases = await self.parts.scheduler.next(concurrency - self._running)
            except Exception as e:  # the job's shared state cannot be reached (or a bug of ours)
                self._fail(e)
                break
            if not leases:
                break
            for lease in leases:
                self._running += 1
                task = asyncio.create_task(self._work(lease))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        if self._tasks:
            await asyncio.gather(*self._tasks)

    async def _work(self, lease: Lease) -> None:
        request = lease.request
        try:
            try:
                step = await self.pipeline.run(request, self.parts.scheduler.slot_of(lease))
            except ClusterError:
                raise  # the job's shared state is out of reach: not this URL's fault; it stays leased
            except Exception as bug:  # a bug of ours must not lose the URL: it still gets its record
                self.warn(f"internal error on {request.url}: {type(bug).__name__}: {bug}")
                step = Final(internal_error(request, bug, self.parts.router.redact))
            await self._settle(lease, step)
            self.stall.saw(step)
            if self.stall.stalled:
                self._fail(self.stall.error())
        except Exception as e:  # the job's own state failed (frontier, admission, output)
            self._fail(e)
        finally:
            self._running -= 1
            self._slot_free.set()
            try:
                await self.parts.scheduler.finished(lease)
            except Exception as e:
                self._fail(e)

    async def _settle(self, lease: Lease, outcome: Step) -> None:
        """Hand a step on: follow-ups to admission, record and items to the output (once), the
        lease back to the frontier (with the attempt state of its next try, for ``Again``)."""
        request = lease.request
        if isinstance(outcome, Again):  # try again later: back into the frontier
            if outcome.after:
                await self.parts.limiter.backoff(request.host, outcome.after)
            await self.parts.frontier.again(lease, outcome.attempts)
            self.parts.scheduler.has_work(request.host)
            return
        if outcome.follow:
            await self.parts.admission.admit(outcome.follow, outcome.source)
        if outcome.content is not None:
            await self._near_duplicate(outcome)
        self.stats.count(outcome.record, len(outcome.items), request.host)
        self.output.write(outcome.record, outcome.items, outcome.content)
        await self.parts.frontier.done(lease, outcome.visit)
        if self.parts.hooks.on_record or self.parts.hooks.on_item or self.parts.hooks.on_content:
            await sink_hooks.call(self.parts.hooks, outcome, self.stats, self.warn)
        if self.output.pending_bytes >= FLUSH_BYTES:
            self._flush_now.set()

    async def _near_duplicate(self, outcome: Final) -> None:
        """Mark a page whose main text is nearly one seen before (``near_duplicate_of``)."""
        content, near = outcome.content, self.near
        assert content is not None
        self.stats.content_pages += 1
        if content.simhash is None or near is None:  # (short texts have none: see content.extract)
            return
        first = await near.first(outcome.record.url, content.simhash)
        if first is not None:
            content.near_duplicate_of = outcome.record.near_duplicate_of = first
            self.stats.near_duplicates += 1

    async def _tick(self) -> None:
        """Checkpoint every TICK seconds, or sooner when records pile up; a failure stops the crawl."""
        try:
            while True:
                try:
                    await asyncio.wait_for(self._flush_now.wait(), TICK)
                except TimeoutError:
                    pass
                self._flush_now.clear()
                await self._checkpoint()
                counts = await self.parts.frontier.counts()
                self._progress.show(progress_line(self.stats, counts.queued, self.parts.scheduler.inflight))
                self.stats_log.tick(self.stats, counts.queued, self.parts.scheduler.inflight, self._proxy_use())
        except Exception as e:
            self._fail(e)

    async def _checkpoint(self) -> None:
        """Frontier, then items, then records. The mark is taken before the commit is awaited:
        records written while it runs may belong to pages whose links it does not hold."""
        mark = self.output.mark()
        await self.parts.frontier.commit()
        self.output.flush(mark)
        await self.parts.frontier.flushed()

    async def _close_frontier(self) -> bool:
        """The last commit; False (and the crawl failed) if it could not be made. A shared job's
        links are in Redis as soon as admitted, so its records may be flushed even then."""
        try:
            await self.parts.frontier.close()
        except Exception as e:
            self._fail(e)
            return isinstance(e, ClusterError)
        return True

    def _close_output(self, *, flush: bool) -> None:
        try:
            self.output.close(flush=flush)
        except Exception as e:
            self._fail(e)

    def _fail(self, error: Exception) -> None:
        """Stop the crawl (its state could not be saved, or it stalled); the first failure is
        the one reported."""
        if self._fatal is None:
            self._fatal = (
                error
                if isinstance(error, (StalledError, ClusterError))
                else CheckpointError(_describe(error, self.parts.out))
            )
            self.parts.scheduler.close()


async def _stopped(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait until it has really ended. The Redis client can swallow a cancel
    that lands in the middle of a command (the task goes on): it is cancelled again until it ends."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=TICK)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _describe(error: Exception, out: object) -> str:
    """One line for the user: what could not be saved, and that the crawl can resume."""
    if isinstance(error, OSError):
        what = f"{error.strerror or error}" + (f": {error.filename}" if error.filename else "")
    elif isinstance(error, sqlite3.Error):
        what = f"{out}/state.sqlite: {error}"
    else:
        what = f"internal error: {type(error).__name__}: {error}"
    return f"cannot save the crawl's state ({what}); stopped; run the same command again to resume"
