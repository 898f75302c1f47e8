"""The parse hook of benchmarks/scenarios/hooks.py: what an extraction rule set for the docs corpus would
take from each page (title, first heading, section headings, code block count)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from crawler import Page


def parse(page: Page) -> Iterator[dict[str, Any]]:
    h1 = page.css_first("h1")
    yield {
        "title": (page.css_first("title").text(strip=True) if page.css_first("title") else None),
        "h1": h1.text(strip=True) if h1 is not None else None,
        "sections": [h.text(strip=True) for h in page.css("h2")][:50],
        "code_blocks": len(page.css("pre")),
    }
