"""CPU cost of read_metadata (issue 27: < 0.2 ms on a 50 KB docs page), the page's parse excluded.

Usage: python benchmarks/costs/metadata_cost.py [HTML_FILE ...]
  Without files: Debian's Python docs pages of 40-60 KB (/usr/share/doc/python3-doc/html). Such a
  page has no JSON-LD, date or byline, so every fallback's selector runs: the worst case.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from crawler.content.metadata import read_metadata

DOCS = Path("/usr/share/doc/python3-doc/html")
ROUNDS = 100


def main() -> int:
    files = [Path(a) for a in sys.argv[1:]] or sorted(
        p for p in DOCS.rglob("*.html") if 40_000 < p.stat().st_size < 60_000
    )
    costs: list[tuple[float, Path]] = []
    for path in files:
        tree = LexborHTMLParser(path.read_bytes())
        started = time.process_time()
        for _ in range(ROUNDS):
            read_metadata(tree, "https://docs.python.org/3/library/page.html")
        costs.append(((time.process_time() - started) / ROUNDS, path))
    kb = sum(p.stat().st_size for _, p in costs) / len(costs) / 1000
    worst, worst_path = max(costs)
    mean = sum(c for c, _ in costs) / len(costs)
    print(f"{len(costs)} pages of {kb:.0f} KB on average: {mean * 1e3:.3f} ms per page", end=", ")
    print(f"worst {worst * 1e3:.3f} ms ({worst_path.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
