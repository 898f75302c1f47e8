"""What keeps a hostile page in Chromium from reaching what a fetch could not: the sandbox, and
``block_private_ips`` on the address the browser actually connects to.

Chromium resolves names itself, so checking a request's host before letting it go proves nothing
(the name can resolve again, elsewhere: DNS rebinding). With ``block_private_ips`` the browser
instead sends every connection of a page without a proxy (the document, its redirects,
subresources, iframes, scripts' requests, WebSockets) through :class:`BrowserGuard`, a SOCKS5
proxy of ours on 127.0.0.1: SOCKS5 hands it the name, it resolves it with the crawl's resolver
(``--resolve`` pins and the private-address guard) and connects to an allowed address itself.
A job with ``dns_servers`` sends the browser through it too, so rendered pages ask the same
nameservers as fetched ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from yarl import URL

from crawler.core.errors import FetchError, Kind
from crawler.net.dns import DnsSettings
from crawler.net.failures import classify_connect, classify_lookup
from crawler.net.resolver import BlockedAddress, CrawlResolver, is_blocked

if TYPE_CHECKING:
    from playwright.async_api import Page, Request

SOCKS = 5
CONNECT = 1
NOT_ALLOWED, UNREACHABLE, NO_COMMAND = 2, 4, 7  # SOCKS5 replies (RFC 1928)
CHUNK = 1 << 16
LINGER = 5.0  # seconds one side of a connection may go on once the other is done
FAILURES_KEPT = 256  # the last hosts it failed to reach, remembered to name a page's failure


def running_as_root() -> bool:
    return os.geteuid() == 0


def launch_options(pins: dict[tuple[str, int], str], root: bool, guard: str | None) -> dict[str, Any]:
    """Playwright's launch options. Chromium sandboxed unless we are root (Chromium refuses to start
    sandboxed as root; Playwright adds --no-sandbox itself unless asked for the sandbox), the
    job's ``--resolve`` pins for the names it resolves itself, and with the ``guard`` every
    connection through it: loopback too (said here, not left to Playwright's default) and no
    WebRTC UDP past it."""
    rules = ", ".join(f"MAP {host} {addr}" for (host, _), addr in pins.items())
    args = ["--disable-dev-shm-usage", *([f"--host-resolver-rules={rules}"] if rules else [])]
    options: dict[str, Any] = {"args": args, "chromium_sandbox": not root}
    if guard is not None:
        args.append("--force-webrtc-ip-handling-policy=disable_non_proxied_udp")
        options["proxy"] = {"server": guard, "bypass": "<-loopback>"}
    return options


def literal_refusal(host: str) -> str | None:
    """Why ``block_private_ips`` refuses an IP-literal host (None: not a literal, or public)."""
    try:
        blocked = is_blocked(host.strip("[]"))
    except ValueError:
        return None
    return f"{host} is not a public address (block_private_ips)" if blocked else None


class BrowserGuard:
    """A SOCKS5 proxy (CONNECT only, no authentication) for the browser; ``start`` gives its URL.
    It resolves names as the crawl does (pins, ``dns``) and refuses non-public addresses if ``block``."""

    def __init__(
        self, pins: dict[tuple[str, int], str], connect_timeout: float, dns: DnsSettings, *, block: bool = True
    ) -> None:
        self._pins = pins
        self._dns = dns
        self._block = block
        self._resolver: CrawlResolver | None = None  # made in the crawl's event loop, on first use
        self._timeout = connect_timeout
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        # host → why the browser could not reach it (refused, not resolved, not connected), the
        # newest last: the browser says only that its SOCKS connection failed
        self.failures: dict[str, FetchError] = {}

    async def start(self) -> str:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"socks5://127.0.0.1:{port}"

    async def check(self, url: URL, resolve: bool) -> None:
        """FetchError ``blocked`` (as a fetch would have it) if ``url``'s host is refused now;
        a name only if ``resolve`` (through a proxy of the job's, the proxy resolves it)."""
        if not self._block:
            return
        host, port = url.raw_host or "", url.port or 0
        refusal = literal_refusal(host)
        if refusal is None and resolve and ipaddress_or_none(host) is None:
            try:
                await self._resolve(host, port, socket.AF_INET)
            except BlockedAddress as e:
                refusal = str(e)
            except (OSError, UnicodeError):
                return  # the browser will fail to reach the name, and the guard will say why
        if refusal is not None:
            raise FetchError(Kind.BLOCKED, refusal)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        try:
            upstream = await self._handshake(reader, writer)
            if upstream is not None:
                await _pipe(reader, writer, *upstream)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass  # the browser went away, or spoke something other than SOCKS5
        except asyncio.CancelledError:
            pass  # the guard is closing with the crawl: nothing to report
        finally:
            self._pipes.discard(task)
            writer.close()

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The SOCKS5 greeting and request; the connection to the target if it is allowed."""
        greeting, methods = await reader.readexactly(2)
        await reader.readexactly(methods)
        writer.write(bytes([SOCKS, 0]))  # no authentication
        version, command, _, kind = await reader.readexactly(4)
        if greeting != SOCKS or version != SOCKS:
            raise ValueError("not SOCKS5")
        if kind == 1:
            host = socket.inet_ntop(socket.AF_INET, await reader.readexactly(4))
        elif kind == 4:
            host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
        else:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode("ascii")  # as in the URL (IDNA)
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if command != CONNECT:
            _reply(writer, NO_COMMAND)
            return None
        try:
            async with asyncio.timeout(self._timeout):  # a name server that never answers holds nothing
                addresses = await self._allowed(host, port)
        except TimeoutError:
            self._remember(host, FetchError(Kind.DNS, f"cannot resolve host {host}: timed out", retryable=True))
            addresses = []
        except OSError as e:  # refused (BlockedAddress), or not resolved
            self._remember(host, classify_lookup(e))
            _reply(writer, NOT_ALLOWED if isinstance(e, BlockedAddress) else UNREACHABLE)
            return None
        except UnicodeError:  # no name at all (a label past 63 characters): the resolver's IDNA says so
            self._remember(host, FetchError(Kind.DNS, f"cannot resolve host {host}: not a valid name"))
            _reply(writer, UNREACHABLE)
            return None
        for address in addresses:
            try:
                async with asyncio.timeout(self._timeout):
                    upstream = await asyncio.open_connection(address, port)
            except OSError as e:  # (a TimeoutError too)
                self._remember(host, classify_connect(f"{host}:{port}", e))
                continue
            self.failures.pop(host, None)  # reached: an earlier address's failure is no reason
            _reply(writer, 0)
            return upstream
        _reply(writer, UNREACHABLE)
        return None

    async def _allowed(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` may be reached at (BlockedAddress if none; the resolver's
        OSError if it cannot say)."""
        if ipaddress_or_none(host) is not None:
            refusal = literal_refusal(host) if self._block else None
            if refusal is not None:
                raise BlockedAddress(refusal)
            return [host]
        return await self._resolve(host, port, socket.AF_UNSPEC)

    @contextlib.contextmanager
    def blame(self, page: Page) -> Iterator[None]:
        """A page load (``page.goto``) whose document, or a redirect of it, this guard could not
        connect ends as the FetchError a fetch would give: ``blocked`` when refused, ``dns``,
        ``connect`` or ``timeout`` (retried) when the name or the address failed."""
        from playwright.async_api import Error

        hops: list[str] = []  # the main frame's navigation requests, in order (each is seen before it goes out)

        def note(request: Request) -> None:
            with contextlib.suppress(Error):  # (a service worker's request has no frame)
                if request.is_navigation_request() and request.frame == page.main_frame:
                    hops.append(URL(request.url, encoded=True).raw_host or "")

        page.on("request", note)
        try:
            yield
        except Error as e:
            why = self.failures.get(hops[-1]) if hops else None
            if why is not None and "ERR_SOCKS_CONNECTION_FAILED" in str(e):
                raise FetchError(why.kind, why.message, retryable=why.retryable) from None
            raise
        finally:
            page.remove_listener("request", note)

    async def _resolve(self, host: str, port: int, family: socket.AddressFamily) -> list[str]:
        if self._resolver is None:
            self._resolver = CrawlResolver(self._pins, self._block, self._dns)
        return [r["host"] for r in await self._resolver.resolve(host, port, family)]

    def _remember(self, host: str, why: FetchError) -> None:
        self.failures.pop(host, None)
        self.failures[host] = why
        while len(self.failures) > FAILURES_KEPT:
            del self.failures[next(iter(self.failures))]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._pipes):
                task.cancel()
            await asyncio.gather(*self._pipes, return_exceptions=True)
            self._server = None
        if self._resolver is not None:
            await self._resolver.close()
            self._resolver = None


def ipaddress_or_none(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _reply(writer: asyncio.StreamWriter, code: int) -> None:
    writer.write(bytes([SOCKS, code, 0, 1, 0, 0, 0, 0, 0, 0]))


async def _pipe(
    client: asyncio.StreamReader,
    to_client: asyncio.StreamWriter,
    upstream: asyncio.StreamReader,
    to_upstream: asyncio.StreamWriter,
) -> None:
    """Copy both ways. Once one side is done (its end is passed on), the other has ``LINGER``
    seconds to finish: a server that never closes cannot hold a connection the browser left."""
    copies = {asyncio.ensure_future(_copy(client, to_upstream)), asyncio.ensure_future(_copy(upstream, to_client))}
    try:
        _, rest = await asyncio.wait(copies, return_when=asyncio.FIRST_COMPLETED)
        if rest:
            await asyncio.wait(rest, timeout=LINGER)
    finally:
        for copy in copies:
            copy.cancel()
        to_upstream.close()


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
