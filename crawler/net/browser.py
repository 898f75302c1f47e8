"""The browser behind rendering: one Chromium per crawl (the system's, driven by Playwright;
``playwright install`` is never needed), at most ``render_concurrency`` pages loading in it.

Every request of a context goes through its route (set on the context, so a popup's and an
iframe's requests do too): a tab's requests to the renderer's routing, anything else (a popup,
closed at once) refused. Service workers are blocked and downloads refused, so nothing reaches
a host or the disk outside the crawl's routing.

Pages of one host (with the same proxy, headers and cookies) share a browser context, and a tab
that loaded a page well is kept open for the next page of that context: navigating an open tab
costs a fifth of opening a context and a page (measured: 40 pages, 4 at once, 4.9 s against
24.8 s). A context serves ``CONTEXT_PAGES`` pages, then closes with its cookies and cache; at most
``render_concurrency`` idle tabs are kept.

It is launched with the crawl, launched again for the next page after it crashed, and replaced
when its processes together grow past ``render_memory_mb`` (proportional set size, read from
/proc every few pages): the new browser takes the next pages while the old one finishes its open
pages and then closes. The browser's pipe to the crawl is its lifeline: when the crawl ends, even
by kill -9, the driver and the browser exit with it; their files are in a scratch directory of the
crawl (:mod:`.browser_scratch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable, Hashable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crawler.core.errors import FetchError, Kind, RenderUnavailable
from crawler.core.usage import BrowserUse
from crawler.net.browser_scratch import BrowserFiles, Scratch, tmpdir_problem
from crawler.net.browser_tab import ANSWER_WITHIN, Tab, refuse_socket
from crawler.net.dns import DnsSettings
from crawler.net.guard import BrowserGuard, launch_options, running_as_root
from crawler.net.proctree import descendants, pss_mb, running

if TYPE_CHECKING:
    from playwright._impl._api_structures import SetCookieParam
    from playwright.async_api import Browser, BrowserContext, Page, Playwright, Route

CHECK_EVERY = 10  # pages between two readings of the browser's memory
CONTEXT_PAGES = 100  # pages one context serves before it closes (its cookies, cache, history with it)


@dataclass(slots=True)
class _Context:
    context: BrowserContext
    idle: list[Tab] = field(default_factory=list)
    tabs: dict[Page, Tab] = field(default_factory=dict)  # every open tab, by its page
    open: int = 0
    served: int = 0

    async def route(self, route: Route) -> None:
        """A tab's request goes to its tab's routing; any other (a popup's, a worker's) is refused."""
        from playwright.async_api import Error

        try:
            tab = self.tabs.get(route.request.frame.page)
        except Error:  # a service worker's request has no frame
            tab = None
        if tab is not None:
            await tab.route(route)
        else:
            with contextlib.suppress(Error):
                await route.abort("blockedbyclient")

    async def close(self, tab: Tab) -> None:
        del self.tabs[tab.page]
        await tab.page.close()


@dataclass(slots=True)
class _Instance:
    """One launched browser, its contexts, and how many pages are open in it."""

    browser: Browser
    contexts: dict[Hashable, _Context] = field(default_factory=dict)  # least recently used first
    pids: set[int] = field(default_factory=set)  # its processes at launch (to kill it if it gets stuck)
    files: BrowserFiles | None = None  # its temporary files (removed if it is killed or dies)
    open: int = 0
    retired: bool = False  # over the memory cap: closes when its last page does
    stuck: bool = False  # stopped answering: killed
    making: asyncio.Lock = field(default_factory=asyncio.Lock)  # one new context per key, not two
    refuse_sockets: bool = False  # render_block has websocket (Playwright's route never sees their handshake)

    async def take(self, key: Hashable, options: dict[str, Any], cookies: list[SetCookieParam], within: float) -> Tab:
        """An idle tab of ``key``'s context that answers ``within`` seconds, or a new one (in a new
        context if need be). One that does not is closed with the context's other idle tabs,
        unasked: this must end well within ``render_timeout``."""
        from playwright.async_api import Error

        async with self.making:
            entry = self.contexts.pop(key, None)
            if entry is None:
                entry = _Context(
                    await self.browser.new_context(**options, service_workers="block", accept_downloads=False)
                )
                await entry.context.route("**/*", lambda route: entry.route(route))  # (slots: no bound method)
                if self.refuse_sockets:
                    await entry.context.route_web_socket("**/*", refuse_socket)
                if cookies:
                    await entry.context.add_cookies(cookies)
            self.contexts[key] = entry  # now the most recently used
            entry.open += 1
        try:
            while entry.idle:
                tab = entry.idle.pop()
                if not tab.crashed and await tab.answers(within):
                    return tab
                if tab.crashed:
                    with contextlib.suppress(Error):  # (a crashed tab may fail to close)
                        await entry.close(tab)
                    continue
                # It did not answer: neither is another asked (each would cost ``within``). The idle
                # ones go too, at once: a script that never yields may keep them busy as well.
                busy, entry.idle = [tab, *entry.idle], []
                await asyncio.gather(*(entry.close(t) for t in busy), return_exceptions=True)
                break
            tab = Tab(await entry.context.new_page())
            tab.open()
            entry.tabs[tab.page] = tab
            return tab
        except BaseException:
            entry.open -= 1  # no tab to give back
            raise

    async def give_back(self, key: Hashable, tab: Tab, keep: int) -> None:
        """Keep ``tab`` for the context's next page if it loaded well; close what is used up;
        keep at most ``keep`` idle tabs, closing the least recently used."""
        from playwright.async_api import Error

        entry = self.contexts[key]
        entry.open -= 1
        entry.served += 1
        tab.on_route = tab.on_done = tab.on_response = None
        if tab.reusable and not tab.crashed and entry.served < CONTEXT_PAGES and not self.retired:
            tab.reusable = False
            entry.idle.append(tab)
        else:
            try:
                await entry.close(tab)
            except Error:  # the tab crashed: its context goes too
                entry.served = CONTEXT_PAGES
        idle = sum(len(e.idle) for e in self.contexts.values())
        for k, e in list(self.contexts.items()):
            while idle > keep and e.idle:
                await e.close(e.idle.pop(0))
                idle -= 1
            if e.open == 0 and (not e.idle or e.served >= CONTEXT_PAGES) and self.contexts.get(k) is e:
                del self.contexts[k]  # (another page's give_back may have closed it meanwhile)
                await e.context.close()


@dataclass(frozen=True, slots=True)
class BrowserSettings:
    """Which browser runs, how many pages it loads at once, and when it is stuck or too big."""

    executable: str
    concurrency: int  # pages loading at once (and idle tabs kept)
    timeout: float  # seconds a tab may take to open or close (render_timeout)
    memory_mb: int  # a browser grown past this (PSS) is replaced
    refuse_sockets: bool  # WebSockets are blocked (render_block: websocket)
    pins: Mapping[tuple[str, int], str]  # --resolve: (host, port) → address
    guard: bool  # block_private_ips: the browser connects through the guard
    dns: DnsSettings  # with nameservers, the browser connects through the guard too (it resolves)
    connect_timeout: float  # the guard's connections


class BrowserPool:
    """Hands out the current browser to at most ``render_concurrency`` pages at once."""

    def __init__(self, settings: BrowserSettings, warn: Callable[[str], None] | None = None) -> None:
        self._settings = settings
        self._warn = warn
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._current: _Instance | None = None
        self._scratch: Scratch | None = None  # the browsers' temporary files
        self._retired: list[_Instance] = []
        self._check: asyncio.Task[None] | None = None  # a memory reading under way
        self.pages = 0
        self.restarts = 0  # replaced for growing past the memory cap
        self.relaunches = 0  # launched again after a crash
        self.peak_mb = 0.0  # the most memory a reading found
        self.guard = (
            BrowserGuard(dict(settings.pins), settings.connect_timeout, settings.dns, block=settings.guard)
            if settings.guard or settings.dns.servers
            else None
        )

    async def start(self) -> None:
        """Launch now: a crawl that cannot render should say so once, at the start.
        Raises RenderUnavailable with one line."""
        try:
            await self._ready()
        except FetchError as e:
            raise RenderUnavailable(e.message) from None
        if running_as_root() and self._warn is not None:
            self._warn(
                "the browser runs without its sandbox, as the crawler runs as root: "
                "run the crawl as another user to render untrusted pages sandboxed"
            )

    @asynccontextmanager
    async def tab(self, key: Hashable, options: dict[str, Any], cookies: list[SetCookieParam]) -> AsyncIterator[Tab]:
        """A tab to load one page in, while a page slot is held. Pages with the same ``key``
        share a context, made with ``options`` and ``cookies``. A browser that does not open or
        close a tab within ``render_timeout`` is stuck: it is killed and the next page gets a new one."""
        from playwright.async_api import Error

        async with self._slots:
            instance = await self._ready()
            instance.open += 1
            tab: Tab | None = None
            try:
                async with self._answering(instance, "open a tab"):
                    tab = await instance.take(key, options, cookies, min(ANSWER_WITHIN, self._settings.timeout / 4))
                yield tab
            finally:
                if tab is not None and instance.browser.is_connected() and not instance.stuck:
                    with contextlib.suppress(FetchError, Error):  # the page itself is done: keep its result
                        async with self._answering(instance, "close a tab"):
                            await instance.give_back(key, tab, self._settings.concurrency)
                instance.open -= 1
                self.pages += 1
                await self._after_page(instance)

    @asynccontextmanager
    async def _answering(self, instance: _Instance, doing: str) -> AsyncIterator[None]:
        """Run the block within ``render_timeout``, else kill the stuck browser (FetchError render)."""
        try:
            async with asyncio.timeout(self._settings.timeout):
                yield
        except TimeoutError:
            if not instance.stuck:
                instance.stuck = True
                self.relaunches += 1
                if self._current is instance:
                    self._current = None  # the next page launches a new browser
                for pid in instance.pids:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                if self._scratch is not None:  # (files a closing browser removes)
                    self._scratch.discard(instance.files)
                if self._warn is not None:
                    self._warn(
                        f"the browser did not {doing} within {self._settings.timeout:g}s: killed it; "
                        "the next pages open in a new one"
                    )
            raise FetchError(Kind.RENDER, f"the browser did not {doing} within {self._settings.timeout:g}s") from None

    async def _after_page(self, instance: _Instance) -> None:
        if instance.retired:
            if instance.open == 0:
                self._retired.remove(instance)
                await instance.browser.close()
        elif self.pages % CHECK_EVERY == 0 and self._check is None and not self._retired:
            self._check = asyncio.create_task(self._check_memory(instance))

    async def _check_memory(self, instance: _Instance) -> None:
        """Read the browser's memory on a thread (reading PSS walks every mapping of every
        process: tens of milliseconds the crawl's loop should not wait) and retire it if over."""
        try:
            used = await asyncio.to_thread(self.memory_mb)
            self.peak_mb = max(self.peak_mb, used)
            if used <= self._settings.memory_mb or instance is not self._current:
                return
            self.restarts += 1
            if self._warn is not None:
                self._warn(
                    f"the browser uses {used:.0f} MB (render_memory_mb {self._settings.memory_mb}): "
                    "starting a new one; the old one closes after its open pages"
                )
            self._current = None  # the next page launches a new browser
            instance.retired = True
            self._retired.append(instance)
            await self._after_page(instance)
        finally:
            self._check = None

    def memory_mb(self) -> float:
        """The PSS of every browser process below this crawl (old and new browser together)."""
        return pss_mb(self._processes())

    async def _ready(self) -> _Instance:
        async with self._lock:  # one launch, however many pages ask at once
            current = self._current
            if current is None or not current.browser.is_connected():
                if current is not None:
                    self.relaunches += 1
                    if self._scratch is not None:  # it died
                        self._scratch.discard(current.files)
                before = self._processes()
                browser = await self._launch()
                pids = self._processes() - before
                self._current = current = _Instance(
                    browser,
                    pids=pids,
                    files=self._scratch.files_of(pids) if self._scratch is not None else None,
                    refuse_sockets=self._settings.refuse_sockets,
                )
            return current

    def _processes(self) -> set[int]:
        return running(descendants(os.getpid()), self._settings.executable)

    async def _launch(self) -> Browser:
        try:
            from playwright.async_api import Error, async_playwright
        except ImportError:
            raise FetchError(Kind.RENDER, "rendering needs Playwright: pip install 'crawler[render]'") from None
        try:
            if self._playwright is None:
                self._scratch = Scratch.make()
                self._playwright = await async_playwright().start()
            guard = await self.guard.start() if self.guard is not None else None
            options = launch_options(dict(self._settings.pins), running_as_root(), guard)
            env = self._scratch.env() if self._scratch is not None else None
            if env is None and (problem := tmpdir_problem()) is not None:
                raise FetchError(Kind.RENDER, f"cannot start the browser {self._settings.executable}: {problem}")
            return await self._playwright.chromium.launch(executable_path=self._settings.executable, env=env, **options)
        except Error as e:
            hint = (
                ""
                if running_as_root()
                else (
                    " (it was started in its sandbox, which needs unprivileged user "
                    "namespaces or Chromium's setuid sandbox helper on this machine)"
                )
            )
            raise FetchError(
                Kind.RENDER,
                f"cannot start the browser {self._settings.executable}: {str(e).splitlines()[0][:300]}{hint}",
            ) from None

    def usage(self) -> BrowserUse | None:
        """What the summary says about the browser (None: it loaded no page)."""
        if not self.pages:
            return None
        return BrowserUse(self.pages, self.peak_mb, CHECK_EVERY, self.restarts, self.relaunches)

    async def close(self) -> None:
        """Close the browsers, the driver, the guard; remove the scratch directory (again: nothing)."""
        if self._check is not None:
            await self._check
        for instance in [*self._retired, *([self._current] if self._current else [])]:
            await instance.browser.close()
        self._current, self._retired = None, []
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None
        if self.guard is not None:
            await self.guard.close()
