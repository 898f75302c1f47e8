"""Admission: the one place that decides whether a URL enters the crawl.

Every source goes through :meth:`Admission.admit`: seeds, links found on pages, redirect targets
and sitemap entries. The rules (scope, depth, ``max_url_length``) are a picklable
:class:`LinkRules`, which the parser process applies to page links before they cross the pipe
(the same object, so the check is the same); dedup and the caps (``max_pages``,
``max_pages_per_host``) are enforced by the frontier, atomically, where the counts live.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from yarl import URL

from crawler.core.errors import FetchError, InvalidURL, Kind
from crawler.core.request import Caps, Request
from crawler.core.step import Source
from crawler.core.urls import Scope, host_key, join
from crawler.frontier import Frontier


class LinkRules:
    """Scope, depth and URL length: whether a URL may enter, before dedup and caps."""

    def __init__(self, scope: Scope, max_url_length: int) -> None:
        self.scope = scope
        self.max_url_length = max_url_length

    def allows_parts(self, scheme: str, host: str | None, text: str, depth: int) -> bool:
        """``refusal(...) is None`` for a URL already taken apart (the parser's links are strings)."""
        return len(text) <= self.max_url_length and self.scope.allows_parts(scheme, host, text, depth)

    def refusal(self, url: URL, depth: int) -> str | None:
        """Why ``url`` at ``depth`` may not enter (for a record's error message), or None."""
        text = str(url)
        if len(text) > self.max_url_length:
            return f"URL longer than max_url_length ({self.max_url_length})"
        if not self.scope.allows_parts(url.scheme, url.host, text, depth):
            return "out-of-scope URL"
        return None

    def redirect(self, request: Request, url: URL, location: str, max_redirects: int) -> Redirect:
        """Where a redirect of ``request`` (fetched as ``url``) leads, and the request for its
        target, or why it is not followed."""
        try:
            target = join(url, location)
        except InvalidURL as e:
            return Redirect(None, None, FetchError(Kind.REDIRECT, f"redirect to unusable URL {location[:200]!r}: {e}"))
        refusal = self.refusal(target, request.depth)
        if request.redirects >= max_redirects:
            return Redirect(str(target), None, FetchError(Kind.REDIRECT, f"more than {max_redirects} redirects"))
        if refusal is not None:
            return Redirect(str(target), None, FetchError(Kind.REDIRECT, f"redirect to {refusal} {target}"))
        hop = Request(
            str(target),
            host_key(target),
            request.depth,
            request.url,
            redirects=request.redirects + 1,
            meta=request.meta,
            priority=request.priority,
        )
        return Redirect(str(target), hop, None)


@dataclass(frozen=True, slots=True)
class Redirect:
    """A redirect's target URL (None if unusable), its request when followed, else the error."""

    final_url: str | None
    follow: Request | None
    error: FetchError | None


@dataclass(frozen=True, slots=True)
class AdmissionSettings:
    """What may enter (scope, depth, length) and how much (the caps)."""

    rules: LinkRules
    caps: Caps


class Admission:
    """Filters candidate requests by source, adds them to the frontier, tells the scheduler."""

    def __init__(self, settings: AdmissionSettings, frontier: Frontier, on_admitted: Callable[[str], None]) -> None:
        self.rules = settings.rules
        self._frontier = frontier
        self._caps = settings.caps
        self._on_admitted = on_admitted

    async def admit(self, requests: Sequence[Request], source: Source) -> list[Request]:
        """Admit the requests that pass the rules, are new and fit the caps; return those."""
        if source in (Source.REDIRECT, Source.SITEMAP):
            requests = [r for r in requests if self.rules.refusal(URL(r.url, encoded=True), r.depth) is None]
        if not requests:
            return []
        fresh = await self._frontier.add(requests, self._caps)
        for host in {r.host for r in fresh}:
            self._on_admitted(host)
        return fresh
