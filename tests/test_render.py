"""JavaScript-rendered pages in Debian's Chromium: content and links that exist only after scripts
run (setTimeout, fetch() of a JSON endpoint), plain HTTP for the other URLs, one slot per host
held by rendered pages too, a page that never loads, and no browser left after kill -9."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from crawler.config import Job
from crawler.engine import Crawl
from crawler.net.proctree import descendants, running
from crawler.report.data import read
from crawler.report.html import render as render_report
from tests.conftest import Site, read_records
from tests.test_cli import run_cli

SHELL = """<html><head><title>Shop</title></head><body><div id=app>loading…</div><script>
fetch("/api/items.json").then(r => r.json()).then(items => {
  for (const item of items) {
    const a = document.createElement("a"); a.href = "/item/" + item.id; a.textContent = item.name;
    document.getElementById("app").appendChild(a);
  }
  setTimeout(() => { const late = document.createElement("a"); late.href = "/late"; late.textContent = "late";
                     document.body.appendChild(late); document.body.dataset.ready = "yes"; }, 50);
});
</script><a href="/plain">plain</a></body></html>"""
ITEM = """<html><head><title>Item</title></head><body><script>
document.write('<h1 class="name">Item ' + location.pathname.split("/").pop() + '</h1>');
</script></body></html>"""
ITEMS = [{"id": i, "name": f"Item {i}"} for i in (1, 2, 3)]


def js_site(site: Site) -> None:
    async def page(text: str) -> web.Response:
        return web.Response(text=text, content_type="text/html")

    site.route("js.test", "/", lambda _: page(SHELL))
    site.route("js.test", "/api/items.json", lambda _: asyncio.sleep(0, web.json_response(ITEMS)))
    for item in ITEMS:
        site.route("js.test", f"/item/{item['id']}", lambda _: page(ITEM))
    site.html("js.test", "/late", "late page")
    site.html("js.test", "/plain", "no script here")


def job(site: Site, out: Path, **extra: object) -> Job:
    return Job.model_validate({"start_urls": [site.url("js.test")], "resolve": site.pin("js.test"),
                               "output": str(out), "ignore_robots": True,
                               "render": ["*://js.test:*/", "*/item/*"], "render_selector": "body[data-ready], h1",
                               "extract": [{"name": "item", "match": "*/item/*", "fields": {"name": "h1.name"}}],
                               **extra})


async def test_rendered_pages_give_the_links_and_items_their_scripts_make(site, tmp_path):
    js_site(site)
    await site.start()

    stats = await Crawl(job(site, tmp_path / "o", per_host=1, render_screenshot=True)).run()

    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert sorted(records) == ["", "item/1", "item/2", "item/3", "late", "plain"]
    assert {p for p, r in records.items() if r["rendered"]} == {"", "item/1", "item/2", "item/3"}
    assert all(r["status"] == 200 and r["error"] is None for r in records.values())
    items = [json.loads(line) for line in (tmp_path / "o" / "items.jsonl").read_text().splitlines()]
    assert sorted(i["name"] for i in items) == ["Item 1", "Item 2", "Item 3"]
    assert "Item 2" in (tmp_path / "o" / records["item/2"]["path"]).read_text()  # the rendered DOM is stored
    assert site.hits[("js.test", "/api/items.json")] == 1 and stats.pages == 6
    assert site.max_inflight["js.test"] == 1  # the browser's requests kept to the host's one slot
    assert stats.rendered == 4
    last = json.loads((tmp_path / "o" / "stats.jsonl").read_text().splitlines()[-1])
    assert last["rendered"] == 4 and last["pages"] == 6
    report = read(tmp_path / "o")
    assert (report.pages, report.rendered) == (6, 4)  # `crawler report` tells the two paths apart
    assert "rendered in the browser<b>4</b>" in render_report(report)
    shots = sorted(p.name for p in (tmp_path / "o" / "screens").rglob("*.png"))
    assert shots == ["1.png", "2.png", "3.png", "_index.html.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in (tmp_path / "o" / "screens").rglob("*.png"))


async def test_a_page_that_never_finishes_loading_is_a_render_error_and_the_crawl_goes_on(site, tmp_path):
    js_site(site)

    async def never(_: web.Request) -> web.Response:  # a script that never arrives (bounded)
        await asyncio.sleep(20)
        return web.Response(text="", content_type="application/javascript")

    site.route("js.test", "/item/2", lambda _: asyncio.sleep(0, web.Response(
        text='<html><body><script src="/never.js"></script></body></html>', content_type="text/html")))
    site.route("js.test", "/never.js", never)
    await site.start()

    await Crawl(job(site, tmp_path / "o", render_timeout=2)).run()

    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records["item/2"]["error"]["kind"] == "render"
    assert "did not finish loading" in records["item/2"]["error"]["message"]
    assert records["item/1"]["error"] is None and records["item/3"]["error"] is None


def held_script() -> tuple[asyncio.Event, asyncio.Event, Callable[[web.Request], Awaitable[web.Response]]]:
    """A script the server holds back until ``release``; ``held`` is set once the browser asks."""
    held, release = asyncio.Event(), asyncio.Event()

    async def hold(_: web.Request) -> web.Response:
        held.set()
        await asyncio.wait_for(release.wait(), 30)
        return web.Response(text="", content_type="application/javascript")

    return held, release, hold


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


async def test_kill_9_of_the_crawl_leaves_no_browser(site, tmp_path):
    js_site(site)
    held, release = asyncio.Event(), asyncio.Event()

    async def hold(_: web.Request) -> web.Response:
        held.set()
        await asyncio.wait_for(release.wait(), 30)
        return web.json_response(ITEMS)

    site.route("js.test", "/api/items.json", hold)
    await site.start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler", "crawl", site.url("js.test"), "--resolve", site.pin("js.test")[0],
        "-o", str(tmp_path / "o"), "--render", "*://js.test:*/", "-q",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await asyncio.wait_for(held.wait(), 60)  # the browser is up and loading the page
    browser = {p for p in descendants(proc.pid) if "chrom" in Path(f"/proc/{p}/comm").read_text()}
    assert browser
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    release.set()
    for _ in range(200):  # bounded: the browser notices its pipe closed and exits
        if not alive(browser):
            break
        await asyncio.sleep(0.05)
    assert not alive(browser)


async def test_the_browser_goes_through_the_jobs_proxy(hosts_site, tmp_path):
    """The document and its scripts' requests reach the site from the proxy's address."""
    from tests.proxy_servers import start_proxy

    hosts_site.route("127.0.0.2", "/", lambda _: asyncio.sleep(0, web.Response(text=SHELL, content_type="text/html")))
    hosts_site.route("127.0.0.2", "/api/items.json", lambda _: asyncio.sleep(0, web.json_response(ITEMS)))
    proxy = await start_proxy("http", "127.0.0.20", tmp_path, user="rita", password="renderpw9")
    try:
        stats = await Crawl(Job.model_validate({
            "start_urls": [hosts_site.url("127.0.0.2")], "output": str(tmp_path / "o"), "ignore_robots": True,
            "render": ["*"], "render_selector": "body[data-ready]", "proxy": proxy.url(), "max_depth": 0})).run()
    finally:
        proxy.kill()
    peers = {(path, peer) for _, path, peer in hosts_site.remotes}
    assert peers == {("/", proxy.source), ("/api/items.json", proxy.source)}
    (record,) = read_records(tmp_path / "o")
    assert record["rendered"] and record["proxy"] == proxy.id and stats.pages == 1
    assert b"renderpw9" not in (tmp_path / "o" / "records.jsonl").read_bytes()


async def test_render_auto_renders_only_the_pages_built_by_scripts(site, tmp_path):
    """Everything is fetched over HTTP first; the item pages, whose required field exists only
    after their script runs, go to the browser; pages readable without it do not."""
    links = "".join(f'<a href="/item/{i}">item</a>' for i in (1, 2, 3)) + '<a href="/static">s</a>'
    site.html("js.test", "/", "<script>console.log('hi')</script>" + links + "menu " * 100)
    for i in (1, 2, 3):
        site.route("js.test", f"/item/{i}", lambda _: asyncio.sleep(0, web.Response(text=ITEM, content_type="text/html")))
    site.html("js.test", "/static", "<h1 class=name>Static</h1>")
    await site.start()

    await Crawl(Job.model_validate({
        "start_urls": [site.url("js.test")], "resolve": site.pin("js.test"), "output": str(tmp_path / "o"),
        "ignore_robots": True, "render": "auto", "render_selector": "h1",
        "extract": [{"name": "item", "match": "*/item/*", "fields": {"name": {"css": "h1.name", "required": True}}}],
    })).run()

    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert {p: r["rendered"] for p, r in records.items()} == {"": False, "item/1": True, "item/2": True,
                                                              "item/3": True, "static": False}
    items = [json.loads(line) for line in (tmp_path / "o" / "items.jsonl").read_text().splitlines()]
    assert sorted(i["name"] for i in items) == ["Item 1", "Item 2", "Item 3"]
    assert all(site.hits[("js.test", f"/item/{i}")] == 2 for i in (1, 2, 3))  # once plain, once in the browser
    assert all(not r["extract_errors"] for r in records.values())


async def test_no_usable_browser_is_one_line_at_the_start(site, tmp_path):
    site.html("js.test", "/", "x")
    await site.start()
    code, out, err = await run_cli("crawl", site.url("js.test"), "--resolve", site.pin("js.test")[0],
                                   "-o", str(tmp_path / "o"), "--render", "*")  # the real browser: fine
    assert code == 0, err
    job_file = tmp_path / "job.yaml"
    job_file.write_text(f"start_urls: [{site.url('js.test')}]\nresolve: [{site.pin('js.test')[0]}]\n"
                        f"render: ['*']\nrender_browser: {tmp_path / 'no-such-chromium'}\noutput: {tmp_path / 'p'}\n")
    code, out, err = await run_cli("run", str(job_file))
    assert code == 1 and "Traceback" not in err and site.hits[("js.test", "/")] == 1
    assert err.startswith("error: cannot start the browser ") and len(err.strip().splitlines()) == 1


async def test_a_rendered_page_is_not_sent_out_of_scope_by_its_script(site, tmp_path):
    site.route("js.test", "/", lambda _: asyncio.sleep(0, web.Response(
        text=f'<html><body><script>location.href = "{site.url("elsewhere.test")}";</script>stay</body></html>',
        content_type="text/html")))
    site.html("elsewhere.test", "/", "<h1>away</h1>")
    await site.start()
    await Crawl(Job.model_validate({"start_urls": [site.url("js.test")], "resolve": site.pin("js.test", "elsewhere.test"),
                                    "output": str(tmp_path / "o"), "ignore_robots": True, "render": ["*"],
                                    "render_wait": "networkidle"})).run()
    assert site.hits[("elsewhere.test", "/")] == 0
    (record,) = read_records(tmp_path / "o")
    assert record["rendered"] and record["status"] == 200


async def test_a_redirect_the_browser_follows_is_the_records_final_url(site, tmp_path):
    async def moved(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/item/2")

    js_site(site)
    site.route("js.test", "/item/1", moved)
    await site.start()
    await Crawl(job(site, tmp_path / "o", render_selector=None)).run()
    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records["item/1"]["final_url"] == site.url("js.test", "/item/2") and records["item/1"]["rendered"]


BUSY = """<html><body><div id=app></div><script>
const paths = [1, 2, 3, 4, 5, 6].map(k => "/api/part/" + k).concat([1, 2, 3].map(k => "CDN/lib/" + k));
Promise.all(paths.map(p => fetch(p).then(r => r.text()))).then(parts => {
  document.getElementById("app").innerHTML = parts.map(t => "<span class=part>" + t + "</span>").join("");
  document.body.dataset.ready = "yes";
});
</script></body></html>"""


async def test_a_rendered_pages_own_requests_are_held_to_the_per_host_limit(site, tmp_path):
    """Six pages, each fetching six parts from its own host and three from another at once: with
    per_host 2 neither host ever sees more than two requests from the crawl in flight."""
    async def part(request: web.Request) -> web.Response:
        await asyncio.sleep(0.02)  # the server takes a moment, so overlapping requests would show
        return web.Response(text=request.path.rsplit("/", 1)[1], headers={"Access-Control-Allow-Origin": "*"})

    await site.start()
    busy = BUSY.replace("CDN", f"http://cdn.test:{site.port}")
    for n in range(6):
        site.route("js.test", f"/page/{n}", lambda _: asyncio.sleep(0, web.Response(text=busy, content_type="text/html")))
    site.route("js.test", "*", part)
    site.route("cdn.test", "*", part)

    stats = await Crawl(Job.model_validate({
        "start_urls": [site.url("js.test", f"/page/{n}") for n in range(6)], "output": str(tmp_path / "o"),
        "resolve": site.pin("js.test", "cdn.test"), "ignore_robots": True, "render": ["*/page/*"],
        "render_selector": "body[data-ready]", "per_host": 2, "concurrency": 8, "render_concurrency": 4,
        "extract": [{"name": "parts", "fields": {"count": {"css": "span.part", "count": True}}}]})).run()

    items = [json.loads(line) for line in (tmp_path / "o" / "items.jsonl").read_text().splitlines()]
    assert [i["count"] for i in items] == [9] * 6 and stats.pages == 6
    assert site.hits[("cdn.test", "/lib/1")] == 6 and site.hits[("js.test", "/api/part/6")] == 6
    assert site.max_inflight["js.test"] <= 2 and site.max_inflight["cdn.test"] <= 2


async def test_a_browser_grown_past_the_memory_cap_is_replaced_and_no_page_is_lost(site, tmp_path):
    page = "<html><body><script>document.write('<h1>' + location.pathname + '</h1>')</script></body></html>"
    for n in range(21):
        site.route("js.test", f"/p/{n}", lambda _: asyncio.sleep(0, web.Response(text=page, content_type="text/html")))
    await site.start()
    warnings: list[str] = []

    stats = await Crawl(Job.model_validate({
        "start_urls": [site.url("js.test", f"/p/{n}") for n in range(21)], "output": str(tmp_path / "o"),
        "resolve": site.pin("js.test"), "ignore_robots": True, "render": ["*"], "render_selector": "h1",
        "render_concurrency": 2, "render_memory_mb": 1}), warn=warnings.append).run()

    records = read_records(tmp_path / "o")
    assert len(records) == 21 and all(r["rendered"] and r["error"] is None for r in records)
    (line,) = stats.render_report
    restarts = int(re.search(r"(\d+) restarts over render_memory_mb", line).group(1))  # type: ignore[union-attr]
    assert restarts >= 2 and line.startswith("browser: 21 pages rendered")
    assert len([w for w in warnings if "render_memory_mb 1)" in w]) == restarts
    assert not running(descendants(os.getpid()), "/usr/lib/chromium/chromium")  # old and new closed


async def test_rendered_pages_keep_their_raw_response_in_the_warc(site, tmp_path):
    from warcio.archiveiterator import ArchiveIterator

    async def moved(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/")

    js_site(site)
    site.route("js.test", "/start", moved)
    await site.start()
    await Crawl(job(site, tmp_path / "o", warc=True, start_urls=[site.url("js.test", "/start")],
                    render=["*://js.test:*/", "*/start"])).run()

    responses: dict[str, tuple[int, bytes]] = {}
    with open(tmp_path / "o" / "crawl.warc.gz", "rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type == "response":
                path = rec.rec_headers.get_header("WARC-Target-URI").split("/", 3)[3]
                responses[path] = (int(rec.http_headers.get_statuscode()), rec.content_stream().read())
    assert responses["start"] == (302, b"")  # the redirect the browser followed, then the page
    assert responses[""] == (200, SHELL.encode())  # as served: the script, not the DOM it built
    assert {"item/1", "late", "plain"} <= responses.keys()  # plain fetches archived as before
    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records["start"]["rendered"] and "Item 1" in (tmp_path / "o" / records["start"]["path"]).read_text()


@pytest.mark.parametrize("victim", ["tabs", "browser"])
async def test_a_crash_is_a_render_error_and_the_next_pages_load(site, tmp_path, victim):
    """The renderer processes (``tabs``), or the browser itself, are killed while a page loads (as
    an out-of-memory kill would): that page is a render error; the pages after it load in fresh
    tabs, not in the kept tab the kill took down with it, or in a browser launched again."""
    held, release, hold = held_script()

    page = "<html><body><script>document.write('<h1>' + location.pathname + '</h1>')</script>{}</body></html>"
    site.route("js.test", "/crash", lambda _: asyncio.sleep(0, web.Response(
        text=page.format('<script src="/hold.js"></script>'), content_type="text/html")))
    site.route("js.test", "/hold.js", hold)
    for n in range(3):  # another host: its tab waits in its own context while /crash loads
        site.route("other.test", f"/ok/{n}", lambda _: asyncio.sleep(0, web.Response(text=page.format(""),
                                                                                  content_type="text/html")))
    await site.start()
    urls = [site.url("other.test", "/ok/0"), site.url("js.test", "/crash"),
            site.url("other.test", "/ok/1"), site.url("other.test", "/ok/2")]
    crawl = asyncio.create_task(Crawl(Job.model_validate({
        "start_urls": urls, "output": str(tmp_path / "o"), "resolve": site.pin("js.test", "other.test"), "ignore_robots": True,
        "render": ["*"], "render_selector": "h1", "render_concurrency": 1, "per_host": 1, "retries": 0})).run())
    await asyncio.wait_for(held.wait(), 60)
    chromium = running(descendants(os.getpid()), "/usr/lib/chromium/chromium")
    kinds = {p: Path(f"/proc/{p}/cmdline").read_bytes() for p in chromium}
    victims = [p for p, cmd in kinds.items() if (b"--type=renderer" in cmd if victim == "tabs" else b"--type=" not in cmd)]
    assert len(victims) >= 1
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    stats = await asyncio.wait_for(crawl, 60)
    release.set()

    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records["crash"]["error"]["kind"] == "render"
    assert all(records[f"ok/{n}"]["error"] is None and records[f"ok/{n}"]["rendered"] for n in range(3))
    assert stats.render_report[0].endswith(f"{int(victim == 'browser')} after a crash")


async def test_a_hosts_rendered_pages_share_cookies_like_one_visitor(site, tmp_path):
    async def first(_: web.Request) -> web.Response:
        response = web.Response(text='<html><body><h1>a</h1><a href="/b">b</a></body></html>', content_type="text/html")
        response.set_cookie("visit", "42")
        return response

    site.route("js.test", "/a", first)
    site.html("js.test", "/b", "<h1>b</h1>")
    await site.start()
    await Crawl(Job.model_validate({"start_urls": [site.url("js.test", "/a")], "resolve": site.pin("js.test"),
                                    "output": str(tmp_path / "o"), "ignore_robots": True, "render": ["*"],
                                    "cookies": {"job": "yes"}})).run()
    sent = [h.get("Cookie", "") for h in site.headers]
    assert "visit" not in sent[0] and "job=yes" in sent[0]
    assert "visit=42" in sent[1] and "job=yes" in sent[1]
    assert all(r["rendered"] and r["error"] is None for r in read_records(tmp_path / "o"))


LISTING = """<html><body><ul id=list></ul><nav id=pager></nav><script>
const page = Number(new URLSearchParams(location.search).get("page") || 1);
fetch("/api/list?page=" + page).then(r => r.json()).then(data => {
  document.getElementById("list").innerHTML = data.items.map(i => '<li class=product>' + i + '</li>').join("");
  if (data.next) document.getElementById("pager").innerHTML = '<a rel=next href="?page=' + data.next + '">next</a>';
  document.body.dataset.ready = "yes";
});
</script></body></html>"""


async def test_client_side_pagination_is_followed_page_by_page(site, tmp_path):
    """A listing whose items and "next" link are built from a JSON API by its script: the crawl
    walks all three pages in the browser and extracts every item."""
    async def listing(request: web.Request) -> web.Response:
        page = int(request.query.get("page", "1"))
        return web.json_response({"items": [f"p{page}-{k}" for k in range(3)], "next": page + 1 if page < 3 else None})

    site.route("js.test", "/list", lambda _: asyncio.sleep(0, web.Response(text=LISTING, content_type="text/html")))
    site.route("js.test", "/api/list", listing)
    await site.start()
    await Crawl(Job.model_validate({
        "start_urls": [site.url("js.test", "/list")], "resolve": site.pin("js.test"), "output": str(tmp_path / "o"),
        "ignore_robots": True, "render": ["*/list*"], "render_selector": "body[data-ready]",
        "extract": [{"name": "listing", "items": "li.product", "fields": {"name": "li.product"}}]})).run()

    records = sorted(r["url"].split("/", 3)[3] for r in read_records(tmp_path / "o"))
    assert records == ["list", "list?page=2", "list?page=3"]
    items = [json.loads(line)["name"] for line in (tmp_path / "o" / "items.jsonl").read_text().splitlines()]
    assert sorted(items) == sorted(f"p{p}-{k}" for p in (1, 2, 3) for k in range(3))


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

    site.route("js.test", "/", lambda _: asyncio.sleep(0, web.Response(text=(
        f'<html><body><h1>first</h1><a href="{site.url("other.test")}">other</a><script>'
        'setInterval(() => fetch("/poll"), 20);</script></body></html>'), content_type="text/html")))
    site.route("js.test", "/poll", poll)
    site.route("other.test", "/", other)
    await site.start()
    await Crawl(Job.model_validate({
        "start_urls": [site.url("js.test")], "allow_domains": ["js.test", "other.test"],
        "resolve": site.pin("js.test", "other.test"), "output": str(tmp_path / "o"), "ignore_robots": True,
        "render": ["*"], "render_selector": "h1", "render_wait": "load", "render_concurrency": 1})).run()

    assert seen_during == [0]
    assert all(r["rendered"] and r["error"] is None for r in read_records(tmp_path / "o"))


async def test_check_renders_the_pages_the_job_renders(site, tmp_path):
    """`crawler check --url` shows what the crawl would see: the DOM the script built, its items
    and links; with `render: auto` only a page that looks like a shell goes to the browser."""
    js_site(site)
    site.html("js.test", "/static", "<h1 class=name>Static</h1>" + "words " * 60)
    await site.start()
    job_file = tmp_path / "job.yaml"
    job_file.write_text(f"start_urls: [{site.url('js.test')}]\nresolve: [{site.pin('js.test')[0]}]\n"
                        "render: auto\nrender_selector: h1\nextract:\n  - name: item\n    fields:\n"
                        "      name: {css: h1.name, required: true}\n")
    code, out, err = await run_cli("check", str(job_file), "--url", site.url("js.test", "/item/2"))
    assert code == 0, err
    (first,) = [line for line in out.splitlines() if line.startswith(site.url("js.test", "/item/2"))]
    assert first.endswith("rendered in the browser") and '"name": "Item 2"}' in out
    code, out, err = await run_cli("check", str(job_file), "--url", site.url("js.test", "/static"))
    assert code == 0 and "rendered" not in out and '"name": "Static"}' in out


async def test_a_script_that_never_yields_is_a_render_error_within_the_timeout(site, tmp_path):
    """A page whose script spins forever once loaded: the tab's main thread never answers again
    (reading its DOM would wait forever); the page is a render error after render_timeout and
    the other pages are rendered."""
    site.route("js.test", "/spin", lambda _: asyncio.sleep(0, web.Response(text=(
        "<html><body><h1>spin</h1><script>addEventListener(\"load\", () => setTimeout(() => { while (true) {} }, 0));</script></body></html>"),
        content_type="text/html")))
    site.html("js.test", "/", '<a href="/spin">spin</a><a href="/fine">fine</a>')
    site.html("js.test", "/fine", "<h1>fine</h1>")
    await site.start()
    crawl = Crawl(Job.model_validate({"start_urls": [site.url("js.test")], "resolve": site.pin("js.test"),
                                      "output": str(tmp_path / "o"), "ignore_robots": True, "render": ["*"],
                                      "render_timeout": 3, "retries": 0}))
    await asyncio.wait_for(crawl.run(), 60)
    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records["spin"]["error"]["kind"] == "render"
    assert records["fine"]["error"] is None and records["fine"]["rendered"]


async def test_a_browser_that_stops_answering_is_killed_and_replaced(site, tmp_path):
    """The browser process is frozen (SIGSTOP, as a machine thrashing in swap would leave it)
    while a page loads: that page is a render error once render_timeout passes, the frozen
    browser is killed rather than waited for, and the next pages load in a new one."""
    held, release, hold = held_script()

    page = "<html><body><h1>{}</h1>{}</body></html>"
    site.route("js.test", "/stuck", lambda _: asyncio.sleep(0, web.Response(
        text=page.format("stuck", '<script src="/hold.js"></script>'), content_type="text/html")))
    site.route("js.test", "/hold.js", hold)
    for n in range(3):
        site.route("js.test", f"/ok/{n}", lambda _: asyncio.sleep(0, web.Response(text=page.format("ok", ""),
                                                                              content_type="text/html")))
    await site.start()
    urls = [site.url("js.test", p) for p in ("/stuck", "/ok/0", "/ok/1", "/ok/2")]
    crawl = asyncio.create_task(Crawl(Job.model_validate({
        "start_urls": urls, "output": str(tmp_path / "o"), "resolve": site.pin("js.test"), "ignore_robots": True,
        "render": ["*"], "render_selector": "h1", "render_concurrency": 1, "per_host": 1, "retries": 0,
        "render_timeout": 2})).run())
    await asyncio.wait_for(held.wait(), 60)
    browser = {p for p in running(descendants(os.getpid()), "/usr/lib/chromium/chromium")
               if b"--type=" not in Path(f"/proc/{p}/cmdline").read_bytes()}
    assert len(browser) == 1
    os.kill(next(iter(browser)), signal.SIGSTOP)
    try:
        stats = await asyncio.wait_for(crawl, 60)
    finally:
        release.set()
        for pid in browser:  # if the crawl did not kill it, let it go
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records["stuck"]["error"]["kind"] == "render"
    assert all(records[f"ok/{n}"]["error"] is None and records[f"ok/{n}"]["rendered"] for n in range(3))
    assert not alive(browser)  # killed by the crawl, not left frozen
    assert any("did not close a tab" in w or "did not open a tab" in w for w in stats.warnings)


async def test_urls_to_render_that_are_not_html_are_fetched_over_http(site, tmp_path):
    """`render: ['*']` on a site linking a PDF, an image, JSON and a zip: Chromium would store
    its own viewer page for the first three and refuse the download; each is fetched over HTTP
    instead, its page file the bytes served, while the HTML page is rendered."""
    files = {"/a.pdf": (b"%PDF-1.4 tiny", "application/pdf"), "/a.png": (b"\x89PNG\r\n\x1a\nxx", "image/png"),
             "/a.json": (b'{"a": 1}', "application/json"), "/a.zip": (b"PK\x03\x04zip", "application/zip")}
    for path, (body, ctype) in files.items():
        site.route("js.test", path, lambda _, b=body, c=ctype: asyncio.sleep(0, web.Response(body=b, content_type=c)))
    site.html("js.test", "/", "".join(f'<a href="{p}">f</a>' for p in files) + "<h1>home</h1>")
    await site.start()
    await Crawl(Job.model_validate({"start_urls": [site.url("js.test")], "resolve": site.pin("js.test"),
                                    "output": str(tmp_path / "o"), "ignore_robots": True, "render": ["*"]})).run()

    records = {"/" + r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records["/"]["rendered"]
    for path, (body, ctype) in files.items():
        r = records[path]
        assert r["error"] is None and not r["rendered"] and r["content_type"].startswith(ctype), r
        assert (tmp_path / "o" / r["path"]).read_bytes() == body
