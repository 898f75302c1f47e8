"""``crawler check JOB --url URL``: fetch one page with the job's settings and show what the job
would do with it: the items its rules and parse hook give, their problems, and the links it would
follow."""

from __future__ import annotations

import json

from crawler.config import Job
from crawler.errors import FetchError, InvalidURL
from crawler.hooks import HookFailed, Hooks, Outgoing, prepare
from crawler.net.fetch import Fetcher, make_session
from crawler.net.proxies import Router
from crawler.parsing.page import Fetched
from crawler.parsing.reader import PageReader
from crawler.urls import join, parse_seed


async def try_url(job: Job, url: str) -> str:
    """A readable report of one page through the job and its hooks (robots.txt is not consulted)."""
    target = parse_seed(url)
    router = Router.from_job(job)
    hooks = Hooks.from_paths(job.hook_paths)
    async with make_session(job) as session:
        fetcher = Fetcher(session, job, router)
        proxy = None
        try:
            extra = None
            if hooks.request is not None:
                extra = await prepare(hooks.request, Outgoing(str(target), 0), router.choose)
            proxy = await router.acquire(target.host or "", extra.proxy if extra is not None else None)
            response = await fetcher.fetch(target, None, proxy, extra)
        except HookFailed as e:
            return f"{target}: request hook failed: {e}"
        except FetchError as e:
            return f"{target}: {e.kind}: {e.message}"
        finally:
            if proxy is not None:
                router.release(proxy)
            await fetcher.close()
    lines = [f"{target}: status {response.status}, {response.content_type or 'no content type'}, "
             f"{response.nbytes} bytes" + (f", via {proxy.id}" if proxy else "")]
    if response.error is not None:
        lines.append(f"error: {response.error.kind}: {response.error.message}")
    if response.location is not None:
        try:
            lines.append(f"redirects to {join(target, response.location)}")
        except InvalidURL as e:
            lines.append(f"redirects to an unusable URL: {e}")
    if response.body is None:
        return "\n".join(lines)
    headers = tuple(response.headers.items()) if response.headers else ()
    trace: list[str] = []
    page = PageReader(job, hooks.parse).read(
        Fetched(str(target), response.body, response.content_type, 0, None, response.status, headers), trace)
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
