"""Every host slot a rendered page's requests take goes back, whatever ends the page (it loads,
times out, its tab or its browser is killed), on the in-process and the Redis host limiter: a
host whose URLs are queued while pages load its scripts is always crawled, and after the crawl
no slot is held."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crawler.config import Job
from crawler.engine import Crawl
from crawler.net.browser import BrowserPool
from crawler.net.proctree import descendants, running
from crawler.settings import render_settings
from tests.helpers.output import read_records
from tests.helpers.site import Site

PAGE = """<html><body><h1>{path}</h1><script src="{cdn}/lib.js"></script><iframe src="{cdn}/frame"></iframe>
<script>fetch("{cdn}/api").then(r => r.text()).then(t => {{ document.body.dataset.ready = "yes"; }});</script>
</body></html>"""


class KeptBrowser(BrowserPool):
    """One browser for the many crawls of a test: launching one per crawl would cost more than the crawl."""

    async def close(self) -> None:
        pass

    async def shut(self) -> None:
        await super().close()


def shop_on_two_hosts(site: Site) -> None:
    """Pages on shop.test whose script, iframe and fetch() load from cdn.test, which has pages of its own."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(
            text=PAGE.format(path=request.path, cdn=site.url("cdn.test").rstrip("/")), content_type="text/html"
        )

    async def cdn(request: web.Request) -> web.Response:
        if request.path == "/lib.js":
            return web.Response(text="window.lib = 1;", content_type="application/javascript")
        return web.Response(
            text=f"<html><body><h1>{request.path}</h1></body></html>",
            content_type="text/html",
            headers={"Access-Control-Allow-Origin": "*"},
        )

    site.route("shop.test", "*", page)
    site.route("cdn.test", "*", cdn)


def job(site: Site, out: Path, **extra: Any) -> Job:
    return Job.model_validate(
        {
            "start_urls": [site.url("shop.test", f"/p{n}") for n in range(2)]
            + [site.url("cdn.test", f"/q{n}") for n in range(2)],
            "resolve": site.pin("shop.test", "cdn.test"),
            "output": str(out),
            "ignore_robots": True,
            "max_depth": 0,
            "render": ["*"],
            "render_selector": "h1",
            "per_host": 2,
            "parser": "inline",
            **extra,
        }
    )


def slots_in_redis(redis_server: Any, name: str) -> int:
    client = redis_server.client()
    return sum(client.zcard(key) for key in client.scan_iter(match=f"crawler:{name}:s:*"))


@pytest.mark.parametrize("limiter", ["local", "redis"])
async def test_pages_loading_from_a_host_with_queued_urls_end_and_hold_no_slot(site, tmp_path, limiter, request):
    """The crawl of four pages, two of them loading a script, an iframe and a fetch() from the
    host of the other two, twelve times: every crawl ends with every page rendered, and the
    host limiter (and Redis) holds no slot after it."""
    shop_on_two_hosts(site)
    redis_server = request.getfixturevalue("redis_server") if limiter == "redis" else None
    shared = {"frontier": request.getfixturevalue("redis_url"), "worker_id": "w"} if redis_server else {}

    async def crawl(run: int, browsers: KeptBrowser) -> None:
        crawl = Crawl(job(site, tmp_path / f"o{run}", name=f"slots{run}", **shared))
        assert crawl.parts.renderer is not None
        crawl.parts.renderer.browsers = browsers
        await asyncio.wait_for(crawl.run(), 60)

        records = read_records(crawl.parts.out)
        assert len(records) == 4 and all(r["rendered"] and r["error"] is None for r in records), run
        assert crawl.parts.limiter.held() == {} and crawl.parts.scheduler.slots.count() == 0, run
        if redis_server is not None:
            assert slots_in_redis(redis_server, f"slots{run}") == 0, run

    async def lane(first: int) -> None:
        """Four crawls one after the other in one browser; three lanes at once, so the lanes'
        page loads overlap (twelve crawls; thirty cost CI close to a minute per Python)."""
        browsers = KeptBrowser(render_settings(job(site, tmp_path)).browser)
        try:
            for run in range(first, first + 4):
                await crawl(run, browsers)
        finally:
            await browsers.shut()

    await asyncio.gather(*(lane(first) for first in (0, 4, 8)))


@pytest.mark.parametrize("ending", ["tabs", "browser", "timeout"])
async def test_a_page_ended_mid_subresources_gives_back_the_other_hosts_slots(site, tmp_path, ending):
    """A page loads two scripts from cdn.test, which the server holds: they take both of cdn's
    slots (per_host 2) while cdn.test's own URL is queued. The page is ended in the middle (its
    tab's processes killed, its browser killed, or render_timeout passes): it is a render error,
    cdn's URL is crawled, and no slot is held after."""
    held = {"/a.js": asyncio.Event(), "/b.js": asyncio.Event()}
    release = asyncio.Event()

    async def script(request: web.Request) -> web.Response:
        held[request.path].set()
        await asyncio.wait_for(release.wait(), 60)
        return web.Response(text="", content_type="application/javascript")

    async def listing(_: web.Request) -> web.Response:  # answered once the page holds both slots
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in held.values())), 60)
        return web.Response(text=f'<a href="{site.url("cdn.test", "/q")}">q</a>', content_type="text/html")

    cdn = site.url("cdn.test").rstrip("/")
    site.route(
        "shop.test",
        "/held",
        lambda _: asyncio.sleep(
            0,
            web.Response(
                text=f'<html><body><h1>held</h1><script src="{cdn}/a.js"></script><script src="{cdn}/b.js"></script></body></html>',
                content_type="text/html",
            ),
        ),
    )
    site.route("shop.test", "/list", listing)
    site.route("cdn.test", "/a.js", script)
    site.route("cdn.test", "/b.js", script)
    site.html("cdn.test", "/q", "<h1>q</h1>")
    crawl = Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("shop.test", "/held"), site.url("shop.test", "/list")],
                "output": str(tmp_path / "o"),
                "resolve": site.pin("shop.test", "cdn.test"),
                "allow_domains": ["shop.test", "cdn.test"],
                "ignore_robots": True,
                "render": ["*/held"],
                "render_wait": "load",
                "per_host": 2,
                "retries": 0,
                "max_depth": 1,
                "render_timeout": 3 if ending == "timeout" else 30,
            }
        )
    )
    running = asyncio.create_task(crawl.run())
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in held.values())), 60)
        if ending != "timeout":
            kill_browser(tabs_only=ending == "tabs")
        await asyncio.wait_for(running, 60)
    finally:
        release.set()

    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records["held"]["error"]["kind"] == "render"
    assert records["q"]["error"] is None and records["list"]["error"] is None
    assert crawl.parts.limiter.held() == {} and crawl.parts.scheduler.slots.count() == 0


def kill_browser(*, tabs_only: bool) -> None:
    """SIGKILL the crawl's Chromium renderers (``tabs_only``) or the browser itself, as an out-of-memory kill would."""
    chromium = running(descendants(os.getpid()), "/usr/lib/chromium/chromium")
    victims = [
        p
        for p in chromium
        if (b"--type=renderer" in Path(f"/proc/{p}/cmdline").read_bytes()) == tabs_only
        and (tabs_only or b"--type=" not in Path(f"/proc/{p}/cmdline").read_bytes())
    ]
    assert victims
    for pid in victims:
        os.kill(pid, signal.SIGKILL)


async def test_the_crawl_ends_when_a_cancel_is_swallowed():
    """The Redis client can swallow a cancel that lands mid-command (the task goes on): stopping
    the crawl's ticker must not wait for it forever."""
    from crawler.engine import _stopped

    async def stubborn() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        await asyncio.Event().wait()

    await asyncio.wait_for(_stopped(asyncio.create_task(stubborn())), 10)
