"""Soak: minutes of crawling a 50-host graph where every page links to a misbehaving URL.

Usage: python benchmarks/scenarios/soak.py [MAX_URLS] [SECONDS]   (defaults 60000 URLs, 300 s)
The fault server (tests/faults.py) plays all hosts on 127.0.0.1; names are pinned with
``resolve``. While the crawl runs, RSS is sampled every 2 s. At the end it checks that every URL
the frontier admitted has exactly one record and that RSS stayed flat: after warm-up (the first
quarter of the run), the last quarter's peak may not exceed the second quarter's by more than 20%.
Exit 1 if a check fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks.harness, tests, crawler

from crawler.config import Job
from crawler.engine import Crawl
from tests.helpers.faults import SOAK_HOSTS, FaultServer


def rss_mb(pid: int | str = "self") -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (FileNotFoundError, ProcessLookupError):  # the parser process is between lives
        return 0.0


async def main(max_urls: int, seconds: float) -> int:
    server = FaultServer()
    await server.start()
    out = Path(tempfile.mkdtemp(prefix="soak-"))
    job = Job.model_validate(
        {
            "start_urls": [f"http://h{i}.soak.test:{server.port}/page/{i}" for i in range(SOAK_HOSTS)],
            "resolve": [f"h{i}.soak.test:{server.port}:127.0.0.1" for i in range(SOAK_HOSTS)],
            "allow_domains": ["soak.test"],
            "max_pages": max_urls,
            "concurrency": 64,
            "per_host": 4,
            "timeout": {"connect": 2, "read": 1, "total": 3},
            "retries": 1,
            "retry_backoff": 0.05,
            "max_retry_after": 1,
            "max_bytes": 2_000_000,
            "ignore_robots": True,
            "output": str(out),
        }
    )
    crawl = Crawl(job)
    samples: list[tuple[float, float, float]] = []  # (seconds, crawler RSS, parser process RSS)

    async def sample() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            parser = getattr(crawl.parts.parser, "pid", 0)
            samples.append((loop.time() - start, rss_mb(), rss_mb(parser) if parser else 0.0))
            if loop.time() - start > seconds:
                crawl.stop()
            await asyncio.sleep(2)

    sampler = asyncio.create_task(sample())
    stats = await crawl.run()
    sampler.cancel()
    await server.stop()
    with open(out / "records.jsonl", "rb") as f:  # noqa: ASYNC230 - the crawl is over
        records = [json.loads(line) for line in f]
    per_url = Counter(r["url"] for r in records)
    kinds = Counter((r["error"] or {}).get("kind", "ok") for r in records)
    quarter = max(1, len(samples) // 4)
    early, late = max(s[1] for s in samples[quarter : 2 * quarter]), max(s[1] for s in samples[-quarter:])
    early_p, late_p = max(s[2] for s in samples[quarter : 2 * quarter]), max(s[2] for s in samples[-quarter:])
    print(
        f"{stats.records} URLs in {stats.elapsed():.0f}s ({stats.records / stats.elapsed():.0f}/s), "
        f"{stats.left_queued} left queued{' (stopped at the time limit)' if stats.interrupted else ''}"
    )
    print("outcomes:", ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    print("RSS MB over time (crawler/parser process):", " ".join(f"{t:.0f}s:{m:.0f}/{p:.0f}" for t, m, p in samples))
    admitted = (await crawl.parts.frontier.counts()).admitted - stats.left_queued
    checks = {
        "one record per URL": max(per_url.values()) == 1,
        "every admitted URL not left queued has a record": len(per_url) == admitted,
        f"RSS flat (second quarter peak {early:.0f} MB, last quarter peak {late:.0f} MB)": late <= early * 1.2,
        f"parser RSS flat (second quarter peak {early_p:.0f} MB, last quarter {late_p:.0f} MB)": late_p
        <= early_p * 1.2,
    }
    for name, ok in checks.items():
        print(("ok   " if ok else "FAIL ") + name)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(asyncio.run(main(int(args[0]) if args else 60_000, float(args[1]) if len(args) > 1 else 300)))
