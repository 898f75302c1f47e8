"""See the crawl: stats.jsonl, progress lines in logs, /metrics during a crawl (read with the
Prometheus reference parser), and `crawler report` on a crawl of the fault site, checked by
parsing its HTML and by opening it in a real headless Chromium (Debian's)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from selectolax.lexbor import LexborHTMLParser

from tests.helpers.cli import run_cli
from tests.helpers.faults import FaultServer
from tests.helpers.output import read_records
from tests.helpers.timing import until

CHROMIUM = "/usr/lib/chromium/chromium"
FAULT_PATHS = [
    "/ok",
    "/500",
    "/reset-before-headers",
    "/bad-gzip",
    "/loop",
    "/to-file",
    "/good-deflate",
    "/binary",
    "/empty",
    "/missing",
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fault_crawl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A crawl of the fault site (two host names for one server), and its report: made once for
    the module, since its tests only read the files (two CLI runs cost seconds)."""
    server = FaultServer()
    await server.start()
    out = tmp_path_factory.mktemp("fault_crawl") / "out"
    urls = [server.url(p) for p in FAULT_PATHS] + [server.url("/ok", host="localhost")]
    try:
        code, _, err = await run_cli(
            "crawl",
            *urls,
            "-o",
            str(out),
            "--ignore-robots",
            "--max-redirects",
            "3",
            "--timeout",
            "2",
            "--read-timeout",
            "1",
            "--retries",
            "2",
            "--max-depth",
            "1",
        )
    finally:
        await server.stop()  # the tests read the files only
    assert code == 0, err
    code, stdout, err = await run_cli("report", str(out))
    assert code == 0 and "report.html" in stdout, err
    return out


def cells(row) -> list[str]:
    return [c.text(strip=True) for c in row.css("td")]


async def test_the_report_shows_the_records_numbers(fault_crawl):
    records = read_records(fault_crawl)
    doc = LexborHTMLParser((fault_crawl / "report.html").read_text())
    cards = {c.text(deep=False, strip=True): c.css_first("b").text() for c in doc.css(".card")}
    errors = Counter(r["error"]["kind"] for r in records if r["error"])
    assert len(errors) >= 3  # the fault site really did fail in several ways
    assert cards["URLs"] == f"{len(records):,}" and cards["errors"] == f"{sum(errors.values()):,}"
    assert cards["pages"] == f"{sum(1 for r in records if r['status'] == 200 and not r['error']):,}"
    per_host: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        host = r["url"].split("/")[2]
        per_host[host]["urls"] += 1
        per_host[host]["errors"] += bool(r["error"])
    table = {cells(row)[0]: (cells(row)[1], cells(row)[3]) for row in doc.css("table.hosts tbody tr")}
    assert table == {h: (f"{c['urls']:,}", f"{c['errors']:,}") for h, c in per_host.items()}
    shown_errors = {}
    for row in doc.css("h2 + table tbody tr"):
        values = cells(row)
        if values and values[0] in errors:
            shown_errors[values[0]] = values[1]
    assert shown_errors == {k: f"{v:,}" for k, v in errors.items()}


async def test_the_report_renders_in_a_real_browser_with_charts_and_sorting(fault_crawl):
    from playwright.async_api import async_playwright

    problems: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: problems.append(f"fetched {r.url}") if not r.url.startswith("file:") else None)
        await page.goto((fault_crawl / "report.html").as_uri())
        bars = await page.locator("svg.chart rect.bar").count()
        widths = [await page.locator("svg.chart rect.bar").nth(i).bounding_box() for i in range(bars)]
        line = await page.locator("svg.chart circle, svg.chart polyline.series").count()
        header = page.locator("table.hosts th", has_text="URLs")
        await header.click()
        first = await page.locator("table.hosts tbody tr td:nth-child(2)").all_text_contents()
        await header.click()
        second = await page.locator("table.hosts tbody tr td:nth-child(2)").all_text_contents()
        await browser.close()
    assert problems == []  # no console errors, nothing fetched from anywhere
    assert bars >= 4 and all(box is not None and box["width"] > 0 for box in widths) and line >= 1
    as_numbers = [int(v.replace(",", "")) for v in first]
    assert as_numbers == sorted(as_numbers, reverse=True) and second == first[::-1]


async def test_stats_lines_and_progress_logs_follow_the_crawl_and_survive_a_rerun(site, tmp_path):
    site.html("a.test", "/", "".join(f'<a href="/p{i}">{i}</a>' for i in range(5)))
    for i in range(5):
        site.html("a.test", f"/p{i}", "x")

    async def slow(_: web.Request) -> web.Response:  # the crawl lasts past its first checkpoints
        await asyncio.sleep(1.2)
        return web.Response(text="<title>slow</title>", content_type="text/html")

    site.route("a.test", "/p4", slow)
    await site.start()
    out = tmp_path / "o"
    args = ["crawl", site.url("a.test"), "--resolve", site.pin("a.test")[0], "-o", str(out), "--progress", "log"]
    code, _, err = await run_cli(*args)
    assert code == 0 and " progress: " in err and "pages/s" in err, err
    code, _, err = await run_cli(*args)  # finished: nothing to do, one more run in the log
    assert code == 0, err
    lines = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    finals = [line for line in lines if line["final"]]
    assert len(finals) == 2 and len({line["run"] for line in lines}) == 2
    records = read_records(out)
    assert finals[0]["urls"] == len(records) == 6 and finals[0]["pages"] == 6
    assert finals[0]["statuses"] == {"200": 6} and finals[0]["hosts"][f"a.test:{site.port}"]["urls"] == 6
    assert sum(line["interval"]["urls"] for line in lines if line["run"] == finals[0]["run"]) == 6


async def test_metrics_scraped_during_a_crawl_match_its_records(site, tmp_path, unused_tcp_port):
    pages = 8
    links = "".join(f'<a href="/p{i}">{i}</a>' for i in range(pages))
    site.html("a.test", "/", links + '<a href="/gone">x</a><a href="/last">last</a>')  # one slot: in this order
    for i in range(pages):
        site.html("a.test", f"/p{i}", "x" * 100)
    release, held = asyncio.Event(), asyncio.Event()

    async def last(_: web.Request) -> web.Response:
        held.set()
        await release.wait()
        return web.Response(text="<title>last</title>", content_type="text/html")

    site.route("a.test", "/last", last)
    await site.start()
    out = tmp_path / "o"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crawler",
        "crawl",
        site.url("a.test"),
        "--resolve",
        site.pin("a.test")[0],
        "-o",
        str(out),
        "--metrics",
        f"127.0.0.1:{unused_tcp_port}",
        "--per-host",
        "1",
        "-q",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.wait_for(held.wait(), 60)
    metrics: dict[str, float] = {}
    async with aiohttp.ClientSession() as http:

        async def all_but_the_held_one_counted() -> bool:
            async with http.get(f"http://127.0.0.1:{unused_tcp_port}/metrics") as resp:
                text = await resp.text()
            metrics.update(
                {
                    f"{s.name}{sorted(s.labels.items())}": s.value
                    for family in text_string_to_metric_families(text)
                    for s in family.samples
                }
            )
            return metrics.get("crawler_urls_total[]") == pages + 2

        await until(all_but_the_held_one_counted, "/metrics counted every page but the held one")
    release.set()
    assert await proc.wait() == 0
    done = [r for r in read_records(out) if not r["url"].endswith("/last")]
    assert metrics["crawler_urls_total[]"] == len(done) == pages + 2
    assert metrics["crawler_pages_total[]"] == sum(1 for r in done if r["status"] == 200)
    assert metrics["crawler_bytes_total[]"] == sum(r["bytes"] for r in done if r["status"] == 200)
    assert metrics["crawler_errors_total[('kind', 'http')]"] == 1 == sum(1 for r in done if r["error"])
    assert metrics["crawler_responses_total[('status', '404')]"] == 1
    assert metrics[f"crawler_host_urls_total[('host', 'a.test:{site.port}')]"] == pages + 2
    assert metrics["crawler_inflight[]"] == 1


def test_report_refuses_a_folder_that_is_not_a_crawl(tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", "crawler", "report", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 1 and "no records.jsonl here" in done.stderr and "Traceback" not in done.stderr


async def test_the_report_of_a_shared_job_counts_every_worker(site, redis_url, tmp_path):
    site.html("a.test", "/", "".join(f'<a href="/p{i}">{i}</a>' for i in range(12)))
    for i in range(12):
        site.html("a.test", f"/p{i}", "x")
    await site.start()
    out = tmp_path / "o"
    code, _, err = await run_cli(
        "crawl",
        site.url("a.test"),
        "--resolve",
        site.pin("a.test")[0],
        "-o",
        str(out),
        "--frontier",
        redis_url,
        "--name",
        "rep",
        "--processes",
        "2",
    )
    assert code == 0, err
    (out / "records.jsonl").unlink()  # as before `crawler merge`: the report reads the shards
    code, _, err = await run_cli("report", str(out))
    assert code == 0, err
    doc = LexborHTMLParser((out / "report.html").read_text())
    cards = {c.text(deep=False, strip=True): c.css_first("b").text() for c in doc.css(".card")}
    assert cards["URLs"] == "13" and cards["pages"] == "13"
    assert "no stats.jsonl" not in doc.html  # the workers' stats lines are summed


def test_a_broad_crawls_host_counts_stay_bounded_and_add_up(monkeypatch: pytest.MonkeyPatch):
    """Past HOSTS_KEPT hosts the least recently active are summed as ``other``: memory stays flat
    over a million hosts, and stats.jsonl's hosts still add up to every URL."""
    from crawler.core.record import Record
    from crawler.observe import stats as stats_module
    from crawler.observe.stats import Stats
    from crawler.observe.statslog import top_hosts

    monkeypatch.setattr(stats_module, "HOSTS_KEPT", 50)
    stats = Stats()
    for i in range(200):
        host = "busy.test" if i % 2 else f"h{i}.test"  # busy.test stays active, so it stays counted
        stats.count(Record(f"http://{host}/{i}", 0, None, 1, status=200, bytes=10), 0, host)
    assert len(stats.hosts) == 50 and stats.hosts["busy.test"].urls == 100
    shown = top_hosts(stats, n=5)
    assert next(iter(shown)) == "busy.test" and len(shown) == 6
    assert sum(c["urls"] for c in shown.values()) == 200 and sum(c["bytes"] for c in shown.values()) == 2000
