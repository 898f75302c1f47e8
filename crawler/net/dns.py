"""Where names are looked up: the system resolver (getaddrinfo in a thread, the default) or c-ares
asking the job's own nameservers (``--dns-server``, through aiodns), with no thread hop per host.

Both answer the same question, "the addresses of this name, and for how long", and both say
"this name does not exist" the same way (:class:`NameNotFound`, which ends a URL as ``dns``
without retrying), while a timeout or a failing server stays a retryable ``OSError``. Caching,
pins and the private-address guard are :mod:`crawler.net.resolver`'s.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from aiohttp.resolver import ThreadedResolver

if TYPE_CHECKING:
    import aiodns

Address = tuple[int, str]  # (socket family, address text)

_NOT_FOUND_ARES = frozenset({1, 4})  # ARES_ENODATA, ARES_ENOTFOUND: the name has no address
_NOT_FOUND_SYSTEM = frozenset({socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)})
_ARES_TIMEOUT = 12
RENEW_AFTER = 5_000  # lookups per c-ares channel; a channel holds ~1-2 KB per name it was asked until it closes


@dataclass(frozen=True, slots=True)
class DnsSettings:
    """How the crawl resolves names (``dns_servers``, ``dns_cache``, ``dns_timeout``)."""

    servers: tuple[str, ...] = ()  # "IP" or "IP:PORT" ("[IPv6]:PORT"); none: the system resolver
    cache: int = 10_000  # names kept, least recently used dropped first
    timeout: float = 5.0  # seconds for one try at a nameserver
    tries: int = 2  # tries per lookup, each server in turn
    negative_ttl: float = 60.0  # a name that does not exist is not asked again for this long
    system_ttl: float = 300.0  # the system resolver tells no TTL: its answers are kept this long
    max_ttl: float = 3600.0  # no answer is kept longer, whatever its TTL


class NameNotFound(OSError):
    """The name does not exist or has no address (NXDOMAIN or no A/AAAA): asking again will not
    help, so the URL ends as ``dns`` at once."""


class Lookup(Protocol):
    """One way of asking for a name's addresses."""

    async def addresses(self, host: str, family: int) -> tuple[list[Address], float | None]:
        """The addresses and their TTL in seconds (None: the lookup cannot tell)."""
        ...

    async def close(self) -> None: ...


class SystemLookup:
    """getaddrinfo in the default executor's threads, as aiohttp does by default."""

    def __init__(self) -> None:
        self._threaded: ThreadedResolver | None = None  # made in the crawl's event loop, on first use

    async def addresses(self, host: str, family: int) -> tuple[list[Address], float | None]:
        if self._threaded is None:
            self._threaded = ThreadedResolver()
        try:
            found = await self._threaded.resolve(host, 0, socket.AddressFamily(family))
        except socket.gaierror as e:
            if e.errno in _NOT_FOUND_SYSTEM:
                raise NameNotFound(e.errno, f"{host}: {e.strerror}") from None
            raise
        return [(r["family"], r["host"]) for r in found], None

    async def close(self) -> None:
        if self._threaded is not None:
            await self._threaded.close()


@dataclass(eq=False)
class _Channel:
    """One aiodns resolver (a c-ares channel) and how much it has been asked."""

    resolver: aiodns.DNSResolver
    asked: int = 0
    busy: int = 0  # lookups under way on it


class AresLookup:
    """c-ares (through aiodns) asking ``servers``: no thread per lookup, real TTLs.

    A c-ares channel keeps memory for every name it was asked (measured: ~2 KB a name, 200 MB
    over 100,000 hosts) until it is closed, so a fresh channel takes over every RENEW_AFTER
    lookups; the old one is closed once its last lookup is answered."""

    def __init__(self, settings: DnsSettings) -> None:
        self._settings = settings
        self._channel: _Channel | None = None  # made in the crawl's event loop, on first use
        self._old: list[_Channel] = []  # replaced, still answering lookups under way
        self._error: type[Exception] = Exception  # aiodns's, once imported

    async def addresses(self, host: str, family: int) -> tuple[list[Address], float | None]:
        if self._old:
            await self._close_idle()
        channel = self._take()
        try:
            found = await channel.resolver.getaddrinfo(
                host, family=socket.AddressFamily(family), type=socket.SOCK_STREAM
            )
        except self._error as e:
            code = e.args[0] if e.args else None
            text = e.args[1] if len(e.args) > 1 else "lookup failed"
            if code in _NOT_FOUND_ARES:
                raise NameNotFound(None, f"{host}: {text}") from None
            if code == _ARES_TIMEOUT:
                servers = ", ".join(self._settings.servers)  # (not TimeoutError: aiohttp takes that for its own)
                raise OSError(None, f"{host}: no answer from {servers} (timed out)") from None
            raise OSError(None, f"{host}: {text}") from None
        finally:
            channel.busy -= 1
        addresses = [(n.family, n.addr[0].decode("ascii")) for n in found.nodes]
        if not addresses:
            raise NameNotFound(None, f"{host}: no address")
        return addresses, float(min(n.ttl for n in found.nodes))

    def _take(self) -> _Channel:
        """The channel for the next lookup: a fresh one once the current one has had RENEW_AFTER."""
        channel = self._channel
        if channel is None or channel.asked >= RENEW_AFTER:
            if channel is not None:
                self._old.append(channel)
            channel = self._channel = _Channel(self._start())
        channel.asked += 1
        channel.busy += 1
        return channel

    async def _close_idle(self) -> None:
        idle = [c for c in self._old if not c.busy]
        self._old = [c for c in self._old if c.busy]
        for channel in idle:
            await channel.resolver.close()

    def _start(self) -> aiodns.DNSResolver:
        import aiodns  # here: importing it costs ~70 ms, and only jobs with nameservers need it

        s = self._settings
        self._error = aiodns.error.DNSError
        return aiodns.DNSResolver(nameservers=list(s.servers), timeout=s.timeout, tries=s.tries)

    async def close(self) -> None:
        channels = [*self._old, *([self._channel] if self._channel is not None else [])]
        self._old, self._channel = [], None
        for channel in channels:
            await channel.resolver.close()


def make_lookup(settings: DnsSettings) -> Lookup:
    """c-ares when the job names nameservers, else the system resolver."""
    return AresLookup(settings) if settings.servers else SystemLookup()
