"""Whether a rendered page stays where the crawl may go: the job's scope and robots.txt.

A script's navigation of the page is stopped before it is sent (the page's route sees it). A
redirect is not: the browser follows it itself (Playwright routes no redirect hop), so it is found
in the main frame's answers and checked as the fetcher checks a redirect's target: in scope, and
allowed by its host's robots.txt (read first when the crawl has not read it yet: that request,
like the hop, takes no slot of the host). The page a refused redirect leads to is not kept, and
none of its resources are loaded (iframes neither); its record is the redirect's ``redirect``
error (retried when robots.txt could not be read), and the redirect is archived. The requests of
its hops were sent.

The page's answers are judged in the order they came, each as the fetcher judges a hop
(:meth:`Navigation.stop`): the proxy's own signals, then ``blocked_when``'s head rules, then the
redirect's target; the first that stops the page is its record.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from multidict import CIMultiDict
from yarl import URL

from crawler.admission import LinkRules
from crawler.core.blocked import BlockRules
from crawler.core.errors import ClusterError, FetchError, Kind
from crawler.core.response import Response
from crawler.core.urls import host_key
from crawler.net.robots import Robots, Unavailable

if TYPE_CHECKING:
    from playwright.async_api import Frame, Request
    from playwright.async_api import Response as BrowserResponse


Refused = tuple["BrowserResponse", str, FetchError]  # the redirect, its target, why it is refused
Signal = Callable[["BrowserResponse"], Exception | None]  # the proxy's own word on an answer, to raise


class Stop(NamedTuple):
    """The answer a rendered page ends at: the proxy's own signal (``said``, to raise), a redirect
    the crawl may not follow (``refused``: its target, and why), or else a bot wall."""

    answer: BrowserResponse
    refused: tuple[str, FetchError] | None = None
    said: Exception | None = None


class PageScope:
    """The job's scope (``rules``) and its robots.txt (``robots``; None when the job ignores it),
    as they apply to a rendered page's navigations and redirects."""

    def __init__(self, rules: LinkRules | None, robots: Robots | None = None) -> None:
        self.rules = rules
        self.robots = robots

    async def refusal(self, target: URL, within: float | None, what: str) -> FetchError | None:
        """Why the page may not go to ``target`` (by ``what``: a redirect, a navigation), as that
        one's error, or None. A robots.txt not read yet is read for at most ``within`` seconds
        (None: the caller's deadline bounds it); one not read by then refuses, as robots.txt does
        not fail open, for now. (Depth 0: the page's own was admitted.)"""
        if self.rules is not None and (why := self.rules.refusal(target, 0)) is not None:
            return FetchError(Kind.REDIRECT, f"{what} to {why} {target}")
        if self.robots is None:
            return None
        host = host_key(target)
        if self.robots.loaded(host):
            refusal = self.robots.refusal(target, host)
        else:
            try:
                async with asyncio.timeout(within):
                    rules = await self.robots.load(target, host)  # (shielded: a load cut short goes on)
            except TimeoutError:
                return FetchError(Kind.REDIRECT, f"{what} to {target} before its robots.txt was read", retryable=True)
            if isinstance(rules, Unavailable) and rules.local:  # this machine's failure: the page waits
                return FetchError(Kind.LOCAL, rules.reason, retryable=True)
            refusal = self.robots.refusal_by(rules, target)
        if refusal is None:
            return None
        kind = Kind.REDIRECT if refusal.kind is Kind.ROBOTS else refusal.kind  # (our proxy's or resolver's)
        message = f"{what} to {target}, {refusal.message}"
        return FetchError(kind, message, retryable=refusal.retryable, retry_after=refusal.retry_after)


class Navigation:
    """One rendered page's main-frame navigations: the answers (redirects, then the page's) and
    what :class:`PageScope` said of each target. The first verdict on a target holds for the
    page's life: its subresources refused while a robots.txt was unread are never followed by the
    page being kept, and that robots.txt is asked for once. A script's navigation refused for now
    (robots.txt unread or unavailable) is ``held``: the page is not kept but tried again."""

    def __init__(self, scope: PageScope) -> None:
        self.answers: list[BrowserResponse] = []
        self.held: FetchError | None = None
        self.outage: ClusterError | None = None  # met while a request was checked: the crawl stops with it
        self._scope = scope
        self._verdicts: dict[str, FetchError | None] = {}
        self._ours: set[Request] = set()  # navigations answered by us (204), not the site

    def note(self, main: Frame, response: BrowserResponse) -> None:
        """A response's headers are in: a navigation of the main frame is one of ``answers``."""
        from playwright.async_api import Error

        with contextlib.suppress(Error):  # (a service worker's request has no frame)
            request = response.request
            if request.is_navigation_request() and response.frame == main and request not in self._ours:
                self.answers.append(response)

    async def navigates_out(self, request: Request, main: Frame, target: URL, within: float | None) -> bool:
        """Whether ``request`` navigates the page (loaded for ``target``) where the crawl may not
        go; if so, the caller answers it with a 204 (the page stays as it is), which is not noted."""
        if not (request.is_navigation_request() and request.frame == main and str(target) != request.url):
            return False
        if (error := await self._verdict(request.url, within, "navigation")) is None:
            return False
        if error.retryable and self.held is None:
            self.held = error
        self._ours.add(request)
        return True

    async def shows_outside(self, request: Request, main: Frame, within: float | None) -> bool:
        """Whether ``request`` is for a page a refused redirect led to, other than the main
        frame's own navigations: not loaded (iframes neither)."""
        if request.is_navigation_request() and request.frame == main:
            return False
        return await self.redirect_out(within) is not None

    async def redirect_out(self, within: float | None = None) -> Refused | None:
        """The main document's first refused redirect, or None; the outage a request of the
        page met, raised (the page is not recorded: its URL stays leased, as on any outage)."""
        if self.outage is not None:
            raise self.outage
        for answer in self.answers:
            if (refused := await self._refused(answer, within)) is not None:
                return answer, *refused
        return None

    async def stop(self, rules: BlockRules, signal: Signal, within: float | None = None) -> Stop | None:
        """Where the page ends, hop by hop in the order the answers came, as the fetcher ends it at
        the same hop: the proxy's own ``signal`` on an answer, then a bot wall by status and
        headers (``blocked_when``), then a redirect to where the crawl may not go. Nothing past the
        first stop is judged (the page a refused redirect led to is not ours to see); a Redis outage
        a request of the page met is raised."""
        if self.outage is not None:
            raise self.outage
        for answer in self.answers:  # (answers that arrive meanwhile are appended, and judged)
            if (said := signal(answer)) is not None:
                return Stop(answer, said=said)
            if rules.head(answer.status, CIMultiDict(answer.headers)) is not None:
                return Stop(answer)
            if (refused := await self._refused(answer, within)) is not None:
                return Stop(answer, refused)
        return None

    def kept_back(self) -> Response | None:
        """The page's record when a script's navigation was refused for now (``held``) and the
        page would be kept (its answer not an error): that answer with the error, to be tried again (an
        error page keeps its own status; no proxy is blamed: it did not fail)."""
        last = self.answers[-1] if self.answers else None
        if self.held is None or last is None or last.status >= 400:
            return None
        return refused_answer(last, last.url, self.held)

    async def _refused(self, answer: BrowserResponse, within: float | None) -> tuple[str, FetchError] | None:
        """The target of ``answer``'s redirect and why the page may not follow it, or None."""
        hop = answer.request.redirected_to
        if hop is None or (error := await self._verdict(hop.url, within, "redirect")) is None:
            return None
        return hop.url, error

    async def _verdict(self, target: str, within: float | None, what: str) -> FetchError | None:
        if target not in self._verdicts:
            verdict = await self._scope.refusal(URL(target, encoded=True), within, what)
            self._verdicts.setdefault(target, verdict)  # (another may have come first meanwhile)
        return self._verdicts[target]


def refused_answer(answer: BrowserResponse, target: str, error: FetchError) -> Response:
    """``answer`` (a redirect to ``target``, or the page's own), refused with ``error``, as the
    fetcher records a redirect it does not follow: its status and content type, nothing of a page."""
    ctype = answer.headers.get("content-type", "")
    return Response(answer.status, ctype, error=error, rendered=True, final_url=target)
