"""Whether a rendered page stays in the job's scope.

A script's navigation of the page is stopped before it is sent (the page's route sees it). A
redirect is not: the browser follows it itself (Playwright routes no redirect hop), so it is found
in the main frame's answers. The page it leads to is not kept, and none of its resources are
loaded; its record is the redirect's ``redirect`` error, as a fetched one's. The request for it
was sent, once.
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


def shows_outside(request: Request, answers: list[BrowserResponse], rules: LinkRules | None) -> bool:
    """Whether ``request`` is a resource of a page a redirect took out of scope (``answers``: the
    main frame's so far): not loaded."""
    return not request.is_navigation_request() and redirected_out(answers, rules) is not None


def redirected_out(answers: list[BrowserResponse], rules: LinkRules | None) -> Response | None:
    """The main document's first redirect out of scope (``answers``: the main frame's), as the
    fetcher records one: its status and ``redirect`` error, nothing of the page it led to kept;
    None when the page stayed in scope."""
    if rules is None:
        return None
    for answer in answers:
        hop = answer.request.redirected_to
        if hop is not None and (why := rules.refusal(URL(hop.url, encoded=True), 0)) is not None:
            error = FetchError(Kind.REDIRECT, f"redirect to {why} {hop.url}")
            return Response(answer.status, "", error=error, rendered=True, final_url=hop.url)
    return None
