"""Proxies: routing rules, pools with rotation, health with cool-down, and credential redaction.

A request's route is chosen by the first ``proxy_rules`` entry whose pattern matches the target
host (a glob, or a regex after ``re:``): a pool name, one proxy URL, or ``direct``. Without rules,
every host uses the default pool (``proxy``/``proxies``), or goes direct when there is none.

A proxy that fails (cannot connect, times out, answers 407, cuts the connection, or shows a ban
signal) cools down for ``proxy_cooldown`` seconds, doubling with each consecutive failure up to
five minutes; one success resets it. When every proxy of a pool is cooling down or at its
concurrency cap, a request waits for one, at most ``proxy_wait`` seconds, then fails with a
``proxy`` error; once no request through a pool has worked for ``proxy_wait`` seconds, its
requests fail at once instead of each waiting again (a dead pool's URLs, and the crawl, end).
Proxies are named by a stable id (``scheme://host:port``); their credentials never appear in
records, logs or messages.
"""

from __future__ import annotations

import asyncio
import fnmatch
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

from yarl import URL

from crawler.core.errors import FetchError, Kind
from crawler.core.proxy_url import parse_proxy, redact_url
from crawler.core.usage import ProxyUse
from crawler.net.proxy_blame import DeadSites, reached

MAX_COOLDOWN = 300.0
ROUTE_CACHE = 65_536  # hosts whose route is remembered (and sticky proxies, per pool)
CHOSEN_CACHE = 1024  # proxy URLs chosen by a request hook that keep their health and counts
POLL = 0.25  # seconds to wait for a proxy when none is cooling (all at their concurrency cap)


@dataclass
class Proxy:
    """One proxy server and what it has done in this crawl."""

    id: str
    url: str  # with credentials: only ever handed to the connection layer
    scheme: str
    requests: int = 0
    failures: int = 0
    bans: int = 0
    blocked: int = 0  # of the bans, blocked pages (blocked_when)
    bytes: int = 0
    inflight: int = 0
    streak: int = 0  # consecutive failures
    cooling_until: float = 0.0
    dead: str | None = None  # why it is out of the crawl for good (e.g. rejected credentials)
    # What proxy_blame.uplink_down judges by: targets it said it cannot reach since it last answered
    # (all of them, and those that count), and the crawl's known dead sites (the router's).
    reported: set[str] = field(default_factory=set)
    unreachable: set[str] = field(default_factory=set)
    dead_sites: DeadSites = field(default_factory=DeadSites)
    run_start: float | None = None  # when the first of those reports came (see proxy_blame.uplink_down)
    uplink_down: bool = False  # cooling down for them: the next answer through it lifts that

    @property
    def is_socks(self) -> bool:
        return self.scheme.startswith("socks")

    @cached_property
    def browser_usable(self) -> bool:
        """Whether Chromium can go through it: it cannot authenticate to a SOCKS proxy."""
        return not (self.is_socks and URL(self.url).user)

    def usage(self, now: float) -> ProxyUse:
        """What the summary says about this proxy."""
        return ProxyUse(self.id, self.requests, self.failures, self.bans, self.bytes, self.state(now), self.blocked)

    def state(self, now: float) -> str:
        if self.dead:
            return f"disabled: {self.dead}"
        return f"cooling down ({self.streak} failures in a row)" if self.cooling_until > now else "ok"


@dataclass
class Pool:
    """Proxies that share a rotation strategy; ``pick`` returns None when none is usable now."""

    name: str
    proxies: list[Proxy]
    rotation: str
    cap: int | None
    _next: int = 0
    _sticky: dict[str, Proxy] = field(default_factory=dict)
    _sticky_rendered: dict[str, Proxy] = field(default_factory=dict)  # a host whose own the browser cannot use
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    failing_since: float | None = None  # loop time of the first failure since a request last worked

    def usable(self, now: float) -> list[Proxy]:
        return [p for p in self.proxies if self.ready(p, now)]

    def ready(self, p: Proxy, now: float) -> bool:
        """``p`` may take a request now: not disabled, not cooling down, under its cap."""
        return not p.dead and p.cooling_until <= now and (self.cap is None or p.inflight < self.cap)

    def pick(self, host: str, now: float, browser: bool = False) -> Proxy | None:
        """A proxy for a request to ``host``; for a page the ``browser`` loads, one it can use,
        as long as the pool has one that is not disabled (else the page fails saying why)."""
        ready = self.usable(now)
        if browser and any(p.browser_usable and not p.dead for p in self.proxies):
            ready = [p for p in ready if p.browser_usable]
        if not ready:
            return None
        if self.rotation == "sticky":
            own = self._sticky.get(host)
            if browser and own is not None and not own.browser_usable and not own.dead:
                return self._stick(self._sticky_rendered, host, ready)  # fetched pages keep their own
            return self._stick(self._sticky, host, ready)
        if self.rotation == "random":
            return random.choice(ready)
        if self.rotation == "least_used":
            return min(ready, key=lambda p: (p.requests, p.inflight))
        return self._round_robin(ready)

    def _stick(self, table: dict[str, Proxy], host: str, ready: list[Proxy]) -> Proxy:
        """The host's proxy in ``table`` while it is ready, else the next ready one from now on."""
        current = table.get(host)
        if current in ready:
            return current
        if len(table) >= ROUTE_CACHE:
            table.clear()
        table[host] = self._round_robin(ready)
        return table[host]

    def _round_robin(self, ready: list[Proxy]) -> Proxy:
        for _ in range(len(self.proxies)):
            p = self.proxies[self._next % len(self.proxies)]
            self._next += 1
            if p in ready:
                return p
        return ready[0]

    def wake_at(self, now: float) -> float | None:
        """When the next cooling proxy comes back, if any is cooling."""
        times = [p.cooling_until for p in self.proxies if p.cooling_until > now]
        return min(times) if times else None


class NoProxy(Exception):
    """No proxy of ``pool`` is usable at loop time ``now``; ``wait``: seconds until one may be.
    ``hopeless``: waiting will not help: every proxy is disabled, or none has worked for
    ``proxy_wait`` seconds and none is at work now (a dead pool's URLs end now instead of each
    waiting it out again; a pool merely busy with slow answers is not dead)."""

    def __init__(self, pool: Pool, now: float, patience: float, browser: bool = False) -> None:
        super().__init__(pool.name)
        self.pool = pool
        self.now = now
        self.browser = browser  # wanted for a page to render: one the browser can use
        self.all_dead = all(p.dead for p in pool.proxies)
        at_work = any(p.inflight and not p.dead and p.cooling_until <= now for p in pool.proxies)
        self.failing = pool.failing_since is not None and now - pool.failing_since >= patience and not at_work
        self.hopeless = self.all_dead or self.failing
        wake = pool.wake_at(now)
        self.wait = wake - now if wake is not None else POLL


class Router:
    """Chooses the route for each target host and keeps proxy health."""

    def __init__(
        self,
        default: list[str],
        pools: dict[str, list[str]],
        rules: list[tuple[str, str]],
        *,
        rotation: str,
        cap: int | None,
        cooldown: float,
        wait: float,
        secrets: Iterable[str] = (),
    ) -> None:
        self._all: dict[str, Proxy] = {}
        self._dead_sites = DeadSites()  # one for all its proxies: a dead site is dead through any
        self.pools = {
            name: Pool(name, [self._proxy(u) for u in urls], rotation, cap)
            for name, urls in {"default": default, **pools}.items()
            if urls
        }
        self._rules: list[tuple[Callable[[str], object], Pool | None]] = []
        for pattern, target in rules:
            if target != "direct" and target not in self.pools:
                self.pools[target] = Pool(target, [self._proxy(target)], rotation, cap)
            matches = (
                re.compile(pattern[3:]).search
                if pattern.startswith("re:")
                else re.compile(fnmatch.translate(pattern.lower())).fullmatch
            )
            self._rules.append((matches, None if target == "direct" else self.pools[target]))
        self._cooldown = cooldown
        self._cap = cap
        self._wait = wait
        self._route_cache: dict[str, Pool | None] = {}
        self._stopping = False
        self._chosen: dict[str, Pool] = {}  # proxy URL set by the request hook → its pool of one
        found = {s for p in self._all.values() for s in _secrets(p.url)} | {s for s in secrets if len(s) >= 3}
        self._secrets = sorted(found, key=len, reverse=True)  # (the login's values: see crawler.net.login)

    def proxies(self) -> list[Proxy]:
        return [*self._all.values(), *(pool.proxies[0] for pool in self._chosen.values())]

    def choose(self, choice: str) -> Pool | None:
        """The route a request hook chose: ``direct`` (None), a pool's name, or a proxy URL
        (ValueError if it is not one). A chosen URL keeps its health across requests."""
        if choice == "direct":
            return None
        pool = self.pools.get(choice) or self._chosen.get(choice)
        if pool is None:
            if "://" not in choice:
                names = ", ".join(sorted(self.pools)) or "none"
                raise ValueError(f"{choice!r} is not 'direct', a proxy URL or a pool of this job ({names})")
            url = parse_proxy(choice)
            proxy = Proxy(f"{url.scheme}://{url.host}:{url.port}", str(url), url.scheme, dead_sites=self._dead_sites)
            self._secrets = sorted({*self._secrets, *_secrets(proxy.url)}, key=len, reverse=True)
            if len(self._chosen) >= CHOSEN_CACHE:  # bounded: a hook may choose a new URL per request
                del self._chosen[next(iter(self._chosen))]
            pool = self._chosen[choice] = Pool(proxy.id, [proxy], "round_robin", self._cap)
        return pool

    def route(self, host: str) -> Pool | None:
        """The pool for a target host name, or None for a direct connection."""
        if not self._rules:  # every host alike: nothing to remember per host
            return self.pools.get("default")
        if host not in self._route_cache:
            if len(self._route_cache) >= ROUTE_CACHE:  # bounded for broad crawls: start over
                self._route_cache.clear()
            pool = self.pools.get("default")
            for matches, target in self._rules:
                if matches(host):
                    pool = target
                    break
            self._route_cache[host] = pool
        return self._route_cache[host]

    def take(self, host: str, choice: str | None = None, browser: bool = False) -> Proxy | None:
        """A proxy for ``host`` now (None: go direct), without waiting: from the host's route, or
        from ``choice`` (see :meth:`choose`); for a page the ``browser`` loads, one it can use
        (see :meth:`Pool.pick`). Raises NoProxy (with the seconds until one may be usable) when
        the pool has none usable now."""
        pool = self.pool_for(host, choice)
        return None if pool is None else self.hold(self.pick(pool, host, browser))

    def pool_for(self, host: str, choice: str | None = None) -> Pool | None:
        """The route of a request: the host's, or ``choice`` (see :meth:`choose`)."""
        return self.route(host) if choice is None else self.choose(choice)

    def pick(self, pool: Pool, host: str, browser: bool = False) -> Proxy:
        """The proxy of ``pool`` that a request to ``host`` would take now, not yet counted as
        taken (:meth:`hold`); NoProxy when none is usable now. Identities pick their proxy once."""
        now = asyncio.get_running_loop().time()
        proxy = pool.pick(host, now, browser)
        if proxy is None:
            raise NoProxy(pool, now, self._wait, browser)
        return proxy

    def hold(self, proxy: Proxy) -> Proxy:
        """A request goes through ``proxy``: counted until :meth:`release`."""
        proxy.inflight += 1
        proxy.requests += 1
        return proxy

    def ready(self, pool: Pool, proxy: Proxy) -> bool:
        """``proxy`` of ``pool`` may take a request now (an identity's own proxy, asked each time)."""
        return pool.ready(proxy, asyncio.get_running_loop().time())

    def hopeless(self, host: str) -> bool:
        """True when the host's route is a pool that waiting will not mend (see NoProxy)."""
        pool = self.route(host)
        if pool is None or pool.usable(now := asyncio.get_running_loop().time()):
            return False
        return NoProxy(pool, now, self._wait).hopeless

    async def acquire(self, host: str, choice: str | None = None) -> Proxy | None:
        """:meth:`take`, waiting at most ``proxy_wait`` for a usable proxy (robots.txt, sitemaps
        and ``crawler check``; the crawl's pages wait in the frontier instead, holding no slot)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        while True:
            if self._stopping:
                raise FetchError(Kind.LOCAL, "the crawl is stopping: no more waiting for a proxy")
            try:
                return self.take(host, choice)
            except NoProxy as e:
                if e.now >= deadline or e.hopeless:
                    raise self.gave_up(e) from None
                wake = min(deadline, e.now + e.wait)
                e.pool.changed.clear()
                try:
                    await asyncio.wait_for(e.pool.changed.wait(), max(wake - e.now, 0.001))
                except TimeoutError:
                    pass

    def gave_up(self, e: NoProxy) -> FetchError:
        """The error of a request that found no usable proxy within ``proxy_wait``."""
        states = "; ".join(f"{p.id}: {p.state(e.now)}" for p in e.pool.proxies)
        why = f"none {'the browser can use' if e.browser else 'usable'} after {self._wait:g}s"
        if e.all_dead or e.failing:
            why = "every proxy is disabled" if e.all_dead else f"none has worked for {self._wait:g}s"
        return FetchError(Kind.PROXY, f"pool {e.pool.name!r}: {why} ({states})")

    @property
    def wait(self) -> float:
        return self._wait

    def release(
        self,
        proxy: Proxy,
        *,
        failed: bool = False,
        banned: bool = False,
        blocked: bool = False,
        nbytes: int = 0,
        answered: tuple[URL, float] | None = None,
    ) -> None:
        """Report how a request through ``proxy`` went; failures and bans (a blocked page is one)
        start or extend its cool-down, and mark its pools failing until a request through them works.
        ``answered``: the URL whose target answered through it (even with a ban), and when that
        request was sent (loop time): its network works."""
        proxy.inflight -= 1
        proxy.bytes += nbytes
        if answered is not None:
            reached(proxy, *answered)
        self._judge(proxy, failed, banned or blocked, blocked)

    def blocked(self, proxy: Proxy) -> None:
        """A page that came through ``proxy`` was found blocked after its release (by the parser):
        a ban all the same. (Its release reset the proxy's run of failures: the cool-down starts over.)"""
        self._judge(proxy, False, True, True)

    def _judge(self, proxy: Proxy, failed: bool, banned: bool, blocked: bool) -> None:
        """Count the answer and update the proxy's health and its pools' (see :meth:`release`)."""
        now = asyncio.get_running_loop().time()
        proxy.blocked += blocked
        if failed or banned:
            proxy.failures += failed
            proxy.bans += banned
            proxy.streak += 1
            pause = min(self._cooldown * 2 ** min(proxy.streak - 1, 20), MAX_COOLDOWN)
            proxy.cooling_until = now + pause
        else:
            proxy.streak = 0
        for pool in [*self.pools.values(), *self._chosen.values()]:
            if proxy in pool.proxies:
                if not (failed or banned):
                    pool.failing_since = None
                elif pool.failing_since is None:
                    pool.failing_since = now
                pool.changed.set()

    def stop(self) -> None:
        """The crawl is draining: requests waiting for a proxy stop waiting (their URLs stay queued)."""
        self._stopping = True
        for pool in [*self.pools.values(), *self._chosen.values()]:
            pool.changed.set()

    def disable(self, proxy: Proxy, reason: str) -> None:
        """Take ``proxy`` out of the crawl for good (waiting cannot fix wrong credentials)."""
        proxy.dead = reason

    def credentials_rejected(self, proxy: Proxy, status: int | str) -> FetchError:
        """``proxy`` refused our credentials (``status``, or the browser's words): disabled for the
        crawl; the error to raise, whichever transport met it."""
        self.disable(proxy, f"rejected our credentials ({status})")
        return FetchError(Kind.PROXY, f"proxy {proxy.id} rejected our credentials ({status})")

    def redact(self, text: str) -> str:
        """``text`` with every proxy credential replaced by ``***``."""
        text = redact_url(text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _proxy(self, text: str) -> Proxy:
        url = parse_proxy(text)
        base = f"{url.scheme}://{url.host}:{url.port}"
        pid, n = base, 1
        while pid in self._all and self._all[pid].url != str(url):
            n += 1
            pid = f"{base}#{n}"
        return self._all.setdefault(pid, Proxy(pid, str(url), url.scheme, dead_sites=self._dead_sites))


def _secrets(url: str) -> list[str]:
    """A proxy URL's password, raw and percent-decoded (user names are not secret; URLs with
    ``user:pass@`` are redacted whole by :func:`redact_url`)."""
    u = URL(url)
    found = {u.raw_password or "", u.password or ""}
    return sorted((s for s in found if len(s) >= 3), key=len, reverse=True)
