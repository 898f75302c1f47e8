"""``crawler check JOB [--url URL]``: the job file is valid; with ``--url``, fetch one page with
the job's settings and show what the job would do with it: the items its rules and parse hook
give, their problems, and the links it would follow. A page the job renders (``render:``, or
``render: auto`` finding a script-built shell) is loaded in the browser, as the crawl would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from crawler.config import Job
from crawler.core.errors import ConfigError, FetchError, InvalidURL
from crawler.core.outgoing import Outgoing
from crawler.core.response import Response
from crawler.core.urls import join, parse_seed
from crawler.hooks import HookFailed, Hooks, prepare
from crawler.net.fetch import Fetcher, make_session
from crawler.net.proxies import Proxy, Router
from crawler.net.render import Renderer, fetch_or_render
from crawler.parsing.page import Fetched
from crawler.parsing.reader import PageReader, PageResult
from crawler.scheduling.limiter import LocalHostLimiter
from crawler.scheduling.slots import Slots


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
    router = Router.from_job(job)
    hooks = Hooks.from_paths(job.hook_paths)
    reader = PageReader(job, hooks.parse)
    limiter = LocalHostLimiter(job.per_host)
    renderer = Renderer(job, Slots(limiter.acquire, limiter.release)) if job.render or job.render_auto else None
    async with make_session(job) as session:
        fetcher = Fetcher(session, job, router)
        proxy = None
        try:
            extra = None
            if hooks.request is not None:
                extra = await prepare(hooks.request, Outgoing(str(target), 0), router.choose)
            proxy = await router.acquire(target.host or "", extra.proxy if extra is not None else None)
            response = await fetch_or_render(
                target,
                None,
                proxy,
                extra,
                fetcher=fetcher,
                renderer=renderer,
                render=renderer is not None and renderer.wants(str(target)),
            )
            if (
                renderer is not None
                and not response.rendered
                and response.body is not None
                and response.error is None
                and _read(reader, str(target), response, []).shell
            ):
                response = await renderer.fetch(target, None, proxy, extra)  # render: auto
        except HookFailed as e:
            return f"{target}: request hook failed: {e}"
        except FetchError as e:  # a browser that cannot start is one too (kind render)
            return f"{target}: {e.kind}: {e.message}"
        finally:
            if proxy is not None:
                router.release(proxy)
            await fetcher.close()
            if renderer is not None:
                await renderer.close()
    return _report(reader, str(target), response, proxy)


def _read(reader: PageReader, url: str, response: Response, trace: list[str]) -> PageResult:
    assert response.body is not None
    headers = tuple(response.headers.items()) if response.headers else ()
    return reader.read(
        Fetched(response.final_url or url, response.body, response.content_type, 0, None, response.status, headers),
        trace,
    )


def _report(reader: PageReader, target: str, response: Response, proxy: Proxy | None) -> str:
    lines = [
        f"{target}: status {response.status}, {response.content_type or 'no content type'}, "
        f"{response.nbytes} bytes"
        + (f", via {proxy.id}" if proxy else "")
        + (", rendered in the browser" if response.rendered else "")
    ]
    if response.error is not None:
        lines.append(f"error: {response.error.kind}: {response.error.message}")
    if response.location is not None:
        try:
            lines.append(f"redirects to {join(parse_seed(target), response.location)}")
        except InvalidURL as e:
            lines.append(f"redirects to an unusable URL: {e}")
    if response.body is None:
        return "\n".join(lines)
    trace: list[str] = []
    page = _read(reader, target, response, trace)
    lines.append(f"title: {page.title}")
    if trace:
        lines.append("fields (matches → value):")
        lines += [f"  {t}" for t in trace]
    lines.append(f"items ({len(page.items)}):")
    lines += [f"  {json.dumps(item, ensure_ascii=False)}" for item in page.items]
    if page.hook_error:
        lines.append(f"parse hook failed: {page.hook_error}")
    if page.extract_errors:
        lines.append(f"extraction problems ({len(page.extract_errors)}):")
        lines += [f"  {e}" for e in page.extract_errors]
    lines.append(f"links to follow ({len(page.links)} of {page.found} found):")
    lines += [f"  {u}" for u, _ in page.links]
    return "\n".join(lines)
