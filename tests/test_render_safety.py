"""Rendered pages on sites nobody vetted: the links of a page the browser's redirects moved,
`render: auto` on shells with inline state, max_bytes before the DOM leaves the browser,
Chromium's sandbox, and `block_private_ips` for everything the browser connects to."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from aiohttp import web
from yarl import URL

from crawler.config import Job
from crawler.core.errors import RenderUnavailable
from crawler.engine import Crawl
from crawler.net.dns import DnsSettings
from crawler.net.guard import BrowserGuard, launch_options
from tests.helpers.cli import run_cli
from tests.helpers.output import read_records
from tests.helpers.timing import until


def page(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html")


async def test_a_redirected_rendered_pages_links_and_urls_are_relative_to_where_it_ended(site, tmp_path):
    """`/old` → `/dir/new`: its link `child` is `/dir/child` (not `/child`), and so is a `type: url` field."""

    async def moved(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/dir/new")

    site.route("js.test", "/old", moved)
    site.route(
        "js.test",
        "/dir/new",
        lambda _: asyncio.sleep(0, page('<html><body><h1>new</h1><a class=next href="child">child</a></body></html>')),
    )
    site.html("js.test", "/dir/child", "<h1>child</h1>")
    await site.start()
    await Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("js.test", "/old")],
                "resolve": site.pin("js.test"),
                "output": str(tmp_path / "o"),
                "ignore_robots": True,
                "render": ["*/old"],
                "extract": [
                    {"name": "next", "match": "*/dir/new", "fields": {"next": {"css": "a.next", "type": "url"}}}
                ],
            }
        )
    ).run()

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
    await Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("js.test")],
                "resolve": site.pin("js.test"),
                "output": str(tmp_path / "o"),
                "ignore_robots": True,
                "render": "auto",
            }
        )
    ).run()

    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records[""]["rendered"] and records[""]["error"] is None
    assert records["built"]["status"] == 200  # the link only the script makes was followed


async def test_a_dom_past_max_bytes_is_refused_before_it_leaves_the_browser(site, tmp_path, monkeypatch):
    """A script builds a DOM of 3 million characters; with max_bytes 1 MB the page is `too_large`,
    nothing is stored, and its HTML never crosses into the crawl's memory (only the small page's does)."""
    from playwright.async_api import Page

    pulled: list[int] = []
    content = Page.content

    async def measured(self: Page) -> str:
        html = await content(self)
        pulled.append(len(html))
        return html

    monkeypatch.setattr(Page, "content", measured)
    site.route(
        "js.test",
        "/big",
        lambda _: asyncio.sleep(
            0,
            page(
                '<html><body><h1>big</h1><script>document.body.appendChild(document.createTextNode("x".repeat(3e6)))'
                "</script></body></html>"
            ),
        ),
    )
    site.html("js.test", "/small", "<h1>small</h1>")
    await site.start()
    await Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("js.test", "/big"), site.url("js.test", "/small")],
                "resolve": site.pin("js.test"),
                "output": str(tmp_path / "o"),
                "ignore_robots": True,
                "render": ["*"],
                "max_bytes": 1_000_000,
            }
        )
    ).run()

    records = {r["url"].split("/", 3)[3]: r for r in read_records(tmp_path / "o")}
    assert records["big"]["error"]["kind"] == "too_large" and records["big"]["path"] is None
    assert "max_bytes 1000000" in records["big"]["error"]["message"]
    assert records["small"]["error"] is None and records["small"]["rendered"]
    assert [p.name for p in (tmp_path / "o" / "pages").rglob("*") if p.is_file()] == ["small"]
    assert len(pulled) == 1 and pulled[0] < 1000  # only the small page's DOM was read out of the browser


def test_chromium_is_sandboxed_unless_the_crawler_is_root():
    pins = {("js.test", 80): "127.0.0.1"}
    assert launch_options(pins, root=False, guard=None)["chromium_sandbox"] is True
    assert launch_options(pins, root=True, guard=None)["chromium_sandbox"] is False
    assert "--host-resolver-rules=MAP js.test 127.0.0.1" in launch_options(pins, root=False, guard=None)["args"]
    guarded = launch_options({}, root=False, guard="socks5://127.0.0.1:1080")
    assert guarded["proxy"] == {"server": "socks5://127.0.0.1:1080", "bypass": "<-loopback>"}  # loopback too
    assert "--force-webrtc-ip-handling-policy=disable_non_proxied_udp" in guarded["args"]


@pytest.mark.skipif(os.geteuid() != 0, reason="Chromium refuses its sandbox only as root")
async def test_the_sandbox_really_reaches_chromium(site, tmp_path, monkeypatch):
    """Run as root but taken for another user, the crawl asks Chromium for its sandbox, which
    Chromium refuses as root: the browser does not start, and the one error line says why.
    (Had the sandbox been left off, as Playwright does unless asked, it would start.)"""
    import crawler.net.browser

    monkeypatch.setattr(crawler.net.browser, "running_as_root", lambda: False)
    await site.start()
    crawl = Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("js.test")],
                "resolve": site.pin("js.test"),
                "output": str(tmp_path / "o"),
                "ignore_robots": True,
                "render": ["*"],
            }
        )
    )
    with pytest.raises(RenderUnavailable, match=r"cannot start the browser .* started in its sandbox"):
        await crawl.run()


@pytest.mark.skipif(os.geteuid() != 0, reason="the warning is for a crawl run as root")
async def test_a_crawl_run_as_root_says_once_that_the_browser_has_no_sandbox(site, tmp_path):
    for n in range(3):
        site.html("js.test", f"/{n}", "".join(f'<a href="/{k}">{k}</a>' for k in range(3)))
    await site.start()
    code, _, err = await run_cli(
        "crawl",
        site.url("js.test", "/0"),
        "--resolve",
        site.pin("js.test")[0],
        "-o",
        str(tmp_path / "o"),
        "--render",
        "*",
        "--ignore-robots",
    )
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "sandbox" in line]
    assert warnings == [
        "warning: the browser runs without its sandbox, as the crawler runs as root: "
        "run the crawl as another user to render untrusted pages sandboxed"
    ]
    assert len(read_records(tmp_path / "o")) == 3


@pytest.fixture
def private_is_127_0_0_2(monkeypatch):
    """Loopback is all tests may use, so the policy is narrowed: only 127.0.0.2 counts as private."""
    import crawler.net.guard
    import crawler.net.resolver

    private = lambda address: address.startswith("127.0.0.2")  # noqa: E731
    for module in (crawler.net.guard, crawler.net.resolver):
        monkeypatch.setattr(module, "is_blocked", private)


def guarded(hosts_site, out, **extra: object) -> Job:
    return Job.model_validate(
        {
            "resolve": [f"pub.test:{hosts_site.port}:127.0.0.1", f"in.test:{hosts_site.port}:127.0.0.2"],
            "output": str(out),
            "ignore_robots": True,
            "block_private_ips": True,
            "retries": 0,
            **extra,
        }
    )


async def test_a_rendered_pages_subresources_and_iframes_reach_no_private_address(
    hosts_site, tmp_path, private_is_127_0_0_2
):
    """A public page whose script, iframe, fetch() and WebSocket aim at a private address (by name
    and literal): it renders, and the private server sees nothing; without the flag it would."""
    inside = f"http://in.test:{hosts_site.port}"
    hosts_site.route(
        "pub.test",
        "/",
        lambda _: asyncio.sleep(
            0,
            page(
                f'<html><body><h1>public</h1><script src="{inside}/s.js"></script>'
                f'<iframe src="http://127.0.0.2:{hosts_site.port}/frame"></iframe>'
                f'<script>const ws = new Promise(open => {{ const s = new WebSocket("ws://in.test:{hosts_site.port}/ws");'
                f" s.onopen = s.onerror = open; }});"
                f'Promise.all([fetch("{inside}/api").catch(() => 0), ws]).then(() => document.body.dataset.done = "yes");'
                "</script></body></html>"
            ),
        ),
    )
    hosts_site.route("in.test", "*", lambda _: asyncio.sleep(0, page("secret")))
    hosts_site.route("127.0.0.2", "*", lambda _: asyncio.sleep(0, page("secret")))
    start = {
        "start_urls": [hosts_site.url("pub.test")],
        "render": ["*"],
        "render_selector": "body[data-done]",
        "render_wait": "load",
    }
    await Crawl(guarded(hosts_site, tmp_path / "o", **start)).run()

    (record,) = read_records(tmp_path / "o")
    assert record["rendered"] and record["status"] == 200 and record["error"] is None
    assert hosts_site.hits[("pub.test", "/")] == 1
    assert sum(n for (host, _), n in hosts_site.hits.items() if host != "pub.test") == 0
    await Crawl(guarded(hosts_site, tmp_path / "plain", block_private_ips=False, **start)).run()
    assert {path for (host, path) in hosts_site.hits if host != "pub.test"} == {"/s.js", "/frame", "/api", "/ws"}


async def test_a_private_page_or_redirect_is_blocked_in_the_browser_as_in_a_fetch(
    hosts_site, tmp_path, private_is_127_0_0_2
):
    """The same refusals whether the page is rendered or fetched: a name that resolves to a
    private address, a private literal, and (rendered) a redirect to one the browser would follow."""

    async def away(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(hosts_site.url("in.test", "/moved"))

    hosts_site.route("pub.test", "/go", away)
    hosts_site.route("in.test", "*", lambda _: asyncio.sleep(0, page("secret")))
    hosts_site.route("127.0.0.2", "*", lambda _: asyncio.sleep(0, page("secret")))
    urls = [hosts_site.url("in.test"), hosts_site.url("127.0.0.2"), hosts_site.url("pub.test", "/go")]
    await Crawl(guarded(hosts_site, tmp_path / "r", start_urls=urls, render=["*"])).run()
    await Crawl(guarded(hosts_site, tmp_path / "f", start_urls=urls)).run()

    rendered = {r["url"]: r for r in read_records(tmp_path / "r")}
    fetched = {r["url"]: r for r in read_records(tmp_path / "f")}
    for url in urls[:2]:
        assert rendered[url]["error"] == fetched[url]["error"] and rendered[url]["error"]["kind"] == "blocked"
    assert rendered[urls[2]]["error"] == fetched[hosts_site.url("in.test", "/moved")]["error"]
    assert sum(n for (host, _), n in hosts_site.hits.items() if host != "pub.test") == 0


async def test_a_name_that_turns_private_when_the_browser_connects_is_refused(hosts_site, tmp_path, monkeypatch):
    """DNS rebinding: the name is public when the page is checked and private when the browser
    connects. The check that counts is the one on the address connected to."""
    import crawler.net.resolver

    answers = iter([False])  # the first look is public; every later one is private
    monkeypatch.setattr(crawler.net.resolver, "is_blocked", lambda _: next(answers, True))
    hosts_site.route("pub.test", "*", lambda _: asyncio.sleep(0, page("secret")))
    await Crawl(guarded(hosts_site, tmp_path / "o", start_urls=[hosts_site.url("pub.test")], render=["*"])).run()

    (record,) = read_records(tmp_path / "o")
    assert record["error"]["kind"] == "blocked" and "pub.test resolves only to non-public" in record["error"]["message"]
    assert sum(hosts_site.hits.values()) == 0


async def test_the_cli_renders_under_block_private_ips(site, tmp_path):
    """From the command line (the crawl is made before its event loop runs) a loopback page is refused."""
    site.html("js.test", "/", "<h1>inside</h1>")
    await site.start()
    code, _, err = await run_cli(
        "crawl",
        site.url("js.test"),
        "--resolve",
        site.pin("js.test")[0],
        "-o",
        str(tmp_path / "o"),
        "--render",
        "*",
        "--block-private-ips",
        "--ignore-robots",
    )
    assert code == 0 and "Traceback" not in err, err
    (record,) = read_records(tmp_path / "o")
    assert record["error"] == {
        "kind": "blocked",
        "message": "js.test resolves only to non-public addresses (127.0.0.1)",
    }
    assert sum(site.hits.values()) == 0


async def test_render_block_websocket_keeps_a_pages_websockets_from_any_server(site, tmp_path):
    """Playwright's request routing never sees a WebSocket's handshake: with ``websocket`` in
    ``render_block`` the socket is closed before it reaches a server; without, it gets there."""
    site.route(
        "js.test",
        "/",
        lambda _: asyncio.sleep(
            0,
            page(
                '<html><body><h1>live</h1><script>const s = new WebSocket("ws://" + location.host + "/ws");'
                's.onopen = s.onerror = s.onclose = () => { document.body.dataset.done = "yes"; };</script></body></html>'
            ),
        ),
    )
    site.route("js.test", "/ws", lambda _: asyncio.sleep(0, page("not a socket")))
    await site.start()
    start = {
        "start_urls": [site.url("js.test")],
        "resolve": site.pin("js.test"),
        "ignore_robots": True,
        "render": ["*"],
        "render_selector": "body[data-done]",
    }
    await Crawl(Job.model_validate({**start, "output": str(tmp_path / "b"), "render_block": ["websocket"]})).run()
    (record,) = read_records(tmp_path / "b")
    assert record["rendered"] and record["error"] is None
    assert site.hits[("js.test", "/ws")] == 0
    await Crawl(Job.model_validate({**start, "output": str(tmp_path / "open")})).run()
    assert site.hits[("js.test", "/ws")] == 1


async def test_the_guard_lets_go_of_a_connection_the_browser_closed(private_is_127_0_0_2, monkeypatch):
    """A server that never closes cannot make the guard hold a connection the browser has left:
    the guard closes its side of each after LINGER (a page opening and dropping connections to
    such a server would otherwise run the crawl out of file descriptors)."""
    import crawler.net.guard

    monkeypatch.setattr(crawler.net.guard, "LINGER", 0.2)
    held: list[asyncio.StreamWriter] = []
    over = asyncio.Event()

    async def never_closes(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await over.wait()  # the test's end: until then this server keeps every connection open

    server = await asyncio.start_server(never_closes, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    guard = BrowserGuard({}, connect_timeout=5, dns=DnsSettings())
    proxy = URL(await guard.start())
    try:
        for _ in range(5):
            reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
            writer.write(b"\x05\x01\x00" + b"\x05\x01\x00\x01" + bytes([127, 0, 0, 1]) + port.to_bytes(2, "big"))
            assert (await reader.readexactly(12))[:4] == b"\x05\x00\x05\x00"  # no auth; connected
            writer.close()
        await until(lambda: len(held) == 5 and not guard._pipes, "the guard closed every connection")
    finally:
        over.set()
        await guard.close()
        server.close()
