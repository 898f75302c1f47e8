"""A crawl whose URLs are asked for one after another, each once the one before has its record:
for tests of what a proxy learns from one URL's outcome before the next (see proxy_blame)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from crawler import Hooks, Job, Outgoing
from crawler.engine import Crawl
from crawler.observe.stats import Stats
from tests.helpers.output import read_records


def archived(warc: Path) -> list[str]:
    """The target URIs of the WARC's response records."""
    with warc.open("rb") as f:
        return [r.rec_headers["WARC-Target-URI"] for r in ArchiveIterator(f) if r.rec_type == "response"]


async def crawl_in_order(tmp_path, *urls: str, **fields) -> tuple[Stats, dict[str, dict]]:
    """A crawl of ``urls`` (robots.txt ignored) in which the request for each URL waits until the
    one before has its record, all its tries done; the stats and the records by URL."""
    recorded = {url: asyncio.Event() for url in urls}
    before = dict(zip(urls[1:], urls, strict=False))

    def on_record(rec) -> None:
        if rec.url in recorded:
            recorded[rec.url].set()

    async def request(req: Outgoing) -> None:
        if req.url in before:
            await recorded[before[req.url]].wait()

    fields = {"start_urls": list(urls), "output": str(tmp_path / "o"), "retry_backoff": 0.01, **fields}
    crawl = Crawl(
        Job.model_validate({"ignore_robots": True, **fields}), hooks=Hooks(request=request, on_record=on_record)
    )
    stats = await asyncio.wait_for(crawl.run(), 120)
    return stats, {rec["url"]: rec for rec in read_records(tmp_path / "o")}
