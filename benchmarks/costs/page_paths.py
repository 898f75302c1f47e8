"""Cost of the URL → page file mapping (``relative_path``), on the hot path of every stored page.

    .venv/bin/python benchmarks/costs/page_paths.py [N]

N (100 000) URLs of a mix seen in crawls: plain paths, queries with ``&``, percent-encoded
paths and queries, long names. Prints the best of 5 runs, in µs per URL.
"""

from __future__ import annotations

import sys
import time

from yarl import URL

from crawler.sinks.paths import relative_path

SHAPES = (
    "/p{i}",
    "/blog/2024/{i}/post-title.html",
    "/search?q=item{i}&page=2&sort=asc",
    "/caf%C3%A9/{i}/men%C3%BC",
    "/a/b/c/{i}/",
    "/r?url=http%3A%2F%2Fx.test%2F{i}",
    "/files/report%20{i}.pdf",
    "/s?q=tom%26jerry&i={i}",
    "/" + "long-name-" * 30 + "{i}",
)


def main(n: int) -> None:
    urls = [URL(f"http://example{i % 50}.test{SHAPES[i % len(SHAPES)].format(i=i)}") for i in range(n)]
    best = float("inf")
    for _ in range(7):
        start = time.process_time()
        for url in urls:
            relative_path(url)
        best = min(best, time.process_time() - start)
    print(f"{n} URLs: {best:.3f} s, {best / n * 1e6:.2f} µs per URL")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
