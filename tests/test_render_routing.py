"""Nothing a rendered page starts escapes the crawl's routing: a popup it opens sends no request,
a service worker it registers never runs, a download it starts writes nothing to disk."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from aiohttp import web

from crawler.config import Job
from crawler.engine import Crawl
from tests.helpers.output import read_records


def render_job(start: list[str], out: Path, **extra: object) -> Job:
    return Job.model_validate(
        {
            "start_urls": start,
            "output": str(out),
            "ignore_robots": True,
            "render": ["*"],
            "render_selector": "h1",
            "render_concurrency": 1,
            **extra,
        }
    )


async def test_a_popup_sends_no_request(site, tmp_path):
    """The page opens a popup on another host, which would poll it; its record is written and
    the next page of its host loaded in the same tab: the other host never sees a request."""
    site.route(
        "js.test",
        "/",
        lambda _: asyncio.sleep(
            0,
            web.Response(
                text=(
                    f'<html><body><a href="/next">next</a><script>window.open("{site.url("popped.test", "/popup")}");'
                    "document.body.insertAdjacentHTML('beforeend', '<h1>opened</h1>');</script></body></html>"
                ),
                content_type="text/html",
            ),
        ),
    )
    site.html("js.test", "/next", "<h1>next</h1>")
    site.html("popped.test", "/popup", "<h1>popup</h1><script>setInterval(() => fetch('/poll'), 10)</script>")

    await Crawl(
        render_job(
            [site.url("js.test")],
            tmp_path / "o",
            resolve=site.pin("js.test", "popped.test"),
            allow_domains=["js.test", "popped.test"],
        )
    ).run()

    assert not [path for host, path, _ in site.remotes if host == "popped.test"]
    records = read_records(tmp_path / "o")
    assert len(records) == 2 and all(r["rendered"] and r["error"] is None for r in records)


SW_PAGE = """<html><body><script>
const done = () => document.body.insertAdjacentHTML("beforeend", "<h1>ready</h1>");
const registered = navigator.serviceWorker ? navigator.serviceWorker.register("/sw.js").then(() => navigator.serviceWorker.ready)
                                          : Promise.resolve();
Promise.race([registered, new Promise(r => setTimeout(r, 1000))]).then(done, done);  // blocked: it may never settle
</script><a href="/next">next</a></body></html>"""

SW = """self.addEventListener("install", e => e.waitUntil(fetch("/from-worker?install")));
self.addEventListener("fetch", e => e.respondWith(fetch(e.request.url + "?via-worker")));"""


async def test_a_service_worker_never_runs(site, tmp_path):
    """A page registers a service worker that would ask the server on install and answer the next
    page's requests itself: it is never fetched, and every request the server sees is the crawl's."""
    host = "127.0.0.1"  # a service worker needs a secure origin: loopback by address is one
    site.route(host, "/", lambda _: asyncio.sleep(0, web.Response(text=SW_PAGE, content_type="text/html")))
    site.route(host, "/sw.js", lambda _: asyncio.sleep(0, web.Response(text=SW, content_type="application/javascript")))
    site.html(host, "/next", "<h1>next</h1>")

    await Crawl(render_job([site.url(host)], tmp_path / "o")).run()

    assert sorted(path for _, path, _ in site.remotes) == ["/", "/next"]
    assert all(r["rendered"] and r["error"] is None for r in read_records(tmp_path / "o"))


async def test_a_download_a_page_starts_writes_nothing_to_disk(site, tmp_path, monkeypatch):
    """A page's script starts a 20 MB download: the browser refuses it (the server sees the
    connection cut), and no file lands where the browser keeps downloads."""
    temp = Path(tempfile.mkdtemp(prefix="dl", dir="/tmp"))  # short: the browser puts its sockets there too
    monkeypatch.setenv("TMPDIR", str(temp))  # where the browser keeps its downloads
    cut, whole = asyncio.Event(), asyncio.Event()

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Disposition": 'attachment; filename="big.bin"',
                "Content-Length": str(20 * 2**20),
            }
        )
        try:
            await response.prepare(request)
            for _ in range(20 * 16):
                await response.write(b"x" * 2**16)
        except BaseException:
            cut.set()
            raise
        whole.set()
        return response

    site.route(
        "js.test",
        "/",
        lambda _: asyncio.sleep(
            0,
            web.Response(
                text=(
                    '<html><body><a id=get href="/big.bin" download>get</a><h1>page</h1>'
                    "<script>document.getElementById('get').click();</script></body></html>"
                ),
                content_type="text/html",
            ),
        ),
    )
    site.route("js.test", "/big.bin", big)

    crawl = asyncio.create_task(
        Crawl(
            render_job(
                [site.url("js.test")], tmp_path / "o", resolve=site.pin("js.test"), max_bytes=100_000, max_depth=0
            )
        ).run()
    )
    try:
        await asyncio.wait_for(
            asyncio.wait(
                [asyncio.create_task(cut.wait()), asyncio.create_task(whole.wait())],
                return_when=asyncio.FIRST_COMPLETED,
            ),
            60,
        )
        downloads = [p for p in temp.glob("playwright-artifacts-*/*") if p.is_file()]
        assert cut.is_set() and not whole.is_set() and not downloads
        await asyncio.wait_for(crawl, 60)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    (record,) = read_records(tmp_path / "o")
    assert record["rendered"] and record["error"] is None
