"""Push N URLs through a frontier's API and report time and peak RSS.

Usage: python benchmarks/costs/frontier_memory.py sqlite|memory [N]   (N default 1,000,000)
Each URL is added (in page-sized batches of 100, as link extraction does, with every batch
repeated once to exercise dedup), then leased and marked done, with commits every 10,000 URLs.
Peak RSS is read from the kernel (ru_maxrss) at the end.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

from crawler.core.request import Request
from crawler.frontier.memory import MemoryFrontier
from crawler.frontier.sqlite import SqliteFrontier

HOSTS = 1000


async def main(kind: str, n: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    frontier = MemoryFrontier() if kind == "memory" else SqliteFrontier(tmp / "state.sqlite", tmp / "records.jsonl")
    await frontier.open()
    t0 = time.perf_counter()
    for start in range(0, n, 100):
        batch = [
            Request(f"http://h{i % HOSTS}.test/page/{i}", f"h{i % HOSTS}.test:80", 1)
            for i in range(start, min(start + 100, n))
        ]
        await frontier.add(batch)
        await frontier.add(batch)  # links seen again on other pages
        if start % 10_000 == 0:
            await frontier.commit()
    added = time.perf_counter() - t0
    leased = 0
    for h in range(HOSTS):
        while leases := await frontier.lease({f"h{h}.test:80": 100}, ttl=600):
            for lease in leases:
                await frontier.done(lease)
                leased += 1
                if leased % 10_000 == 0:
                    await frontier.commit()
    await frontier.close()
    total = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{kind}: {n} URLs added in {added:.1f}s, {leased} leased+done, total {total:.1f}s, peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000))
