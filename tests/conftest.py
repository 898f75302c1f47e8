"""Shared fixtures: real aiohttp servers on 127.0.0.1 and a helper that runs a crawl against them.

``site`` is one server that plays many virtual hosts: tests register handlers per (host, path) and
reach the hosts by name through ``--resolve`` pins, exactly as a user pins staging hosts.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crawler.config import Job
from crawler.engine import Crawl
from crawler.stats import Stats

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


@pytest.fixture
async def site() -> Any:
    s = Site()
    await s.start()
    yield s
    await s.stop()


def read_records(out: Path) -> list[dict[str, Any]]:
    with open(out / "records.jsonl", "rb") as f:
        return [json.loads(line) for line in f]


def copy_job_fixture(name: str, out: Path, port: int) -> sqlite3.Connection:
    """A job of ``tests/fixtures`` (written on port 8799) copied to ``out``, moved to ``port``; its
    state file open (committed) for the test to look at."""
    shutil.copytree(Path(__file__).parent / "fixtures" / name, out)
    (out / "records.jsonl").write_text((out / "records.jsonl").read_text().replace("8799", str(port)))
    (out / "pages" / "old.test_8799").rename(out / "pages" / f"old.test_{port}")
    db = sqlite3.connect(out / "state.sqlite")
    db.execute(
        "UPDATE urls SET url=replace(url, '8799', ?), host=replace(host, '8799', ?), parent=replace(parent, '8799', ?)",
        (str(port),) * 3,
    )
    db.commit()
    return db


async def run_cli(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """``python -m crawler ARGS`` as a user runs it: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler", *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def record_grants(crawl: Crawl) -> defaultdict[str, list[float]]:
    """Log, per host, the moment the crawl's host limiter gives out each slot. Politeness is checked
    on these times: they are where the delay is kept, so a busy machine cannot shift them, whereas a
    request reaching the server late makes the next gap there look short."""
    grants: defaultdict[str, list[float]] = defaultdict(list)
    acquire = crawl.parts.limiter.acquire

    async def logged(host: str) -> float:
        wait = await acquire(host)
        if wait == 0:
            grants[host.split(":")[0]].append(time.monotonic())  # by name, as Site counts them
        return wait

    crawl.parts.limiter.acquire = logged  # type: ignore[method-assign]  # acquire_up_to calls it too
    return grants


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


async def until(check: Callable[[], Any], what: str, timeout: float = 60) -> None:
    """Wait for ``check()`` (a value, or an awaitable of one) to be true, asking every 50 ms: the
    wait for an event that only shows in a file or a server's answers. Fails naming ``what``
    after ``timeout`` seconds, far beyond what even a busy machine needs."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if asyncio.iscoroutine(answer):
            answer = await answer
        if answer:
            return
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g}s"
        await asyncio.sleep(0.05)


class Result:
    """What a test inspects after a crawl: stats, records by URL, the output directory, and when
    each host's slots were given out (``grants``)."""

    def __init__(self, stats: Stats, out: Path, crawl: Crawl, grants: dict[str, list[float]]) -> None:
        self.stats = stats
        self.out = out
        self.crawl = crawl
        self.grants = grants
        self.records = read_records(out)
        self.by_url = {r["url"]: r for r in self.records}


@pytest.fixture
async def hosts_site() -> Any:
    """A Site on 127.0.0.1, 127.0.0.2 and 127.0.0.3: three hosts a proxy can reach by address."""
    s = Site()
    await s.start(("127.0.0.1", "127.0.0.2", "127.0.0.3"))
    yield s
    await s.stop()


@pytest.fixture
def crawl(tmp_path: Path) -> Callable[..., Awaitable[Result]]:
    """``await crawl(start_urls=[...], **job_fields)`` runs a real crawl into a temp directory."""

    async def run(**fields: Any) -> Result:
        fields.setdefault("output", tmp_path / "out")
        fields.setdefault("retry_backoff", 0.01)
        job = Job.model_validate(fields)
        c = Crawl(job)
        grants = record_grants(c)
        stats = await c.run()
        return Result(stats, job.output_dir, c, grants)

    return run


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One real redis-server for the session; ``redis_url`` gives each test an empty one."""
    from tests.redis_server import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


@pytest.fixture
def redis_url(redis_server: Any) -> str:
    if redis_server.proc is None:  # a test killed it
        redis_server.start()
    redis_server.client().flushall()
    return str(redis_server.url)
