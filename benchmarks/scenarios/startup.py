"""Time from launching ``crawler crawl`` to its first request reaching a server that is already up.

Usage: python benchmarks/scenarios/startup.py [CRAWLER] [RUNS]   (CRAWLER default .venv/bin/crawler, RUNS 5)
Prints each run and the median. The first request of a crawl is its robots.txt.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(crawler: str, runs: int) -> None:
    work = Path(tempfile.mkdtemp())
    times = []
    for n in range(runs):
        port_file = work / f"port{n}"
        site = subprocess.Popen([sys.executable, "-m", "crawler.bench.site", str(port_file), "1", "10", "5", "2000"])
        while not (port_file.exists() and port_file.read_text().strip()):
            time.sleep(0.01)
        port = port_file.read_text().split()[0]
        start = time.time()
        subprocess.run(
            [
                crawler,
                "crawl",
                f"http://h0.bench.test:{port}/p0",
                "--resolve",
                f"h0.bench.test:{port}:127.0.0.1",
                "--max-pages",
                "1",
                "-q",
                "-o",
                str(work / f"o{n}"),
            ],
            check=True,
        )
        times.append(float(port_file.read_text().split()[1]) - start)
        site.terminate()
        site.wait()
    print("runs:", ", ".join(f"{t:.3f}s" for t in times), f"median {statistics.median(times):.3f}s")


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parents[2] / ".venv/bin/crawler"),
        int(sys.argv[2]) if len(sys.argv) > 2 else 5,
    )
