"""robots.txt: fetched once per host through the crawl's session and parsed with Protego.

4xx means no rules (allow all). 5xx or an unreachable host is retried with backoff, then the host
is allowed with a warning, as Google and Scrapy do; a refusal no retry can change (blocked address,
TLS failure) is not retried. ``Crawl-delay`` raises the host's delay.

The pipeline loads a host's rules inside a slot the host limiter gave it, like any request, and
the page then waits for a slot of its own. Rules are kept for the ``CACHE`` most recent hosts, so a
broad crawl's memory does not grow with every host it ever saw (an evicted host is asked again).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable

from protego import Protego
from yarl import URL

from crawler.errors import FetchError
from crawler.net.fetch import Fetcher
from crawler.scheduling.limiter import HostLimiter

MAX_ROBOTS_BYTES = 512 * 1024
CACHE = 10_000


class Robots:
    """Answers "may we fetch this URL?" per host, loading each robots.txt at most once."""

    def __init__(self, fetcher: Fetcher, limiter: HostLimiter, user_agent: str, *,
                 retries: int, backoff: float, warn: Callable[[str], None]) -> None:
        self._fetcher = fetcher
        self._limiter = limiter
        self._ua = user_agent
        self._retries = retries
        self._backoff = backoff
        self._warn = warn
        self._rules: OrderedDict[str, asyncio.Task[Protego | None]] = OrderedDict()

    def loaded(self, host: str) -> bool:
        """True once the host's rules are known (allowed() then answers without a request)."""
        task = self._rules.get(host)
        return task is not None and task.done()

    async def sitemaps(self, url: URL, host: str) -> list[str]:
        """The ``Sitemap:`` lines of the host's robots.txt."""
        rules = await self.load(url, host)
        return list(rules.sitemaps) if rules is not None else []

    async def allowed(self, url: URL, host: str) -> bool:
        rules = await self.load(url, host)
        return rules is None or rules.can_fetch(str(url), self._ua)

    async def load(self, url: URL, host: str) -> Protego | None:
        """The host's rules, loaded once however many requests ask at the same time."""
        task = self._rules.get(host)
        if task is None:
            task = self._rules[host] = asyncio.ensure_future(self._load(url, host))
            if len(self._rules) > CACHE:
                self._evict()
        else:
            self._rules.move_to_end(host)
        return task.result() if task.done() else await asyncio.shield(task)

    def _evict(self) -> None:
        for host in list(self._rules):
            if len(self._rules) <= CACHE:
                break
            if self._rules[host].done():
                del self._rules[host]

    async def _load(self, url: URL, host: str) -> Protego | None:
        robots_url = url.with_path("/robots.txt").with_query(None)
        problem = ""
        for attempt in range(self._retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                status, body = await self._fetcher.get_routed(robots_url, MAX_ROBOTS_BYTES)
            except FetchError as e:
                problem = f"{e.kind}: {e.message}"
                if e.retryable or e.proxy_fault:
                    continue
                break  # a refusal (blocked, TLS, bad URL) will not change on a retry
            if 200 <= status < 300:
                rules = Protego.parse(body.decode("utf-8", "replace"))
                delay = rules.crawl_delay(self._ua)
                if delay:
                    await self._limiter.crawl_delay(host, float(delay))
                return rules
            if 400 <= status < 500:
                return None
            problem = f"status {status}"
        self._warn(f"robots.txt of {host} unavailable ({problem}); crawling it without rules")
        return None
