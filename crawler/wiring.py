"""The one place that builds a crawl from the :class:`~crawler.config.Job`: the settings of each
component (read off the Job by :mod:`crawler.settings`), the backends the job names (one process
alone, memory or SQLite; or one worker of a job shared through Redis, writing its own shard
``OUT/shards/<worker id>/``), and the parts built from them.

    build(job)      → Parts: backends (frontier, limiter, output folder), scheduler, admission,
                      router, parser, renderer, and the settings of what is made later
    connect(parts)  → Stages: the session, the fetcher and robots.txt, for the pipeline
    one_page(job)   → Parts for ``crawler check``: the same, around one page

Below this module no component sees the Job: each takes its own frozen settings, so what a
component depends on reads off its constructor.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from crawler.admission import Admission
from crawler.config import Job
from crawler.core.content import NearDuplicates
from crawler.core.usage import DnsUse, IdentityUse, RedisUse
from crawler.frontier import Frontier
from crawler.frontier.memory import MemoryFrontier
from crawler.hooks import Hooks
from crawler.net.cookies import Jar
from crawler.net.fetch import Fetcher
from crawler.net.identities import Identities, IdentitySettings, LocalBook, Saved
from crawler.net.login import Login, LoginSettings
from crawler.net.over_aiohttp import AiohttpTransport
from crawler.net.proxies import Router
from crawler.net.render import Renderer
from crawler.net.robots import Robots, RobotsCache
from crawler.net.session import FetchSettings, make_resolver, make_session
from crawler.net.sockets import BoundedConnector, Budget
from crawler.net.transports import Transports
from crawler.observe.stats import Stats
from crawler.parsing.process import Parser, make_parser
from crawler.parsing.reader import PageReader
from crawler.pipeline import PipelineSettings, Stages
from crawler.scheduling.limiter import HostLimiter, LocalHostLimiter
from crawler.scheduling.scheduler import STALL_AFTER, Scheduler
from crawler.settings import (
    CrawlSettings,
    admission_settings,
    crawl_settings,
    fetch_settings,
    identity,
    identity_settings,
    login_settings,
    looks_for_near_duplicates,
    output_settings,
    pipeline_settings,
    reader_settings,
    render_settings,
    router,
)
from crawler.sinks.output import OutputSettings
from crawler.sinks.pages import PageStore

if TYPE_CHECKING:
    import aiohttp

    from crawler.net.identities import Book
    from crawler.net.resolver import CrawlResolver
    from crawler.net.wire import Transport
    from crawler.sinks.warc import WarcSink

JAR_KEY = "cookies"  # the crawl's cookie jar, in state.sqlite's job table
JAR_EVERY = 10.0  # seconds between two saves of the jar (checkpoints come every half second)


@dataclass(slots=True)
class Backends:
    """Where the job's state lives: the parts the ``frontier`` setting picks."""

    frontier: Frontier
    limiter: HostLimiter
    out: Path  # this process's output directory
    robots: RobotsCache | None = None  # shared robots.txt answers (None: this process asks)
    redis_use: Callable[[], RedisUse | None] = lambda: None  # a shared job's, for the summary
    claim: Callable[[], Awaitable[None]] | None = None  # first: the shared state is this job's
    near: NearDuplicates | None = None  # a shared job's near-duplicate index (a local one is read at start)
    identities: Book | None = None  # where the identities are kept (None: in memory only)
    state: Saved | None = None  # where the crawl's cookie jar is kept (a crawl alone: state.sqlite)


@dataclass(slots=True)
class Parts:
    """A crawl's parts, built before it runs; ``connect`` adds those that need its session."""

    settings: CrawlSettings
    hooks: Hooks
    backends: Backends
    scheduler: Scheduler
    admission: Admission
    router: Router
    parser: Parser
    renderer: Renderer | None
    fetch: FetchSettings
    pipeline: PipelineSettings
    output: OutputSettings
    identities: IdentitySettings | None = None
    login: LoginSettings | None = None

    @property
    def frontier(self) -> Frontier:
        return self.backends.frontier

    @property
    def limiter(self) -> HostLimiter:
        return self.backends.limiter

    @property
    def out(self) -> Path:
        return self.backends.out


def build(
    job: Job,
    warn: Callable[[str], None],
    *,
    hooks: Hooks | None = None,
    frontier: Frontier | None = None,
    limiter: HostLimiter | None = None,
) -> Parts:
    """Every part of the crawl of ``job``; ``frontier`` and ``limiter`` replace the job's own."""
    hooks = hooks or Hooks.from_paths(job.hook_paths)
    backends = make_backends(job, warn)
    if frontier is not None and not job.shared:  # (the identities and the jar were to be kept with the job's own)
        backends.identities = backends.state = None
    backends.frontier = frontier or backends.frontier
    backends.limiter = limiter or backends.limiter
    reader = PageReader(reader_settings(job), hooks.parse)
    screens = backends.out / "screens" if job.render_screenshot else None
    parser = make_parser(job.parser, reader, warn=warn, heavy=bool(job.content))
    return _assemble(job, hooks, backends, parser, screens, warn)


def one_page(job: Job, hooks: Hooks, parser: Callable[[PageReader], Parser]) -> Parts:
    """The parts ``crawler check`` runs one page through: the crawl's, but robots.txt is not
    asked, the page gets one attempt, and nothing of the job's state is touched (a frontier in
    memory, a host limiter of its own) or written (no screenshots)."""
    backends = Backends(MemoryFrontier(), LocalHostLimiter(job.per_host), job.output_dir)
    parts = _assemble(job, hooks, backends, parser(PageReader(reader_settings(job), hooks.parse)), None, None)
    parts.pipeline = dataclasses.replace(parts.pipeline, ignore_robots=True, retries=0, proxy_retries=0)
    return parts


def _assemble(
    job: Job,
    hooks: Hooks,
    backends: Backends,
    parser: Parser,
    screens: Path | None,
    warn: Callable[[str], None] | None,
) -> Parts:
    """The parts on top of the backends: one recipe for the crawl and for ``crawler check``."""
    scheduler = Scheduler(
        backends.frontier,
        backends.limiter,
        lease_ttl=job.lease_ttl,
        warn=warn,
        stall_after=max(STALL_AFTER, 4 * job.render_timeout),
    )
    admission = Admission(admission_settings(job), backends.frontier, scheduler.has_work)
    proxies = router(job)
    renderer = (
        Renderer(
            render_settings(job), scheduler.slots, screens=screens, rules=admission.rules, router=proxies, warn=warn
        )
        if job.render or job.render_auto
        else None
    )
    return Parts(
        settings=crawl_settings(job),
        hooks=hooks,
        backends=backends,
        scheduler=scheduler,
        admission=admission,
        router=proxies,
        parser=parser,
        renderer=renderer,
        fetch=fetch_settings(job),
        pipeline=pipeline_settings(job),
        output=output_settings(job, hook_items=hooks.parse is not None),
        identities=identity_settings(job),
        login=login_settings(job),
    )


def make_backends(job: Job, warn: Callable[[str], None]) -> Backends:
    """The backends the job's ``frontier`` setting names: memory, SQLite, or Redis (a shared job)."""
    if job.shared:
        from crawler.redis.frontier import RedisFrontier
        from crawler.redis.identity import claim
        from crawler.redis.identity_pool import SharedIdentities
        from crawler.redis.limiter import RedisHostLimiter
        from crawler.redis.near_duplicates import SharedNearIndex
        from crawler.redis.store import RedisStore, SharedRobots, default_worker_id

        worker = job.worker_id or default_worker_id()
        store = RedisStore(job.frontier, job.job_name, worker, ttl=job.lease_ttl, wait=job.redis_wait, warn=warn)
        out = job.output_dir / "shards" / worker
        return Backends(
            RedisFrontier(store, out / "records.jsonl"),
            RedisHostLimiter(store, job.per_host, job.delay, job.jitter, adaptive=job.adaptive),
            out,
            SharedRobots(store),
            store.usage,
            lambda: claim(store, identity(job), fresh=job.fresh),
            SharedNearIndex(store) if looks_for_near_duplicates(job) else None,
            SharedIdentities(store) if identity_settings(job) is not None else None,
        )
    out = job.output_dir
    limiter = LocalHostLimiter(job.per_host, job.delay, job.jitter, adaptive=job.adaptive)
    if job.frontier == "memory":
        return Backends(MemoryFrontier(), limiter, out)
    from crawler.frontier.sqlite import SqliteFrontier

    frontier = SqliteFrontier(out / "state.sqlite", out / "records.jsonl")
    book = LocalBook(frontier) if identity_settings(job) is not None else None  # kept at checkpoints
    return Backends(frontier, limiter, out, identities=book, state=frontier)


@asynccontextmanager
async def connect(
    parts: Parts,
    stats: Stats,
    warn: Callable[[str], None],
    *,
    pages: PageStore | None,
    warc: WarcSink | None = None,
    budget: Budget | None = None,
) -> AsyncIterator[Stages]:
    """The session and the stages that use it, for the pipeline; ``budget`` bounds connections
    (None: aiohttp's own pool). On the way out the fetcher and the browser close, and the
    session's connection counts go to ``stats``."""
    settings = parts.fetch if budget is None else dataclasses.replace(parts.fetch, concurrency=budget.concurrency)
    stats.dns = DnsUse(servers=settings.dns.servers)
    resolver = make_resolver(settings, stats.dns)
    async with make_session(settings, resolver, idle=budget.idle if budget is not None else None) as session:
        both = transports(settings, session, resolver)
        if parts.backends.state is not None:
            keep_jar(both.jar, parts.backends.state)
        fetcher = Fetcher(both, settings, parts.router, warc)
        identities = None
        if parts.identities is not None:
            use = stats.identities = IdentityUse(login=parts.login is not None)
            login = (
                Login(parts.login, fetcher, parts.hooks.login, settings.blocked, use)
                if parts.login is not None
                else None
            )
            book = parts.backends.identities or LocalBook()
            identities = Identities(parts.identities, parts.router, book, login, use)
        robots = Robots(
            fetcher,
            parts.limiter,
            settings.user_agent,
            retries=parts.pipeline.retries,
            backoff=parts.pipeline.retry_backoff,
            warn=warn,
            shared=parts.backends.robots,
        )
        if parts.renderer is not None:
            parts.renderer.warc = warc
            parts.renderer.scope.robots = None if parts.pipeline.ignore_robots else robots  # for its redirects
        try:
            yield Stages(
                fetcher,
                parts.router,
                robots,
                parts.parser,
                parts.limiter,
                parts.admission.rules,
                pages,
                parts.renderer,
                parts.hooks.request,
                identities,
            )
        finally:
            try:
                await fetcher.close()
                await resolver.close()
            finally:
                if parts.renderer is not None:
                    await parts.renderer.close()
            if isinstance(connector := session.connector, BoundedConnector):
                stats.connections, stats.new_connections = connector.connects, connector.opened


def transports(settings: FetchSettings, session: aiohttp.ClientSession, resolver: CrawlResolver) -> Transports:
    """aiohttp on the crawl's session, and curl when the job asks for it (imported only then)."""

    def curl() -> Transport:
        from crawler.net.curl import CurlTransport

        return CurlTransport(settings, resolver)

    return Transports(settings.transports, AiohttpTransport(session, settings, resolver), curl)


def keep_jar(jar: Jar, state: Saved) -> None:
    """The crawl's own cookie jar (the identities keep theirs) resumes with the crawl: loaded from
    what an earlier run saved in ``state``, saved there when it changed: with a checkpoint at most
    every ``JAR_EVERY`` seconds (a jar of thousands of big cookies takes a tenth of a second to
    write), and at the end."""
    text = state.kept(JAR_KEY)
    if text:
        jar.load(orjson.loads(text))
    saved, at = jar.changes, -math.inf  # (its first change is saved at once)

    def snapshot(final: bool) -> str | None:
        nonlocal saved, at
        if jar.changes == saved or (not final and time.monotonic() - at < JAR_EVERY):
            return None
        saved, at = jar.changes, -math.inf  # (its first change is saved at once)
        return orjson.dumps(jar.data()).decode()

    state.keep(JAR_KEY, snapshot)
