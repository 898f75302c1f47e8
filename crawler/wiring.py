"""The one place that reads the :class:`~crawler.config.Job`: each component's settings, the
backends the job names (one process alone, memory or SQLite; or one worker of a job shared
through Redis, writing its own shard ``OUT/shards/<worker id>/``), and the parts built from them.

    build(job)      → Parts: backends (frontier, limiter, output folder), scheduler, admission,
                      router, parser, renderer, and the settings of what is made later
    connect(parts)  → Stages: the session, the fetcher and robots.txt, for the pipeline
    one_page(job)   → Parts for ``crawler check``: the same, around one page

Below this module no component sees the Job: each takes its own frozen settings, so what a
component depends on reads off its constructor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.admission import Admission, AdmissionSettings, LinkRules
from crawler.config import Job
from crawler.content.settings import ContentSettings
from crawler.core.content import NearDuplicates
from crawler.core.request import Caps
from crawler.core.urls import Scope
from crawler.core.usage import DnsUse, RedisUse
from crawler.frontier import Frontier
from crawler.frontier.memory import MemoryFrontier
from crawler.hooks import Hooks
from crawler.net.browser import BrowserSettings
from crawler.net.dns import DnsSettings
from crawler.net.fetch import Fetcher
from crawler.net.proxies import Router
from crawler.net.render import Renderer, RenderSettings
from crawler.net.robots import Robots, RobotsCache
from crawler.net.session import FetchSettings, make_resolver, make_session
from crawler.net.sockets import BoundedConnector, Budget
from crawler.observe.stats import Stats
from crawler.parsing.process import Parser, make_parser
from crawler.parsing.reader import PageReader, ReaderSettings
from crawler.pipeline import PipelineSettings, Stages
from crawler.recrawl import RecrawlSettings
from crawler.scheduling.limiter import HostLimiter, LocalHostLimiter
from crawler.scheduling.scheduler import STALL_AFTER, Scheduler
from crawler.sinks.output import OutputSettings
from crawler.sinks.pages import PageStore

if TYPE_CHECKING:
    from crawler.sinks.warc import WarcSink


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    """What the engine itself reads: the seeds, how the crawl starts, how many requests at once."""

    seeds: tuple[str, ...]
    sitemaps: bool  # also admit the pages the seeds' sitemaps list
    ignore_robots: bool  # (sitemaps named in robots.txt are not read then)
    max_bytes: int  # a sitemap's size at most
    concurrency: int
    fresh: bool  # forget what an earlier run did
    recrawl: bool  # start the next generation of a finished job
    metrics: str | None  # ADDR:PORT to serve /metrics on


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
    renderer = (
        Renderer(render_settings(job), scheduler.slots, screens=screens, rules=admission.rules, warn=warn)
        if job.render or job.render_auto
        else None
    )
    return Parts(
        settings=crawl_settings(job),
        hooks=hooks,
        backends=backends,
        scheduler=scheduler,
        admission=admission,
        router=router(job),
        parser=parser,
        renderer=renderer,
        fetch=fetch_settings(job),
        pipeline=pipeline_settings(job),
        output=output_settings(job, hook_items=hooks.parse is not None),
    )


def make_backends(job: Job, warn: Callable[[str], None]) -> Backends:
    """The backends the job's ``frontier`` setting names: memory, SQLite, or Redis (a shared job)."""
    if job.shared:
        from crawler.redis.frontier import RedisFrontier
        from crawler.redis.identity import claim
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
        )
    out = job.output_dir
    limiter = LocalHostLimiter(job.per_host, job.delay, job.jitter, adaptive=job.adaptive)
    if job.frontier == "memory":
        return Backends(MemoryFrontier(), limiter, out)
    from crawler.frontier.sqlite import SqliteFrontier

    return Backends(SqliteFrontier(out / "state.sqlite", out / "records.jsonl"), limiter, out)


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
        fetcher = Fetcher(session, settings, parts.router, warc, resolver=resolver)
        if parts.renderer is not None:
            parts.renderer.warc = warc
        robots = Robots(
            fetcher,
            parts.limiter,
            settings.user_agent,
            retries=parts.pipeline.retries,
            backoff=parts.pipeline.retry_backoff,
            warn=warn,
            shared=parts.backends.robots,
        )
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
            )
        finally:
            await fetcher.close()
            await resolver.close()
            if parts.renderer is not None:
                await parts.renderer.close()
            if isinstance(connector := session.connector, BoundedConnector):
                stats.connections, stats.new_connections = connector.connects, connector.opened


def crawl_settings(job: Job) -> CrawlSettings:
    return CrawlSettings(
        seeds=tuple(job.start_urls),
        sitemaps=job.sitemaps,
        ignore_robots=job.ignore_robots,
        max_bytes=job.max_bytes,
        concurrency=job.concurrency,
        fresh=job.fresh,
        recrawl=job.recrawl,
        metrics=job.metrics,
    )


def fetch_settings(job: Job) -> FetchSettings:
    return FetchSettings(
        user_agent=job.user_agent,
        headers=request_headers(job),
        cookies=dict(job.cookies),
        connect_timeout=job.timeout.connect,
        read_timeout=job.timeout.read,
        total_timeout=job.timeout.total,
        concurrency=job.concurrency,
        per_host=job.per_host,
        pins=job.resolve_pins(),
        block_private_ips=job.block_private_ips,
        dns=dns_settings(job),
        trust_env=job.trust_env,
        insecure=job.insecure,
        ca_bundle=job.ca_bundle,
        max_bytes=job.max_bytes,
        max_parse_bytes=job.max_parse_bytes,
        max_retry_after=job.max_retry_after,
        proxy_ban_status=frozenset(job.proxy_ban_status),
        proxy_ban_body=job.proxy_ban_body,
        markdown_pages=job.prefer_markdown,
    )


MARKDOWN_FIRST = "text/markdown, text/html;q=0.9, */*;q=0.8"


def request_headers(job: Job) -> dict[str, str]:
    """The job's headers; ``prefer_markdown`` asks for Markdown first unless the job sets Accept."""
    headers = dict(job.headers)
    if job.prefer_markdown and not any(name.lower() == "accept" for name in headers):
        headers["Accept"] = MARKDOWN_FIRST
    return headers


def dns_settings(job: Job) -> DnsSettings:
    return DnsSettings(servers=tuple(job.dns_servers), cache=job.dns_cache, timeout=job.timeout.dns)


def render_settings(job: Job) -> RenderSettings:
    width, _, height = job.render_viewport.partition("x")
    return RenderSettings(
        patterns=tuple(job.render),
        wait=job.render_wait,
        selector=job.render_selector,
        timeout=job.render_timeout,
        block=frozenset(job.render_block),
        viewport=(int(width), int(height)),
        user_agent=job.user_agent,
        headers=dict(job.headers),
        cookies=dict(job.cookies),
        insecure=job.insecure,
        max_bytes=job.max_bytes,
        browser=BrowserSettings(
            executable=job.render_browser,
            concurrency=job.render_concurrency,
            timeout=job.render_timeout,
            memory_mb=job.render_memory_mb,
            refuse_sockets="websocket" in job.render_block,
            pins=job.resolve_pins(),
            guard=job.block_private_ips,
            dns=dns_settings(job),
            connect_timeout=job.timeout.connect,
        ),
    )


def router(job: Job) -> Router:
    """The proxy router (it holds the proxies' health, so it is a part, not settings)."""
    return Router(
        job.default_proxies,
        job.proxy_pools,
        [(r.match, r.proxy) for r in job.proxy_rules],
        rotation=job.proxy_rotation,
        cap=job.proxy_concurrency,
        cooldown=job.proxy_cooldown,
        wait=job.proxy_wait,
    )


def link_rules(job: Job) -> LinkRules:
    scope = Scope(job.start_urls, job.allow_domains, job.include, job.exclude, job.max_depth)
    return LinkRules(scope, job.max_url_length)


def admission_settings(job: Job) -> AdmissionSettings:
    return AdmissionSettings(link_rules(job), Caps(job.max_pages, job.max_pages_per_host))


def reader_settings(job: Job) -> ReaderSettings:
    return ReaderSettings(
        rules=link_rules(job),
        extract=tuple(job.extract),
        follow=tuple(job.follow),
        follow_nofollow=job.follow_nofollow,
        detect_shells=job.render_auto,
        content=content_settings(job) if job.content else None,
    )


def content_settings(job: Job) -> ContentSettings:
    return ContentSettings(
        markdown="markdown" in job.content,
        text="text" in job.content,
        main_content=job.main_content,
        simhash=looks_for_near_duplicates(job),
        chunk_words=job.chunks.words if job.chunks is not None else None,
        chunk_overlap=job.chunks.overlap if job.chunks is not None else 0,
    )


def looks_for_near_duplicates(job: Job) -> bool:
    return bool(job.content) and job.near_duplicates != "off"


def recrawl_settings(job: Job) -> RecrawlSettings:
    rules = tuple((rule.match, rule.after) for rule in job.recrawl_rules)
    return RecrawlSettings(after=job.recrawl_after, rules=rules, adaptive=job.recrawl_adaptive)


def pipeline_settings(job: Job) -> PipelineSettings:
    return PipelineSettings(
        ignore_robots=job.ignore_robots,
        retries=job.retries,
        retry_backoff=job.retry_backoff,
        proxy_retries=job.proxy_retries,
        max_redirects=job.max_redirects,
        recrawl=recrawl_settings(job),
    )


def output_settings(job: Job, *, hook_items: bool) -> OutputSettings:
    """Items go to CSV only with extract rules (their fields are the columns); a parse hook's
    items are JSONL (the job's validation refuses CSV with a parse hook)."""
    content = {
        "content": bool(job.content),
        "chunks": job.chunks is not None,
        "skip_near_duplicates": job.near_duplicates == "skip",
        "near_index": looks_for_near_duplicates(job) and not job.shared,
    }
    if job.extract and job.format == "csv":
        columns = tuple(dict.fromkeys(f for rule in job.extract for f in rule.fields))
        return OutputSettings("csv", columns, job.warc, **content)
    return OutputSettings("jsonl" if job.extract or hook_items else None, (), job.warc, **content)


def identity(job: Job) -> dict[str, Any]:
    """What makes a shared job one job (see :mod:`crawler.redis.identity`), as JSON data."""
    from crawler.redis.identity import DEFINING

    data: dict[str, Any] = job.model_dump(mode="json", include=set(DEFINING), exclude_defaults=True)
    return data
