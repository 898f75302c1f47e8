"""Cost of joining links: 100k distinct relative hrefs joined uncached (``parse._join_in`` without
its cache), and pages of repeated navigation links through ``parse_html`` (the cache at work).
CPU time of this process, best of ROUNDS: a shared machine's load moves it far less than wall time.

Usage: python benchmarks/costs/join_cost.py [ROUNDS]
  Run it from two trees (PYTHONPATH=OTHER_TREE) to compare versions: it only uses functions both
  the yarl and the WHATWG (ada) versions of ``crawler.parsing.parse`` have.
"""

from __future__ import annotations

import sys
import time

from yarl import URL

from crawler.parsing import parse

HREFS = [f"../p{i}/x.html?a={i}" if i % 3 else f"/abs/{i}.html#s{i % 7}" for i in range(100_000)]
NAV = [f"../section{i % 40}/page{i}.html" for i in range(2000)]
PAGES = [
    (
        "<html><body>"
        + "".join(f'<a href="{NAV[(p * 7 + k) % len(NAV)]}">x</a>' for k in range(200))
        + "</body></html>"
    ).encode()
    for p in range(500)
]


def best(rounds: int, run: object) -> float:
    times = []
    for _ in range(rounds):
        parse._join_in.cache_clear()
        started = time.process_time()
        run()  # type: ignore[operator]
        times.append(time.process_time() - started)
    return min(times)


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    join = parse._join_in.__wrapped__
    base_dir = "http://example.org/docs/dir/"
    uncached = best(rounds, lambda: [join(base_dir, h) for h in HREFS])
    pages = best(
        rounds,
        lambda: [parse.parse_html(b, URL(f"http://example.org/docs/d{i % 50}/page.html")) for i, b in enumerate(PAGES)],
    )
    print(
        f"{parse.__file__}\n100k uncached joins: {uncached * 1e3:.0f} ms; "
        f"500 pages x 200 links (cached joins): {pages * 1e3:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
