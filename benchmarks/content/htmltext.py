"""Visible text of HTML, so ground truth given as HTML compares with extractors' plain text."""

from __future__ import annotations

from typing import Any

import lxml.html
from lxml import etree

BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "br",
        "caption",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "html",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
SKIPPED_TAGS = ("script", "style", "noscript", "template")


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment: block elements become line breaks, inline ones do not."""
    if not html.strip():
        return ""
    try:
        root = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return ""
    parts: list[str] = []
    _walk(root, parts)
    return "".join(parts)


def _walk(el: Any, parts: list[str]) -> None:
    """Append el's text, its children's and its tail; comments and scripts keep only their tail."""
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in SKIPPED_TAGS or not isinstance(el.tag, str):
        if el.tail:
            parts.append(el.tail)
        return
    block = tag in BLOCK_TAGS
    if block:
        parts.append("\n")
    if el.text:
        parts.append(el.text)
    for child in el:
        _walk(child, parts)
    if block:
        parts.append("\n")
    if el.tail:
        parts.append(el.tail)
