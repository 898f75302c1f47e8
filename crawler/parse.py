"""HTML → title and outgoing links, with selectolax's lexbor backend.

Honours ``<base href>``, ``rel=nofollow`` and ``<meta name=robots content=nofollow>`` (unless the
job says to follow them), skips non-http(s) schemes, and returns canonical URLs deduplicated per page.

Joining is cached per (base directory, href): by RFC 3986 a reference other than ``?query``
resolves against the base path up to its last ``/``, and navigation links repeat on every page of a
directory, so most joins are dictionary hits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from selectolax.lexbor import LexborHTMLParser
from yarl import URL

from crawler.urls import InvalidURL, join

_SKIP = ("javascript:", "mailto:", "data:", "tel:", "#")


@dataclass(slots=True)
class Page:
    title: str | None = None
    links: list[URL] = field(default_factory=list)


def parse_html(body: bytes, url: URL, *, follow_nofollow: bool = False) -> Page:
    """Title and followable links of an HTML document fetched from ``url``."""
    tree = LexborHTMLParser(body)
    title_node = tree.css_first("title")
    page = Page(title=(" ".join(title_node.text().split()) or None) if title_node else None)
    if not follow_nofollow and _meta_nofollow(tree):
        return page
    base = _base(tree, url)
    text = str(base)
    base_dir = text[: text.rfind("/", 0, (text + "?").index("?")) + 1]
    hrefs: set[str] = set()
    found: set[str] = set()
    for node in tree.css("a[href], area[href]"):
        attrs = node.attributes
        href = (attrs.get("href") or "").strip()
        if not href or href in hrefs or href.startswith(_SKIP):
            continue
        if not follow_nofollow and "nofollow" in (attrs.get("rel") or "").lower().split():
            continue
        hrefs.add(href)
        link = _join_in(base_dir, href) if href[0] != "?" else _join(base, href)
        if link is None:
            continue
        key = str(link)
        if key not in found:
            found.add(key)
            page.links.append(link)
    return page


@lru_cache(maxsize=1 << 16)
def _join_in(base_dir: str, href: str) -> URL | None:
    return _join(URL(base_dir, encoded=True), href)


def _join(base: URL, href: str) -> URL | None:
    try:
        return join(base, href)
    except InvalidURL:
        return None


def _meta_nofollow(tree: LexborHTMLParser) -> bool:
    for meta in (tree.head or tree).css("meta[name]"):
        attrs = meta.attributes
        if (attrs.get("name") or "").lower() == "robots":
            if "nofollow" in (attrs.get("content") or "").lower().replace(",", " ").split():
                return True
    return False


def _base(tree: LexborHTMLParser, url: URL) -> URL:
    node = (tree.head or tree).css_first("base[href]")
    if node is None:
        return url
    try:
        return url.join(URL((node.attributes.get("href") or "").strip()))
    except (ValueError, TypeError):
        return url
