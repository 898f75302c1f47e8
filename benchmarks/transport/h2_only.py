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
from curl_cffi.requests import AsyncSession

from benchmarks.transport.tlsutil import make_ca
from tests.helpers.tls_servers import H2Site

BODY = b"<html><body><h1>only h2</h1><a href='/next'>next</a></body></html>"


async def start_h2(leaf) -> tuple[H2Site, int]:
    """The tests' HTTP/2-only site (``tests/helpers/tls_servers.py``, on ``h2``; ALPN h2 only, flow
    control): BODY on every path, 200 kB at /big. ``await site.stop()`` ends it."""
    html = {"content-type": "text/html"}
    site = H2Site(leaf, {"*": (200, html, BODY), "/big": (200, html, b"x" * 200_000)})
    await site.start()
    return site, site.port


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
    await server.stop()


if __name__ == "__main__":
    asyncio.run(main())
