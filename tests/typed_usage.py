"""Not a test: mypy --strict reads this file (see pyproject.toml) to check that the public API
is typed the way a user's script uses it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from crawler import Crawl, Follow, Hooks, Job, Page, Stats, crawl


def parse(page: Page) -> Iterator[dict[str, Any] | Follow]:
    title = page.css_first("h1")
    yield {"title": title.text(strip=True) if title is not None else None, "depth": page.depth}
    for href in page.links():
        yield page.follow(href)


def script() -> int:
    items: list[dict[str, Any]] = []
    stats: Stats = crawl(Job(start_urls=["http://127.0.0.1:9/"]), parse=parse, on_item=items.append)
    return stats.pages + len(items)


async def in_a_loop(job: Job) -> int:
    stats = await Crawl(job, hooks=Hooks(parse=parse)).run()
    return stats.records
