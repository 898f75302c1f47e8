"""The public API as a user imports it: the names ``crawler`` exports (``__all__``, the lazy
loader and the hooks guide agree), one error hierarchy to catch, and ``Page.from_html`` to unit-test a
parse hook without a crawl."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import crawler
from crawler import CrawlerError, Follow, Page

ROOT = Path(__file__).resolve().parent.parent


def test_all_the_lazy_loader_and_the_guide_name_the_same_api():
    assert crawler.__all__ == sorted([*crawler._WHERE, "__version__"])
    for name in crawler.__all__:
        assert getattr(crawler, name) is not None, name
    guide = (ROOT / "docs" / "guides" / "hooks-api.md").read_text()
    listed = re.search(r"The public names \(`crawler.__all__`\): (.*?)\.\n", guide, re.S)
    assert listed, "docs/guides/hooks-api.md lists the public names"
    assert sorted(re.findall(r"`(\w+)`", listed.group(1))) == sorted(n for n in crawler.__all__ if n != "__version__")


def test_every_error_the_crawler_raises_to_its_caller_is_a_crawler_error():
    errors = [getattr(crawler, name) for name in crawler._ERRORS]
    assert all(issubclass(e, CrawlerError) for e in errors)
    with pytest.raises(CrawlerError, match="start_urls"):
        crawler.crawl({"start_urls": []})  # a job that cannot run, caught by the one base class


def test_a_parse_hook_is_unit_tested_with_page_from_html():
    sys.path.insert(0, str(ROOT / "examples" / "shop"))
    try:
        from shop_hooks import Product, parse
    finally:
        sys.path.remove(str(ROOT / "examples" / "shop"))
    listing = Page.from_html(
        "http://shop.test/list/",
        '<base href="/c/"><div data-href="p1" data-category="tea">'
        '</div><a href="x">x</a><a rel="nofollow" href="y">y</a>',
    )
    assert list(parse(listing)) == [Follow("p1", meta={"category": "tea"})]
    assert listing.links() == ["http://shop.test/c/x"]  # <base> honoured, nofollow skipped, as in a crawl
    product = Page.from_html(
        "http://shop.test/c/p1",
        '<script type="application/json" id="product">{"sku": "T1", "name": "Sencha",'
        ' "offers": {"price": "4.50"}}</script><p class="stars"><i class="filled"></i><i class="filled"></i><i></i></p>',
        meta={"category": "tea"},
    )
    assert list(parse(product)) == [Product("T1", "Sencha", 4.5, 2, "tea", "http://shop.test/c/p1")]
    assert (product.status, product.depth, product.text.startswith("<html>")) == (200, 0, True)
