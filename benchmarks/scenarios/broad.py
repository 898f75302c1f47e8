"""Broad crawl benchmark (issue 18): one local server answering for N host names, 3-4 pages each.

Usage: python benchmarks/scenarios/broad.py [--crawler PATH] [--nofile N] HOSTS [HOSTS ...]
  For each HOSTS: serve hN.broad.test on 127.0.0.1 (pinned with --resolve entries in a job file,
  no /etc/hosts edits), crawl from a hub page linking every host with --concurrency 128
  --per-host 2 --allow-domain broad.test, and report wall seconds, pages, new connections per
  request (the crawl's summary), and the peak resident memory of the crawler and its parser
  process together (sampled from /proc every 0.2 s). --nofile runs the crawler under that
  open-files limit. Each run starts once the disk is quiet (benchmarks/harness/quiet_disk.py).
  Robots per host by N % 4: Disallow /p/3, 404, empty, allow all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks.harness
from benchmarks.harness.quiet_disk import wait_for_quiet_disk


def serve(port_file: Path, hosts: int) -> None:
    """The site, run in a process of its own so it does not share the crawler's event loop."""

    async def handle(request: web.Request) -> web.Response:
        host = request.host.rsplit(":", 1)[0]
        port = request.host.rsplit(":", 1)[1]
        if host == "hub.broad.test":
            if request.path == "/robots.txt":
                raise web.HTTPNotFound()
            return _html("".join(f'<a href="http://h{i}.broad.test:{port}/">{i}</a>' for i in range(hosts)))
        n = int(host.split(".")[0][1:])
        if request.path == "/robots.txt":
            if n % 4 == 1:
                raise web.HTTPNotFound()
            return web.Response(text=["User-agent: *\nDisallow: /p/3\n", "", "", "User-agent: *\nAllow: /\n"][n % 4])
        if request.path == "/":
            return _html("".join(f'<a href="/p/{k}">{k}</a>' for k in range(1, 4)))
        if request.path in ("/p/1", "/p/2", "/p/3"):
            return _html("leaf " * 200)
        raise web.HTTPNotFound()

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        port_file.write_text(str(site._server.sockets[0].getsockname()[1]))  # type: ignore[union-attr]  # noqa: ASYNC240
        await asyncio.Event().wait()

    asyncio.run(main())


def _html(body: str) -> web.Response:
    return web.Response(text=f"<html><head><title>t</title></head><body>{body}</body></html>", content_type="text/html")


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def run(crawler: str, hosts: int, nofile: int | None, work: Path) -> dict[str, object]:
    port_file = work / f"port-{hosts}"
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file), str(hosts)])
    try:
        for _ in range(600):  # bounded: the server writes its port as soon as it listens
            if port_file.exists() and port_file.read_text():
                break
            time.sleep(0.05)
        port = int(port_file.read_text())
        names = ["hub.broad.test", *(f"h{i}.broad.test" for i in range(hosts))]
        job = work / f"broad-{hosts}.yaml"
        job.write_text(
            json.dumps(
                {
                    "start_urls": [f"http://hub.broad.test:{port}/"],
                    "allow_domains": ["broad.test"],
                    "resolve": [f"{n}:{port}:127.0.0.1" for n in names],
                    "output": str(work / f"out-{hosts}-{nofile}"),
                    "concurrency": 128,
                    "per_host": 2,
                    "fresh": True,
                }
            )
        )
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))) if nofile else None
        pressure = wait_for_quiet_disk()  # the previous run's files are still being written back and trimmed
        started = time.perf_counter()
        proc = subprocess.Popen([crawler, "run", str(job)], stderr=subprocess.PIPE, text=True, preexec_fn=limit)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, rss_kb(proc.pid) + sum(rss_kb(c) for c in children(proc.pid)))
            time.sleep(0.2)
        wall = time.perf_counter() - started
        err = proc.stderr.read() if proc.stderr else ""
    finally:
        server.kill()
        server.wait()
    conns = re.search(r"connections: (\d+) new for (\d+) requests", err)
    done = re.search(r"in [\d.]+s: (\d+) URLs, (\d+) pages", err)
    return {
        "hosts": hosts,
        "nofile": nofile or resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "rc": proc.returncode,
        "seconds": round(wall, 1),
        "urls": int(done[1]) if done else None,
        "pages": int(done[2]) if done else None,
        "new_connections": int(conns[1]) if conns else None,
        "requests": int(conns[2]) if conns else None,
        "peak_mb_all_processes": round(peak / 1024),
        "io_pressure_at_start": pressure,
        "tail": err.strip().splitlines()[-4:],
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(Path(sys.argv[2]), int(sys.argv[3]))
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--crawler", default=str(Path(__file__).resolve().parents[2] / ".venv/bin/crawler"))
    ap.add_argument("--nofile", type=int)
    ap.add_argument("hosts", type=int, nargs="+")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="broad-") as tmp:
        for hosts in args.hosts:
            r = run(args.crawler, hosts, args.nofile, Path(tmp))
            per_page = f"{r['new_connections'] / r['pages']:.2f}" if r["new_connections"] and r["pages"] else "n/a"
            print(json.dumps({**r, "new_connections_per_page": per_page}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
