"""Not a test: mypy --strict reads this file (see pyproject.toml) to check that the public API
is typed the way a user's script uses it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from crawler import Crawl, Follow, Hooks, Job, Outgoing, Page, Record, Stats, crawl


def parse(page: Page) -> Iterator[dict[str, Any] | Follow]:
    title = page.css_first("h1")
    stock: str | None = page.headers.get("X-Stock")
    yield {
        "title": title.text(strip=True) if title is not None else None,
        "depth": page.depth,
        "status": page.status,
        "stock": stock,
        "via": page.redirected_from,
        "final": page.final_url,
    }
    for href in page.links():
        yield page.follow(href, meta={"from": page.url}, priority=1 if "/product/" in href else 0)


async def sign(req: Outgoing) -> None:
    req.headers["X-Signature"] = str(len(req.url))
    req.proxy = "direct" if req.meta.get("local") else None


def script() -> int:
    items: list[dict[str, Any]] = []
    stats: Stats = crawl(Job(start_urls=["http://127.0.0.1:9/"]), parse=parse, on_item=items.append)
    return stats.pages + len(items)


async def in_a_loop(job: Job) -> int:
    stats = await Crawl(job, hooks=Hooks(parse=parse, request=sign)).run()
    return stats.records


def unit_test_of_a_hook() -> list[Any]:
    """A hook tested without a crawl; errors caught by their one base class."""
    from crawler import CrawlerError

    try:
        return list(parse(Page.from_html("http://shop.test/", "<h1>Tea</h1>", meta={"local": True})))
    except CrawlerError:
        return []


def on_record(record: Record) -> None:
    """An ``on_record`` hook reads the typed record (mypy refuses one that takes a dict)."""
    print(record.url, record.status, record.error.kind if record.error else None)


def with_a_record_sink() -> int:
    return crawl(Job(start_urls=["http://127.0.0.1:9/"]), on_record=on_record).records
