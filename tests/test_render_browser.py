"""The browser's life in a crawl (Debian's Chromium): no browser left after kill -9, replaced past
the memory cap, killed tabs and browsers, a frozen browser, a script that never yields, and kept
tabs that reach no host between pages and are asked before they get the next one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from crawler import Hooks
from crawler.config import Job
from crawler.engine import Crawl
from crawler.net import browser as browser_module
from crawler.net.browser import BrowserPool, Tab
from crawler.net.browser_scratch import PREFIX, Scratch
from crawler.net.proctree import descendants, running
from crawler.settings import render_settings
from tests.helpers.output import read_records
from tests.helpers.render_site import ITEMS, alive, held_script, js_site
from tests.helpers.timing import until


@pytest.fixture
def private_tmp() -> Iterator[Path]:
    """A temporary directory of the test's own, short (Chromium's socket path in it has a length
    limit, which a test's tmp_path exceeds): no other test's crawl sweeps what is in it."""
    private = Path(tempfile.mkdtemp(prefix="crawl-test-"))
    yield private
    shutil.rmtree(private, ignore_errors=True)


async def test_kill_9_of_the_crawl_leaves_no_browser(site, tmp_path, monkeypatch, private_tmp):
    js_site(site)
    private = private_tmp  # the crawl's temporary directory: another test's would sweep it first
    monkeypatch.setattr(tempfile, "tempdir", str(private))  # for the next crawl's Scratch below
    held, release = asyncio.Event(), asyncio.Event()

    async def hold(_: web.Request) -> web.Response:
        held.set()
        await asyncio.wait_for(release.wait(), 30)
        return web.json_response(ITEMS)

    site.route("js.test", "/api/items.json", hold)
    await site.start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crawler",
        "crawl",
        site.url("js.test"),
        "--resolve",
        site.pin("js.test")[0],
        "-o",
        str(tmp_path / "o"),
        "--render",
        "*://js.test:*/",
        "-q",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "TMPDIR": str(private)},
    )
    await asyncio.wait_for(held.wait(), 60)  # the browser is up and loading the page
    browser = {p for p in descendants(proc.pid) if "chrom" in Path(f"/proc/{p}/comm").read_text()}
    assert browser
    (scratch,) = private.glob(f"{PREFIX}{proc.pid}-*")  # its browser's temporary files
    profile = Path((scratch / "profiles").read_text().strip())  # (Playwright's, beside it)
    assert profile.parent == private
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    release.set()
    await until(lambda: not alive(browser), "the browser noticed its pipe closed and exited")
    assert scratch.exists()
    after = Scratch.make()  # the next crawl that renders
    assert after is not None
    after.close()
    assert not scratch.exists() and not profile.exists()


async def test_a_browser_grown_past_the_memory_cap_is_replaced_and_no_page_is_lost(site, tmp_path, monkeypatch):
    monkeypatch.setattr(browser_module, "CHECK_EVERY", 5)  # four readings in 21 pages: two restarts even when
    # a reading (on a thread) or an old browser's close is slow
    page = "<html><body><script>document.write('<h1>' + location.pathname + '</h1>')</script></body></html>"
    for n in range(21):
        site.route("js.test", f"/p/{n}", lambda _: asyncio.sleep(0, web.Response(text=page, content_type="text/html")))
    await site.start()
    warnings: list[str] = []

    crawl = Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("js.test", f"/p/{n}") for n in range(21)],
                "output": str(tmp_path / "o"),
                "resolve": site.pin("js.test"),
                "ignore_robots": True,
                "render": ["*"],
                "render_selector": "h1",
                "render_concurrency": 2,
                "render_memory_mb": 1,
            }
        ),
        warn=warnings.append,
    )
    stats = await crawl.run()

    records = read_records(tmp_path / "o")
    assert len(records) == 21 and all(r["rendered"] and r["error"] is None for r in records)
    assert stats.browser is not None
    restarts = stats.browser.restarts
    assert restarts >= 2 and stats.browser.pages == 21
    assert len([w for w in warnings if "render_memory_mb 1)" in w]) == restarts
    assert not running(descendants(os.getpid()), "/usr/lib/chromium/chromium")  # old and new closed
    assert (
        crawl.parts.limiter.held() == {} and crawl.parts.scheduler.slots.count() == 0
    )  # replaced browsers' pages hold none


@pytest.mark.parametrize("victim", ["tabs", "browser"])
async def test_a_crash_is_a_render_error_and_the_next_pages_load(site, tmp_path, victim):
    """The renderer processes (``tabs``), or the browser itself, are killed while a page loads (as
    an out-of-memory kill would): that page is a render error; the pages after it load in fresh
    tabs, not in the kept tab the kill took down with it, or in a browser launched again."""
    held, release, hold = held_script()

    page = "<html><body><script>document.write('<h1>' + location.pathname + '</h1>')</script>{}</body></html>"
    site.route(
        "js.test",
        "/crash",
        lambda _: asyncio.sleep(
            0, web.Response(text=page.format('<script src="/hold.js"></script>'), content_type="text/html")
        ),
    )
    site.route("js.test", "/hold.js", hold)
    for n in range(3):  # another host: its tab waits in its own context while /crash loads
        site.route(
            "other.test",
            f"/ok/{n}",
            lambda _: asyncio.sleep(0, web.Response(text=page.format(""), content_type="text/html")),
        )
    await site.start()
    urls = [
        site.url("other.test", "/ok/0"),
        site.url("js.test", "/crash"),
        site.url("other.test", "/ok/1"),
        site.url("other.test", "/ok/2"),
    ]
    crawl = asyncio.create_task(
        Crawl(
            Job.model_validate(
                {
                    "start_urls": urls,
                    "output": str(tmp_path / "o"),
                    "resolve": site.pin("js.test", "other.test"),
                    "ignore_robots": True,
                    "render": ["*"],
                    "render_selector": "h1",
                    "render_concurrency": 1,
                    "per_host": 1,
                    "retries": 0,
                }
            )
        ).run()
    )
    await asyncio.wait_for(held.wait(), 60)
    chromium = running(descendants(os.getpid()), "/usr/lib/chromium/chromium")
    kinds = {p: Path(f"/proc/{p}/cmdline").read_bytes() for p in chromium}
    victims = [
        p for p, cmd in kinds.items() if (b"--type=renderer" in cmd if victim == "tabs" else b"--type=" not in cmd)
    ]
    assert len(victims) >= 1
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    stats = await asyncio.wait_for(crawl, 60)
    release.set()

    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records["crash"]["error"]["kind"] == "render"
    assert all(records[f"ok/{n}"]["error"] is None and records[f"ok/{n}"]["rendered"] for n in range(3))
    assert stats.browser is not None and stats.browser.relaunches == int(victim == "browser")


def one_host_pool(site, tmp_path, **fields) -> BrowserPool:
    """The pool a crawl of a.test (each page ``<h1>a</h1>``) would render with."""
    site.html("a.test", "*", "<h1>a</h1>")
    job = {"start_urls": [site.url("a.test")], "resolve": site.pin("a.test"), "output": str(tmp_path / "o")}
    return BrowserPool(render_settings(Job.model_validate({**job, "render": ["*"], **fields})).browser)


async def load(pool: BrowserPool, url: str) -> Tab:
    """Load ``url`` in a tab of a.test's context (every request let through) and keep the tab, as
    the renderer does with a page that loaded well: the tab."""
    async with pool.tab("a.test", {}, []) as tab:
        tab.on_route = lambda route: route.continue_()
        await tab.page.goto(url)
        assert await tab.page.inner_text("h1") == "a"
        tab.reusable = True
        return tab


def start_time(pid: int) -> str:
    """When the process started (a pid is given again once its process is reaped), "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except OSError:
        return ""


async def test_a_kept_tab_whose_crash_is_not_yet_reported_gets_no_page(site, tmp_path, monkeypatch):
    """A renderer killed while its tab sits kept is reported once the browser has noticed, and the
    crawl hears of it after that: the next page of the tab's context can come first (it did on a
    busy machine, and failed in the dead tab). A kept tab is asked first, so that page loads in a
    new tab. Here the crash is never reported to the crawl: the extreme of late."""
    monkeypatch.setattr(browser_module.Tab, "_crash", lambda self, page: None)
    pool = one_host_pool(site, tmp_path)
    await pool.start()
    try:
        first = await load(pool, site.url("a.test", "/1"))
        chromium = running(descendants(os.getpid()), "/usr/lib/chromium/chromium")
        renderers = {
            p: start_time(p) for p in chromium if b"--type=renderer" in Path(f"/proc/{p}/cmdline").read_bytes()
        }
        assert renderers
        for pid in renderers:
            os.kill(pid, signal.SIGKILL)
        # The browser has noticed once it had them reaped (then it gives a new tab a new renderer).
        await until(lambda: all(start_time(p) != t for p, t in renderers.items()), "the killed renderers reaped")
        assert await load(pool, site.url("a.test", "/2")) is not first
    finally:
        await pool.close()


@pytest.mark.parametrize("render_timeout", [30, 8])
async def test_a_kept_tab_whose_renderer_is_kept_busy_is_not_waited_for(site, tmp_path, monkeypatch, render_timeout):
    """A script of the last page that never yields (started after the page was read) would hold
    the next page of the tab's context until render_timeout: a kept tab that does not answer
    within ANSWER_WITHIN seconds (at most a quarter of render_timeout) is closed, and that page
    loads in a new tab, in the same browser (the question never outlasts render_timeout: here
    ANSWER_WITHIN is as long as render_timeout 8, and the question takes 2 s)."""
    monkeypatch.setattr(browser_module, "ANSWER_WITHIN", 8.0)
    pool = one_host_pool(site, tmp_path, render_timeout=render_timeout)
    await pool.start()
    try:
        first = await load(pool, site.url("a.test", "/1"))
        await first.page.evaluate("setTimeout(() => { for (;;) {} }, 0)")
        assert await load(pool, site.url("a.test", "/2")) is not first
        assert pool.relaunches == 0
    finally:
        await pool.close()


async def test_a_kept_tabs_scripts_reach_no_host_between_loads(site, tmp_path):
    """The first page polls its host forever; once it is recorded, its tab waits for the next
    page of its host while another host's page loads: the polling must not reach the server then."""
    polls: list[float] = []
    seen_during: list[int] = []

    async def poll(_: web.Request) -> web.Response:
        polls.append(asyncio.get_running_loop().time())
        return web.Response(text="ok")

    async def other(_: web.Request) -> web.Response:
        before = len(polls)
        await asyncio.sleep(0.5)  # a slow server: the first tab sits idle meanwhile
        seen_during.append(len(polls) - before)
        return web.Response(text="<html><body><h1>other</h1></body></html>", content_type="text/html")

    site.route(
        "js.test",
        "/",
        lambda _: asyncio.sleep(
            0,
            web.Response(
                text=(
                    f'<html><body><h1>first</h1><a href="{site.url("other.test")}">other</a><script>'
                    'setInterval(() => fetch("/poll"), 20);</script></body></html>'
                ),
                content_type="text/html",
            ),
        ),
    )
    site.route("js.test", "/poll", poll)
    site.route("other.test", "/", other)
    await site.start()
    await Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("js.test")],
                "allow_domains": ["js.test", "other.test"],
                "resolve": site.pin("js.test", "other.test"),
                "output": str(tmp_path / "o"),
                "ignore_robots": True,
                "render": ["*"],
                "render_selector": "h1",
                "render_wait": "load",
                "render_concurrency": 1,
            }
        )
    ).run()

    assert seen_during == [0]
    assert all(r["rendered"] and r["error"] is None for r in read_records(tmp_path / "o"))


async def test_a_script_that_never_yields_is_a_render_error_within_the_timeout(site, tmp_path):
    """A page whose script spins forever once loaded: the tab's main thread never answers again
    (reading its DOM would wait forever); the page is a render error after render_timeout and
    the other pages are rendered."""
    site.route(
        "js.test",
        "/spin",
        lambda _: asyncio.sleep(
            0,
            web.Response(
                text=(
                    '<html><body><h1>spin</h1><script>addEventListener("load", () => setTimeout(() => { while (true) {} }, 0));</script></body></html>'
                ),
                content_type="text/html",
            ),
        ),
    )
    site.html("js.test", "/", '<a href="/spin">spin</a><a href="/fine">fine</a>')
    site.html("js.test", "/fine", "<h1>fine</h1>")
    await site.start()
    crawl = Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("js.test")],
                "resolve": site.pin("js.test"),
                "output": str(tmp_path / "o"),
                "ignore_robots": True,
                "render": ["*"],
                "render_timeout": 8,
                "retries": 0,
            }
        )
    )  # room for a new browser's first page
    await asyncio.wait_for(crawl.run(), 120)
    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records["spin"]["error"]["kind"] == "render"
    assert records["fine"]["error"] is None and records["fine"]["rendered"]


async def test_a_browser_that_stops_answering_is_killed_and_replaced(site, tmp_path):
    """The browser process is frozen (SIGSTOP, as a machine thrashing in swap would leave it)
    while a page loads: that page is a render error once render_timeout passes, the frozen
    browser is killed rather than waited for (its files removed), and the next pages load in a new one."""
    held, release, hold = held_script()

    page = "<html><body><h1>{}</h1>{}</body></html>"
    site.route(
        "js.test",
        "/stuck",
        lambda _: asyncio.sleep(
            0, web.Response(text=page.format("stuck", '<script src="/hold.js"></script>'), content_type="text/html")
        ),
    )
    site.route("js.test", "/hold.js", hold)
    for n in range(3):
        site.route(
            "js.test",
            f"/ok/{n}",
            lambda _: asyncio.sleep(0, web.Response(text=page.format("ok", ""), content_type="text/html")),
        )
    await site.start()
    urls = [site.url("js.test", p) for p in ("/stuck", "/ok/0", "/ok/1", "/ok/2")]
    singletons: list[Path] = []  # the frozen browser's singleton directory
    kept: list[bool] = []  # whether it was still there when each page loaded in the new browser

    def on_record(rec) -> None:
        if "/ok/" in rec.url:
            kept.append(singletons[0].exists())

    crawl = asyncio.create_task(
        Crawl(
            Job.model_validate(
                {
                    "start_urls": urls,
                    "output": str(tmp_path / "o"),
                    "resolve": site.pin("js.test"),
                    "ignore_robots": True,
                    "render": ["*"],
                    "render_selector": "h1",
                    "render_concurrency": 1,
                    "per_host": 1,
                    "retries": 0,
                    "render_timeout": 8,
                }
            ),
            hooks=Hooks(on_record=on_record),
        ).run()
    )  # room for the replacement browser's first page
    await asyncio.wait_for(held.wait(), 60)
    browser = {
        p
        for p in running(descendants(os.getpid()), "/usr/lib/chromium/chromium")
        if b"--type=" not in Path(f"/proc/{p}/cmdline").read_bytes()
    }
    assert len(browser) == 1
    (scratch,) = Path(tempfile.gettempdir()).glob(f"{PREFIX}{os.getpid()}-*")  # its temporary files
    (singleton,) = scratch.glob("org.chromium.*")
    singletons.append(singleton)
    os.kill(next(iter(browser)), signal.SIGSTOP)
    try:
        stats = await asyncio.wait_for(crawl, 120)
    finally:
        release.set()
        for pid in browser:  # if the crawl did not kill it, let it go
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records["stuck"]["error"]["kind"] == "render"
    assert all(records[f"ok/{n}"]["error"] is None and records[f"ok/{n}"]["rendered"] for n in range(3))
    assert not alive(browser)  # killed by the crawl, not left frozen
    assert kept == [False] * 3 and not scratch.exists()  # its files gone at once, the rest at the end
    assert any("did not close a tab" in w or "did not open a tab" in w for w in stats.warnings)
