"""The pipeline as a stage by itself: one leased request in, one value out (Final or Again),
against a live server on 127.0.0.1. It is built as the engine builds it (``crawler.wiring``) and
its leases come from a real scheduler over a memory frontier, so its slot is a real one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from crawler import wiring
from crawler.config import Job
from crawler.core.request import FIRST_ATTEMPT, Attempts, Request
from crawler.core.step import Again, Final, Reason, Source, Step
from crawler.frontier.memory import MemoryFrontier
from crawler.observe.stats import Stats
from crawler.pipeline import Pipeline
from crawler.scheduling.limiter import LocalHostLimiter
from crawler.scheduling.scheduler import Scheduler
from crawler.sinks.pages import PageStore
from tests.helpers.frontier_doubles import YieldingFrontier

RETRIES = 2
BACKOFF = 0.5


class Stage:
    """A pipeline and the scheduler its leases come from; ``visit`` runs one URL once."""

    def __init__(
        self, site: Any, pipeline: Pipeline, scheduler: Scheduler, frontier: YieldingFrontier, limiter: LocalHostLimiter
    ) -> None:
        self.site = site
        self.pipeline = pipeline
        self.scheduler = scheduler
        self.frontier = frontier
        self.limiter = limiter

    async def visit(self, path: str, attempts: Attempts = FIRST_ATTEMPT) -> tuple[Request, Step]:
        """Admit ``path`` of a.test, lease it and run it through the pipeline: the leased request
        (to show it was not edited) and the step."""
        host = f"a.test:{self.site.port}"
        await self.frontier.add([Request(self.site.url("a.test", path), host, attempts=attempts)])
        self.scheduler.has_work(host)
        (lease,) = await self.scheduler.next(1)
        try:
            return lease.request, await self.pipeline.run(lease.request, self.scheduler.slot_of(lease))
        finally:
            await self.scheduler.finished(lease)


@pytest.fixture
async def stage(site: Any, tmp_path: Any) -> AsyncIterator[Stage]:
    job = Job.model_validate(
        {
            "start_urls": [site.url("a.test")],
            "resolve": site.pin("a.test"),
            "output": tmp_path / "out",
            "retries": RETRIES,
            "retry_backoff": BACKOFF,
            "extract": [{"name": "plant", "match": "*/plants/*", "fields": {"name": "h1"}}],
        }
    )
    warnings: list[str] = []
    frontier = YieldingFrontier(MemoryFrontier())
    limiter = LocalHostLimiter(job.per_host, job.delay, job.jitter, adaptive=job.adaptive)
    parts = wiring.build(job, warnings.append, frontier=frontier, limiter=limiter)
    pages = PageStore(job.output_dir)
    await parts.parser.start()
    try:
        async with wiring.connect(parts, Stats(), warnings.append, pages=pages) as stages:
            pipeline = Pipeline(parts.pipeline, stages, stats=Stats(), warn=warnings.append)
            yield Stage(site, pipeline, parts.scheduler, frontier, limiter)
    finally:
        pages.close()
        await parts.parser.close()


def robots(site: Any, text: str) -> None:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(text=text)

    site.route("a.test", "/robots.txt", handler)


async def test_a_page_ends_in_its_record_its_links_and_its_items(stage, site):
    site.html("a.test", "/plants/bean", '<h1>Bean</h1><a href="/plants/pea">pea</a><a href="/about">about</a>')
    leased, step = await stage.visit("/plants/bean")
    assert isinstance(step, Final)
    assert (step.record.status, step.record.attempts, step.record.items) == (200, 1, 1)
    assert [r.url for r in step.follow] == [site.url("a.test", "/plants/pea"), site.url("a.test", "/about")]
    assert {r.parent for r in step.follow} == {leased.url} and {r.depth for r in step.follow} == {1}
    assert step.source is Source.LINK
    assert [item["name"] for item in step.items] == ["Bean"]
    assert step.visit is not None and step.visit.ok


async def test_a_retryable_answer_comes_back_as_again_with_one_more_attempt(stage, site):
    async def busy(_: web.Request) -> web.Response:
        return web.Response(status=503)

    site.route("a.test", "/busy", busy)
    leased, step = await stage.visit("/busy")
    assert isinstance(step, Again) and step.reason is Reason.RETRY
    assert step.attempts == Attempts(attempt=1)
    assert BACKOFF * 0.5 <= step.after <= BACKOFF * 1.5  # the first back-off, with its jitter
    assert leased.attempts == FIRST_ATTEMPT  # the lease is untouched: the frontier gets the value


async def test_when_the_retries_are_spent_the_failure_is_final(stage, site):
    async def busy(_: web.Request) -> web.Response:
        return web.Response(status=503)

    site.route("a.test", "/busy", busy)
    _, step = await stage.visit("/busy", Attempts(attempt=RETRIES))
    assert isinstance(step, Final)
    assert step.record.status == 503 and step.record.attempts == RETRIES + 1
    assert step.record.error is not None and step.record.error.kind == "http"


async def test_a_redirect_is_final_and_its_target_a_request_of_its_own(stage, site):
    async def moved(_: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/new")

    site.route("a.test", "/old", moved)
    leased, step = await stage.visit("/old")
    assert isinstance(step, Final) and step.record.status == 301 and step.source is Source.REDIRECT
    (target,) = step.follow
    assert (target.url, target.parent, target.redirects) == (site.url("a.test", "/new"), leased.url, 1)
    assert site.hits[("a.test", "/new")] == 0  # followed by the crawl, not by the pipeline


async def test_a_page_robots_txt_disallows_is_final_and_never_fetched(stage, site):
    robots(site, "User-agent: *\nDisallow: /private\n")
    site.html("a.test", "/private", "secret")
    _, step = await stage.visit("/private")
    assert isinstance(step, Final) and step.record.status is None
    assert step.record.error is not None and step.record.error.kind == "robots"
    assert site.hits[("a.test", "/private")] == 0


async def test_a_hosts_first_url_loads_robots_txt_then_its_page_in_one_visit(stage, site):
    robots(site, "User-agent: *\nDisallow: /private\n")
    site.html("a.test", "/", "home")
    _, step = await stage.visit("/")
    assert isinstance(step, Final) and step.record.status == 200
    assert (site.hits[("a.test", "/robots.txt")], site.hits[("a.test", "/")]) == (1, 1)
    assert stage.frontier.leased[site.url("a.test")] == 1
    assert stage.limiter.held() == {}  # the slot taken anew for the page went back once, like any
