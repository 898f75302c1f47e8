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
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from crawler.commands.merge import merge
from crawler.config import Job
from crawler.core.errors import ClusterError, ConfigError
from crawler.redis.identity import claim
from crawler.redis.store import RedisStore
from crawler.settings import identity


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """How many workers of which shared job, where their output goes, and a start afresh."""

    processes: int
    worker_id: str | None  # the workers' ids are <this>-1 … (default: the host name)
    output: Path  # the job's folder: shards/ in it, merged into it
    quiet: bool
    fresh: bool
    redis: str = field(repr=False)  # the shared job's Redis URL, password and all: never in a repr
    job: str  # its name
    lease_ttl: float
    redis_wait: float
    identity: dict[str, Any]  # the job's defining settings (see crawler.redis.identity)


def worker_settings(job: Job) -> WorkerSettings:
    """The workers' settings from the job their command was given."""
    return WorkerSettings(
        processes=job.processes,
        worker_id=job.worker_id,
        output=job.output_dir,
        quiet=job.quiet,
        fresh=job.fresh,
        redis=job.frontier,
        job=job.job_name,
        lease_ttl=job.lease_ttl,
        redis_wait=job.redis_wait,
        identity=identity(job),
    )


def run_workers(settings: WorkerSettings, argv: list[str], echo: Callable[[str], None]) -> int:
    """Start ``processes`` workers with ``argv`` (this command's arguments); return the exit code."""
    if settings.fresh:
        try:
            asyncio.run(_forget(settings))
        except ClusterError as e:
            echo(f"error: {e}")
            return 1
        except ConfigError as e:
            echo(f"error: {e}")
            return 2
        shutil.rmtree(settings.output / "shards", ignore_errors=True)
    base = settings.worker_id or socket.gethostname()
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
        for i in range(1, settings.processes + 1)
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
            f"run the same command again to continue, or `crawler merge {settings.output}` for what is done"
        )
        return max(codes)
    if not settings.quiet:
        echo(merge(settings.output).summary(settings.output))
    else:
        merge(settings.output)
    return 0


async def _forget(settings: WorkerSettings) -> None:
    """``--fresh``: forget the job in Redis, if it is this job (else ClusterError)."""
    store = RedisStore(settings.redis, settings.job, "fresh", ttl=settings.lease_ttl, wait=settings.redis_wait)
    try:
        await claim(store, settings.identity, fresh=True)
    finally:
        await store.redis.aclose()
