"""``crawler bench``: a self-contained speed test, like ``scrapy bench``.

Starts the synthetic site (:mod:`crawler.bench.site`) in a separate process on 127.0.0.1, crawls a
fixed number of its pages with the normal engine (robots, pages to disk, records), and reports
pages/s, MB/s, CPU time per page and peak RSS. The site's CPU is not counted: it runs in its own
process. (Start-up time is measured by ``benchmarks/scenarios/startup.py``.)
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crawler.config import Job


@dataclass
class BenchResult:
    pages: int
    seconds: float
    megabytes: float
    cpu_seconds: float  # both processes: the crawler's and its parser's
    peak_rss_mb: float
    parser_rss_mb: float  # the parser process's own peak (much of it shared with the crawler)

    def report(self) -> str:
        rate = self.pages / self.seconds
        return (
            f"{self.pages} pages in {self.seconds:.2f}s: {rate:.0f} pages/s, "
            f"{self.megabytes / self.seconds:.1f} MB/s, "
            f"{self.cpu_seconds / self.pages * 1000:.2f} ms CPU per page, "
            f"peak RSS {self.peak_rss_mb:.0f} MB (parser process {self.parser_rss_mb:.0f} MB)"
        )


def run_bench(
    execute_job: Callable[[Job], int],
    *,
    pages: int,
    hosts: int,
    links: int,
    size: int,
    concurrency: int,
    per_host: int,
    output: Path | None,
) -> BenchResult:
    """Serve the synthetic site, crawl ``pages`` of it with ``execute_job(job)``, measure."""
    work = Path(tempfile.mkdtemp(prefix="crawler-bench-"))
    port_file = work / "port"
    site = subprocess.Popen(
        [sys.executable, "-m", "crawler.bench.site", str(port_file), str(hosts), str(pages), str(links), str(size)]
    )
    try:
        port = _wait_for_port(port_file, site)
        out = output or work / "out"
        job = Job.model_validate(
            {
                "start_urls": [f"http://h{k}.bench.test:{port}/p0" for k in range(min(hosts, 4))],
                "resolve": [f"h{k}.bench.test:{port}:127.0.0.1" for k in range(hosts)],
                "max_pages": pages,
                "concurrency": concurrency,
                "per_host": per_host,
                "output": str(out),
                "quiet": True,
                "fresh": True,
                "name": "bench",
            }
        )
        cpu0, t0 = _cpu(), time.perf_counter()
        execute_job(job)  # the parser process is reaped by now; the site is not
        seconds, cpu = time.perf_counter() - t0, _cpu() - cpu0
        crawled, size_b = _count(out)
        return BenchResult(
            crawled,
            seconds,
            size_b / 1e6,
            cpu,
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        )
    finally:
        site.terminate()
        site.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def _cpu() -> float:
    """CPU seconds of this process and of its children that have been reaped."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _wait_for_port(port_file: Path, site: subprocess.Popen[bytes]) -> int:
    for _ in range(500):  # bounded: the site writes its port as soon as it listens
        if port_file.exists() and port_file.read_text().strip():
            return int(port_file.read_text().split()[0])
        if site.poll() is not None:
            raise RuntimeError("the benchmark site failed to start")
        time.sleep(0.01)
    raise RuntimeError("the benchmark site did not start in 5 s")


def _count(out: Path) -> tuple[int, int]:
    import orjson

    pages = size = 0
    with open(out / "records.jsonl", "rb") as f:
        for line in f:
            rec = orjson.loads(line)
            if rec["status"] == 200:
                pages += 1
                size += rec["bytes"]
    return pages, size
