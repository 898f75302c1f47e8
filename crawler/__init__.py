"""A fast, dependable queue-driven web crawler.

The public API (typed; ``py.typed`` ships with the package)::

    from crawler import Job, crawl

    def parse(page):                       # runs where pages are parsed (the parser process)
        for row in page.css(".product"):
            yield {"name": row.css_first("h2").text(strip=True)}
        for href in page.links():
            if "/category/" in href:
                yield page.follow(href)

    stats = crawl(Job(start_urls=["http://127.0.0.1:8000/"]), parse=parse, on_item=print)

``Crawl(job, hooks=Hooks(...))`` runs inside an existing event loop (``await crawl.run()``).
Names are imported on first use, so ``crawler --version`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Crawl", "Follow", "Hooks", "Job", "Outgoing", "Page", "Record", "Stats", "__version__", "crawl"]

_WHERE = {"Crawl": "crawler.engine", "Follow": "crawler.parsing.page", "Hooks": "crawler.hooks",
          "Outgoing": "crawler.hooks",
          "Job": "crawler.config", "Page": "crawler.parsing.page", "Record": "crawler.record",
          "Stats": "crawler.stats", "crawl": "crawler.api"}

if TYPE_CHECKING:
    from crawler.api import crawl
    from crawler.config import Job
    from crawler.engine import Crawl
    from crawler.hooks import Hooks, Outgoing
    from crawler.parsing.page import Follow, Page
    from crawler.record import Record
    from crawler.stats import Stats


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'crawler' has no attribute {name!r}")
