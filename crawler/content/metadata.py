"""A page's metadata for a content line: title, description, author, date, language, canonical URL.

Each field has several sources, tried in order of how much the page's author meant them: JSON-LD and
Open Graph are written for machines, ``<title>`` and ``<time>`` for people. Only ``<head>`` and a few
named nodes are read, each found by a CSS selector (lexbor's C side), so the cost stays far below
that of the page's parse. Junk never raises: a field whose sources are all bad is None.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
from ada_url import join_url
from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.core.urls import C0_SPACE, resolve

_DATE_NAMES = ("date", "dc.date", "dcterms.created", "pubdate")
_JSONLD_OBJECTS = 500  # objects walked per page at most: a shop's 5,000-item list is not metadata
_UTC = re.compile(r"(?:z| ?utc| ?gmt)$", re.IGNORECASE)


@dataclass(slots=True)
class Metadata:
    """What a page says about itself; None where it says nothing usable."""

    title: str | None = None
    description: str | None = None
    author: str | None = None
    published: str | None = None  # ISO 8601 when it could be read as a date, else the page's text
    language: str | None = None
    canonical: str | None = None  # absolute http(s) URL


def read_metadata(tree: LexborHTMLParser, url: str) -> Metadata:
    """The metadata of the page at ``url`` (the URL its relative links are resolved against)."""
    head = tree.head or tree.root
    if head is None:
        return Metadata()
    metas = _metas(head)
    ld = _LinkedData(tree)
    title_node = head.css_first("title")
    return Metadata(
        title=ld.first(("headline", "name"), articles_only=True)
        or metas.get("og:title")
        or (_clean(title_node.text()) if title_node is not None else None),
        description=metas.get("description") or metas.get("og:description") or ld.first(("description",)),
        author=metas.get("author") or _not_url(metas.get("article:author")) or ld.author() or _byline(tree),
        published=_published(tree, metas, ld),
        language=_language(tree, metas),
        canonical=_canonical(head, url),
    )


def _metas(head: LexborNode) -> dict[str, str]:
    """The first non-empty ``content`` of each meta, by its lower-cased ``name`` or ``property``
    (sites mix the two up for ``og:`` tags) and as ``http-equiv:NAME``."""
    found: dict[str, str] = {}
    for node in head.css("meta[content]"):
        attrs = node.attributes
        content = _clean(attrs.get("content"))
        if not content:
            continue
        for key in (attrs.get("name"), attrs.get("property")):
            if key:
                found.setdefault(key.strip().lower(), content)
        if equiv := attrs.get("http-equiv"):
            found.setdefault("http-equiv:" + equiv.strip().lower(), content)
    return found


class _LinkedData:
    """The page's JSON-LD objects that describe the page itself: Article-like ones (``NewsArticle``,
    ``BlogPosting``, ``DiscussionForumPosting``…) first, then ``WebPage``-like ones."""

    __slots__ = ("articles", "ranked")

    def __init__(self, tree: LexborHTMLParser) -> None:
        self.articles: list[dict[str, Any]] = []
        pages: list[dict[str, Any]] = []
        for obj in _objects(tree):
            kinds = _types(obj)
            if any(k.endswith(("Article", "Posting")) or k == "Report" for k in kinds):
                self.articles.append(obj)
            elif any(k.endswith("Page") for k in kinds):
                pages.append(obj)
        self.ranked = self.articles + pages

    def first(self, keys: tuple[str, ...], articles_only: bool = False) -> str | None:
        """The first non-empty string under one of ``keys`` (in that order, object by object)."""
        for obj in self.articles if articles_only else self.ranked:
            for key in keys:
                if text := _clean(obj.get(key)):
                    return text
        return None

    def author(self) -> str | None:
        """The first object's author(s): a name, a ``{"name": …}`` object, or a list of either."""
        for obj in self.ranked:
            value = obj.get("author")
            names = [_name(v) for v in (value if isinstance(value, list) else [value])]
            if joined := ", ".join(dict.fromkeys(n for n in names if n)):
                return joined
        return None


def _objects(tree: LexborHTMLParser) -> Iterator[dict[str, Any]]:
    """Every JSON object in the page's JSON-LD scripts, outer ones first; bad JSON is skipped."""
    walked = 0
    for script in tree.tags("script"):  # a third faster than a selector on ``type``
        if (script.attributes.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            queue: deque[Any] = deque([orjson.loads(script.text(deep=True))])
        except ValueError:  # orjson.JSONDecodeError, and the like for text orjson cannot read
            continue
        while queue and walked < _JSONLD_OBJECTS:
            value = queue.popleft()
            if isinstance(value, list):
                queue += value
            elif isinstance(value, dict):
                walked += 1
                yield value
                queue += [v for v in value.values() if isinstance(v, dict | list)]


def _types(obj: dict[str, Any]) -> list[str]:
    """``@type`` as bare names: ``schema:NewsArticle`` and ``https://schema.org/NewsArticle`` too."""
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return [re.split(r"[/:#]", k)[-1] for k in kinds if isinstance(k, str)]


def _name(value: Any) -> str | None:
    return _clean(value.get("name") if isinstance(value, dict) else value)


def _not_url(text: str | None) -> str | None:
    """``article:author`` is often the author's profile page: a URL is no name."""
    return None if text is None or text.startswith(("http://", "https://", "//")) else text


def _byline(tree: LexborHTMLParser) -> str | None:
    node = tree.css_first('a[rel~="author"]')
    return _clean(node.text()) if node is not None else None


def _published(tree: LexborHTMLParser, metas: dict[str, str], ld: _LinkedData) -> str | None:
    raw = metas.get("article:published_time") or next((metas[n] for n in _DATE_NAMES if n in metas), None)
    if raw is None and (node := tree.css_first('[itemprop="datePublished"]')) is not None:
        raw = _clean(node.attributes.get("content") or node.attributes.get("datetime") or node.text())
    raw = raw or ld.first(("datePublished",))
    if raw is None and (node := tree.css_first("article time[datetime]")) is not None:
        raw = _clean(node.attributes.get("datetime"))
    return _iso_date(raw) if raw else None


def _iso_date(text: str) -> str:
    """``text`` as ISO 8601 (a date stays a date), or as it is when it is no date we can read."""
    try:
        return date.fromisoformat(_UTC.sub("", text)).isoformat()  # "2024-03-05Z" is still a date
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(_UTC.sub("+00:00", text)).isoformat()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text).isoformat()
    except (TypeError, ValueError, IndexError):
        return text


def _language(tree: LexborHTMLParser, metas: dict[str, str]) -> str | None:
    html = tree.root
    lang = _clean(html.attributes.get("lang")) if html is not None else None
    if lang := lang or metas.get("http-equiv:content-language", "").partition(",")[0].strip():
        return lang
    locale = metas.get("og:locale")
    return locale.replace("_", "-") if locale else None


def _canonical(head: LexborNode, url: str) -> str | None:
    """``<link rel=canonical>`` made absolute against the document's base URL; None unless http(s)."""
    link = head.css_first("link[rel~=canonical i][href]")
    href = (link.attributes.get("href") or "").strip(C0_SPACE) if link is not None else ""
    if not href:
        return None
    base = head.css_first("base[href]")
    try:
        base_url = join_url(url, base.attributes.get("href") or "") if base is not None else url
        return resolve(href, base_url)
    except ValueError:  # InvalidURL too: not http(s), or no URL a browser would open
        return None


def _clean(value: Any) -> str | None:
    """A string with its whitespace collapsed, or None for an empty one or any other type."""
    return " ".join(value.split()) or None if isinstance(value, str) else None
