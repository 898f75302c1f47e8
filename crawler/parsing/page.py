"""The page a ``parse`` hook reads, and the follow-request it yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode


@dataclass(frozen=True, slots=True)
class Follow:
    """A URL a hook asks the crawl to follow, relative to the page or absolute. Scope, depth,
    robots.txt, dedup and the caps apply as to any link."""

    url: str
    meta: dict[str, Any] = field(default_factory=dict)  # JSON data the followed page's hook reads


class Page:
    """One fetched HTML page, parsed once: the hook shares the tree the crawl's rules use."""

    def __init__(self, url: str, body: bytes, content_type: str | None, depth: int,
                 tree: LexborHTMLParser, links: list[str], meta: dict[str, Any]) -> None:
        self.url = url
        self.meta = meta  # what the follow-request that led here carried (stored with the URL)
        self.body = body
        self.content_type = content_type
        self.depth = depth
        self.tree = tree
        self._links = links

    @property
    def text(self) -> str:
        """The document as text (the parser's decoding: header, BOM or ``<meta charset>``)."""
        return self.tree.html or ""

    def css(self, selector: str) -> list[LexborNode]:
        return self.tree.css(selector)

    def css_first(self, selector: str) -> LexborNode | None:
        return self.tree.css_first(selector)

    def links(self) -> list[str]:
        """The links the crawl found on the page (absolute, ``<base>`` honoured, after the job's
        follow rules and nofollow), before scope and depth are checked."""
        return list(self._links)

    def follow(self, url: str, meta: dict[str, Any] | None = None) -> Follow:
        """A request for ``url`` (relative to this page or absolute), to yield from the hook;
        ``meta`` (JSON data) is stored with the URL, survives resume, and is this page's
        ``page.meta`` when it is parsed. A URL already admitted keeps the meta it came with."""
        return Follow(url, dict(meta or {}))
