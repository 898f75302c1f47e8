"""A broad crawl: 2,000 host names on one local server (pinned, no /etc/hosts edits), crawled by
the CLI in a subprocess whose open-files limit is lowered to 256, as a stock `ulimit -n` or a
systemd unit might set it. Every page ends in one record and robots.txt is never bypassed."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from collections import Counter
from pathlib import Path

from aiohttp import web

HOSTS = 2000
LIMIT = 256  # open files for the crawler process; too few for 128 requests in flight plus idle sockets


class BroadSite:
    """Host hN.broad.test: robots.txt by N % 4 (0: Disallow /p/2, 1: 503, 2: 404, 3: empty);
    pages /, /p/1, /p/2. hub.broad.test links to every host."""

    def __init__(self) -> None:
        self.hits: Counter[tuple[str, str]] = Counter()
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        host = request.host.rsplit(":", 1)[0]
        self.hits[(host, request.path)] += 1
        if host == "hub.broad.test":
            if request.path == "/robots.txt":
                raise web.HTTPNotFound()
            return _html("".join(f'<a href="http://h{i}.broad.test:{self.port}/">{i}</a>' for i in range(HOSTS)))
        n = int(host.split(".")[0][1:])
        if request.path == "/robots.txt":
            return [
                web.Response(text="User-agent: *\nDisallow: /p/2\n"),
                web.Response(status=503),
                web.Response(status=404),
                web.Response(text=""),
            ][n % 4]
        if request.path == "/":
            return _html('<a href="/p/1">1</a> <a href="/p/2">2</a>')
        if request.path in ("/p/1", "/p/2"):
            return _html("leaf")
        raise web.HTTPNotFound()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()


def _html(body: str) -> web.Response:
    return web.Response(text=f"<html><body>{body}</body></html>", content_type="text/html")


def _lower_open_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


async def test_two_thousand_hosts_under_a_low_open_files_limit(tmp_path: Path) -> None:
    site = BroadSite()
    await site.start()
    try:
        names = ["hub.broad.test", *(f"h{i}.broad.test" for i in range(HOSTS))]
        job = tmp_path / "broad.yaml"
        job.write_text(
            json.dumps(
                {  # JSON is YAML
                    "start_urls": [f"http://hub.broad.test:{site.port}/"],
                    "allow_domains": ["broad.test"],
                    "resolve": [f"{n}:{site.port}:127.0.0.1" for n in names],
                    "output": str(tmp_path / "out"),
                    "concurrency": 128,
                    "per_host": 2,
                    "retries": 1,
                    "retry_backoff": 0.05,
                    "quiet": False,
                }
            )
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "crawler",
            "run",
            str(job),
            preexec_fn=_lower_open_files,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 300)
    finally:
        await site.stop()
    stderr = err.decode()
    assert proc.returncode == 0, stderr[-2000:]
    assert f"open-files limit ({LIMIT}, ulimit -n)" in stderr and "instead of 128" in stderr
    records = [json.loads(line) for line in (tmp_path / "out" / "records.jsonl").read_bytes().splitlines()]
    per_url = Counter(r["url"] for r in records)
    assert max(per_url.values()) == 1
    kinds = Counter((r["error"] or {}).get("kind", "ok") for r in records)
    assert set(kinds) <= {"ok", "robots"}, kinds  # nothing local, dns or connect blamed on the sites
    for i in range(HOSTS):
        host = f"h{i}.broad.test"
        root = f"http://{host}:{site.port}/"
        if i % 4 == 1:  # robots.txt answers 503: the host is never crawled, and says why
            assert site.hits[(host, "/")] == 0 and site.hits[(host, "/robots.txt")] >= 2
            assert per_url[root] == 1 and "RFC 9309" in next(r for r in records if r["url"] == root)["error"]["message"]
        else:
            assert site.hits[(host, "/")] == 1 and site.hits[(host, "/p/1")] == 1
            assert site.hits[(host, "/p/2")] == (0 if i % 4 == 0 else 1)  # Disallow: /p/2 holds
    assert len(per_url) == 1 + HOSTS + 3 * HOSTS // 4 * 2  # hub, every root, two leaves of 3 in 4
