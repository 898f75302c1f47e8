"""One browser tab, kept between page loads: the renderer's hooks into the page's requests,
the question asked before a kept tab gets the next page (:meth:`Tab.answers`), and the page's DOM
read out of it (:func:`dom_html`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from crawler.core.errors import FetchError, Kind

if TYPE_CHECKING:
    from playwright.async_api import Page, Request, Response, Route, WebSocketRoute

ANSWER_WITHIN = 2.0  # seconds a kept tab has to answer before it is given the next page (at most a
# quarter of render_timeout: else a new tab is)


class Tab:
    """One browser page, kept between loads. The renderer sets ``on_route`` (every request the
    page makes), ``on_response`` (response headers) and ``on_done`` (each request that finished
    or failed) before each load, and
    ``reusable`` when the load ended well. Between loads the last page's scripts still run, so
    an idle tab's requests are refused: nothing reaches a host outside a slot."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.on_route: Callable[[Route], Awaitable[None]] | None = None
        self.on_done: Callable[[Request], Awaitable[None]] | None = None
        self.on_response: Callable[[Response], Awaitable[None]] | None = None
        self.reusable = False
        self.crashed = False  # its renderer died, possibly while it sat idle

    def open(self) -> None:
        self.page.on("requestfinished", self._done)
        self.page.on("requestfailed", self._done)
        self.page.on("response", self._response)
        self.page.on("crash", self._crash)
        self.page.on("popup", close_popup)

    def _crash(self, _: Page) -> None:
        self.crashed = True

    async def answers(self, within: float) -> bool:
        """Whether the tab's renderer still answers, within ``within`` seconds (a round trip to
        it). A renderer killed while the tab sat idle is reported only once the browser has
        noticed: until then the tab looks alive, and a page loaded in it would fail. The question
        is answered, or fails when the crash is reported; a renderer kept busy by the last page's
        scripts is not waited for either."""
        from playwright.async_api import Error

        try:
            async with asyncio.timeout(within):
                await self.page.evaluate("0")
        except (Error, TimeoutError):
            return False
        return not self.crashed

    async def route(self, route: Route) -> None:
        if self.on_route is not None:
            await self.on_route(route)
        else:
            await route.abort("blockedbyclient")

    async def _done(self, request: Request) -> None:
        if self.on_done is not None:
            await self.on_done(request)

    async def _response(self, response: Response) -> None:
        if self.on_response is not None:
            await self.on_response(response)


async def refuse_socket(socket: WebSocketRoute) -> None:
    """A page's WebSocket, when ``render_block`` has ``websocket``: closed before it reaches a server."""
    await socket.close(code=1008, reason="blocked by the crawler")


async def close_popup(popup: Page) -> None:
    """A page the crawl did not open (``window.open``): closed; its requests were refused."""
    from playwright.async_api import Error

    with contextlib.suppress(Error):
        await popup.close()


async def dom_html(page: Page, limit: int) -> str:
    """The DOM as HTML, measured in the page first: one past ``limit`` never crosses the pipe into
    the crawl's memory (its length in UTF-16 units is at most its size in UTF-8, so a longer one
    is too large for sure; the size of the rest is checked once it is here)."""
    if await page.evaluate("() => document.documentElement ? document.documentElement.outerHTML.length : 0") > limit:
        raise FetchError(Kind.TOO_LARGE, f"rendered page exceeds max_bytes {limit}")
    return await page.content()
