"""robots.txt: fetched once per host through the crawl's session and parsed with Protego.

RFC 9309, never failing open on our side: 2xx gives the rules; 4xx means no rules (allow all);
5xx or an unreachable site (after ``retries`` tries with back-off) makes the host count as fully
disallowed until robots.txt is asked for again, ``recheck`` seconds later (the RFC allows
assuming "allow all" only after 30 days of errors). A failure of this machine (no file
descriptors, memory, disk) says nothing about the site: nothing is cached and robots.txt is asked
for again after a pause. A refusal that the page itself would hit too (blocked address, TLS, bad
URL) lets the page's own request fail with its real error kind; when our proxy fails, the host
stays closed and its pages' records say ``proxy``. ``Crawl-delay`` raises the host's delay.

The pipeline loads a host's rules inside a slot the host limiter gave it, like any request; the
page then waits, in the same lease, for the host's next start. Parsed rules are kept for the ``CACHE`` most recent
hosts; past that, a host's robots.txt is kept in its compact form (the text, ``FORMS_BYTES`` in all) and
parsed again when the host comes back, without a request: a broad crawl whose hub links 20,000 hosts at
once comes back to each host after the other 19,999 and must not fetch every robots.txt twice. Memory
does not grow with every host the crawl ever saw: a host past both is asked again.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from protego import Protego
from yarl import URL

from crawler.core.errors import FetchError, Kind
from crawler.net.fetch import Fetcher
from crawler.scheduling.limiter import HostLimiter

MAX_ROBOTS_BYTES = 512 * 1024
CACHE = 10_000
FORMS_BYTES = 8 << 20  # robots.txt texts kept past CACHE (~250 bytes a host without rules: 32,000 hosts)
FORM_OVERHEAD = 200  # bytes counted per kept form besides its text: dict slot, key, tuple, float


@dataclass(frozen=True, slots=True)
class Unavailable:
    """robots.txt could not be read; the host counts as disallowed until ``retry_at``
    (``time.monotonic()``). ``local``: this machine was the cause, so it is asked again at once."""

    reason: str
    retry_at: float
    local: bool = False
    kind: Kind = Kind.ROBOTS  # PROXY when our proxy, not the site, failed: the record says so


Rules = Protego | Unavailable | None  # None: no rules (allow all)


class RobotsCache(Protocol):
    """robots.txt answers shared by every process of a job, so each host's file is fetched once
    and every worker obeys the same rules. Values: ``+`` and the body, ``-`` (no rules) or ``!``
    and why it is unavailable."""

    async def get(self, host: str) -> str | None: ...

    async def put(self, host: str, value: str, ttl: float) -> None: ...


SHARED_TTL = 86_400.0  # seconds a shared robots.txt is trusted (RFC 9309: at most 24 hours)


class Robots:
    """Answers "may we fetch this URL?" per host, loading each robots.txt at most once."""

    def __init__(
        self,
        fetcher: Fetcher,
        limiter: HostLimiter,
        user_agent: str,
        *,
        retries: int,
        backoff: float,
        warn: Callable[[str], None],
        shared: RobotsCache | None = None,
    ) -> None:
        self._fetcher = fetcher
        self._limiter = limiter
        self._ua = user_agent
        self._retries = retries
        self._backoff = backoff
        self._warn = warn
        self._shared = shared
        self.recheck = max(1.0, backoff * 2**retries)
        self._rules: OrderedDict[str, asyncio.Task[Rules]] = OrderedDict()
        self._forms: OrderedDict[str, tuple[str, float]] = OrderedDict()  # host → (form, expires)
        self._forms_bytes = 0

    def loaded(self, host: str) -> bool:
        """True while the host's rules are known (``refusal`` then answers without a request);
        an unavailable robots.txt stops counting as known once it is due to be asked again."""
        task = self._rules.get(host)
        if task is None:
            return self._restore(host)
        if not task.done():
            return False
        rules = task.result()
        if isinstance(rules, Unavailable) and (rules.local or rules.retry_at <= time.monotonic()):
            del self._rules[host]
            return False
        return True

    def loading(self, host: str) -> bool:
        """True while another request is loading the host's rules: a ``load`` now waits for it
        and sends nothing, so the caller's slot carries no robots.txt request."""
        task = self._rules.get(host)
        return task is not None and not task.done()

    def refusal(self, url: URL, host: str) -> FetchError | None:
        """Why robots.txt keeps ``url`` from being fetched now, or None (rules must be loaded)."""
        return self.refusal_by(self._rules[host].result(), url)

    def refusal_by(self, rules: Rules, url: URL) -> FetchError | None:
        """Why ``rules`` (what ``load`` gave) keep ``url`` from being fetched now, or None."""
        if isinstance(rules, Unavailable):
            return FetchError(
                rules.kind,
                f"robots.txt unavailable ({rules.reason}); the host counts as "
                "disallowed until it can be read (RFC 9309)",
                retryable=True,
                retry_after=max(0.0, rules.retry_at - time.monotonic()),
            )
        if rules is not None and not rules.can_fetch(str(url), self._ua):
            return FetchError(Kind.ROBOTS, "disallowed by robots.txt")
        return None

    async def sitemaps(self, url: URL, host: str) -> list[str]:
        """The ``Sitemap:`` lines of the host's robots.txt."""
        rules = await self.load(url, host)
        return list(rules.sitemaps) if isinstance(rules, Protego) else []

    async def load(self, url: URL, host: str) -> Rules:
        """The host's rules, loaded once however many requests ask at the same time."""
        task = self._rules.get(host)
        if task is None:
            task = self._rules[host] = asyncio.ensure_future(self._load_shared(url, host))
            if len(self._rules) > CACHE:
                self._evict()
        else:
            self._rules.move_to_end(host)
        return task.result() if task.done() else await asyncio.shield(task)

    def _restore(self, host: str) -> bool:
        """Parse the host's kept robots.txt again, without a request (True), unless none is kept,
        it is too old or it asks for a Crawl-delay (the limiter is told on the way that loads it)."""
        value = self._kept(host)
        if value is None:
            return False
        rules = self._parse(value)
        if isinstance(rules, Protego) and rules.crawl_delay(self._ua):
            return False
        future: asyncio.Future[Rules] = asyncio.get_running_loop().create_future()
        future.set_result(rules)
        self._rules[host] = future  # type: ignore[assignment]  # a done future answers as a done task
        if len(self._rules) > CACHE:
            self._evict()
        return True

    def _kept(self, host: str) -> str | None:
        """The host's kept robots.txt form, unless none is kept or it is too old (then dropped)."""
        kept = self._forms.get(host)
        if kept is None:
            return None
        if kept[1] <= time.monotonic():
            self._drop_form(host)
            return None
        self._forms.move_to_end(host)
        return kept[0]

    def _keep_form(self, host: str, value: str) -> None:
        """Keep the site's answer (``+`` and the text, or ``-``) past CACHE, FORMS_BYTES in all,
        the least recently used dropped first."""
        self._drop_form(host)
        self._forms[host] = (value, time.monotonic() + SHARED_TTL)
        self._forms_bytes += len(value) + len(host) + FORM_OVERHEAD
        while self._forms_bytes > FORMS_BYTES and self._forms:
            self._drop_form(next(iter(self._forms)))

    def _drop_form(self, host: str) -> None:
        kept = self._forms.pop(host, None)
        if kept is not None:
            self._forms_bytes -= len(kept[0]) + len(host) + FORM_OVERHEAD

    def _evict(self) -> None:
        """Drop the least recently asked hosts past CACHE: O(1) per new host (a rule still
        loading is moved to the back instead; its requests are waiting for it)."""
        for _ in range(len(self._rules) - CACHE):
            host, task = next(iter(self._rules.items()))
            if task.done():
                del self._rules[host]
            else:
                self._rules.move_to_end(host)

    async def _load_shared(self, url: URL, host: str) -> Rules:
        """The host's rules from the job's shared cache, or fetched (and then shared)."""
        if (kept := self._kept(host)) is not None:
            return await self._decode(host, kept)
        if self._shared is not None and (value := await self._shared.get(host)) is not None:
            if not value.startswith("!"):
                self._keep_form(host, value)
            return await self._decode(host, value)
        rules, shareable = await self._load(url, host)
        if shareable is not None and not shareable.startswith("!"):
            self._keep_form(host, shareable)
        if self._shared is not None and shareable is not None:
            await self._shared.put(host, shareable, self.recheck if shareable.startswith("!") else SHARED_TTL)
        return rules

    async def _decode(self, host: str, value: str) -> Rules:
        """Rules from their shared form (see RobotsCache); Crawl-delay goes to the limiter."""
        rules = self._parse(value)
        if isinstance(rules, Protego) and (delay := rules.crawl_delay(self._ua)):
            await self._limiter.crawl_delay(host, float(delay))
        return rules

    def _parse(self, value: str) -> Rules:
        """Rules from their shared form: ``!reason`` unavailable, ``-`` none, ``+`` and the text."""
        if value.startswith("!"):
            return Unavailable(value[1:], time.monotonic() + self.recheck)
        return None if value == "-" else Protego.parse(value[1:])

    async def _load(self, url: URL, host: str) -> tuple[Rules, str | None]:
        """Fetch and read robots.txt: the rules, and their shared form (None: not the site's
        answer, so not for other workers: a failure of this machine, our proxy or our resolver)."""
        robots_url = url.with_path("/robots.txt").with_query(None)
        problem, kind = "", Kind.ROBOTS
        for attempt in range(self._retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                status, body = await self._fetcher.get_routed(robots_url, MAX_ROBOTS_BYTES)
            except FetchError as e:
                problem = f"{e.kind}: {e.message}"
                # the page says why; a failure of our proxy (or resolver) is not the site's to share
                kind = Kind.PROXY if e.proxy_fault else e.kind if e.kind in (Kind.PROXY, Kind.DNS) else Kind.ROBOTS
                if e.kind is Kind.LOCAL:
                    return Unavailable(e.message, time.monotonic(), local=True), None
                if e.retryable or e.proxy_fault:
                    continue
                if kind is Kind.PROXY:
                    break
                self._warn(
                    f"robots.txt of {host} refused ({problem}); crawling it without rules: "
                    "its pages meet the same refusal"
                )
                return None, "-"
            if 200 <= status < 300:
                value = "+" + body.decode("utf-8", "replace")
                return await self._decode(host, value), value
            if 400 <= status < 500:
                return None, "-"
            problem = f"status {status}"
        self._warn(
            f"robots.txt of {host} unavailable ({problem}); not crawling it until it can be read, "
            f"asking again in {self.recheck:g}s (RFC 9309)"
        )
        shareable = (
            "!" + problem if kind is Kind.ROBOTS else None
        )  # our proxy's or resolver's failure is not the site's
        return Unavailable(problem, time.monotonic() + self.recheck, kind=kind), shareable
