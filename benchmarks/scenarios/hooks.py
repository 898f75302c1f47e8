"""Cost of a parse hook (issue 13): the corpus crawled with and without benchmarks/scenarios/docs_hook.py,
alternating, in one run; medians of pages/s.

Usage: python3 benchmarks/scenarios/hooks.py [--crawler PATH] [--rounds N]   (needs corpus.sh start)
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks.harness, tests, crawler

from benchmarks.harness.corpus_seeds import corpus_seeds

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crawler", default=str(ROOT / ".venv/bin/crawler"))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    seeds = corpus_seeds()
    work = Path(tempfile.mkdtemp(prefix="hooks-bench."))
    rows: dict[str, list[float]] = {"no hook": [], "parse hook": []}
    try:
        for _ in range(args.rounds):
            for name, extra in (("no hook", []), ("parse hook", ["--parse", "docs_hook:parse"])):
                out = work / name.replace(" ", "-")
                shutil.rmtree(out, ignore_errors=True)
                t0 = time.perf_counter()
                subprocess.run(
                    [
                        args.crawler,
                        "crawl",
                        *seeds,
                        "--concurrency",
                        "32",
                        "--per-host",
                        "8",
                        "-q",
                        "-o",
                        str(out),
                        *extra,
                    ],
                    cwd=HERE,
                    check=True,
                )
                secs = time.perf_counter() - t0
                pages = sum(1 for line in (out / "records.jsonl").open() if json.loads(line)["status"] == 200)
                items = sum(1 for _ in (out / "items.jsonl").open()) if (out / "items.jsonl").exists() else 0
                rows[name].append(pages / secs)
                print(json.dumps({"run": name, "secs": round(secs, 2), "pages": pages, "items": items}), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base, hook = statistics.median(rows["no hook"]), statistics.median(rows["parse hook"])
    print(
        f"\nCommand: `python3 benchmarks/scenarios/hooks.py --rounds {args.rounds}`\n\n"
        "| run | pages/s (median) |\n|---|---|\n"
        f"| no hook | {base:.0f} |\n| parse hook | {hook:.0f} |\n\nwith the hook: **{hook / base:.2f}×** "
        "the pages/s without it (goal ≥ 0.85×)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
