"""TLS servers for the curl transport's tests (issue 28), on 127.0.0.1 in the test's event loop.

- :class:`LocalCA`: a test CA (trustme) and a server certificate for ``127.0.0.1``, ``localhost``,
  ``h2.test`` and ``ja4.test``; clients trust it through ``bundle``.
- :class:`H2Site`: an HTTP/2-only site (ALPN ``h2`` and nothing else, as some sites are): a client
  that does not negotiate h2 (aiohttp speaks HTTP/1.1 only) is disconnected. It serves ``pages`` and
  records what each request sent.
- :class:`JA4Server`: reads the ClientHello off the wire, completes the handshake on the same bytes
  and answers its JA3/JA4 fingerprint as JSON over HTTP/1.1 (see :mod:`tests.helpers.client_hello`).

The ``tls_ca``, ``h2_site`` and ``ja4_server`` fixtures (conftest.py) start them.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import trustme

from tests.helpers.client_hello import Fingerprint, fingerprint, read_client_hello

NAMES = ("127.0.0.1", "localhost", "h2.test", "ja4.test", "h3.test")
Page = tuple[int, dict[str, str], bytes]  # status, headers, body
T = TypeVar("T")


@dataclass
class LocalCA:
    """A CA of the test's own and a certificate it issued for :data:`NAMES`."""

    ca: trustme.CA
    leaf: trustme.LeafCert
    bundle: Path  # the CA's certificate (PEM): ``verify=`` for curl_cffi, ``ca_bundle`` for a crawl

    def server_context(self, alpn: list[str] | None = None) -> ssl.SSLContext:
        return server_context(self.leaf, alpn)

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA (for aiohttp)."""
        return ssl.create_default_context(cafile=str(self.bundle))


def server_context(leaf: trustme.LeafCert, alpn: list[str] | None = None) -> ssl.SSLContext:
    """A server context with the certificate ``leaf``, offering ``alpn`` (nothing when None)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(ctx)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def make_ca(directory: Path, names: tuple[str, ...] = NAMES) -> LocalCA:
    ca = trustme.CA()
    bundle = directory / "test-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return LocalCA(ca, ca.issue_cert(*names), bundle)


@dataclass
class H2Request:
    """What one request sent: its path, its headers (pseudo-headers included) and its connection."""

    path: str
    headers: dict[str, str]
    connection: int  # 1 for the first connection the site accepted, 2 for the next, …


class H2Site:
    """An HTTP/2-only TLS site serving ``pages`` (path → status, headers, body; a path with its query
    first, then without, then ``"*"`` for every other path, else 404). ``requests`` lists what arrived, ``connections`` counts the
    h2 connections and ``refused`` those closed for not negotiating h2."""

    def __init__(self, leaf: trustme.LeafCert, pages: dict[str, Page] | None = None) -> None:
        self.leaf = leaf  # the certificate it serves (LocalCA.leaf)
        self.pages: dict[str, Page] = dict(pages or {})
        self.requests: list[H2Request] = []
        self.connections = 0
        self.refused = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.Transport] = set()

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}{path}"

    def pin(self, host: str = "h2.test") -> str:
        """A ``resolve`` entry (``--resolve`` / ``CURLOPT_RESOLVE``) sending ``host`` here."""
        return f"{host}:{self.port}:127.0.0.1"

    def answer(self, path: str) -> Page:
        for key in (path, path.split("?", 1)[0], "*"):
            if key in self.pages:
                return self.pages[key]
        return 404, {"content-type": "text/plain"}, b"not found"

    async def start(self) -> None:
        ctx = server_context(self.leaf, ["h2"])
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _H2Connection(self), "127.0.0.1", 0, ssl=ctx)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            await _stop(self._server, self._open)


class _H2Connection(asyncio.Protocol):
    """One client connection of an :class:`H2Site`; bodies respect the client's flow control."""

    def __init__(self, site: H2Site) -> None:
        self.site = site
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.pending: dict[int, bytes] = {}  # stream → body not sent yet (window exhausted)
        self.number = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
            self.site.refused += 1
            transport.close()  # h2 only: a client without it gets nothing
            return
        self.site._open.add(transport)
        self.site.connections += 1
        self.number = self.site.connections
        self.conn.initiate_connection()
        transport.write(self.conn.data_to_send())

    def connection_lost(self, exc: Exception | None) -> None:
        self.site._open.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.transport.write(self.conn.data_to_send())
            self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                self._respond(event.stream_id, {_text(k): _text(v) for k, v in event.headers})
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.pending.pop(event.stream_id, None)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.transport.close()
        self._flush()

    def _respond(self, stream: int, headers: dict[str, str]) -> None:
        path = headers.get(":path", "/")
        self.site.requests.append(H2Request(path, headers, self.number))
        status, extra, body = self.site.answer(path)
        sent = {"content-length": str(len(body)), **{k.lower(): v for k, v in extra.items()}}
        self.conn.send_headers(stream, [(":status", str(status)), *sent.items()])
        self.pending[stream] = body

    def _flush(self) -> None:
        """Send what the flow-control windows allow; the rest waits for WINDOW_UPDATE."""
        for stream, body in list(self.pending.items()):
            try:
                while body:
                    n = min(self.conn.local_flow_control_window(stream), self.conn.max_outbound_frame_size, len(body))
                    if n <= 0:
                        break
                    self.conn.send_data(stream, body[:n])
                    body = body[n:]
                if body:
                    self.pending[stream] = body
                else:
                    self.conn.end_stream(stream)
                    del self.pending[stream]
            except h2.exceptions.StreamClosedError:
                self.pending.pop(stream, None)
        self.transport.write(self.conn.data_to_send())


async def _stop(server: asyncio.Server, connections: Iterable[asyncio.WriteTransport]) -> None:
    """Close ``server`` and every connection: from 3.12 on, ``wait_closed`` waits for them all, even
    one still in its TLS handshake (``abort_clients``, 3.13, ends those too)."""
    server.close()
    for transport in list(connections):
        transport.abort()
    abort_clients = getattr(server, "abort_clients", None)
    if abort_clients is not None:
        abort_clients()
    await server.wait_closed()


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode()  # str already, with header_encoding


@dataclass
class JA4Server:
    """Answers every request with the fingerprint of its connection's ClientHello, as JSON:
    ``{"ja4", "ja3", "ja3_string", "alpn", "sni", "tls_version"}``. ``seen`` keeps them in order."""

    leaf: trustme.LeafCert  # the certificate it serves (LocalCA.leaf)
    seen: list[Fingerprint] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _open: set[asyncio.StreamWriter] = field(default_factory=set)

    def url(self, path: str = "/", host: str = "ja4.test") -> str:
        return f"https://{host}:{self.port}{path}"

    def pin(self, host: str = "ja4.test") -> str:
        return f"{host}:{self.port}:127.0.0.1"

    async def start(self) -> None:
        ctx = server_context(self.leaf, ["http/1.1"])  # one protocol for all: the ClientHello is what counts
        self._server = await asyncio.start_server(lambda r, w: self._serve(r, w, ctx), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            await _stop(self._server, {writer.transport for writer in self._open})

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ctx: ssl.SSLContext) -> None:
        self._open.add(writer)
        try:
            raw = await read_client_hello(reader)
            tls = _TLS(ctx, raw, reader, writer)
            await tls.call(tls.obj.do_handshake)
            seen = fingerprint(raw, tls_version=tls.obj.version() or "")
            self.seen.append(seen)
            request = b""
            while b"\r\n\r\n" not in request:
                request += await tls.call(lambda: tls.obj.read(65536))
            body = json.dumps(seen.as_json()).encode()
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            await tls.call(lambda: tls.obj.write(head.encode() + b"Connection: close\r\n\r\n" + body))
        except (OSError, EOFError, ValueError, ssl.SSLError, asyncio.IncompleteReadError):
            pass  # a client that gives up mid-way, or that is no TLS client
        finally:
            self._open.discard(writer)
            writer.close()


class _TLS:
    """Server-side TLS over a connection whose first bytes were already read (the ClientHello)."""

    def __init__(
        self, ctx: ssl.SSLContext, first: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.incoming.write(first)
        self.reader, self.writer = reader, writer

    async def call(self, op: Callable[[], T]) -> T:
        """Run ``op`` on the SSL object, moving bytes both ways until it completes."""
        while True:
            try:
                result = op()
            except ssl.SSLWantReadError:
                await self._send()
                data = await self.reader.read(65536)
                if not data:
                    raise EOFError("the client closed") from None
                self.incoming.write(data)
                continue
            await self._send()
            return result

    async def _send(self) -> None:
        if self.outgoing.pending:
            self.writer.write(self.outgoing.read())
            await self.writer.drain()
