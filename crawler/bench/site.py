"""The synthetic site of ``crawler bench``: many hosts, realistic pages, served from its own process.

Every host name ``h<k>.bench.test`` is served by the same server on 127.0.0.1 (the crawler pins the
names with ``--resolve``). Page ``/p<i>`` on host ``h<k>`` is deterministic: a title, ``links``
links (a few back to the site's navigation, most to other pages on random hosts) and text filling
it to about ``size`` bytes, so every run crawls the same graph.

Run: ``python -m crawler.bench.site PORT_FILE HOSTS PAGES LINKS SIZE``; it writes its port and the
time of the first request it serves into PORT_FILE (a line each) and runs until terminated.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from pathlib import Path

from aiohttp import web

WORDS = [
    "crawler",
    "frontier",
    "politeness",
    "robots",
    "parser",
    "selector",
    "record",
    "sink",
    "proxy",
    "queue",
    "host",
    "gate",
    "latency",
    "throughput",
    "page",
    "link",
    "anchor",
    "title",
    "document",
    "corpus",
    "index",
    "archive",
]


def page(host: int, i: int, hosts: int, pages: int, links: int, size: int) -> bytes:
    rng = random.Random(host * 1_000_003 + i)
    nav = "".join(f'<li><a href="/p{j}">Section {j}</a></li>' for j in range(min(8, pages)))
    out = []
    for _ in range(links):
        h, j = rng.randrange(hosts), rng.randrange(pages)
        out.append(f'<li><a href="http://h{h}.bench.test:PORT/p{j}">{rng.choice(WORDS)} {j}</a></li>')
    body = f"<html><head><title>Page {i} of h{host}</title></head><body><ul>{nav}</ul><ul>{''.join(out)}</ul>"
    filler = " ".join(rng.choice(WORDS) for _ in range(max(0, size - len(body)) // 8))
    return f"{body}<p>{filler}</p></body></html>".encode()


def main(port_file: Path, hosts: int, pages: int, links: int, size: int) -> None:
    first: list[float] = []
    port = 0

    async def handle(request: web.Request) -> web.Response:
        if not first:
            first.append(time.time())
            port_file.write_text(f"{port}\n{first[0]}\n")  # noqa: ASYNC240 - once, a few bytes
        if not request.path.startswith("/p") or not request.path[2:].isdigit():
            raise web.HTTPNotFound()
        host = int(request.host.split(".")[0][1:] or 0)
        body = page(host, int(request.path[2:]) % pages, hosts, pages, links, size)
        return web.Response(body=body.replace(b"PORT", str(port).encode()), content_type="text/html")

    async def serve() -> None:
        nonlocal port
        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        port_file.write_text(f"{port}\n")  # noqa: ASYNC240 - once, before any request
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main(Path(sys.argv[1]), *(int(a) for a in sys.argv[2:6]))
