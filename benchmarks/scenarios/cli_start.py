"""Wall time of ``crawler --version`` and ``crawler --help``: what a user waits for before anything
(issue 25: both under 150 ms).

Usage: python3 benchmarks/scenarios/cli_start.py [CRAWLER] [RUNS] [--write LABEL]
  CRAWLER default .venv/bin/crawler, RUNS 20. Runs ``PYTHON -c pass`` (the interpreter of CRAWLER's
  ``#!`` line: the start-up no CLI can beat), ``crawler --version`` and ``crawler --help`` in turn,
  RUNS rounds, and prints a Markdown table of medians and fastest runs, and each command's median
  above the bare interpreter's. ``--write LABEL`` also writes it to
  benchmarks/results/<date>-<LABEL>.md. Compare two builds in one invocation (the machine is shared):
  run it for each CRAWLER back to back.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOAL_MS = 150


def interpreter(crawler: str) -> str:
    """The Python that runs ``crawler`` (its ``#!`` line), else this one."""
    try:
        first = Path(crawler).read_bytes().split(b"\n", 1)[0].decode()
    except (OSError, UnicodeDecodeError):
        return sys.executable
    return first[2:].strip().split()[0] if first.startswith("#!") else sys.executable


def once(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("crawler", nargs="?", default=str(ROOT / ".venv/bin/crawler"))
    ap.add_argument("runs", nargs="?", type=int, default=20)
    ap.add_argument("--write", metavar="LABEL", help="also write the table to benchmarks/results/")
    args = ap.parse_args()
    commands = {
        "`python -c pass`": [interpreter(args.crawler), "-c", "pass"],
        "`crawler --version`": [args.crawler, "--version"],
        "`crawler --help`": [args.crawler, "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for cmd in commands.values():  # a warm-up run each: the page cache, not the import, is cold
        once(cmd)
    for _ in range(args.runs):  # interleaved, so a busy moment of the machine hits all three alike
        for name, cmd in commands.items():
            times[name].append(once(cmd))
    base = statistics.median(times["`python -c pass`"])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    command = " ".join(["python3", "benchmarks/scenarios/cli_start.py", *sys.argv[1:]])
    lines = [
        f"# CLI start-up ({dt.date.today()})\n",
        f"Command: `{command}` (CRAWLER {args.crawler})\n",
        f"Machine: {os.cpu_count()} cores, load average {load} at the end; Python {platform.python_version()}; "
        f"medians of {args.runs} interleaved runs, after one warm-up run each. Goal: under {GOAL_MS} ms.\n",
        "| command | median | fastest | median above `python -c pass` |",
        "|---|---|---|---|",
    ]
    for name, ts in times.items():
        median = statistics.median(ts)
        above = "—" if name.startswith("`python") else f"{(median - base) * 1000:.0f} ms"
        lines.append(f"| {name} | {median * 1000:.0f} ms | {min(ts) * 1000:.0f} ms | {above} |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write:
        target = ROOT / "benchmarks" / "results" / f"{dt.datetime.now():%Y-%m-%d-%H%M}-{args.write}.md"
        target.write_text(report)
        print(f"written to {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
