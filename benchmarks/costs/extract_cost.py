"""What extraction rules cost per page, by source: CSS fields only, plus JSON-LD, plus microdata.

    python3 benchmarks/costs/extract_cost.py [pages]

Pages are the shop product pages of tests/test_extract_rules.py (about 2 KB each); the parse is
timed apart, since the crawl parses every page once whatever the rules."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser
from yarl import URL

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks.harness, tests, crawler

from crawler.parsing.extract import Extractor
from crawler.parsing.rules import ExtractRule
from tests.test_extract_rules import JOB, PRODUCTS, product_html

SOURCES = {"css": ("jsonld", "microdata"), "css+jsonld": ("microdata",), "css+jsonld+microdata": ()}


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    docs = [product_html(i % len(PRODUCTS)) for i in range(n)]
    started = time.perf_counter()
    trees = [LexborHTMLParser(d) for d in docs]
    parse = (time.perf_counter() - started) / n * 1e6
    print(f"{n} pages: parse {parse:.0f} µs per page")
    fields = JOB["extract"][0]["fields"]
    for label, drop in SOURCES.items():
        kept = {k: v for k, v in fields.items() if not (isinstance(v, dict) and any(s in v for s in drop))}
        extractor = Extractor([ExtractRule.model_validate({"name": "p", "fields": kept})])
        url = URL("http://shop.test/p/1")
        took = min(_timed(extractor, trees, url) for _ in range(3)) / n * 1e6
        print(f"{label:22} {len(kept):2} fields: {took:.0f} µs per page")
    return 0


def _timed(extractor: Extractor, trees: list[LexborHTMLParser], url: URL) -> float:
    started = time.perf_counter()
    for tree in trees:
        extractor.extract(tree, url)
    return time.perf_counter() - started


if __name__ == "__main__":
    raise SystemExit(main())
