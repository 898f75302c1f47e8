"""One answer, as the pipeline sees it, from whichever transport fetched it (HTTP or browser)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from multidict import CIMultiDictProxy

from crawler.core.errors import FetchError


class PendingBody(Protocol):
    """A body not yet under its final name (:class:`crawler.sinks.pages.Placement`): picklable,
    so the process that parses the page can write it too."""

    def place(self) -> tuple[str, str]:
        """Write the body to its file; returns its path relative to OUT (``pages/...``) and its
        sha256 (hashed there, off the event loop, unless a re-crawl needed it first)."""
        ...


@dataclass(slots=True)
class Response:
    """What the engine needs from one answer; ``error`` is set for HTTP error statuses."""

    status: int
    content_type: str | None = None
    location: str | None = None
    nbytes: int = 0
    sha256: str | None = None
    path: str | None = None
    body: bytes | None = None
    error: FetchError | None = None
    headers: CIMultiDictProxy[str] | None = None  # of a 2xx or 304 answer
    unchanged: bool = False  # a re-crawl found the page as its last visit left it (304, or the same body)
    rendered: bool = False  # the body is the DOM a browser built (render:)
    final_url: str | None = None  # where a browser ended up after redirects it followed itself
    placement: PendingBody | None = None  # the body, still to be written (``path``, ``sha256``) by its parser
    transport: str | None = None  # which fetched it: aiohttp, curl (a rendered page: None)
    http_version: str | None = None  # "1.1", "2", "3"


MARKDOWN_TYPES = frozenset({"text/markdown", "text/x-markdown"})


def is_markdown(content_type: str | None) -> bool:
    return (content_type or "").partition(";")[0].strip().lower() in MARKDOWN_TYPES


def is_page(content_type: str | None, *, markdown: bool = False) -> bool:
    """Whether a body goes to the parser: HTML, and with ``prefer_markdown`` Markdown too."""
    kind = (content_type or "").partition(";")[0].strip().lower()
    return "html" in kind or (markdown and kind in MARKDOWN_TYPES)
