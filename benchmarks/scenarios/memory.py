"""Peak memory of a crawl's whole process tree (the crawler and its parser process).

GNU time's peak RSS (what compare.sh reports) is the largest *single* process of the tree. This
samples every 20 ms, for each process, RSS and PSS (shared pages split between the processes that
share them; the parser is forked, so much of its RSS is the crawler's memory), and prints the
peaks: the crawler's RSS, the parser's RSS, and the tree's summed PSS, the honest total.

Usage: python benchmarks/scenarios/memory.py CRAWLER SITES...   e.g. .venv/bin/crawler python postgres django
  Needs the corpus running (../shared/bench/corpus.sh start).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks.harness, tests, crawler

from benchmarks.harness.corpus_seeds import corpus_seeds


def kb(pid: int, field: str, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def main() -> int:
    crawler, sites = sys.argv[1], sys.argv[2:] or ["python", "postgres", "django"]
    seeds = corpus_seeds(sites)
    out = tempfile.mkdtemp(prefix="crawler-memory-")
    proc = subprocess.Popen([crawler, "crawl", *seeds, "-o", out, "-q", "--concurrency", "32", "--per-host", "8"])
    main_rss = child_rss = tree_pss = 0
    for _ in range(30_000):  # bounded: 10 minutes of 20 ms samples
        if proc.poll() is not None:
            break
        kids = children(proc.pid)
        main_rss = max(main_rss, kb(proc.pid, "Rss", "smaps_rollup"))
        child_rss = max([child_rss] + [kb(k, "Rss", "smaps_rollup") for k in kids])
        tree_pss = max(tree_pss, sum(kb(p, "Pss", "smaps_rollup") for p in [proc.pid, *kids]))
        time.sleep(0.02)
    proc.wait()
    print(f"sites: {' '.join(sites)}; exit {proc.returncode}; output {out}")
    print(
        f"peak RSS: crawler {main_rss / 1024:.0f} MB, parser process {child_rss / 1024:.0f} MB; "
        f"peak PSS of both together: {tree_pss / 1024:.0f} MB"
    )
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
