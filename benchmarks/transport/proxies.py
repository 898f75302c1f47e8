"""Q4: curl_cffi's AsyncSession through tinyproxy (HTTP, with and without basic auth) and microsocks
(SOCKS5 with user/password), started as the tests start them; which exception each failure gives.

Run: python benchmarks/transport/proxies.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks, tests, crawler

import asyncio
import socket
import tempfile

from aiohttp import web
from curl_cffi import CurlECode, CurlInfo
from curl_cffi.requests import AsyncSession

from benchmarks.transport.h2_only import start_h2
from benchmarks.transport.tlsutil import make_ca
from tests.helpers.proxy_servers import free_port, start_proxy

# CURLproxycode (curl.h), the ones seen here
PROXY_CODES = {
    0: 0,
    19: "19 REPLY_CONNECTION_REFUSED",
    21: "21 REPLY_HOST_UNREACHABLE",
    26: "26 REQUEST_FAILED",
    33: "33 USER_REJECTED",
    3: "3 CLOSED",
    12: "12 NO_AUTH",
}
INFOS = [CurlInfo.PROXY_ERROR, CurlInfo.HTTP_CONNECTCODE, CurlInfo.RESPONSE_CODE]


async def plain_site() -> tuple[web.AppRunner, int]:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"hello from {request.remote}", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


def black_hole() -> tuple[socket.socket, int]:
    """A listening socket that accepts (kernel backlog) and never answers: a proxy that hangs."""
    s = socket.create_server(("127.0.0.1", 0), backlog=64)
    return s, s.getsockname()[1]


async def attempt(label: str, url: str, proxy: str, ca: Path, limit: float = 3) -> None:
    async with AsyncSession(impersonate="chrome", verify=str(ca), timeout=limit, curl_infos=INFOS) as s:
        try:
            r = await s.get(url, proxy=proxy)
            print(
                f"{label:52} OK {r.status_code} HTTP={r.http_version} primary_ip={r.primary_ip}:{r.primary_port} "
                f"body={r.content[:40]!r}"
            )
        except Exception as e:
            infos = e.response.infos if getattr(e, "response", None) is not None else {}
            pe = infos.get(CurlInfo.PROXY_ERROR)
            cc = infos.get(CurlInfo.HTTP_CONNECTCODE)
            code = getattr(e, "code", None)
            name = CurlECode(code).name if code else ""
            px = PROXY_CODES.get(pe, pe)
            print(
                f"{label:52} {type(e).__name__} code={code} ({name}) "
                f"proxy_error={px} connectcode={cc}\n{'':55}{str(e)[:150]}"
            )


async def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="t28-proxy-"))
    ca, leaf, _ = make_ca()
    runner, web_port = await plain_site()
    h2srv, h2port = await start_h2(leaf)
    http_url, h2_url = f"http://127.0.0.1:{web_port}/x", f"https://127.0.0.1:{h2port}/x"
    tp = await start_proxy("http", "127.0.0.31", tmp)
    tpa = await start_proxy("http", "127.0.0.32", tmp, user="tina", password="tinypw7")
    ms = await start_proxy("socks5", "127.0.0.33", tmp, user="mika", password="sockspw8")
    hole, hole_port = black_hole()
    dead = free_port()
    try:
        for target, url in (("http", http_url), ("https h2", h2_url)):
            print(f"--- target {target}: {url}")
            await attempt("tinyproxy no auth", url, tp.url(), ca)
            await attempt("tinyproxy basic auth, right password", url, tpa.url(), ca)
            await attempt("tinyproxy basic auth, wrong password", url, tpa.url("nope"), ca)
            await attempt("tinyproxy basic auth, no credentials", url, f"http://127.0.0.1:{tpa.port}", ca)
            await attempt("microsocks socks5 user/pw, right", url, ms.url(), ca)
            await attempt(
                "microsocks socks5h (name resolved by proxy)", url, ms.url().replace("socks5://", "socks5h://"), ca
            )
            await attempt("microsocks socks5 user/pw, wrong password", url, ms.url("nope"), ca)
            await attempt("HTTP proxy port closed (refused)", url, f"http://127.0.0.1:{dead}", ca)
            await attempt("SOCKS proxy port closed (refused)", url, f"socks5://127.0.0.1:{dead}", ca)
            await attempt("HTTP proxy that never answers (timeout 3 s)", url, f"http://127.0.0.1:{hole_port}", ca)
            await attempt("SOCKS proxy that never answers (timeout 3 s)", url, f"socks5://127.0.0.1:{hole_port}", ca)
        print("--- target refused behind a working proxy")
        await attempt("tinyproxy → closed target port (http)", f"http://127.0.0.1:{dead}/", tp.url(), ca)
        await attempt("tinyproxy → closed target port (https CONNECT)", f"https://127.0.0.1:{dead}/", tp.url(), ca)
        await attempt("microsocks → closed target port", f"http://127.0.0.1:{dead}/", ms.url(), ca)
        print("--- no proxy, for comparison")
        await attempt("direct → closed port", f"http://127.0.0.1:{dead}/", None, ca)  # type: ignore[arg-type]
    finally:
        for p in (tp, tpa, ms):
            p.kill()
        hole.close()
        await h2srv.stop()
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
