"""Q5: streaming with a cap, decompression, raw bytes for WARC, HTTP version and the address
actually connected, and --resolve pins (CURLOPT_RESOLVE) with curl_cffi's AsyncSession.

Run: python benchmarks/transport/streaming.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks, tests, crawler

import asyncio
import gzip
import time

import brotli
from aiohttp import web
from curl_cffi import CurlOpt
from curl_cffi.curl import CURL_WRITEFUNC_ERROR
from curl_cffi.requests import AsyncSession

from benchmarks.transport import curlsession
from benchmarks.transport.h2_only import start_h2
from benchmarks.transport.tlsutil import make_ca
from crawler.net.decode import BodyDecoder
from tests.helpers.proxy_servers import free_port

MB = 1 << 20
CAP = 1 * MB
PLAIN = b"a" * (64 * 1024)
BIG_DECODED = 64 * MB  # each encoded body decodes to 64 MiB (a small "bomb")
GZ = gzip.compress(b"\0" * BIG_DECODED, compresslevel=9)
BR = brotli.compress(b"\0" * BIG_DECODED, quality=5)
sent: dict[str, int] = {}


async def site() -> tuple[web.AppRunner, int]:
    async def plain(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await resp.prepare(request)
        key = request.path
        sent[key] = 0
        try:
            for _ in range(64 * MB // len(PLAIN)):  # 64 MiB unless the client goes away
                await resp.write(PLAIN)
                sent[key] += len(PLAIN)
        except (ConnectionError, RuntimeError):
            pass
        return resp

    async def encoded(request: web.Request) -> web.StreamResponse:
        enc = request.match_info["enc"]
        body = GZ if enc == "gzip" else BR
        sent[request.path] = len(body)
        return web.Response(body=body, headers={"Content-Encoding": enc, "Content-Type": "text/html"})

    app = web.Application()
    app.router.add_get("/plain", plain)
    app.router.add_get("/plain2", plain)

    async def slow(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        try:
            for _ in range(100):
                await resp.write(b"s" * 100)
                await asyncio.sleep(0.1)  # 10 s in all, never idle for 1 s
        except (ConnectionError, RuntimeError):
            pass
        return resp

    app.router.add_get("/enc/{enc}", encoded)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def capped_stream(s: AsyncSession, url: str, cap: int, **kw) -> tuple[int, int, object]:
    """stream=True + aiter_content; past the cap: quit_now (the write callback then fails), aclose."""
    r = await s.get(url, stream=True, **kw)
    info = (r.status_code, r.http_version, r.primary_ip, r.primary_port, r.headers.get("content-encoding"))
    got = chunks = 0
    async for chunk in r.aiter_content():
        got += len(chunk)
        chunks += 1
        if got > cap:
            r.quit_now.set()  # aclose() alone would wait for the whole body (it awaits the transfer task)
            break
    t0 = time.perf_counter()
    await r.aclose()
    return got, chunks, (info, f"aclose {1000 * (time.perf_counter() - t0):.1f} ms")


async def main() -> None:
    runner, port = await site()
    base = f"http://127.0.0.1:{port}"
    print(f"gzip body {len(GZ)} B, br body {len(BR)} B, both decode to {BIG_DECODED} B; cap {CAP} B")
    async with curlsession.OptionSession(impersonate="chrome", timeout=30) as s:
        got, chunks, info = await capped_stream(s, f"{base}/plain", CAP)
        await asyncio.sleep(0.3)
        print(
            f"A stream plain 64 MiB, stop at cap: read {got} B in {chunks} chunks; "
            f"server had sent {sent['/plain']} B; {info}"
        )

        # the same, but aclose() without quit_now: the whole body is transferred into the queue
        r = await s.get(f"{base}/plain2", stream=True)
        async for _ in r.aiter_content():
            break
        t0 = time.perf_counter()
        await r.aclose()
        print(
            f"B stream plain, break + aclose() only: server sent {sent['/plain2']} B, aclose took "
            f"{time.perf_counter() - t0:.2f} s, queue still holds {r.queue.qsize()} chunks (no backpressure)"
        )

        for enc in ("gzip", "br"):
            got, chunks, info = await capped_stream(s, f"{base}/enc/{enc}", CAP)
            print(f"C stream {enc} (curl decodes): read {got} decoded B in {chunks} chunks before stop; {info}")

        # raw bytes for WARC: curl must not decode; the crawler's BodyDecoder decodes with the cap
        for enc in ("gzip", "br"):
            r = await curlsession.get(s, f"{base}/enc/{enc}", {CurlOpt.HTTP_CONTENT_DECODING: 0}, stream=True)
            dec = BodyDecoder(r.headers.get("content-encoding"))
            raw = size = 0
            try:
                async for chunk in r.aiter_content():
                    raw += len(chunk)
                    size += len(dec.feed(chunk, CAP + 1 - size))
                    if size > CAP:
                        break
                out = "stopped at cap"
            except Exception as e:  # crawler FetchError(TOO_LARGE) from the decoder's room check
                out = f"{type(e).__name__}: {getattr(e, 'kind', '')} {e}"
            r.quit_now.set()
            await r.aclose()
            print(f"D raw {enc} (HTTP_CONTENT_DECODING=0) + crawler BodyDecoder: raw {raw} B → decoded {size} B, {out}")

        # content_callback (no stream): a synchronous sink that can abort the transfer by its return value
        total = 0

        def sink(chunk: bytes) -> int:
            nonlocal total
            total += len(chunk)
            return CURL_WRITEFUNC_ERROR if total > CAP else len(chunk)

        try:
            await s.get(f"{base}/enc/gzip", content_callback=sink)
        except Exception as e:
            print(
                f"E content_callback cap on gzip: stopped after {total} decoded B: "
                f"{type(e).__name__} code={e.code} ({str(e)[:70]})"
            )

    # total timeout: stream mode sets no CURLOPT_TIMEOUT (only a low-speed limit), so the caller bounds it;
    # a cancelled stream must give its handle back (max_clients=1: the next request would wait forever)
    async with AsyncSession(impersonate="chrome", timeout=(2, 2), max_clients=1) as s:
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(1.0):
                r = await s.get(f"{base}/slow", stream=True)
                async for _ in r.aiter_content():
                    pass
            print("J slow body finished?!")
        except TimeoutError:
            r.quit_now.set()
            await r.aclose()
            print(f"J slow 10 s body, asyncio.timeout(1.0): cancelled after {time.perf_counter() - t0:.2f} s")
        async with asyncio.timeout(5):
            r2 = await s.get(f"{base}/enc/gzip")
        print(
            f"J next request on the same max_clients=1 session: {r2.status_code}, {len(r2.content)} B "
            "(handle was released)"
        )

    # HTTP version, primary_ip and a --resolve pin (CURLOPT_RESOLVE), over TLS + h2
    ca, leaf, _ = make_ca()
    h2srv, h2port = await start_h2(leaf)
    pin = [f"h2.test:{h2port}:127.0.0.1"]
    async with AsyncSession(impersonate="chrome", verify=str(ca), timeout=10, curl_options={CurlOpt.RESOLVE: pin}) as s:
        r = await s.get(f"https://h2.test:{h2port}/pinned", stream=True)
        print(
            f"F pin h2.test→127.0.0.1 (session curl_options RESOLVE): {r.status_code} http_version={r.http_version} "
            f"primary_ip={r.primary_ip}:{r.primary_port} (known at headers, before the body)"
        )
        await r.aclose()
    async with curlsession.OptionSession(impersonate="chrome", verify=str(ca), timeout=10) as s:
        try:
            await s.get(f"https://h2.test:{h2port}/unpinned")
        except Exception as e:
            print(f"G no pin, h2.test does not resolve: {type(e).__name__} code={e.code}")
        rs = await asyncio.gather(
            *(curlsession.get(s, f"https://h2.test:{h2port}/p{i}", {CurlOpt.RESOLVE: pin}) for i in range(4))
        )
        print(
            "H pin per request (ContextVar → pop_curl), 4 concurrent:",
            [(r.status_code, r.http_version, r.primary_ip) for r in rs],
        )
        pin2 = [f"h2.test:{h2port}:127.0.0.2"]  # the h2 server listens on 127.0.0.1 only
        try:
            await curlsession.get(
                s, f"https://h2.test:{h2port}/moved", {CurlOpt.RESOLVE: [f"-h2.test:{h2port}", *pin2]}
            )
        except Exception as e:
            print(
                f"I re-pin to 127.0.0.2 (a later DNS answer): {type(e).__name__} code={e.code} — fresh connection "
                "honours the new pin only if the old connection is not reused"
            )
        else:
            print(
                "I re-pin to 127.0.0.2: request succeeded — an existing connection to h2.test was reused "
                "(pins apply only to new connections)"
            )
    await h2srv.stop()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
