"""HTML → title and outgoing links, with selectolax's lexbor backend.

Honours ``<base href>``, ``rel=nofollow`` and ``<meta name=robots content=nofollow>`` (unless the
job says to follow them), skips non-http(s) schemes, and returns canonical URLs deduplicated per page.

Joining is cached per (base directory, href): by RFC 3986 a reference other than ``?query``
resolves against the base path up to its last ``/``, and navigation links repeat on every page of a
directory, so most joins are dictionary hits.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from functools import lru_cache

from selectolax.lexbor import LexborHTMLParser
from yarl import URL

from crawler.urls import InvalidURL, join

_SKIP = ("javascript:", "mailto:", "data:", "tel:", "#")
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)


@dataclass(slots=True)
class Page:
    title: str | None = None
    links: list[URL] = field(default_factory=list)


def parse_html(body: bytes, url: URL, *, content_type: str | None = None,
               follow_nofollow: bool = False) -> Page:
    """Title and followable links of an HTML document fetched from ``url``."""
    tree = LexborHTMLParser(decode_html(body, content_type))
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


def decode_html(body: bytes, content_type: str | None) -> str:
    """Text of an HTML body: BOM, then the header's charset, then ``<meta charset>`` in the first
    KB, then UTF-8; windows-1252 (the HTML5 fallback) when undeclared bytes are not UTF-8.
    lexbor itself reads bytes as UTF-8 whatever the page declares."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(codec, "replace")
    declared = _CHARSET.search(content_type or "") or _META_CHARSET.search(body[:1024])
    if declared:
        name = declared.group(1)
        name = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        try:
            return body.decode(codecs.lookup(name).name, "replace")
        except LookupError:
            pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", "replace")


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
