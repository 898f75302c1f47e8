"""Redis memory per seen URL for a shared job (issue 12): 1,000,000 URLs admitted through
RedisFrontier.add (1,000 hosts), then leased and finished, measuring ``used_memory`` at each stage.

Usage: python3 benchmarks/costs/redis_memory.py [URLS]     (needs Debian's redis-server)
Stages: empty → all queued (URL text is in Redis while queued) → all done (only the 8-byte
fingerprints of the seen set and per-host counters are left).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks.harness, tests, crawler

from benchmarks.harness.local_redis import local_redis
from crawler.core.request import Request
from crawler.redis.frontier import RedisFrontier
from crawler.redis.store import RedisStore

HOSTS = 1000


async def fill(url: str, total: int, work: Path, client: redis.Redis) -> dict[str, float]:
    store = RedisStore(url, "memory", "bench", ttl=600, wait=5)
    frontier = RedisFrontier(store, work / "records.jsonl")
    await frontier.open()
    base = client.info("memory")["used_memory"]
    t0 = time.perf_counter()
    for start in range(0, total, 1000):
        batch = [
            Request(
                f"http://www.host{i % HOSTS}.example/section/{i // HOSTS}/page-{i}.html",
                f"www.host{i % HOSTS}.example:80",
                2,
                None,
            )
            for i in range(start, start + 1000)
        ]
        await frontier.add(batch)
    add_secs = time.perf_counter() - t0
    queued = client.info("memory")["used_memory"]
    hosts = await frontier.hosts_with_work()
    t0 = time.perf_counter()
    while hosts:
        leases = await frontier.lease({h: 200 for h in hosts[:50]}, ttl=600)
        for lease in leases:
            await frontier.done(lease)
        await frontier.commit()
        await frontier.flushed()
        if not leases:
            hosts = await frontier.hosts_with_work()
    drain_secs = time.perf_counter() - t0
    done = client.info("memory")["used_memory"]
    counts = await frontier.counts()
    await frontier.close()
    return {
        "urls": total,
        "admitted": counts.admitted,
        "bytes_per_url_queued": round((queued - base) / total, 1),
        "bytes_per_url_done": round((done - base) / total, 1),
        "adds_per_s": round(total / add_secs),
        "lease_done_per_s": round(total / drain_secs),
    }


def main() -> int:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with local_redis("redis-memory.") as (url, client, work):
        result = asyncio.run(fill(url, total, work, client))
        result["redis"] = client.info("server")["redis_version"]
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
