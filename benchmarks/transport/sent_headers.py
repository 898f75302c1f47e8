"""What the server receives with impersonate="chrome" vs what curl_cffi's Response.request says was
sent (the WARC request record needs the headers actually sent).

Run: python benchmarks/transport/sent_headers.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks, tests, crawler

import asyncio

from aiohttp import web
from curl_cffi import CurlOpt
from curl_cffi.requests import AsyncSession

from benchmarks.transport import curlsession
from benchmarks.transport.h2_only import start_h2
from benchmarks.transport.tlsutil import make_ca
from tests.helpers.proxy_servers import free_port


async def main() -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(
            list(request.raw_headers),
            dumps=lambda o: __import__("json").dumps([(k.decode(), v.decode()) for k, v in o]),
        )

    app = web.Application()
    app.router.add_get("/", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    async with AsyncSession(impersonate="chrome") as s:
        r = await s.get(
            f"http://127.0.0.1:{port}/", headers={"User-Agent": "ourcrawler/1.0 (+https://example.org/bot)"}
        )
        print("received by the server, in order:")
        for k, v in r.json():
            print(f"  {k}: {v[:90]}")
        print("Response.request.headers:", dict(r.request.headers))
        r = await s.get(f"http://127.0.0.1:{port}/", http_version="v1")
        print(
            "with http_version='v1' for http:// URLs:",
            [k for k, _ in r.json() if k.lower() in ("upgrade", "http2-settings", "connection")]
            or "no Upgrade/HTTP2-Settings",
        )
    # the request head as curl wrote it (CURLINFO_HEADER_OUT = 2 via DEBUGFUNCTION), over h2 to the h2-only server
    ca, leaf, _ = make_ca()
    h2srv, h2port = await start_h2(leaf)
    out: list[bytes] = []

    def debug(kind: int, data: bytes) -> None:
        if kind == 2:  # CURLINFO_HEADER_OUT
            out.append(bytes(data))

    async with curlsession.OptionSession(impersonate="chrome", verify=str(ca)) as s:
        r = await curlsession.get(
            s, f"https://127.0.0.1:{h2port}/x", {CurlOpt.VERBOSE: 1, CurlOpt.DEBUGFUNCTION: debug}
        )
        print(f"h2 request head captured by DEBUGFUNCTION (http_version={r.http_version}):")
        print("  " + b"".join(out).decode().replace("\r\n", "\n  ").strip())
    await h2srv.stop()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
