"""The browser transport: pages whose URL matches ``render:`` are loaded in Chromium.

The pipeline calls it in the page's host slot, as it calls the fetcher, and gets the same
:class:`~crawler.net.fetch.Response` back: the rendered DOM as the body, the main document's
status, so parsing, links, extraction, hooks and records are those of any page. Each page is loaded in a
tab of a context with the job's headers, cookies, user agent and the request's proxy, from the
:class:`~crawler.net.browser.BrowserPool`. A page whose connection fails, or whose document never
answers, fails as a fetched one does (:mod:`~crawler.net.browser_failures`); one that does not
finish loading within ``render_timeout``, or crashes its tab, is a ``render`` error. The crawl goes on.

Politeness holds for the page's own requests (:class:`PageTraffic`): images, fonts and media are
not loaded (``render_block``), requests to the page's host go one at a time in the page's slot,
and a request to another host takes a slot of that host like any other request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from multidict import CIMultiDict
from yarl import URL

from crawler.admission import LinkRules
from crawler.core.blocked import BlockRules, blocked_page
from crawler.core.errors import ClusterError, FetchError, Kind
from crawler.core.outgoing import Outgoing
from crawler.core.response import Response
from crawler.core.urls import host_key, url_pattern
from crawler.core.usage import BrowserUse
from crawler.net.browser import BrowserPool, BrowserSettings
from crawler.net.browser_failures import (
    CREDENTIALS,
    NOT_SHOWN,
    PROXY_AUTH,
    SITES_PROXY_AUTH,
    TargetUnreachable,
    banned_body,
    browser_failure,
    browser_proxy,
    forwarded_page,
    net_error,
    received,
    render_error,
    unusable,
)
from crawler.net.browser_tab import dom_html
from crawler.net.failures import storage_failure
from crawler.net.page_archive import archived, keep
from crawler.net.page_scope import Navigation, PageScope, refused_answer
from crawler.net.page_traffic import PageTraffic, answered
from crawler.net.proxies import Proxy, Router
from crawler.net.proxy_blame import ban_signal, blame
from crawler.net.retry_after import status_error
from crawler.scheduling.slots import Slots
from crawler.sinks.pages import PageStore

if TYPE_CHECKING:
    from playwright.async_api import Frame, Page, Route
    from playwright.async_api import Response as BrowserResponse

    from crawler.sinks.warc import WarcSink

__all__ = ["NotHTML", "RenderSettings", "Renderer"]

DEADLINE_GRACE = 1.0  # seconds past render_timeout before our deadline cuts a page the browser did not
LATE_READ = 2.0  # seconds past the deadline to read an error page's document, and again its WARC headers


class NotHTML(Exception):
    """The URL answered with something other than an HTML page (a PDF, an image, JSON, a
    download): the browser would show its own wrapper page, so the caller fetches it over HTTP."""


@dataclass(frozen=True, slots=True)
class RenderSettings:
    """Which pages load in the browser, how each is loaded, and what the browser sends."""

    patterns: tuple[str, ...]  # URL globs (or re: regexes) of the pages to render
    wait: Literal["load", "domcontentloaded", "networkidle"]
    selector: str | None  # also wait until this CSS selector matches
    timeout: float  # seconds for one page
    block: frozenset[str]  # resource types not loaded
    viewport: tuple[int, int]  # width, height
    user_agent: str
    headers: Mapping[str, str] = field(repr=False)  # may hold tokens: never in a repr
    cookies: Mapping[str, str] = field(repr=False)  # may hold tokens: never in a repr
    insecure: bool  # no certificate checks
    max_bytes: int
    ban_body_bytes: int  # of a document, what proxy_ban_body searches (the fetcher's parse cap)
    max_retry_after: float  # seconds of a Retry-After honoured, at most
    browser: BrowserSettings
    blocked: BlockRules = field(default_factory=BlockRules)  # blocked_when: an error page that is a challenge
    proxy_ban_status: frozenset[int] = frozenset()  # through a proxy, these statuses ban it
    proxy_ban_body: str | None = None  # through a proxy, a document matching this regex bans it


class Renderer:
    """Loads pages in the crawl's browser; ``start`` before the first page, ``close`` at the end.
    ``warc`` is set once the crawl's output is open, when it writes WARC."""

    def __init__(
        self,
        settings: RenderSettings,
        slots: Slots,
        *,
        screens: Path | None = None,
        rules: LinkRules | None = None,
        router: Router,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self._settings = settings
        self._router = router  # the proxies' health: a page's failure through one is reported as the fetcher's are
        self._slots = slots
        self.scope = PageScope(rules)  # its robots.txt is set once the crawl has one
        self._screens = screens  # a screenshot of each page goes here (render_screenshot)
        self._patterns = [url_pattern(p) for p in settings.patterns]
        self._ban_body = re.compile(settings.proxy_ban_body.encode()) if settings.proxy_ban_body else None
        self.browsers = BrowserPool(settings.browser, warn)
        self.warc: WarcSink | None = None

    async def start(self) -> None:
        """Start the browser now (RenderUnavailable with one line if it cannot start)."""
        await self.browsers.start()

    def wants(self, url: str) -> bool:
        return any(matches(url) for matches in self._patterns)

    async def fetch(
        self, url: URL, pages: PageStore | None, proxy: Proxy | None = None, extra: Outgoing | None = None
    ) -> Response:
        """The page as the browser left it once loaded; FetchError ``render`` if it never was.
        The job's (and the request hook's) headers and cookies, and the request's proxy, are the
        browser context's: pages sharing all of them and the host share a context."""
        from playwright.async_api import Error

        headers = {**self._settings.headers, **(extra.headers if extra is not None else {})}
        cookies = {**self._settings.cookies, **(extra.cookies if extra is not None else {})}
        host = host_key(url)
        key = (host, proxy.url if proxy is not None else None, tuple(headers.items()), tuple(cookies.items()))
        width, height = self._settings.viewport
        options = {
            "user_agent": self._settings.user_agent,
            "extra_http_headers": headers,
            "proxy": browser_proxy(proxy),
            "viewport": {"width": width, "height": height},
            "ignore_https_errors": self._settings.insecure,
        }
        if (why := unusable(proxy)) is not None:
            raise FetchError(Kind.PROXY, why)
        if self.browsers.guard is not None:
            await self.browsers.guard.check(url, resolve=proxy is None)
        nav = Navigation(self.scope)  # the main frame's answers: redirects, then the page's
        sent = asyncio.get_running_loop().time()
        try:
            async with self.browsers.tab(
                key, options, [{"name": k, "value": v, "url": str(url)} for k, v in cookies.items()]
            ) as tab:
                lifetime = 2 * self._settings.timeout + DEADLINE_GRACE + 2 * LATE_READ  # load, late reads, close
                traffic = PageTraffic(host, self._slots.holder(f"page {url}", lifetime), self._settings.timeout / 2)
                tab.on_route = lambda route: self._route(route, tab.page.main_frame, url, traffic, nav)
                tab.on_done = traffic.done
                tab.on_response = partial(answered, tab.page, traffic, nav)
                sent = asyncio.get_running_loop().time()
                try:
                    response = await self._load(tab.page, url, pages, proxy, nav)
                except Error as e:  # read while the tab is open: an answer not shown is archived
                    return await self._failed(str(e), url, proxy, nav)
                finally:
                    await traffic.close()
                tab.reusable = True
                return response
        except TargetUnreachable as e:  # named by the last hop, which the proxy could not reach
            raise blame(e.error, proxy, e.url, self._router.redact, sent) from None
        except FetchError as e:
            raise blame(e, proxy, url, self._router.redact, sent) from None  # as the fetcher blames
        except Error as e:  # the browser failed around the page: its tab did not open or close
            raise render_error(str(e), self._router.redact) from None

    async def _failed(self, text: str, url: URL, proxy: Proxy | None, nav: Navigation) -> Response:
        """The page the browser failed on (``text``): a download is fetched instead; an error status
        with no body (not shown by Chromium) is that status, archived, as a fetch has it; the proxy's
        and the connection's failures as :mod:`~crawler.net.browser_failures` reads them; else ``render``."""
        if "Download is starting" in text:
            raise NotHTML("a download")
        if (out := await self._stopped(nav, proxy, LATE_READ)) is not None:  # (a redirect loop, a hop before a failure)
            return out
        code = net_error(text)
        last = nav.answers[-1] if nav.answers else None
        if proxy is None and code == SITES_PROXY_AUTH:  # the page's 407, as a fetch has it
            final = last.request.redirected_to if last is not None else None
            error = status_error(PROXY_AUTH, f"{PROXY_AUTH} (rendered)", CIMultiDict(), self._settings.max_retry_after)
            return Response(PROXY_AUTH, "", error=error, rendered=True, final_url=final.url if final else str(url))
        if last is not None and last.status >= 400 and code in NOT_SHOWN:  # not shown: a site's 401 login too
            return self._error_page(last, await self._late(last) or b"", last.url)
        if proxy is not None and code in CREDENTIALS:
            raise self._router.credentials_rejected(proxy, f"net::{code}")
        said = browser_failure(code, proxy)
        if said is not None:
            raise said
        raise render_error(text, self._router.redact)

    async def _stopped(self, nav: Navigation, proxy: Proxy | None, within: float | None = None) -> Response | None:
        """The answer the page ends at (:meth:`Navigation.stop`), archived unless it is the proxy's own
        (its 407, its could-not-connect page): the proxy's signal is raised; a redirect refused by
        scope or robots.txt is its ``redirect`` error; a bot wall is ``blocked``."""
        if (stop := await nav.stop(self._settings.blocked, partial(self._signal, proxy), within)) is None:
            return None
        answer = stop.answer
        # (Chromium hands over a proxy's 407 to a tunnel's CONNECT as the https page's answer)
        theirs = stop.said is None or not (answer.status == PROXY_AUTH or isinstance(stop.said, TargetUnreachable))
        if self.warc is not None and theirs:
            body = None if answer.request.redirected_to is None else b""  # (a redirect's is not the page's)
            await archived(self.warc, answer, body, within=LATE_READ)
        if stop.said is not None:
            raise stop.said
        if stop.refused is not None:
            return refused_answer(answer, *stop.refused)
        return self._error_page(answer, b"", answer.url)

    async def _late(self, answer: BrowserResponse) -> bytes | None:
        """An error page's document past its deadline, or not shown: its body as sent, archived (None: not all in)."""
        body = await received(answer, LATE_READ)
        if self.warc is not None and body is not None:
            await archived(self.warc, answer, body, within=LATE_READ)
        return body

    async def _load(
        self, page: Page, url: URL, pages: PageStore | None, proxy: Proxy | None, nav: Navigation
    ) -> Response:
        """Load, wait, read the DOM: all within ``render_timeout`` (plus a moment for the
        browser's own timeout to speak first). A script that never yields leaves the tab unable
        to answer, so the deadline is ours, not only the browser's."""
        from playwright.async_api import TimeoutError as BrowserTimeout

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.timeout
        try:
            async with asyncio.timeout(self._settings.timeout + DEADLINE_GRACE):
                guard = self.browsers.guard if proxy is None else None  # (a page through a proxy bypasses it)
                with guard.blame(page) if guard is not None else contextlib.nullcontext():
                    answer = await page.goto(
                        str(url), wait_until=self._settings.wait, timeout=self._settings.timeout * 1000
                    )
                if (out := await self._stopped(nav, proxy)) is not None:
                    return out
                if answer is not None:
                    await self._answer_checked(answer, proxy)
                    if (out := await self._stopped(nav, proxy)) is not None:  # (answers meanwhile)
                        return out
                if self._settings.selector:
                    await page.wait_for_selector(
                        self._settings.selector, timeout=max(deadline - loop.time(), 0.001) * 1000
                    )
                try:
                    html = await dom_html(page, self._settings.max_bytes)
                except FetchError:  # over max_bytes: where a script's navigation led may be a wall
                    if (out := await self._stopped(nav, proxy)) is not None:
                        return out
                    raise
                if (out := await self._stopped(nav, proxy)) is not None:  # a script's navigation
                    return out
                if (out := nav.kept_back()) is not None:  # a script's navigation refused for now
                    return out
                await keep(page, url, answer, self._screens, self.warc)
        except (BrowserTimeout, TimeoutError):
            if (out := await self._stopped(nav, proxy, LATE_READ)) is not None:  # (a challenge's scripts never end)
                return out
            late = self._timed_out(nav.answers)
            if late.kind is Kind.RENDER and (last := nav.answers[-1]).status >= 400:  # an error page still loading
                return self._error_page(last, await self._late(last) or b"", last.url)
            if late.kind is Kind.RENDER and (out := nav.kept_back()) is not None:  # (its selector never came)
                return out
            raise late from None
        return await self._response(url, answer, html, page.url, pages)

    def _signal(self, proxy: Proxy | None, answer: BrowserResponse) -> Exception | None:
        """The proxy's own word on a main-frame ``answer``, checked before anything else in it, as the
        fetcher does: its could-not-connect page, a 407, a ban status (``proxy_ban_status``)."""
        if proxy is None:
            return None
        if gone := forwarded_page(proxy, answer):
            return gone  # (the caller names the target it could not reach)
        if answer.status == PROXY_AUTH:
            return self._router.credentials_rejected(proxy, PROXY_AUTH)
        if answer.status in self._settings.proxy_ban_status:
            return ban_signal(proxy, f"status {answer.status}")
        return None

    async def _answer_checked(self, answer: BrowserResponse, proxy: Proxy | None) -> None:
        """The page's document once its head passed (:meth:`_stopped`), as the fetcher reads it: a body
        not HTML goes to the fetcher; through a proxy, a body matching ``proxy_ban_body`` bans it."""
        if answer.ok:
            ctype = await answer.header_value("content-type") or ""
            if "html" not in ctype.lower():
                raise NotHTML(ctype)
            ban, limit = self._ban_body, self._settings.ban_body_bytes
            if proxy is not None and ban is not None and await banned_body(answer, ban, limit):
                raise ban_signal(proxy, "body matches proxy_ban_body")

    def _timed_out(self, answers: list[BrowserResponse]) -> FetchError:
        """A page out of time (its answers passed :meth:`_stopped`). A document that never answered
        (``answers``: the main frame's; the last a redirect whose next hop never answered) timed out
        as a fetch would: ``timeout``, retried. Else its scripts ran late: ``render`` (for an error
        status, the caller records it, as a fetch would)."""
        last = answers[-1] if answers else None
        if last is None or last.request.redirected_to is not None:
            return FetchError(
                Kind.TIMEOUT, f"timed out: no answer within {self._settings.timeout:g}s (rendered)", retryable=True
            )
        wait = self._settings.wait + (f", {self._settings.selector}" if self._settings.selector else "")
        return FetchError(Kind.RENDER, f"the page did not finish loading ({wait}) within {self._settings.timeout:g}s")

    async def _response(
        self, url: URL, answer: BrowserResponse | None, html: str, final_url: str, pages: PageStore | None
    ) -> Response:
        """The rendered DOM as a Response, stored as the page's file; the main document's
        ``answer`` gives the status. An error status is treated as a fetched one is: no page file,
        ``blocked_when`` read, retried when it may pass."""
        status = answer.status if answer is not None else 200
        body = html.encode("utf-8")
        if len(body) > self._settings.max_bytes:
            raise FetchError(Kind.TOO_LARGE, f"rendered page exceeds max_bytes {self._settings.max_bytes}")
        if answer is not None and not 200 <= status < 300:
            return self._error_page(answer, body, final_url)
        path, sha256 = None, hashlib.sha256(body).hexdigest()
        if pages is not None:
            page_file = pages.open(url)
            try:
                await page_file.write(body)
                path = await page_file.commit()
            except OSError as e:  # this machine's disk, not the page: ``storage`` or ``local``, as for a fetch
                await page_file.discard()
                raise storage_failure(e) from None
        return Response(
            status,
            "text/html; charset=utf-8",
            nbytes=len(body),
            sha256=sha256,
            path=path,
            body=body,
            rendered=True,
            final_url=final_url,
        )

    def _error_page(self, answer: BrowserResponse, body: bytes, final_url: str) -> Response:
        """A rendered page's error status, as a fetched one's: no page file; a challenge (``blocked_when``,
        also on ``body``) is ``blocked``; 408, 425, 429, 5xx retried (``Retry-After``). From its headers."""
        headers = CIMultiDict(answer.headers)
        rules = self._settings.blocked
        if (why := rules.head(answer.status, headers) or rules.body(answer.status, headers, body)) is not None:
            error = blocked_page(why)
        else:
            error = status_error(answer.status, f"{answer.status} (rendered)", headers, self._settings.max_retry_after)
        return Response(answer.status, "text/html; charset=utf-8", error=error, rendered=True, final_url=final_url)

    async def _route(self, route: Route, main: Frame, target: URL, traffic: PageTraffic, nav: Navigation) -> None:
        """Blocked resource types are not loaded; the page may not be navigated out of scope or
        where robots.txt disallows, nor a page a refused redirect led to loaded (:mod:`.page_scope`);
        subresources may come from anywhere, each in a slot of its host."""
        from playwright.async_api import Error

        request = route.request
        try:
            if request.resource_type in self._settings.block:
                await route.abort()
            elif await nav.navigates_out(request, main, target, self._settings.timeout / 2):
                await route.fulfill(status=204)  # the page stays as it is (aborted, it would show an error page)
            elif await nav.shows_outside(request, main, self._settings.timeout / 2) or not (
                await traffic.admit(request)
            ):
                await route.abort("blockedbyclient")
            else:
                await route.continue_()
        except Error:  # the page closed meanwhile (timed out, crashed)
            await traffic.done(request)
        except ClusterError as e:  # a shared job's state out of reach: not loaded; the page's next check raises it
            nav.outage = nav.outage or e
            with contextlib.suppress(Error):
                await route.abort("blockedbyclient")

    def usage(self) -> BrowserUse | None:
        return self.browsers.usage()

    async def close(self) -> None:
        await self.browsers.close()
