"""Q6b: memory per in-flight request and per session: N concurrent requests to a local server that
holds every answer for 1.5 s (so all are in flight together), aiohttp vs curl_cffi, plain HTTP and
TLS. Each client runs in its own process; RSS from /proc, sampled while all requests are open.

The crawler-* modes measure the crawler's own Fetcher over each transport (aiohttp; curl; curl
impersonating Chrome).

Run: python benchmarks/transport/memory.py [N] [MODE,MODE...]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks, tests, crawler

import asyncio
import json
import ssl
import subprocess
import time

HOLD = 1.5
MODES = [m for m in sys.argv[2:3] for m in m.split(",")] or [
    "aiohttp",
    "curl",
    "curl-sessions",
    "crawler-aiohttp",
    "crawler-curl",
    "crawler-chrome",
]
BODY = 20_000


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def server_main(port_file: str, cert_dir: str) -> None:
    from aiohttp import web

    async def slow(request):
        await asyncio.sleep(HOLD)
        return web.Response(body=b"x" * BODY, content_type="text/html")

    async def run():
        app = web.Application()
        app.router.add_get("/{t:.*}", slow)
        runner = web.AppRunner(app)
        await runner.setup()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(f"{cert_dir}/leaf.pem")
        plain = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        tls = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx, backlog=1024)
        await plain.start()
        await tls.start()
        ports = [s._server.sockets[0].getsockname()[1] for s in (plain, tls)]
        Path(port_file).write_text(json.dumps(ports))  # noqa: ASYNC240 - once, at start
        await asyncio.sleep(3600)

    asyncio.run(run())


async def client(mode: str, url: str, n: int, ca: str) -> dict:
    import aiohttp
    from curl_cffi.requests import AsyncSession

    urls = [f"{url}/p{i}" for i in range(n)]
    peak = 0

    async def sample(stop: asyncio.Event):
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_kib())
            await asyncio.sleep(0.05)

    async def run(coros):
        stop = asyncio.Event()
        t = asyncio.create_task(sample(stop))
        res = await asyncio.gather(*coros)
        stop.set()
        await t
        return res

    run.peak = lambda: peak  # (read by crawler_client)

    sslctx = ssl.create_default_context(cafile=ca)
    if mode.startswith("crawler-"):  # the crawler's own Fetcher over each of its transports
        return await crawler_client(mode, urls, ca, run)
    # warm-up: imports, one request, so the baseline holds the libraries and one TLS context
    if mode == "aiohttp":
        s = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=n, ssl=sslctx))
        async with s.get(urls[0]) as r:
            await r.read()
        base = rss_kib()

        async def one(u):
            async with s.get(u) as r:
                return len(await r.read())

        res = await run(one(u) for u in urls)
        await s.close()
    elif mode == "curl":
        s = AsyncSession(impersonate="chrome", verify=ca, max_clients=n, timeout=30)
        await s.get(urls[0])
        base = rss_kib()
        res = [len(r.content) for r in await run(s.get(u) for u in urls)]
        await s.close()
    else:  # curl-sessions: one AsyncSession per request (an identity each)
        warm = AsyncSession(impersonate="chrome", verify=ca, timeout=30)
        await warm.get(urls[0])
        base = rss_kib()
        sessions = [AsyncSession(impersonate="chrome", verify=ca, timeout=30) for _ in urls]
        res = [len(r.content) for r in await run(s.get(u) for s, u in zip(sessions, urls, strict=True))]
        after = rss_kib()
        for s in sessions:
            await s.close()
        await warm.close()
        return {
            "mode": mode,
            "ok": sum(1 for x in res if x == BODY),
            "base_kib": base,
            "peak_kib": peak,
            "per_request_kib": round((peak - base) / n, 1),
            "after_kib": after,
        }
    return {
        "mode": mode,
        "ok": sum(1 for x in res if x == BODY),
        "base_kib": base,
        "peak_kib": peak,
        "per_request_kib": round((peak - base) / n, 1),
    }


async def crawler_client(mode: str, urls: list[str], ca: str, run) -> dict:
    from yarl import URL

    from crawler.config import Job
    from crawler.net.fetch import Fetcher
    from crawler.net.session import make_resolver, make_session
    from crawler.settings import fetch_settings, router
    from crawler.wiring import transports

    n = len(urls)
    transport = {"crawler-aiohttp": {}, "crawler-curl": {"transport": "curl"}}.get(mode, {"impersonate": "chrome"})
    job = Job.model_validate({"start_urls": urls[:1], "concurrency": n, "ca_bundle": ca, **transport})
    settings = fetch_settings(job)
    resolver = make_resolver(settings)
    async with make_session(settings, resolver) as session:
        fetcher = Fetcher(transports(settings, session, resolver), settings, router(job))
        await fetcher.fetch(URL(urls[0]), None)
        base = rss_kib()
        res = [r.nbytes for r in await run(fetcher.fetch(URL(u), None) for u in urls)]
        peak_version = (await fetcher.fetch(URL(urls[0]), None)).http_version
        await fetcher.close()
    peak = run.peak()
    return {
        "mode": mode,
        "ok": sum(1 for x in res if x == BODY),
        "http": peak_version,
        "base_kib": base,
        "peak_kib": peak,
        "per_request_kib": round((peak - base) / n, 1),
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100
    from benchmarks.transport.tlsutil import make_ca

    ca_pem, leaf, _ = make_ca()
    d = ca_pem.parent
    leaf.private_key_and_cert_chain_pem.write_to_path(str(d / "leaf.pem"))
    pf = d / "ports.json"
    srv = subprocess.Popen([sys.executable, __file__, "--server", str(pf), str(d)])
    try:
        deadline = time.monotonic() + 20
        while not pf.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        plain, tls = json.loads(pf.read_text())
        for scheme, port in (("http", plain), ("https", tls)):
            for mode in MODES:
                out = subprocess.run(
                    [sys.executable, __file__, "--client", mode, f"{scheme}://127.0.0.1:{port}", str(n), str(ca_pem)],
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                print(scheme, out.stdout.strip() or out.stderr[-800:])
    finally:
        srv.kill()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--server"]:
        server_main(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["--client"]:
        print(json.dumps(asyncio.run(client(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]))))
    else:
        main()
