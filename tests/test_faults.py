"""Fault injection: for each misbehaving server, the crawl finishes, the URL has exactly one record
of the right kind, and a healthy URL crawled alongside is unaffected."""

from __future__ import annotations

import asyncio
import os
from collections import Counter

import pytest

from crawler.config import Job
from crawler.engine import Crawl
from tests.helpers.faults import FaultServer

# Bounds that a healthy page meets with room to spare on a busy machine (the server shares the
# crawl's loop), while /stall and /drip (10 s) still time out.
FAST = {
    "timeout": {"connect": 5, "read": 1, "total": 2.5},
    "retries": 2,
    "retry_backoff": 0.01,
    "max_retry_after": 2,
    "ignore_robots": True,
    "max_redirects": 3,
    "max_bytes": 1_000_000,
}


@pytest.fixture
async def faults():
    server = FaultServer()
    await server.start()
    yield server
    await server.stop()


async def run(crawl, faults, path: str, **extra):
    r = await crawl(start_urls=[faults.url(path), faults.url("/ok")], **{**FAST, **extra})
    per_url = Counter(rec["url"] for rec in r.records)
    assert max(per_url.values()) == 1, "a URL got two records"
    assert r.by_url[faults.url("/ok")]["status"] == 200, "a healthy URL was affected"
    return r, r.by_url[faults.url(path)]


@pytest.mark.parametrize(
    "path, kind",
    [
        ("/reset-before-headers", "aborted"),
        ("/reset-after-headers", "aborted"),
        ("/stall", "timeout"),
        ("/drip", "timeout"),
        ("/length-high", "aborted"),
        ("/length-low", "protocol"),  # the surplus bytes read as a broken next response
        ("/bad-gzip", "decode"),
        ("/bad-deflate", "decode"),
        ("/bad-br", "decode"),
        ("/bomb", "too_large"),
        ("/to-file", "redirect"),
        ("/to-data", "redirect"),
        ("/to-ftp", "redirect"),
        ("/to-elsewhere", "redirect"),
        ("/long-header", "protocol"),
    ],
)
async def test_fault_ends_in_one_record_of_the_right_kind(crawl, faults, path, kind):
    _, rec = await run(crawl, faults, path)
    assert rec["error"] is not None and rec["error"]["kind"] == kind, rec
    assert rec["path"] is None


@pytest.mark.parametrize("path", ["/500", "/502", "/503", "/504"])
async def test_server_errors_then_success_are_retried(crawl, faults, path):
    _, rec = await run(crawl, faults, path)
    assert rec["status"] == 200 and rec["attempts"] == 3 and rec["title"] == "recovered"


@pytest.mark.parametrize("path", ["/429-seconds", "/429-date"])
async def test_429_with_retry_after_is_honoured(crawl, faults, path):
    _, rec = await run(crawl, faults, path)
    assert rec["status"] == 200 and rec["attempts"] == 2


async def test_redirect_loop_stops_at_the_limit(crawl, faults):
    r, _ = await run(crawl, faults, "/loop")
    loop = [rec for rec in r.records if "/loop" in rec["url"]]
    assert len(loop) == FAST["max_redirects"] + 1
    assert loop[-1]["error"]["kind"] == "redirect" and "more than 3 redirects" in loop[-1]["error"]["message"]


async def test_valid_deflate_is_decoded(crawl, faults):
    _, rec = await run(crawl, faults, "/good-deflate")
    assert rec["status"] == 200 and rec["title"] == "deflated"


async def test_http10_body_until_close(crawl, faults):
    r, rec = await run(crawl, faults, "/http10")
    assert rec["status"] == 200 and rec["title"] == "old" and rec["bytes"] == len("<title>old</title>") + 5000


async def test_empty_200(crawl, faults):
    r, rec = await run(crawl, faults, "/empty")
    assert rec["status"] == 200 and rec["bytes"] == 0 and (r.out / rec["path"]).read_bytes() == b""


async def test_binary_body_labelled_html(crawl, faults):
    _, rec = await run(crawl, faults, "/binary")
    assert rec["status"] == 200 and rec["bytes"] == 256 * 64 and rec["title"] is None


async def test_wrong_charset(crawl, faults):
    _, rec = await run(crawl, faults, "/wrong-charset")
    assert rec["status"] == 200 and rec["title"] and rec["title"].startswith("Caf")


async def test_missing_charset_header_uses_meta(crawl, faults):
    _, rec = await run(crawl, faults, "/missing-charset")
    assert rec["status"] == 200 and rec["title"] == "Naïve"


async def test_non_utf8_bytes_in_links_become_percent_encoded_urls(crawl, faults):
    r, rec = await run(crawl, faults, "/bad-bytes")
    leaves = sorted(u for u in r.by_url if "/leaf/" in u)
    assert leaves and all(u.isascii() for u in leaves)
    assert all(r.by_url[u]["status"] == 200 for u in leaves)
    assert faults.url("/leaf/%FF%00") in leaves


async def test_idn_host_names_are_crawled_in_punycode(crawl, faults):
    r = await crawl(
        start_urls=[f"http://bücher.test:{faults.port}/ok"],
        resolve=[f"xn--bcher-kva.test:{faults.port}:127.0.0.1"],
        **FAST,
    )
    assert r.records[0]["url"] == f"http://xn--bcher-kva.test:{faults.port}/ok"
    assert r.records[0]["status"] == 200


async def test_infinite_link_trap_is_bounded_by_per_host_cap(crawl, faults):
    r, _ = await run(crawl, faults, "/trap/0", max_pages_per_host=40)
    assert len(r.records) == 40
    assert r.stats.pages == 40


async def test_overlong_urls_are_not_followed(crawl, faults):
    """Links up to the limit are followed (/trap/99 has as many characters as /trap/12); the
    first longer one (/trap/100, and every ?session= variant) is not."""
    r, _ = await run(crawl, faults, "/trap/0", max_url_length=len(faults.url("/trap/12")), max_pages=500)
    assert faults.url("/trap/99") in r.by_url and faults.url("/trap/100") not in r.by_url
    assert max(len(u) for u in r.by_url) == len(faults.url("/trap/12"))


async def test_page_with_50000_links_stays_bounded(faults, tmp_path):
    """The process that parses (the parser child) grows by less than 200 MB on a page of 50,000
    links, and so does the crawl's own process. Resident sizes are sampled from /proc while it
    runs (not the lifetime peaks, which a forked child and pytest's process inherit)."""
    job = Job.model_validate(
        {
            **FAST,
            "timeout": {"read": 10, "total": 30},
            "start_urls": [faults.url("/many-links"), faults.url("/ok")],
            "max_pages": 300,
            "max_bytes": 5_000_000,
            "parser": "process",
            "output": tmp_path / "o",
        }
    )
    crawl = Crawl(job)
    peaks: dict[str, int] = {}
    run = asyncio.create_task(crawl.run())
    while not run.done():  # sampled every 20 ms until the crawl ends (bounded by its timeouts)
        for name, pid in (("parser", crawl.parts.parser.pid), ("crawl", os.getpid())):
            if pid:
                peaks.setdefault(f"{name} start", _kb(pid, "VmRSS"))
                peaks[name] = max(peaks.get(name, 0), _kb(pid, "VmRSS"))
        await asyncio.wait([run], timeout=0.02)
    stats = await run
    assert stats.records == 300 and "parser start" in peaks
    for name in ("parser", "crawl"):
        grown_mb = (peaks[name] - peaks[f"{name} start"]) / 1024
        assert grown_mb < 200, (name, grown_mb)


def _kb(pid: int, field: str) -> int:
    """A memory figure of a live process, in KB (0 if it has just exited)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        return 0
