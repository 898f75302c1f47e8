"""Wall time of ``crawler --version`` and ``crawler --help``: what a user waits for before anything.

Usage: python benchmarks/scenarios/cli_start.py [CRAWLER] [RUNS]   (CRAWLER default .venv/bin/crawler, RUNS 10)
Prints the median and the fastest run of each. Compare two builds in one invocation (the machine is
shared): run it for each CRAWLER back to back.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def timed(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main(crawler: str, runs: int) -> None:
    for args in (["--version"], ["--help"]):
        times = timed([crawler, *args], runs)
        print(
            f"crawler {' '.join(args):10} median {statistics.median(times) * 1000:6.0f} ms, "
            f"fastest {min(times) * 1000:6.0f} ms ({runs} runs)"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".venv/bin/crawler", int(sys.argv[2]) if len(sys.argv) > 2 else 10)
