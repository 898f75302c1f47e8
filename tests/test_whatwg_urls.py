"""The crawler reads URLs as a browser does: the web platform's own URL test suite (WPT
``urltestdata.json``, see tests/wpt/README.md) through the crawler's URL layer and its page parser.

Two crawler rules explain every difference from a browser's ``href``: the fragment is dropped (it
is never sent), and a URL the crawl cannot fetch (not http or https) is refused like a failure.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from crawler.core.errors import InvalidURL
from crawler.core.urls import resolve
from crawler.parsing.parse import parse_html

CASES: list[dict[str, Any]] = [
    c for c in json.loads((Path(__file__).parent / "wpt" / "urltestdata.json").read_text()) if isinstance(c, dict)
]
HTTP = ("http:", "https:")
# cases a crawl can meet: against a page's URL (an http(s) base), or a seed (no base)
CRAWL_CASES = [c for c in CASES if c["base"] is None or c["base"].startswith(HTTP)]


def expected(case: dict[str, Any]) -> str | None:
    """The URL the crawler requests for this case (the browser's minus its fragment), or None."""
    if case.get("failure") or not case["href"].startswith(HTTP):
        return None
    return str(case["href"]).partition("#")[0]


def test_the_suite_is_the_real_one():
    assert len(CRAWL_CASES) > 650 and sum(1 for c in CRAWL_CASES if c.get("failure")) > 150


@pytest.mark.parametrize("case", CRAWL_CASES, ids=lambda c: repr(c["input"])[:60] + " @ " + str(c["base"]))
def test_join_gives_the_browsers_url_or_refuses(case: dict[str, Any]) -> None:
    want = expected(case)
    if want is None:
        with pytest.raises(InvalidURL):
            resolve(case["input"], case["base"])
    else:
        assert resolve(case["input"], case["base"]) == want


# links in a page: the parser's own path (href strip, fragment cut, the join cache by directory);
# an empty or fragment-only href is the page itself, not a link; HTML turns NUL into U+FFFD
PAGE_CASES = [
    c
    for c in CRAWL_CASES
    if c["base"] is not None
    and "\x00" not in c["input"]
    and c["input"].strip("".join(map(chr, range(0x21)))).partition("#")[0]
]


def test_page_links_are_the_browsers_urls():
    """All cases at once (one page per base): the links a page yields are the browser's URLs."""
    by_base: dict[str, list[dict[str, Any]]] = {}
    for case in PAGE_CASES:
        by_base.setdefault(case["base"], []).append(case)
    wrong = []
    for base, cases in by_base.items():
        for case in cases:
            body = f'<a href="{html.escape(case["input"], quote=True)}">x</a>'.encode()
            page = parse_html(body, URL(base, encoded=True), content_type="text/html; charset=utf-8")
            got = [link.text for link in page.links]
            want = expected(case)
            if got != ([want] if want else []):
                wrong.append((case["input"], base, got, want))
    assert not wrong
