"""Everything a crawl takes from one HTML page: its title, the links to admit and the items.

One pure function of (page, job), with a picklable result, so the same code runs inline (``crawler
check``) and in the parser process (``crawler.parsing.process``) that keeps it off the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from yarl import URL

from crawler.admission import LinkRules
from crawler.config import Job
from crawler.parsing.extract import Extractor
from crawler.parsing.parse import parse_document, read_page


@dataclass(slots=True)
class PageResult:
    """What one page gives the crawl. ``links`` are (URL, host key) pairs already in scope,
    deduplicated per page, for depth + 1; ``found`` counts the links before scope and depth."""

    title: str | None = None
    links: list[tuple[str, str]] = field(default_factory=list)
    found: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)
    extract_errors: list[str] = field(default_factory=list)


class PageReader:
    """Parses a page and applies the job's follow, scope and extraction rules to it."""

    def __init__(self, job: Job) -> None:
        self._rules = LinkRules.from_job(job)
        self._extractor = Extractor(job.extract)
        self._follow = job.follow
        self._follow_nofollow = job.follow_nofollow

    def read(self, url: str, body: bytes, content_type: str | None, depth: int) -> PageResult:
        """The result for a page fetched from ``url`` at ``depth``; links get ``depth + 1``."""
        page_url = URL(url, encoded=True)
        tree = parse_document(body, content_type)
        page = read_page(tree, page_url, follow_nofollow=self._follow_nofollow, follow=self._follow)
        result = PageResult(title=page.title, found=len(page.links))
        if self._extractor:
            result.items, result.extract_errors = self._extractor.extract(tree, page_url)
        allows = self._rules.allows_parts  # admission's own rules, applied before the pipe
        result.links = [(link.text, link.key) for link in page.links
                        if allows(link.scheme, link.host, link.text, depth + 1)]
        return result
