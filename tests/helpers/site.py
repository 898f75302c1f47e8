"""A real aiohttp server on 127.0.0.1 that plays many virtual hosts: tests register handlers per
(host, path) and reach the hosts by name through ``--resolve`` pins, exactly as a user pins staging
hosts. The ``site`` and ``hosts_site`` fixtures (conftest.py) start one per test.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Site:
    """A live server on 127.0.0.1 serving pages per virtual host, with request accounting."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.hits: Counter[tuple[str, str]] = Counter()
        self.raw_hits: Counter[tuple[str, str]] = Counter()  # (host, path and query exactly as sent)
        self.inflight: Counter[str] = Counter()
        self.max_inflight: Counter[str] = Counter()
        self.starts: defaultdict[str, list[float]] = defaultdict(list)
        self.headers: list[dict[str, str]] = []
        self.remotes: list[tuple[str, str, str]] = []  # (host, path, peer address) per request
        self.port = 0
        self._runner: web.AppRunner | None = None

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def pin(self, *hosts: str) -> list[str]:
        """``resolve`` entries that send these host names to this server."""
        return [f"{h}:{self.port}:127.0.0.1" for h in hosts]

    def route(self, host: str, path: str, handler: Handler) -> None:
        """Serve ``path`` on ``host`` with ``handler``; path ``*`` catches the host's other paths."""
        self.routes[(host, path)] = handler

    def html(self, host: str, path: str, body: str, *, title: str = "", status: int = 200) -> None:
        """Serve a small HTML page; ``body`` usually holds the links under test."""
        doc = f"<html><head><title>{title}</title></head><body>{body}</body></html>"

        async def handler(_: web.Request) -> web.Response:
            return web.Response(text=doc, content_type="text/html", status=status)

        self.route(host, path, handler)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        host = request.host.rsplit(":", 1)[0]
        path = request.path_qs
        self.hits[(host, path)] += 1
        self.raw_hits[(host, request.raw_path)] += 1
        self.headers.append(dict(request.headers))
        self.remotes.append((host, path, request.remote or ""))
        self.inflight[host] += 1
        self.max_inflight[host] = max(self.max_inflight[host], self.inflight[host])
        self.starts[host].append(asyncio.get_running_loop().time())
        try:
            handler = (
                self.routes.get((host, path)) or self.routes.get((host, request.path)) or self.routes.get((host, "*"))
            )
            if handler is None:
                raise web.HTTPNotFound()
            return await handler(request)
        finally:
            self.inflight[host] -= 1

    async def start(self, addresses: tuple[str, ...] = ("127.0.0.1",)) -> None:
        """Listen on one port on each loopback address (hosts a proxy can reach by address)."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, addresses[0], 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        for addr in addresses[1:]:
            await web.TCPSite(self._runner, addr, self.port).start()

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
