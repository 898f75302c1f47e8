"""One rendered page's own requests under the crawl's per-host politeness (see :mod:`.render`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from yarl import URL

from crawler.core.urls import host_key
from crawler.scheduling.slots import SLOT_POLL, SlotHolder

if TYPE_CHECKING:
    from playwright.async_api import Page, Request
    from playwright.async_api import Response as BrowserResponse

    from crawler.net.page_scope import Navigation


class PageTraffic:
    """One rendered page's requests, counted against per-host politeness. The page holds one slot
    of its own host (the pipeline took it), so its requests there go one at a time; a request to
    another host takes a slot of that host, waiting at most ``wait`` seconds (then it is not
    loaded: two pages waiting for each other's host must not stall). Those slots are the page's
    :class:`~crawler.scheduling.slots.SlotHolder`'s: ``close`` gives back whatever is still held,
    however the page ended."""

    def __init__(self, host: str, holder: SlotHolder, wait: float) -> None:
        self._host = host
        self._own = asyncio.Semaphore(1)
        self._holder = holder
        self._wait = wait
        self._held: dict[Request, str] = {}  # request → the host whose slot it holds
        self._closed = False

    async def admit(self, request: Request) -> bool:
        """Wait for ``request``'s slot; False: do not load it (no slot in time, or page closed)."""
        url = URL(request.url, encoded=True)  # the browser's URL, as it will be sent
        if url.scheme not in ("http", "https"):
            return True
        if request.redirected_from is not None:  # a redirect's next hop: the hop before is over
            await self.done(request.redirected_from)
        host = host_key(url)
        if host == self._host:
            await self._own.acquire()
        elif not await self._take(host):
            return False
        if self._closed:
            await self._release(host)
            return False
        self._held[request] = host
        return True

    async def _take(self, host: str) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        while (wait := await self._holder.take(host)) > 0:
            left = deadline - loop.time()
            if left <= 0 or self._closed:
                return False
            await asyncio.sleep(min(wait, SLOT_POLL, left))
        return True

    async def answered(self, response: BrowserResponse) -> None:
        """An event stream stays open by design: once its headers are in it holds no slot (the
        server is not asked for anything more), so the page's other requests can go."""
        if (response.headers.get("content-type") or "").startswith("text/event-stream"):
            await self.done(response.request)

    async def done(self, request: Request) -> None:
        """``request`` finished, failed or was refused: its slot goes back."""
        host = self._held.pop(request, None)
        if host is not None:
            await self._release(host)

    async def _release(self, host: str) -> None:
        if host == self._host:
            self._own.release()
        else:
            await self._holder.give(host)

    async def close(self) -> None:
        """The page is over: every slot its requests still hold goes back."""
        self._closed = True
        held, self._held = self._held, {}
        for host in held.values():
            if host == self._host:
                self._own.release()
        await self._holder.close()


async def answered(page: Page, traffic: PageTraffic, nav: Navigation, response: BrowserResponse) -> None:
    """A response's headers are in: the page's navigation notes it, and its slot may go back."""
    nav.note(page.main_frame, response)
    await traffic.answered(response)
