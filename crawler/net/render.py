"""The browser transport: pages whose URL matches ``render:`` are loaded in Chromium.

One browser per crawl (the system's Chromium, driven by Playwright; ``playwright install`` is
never needed), a fresh context per page, at most ``render_concurrency`` pages at once. The
pipeline calls it in the page's host slot, as it calls the fetcher, and gets the same
:class:`~crawler.net.fetch.Response` back: the rendered DOM as the body, the main document's
status, so parsing, links, extraction, hooks and records are those of any page. Images, fonts and
media are not loaded (``render_block``). A page that does not load within ``render_timeout``, or
crashes its tab, is a ``render`` error; the crawl goes on. The browser's pipe to the crawl is its
lifeline: when the crawl ends, even by kill -9, the driver and the browser exit with it.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yarl import URL

from crawler.admission import LinkRules
from crawler.config import Job
from crawler.errors import FetchError, Kind
from crawler.hooks import Outgoing
from crawler.net.fetch import Response
from crawler.net.proxies import Proxy
from crawler.sinks.pages import PageStore
from crawler.sinks.paths import relative_path
from crawler.urls import url_pattern

if TYPE_CHECKING:
    from playwright.async_api import Browser, Frame, Playwright, ProxySettings, Route


def _proxy(proxy: Proxy | None) -> ProxySettings | None:
    """A proxy as Playwright takes it (credentials apart from the server)."""
    if proxy is None:
        return None
    u = URL(proxy.url)
    settings: ProxySettings = {"server": f"{u.scheme}://{u.host}:{u.port}"}
    if u.user:
        settings["username"] = u.user
        settings["password"] = u.password or ""
    return settings


class RenderUnavailable(Exception):
    """The browser cannot be started (Playwright missing, no Chromium, a version it refuses)."""


class Renderer:
    """Loads pages in a shared browser; ``start`` before the first page, ``close`` at the end."""

    def __init__(self, job: Job, screens: Path | None = None, rules: LinkRules | None = None) -> None:
        self._job = job
        self._rules = rules
        self._screens = screens if job.render_screenshot else None
        self._patterns = [url_pattern(p) for p in job.render]
        self._slots = asyncio.Semaphore(job.render_concurrency)
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Start the browser now: a crawl that cannot render should say so once, at the start.
        Raises RenderUnavailable with one line."""
        try:
            await self._ready()
        except FetchError as e:
            raise RenderUnavailable(e.message) from None

    def wants(self, url: str) -> bool:
        return any(matches(url) for matches in self._patterns)

    async def fetch(self, url: URL, pages: PageStore | None, proxy: Proxy | None = None,
                    extra: Outgoing | None = None) -> Response:
        """The page as the browser left it once loaded; FetchError ``render`` if it never was.
        The job's (and the request hook's) headers and cookies, and the request's proxy, are the
        browser context's."""
        browser = await self._ready()
        async with self._slots:
            width, _, height = self._job.render_viewport.partition("x")
            headers = {**self._job.headers, **(extra.headers if extra is not None else {})}
            context = await browser.new_context(
                user_agent=self._job.user_agent, extra_http_headers=headers, proxy=_proxy(proxy),
                viewport={"width": int(width), "height": int(height)}, ignore_https_errors=self._job.insecure)
            cookies = {**self._job.cookies, **(extra.cookies if extra is not None else {})}
            if cookies:
                await context.add_cookies([{"name": k, "value": v, "url": str(url)} for k, v in cookies.items()])
            try:
                return await self._load(context, url, pages)
            finally:
                await context.close()

    async def _load(self, context: Any, url: URL, pages: PageStore | None) -> Response:
        from playwright.async_api import Error, TimeoutError

        page = await context.new_page()
        await page.route("**/*", lambda route: self._route(route, page.main_frame, url))
        timeout = self._job.render_timeout * 1000
        try:
            answer = await page.goto(str(url), wait_until=self._job.render_wait, timeout=timeout)
            if self._job.render_selector:
                await page.wait_for_selector(self._job.render_selector, timeout=timeout)
            html = await page.content()
            if self._screens is not None:
                shot = self._screens / relative_path(url)
                shot = shot.with_name(shot.name + ".png")
                shot.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(shot), full_page=True)
        except TimeoutError:
            raise FetchError(Kind.RENDER, f"the page did not finish loading ({self._job.render_wait}"
                             f"{', ' + self._job.render_selector if self._job.render_selector else ''}) "
                             f"within {self._job.render_timeout:g}s") from None
        except Error as e:
            raise FetchError(Kind.RENDER, f"the browser failed on the page: {str(e).splitlines()[0][:300]}") from None
        status = answer.status if answer is not None else 200
        body = html.encode("utf-8")
        if len(body) > self._job.max_bytes:
            raise FetchError(Kind.TOO_LARGE, f"rendered page exceeds max_bytes {self._job.max_bytes}")
        path, sha256 = None, hashlib.sha256(body).hexdigest()
        if pages is not None:
            page_file = pages.open(url)
            await page_file.write(body)
            path = await page_file.commit()
        error = None if 200 <= status < 300 else FetchError(Kind.HTTP, f"{status} (rendered)")
        return Response(status, "text/html; charset=utf-8", nbytes=len(body), sha256=sha256, path=path,
                        body=body if error is None else None, error=error, rendered=True, final_url=page.url)

    async def _route(self, route: Route, main: Frame, target: URL) -> None:
        """Blocked resource types are not loaded; the page itself may not be navigated out of the
        job's scope (a script or redirect sending it elsewhere); subresources may come from anywhere."""
        request = route.request
        if request.resource_type in self._job.render_block:
            await route.abort()
        elif request.is_navigation_request() and request.frame == main and self._rules is not None \
                and str(target) != request.url and self._rules.refusal(URL(request.url), 0) is not None:
            await route.abort("blockedbyclient")
        else:
            await route.continue_()

    async def _ready(self) -> Browser:
        async with self._lock:  # one browser, however many pages ask at once
            if self._browser is None or not self._browser.is_connected():
                await self._launch()
            assert self._browser is not None
            return self._browser

    async def _launch(self) -> None:
        try:
            from playwright.async_api import Error, async_playwright
        except ImportError:
            raise FetchError(Kind.RENDER, "rendering needs Playwright: pip install 'crawler[render]'") from None
        try:
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            pins = ", ".join(f"MAP {host} {addr}" for (host, _), addr in self._job.resolve_pins().items())
            args = ["--no-sandbox", "--disable-dev-shm-usage", *([f"--host-resolver-rules={pins}"] if pins else [])]
            self._browser = await self._playwright.chromium.launch(executable_path=self._job.render_browser,
                                                                   args=args)
        except Error as e:
            raise FetchError(Kind.RENDER, f"cannot start the browser {self._job.render_browser}: "
                             f"{str(e).splitlines()[0][:300]}") from None

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()
