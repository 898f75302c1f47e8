"""Q2: an HTTP/2-only TLS server (ALPN h2 only) on the h2 library; aiohttp vs curl_cffi.

Run: python benchmarks/transport/h2_only.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks, tests, crawler

import asyncio
import ssl

import aiohttp
import h2.config
import h2.connection
import h2.events
from curl_cffi.requests import AsyncSession

from benchmarks.transport.tlsutil import make_ca, server_context

BODY = b"<html><body><h1>only h2</h1><a href='/next'>next</a></body></html>"


class H2Protocol(asyncio.Protocol):
    """Serves every GET with BODY over HTTP/2; refuses a connection that did not negotiate h2."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.t = transport
        sslobj = transport.get_extra_info("ssl_object")
        if sslobj is None or sslobj.selected_alpn_protocol() != "h2":
            transport.close()  # ALPN h2 only: an HTTP/1.1 client gets nothing
            return
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.pending: dict[int, bytes] = {}
        self.conn.initiate_connection()
        transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except Exception:
            self.t.close()
            return
        for ev in events:
            if isinstance(ev, h2.events.RequestReceived):
                headers = dict(ev.headers)
                body = BODY if headers.get(":path", "/") != "/big" else b"x" * 200_000
                self.conn.send_headers(
                    ev.stream_id,
                    [(":status", "200"), ("content-type", "text/html"), ("content-length", str(len(body)))],
                )
                self._send(ev.stream_id, body)
            elif isinstance(ev, h2.events.WindowUpdated):
                self._flush()
        self.t.write(self.conn.data_to_send())

    def _send(self, sid: int, body: bytes) -> None:
        self.pending[sid] = body
        self._flush()

    def _flush(self) -> None:
        for sid, body in list(self.pending.items()):
            while body:
                n = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size, len(body))
                if n <= 0:
                    break
                self.conn.send_data(sid, body[:n])
                body = body[n:]
            if body:
                self.pending[sid] = body
            else:
                self.conn.end_stream(sid)
                del self.pending[sid]
        self.t.write(self.conn.data_to_send())


async def start_h2(leaf) -> tuple[asyncio.AbstractServer, int]:
    ctx = server_context(leaf, ["h2"])
    server = await asyncio.get_running_loop().create_server(H2Protocol, "127.0.0.1", 0, ssl=ctx)
    return server, server.sockets[0].getsockname()[1]


async def main() -> None:
    ca_pem, leaf, _ = make_ca()
    server, port = await start_h2(leaf)
    url = f"https://127.0.0.1:{port}/index.html"
    print("server:", url, "ALPN offered by server: ['h2']")
    # aiohttp: HTTP/1.1 only
    try:
        async with (
            aiohttp.ClientSession() as s,
            s.get(url, ssl=ssl.create_default_context(cafile=str(ca_pem)), timeout=aiohttp.ClientTimeout(total=5)) as r,
        ):
            print("aiohttp:", r.status, await r.read())
    except Exception as e:
        print("aiohttp fails:", type(e).__module__ + "." + type(e).__qualname__, "-", e)
    # curl_cffi
    async with AsyncSession(impersonate="chrome", verify=str(ca_pem), timeout=5) as s:
        r = await s.get(url)
        print(
            "curl_cffi:",
            r.status_code,
            "http_version =",
            r.http_version,
            "(curl: 1=HTTP/1.0 2=HTTP/1.1 3=HTTP/2 30=HTTP/3)",
            "primary_ip =",
            r.primary_ip,
            "port =",
            r.primary_port,
        )
        print("curl_cffi body:", r.content)
        r = await s.get(f"https://127.0.0.1:{port}/big")
        print("curl_cffi /big:", r.status_code, len(r.content), "bytes (flow control exercised)")
        # default curl without impersonation also negotiates h2
        r = await s.get(url, impersonate=None, http_version="v2tls")
        print("curl_cffi no impersonation, http_version=v2tls:", r.status_code, r.http_version)
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
