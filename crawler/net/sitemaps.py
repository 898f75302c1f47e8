"""Sitemaps: seed the frontier from robots.txt ``Sitemap:`` lines and ``/sitemap.xml``.

Sitemap indexes are followed (at most ``MAX_FILES`` files per host, ``MAX_DEPTH`` levels), gzipped
sitemaps are inflated with the job's ``max_bytes`` as the cap, and ``<loc>`` values are read with a
regex rather than an XML parser, so entity-expansion bombs and malformed XML cannot hurt.
"""

from __future__ import annotations

import html
import re
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

from yarl import URL

from crawler.core.errors import FetchError, InvalidURL
from crawler.core.urls import join

MAX_FILES = 100
MAX_DEPTH = 3
_LOC = re.compile(rb"<loc>\s*([^<]+?)\s*</loc>", re.IGNORECASE)
_INDEX = re.compile(rb"<sitemapindex[\s>]", re.IGNORECASE)

Fetch = Callable[[URL], Awaitable[tuple[int, bytes]]]


async def sitemap_urls(
    root: URL, declared: list[str], fetch: Fetch, max_bytes: int, warn: Callable[[str], None]
) -> AsyncIterator[list[tuple[URL, str]]]:
    """For each sitemap of ``root``'s host (robots.txt's first), its (page URL, sitemap URL)
    pairs: one batch per file, so a crawl never holds more than one sitemap's URLs at a time."""
    queue = [(u, 0) for u in declared] + [(str(root.with_path("/sitemap.xml").with_query(None)), 0)]
    seen: set[str] = set()
    while queue and len(seen) < MAX_FILES:
        text, depth = queue.pop(0)
        try:
            url = join(root, text)
        except InvalidURL:
            continue
        if str(url) in seen:
            continue
        seen.add(str(url))
        try:
            status, body = await fetch(url)
        except FetchError as e:
            warn(f"sitemap {url}: {e.kind}: {e.message}")
            continue
        if status != 200:
            continue
        inflated = _inflate(body, max_bytes)
        if inflated is None:
            warn(f"sitemap {url}: gzip data is corrupt or larger than max_bytes")
            continue
        locs = [html.unescape(m.decode("utf-8", "replace")) for m in _LOC.findall(inflated)]
        if _INDEX.search(inflated[:4096]):
            queue += [(loc, depth + 1) for loc in locs if depth + 1 <= MAX_DEPTH]
            continue
        pages = []
        for loc in locs:
            try:
                pages.append((join(url, loc), str(url)))
            except InvalidURL:
                continue
        yield pages


def _inflate(body: bytes, cap: int) -> bytes | None:
    """``body`` itself, or its gunzipped content (at most ``cap`` bytes) when it is gzip data."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    d = zlib.decompressobj(wbits=31)
    try:
        out = d.decompress(body, cap + 1)
    except zlib.error:
        return None
    return None if len(out) > cap else out
