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
from crawler.errors import InvalidURL
from crawler.hooks import ParseHook, as_item, failure
from crawler.parsing.extract import Extractor
from crawler.parsing.page import Follow, Page
from crawler.parsing.parse import parse_document, read_page
from crawler.urls import host_key, join


@dataclass(slots=True)
class PageResult:
    """What one page gives the crawl. ``links`` are (URL, host key) pairs already in scope,
    deduplicated per page, for depth + 1; ``found`` counts the links before scope and depth."""

    title: str | None = None
    links: list[tuple[str, str]] = field(default_factory=list)
    found: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)
    extract_errors: list[str] = field(default_factory=list)
    hook_error: str | None = None  # the parse hook raised: "module:function: Error: message"
    follow_meta: dict[str, dict[str, Any]] = field(default_factory=dict)  # link → meta the hook gave it


class PageReader:
    """Parses a page and applies the job's follow, scope and extraction rules to it."""

    def __init__(self, job: Job, parse_hook: ParseHook | None = None) -> None:
        self._hook = parse_hook
        self._rules = LinkRules.from_job(job)
        self._extractor = Extractor(job.extract)
        self._follow = job.follow
        self._follow_nofollow = job.follow_nofollow

    def read(self, url: str, body: bytes, content_type: str | None, depth: int,
             meta: dict[str, Any] | None = None) -> PageResult:
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
        if self._hook is not None:
            links = [link.text for link in page.links]
            self._run_hook(Page(url, body, content_type, depth, tree, links, meta or {}), result)
        return result

    def _run_hook(self, page: Page, result: PageResult) -> None:
        """The user's ``parse``: its items join the rules' items, its follow-requests pass the
        same rules as the page's links. If it raises, nothing it yielded is kept."""
        assert self._hook is not None
        items: list[dict[str, Any]] = []
        links: list[tuple[str, str]] = []
        metas: dict[str, dict[str, Any]] = {}
        base = URL(page.url, encoded=True)
        try:
            for value in self._hook(page) or ():
                if isinstance(value, Follow):
                    try:
                        target = join(base, value.url)
                    except InvalidURL:
                        continue
                    if self._rules.allows_parts(target.scheme, target.host, str(target), page.depth + 1):
                        links.append((str(target), host_key(target)))
                        if value.meta:
                            metas[str(target)] = value.meta
                else:
                    item = as_item(value)
                    item.setdefault("url", page.url)
                    items.append(item)
        except Exception as e:  # user code: its failure is this page's error, the crawl goes on
            result.hook_error = failure(self._hook, e)
            return
        result.items += items
        result.links += links
        result.follow_meta = metas
