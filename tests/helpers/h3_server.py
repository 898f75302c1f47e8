"""An HTTP/3-only site (QUIC over UDP, on aioquic) for the curl transport's ``http3`` tests: it has
no TCP listener at all, so only a client that speaks HTTP/3 reaches it. The ``h3_site`` fixture
(conftest.py) starts one with the test CA's certificate."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import trustme
from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ProtocolNegotiated, QuicEvent

from tests.helpers.tls_servers import Page


class H3Site:
    """Serves ``pages`` (path → status, headers, body; else 404) over HTTP/3; ``paths`` lists the
    requests that arrived."""

    def __init__(self, leaf: trustme.LeafCert, directory: Path) -> None:
        self.pages: dict[str, Page] = {}
        self.paths: list[str] = []
        self.port = 0
        self._config = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN)
        cert, key = directory / "h3-cert.pem", directory / "h3-key.pem"
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        leaf.private_key_pem.write_to_path(str(key))
        self._config.load_cert_chain(str(cert), str(key))
        self._server: Any = None

    def url(self, path: str = "/", host: str = "h3.test") -> str:
        return f"https://{host}:{self.port}{path}"

    def pin(self, host: str = "h3.test") -> str:
        return f"{host}:{self.port}:127.0.0.1"

    async def start(self) -> None:
        site = self

        class Protocol(_H3Protocol):
            served = site

        self._server = await serve("127.0.0.1", 0, configuration=self._config, create_protocol=Protocol)
        self.port = self._server._transport.get_extra_info("sockname")[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await asyncio.sleep(0)  # (the endpoint closes its transport on the next loop turn)


class _H3Protocol(QuicConnectionProtocol):
    served: H3Site

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._h3: H3Connection | None = None

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self._h3 = H3Connection(self._quic)
        if self._h3 is None:
            return
        for h3_event in self._h3.handle_event(event):
            if isinstance(h3_event, HeadersReceived):
                self._answer(h3_event.stream_id, dict(h3_event.headers)[b":path"].decode())

    def _answer(self, stream: int, path: str) -> None:
        assert self._h3 is not None
        self.served.paths.append(path)
        status, headers, body = self.served.pages.get(path) or (404, {"content-type": "text/plain"}, b"not found")
        head = [(b":status", str(status).encode()), (b"content-length", str(len(body)).encode())]
        head += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self._h3.send_headers(stream, head)
        self._h3.send_data(stream, body, end_stream=True)
        self.transmit()
