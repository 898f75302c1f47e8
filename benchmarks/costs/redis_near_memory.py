"""Redis memory and CPU per first page of the shared near-duplicate index (issue 27): N random
SimHashes with 60-character URLs through SharedNearIndex.first, 1,000 calls in flight.

Usage: python3 benchmarks/costs/redis_near_memory.py [PAGES]     (needs Debian's redis-server)
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks.harness, crawler

from benchmarks.harness.local_redis import local_redis
from crawler.redis.near_duplicates import SharedNearIndex
from crawler.redis.store import RedisStore


async def fill(url: str, total: int, client: redis.Redis) -> dict[str, float]:
    store = RedisStore(url, "near", "bench", ttl=600, wait=5)
    index = SharedNearIndex(store)
    rng = random.Random(27)
    base = client.info("memory")["used_memory"]
    cpu = client.info("cpu")
    for start in range(0, total, 1000):
        await asyncio.gather(
            *(
                index.first(
                    f"https://www.site{i % 1000:04d}.example/articles/2026/{i:08d}-a-title", rng.getrandbits(64)
                )
                for i in range(start, start + 1000)
            )
        )
    used = client.info("memory")["used_memory"]
    after = client.info("cpu")
    await store.redis.aclose()
    spent = sum(after[k] - cpu[k] for k in ("used_cpu_user", "used_cpu_sys"))
    return {
        "pages": total,
        "bytes_per_first": round((used - base) / total),
        "redis_cpu_us_per_call": round(spent / total * 1e6),
    }


def main() -> int:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with local_redis("redis-near.") as (url, client, _):
        result = asyncio.run(fill(url, total, client))
        result["redis"] = client.info("server")["redis_version"]
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
