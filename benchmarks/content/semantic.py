"""Our own sketches on the selectolax tree the crawler already has: convert the page's single
semantic region, falling back to (or combining with) readability-lxml where there is none."""

from __future__ import annotations

import re
from typing import Any

import readability
from selectolax.lexbor import LexborHTMLParser

from benchmarks.content.datasets import Page
from benchmarks.content.extractors import h2m, readability_h2m

REGION_SELECTORS = ("main", '[role="main"]', "article")
PLAIN_HIGHLIGHTS = ("default", "none", "text")  # Sphinx highlight classes that name no language


def semantic_region(p: Page) -> Any:
    """The page's single <main>, [role=main] or <article>, in that order; None if none is single."""
    tree = LexborHTMLParser(p.html)
    for sel in REGION_SELECTORS:
        found = tree.css(sel)
        if len(found) == 1:
            return found[0]
    return None


def region_h2m(node: Any, p: Page) -> str:
    """Links inside <pre> unwrapped (they would break the fence); Sphinx's highlight-LANG passed
    on as language-LANG so the fence gets its info string."""
    for a in node.css("pre a"):
        a.unwrap()
    for div in node.css('div[class*="highlight-"]'):
        m = re.search(r"highlight-([a-z0-9+#-]+)", div.attributes.get("class") or "")
        pre = div.css_first("pre")
        if m and pre is not None and m.group(1) not in PLAIN_HIGHLIGHTS:
            pre.attrs["class"] = "language-" + m.group(1)
    return h2m(node.html or "", p.url)


def semantic_h2m(p: Page) -> str:
    """Hand-written sketch: convert a page's single <main>/[role=main]/<article> subtree of the
    selectolax tree with html-to-markdown (links inside <pre> unwrapped, Sphinx's
    highlight-LANG passed on as the fence language); no such single region: readability+h2m."""
    node = semantic_region(p)
    return region_h2m(node, p) if node is not None else readability_h2m(p)


def hybrid_h2m(p: Page) -> str:
    """readability-lxml picks the main content; where its cleaned summary lost <pre> or <table>
    elements that the page's single semantic region has, that region is converted instead."""
    summary = readability.Document(p.html).summary(html_partial=True)
    node = semantic_region(p)
    if node is not None:
        lost = any(len(node.css(t)) > summary.count("<" + t) for t in ("pre", "table"))
        if lost:
            return region_h2m(node, p)
    return h2m(summary, p.url)
