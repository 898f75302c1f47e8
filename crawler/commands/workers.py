"""``--processes N``: N workers of one shared job on this machine, then one merged output.

Each worker is ``crawler`` again with the same arguments and a pinned worker id
(``<host>-1`` … ``<host>-N``, or ``<worker_id>-i``), so running the same command after a crash
settles every worker's own leases at once. Ctrl-C reaches every worker from the terminal;
SIGTERM sent to this process is passed on. When all have finished, the shards are merged.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from types import FrameType

from crawler.commands.merge import merge
from crawler.config import Job
from crawler.core.errors import ClusterError, ConfigError
from crawler.redis.identity import claim
from crawler.redis.store import RedisStore


def run_workers(job: Job, argv: list[str], echo: Callable[[str], None]) -> int:
    """Start ``job.processes`` workers with ``argv`` (this command's arguments); return the exit code."""
    if job.fresh:
        try:
            asyncio.run(_forget(job))
        except ClusterError as e:
            echo(f"error: {e}")
            return 1
        except ConfigError as e:
            echo(f"error: {e}")
            return 2
        shutil.rmtree(job.output_dir / "shards", ignore_errors=True)
    base = job.worker_id or socket.gethostname()
    # later options win in click: each worker runs alone, not fresh, under its own id
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crawler",
                *argv,
                "--processes",
                "1",
                "--no-fresh",
                "--worker-id",
                f"{base}-{i}",
                "--quiet",
            ]
        )
        for i in range(1, job.processes + 1)
    ]

    def forward(sig: int, _: FrameType | None) -> None:
        for w in workers:
            if w.poll() is None:
                w.send_signal(sig)

    previous = signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal sends Ctrl-C to every worker itself
    try:
        codes = [w.wait() for w in workers]
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    failed = [f"{base}-{i} exited {code}" for i, code in enumerate(codes, 1) if code]
    if failed:
        echo(
            f"{len(failed)} of {len(codes)} workers did not finish ({', '.join(failed)}); "
            f"run the same command again to continue, or `crawler merge {job.output_dir}` for what is done"
        )
        return max(codes)
    if not job.quiet:
        echo(merge(job.output_dir).summary(job.output_dir))
    else:
        merge(job.output_dir)
    return 0


async def _forget(job: Job) -> None:
    """``--fresh``: forget the job in Redis, if it is this job (else ClusterError)."""
    store = RedisStore(job.frontier, job.job_name, "fresh", ttl=job.lease_ttl, wait=job.redis_wait)
    try:
        await claim(store, job)
    finally:
        await store.redis.aclose()
