"""Re-crawl of the corpus with nothing changed (issue 14): nginx sends ETag and Last-Modified, so
the second crawl should be 304s. Each round: a fresh crawl, then ``--recrawl`` of the same OUT;
medians of pages/s and of body bytes received (the records' ``bytes``).

Usage: python3 benchmarks/scenarios/recrawl.py [--crawler PATH] [--rounds N]   (needs corpus.sh start)
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks.harness, tests, crawler

from benchmarks.harness.corpus_seeds import corpus_seeds

ROOT = Path(__file__).resolve().parents[2]


def crawl(crawler: str, seeds: list[str], out: Path, *extra: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [crawler, "crawl", *seeds, "--concurrency", "32", "--per-host", "8", "-q", "-o", str(out), *extra], check=True
    )
    return time.perf_counter() - t0


def generation(out: Path, n: int) -> tuple[int, int, Counter[str], Counter[int]]:
    """URLs, body bytes, changes and statuses of crawl ``n``."""
    urls = size = 0
    changes: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    for line in (out / "records.jsonl").open():
        r = json.loads(line)
        if r.get("crawl", 1) == n:
            urls += 1
            size += r["bytes"]
            changes[r["change"]] += 1
            statuses[r["status"]] += 1
    return urls, size, changes, statuses


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crawler", default=str(ROOT / ".venv/bin/crawler"))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    seeds = corpus_seeds()
    work = Path(tempfile.mkdtemp(prefix="recrawl-bench."))
    rates: dict[int, list[float]] = {1: [], 2: []}
    sizes: dict[int, list[int]] = {1: [], 2: []}
    try:
        for _ in range(args.rounds):
            out = work / "out"
            shutil.rmtree(out, ignore_errors=True)
            for n, extra in ((1, ()), (2, ("--recrawl",))):
                secs = crawl(args.crawler, seeds, out, *extra)
                urls, size, changes, statuses = generation(out, n)
                rates[n].append(urls / secs)
                sizes[n].append(size)
                print(
                    json.dumps(
                        {
                            "crawl": n,
                            "secs": round(secs, 2),
                            "urls": urls,
                            "bytes": size,
                            "changes": changes,
                            "statuses": statuses,
                        }
                    ),
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    first, again = statistics.median(rates[1]), statistics.median(rates[2])
    b1, b2 = statistics.median(sizes[1]), statistics.median(sizes[2])
    print(
        f"\nCommand: `python3 benchmarks/scenarios/recrawl.py --rounds {args.rounds}`\n\n"
        "| crawl | URLs/s (median) | body bytes |\n|---|---|---|\n"
        f"| first | {first:.0f} | {b1:,} |\n| re-crawl, nothing changed | {again:.0f} | {b2:,} |\n\n"
        f"re-crawl: **{again / first:.2f}×** the URLs/s, {b2 / max(b1, 1):.3f}× the body bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
