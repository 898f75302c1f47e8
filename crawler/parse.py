"""HTML → title and outgoing links, with selectolax's lexbor backend.

Honours ``<base href>``, ``rel=nofollow`` and ``<meta name=robots content=nofollow>`` (unless the
job says to follow them), skips non-http(s) schemes, and returns canonical URLs deduplicated per page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
        try:
            link = join(base, href)
        except InvalidURL:
            continue
        key = str(link)
        if key not in found:
            found.add(key)
            page.links.append(link)
    return page


def _meta_nofollow(tree: LexborHTMLParser) -> bool:
    for meta in tree.css("meta[name]"):
        attrs = meta.attributes
        if (attrs.get("name") or "").lower() == "robots":
            if "nofollow" in (attrs.get("content") or "").lower().replace(",", " ").split():
                return True
    return False


def _base(tree: LexborHTMLParser, url: URL) -> URL:
    node = tree.css_first("base[href]")
    if node is None:
        return url
    try:
        return url.join(URL((node.attributes.get("href") or "").strip()))
    except (ValueError, TypeError):
        return url
