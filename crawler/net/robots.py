"""robots.txt: fetched once per host through the crawl's session and parsed with Protego.

4xx means no rules (allow all). 5xx or an unreachable host is retried with backoff, then the host
is allowed with a warning, as Google and Scrapy do; a refusal no retry can change (blocked address,
TLS failure) is not retried. ``Crawl-delay`` raises the host's delay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from protego import Protego
from yarl import URL

from crawler.errors import FetchError
from crawler.net.fetch import Fetcher
from crawler.scheduling.scheduler import HostGate

MAX_ROBOTS_BYTES = 512 * 1024


class Robots:
    """Answers "may we fetch this URL?" per host, loading each robots.txt at most once."""

    def __init__(self, fetcher: Fetcher, gate: HostGate, user_agent: str, *,
                 retries: int, backoff: float, warn: Callable[[str], None]) -> None:
        self._fetcher = fetcher
        self._gate = gate
        self._ua = user_agent
        self._retries = retries
        self._backoff = backoff
        self._warn = warn
        self._rules: dict[str, asyncio.Task[Protego | None]] = {}

    async def sitemaps(self, url: URL, host: str) -> list[str]:
        """The ``Sitemap:`` lines of the host's robots.txt."""
        rules = await self._rules_for(url, host)
        return list(rules.sitemaps) if rules is not None else []

    async def allowed(self, url: URL, host: str) -> bool:
        rules = await self._rules_for(url, host)
        return rules is None or rules.can_fetch(str(url), self._ua)

    async def _rules_for(self, url: URL, host: str) -> Protego | None:
        """The host's rules, loaded once however many requests ask at the same time."""
        task = self._rules.get(host)
        if task is None:
            task = self._rules[host] = asyncio.ensure_future(self._load(url, host))
        return task.result() if task.done() else await asyncio.shield(task)

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
                    self._gate.set_delay(host, float(delay), asyncio.get_running_loop().time())
                return rules
            if 400 <= status < 500:
                return None
            problem = f"status {status}"
        self._warn(f"robots.txt of {host} unavailable ({problem}); crawling it without rules")
        return None
