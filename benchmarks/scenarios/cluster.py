"""Shared-job benchmark (issue 12): the docs corpus crawled with the SQLite frontier and with a
Redis frontier, and by one and two Redis workers with ``--parser inline``, alternating, in one run.

Usage: python3 benchmarks/scenarios/cluster.py [--crawler PATH] [--rounds N] [SITES...]
  Needs the corpus (../shared/bench/corpus.sh start) and Debian's redis-server. Starts its own
  redis-server on a free loopback port (no persistence: the default of a cache-style Redis).
  Prints a Markdown table; Redis commands per page come from INFO commandstats.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks.harness, tests, crawler

from benchmarks.harness.corpus_seeds import corpus_seeds
from benchmarks.harness.local_redis import local_redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def pages200(out: Path) -> int:
    urls = set()
    for records in [out / "records.jsonl", *out.glob("shards/*/records.jsonl")]:
        if records.is_file():
            for line in records.read_text().splitlines():
                r = json.loads(line)
                if r.get("status") == 200:
                    urls.add(r["url"])
    return len(urls)


def commands(client: redis.Redis) -> int:
    """Commands Redis ran so far, those inside the crawler's Lua scripts included."""
    return int(client.info("stats")["total_commands_processed"])


ROUND_TRIPS = re.compile(r"redis: (\d+) round trips")


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of every core so far: how much of the machine a run kept busy."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def run(name: str, cmd: list[str], out: Path, client: redis.Redis | None) -> dict[str, object]:
    shutil.rmtree(out, ignore_errors=True)
    if client is not None:
        client.flushall()
        client.config_resetstat()
    t0, cpu0 = time.perf_counter(), machine_cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    secs, cpu1 = time.perf_counter() - t0, machine_cpu()
    n = pages200(out)
    row: dict[str, object] = {
        "name": name,
        "rc": proc.returncode,
        "secs": round(secs, 2),
        "pages": n,
        "pages_s": round(n / secs, 1),
        "busy": round(100 * (cpu1[0] - cpu0[0]) / max(cpu1[1] - cpu0[1], 1)),
    }
    if client is not None:
        row["commands_per_page"] = round(commands(client) / max(n, 1), 2)
        if m := ROUND_TRIPS.search(proc.stderr):  # a single worker's summary line
            row["trips_per_page"] = round(int(m[1]) / max(n, 1), 2)
    if proc.returncode:
        row["stderr"] = proc.stderr[-500:]
    print(json.dumps(row), flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crawler", default=str(ROOT / ".venv/bin/crawler"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("sites", nargs="*", default=["python", "postgres", "django"])
    args = ap.parse_args()
    with local_redis("cluster-bench.") as (url, client, work):
        return measure(args, url, client, work)


def measure(args: argparse.Namespace, url: str, client: redis.Redis, work: Path) -> int:
    base = [args.crawler, "crawl", *corpus_seeds(args.sites), "--concurrency", "32", "--per-host", "8"]
    runs = {
        "sqlite": lambda o: [*base, "-o", str(o)],
        "redis": lambda o: [*base, "-o", str(o), "--frontier", url, "--name", "bench"],
        "redis-inline-1": lambda o: [*base, "-o", str(o), "--frontier", url, "--name", "bench", "--parser", "inline"],
        "redis-inline-2": lambda o: [
            *base,
            "-o",
            str(o),
            "--frontier",
            url,
            "--name",
            "bench",
            "--parser",
            "inline",
            "--processes",
            "2",
        ],
        # the same pair with politeness out of the way (32 per host): bound by CPU alone
        "redis-inline-1-ph32": lambda o: [
            *base,
            "-o",
            str(o),
            "--frontier",
            url,
            "--name",
            "bench",
            "--parser",
            "inline",
            "--per-host",
            "32",
        ],
        "redis-inline-2-ph32": lambda o: [
            *base,
            "-o",
            str(o),
            "--frontier",
            url,
            "--name",
            "bench",
            "--parser",
            "inline",
            "--per-host",
            "32",
            "--processes",
            "2",
        ],
    }
    rows: list[dict[str, object]] = []
    for _ in range(args.rounds):
        for name, make in runs.items():
            rows.append(run(name, make(work / name), work / name, None if name == "sqlite" else client))
    print(report(rows, args))
    return 0


def report(rows: list[dict[str, object]], args: argparse.Namespace) -> str:
    def median(name: str, key: str) -> float:
        return statistics.median(float(str(r[key])) for r in rows if r["name"] == name and key in r)

    lines = [
        f"Command: `python3 benchmarks/scenarios/cluster.py --rounds {args.rounds} {' '.join(args.sites)}` "
        f"({args.rounds} rounds, runs alternating; medians)",
        "",
        "| run | pages | seconds | pages/s | machine busy (2 cores) | Redis round trips per page "
        "| Redis commands per page |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("sqlite", "redis", "redis-inline-1", "redis-inline-2", "redis-inline-1-ph32", "redis-inline-2-ph32"):
        trips = f"{median(name, 'trips_per_page'):.2f}" if name in ("redis", "redis-inline-1") else ""
        busy = f"{median(name, 'busy'):.0f}%"
        cmds = f"{median(name, 'commands_per_page'):.2f}" if name != "sqlite" else ""
        lines.append(
            f"| {name} | {median(name, 'pages'):.0f} | {median(name, 'secs'):.2f} | "
            f"{median(name, 'pages_s'):.1f} | {busy} | {trips} | {cmds} |"
        )
    single = median("redis", "pages_s") / median("sqlite", "pages_s")
    scaling = median("redis-inline-2", "pages_s") / median("redis-inline-1", "pages_s")
    scaling32 = median("redis-inline-2-ph32", "pages_s") / median("redis-inline-1-ph32", "pages_s")
    lines += [
        "",
        f"- redis / sqlite pages/s: **{single:.2f}×** (goal ≥ 0.8×)",
        f"- 2 inline workers / 1 inline worker: **{scaling:.2f}×** at 8 per host, "
        f"**{scaling32:.2f}×** at 32 per host (goal ≥ 1.6×)",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
