"""A small shop whose content and links exist only after its scripts run, and helpers the
rendering tests share (a script the server holds back, living processes)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from crawler.config import Job
from tests.helpers.site import Site

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
    return Job.model_validate(
        {
            "start_urls": [site.url("js.test")],
            "resolve": site.pin("js.test"),
            "output": str(out),
            "ignore_robots": True,
            "render": ["*://js.test:*/", "*/item/*"],
            "render_selector": "body[data-ready], h1",
            "extract": [{"name": "item", "match": "*/item/*", "fields": {"name": "h1.name"}}],
            **extra,
        }
    )


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
