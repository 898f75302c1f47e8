"""Rendered pages on sites nobody vetted: the links of a page the browser's redirects moved,
`render: auto` on shells with inline state, max_bytes before the DOM leaves the browser,
Chromium's sandbox, and `block_private_ips` for everything the browser connects to."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from crawler.config import Job
from crawler.engine import Crawl
from tests.conftest import read_records


def page(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html")


async def test_a_redirected_rendered_pages_links_and_urls_are_relative_to_where_it_ended(site, tmp_path):
    """`/old` → `/dir/new`: its link `child` is `/dir/child` (not `/child`), and so is a `type: url` field."""
    async def moved(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/dir/new")

    site.route("js.test", "/old", moved)
    site.route("js.test", "/dir/new", lambda _: asyncio.sleep(0, page(
        '<html><body><h1>new</h1><a class=next href="child">child</a></body></html>')))
    site.html("js.test", "/dir/child", "<h1>child</h1>")
    await site.start()
    await Crawl(Job.model_validate({
        "start_urls": [site.url("js.test", "/old")], "resolve": site.pin("js.test"), "output": str(tmp_path / "o"),
        "ignore_robots": True, "render": ["*/old"],
        "extract": [{"name": "next", "match": "*/dir/new", "fields": {"next": {"css": "a.next", "type": "url"}}}]})).run()

    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records["old"]["rendered"] and records["old"]["final_url"] == site.url("js.test", "/dir/new")
    assert set(records) == {"old", "dir/child"} and records["dir/child"]["status"] == 200
    assert site.hits[("js.test", "/child")] == 0
    (item,) = [json.loads(line) for line in (tmp_path / "o" / "items.jsonl").read_text().splitlines()]
    assert item["next"] == site.url("js.test", "/dir/child") and item["url"] == site.url("js.test", "/dir/new")


NEXT_SHELL = """<html><head><title>Shop</title><style>{style}</style></head><body><div id=app></div>
<script id="__NEXT_DATA__" type="application/json">{state}</script>
<noscript>This shop needs JavaScript to show its products, please turn it on.</noscript>
<script>document.getElementById("app").innerHTML = '<h1>Built</h1><a href="/built">more</a>';</script>
</body></html>"""


async def test_render_auto_renders_a_shell_whose_inline_state_is_long(site, tmp_path):
    """A single-page app's shell carries kilobytes of inline state (`__NEXT_DATA__`) and styles:
    that is not text a reader sees, so the page is a shell and goes to the browser."""
    state = json.dumps({"props": {"items": [{"id": i, "name": f"Item {i}"} for i in range(200)]}})
    assert len(state) > 5000
    shell = NEXT_SHELL.format(style="body{margin:0}" * 30, state=state)
    site.route("js.test", "/", lambda _: asyncio.sleep(0, page(shell)))
    site.html("js.test", "/built", "<h1>built</h1>")
    await site.start()
    await Crawl(Job.model_validate({"start_urls": [site.url("js.test")], "resolve": site.pin("js.test"),
                                    "output": str(tmp_path / "o"), "ignore_robots": True, "render": "auto"})).run()

    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records[""]["rendered"] and records[""]["error"] is None
    assert records["built"]["status"] == 200  # the link only the script makes was followed
