"""Rendering cost (issue 16): 200 local pages whose content and links exist only after their
script runs, crawled with ``--render '*'`` at render_concurrency 4. Reports pages/s and the peak
PSS of the crawler's whole process tree (crawler, parser, Playwright driver, Chromium), sampled
from /proc every 0.2 s.

Usage: python3 benchmarks/render.py [--crawler PATH] [--pages N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
PAGE = """<html><head><title>p</title></head><body><div id=app></div><script>
const n = Number(location.pathname.split("/").pop() || 0);
setTimeout(() => { document.getElementById("app").innerHTML = '<h1>Page ' + n + '</h1>' +
  [1, 2, 3].map(k => '<a href="/p/' + ((n * 3 + k) % TOTAL) + '">next</a>').join(""); }, 10);
</script></body></html>"""


def tree(pid: int) -> set[int]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            kids.setdefault(ppid, []).append(int(entry))
    found, todo = {pid}, [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def pss_mb(pids: set[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crawler", default=str(ROOT / ".venv/bin/crawler"))
    ap.add_argument("--pages", type=int, default=200)
    args = ap.parse_args()
    app = web.Application()
    page = PAGE.replace("TOTAL", str(args.pages))
    app.router.add_get("/p/{n}", lambda _: asyncio.sleep(0, web.Response(text=page, content_type="text/html")))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            args.crawler, "crawl", f"http://127.0.0.1:{port}/p/0", "-o", out, "-q", "--ignore-robots",
            "--render", "*", "--render-selector", "h1", "--render-concurrency", "4", "--concurrency", "8",
            "--per-host", "8")
        peak = 0.0
        while proc.returncode is None:
            peak = max(peak, pss_mb(tree(proc.pid)))
            try:
                await asyncio.wait_for(proc.wait(), 0.2)
            except TimeoutError:
                pass
        secs = time.perf_counter() - started
        lines = (Path(out) / "records.jsonl").read_text().splitlines()
        rendered = sum(1 for line in lines if json.loads(line)["rendered"])
    await runner.cleanup()
    print(f"`python3 benchmarks/render.py --pages {args.pages}`: {rendered} pages rendered in {secs:.1f} s "
          f"({rendered / secs:.1f} pages/s, browser start included), peak PSS of the process tree {peak:.0f} MB")
    return 0 if rendered == args.pages else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
