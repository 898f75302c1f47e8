"""Proxies: routing rules, pools with rotation, health with cool-down, and credential redaction.

A request's route is chosen by the first ``proxy_rules`` entry whose pattern matches the target
host (a glob, or a regex after ``re:``): a pool name, one proxy URL, or ``direct``. Without rules,
every host uses the default pool (``proxy``/``proxies``), or goes direct when there is none.

A proxy that fails (cannot connect, times out, answers 407, cuts the connection, or shows a ban
signal) cools down for ``proxy_cooldown`` seconds, doubling with each consecutive failure up to
five minutes; one success resets it. When every proxy of a pool is cooling down or at its
concurrency cap, a request waits for one, at most ``proxy_wait`` seconds, then fails with a
``proxy`` error. Proxies are named by a stable id (``scheme://host:port``); their credentials never
appear in records, logs or messages.
"""

from __future__ import annotations

import asyncio
import fnmatch
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from yarl import URL

from crawler.errors import FetchError, Kind

if TYPE_CHECKING:  # config imports this module for URL validation
    from crawler.config import Job

SCHEMES = ("http", "https", "socks4", "socks5", "socks5h")
MAX_COOLDOWN = 300.0


def parse_proxy(text: str) -> URL:
    """A proxy URL, validated; errors never repeat the credentials."""
    try:
        url = URL(text.strip())
        port = url.port
    except (ValueError, TypeError):
        raise ValueError(f"{redact_url(text)!r} is not a valid proxy URL") from None
    if url.scheme not in SCHEMES:
        raise ValueError(f"{redact_url(text)!r}: proxy scheme must be one of {', '.join(SCHEMES)}")
    if not url.host or not port:
        raise ValueError(f"{redact_url(text)!r}: a proxy URL needs a host and a port")
    return url


def redact_url(text: str) -> str:
    """``scheme://user:pass@host`` → ``scheme://***@host`` (also for unparsable text)."""
    return re.sub(r"(?<=://)[^\s'\"]*@", "***@", text)  # greedy: a password may hold "@" or "/"


@dataclass
class Proxy:
    """One proxy server and what it has done in this crawl."""

    id: str
    url: str  # with credentials: only ever handed to the connection layer
    scheme: str
    requests: int = 0
    failures: int = 0
    bans: int = 0
    bytes: int = 0
    inflight: int = 0
    streak: int = 0  # consecutive failures
    cooling_until: float = 0.0
    dead: str | None = None  # why it is out of the crawl for good (e.g. rejected credentials)

    @property
    def is_socks(self) -> bool:
        return self.scheme.startswith("socks")

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
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def usable(self, now: float) -> list[Proxy]:
        return [p for p in self.proxies if not p.dead and p.cooling_until <= now
                and (self.cap is None or p.inflight < self.cap)]

    def pick(self, host: str, now: float) -> Proxy | None:
        ready = self.usable(now)
        if not ready:
            return None
        if self.rotation == "sticky":
            current = self._sticky.get(host)
            if current in ready:
                return current
            self._sticky[host] = self._round_robin(ready)
            return self._sticky[host]
        if self.rotation == "random":
            return random.choice(ready)
        if self.rotation == "least_used":
            return min(ready, key=lambda p: (p.requests, p.inflight))
        return self._round_robin(ready)

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


class Router:
    """Chooses the route for each target host and keeps proxy health."""

    def __init__(self, default: list[str], pools: dict[str, list[str]], rules: list[tuple[str, str]],
                 *, rotation: str, cap: int | None, cooldown: float, wait: float) -> None:
        self._all: dict[str, Proxy] = {}
        self.pools = {name: Pool(name, [self._proxy(u) for u in urls], rotation, cap)
                      for name, urls in {"default": default, **pools}.items() if urls}
        self._rules: list[tuple[Callable[[str], object], Pool | None]] = []
        for pattern, target in rules:
            if target != "direct" and target not in self.pools:
                self.pools[target] = Pool(target, [self._proxy(target)], rotation, cap)
            matches = (re.compile(pattern[3:]).search if pattern.startswith("re:")
                       else re.compile(fnmatch.translate(pattern.lower())).fullmatch)
            self._rules.append((matches, None if target == "direct" else self.pools[target]))
        self._cooldown = cooldown
        self._wait = wait
        self._route_cache: dict[str, Pool | None] = {}
        self._secrets = [s for p in self._all.values() for s in _secrets(p.url)]

    @classmethod
    def from_job(cls, job: Job) -> Router:
        return cls(job.default_proxies, job.proxy_pools, [(r.match, r.proxy) for r in job.proxy_rules],
                   rotation=job.proxy_rotation, cap=job.proxy_concurrency,
                   cooldown=job.proxy_cooldown, wait=job.proxy_wait)

    def proxies(self) -> list[Proxy]:
        return list(self._all.values())

    def route(self, host: str) -> Pool | None:
        """The pool for a target host name, or None for a direct connection."""
        if host not in self._route_cache:
            pool = self.pools.get("default")
            for matches, target in self._rules:
                if matches(host):
                    pool = target
                    break
            self._route_cache[host] = pool
        return self._route_cache[host]

    async def acquire(self, host: str) -> Proxy | None:
        """A proxy for ``host`` (None: go direct), waiting at most ``proxy_wait`` for one."""
        pool = self.route(host)
        if pool is None:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        while (proxy := pool.pick(host, now := loop.time())) is None:
            all_dead = all(p.dead for p in pool.proxies)
            if now >= deadline or all_dead:
                states = "; ".join(f"{p.id}: {p.state(now)}" for p in pool.proxies)
                why = "every proxy is disabled" if all_dead else f"none usable after {self._wait:g}s"
                raise FetchError(Kind.PROXY, f"pool {pool.name!r}: {why} ({states})")
            wake = min(deadline, pool.wake_at(now) or deadline)
            pool.changed.clear()
            try:
                await asyncio.wait_for(pool.changed.wait(), max(wake - now, 0.001))
            except TimeoutError:
                pass
        proxy.inflight += 1
        proxy.requests += 1
        return proxy

    def release(self, proxy: Proxy, *, failed: bool = False, banned: bool = False, nbytes: int = 0) -> None:
        """Report how a request through ``proxy`` went; failures start or extend its cool-down."""
        proxy.inflight -= 1
        proxy.bytes += nbytes
        if failed or banned:
            proxy.failures += failed
            proxy.bans += banned
            proxy.streak += 1
            pause = min(self._cooldown * 2 ** (proxy.streak - 1), MAX_COOLDOWN)
            proxy.cooling_until = asyncio.get_running_loop().time() + pause
        else:
            proxy.streak = 0
        for pool in self.pools.values():
            if proxy in pool.proxies:
                pool.changed.set()

    def disable(self, proxy: Proxy, reason: str) -> None:
        """Take ``proxy`` out of the crawl for good (waiting cannot fix wrong credentials)."""
        proxy.dead = reason

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
        return self._all.setdefault(pid, Proxy(pid, str(url), url.scheme))


def _secrets(url: str) -> list[str]:
    """A proxy URL's password, raw and percent-decoded (user names are not secret; URLs with
    ``user:pass@`` are redacted whole by :func:`redact_url`)."""
    u = URL(url)
    found = {u.raw_password or "", u.password or ""}
    return sorted((s for s in found if len(s) >= 3), key=len, reverse=True)
