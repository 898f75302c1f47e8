"""JavaScript-rendered pages in Debian's Chromium: content and links that exist only after scripts
run (setTimeout, fetch() of a JSON endpoint, client-side pagination), plain HTTP for the other URLs
and for non-HTML, `render: auto`, per-host slots held by rendered pages and their own requests,
proxies, scope, cookies, WARC, `crawler check`."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

from crawler.config import Job
from crawler.engine import Crawl
from crawler.observe.report.data import read
from crawler.observe.report.html import render as render_report
from tests.helpers.cli import run_cli
from tests.helpers.leaks import basic_credentials, read_output
from tests.helpers.ordered import archived
from tests.helpers.output import read_records
from tests.helpers.ports import free_port
from tests.helpers.render_site import ITEM, ITEMS, SHELL, job, js_site


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


async def test_a_screenshot_never_stands_where_another_url_needs_a_folder(site, tmp_path):
    """``/x`` is rendered first (one slot), then ``/x.png/y``: both pages get their screenshot."""
    site.html("js.test", "/", '<h1>home</h1><a href="/x">x</a>')
    site.html("js.test", "/x", '<h1>x</h1><a href="/x.png/y">y</a>')
    site.html("js.test", "/x.png/y", "<h1>y</h1>")
    await site.start()
    await Crawl(job(site, tmp_path / "o", per_host=1, render=["*"], render_screenshot=True)).run()

    records = read_records(tmp_path / "o")
    assert len(records) == 3 and all(r["error"] is None and r["rendered"] for r in records), records
    shots = sorted(
        str(p.relative_to(tmp_path / "o" / "screens")).split("/", 1)[1]
        for p in (tmp_path / "o" / "screens").rglob("*.png")
    )
    assert shots == ["_index.html.png", "x%2Epng/y.png", "x.png"]


async def test_a_page_that_never_finishes_loading_is_a_render_error_and_the_crawl_goes_on(site, tmp_path):
    js_site(site)

    crawled = asyncio.Event()

    async def never(_: web.Request) -> web.Response:  # a script that never arrives (until the crawl is over)
        await asyncio.wait_for(crawled.wait(), 120)
        return web.Response(text="", content_type="application/javascript")

    site.route(
        "js.test",
        "/item/2",
        lambda _: asyncio.sleep(
            0,
            web.Response(text='<html><body><script src="/never.js"></script></body></html>', content_type="text/html"),
        ),
    )
    site.route("js.test", "/never.js", never)
    await site.start()

    try:  # the timeout leaves room for the first page of a new browser on a busy machine
        await Crawl(job(site, tmp_path / "o", render_timeout=8)).run()
    finally:
        crawled.set()

    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records["item/2"]["error"]["kind"] == "render"
    assert "did not finish loading" in records["item/2"]["error"]["message"]
    assert records["item/1"]["error"] is None and records["item/3"]["error"] is None


async def test_the_browser_goes_through_the_jobs_proxy(hosts_site, tmp_path):
    """The document and its scripts' requests reach the site from the proxy's address."""
    from tests.helpers.proxy_servers import start_proxy

    hosts_site.route("127.0.0.2", "/", lambda _: asyncio.sleep(0, web.Response(text=SHELL, content_type="text/html")))
    hosts_site.route("127.0.0.2", "/api/items.json", lambda _: asyncio.sleep(0, web.json_response(ITEMS)))
    proxy = await start_proxy("http", "127.0.0.20", tmp_path, user="rita", password="renderpw9")
    try:
        stats = await Crawl(
            Job.model_validate(
                {
                    "start_urls": [hosts_site.url("127.0.0.2")],
                    "output": str(tmp_path / "o"),
                    "ignore_robots": True,
                    "render": ["*"],
                    "render_selector": "body[data-ready]",
                    "proxy": proxy.url(),
                    "max_depth": 0,
                    "warc": True,
                }
            )
        ).run()
    finally:
        proxy.kill()
    peers = {(path, peer) for _, path, peer in hosts_site.remotes}
    assert peers == {("/", proxy.source), ("/api/items.json", proxy.source)}
    (record,) = read_records(tmp_path / "o")
    assert record["rendered"] and record["proxy"] == proxy.id and stats.pages == 1
    everything = b"".join(read_output(p) for p in (tmp_path / "o").rglob("*") if p.is_file())
    assert b"WARC-Type: request" in everything
    for secret in (b"renderpw9", *basic_credentials({"user": "rita", "password": "renderpw9"})):
        assert secret not in everything


async def test_render_auto_records_a_shell_the_browser_hands_back_as_not_html(site, tmp_path):
    """A page that looks script-built over HTTP but answers the browser with JSON: the browser
    hands it back (not HTML), the plain fetch gets the shell again, and the URL is recorded
    from it, once, instead of going back to the browser again and again."""
    served: list[str] = []

    async def two_faced(request: web.Request) -> web.Response:
        browser = "text/html" in request.headers.get("Accept", "")  # Chromium's navigation asks for HTML
        served.append("browser" if browser else "http")
        if browser:
            return web.json_response({"name": "Tea"})
        return web.Response(text=ITEM, content_type="text/html")

    site.route("js.test", "/item/1", two_faced)
    await site.start()
    job = {
        "start_urls": [site.url("js.test", "/item/1")],
        "resolve": site.pin("js.test"),
        "output": str(tmp_path / "o"),
        "ignore_robots": True,
        "render": "auto",
        "render_selector": "h1",
        "extract": [{"name": "item", "match": "*/item/*", "fields": {"name": {"css": "h1.name", "required": True}}}],
    }
    await asyncio.wait_for(Crawl(Job.model_validate(job)).run(), 120)
    (record,) = read_records(tmp_path / "o")
    assert record["status"] == 200 and not record["rendered"], (record, served)
    assert served == ["http", "browser", "http"]


async def test_render_auto_renders_only_the_pages_built_by_scripts(site, tmp_path):
    """Everything is fetched over HTTP first; the item pages, whose required field exists only
    after their script runs, go to the browser; pages readable without it do not."""
    links = "".join(f'<a href="/item/{i}">item</a>' for i in (1, 2, 3)) + '<a href="/static">s</a>'
    site.html("js.test", "/", "<script>console.log('hi')</script>" + links + "menu " * 100)
    for i in (1, 2, 3):
        site.route(
            "js.test", f"/item/{i}", lambda _: asyncio.sleep(0, web.Response(text=ITEM, content_type="text/html"))
        )
    site.html("js.test", "/static", "<h1 class=name>Static</h1>")
    await site.start()

    await Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("js.test")],
                "resolve": site.pin("js.test"),
                "output": str(tmp_path / "o"),
                "ignore_robots": True,
                "render": "auto",
                "render_selector": "h1",
                "extract": [
                    {"name": "item", "match": "*/item/*", "fields": {"name": {"css": "h1.name", "required": True}}}
                ],
            }
        )
    ).run()

    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert {p: r["rendered"] for p, r in records.items()} == {
        "": False,
        "item/1": True,
        "item/2": True,
        "item/3": True,
        "static": False,
    }
    items = [json.loads(line) for line in (tmp_path / "o" / "items.jsonl").read_text().splitlines()]
    assert sorted(i["name"] for i in items) == ["Item 1", "Item 2", "Item 3"]
    assert all(site.hits[("js.test", f"/item/{i}")] == 2 for i in (1, 2, 3))  # once plain, once in the browser
    assert all(not r["extract_errors"] for r in records.values())


async def test_no_usable_browser_is_one_line_at_the_start(site, tmp_path):
    site.html("js.test", "/", "x")
    await site.start()
    code, out, err = await run_cli(
        "crawl", site.url("js.test"), "--resolve", site.pin("js.test")[0], "-o", str(tmp_path / "o"), "--render", "*"
    )  # the real browser: fine
    assert code == 0, err
    job_file = tmp_path / "job.yaml"
    job_file.write_text(
        f"start_urls: [{site.url('js.test')}]\nresolve: [{site.pin('js.test')[0]}]\n"
        f"render: ['*']\nrender_browser: {tmp_path / 'no-such-chromium'}\noutput: {tmp_path / 'p'}\n"
    )
    code, out, err = await run_cli("run", str(job_file))
    assert code == 1 and "Traceback" not in err and site.hits[("js.test", "/")] == 1
    assert err.startswith("error: cannot start the browser ") and len(err.strip().splitlines()) == 1


async def test_a_rendered_page_is_not_sent_out_of_scope_by_its_script(site, tmp_path):
    site.route(
        "js.test",
        "/",
        lambda _: asyncio.sleep(
            0,
            web.Response(
                text=f'<html><body>stay<script>location.href = "{site.url("elsewhere.test")}";</script></body></html>',
                content_type="text/html",
            ),
        ),
    )
    site.html("elsewhere.test", "/", "<h1>away</h1>")
    await site.start()
    await Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("js.test")],
                "resolve": site.pin("js.test", "elsewhere.test"),
                "output": str(tmp_path / "o"),
                "ignore_robots": True,
                "render": ["*"],
                "render_wait": "networkidle",
                "warc": True,
            }
        )
    ).run()
    assert site.hits[("elsewhere.test", "/")] == 0
    (record,) = read_records(tmp_path / "o")
    assert record["rendered"] and (record["status"], record["final_url"]) == (200, site.url("js.test"))
    assert "stay" in (tmp_path / "o" / record["path"]).read_text()  # the page as it was, not an error page
    assert archived(tmp_path / "o" / "crawl.warc.gz") == [site.url("js.test")]


@pytest.mark.parametrize("render", [True, False])
async def test_a_redirect_out_of_scope_is_the_redirects_error_rendered_as_fetched(site, tmp_path, render):
    """A server's 302 to a host out of scope: the browser follows it itself (Playwright cannot
    stop a redirect), but the record is the redirect's ``redirect`` error and the WARC has the
    redirect, as for a fetched page; no file keeps the page it led to, none of its resources or
    frames load and none of its links are followed."""

    async def away(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(site.url("elsewhere.test", "/away"))

    site.route("js.test", "/", away)
    away_page = '<img src="/pic.png"><script src="/s.js"></script><iframe src="/frame"></iframe><a href="/next">n</a>'
    site.html("elsewhere.test", "/away", away_page + "away")
    site.html("elsewhere.test", "/next", "next")
    await site.start()
    out = tmp_path / "o"
    fields = {"render": ["*"], "render_timeout": 30} if render else {}
    await Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("js.test")],
                "resolve": site.pin("js.test", "elsewhere.test"),
                "output": str(out),
                "ignore_robots": True,
                "warc": True,
                **fields,
            }
        )
    ).run()
    (record,) = read_records(out)
    target = site.url("elsewhere.test", "/away")
    assert (record["status"], record["path"], record["error"]) == (
        302,
        None,
        {"kind": "redirect", "message": f"redirect to out-of-scope URL {target}"},
    )
    assert record["rendered"] is render and record["content_type"].startswith("text/plain")  # aiohttp's 302
    for path in ("/pic.png", "/s.js", "/frame", "/next"):
        assert site.hits[("elsewhere.test", path)] == 0
    assert archived(out / "crawl.warc.gz") == [site.url("js.test")]  # the redirect, as a fetch archives it
    assert not any(b"away" in f.read_bytes() for f in (out / "pages").rglob("*") if f.is_file())


async def test_a_redirect_out_of_scope_to_a_dead_port_is_still_the_redirects_error(site, tmp_path):
    """Where the browser's redirect out of scope leads fails (a refused port): not that failure,
    which a fetched page would never have met, but the redirect's error."""
    gone = f"http://127.0.0.1:{free_port()}/gone"

    async def away(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(gone)

    site.route("js.test", "/", away)
    await site.start()
    out = tmp_path / "o"
    job = {"start_urls": [site.url("js.test")], "resolve": site.pin("js.test"), "output": str(out)}
    await Crawl(Job.model_validate({**job, "ignore_robots": True, "render": ["*"], "render_timeout": 30})).run()
    (record,) = read_records(out)
    assert (record["status"], record["rendered"], record["error"]) == (
        302,
        True,
        {"kind": "redirect", "message": f"redirect to out-of-scope URL {gone}"},
    )


async def test_a_redirect_the_browser_follows_is_the_records_final_url(site, tmp_path):
    async def moved(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/item/2")

    js_site(site)
    site.route("js.test", "/item/1", moved)
    await site.start()
    await Crawl(job(site, tmp_path / "o")).run()  # the selector: the start page's links exist once it matches
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
        site.route(
            "js.test", f"/page/{n}", lambda _: asyncio.sleep(0, web.Response(text=busy, content_type="text/html"))
        )
    site.route("js.test", "*", part)
    site.route("cdn.test", "*", part)

    stats = await Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("js.test", f"/page/{n}") for n in range(6)],
                "output": str(tmp_path / "o"),
                "resolve": site.pin("js.test", "cdn.test"),
                "ignore_robots": True,
                "render": ["*/page/*"],
                "render_selector": "body[data-ready]",
                "per_host": 2,
                "concurrency": 8,
                "render_concurrency": 4,
                "extract": [{"name": "parts", "fields": {"count": {"css": "span.part", "count": True}}}],
            }
        )
    ).run()

    items = [json.loads(line) for line in (tmp_path / "o" / "items.jsonl").read_text().splitlines()]
    assert [i["count"] for i in items] == [9] * 6 and stats.pages == 6
    assert site.hits[("cdn.test", "/lib/1")] == 6 and site.hits[("js.test", "/api/part/6")] == 6
    assert site.max_inflight["js.test"] <= 2 and site.max_inflight["cdn.test"] <= 2


async def test_rendered_pages_keep_their_raw_response_in_the_warc(site, tmp_path):
    from warcio.archiveiterator import ArchiveIterator

    async def moved(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/")

    js_site(site)
    site.route("js.test", "/start", moved)
    await site.start()
    await Crawl(
        job(
            site,
            tmp_path / "o",
            warc=True,
            start_urls=[site.url("js.test", "/start")],
            render=["*://js.test:*/", "*/start"],
        )
    ).run()

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


async def test_a_hosts_rendered_pages_share_cookies_like_one_visitor(site, tmp_path):
    async def first(_: web.Request) -> web.Response:
        response = web.Response(text='<html><body><h1>a</h1><a href="/b">b</a></body></html>', content_type="text/html")
        response.set_cookie("visit", "42")
        return response

    site.route("js.test", "/a", first)
    site.html("js.test", "/b", "<h1>b</h1>")
    await site.start()
    await Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("js.test", "/a")],
                "resolve": site.pin("js.test"),
                "output": str(tmp_path / "o"),
                "ignore_robots": True,
                "render": ["*"],
                "cookies": {"job": "yes"},
            }
        )
    ).run()
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
    await Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("js.test", "/list")],
                "resolve": site.pin("js.test"),
                "output": str(tmp_path / "o"),
                "ignore_robots": True,
                "render": ["*/list*"],
                "render_selector": "body[data-ready]",
                "extract": [{"name": "listing", "items": "li.product", "fields": {"name": "li.product"}}],
            }
        )
    ).run()

    records = sorted(r["url"].split("/", 3)[3] for r in read_records(tmp_path / "o"))
    assert records == ["list", "list?page=2", "list?page=3"]
    items = [json.loads(line)["name"] for line in (tmp_path / "o" / "items.jsonl").read_text().splitlines()]
    assert sorted(items) == sorted(f"p{p}-{k}" for p in (1, 2, 3) for k in range(3))


async def test_check_renders_the_pages_the_job_renders(site, tmp_path):
    """`crawler check --url` shows what the crawl would see: the DOM the script built, its items
    and links; with `render: auto` only a page that looks like a shell goes to the browser."""
    js_site(site)
    site.html("js.test", "/static", "<h1 class=name>Static</h1>" + "words " * 60)
    await site.start()
    job_file = tmp_path / "job.yaml"
    job_file.write_text(
        f"start_urls: [{site.url('js.test')}]\nresolve: [{site.pin('js.test')[0]}]\n"
        "render: auto\nrender_selector: h1\nextract:\n  - name: item\n    fields:\n"
        "      name: {css: h1.name, required: true}\n"
    )
    code, out, err = await run_cli("check", str(job_file), "--url", site.url("js.test", "/item/2"))
    assert code == 0, err
    (first,) = [line for line in out.splitlines() if line.startswith(site.url("js.test", "/item/2"))]
    assert first.endswith("rendered in the browser") and '"name": "Item 2"}' in out
    code, out, err = await run_cli("check", str(job_file), "--url", site.url("js.test", "/static"))
    assert code == 0 and "rendered" not in out and '"name": "Static"}' in out


async def test_urls_to_render_that_are_not_html_are_fetched_over_http(site, tmp_path):
    """`render: ['*']` on a site linking a PDF, an image, JSON and a zip: Chromium would store
    its own viewer page for the first three and refuse the download; each is fetched over HTTP
    instead, its page file the bytes served, while the HTML page is rendered."""
    files = {
        "/a.pdf": (b"%PDF-1.4 tiny", "application/pdf"),
        "/a.png": (b"\x89PNG\r\n\x1a\nxx", "image/png"),
        "/a.json": (b'{"a": 1}', "application/json"),
        "/a.zip": (b"PK\x03\x04zip", "application/zip"),
    }
    for path, (body, ctype) in files.items():
        site.route("js.test", path, lambda _, b=body, c=ctype: asyncio.sleep(0, web.Response(body=b, content_type=c)))
    site.html("js.test", "/", "".join(f'<a href="{p}">f</a>' for p in files) + "<h1>home</h1>")
    await site.start()
    await Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("js.test")],
                "resolve": site.pin("js.test"),
                "output": str(tmp_path / "o"),
                "ignore_robots": True,
                "render": ["*"],
            }
        )
    ).run()

    records = {"/" + r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records["/"]["rendered"]
    for path, (body, ctype) in files.items():
        r = records[path]
        assert r["error"] is None and not r["rendered"] and r["content_type"].startswith(ctype), r
        assert (tmp_path / "o" / r["path"]).read_bytes() == body


async def test_an_open_event_stream_does_not_hold_the_pages_slot(site, tmp_path):
    """A page that listens to an event stream from its host, then fetches its data from the same
    host: the stream stays open, yet the fetch goes (one slot, per_host 1) and the page renders."""
    crawled = asyncio.Event()

    async def events(request: web.Request) -> web.StreamResponse:
        stream = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await stream.prepare(request)
        await stream.write(b"data: hello\n\n")
        await asyncio.wait_for(crawled.wait(), 120)  # held open as a live feed is, until the crawl is over
        return stream

    site.route(
        "js.test",
        "/",
        lambda _: asyncio.sleep(
            0,
            web.Response(
                text=(
                    "<html><body><div id=feed></div><script>"
                    "const feed = new EventSource('/events');"
                    "feed.onmessage = () => fetch('/api/data').then(r => r.text()).then(t => {"
                    "  document.getElementById('feed').innerHTML = '<h1>' + t + '</h1>'; });"
                    "</script></body></html>"
                ),
                content_type="text/html",
            ),
        ),
    )
    site.route("js.test", "/events", events)
    site.route("js.test", "/api/data", lambda _: asyncio.sleep(0, web.Response(text="fresh data")))
    await site.start()
    try:
        await Crawl(
            Job.model_validate(
                {
                    "start_urls": [site.url("js.test")],
                    "resolve": site.pin("js.test"),
                    "output": str(tmp_path / "o"),
                    "ignore_robots": True,
                    "render": ["*"],
                    "render_selector": "h1",
                    "render_timeout": 15,
                    "per_host": 1,
                }
            )
        ).run()
    finally:
        crawled.set()
    (record,) = read_records(tmp_path / "o")
    assert record["error"] is None and record["rendered"]
    assert "fresh data" in (tmp_path / "o" / record["path"]).read_text()
