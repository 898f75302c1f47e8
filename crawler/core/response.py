"""One answer, as the pipeline sees it, from whichever transport fetched it (HTTP or browser)."""

from __future__ import annotations

from dataclasses import dataclass

from multidict import CIMultiDictProxy

from crawler.core.errors import FetchError


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
