"""HTML → title and outgoing links, with selectolax's lexbor backend.

Honours ``<base href>``, ``rel=nofollow`` and ``<meta name=robots content=nofollow>`` (unless the
job says to follow them), skips non-http(s) schemes, and returns the browser's URLs of the links
(``crawler.core.urls``: the WHATWG URL standard), deduplicated per page.

Joining is cached per (base directory, href without its fragment): a reference other than a query
(``?q``, ``http:?q``) resolves against the base path up to its last ``/``, and navigation links
repeat on every page of a directory, so most joins are dictionary hits. (On the Debian docs
corpus, 237k link nodes hold 81k distinct hrefs but only 12k without fragments.)
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from ada_url import join_url
from selectolax.lexbor import LexborHTMLParser, LexborNode
from yarl import URL

from crawler.core.errors import InvalidURL
from crawler.core.urls import C0_SPACE, Parts, split
from crawler.parsing.rules import FollowRule

_SKIP = ("javascript:", "mailto:", "data:", "tel:", "#")
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)


Link = Parts  # a link as plain strings (the join cache holds 16,384 of them; URL objects would triple its memory)


@dataclass(slots=True)
class Page:
    title: str | None = None
    links: list[Link] = field(default_factory=list)


def parse_document(body: bytes, content_type: str | None = None) -> LexborHTMLParser:
    """The parsed tree of an HTML body, decoded by its declared charset."""
    return LexborHTMLParser(decode_html(body, content_type))


def parse_html(
    body: bytes,
    url: URL,
    *,
    content_type: str | None = None,
    follow_nofollow: bool = False,
    follow: Sequence[FollowRule] = (),
) -> Page:
    """Title and followable links of an HTML document fetched from ``url``."""
    return read_page(parse_document(body, content_type), url, follow_nofollow=follow_nofollow, follow=follow)


def read_page(
    tree: LexborHTMLParser, url: URL, *, follow_nofollow: bool = False, follow: Sequence[FollowRule] = ()
) -> Page:
    """Title and links of a parsed page. With ``follow`` rules, only links inside a rule's CSS
    region whose URL matches its regex (either part may be absent) are kept."""
    title_node = tree.css_first("title")
    page = Page(title=(" ".join(title_node.text().split()) or None) if title_node else None)
    if not follow_nofollow and _meta_nofollow(tree):
        return page
    base = base_url(tree, url)
    if not follow:
        page.links = _links([tree], base, follow_nofollow)
        return page
    found: dict[str, Link] = {}
    for rule in follow:
        regions = tree.css(rule.css) if rule.css else [tree]
        pattern = re.compile(rule.match) if rule.match else None
        for link in _links(regions, base, follow_nofollow):
            if pattern is None or pattern.search(link.text):
                found.setdefault(link.text, link)
    page.links = list(found.values())
    return page


def _links(regions: Sequence[LexborHTMLParser | LexborNode], base: str, follow_nofollow: bool) -> list[Link]:
    """The browser's URLs of ``a``/``area`` elements inside ``regions``, deduplicated."""
    base_dir = base[: base.rfind("/", 0, (base + "?").index("?")) + 1]
    hrefs: set[str] = set()
    found: set[str] = set()
    links: list[Link] = []
    for region in regions:
        for node in region.css("a[href], area[href]"):
            attrs = node.attributes
            href = (attrs.get("href") or "").strip(C0_SPACE)
            if not href or href.startswith(_SKIP):
                continue
            head, cut, _ = href.partition("#")  # the request drops the fragment anyway
            href = head + cut if cut and head[-1:] <= " " else head  # "a #f": the space is no end
            if href in hrefs:
                continue
            if not follow_nofollow and "nofollow" in (attrs.get("rel") or "").lower().split():
                continue
            hrefs.add(href)
            link = _link(base, href) if _needs_whole_base(href) else _join_in(base_dir, href)
            if link is not None and link.text not in found:
                found.add(link.text)
                links.append(link)
    return links


def decode_html(body: bytes, content_type: str | None) -> bytes | str:
    """An HTML body as lexbor should read it: BOM, then the header's charset, then ``<meta
    charset>`` in the first KB, then UTF-8; windows-1252 (the HTML5 fallback) when undeclared bytes
    are not UTF-8. lexbor reads bytes as UTF-8 whatever the page declares, so other charsets are
    decoded here; UTF-8 stays bytes (decoding it only for lexbor to encode it again costs ~15%)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, "replace")
    declared = _CHARSET.search(content_type or "") or _META_CHARSET.search(body[:1024])
    if declared:
        name = declared.group(1)
        name = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            pass
        else:
            return body if codec == "utf-8" else body.decode(codec, "replace")
    if body.isascii():
        return body
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", "replace")
    return body


def _needs_whole_base(href: str) -> bool:
    """Whether ``href`` resolves against more than the base's directory: a query alone, with or
    without a scheme before it (``?q``, ``http:?q``, ``http:``: the base's own path)."""
    if href[0] == "?":
        return True
    scheme, colon, rest = href.partition(":")
    if not colon or "/" in scheme:
        return False
    rest = rest.lstrip("\t\n\r")
    return not rest or rest[0] == "?"


@lru_cache(maxsize=1 << 14)  # a page's links repeat its site's: recent sites are what hit
def _join_in(base_dir: str, href: str) -> Link | None:
    return _link(base_dir, href)


def _link(base: str, href: str) -> Link | None:
    try:
        return split(href, base)
    except InvalidURL:
        return None


def _meta_nofollow(tree: LexborHTMLParser) -> bool:
    for meta in (tree.head or tree).css("meta[name]"):
        attrs = meta.attributes
        if (attrs.get("name") or "").lower() == "robots" and "nofollow" in (attrs.get("content") or "").lower().replace(
            ",", " "
        ).split():
            return True
    return False


def base_url(tree: LexborHTMLParser, url: URL) -> str:
    """The document's base URL: ``<base href>`` resolved against the page's URL, as a browser does."""
    node = (tree.head or tree).css_first("base[href]")
    href = node.attributes.get("href") or "" if node is not None else ""
    try:
        return join_url(str(url), href).partition("#")[0]
    except ValueError:
        return str(url)
