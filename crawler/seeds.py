"""Where a crawl starts: the hosts a previous run left work on, the job's seeds, and (``sitemaps``)
the pages the seeds' hosts list in their sitemaps, admitted through
:class:`~crawler.admission.Admission` like any other request. The engine calls :func:`start` once
the session is open, and keeps only the crawl's lifecycle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from yarl import URL

from crawler.core.request import Request
from crawler.core.step import Source
from crawler.core.urls import host_key
from crawler.net.sitemaps import sitemap_urls
from crawler.pipeline import Stages
from crawler.wiring import Parts


async def start(parts: Parts, net: Stages, warn: Callable[[str], None]) -> None:
    """Schedule the work a previous run left, then admit the seeds (and sitemaps)."""
    for host in await parts.frontier.hosts_with_work():
        parts.scheduler.has_work(host)
    seeds = [Request(u, host_key(URL(u, encoded=True))) for u in parts.settings.seeds]
    await parts.admission.admit(seeds, Source.SEED)
    if parts.settings.sitemaps:
        roots = {r.host: URL(r.url, encoded=True) for r in reversed(seeds)}  # first seed per host
        await asyncio.gather(*(_from_sitemaps(root, parts, net, warn) for root in roots.values()))


async def _from_sitemaps(root: URL, parts: Parts, net: Stages, warn: Callable[[str], None]) -> None:
    """Admit the pages listed by the host's sitemaps (depth 1, parent: the sitemap). Each
    fetch holds a slot of its host, like any request."""
    settings, host = parts.settings, host_key(root)
    declared: list[str] = []
    if not settings.ignore_robots:
        async with parts.scheduler.slot(host):
            declared = await net.robots.sitemaps(root, host)

    async def fetch(url: URL) -> tuple[int, bytes]:
        async with parts.scheduler.slot(host_key(url)):
            return await net.fetcher.get_routed(url, settings.max_bytes)

    async for found in sitemap_urls(root, declared, fetch, settings.max_bytes, warn):
        await parts.admission.admit([Request(str(u), host_key(u), 1, parent) for u, parent in found], Source.SITEMAP)
