"""Rendering cost (issue 16): 200 local pages whose content and links exist only after their
script runs, crawled with ``--render '*'`` at render_concurrency 4, and (``--peer``) the same pages
with Scrapy + scrapy-playwright at 4 pages at once, in one run. Reports pages/s and the peak PSS of
each crawler's whole process tree (crawler, parser, Playwright driver, Chromium), sampled from
/proc every 0.2 s.

Usage: python3 benchmarks/scenarios/render.py [--crawler PATH] [--pages N] [--peer PEERS_VENV_PYTHON]
(run with the project's venv python; the peer needs scrapy and scrapy-playwright in its venv)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

from crawler.net.proctree import descendants, pss_mb

ROOT = Path(__file__).resolve().parents[2]
PAGE = """<html><head><title>p</title></head><body><div id=app></div><script>
const n = Number(location.pathname.split("/").pop() || 0);
setTimeout(() => { document.getElementById("app").innerHTML = '<h1>Page ' + n + '</h1>' +
  [1, 2, 3].map(k => '<a href="/p/' + ((n * 3 + k) % TOTAL) + '">next</a>').join(""); }, 10);
</script></body></html>"""


async def measure(*command: str) -> tuple[float, float]:
    """Seconds the command ran and the peak PSS (MB) of its process tree."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*command)
    peak = 0.0
    while proc.returncode is None:
        peak = max(peak, pss_mb(descendants(proc.pid) | {proc.pid}))
        try:
            await asyncio.wait_for(proc.wait(), 0.2)
        except TimeoutError:
            pass
    return time.perf_counter() - started, peak


def line(name: str, pages: int, secs: float, peak: float) -> str:
    return f"{name}: {pages} pages in {secs:.1f} s ({pages / secs:.2f} pages/s, start included), peak PSS {peak:.0f} MB"


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crawler", default=str(ROOT / ".venv/bin/crawler"))
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--peer", help="python of a venv with scrapy-playwright (e.g. /tmp/crawler-peers/bin/python)")
    args = ap.parse_args()
    app = web.Application()
    page = PAGE.replace("TOTAL", str(args.pages))
    app.router.add_get("/p/{n}", lambda _: asyncio.sleep(0, web.Response(text=page, content_type="text/html")))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    start = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/p/0"  # type: ignore[union-attr]
    results = []
    with tempfile.TemporaryDirectory() as out:
        secs, peak = await measure(
            args.crawler,
            "crawl",
            start,
            "-o",
            out,
            "-q",
            "--ignore-robots",
            "--render",
            "*",
            "--render-selector",
            "h1",
            "--render-concurrency",
            "4",
            "--concurrency",
            "8",
            "--per-host",
            "8",
        )
        records = [json.loads(x) for x in (Path(out) / "records.jsonl").read_text().splitlines()]
        ours = sum(1 for r in records if r["rendered"] and r["error"] is None)
        results.append(line("crawler", ours, secs, peak))
        if args.peer:
            feed = Path(out) / "peer.jsonl"
            secs_p, peak_p = await measure(
                args.peer, str(ROOT / "benchmarks/peers/render_scrapy_playwright.py"), str(feed), start
            )
            theirs = sum(1 for x in feed.read_text().splitlines() if json.loads(x)["title"]) if feed.exists() else 0
            results.append(line("scrapy-playwright", theirs, secs_p, peak_p))
            if theirs:
                results.append(
                    f"ratio: {(ours / secs) / (theirs / secs_p):.2f}x the pages/s, {peak / peak_p:.2f}x the memory"
                )
    await runner.cleanup()
    print(f"`{' '.join(['python3', 'benchmarks/scenarios/render.py', *sys.argv[1:]])}`")
    print("\n".join(results))
    return 0 if ours == args.pages else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
