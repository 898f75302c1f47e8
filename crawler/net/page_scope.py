"""Whether a rendered page stays where the crawl may go: the job's scope and robots.txt.

A script's navigation of the page is stopped before it is sent (the page's route sees it). A
redirect is not: the browser follows it itself (Playwright routes no redirect hop), so it is found
in the main frame's answers and checked as the fetcher checks a redirect's target: in scope, and
allowed by its host's robots.txt (read first when the crawl has not read it yet). The page a
refused redirect leads to is not kept, and none of its resources are loaded (iframes neither);
its record is the redirect's ``redirect`` error, and the redirect is archived. The requests of its
hops were sent.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from yarl import URL

from crawler.admission import LinkRules
from crawler.core.errors import FetchError, Kind
from crawler.core.response import Response
from crawler.core.urls import host_key

if TYPE_CHECKING:
    from playwright.async_api import Frame, Request
    from playwright.async_api import Response as BrowserResponse

    from crawler.net.robots import Robots

Refused = tuple["BrowserResponse", str, FetchError]  # the redirect, its target, why it is refused


class PageScope:
    """The job's scope (``rules``) and its robots.txt (``robots``; None when the job ignores it),
    as they apply to a rendered page's navigations and redirects."""

    def __init__(self, rules: LinkRules | None, robots: Robots | None = None) -> None:
        self.rules = rules
        self.robots = robots

    def navigates_out(self, request: Request, main: Frame, target: URL) -> bool:
        """Whether ``request`` navigates the page (loaded for ``target``) out of scope."""
        return (
            request.is_navigation_request()
            and request.frame == main
            and self.rules is not None
            and str(target) != request.url
            and self.rules.refusal(URL(request.url, encoded=True), 0) is not None
        )

    async def shows_outside(self, request: Request, main: Frame, answers: list[BrowserResponse]) -> bool:
        """Whether ``request`` is for a page a refused redirect led to (``answers``: the main
        frame's so far), other than the main frame's own navigations: not loaded (iframes neither)."""
        if request.is_navigation_request() and request.frame == main:
            return False
        return await self.redirect_out(answers) is not None

    async def redirect_out(self, answers: list[BrowserResponse], within: float | None = None) -> Refused | None:
        """The main document's first redirect (``answers``: the main frame's) to a target out of
        scope or that robots.txt disallows, or None. A target's robots.txt not read yet is read,
        for at most ``within`` seconds (None: the caller's deadline bounds it); one not read by
        then refuses, as robots.txt does not fail open. (Depth 0: the page's own was admitted.)"""
        for answer in answers:
            hop = answer.request.redirected_to
            if hop is None:
                continue
            target = URL(hop.url, encoded=True)
            if self.rules is not None and (why := self.rules.refusal(target, 0)) is not None:
                return answer, hop.url, FetchError(Kind.REDIRECT, f"redirect to {why} {hop.url}")
            if self.robots is not None and (refusal := await self._robots_refusal(target, within)) is not None:
                return answer, hop.url, refusal
        return None

    async def _robots_refusal(self, target: URL, within: float | None) -> FetchError | None:
        """Why robots.txt refuses ``target`` (a ``redirect`` error naming it), or None."""
        assert self.robots is not None
        host = host_key(target)
        if not self.robots.loaded(host):
            try:
                async with asyncio.timeout(within):
                    await self.robots.load(target, host)  # (shielded: a load cut short goes on)
            except TimeoutError:
                return FetchError(Kind.REDIRECT, f"redirect to {target} before its robots.txt could be read")
        if (refusal := self.robots.refusal(target, host)) is None:
            return None
        message = f"redirect to {target}, {refusal.message}"
        return FetchError(Kind.REDIRECT, message, retryable=refusal.retryable, retry_after=refusal.retry_after)


def left_scope(answer: BrowserResponse, target: str, error: FetchError) -> Response:
    """The redirect ``answer`` to ``target``, refused with ``error``, as the fetcher records one:
    its status and content type, and nothing of the page it led to."""
    ctype = answer.headers.get("content-type", "")
    return Response(answer.status, ctype, error=error, rendered=True, final_url=target)
