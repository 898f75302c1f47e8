"""The request pipeline: one visit of one leased request, start to finish.

    robots → request hook → proxy → fetch → retry / redirect → parse → Final | Again

A step ends in a value (:mod:`crawler.core.step`): :class:`Final` (a record, with the requests and
items the page produced) or :class:`Again` (the request goes back to the frontier with its next
attempt state, and its host pauses ``after`` seconds). The leased request is never changed. The
pipeline writes nothing and admits nothing: the engine hands the requests to admission, the record
and items to the sinks and the attempt state to the frontier, so the data flows one way.

A host's first URL loads the host's robots.txt in its own slot, then goes on to its page in the
same visit: the lease's slot is taken anew (:meth:`LeaseSlot.restart`) once the host limiter
allows, so the delay between the two requests is the one between any two.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from yarl import URL

from crawler.admission import LinkRules
from crawler.core.blocked import blocked_page, is_blocked_page
from crawler.core.errors import FetchError, Kind
from crawler.core.outgoing import Outgoing
from crawler.core.request import Attempts, Request
from crawler.core.response import Response
from crawler.core.step import Again, Final, Reason, Source, Step
from crawler.finals import Finals
from crawler.hooks import HookFailed, RequestHook, prepare
from crawler.net.failures import classify
from crawler.net.fetch import Fetcher
from crawler.net.identities import Identities, Identity
from crawler.net.page_transport import fetch_or_render
from crawler.net.proxies import NoProxy, Proxy, Router
from crawler.net.render import Renderer
from crawler.net.robots import Robots, Unavailable
from crawler.observe.stats import Stats
from crawler.parsing.page import Fetched, Follow
from crawler.parsing.process import Parser, Stored
from crawler.recrawl import RecrawlSettings
from crawler.scheduling.limiter import HostLimiter
from crawler.scheduling.scheduler import LeaseSlot
from crawler.sinks.pages import PageStore

LOCAL_PAUSE = 1.0  # seconds a host waits after a request failed on this machine
OVERLOAD_STATUS = frozenset({429, 503})  # the host says it is overloaded: AIMD slows it down


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """How often a request is tried again, how far redirects go, whether robots.txt is asked."""

    ignore_robots: bool
    retries: int
    retry_backoff: float  # seconds before the first retry; doubles with each
    proxy_retries: int  # attempts through other proxies when one fails, besides the retries
    max_redirects: int
    recrawl: RecrawlSettings  # what a visit leaves for the next re-crawl


@dataclass(frozen=True, slots=True)
class Stages:
    """The parts an attempt goes through, built by :mod:`crawler.wiring`."""

    fetcher: Fetcher
    router: Router
    robots: Robots
    parser: Parser
    limiter: HostLimiter
    rules: LinkRules
    pages: PageStore | None  # None: no page files are written (``crawler check``)
    renderer: Renderer | None = None
    request_hook: RequestHook | None = None
    identities: Identities | None = None  # identities: (and login:), else every request takes a proxy


class Pipeline:
    """Runs requests through robots, the proxy router, the fetcher and the parser."""

    def __init__(
        self,
        settings: PipelineSettings,
        stages: Stages,
        *,
        stats: Stats,
        warn: Callable[[str], None],
        generation: int = 1,
    ) -> None:
        self._settings = settings
        self._renderer = stages.renderer
        self._final = Finals(generation, settings.recrawl).final
        self._request_hook = stages.request_hook
        self._identities = stages.identities
        self._fetcher = stages.fetcher
        self._router = stages.router
        self._robots = stages.robots
        self._parser = stages.parser
        self._limiter = stages.limiter
        self._rules = stages.rules
        self._pages = stages.pages
        self._stats = stats
        self._warn = warn

    async def run(self, request: Request, slot: LeaseSlot) -> Step:
        """One visit of a leased ``request``, which holds ``slot`` (given back once the host has
        answered). Raises only for bugs of ours (the engine records those as ``internal``)."""
        url = URL(request.url, encoded=True)
        started = time.perf_counter()
        attempts = request.attempts
        if not self._settings.ignore_robots:
            asked = False  # whether this lease's slot carried the robots.txt request
            if not self._robots.loaded(request.host):
                asked = not self._robots.loading(request.host)
                rules = await self._robots.load(url, request.host)  # in this request's slot
                if isinstance(rules, Unavailable) and rules.local:
                    return self._local(attempts, rules.reason)
            refusal = self._robots.refusal(url, request.host)
            if (
                refusal is not None
                and refusal.retryable
                and attempts.attempt < self._settings.retries
                and not (refusal.kind is Kind.PROXY and self._router.hopeless(url.host or ""))
            ):  # a dead pool: end now
                return self._retry(attempts, refusal)
            if refusal is not None:
                return self._final(request, started, error=refusal)
            if asked:  # robots.txt had this slot's start: the page waits for the host's next one
                wait = await slot.restart()
                if wait is None:
                    return Again(Reason.STOPPED, 0.0, attempts)
                if wait:
                    return Again(Reason.DELAY, wait, attempts)
        extra: Outgoing | None = None
        if self._request_hook is not None:
            outgoing = await self._outgoing(request)
            if isinstance(outgoing, FetchError):
                return self._final(request, started, error=outgoing)
            extra = outgoing
        choice = extra.proxy if extra is not None else None
        render = self._renderer is not None and (attempts.render or self._renderer.wants(request.url))
        try:
            identity = await self._identities.lease(url, choice) if self._identities is not None else None
            proxy = identity.proxy if identity is not None else self._router.take(url.host or "", choice, render)
        except NoProxy as e:
            return self._no_proxy(request, e, started)
        if attempts.proxy_waiting_since is not None:
            attempts = replace(attempts, proxy_waiting_since=None)
        sent = time.monotonic()
        response, error = await self._fetch(request, url, proxy, extra, sent, render, identity)
        await slot.free()
        if error is not None and (again := self._again(request, attempts, proxy, error)) is not None:
            return again
        proxy_id = proxy.id if proxy is not None else None
        if response is not None and response.location is not None:
            return self._redirect(request, url, response, error, started, proxy_id)
        if response is not None and response.body is not None and error is None and not response.unchanged:
            step = await self._parse(request, attempts, response, started, proxy_id)  # (unchanged: links known)
            if not isinstance(step, FetchError):
                return step
            await self._found_blocked(request.host, proxy, identity, sent)
            return self._again(request, attempts, proxy, step) or self._final(
                request, started, response, step, proxy=proxy_id
            )
        return self._final(request, started, response, error, proxy=proxy_id)

    def _again(self, request: Request, attempts: Attempts, proxy: Proxy | None, error: FetchError) -> Again | None:
        """The next try after a failed one (None: the failure is final). A local failure waits; the
        proxy's fault or a blocked page moves to another proxy, without spending a retry; a
        retryable failure is retried."""
        if error.kind is Kind.LOCAL:
            return self._local(attempts, error.message)
        if is_blocked_page(error):
            self._stats.blocked_page(request.host)
            if (moved := self._another_identity(attempts, proxy)) is not None:
                return moved
        elif error.proxy_fault and attempts.proxy_attempts < self._settings.proxy_retries:
            return Again(Reason.PROXY, 0.0, replace(attempts, proxy_attempts=attempts.proxy_attempts + 1))
        if error.retryable and attempts.attempt < self._settings.retries:
            return self._retry(attempts, error)
        return None

    def _another_identity(self, attempts: Attempts, proxy: Proxy | None) -> Again | None:
        """Where a blocked request goes next: as another identity (the blocked one is retired),
        or through another proxy of its route (the one that was blocked cools down), at most
        ``proxy_retries`` times; None: no other to try, so the normal retries follow."""
        if (proxy is None and self._identities is None) or attempts.proxy_attempts >= self._settings.proxy_retries:
            return None
        return Again(Reason.BLOCKED, 0.0, replace(attempts, proxy_attempts=attempts.proxy_attempts + 1))

    async def _found_blocked(self, host: str, proxy: Proxy | None, identity: Identity | None, sent: float) -> None:
        """A page the parser found blocked, after its fetch was reported as an answer: its proxy is
        banned now, its identity retired, and the host slowed, as for a blocked answer the fetcher saw."""
        if proxy is not None:
            self._router.blocked(proxy)
        if identity is not None and self._identities is not None:
            await self._identities.blocked(identity)
        await self._observe(host, sent, overloaded=True)

    async def _outgoing(self, request: Request) -> Outgoing | FetchError:
        """The user's ``request`` hook: the headers, cookies and proxy it sets for this request."""
        assert self._request_hook is not None
        outgoing = Outgoing(request.url, request.depth, dict(request.meta or {}))
        try:
            return await prepare(self._request_hook, outgoing, self._router.choose)
        except HookFailed as e:
            return FetchError(Kind.HOOK, str(e))

    async def _fetch(
        self,
        request: Request,
        url: URL,
        proxy: Proxy | None,
        extra: Outgoing | None,
        sent: float,
        render: bool,
        identity: Identity | None = None,
    ) -> tuple[Response | None, FetchError | None]:
        """The fetch, its proxy's health report (always, in ``finally``) and AIMD's sample (not
        for rendered pages: the browser's time is not the server's latency; nor through a proxy,
        whose latency it is; but a blocked answer always, and a rendered 429 or 503: the host
        asked us to slow down)."""
        response: Response | None = None
        error: FetchError | None = None
        try:
            response = await fetch_or_render(
                url,
                self._pages,
                proxy,
                extra,
                fetcher=self._fetcher,
                renderer=self._renderer,
                render=render,
                previous=request.previous,
                identity=identity,
                identities=self._identities,
            )
            error = response.error
        except FetchError as e:
            error = e
        finally:
            if proxy is not None:
                self._router.release(
                    proxy,
                    failed=bool(error and error.proxy_fault and not error.banned),
                    banned=bool(error and error.banned),
                    blocked=is_blocked_page(error),
                    nbytes=response.nbytes if response is not None else 0,
                    answered=(url, sent) if target_answered(response, error) else None,
                )
        rendered = response is not None and response.rendered  # its time is the browser's work too: not a sample
        busy = rendered and proxy is None and response is not None and response.status in OVERLOAD_STATUS
        if is_blocked_page(error) or busy:  # the host asked us to slow down, whoever loaded the page
            await self._observe(request.host, sent, overloaded=True)
        elif (
            proxy is None
            and not rendered
            and (response is not None or (error is not None and error.kind is Kind.TIMEOUT))
        ):
            overloaded = error is not None and (
                error.kind is Kind.TIMEOUT or (response is not None and response.status in OVERLOAD_STATUS)
            )
            await self._observe(request.host, sent, overloaded)
        return response, error

    async def _observe(self, host: str, sent: float, overloaded: bool) -> None:
        """AIMD's sample of one answer (sent at ``sent``); the times it slowed the host are counted."""
        await self._limiter.observe(host, sent, overloaded)
        if overloaded:
            self._stats.host(host).throttles += 1

    def _no_proxy(self, request: Request, e: NoProxy, started: float) -> Step:
        """No usable proxy now: wait in the frontier (holding no slot), up to ``proxy_wait`` from
        the first time (wall-clock: the wait is stored with the URL, like its attempts)."""
        now = time.time()
        since = request.attempts.proxy_waiting_since
        since = now if since is None else since
        left = since + self._router.wait - now
        if e.hopeless or left <= 0:
            return self._final(request, started, error=self._router.gave_up(e))
        return Again(Reason.NO_PROXY, min(e.wait, left), replace(request.attempts, proxy_waiting_since=since))

    @staticmethod
    def _local(attempts: Attempts, reason: str) -> Again:
        """This machine ran out of something: not the site's fault and not an attempt; the
        request waits in the frontier (its host pauses) and the engine's stall watch counts it."""
        return Again(Reason.LOCAL, LOCAL_PAUSE, attempts, reason)

    def _retry(self, attempts: Attempts, error: FetchError) -> Again:
        attempt = attempts.attempt + 1
        self._stats.retries += 1
        wait = error.retry_after
        if wait is None:
            wait = self._settings.retry_backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
        return Again(Reason.RETRY, wait, replace(attempts, attempt=attempt))

    def _redirect(
        self,
        request: Request,
        url: URL,
        response: Response,
        error: FetchError | None,
        started: float,
        proxy: str | None,
    ) -> Final:
        """A redirect's target is a request of its own: admitted (scope, dedup) like a link."""
        self._stats.redirects += 1
        hop = self._rules.redirect(request, url, response.location or "", self._settings.max_redirects)
        outcome = self._final(request, started, response, hop.error or error, proxy=proxy, final_url=hop.final_url)
        return replace(outcome, follow=[hop.follow] if hop.follow else [], source=Source.REDIRECT)

    async def _parse(
        self, request: Request, attempts: Attempts, response: Response, started: float, proxy: str | None
    ) -> Step | FetchError:
        """Parse an HTML page once: its in-scope links, its items, its title; or the error of a
        page ``blocked_when`` holds for (nothing of it is kept: not its file, items or links)."""
        assert response.body is not None
        try:
            headers = tuple(response.headers.items()) if self._parser.reads_headers and response.headers else ()
            url = response.final_url or request.url  # where the browser's redirects ended: links are relative to it
            parsed = await self._parser.read(
                Fetched(
                    url,
                    response.body,
                    response.content_type,
                    request.depth,
                    request.meta,
                    response.status,
                    headers,
                    request.url if url != request.url else request.parent if request.redirects else None,
                ),
                response.placement,
            )
        except FetchError as e:  # the page could not be parsed (see crawler.parsing.process)
            self._warn(f"{request.url}: {e.message}")
            stored = await self._place(response)
            return self._stored(request, attempts, started, stored, proxy) or self._final(
                request, started, response, e, proxy=proxy
            )
        if parsed.result.blocked is not None:
            return blocked_page(parsed.result.blocked)
        if response.placement is not None:  # written by the parser, else here
            stored = parsed.stored if parsed.stored is not None else await self._place(response)
            if isinstance(stored, tuple):
                response.path, response.sha256 = stored
            failed = self._stored(request, attempts, started, stored, proxy)
            if failed is not None:
                return failed
        page = parsed.result
        if page.shell and self._renderer is not None and not response.rendered and not attempts.render:
            # render: auto: back to the frontier, to be loaded in the browser in a slot of its own
            return Again(Reason.RENDER, 0.0, replace(attempts, render=True))
        hook_error = FetchError(Kind.HOOK, page.hook_error) if page.hook_error else None
        outcome = self._final(request, started, response, hook_error, proxy=proxy, title=page.title)
        outcome.record.items, outcome.record.extract_errors = len(page.items), page.extract_errors
        follow = [self._link(request, link, host, page.hooked.get(link)) for link, host in page.links]
        return replace(outcome, follow=follow, items=page.items, content=page.content)

    async def _place(self, response: Response) -> Stored:
        """Write a body the parser did not (see :meth:`PageStore.place`)."""
        if response.placement is None or self._pages is None:
            return None
        try:
            response.path, response.sha256 = stored = await self._pages.place(response.placement)
            return stored
        except OSError as e:
            return e

    def _stored(
        self, request: Request, attempts: Attempts, started: float, stored: Stored, proxy: str | None
    ) -> Step | None:
        """The step of a page whose body could not be written (None if it was), as for a fetch that
        fails so: a full disk waits (``local``), a retryable failure is retried, else ``storage``."""
        if not isinstance(stored, OSError):
            return None
        error = classify(stored)
        if error.kind is Kind.LOCAL:
            return self._local(attempts, error.message)
        if error.retryable and attempts.attempt < self._settings.retries:
            return self._retry(attempts, error)
        return self._final(request, started, error=error, proxy=proxy)

    @staticmethod
    def _link(request: Request, link: str, host: str, hooked: Follow | None) -> Request:
        """A link found on the page of ``request``, with the meta and priority a hook gave it."""
        if hooked is None:
            return Request(link, host, request.depth + 1, request.url)
        return Request(link, host, request.depth + 1, request.url, meta=hooked.meta or None, priority=hooked.priority)


def target_answered(response: Response | None, error: FetchError | None) -> bool:
    """Whether the target answered through the proxy (the uplink rule's news, see proxy_blame):
    a response or a ban; not a rendered 5xx, which may be an HTTP proxy's own error page (the
    browser does not tell them apart)."""
    if response is None:
        return bool(error and error.banned)
    return not (response.rendered and response.status >= 500)
