"""Name resolution for the crawl, in the order a name meets it: ``--resolve HOST:PORT:ADDR`` pins
(curl's syntax), a bounded cache of answers that honours their TTLs (and keeps "no such name"
briefly), then a lookup (:mod:`crawler.net.dns`: the system resolver or the job's nameservers).
``--block-private-ips`` refuses private, loopback, link-local and other non-global addresses
*after* all of that, so a public name that resolves (or re-resolves) to an internal address is
refused too, whichever resolver answered."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from aiohttp.abc import AbstractResolver, ResolveResult

from crawler.core.usage import DnsUse
from crawler.net.dns import Address, DnsSettings, Lookup, NameNotFound, make_lookup

_Key = tuple[str, int]  # (name, family)
_Answer = list[Address] | NameNotFound


class BlockedAddress(OSError):
    """A host resolved only to addresses the job refuses (``block_private_ips``)."""


def is_blocked(address: str) -> bool:
    """True for any address that is not globally routable (private, loopback, link-local, …)."""
    return not ipaddress.ip_address(address.split("%")[0]).is_global


def literal_blocked(host: str) -> bool:
    """An IP-literal host that block_private_ips refuses (aiohttp never resolves literals)."""
    try:
        return is_blocked(host.strip("[]"))
    except ValueError:
        return False


class AnswerCache:
    """Answers by (name, family) until they expire; the least recently used go first past ``size``,
    so a crawl of a million hosts holds at most ``size`` of them."""

    def __init__(self, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[_Key, tuple[float, _Answer]] = OrderedDict()

    def get(self, key: _Key) -> _Answer | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: _Key, answer: _Answer, ttl: float) -> None:
        if ttl <= 0 or self._size == 0:
            return
        self._entries[key] = (self._clock() + ttl, answer)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


class CrawlResolver(AbstractResolver):
    """aiohttp's resolver for the crawl: pins, the cache, one lookup per name at a time (callers
    asking for a name already being looked up wait for that answer), the private-address guard,
    and the counts ``use`` shows in stats, /metrics and the summary."""

    def __init__(
        self,
        pins: Mapping[tuple[str, int], str],
        block_private: bool = False,
        settings: DnsSettings | None = None,
        *,
        use: DnsUse | None = None,
        lookup: Lookup | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pins = pins
        self._block = block_private
        self._settings = settings = settings or DnsSettings()
        self._lookup = lookup or make_lookup(settings)
        self._cache = AnswerCache(settings.cache, clock)
        self._pending: dict[_Key, asyncio.Future[list[Address]]] = {}  # lookups under way
        self.use = use or DnsUse(servers=settings.servers)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        name = host.lower().rstrip(".")
        pinned = self._pins.get((name, port))
        found = [_pinned(pinned)] if pinned is not None else await self._addresses(name, int(family))
        if self._block:
            allowed = [a for a in found if not is_blocked(a[1])]
            if not allowed:
                shown = ", ".join(a[1] for a in found)
                raise BlockedAddress(f"{host} resolves only to non-public addresses ({shown})")
            found = allowed
        return [
            ResolveResult(hostname=host, host=addr, port=port, family=fam, proto=0, flags=socket.AI_NUMERICHOST)
            for fam, addr in found
        ]

    async def _addresses(self, name: str, family: int) -> list[Address]:
        key = (name, family)
        cached = self._cache.get(key)
        if cached is not None:
            self.use.cached += 1
            if isinstance(cached, NameNotFound):
                raise NameNotFound(cached.errno, cached.strerror)
            return cached
        task = self._pending.get(key)
        if task is None:
            task = self._pending[key] = asyncio.ensure_future(self._ask(key))
            task.add_done_callback(lambda done: self._settled(key, done))
        else:  # being looked up already: share that answer (a host's first burst of requests)
            self.use.cached += 1
        return await asyncio.shield(task)  # a caller that gives up does not cancel the others' lookup

    def _settled(self, key: _Key, task: asyncio.Future[list[Address]]) -> None:
        del self._pending[key]
        if not task.cancelled():
            task.exception()  # retrieved here: every caller may have given up

    async def _ask(self, key: _Key) -> list[Address]:
        """One lookup, timed and counted, its answer (or its NXDOMAIN) cached."""
        s, use = self._settings, self.use
        use.lookups += 1
        started = time.perf_counter()
        try:
            found, ttl = await self._lookup.addresses(*key)
        except NameNotFound as e:
            use.not_found += 1
            self._cache.put(key, e, s.negative_ttl)
            raise
        except OSError:  # a timeout or a failing server (TimeoutError is an OSError)
            use.failures += 1
            raise
        finally:
            use.seconds += time.perf_counter() - started
        self._cache.put(key, found, min(s.max_ttl, s.system_ttl if ttl is None else ttl))
        return found

    async def close(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        await self._lookup.close()


def _pinned(address: str) -> Address:
    ip = ipaddress.ip_address(address)
    return (socket.AF_INET6 if ip.version == 6 else socket.AF_INET, str(ip))
