"""Whether a rendered page stays in the job's scope.

A script's navigation of the page is stopped before it is sent (the page's route sees it). A
redirect is not: the browser follows it itself (Playwright routes no redirect hop), so it is found
in the main frame's answers. The page it leads to is not kept, and none of its resources are
loaded (iframes neither); its record is the redirect's ``redirect`` error, as a fetched one's, and
the redirect is archived. The requests of its hops were sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from yarl import URL

from crawler.admission import LinkRules
from crawler.core.errors import FetchError, Kind
from crawler.core.response import Response

if TYPE_CHECKING:
    from playwright.async_api import Frame, Request
    from playwright.async_api import Response as BrowserResponse


def navigates_out(request: Request, main: Frame, target: URL, rules: LinkRules | None) -> bool:
    """Whether ``request`` navigates the page (loaded for ``target``) out of scope."""
    return (
        request.is_navigation_request()
        and request.frame == main
        and rules is not None
        and str(target) != request.url
        and rules.refusal(URL(request.url, encoded=True), 0) is not None
    )


def shows_outside(request: Request, main: Frame, answers: list[BrowserResponse], rules: LinkRules | None) -> bool:
    """Whether ``request`` is for a page a redirect took out of scope (``answers``: the main
    frame's so far), other than the main frame's own navigations: not loaded (iframes neither)."""
    if request.is_navigation_request() and request.frame == main:
        return False
    return redirect_out(answers, rules) is not None


def redirect_out(answers: list[BrowserResponse], rules: LinkRules | None) -> tuple[BrowserResponse, str, str] | None:
    """The main document's first answer that redirected it out of scope (``answers``: the main
    frame's), its target and why that is refused; None when it stayed in scope. (Depth 0: the
    page's own depth was admitted already.)"""
    if rules is None:
        return None
    for answer in answers:
        hop = answer.request.redirected_to
        if hop is not None and (why := rules.refusal(URL(hop.url, encoded=True), 0)) is not None:
            return answer, hop.url, why
    return None


def left_scope(answer: BrowserResponse, target: str, why: str) -> Response:
    """The redirect ``answer`` to ``target``, refused for ``why``, as the fetcher records one: its
    status and content type, a ``redirect`` error, nothing of the page it led to."""
    error = FetchError(Kind.REDIRECT, f"redirect to {why} {target}")
    ctype = answer.headers.get("content-type", "")
    return Response(answer.status, ctype, error=error, rendered=True, final_url=target)
