"""Time and size of ``crawler report`` on a large crawl (issue 15: 100,000 records in under 10 s,
under 5 MB). The output is synthetic but shaped like a broad crawl: 2,000 hosts, a few error
kinds, depths 0–5, one stats line per 5 s for two hours, items of two rules.

Usage: python3 benchmarks/costs/report_size.py [records]
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks.harness, tests, crawler

from crawler.commands.report import build


def write_crawl(out: Path, n: int) -> None:
    rng = random.Random(1)
    kinds = ["http", "timeout", "connect", "robots", "dns"]
    with open(out / "records.jsonl", "wb") as f:
        for i in range(n):
            host = f"host{rng.randrange(2000)}.test"
            failed = rng.random() < 0.06
            f.write(
                orjson.dumps(
                    {
                        "url": f"http://{host}/page/{i}",
                        "final_url": None,
                        "status": 404 if failed else 200,
                        "error": {"kind": rng.choice(kinds), "message": "not found"} if failed else None,
                        "content_type": "text/html",
                        "bytes": rng.randrange(2_000, 200_000),
                        "sha256": "0" * 64,
                        "depth": rng.randrange(6),
                        "parent": None,
                        "fetched_at": "2026-11-26T10:00:00.000+00:00",
                        "elapsed_ms": rng.lognormvariate(4.5, 0.8),
                        "path": None,
                        "title": "t",
                        "attempts": 1,
                        "proxy": None,
                        "crawl": 1,
                        "change": "new",
                        "items": 1,
                        "extract_errors": [f"product[{i % 7}].price: '{i}' is not one number"] if i % 50 == 0 else [],
                    }
                )
                + b"\n"
            )
    with open(out / "stats.jsonl", "wb") as f:
        for s in range(1440):
            f.write(
                orjson.dumps(
                    {
                        "t": 1.8e9 + 5 * s,
                        "run": 1.8e9,
                        "final": s == 1439,
                        "interval": {"seconds": 5, "pages": rng.randrange(50, 90), "errors": rng.randrange(0, 8)},
                        "hosts": {},
                        "proxies": {},
                    }
                )
                + b"\n"
            )
    with open(out / "items.jsonl", "wb") as f:
        for i in range(n):
            f.write(orjson.dumps({"url": f"http://x/{i}", "rule": "product" if i % 3 else "listing"}) + b"\n")


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        write_crawl(out, n)
        started = time.perf_counter()
        report = build(out)
        took = time.perf_counter() - started
        size = report.stat().st_size
    print(
        f"`python3 benchmarks/costs/report_size.py {n}`: {n:,} records, 2,000 hosts, 1,440 stats lines: "
        f"report built in {took:.2f} s, {size / 1e6:.2f} MB (goal: under 10 s and 5 MB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
