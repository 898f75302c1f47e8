"""Q7: pages/s on the docs corpus, 32 requests in flight: aiohttp (one ClientSession) vs curl_cffi
AsyncSession (impersonate chrome; streamed like the crawler's fetcher, and buffered), and
curl_cffi's low level (AsyncCurl + Curl handles kept with their options: what a lean transport would do). Each trial
runs in a fresh process on uvloop (the crawler's loop); variants interleaved, ROUNDS rounds;
wall and CPU seconds (the client process's user+sys, all threads) per trial.

Run: python benchmarks/transport/speed.py URLS_FILE [ROUNDS] [VARIANT,VARIANT,...]
URLS_FILE: one URL per line (the status-200 URLs of a crawl of the corpus).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks, tests, crawler

import asyncio
import json
import os
import statistics
import subprocess
import time

CONCURRENCY = 32
CHUNK = 1 << 16
MAX_BYTES = 10 << 20
VARIANTS = ("aiohttp", "curl-stream", "curl-buffered", "curl-lean", "curl-lean-cb")


async def trial(variant: str, urls: list[str]) -> dict:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for u in urls:
        queue.put_nowait(u)
    ok = nbytes = errors = 0
    versions: dict[str, int] = {}

    if variant == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY, limit_per_host=0))

        async def fetch(u: str) -> tuple[int, int, str]:
            async with session.get(u, allow_redirects=False) as r:
                n = 0
                async for chunk in r.content.iter_chunked(CHUNK):
                    n += len(chunk)
                return r.status, n, f"{r.version.major}.{r.version.minor}"
    elif variant in (
        "curl-lean",
        "curl-lean-cb",
    ):  # curl_cffi's low level: AsyncCurl + reused Curl handles, a few options per request
        from io import BytesIO

        from curl_cffi import AsyncCurl, Curl, CurlInfo, CurlOpt
        from curl_cffi.curl import CURL_WRITEFUNC_ERROR

        acurl = AsyncCurl()
        handles: asyncio.Queue[Curl] = asyncio.Queue()
        for _ in range(CONCURRENCY):
            c = Curl()
            c.impersonate("chrome")  # once per handle: the options stay set between requests
            c.setopt(CurlOpt.TIMEOUT_MS, 30_000)
            handles.put_nowait(c)

        class _Closer:
            async def close(self) -> None:
                await acurl.close()

        session = _Closer()

        async def fetch(u: str) -> tuple[int, int, str]:
            c = await handles.get()
            body, head = BytesIO(), BytesIO()
            try:
                c.setopt(CurlOpt.URL, u)
                if variant == "curl-lean":
                    c.setopt(CurlOpt.WRITEDATA, body)
                else:  # a Python write callback per chunk, as a capped stream to a page file needs
                    got = 0

                    def sink(chunk: bytes) -> int:
                        nonlocal got
                        got += len(chunk)
                        if got > MAX_BYTES:
                            return CURL_WRITEFUNC_ERROR
                        body.write(chunk)
                        return len(chunk)

                    c.setopt(CurlOpt.WRITEFUNCTION, sink)
                c.setopt(CurlOpt.HEADERDATA, head)
                await acurl.add_handle(c)
                lines = head.getvalue().split(b"\r\n")  # the headers a transport needs, parsed as cheaply
                headers = [ln.split(b":", 1) for ln in lines[1:] if b":" in ln]
                assert headers
                return (
                    int(c.getinfo(CurlInfo.RESPONSE_CODE)),
                    len(body.getvalue()),
                    str(c.getinfo(CurlInfo.HTTP_VERSION)),
                )
            finally:
                handles.put_nowait(c)
    else:
        from curl_cffi.requests import AsyncSession

        session = AsyncSession(impersonate="chrome", max_clients=CONCURRENCY, timeout=30, allow_redirects=False)

        if variant == "curl-stream":

            async def fetch(u: str) -> tuple[int, int, str]:
                r = await session.get(u, stream=True)
                n = 0
                async for chunk in r.aiter_content():
                    n += len(chunk)
                return r.status_code, n, str(r.http_version)
        else:

            async def fetch(u: str) -> tuple[int, int, str]:
                r = await session.get(u)
                return r.status_code, len(r.content), str(r.http_version)

    async def worker() -> None:
        nonlocal ok, nbytes, errors
        while not queue.empty():
            u = queue.get_nowait()
            try:
                status, n, v = await fetch(u)
                ok += status == 200
                nbytes += n
                versions[v] = versions.get(v, 0) + 1
            except Exception:
                errors += 1

    c0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    await session.close()
    return {
        "variant": variant,
        "pages": ok,
        "errors": errors,
        "bytes": nbytes,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "pages_per_s": round(ok / wall, 1),
        "cpu_ms_per_page": round(1000 * cpu / max(ok, 1), 3),
        "http_versions": versions,
    }


def main() -> None:
    urls_file = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    variants = tuple(sys.argv[3].split(",")) if len(sys.argv) > 3 else VARIANTS
    urls = [u for u in Path(urls_file).read_text().split() if u]
    print(f"{len(urls)} URLs, concurrency {CONCURRENCY}, {rounds} rounds, load avg {os.getloadavg()}")
    results: dict[str, list[dict]] = {v: [] for v in variants}
    for rnd in range(rounds):
        k = rnd % len(variants)
        order = variants[k:] + variants[:k]  # rotate the order each round
        for v in order:
            out = subprocess.run(
                [sys.executable, __file__, "--trial", v, urls_file],
                capture_output=True,
                text=True,
                timeout=600,
            )
            res = (
                json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {"error": out.stderr[-500:]}
            )
            results[v].append(res)
            print(f"round {rnd + 1} {json.dumps(res)}")
    print("\nmedian of rounds:")
    base = statistics.median(r["pages_per_s"] for r in results.get("aiohttp") or next(iter(results.values())))
    for v, rs in results.items():
        pps = statistics.median(r["pages_per_s"] for r in rs)
        print(
            f"  {v:14} pages/s {pps:8.1f} ({pps / base:.2f}× aiohttp)  "
            f"wall {statistics.median(r['wall_s'] for r in rs):.2f} s  "
            f"cpu {statistics.median(r['cpu_s'] for r in rs):.2f} s  "
            f"cpu/page {statistics.median(r['cpu_ms_per_page'] for r in rs):.3f} ms"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--trial"]:
        import uvloop

        urls = [u for u in Path(sys.argv[3]).read_text().split() if u]
        print(json.dumps(uvloop.run(trial(sys.argv[2], urls))))
    else:
        main()
