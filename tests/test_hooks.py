"""User hooks on real crawls of a local shop: the example project in both parser modes, a hook
that raises, one that hangs, follow-requests held to scope, sink hooks, the Python API and bad
dotted paths."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest
from aiohttp import web

from crawler import Follow, Hooks, Job, Outgoing, Page, Record, crawl
from crawler.engine import Crawl
from crawler.observe.summary import summary
from crawler.parsing import process
from tests.helpers.output import read_records
from tests.helpers.timing import until

REPO = Path(__file__).resolve().parent.parent
PRODUCTS = 12


def shop(site) -> dict[str, dict[str, object]]:
    """A listing whose tiles link by data-href only; products carry JSON and star icons.
    Called once the site listens (URLs carry its port)."""
    expected = {}
    tiles = "".join(
        f'<div class="tile" data-href="/p/{i}" data-category="c{i % 3}">product {i}</div>' for i in range(PRODUCTS)
    )
    site.html("shop.test", "/", tiles + '<a href="/about">about</a>', title="Shop")
    site.html("shop.test", "/about", "about us", title="About")
    for i in range(PRODUCTS):
        data = {"sku": f"SKU-{i}", "name": f"Product {i}", "offers": {"price": f"{i}.50"}}
        stars = "".join(f'<i class="{"filled" if s < i % 5 else "empty"}">★</i>' for s in range(5))
        site.html(
            "shop.test",
            f"/p/{i}",
            f'<script type="application/json" id="product">{json.dumps(data)}</script><div class="stars">{stars}</div>',
            title=f"P{i}",
        )
        expected[site.url("shop.test", f"/p/{i}")] = {
            "sku": f"SKU-{i}",
            "price": i + 0.5,
            "rating": i % 5,
            "category": f"c{i % 3}",
        }
    return expected


async def run_cli(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


STABLE = ("url", "status", "error", "depth", "parent", "path", "sha256", "title", "items")


@pytest.mark.parametrize("parser", ["process", "inline"])
async def test_the_example_project_gives_the_same_items_in_both_parser_modes(site, tmp_path, parser):
    await site.start()
    expected = shop(site)
    out = tmp_path / parser
    code, err = await run_cli(
        "run",
        str(REPO / "examples/shop/job.yaml"),
        site.url("shop.test"),
        "--resolve",
        site.pin("shop.test")[0],
        "-o",
        str(out),
        "--parser",
        parser,
    )
    assert code == 0, err
    items = {i["url"]: i for i in map(json.loads, (out / "items.jsonl").read_text().splitlines())}
    assert {u: {k: i[k] for k in ("sku", "price", "rating", "category")} for u, i in items.items()} == expected
    records = sorted(({k: r[k] for k in STABLE} for r in read_records(out)), key=lambda r: r["url"])
    assert len(records) == PRODUCTS + 2  # the tiles were followed only because the hook did
    (tmp_path / f"{parser}.json").write_text(json.dumps(records))
    other = tmp_path / ("inline" if parser == "process" else "process")
    if (tmp_path / f"{other.name}.json").exists():
        assert json.loads((tmp_path / f"{other.name}.json").read_text()) == records


def failing_parse(page: Page):
    if page.url.endswith("/p/3"):
        raise ValueError("no price here")
    yield {"seen": page.url}
    yield from _tiles(page)


def hanging_parse(page: Page):
    if page.url.endswith("/p/5"):
        time.sleep(600)  # killed by the parser watchdog long before this
    yield {"seen": page.url}
    yield from _tiles(page)


async def test_a_raising_hook_is_the_pages_error_and_the_crawl_goes_on(site, tmp_path):
    await site.start()
    shop(site)
    job = Job(start_urls=[site.url("shop.test")], resolve=site.pin("shop.test"), output=tmp_path / "o", parser="inline")
    records = {}
    stats = await Crawl(job, hooks=Hooks(parse=failing_parse)).run()
    for r in read_records(tmp_path / "o"):
        records[r["url"]] = r
    bad = records[site.url("shop.test", "/p/3")]
    assert bad["error"]["kind"] == "hook" and "tests.test_hooks:failing_parse" in bad["error"]["message"]
    assert "ValueError: no price here" in bad["error"]["message"]
    assert stats.errors["hook"] == 1 and len(records) == PRODUCTS + 2
    assert all(r["error"] is None for u, r in records.items() if not u.endswith("/p/3"))


def _tiles(page: Page) -> list[Follow]:
    return [page.follow(n.attributes.get("data-href") or "") for n in page.css("[data-href]")]


async def test_a_hanging_hook_is_stopped_by_the_parser_watchdog(site, tmp_path, monkeypatch):
    monkeypatch.setattr(process, "PARSE_TIMEOUT", 3.0)  # the hang never ends: any bound works
    await site.start()
    shop(site)
    job = Job(
        start_urls=[site.url("shop.test")], resolve=site.pin("shop.test"), output=tmp_path / "o", parser="process"
    )
    stats = await Crawl(job, hooks=Hooks(parse=hanging_parse)).run()
    records = {r["url"]: r for r in read_records(tmp_path / "o")}
    stuck = records[site.url("shop.test", "/p/5")]
    assert stuck["error"]["kind"] == "internal" and "stopped after 3s on one page" in stuck["error"]["message"]
    assert stats.records == PRODUCTS + 2 and sum(r["error"] is None for r in records.values()) == PRODUCTS + 1


async def test_follow_requests_obey_scope_and_sink_hooks_see_everything(site, tmp_path):
    await site.start()
    shop(site)
    site.html("elsewhere.test", "/", "not to be crawled")

    def parse(page: Page):
        yield page.follow(site.url("elsewhere.test"))  # out of scope: another host
        yield from _tiles(page)
        yield {"page": page.url}

    seen_records: list[Record] = []
    seen_items: list[dict] = []

    async def on_record(record: Record) -> None:  # async hooks are awaited; the record is typed
        seen_records.append(record)

    job = Job(
        start_urls=[site.url("shop.test")], resolve=site.pin("shop.test", "elsewhere.test"), output=tmp_path / "o"
    )
    stats = await Crawl(job, hooks=Hooks(parse=parse, on_record=on_record, on_item=seen_items.append)).run()
    assert site.hits[("elsewhere.test", "/")] == 0
    assert len(seen_records) == stats.records == PRODUCTS + 2
    written = {r["url"]: r for r in read_records(tmp_path / "o")}
    assert all(r.as_json(with_items=True) == written[r.url] for r in seen_records)  # as written
    assert len(seen_items) == stats.items == PRODUCTS + 2


async def test_the_python_api_runs_a_crawl_with_hooks(site, tmp_path):
    await site.start()
    shop(site)
    items: list[dict] = []
    job = {"start_urls": [site.url("shop.test")], "resolve": site.pin("shop.test"), "output": str(tmp_path / "o")}
    stats = await asyncio.to_thread(
        crawl, job, parse=lambda page: _tiles(page) + [{"u": page.url}], on_item=items.append
    )
    assert stats.records == PRODUCTS + 2 and len(items) == PRODUCTS + 2


async def test_a_failing_sink_hook_is_counted_and_the_crawl_goes_on(site, tmp_path):
    site.html("shop.test", "/", "<a href='/a'>a</a>")
    site.html("shop.test", "/a", "a")
    await site.start()

    def on_record(record: Record) -> None:
        raise RuntimeError("sink is down")

    job = Job(start_urls=[site.url("shop.test")], resolve=site.pin("shop.test"), output=tmp_path / "o")
    stats = await Crawl(job, hooks=Hooks(on_record=on_record)).run()
    assert stats.records == 2 and stats.hook_failures == 2
    assert "hook failures: 2" in summary(stats, "o")
    assert any("sink is down" in w for w in stats.warnings)


@pytest.mark.parametrize(
    "path, expected",
    [
        ("nodots", "parse: 'nodots' is not a dotted path 'package.module:function'"),
        ("no_such_module_xyz:parse", "parse: cannot import 'no_such_module_xyz' (ModuleNotFoundError"),
        ("json:no_such_function", "parse: 'json' has no 'no_such_function'"),
    ],
)
async def test_bad_dotted_paths_are_refused_at_start(tmp_path, path, expected):
    code, err = await run_cli("crawl", "http://127.0.0.1:9/", "--parse", path, "-o", str(tmp_path / "o"))
    assert code == 2 and err.startswith(f"error: {expected}") and len(err.strip().splitlines()) == 1, err


async def test_check_runs_the_hooks_too(site, tmp_path):
    await site.start()
    shop(site)
    code, out = await _check(site, tmp_path)
    assert code == 0
    assert '"sku": "SKU-2"' in out and '"rating": 2' in out


async def test_check_sends_the_page_through_the_request_hook(site, tmp_path):
    """A site that answers only signed requests: check runs the request hook before fetching."""
    await site.start()
    shop(site)
    product = site.routes[("shop.test", "/p/2")]

    async def signed_only(request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-Token") != "t-42":
            raise web.HTTPForbidden()
        return await product(request)

    site.route("shop.test", "/p/2", signed_only)
    (tmp_path / "signer.py").write_text("def sign(req):\n    req.headers['X-Token'] = 't-42'\n")
    code, out = await _check(site, tmp_path, "request: signer:sign\n")
    assert code == 0 and "status 200" in out and '"sku": "SKU-2"' in out, out
    (tmp_path / "signer2.py").write_text("def sign(req):\n    raise KeyError('no token')\n")
    code, out = await _check(site, tmp_path, "request: signer2:sign\n")
    assert "request hook failed: signer2:sign: KeyError: 'no token'" in out and "Traceback" not in out


async def _check(site, tmp_path, extra: str = "") -> tuple[int, str]:
    job = tmp_path / "job.yaml"
    job.write_text(
        f"start_urls: [{site.url('shop.test')}]\nresolve: [{site.pin('shop.test')[0]}]\n"
        f"parse: shop_hooks:parse\n" + extra
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crawler",
        "check",
        str(job),
        "--url",
        site.url("shop.test", "/p/2"),
        cwd=REPO / "examples/shop",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


async def test_a_request_hook_signs_each_request_and_its_failure_is_a_record(site, tmp_path):
    site.html("shop.test", "/", "<a href='/a'>a</a><a href='/boom'>b</a>")
    site.html("shop.test", "/a", "a")
    site.html("shop.test", "/boom", "never fetched")
    await site.start()

    async def sign(req: Outgoing) -> None:  # async, changes the request in place
        if req.url.endswith("/boom"):
            raise PermissionError("no token for this one")
        req.headers["X-Signature"] = f"sig-{len(req.url)}"
        req.cookies["session"] = "s1"

    job = Job(
        start_urls=[site.url("shop.test")], resolve=site.pin("shop.test"), output=tmp_path / "o", headers={"X-Job": "j"}
    )
    stats = await Crawl(job, hooks=Hooks(request=sign)).run()
    pages = [h for h in site.headers if "X-Signature" in h]
    assert len(pages) == 2 and all(h["X-Job"] == "j" and "session=s1" in h.get("Cookie", "") for h in pages)
    assert {h["X-Signature"] for h in pages} == {f"sig-{len(site.url('shop.test', p))}" for p in ("/", "/a")}
    assert site.hits[("shop.test", "/boom")] == 0
    boom = {r["url"]: r for r in read_records(tmp_path / "o")}[site.url("shop.test", "/boom")]
    assert boom["error"]["kind"] == "hook" and "PermissionError: no token for this one" in boom["error"]["message"]
    assert stats.records == 3


async def test_meta_survives_kill_9_and_resume(site, tmp_path):
    """The example's category rides in meta from the listing to each product: killed part-way
    (products still queued), the resumed crawl still gives every product its category."""
    await site.start()
    expected = shop(site)
    started = asyncio.Event()
    release = asyncio.Event()
    slow = site.routes[("shop.test", "/p/4")]

    async def held(request: web.Request) -> web.StreamResponse:
        started.set()  # the listing is done and its links (with their meta) are in the frontier
        await release.wait()
        return await slow(request)

    site.route("shop.test", "/p/4", held)
    out = tmp_path / "o"
    args = [
        "run",
        str(REPO / "examples/shop/job.yaml"),
        site.url("shop.test"),
        "--resolve",
        site.pin("shop.test")[0],
        "-o",
        str(out),
        "--per-host",
        "1",
    ]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    await asyncio.wait_for(started.wait(), 60)
    records = out / "records.jsonl"
    await until(lambda: records.exists() and records.stat().st_size, "a checkpoint made the listing's links durable")
    proc.kill()
    await proc.wait()
    release.set()
    code, err = await run_cli(*args)
    assert code == 0 and "Resumed" in err, err
    items = {i["url"]: i["category"] for i in map(json.loads, (out / "items.jsonl").read_text().splitlines())}
    assert items == {u: e["category"] for u, e in expected.items()}


async def test_hook_follow_requests_keep_per_host_limits(site, tmp_path):
    await site.start()
    shop(site)
    both = asyncio.Event()
    for i in range(PRODUCTS):  # product pages wait for a second one in flight: overlap is certain when allowed
        page_handler = site.routes[("shop.test", f"/p/{i}")]

        async def slow(request: web.Request, inner=page_handler) -> web.StreamResponse:
            if site.inflight["shop.test"] >= 2:
                both.set()
            try:
                await asyncio.wait_for(both.wait(), 20)  # reached only when the test fails
            except TimeoutError:
                pass
            return await inner(request)

        site.route("shop.test", f"/p/{i}", slow)
    job = Job(
        start_urls=[site.url("shop.test")],
        resolve=site.pin("shop.test"),
        output=tmp_path / "o",
        per_host=2,
        concurrency=16,
    )
    stats = await Crawl(job, hooks=Hooks(parse=_tiles)).run()
    assert stats.records == PRODUCTS + 2
    assert site.max_inflight["shop.test"] == 2  # reached, never passed


async def test_priority_orders_a_hosts_queue_and_the_page_shows_its_response(site, tmp_path):
    """One slot per host, so the server sees the queue's order: highest priority first, then
    admission order. The hook reads status, response headers and the redirect that led there."""
    await site.start()
    priorities = {"/low": -5, "/a": 0, "/urgent": 100, "/b": 0, "/high": 7, "/old": 7}
    site.html("shop.test", "/", "hub")
    for path in priorities:
        site.html("shop.test", path, path)

    async def moved(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/new")

    async def new(_: web.Request) -> web.Response:
        return web.Response(text="<title>New</title>", content_type="text/html", headers={"X-Stock": "3"})

    site.route("shop.test", "/old", moved)
    site.route("shop.test", "/new", new)

    def parse(page: Page):
        if page.depth == 0:
            for path, priority in priorities.items():
                yield page.follow(path, meta={"p": priority}, priority=priority)
        yield {
            "status": page.status,
            "stock": page.headers.get("x-stock"),
            "final": page.final_url,
            "via": page.redirected_from,
            "meta": page.meta,
        }

    job = Job(
        start_urls=[site.url("shop.test")],
        resolve=site.pin("shop.test"),
        output=tmp_path / "o",
        per_host=1,
        ignore_robots=True,
    )
    await Crawl(job, hooks=Hooks(parse=parse)).run()

    order = [path for _, path, _ in site.remotes]
    assert order == ["/", "/urgent", "/high", "/old", "/new", "/a", "/b", "/low"]
    items = {i["url"]: i for i in map(json.loads, (tmp_path / "o" / "items.jsonl").read_text().splitlines())}
    new_item = items[site.url("shop.test", "/new")]
    assert new_item == {
        "url": site.url("shop.test", "/new"),
        "status": 200,
        "stock": "3",
        "final": site.url("shop.test", "/new"),
        "via": site.url("shop.test", "/old"),
        "meta": {"p": 7},
    }  # the redirect kept the meta (and the priority)
    assert items[site.url("shop.test", "/low")]["stock"] is None and items[site.url("shop.test", "/low")]["via"] is None


async def test_a_priority_out_of_range_is_the_hooks_error(site, tmp_path):
    site.html("shop.test", "/", "hub")
    await site.start()

    def parse(page: Page):
        yield page.follow("/x", priority=10**7)

    job = Job(start_urls=[site.url("shop.test")], resolve=site.pin("shop.test"), output=tmp_path / "o")
    stats = await Crawl(job, hooks=Hooks(parse=parse)).run()
    (record,) = read_records(tmp_path / "o")
    assert (
        record["error"]["kind"] == "hook"
        and "priority must be an int from -1000000 to 1000000" in record["error"]["message"]
    )
    assert stats.errors["hook"] == 1


async def test_meta_and_priority_come_back_in_a_shared_recrawl(site, redis_url, tmp_path):
    """A job shared through Redis by two workers, re-crawled after every price changed: the
    listing is unchanged (not parsed again), so the products come back from the workers' records,
    and they still carry the category the listing put in their meta."""
    await site.start()
    expected = shop(site)
    out = tmp_path / "o"
    args = [
        "run",
        str(REPO / "examples/shop/job.yaml"),
        site.url("shop.test"),
        "--resolve",
        site.pin("shop.test")[0],
        "-o",
        str(out),
        "--frontier",
        redis_url,
        "--name",
        "shopmeta",
        "--processes",
        "2",
    ]
    code, err = await run_cli(*args)
    assert code == 0, err
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert {r["url"]: r.get("meta") for r in records if "/p/" in r["url"]} == {
        u: {"category": e["category"]} for u, e in expected.items()
    }
    for i in range(PRODUCTS):  # every price changes
        data = {"sku": f"SKU-{i}", "name": f"Product {i}", "offers": {"price": f"{i}.75"}}
        site.html("shop.test", f"/p/{i}", f'<script type="application/json" id="product">{json.dumps(data)}</script>')

    code, err = await run_cli(*args, "--recrawl")

    assert code == 0, err
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    again = {i["url"]: i["category"] for i in items if str(i["price"]).endswith(".75")}
    assert again == {u: e["category"] for u, e in expected.items()}
