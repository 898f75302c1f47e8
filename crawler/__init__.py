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

__version__ = "0.2.0"  # the only place it is written: pyproject.toml reads it; CHANGELOG.md says what it holds

_ERRORS = (
    "CheckpointError",
    "ClusterError",
    "ConfigError",
    "CrawlerError",
    "FetchError",
    "InvalidURL",
    "LockedError",
    "RenderUnavailable",
    "StalledError",
    "StateError",
)
_WHERE = {
    "Crawl": "crawler.engine",
    "Follow": "crawler.parsing.page",
    "Hooks": "crawler.hooks",
    "Outgoing": "crawler.core.outgoing",
    "Job": "crawler.config",
    "Page": "crawler.parsing.page",
    "Record": "crawler.core.record",
    "Stats": "crawler.observe.stats",
    "crawl": "crawler.api",
    **dict.fromkeys(_ERRORS, "crawler.core.errors"),
}

__all__ = [  # a literal, for type checkers; tests/test_api.py checks it against _WHERE and the hooks guide
    "CheckpointError",
    "ClusterError",
    "ConfigError",
    "Crawl",
    "CrawlerError",
    "FetchError",
    "Follow",
    "Hooks",
    "InvalidURL",
    "Job",
    "LockedError",
    "Outgoing",
    "Page",
    "Record",
    "RenderUnavailable",
    "StalledError",
    "StateError",
    "Stats",
    "__version__",
    "crawl",
]

if TYPE_CHECKING:
    from crawler.api import crawl
    from crawler.config import Job
    from crawler.core.errors import (
        CheckpointError,
        ClusterError,
        ConfigError,
        CrawlerError,
        FetchError,
        InvalidURL,
        LockedError,
        RenderUnavailable,
        StalledError,
        StateError,
    )
    from crawler.core.outgoing import Outgoing
    from crawler.core.record import Record
    from crawler.engine import Crawl
    from crawler.hooks import Hooks
    from crawler.observe.stats import Stats
    from crawler.parsing.page import Follow, Page


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'crawler' has no attribute {name!r}")
