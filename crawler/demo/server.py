"""``crawler demo``: serve the bundled sample site on 127.0.0.1, then crawl it.

The site is served from a thread with its own event loop, at the address the job's first start URL
names, so the demo job file stays an ordinary job file.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from yarl import URL

from crawler.config import Job
from crawler.core.errors import DemoError

SITE = Path(__file__).parent / "site"
JOB = Path(__file__).parent / "job.yaml"  # package data, like the site: `crawler demo` works from any directory
REDIRECTS = {"/old-about": "/about.html"}


def make_app(root: Path = SITE) -> web.Application:
    """A static site with directory indexes and one redirect, confined to ``root``."""
    root = root.resolve()

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path in REDIRECTS:
            raise web.HTTPMovedPermanently(REDIRECTS[request.path])
        rel = request.path.lstrip("/") + ("index.html" if request.path.endswith("/") else "")
        target = (root / rel).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(target)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    return app


def on_port(urls: list[str], port: int) -> tuple[str, ...]:
    """The start URLs moved to ``port`` (``crawler demo --port``), when the job's port is taken."""
    return tuple(str(URL(u).with_port(port)) for u in urls)


def serve_and_crawl(job: Job, execute: Callable[[Job], int]) -> int:
    """Serve the site where ``job.start_urls[0]`` points (must be loopback), run ``execute(job)``."""
    seed = URL(job.start_urls[0])
    host, port = seed.host or "", seed.port or 80
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise DemoError(f"demo serves only on loopback; start URL host is {host!r}")
    started = threading.Event()
    stop = threading.Event()
    failure: list[str] = []

    def serve() -> None:
        async def main() -> None:
            runner = web.AppRunner(make_app(), access_log=None)
            await runner.setup()
            try:
                await web.TCPSite(runner, host, port).start()
            except OSError as e:
                failure.append(f"cannot serve the demo site on {host}:{port}: {e.strerror} (--port picks another)")
                started.set()
                return
            started.set()
            while not stop.is_set():  # noqa: ASYNC110 - a threading.Event, set from the crawl's thread
                await asyncio.sleep(0.05)
            await runner.cleanup()

        asyncio.run(main())

    thread = threading.Thread(target=serve, name="demo-site", daemon=True)
    thread.start()
    started.wait()
    if failure:
        raise DemoError(failure[0])
    try:
        return execute(job)
    finally:
        stop.set()
        thread.join(timeout=5)
