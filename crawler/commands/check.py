"""``crawler check JOB [--url URL]``: the job file is valid; with ``--url``, fetch one page
with the job's settings and show what the job would do with it: the items its rules and parse
hook give, their problems, and the links it would follow. The page goes through the crawl's own
pipeline, built by :mod:`crawler.wiring` (request hook, proxy, fetch or browser, ``render:
auto``, parse), with one attempt, robots.txt not asked, and nothing written."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from crawler import wiring
from crawler.config import Job
from crawler.core.content import PageContent
from crawler.core.errors import ConfigError, FetchError, InvalidURL, Kind
from crawler.core.record import Record
from crawler.core.request import Request
from crawler.core.response import PendingBody
from crawler.core.step import Again, Final, Reason, Step
from crawler.core.urls import host_key, parse_seed
from crawler.hooks import Hooks
from crawler.observe.stats import Stats
from crawler.parsing.page import Fetched
from crawler.parsing.process import InlineParser, Parsed
from crawler.parsing.reader import PageReader, PageResult
from crawler.pipeline import Pipeline


class _Traced(InlineParser):
    """The inline parser, keeping the last page it read and each extracted field's trace."""

    def __init__(self, reader: PageReader) -> None:
        super().__init__(reader)
        self.last: PageResult | None = None
        self.trace: list[str] = []

    async def read(self, page: Fetched, body: PendingBody | None = None) -> Parsed:
        self.trace = []  # (``body`` is None: nothing is written)
        try:
            self.last = self._reader.read(page, self.trace)
        except Exception as e:  # a bug of ours: the page's error, as the crawl records it
            raise FetchError(Kind.INTERNAL, f"parser: {type(e).__name__}: {e}") from None
        return Parsed(self.last)


def check(job: Job, url: str | None, echo: Callable[[str], None]) -> None:
    """Say the (validated) job's shape; with ``url``, what the job does with that page."""
    echo(
        f"ok: job {job.job_name!r}: {len(job.start_urls)} start URL(s), "
        f"concurrency {job.concurrency}, per host {job.per_host}, output {job.output_dir}"
    )
    if url:
        try:
            echo(asyncio.run(try_url(job, url)))
        except InvalidURL as e:
            raise ConfigError(f"--url: {e}") from None


async def try_url(job: Job, url: str) -> str:
    """A readable report of one page through the job and its hooks (robots.txt is not consulted)."""
    target = parse_seed(url)
    parts = wiring.one_page(job, Hooks.from_paths(job.hook_paths), _Traced)
    parser = parts.parser
    assert isinstance(parser, _Traced)
    stats = Stats()
    async with wiring.connect(parts, stats, _ignore, pages=None) as stages:
        pipeline = Pipeline(parts.pipeline, stages, stats=stats, warn=_ignore)
        request = Request(str(target), host_key(target))
        await parts.frontier.add([request])
        while True:
            parser.last = None
            step = await _visit(parts, pipeline, request.host)
            if isinstance(step, Final):
                break
            if step.reason is Reason.LOCAL:  # this machine ran out of something: no point waiting here
                return f"{target}: {Kind.LOCAL}: {step.detail}"
            await asyncio.sleep(step.after)  # a proxy to wait for; a shell to render (render: auto)
    return _report(str(target), step.record, parser)


async def _visit(parts: wiring.Parts, pipeline: Pipeline, host: str) -> Step:
    """Lease the page and run it through the pipeline once, as a crawl's worker does."""
    parts.scheduler.has_work(host)
    (lease,) = await parts.scheduler.next(1)
    try:
        step = await pipeline.run(lease.request, parts.scheduler.slot_of(lease))
    finally:
        await parts.scheduler.finished(lease)
    if isinstance(step, Again):
        await parts.frontier.again(lease, step.attempts)
    return step


def _ignore(message: str) -> None:
    """Warnings of the crawl (a page that did not parse shows as its error) are not shown."""


CONTENT_PREVIEW = 12  # lines of a page's Markdown that ``check --url`` shows


def _content(content: PageContent) -> list[str]:
    """What ``content:`` would write for the page: its metadata, size and first lines."""
    known = ", ".join(f"{k}: {v}" for k, v in content.metadata.items() if v)
    lines = [f"content ({content.words} words): {known or 'no metadata'}"]
    body = (content.markdown if content.markdown is not None else content.text or "").splitlines()
    lines += [f"  {line}" for line in body[:CONTENT_PREVIEW]]
    if len(body) > CONTENT_PREVIEW:
        lines.append(f"  … {len(body) - CONTENT_PREVIEW} more lines")
    return lines


def _report(target: str, record: Record, parser: _Traced) -> str:
    error = record.error
    if record.status is None and error is not None:  # no answer: the request hook or the fetch failed
        if error.kind is Kind.HOOK:
            return f"{target}: request hook failed: {error.message}"
        return f"{target}: {error.kind}: {error.message}"
    lines = [
        f"{target}: status {record.status}, {record.content_type or 'no content type'}, "
        f"{record.bytes} bytes"
        + (f", via {record.proxy}" if record.proxy else "")
        + (", rendered in the browser" if record.rendered else "")
    ]
    if error is not None and error.kind is not Kind.HOOK:  # (a parse hook's failure is shown below)
        lines.append(f"error: {error.kind}: {error.message}")
    if record.status is not None and 300 <= record.status < 400 and record.final_url not in (None, target):
        lines.append(f"redirects to {record.final_url}")
    page = parser.last
    if page is None:
        return "\n".join(lines)
    lines.append(f"title: {page.title}")
    if parser.trace:
        lines.append("fields (matches → value):")
        lines += [f"  {t}" for t in parser.trace]
    lines.append(f"items ({len(page.items)}):")
    lines += [f"  {json.dumps(item, ensure_ascii=False)}" for item in page.items]
    if page.hook_error:
        lines.append(f"parse hook failed: {page.hook_error}")
    if page.extract_errors:
        lines.append(f"extraction problems ({len(page.extract_errors)}):")
        lines += [f"  {e}" for e in page.extract_errors]
    if page.content is not None:
        lines += _content(page.content)
    lines.append(f"links to follow ({len(page.links)} of {page.found} found):")
    lines += [f"  {u}" for u, _ in page.links]
    return "\n".join(lines)
