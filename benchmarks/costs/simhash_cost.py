"""CPU time of one SimHash of a 3,000-word text (issue 27: the goal is under 1 ms, pure Python).

Usage: python3 benchmarks/costs/simhash_cost.py
Texts: the first 3,000 words of docs/architecture.md (some non-ASCII: arrows, box drawing), the
same without its non-ASCII characters, and Russian; "warm" keeps the per-word cache of earlier
pages (the steady state of a crawl), "cold" empties it before each call (the first page).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: crawler

from crawler.content import simhash as sh

ROOT = Path(__file__).resolve().parents[2]
RUNS = 500


def cpu_ms(call: Callable[[], object]) -> float:
    call()
    start = time.process_time()
    for _ in range(RUNS):
        call()
    return round((time.process_time() - start) / RUNS * 1000, 3)


def main() -> int:
    docs = " ".join((ROOT / "docs" / "architecture.md").read_text().split()[:3000])
    russian = " ".join(("Съешь же ещё этих мягких французских булок, да выпей чаю — «цитата» " * 400).split()[:3000])
    texts = {"docs": docs, "docs_ascii": docs.encode("ascii", "ignore").decode(), "russian": russian}
    result = {}
    for name, text in texts.items():
        result[name] = {
            "words": len(text.split()),
            "warm_ms": cpu_ms(lambda text=text: sh.simhash(text)),
            "cold_ms": cpu_ms(lambda text=text: (sh._cache.clear(), sh.simhash(text))),
        }
    result["python"] = sys.version.split()[0]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
